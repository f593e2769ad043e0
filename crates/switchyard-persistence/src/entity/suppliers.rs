//! The `suppliers` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "suppliers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// Empty while live; the row's id once soft-deleted.
    pub live_key: String,
    pub display_name: String,
    pub description: Option<String>,
    pub protocol: String,
    pub base_url: String,
    pub api_key_required: bool,
    pub website: Option<String>,
    pub api_docs: Option<String>,
    pub category: Option<String>,
    pub logo: Option<String>,
    pub is_active: bool,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub deleted_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
