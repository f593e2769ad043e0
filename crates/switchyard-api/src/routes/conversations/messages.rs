//! A conversation's messages: the listing (both directions), soft-deleting one, and turns —
//! sending a message (answered whole, or streamed as the gateway streams) and regenerating
//! the last answer.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use switchyard_domain::conversations::{ConversationId, MessageId, Order, Question, Reply, StreamedReply, TurnOptions};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::AuthUser;
use crate::dto::{encode_cursor, page_request};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::routes::conversations::dto::{
    ExchangeBody, ListMessagesQuery, MessageBody, MessageList, OrderName, RegenerateRequest, SendMessageRequest,
};
use crate::routes::gateway::{ChatCompletionChunk, context, read_json, served, shown_model, sse};

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_messages)
        .service(delete_message)
        .service(send_message)
        .service(regenerate_answer);
}

/// A conversation's messages (deleted ones left out), newest first or, with `order=asc`,
/// oldest first.
#[utoipa::path(
    tag = "conversations",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The conversation's id"), ListMessagesQuery),
    responses(
        (status = 200, description = "A page of messages", body = MessageList),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
    )
)]
#[get("/api/v1/conversations/{id}/messages")]
async fn list_messages(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    query: web::Query<ListMessagesQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let order = match query.order.unwrap_or_default() {
        OrderName::Desc => Order::Descending,
        OrderName::Asc => Order::Ascending,
    };
    let messages = state
        .conversations
        .messages(&user.0, ConversationId(*id), order, page)
        .await?;
    Ok(HttpResponse::Ok().json(MessageList {
        next_cursor: messages.next.map(encode_cursor),
        data: messages.items.into_iter().map(MessageBody::from).collect(),
    }))
}

/// Soft-delete one message: it leaves the listing, later contexts and the counters.
#[utoipa::path(
    tag = "conversations",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The conversation's id"),
        ("message_id" = Uuid, Path, description = "The message's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such message in a conversation of the caller's", body = ErrorBody),
        (status = 409, description = "The conversation is deleted (`conversation_deleted`)", body = ErrorBody),
    )
)]
#[delete("/api/v1/conversations/{id}/messages/{message_id}")]
async fn delete_message(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, message) = path.into_inner();
    state
        .conversations
        .delete_message(&user.0, ConversationId(id), MessageId(message))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Send a message into a conversation and get the answer.
///
/// The message is stored first; the context is the system prompt and the newest history that
/// fits the model's window (less the reply's budget); the call goes through the gateway (its
/// routing, checks, call log and usage). The answer is stored when it is done: `complete`;
/// `failed` when the supplier fails (the question is kept); `incomplete` when a streaming
/// client goes away. With `stream: true` the answer comes as the gateway's server-sent events
/// (`x-switchyard-answer-id` names the message it is stored as). Two sends into one
/// conversation are answered one after the other.
#[utoipa::path(
    tag = "conversations",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The conversation's id")),
    request_body = SendMessageRequest,
    responses(
        (status = 201, description = "The question and its answer (or, streamed, the answer's chunks)", body = ExchangeBody,
            content(
                (ExchangeBody = "application/json"),
                (ChatCompletionChunk = "text/event-stream"),
            )),
        (status = 400, description = "The body cannot be read, or the supplier refused the request", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's, or its model is gone", body = ErrorBody),
        (status = 409, description = "The conversation is deleted (`conversation_deleted`)", body = ErrorBody),
        (status = 413, description = "The body is larger than `gateway.body_limit`", body = ErrorBody),
        (status = 422, description = "A rule is broken (an empty message, one too long for the model's window)", body = ErrorBody),
        (status = 429, description = "The supplier is rate limiting (see `Retry-After`)", body = ErrorBody),
        (status = 502, description = "The supplier failed; the answer is stored `failed`", body = ErrorBody),
        (status = 503, description = "The supplier is overloaded", body = ErrorBody),
        (status = 504, description = "The supplier did not answer in time", body = ErrorBody),
    )
)]
#[post("/api/v1/conversations/{id}/messages")]
async fn send_message(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: SendMessageRequest = read_json(payload, state.gateway_body_limit).await?;
    let question = Question::parse(body.input())?;
    let options = TurnOptions {
        stream: body.stream,
        max_tokens: body.max_tokens,
    };
    let context = context(&req);
    let reply = state
        .conversations
        .send(&user.0, &context, ConversationId(*id), question, options)
        .await?;
    Ok(respond(reply, &context.request_id))
}

/// Answer the conversation's last question again: the last answer is kept, marked
/// `superseded`, and the new one stored (whole or streamed, as with a send).
#[utoipa::path(
    tag = "conversations",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The conversation's id"),
        ("message_id" = Uuid, Path, description = "The last answer's id"),
    ),
    request_body = RegenerateRequest,
    responses(
        (status = 201, description = "The question and its new answer (or, streamed, the answer's chunks)", body = ExchangeBody,
            content(
                (ExchangeBody = "application/json"),
                (ChatCompletionChunk = "text/event-stream"),
            )),
        (status = 400, description = "The body cannot be read", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
        (status = 409, description = "Not the last answer (`not_last_answer`), or the conversation is deleted", body = ErrorBody),
        (status = 502, description = "The supplier failed; the new answer is stored `failed`", body = ErrorBody),
    )
)]
#[post("/api/v1/conversations/{id}/messages/{message_id}/regenerate")]
async fn regenerate_answer(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
    req: HttpRequest,
    body: Json<RegenerateRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, message) = path.into_inner();
    let options = TurnOptions {
        stream: body.0.stream,
        max_tokens: body.0.max_tokens,
    };
    let context = context(&req);
    let reply = state
        .conversations
        .regenerate(&user.0, &context, ConversationId(id), MessageId(message), options)
        .await?;
    Ok(respond(reply, &context.request_id))
}

pub(crate) fn respond(reply: Reply, request_id: &str) -> HttpResponse {
    match reply {
        Reply::Whole(exchange) => {
            let mut response = HttpResponse::Created();
            response.insert_header(("x-switchyard-answer-id", exchange.answer.id.to_string()));
            response.json(ExchangeBody {
                question: exchange.question.into(),
                answer: exchange.answer.into(),
            })
        }
        Reply::Stream(reply) => {
            let StreamedReply {
                question,
                answer_id,
                stream,
            } = *reply;
            let mut response = HttpResponse::Ok();
            let mut model = String::new();
            if let Some(by) = stream.served() {
                served(&mut response, by);
                model = shown_model(by.model.clone(), by);
            }
            response
                .content_type("text/event-stream")
                .insert_header((header::CACHE_CONTROL, "no-cache"))
                .insert_header(("x-accel-buffering", "no"))
                .insert_header(("x-switchyard-question-id", question.id.to_string()))
                .insert_header(("x-switchyard-answer-id", answer_id.to_string()))
                .streaming(sse::events(stream, model, request_id.to_owned()))
        }
    }
}
