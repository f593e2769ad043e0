//! Rate limits, concurrency and budgets: in one instance (limits in memory), and across two
//! instances on one database and one Redis. The Redis tests use `SWITCHYARD_TEST_REDIS_URL`
//! (default `redis://127.0.0.1:6379`); where no Redis answers they say so and pass, except
//! under CI (`CI=true`), where `.ci/run` starts one and a missing Redis fails.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use switchyard_testkit::{Protocol, Scenario};

use super::{Member, member};
use crate::gateway::{World, ask, chat_model, world_with};
use crate::support::proxy::TcpProxy;

/// The Redis tests run against, when one answers.
async fn redis_address() -> Option<String> {
    let url = std::env::var("SWITCHYARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let address = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .to_owned();
    match tokio::net::TcpStream::connect(&address).await {
        Ok(_) => Some(address),
        Err(error) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no Redis answers on {address} ({error}); start one (redis-server) or set SWITCHYARD_TEST_REDIS_URL"
            );
            eprintln!("skipped: no Redis answers on {address} ({error}); start redis-server to run this test");
            None
        }
    }
}

/// A world whose limits live in Redis at `address`, under a prefix of its own.
async fn redis_world(address: &str, closed: bool) -> World {
    redis_world_with(address, |settings| {
        if closed {
            settings.limits.on_store_failure = switchyard_server::settings::OnStoreFailure::Closed;
        }
    })
    .await
}

async fn redis_world_with(address: &str, configure: impl FnOnce(&mut switchyard_server::settings::Settings)) -> World {
    let prefix = format!("switchyard-test:{}:", uuid::Uuid::now_v7());
    let url = format!("redis://{address}");
    world_with(move |settings| {
        settings.gateway.retry.max_attempts = 1;
        settings.redis.url = Some(url);
        settings.redis.key_prefix = prefix;
        configure(settings);
    })
    .await
}

async fn local_world() -> World {
    world_with(|settings| settings.gateway.retry.max_attempts = 1).await
}

async fn set_limits(world: &World, member: &Member, limits: Value) {
    let (status, body) = world
        .app
        .call(
            Method::PUT,
            &format!("/api/v1/api-keys/{}/limits", member.key_id),
            &member.session,
            Some(limits),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn chat(client: &reqwest::Client, base: &str, key: &str, body: &Value) -> reqwest::Response {
    client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("the gateway answers")
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Sends `count` requests at once, alternating between the instances; the statuses and the
/// remaining-requests header of each.
async fn burst(world: &World, bases: &[String], key: &str, count: usize) -> Vec<(u16, Option<String>, Value)> {
    let body = ask(&chat_model(Protocol::OpenAi), "hi");
    let requests = (0..count).map(|n| {
        let base = bases[n % bases.len()].clone();
        let body = body.clone();
        let client = world.app.client.clone();
        let key = key.to_owned();
        async move {
            let response = chat(&client, &base, &key, &body).await;
            let status = response.status().as_u16();
            // What an admitted call's headers count, or how long a refused one must wait.
            let counted = if status == 200 {
                header(&response, "x-ratelimit-remaining-requests")
            } else {
                header(&response, "retry-after")
            };
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, counted, body)
        }
    });
    join_all(requests).await
}

/// 40 attempts at once against a key limited to 10 requests a minute: exactly 10 go through,
/// their headers count down 9 to 0, and the rest are told which limit and when to retry.
async fn exactly_ten_of_forty(world: &World, bases: &[String]) -> Member {
    let bob = member(world, "bob").await;
    set_limits(world, &bob, json!({"requests_per_minute": 10})).await;
    let outcomes = burst(world, bases, &bob.key, 40).await;
    let admitted: Vec<&(u16, Option<String>, Value)> = outcomes.iter().filter(|(status, ..)| *status == 200).collect();
    assert_eq!(admitted.len(), 10, "{outcomes:#?}");
    let remaining: BTreeSet<u64> = admitted
        .iter()
        .map(|(_, remaining, _)| {
            remaining
                .as_deref()
                .and_then(|value| value.parse().ok())
                .expect("a remaining count")
        })
        .collect();
    assert_eq!(
        remaining,
        (0..10).collect(),
        "each admitted call saw the count after it"
    );
    for (status, retry_after, body) in outcomes.iter().filter(|(status, ..)| *status != 200) {
        assert_eq!(*status, 429, "{body}");
        assert_eq!(body["error"]["code"], json!("rate_limit_exceeded"), "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("the API key's limit of 10 requests per minute"),
            "{message}"
        );
        let wait: u64 = retry_after
            .as_deref()
            .and_then(|value| value.parse().ok())
            .expect("a Retry-After");
        assert!((1..=60).contains(&wait), "{wait}");
    }
    let log = world.log(40).await;
    let refused = log
        .iter()
        .filter(|entry| entry.error_code.as_deref() == Some("rate_limit_exceeded"))
        .count();
    assert_eq!(refused, 30, "every refusal is logged");
    assert_eq!(world.fake.requests().len(), 10, "no refused call reached the supplier");
    // A model listing reports the same state and takes nothing.
    for base in bases {
        let response = world
            .app
            .client
            .get(format!("{base}/v1/models"))
            .bearer_auth(&bob.key)
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-limit-requests").as_deref(), Some("10"));
        assert_eq!(
            header(&response, "x-ratelimit-remaining-requests").as_deref(),
            Some("0")
        );
        assert_eq!(
            header(&response, "x-ratelimit-reset-requests").as_deref(),
            Some("1m0s"),
            "the clock stands still: a whole minute to refill"
        );
    }
    bob
}

#[tokio::test]
async fn a_key_limited_to_ten_a_minute_lets_exactly_ten_of_forty_through() {
    let world = local_world().await;
    exactly_ten_of_forty(&world, &[world.app.url("")]).await;
    // A minute later the limit is whole again.
    world.app.clock.advance(chrono::TimeDelta::seconds(60));
    let response = chat(
        &world.app.client,
        &world.app.url(""),
        &world.key,
        &ask(&chat_model(Protocol::OpenAi), "hi"),
    )
    .await;
    assert_eq!(response.status(), 200, "alice's key has no limit");
}

#[tokio::test]
async fn two_instances_on_one_redis_let_exactly_ten_of_forty_through() {
    let Some(address) = redis_address().await else { return };
    let world = redis_world(&address, false).await;
    let (sibling, _handle) = world.app.spawn_sibling().await;
    exactly_ten_of_forty(&world, &[world.app.url(""), sibling]).await;
}

/// Failed logins for `username`, alternating between `bases`: their statuses.
async fn failed_logins(world: &World, bases: &[String], username: &str, attempts: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for n in 0..attempts {
        let response = world
            .app
            .client
            .post(format!("{}/api/v1/auth/login", bases[n % bases.len()]))
            .json(&json!({"username": username, "password": "a wrong guess"}))
            .send()
            .await
            .expect("a login attempt");
        if response.status() == 429 {
            let retry_after: u64 = response.headers()["retry-after"]
                .to_str()
                .ok()
                .and_then(|value| value.parse().ok())
                .expect("Retry-After in seconds");
            assert!((1..=60).contains(&retry_after), "{retry_after}");
        }
        statuses.push(response.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn two_instances_on_one_redis_share_the_login_attempt_limit() {
    let Some(address) = redis_address().await else { return };
    let world = redis_world_with(&address, |settings| settings.auth.rate_limits.login_per_account = 3).await;
    let (sibling, _handle) = world.app.spawn_sibling().await;
    let bases = [world.app.url(""), sibling];
    // Three a minute for the account across both instances, not three on each.
    assert_eq!(
        failed_logins(&world, &bases, "victim", 6).await,
        [401, 401, 401, 429, 429, 429]
    );
}

#[tokio::test]
async fn with_redis_cut_login_attempts_are_limited_in_each_instance_until_it_is_back() {
    let Some(address) = redis_address().await else { return };
    let proxy = TcpProxy::start(address).await;
    let world = redis_world_with(&proxy.address.to_string(), |settings| {
        settings.auth.rate_limits.login_per_account = 3;
    })
    .await;
    let bases = [world.app.url("")];
    proxy.cut();
    assert_eq!(
        failed_logins(&world, &bases, "victim", 4).await,
        [401, 401, 401, 429],
        "this instance's own count while Redis is away"
    );
    proxy.restore();
    // Back by itself: Redis, which saw none of those, lets the account try again (this
    // instance's own count would still refuse it).
    let mut statuses = Vec::new();
    for _ in 0..100 {
        statuses = failed_logins(&world, &bases, "victim", 1).await;
        if statuses == [401] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(statuses, [401], "counted in Redis again");
    assert_eq!(
        failed_logins(&world, &bases, "victim", 3).await,
        [401, 401, 429],
        "and limited there"
    );
}

/// A budget that two reservations fit: slow calls at once get two through, then calls one
/// after another go through until the spend plus the next call's maximum would pass it.
/// Returns bob and what he spent.
async fn budget_never_overshot(world: &World, bases: &[String]) -> (Member, i64) {
    let bob = member(world, "bob").await;
    let budget = 2_000_000;
    set_limits(
        world,
        &bob,
        json!({"budget": {"amount_nanos": budget, "currency": "USD", "period": "month"}}),
    )
    .await;
    let mut body = ask(&chat_model(Protocol::OpenAi), "hi");
    // A maximum cost of a little over 800000 nano-USD (100 tokens at 8 USD a million).
    body["max_tokens"] = json!(100);
    // Three answers may cost three times as much: more than the budget at once.
    let mut three = body.clone();
    three["n"] = json!(3);
    let response = chat(&world.app.client, &bases[0], &bob.key, &three).await;
    assert_eq!(response.status(), 429, "n answers reserve n times the answer");
    world
        .fake
        .set(Scenario::text("slow").with_first_byte_delay(Duration::from_millis(400)));
    let at_once = (0..10).map(|n| {
        let client = world.app.client.clone();
        let base = bases[n % bases.len()].clone();
        let (key, body) = (bob.key.clone(), body.clone());
        async move {
            let response = chat(&client, &base, &key, &body).await;
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    });
    let outcomes = join_all(at_once).await;
    let admitted = outcomes.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(admitted, 2, "two reservations fit the budget: {outcomes:#?}");
    let (_, refusal) = outcomes.iter().find(|(status, _)| *status == 429).expect("a refusal");
    assert_eq!(refusal["error"]["code"], json!("insufficient_quota"), "{refusal}");
    assert_eq!(refusal["error"]["type"], json!("insufficient_quota"), "{refusal}");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("starts again at 2026-12-01T00:00:00Z"),
        "{refusal}"
    );
    world.fake.set(Scenario::text("quick"));
    // One after another: each settles at its real cost (80000), so many more fit.
    let mut sequential = 0;
    loop {
        // Settling is in the background (with Redis): let it land before the next check.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let response = chat(&world.app.client, &bases[sequential % bases.len()], &bob.key, &body).await;
        if response.status() != 200 {
            assert_eq!(response.status(), 429);
            break;
        }
        sequential += 1;
        assert!(sequential < 40, "the budget never refused");
    }
    let entries = world.log(1 + 10 + sequential + 1).await;
    let spent: i64 = entries
        .iter()
        .filter(|entry| entry.status_code == 200)
        .map(|entry| entry.cost_nanos)
        .sum();
    assert!(spent <= budget, "spent {spent} of {budget}");
    assert!(
        sequential >= 10,
        "the real costs settled the reservations: {sequential} calls"
    );
    let limits = budget_of(world, &world.app.url(""), &bob).await;
    assert_eq!(limits["budget"]["spent_nanos"], json!(spent), "{limits}");
    assert_eq!(limits["budget"]["reserved_nanos"], json!(0), "{limits}");
    assert_eq!(limits["budget"]["remaining_nanos"], json!(budget - spent));
    assert_eq!(limits["budget"]["period_start"], json!("2026-11-01T00:00:00Z"));
    assert_eq!(limits["budget"]["resets_at"], json!("2026-12-01T00:00:00Z"));
    // What is left is less than one more call's maximum: the refusal was not early.
    assert!(budget - spent < 900_000, "{limits}");
    (bob, spent)
}

/// Bob's key's limits as an instance reads them.
async fn budget_of(world: &World, base: &str, bob: &Member) -> Value {
    let response = world
        .app
        .client
        .get(format!("{base}/api/v1/api-keys/{}/limits", bob.key_id))
        .bearer_auth(&bob.session.access)
        .send()
        .await
        .expect("the instance answers");
    assert_eq!(response.status(), 200);
    response.json().await.expect("a JSON body")
}

#[tokio::test]
async fn a_budget_is_never_overshot_and_its_spend_is_visible() {
    let world = local_world().await;
    budget_never_overshot(&world, &[world.app.url("")]).await;
}

#[tokio::test]
async fn two_instances_on_one_redis_never_overshoot_a_budget_and_a_redis_restart_loses_no_spend() {
    let Some(address) = redis_address().await else { return };
    let world = redis_world(&address, false).await;
    let (sibling, _handle) = world.app.spawn_sibling().await;
    let (bob, spent) = budget_never_overshot(&world, &[world.app.url(""), sibling.clone()]).await;
    // Redis loses everything (a restart without persistence): the spend comes back from the
    // database, on either instance.
    let client = redis::Client::open(format!("redis://{address}")).expect("a Redis client");
    let mut connection = client.get_multiplexed_async_connection().await.expect("Redis answers");
    let prefix = world.app.settings.redis.key_prefix.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .expect("the keys");
    assert!(!keys.is_empty(), "the limits live in Redis");
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut connection)
        .await
        .expect("deleted");
    let limits = budget_of(&world, &sibling, &bob).await;
    assert_eq!(limits["budget"]["spent_nanos"], json!(spent), "{limits}");
    let mut body = ask(&chat_model(Protocol::OpenAi), "hi");
    body["max_tokens"] = json!(100);
    let response = chat(&world.app.client, &sibling, &bob.key, &body).await;
    assert_eq!(response.status(), 429, "the spent budget still refuses");
}

/// Under 1000 tokens a minute, a call that may use about 510 (100 tokens of prompt and 400 of
/// answer) twice fits only because the first settled at its real 19.
async fn tokens_settle(world: &World, bases: &[String]) {
    let bob = member(world, "bob").await;
    set_limits(world, &bob, json!({"tokens_per_minute": 1000})).await;
    let mut body = ask(&chat_model(Protocol::OpenAi), "hi");
    body["max_tokens"] = json!(490);
    let first = chat(&world.app.client, &bases[0], &bob.key, &body).await;
    assert_eq!(first.status(), 200);
    let limit = header(&first, "x-ratelimit-limit-tokens");
    assert_eq!(limit.as_deref(), Some("1000"));
    let after_first: u64 = header(&first, "x-ratelimit-remaining-tokens")
        .and_then(|value| value.parse().ok())
        .expect("remaining tokens");
    assert!(after_first < 510, "the reservation took the estimate: {after_first}");
    // The settlement gives back all but the 19 tokens used.
    let mut after_settle = 0;
    for _ in 0..100 {
        let response = world
            .app
            .client
            .get(format!("{}/v1/models", bases[bases.len() - 1]))
            .bearer_auth(&bob.key)
            .send()
            .await
            .expect("the gateway answers");
        after_settle = header(&response, "x-ratelimit-remaining-tokens")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        if after_settle == 981 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(after_settle, 981, "1000 less the 19 tokens the call used");
    let second = chat(&world.app.client, &bases[bases.len() - 1], &bob.key, &body).await;
    assert_eq!(second.status(), 200, "it fits after the settlement");
    let third_body = json!({"model": chat_model(Protocol::OpenAi), "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2000});
    let third = chat(&world.app.client, &bases[0], &bob.key, &third_body).await;
    assert_eq!(third.status(), 429);
    let refusal: Value = third.json().await.expect("a body");
    let message = refusal["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("more than the API key's limit of 1000 tokens per minute allows at once"),
        "{message}"
    );
}

#[tokio::test]
async fn a_token_limit_reserves_the_estimate_and_settles_with_the_real_usage() {
    let world = local_world().await;
    tokens_settle(&world, &[world.app.url("")]).await;
}

#[tokio::test]
async fn two_instances_on_one_redis_settle_token_limits_with_the_real_usage() {
    let Some(address) = redis_address().await else { return };
    let world = redis_world(&address, false).await;
    let (sibling, _handle) = world.app.spawn_sibling().await;
    tokens_settle(&world, &[world.app.url(""), sibling]).await;
}

/// The gateway's count of limit checks that could not reach Redis.
async fn store_failures(world: &World) -> f64 {
    let text = world.app.get("/metrics").await.text().await.expect("the metrics");
    text.lines()
        .find_map(|line| line.strip_prefix("switchyard_limit_store_failures_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn with_redis_cut_the_gateway_fails_open_and_limits_come_back_with_it() {
    let Some(address) = redis_address().await else { return };
    let proxy = TcpProxy::start(address).await;
    let world = redis_world(&proxy.address.to_string(), false).await;
    let bob = member(&world, "bob").await;
    set_limits(&world, &bob, json!({"requests_per_minute": 2})).await;
    let body = ask(&chat_model(Protocol::OpenAi), "hi");
    let base = world.app.url("");
    for _ in 0..2 {
        assert_eq!(chat(&world.app.client, &base, &bob.key, &body).await.status(), 200);
    }
    assert_eq!(chat(&world.app.client, &base, &bob.key, &body).await.status(), 429);
    proxy.cut();
    for _ in 0..3 {
        let response = chat(&world.app.client, &base, &bob.key, &body).await;
        assert_eq!(response.status(), 200, "open: through while Redis is away");
        assert!(
            header(&response, "x-ratelimit-remaining-requests").is_none(),
            "no state to report"
        );
    }
    assert!(store_failures(&world).await >= 3.0);
    proxy.restore();
    // Back by itself: the limit's state from before the cut refuses again.
    let mut status = 0;
    for _ in 0..100 {
        status = chat(&world.app.client, &base, &bob.key, &body).await.status().as_u16();
        if status == 429 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 429, "the limit holds again once Redis is back");
}

#[tokio::test]
async fn with_redis_cut_the_gateway_fails_closed_when_configured_and_recovers() {
    let Some(address) = redis_address().await else { return };
    let proxy = TcpProxy::start(address).await;
    let world = redis_world(&proxy.address.to_string(), true).await;
    let bob = member(&world, "bob").await;
    set_limits(&world, &bob, json!({"requests_per_minute": 100})).await;
    let body = ask(&chat_model(Protocol::OpenAi), "hi");
    let base = world.app.url("");
    assert_eq!(chat(&world.app.client, &base, &bob.key, &body).await.status(), 200);
    proxy.cut();
    let response = chat(&world.app.client, &base, &bob.key, &body).await;
    assert_eq!(response.status(), 503, "closed: refused while Redis is away");
    let refusal: Value = response.json().await.expect("a body");
    assert_eq!(refusal["error"]["code"], json!("service_unavailable"), "{refusal}");
    // A caller under no limit needs no Redis.
    let free = chat(&world.app.client, &base, &world.key, &body).await;
    assert_eq!(free.status(), 200);
    proxy.restore();
    let mut status = 0;
    for _ in 0..100 {
        status = chat(&world.app.client, &base, &bob.key, &body).await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200, "back by itself once Redis is");
}

#[tokio::test]
async fn limits_are_set_within_the_users_and_refuse_bad_values() {
    let world = local_world().await;
    let bob = member(&world, "bob").await;
    let (status, set) = world
        .app
        .call(
            Method::PUT,
            &format!("/api/v1/admin/users/{}/limits", bob.session.user_id),
            &world.admin,
            Some(json!({"requests_per_minute": 100, "budget": {"amount_nanos": 5_000_000_000_i64, "currency": "usd", "period": "day"}})),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["budget"]["currency"], json!("USD"));
    assert_eq!(set["budget"]["period_start"], json!("2026-11-22T00:00:00Z"));
    assert_eq!(set["budget"]["resets_at"], json!("2026-11-23T00:00:00Z"));
    assert_eq!(set["budget"]["remaining"], json!("5.000000000"));
    let (status, mine) = world
        .app
        .call(Method::GET, "/api/v1/users/me/limits", &bob.session, None)
        .await;
    assert_eq!((status, &mine["requests_per_minute"]), (200, &json!(100)));
    for (body, field) in [
        (json!({"requests_per_minute": 101}), "requests_per_minute"),
        (json!({"requests_per_minute": 0}), "requests_per_minute"),
        (json!({"concurrency": 0}), "concurrency"),
        (
            json!({"budget": {"amount_nanos": 0, "currency": "USD", "period": "day"}}),
            "budget.amount_nanos",
        ),
        (
            json!({"budget": {"amount_nanos": 5, "currency": "dollars", "period": "day"}}),
            "budget.currency",
        ),
        (
            json!({"budget": {"amount_nanos": 5, "currency": "USD", "period": "fortnight"}}),
            "budget.period",
        ),
    ] {
        let (status, error) = world
            .app
            .call(
                Method::PUT,
                &format!("/api/v1/api-keys/{}/limits", bob.key_id),
                &bob.session,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 422, "{body}: {error}");
        assert_eq!(error["error"]["details"][0]["field"], json!(field), "{error}");
    }
    let (status, _) = world
        .app
        .call(
            Method::PUT,
            &format!("/api/v1/api-keys/{}/limits", bob.key_id),
            &bob.session,
            Some(json!({"rpm": 5})),
        )
        .await;
    assert_eq!(status, 400, "an unknown field");
    // Another user's key is not found; a user's limits are an admin's.
    let (status, _) = world
        .app
        .call(
            Method::GET,
            &format!("/api/v1/api-keys/{}/limits", bob.key_id),
            &world.user,
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = world
        .app
        .call(
            Method::PUT,
            &format!("/api/v1/admin/users/{}/limits", bob.session.user_id),
            &bob.session,
            Some(json!({"requests_per_minute": 1000})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, error) = world
        .app
        .call(
            Method::PUT,
            &format!("/api/v1/admin/users/{}/limits", bob.session.user_id),
            &world.admin,
            Some(json!({"concurrency": 3})),
        )
        .await;
    assert_eq!(status, 422, "{error}");
    // The user's limit applies to every key of theirs.
    let (status, _) = world
        .app
        .call(
            Method::PUT,
            &format!("/api/v1/admin/users/{}/limits", bob.session.user_id),
            &world.admin,
            Some(json!({"requests_per_minute": 3})),
        )
        .await;
    assert_eq!(status, 200);
    let outcomes = burst(&world, &[world.app.url("")], &bob.key, 5).await;
    let admitted = outcomes.iter().filter(|(status, ..)| *status == 200).count();
    assert_eq!(admitted, 3, "{outcomes:#?}");
    let (_, _, refusal) = outcomes.iter().find(|(status, ..)| *status == 429).expect("a refusal");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("the user's limit of 3 requests per minute"),
        "{refusal}"
    );
}

#[tokio::test]
async fn a_keys_concurrency_limit_holds_calls_in_flight() {
    let world = local_world().await;
    let bob = member(&world, "bob").await;
    set_limits(&world, &bob, json!({"concurrency": 2})).await;
    world
        .fake
        .set(Scenario::text("slow").with_first_byte_delay(Duration::from_millis(300)));
    let outcomes = burst(&world, &[world.app.url("")], &bob.key, 6).await;
    let admitted = outcomes.iter().filter(|(status, ..)| *status == 200).count();
    assert_eq!(admitted, 2, "{outcomes:#?}");
    let (_, _, refusal) = outcomes.iter().find(|(status, ..)| *status == 429).expect("a refusal");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("limit of 2 calls in flight"),
        "{refusal}"
    );
    // Once they end, the slots are free again.
    let outcomes = burst(&world, &[world.app.url("")], &bob.key, 2).await;
    assert!(outcomes.iter().all(|(status, ..)| *status == 200), "{outcomes:#?}");
}
