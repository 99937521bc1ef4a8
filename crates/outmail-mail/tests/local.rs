//! Local delivery through a sendmail-compatible program: the command line and standard input
//! it gets, its exit statuses, and a missing program. (Delivery into a real Postfix through its
//! own sendmail is in `postfix.rs`.)

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use outmail_testkit::{profile, reason, run, stages};

fn local_draft(program: &Path) -> String {
    format!(
        r#"{{
          "name": "Local MTA",
          "transport": {{"kind": "local", "sendmail_path": "{}"}},
          "sender": {{"address": "\"Ops\" <ops@example.com>"}},
          "signature": ".\nA line that is only a dot, above",
          "utf8_headers": false
        }}"#,
        program.display()
    )
}

/// A program that records its arguments and standard input, then exits with `status`.
fn recording_program(dir: &Path, status: i32, stderr: &str) -> std::path::PathBuf {
    let path = dir.join("sendmail");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{dir}/args'\ncat > '{dir}/stdin'\nprintf '%s' '{stderr}' >&2\nexit {status}\n",
            dir = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn the_message_goes_to_the_program_with_the_envelope_on_its_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let program = recording_program(dir.path(), 0, "");
    let (spec, secrets) = profile(&local_draft(&program));
    let report = run(spec, secrets, "rcpt@example.net", false).await;
    assert_eq!(reason(&report), "none", "{report:#?}");
    assert_eq!(stages(&report), ["prepare:ok", "send:ok"]);
    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert_eq!(args, "-i\n-f\nops@example.com\n--\nrcpt@example.net\n");
    let message = std::fs::read_to_string(dir.path().join("stdin")).unwrap();
    assert!(
        message.contains("From: Ops <ops@example.com>\n"),
        "{message}"
    );
    assert!(
        !message.contains('\r'),
        "Unix line ends for a local program"
    );
    // `-i`: a line with only a dot is content, given as it is.
    assert!(
        message.contains("\n.\nA line that is only a dot"),
        "{message}"
    );
}

#[tokio::test]
async fn a_dry_run_only_checks_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let program = recording_program(dir.path(), 0, "");
    let (spec, secrets) = profile(&local_draft(&program));
    let report = run(spec, secrets, "rcpt@example.net", true).await;
    assert_eq!(reason(&report), "none");
    assert_eq!(stages(&report), ["prepare:ok", "send:skipped"]);
    assert!(!dir.path().join("stdin").exists());
}

#[tokio::test]
async fn exit_statuses_become_causes_with_the_programs_words() {
    for (status, expected) in [
        (75, "service_unavailable"),
        (67, "recipient_rejected"),
        (1, "rejected"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let program = recording_program(dir.path(), status, "queue file write error");
        let (spec, secrets) = profile(&local_draft(&program));
        let report = run(spec, secrets, "rcpt@example.net", false).await;
        let failure = report.failure.as_ref().expect("a failure");
        assert_eq!(failure.reason, expected, "{failure:#?}");
        assert_eq!(failure.code, Some(u16::try_from(status).unwrap()));
        assert!(
            failure.message.contains("queue file write error"),
            "{failure:#?}"
        );
    }
}

#[tokio::test]
async fn a_missing_program_points_at_the_sendmail_path() {
    let (spec, secrets) = profile(&local_draft(Path::new("/nonexistent/sbin/sendmail")));
    let report = run(spec, secrets, "rcpt@example.net", false).await;
    let failure = report.failure.as_ref().expect("a failure");
    assert_eq!(failure.reason, "local_mta_missing");
    assert_eq!(failure.field.as_deref(), Some("transport.sendmail_path"));
}
