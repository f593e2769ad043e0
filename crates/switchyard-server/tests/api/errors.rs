//! Every failure is a 4xx (or 5xx) with a JSON body: the platform's shape under `/api`, OpenAI's
//! shape under `/v1`. Never HTML, never a 500 for bad input.

use serde_json::{Value, json};

use crate::helpers::{json_body, spawn_app, spawn_app_with};

const PLATFORM: &str = "/api/v1/test/widgets";
const GATEWAY: &str = "/v1/test/widgets";

/// Posts `body` and returns the status and the JSON error body.
async fn post(app: &crate::helpers::TestApp, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let response = app.post_raw(path, content_type, body.to_owned()).await;
    let status = response.status().as_u16();
    (status, json_body(response).await)
}

fn platform_error(body: &Value) -> (&str, &str, Option<&str>) {
    let error = &body["error"];
    (
        error["code"].as_str().expect("code in the body"),
        error["message"].as_str().expect("message in the body"),
        error["details"][0]["field"].as_str(),
    )
}

#[tokio::test]
async fn a_valid_body_is_accepted() {
    let app = spawn_app().await;
    let (status, body) = post(&app, PLATFORM, "application/json", r#"{"name":"a","size":1,"tags":[]}"#).await;
    assert_eq!(status, 201);
    assert_eq!(body, json!({"name": "a", "size": 1, "tags": []}));
}

#[tokio::test]
async fn malformed_json_is_400_invalid_request() {
    let app = spawn_app().await;
    let (status, body) = post(&app, PLATFORM, "application/json", r#"{"name": "a", "#).await;
    assert_eq!(status, 400);
    let (code, message, _) = platform_error(&body);
    assert_eq!(code, "invalid_request");
    assert!(message.contains("not valid JSON"), "{message}");
}

#[tokio::test]
async fn a_missing_field_is_400_naming_the_field() {
    let app = spawn_app().await;
    let (status, body) = post(&app, PLATFORM, "application/json", r#"{"name":"a","tags":[]}"#).await;
    assert_eq!(status, 400);
    assert_eq!(platform_error(&body).0, "invalid_request");
    assert_eq!(
        body["error"]["details"][0],
        json!({"field": "size", "code": "missing_field", "message": "missing field `size`"})
    );
}

#[tokio::test]
async fn a_mistyped_field_is_400_naming_the_field() {
    let app = spawn_app().await;
    let (status, body) = post(
        &app,
        PLATFORM,
        "application/json",
        r#"{"name":"a","size":1,"tags":[1]}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(platform_error(&body).2, Some("tags[0]"));
    assert_eq!(body["error"]["details"][0]["code"], "invalid_type");
}

#[tokio::test]
async fn an_unknown_field_is_400_naming_the_field() {
    let app = spawn_app().await;
    let (status, body) = post(
        &app,
        PLATFORM,
        "application/json",
        r#"{"name":"a","size":1,"tags":[],"colour":"red"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(platform_error(&body).2, Some("colour"));
    assert_eq!(body["error"]["details"][0]["code"], "unknown_field");
}

#[tokio::test]
async fn a_broken_rule_is_422_validation_failed() {
    let app = spawn_app().await;
    let (status, body) = post(
        &app,
        PLATFORM,
        "application/json",
        r#"{"name":"  ","size":1,"tags":[]}"#,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        platform_error(&body),
        ("validation_failed", "name: must not be blank", Some("name"))
    );
}

#[tokio::test]
async fn a_wrong_content_type_is_415() {
    let app = spawn_app().await;
    let (status, body) = post(&app, PLATFORM, "text/plain", r#"{"name":"a","size":1,"tags":[]}"#).await;
    assert_eq!(status, 415);
    assert_eq!(platform_error(&body).0, "unsupported_media_type");
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let app = spawn_app_with(|settings| settings.server.body_limit = 1024).await;
    let big = format!(r#"{{"name":"{}","size":1,"tags":[]}}"#, "x".repeat(2048));
    let (status, body) = post(&app, PLATFORM, "application/json", &big).await;
    assert_eq!(status, 413);
    let (code, message, _) = platform_error(&body);
    assert_eq!(code, "payload_too_large");
    assert!(message.contains("1024"), "{message}");
}

#[tokio::test]
async fn an_unknown_route_is_404_json() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/no-such-thing").await;
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(platform_error(&json_body(response).await).0, "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_405_json() {
    let app = spawn_app().await;
    let response = app.client.delete(app.url("/health/live")).send().await.expect("DELETE");
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "GET");
    assert_eq!(platform_error(&json_body(response).await).0, "method_not_allowed");
    let response = app.get(PLATFORM).await;
    assert_eq!(response.status().as_u16(), 405);
}

fn openai_error(body: &Value) -> (&str, Option<&str>, &str) {
    let error = &body["error"];
    assert!(error["message"].is_string(), "{body}");
    assert!(error.get("details").is_none(), "OpenAI's shape has no details: {body}");
    (
        error["type"].as_str().expect("type in the body"),
        error["param"].as_str(),
        error["code"].as_str().expect("code in the body"),
    )
}

#[tokio::test]
async fn gateway_errors_use_openai_shape_for_every_case() {
    let app = spawn_app_with(|settings| settings.server.body_limit = 1024).await;
    let cases: [(&str, &str, u16, &str, Option<&str>); 6] = [
        (r#"{"name": "#, "application/json", 400, "invalid_request", None),
        (
            r#"{"name":"a","tags":[]}"#,
            "application/json",
            400,
            "invalid_request",
            Some("size"),
        ),
        (
            r#"{"name":"a","size":"1","tags":[]}"#,
            "application/json",
            400,
            "invalid_request",
            Some("size"),
        ),
        // A broken rule is a 400 under /v1, as OpenAI answers it.
        (
            r#"{"name":"","size":1,"tags":[]}"#,
            "application/json",
            400,
            "invalid_request",
            Some("name"),
        ),
        (
            r#"{"name":"a","size":1,"tags":[]}"#,
            "text/plain",
            415,
            "unsupported_media_type",
            None,
        ),
        (
            &format!(r#"{{"name":"{}"}}"#, "x".repeat(2048)),
            "application/json",
            413,
            "payload_too_large",
            None,
        ),
    ];
    for (body, content_type, status, code, param) in cases {
        let (got_status, got) = post(&app, GATEWAY, content_type, body).await;
        assert_eq!(got_status, status, "{body}: {got}");
        assert_eq!(openai_error(&got), ("invalid_request_error", param, code), "{body}");
    }

    let response = app.get("/v1/no-such-model-route").await;
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(openai_error(&json_body(response).await).2, "not_found");

    let response = app.get(GATEWAY).await;
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(openai_error(&json_body(response).await).2, "method_not_allowed");
}
