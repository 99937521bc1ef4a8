//! Microsoft Graph `sendMail`: `POST {endpoint}/v1.0/users/{sender}/sendMail` with a bearer
//! token and the JSON message; `202 Accepted` is success. Error answers
//! (`{"error":{"code","message"}}`) become causes with remedies.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, StatusCode};
use outmail_types::diagnosis::Stage;
use outmail_types::{HttpsUrl, Mailbox, SecretString};
use serde_json::{Value, json};

use crate::error::{MailError, Reason};
use crate::http_client::{self, HttpConnection, HttpSettings, ShowBody};
use crate::message::Letter;
use crate::trace::Trace;

/// Graph refuses more custom headers than this (`InvalidInternetMessageHeaderCollection`).
const MAX_HEADERS: usize = 5;

/// One Graph destination.
pub struct GraphTarget<'a> {
    pub endpoint: &'a HttpsUrl,
    /// The mailbox that sends (the URL's user).
    pub mailbox: &'a str,
    pub save_to_sent_items: bool,
    pub http: &'a HttpSettings,
}

/// The `sendMail` URL for `mailbox` (percent-encoded as one path segment).
pub fn send_mail_url(endpoint: &HttpsUrl, mailbox: &str) -> Result<String, MailError> {
    let mut url = url::Url::parse(&endpoint.join("v1.0/users")).map_err(|e| {
        MailError::new(
            Reason::InvalidMessage,
            Stage::Prepare,
            format!("the Graph endpoint cannot be used: {e}"),
        )
    })?;
    url.path_segments_mut()
        .map_err(|()| MailError::new(Reason::InvalidMessage, Stage::Prepare, "bad Graph endpoint"))?
        .push(mailbox)
        .push("sendMail");
    Ok(url.to_string())
}

/// The request body Graph documents for `sendMail`.
pub fn request_body(letter: &Letter, save_to_sent_items: bool) -> Result<Value, MailError> {
    if letter.headers.len() > MAX_HEADERS {
        return Err(MailError::new(
            Reason::InvalidMessage,
            Stage::Prepare,
            format!(
                "Microsoft Graph takes at most {MAX_HEADERS} custom headers; this message has {}",
                letter.headers.len()
            ),
        ));
    }
    let recipient = |m: &Mailbox| {
        let mut address = json!({ "address": m.address().to_string() });
        if let Some(name) = m.name() {
            address["name"] = json!(name.as_str());
        }
        json!({ "emailAddress": address })
    };
    let list = |list: &[Mailbox]| Value::Array(list.iter().map(recipient).collect());
    let body = match (&letter.html, &letter.text) {
        (Some(html), _) => json!({ "contentType": "html", "content": html }),
        (None, text) => json!({ "contentType": "text", "content": text.as_deref().unwrap_or("") }),
    };
    let mut message = json!({
        "subject": letter.subject,
        "body": body,
        "from": recipient(&letter.from),
    });
    // Empty lists and an empty header collection are left out: Graph refuses `[]` headers.
    for (key, mailboxes) in [
        ("toRecipients", &letter.to),
        ("ccRecipients", &letter.cc),
        ("bccRecipients", &letter.bcc),
    ] {
        if !mailboxes.is_empty() {
            message[key] = list(mailboxes);
        }
    }
    if let Some(reply_to) = &letter.reply_to {
        message["replyTo"] = list(std::slice::from_ref(reply_to));
    }
    if !letter.attachments.is_empty() {
        message["attachments"] = letter
            .attachments
            .iter()
            .map(|a| {
                json!({
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "name": a.filename,
                    "contentType": a.content_type,
                    "contentBytes": BASE64.encode(&a.content),
                })
            })
            .collect();
    }
    if !letter.headers.is_empty() {
        message["internetMessageHeaders"] = letter
            .headers
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect();
    }
    Ok(json!({ "message": message, "saveToSentItems": save_to_sent_items }))
}

/// The body of a MIME `sendMail`: the message, base64-encoded, sent as `text/plain`. Graph
/// takes a MIME message's recipients from its headers only, so the envelope-only (Bcc)
/// recipients go in a `Bcc:` header, which Exchange removes before it delivers. (Graph saves
/// a MIME send to Sent Items; `saveToSentItems` exists only in the JSON form.)
fn mime_request_body(letter: &Letter, mime: &[u8]) -> Result<Vec<u8>, MailError> {
    let message = if letter.bcc.is_empty() {
        mime.to_vec()
    } else {
        let bcc = letter
            .bcc
            .iter()
            .map(|m| m.address().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        crate::mime::with_header(mime, "Bcc", &bcc)
            .map_err(|e| MailError::new(Reason::InvalidMessage, Stage::Prepare, e.to_string()))?
    };
    Ok(BASE64.encode(message).into_bytes())
}

/// Sends `letter` through Graph. A dry run connects (and has fetched the token) but posts
/// nothing: Graph has no way to check a message without sending it.
pub async fn send(
    trace: &mut Trace,
    target: &GraphTarget<'_>,
    token: &SecretString,
    letter: &Letter,
    dry_run: bool,
) -> Result<Option<String>, MailError> {
    let url_text = send_mail_url(target.endpoint, target.mailbox)?;
    let (content_type, body) = match &letter.mime {
        Some(mime) => ("text/plain", mime_request_body(letter, mime)?),
        None => (
            "application/json",
            serde_json::to_vec(&request_body(letter, target.save_to_sent_items)?).map_err(|e| {
                MailError::new(Reason::InvalidMessage, Stage::Prepare, e.to_string())
            })?,
        ),
    };
    let url = HttpsUrl::parse(&url_text)
        .map_err(|e| MailError::new(Reason::InvalidMessage, Stage::Prepare, e.to_string()))?;
    let mut connection = HttpConnection::open(trace, &url, target.http).await?;
    if dry_run {
        trace.skip(
            Stage::Send,
            "dry run: Graph was reached and a token obtained; nothing was sent",
        );
        return Ok(None);
    }
    trace.begin(Stage::Send);
    let request = Request::builder()
        .method(Method::POST)
        .uri(http_client::uri(&url_text)?)
        .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .map_err(|e| MailError::new(Reason::InvalidMessage, Stage::Send, e.to_string()))?;
    let response = connection
        .send(trace, Stage::Send, request, ShowBody::Always)
        .await?;
    let status = response.status();
    if status == StatusCode::ACCEPTED {
        trace.pass("202 Accepted");
        return Ok(Some(format!("202 Accepted by {}", target.endpoint.host())));
    }
    let (code, message) = error_of(response.body());
    let reason = match (status.as_u16(), code.as_str()) {
        (401, _) => Reason::GraphUnauthorized,
        (403, "ErrorSendAsDenied") => Reason::SenderRejected,
        (403, _) => Reason::AccessDenied,
        (404, _) => Reason::MailboxNotFound,
        (400, "ErrorInvalidRecipients") => Reason::RecipientRejected,
        (413, _) => Reason::MessageTooLarge,
        (429, _) => Reason::Throttled,
        (500..=599, _) => Reason::ServerError,
        _ => Reason::Rejected,
    };
    let mut error = MailError::new(
        reason,
        Stage::Send,
        format!("{} {code}: {message}", status.as_u16()),
    )
    .with_http_status(status.as_u16());
    error.retry_after = http_client::retry_after(&response);
    Err(error)
}

/// `code` and `message` from Graph's error envelope (either may be missing).
fn error_of(body: &[u8]) -> (String, String) {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |name: &str| {
        parsed["error"][name]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let code = field("code");
    let message = field("message");
    if code.is_empty() && message.is_empty() {
        let text = String::from_utf8_lossy(body);
        return (
            "no Graph error code".to_owned(),
            text.chars().take(200).collect(),
        );
    }
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_encodes_the_mailbox_as_one_segment() {
        let endpoint = HttpsUrl::parse("https://graph.microsoft.us/").unwrap();
        assert_eq!(
            send_mail_url(&endpoint, "ops/1@contoso.example").unwrap(),
            "https://graph.microsoft.us/v1.0/users/ops%2F1@contoso.example/sendMail"
        );
    }

    #[test]
    fn graph_error_envelopes_are_read() {
        let (code, message) =
            error_of(br#"{"error":{"code":"ErrorAccessDenied","message":"Access is denied."}}"#);
        assert_eq!(code, "ErrorAccessDenied");
        assert_eq!(message, "Access is denied.");
        let (code, message) = error_of(b"<html>bad gateway</html>");
        assert_eq!(code, "no Graph error code");
        assert_eq!(message, "<html>bad gateway</html>");
    }
}
