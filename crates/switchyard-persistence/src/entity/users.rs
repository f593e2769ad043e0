//! The `users` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub username: String,
    pub username_lower: String,
    pub display_name: String,
    pub email: Option<String>,
    pub email_lower: Option<String>,
    /// Empty while live; the row's id once soft-deleted (see CONVENTIONS.md).
    pub live_key: String,
    pub password_hash: String,
    pub role: String,
    pub is_active: bool,
    pub is_locked: bool,
    pub locked_reason: Option<String>,
    pub locked_until: Option<ChronoDateTimeUtc>,
    pub failed_login_attempts: i64,
    pub last_login_at: Option<ChronoDateTimeUtc>,
    pub token_version: i64,
    pub rpm_limit: Option<i32>,
    pub tpm_limit: Option<i64>,
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
