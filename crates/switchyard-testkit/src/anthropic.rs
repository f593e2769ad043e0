//! Anthropic's Messages API: a whole message with `thinking`, `text` and `tool_use` blocks, or
//! the typed stream (`message_start`, `ping`, one start/deltas/stop run per block,
//! `message_delta` with the cumulative output tokens, `message_stop`; no `[DONE]`). Usage
//! counts the cache apart from `input_tokens`, as the real API does. The `anthropic-version`
//! header is required.

use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::Protocol;
use crate::errors;
use crate::exchange::{Opening, begin, parse};
use crate::scenario::{FakeFinish, FakeUsage, Scenario, Split};
use crate::sse::{self, Events, Frame};
use crate::state::Shared;

/// `POST /anthropic/v1/messages`.
pub(crate) async fn messages(request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    let body = parse(&body);
    let stream = body["stream"] == true;
    let scenario = match begin(&shared, Opening::new(Protocol::Anthropic, stream), &request, &body).await {
        Ok(scenario) => scenario,
        Err(response) => return response,
    };
    if !request.headers().contains_key("anthropic-version") {
        return errors::bad_request(Protocol::Anthropic, "anthropic-version: header is required");
    }
    let message = Message {
        id: format!("msg_fake_{}", shared.next_answer()),
        model: body["model"].as_str().unwrap_or_default().to_owned(),
        scenario,
    };
    if stream {
        let pacing = sse::Pacing::of(&message.scenario);
        sse::respond(MessageEvents::new(message), pacing, shared.into_inner())
    } else {
        errors::json(200, &message.whole())
    }
}

/// What one answer says, whole or as events.
struct Message {
    id: String,
    model: String,
    scenario: Scenario,
}

impl Message {
    fn stop_reason(&self) -> &'static str {
        if !self.scenario.tool_calls.is_empty() {
            return "tool_use";
        }
        match self.scenario.finish {
            FakeFinish::Stop => "end_turn",
            FakeFinish::Length => "max_tokens",
            FakeFinish::ContentFilter => "refusal",
        }
    }

    fn whole(&self) -> Value {
        let scenario = &self.scenario;
        let mut content = Vec::new();
        if let Some(reasoning) = scenario.reasoning_text() {
            content.push(json!({"type": "thinking", "thinking": reasoning, "signature": "sig"}));
        }
        if !scenario.text.is_empty() {
            content.push(json!({"type": "text", "text": scenario.text}));
        }
        for call in &scenario.tool_calls {
            content
                .push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments_value()}));
        }
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": self.stop_reason(),
            "stop_sequence": null,
            "usage": usage(&scenario.usage, scenario.usage.completion),
        })
    }
}

/// Anthropic's usage: `input_tokens` leaves out the cache reads and writes.
fn usage(usage: &FakeUsage, output_tokens: i64) -> Value {
    json!({
        "input_tokens": (usage.prompt - usage.cached - usage.cache_write).max(0),
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cached,
        "output_tokens": output_tokens,
    })
}

/// A content block of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Thinking,
    Text,
    Tool(usize),
}

/// One event of the stream (`usize`s index pieces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Start,
    Ping,
    Open(Block),
    Piece(Block, usize),
    Signature,
    /// The empty `input_json_delta` the API sends first in a `tool_use` block.
    EmptyJson(usize),
    Close(Block),
    Delta,
    Stop,
}

/// The answer as Anthropic's typed events, made one at a time.
struct MessageEvents {
    message: Message,
    reasoning: Split,
    text: Split,
    arguments: Vec<Split>,
    steps: Box<dyn Iterator<Item = Step>>,
    content_total: usize,
}

impl MessageEvents {
    fn new(message: Message) -> Self {
        let scenario = &message.scenario;
        let reasoning = Split::new(scenario.reasoning_text().unwrap_or_default(), scenario.chunks);
        let text = Split::new(&scenario.text, scenario.chunks);
        let arguments: Vec<Split> = scenario
            .tool_calls
            .iter()
            .map(|call| Split::new(&call.arguments, 2))
            .collect();
        let pieces: Vec<usize> = arguments.iter().map(Split::len).collect();
        let content_total = reasoning.len() + text.len() + pieces.iter().map(|pieces| 1 + pieces).sum::<usize>();
        let steps = steps(scenario.reasoning_text().is_some(), reasoning.len(), text.len(), pieces);
        Self {
            message,
            reasoning,
            text,
            arguments,
            steps,
            content_total,
        }
    }

    /// The block's index: thinking first, then text, then the tool calls.
    fn index(&self, block: Block) -> usize {
        let thinking = usize::from(self.message.scenario.reasoning_text().is_some());
        let text = usize::from(!self.message.scenario.text.is_empty());
        match block {
            Block::Thinking => 0,
            Block::Text => thinking,
            Block::Tool(call) => thinking + text + call,
        }
    }

    fn delta(&self, block: Block, delta: Value) -> Frame {
        Frame::event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": self.index(block), "delta": delta}),
        )
    }

    fn render(&self, step: Step) -> Frame {
        let scenario = &self.message.scenario;
        match step {
            Step::Start => Frame::event(
                "message_start",
                &json!({"type": "message_start", "message": {
                    "id": self.message.id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.message.model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": usage(&scenario.usage, 1),
                }}),
            ),
            Step::Ping => Frame::event("ping", &json!({"type": "ping"})),
            Step::Open(block) => {
                let opened = match block {
                    Block::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
                    Block::Text => json!({"type": "text", "text": ""}),
                    Block::Tool(call) => {
                        let (id, name) = scenario
                            .tool_calls
                            .get(call)
                            .map(|tool| (tool.id.as_str(), tool.name.as_str()))
                            .unwrap_or_default();
                        json!({"type": "tool_use", "id": id, "name": name, "input": {}})
                    }
                };
                let frame = Frame::event(
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": self.index(block), "content_block": opened}),
                );
                if matches!(block, Block::Tool(_)) {
                    frame.content()
                } else {
                    frame
                }
            }
            Step::Piece(block, piece) => {
                let delta = match block {
                    Block::Thinking => {
                        let text = self.reasoning.get(scenario.reasoning_text().unwrap_or_default(), piece);
                        json!({"type": "thinking_delta", "thinking": text})
                    }
                    Block::Text => json!({"type": "text_delta", "text": self.text.get(&scenario.text, piece)}),
                    Block::Tool(call) => {
                        let partial = match (scenario.tool_calls.get(call), self.arguments.get(call)) {
                            (Some(tool), Some(split)) => split.get(&tool.arguments, piece),
                            _ => "",
                        };
                        json!({"type": "input_json_delta", "partial_json": partial})
                    }
                };
                self.delta(block, delta).content()
            }
            Step::Signature => self.delta(Block::Thinking, json!({"type": "signature_delta", "signature": "sig"})),
            Step::EmptyJson(call) => self.delta(
                Block::Tool(call),
                json!({"type": "input_json_delta", "partial_json": ""}),
            ),
            Step::Close(block) => Frame::event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": self.index(block)}),
            ),
            Step::Delta => Frame::event(
                "message_delta",
                &json!({
                    "type": "message_delta",
                    "delta": {"stop_reason": self.message.stop_reason(), "stop_sequence": null},
                    "usage": {"output_tokens": scenario.usage.completion},
                }),
            ),
            Step::Stop => Frame::event("message_stop", &json!({"type": "message_stop"})),
        }
    }
}

/// The events in order: start, ping, the thinking block, the text block, a block per tool
/// call, the message delta, stop.
fn steps(thinking: bool, reasoning: usize, text: usize, arguments: Vec<usize>) -> Box<dyn Iterator<Item = Step>> {
    let thinking = thinking
        .then(|| {
            std::iter::once(Step::Open(Block::Thinking))
                .chain((0..reasoning).map(|piece| Step::Piece(Block::Thinking, piece)))
                .chain([Step::Signature, Step::Close(Block::Thinking)])
        })
        .into_iter()
        .flatten();
    let text = (text > 0)
        .then(|| {
            std::iter::once(Step::Open(Block::Text))
                .chain((0..text).map(|piece| Step::Piece(Block::Text, piece)))
                .chain(std::iter::once(Step::Close(Block::Text)))
        })
        .into_iter()
        .flatten();
    let tools = arguments.into_iter().enumerate().flat_map(|(call, pieces)| {
        [Step::Open(Block::Tool(call)), Step::EmptyJson(call)]
            .into_iter()
            .chain((0..pieces).map(move |piece| Step::Piece(Block::Tool(call), piece)))
            .chain(std::iter::once(Step::Close(Block::Tool(call))))
    });
    Box::new(
        [Step::Start, Step::Ping]
            .into_iter()
            .chain(thinking)
            .chain(text)
            .chain(tools)
            .chain([Step::Delta, Step::Stop]),
    )
}

impl Events for MessageEvents {
    fn next_frame(&mut self) -> Option<Frame> {
        let step = self.steps.next()?;
        Some(self.render(step))
    }

    fn content_total(&self) -> usize {
        self.content_total
    }

    fn error_frame(&self) -> Frame {
        Frame::event(
            "error",
            &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        )
    }
}
