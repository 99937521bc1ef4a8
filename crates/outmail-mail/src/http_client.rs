//! HTTP/1.1 for EWS, Microsoft Graph and OAuth token endpoints, over the same stream code as
//! SMTP: resolve, connect (through the profile's proxy), TLS with the same roots and error
//! causes, then hyper's client connection. One connection per exchange (NTLM needs several
//! requests on one connection, so [`HttpConnection`] can be kept for more).
//!
//! Redirects are never followed: a token or a password must only go to the URL it was entered
//! for.

use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, HOST, HeaderValue};
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use outmail_types::HttpsUrl;
use outmail_types::diagnosis::Stage;
use tokio::time::timeout;

use crate::egress::EgressPolicy;
use crate::error::{MailError, Reason};
use crate::net::{self, ProxySettings, Timeouts};
use crate::tls::TlsSettings;
use crate::trace::Trace;

/// The largest response body we read: EWS and Graph answers are a few KB, and a misdirected
/// URL must not fill memory.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Whether the response body goes into the transcript. Token responses carry tokens, so they
/// are shown only when they are errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowBody {
    Always,
    OnError,
}

/// Where HTTP requests of one profile go, and how.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub tls: TlsSettings,
    pub proxy: Option<ProxySettings>,
    pub timeouts: Timeouts,
    pub egress: EgressPolicy,
    /// What the calls stamp with "now" (an OAuth client assertion, an NTLM response).
    pub clock: outmail_clock::SharedClock,
}

/// An open HTTP/1.1 connection to one origin.
pub struct HttpConnection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    limit: Duration,
}

impl HttpConnection {
    /// Resolves, connects and (for https) runs TLS to `url`'s origin, recording the `resolve`,
    /// `connect` and `tls` stages.
    pub async fn open(
        trace: &mut Trace,
        url: &HttpsUrl,
        settings: &HttpSettings,
    ) -> Result<Self, MailError> {
        let host = url.host();
        let port = url.port();
        let (mut stream, _) = net::open(
            trace,
            host,
            port,
            settings.proxy.as_ref(),
            settings.timeouts,
            &settings.egress,
        )
        .await?;
        if url.is_https() {
            trace.begin(Stage::Tls);
            let (tls, detail) = settings
                .tls
                .handshake(stream, host, settings.timeouts.command)
                .await?;
            trace.note(&detail);
            trace.pass(detail);
            stream = tls;
        }
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| MailError::new(Reason::Protocol, Stage::Send, e.to_string()))?;
        // The connection task ends when the sender is dropped or the peer closes.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let default_port = if url.is_https() { 443 } else { 80 };
        let host = if port.get() == default_port {
            host.url_host().into_owned()
        } else {
            format!("{}:{}", host.url_host(), port)
        };
        Ok(Self {
            sender,
            host,
            limit: settings.timeouts.data,
        })
    }

    /// Sends one request and reads the whole response (at most 1 MiB) within the data
    /// timeout. The request's URI is sent in origin form (`/path?query`); `Host` and
    /// `Content-Length` are set here. Failures carry `stage`.
    pub async fn send(
        &mut self,
        trace: &mut Trace,
        stage: Stage,
        request: Request<Vec<u8>>,
        show: ShowBody,
    ) -> Result<Response<Bytes>, MailError> {
        let (mut parts, body) = request.into_parts();
        let target = parts
            .uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        parts.uri = target
            .parse()
            .map_err(|_| MailError::new(Reason::InvalidMessage, stage, "invalid request path"))?;
        parts.headers.insert(
            HOST,
            HeaderValue::from_str(&self.host)
                .map_err(|_| MailError::new(Reason::InvalidMessage, stage, "invalid host"))?,
        );
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        trace.client(&format!("{} {target} HTTP/1.1", parts.method));
        for (name, value) in &parts.headers {
            if name == AUTHORIZATION {
                let scheme = value
                    .to_str()
                    .ok()
                    .and_then(|v| v.split_whitespace().next())
                    .unwrap_or("");
                trace.client(&format!("{name}: {scheme} [credentials redacted]"));
            } else if name != HOST && name != CONTENT_LENGTH {
                trace.client(&format!("{name}: {}", value.to_str().unwrap_or("[binary]")));
            }
        }
        if !body.is_empty() {
            trace.client(&format!(
                "[request body of {} bytes, not shown]",
                body.len()
            ));
        }
        let request = Request::from_parts(parts, Full::new(Bytes::from(body)));
        let exchange = async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| ExchangeError::Body(e.to_string()))?
                .to_bytes();
            Ok::<_, ExchangeError>(Response::from_parts(parts, body))
        };
        let response = match timeout(self.limit, exchange).await {
            Err(_) => {
                return Err(MailError::new(
                    Reason::Timeout,
                    stage,
                    format!("no complete answer within {:?}", self.limit),
                ));
            }
            Ok(Err(ExchangeError::Hyper(e))) => {
                let reason = if e.is_incomplete_message() || e.is_closed() {
                    Reason::ConnectionDropped
                } else {
                    Reason::Protocol
                };
                return Err(MailError::new(reason, stage, http_error_words(&e)));
            }
            Ok(Err(ExchangeError::Body(e))) => {
                return Err(MailError::new(
                    Reason::Protocol,
                    stage,
                    format!("the response body could not be read: {e}"),
                ));
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        trace.server(&format!(
            "HTTP/1.1 {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ));
        for name in [
            "content-type",
            "retry-after",
            "www-authenticate",
            "request-id",
        ] {
            for value in response.headers().get_all(name) {
                trace.server(&format!("{name}: {}", value.to_str().unwrap_or("[binary]")));
            }
        }
        let body = response.body();
        if !body.is_empty() {
            if show == ShowBody::Always || !status.is_success() {
                trace.server(&String::from_utf8_lossy(body));
            } else {
                trace.server(&format!(
                    "[response body of {} bytes, not shown]",
                    body.len()
                ));
            }
        }
        Ok(response)
    }
}

enum ExchangeError {
    Hyper(hyper::Error),
    Body(String),
}

impl From<hyper::Error> for ExchangeError {
    fn from(e: hyper::Error) -> Self {
        ExchangeError::Hyper(e)
    }
}

/// hyper's error with its cause: "connection closed before message completed".
fn http_error_words(e: &hyper::Error) -> String {
    let mut words = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        words.push_str(": ");
        words.push_str(&cause.to_string());
        source = cause.source();
    }
    words
}

/// The `Retry-After` header in seconds, which Graph sends as a decimal (`2.128`); an HTTP date
/// is not used by these services and is ignored.
pub fn retry_after(response: &Response<Bytes>) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

/// Parses `url` for an HTTP request to it, as a URI.
pub fn uri(url: &str) -> Result<http::Uri, MailError> {
    url.parse().map_err(|_| {
        MailError::new(
            Reason::InvalidMessage,
            Stage::Prepare,
            format!("{url} is not a valid URL"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_decimal_seconds_and_ignores_dates() {
        let with = |value: &str| {
            let response = Response::builder()
                .header("retry-after", value)
                .body(Bytes::new())
                .unwrap();
            retry_after(&response)
        };
        assert_eq!(with("2.128"), Some(Duration::from_millis(2128)));
        assert_eq!(with("10"), Some(Duration::from_secs(10)));
        assert_eq!(with("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(with("-1"), None);
        assert_eq!(with("999999"), Some(Duration::from_secs(3600)));
    }
}
