//! Black-box tests of the fake upstream's streams: framing per protocol, usage, pacing, the
//! mid-stream failures, cancellation, and Replicate's create-stream-poll exchange.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::tests::{Event, chat, chat_body, json_of, keyed, reasoning_and_tools, send, stream_events};
use crate::{Failure, FakeUpstream, FakeUsage, Protocol, Scenario};

#[tokio::test]
async fn an_openai_stream_ends_with_usage_and_done_only_when_usage_is_asked_for() {
    let fake = FakeUpstream::start().await;
    fake.set(Scenario::text("one two three"));
    let stream = stream_events(chat(&fake, Protocol::OpenAi, true).await).await;
    let data: Vec<&str> = stream.iter().map(|event| event.data.as_str()).collect();
    assert_eq!(data.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> = stream[..stream.len() - 1].iter().map(Event::json).collect();
    assert!(chunks.iter().all(|chunk| chunk["object"] == "chat.completion.chunk"));
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let text: Vec<&str> = chunks
        .iter()
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, ["", "one ", "two ", "three"]);
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    let usage = &chunks[5];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["total_tokens"], 19);
    assert_eq!(fake.streams_completed(), 1);

    let mut body = chat_body(Protocol::OpenAi, true);
    body["stream_options"] = json!({"include_usage": false});
    let stream = stream_events(send(&fake, Protocol::OpenAi, "chat/completions", &body).await).await;
    assert!(stream.iter().all(|event| !event.data.contains("\"usage\"")));
    assert_eq!(stream.last().map(|event| event.data.as_str()), Some("[DONE]"));

    fake.set(Scenario::text("hi").with_usage_on_last_choice());
    let stream = stream_events(chat(&fake, Protocol::OpenAi, true).await).await;
    let finish = stream[stream.len() - 2].json();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["usage"]["prompt_tokens"], 12);
}

#[tokio::test]
async fn an_openai_stream_sends_reasoning_then_text_then_tool_call_deltas() {
    let fake = FakeUpstream::start().await;
    fake.set(reasoning_and_tools().with_chunks(2));
    let stream = stream_events(chat(&fake, Protocol::OpenAi, true).await).await;
    let deltas: Vec<Value> = stream[1..stream.len() - 2]
        .iter()
        .map(|event| event.json()["choices"][0]["delta"].clone())
        .collect();
    assert_eq!(
        deltas,
        [
            json!({"reasoning_content": "Let me"}),
            json!({"reasoning_content": " think."}),
            json!({"content": "Sun"}),
            json!({"content": "ny."}),
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "weather", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
            json!({}),
        ]
    );
    assert_eq!(
        stream[stream.len() - 3].json()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn an_anthropic_stream_sends_typed_events_block_by_block() {
    let fake = FakeUpstream::start().await;
    fake.set(reasoning_and_tools().with_chunks(1));
    let stream = stream_events(chat(&fake, Protocol::Anthropic, true).await).await;
    let names: Vec<&str> = stream.iter().filter_map(|event| event.name.as_deref()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert!(
        stream
            .iter()
            .all(|event| event.json()["type"] == event.name.as_deref().unwrap_or_default())
    );
    let start = stream[0].json();
    assert_eq!(start["message"]["usage"]["input_tokens"], 15);
    assert_eq!(start["message"]["usage"]["output_tokens"], 1);
    assert_eq!(
        stream[3].json()["delta"],
        json!({"type": "thinking_delta", "thinking": "Let me think."})
    );
    assert_eq!(stream[4].json()["delta"]["type"], "signature_delta");
    assert_eq!(stream[7].json()["index"], 1);
    assert_eq!(
        stream[9].json()["content_block"],
        json!({"type": "tool_use", "id": "call_1", "name": "weather", "input": {}})
    );
    assert_eq!(stream[10].json()["delta"]["partial_json"], "");
    assert_eq!(stream[12].json()["index"], 2);
    let delta = stream[14].json();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 20);
}

#[tokio::test]
async fn a_gemini_stream_carries_growing_usage_and_finishes_on_its_last_event() {
    let fake = FakeUpstream::start().await;
    fake.set(Scenario::text("abcd").with_chunks(2).with_usage(FakeUsage::new(10, 8)));
    let stream = stream_events(chat(&fake, Protocol::Gemini, true).await).await;
    assert!(stream.iter().all(|event| event.name.is_none()));
    let responses: Vec<Value> = stream.iter().map(Event::json).collect();
    assert_eq!(responses.len(), 3);
    assert_eq!(
        responses[0]["candidates"][0]["content"]["parts"],
        json!([{"text": "ab"}])
    );
    assert_eq!(responses[0]["usageMetadata"]["candidatesTokenCount"], 4);
    assert!(responses[0]["candidates"][0].get("finishReason").is_none());
    let last = &responses[2];
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["candidates"][0]["content"]["parts"], json!([{"text": ""}]));
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 8);
    assert_eq!(last["usageMetadata"]["totalTokenCount"], 18);
}

#[tokio::test]
async fn a_disconnect_mid_stream_fails_the_body_read_after_the_first_piece() {
    let fake = FakeUpstream::start().await;
    fake.set(Scenario::text("one two three").with_failure(Failure::DisconnectMidStream { after: 1 }));
    let mut response = chat(&fake, Protocol::OpenAi, true).await;
    assert_eq!(response.status(), 200);
    let mut received = String::new();
    let failed = loop {
        match response.chunk().await {
            Ok(Some(bytes)) => received.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(failed, "the body ended cleanly: {received}");
    assert!(received.contains(r#""content":"one ""#), "{received}");
    assert!(!received.contains("two"), "{received}");
    assert_eq!((fake.streams_completed(), fake.streams_cancelled()), (0, 0));
}

#[tokio::test]
async fn an_error_mid_stream_is_the_protocols_error_event() {
    let fake = FakeUpstream::start().await;
    fake.set(Scenario::text("one two three").with_failure(Failure::ErrorMidStream { after: 2 }));
    let stream = stream_events(chat(&fake, Protocol::Anthropic, true).await).await;
    let texts = stream.iter().filter(|event| event.data.contains("text_delta")).count();
    assert_eq!(texts, 2);
    let last = stream.last().expect("events");
    assert_eq!(last.name.as_deref(), Some("error"));
    assert_eq!(last.json()["error"]["type"], "overloaded_error");

    let stream = stream_events(chat(&fake, Protocol::Gemini, true).await).await;
    assert_eq!(stream.len(), 3);
    assert_eq!(stream[2].json()["error"]["status"], "UNAVAILABLE");
}

#[tokio::test]
async fn a_stall_mid_stream_holds_the_stream_then_goes_on() {
    let fake = FakeUpstream::start().await;
    let stall = Duration::from_millis(300);
    fake.set(
        Scenario::text("one two")
            .with_chunks(2)
            .with_failure(Failure::StallMidStream {
                after: 1,
                duration: stall,
            }),
    );
    let started = Instant::now();
    let stream = stream_events(chat(&fake, Protocol::OpenAi, true).await).await;
    assert!(started.elapsed() >= stall);
    assert_eq!(stream.last().map(|event| event.data.as_str()), Some("[DONE]"));
}

#[tokio::test]
async fn a_client_dropping_a_paced_stream_counts_as_cancelled() {
    let fake = FakeUpstream::start().await;
    fake.set(
        Scenario::text("x".repeat(50))
            .with_chunks(50)
            .with_chunk_interval(Duration::from_millis(50)),
    );
    let mut response = chat(&fake, Protocol::Anthropic, true).await;
    assert!(response.chunk().await.expect("a first chunk").is_some());
    drop(response);
    assert!(fake.wait_for_cancelled(1, Duration::from_secs(10)).await);
    assert_eq!(fake.streams_completed(), 0);
}

#[tokio::test]
async fn a_replicate_prediction_streams_then_its_poll_has_the_metrics() {
    let fake = FakeUpstream::start().await;
    fake.set(Scenario::text("line one\nline two").with_chunks(1));
    let response = chat(&fake, Protocol::Replicate, true).await;
    assert_eq!(response.status(), 201);
    let prediction = json_of(response).await;
    assert_eq!(prediction["status"], "starting");
    assert_eq!(prediction["output"], Value::Null);
    let stream_url = prediction["urls"]["stream"].as_str().expect("a stream URL").to_owned();
    assert!(stream_url.starts_with(&fake.base_url(Protocol::Replicate)));

    let client = reqwest::Client::new();
    let response = keyed(Protocol::Replicate, client.get(&stream_url))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("a stream");
    let stream = stream_events(response).await;
    assert_eq!(stream[0].name.as_deref(), Some("output"));
    assert_eq!(stream[0].data, "line one\nline two");
    assert_eq!(stream[1].name.as_deref(), Some("done"));
    assert_eq!(stream[1].data, "{}");

    let get_url = prediction["urls"]["get"].as_str().expect("a get URL");
    let polled = json_of(
        keyed(Protocol::Replicate, client.get(get_url))
            .send()
            .await
            .expect("a poll"),
    )
    .await;
    assert_eq!(polled["status"], "succeeded");
    assert_eq!(polled["output"], json!(["line one\nline two"]));
    assert_eq!(polled["metrics"]["input_token_count"], 12);
    assert_eq!(polled["metrics"]["output_token_count"], 7);

    let cancel_url = prediction["urls"]["cancel"].as_str().expect("a cancel URL");
    let cancelled = json_of(
        keyed(Protocol::Replicate, client.post(cancel_url))
            .send()
            .await
            .expect("a cancel"),
    )
    .await;
    assert_eq!(cancelled["status"], "canceled");
    assert_eq!(
        fake.cancelled_predictions(),
        [prediction["id"].as_str().expect("an id")]
    );
}

#[tokio::test]
async fn a_gemini_stream_sends_thoughts_then_text_then_all_calls_at_once() {
    let fake = FakeUpstream::start().await;
    fake.set(reasoning_and_tools().with_chunks(1));
    let stream = stream_events(chat(&fake, Protocol::Gemini, true).await).await;
    let parts: Vec<Value> = stream
        .iter()
        .map(|event| event.json()["candidates"][0]["content"]["parts"].clone())
        .collect();
    assert_eq!(
        parts,
        [
            json!([{"text": "Let me think.", "thought": true}]),
            json!([{"text": "Sunny."}]),
            json!([{"functionCall": {"id": "call_1", "name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "sig-call_1"}]),
            json!([{"text": ""}]),
        ]
    );
    let first = stream[0].json();
    assert_eq!(first["usageMetadata"]["thoughtsTokenCount"], 4);
    assert_eq!(first["usageMetadata"]["candidatesTokenCount"], 0);
    assert_eq!(stream[3].json()["usageMetadata"]["candidatesTokenCount"], 16);
}

#[tokio::test]
async fn an_openai_stream_interleaves_its_choices() {
    let fake = FakeUpstream::start().await;
    fake.set(Scenario::text("ab").with_chunks(2));
    let mut body = chat_body(Protocol::OpenAi, true);
    body["n"] = json!(2);
    let stream = stream_events(send(&fake, Protocol::OpenAi, "chat/completions", &body).await).await;
    let content: Vec<(Value, Value)> = stream[..stream.len() - 2]
        .iter()
        .map(|event| {
            let choice = &event.json()["choices"][0];
            (choice["index"].clone(), choice["delta"]["content"].clone())
        })
        .collect();
    assert_eq!(
        content,
        [
            (json!(0), json!("")),
            (json!(1), json!("")),
            (json!(0), json!("a")),
            (json!(1), json!("a")),
            (json!(0), json!("b")),
            (json!(1), json!("b")),
            (json!(0), Value::Null),
            (json!(1), Value::Null),
        ]
    );
}
