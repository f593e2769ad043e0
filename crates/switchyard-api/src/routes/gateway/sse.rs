//! A streamed answer as server-sent events: each chunk a `data:` line as it arrives (nothing is
//! buffered), `data: [DONE]` at the end, or an OpenAI-shaped `error` event when the supplier
//! fails mid-stream (then no `[DONE]`: the answer is not complete). Dropping the body (the
//! client went away) drops the gateway's stream, which cancels the upstream request and logs
//! what was streamed.

use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};
use switchyard_domain::gateway::attempt::upstream_failure;
use switchyard_domain::gateway::{ChatChunk, ProviderError};

use crate::error::{ApiError, OpenAiErrorBody, OpenAiErrorObject};
use crate::routes::gateway::wire::ChatCompletionChunk;

fn event(json: &impl serde::Serialize) -> Bytes {
    match serde_json::to_vec(json) {
        Ok(mut data) => {
            let mut line = b"data: ".to_vec();
            line.append(&mut data);
            line.extend_from_slice(b"\n\n");
            Bytes::from(line)
        }
        Err(error) => {
            tracing::error!(%error, "a stream chunk did not serialise");
            Bytes::from_static(b"data: {\"error\":{\"message\":\"internal error\",\"type\":\"server_error\"}}\n\n")
        }
    }
}

/// The error event of a supplier's failure mid-stream.
fn error_event(error: ProviderError) -> Bytes {
    let failure = upstream_failure(&error);
    let api = ApiError::from(failure.into_domain(&error, false));
    event(&OpenAiErrorBody {
        error: OpenAiErrorObject {
            message: api.message().to_owned(),
            kind: "server_error".to_owned(),
            param: None,
            code: Some(api.code().as_str().to_owned()),
        },
    })
}

/// The events of `stream`, for the client that asked for `model`.
pub fn events<S>(
    stream: S,
    model: String,
    request_id: String,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static
where
    S: Stream<Item = Result<ChatChunk, ProviderError>> + Unpin + 'static,
{
    futures_util::stream::unfold(Some(stream), move |state| {
        let (model, request_id) = (model.clone(), request_id.clone());
        async move {
            let mut stream = state?;
            match stream.next().await {
                Some(Ok(chunk)) => Some((
                    Ok(event(&ChatCompletionChunk::new(chunk, &model, &request_id))),
                    Some(stream),
                )),
                // The stream is over: no `[DONE]` after an error.
                Some(Err(error)) => Some((Ok(error_event(error)), None)),
                None => Some((Ok(Bytes::from_static(b"data: [DONE]\n\n")), None)),
            }
        }
    })
}
