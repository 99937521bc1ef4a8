//! The durable outbox: messages accepted in one transaction (with their send-frequency claims
//! and idempotency key), claimed by workers under a lease, and finished as sent, retried or
//! failed. The store keeps the message as an opaque document; the server decides what it means.

use crate::error::constraint;
use crate::{Backend, Store, StoreError, in_write_tx, new_id, with_pool};

/// Waiting for (another) attempt.
pub const QUEUED: &str = "queued";
pub const SENT: &str = "sent";
/// Refused for good, or out of attempts.
pub const FAILED: &str = "failed";
/// Every recipient was left out by the send frequency.
pub const SUPPRESSED: &str = "suppressed";

macro_rules! message_columns {
    () => {
        "id, tenant_id, profile_id, document, status, attempts, next_attempt_at, lease_owner, \
         lease_until, server_used, last_error, suppressed_recipients, idempotency_key, \
         created_at, updated_at, channel, source"
    };
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MessageRow {
    pub id: String,
    pub tenant_id: Option<String>,
    pub profile_id: String,
    pub document: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub server_used: Option<String>,
    pub last_error: Option<String>,
    /// A JSON array of the recipients the send frequency left out.
    pub suppressed_recipients: String,
    pub idempotency_key: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// `api` or `smtp`: the door it came in by.
    pub channel: String,
    /// A JSON object saying who sent it from where; `None` for rows from before it was kept.
    pub source: Option<String>,
}

/// A message to accept.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub tenant_id: Option<String>,
    pub profile_id: String,
    pub document: String,
    pub idempotency_key: Option<String>,
    /// Every recipient (To, Cc, Bcc), lowercased, for the send-frequency claims.
    pub recipients: Vec<String>,
    /// What makes two messages "the same alert" (a dedupe key, or template and subject).
    pub dedupe_key: String,
    /// The profile's send frequency; 0 turns suppression off.
    pub window_ms: i64,
    /// `api` or `smtp`.
    pub channel: String,
    /// A JSON object saying who sent it from where.
    pub source: Option<String>,
}

/// What accepting a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored; `suppressed` lists the recipients left out (all of them: status `suppressed`).
    New {
        row: MessageRow,
        suppressed: Vec<String>,
    },
    /// The idempotency key was used before: the earlier message, unchanged.
    Replayed(MessageRow),
}

/// A message waiting for the next group commit, and where its answer goes.
pub(crate) struct Pending {
    message: NewMessage,
    reply: tokio::sync::oneshot::Sender<Result<Enqueued, StoreError>>,
}

/// The messages waiting to be committed and the lock of the one commit running.
#[derive(Default)]
pub(crate) struct GroupCommit {
    waiting: std::sync::Mutex<Vec<Pending>>,
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl GroupCommit {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        // A panic elsewhere leaves a list of pending messages, still valid.
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Sent {
        server: String,
    },
    /// Try again at `at` (unix ms).
    Retry {
        at: i64,
        server: String,
        error: String,
    },
    Failed {
        server: String,
        error: String,
    },
}

/// Filters for the delivery log.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub status: Option<String>,
    pub tenant_id: Option<String>,
    /// Only messages that came in by this door (`api`, `smtp`).
    pub channel: Option<String>,
    /// Only messages created before this (unix ms), for paging back in time.
    pub before: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// Accepts a message: its send-frequency claims and the row in one transaction. A recipient
    /// whose claim for this profile and alert is still live is left out; with an idempotency key
    /// seen before, the earlier message comes back instead.
    ///
    /// Messages accepted at the same time share one commit (group commit): each caller queues
    /// its message; whoever finds no commit running takes everything queued and commits it in
    /// one transaction, one savepoint per message, so one message's failure (a racing
    /// idempotency key) is its own. The commit runs as a task of its own, so a caller that goes
    /// away (a client that hung up) cannot cut it short for the others. Every caller returns
    /// only once the transaction holding its message has committed: one disk sync for the whole
    /// group instead of one each, and nothing acknowledged that is not on disk.
    pub async fn enqueue_message(&self, message: &NewMessage) -> Result<Enqueued, StoreError> {
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        self.inner.group_commit.waiting().push(Pending {
            message: message.clone(),
            reply,
        });
        loop {
            tokio::select! {
                biased;
                result = &mut answer => {
                    return result.unwrap_or_else(|_| {
                        Err(StoreError::NotCommitted("the commit holding the message stopped".to_owned()))
                    });
                }
                writer = self.inner.group_commit.writer.clone().lock_owned() => {
                    let batch = std::mem::take(&mut *self.inner.group_commit.waiting());
                    if batch.is_empty() {
                        // Another commit took this message; its answer is on the way.
                        drop(writer);
                        continue;
                    }
                    let store = self.clone();
                    tokio::spawn(async move {
                        store.commit_batch(batch).await;
                        drop(writer);
                    });
                }
            }
        }
    }

    /// Commits `batch` in one transaction and answers each message.
    async fn commit_batch(&self, batch: Vec<Pending>) {
        let now = self.now_ms();
        let committed: Result<Vec<Result<Enqueued, StoreError>>, StoreError> = async {
            Ok(in_write_tx!(self, tx => {
                    let mut results = Vec::with_capacity(batch.len());
                    for pending in &batch {
                        let message = &pending.message;
                        let id = new_id();
                        let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
                        let result: Result<Enqueued, StoreError> = async {
                            Ok({
                let earlier = match &message.idempotency_key {
                    Some(key) => {
                        sqlx::query_as::<_, MessageRow>(concat!(
                            "SELECT ",
                            message_columns!(),
                            " FROM messages WHERE idempotency_key = $1"
                        ))
                        .bind(key)
                        .fetch_optional(&mut *savepoint)
                        .await?
                    }
                    None => None,
                };
                match earlier {
                    Some(row) => Enqueued::Replayed(row),
                    None => {
                        let mut suppressed = Vec::new();
                        if message.window_ms > 0 {
                            for recipient in &message.recipients {
                                // Takes the claim when there is none, or when the old one expired;
                                // a live claim makes the upsert a no-op (0 rows).
                                let taken = sqlx::query(
                                    "INSERT INTO send_claims \
                                     (profile_id, recipient, dedupe_key, message_id, expires_at) \
                                     VALUES ($1, $2, $3, $4, $5) \
                                     ON CONFLICT (profile_id, recipient, dedupe_key) DO UPDATE \
                                     SET message_id = excluded.message_id, \
                                         expires_at = excluded.expires_at \
                                     WHERE send_claims.expires_at <= $6",
                                )
                                .bind(&message.profile_id)
                                .bind(recipient)
                                .bind(&message.dedupe_key)
                                .bind(&id)
                                .bind(now + message.window_ms)
                                .bind(now)
                                .execute(&mut *savepoint)
                                .await?
                                .rows_affected();
                                if taken == 0 {
                                    suppressed.push(recipient.clone());
                                }
                            }
                        }
                        let status = if !message.recipients.is_empty()
                            && suppressed.len() == message.recipients.len()
                        {
                            SUPPRESSED
                        } else {
                            QUEUED
                        };
                        let suppressed_json =
                            serde_json::to_string(&suppressed).unwrap_or_else(|_| "[]".to_owned());
                        let row = sqlx::query_as::<_, MessageRow>(concat!(
                            "INSERT INTO messages (id, tenant_id, profile_id, document, status, \
                             next_attempt_at, suppressed_recipients, idempotency_key, created_at, \
                             updated_at, channel, source) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6, $6, $9, $10) RETURNING ",
                            message_columns!()
                        ))
                        .bind(&id)
                        .bind(&message.tenant_id)
                        .bind(&message.profile_id)
                        .bind(&message.document)
                        .bind(status)
                        .bind(now)
                        .bind(&suppressed_json)
                        .bind(&message.idempotency_key)
                        .bind(&message.channel)
                        .bind(&message.source)
                        .fetch_one(&mut *savepoint)
                        .await
                        .map_err(constraint("idempotency_key", "message"))?;
                        Enqueued::New { row, suppressed }
                    }
                }
            })
                        }
                        .await;
                        match result {
                            Ok(enqueued) => {
                                savepoint.commit().await?;
                                results.push(Ok(enqueued));
                            }
                            Err(error) => {
                                savepoint.rollback().await?;
                                results.push(Err(error));
                            }
                        }
                    }
                    results
                }))
        }
        .await;
        match committed {
            Ok(results) => {
                for (pending, result) in batch.into_iter().zip(results) {
                    let _ = pending.reply.send(result);
                }
            }
            Err(error) => {
                let why = error.to_string();
                for pending in batch {
                    let _ = pending
                        .reply
                        .send(Err(StoreError::NotCommitted(why.clone())));
                }
            }
        }
    }

    /// Leases up to `limit` due messages to `owner` until `now + lease_ms`: queued ones whose
    /// time has come and whose lease (if any) has run out, so a crashed worker's messages come
    /// back. PostgreSQL skips rows another worker is claiming (`FOR UPDATE SKIP LOCKED`); SQLite
    /// serialises writers, so its short immediate transaction is enough.
    pub async fn claim_due_messages(
        &self,
        owner: &str,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let now = self.now_ms();
        let rows = match &self.inner.backend {
            Backend::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let rows = sqlx::query_as::<_, MessageRow>(concat!(
                    "UPDATE messages SET lease_owner = $1, lease_until = $2 \
                     WHERE id IN (SELECT id FROM messages WHERE status = 'queued' \
                     AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3) \
                     ORDER BY next_attempt_at LIMIT $4) RETURNING ",
                    message_columns!()
                ))
                .bind(owner)
                .bind(now + lease_ms)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows
            }
            Backend::Postgres(pool) => {
                sqlx::query_as::<_, MessageRow>(concat!(
                    "UPDATE messages SET lease_owner = $1, lease_until = $2 \
                     WHERE id IN (SELECT id FROM messages WHERE status = 'queued' \
                     AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3) \
                     ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING ",
                    message_columns!()
                ))
                .bind(owner)
                .bind(now + lease_ms)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
        };
        Ok(rows)
    }

    /// Records an attempt's outcome, if `owner` still holds the lease; returns whether it did
    /// (a worker whose lease ran out must not overwrite the one that took over).
    pub async fn finish_attempt(
        &self,
        id: &str,
        owner: &str,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let (status, next, server, error) = match outcome {
            AttemptOutcome::Sent { server } => (SENT, now, server, None),
            AttemptOutcome::Retry { at, server, error } => (QUEUED, *at, server, Some(error)),
            AttemptOutcome::Failed { server, error } => (FAILED, now, server, Some(error)),
        };
        let updated = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE messages SET status = $3, attempts = attempts + 1, next_attempt_at = $4, \
                 server_used = $5, last_error = $6, lease_owner = NULL, lease_until = NULL, \
                 updated_at = $7 WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .bind(status)
            .bind(next)
            .bind(server)
            .bind(error)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Gives back the leases `owner` holds on messages `ids` without counting an attempt: a
    /// draining worker returns what it claimed but did not start, so another worker (or the
    /// next start) takes them at once instead of when the lease runs out. Returns how many were
    /// given back.
    pub async fn release_leases(&self, owner: &str, ids: &[String]) -> Result<u64, StoreError> {
        let mut released = 0;
        for id in ids {
            released += with_pool!(self, pool => {
                sqlx::query(
                    "UPDATE messages SET lease_owner = NULL, lease_until = NULL \
                     WHERE id = $1 AND lease_owner = $2 AND status = 'queued'",
                )
                .bind(id)
                .bind(owner)
                .execute(pool)
                .await?
                .rows_affected()
            });
        }
        Ok(released)
    }

    pub async fn get_message(&self, id: &str) -> Result<MessageRow, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_as::<_, MessageRow>(concat!(
                "SELECT ",
                message_columns!(),
                " FROM messages WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound)
        })
    }

    /// The delivery log, newest first.
    pub async fn list_messages(&self, query: &MessageQuery) -> Result<Vec<MessageRow>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, MessageRow>(concat!(
                "SELECT ",
                message_columns!(),
                " FROM messages WHERE ($1 IS NULL OR status = $1) \
                 AND ($2 IS NULL OR tenant_id = $2) AND ($3 IS NULL OR created_at < $3) \
                 AND ($5 IS NULL OR channel = $5) \
                 ORDER BY created_at DESC, id DESC LIMIT $4"
            ))
            .bind(&query.status)
            .bind(&query.tenant_id)
            .bind(query.before)
            .bind(crate::records::list_limit(query.limit))
            .bind(&query.channel)
            .fetch_all(pool)
            .await?)
        })
    }
}
