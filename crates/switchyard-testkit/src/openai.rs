//! The OpenAI protocol and Azure OpenAI's variant of it: chat completions (whole, or streamed as
//! `chat.completion.chunk` events ending with `[DONE]`, the usage only when the request asks for
//! it) and embeddings (floats, or base64 when asked). Azure adds its content-filter annotations
//! to answers, and opens a stream with a chunk of prompt-filter results and no choices, as the
//! real service does.

use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::Protocol;
use crate::errors;
use crate::exchange::{Opening, begin, parse, query};
use crate::scenario::{FakeFinish, FakeUsage, Scenario, Split, count, embedding, now};
use crate::sse::{self, Events, Frame};
use crate::state::Shared;

/// The most choices (`n`) answered.
const MAX_CHOICES: u64 = 16;

/// OpenAI itself, or Azure's deployment of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    OpenAi,
    Azure,
}

impl Flavor {
    fn protocol(self) -> Protocol {
        match self {
            Self::OpenAi => Protocol::OpenAi,
            Self::Azure => Protocol::AzureOpenAi,
        }
    }

    /// The model an answer names: the request's, or Azure's deployment (Azure ignores the body's).
    fn model(self, request: &HttpRequest, body: &Value) -> String {
        match self {
            Self::OpenAi => body["model"].as_str().unwrap_or_default().to_owned(),
            Self::Azure => request.match_info().get("deployment").unwrap_or_default().to_owned(),
        }
    }

    /// Azure answers a request without `api-version` as a resource it does not know.
    fn refusal(self, request: &HttpRequest) -> Option<HttpResponse> {
        let missing = self == Self::Azure && query(request, "api-version").is_none();
        missing.then(|| errors::json(404, &json!({"error": {"code": "404", "message": "Resource not found"}})))
    }
}

/// `POST /openai/v1/chat/completions`.
pub(crate) async fn chat(request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    answer_chat(Flavor::OpenAi, request, body, shared).await
}

/// `POST /azure/openai/deployments/{deployment}/chat/completions`.
pub(crate) async fn azure_chat(request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    answer_chat(Flavor::Azure, request, body, shared).await
}

/// `POST /openai/v1/embeddings`.
pub(crate) async fn embeddings(request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    answer_embeddings(Flavor::OpenAi, request, body, shared).await
}

/// `POST /azure/openai/deployments/{deployment}/embeddings`.
pub(crate) async fn azure_embeddings(request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    answer_embeddings(Flavor::Azure, request, body, shared).await
}

async fn answer_chat(flavor: Flavor, request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    let body = parse(&body);
    let stream = body["stream"] == true;
    let scenario = match begin(&shared, Opening::new(flavor.protocol(), stream), &request, &body).await {
        Ok(scenario) => scenario,
        Err(response) => return response,
    };
    if let Some(refusal) = flavor.refusal(&request) {
        return refusal;
    }
    let choices: usize = body["n"]
        .as_u64()
        .map_or(1, |n| n.clamp(1, MAX_CHOICES))
        .try_into()
        .unwrap_or(1);
    let answer = Answer {
        flavor,
        model: flavor.model(&request, &body),
        id: format!("chatcmpl-fake-{}", shared.next_answer()),
        created: now(),
        choices,
        scenario,
    };
    if stream {
        let include_usage = body["stream_options"]["include_usage"] == true;
        let pacing = sse::Pacing::of(&answer.scenario);
        sse::respond(ChunkEvents::new(answer, include_usage), pacing, shared.into_inner())
    } else {
        errors::json(200, &answer.whole())
    }
}

/// What one chat answer says, whole or in chunks.
struct Answer {
    flavor: Flavor,
    model: String,
    id: String,
    created: i64,
    choices: usize,
    scenario: Scenario,
}

impl Answer {
    fn finish_reason(&self) -> &'static str {
        if !self.scenario.tool_calls.is_empty() {
            return "tool_calls";
        }
        match self.scenario.finish {
            FakeFinish::Stop => "stop",
            FakeFinish::Length => "length",
            FakeFinish::ContentFilter => "content_filter",
        }
    }

    fn message(&self) -> Value {
        let scenario = &self.scenario;
        let mut message = Map::new();
        message.insert("role".into(), json!("assistant"));
        let only_tools = scenario.text.is_empty() && !scenario.tool_calls.is_empty();
        message.insert(
            "content".into(),
            if only_tools { Value::Null } else { json!(scenario.text) },
        );
        if let Some(reasoning) = scenario.reasoning_text() {
            message.insert("reasoning_content".into(), json!(reasoning));
        }
        if !scenario.tool_calls.is_empty() {
            let calls: Vec<Value> = scenario
                .tool_calls
                .iter()
                .map(|call| {
                    json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}})
                })
                .collect();
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        message.insert("refusal".into(), Value::Null);
        Value::Object(message)
    }

    /// The non-streamed answer.
    fn whole(&self) -> Value {
        let message = self.message();
        let finish = self.finish_reason();
        let choices: Vec<Value> = (0..self.choices)
            .map(|index| {
                let mut choice = json!({"index": index, "message": message, "logprobs": null, "finish_reason": finish});
                if self.flavor == Flavor::Azure {
                    choice["content_filter_results"] = filter_results(finish == "content_filter");
                }
                choice
            })
            .collect();
        let mut answer = json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": usage(&self.scenario.usage),
            "system_fingerprint": "fp_fake",
        });
        if self.flavor == Flavor::Azure {
            answer["prompt_filter_results"] = prompt_filter_results();
        }
        answer
    }
}

fn usage(usage: &FakeUsage) -> Value {
    json!({
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": usage.prompt + usage.completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    })
}

/// Azure's per-choice annotations: every category safe, or sexual content filtered.
fn filter_results(filtered: bool) -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    let sexual = if filtered {
        json!({"filtered": true, "severity": "high"})
    } else {
        safe.clone()
    };
    json!({"hate": safe, "self_harm": safe, "sexual": sexual, "violence": safe})
}

fn prompt_filter_results() -> Value {
    json!([{"prompt_index": 0, "content_filter_results": filter_results(false)}])
}

/// One event of a chat stream (`usize`s index pieces and tool calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Azure's opening chunk of prompt-filter results.
    Filter,
    Role,
    Reasoning(usize),
    Text(usize),
    ToolStart(usize),
    ToolArguments(usize, usize),
    Finish,
    Usage,
    Done,
}

/// A chat answer as `chat.completion.chunk` events, made one at a time.
struct ChunkEvents {
    answer: Answer,
    include_usage: bool,
    reasoning: Split,
    text: Split,
    arguments: Vec<Split>,
    /// The events still to send, each with its choice's index.
    steps: Box<dyn Iterator<Item = (usize, Step)>>,
    content_total: usize,
}

impl ChunkEvents {
    fn new(answer: Answer, include_usage: bool) -> Self {
        let scenario = &answer.scenario;
        let reasoning = Split::new(scenario.reasoning_text().unwrap_or_default(), scenario.chunks);
        let text = Split::new(&scenario.text, scenario.chunks);
        let arguments: Vec<Split> = scenario
            .tool_calls
            .iter()
            .map(|call| Split::new(&call.arguments, 2))
            .collect();
        let pieces: Vec<usize> = arguments.iter().map(Split::len).collect();
        let per_choice = reasoning.len() + text.len() + pieces.iter().map(|pieces| 1 + pieces).sum::<usize>();
        let separate_usage = include_usage && !scenario.usage_with_last_choice;
        let steps = steps(
            answer.choices,
            (reasoning.len(), text.len(), pieces),
            answer.flavor == Flavor::Azure,
            separate_usage,
        );
        Self {
            content_total: per_choice * answer.choices,
            answer,
            include_usage,
            reasoning,
            text,
            arguments,
            steps,
        }
    }

    fn chunk(&self, choice: usize, delta: Value, finish: Option<&str>, annotated: bool) -> Value {
        let mut entry = json!({"index": choice, "delta": delta, "logprobs": null, "finish_reason": finish});
        if self.answer.flavor == Flavor::Azure {
            entry["content_filter_results"] = if annotated { filter_results(false) } else { json!({}) };
        }
        self.envelope(vec![entry])
    }

    fn envelope(&self, choices: Vec<Value>) -> Value {
        json!({
            "id": self.answer.id,
            "object": "chat.completion.chunk",
            "created": self.answer.created,
            "model": self.answer.model,
            "system_fingerprint": "fp_fake",
            "choices": choices,
        })
    }

    fn render(&self, choice: usize, step: Step) -> Frame {
        let scenario = &self.answer.scenario;
        match step {
            Step::Filter => Frame::data(&json!({
                "choices": [], "created": 0, "id": "", "model": "", "object": "",
                "prompt_filter_results": prompt_filter_results(),
            })),
            Step::Role => Frame::data(&self.chunk(choice, json!({"role": "assistant", "content": ""}), None, false)),
            Step::Reasoning(piece) => {
                let text = self.reasoning.get(scenario.reasoning_text().unwrap_or_default(), piece);
                Frame::data(&self.chunk(choice, json!({"reasoning_content": text}), None, true)).content()
            }
            Step::Text(piece) => {
                let text = self.text.get(&scenario.text, piece);
                Frame::data(&self.chunk(choice, json!({"content": text}), None, true)).content()
            }
            Step::ToolStart(call) => {
                let (id, name) = scenario
                    .tool_calls
                    .get(call)
                    .map(|tool| (tool.id.as_str(), tool.name.as_str()))
                    .unwrap_or_default();
                let delta = json!({"tool_calls": [{
                    "index": call, "id": id, "type": "function", "function": {"name": name, "arguments": ""},
                }]});
                Frame::data(&self.chunk(choice, delta, None, true)).content()
            }
            Step::ToolArguments(call, piece) => {
                let arguments = match (scenario.tool_calls.get(call), self.arguments.get(call)) {
                    (Some(tool), Some(split)) => split.get(&tool.arguments, piece),
                    _ => "",
                };
                let delta = json!({"tool_calls": [{"index": call, "function": {"arguments": arguments}}]});
                Frame::data(&self.chunk(choice, delta, None, true)).content()
            }
            Step::Finish => {
                let mut chunk = self.chunk(choice, json!({}), Some(self.answer.finish_reason()), false);
                let last = choice + 1 == self.answer.choices;
                if self.include_usage && scenario.usage_with_last_choice && last {
                    chunk["usage"] = usage(&scenario.usage);
                }
                Frame::data(&chunk)
            }
            Step::Usage => {
                let mut chunk = self.envelope(Vec::new());
                chunk["usage"] = usage(&scenario.usage);
                Frame::data(&chunk)
            }
            Step::Done => Frame::raw("data: [DONE]\n\n".to_owned()),
        }
    }
}

/// The events of a stream in order: per step of one choice, that step for every choice (as
/// OpenAI interleaves them), framed by Azure's filter chunk, the usage chunk and `[DONE]`.
fn steps(
    choices: usize,
    (reasoning, text, arguments): (usize, usize, Vec<usize>),
    azure: bool,
    separate_usage: bool,
) -> Box<dyn Iterator<Item = (usize, Step)>> {
    let tools = arguments.into_iter().enumerate().flat_map(|(call, pieces)| {
        std::iter::once(Step::ToolStart(call)).chain((0..pieces).map(move |piece| Step::ToolArguments(call, piece)))
    });
    let per_choice = std::iter::once(Step::Role)
        .chain((0..reasoning).map(Step::Reasoning))
        .chain((0..text).map(Step::Text))
        .chain(tools)
        .chain(std::iter::once(Step::Finish));
    let interleaved = per_choice.flat_map(move |step| (0..choices).map(move |choice| (choice, step)));
    Box::new(
        azure
            .then_some((0, Step::Filter))
            .into_iter()
            .chain(interleaved)
            .chain(separate_usage.then_some((0, Step::Usage)))
            .chain(std::iter::once((0, Step::Done))),
    )
}

impl Events for ChunkEvents {
    fn next_frame(&mut self) -> Option<Frame> {
        let (choice, step) = self.steps.next()?;
        Some(self.render(choice, step))
    }

    fn content_total(&self) -> usize {
        self.content_total
    }

    fn error_frame(&self) -> Frame {
        Frame::data(&json!({"error": {"type": "server_error", "message": "mid-stream failure"}}))
    }
}

/// How many texts an embedding request's `input` holds: one string, an array of strings, or
/// token arrays (one array of numbers is a single input).
fn input_count(input: &Value) -> usize {
    match input {
        Value::String(_) => 1,
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_number) => 1,
        Value::Array(items) => items.len(),
        _ => 0,
    }
}

async fn answer_embeddings(flavor: Flavor, request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    let body = parse(&body);
    let scenario = match begin(&shared, Opening::new(flavor.protocol(), false), &request, &body).await {
        Ok(scenario) => scenario,
        Err(response) => return response,
    };
    if let Some(refusal) = flavor.refusal(&request) {
        return refusal;
    }
    let dimensions = body["dimensions"]
        .as_u64()
        .and_then(|dimensions| usize::try_from(dimensions).ok())
        .unwrap_or(scenario.embedding_dimensions);
    let base64 = body["encoding_format"] == "base64";
    let data: Vec<Value> = (0..input_count(&body["input"]))
        .map(|index| {
            let vector = embedding(index, dimensions);
            let encoded = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|value| value.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": count(index), "embedding": encoded})
        })
        .collect();
    let prompt = scenario.usage.prompt;
    errors::json(
        200,
        &json!({
            "object": "list",
            "data": data,
            "model": flavor.model(&request, &body),
            "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
        }),
    )
}
