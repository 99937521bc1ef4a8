//! The store's one error enum and the mapping from database errors into it.

use crate::seal::SealError;

/// Everything a store operation can fail with. Variants a caller acts on come first; the last
/// ones are faults to log and report as a 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such record")]
    NotFound,
    #[error("the record was changed meanwhile; its current version is {current}")]
    VersionMismatch { current: i64 },
    #[error("another record already uses this {field}")]
    Conflict { field: &'static str },
    #[error("the record refers to a {referenced} that does not exist")]
    MissingReference { referenced: &'static str },
    /// A profile other settings still name (each listed, in words): deleting it would leave
    /// them pointing nowhere.
    #[error("still used by {}", users.join(", "))]
    InUse { users: Vec<String> },
    /// A `SecretChange::Keep` for a secret that was entered for another destination: the
    /// contract is that a secret is reused only while its destination is unchanged.
    #[error("the stored {slot} was entered for another destination and must be entered again")]
    SecretDestinationChanged { slot: String },
    #[error("unsupported database URL scheme `{scheme}`: use sqlite:// or postgres://")]
    UnsupportedUrl { scheme: String },
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The transaction that held this write did not commit (the database refused it or went
    /// away): nothing of it was stored.
    #[error("the write was not committed: {0}")]
    NotCommitted(String),
    /// A stored document that its reader could not make sense of.
    #[error("a stored document cannot be read: {0}")]
    Unreadable(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if matches!(error, sqlx::Error::RowNotFound) {
            return StoreError::NotFound;
        }
        StoreError::Database(error)
    }
}

/// Maps a unique or foreign-key violation (SQLite and PostgreSQL report both through sqlx's
/// `ErrorKind`) to the variant the caller can explain; anything else stays a database error.
pub(crate) fn constraint(
    unique_field: &'static str,
    referenced: &'static str,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| {
        if let sqlx::Error::Database(db) = &error {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    return StoreError::Conflict {
                        field: unique_field,
                    };
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return StoreError::MissingReference { referenced };
                }
                _ => {}
            }
        }
        StoreError::from(error)
    }
}
