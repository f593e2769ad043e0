//! The `api_call_logs` table: one compact row per gateway call.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_call_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub request_id: String,
    pub user_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    pub model_id: Option<Uuid>,
    pub supplier_id: Option<Uuid>,
    pub upstream_key_id: Option<Uuid>,
    pub upstream_model: Option<String>,
    pub endpoint: String,
    pub stream: bool,
    pub status_code: i16,
    pub error_code: Option<String>,
    pub error_summary: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub estimated: bool,
    pub cost_nanos: i64,
    pub currency: Option<String>,
    pub time_to_first_token_ms: Option<i32>,
    pub latency_ms: i32,
    pub client_ip: Option<String>,
    pub attempt: i16,
    pub byok: bool,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
