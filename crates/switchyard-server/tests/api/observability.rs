//! Request ids and metrics.

use crate::helpers::spawn_app;

async fn request_id_for(app: &crate::helpers::TestApp, sent: Option<&str>) -> String {
    let mut request = app.client.get(app.url("/health/live"));
    if let Some(id) = sent {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.expect("GET");
    response
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .expect("an x-request-id header")
        .to_owned()
}

#[tokio::test]
async fn a_safe_client_request_id_is_echoed() {
    let app = spawn_app().await;
    assert_eq!(
        request_id_for(&app, Some("client-42.retry_1")).await,
        "client-42.retry_1"
    );
    let longest = "a".repeat(64);
    assert_eq!(request_id_for(&app, Some(&longest)).await, longest);
}

#[tokio::test]
async fn an_unsafe_or_missing_request_id_is_replaced_by_a_new_one() {
    let app = spawn_app().await;
    for sent in [
        Some("a".repeat(65)),
        Some("has spaces".to_owned()),
        Some("<script>".to_owned()),
        None,
    ] {
        let echoed = request_id_for(&app, sent.as_deref()).await;
        assert_ne!(Some(echoed.as_str()), sent.as_deref());
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "{echoed}");
    }
    assert_ne!(request_id_for(&app, None).await, request_id_for(&app, None).await);
}

#[tokio::test]
async fn error_responses_carry_the_request_id_too() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/nowhere"))
        .header("x-request-id", "err-1")
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(response.headers()["x-request-id"], "err-1");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_report_the_pool() {
    let app = spawn_app().await;
    app.get("/health/live").await;
    app.get("/health/live").await;
    app.get("/no/such/path").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("an ASCII content type")
            .starts_with("text/plain")
    );
    let text = response.text().await.expect("metrics text");
    assert!(
        text.contains(r#"switchyard_http_requests_total{method="GET",route="/health/live",status="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"switchyard_http_requests_total{method="GET",route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"switchyard_http_request_duration_seconds_bucket{method="GET",route="/health/live",le="0.005"}"#
        )
    );
    assert!(
        text.contains(r#"switchyard_db_pool_connections{state="max"} 4"#),
        "{text}"
    );
}
