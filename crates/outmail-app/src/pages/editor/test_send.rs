//! The editor's test send: its dialog, the stages streamed as they finish, and the report.

use leptos::prelude::*;
use leptos::task::spawn_local;
use outmail_types::ApiError;
use outmail_types::diagnosis::{Direction, Outcome, StageResult, StageStatus, TestReport};
use serde::Serialize;

use super::{Draft, Form};
use crate::api::{self, Problem};
use crate::components::{ProblemNotice, can_change, dialog_keys};

/// What `POST /profiles/test` takes.
#[derive(Serialize)]
struct DraftTest<'a> {
    profile: &'a Draft,
    profile_id: Option<String>,
    to: String,
    dry_run: bool,
}

/// The dialog's state: what to send, and what came back.
#[derive(Clone, Copy)]
struct TestRun {
    to: RwSignal<String>,
    dry_run: RwSignal<bool>,
    running: RwSignal<bool>,
    report: RwSignal<Option<Result<TestReport, Problem>>>,
    live: RwSignal<Vec<StageResult>>,
}

impl TestRun {
    fn new() -> Self {
        Self {
            to: RwSignal::new(String::new()),
            dry_run: RwSignal::new(false),
            running: RwSignal::new(false),
            report: RwSignal::new(None),
            live: RwSignal::new(Vec::new()),
        }
    }

    /// Sends the form as it is (saved or not) to the recipient, and shows how it went.
    fn start(self, form: Form) {
        self.running.set(true);
        self.report.set(None);
        let draft = form.draft.get_untracked();
        let profile_id = form
            .saved
            .with_untracked(|s| s.as_ref().map(|s| s.id.clone()));
        let request = DraftTest {
            profile: &draft,
            profile_id,
            to: self.to.get_untracked(),
            dry_run: self.dry_run.get_untracked(),
        };
        let body = serde_json::to_value(&request).unwrap_or_default();
        self.live.set(Vec::new());
        spawn_local(async move {
            let answer = stream_test(&body, self.live).await;
            self.running.set(false);
            blame(form, &answer);
            self.report.set(Some(answer));
        });
    }
}

/// Runs the test: its stages arrive as they finish (server-sent events) and go to `live`, then
/// the whole report.
async fn stream_test(
    body: &serde_json::Value,
    live: RwSignal<Vec<StageResult>>,
) -> Result<TestReport, Problem> {
    let mut finished = None;
    let streamed = api::post_events("/profiles/test", body, |event, data| match event {
        "stage" => {
            if let Ok(stage) = serde_json::from_str::<StageResult>(data) {
                live.update(|stages| stages.push(stage));
            }
        }
        "report" => finished = serde_json::from_str::<TestReport>(data).ok(),
        _ => {}
    })
    .await;
    streamed.and_then(|()| {
        finished.ok_or_else(|| Problem {
            status: 200,
            error: ApiError::new("no_report", "the test ended without a report"),
        })
    })
}

/// Marks in the form the field a failed test blames, or the fields a refused request names.
fn blame(form: Form, answer: &Result<TestReport, Problem>) {
    match answer {
        Ok(done) => {
            if let Some(failure) = &done.failure
                && let Some(field) = &failure.field
            {
                form.blamed.set(Some((
                    field.clone(),
                    format!("{} {}", failure.message, failure.remedy),
                )));
            }
        }
        Err(problem) => form.server_errors.set(problem.error.fields.clone()),
    }
}

/// The test send: the form as it is (saved or not) to one recipient, every stage with its
/// time, the redacted transcript, and on failure the blamed field marked in the form.
#[component]
pub(super) fn TestSend(form: Form) -> AnyView {
    let open = RwSignal::new(false);
    let run = TestRun::new();
    let can = can_change();
    // The recipient starts as the signed-in admin's own address, the usual first test.
    let user = use_context::<crate::CurrentUser>();
    let open_dialog = move |_| {
        if run.to.with_untracked(|t| t.trim().is_empty())
            && let Some(email) =
                user.and_then(|u| u.0.with_untracked(|s| s.as_ref().map(|s| s.email.clone())))
        {
            run.to.set(email);
        }
        open.set(true);
    };
    view! {
        <button type="button" disabled=move || !can.get() on:click=open_dialog>"Send a test"</button>
        <Show when=move || open.get()>
            <TestDialog form open run />
        </Show>
    }
    .into_any()
}

/// The dialog: recipient, dry run, Send, and what the test shows.
#[component]
fn TestDialog(form: Form, open: RwSignal<bool>, run: TestRun) -> AnyView {
    let TestRun {
        to,
        dry_run,
        running,
        report,
        live,
    } = run;
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        run.start(form);
    };
    view! {
        <div class="backdrop">
            <div class="dialog wide" role="dialog" aria-modal="true" aria-labelledby="test-title"
                on:keydown=move |e: leptos::ev::KeyboardEvent| dialog_keys(&e, open)>
                <h2 id="test-title">"Send a test"</h2>
                <form class="test-form" on:submit=on_submit>
                    <div class="field">
                        <label for="test-to">"Recipient"</label>
                        <input id="test-to" type="text" inputmode="email" autocomplete="email" required
                            prop:value=move || to.get() on:input=move |e| to.set(event_target_value(&e)) />
                    </div>
                    <div class="field check">
                        <input id="test-dry-run" type="checkbox" prop:checked=move || dry_run.get()
                            on:change=move |e| dry_run.set(event_target_checked(&e)) />
                        <label for="test-dry-run">"Dry run: stop before the message is handed over"</label>
                    </div>
                    <div class="actions">
                        <button type="button" on:click=move |_| open.set(false)>"Close"</button>
                        <button type="submit" class="primary" disabled=move || running.get() || to.with(|t| t.trim().is_empty())>
                            {move || if running.get() { "Sending…" } else { "Send" }}
                        </button>
                    </div>
                </form>
                <TestProgress running live report />
            </div>
        </div>
    }
    .into_any()
}

/// The stages so far while a test runs, then its report.
#[component]
fn TestProgress(
    running: RwSignal<bool>,
    live: RwSignal<Vec<StageResult>>,
    report: RwSignal<Option<Result<TestReport, Problem>>>,
) -> AnyView {
    view! {
        <Show when=move || running.get()>
            <ol class="stages live" aria-label="Stages so far">
                {move || live.get().iter().map(stage_row).collect_view()}
                <li class="stage running">"…"</li>
            </ol>
        </Show>
        <div aria-live="polite">
            {move || report.get().map(|r| match r {
                Ok(report) => view! { <TestReportView report /> }.into_any(),
                Err(problem) => view! { <ProblemNotice problem /> }.into_any(),
            })}
        </div>
    }
    .into_any()
}

/// One stage of a test send: its name, milliseconds and what happened.
fn stage_row(s: &StageResult) -> impl IntoView + use<> {
    let status = match s.status {
        StageStatus::Ok => "ok",
        StageStatus::Failed => "failed",
        StageStatus::Skipped => "skipped",
    };
    view! {
        <li class=format!("stage {status}")>
            <span class="stage-name">{s.stage.as_str()}</span>
            <span class="stage-ms">{format!("{} ms", s.ms)}</span>
            <span class="stage-detail">{s.detail.clone()}</span>
        </li>
    }
}

#[component]
fn TestReportView(report: TestReport) -> AnyView {
    let headline = match (&report.outcome, &report.failure) {
        (Outcome::Delivered, _) => format!("Delivered in {} ms.", report.total_ms),
        (Outcome::DryRunPassed, _) => format!(
            "Every stage passed in {} ms; nothing was sent.",
            report.total_ms
        ),
        (_, Some(failure)) => format!("Failed at {}: {}", failure.stage.as_str(), failure.message),
        (_, None) => "Failed.".to_owned(),
    };
    let remedy = report.failure.as_ref().map(|f| {
        let field = f
            .field
            .clone()
            .map(|p| format!(" (field: {p})"))
            .unwrap_or_default();
        format!("{}{field}", f.remedy)
    });
    let stages = report.stages.iter().map(stage_row).collect_view();
    let transcript = transcript(&report);
    let warnings = report
        .warnings
        .iter()
        .map(|w| view! { <li>{w.message.clone()}</li> })
        .collect_view();
    view! {
        <div class="test-report" data-outcome=report.outcome.as_str()>
            <p class="headline">{headline}</p>
            {remedy.map(|r| view! { <p class="remedy">{r}</p> })}
            <ul class="warnings">{warnings}</ul>
            <ol class="stages">{stages}</ol>
            <details>
                <summary>"Transcript (secrets redacted)"</summary>
                <pre class="transcript">{transcript}</pre>
            </details>
        </div>
    }
    .into_any()
}

/// The report's transcript as text: `C: ` for outmail, `S: ` for the server, indented notes.
fn transcript(report: &TestReport) -> String {
    report
        .transcript
        .iter()
        .map(|line| {
            let prefix = match line.direction {
                Direction::Client => "C: ",
                Direction::Server => "S: ",
                Direction::Note => "   ",
            };
            format!("{prefix}{}", line.text)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
