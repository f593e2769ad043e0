//! Capabilities: typed input and output kinds, admin writes, what other users see.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

fn vision() -> Value {
    json!({
        "name": "vision",
        "display_name": "Image understanding",
        "input_types": ["text", "image", "text"],
        "output_types": ["text"],
        "domain": "multimodal",
    })
}

#[tokio::test]
async fn admins_create_patch_delete_and_restore_capabilities() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let (status, created) = app
        .call(Method::POST, "/api/v1/capabilities", &admin, Some(vision()))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["input_types"],
        json!(["image", "text"]),
        "deduplicated and sorted"
    );
    assert_eq!(
        (created["domain"].as_str(), created["capability_type"].as_str()),
        (Some("multimodal"), Some("general"))
    );
    let path = format!(
        "/api/v1/capabilities/{}",
        created["id"].as_str().expect("id in the body")
    );

    let (status, patched) = app
        .call(
            Method::PATCH,
            &path,
            &admin,
            Some(json!({"output_types": ["text", "file"], "description": "sees"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["output_types"], json!(["file", "text"]));
    assert_eq!(
        patched["input_types"],
        json!(["image", "text"]),
        "absent fields are kept"
    );

    // Rules: an unknown kind does not read (400); an empty set breaks a rule (422); a duplicate name is 409.
    let mut bad = vision();
    bad["input_types"] = json!(["smell"]);
    assert_eq!(
        app.call(Method::POST, "/api/v1/capabilities", &admin, Some(bad))
            .await
            .0,
        400
    );
    let mut empty = vision();
    empty["name"] = json!("other");
    empty["output_types"] = json!([]);
    let (status, body) = app
        .call(Method::POST, "/api/v1/capabilities", &admin, Some(empty))
        .await;
    assert_eq!(
        (status, body["error"]["details"][0]["field"].as_str()),
        (422, Some("output_types"))
    );
    assert_eq!(
        app.call(Method::POST, "/api/v1/capabilities", &admin, Some(vision()))
            .await
            .0,
        409
    );

    assert_eq!(app.call(Method::DELETE, &path, &admin, None).await.0, 204);
    let (_, list) = app.call(Method::GET, "/api/v1/capabilities", &admin, None).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0));
    let (status, restored) = app.call(Method::POST, &format!("{path}/restore"), &admin, None).await;
    assert_eq!((status, restored["deleted_at"].is_null()), (200, true));
    let (_, list) = app
        .call(
            Method::GET,
            "/api/v1/capabilities?domain=multimodal&q=VISION",
            &admin,
            None,
        )
        .await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn users_see_active_capabilities_only_and_cannot_write() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let user = app.create_user("reader").await;
    app.call(Method::POST, "/api/v1/capabilities", &admin, Some(vision()))
        .await;
    let mut hidden = vision();
    hidden["name"] = json!("speech_recognition");
    hidden["is_active"] = json!(false);
    let (_, hidden) = app
        .call(Method::POST, "/api/v1/capabilities", &admin, Some(hidden))
        .await;

    let (_, list) = app
        .call(Method::GET, "/api/v1/capabilities?active=false", &user, None)
        .await;
    let names: Vec<&str> = list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["vision"], "a user's filter cannot reveal inactive rows");
    let hidden_path = format!(
        "/api/v1/capabilities/{}",
        hidden["id"].as_str().expect("id in the body")
    );
    assert_eq!(app.call(Method::GET, &hidden_path, &user, None).await.0, 404);
    assert_eq!(app.call(Method::GET, &hidden_path, &admin, None).await.0, 200);
    for (method, body) in [(Method::POST, Some(vision())), (Method::DELETE, None)] {
        let path = if method == Method::POST {
            "/api/v1/capabilities".to_owned()
        } else {
            hidden_path.clone()
        };
        assert_eq!(app.call(method, &path, &user, body).await.0, 403);
    }
}
