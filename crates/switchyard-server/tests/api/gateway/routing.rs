//! Routing through the fake upstream: key pools (round-robin, weights), each key's health (a
//! 429's cooldown, a refused key's exile and its probe back, every key cooling), and the order
//! of retries and fallbacks (key, route, fallback model), with what served the answer in the
//! `x-switchyard-*` headers and every try in the call log.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use switchyard_testkit::{Failure, FakeUpstream, Protocol, Scenario};

use super::{World, ask, chat_model, read_stream, world, world_with};

/// Adds a key to a supplier's pool through the key API; returns its id.
async fn add_key(world: &World, supplier: &str, key: &str, weight: i32) -> String {
    let body = json!({"supplier_id": supplier, "name": "pool", "key": key, "weight": weight});
    let (status, created) = world
        .app
        .call(Method::POST, "/api/v1/keys", &world.admin, Some(body))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["last4"], key[key.len() - 4..]);
    assert!(
        created.get("key").is_none() && !created.to_string().contains(key),
        "{created}"
    );
    created["id"].as_str().expect("an id").to_owned()
}

/// The id of a supplier's own key (the pool's first).
async fn default_key(world: &World, supplier: &str) -> String {
    let path = format!("/api/v1/keys?supplier_id={supplier}");
    let (status, list) = world.app.call(Method::GET, &path, &world.admin, None).await;
    assert_eq!(status, 200, "{list}");
    list["data"]
        .as_array()
        .and_then(|keys| keys.iter().find(|key| key["name"] == "default"))
        .and_then(|key| key["id"].as_str())
        .expect("the supplier's own key")
        .to_owned()
}

async fn put_key(world: &World, id: &str, body: Value) -> Value {
    let path = format!("/api/v1/keys/{id}");
    let (status, key) = world.app.call(Method::PUT, &path, &world.admin, Some(body)).await;
    assert_eq!(status, 200, "{key}");
    key
}

async fn stats(world: &World, id: &str) -> Value {
    let path = format!("/api/v1/keys/{id}/stats");
    let (status, stats) = world.app.call(Method::GET, &path, &world.admin, None).await;
    assert_eq!(status, 200, "{stats}");
    stats
}

/// The keys the fake received, in order, by the bearer token they carried.
fn keys_used(world: &World) -> Vec<String> {
    world
        .fake
        .requests()
        .iter()
        .filter(|request| request.path.ends_with("/chat/completions"))
        .filter_map(|request| {
            request
                .header("authorization")
                .map(|value| value.trim_start_matches("Bearer ").to_owned())
        })
        .collect()
}

fn counts(keys: &[String]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for key in keys {
        *counts.entry(key.clone()).or_default() += 1;
    }
    counts
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

fn openai(world: &World) -> String {
    world.suppliers[&Protocol::OpenAi].clone()
}

async fn ok_chat(world: &World) -> reqwest::Response {
    let response = world.chat(&ask(&chat_model(Protocol::OpenAi), "hi")).await;
    assert_eq!(response.status().as_u16(), 200, "{:?}", response.headers());
    response
}

fn limited(seconds: u64) -> Scenario {
    Scenario::failing(Failure::status(429).with_header("retry-after", seconds.to_string()))
}

/// Waits (in real time, for the background prober and flusher) until `check` holds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not happen");
}

#[tokio::test]
async fn round_robin_spreads_calls_evenly_over_a_pool() {
    let world = world().await;
    let supplier = openai(&world);
    for n in 1..=3 {
        add_key(&world, &supplier, &FakeUpstream::pool_key(n), 1).await;
    }
    for _ in 0..40 {
        let response = ok_chat(&world).await;
        assert_eq!(header(&response, "x-switchyard-attempts"), "1");
        assert_eq!(header(&response, "x-switchyard-supplier"), "fake-openai");
        assert_eq!(header(&response, "x-switchyard-model"), chat_model(Protocol::OpenAi));
    }
    let counts = counts(&keys_used(&world));
    assert_eq!(counts.len(), 4, "{counts:?}");
    assert!(counts.values().all(|&count| count == 10), "{counts:?}");
    // The use counts reach the keys' rows through the background flush, the requests the
    // upstream keys' rollups through the call-log writer: each in its own time.
    let id = default_key(&world, &supplier).await;
    eventually("the flush of use counts and the call log's rollups", async || {
        let seen = stats(&world, &id).await;
        seen["key"]["usage_count"] == 10 && seen["requests"] == 10
    })
    .await;
    let seen = stats(&world, &id).await;
    assert_eq!(seen["requests"], 10, "{seen}");
    assert_eq!(seen["errors"], 0, "{seen}");
    assert_eq!(seen["health"]["condition"], "healthy", "{seen}");
    assert!(seen["key"]["last_used_at"].is_string(), "{seen}");
}

#[tokio::test]
async fn weights_share_calls_within_five_percent_over_two_thousand_requests() {
    let world = world_with(|settings| {
        settings
            .gateway
            .supplier_key_selection
            .insert("fake-openai".into(), "weighted".into());
    })
    .await;
    let supplier = openai(&world);
    let light = default_key(&world, &supplier).await;
    put_key(&world, &light, json!({"name": "default", "weight": 1})).await;
    add_key(&world, &supplier, &FakeUpstream::pool_key(1), 3).await;
    world.fake.set(Scenario::text("ok"));
    let body = ask(&chat_model(Protocol::OpenAi), "hi");
    let statuses: Vec<u16> = futures_util::stream::iter(0..2000)
        .map(|_| async { world.chat(&body).await.status().as_u16() })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|&status| status == 200));
    let counts = counts(&keys_used(&world));
    let heavy = counts[&FakeUpstream::pool_key(1)] as f64;
    let light = counts[FakeUpstream::KEY] as f64;
    assert!((heavy - 1500.0).abs() <= 75.0, "{counts:?}");
    assert!((light - 500.0).abs() <= 25.0, "{counts:?}");
}

#[tokio::test]
async fn a_rate_limited_key_cools_down_for_its_retry_after_and_a_shorter_one_later_does_not_cut_it() {
    let world = world().await;
    let supplier = openai(&world);
    // One key in the pool: the supplier's own is taken out.
    let own = default_key(&world, &supplier).await;
    put_key(&world, &own, json!({"name": "default", "status": "inactive"})).await;
    let key = add_key(&world, &supplier, &FakeUpstream::pool_key(1), 1).await;
    // A slow call that will say "30 s" is in flight when a quick one says "60 s".
    world
        .fake
        .push(limited(30).with_first_byte_delay(Duration::from_millis(400)));
    world.fake.push(limited(60));
    let body = ask(&chat_model(Protocol::OpenAi), "hi");
    let slow = world.chat(&body);
    let quick = async {
        eventually("the slow call reaching the fake", async || {
            world.fake.requests().len() == 1
        })
        .await;
        world.chat(&body).await
    };
    let (slow, quick) = tokio::join!(slow, quick);
    assert_eq!((slow.status().as_u16(), quick.status().as_u16()), (429, 429));
    assert_eq!(header(&quick, "retry-after"), "60");
    let sent = world.fake.requests().len();
    // 45 s on, the later deadline still holds: refused at once, nothing sent.
    world.app.clock.advance(chrono::Duration::seconds(45));
    let response = world.chat(&body).await;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(header(&response, "retry-after"), "15");
    assert_eq!(world.fake.requests().len(), sent, "no call goes to a cooling key");
    let health = stats(&world, &key).await["health"].clone();
    assert_eq!(health["condition"], "cooling_down", "{health}");
    // Once its cooldown is over, the key is back.
    world.app.clock.advance(chrono::Duration::seconds(16));
    ok_chat(&world).await;
    assert_eq!(world.fake.requests().len(), sent + 1);
}

#[tokio::test]
async fn with_every_key_cooling_the_answer_is_an_immediate_429_with_the_earliest_retry_after() {
    let world = world().await;
    let supplier = openai(&world);
    add_key(&world, &supplier, &FakeUpstream::pool_key(1), 1).await;
    world.fake.set_for_key(FakeUpstream::KEY, Some(limited(30)));
    world.fake.set_for_key(&FakeUpstream::pool_key(1), Some(limited(20)));
    let body = ask(&chat_model(Protocol::OpenAi), "hi");
    let first = world.chat(&body).await;
    assert_eq!(first.status().as_u16(), 429);
    assert_eq!(header(&first, "x-switchyard-attempts"), "", "no answer served it");
    assert_eq!(world.fake.requests().len(), 2, "both keys were tried");
    let response = world.chat(&body).await;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(header(&response, "retry-after"), "20");
    assert_eq!(world.fake.requests().len(), 2, "refused without a call");
    let entries = world.log(3).await;
    assert_eq!(entries[2].status_code, 429);
    assert_eq!(entries[2].upstream_key_id, None);
}

#[tokio::test]
async fn a_refused_key_leaves_rotation_with_its_reason_and_returns_after_its_probe_succeeds() {
    let world = world_with(|settings| {
        settings.gateway.health.probe_interval = Duration::from_secs(30);
    })
    .await;
    let supplier = openai(&world);
    let bad = FakeUpstream::pool_key(1);
    let id = add_key(&world, &supplier, &bad, 1).await;
    world
        .fake
        .set_for_key(&bad, Some(Scenario::failing(Failure::status(401))));
    // Whichever key goes first, every call is answered; the refused key is tried once.
    let mut attempts = Vec::new();
    for _ in 0..6 {
        attempts.push(header(&ok_chat(&world).await, "x-switchyard-attempts").to_owned());
    }
    assert_eq!(attempts.iter().filter(|tries| *tries == "2").count(), 1, "{attempts:?}");
    assert_eq!(counts(&keys_used(&world))[&bad], 1);
    // The call log is written in the background.
    eventually("the refused try in the call log", async || {
        stats(&world, &id).await["errors"] == 1
    })
    .await;
    let seen = stats(&world, &id).await;
    let health = &seen["health"];
    assert_eq!(health["condition"], "error", "{seen}");
    assert!(health["reason"].as_str().unwrap_or_default().contains("401"), "{seen}");
    assert!(health["next_probe_at"].is_string(), "{seen}");
    assert_eq!(seen["errors"], 1, "{seen}");
    assert!(seen["last_error"]["summary"].is_string(), "{seen}");
    assert!(!seen.to_string().contains(&bad), "the key never shows: {seen}");
    // The operator sees it on the key too, once flushed.
    eventually("the key's row saying error", async || {
        let (_, key) = world
            .app
            .call(Method::GET, &format!("/api/v1/keys/{id}"), &world.admin, None)
            .await;
        key["status"] == "error"
            && key["status_reason"]
                .as_str()
                .is_some_and(|reason| reason.contains("401"))
    })
    .await;
    // The supplier takes the key again; at its probe time, the prober puts it back.
    world.fake.set_for_key(&bad, None);
    world.app.clock.advance(chrono::Duration::seconds(31));
    eventually("the probe bringing the key back", async || {
        stats(&world, &id).await["health"]["condition"] == "healthy"
    })
    .await;
    assert!(
        world
            .fake
            .requests()
            .iter()
            .any(|request| request.path == "/openai/v1/models"),
        "the probe is a model list"
    );
    world.fake.clear();
    for _ in 0..4 {
        ok_chat(&world).await;
    }
    assert_eq!(counts(&keys_used(&world)).get(&bad), Some(&2));
    eventually("the key's row back to active", async || {
        let (_, key) = world
            .app
            .call(Method::GET, &format!("/api/v1/keys/{id}"), &world.admin, None)
            .await;
        key["status"] == "active" && key["status_reason"].is_null()
    })
    .await;
}

#[tokio::test]
async fn a_failed_call_goes_to_the_next_key_then_the_next_route_then_the_fallback_model() {
    let world = world_with(|settings| settings.gateway.retry.max_attempts = 5).await;
    let supplier = openai(&world);
    let own = default_key(&world, &supplier).await;
    put_key(&world, &own, json!({"name": "default", "status": "inactive"})).await;
    for n in 1..=2 {
        add_key(&world, &supplier, &FakeUpstream::pool_key(n), 1).await;
    }
    // A second route, worse priority, through another supplier with its own key.
    let body = json!({
        "name": "fake-openai-b",
        "protocol": "openai",
        "base_url": world.fake.base_url(Protocol::OpenAi),
        "api_key": FakeUpstream::pool_key(3),
    });
    let (status, second) = world
        .app
        .call(Method::POST, "/api/v1/suppliers", &world.admin, Some(body))
        .await;
    assert_eq!(status, 201, "{second}");
    let model = chat_model(Protocol::OpenAi);
    let (_, found) = world
        .app
        .call(Method::GET, &format!("/api/v1/models?q={model}"), &world.admin, None)
        .await;
    let model_id = found["data"][0]["id"].as_str().expect("the model").to_owned();
    let route = json!({"supplier_id": second["id"], "upstream_name": "gpt-4o-b", "priority": 5});
    let (status, created) = world
        .app
        .call(
            Method::POST,
            &format!("/api/v1/models/{model_id}/routes"),
            &world.admin,
            Some(route),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let patch = json!({"fallback_models": [chat_model(Protocol::Anthropic)]});
    let (status, patched) = world
        .app
        .call(
            Method::PATCH,
            &format!("/api/v1/models/{model_id}"),
            &world.admin,
            Some(patch),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["fallback_models"], json!([chat_model(Protocol::Anthropic)]));
    for n in 1..=3 {
        world.fake.set_for_key(
            &FakeUpstream::pool_key(n),
            Some(Scenario::failing(Failure::status(500))),
        );
    }
    let response = world.chat(&ask(&model, "hi")).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "x-switchyard-attempts"), "4");
    assert_eq!(header(&response, "x-switchyard-model"), chat_model(Protocol::Anthropic));
    assert_eq!(header(&response, "x-switchyard-supplier"), "fake-anthropic");
    let body: Value = response.json().await.expect("a completion");
    assert_eq!(body["model"], model, "the body names the model asked for");
    let sent: Vec<(String, String)> = world
        .fake
        .requests()
        .iter()
        .map(|request| {
            (
                request.path.clone(),
                request.body["model"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(sent[0].0, "/openai/v1/chat/completions");
    assert_eq!(sent[1].0, "/openai/v1/chat/completions");
    assert_ne!(
        keys_used(&world)[0],
        keys_used(&world)[1],
        "the second try is the pool's other key"
    );
    assert_eq!(
        sent[2],
        ("/openai/v1/chat/completions".to_owned(), "gpt-4o-b".to_owned())
    );
    assert_eq!(sent[3].0, "/anthropic/v1/messages");
    let entries = world.log(4).await;
    let tries: Vec<(u16, u16, Option<&str>)> = entries
        .iter()
        .map(|entry| (entry.attempt, entry.status_code, entry.error_code.as_deref()))
        .collect();
    assert_eq!(
        tries,
        vec![
            (1, 502, Some("upstream_error")),
            (2, 502, Some("upstream_error")),
            (3, 502, Some("upstream_error")),
            (4, 200, None)
        ]
    );
    assert!(entries.iter().all(|entry| entry.request_id == entries[0].request_id));
    assert_eq!(
        entries[2].supplier_id.map(|id| id.0.to_string()),
        second["id"].as_str().map(str::to_owned)
    );
    assert!(entries[3].cost_nanos > 0, "the answer is priced");
}

#[tokio::test]
async fn a_request_the_supplier_refuses_is_never_retried() {
    let world = world().await;
    add_key(&world, &openai(&world), &FakeUpstream::pool_key(1), 1).await;
    world.fake.push(Scenario::failing(Failure::status(400)));
    let response = world.chat(&ask(&chat_model(Protocol::OpenAi), "hi")).await;
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(world.fake.requests().len(), 1);
    let entry = world.only_entry().await;
    assert_eq!((entry.attempt, entry.status_code), (1, 400));
}

#[tokio::test]
async fn a_stream_falls_back_before_its_first_byte_and_never_after() {
    let world = world().await;
    let bad = FakeUpstream::pool_key(1);
    add_key(&world, &openai(&world), &bad, 1).await;
    world
        .fake
        .set_for_key(&bad, Some(Scenario::failing(Failure::status(503))));
    let mut body = ask(&chat_model(Protocol::OpenAi), "hi");
    body["stream"] = json!(true);
    let mut tries = Vec::new();
    for _ in 0..2 {
        let response = world.chat(&body).await;
        assert_eq!(response.status().as_u16(), 200);
        tries.push(header(&response, "x-switchyard-attempts").to_owned());
        let streamed = read_stream(response).await;
        assert!(streamed.done && !streamed.text().is_empty(), "{streamed:?}");
    }
    tries.sort();
    assert_eq!(tries, ["1", "2"], "the 503 before the first byte went to the other key");
    // Once the answer has begun, a failure is the client's to see: nothing is tried again.
    world.fake.set_for_key(&bad, None);
    world.fake.clear();
    world.fake.set(
        Scenario::text("one two three four")
            .with_chunks(4)
            .with_failure(Failure::ErrorMidStream { after: 2 }),
    );
    let response = world.chat(&body).await;
    assert_eq!(response.status().as_u16(), 200);
    let streamed = read_stream(response).await;
    assert!(streamed.error().is_some(), "{streamed:?}");
    assert_eq!(world.fake.requests().len(), 1);
}

/// Makes a chat model through the platform API, with capabilities (made on first use) and a
/// price; returns its id.
pub async fn priced_model(world: &World, name: &str, capabilities: &[(&str, &[&str])], price: i64) -> String {
    let model = json!({
        "name": name, "supplier_id": openai(world), "upstream_name": "gpt-4o", "model_type": "multimodal",
        "input_price": price, "output_price": price, "currency": "USD",
    });
    let (status, created) = world
        .app
        .call(Method::POST, "/api/v1/models", &world.admin, Some(model))
        .await;
    assert_eq!(status, 201, "{created}");
    for (capability, inputs) in capabilities {
        let body = json!({"name": capability, "display_name": capability, "input_types": inputs, "output_types": ["text"], "domain": "nlp"});
        let (status, made) = world
            .app
            .call(Method::POST, "/api/v1/capabilities", &world.admin, Some(body))
            .await;
        let id = if status == 201 {
            made["id"].clone()
        } else {
            let (_, list) = world
                .app
                .call(
                    Method::GET,
                    &format!("/api/v1/capabilities?q={capability}"),
                    &world.admin,
                    None,
                )
                .await;
            list["data"][0]["id"].clone()
        };
        let link = json!({"model_id": created["id"], "capability_id": id});
        let (status, body) = world
            .app
            .call(
                Method::POST,
                "/api/v1/capabilities/associations",
                &world.admin,
                Some(link),
            )
            .await;
        assert!((200..300).contains(&status), "{body}");
    }
    created["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn auto_picks_the_cheapest_model_that_can_serve_the_request_and_names_it() {
    let world = world().await;
    let text: &[&str] = &["text"];
    let vision: &[&str] = &["text", "image"];
    priced_model(&world, "text-cheap", &[("text_generation", text)], 1_000).await;
    priced_model(&world, "vision-cheap", &[("image_understanding", vision)], 500_000).await;
    let pricey = priced_model(&world, "vision-pricey", &[("image_understanding", vision)], 900_000).await;
    // A category holds only the pricey one.
    let (status, category) = world
        .app
        .call(
            Method::POST,
            "/api/v1/categories",
            &world.admin,
            Some(json!({"name": "coding"})),
        )
        .await;
    assert_eq!(status, 201, "{category}");
    let link = json!({"model_id": pricey, "category_id": category["id"]});
    let (status, body) = world
        .app
        .call(
            Method::POST,
            "/api/v1/categories/associations",
            &world.admin,
            Some(link),
        )
        .await;
    assert!((200..300).contains(&status), "{body}");

    let image = json!({"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]});
    for (model, messages, chosen) in [
        ("auto", json!([{"role": "user", "content": "hi"}]), "text-cheap"),
        ("auto", json!([image]), "vision-cheap"),
        (
            "auto:coding",
            json!([{"role": "user", "content": "hi"}]),
            "vision-pricey",
        ),
    ] {
        let response = world.chat(&json!({"model": model, "messages": messages})).await;
        assert_eq!(response.status().as_u16(), 200, "{model} {messages}");
        assert_eq!(header(&response, "x-switchyard-model"), chosen, "{model} {messages}");
        let body: Value = response.json().await.expect("a completion");
        assert_eq!(body["model"], chosen, "the answer names the model chosen");
    }
    // Nothing in the category has tool calling: refused before any call, and logged.
    let sent = world.fake.requests().len();
    let tools = json!({"model": "auto:coding", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "f"}}]});
    let response = world.chat(&tools).await;
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("an error");
    assert_eq!(body["error"]["param"], "model", "{body}");
    assert_eq!(world.fake.requests().len(), sent);
    let entries = world.log(4).await;
    assert_eq!(entries[3].error_code.as_deref(), Some("no_capable_model"));
}
