//! Every reply the relay sends: the basic code (RFC 5321 §4.2), the enhanced status code
//! (RFC 3463, with RFC 4954 for AUTH, RFC 3207 for STARTTLS, RFC 6531 for SMTPUTF8) and words a
//! product's log can show. One table, so the documented replies and the sent ones cannot drift.

use std::borrow::Cow;

/// One reply; `text` may hold several lines (`\n`), each sent with the codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub status: &'static str,
    pub text: Cow<'static, str>,
}

impl Reply {
    pub const fn new(code: u16, status: &'static str, text: &'static str) -> Self {
        Self {
            code,
            status,
            text: Cow::Borrowed(text),
        }
    }

    pub fn with(code: u16, status: &'static str, text: String) -> Self {
        Self {
            code,
            status,
            text: Cow::Owned(text),
        }
    }

    /// Whether the client should give up (5yz) rather than try again later (4yz).
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// The reply on the wire: `250-…` for every line but the last, `250 …` for the last. Line
    /// breaks in the words never reach the wire unescaped: they split the reply into lines.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let lines: Vec<&str> = self.text.split('\n').map(str::trim_end).collect();
        for (n, line) in lines.iter().enumerate() {
            let separator = if n + 1 == lines.len() { ' ' } else { '-' };
            let line: String = line.chars().filter(|c| !c.is_control()).collect();
            if self.status.is_empty() {
                out.extend_from_slice(format!("{}{separator}{line}\r\n", self.code).as_bytes());
            } else {
                out.extend_from_slice(
                    format!("{}{separator}{} {line}\r\n", self.code, self.status).as_bytes(),
                );
            }
        }
    }
}

// Session.
pub const CLOSING: Reply = Reply::new(221, "2.0.0", "Bye");
pub const OK: Reply = Reply::new(250, "2.0.0", "OK");
pub const SENDER_OK: Reply = Reply::new(250, "2.1.0", "Sender OK");
pub const RECIPIENT_OK: Reply = Reply::new(250, "2.1.5", "Recipient OK");
pub const START_DATA: Reply = Reply::new(354, "", "Start mail input; end with <CRLF>.<CRLF>");
pub const VRFY: Reply = Reply::new(
    252,
    "2.1.5",
    "Cannot VRFY user, but will accept the message and attempt delivery",
);
pub const HELP: Reply = Reply::new(
    214,
    "2.0.0",
    "outmail relay: EHLO, AUTH PLAIN or LOGIN (password: an API token with the smtp:submit scope), MAIL, RCPT, DATA or BDAT, RSET, NOOP, QUIT",
);
pub const READY_FOR_TLS: Reply = Reply::new(220, "2.0.0", "Ready to start TLS");
pub const AUTH_OK: Reply = Reply::new(235, "2.7.0", "Authentication successful");
/// The LOGIN mechanism's prompts, base64 of "Username:" and "Password:".
pub const LOGIN_USERNAME: Reply = Reply::new(334, "", "VXNlcm5hbWU6");
pub const LOGIN_PASSWORD: Reply = Reply::new(334, "", "UGFzc3dvcmQ6");
pub const PLAIN_CONTINUE: Reply = Reply::new(334, "", "");

// Limits and timeouts.
pub const BUSY: Reply = Reply::new(421, "4.3.2", "Too many connections; try again later");
pub const IDLE: Reply = Reply::new(421, "4.4.2", "Idle timeout, closing the connection");
pub const SESSION_TOO_LONG: Reply = Reply::new(
    421,
    "4.4.2",
    "The session has lasted too long, closing the connection",
);
pub const TOO_MANY_COMMANDS: Reply = Reply::new(
    421,
    "4.7.0",
    "Too many commands in one session, closing the connection",
);
pub const TOO_MANY_ERRORS: Reply =
    Reply::new(421, "4.7.0", "Too many errors, closing the connection");
pub const SHUTTING_DOWN: Reply =
    Reply::new(421, "4.3.2", "The server is shutting down; try again later");
pub const LINE_TOO_LONG: Reply = Reply::new(500, "5.5.6", "Line too long");
pub const TOO_MANY_RECIPIENTS: Reply = Reply::new(452, "4.5.3", "Too many recipients");
pub const TOO_BIG: Reply = Reply::new(
    552,
    "5.3.4",
    "Message size exceeds the fixed maximum message size",
);

// Sequence and syntax.
pub const UNRECOGNISED: Reply = Reply::new(500, "5.5.1", "Command unrecognized");
pub const NOT_IMPLEMENTED: Reply = Reply::new(502, "5.5.1", "Command not implemented");
pub const SAY_HELLO_FIRST: Reply = Reply::new(503, "5.5.1", "Send EHLO or HELO first");
pub const NESTED_MAIL: Reply = Reply::new(503, "5.5.1", "A transaction is already in progress");
pub const MAIL_FIRST: Reply = Reply::new(503, "5.5.1", "Send MAIL first");
pub const RCPT_FIRST: Reply = Reply::new(503, "5.5.1", "Send RCPT first: there is no recipient");
pub const NO_VALID_RECIPIENTS: Reply = Reply::new(554, "5.5.1", "No valid recipients");
pub const ALREADY_AUTHENTICATED: Reply = Reply::new(503, "5.5.1", "Already authenticated");
pub const ALREADY_TLS: Reply = Reply::new(503, "5.5.1", "TLS is already active");
pub const NO_TLS: Reply = Reply::new(
    454,
    "4.7.0",
    "TLS not available: the relay has no certificate (--smtp-tls-cert)",
);
pub const BDAT_MIXED: Reply = Reply::new(503, "5.5.1", "DATA cannot follow BDAT in one message");
pub const BAD_BASE64: Reply = Reply::new(501, "5.5.2", "Cannot decode the base64 response");
pub const AUTH_CANCELLED: Reply = Reply::new(501, "5.0.0", "Authentication cancelled");
pub const UNKNOWN_MECHANISM: Reply = Reply::new(
    504,
    "5.5.4",
    "Unrecognized authentication type: use PLAIN or LOGIN",
);

// Who may submit.
pub const AUTH_REQUIRED: Reply = Reply::new(
    530,
    "5.7.0",
    "Authentication required: AUTH with an API token that has the smtp:submit scope",
);
pub const ENCRYPTION_REQUIRED: Reply = Reply::new(
    538,
    "5.7.11",
    "Encryption required for requested authentication mechanism: send STARTTLS first",
);
pub const AUTH_NEVER_IN_CLEAR: Reply = Reply::new(
    538,
    "5.7.11",
    "AUTH is refused on this listener: it has no certificate, and a token must not cross the network in clear text",
);
pub const WRONG_TOKEN: Reply = Reply::new(
    535,
    "5.7.8",
    "Authentication credentials invalid: the password must be an outmail API token",
);
pub const MISSING_SCOPE: Reply = Reply::new(
    535,
    "5.7.8",
    "Authentication credentials invalid: this API token has neither the smtp:submit nor the messages:send scope",
);

// Addresses.
pub const BAD_SENDER: Reply = Reply::new(553, "5.1.7", "The sender address is not valid");
pub const BAD_RECIPIENT: Reply = Reply::new(553, "5.1.3", "The recipient address is not valid");
pub const NEEDS_SMTPUTF8: Reply = Reply::new(
    553,
    "5.6.7",
    "A non-ASCII address needs the SMTPUTF8 parameter on MAIL",
);

// The message.
pub const BARE_LINE_END: Reply = Reply::new(
    550,
    "5.6.11",
    "Message refused: it has a bare LF or CR; SMTP lines end in CRLF (RFC 5321 section 2.3.8)",
);
pub const STORAGE_FAULT: Reply = Reply::new(
    451,
    "4.3.0",
    "The message could not be stored; it was not accepted, try again later",
);
pub const SENDING_OFF: Reply = Reply::new(
    451,
    "4.3.2",
    "Sending is switched off in outmail's global settings; nothing was stored, try again later",
);

/// The EHLO reply: the greeting line, then one extension a line.
pub fn ehlo(hostname: &str, client: &str, extensions: &[String]) -> Reply {
    let mut text = format!("{hostname} greets {client}");
    for extension in extensions {
        text.push('\n');
        text.push_str(extension);
    }
    Reply::with(250, "", text)
}

pub fn greeting(hostname: &str) -> Reply {
    Reply::with(220, "", format!("{hostname} ESMTP outmail"))
}

pub fn queued(id: &str) -> Reply {
    Reply::with(250, "2.0.0", format!("OK: queued as {id}"))
}

/// A repeat within the send frequency: answered as accepted, so the client stops retrying,
/// and not sent again.
pub fn duplicate(id: &str) -> Reply {
    Reply::with(
        250,
        "2.0.0",
        format!("OK: {id} is a repeat of a message already accepted; it is not sent again"),
    )
}

pub fn chunk_received(bytes: usize) -> Reply {
    Reply::with(250, "2.0.0", format!("{bytes} octets received"))
}

pub fn throttled(wait_seconds: u64) -> Reply {
    Reply::with(
        454,
        "4.7.0",
        format!("Too many failed AUTH attempts from this address; try again in {wait_seconds} s"),
    )
}

pub fn syntax(detail: &str) -> Reply {
    Reply::with(501, "5.5.4", format!("Syntax error: {detail}"))
}

pub fn size_declared(limit: u64) -> Reply {
    Reply::with(
        552,
        "5.3.4",
        format!("Message size exceeds the fixed maximum message size of {limit} bytes"),
    )
}

pub fn no_profile(detail: &str) -> Reply {
    Reply::with(
        451,
        "4.3.5",
        format!("No profile sends this mail: {detail}"),
    )
}

pub fn not_authorised(detail: &str) -> Reply {
    Reply::with(550, "5.7.1", detail.to_owned())
}

pub fn invalid_content(detail: &str) -> Reply {
    Reply::with(554, "5.6.0", format!("Message refused: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(reply: &Reply) -> String {
        let mut out = Vec::new();
        reply.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn multi_line_replies_continue_with_a_dash_and_end_with_a_space() {
        let reply = ehlo(
            "relay.example",
            "client",
            &["PIPELINING".into(), "SIZE 10".into()],
        );
        assert_eq!(
            wire(&reply),
            "250-relay.example greets client\r\n250-PIPELINING\r\n250 SIZE 10\r\n"
        );
        assert_eq!(wire(&OK), "250 2.0.0 OK\r\n");
        assert_eq!(
            wire(&START_DATA),
            "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
        );
    }

    #[test]
    fn words_cannot_smuggle_a_line_break_or_a_control_character() {
        let reply = invalid_content("a\rb\u{7}c");
        assert_eq!(wire(&reply), "554 5.6.0 Message refused: abc\r\n");
    }
}
