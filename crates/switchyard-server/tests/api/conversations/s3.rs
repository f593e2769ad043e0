//! Uploads on S3-compatible object storage, against a real S3 server: moto's (`moto_server`,
//! from PyPI: `pip install 'moto[server]'`), started by the test on a free port. Where it is
//! not installed the test says so and passes, except under CI (`CI=true`), where `.ci/run`
//! installs it and a missing server fails.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use switchyard_testkit::{Protocol, Scenario};

use super::files::{PNG, upload};
use super::{send, start};
use crate::gateway::{chat_model, world_with};

const BUCKET: &str = "switchyard-test";

/// A moto S3 server of this test's own, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn moto() -> Option<Moto> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(error) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "moto_server cannot be started ({error}); install it with pip install 'moto[server]>=5.2,<6'"
            );
            eprintln!("skipped: moto_server is not installed ({error}); pip install 'moto[server]' to run this test");
            return None;
        }
    };
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        // An unsigned request is enough: moto checks no credentials.
        if let Ok(response) = client.put(format!("{}/{BUCKET}", moto.endpoint)).send().await
            && response.status().is_success()
        {
            return Some(moto);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not answer on {} within 30 s", moto.endpoint);
}

async fn keys(moto: &Moto) -> String {
    reqwest::get(format!("{}/{BUCKET}?list-type=2", moto.endpoint))
        .await
        .expect("moto lists")
        .text()
        .await
        .expect("a listing")
}

#[tokio::test]
async fn files_live_in_s3_compatible_storage_when_configured() {
    let Some(moto) = moto().await else {
        return;
    };
    let endpoint = moto.endpoint.clone();
    let world = world_with(move |settings| {
        settings.files.storage = "s3".to_owned();
        settings.files.s3.bucket = BUCKET.to_owned();
        settings.files.s3.region = "us-east-1".to_owned();
        settings.files.s3.endpoint = Some(endpoint);
        settings.files.s3.access_key_id = Some("test".to_owned());
        settings.files.s3.secret_access_key = Some("test".to_owned().into());
        settings.files.s3.allow_http = true;
    })
    .await;
    let (status, file) = upload(&world, "dot.png", PNG).await;
    assert_eq!(status, 201, "{file}");
    let id = file["id"].as_str().expect("an id").to_owned();
    let key = format!("users/{}/{id}", world.user.user_id);
    assert!(
        keys(&moto).await.contains(&key),
        "the object is in the bucket under {key}"
    );
    // More than one 5 MiB part: a multipart upload.
    let big = "a line of text for a multipart upload\n".repeat(160_000);
    let (status, document) = upload(&world, "big.txt", big.as_bytes()).await;
    assert_eq!(status, 201, "{document}");
    assert_eq!(document["size"], big.len());
    let document_id = document["id"].as_str().expect("an id");
    let read = world
        .app
        .client
        .get(world.app.url(&format!("/api/v1/files/{document_id}/content")))
        .bearer_auth(&world.user.access)
        .send()
        .await
        .expect("the content answers")
        .bytes()
        .await
        .expect("bytes");
    assert!(
        read.as_ref() == big.as_bytes(),
        "read back whole ({} bytes)",
        read.len()
    );
    world.fake.set(Scenario::text("A red dot."));
    let conversation = start(&world, &world.user, json!({"model": chat_model(Protocol::OpenAi)})).await;
    let (status, _) = send(&world, &conversation, json!({"content": "What is it?", "files": [id]})).await;
    assert_eq!(status, 201);
    let sent = world.fake.last_request().expect("a request").body;
    assert!(
        sent["messages"][0]["content"][1]["image_url"]["url"]
            .as_str()
            .is_some_and(|url| url.starts_with("data:image/png;base64,")),
        "{sent}"
    );
    let (status, _) = world
        .app
        .call(Method::DELETE, &format!("/api/v1/files/{id}"), &world.user, None)
        .await;
    assert_eq!(status, 204);
    assert!(!keys(&moto).await.contains(&key), "the object is gone from the bucket");
}
