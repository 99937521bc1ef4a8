//! The delivery worker of one process: claims due messages from the outbox under a lease, runs
//! [`Sending::attempt`](crate::sending::Sending::attempt) for each (at most [`CONCURRENCY`] at
//! once), and records the outcome. The judgement of an attempt lives in `sending`; this module
//! owns only the loop, the lease and stopping.
//!
//! Stopping is a drain: the worker claims nothing more, gives back the leases of messages it
//! claimed but did not start, and lets the sends in flight finish and be recorded, up to a
//! deadline. A worker that dies instead leaves its leases to run out; the messages are then
//! claimed again, by this process after a restart or by another replica.

use std::sync::Arc;
use std::time::Duration;

use outmail_store::{AttemptOutcome, MessageRow};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::state::AppState;

/// Messages claimed at once.
const BATCH: i64 = 16;
/// Messages sent at once.
pub const CONCURRENCY: usize = 8;
/// How often an idle worker looks for due messages (a new message wakes it at once).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// A running delivery worker.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts the delivery loop of this process.
pub fn spawn(state: AppState) -> Worker {
    let (stop, stopped) = watch::channel(false);
    Worker {
        stop,
        task: tokio::spawn(run(state, stopped)),
    }
}

impl Worker {
    /// Asks the worker to drain: claim nothing more and finish what it started.
    pub fn stop(&self) {
        // An error only means the loop has already ended.
        let _ = self.stop.send(true);
    }

    /// Drains the worker (see [`Worker::stop`]) and waits until it has, for at most
    /// `deadline`; sends still running then are cut off and keep their leases, so they are
    /// sent again once the lease runs out. Returns whether the drain finished in time.
    pub async fn drain(mut self, deadline: Duration) -> bool {
        self.stop();
        match tokio::time::timeout(deadline, &mut self.task).await {
            Ok(_) => true,
            Err(_) => {
                tracing::warn!(
                    seconds = deadline.as_secs(),
                    "sends still in flight at the drain deadline were cut off; they will be \
                     sent again when their lease runs out"
                );
                self.task.abort();
                false
            }
        }
    }
}

/// A worker dropped without a drain stops at once, mid-send (its leases run out).
impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether the worker should stop: asked to, or its handle is gone.
fn stopping(stopped: &watch::Receiver<bool>) -> bool {
    *stopped.borrow() || stopped.has_changed().is_err()
}

async fn run(state: AppState, mut stopped: watch::Receiver<bool>) {
    let owner = format!("worker-{}", uuid::Uuid::new_v4());
    let lease_ms = i64::try_from(state.mail.delivery_lease.as_millis()).unwrap_or(i64::MAX);
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut in_flight = JoinSet::new();
    'claiming: while !stopping(&stopped) {
        while in_flight.try_join_next().is_some() {}
        let claimed = match state
            .store
            .claim_due_messages(&owner, lease_ms, BATCH)
            .await
        {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "claiming due messages failed");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            // Woken by a new message, or looking again after a while (retries fall due).
            state.mail.smtp_pool.sweep().await;
            tokio::select! {
                _ = tokio::time::timeout(IDLE_POLL, state.mail.workers_wanted()) => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        let mut claimed = claimed.into_iter();
        while let Some(row) = claimed.next() {
            let permit = tokio::select! {
                // A stop that is already asked for wins over a free permit.
                biased;
                _ = stopped.changed() => {
                    let unstarted: Vec<String> =
                        std::iter::once(row).chain(claimed).map(|r| r.id).collect();
                    give_back(&state, &owner, &unstarted).await;
                    break 'claiming;
                }
                permit = permits.clone().acquire_owned() => permit,
            };
            let Ok(permit) = permit else { break 'claiming };
            let state = state.clone();
            let owner = owner.clone();
            in_flight.spawn(async move {
                deliver(&state, &owner, &row).await;
                drop(permit);
            });
        }
    }
    let running = in_flight.len();
    if running > 0 {
        tracing::info!(running, "draining: waiting for the sends in flight");
    }
    while in_flight.join_next().await.is_some() {}
}

/// One attempt at `row`, recorded while this worker still holds its lease.
async fn deliver(state: &AppState, owner: &str, row: &MessageRow) {
    let outcome = state.sending.attempt(row).await;
    match state.store.finish_attempt(&row.id, owner, &outcome).await {
        Ok(true) => log(row, &outcome),
        Ok(false) => tracing::warn!(
            message = %row.id,
            "the lease ran out before the attempt ended; another worker owns it now"
        ),
        Err(error) => {
            tracing::error!(%error, message = %row.id, "recording an attempt failed");
        }
    }
}

/// Gives back the leases of messages claimed but not started, so they need not wait for the
/// lease to run out.
async fn give_back(state: &AppState, owner: &str, ids: &[String]) {
    match state.store.release_leases(owner, ids).await {
        Ok(released) => tracing::info!(released, "draining: gave back unstarted messages"),
        Err(error) => tracing::warn!(
            %error,
            "giving back unstarted messages failed; they wait for their lease to run out"
        ),
    }
}

fn log(row: &MessageRow, outcome: &AttemptOutcome) {
    match outcome {
        AttemptOutcome::Sent { server } => {
            tracing::info!(message = %row.id, %server, "sent");
        }
        AttemptOutcome::Retry { error, .. } => {
            tracing::info!(message = %row.id, %error, attempt = row.attempts + 1, "will retry");
        }
        AttemptOutcome::Failed { error, .. } => {
            tracing::warn!(message = %row.id, %error, "failed for good");
        }
    }
}
