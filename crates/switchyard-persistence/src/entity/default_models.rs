//! The `default_models` table: one row per model type, switched by one upsert.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "default_models")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub model_type: String,
    pub model_id: Uuid,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
