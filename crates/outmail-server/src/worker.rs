//! Delivery workers: claim due messages from the outbox under a lease, send each through its
//! profile, and record the outcome: sent, retried later (4xx and transient faults, capped
//! exponential backoff with jitter, the server's Retry-After honoured) or failed for good.
//!
//! A worker that dies leaves its lease to run out; the message is then claimed again, by this
//! process after a restart or by another replica.

use std::sync::Arc;
use std::time::Duration;

use outmail_mail::{Letter, MailError, Secrets, Timeouts, Trace, Transport};
use outmail_store::{AttemptOutcome, MessageRow};
use outmail_types::{ProfileSpec, SecretSlot};
use tokio::sync::Semaphore;

use crate::state::AppState;

/// Messages claimed at once, and sent at once.
const BATCH: i64 = 16;
const CONCURRENCY: usize = 8;
/// After this many attempts a transient fault is final.
const MAX_ATTEMPTS: i64 = 8;
/// The first retry comes after this; each next one after twice as long, at most an hour.
const FIRST_RETRY: Duration = Duration::from_secs(30);
const LONGEST_RETRY: Duration = Duration::from_secs(60 * 60);
/// How often an idle worker looks for due messages (a new message wakes it at once).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Starts the delivery loop of this process.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(state))
}

async fn run(state: AppState) {
    let owner = format!("worker-{}", uuid::Uuid::new_v4());
    let lease_ms = i64::try_from(state.mail.delivery_lease.as_millis()).unwrap_or(i64::MAX);
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    loop {
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
            let _ = tokio::time::timeout(IDLE_POLL, state.mail.workers_wanted()).await;
            continue;
        }
        for row in claimed {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let state = state.clone();
            let owner = owner.clone();
            tokio::spawn(async move {
                let outcome = attempt(&state, &row).await;
                match state.store.finish_attempt(&row.id, &owner, &outcome).await {
                    Ok(true) => log(&row, &outcome),
                    Ok(false) => tracing::warn!(
                        message = %row.id,
                        "the lease ran out before the attempt ended; another worker owns it now"
                    ),
                    Err(error) => {
                        tracing::error!(%error, message = %row.id, "recording an attempt failed")
                    }
                }
                drop(permit);
            });
        }
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

/// One attempt at one message: through the profile, or its alternate while the profile is
/// failed over. An outage of the profile itself (before it took the message) moves it to its
/// alternate for good (until an admin resets it) and the same attempt goes on through the
/// alternate.
async fn attempt(state: &AppState, row: &MessageRow) -> AttemptOutcome {
    let queued: Letter = match serde_json::from_str(&row.document) {
        Ok(letter) => letter,
        Err(error) => {
            return AttemptOutcome::Failed {
                server: String::new(),
                error: format!("the queued message cannot be read: {error}"),
            };
        }
    };
    let letter = letter_for(queued, &row.suppressed_recipients);
    let failover = match state.store.failover(&row.profile_id).await {
        Ok(failover) => failover,
        Err(error) => {
            return retry(
                row,
                "",
                &format!("the failover state could not be read: {error}"),
                None,
            );
        }
    };
    let through = failover
        .as_ref()
        .map_or(row.profile_id.as_str(), |f| f.alternate_id.as_str());
    let first = send_through(state, through, &letter).await;
    let (server, error) = match first {
        Ok(server) => return AttemptOutcome::Sent { server },
        Err(Attempt::Unusable(server, error)) => return AttemptOutcome::Failed { server, error },
        Err(Attempt::Later(error)) => return retry(row, "", &error, None),
        Err(Attempt::Refused(server, error, alternate)) => {
            // Only the profile itself fails over (never the alternate further).
            match alternate.filter(|_| failover.is_none() && error.is_outage()) {
                None => (server, error),
                Some(alternate) => {
                    let reason = format!("{server}: {error}");
                    match state
                        .store
                        .fail_over(&row.profile_id, &alternate, &reason)
                        .await
                    {
                        Ok(true) => tracing::warn!(
                            profile = %row.profile_id,
                            %alternate,
                            %error,
                            "the profile failed over to its alternate"
                        ),
                        Ok(false) => {}
                        Err(store_error) => {
                            tracing::error!(%store_error, "recording the failover failed");
                        }
                    }
                    match send_through(state, &alternate, &letter).await {
                        Ok(server) => return AttemptOutcome::Sent { server },
                        Err(Attempt::Unusable(server, error)) => {
                            return AttemptOutcome::Failed { server, error };
                        }
                        Err(Attempt::Later(error)) => return retry(row, "", &error, None),
                        Err(Attempt::Refused(server, error, _)) => (server, error),
                    }
                }
            }
        }
    };
    judge(row, &server, &error)
}

/// Why a send through one profile did not happen.
enum Attempt {
    /// The profile cannot be used at all (deleted, unreadable): no retry helps.
    Unusable(String, String),
    /// Our side could not get ready (the database): try again later.
    Later(String),
    /// The server refused or could not be reached; with the profile's alternate, if any.
    Refused(String, MailError, Option<String>),
}

/// Sends `letter` through profile `profile_id`; on success, the server and its reply.
async fn send_through(
    state: &AppState,
    profile_id: &str,
    letter: &Letter,
) -> Result<String, Attempt> {
    let profile = match state.store.get_profile(profile_id).await {
        Ok(profile) => profile,
        Err(outmail_store::StoreError::NotFound) => {
            return Err(Attempt::Unusable(
                String::new(),
                format!("profile {profile_id} was deleted"),
            ));
        }
        Err(error) => {
            return Err(Attempt::Later(format!(
                "profile {profile_id} could not be read: {error}"
            )));
        }
    };
    let server = profile.target.clone();
    let spec: ProfileSpec = serde_json::from_str(&profile.document).map_err(|error| {
        Attempt::Unusable(
            server.clone(),
            format!("the profile cannot be read: {error}"),
        )
    })?;
    let secrets = open_secrets(state, profile_id, &spec)
        .await
        .map_err(Attempt::Later)?;
    let alternate = spec.alternate_profile_id.as_ref().map(ToString::to_string);
    let oauth = state.mail.oauth_for(&state.store, Some(profile_id), &spec);
    let transport = Transport::new(spec, secrets, Timeouts::default())
        .with_oauth(oauth)
        .with_egress(state.access.config.egress.clone())
        .with_pool(state.mail.pool_for(profile_id, profile.version));
    let mut trace = Trace::new();
    match transport.send(&mut trace, letter, false).await {
        Ok(Some(receipt)) => Ok(format!("{server}: {}", receipt.reply)),
        Ok(None) => Ok(server),
        Err(error) => Err(Attempt::Refused(server, error, alternate)),
    }
}

/// The queued letter without the recipients the send frequency left out.
fn letter_for(mut letter: Letter, suppressed_json: &str) -> Letter {
    let suppressed: Vec<String> = serde_json::from_str(suppressed_json).unwrap_or_default();
    for list in [&mut letter.to, &mut letter.cc, &mut letter.bcc] {
        list.retain(|m| !suppressed.contains(&m.address().to_string().to_lowercase()));
    }
    letter
}

/// What a failed attempt means: try again (transient, attempts left), or stop. A message whose
/// final dot went out without an answer may have been delivered: sending it again would risk
/// a duplicate, so it stops as "unknown".
fn judge(row: &MessageRow, server: &str, error: &MailError) -> AttemptOutcome {
    let words = error.to_string();
    if error.delivery_unknown {
        return AttemptOutcome::Failed {
            server: server.to_owned(),
            error: format!("delivery unknown (not sent again to avoid a duplicate): {words}"),
        };
    }
    if error.is_transient() && row.attempts + 1 < MAX_ATTEMPTS {
        return retry(row, server, &words, error.retry_after);
    }
    AttemptOutcome::Failed {
        server: server.to_owned(),
        error: words,
    }
}

fn retry(
    row: &MessageRow,
    server: &str,
    error: &str,
    at_least: Option<Duration>,
) -> AttemptOutcome {
    let delay = backoff(row.attempts).max(at_least.unwrap_or_default());
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX);
    AttemptOutcome::Retry {
        at: now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
        server: server.to_owned(),
        error: error.to_owned(),
    }
}

/// `FIRST_RETRY · 2^attempts`, at most `LONGEST_RETRY`, less up to a fifth at random so that
/// many messages refused together do not come back together.
fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    let full = FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(LONGEST_RETRY);
    let jitter = f64::from(uuid::Uuid::new_v4().as_u128() as u16) / f64::from(u16::MAX) * 0.2;
    full.mul_f64(1.0 - jitter)
}

async fn open_secrets(state: &AppState, id: &str, spec: &ProfileSpec) -> Result<Secrets, String> {
    use outmail_store::ExposeSecret as _;
    let mut secrets = Secrets::new();
    for requirement in spec.secret_requirements() {
        let slot: SecretSlot = requirement.slot;
        match state.store.open_secret(id, slot.path()).await {
            Ok(Some(value)) => {
                secrets.insert(
                    slot,
                    outmail_types::SecretString::new(value.expose_secret()),
                );
            }
            Ok(None) => {}
            Err(error) => return Err(format!("{slot} could not be opened: {error}")),
        }
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour_with_at_most_a_fifth_less() {
        for (attempts, full) in [(0, 30), (1, 60), (2, 120), (6, 1920), (7, 3600), (12, 3600)] {
            let delay = backoff(attempts).as_secs_f64();
            assert!(
                delay <= f64::from(full) && delay >= f64::from(full) * 0.8,
                "{attempts}: {delay}"
            );
        }
    }
}
