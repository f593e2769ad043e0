//! `spawn_app()`: the real server on port 0 with a fresh database, and one helper per endpoint.

use std::sync::{Arc, LazyLock};

use actix_web::dev::ServerHandle;
use chrono::{TimeZone, Utc};
use switchyard_domain::ManualClock;
use switchyard_persistence::Backend;
use switchyard_server::settings::{LogSettings, RateLimits, Settings};
use switchyard_server::startup::{Application, Overrides};

use crate::support::database::TestDatabase;
use crate::support::probe_routes;
use crate::support::proxy::TcpProxy;

/// The signing secret tests configure (never used outside tests).
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// The master key tests configure on server databases (base64 of 32 bytes; tests only).
pub const TEST_MASTER_KEY: &str = "c3dpdGNoeWFyZC10ZXN0LW1hc3Rlci1rZXktMzJieXQ=";

/// The log writer's guard, kept for the whole test run (dropping it would stop the writer).
static TRACING: LazyLock<Option<switchyard_server::telemetry::LogGuard>> = LazyLock::new(|| {
    std::env::var_os("TEST_LOG").is_some().then(|| {
        let settings = LogSettings {
            level: "debug".to_owned(),
            ..LogSettings::default()
        };
        switchyard_server::telemetry::init(&settings).ok()
    })?
});

/// A running server and what a test needs to talk to it.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub db: TestDatabase,
    /// In front of the database when the app was spawned with [`spawn_app_behind_proxy`].
    pub proxy: Option<TcpProxy>,
    pub settings: Settings,
    handle: ServerHandle,
    /// The server's run, to await a complete stop.
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// The tokens of a logged-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub access: String,
    pub refresh: String,
}

/// A password that meets the rules.
pub const PASSWORD: &str = "correct horse battery staple";

impl Drop for TestApp {
    fn drop(&mut self) {
        // Not awaited: the runtime ends with the test; the stop begins now.
        drop(self.handle.stop(false));
    }
}

/// Spawns the app on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn(|_| {}, false).await
}

/// Spawns the app after `configure` has changed its settings.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(configure, false).await
}

/// Builds the app after `configure` has changed its settings, or says why it would not start.
pub async fn try_spawn_app_with(configure: impl FnOnce(&mut Settings)) -> anyhow::Result<TestApp> {
    try_spawn(configure, false).await
}

/// Spawns the app with its database reached through a [`TcpProxy`] (PostgreSQL and MySQL only:
/// a SQLite file has no connection to cut, so there `proxy` is `None`).
pub async fn spawn_app_behind_proxy() -> TestApp {
    spawn_app_behind_proxy_with(|_| {}).await
}

/// [`spawn_app_behind_proxy`] after `configure` has changed the settings.
pub async fn spawn_app_behind_proxy_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(
        |settings| {
            settings.database.acquire_timeout = std::time::Duration::from_secs(1);
            configure(settings);
        },
        true,
    )
    .await
}

/// Rate limits no test reaches by accident.
pub fn unlimited() -> RateLimits {
    RateLimits {
        login_per_address: 10_000,
        login_per_account: 10_000,
        register_per_address: 10_000,
        refresh_per_address: 10_000,
        refresh_per_account: 10_000,
        password_per_address: 10_000,
        password_per_account: 10_000,
    }
}

async fn spawn(configure: impl FnOnce(&mut Settings), behind_proxy: bool) -> TestApp {
    try_spawn(configure, behind_proxy)
        .await
        .expect("the application builds")
}

async fn try_spawn(configure: impl FnOnce(&mut Settings), behind_proxy: bool) -> anyhow::Result<TestApp> {
    LazyLock::force(&TRACING);
    let db = TestDatabase::create().await;
    let proxy = match db.server_address() {
        Some(server) if behind_proxy => Some(TcpProxy::start(server).await),
        _ => None,
    };
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.data_dir = db.dir.path().to_path_buf();
    settings.database.url = Some(match &proxy {
        Some(proxy) => db.url_via(&proxy.address.to_string()),
        None => db.url.clone(),
    });
    settings.database.max_connections = 4;
    settings.auth.bcrypt_cost = 4;
    settings.auth.allow_weak_bcrypt = true;
    // Estimates in assertions are the tokenizer's, never the rough count used while it loads.
    settings.gateway.preload_tokenizer = true;
    // Tests make accounts over HTTP and log in often from one address; the tests of these
    // rules set them back.
    settings.auth.allow_registration = true;
    settings.auth.rate_limits = unlimited();
    if db.backend() != Backend::Sqlite {
        // Several instances share a server database, so the secret must be configured there;
        // on SQLite the generated-secret path is exercised instead.
        settings.auth.jwt_secret = Some(TEST_JWT_SECRET.into());
        settings.secrets.master_key = Some(TEST_MASTER_KEY.into());
    }
    configure(&mut settings);

    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
            .single()
            .expect("a valid instant"),
    ));
    let overrides = Overrides {
        clock: Some(clock.clone()),
        routes: vec![probe_routes::configure],
    };
    let app = Application::build_with(settings.clone(), overrides).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let running = Some(tokio::spawn(app.run_until_stopped()));
    Ok(TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client"),
        clock,
        db,
        proxy,
        settings,
        handle,
        running,
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// POSTs a raw body with a content type, for the error cases.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn health_ready(&self) -> reqwest::Response {
        self.get("/health/ready").await
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.expect("POST")
    }

    /// A request with `Authorization: Bearer <token>`.
    pub fn authed(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(token)
    }

    pub async fn get_authed(&self, path: &str, token: &str) -> reqwest::Response {
        self.authed(reqwest::Method::GET, path, token)
            .send()
            .await
            .expect("GET")
    }

    pub async fn post_authed(&self, path: &str, token: &str, body: &serde_json::Value) -> reqwest::Response {
        self.authed(reqwest::Method::POST, path, token)
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn register(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/register",
            &serde_json::json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"username": username, "password": password}),
        )
        .await
    }

    /// Logs in and returns the session; panics when the login fails.
    pub async fn login_ok(&self, username: &str, password: &str) -> Session {
        let response = self.login(username, password).await;
        assert_eq!(response.status().as_u16(), 200, "login of {username}");
        let body = json_body(response).await;
        let access = body["access_token"].as_str().expect("access_token").to_owned();
        let me = json_body(self.get_authed("/api/v1/users/me", &access).await).await;
        Session {
            user_id: me["id"].as_str().expect("id").to_owned(),
            access,
            refresh: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
        }
    }

    /// Registers a user over HTTP and logs them in.
    pub async fn create_user(&self, username: &str) -> Session {
        let response = self.register(username, PASSWORD).await;
        assert_eq!(response.status().as_u16(), 201, "register {username}");
        self.login_ok(username, PASSWORD).await
    }

    /// Stops the server as SIGTERM would and waits until it has stopped completely (requests
    /// drained, background tasks stopped, the call log flushed or spilled), then starts it again
    /// with the same settings and clock, on a new port.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// Stops the server as SIGTERM would and waits until it has stopped completely.
    pub async fn stop(&mut self) {
        self.handle.stop(true).await;
        if let Some(running) = self.running.take() {
            running
                .await
                .expect("the server task")
                .expect("the server stopped cleanly");
        }
    }

    /// Starts the (stopped) server again with the same settings and clock, on a new port.
    pub async fn start(&mut self) {
        let mut settings = self.settings.clone();
        settings.server.port = 0;
        let overrides = Overrides {
            clock: Some(self.clock.clone()),
            routes: vec![probe_routes::configure],
        };
        let app = Application::build_with(settings, overrides)
            .await
            .expect("the server starts again");
        self.address = format!("http://127.0.0.1:{}", app.port());
        self.handle = app.handle();
        self.running = Some(tokio::spawn(app.run_until_stopped()));
    }

    /// Starts another instance of the server on the same database, data directory and clock, as
    /// a second machine behind a load balancer would run. Returns its base URL; it stops with the test.
    pub async fn spawn_sibling(&self) -> (String, ServerHandle) {
        let mut settings = self.settings.clone();
        settings.server.port = 0;
        let overrides = Overrides {
            clock: Some(self.clock.clone()),
            routes: vec![probe_routes::configure],
        };
        let sibling = Application::build_with(settings, overrides)
            .await
            .expect("a second instance");
        let address = format!("http://127.0.0.1:{}", sibling.port());
        let handle = sibling.handle();
        tokio::spawn(sibling.run_until_stopped());
        (address, handle)
    }

    /// Sends a request as `session` with an optional JSON body; returns the status and the JSON
    /// body (`null` for 204).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        session: &Session,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.authed(method, path, &session.access);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let body = if status == 204 {
            serde_json::Value::Null
        } else {
            json_body(response).await
        };
        (status, body)
    }

    /// Creates an admin the way the operator command does, and logs them in.
    pub async fn create_admin(&self, username: &str) -> Session {
        let database = switchyard_server::startup::open_database(&self.settings)
            .await
            .expect("open the database");
        let accounts = switchyard_server::startup::accounts(&self.settings, &database, None, self.clock.clone())
            .await
            .expect("accounts");
        let account = switchyard_domain::accounts::NewAccount {
            username,
            display_name: None,
            email: None,
            role: switchyard_domain::Role::Admin,
            password: Some(PASSWORD),
        };
        accounts
            .create_account(
                &switchyard_domain::Admin::operator(),
                &switchyard_domain::accounts::ClientAddress(None),
                None,
                account,
            )
            .await
            .expect("create an admin");
        database.close().await;
        self.login_ok(username, PASSWORD).await
    }
}

/// Reads a response as JSON, asserting first that it says it is JSON.
pub async fn json_body(response: reqwest::Response) -> serde_json::Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type:?}"
    );
    response.json().await.expect("a JSON body")
}
