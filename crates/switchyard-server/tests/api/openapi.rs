//! `/openapi.json` documents every route; `/docs` renders it from assets inside the binary.

use crate::helpers::{json_body, spawn_app};

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_every_route() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status().as_u16(), 200);
    let document = json_body(response).await;
    assert!(
        document["openapi"]
            .as_str()
            .expect("openapi in the body")
            .starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    let paths = document["paths"].as_object().expect("paths");
    let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            "/api/v1/admin/audit",
            "/api/v1/admin/users",
            "/api/v1/admin/users/{id}",
            "/api/v1/admin/users/{id}/activate",
            "/api/v1/admin/users/{id}/deactivate",
            "/api/v1/admin/users/{id}/limits",
            "/api/v1/admin/users/{id}/lock",
            "/api/v1/admin/users/{id}/reset-password",
            "/api/v1/admin/users/{id}/restore",
            "/api/v1/admin/users/{id}/role",
            "/api/v1/admin/users/{id}/unlock",
            "/api/v1/api-keys",
            "/api/v1/api-keys/{id}",
            "/api/v1/api-keys/{id}/limits",
            "/api/v1/api-keys/{id}/revoke",
            "/api/v1/auth/login",
            "/api/v1/auth/logout",
            "/api/v1/auth/refresh",
            "/api/v1/auth/register",
            "/api/v1/capabilities",
            "/api/v1/capabilities/associations",
            "/api/v1/capabilities/{capability_id}",
            "/api/v1/capabilities/{capability_id}/restore",
            "/api/v1/categories",
            "/api/v1/categories/associations",
            "/api/v1/categories/tree",
            "/api/v1/categories/{category_id}",
            "/api/v1/categories/{category_id}/restore",
            "/api/v1/chat",
            "/api/v1/chat/history",
            "/api/v1/conversations",
            "/api/v1/conversations/{id}",
            "/api/v1/conversations/{id}/archive",
            "/api/v1/conversations/{id}/export",
            "/api/v1/conversations/{id}/messages",
            "/api/v1/conversations/{id}/messages/{message_id}",
            "/api/v1/conversations/{id}/messages/{message_id}/regenerate",
            "/api/v1/conversations/{id}/restore",
            "/api/v1/conversations/{id}/unarchive",
            "/api/v1/files",
            "/api/v1/files/{id}",
            "/api/v1/files/{id}/content",
            "/api/v1/keys",
            "/api/v1/keys/{key_id}",
            "/api/v1/keys/{key_id}/stats",
            "/api/v1/logs",
            "/api/v1/logs/{request_id}",
            "/api/v1/models",
            "/api/v1/models/defaults",
            "/api/v1/models/set-default",
            "/api/v1/models/{model_id}",
            "/api/v1/models/{model_id}/parameters",
            "/api/v1/models/{model_id}/parameters/{parameter_id}",
            "/api/v1/models/{model_id}/restore",
            "/api/v1/models/{model_id}/routes",
            "/api/v1/models/{model_id}/routes/{route_id}",
            "/api/v1/models/{model_id}/stats",
            "/api/v1/stats/keys",
            "/api/v1/stats/models",
            "/api/v1/stats/overview",
            "/api/v1/stats/usage",
            "/api/v1/stats/users",
            "/api/v1/suppliers",
            "/api/v1/suppliers/{supplier_id}",
            "/api/v1/suppliers/{supplier_id}/restore",
            "/api/v1/users/me",
            "/api/v1/users/me/limits",
            "/api/v1/users/me/model-configs",
            "/api/v1/users/me/model-configs/{config_id}",
            "/api/v1/users/me/password",
            "/docs",
            "/health/live",
            "/health/ready",
            "/metrics",
            "/openapi.json",
            "/v1/chat/completions",
            "/v1/embeddings",
            "/v1/models",
            "/v1/models/{model}",
        ]
    );
    for schema in [
        "ErrorBody",
        "OpenAiErrorBody",
        "ReadyStatus",
        "UserBody",
        "TokenResponse",
        "CreatedApiKey",
        "ChatCompletionRequest",
        "ChatCompletion",
        "ChatCompletionChunk",
        "GatewayModelList",
        "EmbeddingList",
    ] {
        assert!(document["components"]["schemas"][schema].is_object(), "schema {schema}");
    }
    // Two types of one name would share one schema (utoipa keeps the last): the platform's
    // model page and the gateway's model list both stay whole.
    let schemas = &document["components"]["schemas"];
    assert!(
        schemas["ModelList"]["properties"]["next_cursor"].is_object(),
        "{}",
        schemas["ModelList"]
    );
    assert!(schemas["GatewayModelList"]["properties"]["object"].is_object());
    for scheme in ["bearer_jwt", "api_key"] {
        assert!(
            document["components"]["securitySchemes"][scheme].is_object(),
            "security scheme {scheme}"
        );
    }
    let public = ["/api/v1/auth/", "/health/", "/metrics", "/openapi.json", "/docs"];
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            let name = format!("{method} {path}");
            let schemes: Vec<&str> = operation["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|requirement| requirement.as_object())
                .flat_map(|requirement| requirement.keys().map(String::as_str))
                .collect();
            let secured = schemes.contains(&"bearer_jwt");
            // The gateway also takes a gateway key.
            assert_eq!(
                schemes.contains(&"api_key"),
                path.starts_with("/v1/"),
                "{name}: {schemes:?}"
            );
            assert_eq!(
                secured,
                !public.iter().any(|prefix| path.starts_with(prefix)),
                "{name}: security"
            );
            let responses = operation["responses"].as_object().expect("responses");
            let success = responses
                .iter()
                .find(|(status, _)| status.starts_with('2') || status.starts_with('3'))
                .expect("a 2xx or 3xx response");
            if success.0.starts_with('2') && success.0 != "204" {
                assert!(success.1["content"].is_object(), "{name}: response schema");
            }
            if secured {
                assert!(
                    responses.contains_key("401") || responses.contains_key("403"),
                    "{name}: auth errors"
                );
            }
            if method == "post" || method == "patch" {
                let bodiless = [
                    "/activate",
                    "/deactivate",
                    "/unlock",
                    "/restore",
                    "/revoke",
                    "/archive",
                    "/unarchive",
                ];
                if !bodiless.iter().any(|suffix| path.ends_with(suffix)) {
                    assert!(
                        operation["requestBody"]["content"].is_object(),
                        "{name}: request schema"
                    );
                }
            }
        }
    }
    // Every documented public GET route answers (none is a phantom).
    for path in ["/docs", "/health/live", "/health/ready", "/metrics", "/openapi.json"] {
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
