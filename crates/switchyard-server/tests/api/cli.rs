//! The operator commands of the shipped binary, run as a user would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use switchyard_persistence::Backend;

use crate::helpers::{TEST_JWT_SECRET, TEST_MASTER_KEY, TestApp, spawn_app};

pub fn switchyard(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command
        .args(args)
        .env_clear()
        .env("SWITCHYARD__DATA_DIR", app.db.dir.path())
        .env("SWITCHYARD__DATABASE__URL", &app.db.url)
        .env("SWITCHYARD__AUTH__BCRYPT_COST", "4")
        .env("SWITCHYARD__AUTH__ALLOW_WEAK_BCRYPT", "true")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if app.backend() != Backend::Sqlite {
        command.env("SWITCHYARD__AUTH__JWT_SECRET", TEST_JWT_SECRET);
        command.env("SWITCHYARD__SECRETS__MASTER_KEY", TEST_MASTER_KEY);
    }
    let mut child = command.spawn().expect("run switchyard");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("switchyard's output")
}

#[tokio::test]
async fn admin_create_makes_an_admin_who_can_log_in_and_is_idempotent() {
    let app = spawn_app().await;

    let output = switchyard(
        &app,
        &["admin", "create", "--username", "boss", "--email", "boss@example.com"],
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let password = stdout
        .lines()
        .find_map(|line| line.strip_prefix("password (shown once, store it now): "))
        .expect("a generated password");
    assert!(password.len() >= 20);
    let session = app.login_ok("boss", password).await;
    let me = crate::helpers::json_body(app.get_authed("/api/v1/users/me", &session.access).await).await;
    assert_eq!(
        (me["role"].as_str(), me["email"].as_str()),
        (Some("admin"), Some("boss@example.com"))
    );

    let again = switchyard(&app, &["admin", "create", "--username", "BOSS"], None);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("exists; nothing changed"));
    app.login_ok("boss", password).await;

    let piped = switchyard(
        &app,
        &["admin", "create", "--username", "chief"],
        Some("a chosen passphrase\n"),
    );
    assert!(piped.status.success());
    assert!(
        !String::from_utf8_lossy(&piped.stdout).contains("password"),
        "a piped password is not echoed"
    );
    app.login_ok("chief", "a chosen passphrase").await;

    let weak = switchyard(&app, &["admin", "create", "--username", "weakling"], Some("123\n"));
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 8 characters"));
}

#[tokio::test]
async fn secrets_generate_prints_a_usable_secret() {
    let app = spawn_app().await;
    let output = switchyard(&app, &["secrets", "generate"], None);
    let secret = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(output.status.success());
    assert!(secret.len() >= 64, "{secret}");
    let again = switchyard(&app, &["secrets", "generate"], None);
    assert_ne!(String::from_utf8_lossy(&again.stdout).trim(), secret);
}
