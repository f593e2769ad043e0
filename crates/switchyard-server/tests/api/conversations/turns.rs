//! Turns, black-box, against the fake upstream: the context trimmed to the model's window
//! (newest kept), a streamed answer stored with its usage, a client that goes away (the answer
//! stored `incomplete`), a supplier that fails (the question kept, the answer `failed`), two
//! sends at once answered one after the other, regenerating, generated titles, and images
//! reaching each protocol in its own form.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use switchyard_domain::gateway::Tokenizer;
use switchyard_providers::Tiktoken;
use switchyard_testkit::{Failure, FakeUsage, Protocol, Scenario};

use super::{conversation, messages, send, start};
use crate::gateway::{World, chat_model, read_stream, world, world_with};

/// A model on the OpenAI fake with a small window: 600 tokens, 40 of them for the reply.
const WINDOW: i64 = 600;
const REPLY: i64 = 40;

async fn small_model(world: &World) -> String {
    let body = json!({
        "name": "small-window",
        "supplier_id": world.suppliers[&Protocol::OpenAi],
        "upstream_name": "gpt-4o-mini",
        "model_type": "language",
        "context_window": WINDOW,
        "max_output_tokens": REPLY,
        "input_price": 1000,
        "output_price": 1000,
        "currency": "USD",
    });
    let (status, created) = world
        .app
        .call(Method::POST, "/api/v1/models", &world.admin, Some(body))
        .await;
    assert_eq!(status, 201, "{created}");
    "small-window".to_owned()
}

/// Posts a streamed send with the world's user's token.
async fn send_streamed(world: &World, id: &str, body: Value) -> reqwest::Response {
    let mut body = body;
    body["stream"] = json!(true);
    world
        .app
        .client
        .post(world.app.url(&format!("/api/v1/conversations/{id}/messages")))
        .bearer_auth(&world.user.access)
        .json(&body)
        .send()
        .await
        .expect("the server answers")
}

/// The messages once the last one has the status wanted (an answer stored in the background).
async fn messages_when_last_is(world: &World, id: &str, status: &str) -> Vec<Value> {
    for _ in 0..300 {
        let all = messages(world, id).await;
        if all
            .last()
            .is_some_and(|last| last["role"] == "assistant" && last["status"] == status)
        {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {status} answer: {:#?}", messages(world, id).await);
}

fn text_of(message: &Value) -> String {
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(|part| part["text"].as_str()).collect(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn a_long_conversation_sends_only_the_newest_turns_that_fit_the_window() {
    let world = world().await;
    let model = small_model(&world).await;
    let id = start(
        &world,
        &world.user,
        json!({"model": model, "system_prompt": "You are terse."}),
    )
    .await;
    world.fake.set(Scenario::text("Noted, thank you."));
    let filler = "the quick brown fox jumps over the lazy dog ".repeat(4);
    for turn in 1..=30 {
        let (status, exchange) = send(&world, &id, json!({"content": format!("Turn {turn}: {filler}")})).await;
        assert_eq!(status, 201, "turn {turn}: {exchange}");
    }
    let sent = world.fake.last_request().expect("a request").body;
    let sent = sent["messages"].as_array().expect("messages");
    assert_eq!(sent[0]["role"], "system");
    assert_eq!(text_of(&sent[0]), "You are terse.");
    assert!(text_of(sent.last().expect("a question")).starts_with("Turn 30:"));
    let questions: Vec<u32> = sent
        .iter()
        .filter(|message| message["role"] == "user")
        .filter_map(|message| text_of(message).strip_prefix("Turn ")?.split(':').next()?.parse().ok())
        .collect();
    assert!(questions.len() < 30 && questions.len() > 3, "kept {questions:?}");
    let newest: Vec<u32> = (31 - questions.len() as u32..=30).collect();
    assert_eq!(questions, newest, "the newest turns, unbroken");
    assert_eq!(
        sent[1]["role"], "user",
        "the history starts with a question, not its answer"
    );
    let tokenizer = Tiktoken::lazy();
    let tokens: i64 = sent.iter().map(|message| tokenizer.count(&text_of(message)) + 4).sum();
    assert!(tokens <= WINDOW - REPLY, "{tokens} tokens sent");
    let stored = conversation(&world, &id).await;
    assert_eq!(stored["message_count"], 60, "nothing stored was dropped");
    let (status, _) = send(&world, &id, json!({"content": "One more.", "max_tokens": 30})).await;
    assert_eq!(status, 201);
    let sent = world.fake.last_request().expect("a request").body;
    assert_eq!(sent["max_tokens"], 30, "{sent}");
}

#[tokio::test]
async fn a_streamed_answer_is_stored_with_its_usage_before_the_stream_ends() {
    let world = world().await;
    let id = start(&world, &world.user, json!({"model": chat_model(Protocol::OpenAi)})).await;
    world.fake.set(
        Scenario::text("Streams are stored whole.")
            .with_chunks(5)
            .with_usage(FakeUsage::new(11, 7)),
    );
    let response = send_streamed(&world, &id, json!({"content": "Is it stored?"})).await;
    assert_eq!(response.status().as_u16(), 200);
    let answer_id = response.headers()["x-switchyard-answer-id"]
        .to_str()
        .expect("an answer id")
        .to_owned();
    let streamed = read_stream(response).await;
    assert!(streamed.done, "{streamed:?}");
    assert_eq!(streamed.text(), "Streams are stored whole.");
    assert_eq!(streamed.usage().expect("the usage")["completion_tokens"], 7);
    // Stored before `[DONE]`: no wait.
    let all = messages(&world, &id).await;
    assert_eq!(all.len(), 2, "{all:#?}");
    let (question, answer) = (&all[0], &all[1]);
    assert_eq!(
        (question["role"].clone(), question["content"].clone()),
        (json!("user"), json!("Is it stored?"))
    );
    assert_eq!(answer["id"], answer_id.as_str());
    assert_eq!(answer["status"], "complete");
    assert_eq!(answer["content"], "Streams are stored whole.");
    assert_eq!(answer["tokens"], 7);
    assert_eq!(answer["model"], chat_model(Protocol::OpenAi).as_str());
    assert_eq!(answer["finish_reason"], "stop");
    assert!(answer["request_id"].is_string());
    let stored = conversation(&world, &id).await;
    assert_eq!(stored["message_count"], 2);
    let question_tokens = question["tokens"].as_i64().expect("tokens");
    assert!(question_tokens > 0);
    assert_eq!(stored["total_tokens"], question_tokens + 7);
}

#[tokio::test]
async fn a_client_that_goes_away_mid_stream_leaves_the_partial_answer_stored_incomplete() {
    let world = world().await;
    let id = start(&world, &world.user, json!({"model": chat_model(Protocol::Anthropic)})).await;
    let full = "one two three four five six seven eight nine ten";
    world.fake.set(
        Scenario::text(full)
            .with_chunks(10)
            .with_chunk_interval(Duration::from_millis(200)),
    );
    let response = send_streamed(&world, &id, json!({"content": "Count to ten."})).await;
    assert_eq!(response.status().as_u16(), 200);
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("two") {
        let chunk = body.next().await.expect("a chunk").expect("bytes");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(body);
    let all = messages_when_last_is(&world, &id, "incomplete").await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["content"], "Count to ten.");
    let partial = all[1]["content"].as_str().expect("text");
    assert!(partial.starts_with("one two"), "{partial:?}");
    assert!(partial.len() < full.len(), "{partial:?}");
    assert!(all[1]["tokens"].as_i64().is_some_and(|tokens| tokens > 0));
    assert!(
        world.fake.wait_for_cancelled(1, Duration::from_secs(5)).await,
        "the upstream call was cancelled"
    );
}

#[tokio::test]
async fn a_failing_supplier_keeps_the_question_and_stores_the_answer_failed() {
    let world = world().await;
    let id = start(&world, &world.user, json!({"model": chat_model(Protocol::Gemini)})).await;
    world.fake.set(Scenario::failing(Failure::status(500)));
    let (status, error) = send(&world, &id, json!({"content": "Are you there?"})).await;
    assert_eq!(status, 502, "{error}");
    let response = send_streamed(&world, &id, json!({"content": "Still there?"})).await;
    assert_eq!(response.status().as_u16(), 502);
    let all = messages(&world, &id).await;
    let shape: Vec<(String, String)> = all
        .iter()
        .map(|message| {
            (
                message["role"].as_str().expect("a role").to_owned(),
                message["status"].as_str().expect("a status").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("user", "complete"),
        ("assistant", "failed"),
        ("user", "complete"),
        ("assistant", "failed"),
    ];
    assert_eq!(
        shape,
        expected.map(|(role, status)| (role.to_owned(), status.to_owned()))
    );
    assert!(
        all[1]["error"].as_str().is_some_and(|error| !error.is_empty()),
        "{:#?}",
        all[1]
    );
    assert_eq!(all[2]["content"], "Still there?");
    // A failed answer is left out of the next context; the questions stay.
    world.fake.set(Scenario::text("Yes."));
    let (status, _) = send(&world, &id, json!({"content": "Hello?"})).await;
    assert_eq!(status, 201);
    let sent = world.fake.last_request().expect("a request").body;
    let roles: Vec<&str> = sent["contents"]
        .as_array()
        .expect("contents")
        .iter()
        .filter_map(|content| content["role"].as_str())
        .collect();
    assert!(roles.iter().all(|role| *role == "user"), "{sent}");
}

#[tokio::test]
async fn two_sends_at_once_are_answered_one_after_the_other() {
    let world = world().await;
    let id = start(&world, &world.user, json!({"model": chat_model(Protocol::OpenAi)})).await;
    world
        .fake
        .set(Scenario::text("Answered.").with_first_byte_delay(Duration::from_millis(300)));
    let (first, second) = tokio::join!(
        send(&world, &id, json!({"content": "First question"})),
        send(&world, &id, json!({"content": "Second question"})),
    );
    assert_eq!((first.0, second.0), (201, 201), "{first:?} {second:?}");
    let all = messages(&world, &id).await;
    let roles: Vec<&str> = all
        .iter()
        .map(|message| message["role"].as_str().expect("a role"))
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"], "not interleaved");
    let requests = world.fake.requests();
    assert_eq!(requests.len(), 2);
    let later = requests[1].body["messages"].as_array().expect("messages");
    assert_eq!(later.len(), 3, "the later turn sees the earlier exchange: {later:#?}");
    assert_eq!(later[1]["content"], "Answered.");
}

#[tokio::test]
async fn regenerating_keeps_the_old_answer_superseded_and_asks_again_without_it() {
    let world = world().await;
    let id = start(&world, &world.user, json!({"model": chat_model(Protocol::OpenAi)})).await;
    world.fake.set(Scenario::text("First try."));
    let (_, exchange) = send(&world, &id, json!({"content": "Tell me a joke."})).await;
    let old = exchange["answer"]["id"].as_str().expect("an id").to_owned();
    let question = exchange["question"]["id"].as_str().expect("an id").to_owned();
    world.fake.set(Scenario::text("Second try."));
    let path = |message: &str| format!("/api/v1/conversations/{id}/messages/{message}/regenerate");
    let (status, refused) = world
        .app
        .call(Method::POST, &path(&question), &world.user, Some(json!({})))
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "not_last_answer");
    let (status, again) = world
        .app
        .call(Method::POST, &path(&old), &world.user, Some(json!({})))
        .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["answer"]["content"], "Second try.");
    assert_eq!(again["question"]["id"], question.as_str());
    let sent = world.fake.last_request().expect("a request").body;
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "Tell me a joke."}])
    );
    let all = messages(&world, &id).await;
    let shape: Vec<(String, bool)> = all
        .iter()
        .map(|message| (text_of(message), message["superseded"].as_bool().expect("a flag")))
        .collect();
    assert_eq!(
        shape,
        [
            ("Tell me a joke.".to_owned(), false),
            ("First try.".to_owned(), true),
            ("Second try.".to_owned(), false)
        ]
    );
    let (status, _) = world
        .app
        .call(Method::POST, &path(&old), &world.user, Some(json!({})))
        .await;
    assert_eq!(status, 409, "a superseded answer is not the last");
}

#[tokio::test]
async fn an_untitled_conversation_is_titled_by_the_title_model_after_its_first_exchange() {
    let world = world_with(|settings| {
        settings.conversations.title_model = Some(chat_model(Protocol::OpenAi));
    })
    .await;
    world.fake.set(Scenario::text("\"Weekend plans.\""));
    let untitled = start(&world, &world.user, json!({"model": chat_model(Protocol::OpenAi)})).await;
    let titled = start(
        &world,
        &world.user,
        json!({"model": chat_model(Protocol::OpenAi), "title": "Mine"}),
    )
    .await;
    for id in [&untitled, &titled] {
        let (status, _) = send(&world, id, json!({"content": "What shall we do this weekend?"})).await;
        assert_eq!(status, 201);
    }
    let mut title = Value::Null;
    for _ in 0..200 {
        title = conversation(&world, &untitled).await["title"].clone();
        if !title.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(title, "Weekend plans");
    assert_eq!(conversation(&world, &titled).await["title"], "Mine");
    let requests = world.fake.requests();
    assert_eq!(requests.len(), 3, "two answers and one title");
}

const PIXEL: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

#[tokio::test]
async fn an_image_in_a_message_reaches_each_protocol_in_its_own_form() {
    let world = world().await;
    world.fake.set(Scenario::text("A red dot."));
    for protocol in Protocol::ALL.iter().copied() {
        world.fake.clear();
        let id = start(&world, &world.user, json!({"model": chat_model(protocol)})).await;
        let body = json!({
            "content": "What is this?",
            "images": [{"url": format!("data:image/png;base64,{PIXEL}"), "detail": "low"}],
        });
        let (status, exchange) = send(&world, &id, body).await;
        if protocol == Protocol::Replicate {
            assert_eq!(status, 400, "{exchange}");
            continue;
        }
        assert_eq!(status, 201, "{protocol:?}: {exchange}");
        assert_eq!(exchange["question"]["parts"][1]["type"], "image_url");
        let sent = world.fake.last_request().expect("a request").body;
        match protocol {
            Protocol::OpenAi | Protocol::AzureOpenAi => {
                let part = &sent["messages"][0]["content"][1];
                assert_eq!(part["image_url"]["url"], format!("data:image/png;base64,{PIXEL}"));
                assert_eq!(part["image_url"]["detail"], "low");
            }
            Protocol::Anthropic => assert_eq!(
                sent["messages"][0]["content"][1]["source"],
                json!({"type": "base64", "media_type": "image/png", "data": PIXEL})
            ),
            Protocol::Gemini => assert_eq!(
                sent["contents"][0]["parts"][1],
                json!({"inlineData": {"mimeType": "image/png", "data": PIXEL}})
            ),
            Protocol::Replicate => unreachable!(),
        }
    }
}

#[tokio::test]
async fn a_failed_answer_can_be_regenerated() {
    let world = world().await;
    let id = start(&world, &world.user, json!({"model": chat_model(Protocol::OpenAi)})).await;
    world.fake.set(Scenario::failing(Failure::status(500)));
    let (status, _) = send(&world, &id, json!({"content": "Try this."})).await;
    assert_eq!(status, 502);
    let failed = messages(&world, &id).await[1]["id"].as_str().expect("an id").to_owned();
    world.fake.set(Scenario::text("Done."));
    let (status, again) = world
        .app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{id}/messages/{failed}/regenerate"),
            &world.user,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["answer"]["content"], "Done.");
    let sent = world.fake.last_request().expect("a request").body;
    assert_eq!(sent["messages"], json!([{"role": "user", "content": "Try this."}]));
}

#[tokio::test]
async fn text_with_a_nul_character_is_refused_and_an_answer_with_one_is_stored_without_it() {
    let world = world().await;
    let id = start(&world, &world.user, json!({"model": chat_model(Protocol::OpenAi)})).await;
    let (status, error) = send(&world, &id, json!({"content": "nul \u{0} here"})).await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["details"][0]["code"], "invalid_character");
    let (status, error) = world
        .app
        .call(Method::GET, "/api/v1/conversations?q=%00", &world.user, None)
        .await;
    assert_eq!(status, 422, "{error}");
    world.fake.set(Scenario::text("odd \u{0} answer"));
    let (status, exchange) = send(&world, &id, json!({"content": "Say something odd."})).await;
    assert_eq!(status, 201, "{exchange}");
    assert_eq!(messages(&world, &id).await[1]["content"], "odd  answer");
}
