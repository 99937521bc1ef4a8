//! The staged test send: a small message through a profile (or an unsaved draft), every stage
//! timed and streamed, a failure turned into the field to blame and the remedy, and warnings for
//! settings on their way out.

use std::time::{Duration, Instant};

use outmail_types::diagnosis::{Outcome, StageResult, TestReport, Warning};
use outmail_types::profile::{Auth, OAuthField, OAuthPlace, Transport as SpecTransport};
use outmail_types::{Mailbox, ProfileSpec};
use tokio::sync::mpsc;

use crate::error::{MailError, Reason};
use crate::message::{Letter, with_signature};
use crate::net::Timeouts;
use crate::trace::Trace;
use crate::transport::{OAuthRuntime, Secrets, Transport};

/// The whole test send must end within this, whatever the server does.
pub const TEST_DEADLINE: Duration = Duration::from_secs(20);

/// Credentials that expire within this many seconds are flagged.
const EXPIRY_WARNING: i64 = 30 * 24 * 60 * 60;

/// Per-step limits for a test send: short enough that a silent server is reported well inside
/// [`TEST_DEADLINE`].
pub fn test_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        command: Duration::from_secs(8),
        data: Duration::from_secs(10),
    }
}

/// What to test.
#[derive(Debug)]
pub struct TestSend {
    pub spec: ProfileSpec,
    pub secrets: Secrets,
    pub to: Mailbox,
    pub dry_run: bool,
    /// "Now", for certificate expiry warnings and what the transports stamp.
    pub clock: outmail_clock::SharedClock,
    pub timeouts: Timeouts,
    pub deadline: Duration,
    /// The token cache and refresh-token store; the test always fetches a new token (it
    /// proves the credentials work now) and leaves it in the cache.
    pub oauth: OAuthRuntime,
    /// Where the test may connect.
    pub egress: crate::EgressPolicy,
}

/// Runs the test send. Each finished stage is also sent to `listener` when given.
pub async fn test_send(
    request: TestSend,
    listener: Option<mpsc::UnboundedSender<StageResult>>,
) -> TestReport {
    let started = Instant::now();
    let warnings = warnings(
        &request.spec,
        outmail_clock::unix_seconds(request.clock.as_ref()),
    );
    let letter = test_letter(&request.spec, request.to);
    let message_id = letter.message_id.clone();
    let oauth = OAuthRuntime {
        fresh: true,
        ..request.oauth
    };
    let transport = Transport::new(request.spec, request.secrets, request.timeouts)
        .with_oauth(oauth)
        .with_egress(request.egress)
        .with_clock(request.clock);
    let blame = transport.blame();
    let mut trace = match listener {
        Some(listener) => Trace::with_listener(listener),
        None => Trace::new(),
    };
    let run = transport.send(&mut trace, &letter, request.dry_run);
    let result = match tokio::time::timeout(request.deadline, run).await {
        Ok(result) => result,
        Err(_) => {
            let stage = trace
                .current()
                .unwrap_or(outmail_types::diagnosis::Stage::Prepare);
            Err(MailError::new(
                Reason::Timeout,
                stage,
                format!(
                    "the test send did not finish within {} seconds",
                    request.deadline.as_secs()
                ),
            ))
        }
    };
    let open_detail = match &result {
        Err(e) => e.detail.clone(),
        Ok(_) => String::new(),
    };
    let (stages, transcript) = trace.finish(&open_detail);
    let (outcome, failure) = match result {
        Ok(Some(_)) => (Outcome::Delivered, None),
        Ok(None) => (Outcome::DryRunPassed, None),
        Err(e) => (Outcome::Failed, Some(e.to_failure(&blame))),
    };
    TestReport {
        outcome,
        stages,
        transcript,
        failure,
        warnings,
        message_id: Some(message_id),
        total_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// The test message: from the profile's sender, with its signature.
fn test_letter(spec: &ProfileSpec, to: Mailbox) -> Letter {
    let from = spec.sender.from_mailbox();
    let body = format!(
        "This is a test message from outmail, sent through the profile \"{}\".\r\n\
         If you can read it, the profile delivers mail.",
        spec.name
    );
    Letter {
        message_id: Letter::new_message_id(from.address()),
        from,
        reply_to: spec.sender.reply_to.clone(),
        to: vec![to],
        cc: Vec::new(),
        bcc: Vec::new(),
        subject: format!("outmail test: {}", spec.name),
        text: Some(with_signature(
            &body,
            spec.signature.as_ref().map(|s| s.as_str()),
        )),
        html: None,
        headers: vec![("X-Outmail-Test".to_owned(), "1".to_owned())],
        mime: None,
        attachments: Vec::new(),
    }
}

/// Settings that work today but will not for long.
pub fn warnings(spec: &ProfileSpec, now: i64) -> Vec<Warning> {
    let mut out = Vec::new();
    match &spec.transport {
        SpecTransport::Ews(ews) if is_exchange_online(ews.url.host().domain()) => {
            out.push(Warning {
                code: "ews_exchange_online_retired".to_owned(),
                field: Some("transport.url".to_owned()),
                message: "Microsoft retired EWS in Exchange Online for most tenants in October \
                          2026. Move this profile to Microsoft Graph."
                    .to_owned(),
            });
        }
        SpecTransport::Smtp(smtp)
            if matches!(smtp.auth, Auth::Basic(_)) && is_exchange_online(smtp.host.domain()) =>
        {
            out.push(Warning {
                code: "basic_auth_microsoft_365".to_owned(),
                field: Some("transport.auth.kind".to_owned()),
                message: "Microsoft is switching off basic authentication for SMTP AUTH in \
                          Microsoft 365. Use OAuth 2.0 for this profile."
                    .to_owned(),
            });
        }
        _ => {}
    }
    if let Some((place, settings)) = OAuthPlace::of(spec)
        && let Some(expires) = settings.secret_expires_on
        && uses_client_secret(settings)
    {
        let left = expires.unix_start() - now;
        if left < EXPIRY_WARNING {
            out.push(Warning {
                code: if left <= 0 {
                    "client_secret_expired"
                } else {
                    "client_secret_expires_soon"
                }
                .to_owned(),
                field: Some(place.path(OAuthField::SecretExpiresOn).to_owned()),
                message: if left <= 0 {
                    format!(
                        "The client secret expired on {expires}. Create a new secret in the app \
                         registration and enter it here."
                    )
                } else {
                    format!(
                        "The client secret expires on {expires}, in {} day(s). Create a new \
                         secret before then and enter it here.",
                        left.div_euclid(86_400) + 1
                    )
                },
            });
        }
    }
    for (path, errors) in spec.certificate_problems(now, EXPIRY_WARNING).iter() {
        for error in errors {
            out.push(Warning {
                code: format!("certificate_{}", error.code),
                field: Some(path.to_owned()),
                message: error.message.clone(),
            });
        }
    }
    out
}

/// Whether the configuration sends a client secret (app-only with a secret, or a confidential
/// app in the authorization-code flow).
fn uses_client_secret(settings: &outmail_types::profile::OAuthSettings) -> bool {
    use outmail_types::profile::{ClientCredential, OAuthFlow};
    matches!(
        settings.flow,
        OAuthFlow::ClientCredentials(ClientCredential::Secret)
            | OAuthFlow::AuthorizationCode { .. }
    )
}

fn is_exchange_online(host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    [
        "outlook.office365.com",
        "smtp.office365.com",
        "outlook.office.com",
        "smtp-mail.outlook.com",
        "outlook.office365.us",
        "partner.outlook.cn",
    ]
    .iter()
    .any(|known| host == *known || host.ends_with(&format!(".{known}")))
}
