//! The weaknesses an attacker would try first: the lockout as a password oracle, a lockout that
//! ends the victim's session, unthrottled password routes, spoofed client addresses, CORS
//! missing from errors, unknown API keys that each cost a query, duplicates reported by the
//! wrong name, and weak bcrypt costs.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, json_body, spawn_app, spawn_app_with};

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, json_body(response).await)
}

async fn lock_by_failed_logins(app: &TestApp, username: &str) {
    for _ in 0..5 {
        let (status, _) = status_and_body(app.login(username, "wrong password!").await).await;
        assert_eq!(status, 401);
    }
}

#[tokio::test]
async fn a_locked_account_answers_the_same_whatever_the_password() {
    let app = spawn_app().await;
    app.create_user("olga").await;
    lock_by_failed_logins(&app, "olga").await;

    let right = status_and_body(app.login("olga", PASSWORD).await).await;
    let wrong = status_and_body(app.login("olga", "wrong password!").await).await;
    let another = status_and_body(app.login("olga", "yet another guess").await).await;
    assert_eq!(right.0, 403);
    assert_eq!(right.1["error"]["code"], "account_locked");
    assert_eq!(right, wrong, "the right password must not stand out while locked");
    assert_eq!(wrong, another);
}

#[tokio::test]
async fn a_lockout_after_failed_logins_leaves_existing_sessions_refreshing() {
    let app = spawn_app().await;
    let session = app.create_user("petra").await;
    lock_by_failed_logins(&app, "petra").await;
    // Another instance on the same database knows the user only as the database has them now:
    // locked (this instance's cache may still hold the state of before the lock).
    let (sibling, handle) = app.spawn_sibling().await;
    let refresh = |token: String| {
        let client = app.client.clone();
        let url = format!("{sibling}/api/v1/auth/refresh");
        async move {
            let response = client.post(url).json(&json!({"refresh_token": token})).send().await;
            status_and_body(response.expect("POST")).await
        }
    };
    let (status, pair) = refresh(session.refresh.clone()).await;
    assert_eq!(status, 200, "{pair}");
    let access = pair["access_token"].as_str().expect("access_token");
    assert_eq!(app.get_authed("/api/v1/users/me", access).await.status().as_u16(), 200);
    // The client's retry after the grace period is a reuse, as always; the point is that the
    // first refresh worked, so there is no retry.
    let next = pair["refresh_token"].as_str().expect("refresh_token").to_owned();
    app.clock.advance(chrono::Duration::seconds(30));
    let (status, _) = refresh(next).await;
    assert_eq!(status, 200, "the session lives on");
    drop(handle.stop(false));
}

#[tokio::test]
async fn an_admin_lock_ends_the_session() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let session = app.create_user("quentin").await;
    let response = app
        .post_authed(
            &format!("/api/v1/admin/users/{}/lock", session.user_id),
            &admin.access,
            &json!({}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let (status, body) = status_and_body(
        app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": session.refresh}))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_refresh_token"))
    );
}

#[tokio::test]
async fn wrong_current_passwords_lock_the_account_like_failed_logins() {
    let app = spawn_app().await;
    let session = app.create_user("rosa").await;
    for _ in 0..5 {
        let response = app
            .post_authed(
                "/api/v1/users/me/password",
                &session.access,
                &json!({"current_password": "a wrong guess", "new_password": "a brand new passphrase"}),
            )
            .await;
        assert_eq!(response.status().as_u16(), 401);
    }
    let (status, body) = status_and_body(app.login("rosa", PASSWORD).await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("account_locked")));
    // While locked, the right current password does not stand out either.
    let response = app
        .post_authed(
            "/api/v1/users/me/password",
            &session.access,
            &json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(status_and_body(response).await, (status, body));
}

/// Sends requests until one answers 429 (at most `limit + 1`); returns its `Retry-After`.
async fn limited_after(limit: usize, mut send: impl AsyncFnMut() -> reqwest::Response) -> u64 {
    for attempt in 0..=limit {
        let response = send().await;
        let status = response.status().as_u16();
        if attempt < limit {
            assert_ne!(status, 429, "attempt {} of {limit} was limited", attempt + 1);
            continue;
        }
        assert_eq!(status, 429, "attempt {} passed a limit of {limit}", attempt + 1);
        let retry_after = response.headers()["retry-after"]
            .to_str()
            .expect("a Retry-After header")
            .parse()
            .expect("Retry-After in seconds");
        assert_eq!(json_body(response).await["error"]["code"], "rate_limited");
        return retry_after;
    }
    unreachable!("the loop returns at its last attempt")
}

#[tokio::test]
async fn registration_is_rate_limited_per_address() {
    let app = spawn_app_with(|settings| settings.auth.rate_limits.register_per_address = 2).await;
    let mut n = 0;
    let retry_after = limited_after(2, async || {
        n += 1;
        app.register(&format!("newcomer{n}"), PASSWORD).await
    })
    .await;
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn refresh_is_rate_limited_per_address_and_per_account() {
    let app = spawn_app_with(|settings| settings.auth.rate_limits.refresh_per_address = 3).await;
    limited_after(3, async || {
        app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": "syr_not-a-token"}))
            .await
    })
    .await;

    let app = spawn_app_with(|settings| settings.auth.rate_limits.refresh_per_account = 2).await;
    let mut token = app.create_user("sven").await.refresh;
    for attempt in 1..=3 {
        let response = app
            .post_json("/api/v1/auth/refresh", &json!({"refresh_token": token}))
            .await;
        if attempt == 3 {
            assert_eq!(response.status().as_u16(), 429, "a third refresh in a minute");
            break;
        }
        let (status, pair) = status_and_body(response).await;
        assert_eq!(status, 200, "{pair}");
        token = pair["refresh_token"].as_str().expect("refresh_token").to_owned();
    }
}

#[tokio::test]
async fn password_changes_and_resets_are_rate_limited() {
    let app = spawn_app_with(|settings| settings.auth.rate_limits.password_per_account = 2).await;
    let session = app.create_user("tara").await;
    limited_after(2, async || {
        app.post_authed(
            "/api/v1/users/me/password",
            &session.access,
            &json!({"current_password": "a wrong guess", "new_password": "a brand new passphrase"}),
        )
        .await
    })
    .await;

    let app = spawn_app_with(|settings| settings.auth.rate_limits.password_per_address = 2).await;
    let admin = app.create_admin("root").await;
    let user = app.create_user("ulla").await;
    limited_after(2, async || {
        app.post_authed(
            &format!("/api/v1/admin/users/{}/reset-password", user.user_id),
            &admin.access,
            &json!({"password": "a fresh passphrase"}),
        )
        .await
    })
    .await;
}

/// A login sent through a trusted proxy on behalf of `forwarded_for` (one header line each).
async fn login_via_proxy(app: &TestApp, username: &str, forwarded_for: &[&str]) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": username, "password": "wrong password!"}));
    for line in forwarded_for {
        request = request.header("x-forwarded-for", *line);
    }
    request.send().await.expect("POST")
}

#[tokio::test]
async fn logins_are_rate_limited_per_account_whatever_the_address() {
    let app = spawn_app_with(|settings| {
        settings.server.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a network")];
        settings.auth.rate_limits.login_per_account = 3;
        settings.auth.max_failed_logins = 100;
    })
    .await;
    app.create_user("vera").await;
    let mut n = 0;
    // `create_user` logged in once already.
    limited_after(2, async || {
        n += 1;
        login_via_proxy(&app, "vera", &[&format!("203.0.113.{n}")]).await
    })
    .await;
    // Another account is not held back.
    app.create_user("walt").await;
    assert_eq!(
        login_via_proxy(&app, "walt", &["203.0.113.77"]).await.status().as_u16(),
        401
    );
}

#[tokio::test]
async fn the_client_address_is_the_rightmost_untrusted_one_over_every_forwarded_for_line() {
    let app = spawn_app_with(|settings| {
        settings.server.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a network")];
        settings.auth.rate_limits.login_per_address = 1;
    })
    .await;
    // The proxy appends the address it saw on a line of its own; what the client sent before it
    // (6.6.6.6, 7.7.7.7) is the client's choice and must not make it someone else.
    let first = login_via_proxy(&app, "nobody", &["6.6.6.6", "198.51.100.7"]).await;
    assert_eq!(first.status().as_u16(), 401);
    let second = login_via_proxy(&app, "nobody", &["7.7.7.7", "198.51.100.7"]).await;
    assert_eq!(second.status().as_u16(), 429, "the same client behind the same proxy");
    let other = login_via_proxy(&app, "nobody", &["6.6.6.6, 198.51.100.8"]).await;
    assert_eq!(other.status().as_u16(), 401, "another client");
}

const ORIGIN: &str = "https://console.example";

async fn with_origin(app: &TestApp, method: Method, path: &str, body: Option<String>) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path)).header("origin", ORIGIN);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn error_responses_carry_the_cors_headers_of_successes() {
    let app = spawn_app_with(|settings| {
        settings.server.cors_origins = vec![ORIGIN.to_owned()];
        settings.server.body_limit = 1024;
        settings.auth.rate_limits.login_per_address = 1;
    })
    .await;
    let ok = with_origin(&app, Method::GET, "/health/live", None).await;
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.headers()["access-control-allow-origin"], ORIGIN);

    let login = json!({"username": "nobody", "password": "wrong password!"}).to_string();
    let cases = [
        (Method::GET, "/api/v1/users/me", None, 401),
        (Method::GET, "/api/v1/no-such-route", None, 404),
        (Method::DELETE, "/health/live", None, 405),
        (Method::POST, "/api/v1/test/widgets", Some("x".repeat(4096)), 413),
        (Method::POST, "/api/v1/auth/login", Some(login.clone()), 401),
        (Method::POST, "/api/v1/auth/login", Some(login), 429),
        (Method::GET, "/v1/test/whoami", None, 401),
        (Method::GET, "/v1/no-such-route", None, 404),
        (Method::POST, "/v1/test/widgets", Some("{".to_owned()), 400),
    ];
    for (method, path, body, expected) in cases {
        let response = with_origin(&app, method.clone(), path, body).await;
        assert_eq!(response.status().as_u16(), expected, "{method} {path}");
        let allowed = response
            .headers()
            .get("access-control-allow-origin")
            .map(|value| value.to_str().expect("ASCII").to_owned());
        assert_eq!(allowed.as_deref(), Some(ORIGIN), "{method} {path} → {expected}");
        let exposed = response
            .headers()
            .get("access-control-expose-headers")
            .map(|value| value.to_str().expect("ASCII").to_lowercase())
            .expect("Access-Control-Expose-Headers");
        assert!(exposed.contains("x-request-id"), "{method} {path}: {exposed:?}");
        json_body(response).await;
    }
}

/// `switchyard_db_queries_total` as `/metrics` reports it now.
pub async fn queries_so_far(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines()
        .find_map(|line| line.strip_prefix("switchyard_db_queries_total "))
        .expect("switchyard_db_queries_total in /metrics")
        .trim()
        .parse()
        .expect("a count")
}

pub fn quiet_background(settings: &mut switchyard_server::settings::Settings) {
    settings.auth.identity_refresh_interval = Duration::from_secs(3600);
    settings.database.health_check_interval = Duration::from_secs(3600);
}

#[tokio::test]
async fn an_unknown_gateway_key_costs_one_query_then_none() {
    let app = spawn_app_with(quiet_background).await;
    let unknown = format!("sy-{}", "x".repeat(43));
    let before = queries_so_far(&app).await;
    for _ in 0..5 {
        let response = app.get_authed("/v1/test/whoami", &unknown).await;
        assert_eq!(response.status().as_u16(), 401);
    }
    let after = queries_so_far(&app).await;
    assert_eq!(after - before, 1, "one lookup, then the answer comes from memory");

    // A key made on this instance is in its cache at once: no query at all.
    let user = app.create_user("xena").await;
    let created = json_body(
        app.post_authed("/api/v1/api-keys", &user.access, &json!({"name": "ci"}))
            .await,
    )
    .await;
    let secret = created["secret"].as_str().expect("secret");
    let before = queries_so_far(&app).await;
    for _ in 0..5 {
        assert_eq!(app.get_authed("/v1/test/whoami", secret).await.status().as_u16(), 200);
    }
    assert_eq!(
        queries_so_far(&app).await - before,
        0,
        "the new key is cached by the write"
    );
}

#[tokio::test]
async fn a_flood_of_random_keys_keeps_the_unknown_key_cache_bounded() {
    let app = spawn_app_with(|settings| {
        quiet_background(settings);
        settings.auth.unknown_key_cache_capacity = 20;
    })
    .await;
    for n in 0..100 {
        let key = format!("sy-flood{n:0>38}");
        assert_eq!(app.get_authed("/v1/test/whoami", &key).await.status().as_u16(), 401);
    }
    let text = app.get("/metrics").await.text().await.expect("metrics");
    let held: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix(r#"switchyard_identity_cache_entries{cache="unknown_keys"} "#))
        .expect("the unknown-key cache's size in /metrics")
        .trim()
        .parse()
        .expect("a count");
    assert!(held <= 20, "{held} unknown keys held");
}

#[tokio::test]
async fn a_taken_username_is_reported_by_its_constraint_not_by_words_in_the_value() {
    let app = spawn_app().await;
    let first = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"username": "email_fan", "email": "fan@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(first.status().as_u16(), 201);
    let (status, body) = status_and_body(app.register("email_fan", PASSWORD).await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("username_taken")));
    let (status, body) = status_and_body(
        app.post_json(
            "/api/v1/auth/register",
            &json!({"username": "username_fan", "email": "FAN@example.com", "password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("email_taken")));
    // The same on a profile change.
    let other: Session = app.create_user("username_lover").await;
    let (status, body) = status_and_body(
        app.authed(Method::PATCH, "/api/v1/users/me", &other.access)
            .json(&json!({"email": "fan@example.com"}))
            .send()
            .await
            .expect("PATCH"),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("email_taken")));
}

#[tokio::test]
async fn a_bcrypt_cost_below_10_is_refused_at_start_unless_allowed() {
    let refused = crate::helpers::try_spawn_app_with(|settings| {
        settings.auth.bcrypt_cost = 9;
        settings.auth.allow_weak_bcrypt = false;
    })
    .await;
    let message = format!("{:#}", refused.expect_err("a weak cost is refused"));
    assert!(message.contains("auth.bcrypt_cost"), "{message}");
    assert!(message.contains("10"), "{message}");
    assert!(message.contains("auth.allow_weak_bcrypt"), "{message}");

    let allowed = crate::helpers::try_spawn_app_with(|settings| {
        settings.auth.bcrypt_cost = 4;
        settings.auth.allow_weak_bcrypt = true;
    })
    .await;
    assert!(allowed.is_ok(), "tests may use a weak cost");
}
