//! Metering a call: the supplier's usage when it reports it, else an estimate from the
//! tokenizer (marked as such), and its cost at the route's prices.

use crate::catalog::model::Pricing;
use crate::gateway::call_log::CallLogEntry;
use crate::gateway::chat::{ChatMessage, ChatRequest, ChatResponse, Delta};
use crate::gateway::ports::Tokenizer;
use crate::gateway::usage::{Usage, cost_nanos};
use crate::kernel::rate::RateHeaders;
use crate::usage::governor::Permit;

/// Tokens each message adds around its text (role and separators), as OpenAI counts them.
const TOKENS_PER_MESSAGE: i64 = 4;
/// Tokens that prime the answer.
pub const TOKENS_PER_REPLY: i64 = 3;

/// The tokens one message of a prompt takes, estimated: its text, name and tool calls, and the
/// framing every message has.
pub fn estimate_message(tokenizer: &dyn Tokenizer, message: &ChatMessage) -> i64 {
    let calls: i64 = message
        .tool_calls
        .iter()
        .map(|call| tokenizer.count(&call.name) + tokenizer.count(&call.arguments))
        .sum();
    TOKENS_PER_MESSAGE
        + tokenizer.count(&message.content.text())
        + message.name.as_deref().map_or(0, |name| tokenizer.count(name))
        + calls
}

/// The prompt's tokens, estimated: every message's text, name and tool calls, and the tools.
pub fn estimate_prompt(tokenizer: &dyn Tokenizer, request: &ChatRequest) -> i64 {
    let messages: i64 = request
        .messages
        .iter()
        .map(|message| estimate_message(tokenizer, message))
        .sum();
    let tools: i64 = request
        .tools
        .iter()
        .map(|tool| {
            tokenizer.count(&tool.name)
                + tool.description.as_deref().map_or(0, |text| tokenizer.count(text))
                + tokenizer.count(&tool.parameters.to_string())
        })
        .sum();
    messages + tools + TOKENS_PER_REPLY
}

/// The answer's tokens, estimated.
pub fn estimate_response(tokenizer: &dyn Tokenizer, prompt_tokens: i64, response: &ChatResponse) -> Usage {
    let completion = response
        .choices
        .iter()
        .map(|choice| {
            let message = &choice.message;
            let text = |text: &Option<String>| text.as_deref().map_or(0, |text| tokenizer.count(text));
            let calls: i64 = message
                .tool_calls
                .iter()
                .map(|call| tokenizer.count(&call.name) + tokenizer.count(&call.arguments))
                .sum();
            text(&message.content) + text(&message.reasoning_content) + calls
        })
        .sum();
    Usage {
        prompt_tokens,
        completion_tokens: completion,
        estimated: true,
        ..Usage::default()
    }
}

/// Appends the text a streamed delta adds (its content, reasoning and tool calls) to `text`:
/// counted when the supplier reports no usage, never token by token as it streams.
pub fn delta_text(delta: &Delta, text: &mut String) {
    for part in [&delta.content, &delta.reasoning_content] {
        text.push_str(part.as_deref().unwrap_or_default());
    }
    for call in &delta.tool_calls {
        text.push_str(call.name.as_deref().unwrap_or_default());
        text.push_str(call.arguments.as_deref().unwrap_or_default());
    }
}

/// A call's usage and cost at the route's prices.
#[derive(Debug, Clone)]
pub struct Meter {
    pricing: Pricing,
    usage: Usage,
}

impl Meter {
    pub fn new(pricing: &Pricing) -> Self {
        Self {
            pricing: pricing.clone(),
            usage: Usage::default(),
        }
    }

    pub fn settle(&mut self, usage: Usage) {
        self.usage = usage;
    }

    /// Puts the usage and its cost into the log entry.
    pub fn write_into(&self, entry: &mut CallLogEntry) {
        entry.usage = self.usage;
        entry.cost_nanos = cost_nanos(&self.usage, &self.pricing);
        entry.currency = Some(self.pricing.currency.clone());
    }
}

/// Settles a call's permit with what its entry says it used (a call on the caller's own key
/// costs the platform's budgets nothing); the headers as the check left them.
pub(crate) fn settle(permit: Permit, entry: &CallLogEntry) -> RateHeaders {
    let headers = permit.headers();
    let tokens = entry.usage.prompt_tokens.saturating_add(entry.usage.completion_tokens);
    permit.settle(
        u64::try_from(tokens).unwrap_or(0),
        if entry.byok { 0 } else { entry.cost_nanos },
        entry.currency.as_deref(),
    );
    headers
}
