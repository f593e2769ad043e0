//! The category tree.

use sea_orm_migration::prelude::*;

use crate::schema;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, DeriveIden)]
enum Categories {
    Table,
    Id,
    ParentId,
    /// The parent's id as text, or empty for a root: lets `UNIQUE(parent_key, name, live_key)`
    /// hold at the root too (NULLs are never equal in a unique index).
    ParentKey,
    Name,
    LiveKey,
    DisplayName,
    Description,
    CategoryType,
    IsActive,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let m = manager;
        manager
            .create_table(
                schema::create_table(m, Categories::Table)
                    .col(schema::uuid(Categories::Id).not_null().primary_key())
                    .col(schema::uuid(Categories::ParentId).null())
                    .col(schema::string(Categories::ParentKey, 36).not_null().default(""))
                    .col(schema::string(Categories::Name, 64).not_null())
                    .col(schema::string(Categories::LiveKey, 36).not_null().default(""))
                    .col(schema::string(Categories::DisplayName, 100).not_null())
                    .col(schema::string(Categories::Description, 2000).null())
                    .col(schema::string(Categories::CategoryType, 32).not_null())
                    .col(ColumnDef::new(Categories::IsActive).boolean().not_null())
                    .col(schema::timestamp(m, Categories::CreatedAt).not_null())
                    .col(schema::timestamp(m, Categories::UpdatedAt).not_null())
                    .col(schema::timestamp(m, Categories::DeletedAt).null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("categories_parent_fk")
                            .from(Categories::Table, Categories::ParentId)
                            .to(Categories::Table, Categories::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("categories_sibling_name_key")
                    .table(Categories::Table)
                    .col(Categories::ParentKey)
                    .col(Categories::Name)
                    .col(Categories::LiveKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Categories::Table).to_owned())
            .await
    }
}
