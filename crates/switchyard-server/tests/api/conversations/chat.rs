//! The one-shot chat, black-box: a message starts a conversation (kept like any other) or
//! continues one; a message with an image is vision chat — a text-only model refuses it before
//! any call, and `auto` picks a model that takes images; the history lists the caller's
//! messages across conversations, and no one else's.

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_testkit::{Protocol, Scenario};

use super::files::{PNG, upload};
use super::{conversation, messages};
use crate::gateway::routing::priced_model;
use crate::gateway::{World, chat_model, world};
use crate::helpers::Session;

async fn chat(world: &World, user: &Session, body: Value) -> (u16, Value) {
    world.app.call(Method::POST, "/api/v1/chat", user, Some(body)).await
}

#[tokio::test]
async fn a_one_shot_chat_starts_a_conversation_and_can_continue_it() {
    let world = world().await;
    world.fake.set(Scenario::text("Hello there."));
    let model = chat_model(Protocol::Anthropic);
    let (status, first) = chat(
        &world,
        &world.user,
        json!({"model": model, "content": "Hi!", "system_prompt": "Be kind."}),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let id = first["conversation_id"].as_str().expect("a conversation").to_owned();
    assert_eq!(first["answer"]["content"], "Hello there.");
    let stored = conversation(&world, &id).await;
    assert_eq!(
        (stored["model"].clone(), stored["system_prompt"].clone()),
        (json!(model), json!("Be kind."))
    );
    let other = chat_model(Protocol::OpenAi);
    let (status, second) = chat(
        &world,
        &world.user,
        json!({"conversation_id": id, "model": other, "content": "And again?"}),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["conversation_id"], id.as_str());
    assert_eq!(
        conversation(&world, &id).await["model"],
        other.as_str(),
        "the conversation switched models"
    );
    let sent = world.fake.last_request().expect("a request").body;
    assert_eq!(
        sent["messages"].as_array().map(Vec::len),
        Some(4),
        "system, the first exchange, the question: {sent}"
    );
    assert_eq!(messages(&world, &id).await.len(), 4);

    let (status, history) = world
        .app
        .call(Method::GET, "/api/v1/chat/history?limit=3", &world.user, None)
        .await;
    assert_eq!(status, 200, "{history}");
    let contents: Vec<&str> = history["data"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|message| message["content"].as_str().expect("text"))
        .collect();
    assert_eq!(contents, ["Hello there.", "And again?", "Hello there."], "newest first");
    assert!(history["next_cursor"].is_string());
    let bob = world.app.create_user("bob").await;
    let (_, theirs) = world.app.call(Method::GET, "/api/v1/chat/history", &bob, None).await;
    assert_eq!(theirs["data"], json!([]));
    let (status, refused) = chat(&world, &bob, json!({"conversation_id": id, "content": "Mine now?"})).await;
    assert_eq!(status, 404, "{refused}");
}

#[tokio::test]
async fn vision_chat_needs_a_model_that_takes_images_and_auto_picks_one() {
    let world = world().await;
    let text: &[&str] = &["text"];
    let vision: &[&str] = &["text", "image"];
    priced_model(&world, "text-cheap", &[("text_generation", text)], 1_000).await;
    priced_model(&world, "vision-cheap", &[("image_understanding", vision)], 500_000).await;
    world.fake.set(Scenario::text("A red dot."));
    let (_, file) = upload(&world, "dot.png", PNG).await;
    let file = file["id"].as_str().expect("a file").to_owned();

    let (status, refused) = chat(
        &world,
        &world.user,
        json!({"model": "text-cheap", "content": "What is this?", "files": [file]}),
    )
    .await;
    assert!((400..500).contains(&status), "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|text| text.contains("images")),
        "{refused}"
    );
    assert!(world.fake.requests().is_empty(), "refused before any call");

    for (body, chosen) in [
        (json!({"content": "Just text."}), "text-cheap"),
        (json!({"content": "What is this?", "files": [file]}), "vision-cheap"),
        (
            json!({"model": "auto", "content": "And this?", "images": [{"url": "https://example.com/cat.jpg"}]}),
            "vision-cheap",
        ),
    ] {
        let (status, exchange) = chat(&world, &world.user, body.clone()).await;
        assert_eq!(status, 201, "{body}: {exchange}");
        assert_eq!(exchange["answer"]["model"], chosen, "{body}");
    }
}
