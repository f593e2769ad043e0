//! Conversations kept on the server and their messages.
//!
//! A message belongs to its conversation (a foreign key, no cascade: a permanent delete
//! removes the messages first in the same transaction). The counters (`message_count`,
//! `total_tokens`) change in the transaction that writes or deletes a message. Titles are
//! searched through `title_search`, the lower-cased title, so the search is case-insensitive
//! the same way on every backend (MariaDB's `utf8mb4_bin` compares exactly).

use sea_orm_migration::prelude::*;

use crate::schema;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, DeriveIden)]
enum Conversations {
    Table,
    Id,
    UserId,
    Title,
    TitleSearch,
    Model,
    SystemPrompt,
    TotalTokens,
    MessageCount,
    IsArchived,
    DeletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, DeriveIden)]
enum Messages {
    Table,
    Id,
    ConversationId,
    Role,
    /// A JSON array of parts.
    Content,
    Reasoning,
    Tokens,
    Model,
    Supplier,
    Status,
    Error,
    FinishReason,
    RequestId,
    Superseded,
    DeletedAt,
    CreatedAt,
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
        manager
            .create_table(
                schema::create_table(m, Conversations::Table)
                    .col(schema::uuid(Conversations::Id).not_null().primary_key())
                    .col(schema::uuid(Conversations::UserId).not_null())
                    .col(schema::string(Conversations::Title, 200).null())
                    .col(schema::string(Conversations::TitleSearch, 200).null())
                    .col(schema::string(Conversations::Model, 128).not_null())
                    .col(schema::long_text(m, Conversations::SystemPrompt).null())
                    .col(ColumnDef::new(Conversations::TotalTokens).big_integer().not_null())
                    .col(ColumnDef::new(Conversations::MessageCount).big_integer().not_null())
                    .col(ColumnDef::new(Conversations::IsArchived).boolean().not_null())
                    .col(schema::timestamp(m, Conversations::DeletedAt).null())
                    .col(schema::timestamp(m, Conversations::CreatedAt).not_null())
                    .col(schema::timestamp(m, Conversations::UpdatedAt).not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("conversations_user_fk")
                            .from(Conversations::Table, Conversations::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("conversations_user_created_idx")
                    .table(Conversations::Table)
                    .col(Conversations::UserId)
                    .col(Conversations::CreatedAt)
                    .col(Conversations::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                schema::create_table(m, Messages::Table)
                    .col(schema::uuid(Messages::Id).not_null().primary_key())
                    .col(schema::uuid(Messages::ConversationId).not_null())
                    .col(schema::string(Messages::Role, 16).not_null())
                    .col(schema::long_text(m, Messages::Content).not_null())
                    .col(schema::long_text(m, Messages::Reasoning).null())
                    .col(ColumnDef::new(Messages::Tokens).big_integer().not_null())
                    .col(schema::string(Messages::Model, 128).null())
                    .col(schema::string(Messages::Supplier, 64).null())
                    .col(schema::string(Messages::Status, 16).not_null())
                    .col(schema::string(Messages::Error, 300).null())
                    .col(schema::string(Messages::FinishReason, 24).null())
                    .col(schema::string(Messages::RequestId, 128).null())
                    .col(ColumnDef::new(Messages::Superseded).boolean().not_null())
                    .col(schema::timestamp(m, Messages::DeletedAt).null())
                    .col(schema::timestamp(m, Messages::CreatedAt).not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("messages_conversation_fk")
                            .from(Messages::Table, Messages::ConversationId)
                            .to(Conversations::Table, Conversations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("messages_conversation_created_idx")
                    .table(Messages::Table)
                    .col(Messages::ConversationId)
                    .col(Messages::CreatedAt)
                    .col(Messages::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Messages::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Conversations::Table).to_owned())
            .await
    }
}
