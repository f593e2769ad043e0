//! What must not be lost: a stream the client abandons (its partial usage is logged and the
//! upstream request is cancelled), traffic while the database is cut (every request is logged
//! exactly once once it returns), and entries spilled at a stop while the database was away
//! (replayed exactly once at the next start).

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use switchyard_domain::gateway::CallLogEntry;
use switchyard_persistence::SPILL_FILE;
use switchyard_testkit::{FakeUsage, Protocol, Scenario};

use super::{World, ask, chat_model, world, world_behind_proxy};

/// Opens a paced stream, reads its first event, and hangs up.
async fn abandon_stream(world: &World, protocol: Protocol) {
    let mut body = ask(&chat_model(protocol), "tell me a long story");
    body["stream"] = json!(true);
    let response = world.chat(&body).await;
    assert_eq!(response.status().as_u16(), 200);
    let mut body = response.bytes_stream();
    let first = body.next().await.expect("a first event").expect("bytes");
    assert!(first.starts_with(b"data: "), "{first:?}");
    drop(body);
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_stream_cancels_upstream_and_its_partial_usage_is_logged() {
    let world = world().await;
    world.fake.set(
        Scenario::text("word ".repeat(200))
            .with_chunks(200)
            .with_chunk_interval(Duration::from_millis(20))
            .with_usage(FakeUsage::new(10, 200)),
    );
    for (done, protocol) in Protocol::ALL.into_iter().enumerate() {
        abandon_stream(&world, protocol).await;
        assert!(
            world.fake.wait_for_cancelled(done + 1, Duration::from_secs(10)).await,
            "{protocol}: the upstream stream was not closed"
        );
        let entries = world.log(done + 1).await;
        let entry: &CallLogEntry = entries.last().expect("an entry");
        assert_eq!(entry.status_code, 200, "{protocol}");
        assert_eq!(
            entry.error_code.as_deref(),
            Some("client_closed"),
            "{protocol}: {entry:?}"
        );
        assert!(entry.stream);
        // Only part of the answer was streamed, and it is counted (an estimate: the supplier's
        // final figures never came).
        assert!(entry.usage.estimated, "{protocol}: {entry:?}");
        assert!(
            (1..200).contains(&entry.usage.completion_tokens),
            "{protocol}: {entry:?}"
        );
        assert!(entry.cost_nanos > 0);
    }
    assert_eq!(world.fake.streams_completed(), 0, "no stream ran to its end");
    // Replicate's prediction would run (and bill) on: it is cancelled.
    assert!(
        world
            .fake
            .wait_until(Duration::from_secs(5), |fake| fake.cancelled_predictions().len() == 1)
            .await,
        "the replicate prediction was not cancelled"
    );
}

fn request_ids(entries: &[CallLogEntry]) -> BTreeSet<String> {
    entries.iter().map(|entry| entry.request_id.clone()).collect()
}

async fn call(world: &World, request_id: &str) {
    let response = world
        .app
        .client
        .post(world.app.url("/v1/chat/completions"))
        .bearer_auth(&world.key)
        .header("x-request-id", request_id)
        .json(&ask(&chat_model(Protocol::OpenAi), "hi"))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(
        response.status().as_u16(),
        200,
        "{request_id}: the gateway serves while the database is away"
    );
}

#[tokio::test]
async fn traffic_while_the_database_is_cut_is_logged_exactly_once_when_it_returns() {
    let world = world_behind_proxy(|settings| {
        settings.gateway.call_log.retry_max = Duration::from_millis(300);
        // Most of the outage's entries go to the spill file while the server runs.
        settings.gateway.call_log.memory_capacity = 5;
    })
    .await;
    let Some(proxy) = &world.app.proxy else {
        eprintln!("skipped: a SQLite file has no connection to cut (runs on PostgreSQL and MariaDB)");
        return;
    };
    world.fake.set(Scenario::text("ok").with_usage(FakeUsage::new(3, 1)));
    let mut sent = BTreeSet::new();
    for n in 0..5 {
        let id = format!("before-{n}");
        call(&world, &id).await;
        sent.insert(id);
    }
    world.log(5).await;
    proxy.cut();
    for n in 0..20 {
        let id = format!("during-{n}");
        call(&world, &id).await;
        sent.insert(id);
    }
    // Let the writer fail and retry a few times.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let spill = world.app.settings.data_dir.join(SPILL_FILE);
    assert!(spill.exists(), "entries past the memory bound were spilled");
    proxy.restore();
    for n in 0..5 {
        let id = format!("after-{n}");
        call(&world, &id).await;
        sent.insert(id);
    }
    let entries = world.log(30).await;
    assert_eq!(request_ids(&entries), sent, "every request, each once");
    let ids: BTreeSet<_> = entries.iter().map(|entry| entry.id).collect();
    assert_eq!(ids.len(), 30);
    assert!(!spill.exists(), "the spill file was replayed while the server ran");
}

#[tokio::test]
async fn entries_spilled_at_a_stop_are_replayed_once_at_the_next_start() {
    let mut world = world_behind_proxy(|_| {}).await;
    let Some(proxy) = world.app.proxy.as_ref() else {
        eprintln!("skipped: a SQLite file has no connection to cut (runs on PostgreSQL and MariaDB)");
        return;
    };
    proxy.restore();
    world.fake.set(Scenario::text("ok").with_usage(FakeUsage::new(3, 1)));
    call(&world, "warm-up").await;
    world.log(1).await;
    // The warm-up's batch also moves the key's last use: let it finish.
    tokio::time::sleep(Duration::from_millis(300)).await;
    world.app.proxy.as_ref().expect("the proxy").cut();
    let mut sent = BTreeSet::from(["warm-up".to_owned()]);
    for n in 0..7 {
        let id = format!("spilled-{n}");
        call(&world, &id).await;
        sent.insert(id);
    }
    // The stop cannot reach the database: what is pending goes to the spill file.
    let spill = world.app.settings.data_dir.join(SPILL_FILE);
    world.app.stop().await;
    let lines = std::fs::read_to_string(&spill).expect("the spill file").lines().count();
    assert_eq!(lines, 7, "the entries the database did not take");
    world.app.proxy.as_ref().expect("the proxy").restore();
    world.app.start().await;
    let entries = world.log(8).await;
    assert_eq!(request_ids(&entries), sent);
    assert!(!spill.exists(), "the replayed spill file is removed");
    // Another restart replays nothing twice.
    world.app.restart().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(world.log(8).await.len(), 8);
}
