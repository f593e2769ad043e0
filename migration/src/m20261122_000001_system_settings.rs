//! `system_settings`: small instance-wide values shared by every instance on this database.

use sea_orm_migration::prelude::*;

use crate::schema;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, DeriveIden)]
enum SystemSettings {
    Table,
    Key,
    Value,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                schema::create_table(manager, SystemSettings::Table)
                    .col(schema::string(SystemSettings::Key, 64).not_null().primary_key())
                    .col(schema::string(SystemSettings::Value, 4096).not_null())
                    .col(schema::timestamp(manager, SystemSettings::UpdatedAt).not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SystemSettings::Table).to_owned())
            .await
    }
}
