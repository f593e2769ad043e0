//! `/openapi.json` documents every route; `/docs` renders it from assets inside the binary.

use crate::helpers::{json_body, spawn_app};

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_every_route() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status().as_u16(), 200);
    let document = json_body(response).await;
    assert!(
        document["openapi"].as_str().unwrap_or_default().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    let paths = document["paths"].as_object().expect("paths");
    let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        ["/docs", "/health/live", "/health/ready", "/metrics", "/openapi.json"]
    );
    for schema in ["ErrorBody", "OpenAiErrorBody", "ReadyStatus"] {
        assert!(document["components"]["schemas"][schema].is_object(), "schema {schema}");
    }
    // Every documented GET route answers (none is a phantom).
    for path in listed {
        let status = app.get(path).await.status().as_u16();
        assert!(status < 400, "{path} answered {status}");
    }
}

#[tokio::test]
async fn docs_render_swagger_ui_from_bundled_assets() {
    let app = spawn_app().await;
    let response = app.get("/docs").await;
    assert_eq!(response.status().as_u16(), 308);
    assert_eq!(response.headers()["location"], "/docs/");

    let page = app.get("/docs/").await;
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    // The page loads only local assets, so it renders offline.
    assert!(
        !html.contains("https://"),
        "the page must not load remote assets: {html}"
    );

    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-initializer.js"] {
        let response = app.get(&format!("/docs/{asset}")).await;
        assert_eq!(response.status().as_u16(), 200, "{asset}");
        if asset == "swagger-initializer.js" {
            let script = response.text().await.expect("script");
            assert!(script.contains("/openapi.json"), "{script}");
        }
    }
}
