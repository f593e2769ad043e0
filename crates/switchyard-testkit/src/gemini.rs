//! Google's Gemini API: `{model}:generateContent` (candidates of `thought`, text and
//! `functionCall` parts), `{model}:streamGenerateContent?alt=sse` (one whole response per piece,
//! each with the usage so far; the last carries the final figures and the finish reason; the
//! body just ends), and `batchEmbedContents` / `embedContent`. Thoughts are counted apart from
//! the candidates, and a turn that calls tools finishes with `STOP`, as the real API does.

use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::Protocol;
use crate::errors;
use crate::exchange::{Opening, begin, parse};
use crate::scenario::{FakeFinish, Scenario, Split, count, embedding};
use crate::sse::{self, Events, Frame};
use crate::state::Shared;

/// The most candidates (`candidateCount`) answered.
const MAX_CANDIDATES: u64 = 8;

/// `POST /gemini/v1beta/models/{model}:{operation}`.
pub(crate) async fn models(request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    let body = parse(&body);
    let call = request.match_info().get("call").unwrap_or_default();
    let (model, operation) = call.rsplit_once(':').unwrap_or((call, ""));
    let (model, operation) = (model.to_owned(), operation.to_owned());
    let stream = operation == "streamGenerateContent";
    let scenario = match begin(&shared, Opening::new(Protocol::Gemini, stream), &request, &body).await {
        Ok(scenario) => scenario,
        Err(response) => return response,
    };
    match operation.as_str() {
        "generateContent" | "streamGenerateContent" => {
            let candidates: usize = body["generationConfig"]["candidateCount"]
                .as_u64()
                .map_or(1, |count| count.clamp(1, MAX_CANDIDATES))
                .try_into()
                .unwrap_or(1);
            let answer = Answer {
                model,
                id: format!("resp-fake-{}", shared.next_answer()),
                candidates,
                scenario,
            };
            if stream {
                let pacing = sse::Pacing::of(&answer.scenario);
                sse::respond(ResponseEvents::new(answer), pacing, shared.into_inner())
            } else {
                errors::json(200, &answer.whole())
            }
        }
        "batchEmbedContents" => errors::json(200, &batch_embeddings(&body, &scenario)),
        "embedContent" => {
            let dimensions = dimensions(&body, &scenario);
            errors::json(200, &json!({"embedding": {"values": embedding(0, dimensions)}}))
        }
        _ => errors::not_found(
            Protocol::Gemini,
            &format!("models/{model} does not support the operation `{operation}`"),
        ),
    }
}

/// `outputDimensionality` of one embedding request, or the scenario's.
fn dimensions(request: &Value, scenario: &Scenario) -> usize {
    request["outputDimensionality"]
        .as_u64()
        .and_then(|dimensions| usize::try_from(dimensions).ok())
        .unwrap_or(scenario.embedding_dimensions)
}

fn batch_embeddings(body: &Value, scenario: &Scenario) -> Value {
    let requests = body["requests"].as_array().map(Vec::as_slice).unwrap_or_default();
    let embeddings: Vec<Value> = requests
        .iter()
        .enumerate()
        .map(|(index, request)| json!({"values": embedding(index, dimensions(request, scenario))}))
        .collect();
    json!({"embeddings": embeddings, "usageMetadata": {"promptTokenCount": scenario.usage.prompt}})
}

/// What one answer says, whole or as a stream of partial responses.
struct Answer {
    model: String,
    id: String,
    candidates: usize,
    scenario: Scenario,
}

impl Answer {
    fn finish_reason(&self) -> &'static str {
        match self.scenario.finish {
            FakeFinish::Stop => "STOP",
            FakeFinish::Length => "MAX_TOKENS",
            FakeFinish::ContentFilter => "SAFETY",
        }
    }

    /// Every function call as a part, with the thought signature Gemini 3 attaches.
    fn call_parts(&self) -> Vec<Value> {
        self.scenario
            .tool_calls
            .iter()
            .map(|call| {
                let mut function = json!({"name": call.name, "args": call.arguments_value()});
                if !call.id.is_empty() {
                    function["id"] = json!(call.id);
                }
                json!({"functionCall": function, "thoughtSignature": format!("sig-{}", call.id)})
            })
            .collect()
    }

    /// A response with these parts for every candidate; `finish` on the last one only.
    fn response(&self, parts: &[Value], finish: bool, usage: Value) -> Value {
        let candidates: Vec<Value> = (0..self.candidates)
            .map(|index| {
                let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": index});
                if finish {
                    candidate["finishReason"] = json!(self.finish_reason());
                }
                candidate
            })
            .collect();
        json!({
            "candidates": candidates,
            "usageMetadata": usage,
            "modelVersion": self.model,
            "responseId": self.id,
        })
    }

    /// Usage with `thoughts` and `candidates` tokens so far.
    fn usage(&self, candidates: i64, thoughts: i64) -> Value {
        let usage = &self.scenario.usage;
        json!({
            "promptTokenCount": usage.prompt,
            "cachedContentTokenCount": usage.cached,
            "candidatesTokenCount": candidates,
            "thoughtsTokenCount": thoughts,
            "totalTokenCount": usage.prompt + candidates + thoughts,
        })
    }

    fn final_usage(&self) -> Value {
        let usage = &self.scenario.usage;
        self.usage(usage.completion - usage.reasoning, usage.reasoning)
    }

    fn whole(&self) -> Value {
        let scenario = &self.scenario;
        let mut parts = Vec::new();
        if let Some(reasoning) = scenario.reasoning_text() {
            parts.push(json!({"text": reasoning, "thought": true}));
        }
        if !scenario.text.is_empty() {
            parts.push(json!({"text": scenario.text}));
        }
        parts.extend(self.call_parts());
        self.response(&parts, true, self.final_usage())
    }
}

/// One response of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Thought(usize),
    Text(usize),
    Calls,
    Last,
}

/// The answer as partial responses, made one at a time.
struct ResponseEvents {
    answer: Answer,
    reasoning: Split,
    text: Split,
    steps: Box<dyn Iterator<Item = Step>>,
}

impl ResponseEvents {
    fn new(answer: Answer) -> Self {
        let scenario = &answer.scenario;
        let reasoning = Split::new(scenario.reasoning_text().unwrap_or_default(), scenario.chunks);
        let text = Split::new(&scenario.text, scenario.chunks);
        let calls = !scenario.tool_calls.is_empty();
        let steps = Box::new(
            (0..reasoning.len())
                .map(Step::Thought)
                .chain((0..text.len()).map(Step::Text))
                .chain(calls.then_some(Step::Calls))
                .chain(std::iter::once(Step::Last)),
        );
        Self {
            answer,
            reasoning,
            text,
            steps,
        }
    }

    /// Output pieces: the text's, and one for the calls.
    fn outputs(&self) -> usize {
        self.text.len() + usize::from(!self.answer.scenario.tool_calls.is_empty())
    }

    /// The usage after `thoughts` thought pieces and `outputs` output pieces: each count grows
    /// in proportion, reaching the final figure with its last piece.
    fn usage_so_far(&self, thoughts: usize, outputs: usize) -> Value {
        let usage = &self.answer.scenario.usage;
        self.answer.usage(
            share(usage.completion - usage.reasoning, outputs, self.outputs()),
            share(usage.reasoning, thoughts, self.reasoning.len()),
        )
    }

    fn render(&self, step: Step) -> Frame {
        let scenario = &self.answer.scenario;
        let response = match step {
            Step::Thought(piece) => {
                let text = self.reasoning.get(scenario.reasoning_text().unwrap_or_default(), piece);
                let usage = self.usage_so_far(piece + 1, 0);
                self.answer
                    .response(&[json!({"text": text, "thought": true})], false, usage)
            }
            Step::Text(piece) => {
                let usage = self.usage_so_far(self.reasoning.len(), piece + 1);
                let text = self.text.get(&scenario.text, piece);
                self.answer.response(&[json!({"text": text})], false, usage)
            }
            Step::Calls => {
                let usage = self.usage_so_far(self.reasoning.len(), self.outputs());
                self.answer.response(&self.answer.call_parts(), false, usage)
            }
            Step::Last => {
                let response = self
                    .answer
                    .response(&[json!({"text": ""})], true, self.answer.final_usage());
                return Frame::data(&response);
            }
        };
        Frame::data(&response).content()
    }
}

/// `done` of `of` parts of `total`, rounded down; the whole once every part is done.
fn share(total: i64, done: usize, of: usize) -> i64 {
    if of == 0 || done >= of {
        return total;
    }
    total.saturating_mul(count(done)) / count(of)
}

impl Events for ResponseEvents {
    fn next_frame(&mut self) -> Option<Frame> {
        let step = self.steps.next()?;
        Some(self.render(step))
    }

    fn content_total(&self) -> usize {
        self.reasoning.len() + self.outputs()
    }

    fn error_frame(&self) -> Frame {
        Frame::data(&json!({"error": {"code": 503, "status": "UNAVAILABLE", "message": "mid-stream failure"}}))
    }
}
