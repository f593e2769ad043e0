//! Usage statistics and the call log's browsing: rollups equal a `GROUP BY` over the raw rows,
//! users see only their own, retention removes raw rows and keeps rollups.

mod limits;
mod logs;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use switchyard_persistence::MigrateCommand;
use switchyard_testkit::{Failure, Protocol, Scenario};
use uuid::Uuid;

use crate::gateway::{World, ask, chat_model, embedding_model, read_stream, world_with};
use crate::helpers::Session;

/// A user with a gateway key of their own.
pub struct Member {
    pub session: Session,
    pub key: String,
    pub key_id: String,
}

pub async fn member(world: &World, name: &str) -> Member {
    let session = world.app.create_user(name).await;
    let (status, created) = world
        .app
        .call(
            Method::POST,
            "/api/v1/api-keys",
            &session,
            Some(json!({"name": format!("{name}-key")})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    Member {
        session,
        key: created["secret"].as_str().expect("a secret").to_owned(),
        key_id: created["key"]["id"].as_str().expect("an id").to_owned(),
    }
}

/// `POST /v1/chat/completions` with a key and a request id.
pub async fn chat_as(world: &World, key: &str, request_id: &str, body: &Value) -> reqwest::Response {
    world
        .app
        .client
        .post(world.app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .header("x-request-id", request_id)
        .json(body)
        .send()
        .await
        .expect("the gateway answers")
}

/// A world that tries each call once (so each request is one log row) and whose call log and
/// retention act at once.
pub async fn usage_world() -> World {
    world_with(|settings| {
        settings.gateway.retry.max_attempts = 1;
        settings.logs.retention_interval = Duration::from_millis(50);
        // The clock moves on by hours and days: sessions outlast it.
        settings.auth.access_token_ttl = Duration::from_secs(30 * 86_400);
    })
    .await
}

/// Mixed traffic over three hours by two users: whole and streamed chats on three protocols,
/// an embedding, a supplier failure, a model that does not exist. Returns the requests sent.
pub async fn mixed_traffic(world: &World, bob: &Member) -> usize {
    let openai = chat_model(Protocol::OpenAi);
    let mut sent = 0;
    for n in 0..3 {
        let response = chat_as(world, &world.key, &format!("alice-{n}"), &ask(&openai, "hello")).await;
        assert_eq!(response.status(), 200);
        sent += 1;
    }
    let mut streamed = ask(&chat_model(Protocol::Anthropic), "stream");
    streamed["stream"] = json!(true);
    let response = chat_as(world, &world.key, "alice-stream", &streamed).await;
    assert_eq!(response.status(), 200);
    assert!(read_stream(response).await.done);
    sent += 1;
    world.app.clock.advance(chrono::TimeDelta::seconds(3600));
    world.fake.push(Scenario::failing(Failure::status(500)));
    let response = chat_as(world, &world.key, "alice-fails", &ask(&openai, "fail")).await;
    assert_eq!(response.status(), 502);
    sent += 1;
    let response = chat_as(world, &world.key, "alice-unknown", &ask("no-such-model", "hi")).await;
    assert_eq!(response.status(), 404);
    sent += 1;
    let response = world
        .post(
            "/v1/embeddings",
            &json!({"model": embedding_model(Protocol::OpenAi), "input": ["one", "two"]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    sent += 1;
    world.app.clock.advance(chrono::TimeDelta::seconds(2 * 3600));
    for n in 0..2 {
        let response = chat_as(
            world,
            &bob.key,
            &format!("bob-{n}"),
            &ask(&chat_model(Protocol::Gemini), "hi"),
        )
        .await;
        assert_eq!(response.status(), 200);
        sent += 1;
    }
    sent
}

/// `CAST(SUM(x) AS a 64-bit integer)` on the test's backend.
fn summed(backend: DbBackend, expression: &str) -> String {
    let integer = if backend == DbBackend::MySql {
        "SIGNED"
    } else {
        "BIGINT"
    };
    format!("CAST(SUM({expression}) AS {integer})")
}

/// The rollups' columns that the raw rows' figures add up to.
const ROLLUP_FIGURES: [&str; 9] = [
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_nanos",
    "latency_ms_sum",
];

type Dimensions = (
    Option<Uuid>,
    Option<Uuid>,
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    bool,
);

/// A table's figures summed per bucket: by every dimension, or `per_model` (without user and
/// key, which read as absent).
async fn grouped(world: &World, table: &str, figures: &[String], per_model: bool) -> BTreeMap<Dimensions, Vec<i64>> {
    let db = world.database.connection();
    let dimensions = if per_model {
        "model_id, supplier_id, currency, byok"
    } else {
        "user_id, api_key_id, model_id, supplier_id, currency, byok"
    };
    let sql = format!(
        "SELECT {dimensions}, {} FROM {table} GROUP BY {dimensions}",
        figures
            .iter()
            .enumerate()
            .map(|(n, figure)| format!("{figure} AS f{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("the grouped rows read");
    let uuid = |row: &sea_orm::QueryResult, column: &str| {
        if per_model && (column == "user_id" || column == "api_key_id") {
            return None;
        }
        row.try_get::<Option<Uuid>>("", column)
            .expect("an id column")
            .filter(|id| !id.is_nil())
    };
    rows.iter()
        .map(|row| {
            let currency: Option<String> = row.try_get("", "currency").expect("a currency");
            let key = (
                uuid(row, "user_id"),
                uuid(row, "api_key_id"),
                uuid(row, "model_id"),
                uuid(row, "supplier_id"),
                currency.filter(|currency| !currency.is_empty()),
                row.try_get::<bool>("", "byok").expect("byok"),
            );
            let values = (0..figures.len())
                .map(|n| row.try_get::<i64>("", &format!("f{n}")).expect("a figure"))
                .collect();
            (key, values)
        })
        .collect()
}

#[tokio::test]
async fn rollups_equal_a_group_by_over_the_raw_rows_after_mixed_traffic() {
    let world = usage_world().await;
    let bob = member(&world, "bob").await;
    let sent = mixed_traffic(&world, &bob).await;
    let entries = world.log(sent).await;
    let backend = world.database.connection().get_database_backend();

    let raw_figures = [
        summed(backend, "1"),
        summed(
            backend,
            "CASE WHEN status_code >= 400 OR (error_code IS NOT NULL AND error_code <> 'client_closed') THEN 1 ELSE 0 END",
        ),
        summed(backend, "prompt_tokens"),
        summed(backend, "completion_tokens"),
        summed(backend, "cached_input_tokens"),
        summed(backend, "cache_write_tokens"),
        summed(backend, "reasoning_tokens"),
        summed(backend, "cost_nanos"),
        summed(backend, "latency_ms"),
    ];
    let rollup_figures = ROLLUP_FIGURES.map(|column| summed(backend, column));
    let raw = grouped(&world, "api_call_logs", &raw_figures, false).await;
    let rollups = grouped(&world, "usage_hourly", &rollup_figures, false).await;
    assert_eq!(rollups, raw, "the rollups are the raw rows grouped");
    let daily = grouped(&world, "usage_daily", &rollup_figures, false).await;
    assert_eq!(daily, raw, "the daily rollups are the raw rows grouped");
    let per_model = grouped(&world, "api_call_logs", &raw_figures, true).await;
    for table in ["usage_model_hourly", "usage_model_daily"] {
        let rollups = grouped(&world, table, &rollup_figures, true).await;
        assert_eq!(rollups, per_model, "{table} is the raw rows grouped by model");
    }
    // Migration 000013 fills the per-model rollups from the full ones.
    for steps in [MigrateCommand::Down { steps: 1 }, MigrateCommand::Up { steps: None }] {
        world
            .database
            .run_migration_command(&steps)
            .await
            .expect("the per-model rollups' migration");
    }
    for table in ["usage_model_hourly", "usage_model_daily"] {
        let rollups = grouped(&world, table, &rollup_figures, true).await;
        assert_eq!(rollups, per_model, "{table} as the migration filled it");
    }
    assert!(raw.len() >= 5, "the traffic spread over several buckets: {raw:#?}");
    assert!(
        raw.keys().any(|(_, _, model, ..)| model.is_none()),
        "the unknown model's refusal is counted without a model"
    );

    // The API reads the same figures: the admin's overview holds every call.
    let (status, overview) = world
        .app
        .call(Method::GET, "/api/v1/stats/overview", &world.admin, None)
        .await;
    assert_eq!(status, 200, "{overview}");
    let totals = &overview["totals"];
    assert_eq!(totals["requests"], json!(sent));
    assert_eq!(
        totals["errors"],
        json!(2),
        "the supplier's failure and the unknown model"
    );
    let prompt: i64 = entries.iter().map(|entry| entry.usage.prompt_tokens).sum();
    assert_eq!(totals["prompt_tokens"], json!(prompt));
    let cost: i64 = entries.iter().map(|entry| entry.cost_nanos).sum();
    assert_eq!(
        totals["cost"],
        json!([{"currency": "USD", "nanos": cost, "amount": format!("0.{cost:09}")}])
    );
    assert!(totals["latency_ms"]["p95"].is_i64(), "{totals}");

    // Hour buckets: each hour holds the calls made in it.
    let (status, series) = world
        .app
        .call(
            Method::GET,
            "/api/v1/stats/usage?bucket=hour&from=2026-11-22T08:00:00Z&to=2026-11-22T12:00:00Z",
            &world.admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{series}");
    let counts: Vec<i64> = series["data"]
        .as_array()
        .expect("points")
        .iter()
        .map(|point| point["totals"]["requests"].as_i64().expect("requests"))
        .collect();
    assert_eq!(counts, vec![4, 3, 0, 2], "{series}");

    // The per-model table names the models; the refusal has no model.
    let (status, table) = world
        .app
        .call(
            Method::GET,
            "/api/v1/stats/models?from=2026-11-22T00:00:00Z",
            &world.admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{table}");
    let rows = table["data"].as_array().expect("rows");
    let openai = rows
        .iter()
        .find(|row| row["name"] == json!(chat_model(Protocol::OpenAi)))
        .expect("the OpenAI model's row");
    assert_eq!(openai["totals"]["requests"], json!(4));
    assert_eq!(openai["totals"]["errors"], json!(1));
    assert!(
        rows.iter()
            .any(|row| row["id"].is_null() && row["totals"]["requests"] == json!(1))
    );

    // Per user (admins): alice's and bob's rows.
    let (status, users) = world
        .app
        .call(
            Method::GET,
            "/api/v1/stats/users?from=2026-11-22T00:00:00Z",
            &world.admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{users}");
    let bob_row = users["data"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| row["name"] == json!("bob"))
        .expect("bob's row");
    assert_eq!(bob_row["totals"]["requests"], json!(2));

    // Upstream keys: every call that reached a supplier went through the one pool key.
    let (status, upstream) = world
        .app
        .call(
            Method::GET,
            "/api/v1/stats/keys?kind=upstream&from=2026-11-22T00:00:00Z",
            &world.admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{upstream}");
    let through_keys: i64 = upstream["data"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row["totals"]["requests"].as_i64().expect("requests"))
        .sum();
    let reached = entries.iter().filter(|entry| entry.upstream_key_id.is_some()).count();
    assert_eq!(through_keys, reached as i64);
}

#[tokio::test]
async fn a_user_reads_only_their_own_usage() {
    let world = usage_world().await;
    let bob = member(&world, "bob").await;
    let sent = mixed_traffic(&world, &bob).await;
    world.log(sent).await;
    let alice = &world.user;
    let period = "from=2026-11-22T00:00:00Z";

    let (status, mine) = world
        .app
        .call(
            Method::GET,
            &format!("/api/v1/stats/overview?{period}"),
            &bob.session,
            None,
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["totals"]["requests"], json!(2), "only bob's calls");
    let (status, own) = world
        .app
        .call(
            Method::GET,
            &format!("/api/v1/stats/overview?{period}&user_id={}", bob.session.user_id),
            &bob.session,
            None,
        )
        .await;
    assert_eq!(
        (status, &own["totals"]["requests"]),
        (200, &json!(2)),
        "his own id is allowed"
    );

    let alices = format!("user_id={}", alice.user_id);
    for path in [
        format!("/api/v1/stats/overview?{alices}"),
        format!("/api/v1/stats/usage?{alices}"),
        format!("/api/v1/stats/models?{alices}"),
        format!("/api/v1/stats/keys?{alices}"),
        "/api/v1/stats/keys?kind=upstream".to_owned(),
        "/api/v1/stats/users".to_owned(),
        format!("/api/v1/logs?{alices}"),
    ] {
        let (status, body) = world.app.call(Method::GET, &path, &bob.session, None).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
    // Filtering on alice's key finds nothing of bob's.
    let (_, key_id) = world.app.call(Method::GET, "/api/v1/api-keys", alice, None).await;
    let alice_key = key_id["data"][0]["id"].as_str().expect("alice's key").to_owned();
    let (status, none) = world
        .app
        .call(
            Method::GET,
            &format!("/api/v1/stats/overview?{period}&api_key_id={alice_key}"),
            &bob.session,
            None,
        )
        .await;
    assert_eq!((status, &none["totals"]["requests"]), (200, &json!(0)));
    let (status, keys) = world
        .app
        .call(Method::GET, &format!("/api/v1/stats/keys?{period}"), &bob.session, None)
        .await;
    assert_eq!(status, 200, "{keys}");
    assert_eq!(keys["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(keys["data"][0]["id"], json!(bob.key_id));

    // The call log: bob's page holds his calls; alice's request is not found for him.
    let (status, page) = world.app.call(Method::GET, "/api/v1/logs", &bob.session, None).await;
    assert_eq!(status, 200, "{page}");
    let data = page["data"].as_array().expect("entries");
    assert_eq!(data.len(), 2);
    assert!(data.iter().all(|entry| entry["user_id"] == json!(bob.session.user_id)));
    let (status, _) = world
        .app
        .call(Method::GET, "/api/v1/logs/alice-0", &bob.session, None)
        .await;
    assert_eq!(status, 404);
    let (status, found) = world.app.call(Method::GET, "/api/v1/logs/alice-0", alice, None).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1));
    // A model's statistics: bob's own use of it.
    let (_, models) = world
        .app
        .call(Method::GET, "/api/v1/models?limit=200", &bob.session, None)
        .await;
    let gemini = models["data"]
        .as_array()
        .expect("models")
        .iter()
        .find(|model| model["name"] == json!(chat_model(Protocol::Gemini)))
        .expect("the Gemini model")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let (status, stats) = world
        .app
        .call(
            Method::GET,
            &format!("/api/v1/models/{gemini}/stats?{period}"),
            &bob.session,
            None,
        )
        .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["totals"]["requests"], json!(2));
    let (_, stats) = world
        .app
        .call(
            Method::GET,
            &format!("/api/v1/models/{gemini}/stats?{period}"),
            alice,
            None,
        )
        .await;
    assert_eq!(stats["totals"]["requests"], json!(0), "alice never used it");
}

#[tokio::test]
async fn retention_removes_old_raw_rows_and_keeps_the_rollups() {
    let world = world_with(|settings| {
        settings.gateway.retry.max_attempts = 1;
        settings.logs.retention_days = 1;
        settings.logs.rollup_retention_days = 3;
        settings.logs.retention_interval = Duration::from_millis(20);
        settings.logs.retention_chunk = 2;
        settings.auth.access_token_ttl = Duration::from_secs(30 * 86_400);
    })
    .await;
    let model = chat_model(Protocol::OpenAi);
    for n in 0..5 {
        let response = chat_as(&world, &world.key, &format!("old-{n}"), &ask(&model, "hi")).await;
        assert_eq!(response.status(), 200);
    }
    world.log(5).await;
    world.app.clock.advance(chrono::TimeDelta::seconds(2 * 86_400));
    let response = chat_as(&world, &world.key, "new", &ask(&model, "hi")).await;
    assert_eq!(response.status(), 200);
    // The five older than a day go, two per statement; the new one stays.
    let left = world.log(1).await;
    assert_eq!(left[0].request_id, "new");
    let period = "from=2026-11-22T00:00:00Z&to=2026-11-25T00:00:00Z";
    let (status, overview) = world
        .app
        .call(
            Method::GET,
            &format!("/api/v1/stats/overview?{period}"),
            &world.admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["totals"]["requests"], json!(6), "the rollups keep every call");
    // Once the whole first day is past the rollups' three days, its rollups go too (an hour's
    // as soon as the hour is past, a day's once all of the day is).
    world.app.clock.advance(chrono::TimeDelta::seconds(86_400 + 17 * 3600));
    let mut requests = json!(null);
    for _ in 0..200 {
        let (_, overview) = world
            .app
            .call(
                Method::GET,
                &format!("/api/v1/stats/overview?{period}"),
                &world.admin,
                None,
            )
            .await;
        requests = overview["totals"]["requests"].clone();
        if requests == json!(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(requests, json!(1), "only the newer hour's rollup is left");
}

#[tokio::test]
async fn statistics_come_as_csv_and_in_a_time_zones_days() {
    let world = usage_world().await;
    let bob = member(&world, "bob").await;
    let sent = mixed_traffic(&world, &bob).await;
    world.log(sent).await;
    let response = world
        .app
        .get_authed(
            "/api/v1/stats/models?format=csv&from=2026-11-22T00:00:00Z",
            &world.admin.access,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/csv")),
    );
    let text = response.text().await.expect("a body");
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    assert!(header.starts_with("id,name,requests,errors,error_rate,"), "{header}");
    assert!(header.ends_with(",cost_USD"), "{header}");
    let openai = lines
        .find(|line| line.contains(&format!(",{},", chat_model(Protocol::OpenAi))))
        .expect("the OpenAI model's line");
    assert!(openai.split(',').nth(2) == Some("4"), "{openai}");

    // Day buckets in Shanghai (UTC+8) start at 16:00 UTC.
    let (status, series) = world
        .app
        .call(
            Method::GET,
            "/api/v1/stats/usage?bucket=day&tz=Asia/Shanghai&from=2026-11-21T16:00:00Z&to=2026-11-23T16:00:00Z",
            &world.admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{series}");
    assert_eq!(series["tz"], json!("Asia/Shanghai"));
    let starts: Vec<&str> = series["data"]
        .as_array()
        .expect("points")
        .iter()
        .map(|point| point["start"].as_str().expect("a start"))
        .collect();
    assert_eq!(starts, vec!["2026-11-21T16:00:00Z", "2026-11-22T16:00:00Z"]);
    assert_eq!(
        series["data"][0]["totals"]["requests"],
        json!(sent),
        "08:00–11:00 UTC is the 22nd in Shanghai"
    );

    for (path, status) in [
        ("/api/v1/stats/usage?tz=Mars/Olympus", 422),
        ("/api/v1/stats/usage?bucket=week", 400),
        ("/api/v1/stats/usage?bucket=hour&from=2026-01-01T00:00:00Z", 422),
        (
            "/api/v1/stats/overview?from=2026-11-23T00:00:00Z&to=2026-11-22T00:00:00Z",
            422,
        ),
        ("/api/v1/stats/overview?from=yesterday", 400),
        ("/api/v1/stats/overview?colour=blue", 400),
    ] {
        let (got, body) = world.app.call(Method::GET, path, &world.admin, None).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
}
