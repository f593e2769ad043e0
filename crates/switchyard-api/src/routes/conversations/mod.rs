//! `/api/v1/conversations`: the caller's conversations (owner only: another user's is a 404,
//! as a missing one is). Messages and turns are in `messages.rs`.

mod dto;
mod messages;

pub(crate) use dto::{ExchangeBody, ImageUrl, MessageBody, message_input};
pub(crate) use messages::respond;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use switchyard_domain::conversations::{ConversationFilter, ConversationId, ConversationInput, ConversationSpec};
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::AuthUser;
use crate::dto::{encode_cursor, page_request};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use dto::{
    ConversationBody, ConversationExport, ConversationList, ConversationPatchBody, CreateConversationRequest,
    ExportFormat, ExportQuery, ListConversationsQuery,
};

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(create_conversation)
        .service(list_conversations)
        .service(get_conversation)
        .service(patch_conversation)
        .service(archive_conversation)
        .service(unarchive_conversation)
        .service(delete_conversation)
        .service(restore_conversation)
        .service(export_conversation);
    messages::configure(cfg);
}

/// Start a conversation.
#[utoipa::path(
    tag = "conversations",
    security(("bearer_jwt" = [])),
    request_body = CreateConversationRequest,
    responses(
        (status = 201, description = "The conversation", body = ConversationBody),
        (status = 400, description = "The body cannot be read", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 422, description = "A rule is broken", body = ErrorBody),
    )
)]
#[post("/api/v1/conversations")]
async fn create_conversation(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateConversationRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let spec = ConversationSpec::parse(ConversationInput {
        title: body.title,
        model: body.model,
        system_prompt: body.system_prompt,
    })?;
    let conversation = state.conversations.create(&user.0, spec).await?;
    Ok(HttpResponse::Created().json(ConversationBody::from(conversation)))
}

/// The caller's conversations, newest first; live ones unless `deleted=true`.
#[utoipa::path(
    tag = "conversations",
    security(("bearer_jwt" = [])),
    params(ListConversationsQuery),
    responses(
        (status = 200, description = "A page of conversations", body = ConversationList),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 422, description = "A rule is broken", body = ErrorBody),
    )
)]
#[get("/api/v1/conversations")]
async fn list_conversations(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ListConversationsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let filter = ConversationFilter::parse(query.archived, query.deleted, query.q)?;
    let conversations = state.conversations.list(&user.0, &filter, page).await?;
    Ok(HttpResponse::Ok().json(ConversationList {
        next_cursor: conversations.next.map(encode_cursor),
        data: conversations.items.into_iter().map(ConversationBody::from).collect(),
    }))
}

/// One of the caller's conversations (a soft-deleted one too).
#[utoipa::path(
    tag = "conversations",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The conversation's id")),
    responses(
        (status = 200, description = "The conversation", body = ConversationBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
    )
)]
#[get("/api/v1/conversations/{id}")]
async fn get_conversation(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let conversation = state.conversations.get(&user.0, ConversationId(*id)).await?;
    Ok(HttpResponse::Ok().json(ConversationBody::from(conversation)))
}

/// Change a conversation's title, model or system prompt (JSON Merge Patch).
#[utoipa::path(
    tag = "conversations",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = ConversationPatchBody,
    responses(
        (status = 200, description = "The conversation", body = ConversationBody),
        (status = 400, description = "The body cannot be read", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
        (status = 409, description = "The conversation is deleted (`conversation_deleted`)", body = ErrorBody),
        (status = 422, description = "A rule is broken", body = ErrorBody),
    )
)]
#[patch("/api/v1/conversations/{id}")]
async fn patch_conversation(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<ConversationPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let conversation = state
        .conversations
        .patch(&user.0, ConversationId(*id), body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(ConversationBody::from(conversation)))
}

macro_rules! state_change {
    ($name:ident, $path:literal, $summary:literal, |$c:ident, $u:ident, $i:ident| $call:expr) => {
        #[doc = $summary]
        #[utoipa::path(
            tag = "conversations",
            security(("bearer_jwt" = [])),
            params(("id" = Uuid, Path, description = "The conversation's id")),
            responses(
                (status = 200, description = "The conversation", body = ConversationBody),
                (status = 401, description = "No valid access token", body = ErrorBody),
                (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
                (status = 409, description = "The conversation is deleted (`conversation_deleted`)", body = ErrorBody),
            )
        )]
        #[post($path)]
        async fn $name(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
            let $c = &state.conversations;
            let $u = &user.0;
            let $i = ConversationId(*id);
            let conversation = $call.await?;
            Ok(HttpResponse::Ok().json(ConversationBody::from(conversation)))
        }
    };
}

state_change!(
    archive_conversation,
    "/api/v1/conversations/{id}/archive",
    "Archive a conversation (it leaves the default listing's `archived=false`).",
    |conversations, user, id| conversations.set_archived(user, id, true)
);
state_change!(
    unarchive_conversation,
    "/api/v1/conversations/{id}/unarchive",
    "Take a conversation out of the archive.",
    |conversations, user, id| conversations.set_archived(user, id, false)
);
state_change!(
    restore_conversation,
    "/api/v1/conversations/{id}/restore",
    "Restore a soft-deleted conversation.",
    |conversations, user, id| conversations.restore(user, id)
);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// `true`: remove the conversation and its messages for good (no restore).
    pub permanent: Option<bool>,
}

/// Delete a conversation: soft (it can be restored) or, with `permanent=true`, for good.
#[utoipa::path(
    tag = "conversations",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The conversation's id"), DeleteQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
    )
)]
#[delete("/api/v1/conversations/{id}")]
async fn delete_conversation(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = ConversationId(*id);
    if query.permanent.unwrap_or(false) {
        state.conversations.purge(&user.0, id).await?;
    } else {
        state.conversations.delete(&user.0, id).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A conversation with all its messages, as JSON or as Markdown.
#[utoipa::path(
    tag = "conversations",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The conversation's id"), ExportQuery),
    responses(
        (status = 200, description = "The conversation and its messages, oldest first", body = ConversationExport,
            content(
                (ConversationExport = "application/json"),
                (String = "text/markdown"),
            )),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
    )
)]
#[get("/api/v1/conversations/{id}/export")]
async fn export_conversation(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let (conversation, messages) = state.conversations.export(&user.0, ConversationId(*id)).await?;
    let file = format!("conversation-{}", conversation.id);
    match query.format.unwrap_or_default() {
        ExportFormat::Markdown => Ok(HttpResponse::Ok()
            .content_type("text/markdown; charset=utf-8")
            .insert_header(("content-disposition", format!("attachment; filename=\"{file}.md\"")))
            .body(switchyard_domain::conversations::export::markdown(
                &conversation,
                &messages,
            ))),
        ExportFormat::Json => Ok(HttpResponse::Ok()
            .insert_header(("content-disposition", format!("attachment; filename=\"{file}.json\"")))
            .json(ConversationExport {
                conversation: conversation.into(),
                messages: messages.into_iter().map(MessageBody::from).collect(),
            })),
    }
}
