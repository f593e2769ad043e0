//! Admin routes: roles, account states taking effect at once, the last-admin guard, the audit trail.

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, json_body, spawn_app};

async fn admin_post(
    app: &TestApp,
    token: &str,
    user_id: &str,
    action: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    app.post_authed(&format!("/api/v1/admin/users/{user_id}/{action}"), token, &body)
        .await
}

#[tokio::test]
async fn a_non_admin_gets_403_on_every_admin_route() {
    let app = spawn_app().await;
    let user = app.create_user("mallory").await;
    let target = &user.user_id;
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/admin/users".to_owned()),
        (reqwest::Method::GET, format!("/api/v1/admin/users/{target}")),
        (reqwest::Method::POST, format!("/api/v1/admin/users/{target}/role")),
        (reqwest::Method::DELETE, format!("/api/v1/admin/users/{target}")),
        (reqwest::Method::GET, "/api/v1/admin/audit".to_owned()),
    ] {
        let response = app
            .authed(method.clone(), &path, &user.access)
            .json(&json!({"role": "admin"}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 403, "{method} {path}");
        assert_eq!(json_body(response).await["error"]["code"], "forbidden");
    }
    // Nothing changed: still a user.
    let me = json_body(app.get_authed("/api/v1/users/me", &user.access).await).await;
    assert_eq!(me["role"], "user");
}

#[tokio::test]
async fn deactivation_stops_an_existing_access_token_and_api_key_at_once() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let user = app.create_user("nina").await;
    let created = json_body(
        app.post_authed("/api/v1/api-keys", &user.access, &json!({"name": "ci"}))
            .await,
    )
    .await;
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert_eq!(app.get_authed("/v1/test/whoami", &secret).await.status().as_u16(), 200);
    assert_eq!(
        app.get_authed("/api/v1/users/me", &user.access).await.status().as_u16(),
        200
    );

    let response = admin_post(&app, &admin.access, &user.user_id, "deactivate", json!({})).await;
    assert_eq!(json_body(response).await["is_active"], false);
    assert_eq!(
        app.get_authed("/api/v1/users/me", &user.access).await.status().as_u16(),
        401
    );
    let response = app.get_authed("/v1/test/whoami", &secret).await;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(json_body(response).await["error"]["code"], "invalid_api_key");
    assert_eq!(
        json_body(app.login("nina", PASSWORD).await).await["error"]["code"],
        "account_disabled"
    );

    admin_post(&app, &admin.access, &user.user_id, "activate", json!({})).await;
    // The key works again; the old access token does not (its session ended).
    assert_eq!(app.get_authed("/v1/test/whoami", &secret).await.status().as_u16(), 200);
    assert_eq!(
        app.get_authed("/api/v1/users/me", &user.access).await.status().as_u16(),
        401
    );
    app.login_ok("nina", PASSWORD).await;
}

#[tokio::test]
async fn an_admin_lock_deletion_and_restore_take_effect_on_the_next_request() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let user = app.create_user("oscar").await;

    let locked =
        json_body(admin_post(&app, &admin.access, &user.user_id, "lock", json!({"reason": "abuse"})).await).await;
    assert_eq!(
        (locked["is_locked"].as_bool(), locked["locked_until"].is_null()),
        (Some(true), true)
    );
    assert_eq!(
        app.get_authed("/api/v1/users/me", &user.access).await.status().as_u16(),
        401
    );
    let refused = json_body(app.login("oscar", PASSWORD).await).await;
    assert_eq!(refused["error"]["code"], "account_locked");
    admin_post(&app, &admin.access, &user.user_id, "unlock", json!({})).await;

    let session = app.login_ok("oscar", PASSWORD).await;
    let response = app
        .authed(
            reqwest::Method::DELETE,
            &format!("/api/v1/admin/users/{}", user.user_id),
            &admin.access,
        )
        .send()
        .await
        .expect("DELETE");
    assert!(json_body(response).await["deleted_at"].is_string());
    assert_eq!(
        app.get_authed("/api/v1/users/me", &session.access)
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(app.login("oscar", PASSWORD).await.status().as_u16(), 401);
    // Deleted users are hidden from the list unless asked for; the username stays reserved.
    let listed = json_body(app.get_authed("/api/v1/admin/users?q=oscar", &admin.access).await).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(0));
    let listed = json_body(
        app.get_authed("/api/v1/admin/users?q=oscar&include_deleted=true", &admin.access)
            .await,
    )
    .await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.register("OSCAR", PASSWORD).await.status().as_u16(), 409);

    admin_post(&app, &admin.access, &user.user_id, "restore", json!({})).await;
    app.login_ok("oscar", PASSWORD).await;
}

#[tokio::test]
async fn admins_list_filter_and_page_through_users() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    for name in ["page_a", "page_b", "page_c"] {
        app.create_user(name).await;
    }
    let first = json_body(
        app.get_authed("/api/v1/admin/users?limit=2&q=page_", &admin.access)
            .await,
    )
    .await;
    assert_eq!(first["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(first["data"][0]["username"], "page_c", "newest first");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = json_body(
        app.get_authed(
            &format!("/api/v1/admin/users?limit=2&q=page_&cursor={cursor}"),
            &admin.access,
        )
        .await,
    )
    .await;
    assert_eq!(second["data"][0]["username"], "page_a");
    assert!(second["next_cursor"].is_null());

    let admins = json_body(app.get_authed("/api/v1/admin/users?role=admin", &admin.access).await).await;
    assert_eq!(admins["data"].as_array().map(Vec::len), Some(1));
    let response = app.get_authed("/api/v1/admin/users?colour=red", &admin.access).await;
    assert_eq!(response.status().as_u16(), 400);
    let response = app.get_authed("/api/v1/admin/users?limit=500", &admin.access).await;
    assert_eq!(response.status().as_u16(), 422);
}

#[tokio::test]
async fn role_changes_apply_at_once_and_are_audited_with_the_request_id() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let user = app.create_user("paula").await;
    assert_eq!(
        app.get_authed("/api/v1/admin/users", &user.access)
            .await
            .status()
            .as_u16(),
        403
    );

    let response = app
        .authed(
            reqwest::Method::POST,
            &format!("/api/v1/admin/users/{}/role", user.user_id),
            &admin.access,
        )
        .header("x-request-id", "promote-paula")
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(json_body(response).await["role"], "admin");
    // The same access token now carries admin rights (roles are read live, not from the token).
    assert_eq!(
        app.get_authed("/api/v1/admin/users", &user.access)
            .await
            .status()
            .as_u16(),
        200
    );

    let audit = json_body(app.get_authed("/api/v1/admin/audit", &admin.access).await).await;
    let event = &audit["data"][0];
    assert_eq!(event["action"], "user.role_change");
    assert_eq!(event["actor_id"].as_str(), Some(admin.user_id.as_str()));
    assert_eq!(event["target_id"].as_str(), Some(user.user_id.as_str()));
    assert_eq!(event["request_id"], "promote-paula");
    assert_eq!(event["details"], "role user -> admin");

    let bad = admin_post(&app, &admin.access, &user.user_id, "role", json!({"role": "owner"})).await;
    assert_eq!(bad.status().as_u16(), 400);
    assert_eq!(json_body(bad).await["error"]["details"][0]["field"], "role");
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_deactivated_locked_or_deleted() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    for (action, body) in [
        ("role", json!({"role": "user"})),
        ("deactivate", json!({})),
        ("lock", json!({})),
    ] {
        let response = admin_post(&app, &admin.access, &admin.user_id, action, body).await;
        assert_eq!(response.status().as_u16(), 409, "{action}");
        assert_eq!(json_body(response).await["error"]["code"], "last_admin");
    }
    let response = app
        .authed(
            reqwest::Method::DELETE,
            &format!("/api/v1/admin/users/{}", admin.user_id),
            &admin.access,
        )
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status().as_u16(), 409);
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    let first = app.create_admin("admin_one").await;
    let second = app.create_admin("admin_two").await;
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            admin_post(&app, &first.access, &second.user_id, "role", json!({"role": "user"})),
            admin_post(&app, &second.access, &first.user_id, "role", json!({"role": "user"})),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        // One wins; the other is refused: as the last admin (409), or because the winner's
        // demotion already took its admin rights (403).
        assert_eq!(statuses[0], 200, "{statuses:?}");
        assert!(statuses[1] == 409 || statuses[1] == 403, "{statuses:?}");

        let admins = app
            .get_authed("/api/v1/admin/users?role=admin&active=true", &first.access)
            .await;
        let admins = if admins.status().as_u16() == 200 {
            json_body(admins).await
        } else {
            json_body(
                app.get_authed("/api/v1/admin/users?role=admin&active=true", &second.access)
                    .await,
            )
            .await
        };
        assert_eq!(admins["data"].as_array().map(Vec::len), Some(1), "{admins}");

        // Promote the demoted one back for the next round.
        let (survivor, demoted) = if admins["data"][0]["id"] == first.user_id.as_str() {
            (&first, &second)
        } else {
            (&second, &first)
        };
        admin_post(
            &app,
            &survivor.access,
            &demoted.user_id,
            "role",
            json!({"role": "admin"}),
        )
        .await;
    }
}

#[tokio::test]
async fn admins_reset_passwords_and_the_rules_apply() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let user = app.create_user("quinn").await;
    let weak = admin_post(
        &app,
        &admin.access,
        &user.user_id,
        "reset-password",
        json!({"password": "quinn"}),
    )
    .await;
    assert_eq!(weak.status().as_u16(), 422);
    let response = admin_post(
        &app,
        &admin.access,
        &user.user_id,
        "reset-password",
        json!({"password": "a fresh passphrase"}),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        app.get_authed("/api/v1/users/me", &user.access).await.status().as_u16(),
        401
    );
    app.login_ok("quinn", "a fresh passphrase").await;
    let missing = app
        .get_authed(&format!("/api/v1/admin/users/{}", uuid::Uuid::now_v7()), &admin.access)
        .await;
    assert_eq!(missing.status().as_u16(), 404);
}

#[tokio::test]
async fn another_instance_on_the_same_database_learns_of_a_deactivation() {
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.auth.identity_refresh_interval = std::time::Duration::from_millis(100);
    })
    .await;
    let admin = app.create_admin("root").await;
    let user = app.create_user("wendy").await;
    let (sibling, handle) = app.spawn_sibling().await;
    let me = |base: String, token: String| {
        let client = app.client.clone();
        async move {
            client
                .get(format!("{base}/api/v1/users/me"))
                .bearer_auth(token)
                .send()
                .await
                .expect("GET")
                .status()
                .as_u16()
        }
    };
    // The sibling has now cached the user as active.
    assert_eq!(me(sibling.clone(), user.access.clone()).await, 200);

    admin_post(&app, &admin.access, &user.user_id, "deactivate", json!({})).await;
    assert_eq!(
        me(app.address.clone(), user.access.clone()).await,
        401,
        "at once on the instance that wrote"
    );
    let mut status = 200;
    for _ in 0..50 {
        status = me(sibling.clone(), user.access.clone()).await;
        if status == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 401, "the other instance refreshes its identity cache");
    drop(handle.stop(false));
}

#[tokio::test]
async fn an_admin_creates_users_with_a_given_or_a_generated_password() {
    let app = crate::helpers::spawn_app_with(|settings| settings.auth.allow_registration = false).await;
    let admin = app.create_admin("root").await;
    let (status, created) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/admin/users",
            &admin,
            Some(json!({
                "username": "yusuf", "email": "yusuf@example.com", "display_name": "Yusuf K.",
                "role": "user", "password": "a chosen passphrase"
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["user"]["username"], "yusuf");
    assert_eq!(created["user"]["display_name"], "Yusuf K.");
    assert_eq!(created["user"]["role"], "user");
    assert!(created["generated_password"].is_null(), "{created}");
    app.login_ok("yusuf", "a chosen passphrase").await;

    // No password: one is generated and shown once.
    let (status, created) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/admin/users",
            &admin,
            Some(json!({"username": "zofia", "role": "admin"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let generated = created["generated_password"].as_str().expect("a generated password");
    assert!(generated.len() >= 20, "{generated}");
    let zofia = app.login_ok("zofia", generated).await;
    let (status, _) = app
        .call(reqwest::Method::GET, "/api/v1/admin/users", &zofia, None)
        .await;
    assert_eq!(status, 200, "created as an admin");

    // Audited, with who did it: the admin for these two, no one (the operator's command) for
    // the admin itself.
    let (_, audit) = app
        .call(reqwest::Method::GET, "/api/v1/admin/audit", &admin, None)
        .await;
    let creators: Vec<(Option<&str>, Option<&str>)> = audit["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|event| event["action"] == "user.create")
        .map(|event| (event["actor_id"].as_str(), event["details"].as_str()))
        .collect();
    let by_admin = Some(admin.user_id.as_str());
    assert_eq!(
        creators,
        [
            (by_admin, Some("role admin")),
            (by_admin, Some("role user")),
            (None, Some("role admin"))
        ],
        "{audit}"
    );

    // The rules of registration hold; a taken name is a 409; only admins may do this.
    let (status, body) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/admin/users",
            &admin,
            Some(json!({"username": "yusuf", "role": "user"})),
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("username_taken")));
    let (status, body) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/admin/users",
            &admin,
            Some(json!({"username": "x", "role": "user", "password": "short"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let user = app.login_ok("yusuf", "a chosen passphrase").await;
    let (status, _) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/admin/users",
            &user,
            Some(json!({"username": "intruder", "role": "admin"})),
        )
        .await;
    assert_eq!(status, 403);
}
