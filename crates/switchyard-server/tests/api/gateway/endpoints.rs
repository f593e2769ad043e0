//! The gateway's endpoints beyond the protocols: who may call, which models a key sees, the
//! model list's facts, and bad requests answered in OpenAI's shape.

use reqwest::Method;
use serde_json::json;
use switchyard_testkit::{Protocol, Scenario};

use super::{ask, chat_model, embedding_model, openai_error, world};
use crate::helpers::json_body;

#[tokio::test]
async fn callers_need_a_key_or_a_token_and_keys_see_only_their_models() {
    let world = world().await;
    world.fake.set(Scenario::text("hi"));
    let body = ask(&chat_model(Protocol::OpenAi), "hello");
    // No credential, a wrong key, a key-shaped stranger.
    let url = world.app.url("/v1/chat/completions");
    let anonymous = world.app.client.post(&url).json(&body).send().await.expect("an answer");
    let (status, error) = openai_error(anonymous).await;
    assert_eq!(
        (status, error["code"].as_str(), error["type"].as_str()),
        (401, Some("invalid_api_key"), Some("authentication_error"))
    );
    let stranger = format!("sy-{}", "A".repeat(43));
    let response = world
        .app
        .client
        .post(&url)
        .bearer_auth(stranger)
        .json(&body)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 401);
    // x-api-key works as Bearer does; so does the user's own access token.
    let response = world
        .app
        .client
        .post(&url)
        .header("x-api-key", &world.key)
        .json(&body)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 200);
    let response = world
        .app
        .client
        .post(&url)
        .bearer_auth(&world.user.access)
        .json(&body)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 200);

    // A key limited to one model sees and uses only that one.
    let (status, created) = world
        .app
        .call(
            Method::POST,
            "/api/v1/api-keys",
            &world.user,
            Some(json!({"name": "narrow", "allowed_models": [chat_model(Protocol::Gemini)]})),
        )
        .await;
    assert_eq!(status, 201);
    let narrow = created["secret"].as_str().expect("a secret").to_owned();
    let listed = world.app.get_authed("/v1/models", &narrow).await;
    let listed = json_body(listed).await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|model| model["id"].as_str())
        .collect();
    assert_eq!(ids, [chat_model(Protocol::Gemini)]);
    let response = world
        .app
        .client
        .post(&url)
        .bearer_auth(&narrow)
        .json(&body)
        .send()
        .await
        .expect("an answer");
    let (status, error) = openai_error(response).await;
    assert_eq!((status, error["code"].as_str()), (403, Some("model_not_allowed")));
    let response = world
        .app
        .get_authed(&format!("/v1/models/{}", chat_model(Protocol::OpenAi)), &narrow)
        .await;
    assert_eq!(response.status().as_u16(), 404);

    // An unknown model is 404 model_not_found, as OpenAI's SDKs expect.
    let response = world.chat(&ask("gpt-9", "hi")).await;
    let (status, error) = openai_error(response).await;
    assert_eq!(
        (status, error["code"].as_str(), error["param"].as_str()),
        (404, Some("model_not_found"), Some("model"))
    );
    // Every call that was authenticated is logged, refused ones too; the access token's call
    // has no key.
    let entries = world.log(4).await;
    let codes: Vec<Option<&str>> = entries.iter().map(|entry| entry.error_code.as_deref()).collect();
    assert_eq!(codes, [None, None, Some("model_not_allowed"), Some("model_not_found")]);
    let keyed: Vec<bool> = entries.iter().map(|entry| entry.api_key_id.is_some()).collect();
    assert_eq!(keyed, [true, false, true, true]);
    assert!(entries.iter().all(|entry| entry.user_id.is_some()));

    // The writer moved the keys' last use; the keys that made no call have none.
    let (status, keys) = world.app.call(Method::GET, "/api/v1/api-keys", &world.user, None).await;
    assert_eq!(status, 200);
    let used: Vec<(String, bool)> = keys["data"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| {
            (
                key["name"].as_str().unwrap_or_default().to_owned(),
                key["last_used_at"].is_string(),
            )
        })
        .collect();
    assert!(
        used.contains(&("app".to_owned(), true)) && used.contains(&("narrow".to_owned(), true)),
        "{used:?}"
    );

    // The metrics name the model, the supplier and the outcome.
    let metrics = world.app.get("/metrics").await.text().await.expect("metrics");
    let ok = format!(
        r#"switchyard_gateway_requests_total{{model="{}",outcome="ok",supplier="fake-openai"}} 2"#,
        chat_model(Protocol::OpenAi)
    );
    assert!(metrics.contains(&ok), "{ok} in\n{metrics}");
    assert!(
        metrics.contains(
            r#"switchyard_gateway_requests_total{model="unknown",outcome="model_not_found",supplier="none"} 1"#
        )
    );
    assert!(
        metrics.contains(r#"switchyard_gateway_tokens_total{kind="prompt",model="chat-openai"} 24"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"switchyard_call_log_entries{state="written"} 4"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_model_list_says_what_each_model_can_do_and_costs() {
    let world = world().await;
    let listed = json_body(world.get("/v1/models").await).await;
    assert_eq!(listed["object"], "list");
    let data = listed["data"].as_array().expect("data");
    assert_eq!(data.len(), 10, "a chat and an embedding model per protocol");
    let model = json_body(
        world
            .get(&format!("/v1/models/{}", chat_model(Protocol::Anthropic)))
            .await,
    )
    .await;
    assert_eq!(model["id"], chat_model(Protocol::Anthropic));
    assert_eq!(model["object"], "model");
    assert_eq!(model["owned_by"], "fake-anthropic");
    let facts = &model["switchyard"];
    assert_eq!(facts["context_window"], 128_000);
    assert_eq!(facts["max_output_tokens"], super::MAX_OUTPUT);
    assert_eq!(
        facts["pricing"],
        json!({"currency": "USD", "input_per_million": super::INPUT_PRICE, "cached_input_per_million": super::CACHED_PRICE, "output_per_million": super::OUTPUT_PRICE})
    );
    assert!(facts["capabilities"].is_array() && facts["input_modalities"].is_array());
    let embedding = json_body(
        world
            .get(&format!("/v1/models/{}", embedding_model(Protocol::OpenAi)))
            .await,
    )
    .await;
    assert_eq!(embedding["switchyard"]["type"], "embedding");

    // A model made through the platform API is routable at once; a deleted one is gone at once.
    let (status, created) = world
        .app
        .call(
            Method::POST,
            "/api/v1/models",
            &world.admin,
            Some(json!({
                "name": "fresh-model", "supplier_id": world.suppliers[&Protocol::OpenAi], "model_type": "language",
                "input_price": 1000, "output_price": 1000, "currency": "USD",
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(world.get("/v1/models/fresh-model").await.status().as_u16(), 200);
    let path = format!("/api/v1/models/{}", created["id"].as_str().expect("an id"));
    let (status, _) = world.app.call(Method::DELETE, &path, &world.admin, None).await;
    assert_eq!(status, 204);
    assert_eq!(world.get("/v1/models/fresh-model").await.status().as_u16(), 404);
}

#[tokio::test]
async fn bad_requests_are_400_in_openai_shape_naming_the_field() {
    let world = world().await;
    let model = chat_model(Protocol::OpenAi);
    for (body, param) in [
        (json!({"messages": [{"role": "user", "content": "x"}]}), "model"),
        (json!({"model": model, "messages": []}), "messages"),
        (
            json!({"model": model, "messages": [{"role": "user", "content": "x"}], "temperature": 9}),
            "temperature",
        ),
        (
            json!({"model": model, "messages": [{"role": "pirate", "content": "x"}]}),
            "messages[0].role",
        ),
        (json!({"model": model, "messages": "hello"}), "messages"),
    ] {
        let (status, error) = openai_error(world.chat(&body).await).await;
        assert_eq!(status, 400, "{body} → {error}");
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["param"].as_str(), Some(param), "{body} → {error}");
    }
    let response = world
        .app
        .client
        .post(world.app.url("/v1/chat/completions"))
        .bearer_auth(&world.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("an answer");
    let (status, error) = openai_error(response).await;
    assert_eq!(status, 400, "{error}");
    assert!(world.fake.requests().is_empty(), "nothing bad went upstream");
}

#[tokio::test]
async fn a_gateway_call_makes_no_database_query_once_warm() {
    let world = super::world_with(|settings| {
        crate::security::quiet_background(settings);
        settings.gateway.snapshot_refresh_interval = std::time::Duration::from_secs(3600);
        // The writer's batches are deferred past the measurement: logging is not the hot path.
        settings.gateway.call_log.flush_interval = std::time::Duration::from_secs(3600);
        settings.gateway.call_log.batch_size = 1000;
        // Likewise the keys' use counts.
        settings.gateway.key_flush_interval = std::time::Duration::from_secs(3600);
    })
    .await;
    world.fake.set(Scenario::text("fast").with_chunks(2));
    let chat = ask(&chat_model(Protocol::OpenAi), "hi");
    let mut streamed = chat.clone();
    streamed["stream"] = json!(true);
    let embedding = json!({"model": embedding_model(Protocol::OpenAi), "input": "x"});
    // The first call loads the key into the identity cache.
    assert_eq!(world.chat(&chat).await.status().as_u16(), 200);
    let before = crate::security::queries_so_far(&world.app).await;
    for _ in 0..10 {
        assert_eq!(world.chat(&chat).await.status().as_u16(), 200);
        let response = world.chat(&streamed).await;
        assert_eq!(response.status().as_u16(), 200);
        assert!(super::read_stream(response).await.done);
        assert_eq!(world.post("/v1/embeddings", &embedding).await.status().as_u16(), 200);
        assert_eq!(world.get("/v1/models").await.status().as_u16(), 200);
    }
    let after = crate::security::queries_so_far(&world.app).await;
    assert_eq!(
        after,
        before,
        "40 gateway calls ran {} database queries",
        after - before
    );
    assert_eq!(world.fake.requests().len(), 31, "the calls did reach the supplier");
}

#[tokio::test]
async fn a_supplier_refusing_its_key_tells_callers_nothing_about_the_key() {
    let world = world().await;
    let refusal = r#"{"error": {"message": "Incorrect API key provided: sk-proj-****ab12. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "code": "invalid_api_key"}}"#;
    world.fake.push(Scenario::failing(
        switchyard_testkit::Failure::status(401).with_body(refusal),
    ));
    let (status, error) = openai_error(world.chat(&ask(&chat_model(Protocol::OpenAi), "hi")).await).await;
    assert_eq!((status, error["code"].as_str()), (502, Some("upstream_error")));
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("ab12") && !message.contains("sk-proj"),
        "the caller sees the key's fragment: {message}"
    );
    // The operator reads the supplier's words in the call log.
    let entry = world.only_entry().await;
    assert!(
        entry
            .error_summary
            .as_deref()
            .is_some_and(|text| text.contains("sk-proj-****ab12")),
        "{entry:?}"
    );
}

#[tokio::test]
async fn what_a_model_cannot_do_is_refused_before_any_upstream_call() {
    let world = world().await;
    world.fake.set(Scenario::text("seen"));
    let admin = &world.admin;
    let capability = |name: &str, inputs: serde_json::Value| json!({"name": name, "display_name": name, "input_types": inputs, "output_types": ["text"], "domain": "nlp"});
    let (status, text) = world
        .app
        .call(
            Method::POST,
            "/api/v1/capabilities",
            admin,
            Some(capability("text_generation", json!(["text"]))),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    // A text-only model: its one capability takes text.
    let model = json!({
        "name": "text-only", "supplier_id": world.suppliers[&Protocol::OpenAi], "model_type": "language",
        "max_output_tokens": 500, "input_price": 1000, "output_price": 1000, "currency": "USD",
    });
    let (status, created) = world.app.call(Method::POST, "/api/v1/models", admin, Some(model)).await;
    assert_eq!(status, 201, "{created}");
    let link = json!({"model_id": created["id"], "capability_id": text["id"]});
    let (status, body) = world
        .app
        .call(Method::POST, "/api/v1/capabilities/associations", admin, Some(link))
        .await;
    assert!((200..300).contains(&status), "{body}");
    let parameter = json!({"name": "temperature", "parameter_type": "float", "min_value": 0, "max_value": 1});
    let path = format!("/api/v1/models/{}/parameters", created["id"].as_str().expect("an id"));
    let (status, body) = world.app.call(Method::POST, &path, admin, Some(parameter)).await;
    assert_eq!(status, 201, "{body}");

    let image = json!({"model": "text-only", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}]});
    let tools = json!({"model": "text-only", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "f"}}]});
    let json_mode = json!({"model": "text-only", "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_object"}});
    let long = json!({"model": "text-only", "messages": [{"role": "user", "content": "x"}], "max_tokens": 501});
    let hot = json!({"model": "text-only", "messages": [{"role": "user", "content": "x"}], "temperature": 1.5});
    let embedding_chat = ask(&embedding_model(Protocol::OpenAi), "x");
    for (body, param) in [
        (image, "messages"),
        (tools, "tools"),
        (json_mode, "response_format"),
        (long, "max_tokens"),
        (hot, "temperature"),
        (embedding_chat, "model"),
    ] {
        let (status, error) = openai_error(world.chat(&body).await).await;
        assert_eq!(
            (status, error["param"].as_str()),
            (400, Some(param)),
            "{body} → {error}"
        );
    }
    let (status, error) = openai_error(
        world
            .post("/v1/embeddings", &json!({"model": "text-only", "input": "x"}))
            .await,
    )
    .await;
    assert_eq!((status, error["param"].as_str()), (400, Some("model")), "{error}");
    assert!(world.fake.requests().is_empty(), "nothing went upstream");
    // Refused calls are logged too.
    let entries = world.log(7).await;
    assert!(
        entries
            .iter()
            .all(|entry| entry.error_code.as_deref() == Some("unsupported_by_model"))
    );
    // What it can do still works.
    let response = world.chat(&ask("text-only", "hello")).await;
    assert_eq!(response.status().as_u16(), 200);
}
