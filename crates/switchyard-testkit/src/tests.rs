//! Black-box tests of the fake upstream's whole answers, errors and recording (streams are in
//! `stream_tests`): real HTTP with reqwest against a started server, one case per behaviour the
//! gateway's tests rely on. The helpers here serve both.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Failure, FakeToolCall, FakeUpstream, FakeUsage, Protocol, Scenario};

/// A request with the key where `protocol` wants it.
pub(crate) fn keyed(protocol: Protocol, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let key = FakeUpstream::KEY;
    match protocol {
        Protocol::OpenAi | Protocol::Replicate => request.bearer_auth(key),
        Protocol::AzureOpenAi => request.header("api-key", key),
        Protocol::Anthropic => request
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01"),
        Protocol::Gemini => request.header("x-goog-api-key", key),
    }
}

/// The chat path under the base URL.
pub(crate) fn chat_path(protocol: Protocol, stream: bool) -> &'static str {
    match (protocol, stream) {
        (Protocol::OpenAi, _) => "chat/completions",
        (Protocol::AzureOpenAi, _) => "openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
        (Protocol::Anthropic, _) => "messages",
        (Protocol::Gemini, false) => "models/gemini-2.5-flash:generateContent",
        (Protocol::Gemini, true) => "models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        (Protocol::Replicate, _) => "models/meta/meta-llama-3-8b-instruct/predictions",
    }
}

/// A chat body as the gateway's client for `protocol` sends it.
pub(crate) fn chat_body(protocol: Protocol, stream: bool) -> Value {
    match protocol {
        Protocol::OpenAi | Protocol::AzureOpenAi => {
            let mut body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]});
            if stream {
                body["stream"] = json!(true);
                body["stream_options"] = json!({"include_usage": true});
            }
            body
        }
        Protocol::Anthropic => {
            json!({"model": "claude-sonnet-4", "max_tokens": 100, "stream": stream, "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]})
        }
        Protocol::Gemini => json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}),
        Protocol::Replicate => json!({"input": {"prompt": "Hi"}, "stream": stream}),
    }
}

pub(crate) async fn send(fake: &FakeUpstream, protocol: Protocol, path: &str, body: &Value) -> reqwest::Response {
    let url = format!("{}/{path}", fake.base_url(protocol));
    keyed(protocol, reqwest::Client::new().post(url))
        .json(body)
        .send()
        .await
        .expect("the fake answers")
}

pub(crate) async fn chat(fake: &FakeUpstream, protocol: Protocol, stream: bool) -> reqwest::Response {
    send(
        fake,
        protocol,
        chat_path(protocol, stream),
        &chat_body(protocol, stream),
    )
    .await
}

pub(crate) async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// One server-sent event: its name (if any) and its data lines joined with `\n`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub(crate) name: Option<String>,
    pub(crate) data: String,
}

impl Event {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("a JSON event")
    }
}

pub(crate) fn events(body: &str) -> Vec<Event> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut name = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push(value);
                }
            }
            Event {
                name,
                data: data.join("\n"),
            }
        })
        .collect()
}

pub(crate) async fn stream_events(response: reqwest::Response) -> Vec<Event> {
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().expect("a content type"),
        "text/event-stream"
    );
    events(&response.text().await.expect("a whole stream"))
}

pub(crate) fn reasoning_and_tools() -> Scenario {
    Scenario::text("Sunny.")
        .with_reasoning("Let me think.")
        .with_tool_call("call_1", "weather", r#"{"city":"Paris"}"#)
        .with_usage(FakeUsage {
            prompt: 30,
            completion: 20,
            cached: 10,
            cache_write: 5,
            reasoning: 4,
        })
}

#[tokio::test]
async fn openai_answers_a_chat_with_the_expected_shape() {
    let fake = FakeUpstream::start().await;
    fake.set(reasoning_and_tools());
    let mut body = chat_body(Protocol::OpenAi, false);
    body["n"] = json!(2);
    let answer = json_of(send(&fake, Protocol::OpenAi, "chat/completions", &body).await).await;
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "gpt-4o");
    assert!(answer["id"].as_str().expect("an id").starts_with("chatcmpl-fake-"));
    assert_eq!(answer["choices"].as_array().expect("choices").len(), 2);
    let choice = &answer["choices"][1];
    assert_eq!(choice["index"], 1);
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Sunny.");
    assert_eq!(choice["message"]["reasoning_content"], "Let me think.");
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}])
    );
    assert_eq!(
        answer["usage"],
        json!({"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50,
               "prompt_tokens_details": {"cached_tokens": 10}, "completion_tokens_details": {"reasoning_tokens": 4}})
    );
}

#[tokio::test]
async fn azure_answers_with_content_filter_results_and_its_stream_opens_with_the_prompt_filter() {
    let fake = FakeUpstream::start().await;
    let answer = json_of(chat(&fake, Protocol::AzureOpenAi, false).await).await;
    assert_eq!(answer["model"], "gpt-4o");
    assert_eq!(answer["prompt_filter_results"][0]["prompt_index"], 0);
    assert_eq!(
        answer["choices"][0]["content_filter_results"]["hate"]["filtered"],
        false
    );
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from the fake upstream."
    );

    let stream = stream_events(chat(&fake, Protocol::AzureOpenAi, true).await).await;
    let first = stream[0].json();
    assert_eq!(first["choices"], json!([]));
    assert!(first["prompt_filter_results"].is_array());
    assert_eq!(stream[1].json()["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(stream.last().expect("events").data, "[DONE]");

    let missing_version = "openai/deployments/gpt-4o/chat/completions";
    let response = send(
        &fake,
        Protocol::AzureOpenAi,
        missing_version,
        &chat_body(Protocol::AzureOpenAi, false),
    )
    .await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn anthropic_answers_thinking_text_and_tool_use_blocks_and_needs_its_version_header() {
    let fake = FakeUpstream::start().await;
    fake.set(reasoning_and_tools());
    let answer = json_of(chat(&fake, Protocol::Anthropic, false).await).await;
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["model"], "claude-sonnet-4");
    assert_eq!(answer["stop_reason"], "tool_use");
    assert_eq!(
        answer["content"],
        json!([
            {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
            {"type": "text", "text": "Sunny."},
            {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
        ])
    );
    assert_eq!(
        answer["usage"],
        json!({"input_tokens": 15, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 10, "output_tokens": 20})
    );

    let url = format!("{}/messages", fake.base_url(Protocol::Anthropic));
    let response = reqwest::Client::new()
        .post(url)
        .header("x-api-key", FakeUpstream::KEY)
        .json(&chat_body(Protocol::Anthropic, false))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 400);
    assert_eq!(json_of(response).await["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn gemini_answers_thoughts_text_and_function_calls_per_candidate() {
    let fake = FakeUpstream::start().await;
    fake.set(reasoning_and_tools());
    let mut body = chat_body(Protocol::Gemini, false);
    body["generationConfig"] = json!({"candidateCount": 2});
    let answer = json_of(send(&fake, Protocol::Gemini, chat_path(Protocol::Gemini, false), &body).await).await;
    assert_eq!(answer["modelVersion"], "gemini-2.5-flash");
    assert!(answer["responseId"].as_str().expect("an id").starts_with("resp-fake-"));
    let candidates = answer["candidates"].as_array().expect("candidates");
    assert_eq!(candidates.len(), 2);
    assert_eq!(candidates[1]["index"], 1);
    assert_eq!(candidates[0]["finishReason"], "STOP");
    assert_eq!(
        candidates[0]["content"],
        json!({"role": "model", "parts": [
            {"text": "Let me think.", "thought": true},
            {"text": "Sunny."},
            {"functionCall": {"id": "call_1", "name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "sig-call_1"},
        ]})
    );
    assert_eq!(
        answer["usageMetadata"],
        json!({"promptTokenCount": 30, "cachedContentTokenCount": 10, "candidatesTokenCount": 16,
               "thoughtsTokenCount": 4, "totalTokenCount": 50})
    );
}

#[tokio::test]
async fn replicate_answers_the_finished_prediction_when_asked_to_wait() {
    let fake = FakeUpstream::start().await;
    let url = format!("{}/predictions", fake.base_url(Protocol::Replicate));
    let response = keyed(Protocol::Replicate, reqwest::Client::new().post(url))
        .header("prefer", "wait=60")
        .json(&json!({"version": "meta/meta-llama-3-8b-instruct", "input": {"prompt": "Hi"}}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 201);
    let prediction = json_of(response).await;
    assert_eq!(prediction["status"], "succeeded");
    assert_eq!(prediction["model"], "meta/meta-llama-3-8b-instruct");
    assert_eq!(prediction["output"], json!(["Hello fro", "m the fake", " upstream."]));
    assert_eq!(prediction["metrics"]["input_token_count"], 12);
    assert_eq!(prediction["metrics"]["output_token_count"], 7);
}

#[tokio::test]
async fn a_wrong_key_is_refused_in_each_protocols_own_shape() {
    let fake = FakeUpstream::start().await;
    for protocol in Protocol::ALL {
        let url = format!("{}/{}", fake.base_url(protocol), chat_path(protocol, false));
        let response = reqwest::Client::new()
            .post(url)
            .bearer_auth("wrong")
            .header("api-key", "wrong")
            .header("x-api-key", "wrong")
            .header("x-goog-api-key", "wrong")
            .header("anthropic-version", "2023-06-01")
            .json(&chat_body(protocol, false))
            .send()
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        let body = json_of(response).await;
        match protocol {
            Protocol::OpenAi | Protocol::AzureOpenAi => {
                assert_eq!(status, 401);
                assert_eq!(body["error"]["code"], "invalid_api_key");
            }
            Protocol::Anthropic => {
                assert_eq!(status, 401);
                assert_eq!(body["error"]["type"], "authentication_error");
            }
            Protocol::Gemini => {
                assert_eq!(status, 400);
                assert_eq!(body["error"]["details"][0]["reason"], "API_KEY_INVALID");
            }
            Protocol::Replicate => {
                assert_eq!(status, 401);
                assert_eq!(body["title"], "Unauthenticated");
            }
        }
    }
    assert_eq!(fake.requests().len(), Protocol::ALL.len());
}

#[tokio::test]
async fn a_scripted_429_comes_back_with_its_retry_after() {
    let fake = FakeUpstream::start().await;
    fake.set(Scenario::failing(Failure::status(429).with_header("retry-after", "7")));
    for protocol in Protocol::ALL {
        let response = chat(&fake, protocol, false).await;
        assert_eq!(response.status(), 429, "{protocol}");
        assert_eq!(response.headers()["retry-after"], "7", "{protocol}");
        let body = json_of(response).await;
        let expected = match protocol {
            Protocol::OpenAi | Protocol::AzureOpenAi => {
                json!({"error": {"message": "scripted failure", "type": "rate_limit_exceeded", "code": null}})
            }
            Protocol::Anthropic => {
                json!({"type": "error", "error": {"type": "rate_limit_error", "message": "scripted failure"}})
            }
            Protocol::Gemini => {
                json!({"error": {"code": 429, "message": "scripted failure", "status": "RESOURCE_EXHAUSTED"}})
            }
            Protocol::Replicate => json!({"detail": "scripted failure", "status": 429}),
        };
        assert_eq!(body, expected);
    }
}

#[tokio::test]
async fn overloads_and_malformed_bodies_are_each_protocols_own() {
    let fake = FakeUpstream::start().await;
    fake.set(Scenario::failing(Failure::Overloaded));
    for (protocol, status) in [
        (Protocol::OpenAi, 503),
        (Protocol::Anthropic, 529),
        (Protocol::Gemini, 503),
        (Protocol::Replicate, 503),
    ] {
        assert_eq!(chat(&fake, protocol, false).await.status(), status, "{protocol}");
    }
    fake.set(Scenario::failing(Failure::Malformed));
    let response = chat(&fake, Protocol::Gemini, false).await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.expect("a body");
    assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");
    let stream = stream_events(chat(&fake, Protocol::Anthropic, true).await).await;
    assert_eq!(stream.len(), 1);
    assert!(serde_json::from_str::<Value>(&stream[0].data).is_err());
}

#[tokio::test]
async fn requests_are_recorded_with_lowercase_headers_and_json_bodies() {
    let fake = FakeUpstream::start().await;
    let url = format!("{}/chat/completions?trace=1", fake.base_url(Protocol::OpenAi));
    keyed(Protocol::OpenAi, reqwest::Client::new().post(url))
        .header("X-Request-Id", "Req-42")
        .json(&chat_body(Protocol::OpenAi, false))
        .send()
        .await
        .expect("an answer");
    let recorded = fake.last_request().expect("a request");
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, "/openai/v1/chat/completions");
    assert_eq!(recorded.query, "trace=1");
    assert!(
        recorded
            .headers
            .iter()
            .any(|(name, value)| name == "x-request-id" && value == "Req-42")
    );
    assert_eq!(recorded.header("Authorization"), Some("Bearer fake-upstream-key"));
    assert_eq!(recorded.body["messages"][0]["content"], "Hi");

    let unknown = format!("http://{}/nowhere", fake.address());
    let response = reqwest::Client::new().get(unknown).send().await.expect("an answer");
    assert_eq!(response.status(), 404);
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(fake.requests()[1].body, Value::Null);
    fake.clear();
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn push_applies_to_the_next_request_only() {
    let fake = FakeUpstream::start().await;
    fake.set(Scenario::text("default"));
    fake.push(Scenario::text("first"));
    fake.push(Scenario::failing(Failure::status(500)));
    let answer = |value: Value| value["choices"][0]["message"]["content"].clone();
    assert_eq!(
        answer(json_of(chat(&fake, Protocol::OpenAi, false).await).await),
        "first"
    );
    assert_eq!(chat(&fake, Protocol::OpenAi, false).await.status(), 500);
    assert_eq!(
        answer(json_of(chat(&fake, Protocol::OpenAi, false).await).await),
        "default"
    );
}

#[tokio::test]
async fn embeddings_are_deterministic_floats_or_base64() {
    let fake = FakeUpstream::start().await;
    let body = json!({"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 3});
    let answer = json_of(send(&fake, Protocol::OpenAi, "embeddings", &body).await).await;
    assert_eq!(answer["data"][1]["index"], 1);
    let second: Vec<f64> = answer["data"][1]["embedding"]
        .as_array()
        .expect("floats")
        .iter()
        .map(|value| value.as_f64().expect("a float"))
        .collect();
    assert_eq!(second.len(), 3);
    assert!((second[0] - 1.0).abs() < 1e-6);
    assert_eq!(answer["usage"], json!({"prompt_tokens": 12, "total_tokens": 12}));

    let body = json!({"model": "m", "input": "a", "encoding_format": "base64"});
    let answer = json_of(send(&fake, Protocol::OpenAi, "embeddings", &body).await).await;
    let encoded = answer["data"][0]["embedding"].as_str().expect("base64");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("valid base64");
    assert_eq!(bytes.len(), 8 * 4);
    assert_eq!(f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]), 0.5);

    let body = json!({"requests": [
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 4},
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}},
    ]});
    let path = "models/gemini-embedding-001:batchEmbedContents";
    let answer = json_of(send(&fake, Protocol::Gemini, path, &body).await).await;
    assert_eq!(answer["embeddings"][0]["values"].as_array().expect("values").len(), 4);
    assert_eq!(answer["embeddings"][1]["values"].as_array().expect("values").len(), 8);
    assert_eq!(answer["usageMetadata"]["promptTokenCount"], 12);
}

#[tokio::test]
async fn first_byte_delays_and_stalls_hold_the_status_line() {
    let fake = FakeUpstream::start().await;
    fake.push(Scenario::failing(Failure::StallBeforeFirstByte(Duration::from_millis(
        200,
    ))));
    fake.push(Scenario::default().with_first_byte_delay(Duration::from_millis(200)));
    for _ in 0..2 {
        let started = Instant::now();
        assert_eq!(chat(&fake, Protocol::OpenAi, false).await.status(), 200);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
}

#[test]
fn tool_calls_and_protocols_have_their_names() {
    assert_eq!(
        FakeToolCall::new("id", "name", "{}"),
        FakeToolCall {
            id: "id".into(),
            name: "name".into(),
            arguments: "{}".into()
        }
    );
    let names: Vec<&str> = Protocol::ALL.iter().map(|protocol| protocol.as_str()).collect();
    assert_eq!(names, ["openai", "azure_openai", "anthropic", "gemini", "replicate"]);
}
