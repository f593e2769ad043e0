//! `GET /api/v1/logs`: filters, the cursor, one request by its id.

use reqwest::Method;
use serde_json::json;
use switchyard_testkit::Protocol;

use super::{chat_as, member, mixed_traffic, usage_world};
use crate::gateway::chat_model;

#[tokio::test]
async fn the_call_log_pages_newest_first_and_filters() {
    let world = usage_world().await;
    let bob = member(&world, "bob").await;
    let sent = mixed_traffic(&world, &bob).await;
    world.log(sent).await;

    // Every call in pages of three, newest first, no entry twice.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/logs?limit=3&cursor={cursor}"),
            None => "/api/v1/logs?limit=3".to_owned(),
        };
        let (status, page) = world.app.call(Method::GET, &path, &world.admin, None).await;
        assert_eq!(status, 200, "{page}");
        for entry in page["data"].as_array().expect("entries") {
            seen.push((
                entry["created_at"].as_str().expect("a time").to_owned(),
                entry["id"].as_str().expect("an id").to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), sent);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first");

    let count = |path: String| {
        let world = &world;
        async move {
            let (status, page) = world.app.call(Method::GET, &path, &world.admin, None).await;
            assert_eq!(status, 200, "{path}: {page}");
            page["data"].as_array().expect("entries").len()
        }
    };
    assert_eq!(count("/api/v1/logs?status=502".into()).await, 1);
    assert_eq!(count("/api/v1/logs?error_code=upstream_error".into()).await, 1);
    assert_eq!(count("/api/v1/logs?stream=true".into()).await, 1);
    assert_eq!(count(format!("/api/v1/logs?user_id={}", bob.session.user_id)).await, 2);
    assert_eq!(count(format!("/api/v1/logs?api_key_id={}", bob.key_id)).await, 2);
    assert_eq!(
        count("/api/v1/logs?from=2026-11-22T09:00:00Z&to=2026-11-22T10:00:00Z".into()).await,
        3,
        "the hour after the first"
    );
    let (_, suppliers) = world
        .app
        .call(Method::GET, "/api/v1/suppliers", &world.admin, None)
        .await;
    let gemini = suppliers["data"]
        .as_array()
        .expect("suppliers")
        .iter()
        .find(|supplier| supplier["protocol"] == json!("gemini"))
        .expect("the Gemini supplier")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(count(format!("/api/v1/logs?supplier_id={gemini}")).await, 2);

    // One request by its id: every try, with its figures.
    let (status, request) = world
        .app
        .call(Method::GET, "/api/v1/logs/alice-fails", &world.user, None)
        .await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(request["request_id"], json!("alice-fails"));
    let entry = &request["data"][0];
    assert_eq!(entry["status_code"], json!(502));
    assert_eq!(entry["error_code"], json!("upstream_error"));
    assert_eq!(entry["attempt"], json!(1));
    for (path, status) in [
        ("/api/v1/logs?status=99", 422),
        ("/api/v1/logs?stream=maybe", 400),
        ("/api/v1/logs?limit=0", 422),
        ("/api/v1/logs?cursor=nonsense", 400),
        ("/api/v1/logs?from=2026-11-23T00:00:00Z&to=2026-11-22T00:00:00Z", 422),
        ("/api/v1/logs?body=1", 400),
        ("/api/v1/logs/nobody-sent-this", 404),
    ] {
        let (got, body) = world.app.call(Method::GET, path, &world.admin, None).await;
        assert_eq!(got, status, "{path}: {body}");
    }
    // A request id another caller reused stays apart.
    let response = chat_as(
        &world,
        &bob.key,
        "alice-0",
        &super::ask(&chat_model(Protocol::OpenAi), "mine"),
    )
    .await;
    assert_eq!(response.status(), 200);
    world.log(sent + 1).await;
    let (_, mine) = world
        .app
        .call(Method::GET, "/api/v1/logs/alice-0", &bob.session, None)
        .await;
    assert_eq!(mine["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(mine["data"][0]["user_id"], json!(bob.session.user_id));
    let (_, both) = world
        .app
        .call(Method::GET, "/api/v1/logs/alice-0", &world.admin, None)
        .await;
    assert_eq!(both["data"].as_array().map(Vec::len), Some(2), "an admin sees both");
}
