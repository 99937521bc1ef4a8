//! What only SQLite has: the database file, its journal mode and durability settings.

use outmail_store::{Keyring, Store, StoreOptions};
use sqlx::Connection;

#[tokio::test]
async fn a_sqlite_store_creates_its_file_in_wal_mode_with_foreign_keys() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db_path = dir.path().join("outmail.db");
    let url = format!("sqlite://{}?mode=rwc", db_path.display());
    let keyring = Keyring::open_or_create_file(&dir.path().join("secret.key")).expect("keys");
    let store = Store::connect(&url, StoreOptions::new(keyring))
        .await
        .expect("connect");
    assert!(db_path.exists(), "the database file was not created");
    assert_eq!(store.backend_name(), "sqlite");
    store.close().await;

    // WAL is recorded in the file itself, so a plain connection sees it.
    let mut raw = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("raw connect");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut raw)
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN \
         ('profiles', 'profile_secrets', 'global_settings', 'tenants', 'routing_rules')",
    )
    .fetch_one(&mut raw)
    .await
    .expect("tables");
    assert_eq!(tables, 5);
    raw.close().await.expect("close");
}

#[tokio::test]
async fn connecting_twice_to_the_same_database_migrates_once() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("outmail.db").display()
    );
    let key_path = dir.path().join("secret.key");
    for _ in 0..2 {
        let keyring = Keyring::open_or_create_file(&key_path).expect("keys");
        let store = Store::connect(&url, StoreOptions::new(keyring))
            .await
            .expect("connect");
        store.ping().await.expect("ping");
        store.close().await;
    }
}

#[tokio::test]
async fn an_unknown_url_scheme_is_refused_without_echoing_the_url() {
    // Base64 of 32 zero bytes.
    let keyring = Keyring::from_env_value(&format!("{}=", "A".repeat(43))).expect("a key");
    let error = Store::connect(
        "mysql://root:hunter2@db/outmail",
        StoreOptions::new(keyring),
    )
    .await
    .expect_err("mysql is not supported");
    let message = error.to_string();
    assert!(message.contains("`mysql`"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}
