//! Replicate's predictions for the Llama chat models.
//!
//! A prediction is created (`POST {base}/models/{owner}/{name}/predictions`, or
//! `POST {base}/predictions` with a `version` when the model names one after a `:`); the
//! messages become one prompt in the model family's chat template (sent with
//! `prompt_template: "{prompt}"` so the model applies none of its own). A whole answer waits with
//! `Prefer: wait`, then polls; a stream reads the prediction's SSE stream (plain text `output`
//! events, then `done`) and, once it is done, fetches the prediction for its metrics, which are
//! the usage. A stream dropped before its end cancels the prediction, which would otherwise run
//! (and bill) on. Tools and images are not carried: Replicate's Llama inputs are text.

use std::time::Duration;

use async_trait::async_trait;
use eventsource_stream::Event;
use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_domain::gateway::{
    AssistantMessage, ChatChunk, ChatProvider, ChatRequest, ChatResponse, ChatRole, ChatStream, Choice, ChunkChoice,
    Delta, EmbeddingRequest, EmbeddingResponse, FinishReason, ProviderError, TimeoutPhase, UpstreamCall, Usage,
};
use tokio::time::Instant;

use crate::errors::{replicate_error, stream_error};
use crate::http::{Decoder, Http, Step, chunks, events, read_json};
use crate::openai::endpoint;
use crate::translate::{log_dropped, unsupported};

/// Between two polls of a prediction that is not done.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long Replicate holds a create request open for the answer (its most).
const PREFER_WAIT_SECONDS: u64 = 60;
/// `max_tokens` when neither the client nor the model gives one.
const DEFAULT_MAX_TOKENS: i64 = 1024;
const USED_EXTRA: &[&str] = &["top_k", "min_tokens"];

#[derive(Debug, Clone)]
pub struct Replicate {
    http: std::sync::Arc<Http>,
}

impl Replicate {
    pub fn new(http: std::sync::Arc<Http>) -> Self {
        Self { http }
    }

    fn authorized(request: reqwest::RequestBuilder, call: &UpstreamCall) -> reqwest::RequestBuilder {
        match &call.api_key {
            Some(key) => request.bearer_auth(key.expose_secret()),
            None => request,
        }
    }

    /// Creates the prediction; `wait` asks Replicate to hold the answer until it is done.
    async fn create(
        &self,
        call: &UpstreamCall,
        request: &ChatRequest,
        wait: Option<Duration>,
    ) -> Result<(Prediction, Instant), ProviderError> {
        let input = prediction_input(request, call)?;
        let (url, body) = match call.upstream_model.split_once(':') {
            Some(_) => (
                endpoint(&call.base_url, "predictions"),
                json!({"version": call.upstream_model, "input": input}),
            ),
            None => (
                endpoint(&call.base_url, &format!("models/{}/predictions", call.upstream_model)),
                json!({"input": input, "stream": wait.is_none()}),
            ),
        };
        let (response, started) = self
            .http
            .send(call, replicate_error, |client| {
                let builder = Self::authorized(client.post(url), call).json(&body);
                match wait {
                    Some(wait) => builder.header("prefer", format!("wait={}", wait.as_secs().max(1))),
                    None => builder,
                }
            })
            .await?;
        let prediction: Prediction = read_json(response, started, call.timeouts).await?;
        Ok((prediction, started))
    }

    /// The prediction at `url`, polled until it is done or the call's time is up.
    async fn finished(
        &self,
        call: &UpstreamCall,
        mut prediction: Prediction,
        started: Instant,
    ) -> Result<Prediction, ProviderError> {
        let deadline = started + call.timeouts.total;
        while !prediction.is_done() {
            let Some(url) = prediction.urls.get.clone() else {
                return Err(ProviderError::Malformed {
                    message: "a prediction that is not done names no URL to poll".to_owned(),
                });
            };
            if Instant::now() + POLL_INTERVAL >= deadline {
                return Err(ProviderError::Timeout {
                    phase: TimeoutPhase::Total,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
            prediction = self.fetch(call, &url).await?;
        }
        Ok(prediction)
    }

    async fn cancel(&self, call: &UpstreamCall, url: String) {
        let cancelled = self
            .http
            .send(call, replicate_error, |client| Self::authorized(client.post(url), call))
            .await;
        if let Err(error) = cancelled {
            tracing::debug!(%error, "cancelling an abandoned replicate prediction failed");
        }
    }

    async fn fetch(&self, call: &UpstreamCall, url: &str) -> Result<Prediction, ProviderError> {
        let (response, started) = self
            .http
            .send(call, replicate_error, |client| Self::authorized(client.get(url), call))
            .await?;
        read_json(response, started, call.timeouts).await
    }
}

#[async_trait]
impl ChatProvider for Replicate {
    async fn complete(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let wait = Duration::from_secs(PREFER_WAIT_SECONDS).min(call.timeouts.first_byte);
        let (prediction, started) = self.create(call, request, Some(wait)).await?;
        let cancel_url = prediction.urls.cancel.clone();
        let prediction = match self.finished(call, prediction, started).await {
            Ok(prediction) => prediction,
            Err(error) => {
                // Given up on: it would run (and bill) on.
                if let Some(url) = cancel_url {
                    self.cancel(call, url).await;
                }
                return Err(error);
            }
        };
        prediction.failure(call)?;
        let max_tokens = max_tokens(request, call);
        let usage = prediction.usage();
        Ok(ChatResponse {
            id: prediction.id.clone(),
            created: chrono::Utc::now().timestamp(),
            choices: vec![Choice {
                index: 0,
                message: AssistantMessage {
                    content: Some(prediction.text()),
                    ..AssistantMessage::default()
                },
                finish_reason: Some(finish(usage, max_tokens)),
                logprobs: None,
            }],
            usage,
            system_fingerprint: None,
        })
    }

    async fn stream(&self, call: &UpstreamCall, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let (prediction, _) = self.create(call, request, None).await?;
        prediction.failure(call)?;
        let Some(stream_url) = prediction.urls.stream.clone() else {
            return Err(unsupported(
                "replicate",
                "a stream for this model (its predictions have no stream URL)",
            ));
        };
        let (response, started) = self
            .http
            .send(call, replicate_error, |client| {
                Self::authorized(client.get(stream_url), call)
                    .header("accept", "text/event-stream")
                    .header("cache-control", "no-store")
            })
            .await?;
        let decoder = OutputDecoder {
            key: call.api_key.clone(),
            id: prediction.id.clone(),
            created: chrono::Utc::now().timestamp(),
            first: true,
        };
        let text = chunks(events(response, started, call.timeouts), decoder);
        let ending = Ending {
            replicate: self.clone(),
            call: call.clone(),
            prediction,
            max_tokens: max_tokens(request, call),
            done: false,
        };
        Ok(with_ending(text, ending))
    }

    async fn embed(
        &self,
        _call: &UpstreamCall,
        _request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, ProviderError> {
        Err(unsupported("replicate", "embeddings"))
    }

    async fn probe(&self, call: &UpstreamCall) -> Result<(), ProviderError> {
        crate::probe::probe(&self.http, call).await
    }
}

fn max_tokens(request: &ChatRequest, call: &UpstreamCall) -> i64 {
    request
        .max_output()
        .or(call.max_output_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS)
}

/// `length` when the answer used every token it was allowed (Replicate does not say why a
/// prediction stopped), `stop` otherwise.
fn finish(usage: Option<Usage>, max_tokens: i64) -> FinishReason {
    match usage {
        Some(usage) if usage.completion_tokens >= max_tokens => FinishReason::Length,
        _ => FinishReason::Stop,
    }
}

/// The chat template of a Llama model, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    Llama2,
    Llama3,
    Llama4,
}

impl Template {
    pub fn of(model: &str) -> Self {
        let model = model.to_ascii_lowercase();
        if model.contains("llama-2") || model.contains("llama2") {
            Self::Llama2
        } else if model.contains("llama-4") || model.contains("llama4") {
            Self::Llama4
        } else {
            Self::Llama3
        }
    }

    /// Stop tokens of the template, for models that take `stop_sequences`.
    fn stops(self) -> &'static [&'static str] {
        match self {
            Self::Llama2 => &[],
            Self::Llama3 => &["<|eot_id|>", "<|end_of_text|>"],
            Self::Llama4 => &["<|eot|>", "<|end_of_text|>"],
        }
    }
}

/// The messages as one prompt in the template (system, user and assistant turns; the answer's
/// turn left open).
pub fn prompt(request: &ChatRequest, template: Template) -> Result<String, ProviderError> {
    let mut turns = Vec::new();
    for message in &request.messages {
        if message.content.has_images() || !message.tool_calls.is_empty() || message.role() == ChatRole::Tool {
            return Err(unsupported(
                "replicate",
                "images or tool calls (its Llama models take text)",
            ));
        }
        let role = match message.role() {
            ChatRole::System | ChatRole::Developer => "system",
            ChatRole::Assistant => "assistant",
            _ => "user",
        };
        turns.push((role, message.content.text().trim().to_owned()));
    }
    Ok(match template {
        Template::Llama3 | Template::Llama4 => {
            let (start, end, eot) = if template == Template::Llama3 {
                ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
            } else {
                ("<|header_start|>", "<|header_end|>", "<|eot|>")
            };
            let mut prompt = String::from("<|begin_of_text|>");
            for (role, text) in turns {
                prompt.push_str(&format!("{start}{role}{end}\n\n{text}{eot}"));
            }
            prompt.push_str(&format!("{start}assistant{end}\n\n"));
            prompt
        }
        Template::Llama2 => {
            // The system text joins the first user turn; each finished exchange is closed.
            let mut prompt = String::new();
            let mut system = String::new();
            let mut open = false;
            for (role, text) in turns {
                match role {
                    "system" => system = text,
                    "user" => {
                        let text = if system.is_empty() {
                            text
                        } else {
                            format!("<<SYS>>\n{}\n<</SYS>>\n\n{text}", std::mem::take(&mut system))
                        };
                        prompt.push_str(&format!("<s>[INST] {text} [/INST]"));
                        open = true;
                    }
                    _ => {
                        prompt.push_str(&format!(" {text} </s>"));
                        open = false;
                    }
                }
            }
            if !open {
                return Err(unsupported(
                    "replicate",
                    "a Llama 2 conversation that does not end with a user turn",
                ));
            }
            prompt
        }
    })
}

/// The prediction's `input`.
pub fn prediction_input(request: &ChatRequest, call: &UpstreamCall) -> Result<Value, ProviderError> {
    if !request.tools.is_empty() {
        return Err(unsupported("replicate", "tools"));
    }
    if request.n.is_some_and(|n| n > 1) {
        return Err(unsupported("replicate", "more than one choice (`n` > 1)"));
    }
    let template = Template::of(&call.upstream_model);
    let mut input = Map::new();
    input.insert("prompt".into(), json!(prompt(request, template)?));
    input.insert("prompt_template".into(), json!("{prompt}"));
    let limit = max_tokens(request, call);
    input.insert("max_tokens".into(), json!(limit));
    if template == Template::Llama2 {
        input.insert("max_new_tokens".into(), json!(limit));
    }
    let optional = [
        ("temperature", request.temperature.map(Value::from)),
        ("top_p", request.top_p.map(Value::from)),
        ("presence_penalty", request.presence_penalty.map(Value::from)),
        ("frequency_penalty", request.frequency_penalty.map(Value::from)),
        ("seed", request.seed.map(Value::from)),
        ("top_k", request.extra.get("top_k").cloned()),
        ("min_tokens", request.extra.get("min_tokens").cloned()),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            input.insert(name.into(), value);
        }
    }
    let mut stops: Vec<&str> = template.stops().to_vec();
    stops.extend(request.stop.iter().map(String::as_str));
    if !stops.is_empty() {
        // Replicate's Llama models take one comma-separated string.
        input.insert("stop_sequences".into(), json!(stops.join(",")));
    }
    log_dropped("replicate", &request.extra, USED_EXTRA);
    Ok(Value::Object(input))
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(default)]
struct Urls {
    get: Option<String>,
    cancel: Option<String>,
    stream: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
#[serde(default)]
struct Metrics {
    input_token_count: Option<i64>,
    output_token_count: Option<i64>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(default)]
struct Prediction {
    id: String,
    status: String,
    output: Value,
    error: Option<Value>,
    urls: Urls,
    metrics: Option<Metrics>,
}

impl Prediction {
    fn is_done(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "failed" | "canceled")
    }

    /// A prediction that failed or was canceled, as an error.
    fn failure(&self, call: &UpstreamCall) -> Result<(), ProviderError> {
        if !matches!(self.status.as_str(), "failed" | "canceled") {
            return Ok(());
        }
        let error = match &self.error {
            Some(Value::String(text)) => text.clone(),
            Some(other) if !other.is_null() => other.to_string(),
            _ => format!("the prediction {}", self.status),
        };
        let key = call.api_key.as_ref().map(ExposeSecret::expose_secret);
        Err(stream_error(
            Some(crate::errors::ErrorSummary {
                message: error,
                ..Default::default()
            }),
            key,
        ))
    }

    /// The output: text pieces to join, or one text.
    fn text(&self) -> String {
        match &self.output {
            Value::Array(pieces) => pieces.iter().filter_map(Value::as_str).collect(),
            Value::String(text) => text.clone(),
            _ => String::new(),
        }
    }

    fn usage(&self) -> Option<Usage> {
        let metrics = self.metrics?;
        Some(Usage {
            prompt_tokens: metrics.input_token_count?,
            completion_tokens: metrics.output_token_count?,
            ..Usage::default()
        })
    }
}

/// The stream's `output` events as content; `done` ends it (the finish reason and the usage
/// follow from the prediction).
struct OutputDecoder {
    key: Option<SecretString>,
    id: String,
    created: i64,
    first: bool,
}

impl Decoder for OutputDecoder {
    fn event(&mut self, event: Event) -> Result<Step, ProviderError> {
        match event.event.as_str() {
            "output" => {
                let delta = Delta {
                    role: std::mem::take(&mut self.first).then_some(ChatRole::Assistant),
                    content: Some(event.data),
                    ..Delta::default()
                };
                Ok(Step::Chunks(vec![ChatChunk {
                    id: self.id.clone(),
                    created: self.created,
                    choices: vec![ChunkChoice {
                        index: 0,
                        delta,
                        finish_reason: None,
                        logprobs: None,
                    }],
                    usage: None,
                }]))
            }
            "done" => {
                let reason = serde_json::from_str::<Value>(&event.data)
                    .ok()
                    .and_then(|data| data.get("reason").and_then(Value::as_str).map(str::to_owned));
                match reason {
                    Some(reason) if !reason.is_empty() => Err(ProviderError::Failed {
                        status: 200,
                        message: format!("the prediction ended: {reason}"),
                    }),
                    _ => Ok(Step::Done(Vec::new())),
                }
            }
            "error" => {
                let body: Value = serde_json::from_str(&event.data).unwrap_or_else(|_| json!({"detail": event.data}));
                let key = self.key.as_ref().map(ExposeSecret::expose_secret);
                Err(stream_error(replicate_error(&body), key))
            }
            _ => Ok(Step::Chunks(Vec::new())),
        }
    }
}

/// What follows the text of a stream: the prediction's metrics (polled until it is done,
/// within the call's time) as the finish chunk's usage; or, when the stream is dropped before
/// that, a cancel of the prediction.
struct Ending {
    replicate: Replicate,
    call: UpstreamCall,
    prediction: Prediction,
    max_tokens: i64,
    done: bool,
}

impl Ending {
    async fn finish_chunk(&mut self) -> ChatChunk {
        self.done = true;
        let started = Instant::now();
        let fetched = match self.prediction.urls.get.clone() {
            Some(url) => match self.replicate.fetch(&self.call, &url).await {
                Ok(prediction) => self.replicate.finished(&self.call, prediction, started).await.ok(),
                Err(_) => None,
            },
            None => None,
        };
        let usage = fetched.as_ref().and_then(Prediction::usage);
        if usage.is_none() {
            tracing::debug!(prediction = %self.prediction.id, "replicate gave no token counts; usage will be estimated");
        }
        ChatChunk {
            id: self.prediction.id.clone(),
            created: chrono::Utc::now().timestamp(),
            choices: vec![ChunkChoice {
                index: 0,
                delta: Delta::default(),
                finish_reason: Some(finish(usage, self.max_tokens)),
                logprobs: None,
            }],
            usage,
        }
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (Some(url), Ok(runtime)) = (
            self.prediction.urls.cancel.clone(),
            tokio::runtime::Handle::try_current(),
        ) else {
            return;
        };
        let replicate = self.replicate.clone();
        let call = self.call.clone();
        runtime.spawn(async move { replicate.cancel(&call, url).await });
    }
}

/// The text chunks, then (when they ended well) the finish chunk.
fn with_ending(text: ChatStream, ending: Ending) -> ChatStream {
    Box::pin(futures_util::stream::unfold(
        (text, Some(ending)),
        |(mut text, mut ending)| async move {
            let live = ending.as_mut()?;
            match text.next().await {
                Some(Ok(chunk)) => Some((Ok(chunk), (text, ending))),
                Some(Err(error)) => {
                    // A prediction that failed upstream has nothing to cancel; one we stopped
                    // reading (a timeout, a broken connection) runs on unless cancelled, which
                    // dropping the ending does.
                    live.done = !matches!(
                        error,
                        ProviderError::Timeout { .. }
                            | ProviderError::Connection { .. }
                            | ProviderError::Malformed { .. }
                    );
                    Some((Err(error), (text, None)))
                }
                None => {
                    let chunk = live.finish_chunk().await;
                    Some((Ok(chunk), (text, None)))
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_domain::gateway::{ChatMessage, MessageContent};

    fn message(role: ChatRole, text: &str) -> ChatMessage {
        ChatMessage {
            role: Some(role),
            content: MessageContent::Text(text.into()),
            ..ChatMessage::default()
        }
    }

    fn conversation() -> ChatRequest {
        ChatRequest {
            messages: vec![
                message(ChatRole::System, "You are helpful."),
                message(ChatRole::User, "Hi"),
                message(ChatRole::Assistant, "Hello!"),
                message(ChatRole::User, "How are you?"),
            ],
            ..ChatRequest::default()
        }
    }

    #[test]
    fn llama_3_prompts_follow_metas_chat_format() {
        let prompt = prompt(&conversation(), Template::of("meta/meta-llama-3-70b-instruct")).expect("a prompt");
        assert_eq!(
            prompt,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    }

    #[test]
    fn llama_2_prompts_fold_the_system_into_the_first_turn() {
        let prompt = prompt(&conversation(), Template::of("meta/llama-2-70b-chat")).expect("a prompt");
        assert_eq!(
            prompt,
            "<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] How are you? [/INST]"
        );
    }

    #[test]
    fn stops_are_one_comma_separated_string_and_tools_are_refused() {
        let call = UpstreamCall {
            protocol: switchyard_domain::catalog::Protocol::Replicate,
            supplier: "replicate".into(),
            base_url: "https://api.replicate.com/v1".into(),
            api_key: None,
            upstream_model: "meta/meta-llama-3-8b-instruct".into(),
            api_version: None,
            max_output_tokens: None,
            request_id: "r".into(),
            timeouts: Default::default(),
            guarded: false,
        };
        let request = ChatRequest {
            stop: vec!["END".into()],
            max_tokens: Some(64),
            ..conversation()
        };
        let input = prediction_input(&request, &call).expect("an input");
        assert_eq!(input["stop_sequences"], "<|eot_id|>,<|end_of_text|>,END");
        assert_eq!(input["max_tokens"], 64);
        assert_eq!(input["prompt_template"], "{prompt}");
        let with_tools = ChatRequest {
            tools: vec![switchyard_domain::gateway::Tool {
                name: "t".into(),
                description: None,
                parameters: json!({}),
                strict: None,
            }],
            ..conversation()
        };
        assert!(matches!(
            prediction_input(&with_tools, &call),
            Err(ProviderError::Unsupported { .. })
        ));
    }

    #[test]
    fn the_finish_is_length_when_every_allowed_token_was_used() {
        let usage = Usage {
            completion_tokens: 64,
            ..Usage::default()
        };
        assert_eq!(finish(Some(usage), 64), FinishReason::Length);
        assert_eq!(finish(Some(usage), 65), FinishReason::Stop);
        assert_eq!(finish(None, 1), FinishReason::Stop);
    }
}
