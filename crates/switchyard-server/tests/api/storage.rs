//! The persistence layer against the same database as the server, so every backend proves the
//! conventions: exact Unicode, microsecond timestamps, upserts, migrations that roll back.

use chrono::{TimeZone, Timelike, Utc};
use switchyard_domain::{SettingKey, SettingsRepo};
use switchyard_persistence::{Database, DatabaseOptions, MigrateCommand, SqlSettingsRepo};

use crate::helpers::spawn_app;

async fn open(url: &str) -> Database {
    Database::connect(&DatabaseOptions::new(url)).await.expect("connect")
}

#[tokio::test]
async fn settings_keep_unicode_and_microseconds_and_upsert() {
    let app = spawn_app().await;
    let db = open(&app.db.url).await;
    let repo = SqlSettingsRepo::new(db.connection().clone());
    let key = SettingKey::parse("test.greeting").expect("a key");
    let at = Utc
        .with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
        .single()
        .and_then(|t| t.with_nanosecond(123_456_000))
        .expect("an instant");

    assert_eq!(repo.get(&key).await.expect("get"), None);
    let value = "你好, 世界 👋🏽 ".repeat(100);
    let stored = repo.put(&key, &value, at).await.expect("put");
    assert_eq!(stored.value, value);
    assert_eq!(stored.updated_at, at);

    let later = at + chrono::Duration::microseconds(1);
    let replaced = repo.put(&key, "Ä", later).await.expect("second put");
    assert_eq!((replaced.value.as_str(), replaced.updated_at), ("Ä", later));
    assert_eq!(
        repo.get(&key).await.expect("get").map(|s| s.value),
        Some("Ä".to_owned())
    );
    db.close().await;
}

#[tokio::test]
async fn migrations_roll_back_and_apply_again() {
    let app = spawn_app().await;
    let db = open(&app.db.url).await;
    let status = db.run_migration_command(&MigrateCommand::Status).await.expect("status");
    assert!(status.contains("0 pending"), "{status}");

    db.run_migration_command(&MigrateCommand::Down { steps: 1 })
        .await
        .expect("down");
    let status = db.run_migration_command(&MigrateCommand::Status).await.expect("status");
    assert!(status.contains("1 pending"), "{status}");
    assert_eq!(db.migrate_up().await.expect("up"), 1);

    let repo = SqlSettingsRepo::new(db.connection().clone());
    let key = SettingKey::parse("after.reapply").expect("a key");
    repo.put(&key, "ok", Utc::now()).await.expect("the table is back");
    db.close().await;
}
