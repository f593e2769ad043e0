//! The `user_model_configs` table: users' own configs of models (bring your own key).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_model_configs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub model_id: Uuid,
    pub is_enabled: bool,
    /// The ciphertext of the user's key.
    pub api_key: String,
    pub api_key_last4: String,
    pub custom_endpoint: Option<String>,
    pub max_tokens: Option<i64>,
    pub temperature: Option<f64>,
    pub priority: i32,
    pub last_used_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
