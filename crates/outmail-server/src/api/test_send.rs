//! `POST /profiles/{id}/test` and `POST /profiles/test`: the staged test send, of a saved
//! profile or of unsaved settings, answered as one JSON report or streamed as server-sent
//! events (`stage` as each stage ends, then `report`).

use std::convert::Infallible;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, extract::State};
use outmail_mail::OAuthRuntime;
use outmail_mail::doctor::{TEST_DEADLINE, TestSend, test_send, test_timeouts};
use outmail_mail::transport::Secrets;
use outmail_types::Mailbox;
use outmail_types::diagnosis::{TestReport, TestSendRequest};
use outmail_types::email::Charset;
use outmail_types::error::ApiError;
use outmail_types::profile::{
    ProfileDraft, ProfileSpec, SecretAction, StoredProfile, plan_secrets,
};
use outmail_types::secret::SecretInput;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::error::{ApiFailure, ApiResult};
use super::extract::ApiPath;
use super::json::ApiJson;
use super::profiles::{self, LoadedProfile};
use crate::auth::{AuditNote, Principal};
use crate::sending::secrets;
use crate::state::AppState;

/// `POST /profiles/test`: test settings before (or instead of) saving them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftTestRequest {
    /// The settings as in the editor.
    pub profile: ProfileDraft<SecretInput>,
    /// The saved profile being edited, whose stored secrets may be reused (`{"set": true}`)
    /// while their destination is unchanged.
    #[serde(default)]
    pub profile_id: Option<String>,
    pub to: String,
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /profiles/{id}/test`
#[utoipa::path(post, path = "/profiles/{id}/test", tag = "profiles", params(("id" = String, Path, description = "the resource ID")), request_body = TestSendRequest, responses((status = 200, description = "the report (also when the test failed: see `outcome` and `failure`); with `Accept: text/event-stream`, `stage` events then one `report` event", body = TestReport), (status = 404, description = "no such resource", body = ApiError), (status = 422, description = "invalid fields, each named by its path", body = ApiError)))]
pub async fn saved(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<TestSendRequest>,
) -> ApiResult<Response> {
    take_test_send(&state, &principal)?;
    let profile = profiles::load(&state, &id).await?;
    let to = recipient(&request.to, &profile.spec)?;
    let secrets = secrets::open(
        &state.store,
        &profile.row.id,
        profile.stored_secrets.iter().copied(),
    )
    .await?;
    let oauth = state
        .mail
        .oauth_for(&state.store, Some(&profile.row.id), &profile.spec);
    let audit = TestAudit {
        state: state.clone(),
        actor: principal.actor(),
        target: format!("profiles/{id}"),
    };
    Ok(respond(
        &state,
        &headers,
        profile.spec,
        secrets,
        to,
        request.dry_run,
        oauth,
        audit,
    )
    .await)
}

/// `POST /profiles/test`
#[utoipa::path(post, path = "/profiles/test", tag = "profiles", request_body = DraftTestRequest, responses((status = 200, description = "the report (also when the test failed); with `Accept: text/event-stream`, `stage` events then one `report` event", body = TestReport), (status = 404, description = "`profile_id` names no profile", body = ApiError), (status = 422, description = "invalid fields, each named by its path (a kept secret whose destination changed must be entered again)", body = ApiError)))]
pub async fn draft(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<DraftTestRequest>,
) -> ApiResult<Response> {
    take_test_send(&state, &principal)?;
    let spec = profiles::validate(&request.profile, state.now_ms())
        .map_err(|failure| prefixed(failure, "profile"))?;
    let to = recipient(&request.to, &spec)?;
    let stored: Option<LoadedProfile> = match &request.profile_id {
        Some(id) => Some(profiles::load(&state, id).await?),
        None => None,
    };
    // The same decision a save makes: a kept secret is reused only for its destination.
    let plan = plan_secrets(
        stored.as_ref().map(|s| StoredProfile {
            spec: &s.spec,
            secrets: &s.stored_secrets,
        }),
        &spec,
        &request.profile.secret_inputs(),
    )
    .map_err(|errors| {
        let mut prefixed_errors = outmail_types::FieldErrors::new();
        prefixed_errors.extend_prefixed("profile", errors);
        ApiFailure::invalid(prefixed_errors)
    })?;
    let mut secrets = Secrets::new();
    for (slot, action) in &plan.actions {
        match action {
            SecretAction::Seal(value) => secrets.insert(*slot, value.clone()),
            SecretAction::Keep => {
                if let Some(stored) = &stored
                    && let Some(value) =
                        secrets::open_one(&state.store, &stored.row.id, *slot).await?
                {
                    secrets.insert(*slot, value);
                }
            }
            SecretAction::Clear => {}
        }
    }
    // A refresh token can only be kept from the saved profile (it is never entered), so a
    // rotated one goes back there, under the same destination rule.
    let saved_id = stored.as_ref().map(|s| s.row.id.as_str());
    let oauth = state.mail.oauth_for(&state.store, saved_id, &spec);
    let audit = TestAudit {
        state: state.clone(),
        actor: principal.actor(),
        target: saved_id.map_or_else(
            || "profiles (unsaved)".to_owned(),
            |id| format!("profiles/{id}"),
        ),
    };
    Ok(respond(
        &state,
        &headers,
        spec,
        secrets,
        to,
        request.dry_run,
        oauth,
        audit,
    )
    .await)
}

/// Counts a test send against the admin's per-minute allowance: a test send connects wherever
/// the admin says, so it must not become a scanner or a spam cannon.
fn take_test_send(state: &AppState, principal: &Principal) -> ApiResult<()> {
    let key = match principal {
        Principal::Person { admin_id, .. } => admin_id.as_str(),
        Principal::Token { id, .. } => id.as_str(),
    };
    state
        .access
        .take_test_send(key)
        .map_err(|wait| ApiFailure::TooMany {
            code: "rate_limited",
            message: format!(
                "at most {} test sends a minute",
                state.access.config.test_sends_per_minute
            ),
            retry_after: wait,
        })
}

/// Who started a test send, for its audit entry once the report is ready.
struct TestAudit {
    state: AppState,
    actor: String,
    target: String,
}

impl TestAudit {
    async fn record(self, report: &TestReport, dry_run: bool) {
        let outcome = match &report.failure {
            None if dry_run => "dry run passed".to_owned(),
            None => "delivered".to_owned(),
            Some(failure) => format!("failed at {}: {}", failure.stage, failure.reason),
        };
        let event = outmail_store::AuditWrite {
            actor: self.actor,
            action: "test_send".to_owned(),
            target: self.target,
            fields: "[]".to_owned(),
            outcome,
        };
        if let Err(error) = self.state.store.record_audit(&event).await {
            tracing::error!(%error, "could not write the audit log");
        }
    }
}

/// Field errors of the draft, under `profile.`.
fn prefixed(failure: ApiFailure, prefix: &str) -> ApiFailure {
    match failure {
        ApiFailure::Client { status, mut error } => {
            let mut fields = outmail_types::FieldErrors::new();
            fields.extend_prefixed(prefix, std::mem::take(&mut error.fields));
            error.fields = fields;
            ApiFailure::Client { status, error }
        }
        other => other,
    }
}

/// The recipient, under the profile's address rules (non-ASCII only with UTF-8 headers).
fn recipient(to: &str, spec: &ProfileSpec) -> ApiResult<Mailbox> {
    Mailbox::parse(to, Charset::from_utf8_headers(spec.utf8_headers))
        .map_err(|error| ApiFailure::invalid(outmail_types::FieldErrors::single("to", error)))
}

fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

#[allow(clippy::too_many_arguments)]
async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    spec: ProfileSpec,
    secrets: Secrets,
    to: Mailbox,
    dry_run: bool,
    oauth: OAuthRuntime,
    audit: TestAudit,
) -> Response {
    // The handler writes the test's own entry, with its outcome, once the report is ready.
    let skip = AuditNote::recorded_by_handler();
    let request = TestSend {
        egress: state.access.config.egress.clone(),
        spec,
        secrets,
        to,
        dry_run,
        clock: state.store.clock().clone(),
        timeouts: test_timeouts(),
        deadline: TEST_DEADLINE,
        oauth,
    };
    if !wants_event_stream(headers) {
        let report = test_send(request, None).await;
        log_report(&report);
        audit.record(&report, dry_run).await;
        return skip.attach(Json(report).into_response());
    }
    let (stages_tx, mut stages_rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::unbounded_channel::<Result<Event, Infallible>>();
    // The test runs to the end even if the client goes away, so its report is complete in the
    // log; the channels just drop what nobody reads.
    tokio::spawn(async move {
        let run = tokio::spawn(test_send(request, Some(stages_tx)));
        while let Some(stage) = stages_rx.recv().await {
            if let Ok(event) = Event::default().event("stage").json_data(&stage) {
                let _ = events_tx.send(Ok(event));
            }
        }
        let report = match run.await {
            Ok(report) => report,
            Err(error) => {
                tracing::error!(%error, "the test send task failed");
                return;
            }
        };
        log_report(&report);
        audit.record(&report, dry_run).await;
        if let Ok(event) = Event::default().event("report").json_data(&report) {
            let _ = events_tx.send(Ok(event));
        }
    });
    let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(events_rx);
    skip.attach(
        Sse::new(stream)
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(5)))
            .into_response(),
    )
}

fn log_report(report: &TestReport) {
    match &report.failure {
        None => tracing::info!(outcome = ?report.outcome, total_ms = report.total_ms, "test send"),
        Some(failure) => tracing::info!(
            outcome = ?report.outcome,
            reason = %failure.reason,
            stage = %failure.stage,
            total_ms = report.total_ms,
            "test send failed"
        ),
    }
}
