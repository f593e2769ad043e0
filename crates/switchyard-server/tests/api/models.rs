//! Models: CRUD with a primary route, typed parameters, routes, capability and category links,
//! filters, visibility, soft delete and the default model of each type.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, spawn_app};

const SUPPLIER_KEY: &str = "sk-model-test-secret-9f8e7d6c";

async fn supplier(app: &TestApp, admin: &Session, name: &str, base_url: &str) -> String {
    let body = json!({"name": name, "protocol": "openai", "base_url": base_url, "api_key": SUPPLIER_KEY});
    let (status, created) = app.call(Method::POST, "/api/v1/suppliers", admin, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().expect("id").to_owned()
}

fn model(name: &str, supplier_id: &str, extra: Value) -> Value {
    let mut body = json!({
        "name": name,
        "supplier_id": supplier_id,
        "model_type": "language",
        "context_window": 128000,
        "input_price": 2_500_000,
        "output_price": 10_000_000,
        "currency": "usd",
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

async fn create_model(app: &TestApp, admin: &Session, body: Value) -> Value {
    let (status, created) = app.call(Method::POST, "/api/v1/models", admin, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn admins_manage_models_with_their_routes_parameters_and_links() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let openai = supplier(&app, &admin, "openai", "https://api.openai.com/v1").await;
    let azure = supplier(&app, &admin, "azure", "https://example.openai.azure.com").await;

    let created = create_model(
        &app,
        &admin,
        model(
            "gpt-4o",
            &openai,
            json!({"model_type": "multimodal", "upstream_name": "gpt-4o-2024-08-06"}),
        ),
    )
    .await;
    assert_eq!(created["currency"], "USD");
    assert_eq!(created["sub_type"], "chat");
    assert_eq!(created["supplier"]["name"], "openai");
    assert_eq!(
        (created["routable"].as_bool(), created["is_default"].as_bool()),
        (Some(true), Some(false))
    );
    let path = format!("/api/v1/models/{}", id(&created));

    // The primary route follows the model; another route can be added, not a duplicate.
    let (_, routes) = app.call(Method::GET, &format!("{path}/routes"), &admin, None).await;
    assert_eq!(routes["data"][0]["is_primary"], true);
    assert_eq!(routes["data"][0]["upstream_name"], "gpt-4o-2024-08-06");
    let primary = routes["data"][0]["id"].as_str().expect("route id").to_owned();
    let route = json!({"supplier_id": azure, "upstream_name": "gpt-4o", "priority": 10, "weight": 3});
    let (status, added) = app
        .call(Method::POST, &format!("{path}/routes"), &admin, Some(route.clone()))
        .await;
    assert_eq!(
        (status, added["supplier"]["name"].as_str()),
        (201, Some("azure")),
        "{added}"
    );
    assert_eq!(
        app.call(Method::POST, &format!("{path}/routes"), &admin, Some(route))
            .await
            .0,
        409
    );
    assert_eq!(
        app.call(Method::DELETE, &format!("{path}/routes/{primary}"), &admin, None)
            .await
            .0,
        409
    );
    let moved = json!({"supplier_id": azure, "upstream_name": "other", "priority": 1});
    assert_eq!(
        app.call(Method::PUT, &format!("{path}/routes/{primary}"), &admin, Some(moved))
            .await
            .0,
        409
    );

    // Typed parameters: a value of the wrong type is a 422 naming the parameter.
    let temperature = json!({"name": "temperature", "parameter_type": "float", "default_value": 1,
        "min_value": 0, "max_value": 2, "description": "sampling temperature"});
    let (status, parameter) = app
        .call(Method::POST, &format!("{path}/parameters"), &admin, Some(temperature))
        .await;
    assert_eq!(status, 201, "{parameter}");
    assert_eq!(
        (parameter["default_value"].as_f64(), parameter["max_value"].as_f64()),
        (Some(1.0), Some(2.0))
    );
    let bad = json!({"name": "max_tokens", "parameter_type": "int", "default_value": "lots"});
    let (status, error) = app
        .call(Method::POST, &format!("{path}/parameters"), &admin, Some(bad))
        .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "default_value");
    assert!(
        error["error"]["message"]
            .as_str()
            .expect("an error message")
            .contains("max_tokens"),
        "{error}"
    );
    let out_of_range = json!({"name": "temperature", "parameter_type": "float", "default_value": 5, "max_value": 2});
    let parameter_path = format!("{path}/parameters/{}", id(&parameter));
    let (status, error) = app.call(Method::PUT, &parameter_path, &admin, Some(out_of_range)).await;
    assert_eq!(status, 422);
    assert!(
        error["error"]["message"]
            .as_str()
            .expect("an error message")
            .contains("temperature"),
        "{error}"
    );
    let (_, parameters) = app.call(Method::GET, &format!("{path}/parameters"), &admin, None).await;
    assert_eq!(parameters["data"].as_array().map(Vec::len), Some(1));

    // Capabilities decide what the model takes; an inactive one adds nothing.
    let capability = |name: &str, inputs: Value, active: bool| json!({"name": name, "input_types": inputs, "output_types": ["text"], "domain": "multimodal", "is_active": active});
    let (_, text) = app
        .call(
            Method::POST,
            "/api/v1/capabilities",
            &admin,
            Some(capability("text_generation", json!(["text"]), true)),
        )
        .await;
    let (_, vision) = app
        .call(
            Method::POST,
            "/api/v1/capabilities",
            &admin,
            Some(capability("vision", json!(["image"]), true)),
        )
        .await;
    let (_, audio) = app
        .call(
            Method::POST,
            "/api/v1/capabilities",
            &admin,
            Some(capability("speech", json!(["audio"]), false)),
        )
        .await;
    for (capability, config) in [
        (&text, json!(null)),
        (&vision, json!({"max_images": 4})),
        (&audio, json!(null)),
    ] {
        let link = json!({"model_id": id(&created), "capability_id": id(capability), "config_json": config});
        let (status, body) = app
            .call(Method::POST, "/api/v1/capabilities/associations", &admin, Some(link))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let not_an_object = json!({"model_id": id(&created), "capability_id": id(&text), "config_json": [1, 2]});
    let (status, error) = app
        .call(
            Method::POST,
            "/api/v1/capabilities/associations",
            &admin,
            Some(not_an_object),
        )
        .await;
    assert_eq!(
        (status, error["error"]["details"][0]["field"].as_str()),
        (422, Some("config_json"))
    );

    // Categories.
    let (_, llm) = app
        .call(Method::POST, "/api/v1/categories", &admin, Some(json!({"name": "llm"})))
        .await;
    let (_, chat) = app
        .call(
            Method::POST,
            "/api/v1/categories",
            &admin,
            Some(json!({"name": "chat", "parent_id": id(&llm)})),
        )
        .await;
    let link = json!({"model_id": id(&created), "category_id": id(&chat)});
    assert_eq!(
        app.call(Method::POST, "/api/v1/categories/associations", &admin, Some(link))
            .await
            .0,
        200
    );

    let (status, detail) = app.call(Method::GET, &path, &admin, None).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        detail["input_types"],
        json!(["image", "text"]),
        "sorted; the inactive capability adds no audio"
    );
    assert_eq!(detail["output_types"], json!(["text"]));
    assert_eq!(detail["capabilities"].as_array().map(Vec::len), Some(3));
    let vision_link = detail["capabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|linked| linked["capability"]["name"] == "vision")
        .cloned()
        .expect("the vision link");
    assert_eq!(vision_link["config_json"], json!({"max_images": 4}));
    assert_eq!(detail["categories"][0]["name"], "chat");
    assert_eq!(detail["routes"].as_array().map(Vec::len), Some(2));
    assert_eq!(detail["parameters"][0]["name"], "temperature");
    assert_eq!(detail["supplier"]["name"], "openai");

    // Filters.
    create_model(
        &app,
        &admin,
        model(
            "text-embedding-3-small",
            &openai,
            json!({"model_type": "embedding", "sub_type": "embedding"}),
        ),
    )
    .await;
    for (query, expected) in [
        ("supplier=azure", vec!["gpt-4o"]),
        ("supplier=openai", vec!["gpt-4o", "text-embedding-3-small"]),
        ("model_type=embedding", vec!["text-embedding-3-small"]),
        ("capability=vision", vec!["gpt-4o"]),
        ("category=chat", vec!["gpt-4o"]),
        ("q=EMBEDDING", vec!["text-embedding-3-small"]),
        ("supplier=nobody", vec![]),
    ] {
        let (_, list) = app
            .call(Method::GET, &format!("/api/v1/models?{query}"), &admin, None)
            .await;
        assert_eq!(names(&list), expected, "{query}");
    }

    // Unlinking, PATCH, PUT.
    let unlink = format!(
        "/api/v1/capabilities/associations?model_id={}&capability_id={}",
        id(&created),
        id(&vision)
    );
    assert_eq!(app.call(Method::DELETE, &unlink, &admin, None).await.0, 204);
    assert_eq!(app.call(Method::DELETE, &unlink, &admin, None).await.0, 404);
    let (_, detail) = app.call(Method::GET, &path, &admin, None).await;
    assert_eq!(detail["input_types"], json!(["text"]));
    let (status, patched) = app
        .call(
            Method::PATCH,
            &path,
            &admin,
            Some(json!({"display_name": "GPT-4o", "upstream_name": null, "cached_input_price": 1_250_000})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (patched["display_name"].as_str(), patched["upstream_name"].is_null()),
        (Some("GPT-4o"), true)
    );
    let (_, routes) = app.call(Method::GET, &format!("{path}/routes"), &admin, None).await;
    assert_eq!(
        routes["data"][0]["upstream_name"], "gpt-4o",
        "the primary route follows the model"
    );
    let (status, error) = app
        .call(
            Method::PUT,
            &path,
            &admin,
            Some(model("gpt-4o", "0190f5a0-0000-7000-8000-000000000000", json!({}))),
        )
        .await;
    assert_eq!(
        (status, error["error"]["details"][0]["field"].as_str()),
        (422, Some("supplier_id"))
    );

    // Soft delete hides the model and frees its name; restore brings it back.
    assert_eq!(app.call(Method::DELETE, &path, &admin, None).await.0, 204);
    let (_, list) = app.call(Method::GET, "/api/v1/models", &admin, None).await;
    assert_eq!(names(&list), ["text-embedding-3-small"]);
    let (_, list) = app
        .call(Method::GET, "/api/v1/models?include_deleted=true", &admin, None)
        .await;
    assert_eq!(names(&list), ["gpt-4o", "text-embedding-3-small"]);
    let (status, restored) = app.call(Method::POST, &format!("{path}/restore"), &admin, None).await;
    assert_eq!((status, restored["deleted_at"].is_null()), (200, true));
}

#[tokio::test]
async fn twenty_concurrent_set_default_calls_leave_exactly_one_default() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let openai = supplier(&app, &admin, "openai", "https://api.openai.com/v1").await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(id(&create_model(
            &app,
            &admin,
            model(&format!("chat-{n:02}"), &openai, json!({})),
        )
        .await));
    }
    let embedding = create_model(
        &app,
        &admin,
        model("embed", &openai, json!({"model_type": "embedding"})),
    )
    .await;
    let calls = ids.iter().map(|model_id| {
        app.call(
            Method::POST,
            "/api/v1/models/set-default",
            &admin,
            Some(json!({"model_id": model_id})),
        )
    });
    for (status, body) in futures_util::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        app.call(
            Method::POST,
            "/api/v1/models/set-default",
            &admin,
            Some(json!({"model_id": id(&embedding)}))
        )
        .await
        .0,
        200
    );
    let (_, list) = app
        .call(
            Method::GET,
            "/api/v1/models?limit=200&model_type=language",
            &admin,
            None,
        )
        .await;
    let defaults: Vec<&Value> = list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|model| model["is_default"] == true)
        .collect();
    assert_eq!(defaults.len(), 1, "{list}");
    let default_id = id(defaults[0]);
    let (_, listed) = app.call(Method::GET, "/api/v1/models/defaults", &admin, None).await;
    let types: Vec<&str> = listed["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|model| model["model_type"].as_str())
        .collect();
    assert_eq!(types, ["embedding", "language"]);

    // The default cannot be deactivated, deleted or moved to another type.
    let path = format!("/api/v1/models/{default_id}");
    for (method, body) in [
        (Method::PATCH, Some(json!({"is_active": false}))),
        (Method::PATCH, Some(json!({"model_type": "vision"}))),
        (Method::DELETE, None),
    ] {
        let (status, error) = app.call(method, &path, &admin, body).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (409, Some("default_model_in_use"))
        );
    }
    // Once another model is the default, the old one may go.
    let other = ids
        .iter()
        .find(|candidate| **candidate != default_id)
        .expect("another model");
    app.call(
        Method::POST,
        "/api/v1/models/set-default",
        &admin,
        Some(json!({"model_id": other})),
    )
    .await;
    assert_eq!(
        app.call(Method::PATCH, &path, &admin, Some(json!({"is_active": false})))
            .await
            .0,
        200
    );
    // An inactive model cannot become the default.
    let (status, error) = app
        .call(
            Method::POST,
            "/api/v1/models/set-default",
            &admin,
            Some(json!({"model_id": default_id})),
        )
        .await;
    assert_eq!(
        (status, error["error"]["details"][0]["field"].as_str()),
        (422, Some("model_id"))
    );
}

#[tokio::test]
async fn users_see_active_live_models_without_supplier_secrets_and_cannot_write() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let user = app.create_user("reader").await;
    let internal = "http://10.1.2.3:11434/v1";
    let ollama = supplier(&app, &admin, "ollama", internal).await;
    let visible = create_model(&app, &admin, model("llama3.1:8b", &ollama, json!({}))).await;
    create_model(&app, &admin, model("hidden", &ollama, json!({"is_active": false}))).await;
    let deleted = create_model(&app, &admin, model("gone", &ollama, json!({}))).await;
    app.call(
        Method::DELETE,
        &format!("/api/v1/models/{}", id(&deleted)),
        &admin,
        None,
    )
    .await;

    let (_, list) = app
        .call(
            Method::GET,
            "/api/v1/models?active=false&include_deleted=true",
            &user,
            None,
        )
        .await;
    assert_eq!(names(&list), ["llama3.1:8b"]);
    assert_eq!(
        app.call(Method::GET, &format!("/api/v1/models/{}", id(&deleted)), &user, None)
            .await
            .0,
        404
    );
    let path = format!("/api/v1/models/{}", id(&visible));
    let mut seen = String::new();
    for read in [
        path.clone(),
        format!("{path}/routes"),
        format!("{path}/parameters"),
        "/api/v1/models".into(),
        "/api/v1/models/defaults".into(),
    ] {
        let (status, body) = app.call(Method::GET, &read, &user, None).await;
        assert_eq!(status, 200, "{read}");
        seen.push_str(&body.to_string());
    }
    for secret in ["10.1.2.3", "base_url", "api_key", "last4", SUPPLIER_KEY, "9f8e7d6c"] {
        assert!(!seen.contains(secret), "a user saw {secret}: {seen}");
    }

    let writes = [
        (
            Method::POST,
            "/api/v1/models".to_owned(),
            Some(model("x", &ollama, json!({}))),
        ),
        (Method::PUT, path.clone(), Some(model("x", &ollama, json!({})))),
        (Method::PATCH, path.clone(), Some(json!({"display_name": "x"}))),
        (Method::DELETE, path.clone(), None),
        (Method::POST, format!("{path}/restore"), None),
        (
            Method::POST,
            "/api/v1/models/set-default".to_owned(),
            Some(json!({"model_id": id(&visible)})),
        ),
        (
            Method::POST,
            format!("{path}/parameters"),
            Some(json!({"name": "top_p", "parameter_type": "float"})),
        ),
        (
            Method::POST,
            format!("{path}/routes"),
            Some(json!({"supplier_id": ollama, "upstream_name": "y"})),
        ),
        (
            Method::POST,
            "/api/v1/capabilities/associations".to_owned(),
            Some(json!({"model_id": id(&visible), "capability_id": id(&visible)})),
        ),
        (
            Method::POST,
            "/api/v1/categories/associations".to_owned(),
            Some(json!({"model_id": id(&visible), "category_id": id(&visible)})),
        ),
    ];
    for (method, write, body) in writes {
        let (status, _) = app.call(method.clone(), &write, &user, body).await;
        assert_eq!(status, 403, "{method} {write}");
    }
}

#[tokio::test]
async fn a_model_whose_supplier_is_inactive_or_deleted_is_not_routable() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let deepseek = supplier(&app, &admin, "deepseek", "https://api.deepseek.com").await;
    let created = create_model(
        &app,
        &admin,
        model("deepseek-chat", &deepseek, json!({"currency": "CNY"})),
    )
    .await;
    let path = format!("/api/v1/models/{}", id(&created));
    let supplier_path = format!("/api/v1/suppliers/{deepseek}");
    app.call(Method::PATCH, &supplier_path, &admin, Some(json!({"is_active": false})))
        .await;
    let (_, detail) = app.call(Method::GET, &path, &admin, None).await;
    assert_eq!(
        (detail["routable"].as_bool(), detail["supplier"]["usable"].as_bool()),
        (Some(false), Some(false))
    );
    app.call(Method::PATCH, &supplier_path, &admin, Some(json!({"is_active": true})))
        .await;
    let (_, detail) = app.call(Method::GET, &path, &admin, None).await;
    assert_eq!(detail["routable"], true);
    assert_eq!(app.call(Method::DELETE, &supplier_path, &admin, None).await.0, 204);
    let (_, detail) = app.call(Method::GET, &path, &admin, None).await;
    assert_eq!(detail["routable"], false);
    // A deleted supplier cannot be a new model's supplier.
    let (status, error) = app
        .call(
            Method::POST,
            "/api/v1/models",
            &admin,
            Some(model("other", &deepseek, json!({}))),
        )
        .await;
    assert_eq!(
        (status, error["error"]["details"][0]["field"].as_str()),
        (422, Some("supplier_id"))
    );
}

#[tokio::test]
async fn parameters_routes_and_links_are_replaced_and_removed() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let openai = supplier(&app, &admin, "openai", "https://api.openai.com/v1").await;
    let azure = supplier(&app, &admin, "azure", "https://example.openai.azure.com").await;
    let created = create_model(&app, &admin, model("gpt-4o", &openai, json!({}))).await;
    let path = format!("/api/v1/models/{}", id(&created));

    // PUT replaces every writable field.
    let replacement = model(
        "gpt-4o",
        &azure,
        json!({"display_name": "GPT-4o on Azure", "is_active": false, "currency": "EUR"}),
    );
    let (status, replaced) = app.call(Method::PUT, &path, &admin, Some(replacement)).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        (
            replaced["supplier"]["name"].as_str(),
            replaced["currency"].as_str(),
            replaced["is_active"].as_bool()
        ),
        (Some("azure"), Some("EUR"), Some(false))
    );
    let (_, inactive) = app.call(Method::GET, "/api/v1/models?active=false", &admin, None).await;
    assert_eq!(names(&inactive), ["gpt-4o"]);
    let (_, active) = app.call(Method::GET, "/api/v1/models?active=true", &admin, None).await;
    assert_eq!(names(&active), Vec::<String>::new());

    // Parameters: replace, then remove.
    let choice = json!({"name": "quality", "parameter_type": "string", "default_value": "hd", "allowed_values": ["standard", "hd"]});
    let (_, parameter) = app
        .call(
            Method::POST,
            &format!("{path}/parameters"),
            &admin,
            Some(choice.clone()),
        )
        .await;
    assert_eq!(
        app.call(Method::POST, &format!("{path}/parameters"), &admin, Some(choice))
            .await
            .0,
        409
    );
    let parameter_path = format!("{path}/parameters/{}", id(&parameter));
    let changed = json!({"name": "quality", "parameter_type": "string", "default_value": "standard", "allowed_values": ["standard", "hd"]});
    let (status, changed) = app.call(Method::PUT, &parameter_path, &admin, Some(changed)).await;
    assert_eq!((status, changed["default_value"].as_str()), (200, Some("standard")));
    assert_eq!(app.call(Method::DELETE, &parameter_path, &admin, None).await.0, 204);
    assert_eq!(app.call(Method::DELETE, &parameter_path, &admin, None).await.0, 404);

    // Routes: replace a secondary route, then remove it; the primary one stays.
    let route = json!({"supplier_id": openai, "upstream_name": "gpt-4o", "priority": 2});
    let (_, route) = app
        .call(Method::POST, &format!("{path}/routes"), &admin, Some(route))
        .await;
    let route_path = format!("{path}/routes/{}", id(&route));
    let changed = json!({"supplier_id": openai, "upstream_name": "gpt-4o-2024-11-20", "priority": 7, "weight": 9, "output_price": 5});
    let (status, changed) = app.call(Method::PUT, &route_path, &admin, Some(changed)).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (changed["priority"].as_i64(), changed["output_price"].as_i64()),
        (Some(7), Some(5))
    );
    assert_eq!(app.call(Method::DELETE, &route_path, &admin, None).await.0, 204);
    let (_, routes) = app.call(Method::GET, &format!("{path}/routes"), &admin, None).await;
    assert_eq!(routes["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        routes["data"][0]["supplier"]["name"], "azure",
        "the primary route followed the PUT"
    );

    // Category links: a category with models needs mode=reassign, which moves them to its parent.
    let (_, llm) = app
        .call(Method::POST, "/api/v1/categories", &admin, Some(json!({"name": "llm"})))
        .await;
    let (_, chat) = app
        .call(
            Method::POST,
            "/api/v1/categories",
            &admin,
            Some(json!({"name": "chat", "parent_id": id(&llm)})),
        )
        .await;
    let (_, code) = app
        .call(
            Method::POST,
            "/api/v1/categories",
            &admin,
            Some(json!({"name": "code", "parent_id": id(&llm)})),
        )
        .await;
    for category in [&chat, &code] {
        let link = json!({"model_id": id(&created), "category_id": id(category)});
        assert_eq!(
            app.call(Method::POST, "/api/v1/categories/associations", &admin, Some(link))
                .await
                .0,
            200
        );
    }
    let unlink = format!(
        "/api/v1/categories/associations?model_id={}&category_id={}",
        id(&created),
        id(&code)
    );
    assert_eq!(app.call(Method::DELETE, &unlink, &admin, None).await.0, 204);
    assert_eq!(app.call(Method::DELETE, &unlink, &admin, None).await.0, 404);
    let chat_path = format!("/api/v1/categories/{}", id(&chat));
    let (status, error) = app.call(Method::DELETE, &chat_path, &admin, None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (409, Some("category_not_empty"))
    );
    assert_eq!(
        app.call(Method::DELETE, &format!("{chat_path}?mode=reassign"), &admin, None)
            .await
            .0,
        204
    );
    let (_, detail) = app.call(Method::GET, &path, &admin, None).await;
    let categories: Vec<&str> = detail["categories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|category| category["name"].as_str())
        .collect();
    assert_eq!(categories, ["llm"]);
}

#[tokio::test]
async fn a_model_reads_in_the_same_few_queries_whatever_it_holds() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use switchyard_domain::catalog::{ModelFilter, ModelRepo};
    use switchyard_domain::kernel::page::PageRequest;
    use switchyard_persistence::{Database, DatabaseOptions, SqlModelRepo};

    let app = spawn_app().await;
    let seeded = crate::cli::switchyard(&app, &["catalog", "seed"], None);
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let database = Database::connect(&DatabaseOptions::new(&app.db.url))
        .await
        .expect("connect");
    let queries = Arc::new(AtomicUsize::new(0));
    let mut connection = database.connection().clone();
    let counter = queries.clone();
    connection.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let repo = SqlModelRepo::new(connection);
    let count = |queries: &AtomicUsize| queries.swap(0, Ordering::SeqCst);

    let page = PageRequest::new(Some(200), None).expect("a page");
    let all = repo.list(&ModelFilter::default(), page).await.expect("list");
    assert_eq!(
        (all.items.len(), count(&queries)),
        (21, 3),
        "a page, its suppliers, the defaults"
    );
    let small = PageRequest::new(Some(2), None).expect("a page");
    repo.list(&ModelFilter::default(), small).await.expect("list");
    assert_eq!(count(&queries), 3);

    let mut per_model = std::collections::BTreeSet::new();
    let mut linked = 0;
    for model in &all.items {
        let detail = repo.detail(model.id).await.expect("detail").expect("a model");
        linked += detail.parameters.len() + detail.capabilities.len() + detail.categories.len();
        per_model.insert(count(&queries));
    }
    assert!(linked > 2 * all.items.len(), "the models hold links to read");
    assert_eq!(
        per_model.into_iter().collect::<Vec<_>>(),
        [10],
        "no query per linked row"
    );
    database.close().await;
}

#[tokio::test]
async fn concurrent_patches_of_different_fields_of_one_model_all_land() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    let openai = supplier(&app, &admin, "openai", "https://api.openai.com/v1").await;
    let path = format!(
        "/api/v1/models/{}",
        id(&create_model(&app, &admin, model("gpt-4o", &openai, json!({}))).await)
    );
    // Each round sends four patches at once, each of another field; a read-then-replace would
    // let one write undo another.
    for round in 0..5_i64 {
        let patches = [
            json!({"display_name": format!("GPT-4o round {round}")}),
            json!({"description": format!("description {round}")}),
            json!({"context_window": 1000 + round}),
            json!({"input_price": 2000 + round}),
        ];
        let calls = patches
            .into_iter()
            .map(|patch| app.call(Method::PATCH, &path, &admin, Some(patch)));
        for (status, body) in futures_util::future::join_all(calls).await {
            assert_eq!(status, 200, "{body}");
        }
        let (_, model) = app.call(Method::GET, &path, &admin, None).await;
        assert_eq!(
            (
                model["display_name"].as_str(),
                model["description"].as_str(),
                model["context_window"].as_i64(),
                model["input_price"].as_i64(),
            ),
            (
                Some(format!("GPT-4o round {round}").as_str()),
                Some(format!("description {round}").as_str()),
                Some(1000 + round),
                Some(2000 + round),
            ),
            "round {round}"
        );
    }
}
