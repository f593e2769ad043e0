//! Uploads, black-box: stored and read back, the kind taken from the bytes (a name that lies
//! is 415), an oversized upload refused before it is read whole (413), names that try paths
//! or control characters kept harmless, quotas, the owner only, files in messages reaching each
//! protocol in its form, and a permanent delete releasing the files only it held.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchyard_testkit::{Protocol, Scenario};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{send, start};
use crate::gateway::{World, chat_model, world, world_with};
use crate::helpers::Session;

/// A 1×1 red PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xfc, 0xcf, 0xc0, 0x50, 0x0f, 0x00, 0x04, 0x85, 0x01, 0x80, 0x84, 0xa9, 0x8c,
    0x21, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

const BOUNDARY: &str = "switchyard-test-boundary";

/// A `multipart/form-data` body with one part.
pub fn form(part: &str, file_name: &str, bytes: &[u8]) -> Vec<u8> {
    form_with(part, &format!("filename=\"{file_name}\""), bytes)
}

/// A `multipart/form-data` body with one part whose disposition names the file as `naming` says.
fn form_with(part: &str, naming: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{part}\"; {naming}\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub async fn upload_as(world: &World, user: &Session, file_name: &str, bytes: &[u8]) -> (u16, Value) {
    post_form(world, user, form("file", file_name, bytes)).await
}

async fn post_form(world: &World, user: &Session, body: Vec<u8>) -> (u16, Value) {
    let response = world
        .app
        .client
        .post(world.app.url("/api/v1/files"))
        .bearer_auth(&user.access)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn upload(world: &World, file_name: &str, bytes: &[u8]) -> (u16, Value) {
    upload_as(world, &world.user, file_name, bytes).await
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test]
async fn an_upload_is_stored_listed_read_back_and_deleted() {
    let world = world().await;
    let (status, file) = upload(&world, "red dot.png", PNG).await;
    assert_eq!(status, 201, "{file}");
    assert_eq!(file["name"], "red dot.png");
    assert_eq!(file["media_type"], "image/png");
    assert_eq!(file["size"], PNG.len());
    assert_eq!(file["sha256"], hex_sha256(PNG));
    let id = file["id"].as_str().expect("an id");
    let (status, page) = world.app.call(Method::GET, "/api/v1/files", &world.user, None).await;
    assert_eq!(status, 200);
    assert_eq!(page["data"][0]["id"], id);
    let response = world
        .app
        .client
        .get(world.app.url(&format!("/api/v1/files/{id}/content")))
        .bearer_auth(&world.user.access)
        .send()
        .await
        .expect("the content answers");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .is_ok_and(|value| value.starts_with("attachment")),
    );
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), PNG);
    let path = format!("/api/v1/files/{id}");
    let (status, _) = world.app.call(Method::DELETE, &path, &world.user, None).await;
    assert_eq!(status, 204);
    let (status, _) = world.app.call(Method::GET, &path, &world.user, None).await;
    assert_eq!(status, 404);
    let (status, _) = world
        .app
        .call(Method::GET, &format!("{path}/content"), &world.user, None)
        .await;
    assert_eq!(status, 404);
    let stored = world.app.settings.data_dir.join("files/users");
    let left: Vec<_> = walk(&stored);
    assert!(left.is_empty(), "no bytes left behind: {left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn bytes_that_are_not_what_the_name_claims_are_refused_with_415() {
    let world = world().await;
    let exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00";
    for (name, bytes) in [
        ("cat.png", b"just some text".as_slice()),
        ("notes.txt", PNG),
        ("photo.jpg", PNG),
        ("tool.exe", exe.as_slice()),
        ("tool", exe.as_slice()),
        ("page.html", b"<html><script>alert(1)</script></html>".as_slice()),
    ] {
        let (status, error) = upload(&world, name, bytes).await;
        assert_eq!(status, 415, "{name}: {error}");
        assert_eq!(error["error"]["code"], "unsupported_media_type", "{name}");
    }
    let response = world
        .app
        .client
        .post(world.app.url("/api/v1/files"))
        .bearer_auth(&world.user.access)
        .json(&json!({"file": "not a form"}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 415);
    let (status, error) = world.app.call(Method::GET, "/api/v1/files", &world.user, None).await;
    assert_eq!((status, error["data"].clone()), (200, json!([])), "nothing was stored");
    let (status, file) = upload(&world, "notes.md", "# Notes\n\nplain *text* é".as_bytes()).await;
    assert_eq!(
        (status, file["media_type"].clone()),
        (201, json!("text/markdown")),
        "{file}"
    );
}

/// Writes `head` and then `chunks` of a chunked body without ending it, and returns the status
/// line the server answered with (before the body was over, or it would never answer).
async fn answer_to_an_endless_upload(world: &World, chunks: usize) -> String {
    let address = world.app.address.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let head = format!(
        "POST /api/v1/files HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n",
        world.user.access
    );
    socket.write_all(head.as_bytes()).await.expect("write the head");
    let mut first = form("file", "big.png", PNG);
    first.truncate(first.len() - BOUNDARY.len() - 8);
    let piece = vec![0u8; 16 * 1024];
    let mut written = 0;
    let write = |bytes: &[u8]| {
        let mut chunk = format!("{:x}\r\n", bytes.len()).into_bytes();
        chunk.extend_from_slice(bytes);
        chunk.extend_from_slice(b"\r\n");
        chunk
    };
    socket.write_all(&write(&first)).await.expect("write the form's start");
    let mut answer = vec![0u8; 4096];
    for _ in 0..chunks {
        if socket.write_all(&write(&piece)).await.is_err() {
            break;
        }
        written += piece.len();
        // Stop writing as soon as an answer is there.
        if let Ok(Ok(read)) = tokio::time::timeout(Duration::from_millis(5), socket.read(&mut answer)).await
            && read > 0
        {
            return String::from_utf8_lossy(&answer[..read])
                .lines()
                .next()
                .unwrap_or("")
                .to_owned();
        }
    }
    let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut answer))
        .await
        .unwrap_or_else(|_| panic!("no answer after {written} bytes of an unfinished body"))
        .expect("read");
    String::from_utf8_lossy(&answer[..read])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn an_oversized_upload_is_refused_with_413_without_being_read_whole() {
    let world = world_with(|settings| settings.files.max_file_bytes = 64 * 1024).await;
    // Its body never ends: the answer can only come from the limit.
    let status = answer_to_an_endless_upload(&world, 64).await;
    assert!(status.contains(" 413 "), "{status}");
    let response = world
        .app
        .client
        .post(world.app.url("/api/v1/files"))
        .bearer_auth(&world.user.access)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("content-length", "10000000000")
        .body(form("file", "big.png", PNG))
        .send()
        .await;
    // The declared length alone is enough (the server may close before the body is sent).
    if let Ok(response) = response {
        assert_eq!(response.status().as_u16(), 413);
    }
    let (status, page) = world.app.call(Method::GET, "/api/v1/files", &world.user, None).await;
    assert_eq!((status, page["data"].clone()), (200, json!([])));
    assert!(
        walk(&world.app.settings.data_dir.join("files/users")).is_empty(),
        "nothing half-written is left"
    );
    let (status, _) = upload(&world, "small.png", PNG).await;
    assert_eq!(status, 201, "a file within the limit still goes");
}

#[tokio::test]
async fn names_with_paths_and_control_characters_are_harmless() {
    let world = world().await;
    let root = world.app.settings.data_dir.clone();
    for (naming, shown) in [
        ("filename=\"../../../../etc/passwd.png\"", "passwd.png"),
        // In a quoted header value a backslash escapes the next character.
        ("filename=\"..\\..\\windows\\evil.png\"", "windowsevil.png"),
        (
            "filename*=UTF-8''..%2F..%5Cbell%07tab%09nul%00cr%0D%0Alf.png",
            "belltabnulcrlf.png",
        ),
        ("filename=\"/absolute/path.png\"", "path.png"),
        ("filename=\"....png\"", "png"),
    ] {
        let name = naming;
        let (status, file) = post_form(&world, &world.user, form_with("file", naming, PNG)).await;
        assert_eq!(status, 201, "{name:?}: {file}");
        assert_eq!(file["name"], shown, "{name:?}");
        let id = file["id"].as_str().expect("an id");
        let response = world
            .app
            .client
            .get(world.app.url(&format!("/api/v1/files/{id}/content")))
            .bearer_auth(&world.user.access)
            .send()
            .await
            .expect("the content answers");
        let disposition = response.headers()["content-disposition"].to_str().expect("ascii");
        assert!(!disposition.contains(['\r', '\n', '/', '\\']), "{disposition}");
    }
    let stored = walk(&root.join("files"));
    assert_eq!(stored.len(), 5, "{stored:?}");
    for path in &stored {
        let relative = path
            .strip_prefix(root.join("files"))
            .expect("under the files directory");
        let parts: Vec<_> = relative
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        assert_eq!(parts[0], "users");
        assert_eq!(parts[1], world.user.user_id);
        assert!(
            uuid::Uuid::parse_str(&parts[2]).is_ok(),
            "a generated key: {relative:?}"
        );
    }
    assert!(!root.join("etc").exists() && !root.parent().expect("a parent").join("etc/passwd.png").exists());
    // A raw control character in the part's headers is not HTTP: the form is refused, nothing kept.
    let (status, error) = post_form(&world, &world.user, form("file", "bell\u{7}.png", PNG)).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(walk(&root.join("files")).len(), 5);
}

#[tokio::test]
async fn uploads_past_a_users_quota_are_refused() {
    let world = world_with(|settings| settings.files.max_files_per_user = 1).await;
    let (status, _) = upload(&world, "one.png", PNG).await;
    assert_eq!(status, 201);
    let (status, error) = upload(&world, "two.png", PNG).await;
    assert_eq!(status, 409, "{error}");
    assert_eq!(error["error"]["code"], "file_quota_exceeded");
    let bob = world.app.create_user("bob").await;
    let (status, _) = upload_as(&world, &bob, "bobs.png", PNG).await;
    assert_eq!(status, 201, "the quota is per user");
}

#[tokio::test]
async fn another_user_finds_none_of_a_users_files_on_any_route() {
    let world = world().await;
    let (_, file) = upload(&world, "mine.png", PNG).await;
    let id = file["id"].as_str().expect("an id");
    let bob = world.app.create_user("bob").await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/files/{id}")),
        (Method::GET, format!("/api/v1/files/{id}/content")),
        (Method::DELETE, format!("/api/v1/files/{id}")),
    ] {
        let (status, error) = world.app.call(method.clone(), &path, &bob, None).await;
        assert_eq!(status, 404, "{method} {path}: {error}");
    }
    let (_, page) = world.app.call(Method::GET, "/api/v1/files", &bob, None).await;
    assert_eq!(page["data"], json!([]));
    world.fake.set(Scenario::text("I see nothing."));
    let conversation = start(&world, &bob, json!({"model": chat_model(Protocol::OpenAi)})).await;
    let (status, error) = world
        .app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            &bob,
            Some(json!({"content": "What is this?", "files": [id]})),
        )
        .await;
    assert_eq!(status, 404, "{error}");
    assert!(world.fake.requests().is_empty(), "nothing reached a supplier");
    let (status, _) = world
        .app
        .call(Method::GET, &format!("/api/v1/files/{id}"), &world.user, None)
        .await;
    assert_eq!(status, 200, "the owner still has it");
}

#[tokio::test]
async fn an_uploaded_png_in_a_message_reaches_each_protocol_as_its_image_part() {
    let world = world().await;
    let (_, file) = upload(&world, "dot.png", PNG).await;
    let id = file["id"].as_str().expect("an id").to_owned();
    let base64 = base64_of(PNG);
    world.fake.set(Scenario::text("A red dot."));
    for protocol in Protocol::ALL.iter().copied() {
        world.fake.clear();
        let conversation = start(&world, &world.user, json!({"model": chat_model(protocol)})).await;
        let (status, exchange) = send(
            &world,
            &conversation,
            json!({"content": "What is this?", "files": [id]}),
        )
        .await;
        if protocol == Protocol::Replicate {
            assert_eq!(status, 400, "Replicate's Llama takes no images: {exchange}");
            continue;
        }
        assert_eq!(status, 201, "{protocol:?}: {exchange}");
        assert_eq!(exchange["question"]["parts"][1]["type"], "file");
        assert_eq!(exchange["question"]["parts"][1]["file_id"], id.as_str());
        let sent = world.fake.last_request().expect("a request").body;
        match protocol {
            Protocol::OpenAi | Protocol::AzureOpenAi => assert_eq!(
                sent["messages"][0]["content"][1]["image_url"]["url"],
                format!("data:image/png;base64,{base64}")
            ),
            Protocol::Anthropic => assert_eq!(
                sent["messages"][0]["content"][1]["source"],
                json!({"type": "base64", "media_type": "image/png", "data": base64})
            ),
            Protocol::Gemini => assert_eq!(
                sent["contents"][0]["parts"][1],
                json!({"inlineData": {"mimeType": "image/png", "data": base64}})
            ),
            Protocol::Replicate => unreachable!(),
        }
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn a_text_document_is_inlined_and_a_purge_releases_only_the_files_no_one_else_holds() {
    let world = world().await;
    world.fake.set(Scenario::text("Read it."));
    let (_, notes) = upload(&world, "notes.md", b"# Shopping\n\n- apples\n- pears\n").await;
    let (_, shared) = upload(&world, "dot.png", PNG).await;
    let notes = notes["id"].as_str().expect("an id").to_owned();
    let shared = shared["id"].as_str().expect("an id").to_owned();
    let first = start(&world, &world.user, json!({"model": chat_model(Protocol::OpenAi)})).await;
    let (status, _) = send(
        &world,
        &first,
        json!({"content": "Summarise.", "files": [notes, shared]}),
    )
    .await;
    assert_eq!(status, 201);
    let sent = world.fake.last_request().expect("a request").body;
    let parts = &sent["messages"][0]["content"];
    assert!(
        parts[1]["text"]
            .as_str()
            .is_some_and(|text| text.contains("notes.md") && text.contains("- pears")),
        "{sent}"
    );
    let second = start(&world, &world.user, json!({"model": chat_model(Protocol::OpenAi)})).await;
    let (status, _) = send(&world, &second, json!({"content": "And this?", "files": [shared]})).await;
    assert_eq!(status, 201);
    let (status, _) = world
        .app
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{first}?permanent=true"),
            &world.user,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let exists = |id: String| {
        let world = &world;
        async move {
            world
                .app
                .call(Method::GET, &format!("/api/v1/files/{id}"), &world.user, None)
                .await
                .0
        }
    };
    assert_eq!(exists(notes.clone()).await, 404, "only the purged conversation held it");
    assert_eq!(exists(shared.clone()).await, 200, "another conversation still holds it");
    assert_eq!(walk(&world.app.settings.data_dir.join("files/users")).len(), 1);
    // A deleted file leaves a note in the messages that held it.
    let (status, _) = world
        .app
        .call(Method::DELETE, &format!("/api/v1/files/{shared}"), &world.user, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = send(&world, &second, json!({"content": "Still there?"})).await;
    assert_eq!(status, 201);
    let sent = world.fake.last_request().expect("a request").body;
    assert!(sent.to_string().contains("has been deleted"), "{sent}");
}

#[tokio::test]
async fn a_form_with_a_part_after_the_file_is_refused_and_keeps_nothing() {
    let world = world().await;
    let mut body = form("file", "dot.png", PNG);
    body.truncate(body.len() - BOUNDARY.len() - 6);
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nvision\r\n--{BOUNDARY}--\r\n")
            .as_bytes(),
    );
    let (status, error) = post_form(&world, &world.user, body).await;
    assert_eq!(status, 400, "{error}");
    let (_, page) = world.app.call(Method::GET, "/api/v1/files", &world.user, None).await;
    assert_eq!(
        page["data"],
        json!([]),
        "the file stored before the extra part is removed"
    );
    assert!(walk(&world.app.settings.data_dir.join("files/users")).is_empty());
}
