//! Capabilities: what models can do, with the kinds of input and output.

use sea_orm_migration::prelude::*;

use crate::schema;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, DeriveIden)]
enum Capabilities {
    Table,
    Id,
    Name,
    LiveKey,
    DisplayName,
    Description,
    CapabilityType,
    /// Sorted modality names joined by commas (`image,text`); at most 5 of 5 letters.
    InputTypes,
    OutputTypes,
    Domain,
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
                schema::create_table(m, Capabilities::Table)
                    .col(schema::uuid(Capabilities::Id).not_null().primary_key())
                    .col(schema::string(Capabilities::Name, 64).not_null())
                    .col(schema::string(Capabilities::LiveKey, 36).not_null().default(""))
                    .col(schema::string(Capabilities::DisplayName, 100).not_null())
                    .col(schema::string(Capabilities::Description, 2000).null())
                    .col(schema::string(Capabilities::CapabilityType, 32).not_null())
                    .col(schema::string(Capabilities::InputTypes, 64).not_null())
                    .col(schema::string(Capabilities::OutputTypes, 64).not_null())
                    .col(schema::string(Capabilities::Domain, 16).not_null())
                    .col(ColumnDef::new(Capabilities::IsActive).boolean().not_null())
                    .col(schema::timestamp(m, Capabilities::CreatedAt).not_null())
                    .col(schema::timestamp(m, Capabilities::UpdatedAt).not_null())
                    .col(schema::timestamp(m, Capabilities::DeletedAt).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("capabilities_name_live_key")
                    .table(Capabilities::Table)
                    .col(Capabilities::Name)
                    .col(Capabilities::LiveKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("capabilities_created_idx")
                    .table(Capabilities::Table)
                    .col(Capabilities::CreatedAt)
                    .col(Capabilities::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Capabilities::Table).to_owned())
            .await
    }
}
