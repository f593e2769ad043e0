//! `ConversationRepo` on sea-orm: conversations, their messages, and the counters that change
//! in the transaction that writes or deletes a message.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use serde::{Deserialize, Serialize};
use switchyard_domain::StoreError;
use switchyard_domain::UserId;
use switchyard_domain::conversations::{
    Conversation, ConversationFilter, ConversationId, ConversationRepo, ConversationSpec, FileId, MediaType, Message,
    MessageId, MessageRole, MessageStatus, NewConversation, NewMessage, Order, Part, ReviseError, StoredFile,
};
use switchyard_domain::kernel::page::{Cursor, Page, PageRequest};
use switchyard_domain::kernel::patch::Revise;
use tracing::instrument;

use crate::entity::{conversations, files, message_files, messages};
use crate::error::store_error;
use crate::file_repo::stored;
use crate::page::{like_pattern, paginate, paginate_towards};
use crate::transaction::{begin_write, finish};

#[derive(Debug, Clone)]
pub struct SqlConversationRepo {
    db: DatabaseConnection,
}

impl SqlConversationRepo {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Writes many messages into one conversation at once (an import, a benchmark's fill), in
    /// one transaction with the counters; messages holding files are not taken.
    pub async fn import(&self, id: ConversationId, items: &[Message], now: DateTime<Utc>) -> Result<(), StoreError> {
        if items.iter().any(|item| item.files().next().is_some()) {
            return Err(StoreError::Other(
                "an import takes no messages holding files".to_owned(),
            ));
        }
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            for chunk in items.chunks(500) {
                let rows = chunk.iter().map(row).collect::<Result<Vec<_>, _>>()?;
                messages::Entity::insert_many(rows)
                    .exec_without_returning(&txn)
                    .await
                    .map_err(store_error)?;
            }
            let tokens = items.iter().map(|item| item.tokens).sum();
            count(&txn, id, i64::try_from(items.len()).unwrap_or(i64::MAX), tokens, now).await
        }
        .await;
        finish(txn, outcome).await
    }

    async fn owned(&self, user: UserId, id: ConversationId) -> Result<Option<conversations::Model>, StoreError> {
        conversations::Entity::find_by_id(id.0)
            .filter(conversations::Column::UserId.eq(user.0))
            .one(&self.db)
            .await
            .map_err(store_error)
    }
}

/// One part of a message's content as stored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StoredPart {
    Text {
        text: String,
    },
    Image {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    File {
        file_id: uuid::Uuid,
        name: String,
        media_type: String,
    },
}

fn conversation(row: conversations::Model) -> Conversation {
    Conversation {
        id: ConversationId(row.id),
        user_id: UserId(row.user_id),
        spec: ConversationSpec {
            title: row.title,
            model: row.model,
            system_prompt: row.system_prompt,
        },
        total_tokens: row.total_tokens,
        message_count: row.message_count,
        is_archived: row.is_archived,
        deleted_at: row.deleted_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn message(row: messages::Model) -> Result<Message, StoreError> {
    let broken = |what: &str| StoreError::Other(format!("messages.{what} of {}", row.id));
    let parts: Vec<StoredPart> =
        serde_json::from_str(&row.content).map_err(|error| broken(&format!("content ({error})")))?;
    let parts = parts
        .into_iter()
        .map(|part| {
            Ok(match part {
                StoredPart::Text { text } => Part::Text(text),
                StoredPart::Image { url, detail } => Part::Image { url, detail },
                StoredPart::File {
                    file_id,
                    name,
                    media_type,
                } => Part::File {
                    file_id: FileId(file_id),
                    name,
                    media_type: MediaType::parse(&media_type).map_err(|_| broken("content's media_type"))?,
                },
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Message {
        id: MessageId(row.id),
        conversation_id: ConversationId(row.conversation_id),
        role: MessageRole::parse(&row.role).map_err(|_| broken("role"))?,
        status: MessageStatus::parse(&row.status).map_err(|_| broken("status"))?,
        parts,
        reasoning: row.reasoning,
        tokens: row.tokens,
        model: row.model,
        supplier: row.supplier,
        error: row.error,
        finish_reason: row.finish_reason,
        request_id: row.request_id,
        superseded: row.superseded,
        deleted_at: row.deleted_at,
        created_at: row.created_at,
    })
}

fn content(parts: &[Part]) -> Result<String, StoreError> {
    let stored: Vec<StoredPart> = parts
        .iter()
        .map(|part| match part {
            Part::Text(text) => StoredPart::Text { text: text.clone() },
            Part::Image { url, detail } => StoredPart::Image {
                url: url.clone(),
                detail: detail.clone(),
            },
            Part::File {
                file_id,
                name,
                media_type,
            } => StoredPart::File {
                file_id: file_id.0,
                name: name.clone(),
                media_type: media_type.as_str().to_owned(),
            },
        })
        .collect();
    serde_json::to_string(&stored).map_err(|error| StoreError::Other(error.to_string()))
}

fn cursor(message: &Message) -> Cursor {
    Cursor {
        created_at: message.created_at,
        id: message.id.0,
    }
}

fn messages_page(rows: Vec<messages::Model>, limit: u64) -> Result<Page<Message>, StoreError> {
    let items = rows.into_iter().map(message).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(items, limit, cursor))
}

/// Adds `messages` and `tokens` to a conversation's counters (`SET n = n + k`).
async fn count(
    db: &impl ConnectionTrait,
    id: ConversationId,
    messages: i64,
    tokens: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conversations::Entity::update_many()
        .col_expr(
            conversations::Column::MessageCount,
            Expr::col(conversations::Column::MessageCount).add(messages),
        )
        .col_expr(
            conversations::Column::TotalTokens,
            Expr::col(conversations::Column::TotalTokens).add(tokens),
        )
        .col_expr(conversations::Column::UpdatedAt, Expr::value(now))
        .filter(conversations::Column::Id.eq(id.0))
        .exec(db)
        .await
        .map_err(store_error)?;
    Ok(())
}

fn row(item: &Message) -> Result<messages::ActiveModel, StoreError> {
    Ok(messages::ActiveModel {
        id: Set(item.id.0),
        conversation_id: Set(item.conversation_id.0),
        role: Set(item.role.as_str().to_owned()),
        content: Set(content(&item.parts)?),
        reasoning: Set(item.reasoning.clone()),
        tokens: Set(item.tokens),
        model: Set(item.model.clone()),
        supplier: Set(item.supplier.clone()),
        status: Set(item.status.as_str().to_owned()),
        error: Set(item.error.clone()),
        finish_reason: Set(item.finish_reason.clone()),
        request_id: Set(item.request_id.clone()),
        superseded: Set(item.superseded),
        deleted_at: Set(item.deleted_at),
        created_at: Set(item.created_at),
    })
}

/// Locks the user's conversation for the transaction; says whether there is one.
async fn lock_owned(txn: &impl ConnectionTrait, user: UserId, id: ConversationId) -> Result<bool, StoreError> {
    let owned = conversations::Entity::find_by_id(id.0)
        .filter(conversations::Column::UserId.eq(user.0))
        .lock_exclusive()
        .one(txn)
        .await
        .map_err(store_error)?;
    Ok(owned.is_some())
}

/// A title lower-cased for the search, within its column (lower-casing can lengthen it: `İ`).
fn search_form(title: &str) -> String {
    title.to_lowercase().chars().take(200).collect()
}

fn write_spec(row: &mut conversations::ActiveModel, spec: &ConversationSpec) {
    row.title = Set(spec.title.clone());
    row.title_search = Set(spec.title.as_deref().map(search_form));
    row.model = Set(spec.model.clone());
    row.system_prompt = Set(spec.system_prompt.clone());
}

#[async_trait]
impl ConversationRepo for SqlConversationRepo {
    #[instrument(skip_all, fields(user_id = %new.user_id))]
    async fn create(&self, new: &NewConversation) -> Result<Conversation, StoreError> {
        let mut row = conversations::ActiveModel {
            id: Set(new.id.0),
            user_id: Set(new.user_id.0),
            total_tokens: Set(0),
            message_count: Set(0),
            is_archived: Set(false),
            deleted_at: Set(None),
            created_at: Set(new.now),
            updated_at: Set(new.now),
            ..Default::default()
        };
        write_spec(&mut row, &new.spec);
        conversations::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        self.owned(new.user_id, new.id)
            .await?
            .map(conversation)
            .ok_or(StoreError::NotFound)
    }

    async fn list(
        &self,
        user: UserId,
        filter: &ConversationFilter,
        page: PageRequest,
    ) -> Result<Page<Conversation>, StoreError> {
        let mut select = conversations::Entity::find().filter(conversations::Column::UserId.eq(user.0));
        select = if filter.deleted {
            select.filter(conversations::Column::DeletedAt.is_not_null())
        } else {
            select.filter(conversations::Column::DeletedAt.is_null())
        };
        if let Some(archived) = filter.archived {
            select = select.filter(conversations::Column::IsArchived.eq(archived));
        }
        if let Some(search) = filter.search.as_deref().filter(|text| !text.is_empty()) {
            select = select
                .filter(conversations::Column::TitleSearch.like(LikeExpr::new(like_pattern(search)).escape('\\')));
        }
        let rows = paginate(
            select,
            conversations::Column::CreatedAt,
            conversations::Column::Id,
            page,
        )
        .all(&self.db)
        .await
        .map_err(store_error)?;
        let items = rows.into_iter().map(conversation).collect();
        Ok(Page::from_rows(items, page.limit, |conversation: &Conversation| {
            Cursor {
                created_at: conversation.created_at,
                id: conversation.id.0,
            }
        }))
    }

    async fn get(&self, user: UserId, id: ConversationId) -> Result<Option<Conversation>, StoreError> {
        Ok(self.owned(user, id).await?.map(conversation))
    }

    async fn revise(
        &self,
        user: UserId,
        id: ConversationId,
        revise: Revise<'_, ConversationSpec>,
        now: DateTime<Utc>,
    ) -> Result<Option<Conversation>, ReviseError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            let Some(row) = conversations::Entity::find_by_id(id.0)
                .filter(conversations::Column::UserId.eq(user.0))
                .filter(conversations::Column::DeletedAt.is_null())
                .lock_exclusive()
                .one(&txn)
                .await
                .map_err(store_error)?
            else {
                return Ok(None);
            };
            let spec = revise(&conversation(row.clone()).spec).map_err(ReviseError::Rejected)?;
            let mut row = row.into_active_model();
            write_spec(&mut row, &spec);
            row.updated_at = Set(now);
            Ok(Some(conversation(row.update(&txn).await.map_err(store_error)?)))
        }
        .await;
        finish(txn, outcome).await
    }

    async fn set_title_if_none(&self, id: ConversationId, title: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = conversations::Entity::update_many()
            .col_expr(conversations::Column::Title, Expr::value(title.to_owned()))
            .col_expr(conversations::Column::TitleSearch, Expr::value(search_form(title)))
            .col_expr(conversations::Column::UpdatedAt, Expr::value(now))
            .filter(conversations::Column::Id.eq(id.0))
            .filter(conversations::Column::Title.is_null())
            .filter(conversations::Column::DeletedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn set_archived(
        &self,
        user: UserId,
        id: ConversationId,
        archived: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<Conversation>, StoreError> {
        let Some(row) = self.owned(user, id).await? else {
            return Ok(None);
        };
        if row.is_archived == archived {
            return Ok(Some(conversation(row)));
        }
        let mut row = row.into_active_model();
        row.is_archived = Set(archived);
        row.updated_at = Set(now);
        Ok(Some(conversation(row.update(&self.db).await.map_err(store_error)?)))
    }

    async fn set_deleted(
        &self,
        user: UserId,
        id: ConversationId,
        deleted_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Option<Conversation>, StoreError> {
        let Some(row) = self.owned(user, id).await? else {
            return Ok(None);
        };
        if row.deleted_at.is_some() == deleted_at.is_some() {
            return Ok(Some(conversation(row)));
        }
        let mut row = row.into_active_model();
        row.deleted_at = Set(deleted_at);
        row.updated_at = Set(now);
        Ok(Some(conversation(row.update(&self.db).await.map_err(store_error)?)))
    }

    #[instrument(skip_all, fields(conversation_id = %id))]
    async fn purge(&self, user: UserId, id: ConversationId) -> Result<Option<Vec<StoredFile>>, StoreError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            if !lock_owned(&txn, user, id).await? {
                return Ok(None);
            }
            let held: Vec<uuid::Uuid> = message_files::Entity::find()
                .filter(message_files::Column::ConversationId.eq(id.0))
                .all(&txn)
                .await
                .map_err(store_error)?
                .into_iter()
                .map(|link| link.file_id)
                .collect();
            message_files::Entity::delete_many()
                .filter(message_files::Column::ConversationId.eq(id.0))
                .exec(&txn)
                .await
                .map_err(store_error)?;
            let mut released = Vec::new();
            if !held.is_empty() {
                let still_held: std::collections::HashSet<uuid::Uuid> = message_files::Entity::find()
                    .filter(message_files::Column::FileId.is_in(held.clone()))
                    .all(&txn)
                    .await
                    .map_err(store_error)?
                    .into_iter()
                    .map(|link| link.file_id)
                    .collect();
                let free: Vec<uuid::Uuid> = held.into_iter().filter(|file| !still_held.contains(file)).collect();
                if !free.is_empty() {
                    let rows = files::Entity::find()
                        .filter(files::Column::Id.is_in(free.clone()))
                        .filter(files::Column::UserId.eq(user.0))
                        .all(&txn)
                        .await
                        .map_err(store_error)?;
                    files::Entity::delete_many()
                        .filter(files::Column::Id.is_in(free))
                        .filter(files::Column::UserId.eq(user.0))
                        .exec(&txn)
                        .await
                        .map_err(store_error)?;
                    released = rows.into_iter().map(stored).collect::<Result<Vec<_>, _>>()?;
                }
            }
            messages::Entity::delete_many()
                .filter(messages::Column::ConversationId.eq(id.0))
                .exec(&txn)
                .await
                .map_err(store_error)?;
            conversations::Entity::delete_by_id(id.0)
                .exec(&txn)
                .await
                .map_err(store_error)?;
            Ok(Some(released))
        }
        .await;
        finish(txn, outcome).await
    }

    async fn messages(
        &self,
        user: UserId,
        id: ConversationId,
        order: Order,
        page: PageRequest,
    ) -> Result<Option<Page<Message>>, StoreError> {
        if self.owned(user, id).await?.is_none() {
            return Ok(None);
        }
        let select = messages::Entity::find()
            .filter(messages::Column::ConversationId.eq(id.0))
            .filter(messages::Column::DeletedAt.is_null());
        let rows = paginate_towards(
            select,
            messages::Column::CreatedAt,
            messages::Column::Id,
            page,
            order == Order::Ascending,
        )
        .all(&self.db)
        .await
        .map_err(store_error)?;
        messages_page(rows, page.limit).map(Some)
    }

    async fn recent(&self, user: UserId, page: PageRequest) -> Result<Page<Message>, StoreError> {
        let theirs = conversations::Entity::find()
            .select_only()
            .column(conversations::Column::Id)
            .filter(conversations::Column::UserId.eq(user.0))
            .filter(conversations::Column::DeletedAt.is_null())
            .into_query();
        let select = messages::Entity::find()
            .filter(messages::Column::ConversationId.in_subquery(theirs))
            .filter(messages::Column::DeletedAt.is_null());
        let rows = paginate(select, messages::Column::CreatedAt, messages::Column::Id, page)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        messages_page(rows, page.limit)
    }

    async fn context_page(&self, id: ConversationId, page: PageRequest) -> Result<Page<Message>, StoreError> {
        let select = messages::Entity::find()
            .filter(messages::Column::ConversationId.eq(id.0))
            .filter(messages::Column::DeletedAt.is_null())
            .filter(messages::Column::Superseded.eq(false))
            .filter(messages::Column::Status.ne(MessageStatus::Failed.as_str()));
        let rows = paginate(select, messages::Column::CreatedAt, messages::Column::Id, page)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        messages_page(rows, page.limit)
    }

    async fn last_message(&self, id: ConversationId) -> Result<Option<Message>, StoreError> {
        messages::Entity::find()
            .filter(messages::Column::ConversationId.eq(id.0))
            .filter(messages::Column::DeletedAt.is_null())
            .filter(messages::Column::Superseded.eq(false))
            .order_by_desc(messages::Column::CreatedAt)
            .order_by_desc(messages::Column::Id)
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(message)
            .transpose()
    }

    #[instrument(skip_all, fields(conversation_id = %new.message.conversation_id))]
    async fn add_message(&self, new: &NewMessage, now: DateTime<Utc>) -> Result<Message, StoreError> {
        let item = &new.message;
        let row = row(item)?;
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            messages::Entity::insert(row)
                .exec_without_returning(&txn)
                .await
                .map_err(store_error)?;
            let links: Vec<message_files::ActiveModel> = item
                .files()
                .map(|file| message_files::ActiveModel {
                    message_id: Set(item.id.0),
                    file_id: Set(file.0),
                    conversation_id: Set(item.conversation_id.0),
                })
                .collect();
            if !links.is_empty() {
                message_files::Entity::insert_many(links)
                    .exec_without_returning(&txn)
                    .await
                    .map_err(store_error)?;
            }
            if let Some(old) = new.supersedes {
                messages::Entity::update_many()
                    .col_expr(messages::Column::Superseded, Expr::value(true))
                    .filter(messages::Column::Id.eq(old.0))
                    .filter(messages::Column::ConversationId.eq(item.conversation_id.0))
                    .exec(&txn)
                    .await
                    .map_err(store_error)?;
            }
            count(&txn, item.conversation_id, 1, item.tokens, now).await?;
            Ok(item.clone())
        }
        .await;
        finish(txn, outcome).await
    }

    async fn delete_message(
        &self,
        user: UserId,
        id: ConversationId,
        message_id: MessageId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let txn = begin_write(&self.db).await?;
        let outcome = async {
            if !lock_owned(&txn, user, id).await? {
                return Ok(false);
            }
            let Some(row) = messages::Entity::find_by_id(message_id.0)
                .filter(messages::Column::ConversationId.eq(id.0))
                .filter(messages::Column::DeletedAt.is_null())
                .one(&txn)
                .await
                .map_err(store_error)?
            else {
                return Ok(false);
            };
            let tokens = row.tokens;
            let mut row = row.into_active_model();
            row.deleted_at = Set(Some(now));
            row.update(&txn).await.map_err(store_error)?;
            count(&txn, id, -1, -tokens, now).await?;
            Ok(true)
        }
        .await;
        finish(txn, outcome).await
    }
}
