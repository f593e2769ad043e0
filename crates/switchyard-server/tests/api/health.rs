//! `/health/live` and `/health/ready`, including a database outage.

use std::time::Duration;

use crate::helpers::{json_body, spawn_app, spawn_app_behind_proxy};

#[tokio::test]
async fn live_answers_200() {
    let app = spawn_app().await;
    let response = app.get("/health/live").await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(json_body(response).await["status"], "live");
}

#[tokio::test]
async fn ready_names_the_database_as_up_and_uses_the_injected_clock() {
    let app = spawn_app().await;
    app.clock.advance(chrono::Duration::minutes(90));
    let response = app.health_ready().await;
    assert_eq!(response.status().as_u16(), 200);
    let body = json_body(response).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"]["status"], "up");
    assert_eq!(body["checks"]["database"]["kind"], app.backend().name());
    assert_eq!(body["checks"]["database"]["error"], serde_json::Value::Null);
    assert_eq!(body["checked_at"], "2026-11-22T09:30:00Z");
}

#[tokio::test]
async fn ready_is_503_while_the_database_is_cut_off_and_200_after() {
    let app = spawn_app_behind_proxy().await;
    let Some(proxy) = &app.proxy else {
        // A SQLite file has no connection to cut; CI runs this on PostgreSQL and MariaDB.
        eprintln!("skipped on sqlite: no network connection to cut");
        return;
    };
    assert_eq!(app.health_ready().await.status().as_u16(), 200);

    proxy.cut();
    let response = app.health_ready().await;
    assert_eq!(response.status().as_u16(), 503);
    let body = json_body(response).await;
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"]["status"], "down");
    assert!(body["checks"]["database"]["error"].is_string(), "{body}");

    proxy.restore();
    let mut status = 0;
    for _ in 0..50 {
        status = app.health_ready().await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "the pool reconnects once the database is back");
}
