//! The gateway, black-box: the real server in front of the fake upstream (a real HTTP server on
//! 127.0.0.1 speaking every supplier protocol), with one supplier and model per protocol made
//! through the platform API, called with a real gateway key.

mod byok;
mod chaos;
mod conformance;
mod endpoints;
pub mod routing;
mod sdk;

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_domain::gateway::CallLogEntry;
use switchyard_persistence::{Database, SqlCallLogs};
use switchyard_server::settings::Settings;
use switchyard_testkit::{FakeUpstream, Protocol};

use crate::helpers::{Session, TestApp, json_body, spawn_app_behind_proxy_with, spawn_app_with};

/// Prices of every test model, in micro-units per million tokens: multiples of 1000, so a
/// token costs a whole number of nano-units.
pub const INPUT_PRICE: i64 = 2_000_000;
pub const CACHED_PRICE: i64 = 500_000;
pub const OUTPUT_PRICE: i64 = 8_000_000;
/// The most output tokens of every test chat model (Anthropic's default `max_tokens`).
pub const MAX_OUTPUT: i64 = 4096;

/// The upstream name of each protocol's chat model.
pub fn upstream_model(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::OpenAi => "gpt-4o",
        Protocol::AzureOpenAi => "my-gpt-4o-deployment",
        Protocol::Anthropic => "claude-sonnet-4",
        Protocol::Gemini => "gemini-2.5-flash",
        Protocol::Replicate => "meta/meta-llama-3-8b-instruct",
    }
}

/// The client's name of each protocol's chat model.
pub fn chat_model(protocol: Protocol) -> String {
    format!("chat-{}", protocol.as_str())
}

/// The client's name of each protocol's embedding model.
pub fn embedding_model(protocol: Protocol) -> String {
    format!("embed-{}", protocol.as_str())
}

/// A server in front of the fake upstream.
pub struct World {
    pub app: TestApp,
    pub fake: FakeUpstream,
    pub admin: Session,
    /// A gateway key (`sy-…`) of an ordinary user.
    pub key: String,
    pub user: Session,
    /// Supplier ids by protocol.
    pub suppliers: HashMap<Protocol, String>,
    pub database: Database,
}

/// Settings for gateway tests: short timeouts so the timeout cases are quick, a call log that
/// flushes at once.
fn gateway_settings(settings: &mut Settings) {
    settings.gateway.timeouts.connect = Duration::from_secs(2);
    settings.gateway.timeouts.first_byte = Duration::from_millis(1500);
    settings.gateway.timeouts.idle = Duration::from_millis(1500);
    settings.gateway.timeouts.total = Duration::from_secs(30);
    settings.gateway.call_log.flush_interval = Duration::from_millis(10);
    // The prober and the keys' flush run often, so a test waits little for them.
    settings.gateway.health.probe_tick = Duration::from_millis(20);
    settings.gateway.key_flush_interval = Duration::from_millis(20);
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

pub async fn world_with(configure: impl FnOnce(&mut Settings)) -> World {
    world_with_fake(|settings, _| configure(settings)).await
}

/// A world whose settings may name the fake upstream (its address).
pub async fn world_with_fake(configure: impl FnOnce(&mut Settings, &FakeUpstream)) -> World {
    let fake = FakeUpstream::start().await;
    let app = spawn_app_with(|settings| {
        gateway_settings(settings);
        configure(settings, &fake);
    })
    .await;
    furnish(app, fake).await
}

/// A world whose database is reached through a TCP proxy a test can cut (PostgreSQL and
/// MySQL only: `app.proxy` is `None` on SQLite).
pub async fn world_behind_proxy(configure: impl FnOnce(&mut Settings)) -> World {
    let fake = FakeUpstream::start().await;
    let app = spawn_app_behind_proxy_with(|settings| {
        gateway_settings(settings);
        configure(settings);
    })
    .await;
    furnish(app, fake).await
}

/// Suppliers, models and a user with a key, made through the platform API.
async fn furnish(app: TestApp, fake: FakeUpstream) -> World {
    let admin = app.create_admin("root").await;
    let mut suppliers = HashMap::new();
    for protocol in Protocol::ALL {
        let body = json!({
            "name": format!("fake-{}", protocol.as_str()).replace('_', "-"),
            "protocol": protocol.as_str(),
            "base_url": fake.base_url(protocol),
            "api_key": FakeUpstream::KEY,
        });
        let (status, created) = app.call(Method::POST, "/api/v1/suppliers", &admin, Some(body)).await;
        assert_eq!(status, 201, "{created}");
        let supplier = created["id"].as_str().expect("a supplier id").to_owned();
        let chat = json!({
            "name": chat_model(protocol),
            "supplier_id": supplier,
            "upstream_name": upstream_model(protocol),
            "model_type": "multimodal",
            "context_window": 128_000,
            "max_output_tokens": MAX_OUTPUT,
            "input_price": INPUT_PRICE,
            "cached_input_price": CACHED_PRICE,
            "output_price": OUTPUT_PRICE,
            "currency": "USD",
        });
        let (status, created) = app.call(Method::POST, "/api/v1/models", &admin, Some(chat)).await;
        assert_eq!(status, 201, "{created}");
        let embedding = json!({
            "name": embedding_model(protocol),
            "supplier_id": supplier,
            "upstream_name": "text-embedding-3-small",
            "model_type": "embedding",
            "sub_type": "embedding",
            "input_price": INPUT_PRICE,
            "output_price": 0,
            "currency": "USD",
        });
        let (status, created) = app.call(Method::POST, "/api/v1/models", &admin, Some(embedding)).await;
        assert_eq!(status, 201, "{created}");
        suppliers.insert(protocol, supplier);
    }
    let user = app.create_user("alice").await;
    let (status, created) = app
        .call(Method::POST, "/api/v1/api-keys", &user, Some(json!({"name": "app"})))
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["secret"].as_str().expect("a secret").to_owned();
    let database = switchyard_server::startup::open_database(&app.settings)
        .await
        .expect("open the database");
    World {
        app,
        fake,
        admin,
        key,
        user,
        suppliers,
        database,
    }
}

/// A user message.
pub fn ask(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// A streamed answer as the client saw it.
#[derive(Debug, Default)]
pub struct Streamed {
    /// The `data:` payloads that were JSON, in order.
    pub events: Vec<Value>,
    /// Whether `data: [DONE]` ended it.
    pub done: bool,
}

impl Streamed {
    /// The content of choice 0, joined.
    pub fn text(&self) -> String {
        self.deltas("content")
    }

    pub fn deltas(&self, field: &str) -> String {
        self.events
            .iter()
            .filter_map(|event| event["choices"][0]["delta"][field].as_str())
            .collect()
    }

    pub fn finish_reason(&self) -> Option<&str> {
        self.events
            .iter()
            .find_map(|event| event["choices"][0]["finish_reason"].as_str())
    }

    pub fn usage(&self) -> Option<&Value> {
        self.events
            .iter()
            .find(|event| event["usage"].is_object())
            .map(|event| &event["usage"])
    }

    pub fn error(&self) -> Option<&Value> {
        self.events
            .iter()
            .find(|event| event["error"].is_object())
            .map(|event| &event["error"])
    }

    /// Tool calls assembled from their pieces: (id, name, arguments) by index.
    pub fn tool_calls(&self) -> Vec<(String, String, String)> {
        let mut calls: Vec<(String, String, String)> = Vec::new();
        for event in &self.events {
            for piece in event["choices"][0]["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let index = piece["index"].as_u64().expect("a tool call index") as usize;
                if calls.len() <= index {
                    calls.resize(index + 1, Default::default());
                }
                let call = &mut calls[index];
                if let Some(id) = piece["id"].as_str() {
                    call.0 = id.to_owned();
                }
                if let Some(name) = piece["function"]["name"].as_str() {
                    call.1.push_str(name);
                }
                if let Some(arguments) = piece["function"]["arguments"].as_str() {
                    call.2.push_str(arguments);
                }
            }
        }
        calls
    }
}

/// Reads a server-sent-events body to its end.
pub async fn read_stream(response: reqwest::Response) -> Streamed {
    let text = response.text().await.unwrap_or_default();
    let mut streamed = Streamed::default();
    for block in text.split("\n\n") {
        let data: String = block
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(str::trim_start)
            .collect::<Vec<_>>()
            .join("\n");
        if data.is_empty() {
            continue;
        }
        if data == "[DONE]" {
            streamed.done = true;
        } else {
            streamed.events.push(
                serde_json::from_str(&data)
                    .unwrap_or_else(|error| panic!("an event that is not JSON ({error}): {data}")),
            );
        }
    }
    streamed
}

impl World {
    /// `POST /v1/chat/completions` with the user's key.
    pub async fn chat(&self, body: &Value) -> reqwest::Response {
        self.post("/v1/chat/completions", body).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(path))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .expect("the gateway answers")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.app
            .client
            .get(self.app.url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("the gateway answers")
    }

    /// The call log once it holds `count` entries (the writer flushes in the background).
    pub async fn log(&self, count: usize) -> Vec<CallLogEntry> {
        let logs = SqlCallLogs::new(self.database.connection().clone());
        for _ in 0..500 {
            if logs.all().await.expect("the call log reads").len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A duplicate would come after: look again once the writer has had time to write one.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let settled = logs.all().await.expect("the call log reads");
        assert_eq!(settled.len(), count, "call log entries: {settled:#?}");
        settled
    }

    /// The one entry of a test that made one call.
    pub async fn only_entry(&self) -> CallLogEntry {
        self.log(1).await.remove(0)
    }
}

/// A JSON error body in OpenAI's shape, with its status.
pub async fn openai_error(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = json_body(response).await;
    assert!(
        body["error"]["message"].is_string() && body["error"]["type"].is_string(),
        "{body}"
    );
    (status, body["error"].clone())
}
