//! The `upstream_keys` table: suppliers' API keys, encrypted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "upstream_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub supplier_id: Uuid,
    pub name: String,
    /// The ciphertext; empty once the key is removed.
    pub value: String,
    pub last4: String,
    /// `active`, `inactive`, `error` (its health took it out of rotation) or `removed`.
    pub status: String,
    pub status_reason: Option<String>,
    pub weight: i32,
    /// Calls made with it, counted by the call-log writer.
    pub usage_count: i64,
    pub last_used_at: Option<ChronoDateTimeUtc>,
    /// Rate limited until then.
    pub cooldown_until: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
