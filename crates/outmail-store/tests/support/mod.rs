//! Test harness: a fresh store per test on SQLite (a file in a temp dir) or PostgreSQL (a new
//! database on the server named by `OUTMAIL_TEST_POSTGRES_URL`), plus raw SQL access for checks
//! the public API deliberately cannot make.

// Shared by several test crates, each of which uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;

use outmail_store::{Keyring, Store, StoreOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tempfile::TempDir;

pub const POSTGRES_URL_ENV: &str = "OUTMAIL_TEST_POSTGRES_URL";
pub const SKIP_POSTGRES_ENV: &str = "OUTMAIL_SKIP_POSTGRES";

/// Generates one `#[tokio::test]` per backend for each named `async fn(&Harness)`, in modules
/// `sqlite` and `postgres`, so each half shows up (and fails) on its own.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let harness = $crate::support::Harness::sqlite().await;
                    super::$test(&harness).await;
                    harness.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(harness) = $crate::support::Harness::postgres().await else {
                        return;
                    };
                    super::$test(&harness).await;
                    harness.finish().await;
                }
            )*
        }
    };
}

/// A PostgreSQL database made for one test, dropped when it passes.
struct PgDatabase {
    admin_url: String,
    name: String,
}

pub struct Harness {
    pub store: Store,
    pub url: String,
    pub key_path: PathBuf,
    pg: Option<PgDatabase>,
    _dir: TempDir,
}

impl Harness {
    pub async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("outmail.db").display()
        );
        Self::open(dir, url, None).await
    }

    /// `None` only when the PostgreSQL half is skipped on purpose with `OUTMAIL_SKIP_POSTGRES=1`;
    /// without a server URL otherwise, the test fails.
    pub async fn postgres() -> Option<Harness> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_ENV) else {
            if std::env::var(SKIP_POSTGRES_ENV).as_deref() == Ok("1") {
                eprintln!("PostgreSQL half skipped: {SKIP_POSTGRES_ENV}=1");
                return None;
            }
            panic!(
                "{POSTGRES_URL_ENV} is not set, so the PostgreSQL half cannot run. Run \
                 `bash scripts/with-postgres.sh cargo test -p outmail-store`, or set \
                 {SKIP_POSTGRES_ENV}=1 to skip it knowingly."
            );
        };
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the PostgreSQL admin URL");
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        admin.close().await.expect("close the admin connection");
        let url = with_database(&admin_url, &name);
        let dir = tempfile::tempdir().expect("a temp dir");
        Some(Self::open(dir, url, Some(PgDatabase { admin_url, name })).await)
    }

    async fn open(dir: TempDir, url: String, pg: Option<PgDatabase>) -> Harness {
        let key_path = dir.path().join("secret.key");
        let store = connect(&url, &key_path).await;
        Harness {
            store,
            url,
            key_path,
            pg,
            _dir: dir,
        }
    }

    /// A second store on the same database and key file, as after a restart.
    pub async fn reopen(&self) -> Store {
        connect(&self.url, &self.key_path).await
    }

    /// Runs one statement with text binds outside the store; returns the rows affected.
    pub async fn execute(&self, sql: &'static str, binds: &[&str]) -> u64 {
        if self.pg.is_some() {
            let pool = sqlx::PgPool::connect(&self.url).await.expect("raw connect");
            let mut query = sqlx::query(sql);
            for bind in binds {
                query = query.bind(*bind);
            }
            let done = query.execute(&pool).await.expect("raw execute");
            pool.close().await;
            done.rows_affected()
        } else {
            let pool = sqlx::SqlitePool::connect(&self.url)
                .await
                .expect("raw connect");
            let mut query = sqlx::query(sql);
            for bind in binds {
                query = query.bind(*bind);
            }
            let done = query.execute(&pool).await.expect("raw execute");
            pool.close().await;
            done.rows_affected()
        }
    }

    /// Runs a query returning one integer, with text binds, outside the store.
    pub async fn scalar(&self, sql: &'static str, binds: &[&str]) -> i64 {
        if self.pg.is_some() {
            let pool = sqlx::PgPool::connect(&self.url).await.expect("raw connect");
            let mut query = sqlx::query_scalar(sql);
            for bind in binds {
                query = query.bind(*bind);
            }
            let value = query.fetch_one(&pool).await.expect("raw scalar");
            pool.close().await;
            value
        } else {
            let pool = sqlx::SqlitePool::connect(&self.url)
                .await
                .expect("raw connect");
            let mut query = sqlx::query_scalar(sql);
            for bind in binds {
                query = query.bind(*bind);
            }
            let value = query.fetch_one(&pool).await.expect("raw scalar");
            pool.close().await;
            value
        }
    }

    /// The stored blob of one secret, read outside the store.
    pub async fn sealed_blob(&self, profile_id: &str, slot: &str) -> Vec<u8> {
        const SQL: &str = "SELECT sealed FROM profile_secrets WHERE profile_id = $1 AND slot = $2";
        if self.pg.is_some() {
            let pool = sqlx::PgPool::connect(&self.url).await.expect("raw connect");
            let blob = sqlx::query_scalar(SQL)
                .bind(profile_id)
                .bind(slot)
                .fetch_one(&pool)
                .await
                .expect("a stored secret");
            pool.close().await;
            blob
        } else {
            let pool = sqlx::SqlitePool::connect(&self.url)
                .await
                .expect("raw connect");
            let blob = sqlx::query_scalar(SQL)
                .bind(profile_id)
                .bind(slot)
                .fetch_one(&pool)
                .await
                .expect("a stored secret");
            pool.close().await;
            blob
        }
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some(pg) = self.pg {
            let mut admin = PgConnection::connect(&pg.admin_url)
                .await
                .expect("connect to the PostgreSQL admin URL");
            sqlx::query(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                pg.name
            )))
            .execute(&mut admin)
            .await
            .expect("drop the test database");
            admin.close().await.expect("close the admin connection");
        }
    }
}

async fn connect(url: &str, key_path: &std::path::Path) -> Store {
    let keyring = Keyring::open_or_create_file(key_path).expect("a key file");
    Store::connect(url, StoreOptions::new(keyring))
        .await
        .expect("connect the store")
}

/// `admin_url` with its database name replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, params) = match admin_url.split_once('?') {
        Some((base, params)) => (base, Some(params)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(params) = params {
        url.push('?');
        url.push_str(params);
    }
    url
}
