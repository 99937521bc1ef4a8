//! Local delivery: the message is handed to this machine's MTA through its sendmail-compatible
//! program (`sendmail -i -f <sender> -- <recipients>`, the message on standard input), the
//! interface Postfix, Exim, OpenSMTPD and Sendmail all provide. The program's exit status
//! (sysexits) and its own words say what went wrong.

use std::process::Stdio;
use std::time::Duration;

use outmail_types::diagnosis::Stage;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::time::timeout;

use crate::error::{MailError, Reason};
use crate::smtp::Outgoing;
use crate::trace::Trace;

/// Hands `message` to `program`. A dry run checks that the program exists and may be run.
pub async fn send(
    trace: &mut Trace,
    program: &str,
    message: &Outgoing,
    limit: Duration,
    dry_run: bool,
) -> Result<Option<String>, MailError> {
    check_program(program)?;
    if dry_run {
        trace.skip(
            Stage::Send,
            format!("dry run: {program} is present and executable; nothing was handed to it"),
        );
        return Ok(None);
    }
    trace.begin(Stage::Send);
    let sender = message
        .envelope
        .from()
        .map(ToString::to_string)
        .unwrap_or_default();
    let recipients: Vec<String> = message
        .envelope
        .to()
        .iter()
        .map(ToString::to_string)
        .collect();
    // `-i`: a line with a single dot is content, not the end. `--`: no recipient can be read
    // as an option.
    let mut arguments = vec!["-i".to_owned(), "-f".to_owned(), sender, "--".to_owned()];
    arguments.extend(recipients);
    trace.client(&format!("{program} {}", arguments.join(" ")));
    trace.client(&format!(
        "[message of {} bytes on standard input, not shown]",
        message.formatted.len()
    ));
    let mut child = Command::new(program)
        .args(&arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            MailError::new(
                Reason::LocalMtaMissing,
                Stage::Send,
                format!("{program} could not be started: {e}"),
            )
        })?;
    // Local programs take Unix line ends; the message is built with SMTP's CRLF.
    let unix_text = unix_line_ends(&message.formatted);
    let run = async {
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(&unix_text).await?;
            stdin.shutdown().await?;
        }
        child.wait_with_output().await
    };
    let output = match timeout(limit, run).await {
        Err(_) => {
            return Err(MailError::new(
                Reason::Timeout,
                Stage::Send,
                format!("{program} did not finish within {limit:?}"),
            ));
        }
        Ok(Err(e)) => {
            return Err(MailError::new(
                Reason::ConnectionDropped,
                Stage::Send,
                format!("{program} failed while reading the message: {e}"),
            ));
        }
        Ok(Ok(output)) => output,
    };
    let words = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    for line in words.lines().take(20) {
        trace.server(line);
    }
    let Some(status) = output.status.code() else {
        return Err(MailError::new(
            Reason::ConnectionDropped,
            Stage::Send,
            format!("{program} was killed by a signal"),
        ));
    };
    if status == 0 {
        trace.pass(format!("{program} accepted the message"));
        return Ok(Some(format!("accepted by {program}")));
    }
    // sysexits.h, which sendmail-compatible programs follow.
    let reason = match status {
        67 => Reason::RecipientRejected,       // EX_NOUSER
        68 => Reason::DnsFailed,               // EX_NOHOST
        69 | 75 => Reason::ServiceUnavailable, // EX_UNAVAILABLE, EX_TEMPFAIL
        _ => Reason::Rejected,
    };
    let detail = if words.is_empty() {
        format!("{program} exited with status {status}")
    } else {
        format!("{program} exited with status {status}: {words}")
    };
    Err(MailError::new(reason, Stage::Send, detail).with_exit_status(status))
}

fn unix_line_ends(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut bytes = message.iter().peekable();
    while let Some(&byte) = bytes.next() {
        if byte == b'\r' && bytes.peek() == Some(&&b'\n') {
            continue;
        }
        out.push(byte);
    }
    out
}

fn check_program(program: &str) -> Result<(), MailError> {
    use std::os::unix::fs::PermissionsExt;
    let missing = |why: String| MailError::new(Reason::LocalMtaMissing, Stage::Prepare, why);
    let metadata = std::fs::metadata(program)
        .map_err(|e| missing(format!("{program} cannot be used: {e}")))?;
    if !metadata.is_file() || metadata.permissions().mode() & 0o111 == 0 {
        return Err(missing(format!("{program} is not an executable file")));
    }
    Ok(())
}
