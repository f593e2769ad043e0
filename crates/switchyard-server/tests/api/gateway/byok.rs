//! Bring your own key, black-box: a user's config of a model sends their calls with their key
//! first (logged as theirs), its defaults apply where a request sets none, nobody else sees or
//! changes it, and a custom endpoint that could reach the server's own network is refused.

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_testkit::{Failure, FakeUpstream, Protocol, Scenario};

use super::{World, ask, chat_model, world, world_with_fake};
use crate::helpers::Session;

async fn model_id(world: &World, name: &str) -> String {
    let (status, found) = world
        .app
        .call(Method::GET, &format!("/api/v1/models?q={name}"), &world.user, None)
        .await;
    assert_eq!(status, 200, "{found}");
    found["data"][0]["id"].as_str().expect("the model").to_owned()
}

async fn configure(world: &World, session: &Session, body: Value) -> (u16, Value) {
    world
        .app
        .call(Method::POST, "/api/v1/users/me/model-configs", session, Some(body))
        .await
}

fn sent_key(world: &World, index: usize) -> String {
    let requests = world.fake.requests();
    requests[index]
        .header("authorization")
        .unwrap_or_default()
        .trim_start_matches("Bearer ")
        .to_owned()
}

#[tokio::test]
async fn a_users_own_key_goes_first_with_their_defaults_and_is_logged_as_theirs() {
    let world = world().await;
    let model = model_id(&world, &chat_model(Protocol::OpenAi)).await;
    let own = FakeUpstream::pool_key(7);
    let body = json!({"model_id": model, "api_key": own, "max_tokens": 100, "temperature": 0.3});
    let (status, config) = configure(&world, &world.user, body).await;
    assert_eq!(status, 201, "{config}");
    assert_eq!(config["api_key_last4"], "ey-7");
    assert!(!config.to_string().contains(&own), "the key never comes back: {config}");
    let id = config["id"].as_str().expect("an id").to_owned();

    let response = world.chat(&ask(&chat_model(Protocol::OpenAi), "hi")).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(sent_key(&world, 0), own);
    let sent = &world.fake.requests()[0].body;
    assert_eq!(
        (sent["max_tokens"].as_i64(), sent["temperature"].as_f64()),
        (Some(100), Some(0.3))
    );
    let entry = world.only_entry().await;
    assert!(entry.byok, "{entry:?}");
    assert_eq!(entry.upstream_key_id, None, "not counted against the platform's keys");
    assert!(entry.cost_nanos > 0, "priced");

    // The request's own values win.
    let mut mine = ask(&chat_model(Protocol::OpenAi), "hi");
    mine["temperature"] = json!(0.9);
    assert_eq!(world.chat(&mine).await.status().as_u16(), 200);
    assert_eq!(world.fake.requests()[1].body["temperature"].as_f64(), Some(0.9));

    // Someone else neither sees nor changes it, and their calls go with the platform's key.
    let bob = world.app.create_user("bob").await;
    let path = format!("/api/v1/users/me/model-configs/{id}");
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = world.app.call(method, &path, &bob, None).await;
        assert_eq!(status, 404, "{body}");
    }
    let replace = json!({"model_id": model, "api_key": "sk-bobs", "is_enabled": false});
    let (status, body) = world.app.call(Method::PUT, &path, &bob, Some(replace)).await;
    assert_eq!(status, 404, "{body}");
    let (status, list) = world
        .app
        .call(Method::GET, "/api/v1/users/me/model-configs", &bob, None)
        .await;
    assert_eq!(
        (status, list["data"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{list}"
    );

    // When the supplier refuses the user's key, the platform's serves.
    world
        .fake
        .set_for_key(&own, Some(Scenario::failing(Failure::status(401))));
    world.fake.clear();
    let response = world.chat(&ask(&chat_model(Protocol::OpenAi), "hi")).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["x-switchyard-attempts"], "2");
    assert_eq!(
        (sent_key(&world, 0), sent_key(&world, 1)),
        (own.clone(), FakeUpstream::KEY.to_owned())
    );

    // Disabled, it is not used.
    let disable = json!({"model_id": model, "is_enabled": false});
    let (status, body) = world.app.call(Method::PUT, &path, &world.user, Some(disable)).await;
    assert_eq!((status, body["is_enabled"].as_bool()), (200, Some(false)), "{body}");
    world.fake.clear();
    assert_eq!(
        world
            .chat(&ask(&chat_model(Protocol::OpenAi), "hi"))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(sent_key(&world, 0), FakeUpstream::KEY);
}

#[tokio::test]
async fn a_custom_endpoint_that_could_reach_the_servers_own_network_is_refused() {
    let world = world().await;
    let model = model_id(&world, &chat_model(Protocol::OpenAi)).await;
    for endpoint in [
        "https://127.0.0.1/v1",
        "https://[::1]/v1",
        "https://10.0.0.1/v1",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:127.0.0.1]/v1",
        // A name that resolves to a loopback address.
        "https://localhost/v1",
        "http://api.openai.com/v1",
    ] {
        let body = json!({"model_id": model, "api_key": "sk-mine", "custom_endpoint": endpoint});
        let (status, refused) = configure(&world, &world.user, body).await;
        assert_eq!(status, 422, "{endpoint}: {refused}");
        assert_eq!(
            refused["error"]["details"][0]["field"], "custom_endpoint",
            "{endpoint}: {refused}"
        );
    }
    let (status, list) = world
        .app
        .call(Method::GET, "/api/v1/users/me/model-configs", &world.user, None)
        .await;
    assert_eq!(
        (status, list["data"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{list}"
    );
}

#[tokio::test]
async fn a_redirect_from_a_users_endpoint_is_not_followed_and_the_platform_serves() {
    let world = world_with_fake(|settings, fake| {
        settings.gateway.byok.allowed_hosts = vec![format!("127.0.0.1:{}", fake.address().port())];
    })
    .await;
    let model = model_id(&world, &chat_model(Protocol::OpenAi)).await;
    let own = FakeUpstream::pool_key(8);
    let endpoint = world.fake.base_url(Protocol::OpenAi);
    let body = json!({"model_id": model, "api_key": own, "custom_endpoint": endpoint});
    let (status, config) = configure(&world, &world.user, body).await;
    assert_eq!(status, 201, "an allowed host: {config}");
    // The redirect points back at the fake (where a followed request would be counted), with
    // the user's key, which keeps answering 307: followed, the fake would see many requests.
    world.fake.set_for_key(
        &own,
        Some(Scenario::failing(
            Failure::status(307).with_header("location", format!("{endpoint}/chat/completions")),
        )),
    );
    let response = world.chat(&ask(&chat_model(Protocol::OpenAi), "hi")).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["x-switchyard-attempts"], "2");
    let entries = world.log(2).await;
    assert!(entries[0].byok && entries[0].status_code == 502, "{entries:?}");
    assert!(!entries[1].byok && entries[1].status_code == 200, "{entries:?}");
    assert_eq!(world.fake.requests().len(), 2, "nothing followed the redirect");
}
