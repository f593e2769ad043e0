//! What the fake upstream answers: the scenario a test scripts (the text and how it is cut into
//! stream pieces, reasoning, tool calls, usage, pacing, failures), and the pure helpers every
//! protocol shares to turn it into wire values.

use std::time::Duration;

/// The answer the fake upstream gives, in terms every protocol can express; each protocol
/// module turns it into its own wire shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The answer's text (may be empty when the answer only calls tools).
    pub text: String,
    /// Into how many pieces a stream cuts `text` (and `reasoning`): by characters, as even as
    /// possible, at least one and never more than there are characters.
    pub chunks: usize,
    /// Reasoning (thinking) text sent before the answer, in each protocol's own field.
    pub reasoning: Option<String>,
    /// Tools the answer calls; the finish reason then says so.
    pub tool_calls: Vec<FakeToolCall>,
    /// The token counts reported.
    pub usage: FakeUsage,
    /// OpenAI protocols: the usage rides on the chunk that carries `finish_reason` instead of
    /// a chunk of its own with `"choices": []` (some OpenAI-compatible servers do this).
    pub usage_with_last_choice: bool,
    /// How long to wait before the status line (time to first byte).
    pub first_byte_delay: Duration,
    /// How long to wait between two stream events.
    pub chunk_interval: Duration,
    /// A scripted failure, if any.
    pub failure: Option<Failure>,
    /// The length of embedding vectors when the request names none.
    pub embedding_dimensions: usize,
    /// Why the answer ends (tool calls override it with each protocol's tool word).
    pub finish: FakeFinish,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            text: "Hello from the fake upstream.".to_owned(),
            chunks: 3,
            reasoning: None,
            tool_calls: Vec::new(),
            usage: FakeUsage::default(),
            usage_with_last_choice: false,
            first_byte_delay: Duration::ZERO,
            chunk_interval: Duration::ZERO,
            failure: None,
            embedding_dimensions: 8,
            finish: FakeFinish::Stop,
        }
    }
}

impl Scenario {
    /// The default scenario answering `text`.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// The default scenario failing as `failure` says.
    pub fn failing(failure: Failure) -> Self {
        Self::default().with_failure(failure)
    }

    /// Streams cut the text into `chunks` pieces.
    #[must_use]
    pub fn with_chunks(mut self, chunks: usize) -> Self {
        self.chunks = chunks;
        self
    }

    /// The answer reasons (thinks) first.
    #[must_use]
    pub fn with_reasoning(mut self, reasoning: impl Into<String>) -> Self {
        self.reasoning = Some(reasoning.into());
        self
    }

    /// The answer also calls this tool (`arguments` is JSON text).
    #[must_use]
    pub fn with_tool_call(
        mut self,
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        self.tool_calls.push(FakeToolCall::new(id, name, arguments));
        self
    }

    /// The token counts reported.
    #[must_use]
    pub fn with_usage(mut self, usage: FakeUsage) -> Self {
        self.usage = usage;
        self
    }

    /// OpenAI protocols put the usage on the finish chunk.
    #[must_use]
    pub fn with_usage_on_last_choice(mut self) -> Self {
        self.usage_with_last_choice = true;
        self
    }

    /// The wait before the status line.
    #[must_use]
    pub fn with_first_byte_delay(mut self, delay: Duration) -> Self {
        self.first_byte_delay = delay;
        self
    }

    /// The wait between two stream events.
    #[must_use]
    pub fn with_chunk_interval(mut self, interval: Duration) -> Self {
        self.chunk_interval = interval;
        self
    }

    /// The scripted failure.
    #[must_use]
    pub fn with_failure(mut self, failure: Failure) -> Self {
        self.failure = Some(failure);
        self
    }

    /// The length of embedding vectors when the request names none.
    #[must_use]
    pub fn with_embedding_dimensions(mut self, dimensions: usize) -> Self {
        self.embedding_dimensions = dimensions;
        self
    }

    /// Why the answer ends.
    #[must_use]
    pub fn with_finish(mut self, finish: FakeFinish) -> Self {
        self.finish = finish;
        self
    }

    /// The reasoning, when there is some to send.
    pub(crate) fn reasoning_text(&self) -> Option<&str> {
        self.reasoning.as_deref().filter(|reasoning| !reasoning.is_empty())
    }
}

/// A tool the answer calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeToolCall {
    /// The call's id (Anthropic's `toolu_…`, OpenAI's `call_…`: any text).
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments as JSON text (protocols that send an object parse it; invalid JSON becomes
    /// `{}` there).
    pub arguments: String,
}

impl FakeToolCall {
    /// A call of `name` with `arguments` (JSON text).
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    /// The arguments as a JSON value (protocols that send objects); `{}` when they are not JSON.
    pub(crate) fn arguments_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.arguments).unwrap_or_else(|_| serde_json::json!({}))
    }
}

/// Token counts, in OpenAI's terms: `prompt` includes `cached` and `cache_write`; `completion`
/// includes `reasoning`. Each protocol reports them its own way (Anthropic leaves the cache
/// out of `input_tokens`, Gemini counts thoughts apart from the candidates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeUsage {
    /// Input tokens, cached and cache writes included.
    pub prompt: i64,
    /// Output tokens, reasoning included.
    pub completion: i64,
    /// Input tokens read from the cache.
    pub cached: i64,
    /// Input tokens written to the cache.
    pub cache_write: i64,
    /// Output tokens spent reasoning.
    pub reasoning: i64,
}

impl Default for FakeUsage {
    fn default() -> Self {
        Self {
            prompt: 12,
            completion: 7,
            cached: 0,
            cache_write: 0,
            reasoning: 0,
        }
    }
}

impl FakeUsage {
    /// `prompt` in and `completion` out, nothing cached, no reasoning.
    pub fn new(prompt: i64, completion: i64) -> Self {
        Self {
            prompt,
            completion,
            ..Self::default()
        }
    }
}

/// Why an answer ends, as each protocol says it: `Stop` is OpenAI's `stop`, Anthropic's
/// `end_turn`, Gemini's `STOP`; `Length` is `length`, `max_tokens`, `MAX_TOKENS`;
/// `ContentFilter` is `content_filter`, `refusal`, `SAFETY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FakeFinish {
    /// The answer is complete.
    #[default]
    Stop,
    /// The answer ran out of output tokens.
    Length,
    /// The answer was withheld by a filter.
    ContentFilter,
}

/// A scripted failure. Each applies to the first request of an exchange (for Replicate, the
/// create; the mid-stream ones to its stream URL); the mid-stream ones only affect streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// This status with these headers; `body: None` is the protocol's own error body with the
    /// message "scripted failure".
    Status {
        /// The HTTP status.
        status: u16,
        /// Headers added as given (e.g. `retry-after`).
        headers: Vec<(String, String)>,
        /// The body as sent, instead of the protocol's error body.
        body: Option<String>,
    },
    /// The protocol's own overload answer (OpenAI and Azure 503 `server_overloaded`, Anthropic
    /// 529 `overloaded_error`, Gemini 503 `UNAVAILABLE`, Replicate 503).
    Overloaded,
    /// A 200 whose body is not the protocol's JSON (`{"unexpected": tru`); in a stream, a first
    /// data event that is not JSON.
    Malformed,
    /// Sleep this long before sending the status line.
    StallBeforeFirstByte(Duration),
    /// Stream: send `after` content events, go silent for `duration` (the connection stays
    /// open), then go on as usual.
    StallMidStream {
        /// Content events sent before the stall.
        after: usize,
        /// How long the stream is silent.
        duration: Duration,
    },
    /// Stream: send `after` content events, then cut the connection (the body never ends
    /// properly, so the client's read fails).
    DisconnectMidStream {
        /// Content events sent before the cut.
        after: usize,
    },
    /// Stream: send `after` content events, then the protocol's error event, then end the body.
    ErrorMidStream {
        /// Content events sent before the error.
        after: usize,
    },
}

impl Failure {
    /// The protocol's error body with this status.
    pub fn status(code: u16) -> Self {
        Self::Status {
            status: code,
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds a header to a [`Failure::Status`] (other failures send no headers of their own and
    /// are returned unchanged).
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Self::Status { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// Sets the body of a [`Failure::Status`] (other failures are returned unchanged).
    #[must_use]
    pub fn with_body(mut self, text: impl Into<String>) -> Self {
        if let Self::Status { body, .. } = &mut self {
            *body = Some(text.into());
        }
        self
    }
}

/// A text cut into pieces by characters, as even as possible. Only the byte offsets are kept,
/// so a stream's memory does not grow with what it has sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Split {
    /// Byte offsets of the pieces' starts, then the text's end; empty for no pieces.
    bounds: Vec<usize>,
}

impl Split {
    /// `text` in `wanted` pieces: at least one for a text that is not empty, never more than it
    /// has characters (so no piece is empty), none for an empty text.
    pub(crate) fn new(text: &str, wanted: usize) -> Self {
        let chars = text.chars().count();
        if chars == 0 {
            return Self::default();
        }
        let pieces = wanted.clamp(1, chars);
        let mut starts = (0..pieces).map(|piece| piece * chars / pieces).peekable();
        let mut bounds = Vec::with_capacity(pieces + 1);
        for (position, (offset, _)) in text.char_indices().enumerate() {
            if starts.peek() == Some(&position) {
                bounds.push(offset);
                starts.next();
            }
        }
        bounds.push(text.len());
        Self { bounds }
    }

    /// How many pieces there are.
    pub(crate) fn len(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    /// Piece `index` of `text` (the text this split was made from); empty past the end.
    pub(crate) fn get<'a>(&self, text: &'a str, index: usize) -> &'a str {
        match (self.bounds.get(index), self.bounds.get(index + 1)) {
            (Some(&start), Some(&end)) => text.get(start..end).unwrap_or_default(),
            _ => "",
        }
    }
}

/// The most dimensions an embedding may ask for (a guard against absurd requests).
const MAX_DIMENSIONS: usize = 65_536;

/// Embedding number `index` (of one request's inputs): deterministic, so tests can compare
/// exact values; component `j` is `(index + 1) / (j + 2)`.
pub(crate) fn embedding(index: usize, dimensions: usize) -> Vec<f32> {
    let dimensions = dimensions.min(MAX_DIMENSIONS);
    let numerator = (index + 1) as f32;
    (0..dimensions).map(|j| numerator / (j + 2) as f32).collect()
}

/// A count as JSON's integer type.
pub(crate) fn count(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The current time in Unix seconds (the `created` of OpenAI's answers).
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, wanted: usize) -> Vec<&str> {
        let split = Split::new(text, wanted);
        (0..split.len()).map(|index| split.get(text, index)).collect()
    }

    #[test]
    fn texts_are_cut_by_characters_as_evenly_as_possible() {
        assert_eq!(pieces("one two three", 3), ["one ", "two ", "three"]);
        assert_eq!(pieces("héllo wörld", 2), ["héllo", " wörld"]);
        assert_eq!(pieces("ab", 5), ["a", "b"]);
        assert_eq!(pieces("abc", 0), ["abc"]);
        assert!(pieces("", 3).is_empty());
        assert_eq!(Split::new("abc", 1).get("abc", 7), "");
    }

    #[test]
    fn embeddings_are_deterministic() {
        assert_eq!(embedding(0, 3), [0.5, 1.0 / 3.0, 0.25]);
        assert_eq!(embedding(1, 2), [1.0, 2.0 / 3.0]);
    }

    #[test]
    fn header_and_body_builders_only_touch_status_failures() {
        let failure = Failure::status(429)
            .with_header("retry-after", "3")
            .with_body("slow down");
        assert_eq!(
            failure,
            Failure::Status {
                status: 429,
                headers: vec![("retry-after".into(), "3".into())],
                body: Some("slow down".into()),
            }
        );
        assert_eq!(Failure::Overloaded.with_header("a", "b"), Failure::Overloaded);
    }
}
