//! Models, their routes to suppliers, typed parameters, the model–capability and model–category
//! associations, and the default model of each model type.

use sea_orm_migration::prelude::*;

use crate::schema;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, DeriveIden)]
enum Models {
    Table,
    Id,
    Name,
    LiveKey,
    DisplayName,
    Description,
    SupplierId,
    UpstreamName,
    ModelType,
    SubType,
    ContextWindow,
    MaxOutputTokens,
    /// Micro-units of the currency per million tokens.
    InputPrice,
    CachedInputPrice,
    OutputPrice,
    Currency,
    RateLimitPerMinute,
    ApiVersion,
    IsActive,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(Debug, DeriveIden)]
enum ModelRoutes {
    Table,
    Id,
    ModelId,
    SupplierId,
    UpstreamName,
    /// The route that follows the model's own supplier and upstream name.
    IsPrimary,
    Priority,
    Weight,
    InputPrice,
    CachedInputPrice,
    OutputPrice,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, DeriveIden)]
enum ModelParameters {
    Table,
    Id,
    ModelId,
    Name,
    ParameterType,
    /// JSON text, checked against the type.
    DefaultValue,
    MinValue,
    MaxValue,
    AllowedValues,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, DeriveIden)]
enum ModelCapabilities {
    Table,
    ModelId,
    CapabilityId,
    ConfigJson,
    IsDefault,
    CreatedAt,
}

#[derive(Debug, DeriveIden)]
enum ModelCategories {
    Table,
    ModelId,
    CategoryId,
    CreatedAt,
}

#[derive(Debug, DeriveIden)]
enum DefaultModels {
    Table,
    ModelType,
    ModelId,
    UpdatedAt,
}

#[derive(Debug, DeriveIden)]
enum Suppliers {
    Table,
    Id,
}

#[derive(Debug, DeriveIden)]
enum Capabilities {
    Table,
    Id,
}

#[derive(Debug, DeriveIden)]
enum Categories {
    Table,
    Id,
}

fn reference(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

fn price(name: impl IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    column.big_integer();
    column
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let m = manager;
        manager
            .create_table(
                schema::create_table(m, Models::Table)
                    .col(schema::uuid(Models::Id).not_null().primary_key())
                    .col(schema::string(Models::Name, 128).not_null())
                    .col(schema::string(Models::LiveKey, 36).not_null().default(""))
                    .col(schema::string(Models::DisplayName, 200).not_null())
                    .col(schema::string(Models::Description, 2000).null())
                    .col(schema::uuid(Models::SupplierId).not_null())
                    .col(schema::string(Models::UpstreamName, 128).null())
                    .col(schema::string(Models::ModelType, 16).not_null())
                    .col(schema::string(Models::SubType, 32).not_null())
                    .col(ColumnDef::new(Models::ContextWindow).big_integer().null())
                    .col(ColumnDef::new(Models::MaxOutputTokens).big_integer().null())
                    .col(price(Models::InputPrice).not_null())
                    .col(price(Models::CachedInputPrice).null())
                    .col(price(Models::OutputPrice).not_null())
                    .col(schema::string(Models::Currency, 3).not_null())
                    .col(ColumnDef::new(Models::RateLimitPerMinute).big_integer().null())
                    .col(schema::string(Models::ApiVersion, 32).null())
                    .col(ColumnDef::new(Models::IsActive).boolean().not_null())
                    .col(schema::timestamp(m, Models::CreatedAt).not_null())
                    .col(schema::timestamp(m, Models::UpdatedAt).not_null())
                    .col(schema::timestamp(m, Models::DeletedAt).null())
                    .foreign_key(&mut reference(
                        "models_supplier_fk",
                        (Models::Table, Models::SupplierId),
                        (Suppliers::Table, Suppliers::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("models_name_live_key", vec![Models::Name, Models::LiveKey]),
            ("models_created_idx", vec![Models::CreatedAt, Models::Id]),
            ("models_supplier_idx", vec![Models::SupplierId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Models::Table);
            for column in columns {
                index.col(column);
            }
            if name.ends_with("live_key") {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                schema::create_table(m, ModelRoutes::Table)
                    .col(schema::uuid(ModelRoutes::Id).not_null().primary_key())
                    .col(schema::uuid(ModelRoutes::ModelId).not_null())
                    .col(schema::uuid(ModelRoutes::SupplierId).not_null())
                    .col(schema::string(ModelRoutes::UpstreamName, 128).not_null())
                    .col(ColumnDef::new(ModelRoutes::IsPrimary).boolean().not_null())
                    .col(ColumnDef::new(ModelRoutes::Priority).integer().not_null())
                    .col(ColumnDef::new(ModelRoutes::Weight).integer().not_null())
                    .col(price(ModelRoutes::InputPrice).null())
                    .col(price(ModelRoutes::CachedInputPrice).null())
                    .col(price(ModelRoutes::OutputPrice).null())
                    .col(ColumnDef::new(ModelRoutes::IsActive).boolean().not_null())
                    .col(schema::timestamp(m, ModelRoutes::CreatedAt).not_null())
                    .col(schema::timestamp(m, ModelRoutes::UpdatedAt).not_null())
                    .foreign_key(&mut reference(
                        "model_routes_model_fk",
                        (ModelRoutes::Table, ModelRoutes::ModelId),
                        (Models::Table, Models::Id),
                    ))
                    .foreign_key(&mut reference(
                        "model_routes_supplier_fk",
                        (ModelRoutes::Table, ModelRoutes::SupplierId),
                        (Suppliers::Table, Suppliers::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("model_routes_model_supplier")
                    .table(ModelRoutes::Table)
                    .col(ModelRoutes::ModelId)
                    .col(ModelRoutes::SupplierId)
                    .col(ModelRoutes::UpstreamName)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                schema::create_table(m, ModelParameters::Table)
                    .col(schema::uuid(ModelParameters::Id).not_null().primary_key())
                    .col(schema::uuid(ModelParameters::ModelId).not_null())
                    .col(schema::string(ModelParameters::Name, 64).not_null())
                    .col(schema::string(ModelParameters::ParameterType, 8).not_null())
                    .col(schema::string(ModelParameters::DefaultValue, 4000).null())
                    .col(schema::string(ModelParameters::MinValue, 64).null())
                    .col(schema::string(ModelParameters::MaxValue, 64).null())
                    .col(schema::string(ModelParameters::AllowedValues, 4000).null())
                    .col(schema::string(ModelParameters::Description, 2000).null())
                    .col(schema::timestamp(m, ModelParameters::CreatedAt).not_null())
                    .col(schema::timestamp(m, ModelParameters::UpdatedAt).not_null())
                    .foreign_key(&mut reference(
                        "model_parameters_model_fk",
                        (ModelParameters::Table, ModelParameters::ModelId),
                        (Models::Table, Models::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("model_parameters_model_name")
                    .table(ModelParameters::Table)
                    .col(ModelParameters::ModelId)
                    .col(ModelParameters::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                schema::create_table(m, ModelCapabilities::Table)
                    .col(schema::uuid(ModelCapabilities::ModelId).not_null())
                    .col(schema::uuid(ModelCapabilities::CapabilityId).not_null())
                    .col(schema::string(ModelCapabilities::ConfigJson, 4000).null())
                    .col(ColumnDef::new(ModelCapabilities::IsDefault).boolean().not_null())
                    .col(schema::timestamp(m, ModelCapabilities::CreatedAt).not_null())
                    .primary_key(
                        Index::create()
                            .col(ModelCapabilities::ModelId)
                            .col(ModelCapabilities::CapabilityId),
                    )
                    .foreign_key(&mut reference(
                        "model_capabilities_model_fk",
                        (ModelCapabilities::Table, ModelCapabilities::ModelId),
                        (Models::Table, Models::Id),
                    ))
                    .foreign_key(&mut reference(
                        "model_capabilities_capability_fk",
                        (ModelCapabilities::Table, ModelCapabilities::CapabilityId),
                        (Capabilities::Table, Capabilities::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                schema::create_table(m, ModelCategories::Table)
                    .col(schema::uuid(ModelCategories::ModelId).not_null())
                    .col(schema::uuid(ModelCategories::CategoryId).not_null())
                    .col(schema::timestamp(m, ModelCategories::CreatedAt).not_null())
                    .primary_key(
                        Index::create()
                            .col(ModelCategories::ModelId)
                            .col(ModelCategories::CategoryId),
                    )
                    .foreign_key(&mut reference(
                        "model_categories_model_fk",
                        (ModelCategories::Table, ModelCategories::ModelId),
                        (Models::Table, Models::Id),
                    ))
                    .foreign_key(&mut reference(
                        "model_categories_category_fk",
                        (ModelCategories::Table, ModelCategories::CategoryId),
                        (Categories::Table, Categories::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                schema::create_table(m, DefaultModels::Table)
                    .col(schema::string(DefaultModels::ModelType, 16).not_null().primary_key())
                    .col(schema::uuid(DefaultModels::ModelId).not_null())
                    .col(schema::timestamp(m, DefaultModels::UpdatedAt).not_null())
                    .foreign_key(&mut reference(
                        "default_models_model_fk",
                        (DefaultModels::Table, DefaultModels::ModelId),
                        (Models::Table, Models::Id),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DefaultModels::Table.into_iden(),
            ModelCategories::Table.into_iden(),
            ModelCapabilities::Table.into_iden(),
            ModelParameters::Table.into_iden(),
            ModelRoutes::Table.into_iden(),
            Models::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
