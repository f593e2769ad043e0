//! The catalog's suppliers: admin writes, what other users may see, and the supplier key, which
//! is write-only, encrypted at rest and survives a master-key rotation.

use serde_json::{Value, json};
use switchyard_domain::catalog::SupplierId;
use switchyard_domain::kernel::crypto::{MasterKey, SecretCipher};
use switchyard_persistence::{Backend, Database, DatabaseOptions};

use crate::helpers::{Session, TestApp, spawn_app};

const SUPPLIER_KEY: &str = "sk-supplier-secret-ABCD1234wxyz";

fn openai(extra: Value) -> Value {
    let mut body = json!({
        "name": "openai",
        "display_name": "OpenAI",
        "protocol": "openai",
        "base_url": "https://api.openai.com/v1",
        "website": "https://openai.com",
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value, String) {
    let mut request = app.authed(method, path, token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a text body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

async fn admin_and_user(app: &TestApp) -> (Session, Session) {
    (app.create_admin("root").await, app.create_user("reader").await)
}

#[tokio::test]
async fn admins_manage_suppliers_and_the_key_is_never_shown() {
    let app = spawn_app().await;
    let (admin, _) = admin_and_user(&app).await;
    let mut bodies = String::new();
    use reqwest::Method;

    let (status, created, text) = send(
        &app,
        Method::POST,
        "/api/v1/suppliers",
        &admin.access,
        Some(openai(json!({"api_key": SUPPLIER_KEY}))),
    )
    .await;
    bodies.push_str(&text);
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["api_key"], json!({"set": true, "last4": "wxyz"}));
    assert_eq!(created["base_url"], "https://api.openai.com/v1");
    let id = created["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/suppliers/{id}");

    // PUT without api_key keeps the key; PATCH with null removes it; a new one replaces it.
    let (status, replaced, text) = send(
        &app,
        Method::PUT,
        &path,
        &admin.access,
        Some(openai(json!({"description": "GPT models"}))),
    )
    .await;
    bodies.push_str(&text);
    assert_eq!((status, replaced["api_key"]["set"].as_bool()), (200, Some(true)));
    assert_eq!(replaced["description"], "GPT models");
    let (_, patched, text) = send(
        &app,
        Method::PATCH,
        &path,
        &admin.access,
        Some(json!({"api_key": null, "description": null})),
    )
    .await;
    bodies.push_str(&text);
    assert_eq!(patched["api_key"], json!({"set": false, "last4": null}));
    assert!(patched["description"].is_null());
    assert_eq!(patched["display_name"], "OpenAI", "absent fields are kept");
    let (_, patched, text) = send(
        &app,
        Method::PATCH,
        &path,
        &admin.access,
        Some(json!({"api_key": SUPPLIER_KEY})),
    )
    .await;
    bodies.push_str(&text);
    assert_eq!(patched["api_key"]["last4"], "wxyz");

    // Lists and reads.
    for (_, _, text) in [
        send(&app, Method::GET, &path, &admin.access, None).await,
        send(&app, Method::GET, "/api/v1/suppliers", &admin.access, None).await,
    ] {
        bodies.push_str(&text);
    }

    // Rules: a bad slug, a bad URL, a duplicate name.
    let (status, error, _) = send(
        &app,
        Method::POST,
        "/api/v1/suppliers",
        &admin.access,
        Some(openai(json!({"name": "Open AI"}))),
    )
    .await;
    assert_eq!(
        (status, error["error"]["details"][0]["field"].as_str()),
        (422, Some("name"))
    );
    let (status, error, _) = send(
        &app,
        Method::POST,
        "/api/v1/suppliers",
        &admin.access,
        Some(openai(json!({"name": "other", "base_url": "ftp://x"}))),
    )
    .await;
    assert_eq!(
        (status, error["error"]["details"][0]["field"].as_str()),
        (422, Some("base_url"))
    );
    let (status, _, _) = send(
        &app,
        Method::POST,
        "/api/v1/suppliers",
        &admin.access,
        Some(openai(json!({}))),
    )
    .await;
    assert_eq!(status, 409);

    assert!(!bodies.contains(SUPPLIER_KEY), "a response carried the supplier key");
    assert!(
        !bodies.contains("sk-supplier"),
        "a response carried part of the supplier key"
    );
}

#[tokio::test]
async fn other_users_see_active_live_suppliers_without_urls_or_keys_and_cannot_write() {
    let app = spawn_app().await;
    let (admin, user) = admin_and_user(&app).await;
    use reqwest::Method;
    let (_, visible, _) = send(
        &app,
        Method::POST,
        "/api/v1/suppliers",
        &admin.access,
        Some(openai(json!({"api_key": SUPPLIER_KEY}))),
    )
    .await;
    let (_, inactive, _) = send(
        &app,
        Method::POST,
        "/api/v1/suppliers",
        &admin.access,
        Some(
            json!({"name": "ollama", "protocol": "openai", "base_url": "http://10.0.0.5:11434/v1", "is_active": false}),
        ),
    )
    .await;

    let (status, list, text) = send(&app, Method::GET, "/api/v1/suppliers", &user.access, None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["openai"]);
    assert!(list["data"][0]["base_url"].is_null() && list["data"][0]["api_key"].is_null());
    assert!(!text.contains("api.openai.com/v1") && !text.contains("10.0.0.5") && !text.contains("wxyz"));
    let (status, _, _) = send(
        &app,
        Method::GET,
        &format!("/api/v1/suppliers/{}", inactive["id"].as_str().expect("id in the body")),
        &user.access,
        None,
    )
    .await;
    assert_eq!(status, 404, "an inactive supplier is invisible to users");
    let (status, _, _) = send(
        &app,
        Method::GET,
        "/api/v1/suppliers?include_deleted=true&active=false",
        &user.access,
        None,
    )
    .await;
    assert_eq!(status, 200);

    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/suppliers".to_owned(),
            Some(openai(json!({"name": "mine"}))),
        ),
        (
            Method::PATCH,
            format!("/api/v1/suppliers/{}", visible["id"].as_str().expect("id in the body")),
            Some(json!({"is_active": false})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/suppliers/{}", visible["id"].as_str().expect("id in the body")),
            None,
        ),
    ] {
        let (status, error, _) = send(&app, method.clone(), &path, &user.access, body).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_deleted_supplier_is_hidden_its_name_freed_and_it_can_be_restored() {
    let app = spawn_app().await;
    let (admin, user) = admin_and_user(&app).await;
    use reqwest::Method;
    let (_, created, _) = send(
        &app,
        Method::POST,
        "/api/v1/suppliers",
        &admin.access,
        Some(openai(json!({}))),
    )
    .await;
    let path = format!("/api/v1/suppliers/{}", created["id"].as_str().expect("id in the body"));
    assert_eq!(send(&app, Method::DELETE, &path, &admin.access, None).await.0, 204);
    assert_eq!(send(&app, Method::GET, &path, &user.access, None).await.0, 404);
    let (_, list, _) = send(&app, Method::GET, "/api/v1/suppliers", &admin.access, None).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0));
    let (_, list, _) = send(
        &app,
        Method::GET,
        "/api/v1/suppliers?include_deleted=true",
        &admin.access,
        None,
    )
    .await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));

    // The name is free again; restoring the old one now collides.
    let (status, _, _) = send(
        &app,
        Method::POST,
        "/api/v1/suppliers",
        &admin.access,
        Some(openai(json!({}))),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        send(&app, Method::POST, &format!("{path}/restore"), &admin.access, None)
            .await
            .0,
        409
    );
    let (_, replacement, _) = send(&app, Method::GET, "/api/v1/suppliers?q=openai", &admin.access, None).await;
    let replacement_id = replacement["data"][0]["id"]
        .as_str()
        .expect("data.id in the body")
        .to_owned();
    send(
        &app,
        Method::DELETE,
        &format!("/api/v1/suppliers/{replacement_id}"),
        &admin.access,
        None,
    )
    .await;
    let (status, restored, _) = send(&app, Method::POST, &format!("{path}/restore"), &admin.access, None).await;
    assert_eq!((status, restored["deleted_at"].is_null()), (200, true));
    assert_eq!(send(&app, Method::GET, &path, &user.access, None).await.0, 200);
}

/// The supplier key as the server would read it, with the master key it is configured with now.
async fn decrypted_key(app: &TestApp, supplier_id: &str, master_key: Option<&str>) -> Option<String> {
    let database = Database::connect(&DatabaseOptions::new(app.db.url.clone()))
        .await
        .expect("connect");
    let key = match master_key {
        Some(key) => MasterKey::from_base64(key).expect("a master key"),
        None => switchyard_server::secrets::master_key(
            app.settings.secrets.master_key.as_ref(),
            database.backend(),
            &app.settings.data_dir,
        )
        .expect("the master key"),
    };
    let catalog = switchyard_server::startup::catalog(&database, SecretCipher::new(key), app.clock.clone());
    let id = SupplierId(uuid::Uuid::parse_str(supplier_id).expect("an id"));
    let key = catalog
        .supplier_api_key(&switchyard_domain::Admin::operator(), id)
        .await
        .expect("decrypt");
    database.close().await;
    key
}

#[tokio::test]
async fn the_supplier_key_is_encrypted_at_rest_and_survives_a_master_key_rotation() {
    let app = spawn_app().await;
    let (admin, _) = admin_and_user(&app).await;
    let (_, created, _) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/suppliers",
        &admin.access,
        Some(openai(json!({"api_key": SUPPLIER_KEY}))),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(decrypted_key(&app, &id, None).await.as_deref(), Some(SUPPLIER_KEY));
    let dumped = crate::secrets::dump(&app).await;
    assert!(
        dumped.contains("openai"),
        "the dump must hold the data it is checked for"
    );
    assert!(
        !dumped.contains(SUPPLIER_KEY) && !dumped.contains("ABCD1234"),
        "the key is stored in clear"
    );

    let new_key = MasterKey::generate_base64();
    let output = crate::cli::switchyard(&app, &["secrets", "rotate", "--new-key", &new_key], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("re-encrypted 1 stored secrets"), "{stdout}");

    assert_eq!(
        decrypted_key(&app, &id, Some(&new_key)).await.as_deref(),
        Some(SUPPLIER_KEY)
    );
    let old_key = app.settings.secrets.master_key.as_ref().map(|key| {
        use secrecy::ExposeSecret;
        key.expose_secret().to_owned()
    });
    if app.backend() == Backend::Sqlite {
        // The generated key file now holds the new key, and a server starts with it.
        assert_eq!(decrypted_key(&app, &id, None).await.as_deref(), Some(SUPPLIER_KEY));
        let mut settings = app.settings.clone();
        settings.server.port = 0;
        assert!(switchyard_server::startup::Application::build(settings).await.is_ok());
    } else if let Some(old_key) = old_key {
        // The old key no longer starts a server on this database.
        let mut settings = app.settings.clone();
        settings.server.port = 0;
        settings.secrets.master_key = Some(old_key.into());
        assert!(switchyard_server::startup::Application::build(settings).await.is_err());
    }
}
