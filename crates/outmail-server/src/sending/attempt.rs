//! One delivery attempt at one queued message, and its judgement: sent; tried again later (a
//! transient fault with attempts left, after a capped exponential backoff with jitter, or when
//! the server said, whichever is later); or failed for good. An outage of the profile itself,
//! before the server took the message, moves the profile to its alternate for good (until an
//! admin resets it) and the same attempt goes on there. A message whose final dot went out
//! without an answer may have been delivered: it is never sent again ("delivery unknown").

use std::time::Duration;

use outmail_mail::{Letter, MailError};
use outmail_store::{AttemptOutcome, MessageRow, StoreError};
use outmail_types::ProfileSpec;

use super::compose::suppressed_recipients;
use super::sender::ReadyProfile;
use super::{Sending, recipient_key, secrets};

/// After this many attempts a transient fault is final.
pub const MAX_ATTEMPTS: i64 = 8;
/// The first retry comes after this; each next one after twice as long, at most an hour.
const FIRST_RETRY: Duration = Duration::from_secs(30);
const LONGEST_RETRY: Duration = Duration::from_secs(60 * 60);

/// Why a send through one profile did not happen.
enum Attempt {
    /// The profile cannot be used at all (deleted, unreadable): no retry helps.
    Unusable(String, String),
    /// Our side could not get ready (the database): try again later.
    Later(String),
    /// The server refused or could not be reached; with the profile's alternate, if any.
    Refused(String, MailError, Option<String>),
}

impl Sending {
    /// One attempt at `row`: through its profile, or the profile's alternate while it is
    /// failed over.
    pub async fn attempt(&self, row: &MessageRow) -> AttemptOutcome {
        let letter = match self.letter_of(row) {
            Ok(letter) => letter,
            Err(error) => {
                tracing::error!(message = %row.id, %error, "a queued message cannot be read");
                return AttemptOutcome::Failed {
                    server: String::new(),
                    error,
                };
            }
        };
        let failover = match self.store.failover(&row.profile_id).await {
            Ok(failover) => failover,
            Err(error) => {
                let words = format!("the failover state could not be read: {error}");
                return self.retry(row, "", &words, None);
            }
        };
        let through = failover
            .as_ref()
            .map_or(row.profile_id.as_str(), |f| f.alternate_id.as_str());
        let (server, error) = match self.send_through(through, &letter).await {
            Ok(server) => return AttemptOutcome::Sent { server },
            Err(Attempt::Unusable(server, error)) => {
                return AttemptOutcome::Failed { server, error };
            }
            Err(Attempt::Later(error)) => return self.retry(row, "", &error, None),
            Err(Attempt::Refused(server, error, alternate)) => {
                // Only the profile itself fails over (never the alternate further).
                match alternate.filter(|_| failover.is_none() && error.is_outage()) {
                    None => (server, error),
                    Some(alternate) => {
                        self.fail_over(row, &alternate, &server, &error).await;
                        match self.send_through(&alternate, &letter).await {
                            Ok(server) => return AttemptOutcome::Sent { server },
                            Err(Attempt::Unusable(server, error)) => {
                                return AttemptOutcome::Failed { server, error };
                            }
                            Err(Attempt::Later(error)) => {
                                return self.retry(row, "", &error, None);
                            }
                            Err(Attempt::Refused(server, error, _)) => (server, error),
                        }
                    }
                }
            }
        };
        self.judge(row, &server, &error)
    }

    /// The queued letter without the recipients the send frequency left out. A list that
    /// cannot be read stops the message rather than mail recipients who were to be spared.
    fn letter_of(&self, row: &MessageRow) -> Result<Letter, String> {
        let mut letter: Letter = serde_json::from_str(&row.document)
            .map_err(|error| format!("the queued message cannot be read: {error}"))?;
        let suppressed = suppressed_recipients(row).map_err(|error| {
            format!(
                "the message's suppressed recipients cannot be read, so it is not sent (it could \
                 reach recipients the send frequency left out): {error}"
            )
        })?;
        for list in [&mut letter.to, &mut letter.cc, &mut letter.bcc] {
            list.retain(|mailbox| !suppressed.contains(&recipient_key(mailbox)));
        }
        Ok(letter)
    }

    async fn fail_over(&self, row: &MessageRow, alternate: &str, server: &str, error: &MailError) {
        let reason = format!("{server}: {error}");
        match self
            .store
            .fail_over(&row.profile_id, alternate, &reason)
            .await
        {
            Ok(true) => tracing::warn!(
                profile = %row.profile_id,
                %alternate,
                %error,
                "the profile failed over to its alternate"
            ),
            Ok(false) => {}
            Err(store_error) => tracing::error!(%store_error, "recording the failover failed"),
        }
    }

    /// Sends `letter` through profile `profile_id`; on success, the server and its reply.
    async fn send_through(&self, profile_id: &str, letter: &Letter) -> Result<String, Attempt> {
        let profile = match self.store.get_profile(profile_id).await {
            Ok(profile) => profile,
            Err(StoreError::NotFound) => {
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
        let slots = spec.secret_requirements().into_iter().map(|r| r.slot);
        let secrets = secrets::open(&self.store, profile_id, slots)
            .await
            .map_err(|error| {
                Attempt::Later(format!(
                    "the secrets of profile {profile_id} could not be opened: {error}"
                ))
            })?;
        let alternate = spec.alternate_profile_id.as_ref().map(ToString::to_string);
        let ready = ReadyProfile {
            id: profile.id,
            version: profile.version,
            spec,
            secrets,
        };
        match self.sender.send(&ready, letter).await {
            Ok(receipt) if receipt.reply.is_empty() => Ok(server),
            Ok(receipt) => Ok(format!("{server}: {}", receipt.reply)),
            Err(error) => Err(Attempt::Refused(server, error, alternate)),
        }
    }

    /// What a failed attempt means: try again (transient, attempts left), or stop.
    fn judge(&self, row: &MessageRow, server: &str, error: &MailError) -> AttemptOutcome {
        let words = error.to_string();
        if error.delivery_unknown {
            return AttemptOutcome::Failed {
                server: server.to_owned(),
                error: format!("delivery unknown (not sent again to avoid a duplicate): {words}"),
            };
        }
        if error.is_transient() && row.attempts + 1 < MAX_ATTEMPTS {
            return self.retry(row, server, &words, error.retry_after);
        }
        AttemptOutcome::Failed {
            server: server.to_owned(),
            error: words,
        }
    }

    /// Try again after the backoff for this attempt, or `at_least` when the server said so.
    fn retry(
        &self,
        row: &MessageRow,
        server: &str,
        error: &str,
        at_least: Option<Duration>,
    ) -> AttemptOutcome {
        let delay = backoff(row.attempts).max(at_least.unwrap_or_default());
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        AttemptOutcome::Retry {
            at: self.clock().now_ms().saturating_add(delay_ms),
            server: server.to_owned(),
            error: error.to_owned(),
        }
    }
}

/// `FIRST_RETRY · 2^attempts`, at most `LONGEST_RETRY`, less up to a fifth at random so that
/// many messages refused together do not come back together.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    let full = FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(LONGEST_RETRY);
    let jitter = f64::from(uuid::Uuid::new_v4().as_u128() as u16) / f64::from(u16::MAX) * 0.2;
    full.mul_f64(1.0 - jitter)
}
