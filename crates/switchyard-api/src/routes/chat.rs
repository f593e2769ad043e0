//! `/api/v1/chat`: the one-shot chat. One endpoint for text and vision chat (a message with
//! images or image files is vision chat: the model must take images, and `auto` picks one that
//! does); it starts a conversation, or continues the one named, so its history is kept like any
//! other. `GET /api/v1/chat/history`: the caller's recent messages across conversations.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use switchyard_domain::conversations::{ConversationId, OneShot, Question, Reply, TurnOptions};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::AuthUser;
use crate::dto::{encode_cursor, page_request};
use crate::error::{ApiError, ErrorBody};
use crate::routes::conversations::{ExchangeBody, ImageUrl, MessageBody, respond};
use crate::routes::gateway::{ChatCompletionChunk, context, read_json};

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(chat).service(chat_history);
}

/// A one-shot chat message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// A model of `/v1/models`, or `auto` (the default): for a new conversation its model; for
    /// `conversation_id` the conversation's model from now on.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128)]
    pub model: Option<String>,
    /// Continue this conversation of the caller's; absent = start one.
    #[serde(default)]
    pub conversation_id: Option<Uuid>,
    /// A new conversation's system prompt (at most 32,000 characters).
    #[serde(default)]
    #[schema(max_length = 32000)]
    pub system_prompt: Option<String>,
    /// The text, at most 100,000 characters; may be absent when images or files are sent.
    #[serde(default)]
    pub content: Option<String>,
    /// At most 10 images by URL (`https://…` or `data:image/…;base64,…`).
    #[serde(default)]
    pub images: Vec<ImageUrl>,
    /// At most 10 uploaded files of the caller's (`/api/v1/files`).
    #[serde(default)]
    pub files: Vec<Uuid>,
    /// Stream the answer as the gateway's server-sent events.
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    #[schema(minimum = 1)]
    pub max_tokens: Option<i64>,
}

/// The conversation the message went into, the question and its answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatExchange {
    pub conversation_id: Uuid,
    #[serde(flatten)]
    pub exchange: ExchangeBody,
}

/// Chat with any model: text, images and files in one message.
#[utoipa::path(
    tag = "conversations",
    security(("bearer_jwt" = [])),
    request_body = ChatRequest,
    responses(
        (status = 201, description = "The exchange (or, streamed, the answer's chunks; `x-switchyard-conversation-id` names the conversation)", body = ChatExchange,
            content(
                (ChatExchange = "application/json"),
                (ChatCompletionChunk = "text/event-stream"),
            )),
        (status = 400, description = "The body cannot be read, or the supplier refused the request", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such conversation, file or model of the caller's", body = ErrorBody),
        (status = 409, description = "The conversation is deleted (`conversation_deleted`)", body = ErrorBody),
        (status = 413, description = "The body is larger than `gateway.body_limit`", body = ErrorBody),
        (status = 422, description = "A rule is broken, or no model can take the message (`auto`)", body = ErrorBody),
        (status = 429, description = "The supplier is rate limiting (see `Retry-After`)", body = ErrorBody),
        (status = 502, description = "The supplier failed; the answer is stored `failed`", body = ErrorBody),
        (status = 503, description = "The supplier is overloaded", body = ErrorBody),
        (status = 504, description = "The supplier did not answer in time", body = ErrorBody),
    )
)]
#[post("/api/v1/chat")]
async fn chat(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ChatRequest = read_json(payload, state.gateway_body_limit).await?;
    let question = Question::parse(crate::routes::conversations::message_input(
        body.content,
        &body.images,
        &body.files,
    ))?;
    let context = context(&req);
    let (id, reply) = state
        .conversations
        .chat(
            &user.0,
            &context,
            OneShot {
                conversation: body.conversation_id.map(ConversationId),
                model: body.model,
                system_prompt: body.system_prompt,
                question,
                options: TurnOptions {
                    stream: body.stream,
                    max_tokens: body.max_tokens,
                },
            },
        )
        .await?;
    match reply {
        Reply::Whole(exchange) => Ok(HttpResponse::Created()
            .insert_header(("x-switchyard-conversation-id", id.to_string()))
            .json(ChatExchange {
                conversation_id: id.0,
                exchange: ExchangeBody {
                    question: exchange.question.into(),
                    answer: exchange.answer.into(),
                },
            })),
        streamed => {
            let mut response = respond(streamed, &context.request_id);
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id.to_string()) {
                response.headers_mut().insert(
                    actix_web::http::header::HeaderName::from_static("x-switchyard-conversation-id"),
                    value,
                );
            }
            Ok(response)
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatHistory {
    /// Messages, newest first, each with its `conversation_id`.
    pub data: Vec<MessageBody>,
    pub next_cursor: Option<String>,
}

/// The caller's recent messages across their live conversations, newest first.
#[utoipa::path(
    tag = "conversations",
    security(("bearer_jwt" = [])),
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of messages", body = ChatHistory),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
    )
)]
#[get("/api/v1/chat/history")]
async fn chat_history(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let recent = state.conversations.recent(&user.0, page).await?;
    Ok(HttpResponse::Ok().json(ChatHistory {
        next_cursor: recent.next.map(encode_cursor),
        data: recent.items.into_iter().map(MessageBody::from).collect(),
    }))
}
