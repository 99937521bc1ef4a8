//! Persistence for outmail settings on SQLite (default) or PostgreSQL, with sealed secrets.
//!
//! The store knows nothing of the domain model: it keeps documents as JSON text next to the few
//! columns it indexes or constrains, and the server maps its types to these records.
//!
//! Each backend has its own typed pool rather than one `AnyPool`: both keep their native types
//! (`BYTEA`, `BIGINT`), their own error codes, and PostgreSQL can later use what SQLite lacks
//! (`FOR UPDATE SKIP LOCKED` for the outbox) without a lowest-common-denominator driver.
//! Most SQL is written once: sqlx accepts `$n` placeholders on SQLite too, and the
//! `with_pool!`/`in_write_tx!` macros compile one body per backend.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use tokio::sync::RwLock;

mod access;
mod error;
mod failover;
mod global;
mod outbox;
mod profiles;
mod records;
mod routing;
pub mod seal;
mod tenants;
mod transfer;

pub use access::{AdminRow, ApiTokenRow, AuditRow, AuditWrite, SessionRow};
pub use error::StoreError;
pub use failover::{FailoverEvent, FailoverRow};
pub use outbox::{
    AttemptOutcome, Enqueued, FAILED, MessageQuery, MessageRow, NewMessage, QUEUED, SENT,
    SUPPRESSED,
};
pub use outmail_clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use profiles::{SettingsDocuments, StoredDocument};
pub use records::{
    GlobalRow, MAX_PER_PAGE, ProfileQuery, ProfileRow, ProfileWrite, Rotation, RoutingRuleRow,
    RoutingRuleWrite, RowPage, SecretChange, SecretWrite, StoredSecret, TenantRow, TenantWrite,
};
pub use seal::{Keyring, SealError};
/// Re-exported so callers name the same secret type the store hands out.
pub use secrecy::ExposeSecret;
/// A secret in the clear, as the store takes it to seal and gives it back opened; wiped from
/// memory when dropped. (The API's redacting type is `outmail_types::SecretString`; the two meet
/// only where a secret is sealed or opened.)
pub use secrecy::SecretString as Plaintext;
pub use transfer::ImportBatch;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// How [`Store::connect`] opens the database.
#[derive(Debug)]
pub struct StoreOptions {
    keyring: Keyring,
    clock: SharedClock,
    max_connections: u32,
    busy_timeout: Duration,
    acquire_timeout: Duration,
}

impl StoreOptions {
    pub fn new(keyring: Keyring) -> Self {
        Self {
            keyring,
            clock: Arc::new(SystemClock),
            max_connections: 8,
            busy_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(30),
        }
    }

    /// Where every timestamp the store writes comes from (the system clock by default).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long a SQLite writer waits for the write lock before failing.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How long an operation waits for a free pool connection before failing.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }
}

pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub(crate) struct Inner {
    pub(crate) backend: Backend,
    /// Writers that seal hold a read guard for their whole transaction and `rotate_key` holds
    /// the write guard, so no secret is sealed with the outgoing key while a rotation re-seals.
    pub(crate) keys: RwLock<Keyring>,
    pub(crate) clock: SharedClock,
    /// Messages accepted together share one commit (see `Store::enqueue_message`).
    pub(crate) group_commit: outbox::GroupCommit,
}

/// The settings store; cheap to clone (one shared pool).
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

/// Runs `$body` with `$pool` bound to the store's typed pool; the body is compiled once per
/// backend, so one literal SQL string serves both when the dialects agree.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.inner.backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Runs `$body` in one write transaction bound to `$tx` and commits it when the body yields its
/// value; an early `?` return drops the transaction, which rolls it back.
macro_rules! in_write_tx {
    ($store:expr, $tx:ident => $body:expr) => {
        match &$store.inner.backend {
            $crate::Backend::Sqlite(pool) => {
                // IMMEDIATE takes SQLite's write lock up front: a deferred transaction that reads
                // before it writes fails with SQLITE_BUSY instead of waiting when another
                // connection wrote in between.
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let value = $body;
                $tx.commit().await?;
                value
            }
            $crate::Backend::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let value = $body;
                $tx.commit().await?;
                value
            }
        }
    };
}
pub(crate) use in_write_tx;

/// The key of the PostgreSQL transaction-level advisory lock every settings write takes (the
/// ASCII of "outmail"). SQLite needs none: `BEGIN IMMEDIATE` already makes its writers serial.
pub(crate) const SETTINGS_LOCK: i64 = 0x006f_7574_6d61_696c;

/// [`in_write_tx!`] for a write to the settings (global, tenants, routing rules, profiles),
/// which name profiles inside their documents: on PostgreSQL it first takes the settings lock,
/// so that checking a profile's references and deleting it cannot interleave with a write that
/// adds a reference (and so leave it dangling). Outbox writes do not take it.
macro_rules! in_settings_tx {
    ($store:expr, $tx:ident => $body:expr) => {
        $crate::in_write_tx!($store, $tx => {
            if $store.backend_name() == "postgres" {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind($crate::SETTINGS_LOCK)
                    .execute(&mut *$tx)
                    .await?;
            }
            $body
        })
    };
}
pub(crate) use in_settings_tx;

/// Inside an [`in_settings_tx!`]: returns `MissingReference` from the enclosing function
/// unless every profile ID in `$ids` exists (the settings lock keeps it so until the commit).
macro_rules! ensure_profiles_exist {
    ($tx:ident, $ids:expr) => {
        for id in $ids {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT version FROM profiles WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *$tx)
                    .await?;
            if found.is_none() {
                return Err($crate::StoreError::MissingReference {
                    referenced: "profile",
                });
            }
        }
    };
}
pub(crate) use ensure_profiles_exist;

impl Store {
    /// Opens `sqlite://path?mode=rwc` or `postgres://…` and brings its schema up to date.
    pub async fn connect(database_url: &str, options: StoreOptions) -> Result<Store, StoreError> {
        let scheme = database_url.split(':').next().unwrap_or_default();
        let backend = match scheme {
            "sqlite" => {
                let connect = database_url
                    .parse::<SqliteConnectOptions>()?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a committed settings change survives power loss, not just a crash.
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(options.busy_timeout);
                let pool = SqlitePoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await?;
                SQLITE_MIGRATOR.run(&pool).await?;
                Backend::Sqlite(pool)
            }
            "postgres" | "postgresql" => {
                let connect = database_url.parse::<PgConnectOptions>()?;
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await?;
                POSTGRES_MIGRATOR.run(&pool).await?;
                Backend::Postgres(pool)
            }
            // Only the scheme: the rest of a URL may hold a password.
            other => {
                return Err(StoreError::UnsupportedUrl {
                    scheme: other.chars().take(32).collect(),
                });
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                backend,
                keys: RwLock::new(options.keyring),
                clock: options.clock,
                group_commit: Default::default(),
            }),
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.inner.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// The key version new secrets are sealed with.
    pub async fn active_key_version(&self) -> u32 {
        self.inner.keys.read().await.active_version()
    }

    /// The clock the store writes its timestamps with.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// Now by the store's clock, in unix milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// A fresh random record id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The error for a versioned write that matched no row: the row is gone, or has moved on.
pub(crate) fn missing_or_stale(current: Option<i64>) -> StoreError {
    match current {
        Some(current) => StoreError::VersionMismatch { current },
        None => StoreError::NotFound,
    }
}
