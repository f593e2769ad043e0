//! Routing: each supplier's upstream keys get what their health and use need — a status
//! reason, a usage count, the last use and a cooldown — on top of the rows issue 4 made (a
//! supplier's single key is its first row); models get their ordered fallback models; the call
//! log says which try of a request a row is and whether the caller's own key carried it; and
//! users get their own model configs (bring your own key, `user_model_configs`).

use sea_orm_migration::prelude::*;

use crate::schema;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, DeriveIden)]
enum UpstreamKeys {
    Table,
    StatusReason,
    UsageCount,
    LastUsedAt,
    CooldownUntil,
}

#[derive(Debug, DeriveIden)]
#[expect(clippy::enum_variant_names, reason = "the column is named fallback_models")]
enum Models {
    Table,
    Id,
    FallbackModels,
}

#[derive(Debug, DeriveIden)]
enum ApiCallLogs {
    Table,
    UpstreamKeyId,
    CreatedAt,
    Attempt,
    Byok,
}

#[derive(Debug, DeriveIden)]
enum UserModelConfigs {
    Table,
    Id,
    UserId,
    ModelId,
    IsEnabled,
    /// The user's key, encrypted (`v1:…`), bound to the row.
    ApiKey,
    ApiKeyLast4,
    CustomEndpoint,
    MaxTokens,
    Temperature,
    Priority,
    LastUsedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let m = manager;
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            schema::string(UpstreamKeys::StatusReason, 300).null().to_owned(),
            ColumnDef::new(UpstreamKeys::UsageCount)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            schema::timestamp(m, UpstreamKeys::LastUsedAt).null().to_owned(),
            schema::timestamp(m, UpstreamKeys::CooldownUntil).null().to_owned(),
        ] {
            manager
                .alter_table(Table::alter().table(UpstreamKeys::Table).add_column(column).to_owned())
                .await?;
        }
        // A JSON array of model names; `null` = none.
        manager
            .alter_table(
                Table::alter()
                    .table(Models::Table)
                    .add_column(ColumnDef::new(Models::FallbackModels).text().null())
                    .to_owned(),
            )
            .await?;
        for column in [
            ColumnDef::new(ApiCallLogs::Attempt)
                .small_integer()
                .not_null()
                .default(1)
                .to_owned(),
            ColumnDef::new(ApiCallLogs::Byok)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        ] {
            manager
                .alter_table(Table::alter().table(ApiCallLogs::Table).add_column(column).to_owned())
                .await?;
        }
        // A key's statistics read its calls.
        manager
            .create_index(
                Index::create()
                    .name("api_call_logs_upstream_key_idx")
                    .table(ApiCallLogs::Table)
                    .col(ApiCallLogs::UpstreamKeyId)
                    .col(ApiCallLogs::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                schema::create_table(m, UserModelConfigs::Table)
                    .col(schema::uuid(UserModelConfigs::Id).not_null().primary_key())
                    .col(schema::uuid(UserModelConfigs::UserId).not_null())
                    .col(schema::uuid(UserModelConfigs::ModelId).not_null())
                    .col(ColumnDef::new(UserModelConfigs::IsEnabled).boolean().not_null())
                    .col(schema::string(UserModelConfigs::ApiKey, 4096).not_null())
                    .col(schema::string(UserModelConfigs::ApiKeyLast4, 4).not_null())
                    .col(schema::string(UserModelConfigs::CustomEndpoint, 500).null())
                    .col(ColumnDef::new(UserModelConfigs::MaxTokens).big_integer().null())
                    .col(ColumnDef::new(UserModelConfigs::Temperature).double().null())
                    .col(ColumnDef::new(UserModelConfigs::Priority).integer().not_null())
                    .col(schema::timestamp(m, UserModelConfigs::LastUsedAt).null())
                    .col(schema::timestamp(m, UserModelConfigs::CreatedAt).not_null())
                    .col(schema::timestamp(m, UserModelConfigs::UpdatedAt).not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("user_model_configs_user_fk")
                            .from(UserModelConfigs::Table, UserModelConfigs::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("user_model_configs_model_fk")
                            .from(UserModelConfigs::Table, UserModelConfigs::ModelId)
                            .to(Models::Table, Models::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("user_model_configs_user_idx")
                    .table(UserModelConfigs::Table)
                    .col(UserModelConfigs::UserId)
                    .col(UserModelConfigs::CreatedAt)
                    .col(UserModelConfigs::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserModelConfigs::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("api_call_logs_upstream_key_idx")
                    .table(ApiCallLogs::Table)
                    .to_owned(),
            )
            .await?;
        for column in [ApiCallLogs::Attempt, ApiCallLogs::Byok] {
            manager
                .alter_table(Table::alter().table(ApiCallLogs::Table).drop_column(column).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Models::Table)
                    .drop_column(Models::FallbackModels)
                    .to_owned(),
            )
            .await?;
        for column in [
            UpstreamKeys::StatusReason,
            UpstreamKeys::UsageCount,
            UpstreamKeys::LastUsedAt,
            UpstreamKeys::CooldownUntil,
        ] {
            manager
                .alter_table(Table::alter().table(UpstreamKeys::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
