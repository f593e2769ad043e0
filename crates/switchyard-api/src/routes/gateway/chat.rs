//! `POST /v1/chat/completions`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};

use crate::AppState;
use crate::auth::GatewayUser;
use crate::error::{ApiError, OpenAiErrorBody};
use crate::routes::gateway::wire::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest};
use crate::routes::gateway::{context, read_json, sse};

/// Create a chat completion (OpenAI's Chat Completions), whole or streamed.
///
/// With `"stream": true` the answer is `text/event-stream`: one `data:` event per
/// `chat.completion.chunk` as the supplier sends it, then `data: [DONE]`. The first upstream
/// event is awaited before the 200, so an early failure is an ordinary error response.
#[utoipa::path(
    tag = "gateway",
    security(("api_key" = []), ("bearer_jwt" = [])),
    request_body = ChatCompletionRequest,
    responses(
        (status = 200, description = "The answer (or, streamed, its chunks as server-sent events)", body = ChatCompletion,
            content(
                (ChatCompletion = "application/json"),
                (ChatCompletionChunk = "text/event-stream"),
            )),
        (status = 400, description = "The request is malformed or the supplier refused it", body = OpenAiErrorBody),
        (status = 401, description = "No valid API key or access token", body = OpenAiErrorBody),
        (status = 403, description = "The key may not use this model", body = OpenAiErrorBody),
        (status = 404, description = "No such model (`model_not_found`)", body = OpenAiErrorBody),
        (status = 429, description = "The supplier is rate limiting (see `Retry-After`)", body = OpenAiErrorBody),
        (status = 502, description = "The supplier failed", body = OpenAiErrorBody),
        (status = 503, description = "The supplier is overloaded", body = OpenAiErrorBody),
        (status = 504, description = "The supplier did not answer in time", body = OpenAiErrorBody),
    )
)]
#[post("/v1/chat/completions")]
pub async fn chat_completions(
    state: web::Data<AppState>,
    user: GatewayUser,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let wire: ChatCompletionRequest = read_json(payload, state.gateway_body_limit).await?;
    let request = wire.into_domain()?;
    let context = context(&req);
    let model = request.model.clone();
    if request.stream {
        let stream = state.gateway.chat_stream(&user.0, &context, request).await?;
        let mut response = HttpResponse::Ok();
        super::served(&mut response, stream.served());
        crate::rate::insert(&mut response, &stream.rate());
        let model = super::shown_model(model, stream.served());
        return Ok(response
            .content_type("text/event-stream")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            // Proxies such as nginx would otherwise buffer the events.
            .insert_header(("x-accel-buffering", "no"))
            .streaming(sse::events(stream, model, context.request_id)));
    }
    let answer = state.gateway.chat(&user.0, &context, request).await?;
    let mut response = HttpResponse::Ok();
    super::served(&mut response, &answer.by);
    crate::rate::insert(&mut response, &answer.rate);
    let model = super::shown_model(model, &answer.by);
    Ok(response.json(ChatCompletion::new(answer.value, &model, &context.request_id)))
}
