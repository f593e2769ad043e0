//! Uploaded files (`files`: the record; the bytes live in object storage under a generated
//! key) and which messages hold which files (`message_files`), so a permanent delete of a
//! conversation can release the files no other message holds.

use sea_orm_migration::prelude::*;

use crate::schema;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, DeriveIden)]
enum Files {
    Table,
    Id,
    UserId,
    Name,
    MediaType,
    Size,
    Sha256,
    StorageKey,
    CreatedAt,
}

#[derive(Debug, DeriveIden)]
enum MessageFiles {
    Table,
    MessageId,
    FileId,
    ConversationId,
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
                schema::create_table(m, Files::Table)
                    .col(schema::uuid(Files::Id).not_null().primary_key())
                    .col(schema::uuid(Files::UserId).not_null())
                    .col(schema::string(Files::Name, 255).not_null())
                    .col(schema::string(Files::MediaType, 64).not_null())
                    .col(ColumnDef::new(Files::Size).big_integer().not_null())
                    .col(schema::string(Files::Sha256, 64).not_null())
                    .col(schema::string(Files::StorageKey, 200).not_null())
                    .col(schema::timestamp(m, Files::CreatedAt).not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("files_user_fk")
                            .from(Files::Table, Files::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("files_user_created_idx")
                    .table(Files::Table)
                    .col(Files::UserId)
                    .col(Files::CreatedAt)
                    .col(Files::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                schema::create_table(m, MessageFiles::Table)
                    .col(schema::uuid(MessageFiles::MessageId).not_null())
                    .col(schema::uuid(MessageFiles::FileId).not_null())
                    .col(schema::uuid(MessageFiles::ConversationId).not_null())
                    .primary_key(Index::create().col(MessageFiles::MessageId).col(MessageFiles::FileId))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("message_files_file_idx", MessageFiles::FileId),
            ("message_files_conversation_idx", MessageFiles::ConversationId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(MessageFiles::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MessageFiles::Table).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(Files::Table).to_owned()).await
    }
}
