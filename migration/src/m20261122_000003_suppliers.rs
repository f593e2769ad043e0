//! The catalog's suppliers and their upstream keys (encrypted; the first row is the supplier's key).

use sea_orm_migration::prelude::*;

use crate::schema;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, DeriveIden)]
enum Suppliers {
    Table,
    Id,
    Name,
    LiveKey,
    DisplayName,
    Description,
    Protocol,
    BaseUrl,
    ApiKeyRequired,
    Website,
    ApiDocs,
    Category,
    Logo,
    IsActive,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(Debug, DeriveIden)]
enum UpstreamKeys {
    Table,
    Id,
    SupplierId,
    Name,
    Value,
    Last4,
    Status,
    Weight,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let m = manager;
        manager
            .create_table(
                schema::create_table(m, Suppliers::Table)
                    .col(schema::uuid(Suppliers::Id).not_null().primary_key())
                    .col(schema::string(Suppliers::Name, 64).not_null())
                    .col(schema::string(Suppliers::LiveKey, 36).not_null().default(""))
                    .col(schema::string(Suppliers::DisplayName, 100).not_null())
                    .col(schema::string(Suppliers::Description, 2000).null())
                    .col(schema::string(Suppliers::Protocol, 32).not_null())
                    .col(schema::string(Suppliers::BaseUrl, 500).not_null())
                    .col(ColumnDef::new(Suppliers::ApiKeyRequired).boolean().not_null())
                    .col(schema::string(Suppliers::Website, 500).null())
                    .col(schema::string(Suppliers::ApiDocs, 500).null())
                    .col(schema::string(Suppliers::Category, 64).null())
                    .col(schema::string(Suppliers::Logo, 500).null())
                    .col(ColumnDef::new(Suppliers::IsActive).boolean().not_null())
                    .col(schema::timestamp(m, Suppliers::CreatedAt).not_null())
                    .col(schema::timestamp(m, Suppliers::UpdatedAt).not_null())
                    .col(schema::timestamp(m, Suppliers::DeletedAt).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("suppliers_name_live_key")
                    .table(Suppliers::Table)
                    .col(Suppliers::Name)
                    .col(Suppliers::LiveKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("suppliers_created_idx")
                    .table(Suppliers::Table)
                    .col(Suppliers::CreatedAt)
                    .col(Suppliers::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                schema::create_table(m, UpstreamKeys::Table)
                    .col(schema::uuid(UpstreamKeys::Id).not_null().primary_key())
                    .col(schema::uuid(UpstreamKeys::SupplierId).not_null())
                    .col(schema::string(UpstreamKeys::Name, 100).not_null())
                    // `v1:<key_id>:<nonce>:<ciphertext>` of a key of at most 512 characters; emptied
                    // when the key is removed (the row stays for the call logs that name it).
                    .col(schema::string(UpstreamKeys::Value, 4096).not_null())
                    .col(schema::string(UpstreamKeys::Last4, 4).not_null())
                    .col(schema::string(UpstreamKeys::Status, 16).not_null())
                    .col(ColumnDef::new(UpstreamKeys::Weight).integer().not_null())
                    .col(schema::timestamp(m, UpstreamKeys::CreatedAt).not_null())
                    .col(schema::timestamp(m, UpstreamKeys::UpdatedAt).not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("upstream_keys_supplier_fk")
                            .from(UpstreamKeys::Table, UpstreamKeys::SupplierId)
                            .to(Suppliers::Table, Suppliers::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("upstream_keys_supplier_idx")
                    .table(UpstreamKeys::Table)
                    .col(UpstreamKeys::SupplierId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UpstreamKeys::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Suppliers::Table).to_owned())
            .await
    }
}
