//! The `api_keys` table: gateway keys, stored as SHA-256 hashes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    /// A JSON array of model names.
    pub allowed_models: String,
    pub expires_at: Option<ChronoDateTimeUtc>,
    pub revoked_at: Option<ChronoDateTimeUtc>,
    /// Set by the call-log writer, never on the request path.
    pub last_used_at: Option<ChronoDateTimeUtc>,
    pub rpm_limit: Option<i32>,
    pub tpm_limit: Option<i64>,
    pub concurrency_limit: Option<i32>,
    /// Nano-units of `budget_currency`.
    pub budget_nanos: Option<i64>,
    pub budget_currency: Option<String>,
    pub budget_period: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub deleted_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
