//! The category tree: nesting, cycles, delete modes, visibility.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, spawn_app};

async fn create(app: &TestApp, admin: &Session, name: &str, parent: Option<&str>) -> String {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/categories",
            admin,
            Some(json!({"name": name, "parent_id": parent})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("id").to_owned()
}

/// The tree as nested names: `[("llm", [("chat", []), ...]), ...]`.
fn names(nodes: &Value) -> Value {
    Value::Array(
        nodes
            .as_array()
            .into_iter()
            .flatten()
            .map(|node| json!([node["name"], names(&node["children"])]))
            .collect(),
    )
}

#[tokio::test]
async fn the_tree_nests_and_a_cycle_is_refused() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let llm = create(&app, &admin, "llm", None).await;
    let chat = create(&app, &admin, "chat", Some(&llm)).await;
    create(&app, &admin, "reasoning", Some(&llm)).await;
    let code = create(&app, &admin, "code", Some(&chat)).await;
    create(&app, &admin, "embedding", None).await;

    let (status, tree) = app.call(Method::GET, "/api/v1/categories/tree", &admin, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        names(&tree["data"]),
        json!([
            ["embedding", []],
            ["llm", [["chat", [["code", []]]], ["reasoning", []]]]
        ])
    );
    assert_eq!(tree["data"][1]["children"][0]["parent_id"].as_str(), Some(llm.as_str()));

    // Under its own descendant, or under itself: 409.
    for parent in [&code, &chat, &llm] {
        let (status, body) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/categories/{llm}"),
                &admin,
                Some(json!({"parent_id": parent})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("category_cycle")),
            "under {parent}"
        );
    }
    // A legal move: code to the root.
    let (status, moved) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/categories/{code}"),
            &admin,
            Some(json!({"parent_id": null})),
        )
        .await;
    assert_eq!((status, moved["parent_id"].is_null()), (200, true));
}

#[tokio::test]
async fn sibling_names_are_unique_and_parents_must_exist() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let llm = create(&app, &admin, "llm", None).await;
    let vision = create(&app, &admin, "vision", None).await;
    create(&app, &admin, "chat", Some(&llm)).await;
    create(&app, &admin, "chat", Some(&vision)).await;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/categories",
            &admin,
            Some(json!({"name": "chat", "parent_id": llm})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .call(Method::POST, "/api/v1/categories", &admin, Some(json!({"name": "llm"})))
        .await;
    assert_eq!(status, 409, "roots are siblings too");
    let missing = uuid::Uuid::now_v7();
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/categories",
            &admin,
            Some(json!({"name": "x", "parent_id": missing})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["details"][0]["field"].as_str()),
        (422, Some("parent_id"))
    );
}

#[tokio::test]
async fn deleting_a_parent_needs_a_mode_and_reassign_moves_the_children_up() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let llm = create(&app, &admin, "llm", None).await;
    let chat = create(&app, &admin, "chat", Some(&llm)).await;
    create(&app, &admin, "fast", Some(&chat)).await;
    create(&app, &admin, "slow", Some(&chat)).await;

    let (status, body) = app
        .call(Method::DELETE, &format!("/api/v1/categories/{chat}"), &admin, None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("category_not_empty"))
    );
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/categories/{chat}?mode=reassign"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (_, tree) = app.call(Method::GET, "/api/v1/categories/tree", &admin, None).await;
    assert_eq!(names(&tree["data"]), json!([["llm", [["fast", []], ["slow", []]]]]));
    let (_, tree) = app
        .call(
            Method::GET,
            "/api/v1/categories/tree?include_deleted=true",
            &admin,
            None,
        )
        .await;
    assert_eq!(
        names(&tree["data"]),
        json!([["llm", [["chat", []], ["fast", []], ["slow", []]]]])
    );

    let (status, restored) = app
        .call(
            Method::POST,
            &format!("/api/v1/categories/{chat}/restore"),
            &admin,
            None,
        )
        .await;
    assert_eq!((status, restored["deleted_at"].is_null()), (200, true));
    // A leaf deletes without a mode.
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/v1/categories/{chat}"), &admin, None)
        .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn users_see_only_active_branches_and_cannot_write() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let user = app.create_user("reader").await;
    let llm = create(&app, &admin, "llm", None).await;
    create(&app, &admin, "chat", Some(&llm)).await;
    let hidden = create(&app, &admin, "internal", None).await;
    create(&app, &admin, "secret-child", Some(&hidden)).await;
    app.call(
        Method::PATCH,
        &format!("/api/v1/categories/{hidden}"),
        &admin,
        Some(json!({"is_active": false})),
    )
    .await;

    let (_, tree) = app.call(Method::GET, "/api/v1/categories/tree", &user, None).await;
    assert_eq!(names(&tree["data"]), json!([["llm", [["chat", []]]]]));
    assert_eq!(
        app.call(Method::GET, &format!("/api/v1/categories/{hidden}"), &user, None)
            .await
            .0,
        404
    );
    let (_, tree) = app.call(Method::GET, "/api/v1/categories/tree", &admin, None).await;
    assert_eq!(tree["data"].as_array().map(Vec::len), Some(2));
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/categories/tree",
            &admin,
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );

    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/categories".to_owned(),
            Some(json!({"name": "mine"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/categories/{llm}"),
            Some(json!({"name": "llm2"})),
        ),
        (Method::DELETE, format!("/api/v1/categories/{llm}"), None),
    ] {
        let (status, _) = app.call(method.clone(), &path, &user, body).await;
        assert_eq!(status, 403, "{method} {path}");
    }
}
