//! Accounts: `users`, `refresh_tokens`, `api_keys`, `audit_events`.

use sea_orm_migration::prelude::*;

use crate::schema;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    UsernameLower,
    DisplayName,
    Email,
    EmailLower,
    LiveKey,
    PasswordHash,
    Role,
    IsActive,
    IsLocked,
    LockedReason,
    LockedUntil,
    FailedLoginAttempts,
    LastLoginAt,
    TokenVersion,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(Debug, DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(Debug, DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    Name,
    Prefix,
    KeyHash,
    AllowedModels,
    ExpiresAt,
    RevokedAt,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(Debug, DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    ActorId,
    Action,
    TargetType,
    TargetId,
    RequestId,
    Details,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let m = manager;
        manager
            .create_table(
                schema::create_table(m, Users::Table)
                    .col(schema::uuid(Users::Id).not_null().primary_key())
                    .col(schema::string(Users::Username, 64).not_null())
                    .col(schema::string(Users::UsernameLower, 64).not_null())
                    .col(schema::string(Users::DisplayName, 100).not_null())
                    .col(schema::string(Users::Email, 254).null())
                    .col(schema::string(Users::EmailLower, 254).null())
                    .col(schema::string(Users::LiveKey, 36).not_null().default(""))
                    .col(schema::string(Users::PasswordHash, 100).not_null())
                    .col(schema::string(Users::Role, 16).not_null())
                    .col(ColumnDef::new(Users::IsActive).boolean().not_null())
                    .col(ColumnDef::new(Users::IsLocked).boolean().not_null())
                    .col(schema::string(Users::LockedReason, 500).null())
                    .col(schema::timestamp(m, Users::LockedUntil).null())
                    .col(ColumnDef::new(Users::FailedLoginAttempts).big_integer().not_null())
                    .col(schema::timestamp(m, Users::LastLoginAt).null())
                    .col(ColumnDef::new(Users::TokenVersion).big_integer().not_null())
                    .col(schema::timestamp(m, Users::CreatedAt).not_null())
                    .col(schema::timestamp(m, Users::UpdatedAt).not_null())
                    .col(schema::timestamp(m, Users::DeletedAt).null())
                    .to_owned(),
            )
            .await?;
        // Usernames stay reserved after deletion; emails are unique among live users only.
        for (name, columns, unique) in [
            ("users_username_lower_key", vec![Users::UsernameLower], true),
            ("users_email_live_key", vec![Users::EmailLower, Users::LiveKey], true),
            ("users_created_idx", vec![Users::CreatedAt, Users::Id], false),
            ("users_updated_idx", vec![Users::UpdatedAt], false),
        ] {
            let mut index = Index::create();
            index.name(name).table(Users::Table);
            for column in columns {
                index.col(column);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                schema::create_table(m, RefreshTokens::Table)
                    .col(schema::uuid(RefreshTokens::Id).not_null().primary_key())
                    .col(schema::uuid(RefreshTokens::UserId).not_null())
                    .col(schema::uuid(RefreshTokens::FamilyId).not_null())
                    .col(schema::string(RefreshTokens::TokenHash, 64).not_null().unique_key())
                    .col(schema::timestamp(m, RefreshTokens::CreatedAt).not_null())
                    .col(schema::timestamp(m, RefreshTokens::ExpiresAt).not_null())
                    .col(schema::timestamp(m, RefreshTokens::UsedAt).null())
                    .col(schema::timestamp(m, RefreshTokens::RevokedAt).null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("refresh_tokens_user_fk")
                            .from(RefreshTokens::Table, RefreshTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("refresh_tokens_family_idx", RefreshTokens::FamilyId),
            ("refresh_tokens_user_idx", RefreshTokens::UserId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RefreshTokens::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                schema::create_table(m, ApiKeys::Table)
                    .col(schema::uuid(ApiKeys::Id).not_null().primary_key())
                    .col(schema::uuid(ApiKeys::UserId).not_null())
                    .col(schema::string(ApiKeys::Name, 100).not_null())
                    .col(schema::string(ApiKeys::Prefix, 8).not_null())
                    .col(schema::string(ApiKeys::KeyHash, 64).not_null().unique_key())
                    // A JSON array of at most 100 model names of at most 128 characters (checked
                    // by the domain): text, because MySQL's row limit cannot hold such a varchar.
                    .col(ColumnDef::new(ApiKeys::AllowedModels).text().not_null())
                    .col(schema::timestamp(m, ApiKeys::ExpiresAt).null())
                    .col(schema::timestamp(m, ApiKeys::RevokedAt).null())
                    .col(schema::timestamp(m, ApiKeys::CreatedAt).not_null())
                    .col(schema::timestamp(m, ApiKeys::UpdatedAt).not_null())
                    .col(schema::timestamp(m, ApiKeys::DeletedAt).null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("api_keys_user_fk")
                            .from(ApiKeys::Table, ApiKeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_keys_user_created_idx")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::UserId)
                    .col(ApiKeys::CreatedAt)
                    .col(ApiKeys::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_keys_updated_idx")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::UpdatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                schema::create_table(m, AuditEvents::Table)
                    .col(schema::uuid(AuditEvents::Id).not_null().primary_key())
                    .col(schema::uuid(AuditEvents::ActorId).null())
                    .col(schema::string(AuditEvents::Action, 64).not_null())
                    .col(schema::string(AuditEvents::TargetType, 32).not_null())
                    .col(schema::uuid(AuditEvents::TargetId).null())
                    .col(schema::string(AuditEvents::RequestId, 64).null())
                    .col(schema::string(AuditEvents::Details, 500).null())
                    .col(schema::timestamp(m, AuditEvents::CreatedAt).not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("audit_events_actor_fk")
                            .from(AuditEvents::Table, AuditEvents::ActorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_created_idx")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::CreatedAt)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
