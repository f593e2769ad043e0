//! The `models` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "models")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub live_key: String,
    pub display_name: String,
    pub description: Option<String>,
    pub supplier_id: Uuid,
    pub upstream_name: Option<String>,
    pub model_type: String,
    pub sub_type: String,
    pub context_window: Option<i64>,
    pub max_output_tokens: Option<i64>,
    pub input_price: i64,
    pub cached_input_price: Option<i64>,
    pub output_price: i64,
    pub currency: String,
    pub rate_limit_per_minute: Option<i64>,
    pub api_version: Option<String>,
    /// A JSON array of model names.
    pub fallback_models: Option<String>,
    pub is_active: bool,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub deleted_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
