//! OpenAI's official Python SDK against Switchyard: `tests/sdk/openai_sdk.py`, run with the
//! interpreter named by `SWITCHYARD_OPENAI_PYTHON` (a virtual environment with a pinned
//! `openai`; `.ci/run` makes one). Without it the test says so and does nothing.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use switchyard_testkit::{Failure, FakeUsage, Protocol, Scenario};

use super::{chat_model, embedding_model, world};

#[tokio::test]
async fn the_official_openai_python_sdk_works_against_the_gateway() {
    let Some(python) = std::env::var_os("SWITCHYARD_OPENAI_PYTHON") else {
        eprintln!("skipped: set SWITCHYARD_OPENAI_PYTHON to a python with the openai package (.ci/run does)");
        return;
    };
    let world = world().await;
    let (status, created) = world
        .app
        .call(
            Method::POST,
            "/api/v1/api-keys",
            &world.user,
            Some(json!({"name": "limited", "allowed_models": [chat_model(Protocol::OpenAi)]})),
        )
        .await;
    assert_eq!(status, 201);
    let limited = created["secret"].as_str().expect("a secret").to_owned();
    // The answers, in the order the script's calls reach the supplier.
    let tool = Scenario::text("").with_tool_call("call_1", "get_weather", r#"{"city":"Paris"}"#);
    let embedding = Scenario::default().with_usage(FakeUsage::new(2, 0));
    for scenario in [
        Scenario::default(),
        Scenario::default(),
        tool,
        Scenario::default(),
        embedding.clone(),
        embedding.clone(),
        embedding,
        Scenario::failing(Failure::status(429).with_header("retry-after", "7")),
        Scenario::failing(Failure::status(500)),
        Scenario::failing(Failure::Overloaded),
        Scenario::failing(Failure::StallBeforeFirstByte(Duration::from_secs(5))),
    ] {
        world.fake.push(scenario);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/openai_sdk.py");
    let mut command = std::process::Command::new(python);
    command
        .arg(script)
        .env("SY_BASE_URL", &world.app.address)
        .env("SY_KEY", &world.key)
        .env("SY_LIMITED_KEY", limited)
        .env("SY_CHAT_MODEL", chat_model(Protocol::OpenAi))
        .env("SY_OTHER_CHAT_MODEL", chat_model(Protocol::Anthropic))
        .env("SY_LIMITED_CHAT_MODEL", chat_model(Protocol::AzureOpenAi))
        .env("SY_EMBED_MODEL", embedding_model(Protocol::OpenAi));
    // The server runs on this runtime: wait for the script off it.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the script's thread")
        .expect("the SDK script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the SDK script failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all checks passed"), "{stdout}");
    // What was checked, for `--nocapture` (CI keeps it).
    println!("{stdout}");
    // The SDK asks for base64 embeddings by default; the gateway asks the supplier for floats.
    let embeddings: Vec<_> = world
        .fake
        .requests()
        .into_iter()
        .filter(|request| request.path.ends_with("/embeddings"))
        .collect();
    assert_eq!(embeddings.len(), 3);
    assert!(
        embeddings
            .iter()
            .all(|request| request.body["encoding_format"] == "float")
    );
}
