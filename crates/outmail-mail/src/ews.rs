//! Exchange Web Services: a SOAP `CreateItem` with `MessageDisposition="SendAndSaveCopy"` into
//! the sent-items folder, authenticated with basic, NTLM (the HTTP handshake on one
//! connection) or an OAuth bearer token (with `X-AnchorMailbox`, and `ExchangeImpersonation`
//! for app-only tokens). `ResponseCode`, `MessageText` and SOAP faults become causes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Method, Request, StatusCode};
use outmail_types::diagnosis::Stage;
use outmail_types::profile::EwsVersion;
use outmail_types::{HttpsUrl, Mailbox, SecretString};
use quick_xml::Reader;
use quick_xml::escape::escape;
use quick_xml::events::Event;

use crate::error::{MailError, Reason};
use crate::http_client::{self, HttpConnection, HttpSettings, ShowBody};
use crate::message::Letter;
use crate::ntlm::{self, NtlmCredentials};
use crate::trace::Trace;

const SOAP_ACTION: &str = "http://schemas.microsoft.com/exchange/services/2006/messages/CreateItem";

/// How the request authenticates.
#[derive(Debug, Clone)]
pub enum EwsAuth {
    Basic {
        username: String,
        password: SecretString,
    },
    Ntlm(NtlmCredentials),
    Bearer {
        token: SecretString,
        /// The mailbox the token acts for (`X-AnchorMailbox`).
        mailbox: String,
        /// App-only tokens must impersonate the mailbox.
        impersonate: bool,
    },
}

/// One EWS destination.
pub struct EwsTarget<'a> {
    pub url: &'a HttpsUrl,
    pub version: EwsVersion,
    pub http: &'a HttpSettings,
}

/// The SOAP envelope. Element order follows the EWS schema (`ItemType` then `MessageType`
/// sequences): X-headers (extended properties) before the recipients, From after Bcc, ReplyTo
/// after From, and in each mailbox Name before EmailAddress.
pub fn envelope(letter: &Letter, version: EwsVersion, impersonate: Option<&str>) -> String {
    let mut xml = String::with_capacity(2048);
    xml.push_str(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" \
         xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\">\
         <soap:Header>",
    );
    xml.push_str(&format!(
        "<t:RequestServerVersion Version=\"{}\"/>",
        version.as_str()
    ));
    if let Some(address) = impersonate {
        xml.push_str(&format!(
            "<t:ExchangeImpersonation><t:ConnectingSID><t:SmtpAddress>{}</t:SmtpAddress>\
             </t:ConnectingSID></t:ExchangeImpersonation>",
            escape(address)
        ));
    }
    xml.push_str(
        "</soap:Header><soap:Body>\
         <m:CreateItem MessageDisposition=\"SendAndSaveCopy\">\
         <m:SavedItemFolderId><t:DistinguishedFolderId Id=\"sentitems\"/></m:SavedItemFolderId>\
         <m:Items><t:Message>",
    );
    if let Some(mime) = &letter.mime {
        // A relayed message goes as the product built it: EWS reads From, To, Cc, the subject
        // and the body from the MIME. Bcc recipients are envelope-only, so they go as elements
        // (MessageType's BccRecipients), never as a header.
        xml.push_str(&format!(
            "<t:MimeContent CharacterSet=\"UTF-8\">{}</t:MimeContent>",
            BASE64.encode(mime)
        ));
        if !letter.bcc.is_empty() {
            xml.push_str("<t:BccRecipients>");
            for mailbox in &letter.bcc {
                push_mailbox(&mut xml, mailbox);
            }
            xml.push_str("</t:BccRecipients>");
        }
        xml.push_str("</t:Message></m:Items></m:CreateItem></soap:Body></soap:Envelope>");
        return xml;
    }
    xml.push_str(&format!(
        "<t:Subject>{}</t:Subject>",
        escape(&letter.subject)
    ));
    let (body_type, body) = match (&letter.html, &letter.text) {
        (Some(html), _) => ("HTML", html.as_str()),
        (None, text) => ("Text", text.as_deref().unwrap_or("")),
    };
    xml.push_str(&format!(
        "<t:Body BodyType=\"{body_type}\">{}</t:Body>",
        escape(body)
    ));
    // ItemType's order: Attachments right after Body.
    if !letter.attachments.is_empty() {
        xml.push_str("<t:Attachments>");
        for attachment in &letter.attachments {
            xml.push_str(&format!(
                "<t:FileAttachment><t:Name>{}</t:Name><t:ContentType>{}</t:ContentType>\
                 <t:Content>{}</t:Content></t:FileAttachment>",
                escape(&attachment.filename),
                escape(&attachment.content_type),
                BASE64.encode(&attachment.content)
            ));
        }
        xml.push_str("</t:Attachments>");
    }
    for (name, value) in &letter.headers {
        xml.push_str(&format!(
            "<t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId=\"InternetHeaders\" \
             PropertyName=\"{}\" PropertyType=\"String\"/><t:Value>{}</t:Value></t:ExtendedProperty>",
            escape(name),
            escape(value)
        ));
    }
    for (element, list) in [
        ("ToRecipients", &letter.to),
        ("CcRecipients", &letter.cc),
        ("BccRecipients", &letter.bcc),
    ] {
        if !list.is_empty() {
            xml.push_str(&format!("<t:{element}>"));
            for mailbox in list {
                push_mailbox(&mut xml, mailbox);
            }
            xml.push_str(&format!("</t:{element}>"));
        }
    }
    xml.push_str("<t:From>");
    push_mailbox(&mut xml, &letter.from);
    xml.push_str("</t:From>");
    if let Some(reply_to) = &letter.reply_to {
        xml.push_str("<t:ReplyTo>");
        push_mailbox(&mut xml, reply_to);
        xml.push_str("</t:ReplyTo>");
    }
    xml.push_str("</t:Message></m:Items></m:CreateItem></soap:Body></soap:Envelope>");
    xml
}

fn push_mailbox(xml: &mut String, mailbox: &Mailbox) {
    xml.push_str("<t:Mailbox>");
    if let Some(name) = mailbox.name() {
        xml.push_str(&format!("<t:Name>{}</t:Name>", escape(name.as_str())));
    }
    xml.push_str(&format!(
        "<t:EmailAddress>{}</t:EmailAddress></t:Mailbox>",
        escape(mailbox.address().to_string())
    ));
}

/// Sends `letter` with `CreateItem`. A dry run connects (and has any token) but creates
/// nothing: every EWS call that would check the message also creates it.
pub async fn send(
    trace: &mut Trace,
    target: &EwsTarget<'_>,
    auth: &EwsAuth,
    letter: &Letter,
    dry_run: bool,
) -> Result<Option<String>, MailError> {
    let impersonate = match auth {
        EwsAuth::Bearer {
            mailbox,
            impersonate: true,
            ..
        } => Some(mailbox.as_str()),
        _ => None,
    };
    let body = envelope(letter, target.version, impersonate).into_bytes();
    let mut connection = HttpConnection::open(trace, target.url, target.http).await?;
    if dry_run {
        trace.skip(
            Stage::Send,
            "dry run: the EWS server was reached; nothing was created or sent",
        );
        return Ok(None);
    }
    let uri = http_client::uri(target.url.as_str())?;
    let request = |authorization: String, body: Vec<u8>| {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"{SOAP_ACTION}\""))
            .header(AUTHORIZATION, authorization);
        if let EwsAuth::Bearer { mailbox, .. } = auth {
            builder = builder.header("X-AnchorMailbox", mailbox.as_str());
        }
        builder
            .body(body)
            .map_err(|e| MailError::new(Reason::InvalidMessage, Stage::Send, e.to_string()))
    };
    let response = match auth {
        EwsAuth::Basic { username, password } => {
            trace.begin(Stage::Send);
            let basic = BASE64.encode(format!("{username}:{}", password.expose()));
            connection
                .send(
                    trace,
                    Stage::Send,
                    request(format!("Basic {basic}"), body)?,
                    ShowBody::Always,
                )
                .await?
        }
        EwsAuth::Bearer { token, .. } => {
            trace.begin(Stage::Send);
            connection
                .send(
                    trace,
                    Stage::Send,
                    request(format!("Bearer {}", token.expose()), body)?,
                    ShowBody::Always,
                )
                .await?
        }
        EwsAuth::Ntlm(credentials) => {
            trace.begin(Stage::Auth);
            let negotiate = format!("NTLM {}", BASE64.encode(ntlm::negotiate()));
            let first = connection
                .send(
                    trace,
                    Stage::Auth,
                    request(negotiate, Vec::new())?,
                    ShowBody::Always,
                )
                .await?;
            let challenge = ntlm_challenge(&first)?;
            trace.pass("NTLM challenge received");
            trace.begin(Stage::Send);
            let answer = ntlm::authenticate(
                &challenge,
                credentials,
                ntlm::random_client_challenge()?,
                ntlm::filetime(target.http.clock.as_ref()),
            );
            connection
                .send(
                    trace,
                    Stage::Send,
                    request(format!("NTLM {}", BASE64.encode(answer)), body)?,
                    ShowBody::Always,
                )
                .await?
        }
    };
    let receipt = interpret(response.status(), response.body(), auth)?;
    trace.pass("NoError: sent, a copy saved to Sent Items");
    Ok(receipt)
}

/// The CHALLENGE from a 401 answer to the NEGOTIATE message.
fn ntlm_challenge(response: &::http::Response<bytes::Bytes>) -> Result<ntlm::Challenge, MailError> {
    let offered = response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("NTLM "));
    let Some(encoded) = offered else {
        let schemes: Vec<&str> = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        return Err(MailError::new(
            Reason::AuthMechanismUnavailable,
            Stage::Auth,
            if schemes.is_empty() {
                format!(
                    "the server answered {} to the NTLM negotiation, without a challenge",
                    response.status().as_u16()
                )
            } else {
                format!("the server offers {}, not NTLM", schemes.join(", "))
            },
        )
        .with_http_status(response.status().as_u16()));
    };
    let bytes = BASE64
        .decode(encoded.trim())
        .map_err(|_| MailError::new(Reason::Protocol, Stage::Auth, "NTLM challenge not base64"))?;
    ntlm::Challenge::parse(&bytes)
        .map_err(|e| MailError::new(Reason::Protocol, Stage::Auth, e.to_string()))
}

/// What an EWS answer means.
fn interpret(status: StatusCode, body: &[u8], auth: &EwsAuth) -> Result<Option<String>, MailError> {
    let parsed = ResponseFields::parse(body);
    if status == StatusCode::UNAUTHORIZED {
        let reason = match auth {
            EwsAuth::Bearer { .. } => Reason::OAuthTokenRejected,
            _ => Reason::AuthFailed,
        };
        return Err(MailError::new(
            reason,
            Stage::Send,
            "401 Unauthorized: the server refused the credentials",
        )
        .with_http_status(401));
    }
    if status.is_success() && parsed.response_class.as_deref() == Some("Success") {
        return Ok(Some("NoError: sent and saved to Sent Items".to_owned()));
    }
    let code = parsed
        .response_code
        .or(parsed.fault_code)
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    let words = parsed
        .message_text
        .or(parsed.fault_string)
        .unwrap_or_default();
    let reason = match code.as_str() {
        "ErrorAccessDenied" | "ErrorImpersonateUserDenied" | "ErrorImpersonationDenied" => {
            Reason::AccessDenied
        }
        "ErrorSendAsDenied" => Reason::SenderRejected,
        "ErrorNonExistentMailbox" | "ErrorInvalidSmtpAddress" | "ErrorNonPrimarySmtpAddress" => {
            Reason::MailboxNotFound
        }
        "ErrorInvalidRecipients" => Reason::RecipientRejected,
        "ErrorMessageSizeExceeded" => Reason::MessageTooLarge,
        "ErrorServerBusy" | "ErrorExceededConnectionCount" | "ErrorSubmissionQuotaExceeded" => {
            Reason::Throttled
        }
        "ErrorInternalServerTransientError" | "ErrorMailboxStoreUnavailable" => Reason::ServerError,
        "ErrorSchemaValidation" | "ErrorInvalidServerVersion" => Reason::Protocol,
        _ if status.is_server_error() => Reason::ServerError,
        _ => Reason::Rejected,
    };
    let mut error = MailError::new(reason, Stage::Send, format!("{code}: {words}"))
        .with_http_status(status.as_u16());
    error.retry_after = parsed.back_off_ms.map(std::time::Duration::from_millis);
    Err(error)
}

/// The fields of an EWS answer that matter, by local name (namespaces vary between the
/// response message and a SOAP fault).
#[derive(Debug, Default)]
struct ResponseFields {
    response_class: Option<String>,
    response_code: Option<String>,
    message_text: Option<String>,
    fault_code: Option<String>,
    fault_string: Option<String>,
    back_off_ms: Option<u64>,
}

impl ResponseFields {
    fn parse(body: &[u8]) -> Self {
        let mut fields = ResponseFields::default();
        let mut reader = Reader::from_reader(body);
        let mut current: Option<String> = None;
        let mut value_name: Option<String> = None;
        let mut text = String::new();
        let mut buffer = Vec::new();
        loop {
            match reader.read_event_into(&mut buffer) {
                Ok(Event::Start(element)) => {
                    current = Some(String::from_utf8_lossy(element.local_name().as_ref()).into());
                    text.clear();
                    for attribute in element.attributes().flatten() {
                        let value = String::from_utf8_lossy(&attribute.value).into_owned();
                        match attribute.key.local_name().as_ref() {
                            b"ResponseClass" if fields.response_class.is_none() => {
                                fields.response_class = Some(value);
                            }
                            b"Name" => value_name = Some(value),
                            _ => {}
                        }
                    }
                }
                Ok(Event::Text(chunk)) => text.push_str(&chunk.decode().unwrap_or_default()),
                // quick-xml reports `&amp;` and `&#233;` apart from the text around them.
                Ok(Event::GeneralRef(reference)) => {
                    let name = reference.decode().unwrap_or_default();
                    let resolved = match name.as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => reference.resolve_char_ref().ok().flatten(),
                    };
                    text.extend(resolved);
                }
                Ok(Event::End(_)) => {
                    let value = text.trim().to_owned();
                    match current.take().as_deref() {
                        Some("ResponseCode") if fields.response_code.is_none() => {
                            fields.response_code = Some(value);
                        }
                        Some("MessageText") if fields.message_text.is_none() => {
                            fields.message_text = Some(value);
                        }
                        // `a:ErrorServerBusy` → `ErrorServerBusy`.
                        Some("faultcode") => {
                            fields.fault_code = value.rsplit(':').next().map(str::to_owned);
                        }
                        Some("faultstring") => fields.fault_string = Some(value),
                        Some("Value") if value_name.as_deref() == Some("BackOffMilliseconds") => {
                            fields.back_off_ms = value.parse().ok();
                        }
                        _ => {}
                    }
                    text.clear();
                }
                Ok(Event::Eof) | Err(_) => break,
                _ => {}
            }
            buffer.clear();
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_and_error_responses_are_read() {
        let success = br#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:CreateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items/></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>"#;
        let auth = EwsAuth::Basic {
            username: "u".into(),
            password: SecretString::from("p"),
        };
        assert!(interpret(StatusCode::OK, success, &auth).is_ok());
        let denied = br#"<m:CreateItemResponseMessage xmlns:m="m" ResponseClass="Error"><m:MessageText>The user account &amp; rights.</m:MessageText><m:ResponseCode>ErrorSendAsDenied</m:ResponseCode></m:CreateItemResponseMessage>"#;
        let error = interpret(StatusCode::OK, denied, &auth).unwrap_err();
        assert_eq!(error.reason, Reason::SenderRejected);
        assert_eq!(
            error.detail,
            "ErrorSendAsDenied: The user account & rights."
        );
    }

    #[test]
    fn a_busy_fault_carries_its_back_off() {
        let fault = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="t">a:ErrorServerBusy</faultcode><faultstring>Try again later.</faultstring><detail><t:MessageXml xmlns:t="t"><t:Value Name="BackOffMilliseconds">2500</t:Value></t:MessageXml></detail></s:Fault></s:Body></s:Envelope>"#;
        let auth = EwsAuth::Basic {
            username: "u".into(),
            password: SecretString::from("p"),
        };
        let error = interpret(StatusCode::INTERNAL_SERVER_ERROR, fault, &auth).unwrap_err();
        assert_eq!(error.reason, Reason::Throttled);
        assert_eq!(
            error.retry_after,
            Some(std::time::Duration::from_millis(2500))
        );
    }
}
