//! Conversations, black-box: the owner's routes (create, list with filters, patch, archive,
//! delete and restore, purge, export) and that another user finds none of it. Turns — a
//! message sent and answered through the gateway against the fake upstream — are in
//! `turns.rs`.

mod chat;
mod files;
mod paging;
mod s3;
mod turns;

use reqwest::Method;
use serde_json::{Value, json};

use crate::gateway::{World, chat_model, world};
use crate::helpers::Session;
use switchyard_testkit::{Protocol, Scenario};

/// Starts a conversation of `user`'s; returns its id.
pub async fn start(world: &World, user: &Session, body: Value) -> String {
    let (status, created) = world
        .app
        .call(Method::POST, "/api/v1/conversations", user, Some(body))
        .await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().expect("an id").to_owned()
}

/// Sends a message (whole) into a conversation of the world's user.
pub async fn send(world: &World, id: &str, body: Value) -> (u16, Value) {
    world
        .app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{id}/messages"),
            &world.user,
            Some(body),
        )
        .await
}

/// Every message of a conversation of the world's user, oldest first.
pub async fn messages(world: &World, id: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/conversations/{id}/messages?order=asc&limit=200");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = world.app.call(Method::GET, &path, &world.user, None).await;
        assert_eq!(status, 200, "{page}");
        all.extend(page["data"].as_array().expect("a page").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
}

pub async fn conversation(world: &World, id: &str) -> Value {
    let (status, body) = world
        .app
        .call(Method::GET, &format!("/api/v1/conversations/{id}"), &world.user, None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn titles(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|conversation| conversation["title"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn a_conversation_is_created_listed_searched_patched_archived_deleted_restored_and_purged() {
    let world = world().await;
    let model = chat_model(Protocol::OpenAi);
    let user = &world.user;
    let first = start(&world, user, json!({"title": "Trip to Paris", "model": model})).await;
    let second = start(
        &world,
        user,
        json!({"title": "Rust lifetimes", "model": model, "system_prompt": "Be brief."}),
    )
    .await;
    let untitled = start(&world, user, json!({"model": model})).await;
    let body = conversation(&world, &second).await;
    assert_eq!(body["system_prompt"], "Be brief.");
    assert_eq!(body["message_count"], 0);
    assert_eq!(body["is_deleted"], false);
    assert_eq!(conversation(&world, &untitled).await["title"], Value::Null);

    let app = &world.app;
    let (status, page) = app.call(Method::GET, "/api/v1/conversations", user, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(titles(&page), ["", "Rust lifetimes", "Trip to Paris"], "newest first");
    let (_, page) = app.call(Method::GET, "/api/v1/conversations?q=PARIS", user, None).await;
    assert_eq!(titles(&page), ["Trip to Paris"], "the search ignores case");
    let (_, page) = app.call(Method::GET, "/api/v1/conversations?q=%25", user, None).await;
    assert_eq!(titles(&page), Vec::<String>::new(), "% is a character, not a wildcard");
    let (_, page) = app.call(Method::GET, "/api/v1/conversations?limit=2", user, None).await;
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let (_, rest) = app
        .call(
            Method::GET,
            &format!("/api/v1/conversations?limit=2&cursor={cursor}"),
            user,
            None,
        )
        .await;
    assert_eq!(titles(&rest), ["Trip to Paris"]);

    let path = format!("/api/v1/conversations/{second}");
    let (status, patched) = app
        .call(
            Method::PATCH,
            &path,
            user,
            Some(json!({"system_prompt": null, "title": "Lifetimes"})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["title"], "Lifetimes");
    assert_eq!(patched["system_prompt"], Value::Null);
    assert_eq!(patched["model"], model.as_str(), "what the patch does not name stays");
    let (status, refused) = app.call(Method::PATCH, &path, user, Some(json!({"model": "  "}))).await;
    assert_eq!(status, 422, "{refused}");
    let (status, refused) = app
        .call(Method::PATCH, &path, user, Some(json!({"colour": "red"})))
        .await;
    assert_eq!(status, 400, "{refused}");

    let (status, archived) = app.call(Method::POST, &format!("{path}/archive"), user, None).await;
    assert_eq!((status, archived["is_archived"].clone()), (200, json!(true)));
    let (_, page) = app
        .call(Method::GET, "/api/v1/conversations?archived=true", user, None)
        .await;
    assert_eq!(titles(&page), ["Lifetimes"]);
    let (_, page) = app
        .call(Method::GET, "/api/v1/conversations?archived=false", user, None)
        .await;
    assert_eq!(titles(&page), ["", "Trip to Paris"]);
    let (status, _) = app.call(Method::POST, &format!("{path}/unarchive"), user, None).await;
    assert_eq!(status, 200);

    let first_path = format!("/api/v1/conversations/{first}");
    let (status, _) = app.call(Method::DELETE, &first_path, user, None).await;
    assert_eq!(status, 204);
    let (_, page) = app.call(Method::GET, "/api/v1/conversations", user, None).await;
    assert_eq!(titles(&page), ["", "Lifetimes"]);
    let (_, page) = app
        .call(Method::GET, "/api/v1/conversations?deleted=true", user, None)
        .await;
    assert_eq!(titles(&page), ["Trip to Paris"]);
    let (status, refused) = send(&world, &first, json!({"content": "hello"})).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "conversation_deleted");
    let (status, restored) = app
        .call(Method::POST, &format!("{first_path}/restore"), user, None)
        .await;
    assert_eq!((status, restored["is_deleted"].clone()), (200, json!(false)));

    world.fake.set(Scenario::text("Bonjour."));
    let (status, _) = send(&world, &first, json!({"content": "hello"})).await;
    assert_eq!(status, 201);
    let (status, _) = app
        .call(Method::DELETE, &format!("{first_path}?permanent=true"), user, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app.call(Method::GET, &first_path, user, None).await;
    assert_eq!(status, 404, "a purged conversation is gone");
    let (status, _) = app
        .call(Method::GET, &format!("{first_path}/messages"), user, None)
        .await;
    assert_eq!(status, 404, "and so are its messages");
}

#[tokio::test]
async fn an_export_holds_every_message_as_json_and_as_markdown() {
    let world = world().await;
    let id = start(
        &world,
        &world.user,
        json!({"title": "Colours", "model": chat_model(Protocol::OpenAi), "system_prompt": "Answer in one word."}),
    )
    .await;
    world.fake.set(Scenario::text("Blue."));
    let (status, _) = send(&world, &id, json!({"content": "What colour is the sky?"})).await;
    assert_eq!(status, 201);
    let (status, export) = world
        .app
        .call(
            Method::GET,
            &format!("/api/v1/conversations/{id}/export"),
            &world.user,
            None,
        )
        .await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["conversation"]["title"], "Colours");
    let texts: Vec<&str> = export["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|message| message["content"].as_str().expect("text"))
        .collect();
    assert_eq!(texts, ["What colour is the sky?", "Blue."]);
    let response = world
        .app
        .client
        .get(
            world
                .app
                .url(&format!("/api/v1/conversations/{id}/export?format=markdown")),
        )
        .bearer_auth(&world.user.access)
        .send()
        .await
        .expect("the export answers");
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|value| value.starts_with("text/markdown"))
    );
    let markdown = response.text().await.expect("a body");
    for expected in [
        "# Colours",
        "Answer in one word.",
        "## User",
        "What colour is the sky?",
        "## Assistant",
        "Blue.",
    ] {
        assert!(markdown.contains(expected), "{expected:?} in {markdown}");
    }
}

#[tokio::test]
async fn another_user_finds_none_of_a_conversation_on_any_route() {
    let world = world().await;
    world.fake.set(Scenario::text("Fine."));
    let id = start(
        &world,
        &world.user,
        json!({"title": "Mine", "model": chat_model(Protocol::OpenAi)}),
    )
    .await;
    let (status, exchange) = send(&world, &id, json!({"content": "How are you?"})).await;
    assert_eq!(status, 201, "{exchange}");
    let answer = exchange["answer"]["id"].as_str().expect("an answer id");
    let question = exchange["question"]["id"].as_str().expect("a question id");
    let bob = world.app.create_user("bob").await;
    let base = format!("/api/v1/conversations/{id}");
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, base.clone(), None),
        (Method::PATCH, base.clone(), Some(json!({"title": "Bob's now"}))),
        (Method::POST, format!("{base}/archive"), None),
        (Method::POST, format!("{base}/unarchive"), None),
        (Method::POST, format!("{base}/restore"), None),
        (Method::GET, format!("{base}/export"), None),
        (Method::GET, format!("{base}/export?format=markdown"), None),
        (Method::GET, format!("{base}/messages"), None),
        (Method::POST, format!("{base}/messages"), Some(json!({"content": "hi"}))),
        (Method::DELETE, format!("{base}/messages/{question}"), None),
        (
            Method::POST,
            format!("{base}/messages/{answer}/regenerate"),
            Some(json!({})),
        ),
        (Method::DELETE, base.clone(), None),
        (Method::DELETE, format!("{base}?permanent=true"), None),
    ];
    for (method, path, body) in routes {
        let (status, error) = world.app.call(method.clone(), &path, &bob, body).await;
        assert_eq!(status, 404, "{method} {path}: {error}");
        assert_eq!(error["error"]["code"], "not_found", "{method} {path}");
    }
    let (_, page) = world.app.call(Method::GET, "/api/v1/conversations", &bob, None).await;
    assert_eq!(page["data"], json!([]));
    let (_, page) = world
        .app
        .call(Method::GET, "/api/v1/conversations?deleted=true", &bob, None)
        .await;
    assert_eq!(page["data"], json!([]));
    let mine = conversation(&world, &id).await;
    assert_eq!(
        (mine["title"].clone(), mine["message_count"].clone()),
        (json!("Mine"), json!(2))
    );
    assert_eq!(world.fake.requests().len(), 1, "bob's send reached no supplier");
}
