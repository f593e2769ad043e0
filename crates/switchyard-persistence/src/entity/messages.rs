//! The `messages` table: a conversation's messages, content as a JSON array of parts.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub role: String,
    pub content: String,
    pub reasoning: Option<String>,
    pub tokens: i64,
    pub model: Option<String>,
    pub supplier: Option<String>,
    pub status: String,
    pub error: Option<String>,
    pub finish_reason: Option<String>,
    pub request_id: Option<String>,
    pub superseded: bool,
    pub deleted_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
