//! The record of one delivery attempt: timed stages and the redacted transcript, streamed to a
//! listener as each stage ends.

use std::time::Instant;

use outmail_types::diagnosis::{Direction, Stage, StageResult, StageStatus, TranscriptLine};
use tokio::sync::mpsc;

/// The longest transcript we keep: a test message is small, but a chatty server must not be
/// able to fill memory.
const MAX_TRANSCRIPT_LINES: usize = 400;
/// Longer lines are cut (a base64 challenge, an HTML error page).
const MAX_LINE_CHARS: usize = 500;

/// Collects what happens during a delivery. Stages are opened with [`Trace::begin`] and closed
/// with [`Trace::pass`] or [`Trace::fail`]; the transcript takes lines that are already
/// redacted by the caller, which knows when credentials are on the wire.
#[derive(Debug, Default)]
pub struct Trace {
    stages: Vec<StageResult>,
    transcript: Vec<TranscriptLine>,
    open: Option<(Stage, Instant)>,
    /// Set while a stage runs steps of its own (fetching a token connects and runs TLS to the
    /// token endpoint): those steps become notes under it rather than stages of the delivery.
    nested: bool,
    listener: Option<mpsc::UnboundedSender<StageResult>>,
}

impl Trace {
    pub fn new() -> Self {
        Self::default()
    }

    /// Also sends each finished stage to `listener` (the live progress of a test send).
    pub fn with_listener(listener: mpsc::UnboundedSender<StageResult>) -> Self {
        Self {
            listener: Some(listener),
            ..Self::default()
        }
    }

    /// Starts timing `stage`. A stage still open is closed as passed first.
    pub fn begin(&mut self, stage: Stage) {
        if self.nested {
            return;
        }
        if self.open.is_some() {
            self.pass("");
        }
        self.open = Some((stage, Instant::now()));
    }

    /// The stage that is running, if any.
    pub fn current(&self) -> Option<Stage> {
        self.open.map(|(stage, _)| stage)
    }

    pub fn pass(&mut self, detail: impl Into<String>) {
        self.close(StageStatus::Ok, detail.into());
    }

    pub fn fail(&mut self, detail: impl Into<String>) {
        self.close(StageStatus::Failed, detail.into());
    }

    /// Starts `stage` and keeps it open through the steps that follow (their `begin`, `pass`
    /// and `fail` become no-ops) until [`Trace::end_nested`].
    pub fn begin_nested(&mut self, stage: Stage) {
        self.begin(stage);
        self.nested = true;
    }

    /// Ends the nesting started by [`Trace::begin_nested`]; the stage is still open.
    pub fn end_nested(&mut self) {
        self.nested = false;
    }

    /// Records a stage that did not run (a dry run stops before delivering).
    pub fn skip(&mut self, stage: Stage, detail: impl Into<String>) {
        self.push(StageResult {
            stage,
            status: StageStatus::Skipped,
            ms: 0,
            detail: detail.into(),
        });
    }

    fn close(&mut self, status: StageStatus, detail: String) {
        if self.nested {
            return;
        }
        if let Some((stage, started)) = self.open.take() {
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.push(StageResult {
                stage,
                status,
                ms,
                detail,
            });
        }
    }

    fn push(&mut self, result: StageResult) {
        if let Some(listener) = &self.listener {
            // The listener may have gone (the client closed the stream); the report still
            // completes.
            let _ = listener.send(result.clone());
        }
        self.stages.push(result);
    }

    pub fn client(&mut self, text: &str) {
        self.line(Direction::Client, text);
    }

    pub fn server(&mut self, text: &str) {
        self.line(Direction::Server, text);
    }

    pub fn note(&mut self, text: &str) {
        self.line(Direction::Note, text);
    }

    fn line(&mut self, direction: Direction, text: &str) {
        if self.transcript.len() >= MAX_TRANSCRIPT_LINES {
            return;
        }
        let text = text.trim_end_matches(['\r', '\n']);
        let mut text: String = text
            .chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .take(MAX_LINE_CHARS)
            .collect();
        if text.chars().count() == MAX_LINE_CHARS {
            text.push('…');
        }
        self.transcript.push(TranscriptLine { direction, text });
        if self.transcript.len() == MAX_TRANSCRIPT_LINES {
            self.transcript.push(TranscriptLine {
                direction: Direction::Note,
                text: "transcript truncated".to_owned(),
            });
        }
    }

    /// Appends the transcript of `other` (steps run on a side trace, such as a token request).
    pub fn absorb(&mut self, other: Trace) {
        for line in other.transcript {
            self.line(line.direction, &line.text);
        }
    }

    pub fn stages(&self) -> &[StageResult] {
        &self.stages
    }

    pub fn transcript(&self) -> &[TranscriptLine] {
        &self.transcript
    }

    /// Ends the trace: an open stage is closed as failed with `detail`.
    pub fn finish(mut self, open_detail: &str) -> (Vec<StageResult>, Vec<TranscriptLine>) {
        self.nested = false;
        if self.open.is_some() {
            self.fail(open_detail);
        }
        (self.stages, self.transcript)
    }
}
