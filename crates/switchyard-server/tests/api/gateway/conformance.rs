//! The same cases against every protocol, through the fake upstream: each case runs once per
//! protocol (the `conformance!` table below). A case checks what the client got, what the call
//! log holds (usage and cost equal to the fake's figures), and what the fake received (each
//! protocol's translation). Where a protocol cannot carry something (Replicate's Llama models
//! take no tools, images or reasoning), the case checks the documented refusal instead.

use serde_json::{Value, json};
use switchyard_domain::gateway::{CallLogEntry, Usage};
use switchyard_testkit::{Failure, FakeUsage, Protocol, Recorded, Scenario};

use super::{
    CACHED_PRICE, INPUT_PRICE, MAX_OUTPUT, OUTPUT_PRICE, World, ask, chat_model, embedding_model, openai_error,
    read_stream, upstream_model, world,
};
use crate::helpers::json_body;

/// The usage a protocol can report of the fake's figures (which are in OpenAI's terms).
fn reported(protocol: Protocol, fake: FakeUsage) -> Usage {
    let (cached, cache_write, reasoning) = match protocol {
        Protocol::OpenAi | Protocol::AzureOpenAi | Protocol::Gemini => (fake.cached, 0, fake.reasoning),
        // Anthropic counts thinking inside output tokens, without a breakdown.
        Protocol::Anthropic => (fake.cached, fake.cache_write, 0),
        Protocol::Replicate => (0, 0, 0),
    };
    Usage {
        // Every protocol counts the whole prompt (Anthropic's parts are added up).
        prompt_tokens: fake.prompt,
        completion_tokens: fake.completion,
        cached_input_tokens: cached,
        cache_write_tokens: cache_write,
        reasoning_tokens: reasoning,
        estimated: false,
    }
}

/// What the catalog prices make of `usage`, in nano-USD, computed here from the prices.
fn cost(usage: &Usage) -> i64 {
    let uncached = usage.prompt_tokens - usage.cached_input_tokens - usage.cache_write_tokens;
    (uncached * INPUT_PRICE
        + usage.cached_input_tokens * CACHED_PRICE
        + usage.cache_write_tokens * INPUT_PRICE
        + usage.completion_tokens * OUTPUT_PRICE)
        / 1000
}

fn assert_metered(entry: &CallLogEntry, protocol: Protocol, fake: FakeUsage) {
    let expected = reported(protocol, fake);
    assert_eq!(entry.usage, expected, "{protocol}: the logged usage");
    assert_eq!(entry.cost_nanos, cost(&expected), "{protocol}: the logged cost");
    assert_eq!(entry.currency.as_deref(), Some("USD"));
    assert_eq!(entry.upstream_model.as_deref(), Some(upstream_model(protocol)));
}

fn assert_usage_body(usage: &Value, protocol: Protocol, fake: FakeUsage) {
    let expected = reported(protocol, fake);
    assert_eq!(usage["prompt_tokens"], expected.prompt_tokens, "{protocol}: {usage}");
    assert_eq!(
        usage["completion_tokens"], expected.completion_tokens,
        "{protocol}: {usage}"
    );
    assert_eq!(usage["total_tokens"], expected.total_tokens(), "{protocol}: {usage}");
    assert_eq!(
        usage["prompt_tokens_details"]["cached_tokens"],
        expected.cached_input_tokens
    );
}

fn chat_request(protocol: Protocol) -> Value {
    json!({
        "model": chat_model(protocol),
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Say hello"},
        ],
        "temperature": 0.5,
        "max_tokens": 100,
        "stop": ["END"],
        "user": "u-42",
        "service_tier": "auto",
    })
}

/// The upstream request the first exchange began with (Replicate polls and streams after).
fn first_request(world: &World) -> Recorded {
    world
        .fake
        .requests()
        .into_iter()
        .next()
        .expect("the fake received a request")
}

/// Each protocol's translation of `chat_request`.
fn assert_translated(protocol: Protocol, request: &Recorded, request_id: &str, stream: bool) {
    let body = &request.body;
    assert_eq!(
        request.header("x-request-id"),
        Some(request_id),
        "{protocol}: x-request-id is sent upstream"
    );
    match protocol {
        Protocol::OpenAi | Protocol::AzureOpenAi => {
            if protocol == Protocol::OpenAi {
                assert_eq!(request.path, "/openai/v1/chat/completions");
                assert_eq!(request.header("authorization"), Some("Bearer fake-upstream-key"));
                assert_eq!(body["model"], "gpt-4o");
            } else {
                assert_eq!(
                    request.path,
                    "/azure/openai/deployments/my-gpt-4o-deployment/chat/completions"
                );
                assert!(request.query.contains("api-version=2024-10-21"), "{}", request.query);
                assert_eq!(request.header("api-key"), Some("fake-upstream-key"));
                assert_eq!(request.header("authorization"), None);
            }
            assert_eq!(
                body["messages"],
                json!([{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say hello"}])
            );
            assert_eq!(
                (body["temperature"].clone(), body["max_tokens"].clone()),
                (json!(0.5), json!(100))
            );
            assert_eq!(body["stop"], json!(["END"]));
            assert_eq!(body["user"], "u-42");
            assert_eq!(
                body["service_tier"], "auto",
                "unknown fields pass through to OpenAI-protocol suppliers"
            );
            if stream {
                assert_eq!(body["stream"], true);
                assert_eq!(
                    body["stream_options"],
                    json!({"include_usage": true}),
                    "usage is always asked for"
                );
            } else {
                assert!(body.get("stream").is_none(), "{body}");
            }
        }
        Protocol::Anthropic => {
            assert_eq!(request.path, "/anthropic/v1/messages");
            assert_eq!(request.header("x-api-key"), Some("fake-upstream-key"));
            assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
            assert_eq!(body["model"], "claude-sonnet-4");
            assert_eq!(body["system"], "Be terse.");
            assert_eq!(
                body["messages"],
                json!([{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}])
            );
            assert_eq!(body["max_tokens"], 100);
            assert_eq!(body["temperature"], 0.5);
            assert_eq!(body["stop_sequences"], json!(["END"]));
            assert_eq!(body["metadata"], json!({"user_id": "u-42"}));
            assert!(
                body.get("service_tier").is_none(),
                "unknown fields are dropped for other protocols"
            );
            assert_eq!(body.get("stream").cloned(), stream.then_some(json!(true)));
        }
        Protocol::Gemini => {
            let operation = if stream {
                "streamGenerateContent"
            } else {
                "generateContent"
            };
            assert_eq!(
                request.path,
                format!("/gemini/v1beta/models/gemini-2.5-flash:{operation}")
            );
            assert_eq!(request.query.contains("alt=sse"), stream, "{}", request.query);
            assert_eq!(request.header("x-goog-api-key"), Some("fake-upstream-key"));
            assert_eq!(body["systemInstruction"], json!({"parts": [{"text": "Be terse."}]}));
            assert_eq!(
                body["contents"],
                json!([{"role": "user", "parts": [{"text": "Say hello"}]}])
            );
            assert_eq!(
                body["generationConfig"],
                json!({"temperature": 0.5, "maxOutputTokens": 100, "stopSequences": ["END"]})
            );
            assert!(body.get("service_tier").is_none());
        }
        Protocol::Replicate => {
            assert_eq!(
                request.path,
                "/replicate/v1/models/meta/meta-llama-3-8b-instruct/predictions"
            );
            assert_eq!(request.header("authorization"), Some("Bearer fake-upstream-key"));
            assert_eq!(
                request.header("prefer").is_some(),
                !stream,
                "a whole answer waits for the prediction"
            );
            let input = &body["input"];
            let prompt = input["prompt"].as_str().expect("a prompt");
            assert!(
                prompt
                    .starts_with("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe terse.<|eot_id|>"),
                "{prompt}"
            );
            assert!(
                prompt.ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"),
                "{prompt}"
            );
            assert_eq!(input["prompt_template"], "{prompt}");
            assert_eq!(input["max_tokens"], 100);
            assert_eq!(input["temperature"], 0.5);
            assert!(
                input["stop_sequences"]
                    .as_str()
                    .is_some_and(|stops| stops.ends_with(",END")),
                "{input}"
            );
        }
    }
}

fn request_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .expect("x-request-id on the answer")
        .to_owned()
}

pub async fn non_stream(protocol: Protocol) {
    let world = world().await;
    let usage = FakeUsage::new(21, 9);
    world
        .fake
        .set(Scenario::text("Hello from the fake upstream.").with_usage(usage));
    let response = world.chat(&chat_request(protocol)).await;
    assert_eq!(response.status().as_u16(), 200);
    let id = request_id(&response);
    let body = json_body(response).await;
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], chat_model(protocol));
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from the fake upstream."
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_usage_body(&body["usage"], protocol, usage);
    assert_translated(protocol, &first_request(&world), &id, false);
    let entry = world.only_entry().await;
    assert_eq!(
        (entry.status_code, entry.stream, entry.error_code.clone()),
        (200, false, None)
    );
    assert_eq!(entry.request_id, id);
    assert_metered(&entry, protocol, usage);
}

pub async fn stream(protocol: Protocol) {
    let world = world().await;
    let usage = FakeUsage::new(17, 11);
    world.fake.set(
        Scenario::text("one two three four five")
            .with_chunks(5)
            .with_usage(usage),
    );
    let mut body = chat_request(protocol);
    body["stream"] = json!(true);
    let response = world.chat(&body).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("text/event-stream")
    );
    let id = request_id(&response);
    let streamed = read_stream(response).await;
    assert!(streamed.done, "{streamed:?}");
    assert_eq!(streamed.text(), "one two three four five");
    assert_eq!(streamed.finish_reason(), Some("stop"));
    assert!(streamed.usage().is_none(), "no usage chunk unless asked: {streamed:?}");
    assert!(
        streamed
            .events
            .iter()
            .all(|event| event["object"] == "chat.completion.chunk")
    );
    assert_eq!(streamed.events[0]["choices"][0]["delta"]["role"], "assistant");
    assert_translated(protocol, &first_request(&world), &id, true);
    let entry = world.only_entry().await;
    assert_eq!(
        (entry.status_code, entry.stream, entry.error_code.clone()),
        (200, true, None)
    );
    assert!(entry.time_to_first_token_ms.is_some());
    // Exact, not estimated, though the client did not ask for usage.
    assert_metered(&entry, protocol, usage);
}

pub async fn stream_with_usage(protocol: Protocol) {
    let world = world().await;
    let usage = FakeUsage::new(30, 4);
    world
        .fake
        .set(Scenario::text("a b c d").with_chunks(4).with_usage(usage));
    let mut body = ask(&chat_model(protocol), "count");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let streamed = read_stream(world.chat(&body).await).await;
    assert!(streamed.done);
    let last = streamed.events.last().expect("events");
    assert_eq!(last["choices"], json!([]), "the usage chunk has no choices");
    assert_usage_body(&last["usage"], protocol, usage);
    assert_eq!(
        streamed
            .events
            .iter()
            .filter(|event| event["usage"].is_object())
            .count(),
        1
    );
    if protocol == Protocol::Anthropic {
        // The client set no max_tokens; Anthropic requires one: the model's most output.
        assert_eq!(first_request(&world).body["max_tokens"], MAX_OUTPUT);
    }
    assert_metered(&world.only_entry().await, protocol, usage);
}

/// Some servers put the usage on the chunk that finishes the choice: it is not lost.
pub async fn usage_on_the_last_choice(protocol: Protocol) {
    let world = world().await;
    let usage = FakeUsage::new(8, 3);
    world
        .fake
        .set(Scenario::text("x y z").with_usage(usage).with_usage_on_last_choice());
    let mut body = ask(&chat_model(protocol), "go");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let streamed = read_stream(world.chat(&body).await).await;
    assert_eq!(streamed.text(), "x y z");
    assert_eq!(streamed.finish_reason(), Some("stop"));
    assert_usage_body(streamed.usage().expect("the usage chunk"), protocol, usage);
    assert_metered(&world.only_entry().await, protocol, usage);
}

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }}])
}

fn tool_scenario() -> Scenario {
    Scenario::text("")
        .with_tool_call("toolu_paris", "get_weather", r#"{"city":"Paris"}"#)
        .with_tool_call("toolu_rome", "get_weather", r#"{"city":"Rome"}"#)
        .with_usage(FakeUsage::new(40, 12))
}

fn assert_tool_translation(protocol: Protocol, request: &Recorded) {
    let body = &request.body;
    match protocol {
        Protocol::OpenAi | Protocol::AzureOpenAi => {
            assert_eq!(body["tools"], weather_tool());
            assert_eq!(body["tool_choice"], "required");
            assert_eq!(body["parallel_tool_calls"], true);
        }
        Protocol::Anthropic => {
            assert_eq!(body["tools"][0]["name"], "get_weather");
            assert_eq!(body["tools"][0]["input_schema"]["required"], json!(["city"]));
            assert_eq!(body["tool_choice"], json!({"type": "any"}));
        }
        Protocol::Gemini => {
            let declaration = &body["tools"][0]["functionDeclarations"][0];
            assert_eq!(declaration["name"], "get_weather");
            assert_eq!(declaration["parametersJsonSchema"]["required"], json!(["city"]));
            assert_eq!(body["toolConfig"], json!({"functionCallingConfig": {"mode": "ANY"}}));
        }
        Protocol::Replicate => unreachable!("Replicate takes no tools"),
    }
}

fn assert_weather_calls(protocol: Protocol, calls: &[(String, String, String)]) {
    assert_eq!(calls.len(), 2, "{protocol}: {calls:?}");
    for ((id, name, arguments), (want_id, city)) in calls.iter().zip([("toolu_paris", "Paris"), ("toolu_rome", "Rome")])
    {
        assert!(
            id.starts_with(want_id),
            "{protocol}: the supplier's call id is kept: {id}"
        );
        assert_eq!(name, "get_weather");
        let arguments: Value = serde_json::from_str(arguments).expect("arguments are JSON");
        assert_eq!(arguments, json!({"city": city}));
    }
}

pub async fn tools(protocol: Protocol) {
    let world = world().await;
    world.fake.set(tool_scenario());
    let mut body = ask(&chat_model(protocol), "Weather in Paris and Rome?");
    body["tools"] = weather_tool();
    body["tool_choice"] = json!("required");
    body["parallel_tool_calls"] = json!(true);
    let response = world.chat(&body).await;
    if protocol == Protocol::Replicate {
        let (status, error) = openai_error(response).await;
        assert_eq!(status, 400);
        assert!(
            error["message"].as_str().is_some_and(|text| text.contains("tools")),
            "{error}"
        );
        assert!(world.fake.requests().is_empty(), "nothing went upstream");
        let entry = world.only_entry().await;
        assert_eq!(entry.error_code.as_deref(), Some("upstream_bad_request"));
        return;
    }
    assert_eq!(response.status().as_u16(), 200);
    let answer = json_body(response).await;
    let message = &answer["choices"][0]["message"];
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    let calls: Vec<(String, String, String)> = message["tool_calls"]
        .as_array()
        .expect("tool calls")
        .iter()
        .map(|call| {
            assert_eq!(call["type"], "function");
            (
                call["id"].as_str().unwrap_or_default().to_owned(),
                call["function"]["name"].as_str().unwrap_or_default().to_owned(),
                call["function"]["arguments"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_weather_calls(protocol, &calls);
    assert_tool_translation(protocol, &first_request(&world));

    // The same, streamed: the arguments arrive in pieces and assemble to the same calls.
    world.fake.clear();
    body["stream"] = json!(true);
    let streamed = read_stream(world.chat(&body).await).await;
    assert!(streamed.done, "{streamed:?}");
    assert_eq!(streamed.finish_reason(), Some("tool_calls"));
    assert_weather_calls(protocol, &streamed.tool_calls());
    for entry in world.log(2).await {
        assert_metered(&entry, protocol, FakeUsage::new(40, 12));
    }

    // The calls' results go back as the protocol wants them.
    world.fake.clear();
    world
        .fake
        .set(Scenario::text("Sunny in both.").with_usage(FakeUsage::new(60, 5)));
    let mut follow_up = ask(&chat_model(protocol), "Weather in Paris and Rome?");
    let assistant = json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": calls[0].0, "type": "function", "function": {"name": "get_weather", "arguments": calls[0].2}},
        {"id": calls[1].0, "type": "function", "function": {"name": "get_weather", "arguments": calls[1].2}},
    ]});
    let messages = follow_up["messages"].as_array_mut().expect("messages");
    messages.push(assistant);
    messages.push(json!({"role": "tool", "tool_call_id": calls[0].0, "content": "18C"}));
    messages.push(json!({"role": "tool", "tool_call_id": calls[1].0, "content": "24C"}));
    follow_up["tools"] = weather_tool();
    let response = world.chat(&follow_up).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        json_body(response).await["choices"][0]["message"]["content"],
        "Sunny in both."
    );
    let sent = first_request(&world).body;
    match protocol {
        Protocol::OpenAi | Protocol::AzureOpenAi => {
            assert_eq!(sent["messages"][1]["tool_calls"][0]["id"], calls[0].0);
            assert_eq!(
                sent["messages"][2],
                json!({"role": "tool", "content": "18C", "tool_call_id": calls[0].0})
            );
        }
        Protocol::Anthropic => {
            assert_eq!(sent["messages"][1]["content"][0]["type"], "tool_use");
            assert_eq!(sent["messages"][1]["content"][0]["input"], json!({"city": "Paris"}));
            // Both results in one user turn.
            assert_eq!(sent["messages"][2]["role"], "user");
            assert_eq!(sent["messages"][2]["content"][1]["tool_use_id"], "toolu_rome");
        }
        Protocol::Gemini => {
            let model_turn = &sent["contents"][1];
            assert_eq!(model_turn["role"], "model");
            assert_eq!(model_turn["parts"][0]["functionCall"]["args"], json!({"city": "Paris"}));
            // The thought signature goes back with its call.
            assert_eq!(model_turn["parts"][0]["thoughtSignature"], "sig-toolu_paris");
            let results = &sent["contents"][2];
            assert_eq!(results["parts"][1]["functionResponse"]["name"], "get_weather");
            assert_eq!(
                results["parts"][1]["functionResponse"]["response"],
                json!({"output": "24C"})
            );
        }
        Protocol::Replicate => unreachable!(),
    }
}

const PIXEL: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

pub async fn image_input(protocol: Protocol) {
    let world = world().await;
    world
        .fake
        .set(Scenario::text("A red dot and a cat.").with_usage(FakeUsage::new(900, 6)));
    let body = json!({
        "model": chat_model(protocol),
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What are these?"},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PIXEL}"), "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        ]}],
    });
    let response = world.chat(&body).await;
    if protocol == Protocol::Replicate {
        let (status, error) = openai_error(response).await;
        assert_eq!(status, 400);
        assert!(
            error["message"].as_str().is_some_and(|text| text.contains("images")),
            "{error}"
        );
        return;
    }
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        json_body(response).await["choices"][0]["message"]["content"],
        "A red dot and a cat."
    );
    let sent = first_request(&world).body;
    match protocol {
        Protocol::OpenAi | Protocol::AzureOpenAi => {
            let parts = &sent["messages"][0]["content"];
            assert_eq!(parts[1]["image_url"]["url"], format!("data:image/png;base64,{PIXEL}"));
            assert_eq!(parts[1]["image_url"]["detail"], "low");
            assert_eq!(parts[2]["image_url"]["url"], "https://example.com/cat.jpg");
        }
        Protocol::Anthropic => {
            let blocks = &sent["messages"][0]["content"];
            assert_eq!(
                blocks[1]["source"],
                json!({"type": "base64", "media_type": "image/png", "data": PIXEL})
            );
            assert_eq!(
                blocks[2]["source"],
                json!({"type": "url", "url": "https://example.com/cat.jpg"})
            );
        }
        Protocol::Gemini => {
            let parts = &sent["contents"][0]["parts"];
            assert_eq!(
                parts[1],
                json!({"inlineData": {"mimeType": "image/png", "data": PIXEL}})
            );
            assert_eq!(
                parts[2],
                json!({"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}})
            );
        }
        Protocol::Replicate => unreachable!(),
    }
    assert_metered(&world.only_entry().await, protocol, FakeUsage::new(900, 6));
}

pub async fn reasoning(protocol: Protocol) {
    let world = world().await;
    let usage = FakeUsage {
        reasoning: 30,
        ..FakeUsage::new(15, 50)
    };
    world.fake.set(
        Scenario::text("42.")
            .with_reasoning("Six times seven.")
            .with_usage(usage),
    );
    let mut body = ask(&chat_model(protocol), "6 x 7?");
    body["reasoning_effort"] = json!("low");
    let answer = json_body(world.chat(&body).await).await;
    let message = &answer["choices"][0]["message"];
    assert_eq!(message["content"], "42.");
    let shown = protocol != Protocol::Replicate;
    assert_eq!(
        message["reasoning_content"].as_str(),
        shown.then_some("Six times seven."),
        "{protocol}: {answer}"
    );
    assert_eq!(
        answer["usage"]["completion_tokens_details"]["reasoning_tokens"],
        reported(protocol, usage).reasoning_tokens
    );
    // Streamed, the reasoning arrives as reasoning_content deltas.
    body["stream"] = json!(true);
    let streamed = read_stream(world.chat(&body).await).await;
    assert_eq!(streamed.text(), "42.");
    assert_eq!(!streamed.deltas("reasoning_content").is_empty(), shown);
    if shown {
        assert_eq!(streamed.deltas("reasoning_content"), "Six times seven.");
    }
    let sent = first_request(&world).body;
    match protocol {
        Protocol::OpenAi | Protocol::AzureOpenAi => assert_eq!(sent["reasoning_effort"], "low"),
        Protocol::Anthropic => assert_eq!(sent["thinking"]["type"], "enabled"),
        Protocol::Gemini => assert_eq!(sent["generationConfig"]["thinkingConfig"]["includeThoughts"], true),
        Protocol::Replicate => assert!(sent["input"].get("reasoning_effort").is_none()),
    }
    for entry in world.log(2).await {
        assert_metered(&entry, protocol, usage);
    }
}

pub async fn cached_tokens(protocol: Protocol) {
    let world = world().await;
    let usage = FakeUsage {
        cached: 600,
        cache_write: 200,
        ..FakeUsage::new(1000, 20)
    };
    world.fake.set(Scenario::text("From the cache.").with_usage(usage));
    let answer = json_body(world.chat(&ask(&chat_model(protocol), "again")).await).await;
    assert_usage_body(&answer["usage"], protocol, usage);
    let entry = world.only_entry().await;
    assert_metered(&entry, protocol, usage);
    if protocol != Protocol::Replicate {
        assert!(
            entry.cost_nanos
                < cost(&Usage {
                    cached_input_tokens: 0,
                    ..entry.usage
                }),
            "cached input costs less"
        );
    }
}

/// A scripted upstream failure, whole and streamed: the client's status and code, and the log's.
async fn upstream_failure(protocol: Protocol, failure: Failure, status: u16, code: &str, logged: &str) -> World {
    let world = world().await;
    for stream in [false, true] {
        world.fake.push(Scenario::failing(failure.clone()));
        let mut body = ask(&chat_model(protocol), "hi");
        body["stream"] = json!(stream);
        let response = world.chat(&body).await;
        let (got, error) = openai_error(response).await;
        assert_eq!(
            (got, error["code"].as_str()),
            (status, Some(code)),
            "{protocol} stream={stream}: {error}"
        );
        assert!(
            !error["message"].as_str().unwrap_or_default().contains(FAKE_KEY),
            "no secret in the message"
        );
    }
    for entry in world.log(2).await {
        assert_eq!(entry.status_code, status, "{protocol}: {entry:?}");
        assert_eq!(entry.error_code.as_deref(), Some(logged));
        assert!(entry.error_summary.is_some());
        assert_eq!(entry.usage.completion_tokens, 0);
    }
    world
}

const FAKE_KEY: &str = switchyard_testkit::FakeUpstream::KEY;

pub async fn unauthorized(protocol: Protocol) {
    // The supplier refuses our key: the operator's problem, not the client's.
    let world = upstream_failure(protocol, Failure::status(401), 502, "upstream_error", "upstream_error").await;
    let entries = world.log(2).await;
    assert!(
        entries[0]
            .error_summary
            .as_deref()
            .is_some_and(|text| text.contains("refused its key")),
        "{entries:?}"
    );
}

pub async fn rate_limited(protocol: Protocol) {
    let world = world().await;
    world
        .fake
        .push(Scenario::failing(Failure::status(429).with_header("retry-after", "7")));
    let response = world.chat(&ask(&chat_model(protocol), "hi")).await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()),
        Some("7")
    );
    let (status, error) = openai_error(response).await;
    assert_eq!((status, error["type"].as_str()), (429, Some("rate_limit_error")));
    assert_eq!(world.only_entry().await.error_code.as_deref(), Some("rate_limited"));
}

pub async fn server_error(protocol: Protocol) {
    upstream_failure(protocol, Failure::status(500), 502, "upstream_error", "upstream_error").await;
}

pub async fn overloaded(protocol: Protocol) {
    upstream_failure(
        protocol,
        Failure::Overloaded,
        503,
        "upstream_overloaded",
        "upstream_overloaded",
    )
    .await;
}

pub async fn malformed(protocol: Protocol) {
    upstream_failure(protocol, Failure::Malformed, 502, "upstream_error", "upstream_error").await;
}

pub async fn first_byte_timeout(protocol: Protocol) {
    // The tests' first-byte timeout is 1.5 s.
    let stall = Failure::StallBeforeFirstByte(std::time::Duration::from_secs(5));
    upstream_failure(protocol, stall, 504, "upstream_timeout", "upstream_timeout").await;
}

/// A stream that started well and then fails: the client has its 200 and the chunks so far,
/// then an error event and no `[DONE]`; the log keeps the 200, the error and what was streamed.
async fn broken_stream(protocol: Protocol, failure: Failure, logged: &str) {
    let world = world().await;
    world.fake.set(
        Scenario::text("one two three four")
            .with_chunks(4)
            .with_usage(FakeUsage::new(10, 4))
            .with_failure(failure),
    );
    let mut body = ask(&chat_model(protocol), "count");
    body["stream"] = json!(true);
    let response = world.chat(&body).await;
    assert_eq!(response.status().as_u16(), 200);
    let streamed = read_stream(response).await;
    assert!(
        !streamed.done,
        "{protocol}: a broken stream does not end with [DONE]: {streamed:?}"
    );
    assert!(streamed.text().starts_with("one"), "{protocol}: {streamed:?}");
    let error = streamed.error().expect("an error event");
    assert_eq!(error["code"].as_str(), Some(logged), "{protocol}: {error}");
    let entry = world.only_entry().await;
    assert_eq!((entry.status_code, entry.error_code.as_deref()), (200, Some(logged)));
    assert!(
        entry.usage.completion_tokens > 0,
        "what was streamed is counted: {entry:?}"
    );
    assert!(entry.usage.estimated, "the supplier's final figures never came");
    if protocol == Protocol::Replicate {
        // The prediction we stopped reading would run (and bill) on.
        let cancelled = world
            .fake
            .wait_until(std::time::Duration::from_secs(5), |fake| {
                fake.cancelled_predictions().len() == 1
            })
            .await;
        assert!(cancelled, "the replicate prediction was not cancelled");
    }
}

pub async fn idle_timeout(protocol: Protocol) {
    let stall = Failure::StallMidStream {
        after: 1,
        duration: std::time::Duration::from_secs(5),
    };
    broken_stream(protocol, stall, "upstream_timeout").await;
}

pub async fn disconnect_mid_stream(protocol: Protocol) {
    broken_stream(protocol, Failure::DisconnectMidStream { after: 1 }, "upstream_error").await;
}

pub async fn embeddings(protocol: Protocol) {
    let world = world().await;
    world.fake.set(
        Scenario::default()
            .with_usage(FakeUsage::new(6, 0))
            .with_embedding_dimensions(4),
    );
    let body = json!({"model": embedding_model(protocol), "input": ["first", "second"], "dimensions": 4});
    let response = world.post("/v1/embeddings", &body).await;
    if matches!(protocol, Protocol::Anthropic | Protocol::Replicate) {
        let (status, error) = openai_error(response).await;
        assert_eq!(status, 400, "{error}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|text| text.contains("embeddings")),
            "{error}"
        );
        return;
    }
    assert_eq!(response.status().as_u16(), 200);
    let answer = json_body(response).await;
    let data = answer["data"].as_array().expect("data");
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["embedding"].as_array().map(Vec::len), Some(4));
    assert_eq!(answer["usage"]["prompt_tokens"], 6);
    let sent = first_request(&world);
    match protocol {
        Protocol::Gemini => {
            assert_eq!(
                sent.path,
                "/gemini/v1beta/models/text-embedding-3-small:batchEmbedContents"
            );
            assert_eq!(sent.body["requests"][1]["content"]["parts"][0]["text"], "second");
            assert_eq!(sent.body["requests"][0]["outputDimensionality"], 4);
        }
        _ => {
            assert_eq!(sent.body["input"], json!(["first", "second"]));
            assert_eq!(sent.body["dimensions"], 4);
        }
    }
    let entry = world.only_entry().await;
    assert_eq!(entry.usage.prompt_tokens, 6);
    assert_eq!(entry.cost_nanos, 6 * INPUT_PRICE / 1000);
}

/// One test per case and protocol.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                use switchyard_testkit::Protocol;

                #[tokio::test]
                async fn openai() {
                    super::$case(Protocol::OpenAi).await;
                }

                #[tokio::test]
                async fn azure_openai() {
                    super::$case(Protocol::AzureOpenAi).await;
                }

                #[tokio::test]
                async fn anthropic() {
                    super::$case(Protocol::Anthropic).await;
                }

                #[tokio::test]
                async fn gemini() {
                    super::$case(Protocol::Gemini).await;
                }

                #[tokio::test]
                async fn replicate() {
                    super::$case(Protocol::Replicate).await;
                }
            }
        )*
    };
}

conformance!(
    non_stream,
    stream,
    stream_with_usage,
    usage_on_the_last_choice,
    tools,
    image_input,
    reasoning,
    cached_tokens,
    unauthorized,
    rate_limited,
    server_error,
    overloaded,
    malformed,
    first_byte_timeout,
    idle_timeout,
    disconnect_mid_stream,
    embeddings,
);
