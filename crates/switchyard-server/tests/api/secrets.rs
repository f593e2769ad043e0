//! No password, refresh token or API key secret is ever stored or logged in the clear, and the
//! signing secret is handled as documented.

use std::process::{Command, Stdio};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use switchyard_persistence::{Backend, Database, DatabaseOptions};

use crate::helpers::{TEST_JWT_SECRET, TEST_MASTER_KEY, TestApp, json_body, spawn_app};
use crate::support::database::TestDatabase;

const SECRET_PASSWORD: &str = "zebra-quartz-violin-9931";

/// Registers, logs in, refreshes and creates a key; returns every secret that went over the wire.
async fn exercise(base: &str, client: &reqwest::Client) -> Vec<String> {
    let post = |path: &str, token: Option<&str>, body: serde_json::Value| {
        let mut request = client.post(format!("{base}{path}")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let registered = post(
        "/api/v1/auth/register",
        None,
        json!({"username": "victor", "password": SECRET_PASSWORD}),
    )
    .await
    .expect("register");
    assert_eq!(registered.status().as_u16(), 201);
    let tokens = json_body(
        post(
            "/api/v1/auth/login",
            None,
            json!({"username": "victor", "password": SECRET_PASSWORD}),
        )
        .await
        .expect("login"),
    )
    .await;
    let first_refresh = tokens["refresh_token"].as_str().expect("refresh").to_owned();
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refreshed = json_body(
        post("/api/v1/auth/refresh", None, json!({"refresh_token": first_refresh}))
            .await
            .expect("refresh"),
    )
    .await;
    let second_refresh = refreshed["refresh_token"].as_str().expect("refresh").to_owned();
    let key = json_body(
        post("/api/v1/api-keys", Some(&access), json!({"name": "k"}))
            .await
            .expect("key"),
    )
    .await;
    let key_secret = key["secret"].as_str().expect("secret").to_owned();
    // A wrong password is a secret too.
    post(
        "/api/v1/auth/login",
        None,
        json!({"username": "victor", "password": "wrong-but-secret-77"}),
    )
    .await
    .expect("login");
    vec![
        SECRET_PASSWORD.to_owned(),
        "wrong-but-secret-77".to_owned(),
        first_refresh.clone(),
        first_refresh["syr_".len()..].to_owned(),
        second_refresh["syr_".len()..].to_owned(),
        key_secret.clone(),
        key_secret["sy-".len()..].to_owned(),
        access,
    ]
}

/// Every row of every table as text.
pub async fn dump(app: &TestApp) -> String {
    if app.backend() == Backend::Sqlite {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal"] {
            let path = app.db.dir.path().join(format!("switchyard.db{suffix}"));
            // The write-ahead log exists only while it holds pages.
            if let Ok(file) = std::fs::read(path) {
                bytes.extend(file);
            }
        }
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let db = Database::connect(&DatabaseOptions::new(app.db.url.clone()))
        .await
        .expect("connect");
    let conn = db.connection();
    let backend = conn.get_database_backend();
    let tables_sql = match app.backend() {
        Backend::Postgres => "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        _ => "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
    };
    let mut text = String::new();
    for row in conn
        .query_all_raw(Statement::from_string(backend, tables_sql))
        .await
        .expect("tables")
    {
        let table: String = row.try_get_by_index(0).expect("table name");
        let rows_sql = match app.backend() {
            Backend::Postgres => format!(r#"SELECT t::text FROM "{table}" t"#),
            _ => {
                let columns = conn
                    .query_all_raw(Statement::from_string(
                        backend,
                        format!(
                            "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '{table}'"
                        ),
                    ))
                    .await
                    .expect("columns");
                let list: Vec<String> = columns
                    .iter()
                    .filter_map(|column| column.try_get_by_index::<String>(0).ok())
                    .map(|column| format!("COALESCE(CAST(`{column}` AS CHAR), '')"))
                    .collect();
                format!("SELECT CONCAT_WS('|', {}) FROM `{table}`", list.join(", "))
            }
        };
        for row in conn
            .query_all_raw(Statement::from_string(backend, rows_sql))
            .await
            .expect("rows")
        {
            // A NULL column reads as nothing.
            if let Ok(value) = row.try_get_by_index::<String>(0) {
                text.push_str(&value);
            }
            text.push('\n');
        }
    }
    db.close().await;
    text
}

#[tokio::test]
async fn the_database_holds_no_password_refresh_token_or_api_key() {
    let app = spawn_app().await;
    let secrets = exercise(&app.address, &app.client).await;
    let dumped = dump(&app).await;
    assert!(
        dumped.contains("victor"),
        "the dump must hold the data it is checked for"
    );
    for secret in &secrets {
        assert!(
            !dumped.contains(secret.as_str()),
            "the database holds a secret: {secret}"
        );
    }
}

/// The switchyard binary with the environment of a test database, and nothing else.
fn command_env(db: &TestDatabase) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command
        .env_clear()
        .env("SWITCHYARD__DATA_DIR", db.dir.path())
        .env("SWITCHYARD__DATABASE__URL", &db.url)
        .env("SWITCHYARD__AUTH__BCRYPT_COST", "4")
        .env("SWITCHYARD__AUTH__ALLOW_WEAK_BCRYPT", "true");
    if db.backend() != Backend::Sqlite {
        command.env("SWITCHYARD__AUTH__JWT_SECRET", TEST_JWT_SECRET);
        command.env("SWITCHYARD__SECRETS__MASTER_KEY", TEST_MASTER_KEY);
    }
    command
}

/// Makes an admin with the operator command and sets a supplier key through the API; returns the key.
async fn set_a_supplier_key(mut admin_command: Command, base: &str, client: &reqwest::Client) -> String {
    let mut child = admin_command
        .args(["admin", "create", "--username", "logadmin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("admin create");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(SECRET_PASSWORD.as_bytes()).expect("password");
    }
    assert!(child.wait().expect("admin create").success());
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "logadmin", "password": SECRET_PASSWORD}))
        .send()
        .await
        .expect("login");
    let access = json_body(login).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let key = "sk-log-supplier-key-Zq81";
    let created = client
        .post(format!("{base}/api/v1/suppliers"))
        .bearer_auth(access)
        .json(
            &json!({"name": "deepseek", "protocol": "openai", "base_url": "https://api.deepseek.com", "api_key": key}),
        )
        .send()
        .await
        .expect("create a supplier");
    assert_eq!(created.status().as_u16(), 201);
    key.to_owned()
}

#[tokio::test]
async fn the_server_log_holds_no_secrets() {
    let db = TestDatabase::create().await;
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("address").port()
    };
    let log_path = db.dir.path().join("server.log");
    let mut command = command_env(&db);
    command
        .arg("serve")
        .env("SWITCHYARD__SERVER__PORT", port.to_string())
        .env("SWITCHYARD__LOG__FORMAT", "json")
        .env("SWITCHYARD__LOG__LEVEL", "trace")
        .env("SWITCHYARD__AUTH__ALLOW_REGISTRATION", "true")
        .stdout(Stdio::null())
        // A file, not a pipe: at trace level the log would fill a pipe nobody reads until exit.
        .stderr(std::fs::File::create(&log_path).expect("a log file"));
    let mut child = command.spawn().expect("start the server");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if client
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut secrets = if ready {
        exercise(&base, &client).await
    } else {
        Vec::new()
    };
    if ready {
        secrets.push(set_a_supplier_key(command_env(&db), &base, &client).await);
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).expect("read the log");
    assert!(ready, "the server did not start: {log}");
    assert!(
        log.contains("/api/v1/auth/login") && log.contains("request_id"),
        "the log must record the requests"
    );
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "the log holds a secret: {secret}");
    }
}

#[tokio::test]
async fn the_jwt_secret_is_generated_on_sqlite_and_required_on_servers() {
    let app = spawn_app().await;
    if app.backend() == Backend::Sqlite {
        let path = app.db.dir.path().join("jwt_secret");
        let secret = std::fs::read_to_string(&path).expect("a generated secret");
        assert!(secret.len() >= 32);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).expect("metadata").permissions().mode() & 0o777,
            0o600
        );
    } else {
        let mut settings = app.settings.clone();
        settings.auth.jwt_secret = None;
        settings.server.port = 0;
        let refused = switchyard_server::startup::Application::build(settings).await;
        let error = format!("{:#}", refused.expect_err("the start is refused"));
        assert!(error.contains("switchyard secrets generate"), "{error}");
    }
}

#[tokio::test]
async fn a_wrong_master_key_stops_the_server_naming_the_fix() {
    let app = spawn_app().await;
    let mut settings = app.settings.clone();
    settings.server.port = 0;
    settings.secrets.master_key = Some(switchyard_domain::kernel::crypto::MasterKey::generate_base64().into());
    let refused = switchyard_server::startup::Application::build(settings.clone()).await;
    let error = format!("{:#}", refused.expect_err("the start is refused"));
    assert!(
        error.contains("is not the key this database's secrets were encrypted with"),
        "{error}"
    );
    assert!(error.contains("SWITCHYARD__SECRETS__MASTER_KEY"), "{error}");

    // The right key starts again.
    settings.secrets.master_key = app.settings.secrets.master_key.clone();
    if app.backend() == Backend::Sqlite {
        let generated = std::fs::read_to_string(app.db.dir.path().join("master_key")).expect("a generated key");
        settings.secrets.master_key = Some(generated.into());
    }
    assert!(
        switchyard_server::startup::Application::build(settings.clone())
            .await
            .is_ok()
    );

    if app.backend() != Backend::Sqlite {
        settings.secrets.master_key = None;
        let refused = switchyard_server::startup::Application::build(settings).await;
        let error = format!("{:#}", refused.expect_err("the start is refused"));
        assert!(error.contains("switchyard secrets generate-master-key"), "{error}");
    }
}
