//! Gateway API keys: created once with their secret, listed, revoked, deleted; only for `/v1`.

use serde_json::json;

use crate::helpers::{json_body, spawn_app};

#[tokio::test]
async fn a_key_is_shown_once_and_authenticates_only_the_gateway() {
    let app = spawn_app().await;
    let user = app.create_user("rita").await;
    let response = app
        .post_authed(
            "/api/v1/api-keys",
            &user.access,
            &json!({"name": "laptop", "allowed_models": ["gpt-4o", "deepseek-chat"]}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let created = json_body(response).await;
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("sy-") && secret.len() == 46, "{secret}");
    assert_eq!(created["key"]["prefix"].as_str(), Some(&secret[3..11]));
    assert_eq!(created["key"]["status"], "active");
    let id = created["key"]["id"].as_str().expect("id").to_owned();

    let whoami = json_body(app.get_authed("/v1/test/whoami", &secret).await).await;
    assert_eq!(whoami["user_id"].as_str(), Some(user.user_id.as_str()));
    assert_eq!(whoami["allowed_models"], json!(["gpt-4o", "deepseek-chat"]));

    // The key is not a login: /api/v1 wants a JWT.
    let response = app.get_authed("/api/v1/users/me", &secret).await;
    assert_eq!(response.status().as_u16(), 401);
    // The gateway also takes the user's own access token (a signed-in web client), as the
    // user and with no key.
    let response = app.get_authed("/v1/test/whoami", &user.access).await;
    assert_eq!(response.status().as_u16(), 200);
    let whoami = json_body(response).await;
    assert_eq!(whoami["user_id"].as_str(), Some(user.user_id.as_str()));
    assert_eq!(whoami["key_id"], json!(null));
    // Anything else is neither.
    let response = app.get_authed("/v1/test/whoami", "not-a-token").await;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(json_body(response).await["error"]["code"], "invalid_api_key");

    // The secret is never shown again.
    let listed = app
        .get_authed("/api/v1/api-keys", &user.access)
        .await
        .text()
        .await
        .expect("a text body");
    let fetched = app
        .get_authed(&format!("/api/v1/api-keys/{id}"), &user.access)
        .await
        .text()
        .await
        .expect("a text body");
    assert!(!listed.contains(&secret) && !fetched.contains(&secret));
    assert!(fetched.contains("laptop"));
}

#[tokio::test]
async fn revoked_deleted_and_expired_keys_stop_working() {
    let app = spawn_app().await;
    let user = app.create_user("sam").await;
    let mut secrets = Vec::new();
    let in_an_hour = (switchyard_domain::Clock::now(app.clock.as_ref()) + chrono::Duration::hours(1)).to_rfc3339();
    for body in [
        json!({"name": "a"}),
        json!({"name": "b"}),
        json!({"name": "c", "expires_at": in_an_hour}),
    ] {
        let created = json_body(app.post_authed("/api/v1/api-keys", &user.access, &body).await).await;
        secrets.push((
            created["key"]["id"].as_str().expect("key.id in the body").to_owned(),
            created["secret"].as_str().expect("secret in the body").to_owned(),
        ));
    }
    for (_, secret) in &secrets {
        assert_eq!(app.get_authed("/v1/test/whoami", secret).await.status().as_u16(), 200);
    }

    let revoked = json_body(
        app.post_authed(
            &format!("/api/v1/api-keys/{}/revoke", secrets[0].0),
            &user.access,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(
        app.get_authed("/v1/test/whoami", &secrets[0].1).await.status().as_u16(),
        401
    );

    let response = app
        .authed(
            reqwest::Method::DELETE,
            &format!("/api/v1/api-keys/{}", secrets[1].0),
            &user.access,
        )
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(
        app.get_authed("/v1/test/whoami", &secrets[1].1).await.status().as_u16(),
        401
    );
    assert_eq!(
        app.get_authed(&format!("/api/v1/api-keys/{}", secrets[1].0), &user.access)
            .await
            .status()
            .as_u16(),
        404
    );

    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        app.get_authed("/v1/test/whoami", &secrets[2].1).await.status().as_u16(),
        401
    );
    // Two hours on, the access token has expired too.
    let user = app.login_ok("sam", crate::helpers::PASSWORD).await;

    let listed = json_body(app.get_authed("/api/v1/api-keys", &user.access).await).await;
    let statuses: Vec<&str> = listed["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|key| key["status"].as_str())
        .collect();
    assert_eq!(statuses, ["expired", "revoked"], "newest first, deleted left out");

    let past = json_body(
        app.post_authed(
            "/api/v1/api-keys",
            &user.access,
            &json!({"name": "old", "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await,
    )
    .await;
    assert_eq!(past["error"]["details"][0]["field"], "expires_at");
}

#[tokio::test]
async fn another_users_key_is_404() {
    let app = spawn_app().await;
    let owner = app.create_user("tara").await;
    let other = app.create_user("uma").await;
    let created = json_body(
        app.post_authed("/api/v1/api-keys", &owner.access, &json!({"name": "mine"}))
            .await,
    )
    .await;
    let id = created["key"]["id"].as_str().expect("id");
    for (method, path) in [
        (reqwest::Method::GET, format!("/api/v1/api-keys/{id}")),
        (reqwest::Method::POST, format!("/api/v1/api-keys/{id}/revoke")),
        (reqwest::Method::DELETE, format!("/api/v1/api-keys/{id}")),
    ] {
        let response = app
            .authed(method.clone(), &path, &other.access)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 404, "{method} {path}");
    }
    let theirs = json_body(app.get_authed("/api/v1/api-keys", &other.access).await).await;
    assert_eq!(theirs["data"].as_array().map(Vec::len), Some(0));
    // Still intact for its owner.
    let mine = json_body(app.get_authed(&format!("/api/v1/api-keys/{id}"), &owner.access).await).await;
    assert_eq!(mine["status"], "active");
}
