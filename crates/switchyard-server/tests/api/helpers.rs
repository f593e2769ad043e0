//! `spawn_app()`: the real server on port 0 with a fresh database, and one helper per endpoint.

use std::sync::{Arc, LazyLock};

use actix_web::dev::ServerHandle;
use chrono::{TimeZone, Utc};
use switchyard_domain::ManualClock;
use switchyard_persistence::Backend;
use switchyard_server::settings::{LogSettings, Settings};
use switchyard_server::startup::{Application, Overrides};

use crate::support::database::TestDatabase;
use crate::support::probe_routes;
use crate::support::proxy::TcpProxy;

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        let settings = LogSettings {
            level: "debug".to_owned(),
            ..LogSettings::default()
        };
        let _ = switchyard_server::telemetry::init(&settings);
    }
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
    handle: ServerHandle,
}

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

/// Spawns the app with its database reached through a [`TcpProxy`] (PostgreSQL and MySQL only:
/// a SQLite file has no connection to cut, so there `proxy` is `None`).
pub async fn spawn_app_behind_proxy() -> TestApp {
    spawn(
        |settings| settings.database.acquire_timeout = std::time::Duration::from_secs(1),
        true,
    )
    .await
}

async fn spawn(configure: impl FnOnce(&mut Settings), behind_proxy: bool) -> TestApp {
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
    let app = Application::build_with(settings, overrides)
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client"),
        clock,
        db,
        proxy,
        handle,
    }
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
