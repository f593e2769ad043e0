//! Registration, login, tokens, lockout, sessions and the caller's own account.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, json_body, spawn_app, spawn_app_with};

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body = json_body(response).await;
    (
        status,
        body["error"]["code"]
            .as_str()
            .expect("error.code in the body")
            .to_owned(),
    )
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": token}))
        .await
}

#[tokio::test]
async fn register_login_me_refresh_reuse_and_logout() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"username": "Alice", "email": "Alice@Example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let user = json_body(response).await;
    assert_eq!(user["username"], "Alice");
    assert_eq!(user["role"], "user");
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());

    // Login by email, case-insensitively.
    let response = app.login("alice@example.COM", PASSWORD).await;
    assert_eq!(response.status().as_u16(), 200);
    let tokens = json_body(response).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().expect("access_token in the body");
    let first_refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh_token in the body")
        .to_owned();

    let me = json_body(app.get_authed("/api/v1/users/me", access).await).await;
    assert_eq!(me["id"], user["id"]);

    // Rotation: the refresh token is spent, a new pair comes back.
    let rotated = json_body(refresh(&app, &first_refresh).await).await;
    let second_refresh = rotated["refresh_token"]
        .as_str()
        .expect("refresh_token in the body")
        .to_owned();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(
        app.get_authed(
            "/api/v1/users/me",
            rotated["access_token"].as_str().expect("access_token in the body")
        )
        .await
        .status(),
        200
    );

    // A retry within the grace period gets the same successor.
    let retried = json_body(refresh(&app, &first_refresh).await).await;
    assert_eq!(retried["refresh_token"], second_refresh.as_str());

    // Later, the spent token is a reuse: the whole family is revoked, the successor too.
    app.clock.advance(Duration::seconds(30));
    assert_eq!(
        error_code(refresh(&app, &first_refresh).await).await,
        (401, "invalid_refresh_token".into())
    );
    assert_eq!(
        error_code(refresh(&app, &second_refresh).await).await,
        (401, "invalid_refresh_token".into())
    );

    // A new session, then logout ends it.
    let session = app.login_ok("alice", PASSWORD).await;
    let response = app
        .post_json("/api/v1/auth/logout", &json!({"refresh_token": session.refresh}))
        .await;
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(error_code(refresh(&app, &session.refresh).await).await.0, 401);
}

#[tokio::test]
async fn registration_is_refused_when_disabled() {
    let app = spawn_app_with(|settings| settings.auth.allow_registration = false).await;
    assert_eq!(
        error_code(app.register("bob", PASSWORD).await).await,
        (403, "registration_disabled".into())
    );
}

#[tokio::test]
async fn registration_rules_are_enforced_and_named() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"username": "ab", "password": PASSWORD}),
            "username",
            "invalid_length",
        ),
        (
            json!({"username": "bad name", "password": PASSWORD}),
            "username",
            "invalid_characters",
        ),
        (
            json!({"username": "carol", "password": "short"}),
            "password",
            "password_too_short",
        ),
        (
            json!({"username": "carol", "password": "x".repeat(73)}),
            "password",
            "password_too_long",
        ),
        // 72 bytes: bcrypt's own limit counts the terminating NUL (this was a 500).
        (
            json!({"username": "carol", "password": "x".repeat(72)}),
            "password",
            "password_too_long",
        ),
        (
            json!({"username": "carol", "password": "Password123"}),
            "password",
            "password_too_common",
        ),
        (
            json!({"username": "carol_smith", "password": "CAROL_SMITH"}),
            "password",
            "password_is_username",
        ),
        (
            json!({"username": "carol", "email": "nope", "password": PASSWORD}),
            "email",
            "invalid_email",
        ),
    ];
    for (body, field, rule) in cases {
        let response = app.post_json("/api/v1/auth/register", &body).await;
        assert_eq!(response.status().as_u16(), 422, "{body}");
        let error = json_body(response).await;
        assert_eq!(error["error"]["details"][0]["field"], field, "{body}");
        assert_eq!(error["error"]["details"][0]["code"], rule, "{body}");
    }
    app.create_user("Dave").await;
    assert_eq!(
        error_code(app.register("dave", PASSWORD).await).await,
        (409, "username_taken".into())
    );
}

#[tokio::test]
async fn a_unicode_display_name_reads_back_unchanged() {
    let app = spawn_app().await;
    let session = app.create_user("wang").await;
    let name = "王小明 🚀✨ Ünïcödé";
    let response = app
        .authed(Method::PATCH, "/api/v1/users/me", &session.access)
        .header("content-type", "application/merge-patch+json")
        .body(json!({"display_name": name, "email": "wang@example.cn"}).to_string())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(response.status().as_u16(), 200);
    let me = json_body(app.get_authed("/api/v1/users/me", &session.access).await).await;
    assert_eq!(me["display_name"], name);
    assert_eq!(me["email"], "wang@example.cn");

    // null clears the email; an absent display name is kept.
    let response = app
        .authed(Method::PATCH, "/api/v1/users/me", &session.access)
        .json(&json!({"email": null}))
        .send()
        .await
        .expect("PATCH");
    let me = json_body(response).await;
    assert_eq!((me["display_name"].as_str(), me["email"].is_null()), (Some(name), true));
}

#[tokio::test]
async fn five_wrong_passwords_lock_and_the_lock_expires() {
    let app = spawn_app().await;
    app.create_user("erin").await;
    for _ in 0..5 {
        assert_eq!(
            error_code(app.login("erin", "wrong password!").await).await,
            (401, "invalid_credentials".into())
        );
    }
    // Locked: any password gets the same answer, which says until when.
    let response = app.login("erin", PASSWORD).await;
    let (status, body) = (response.status().as_u16(), json_body(response).await);
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("account_locked")));
    assert_eq!(body["error"]["details"][0]["field"], "locked_until");
    assert!(
        body["error"]["details"][0]["message"]
            .as_str()
            .expect("the lock's end in the details")
            .starts_with("2026-11-22T08:15:00")
    );
    assert_eq!(
        error_code(app.login("erin", "wrong password!").await).await,
        (403, "account_locked".into())
    );

    app.clock.advance(Duration::minutes(16));
    app.login_ok("erin", PASSWORD).await;
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.create_user("frank").await;
    let unknown = json_body(app.login("nobody", PASSWORD).await).await;
    let wrong = json_body(app.login("frank", "not the password").await).await;
    assert_eq!(unknown, wrong);
}

#[tokio::test]
async fn an_admin_unlocks_a_locked_account() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let user = app.create_user("gina").await;
    for _ in 0..5 {
        app.login("gina", "wrong password!").await;
    }
    assert_eq!(error_code(app.login("gina", PASSWORD).await).await.1, "account_locked");
    let response = app
        .post_authed(
            &format!("/api/v1/admin/users/{}/unlock", user.user_id),
            &admin.access,
            &json!({}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(json_body(response).await["is_locked"], false);
    app.login_ok("gina", PASSWORD).await;
}

#[tokio::test]
async fn the_login_rate_limit_answers_429_with_retry_after() {
    let app = spawn_app_with(|settings| settings.auth.rate_limits.login_per_address = 3).await;
    for _ in 0..3 {
        assert_eq!(app.login("nobody", PASSWORD).await.status().as_u16(), 401);
    }
    let response = app.login("nobody", PASSWORD).await;
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("an ASCII Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(json_body(response).await["error"]["code"], "rate_limited");
}

/// Re-signs claims with `secret` (or none), for forged-token tests.
fn forge(header: &Value, claims: &Value, secret: Option<&[u8]>) -> String {
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let signing_input = format!("{}.{}", encode(header), encode(claims));
    let signature = match secret {
        Some(secret) => {
            use hmac::Mac;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("a key");
            mac.update(signing_input.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        None => String::new(),
    };
    format!("{signing_input}.{signature}")
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims")
}

#[tokio::test]
async fn tampered_expired_foreign_and_unsigned_tokens_are_refused() {
    let app = spawn_app().await;
    let session = app.create_user("hank").await;
    let me = |token: String| {
        let app = &app;
        async move { error_code(app.get_authed("/api/v1/users/me", &token).await).await }
    };
    let invalid = (401, "invalid_token".to_owned());

    // Tampered: the payload changed (role), the signature kept.
    let mut parts: Vec<String> = session.access.split('.').map(str::to_owned).collect();
    let mut claims = claims_of(&session.access);
    claims["role"] = json!("admin");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    assert_eq!(me(parts.join(".")).await, invalid);

    // alg: none, unsigned.
    let claims = claims_of(&session.access);
    assert_eq!(
        me(forge(&json!({"alg": "none", "typ": "JWT"}), &claims, None)).await,
        invalid
    );

    // Signed by someone else, and for another audience with the right key where we know it.
    assert_eq!(
        me(forge(
            &json!({"alg": "HS256"}),
            &claims,
            Some(b"another-secret-another-secret-0123")
        ))
        .await,
        invalid
    );
    if let Some(secret) = app.settings.auth.jwt_secret.as_ref() {
        use secrecy::ExposeSecret;
        let mut foreign = claims.clone();
        foreign["aud"] = json!("someone-else");
        let token = forge(
            &json!({"alg": "HS256"}),
            &foreign,
            Some(secret.expose_secret().as_bytes()),
        );
        assert_eq!(me(token).await, invalid);
    } else {
        let secret = std::fs::read(app.db.dir.path().join("jwt_secret")).expect("the generated secret");
        let mut foreign = claims.clone();
        foreign["aud"] = json!("someone-else");
        assert_eq!(
            me(forge(&json!({"alg": "HS256"}), &foreign, Some(&secret))).await,
            invalid
        );
        // The same forging with the right audience is accepted: the forger is sound.
        assert_eq!(
            app.get_authed(
                "/api/v1/users/me",
                &forge(&json!({"alg": "HS256"}), &claims, Some(&secret))
            )
            .await
            .status(),
            200
        );
    }

    // Expired: 15 minutes later by the server's clock.
    app.clock.advance(Duration::minutes(16));
    assert_eq!(me(session.access.clone()).await, invalid);

    // Garbage and no header at all.
    assert_eq!(me("not-a-jwt".to_owned()).await, invalid);
    let response = app.get("/api/v1/users/me").await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(error_code(response).await, invalid);
}

#[tokio::test]
async fn a_password_change_ends_every_session() {
    let app = spawn_app().await;
    let session = app.create_user("ivy").await;
    let other = app.login_ok("ivy", PASSWORD).await;
    let wrong = app
        .post_authed(
            "/api/v1/users/me/password",
            &session.access,
            &json!({"current_password": "not it at all", "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(error_code(wrong).await, (401, "invalid_credentials".into()));
    let response = app
        .post_authed(
            "/api/v1/users/me/password",
            &session.access,
            &json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(
        app.get_authed("/api/v1/users/me", &session.access)
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        app.get_authed("/api/v1/users/me", &other.access)
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(error_code(refresh(&app, &other.refresh).await).await.0, 401);
    assert_eq!(app.login("ivy", PASSWORD).await.status().as_u16(), 401);
    app.login_ok("ivy", "a brand new passphrase").await;
}
