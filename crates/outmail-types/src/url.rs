//! Absolute HTTPS URLs for endpoints that receive credentials or tokens (EWS, Graph, OAuth).
//!
//! A small hand parser instead of the `url` crate: we accept only `https://host[:port]/path?query`
//! (plus `http://` on loopback for test fakes), and want to *reject* what WHATWG parsing quietly
//! repairs (`https:host`, backslashes, embedded tabs, userinfo). It also keeps the UI bundle free
//! of `url`'s parser; IDN handling reuses [`Host`], which already pulls in `idna`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::host::{Host, InvalidHost, InvalidPort, Port};
use crate::text::{codepoint, is_line_break};

/// The longest URL we store; token and EWS URLs are far shorter.
const MAX_LEN: usize = 2048;

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUrl {
    #[error("enter a URL")]
    Empty,
    #[error("a URL cannot contain spaces (encode them as %20)")]
    Whitespace,
    #[error("a URL cannot contain line breaks or control characters ({0})")]
    ControlCharacter(String),
    #[error("enter a full URL starting with https://")]
    NotAbsolute,
    #[error("the URL must use https:// (found {scheme}://)")]
    NotHttps { scheme: String },
    // Plain http is only for fakes on this machine; anywhere else credentials would travel in
    // clear text.
    #[error("http:// is only allowed for localhost; use https://")]
    HttpNotLoopback,
    #[error("remove the user name and password from the URL; use the authentication fields")]
    Userinfo,
    #[error("remove the \"#…\" part: a fragment is never sent to the server")]
    Fragment,
    #[error("the URL has no host")]
    MissingHost,
    #[error("the host in the URL is invalid: {0}")]
    Host(InvalidHost),
    #[error("the port in the URL is invalid: {0}")]
    Port(InvalidPort),
    #[error("a \"%\" must be followed by two hex digits")]
    BadPercentEncoding,
    #[error("a URL must be at most {MAX_LEN} characters")]
    TooLong,
}

error_codes!(InvalidUrl {
    Me::Empty => "empty",
    Me::Whitespace => "whitespace",
    Me::ControlCharacter(_) => "control_character",
    Me::NotAbsolute => "not_absolute",
    Me::NotHttps { .. } => "not_https",
    Me::HttpNotLoopback => "not_https",
    Me::Userinfo => "userinfo",
    Me::Fragment => "fragment",
    Me::MissingHost => "missing_host",
    Me::Host(_) => "invalid_host",
    Me::Port(_) => "invalid_port",
    Me::BadPercentEncoding => "bad_percent_encoding",
    Me::TooLong => "too_long",
});

/// An absolute `https://` URL (or `http://` to a loopback host), canonical: lowercase scheme and
/// host, punycode host, default port dropped, non-ASCII in path/query percent-encoded.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct HttpsUrl {
    text: String,
    https: bool,
    host: Host,
    port: Option<Port>,
    /// Where the path (and query) start in `text`.
    path_start: usize,
}

impl HttpsUrl {
    pub fn parse(input: &str) -> Result<Self, InvalidUrl> {
        if let Some(c) = input.chars().find(|&c| c.is_control() || is_line_break(c)) {
            return Err(InvalidUrl::ControlCharacter(codepoint(c)));
        }
        let s = input.trim();
        if s.is_empty() {
            return Err(InvalidUrl::Empty);
        }
        if s.chars().any(char::is_whitespace) {
            return Err(InvalidUrl::Whitespace);
        }
        if s.contains('#') {
            return Err(InvalidUrl::Fragment);
        }
        let (scheme, rest) = s.split_once("://").ok_or(InvalidUrl::NotAbsolute)?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else if !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err(InvalidUrl::NotHttps {
                scheme: scheme.to_ascii_lowercase(),
            });
        } else {
            return Err(InvalidUrl::NotAbsolute);
        };

        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(InvalidUrl::Userinfo);
        }
        if authority.is_empty() {
            return Err(InvalidUrl::MissingHost);
        }
        let (host_text, port_text) = split_host_port(authority)?;
        let host = Host::parse(host_text).map_err(InvalidUrl::Host)?;
        let port = match port_text {
            Some(p) if !p.is_empty() => Some(Port::parse(p).map_err(InvalidUrl::Port)?),
            _ => None,
        };
        if !https && !host.is_loopback() {
            return Err(InvalidUrl::HttpNotLoopback);
        }
        let default_port = if https { Port::HTTPS } else { Port::HTTP };
        let port = port.filter(|p| *p != default_port);

        let mut text = String::with_capacity(s.len());
        text.push_str(if https { "https://" } else { "http://" });
        text.push_str(&host.url_host());
        if let Some(p) = port {
            text.push(':');
            text.push_str(&p.to_string());
        }
        let path_start = text.len();
        encode_path_and_query(path_and_query, &mut text)?;
        if text.len() > MAX_LEN {
            return Err(InvalidUrl::TooLong);
        }
        Ok(Self {
            text,
            https,
            host,
            port,
            path_start,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `"https"`, or `"http"` for a loopback fake.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port connected to: the explicit one, else 443 (https) or 80 (http).
    pub fn port(&self) -> Port {
        self.port
            .unwrap_or(if self.https { Port::HTTPS } else { Port::HTTP })
    }

    /// `scheme://host[:port]`, without path.
    pub fn origin(&self) -> &str {
        &self.text[..self.path_start]
    }

    /// The path, possibly empty (`https://graph.microsoft.com` has none).
    pub fn path(&self) -> &str {
        let pq = &self.text[self.path_start..];
        pq.split_once('?').map_or(pq, |(p, _)| p)
    }

    /// The query without `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.text[self.path_start..].split_once('?').map(|(_, q)| q)
    }

    /// Whether it points at this machine (the only place `http://` is allowed).
    pub fn is_loopback(&self) -> bool {
        self.host.is_loopback()
    }

    /// This URL with `segment` appended after exactly one `/`, for base URLs such as a Graph
    /// endpoint (`https://graph.microsoft.com` + `v1.0/users` → `…com/v1.0/users`). The query of
    /// a base URL is dropped.
    pub fn join(&self, segment: &str) -> String {
        let base = self.text.split_once('?').map_or(&self.text[..], |(b, _)| b);
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            segment.trim_start_matches('/')
        )
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), InvalidUrl> {
    if authority.starts_with('[') {
        let close = authority
            .find(']')
            .ok_or(InvalidUrl::Host(InvalidHost::InvalidIpv6))?;
        let (host, rest) = authority.split_at(close + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => match rest.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(InvalidUrl::Host(InvalidHost::InvalidIpv6)),
            },
        };
    }
    match authority.split_once(':') {
        // A second colon means an IPv6 address without the brackets a URL needs.
        Some((_, port)) if port.contains(':') => Err(InvalidUrl::Host(InvalidHost::InvalidIpv6)),
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((authority, None)),
    }
}

/// Copies path and query, percent-encoding what may not appear raw in a URI (non-ASCII and a few
/// unsafe ASCII characters) and checking existing `%XX` escapes.
fn encode_path_and_query(s: &str, out: &mut String) -> Result<(), InvalidUrl> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let ok = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err(InvalidUrl::BadPercentEncoding);
            }
            out.push_str(&s[i..i + 3]);
            i += 3;
            continue;
        }
        if b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        i += 1;
    }
    Ok(())
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpsUrl({})", self.text)
    }
}

impl AsRef<str> for HttpsUrl {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

string_conversions!(HttpsUrl, InvalidUrl);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    fn url(s: &str) -> HttpsUrl {
        HttpsUrl::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn code(s: &str) -> &'static str {
        HttpsUrl::parse(s).unwrap_err().code()
    }

    #[test]
    fn an_ews_url_is_accepted_and_split_into_parts() {
        let u = url("https://mail.example.com/EWS/Exchange.asmx");
        assert_eq!(u.as_str(), "https://mail.example.com/EWS/Exchange.asmx");
        assert_eq!(u.host().to_string(), "mail.example.com");
        assert_eq!(u.port().get(), 443);
        assert_eq!(u.path(), "/EWS/Exchange.asmx");
        assert_eq!(u.query(), None);
        assert_eq!(u.origin(), "https://mail.example.com");
    }

    #[test]
    fn scheme_and_host_are_canonicalised_and_the_default_port_dropped() {
        assert_eq!(
            url("HTTPS://Login.MicrosoftOnline.com:443/x/oauth2/v2.0/token?a=B").as_str(),
            "https://login.microsoftonline.com/x/oauth2/v2.0/token?a=B"
        );
        assert_eq!(
            url("https://example.com:8443").as_str(),
            "https://example.com:8443"
        );
    }

    #[test]
    fn an_idn_host_becomes_punycode_and_a_non_ascii_path_is_encoded() {
        assert_eq!(
            url("https://bücher.example/straße").as_str(),
            "https://xn--bcher-kva.example/stra%C3%9Fe"
        );
    }

    #[test]
    fn plain_http_is_allowed_only_on_loopback() {
        assert_eq!(
            url("http://127.0.0.1:8080/token").as_str(),
            "http://127.0.0.1:8080/token"
        );
        assert!(HttpsUrl::parse("http://localhost/token").is_ok());
        assert!(HttpsUrl::parse("http://[::1]:9000/").is_ok());
        assert_eq!(code("http://example.com/token"), "not_https");
        assert_eq!(code("ftp://example.com/"), "not_https");
    }

    #[test]
    fn credentials_in_the_url_are_rejected() {
        assert_eq!(code("https://user:pw@example.com/"), "userinfo");
    }

    #[test]
    fn a_fragment_is_rejected() {
        assert_eq!(code("https://example.com/#top"), "fragment");
    }

    #[test]
    fn relative_or_schemeless_input_is_not_absolute() {
        assert_eq!(code("example.com/EWS/Exchange.asmx"), "not_absolute");
        assert_eq!(code("/EWS/Exchange.asmx"), "not_absolute");
        assert_eq!(code("https:example.com"), "not_absolute");
    }

    #[test]
    fn bad_hosts_ports_and_escapes_are_reported() {
        assert_eq!(code("https:///path"), "missing_host");
        assert_eq!(code("https://exa mple.com/"), "whitespace");
        assert_eq!(code("https://example.com:0/"), "invalid_port");
        assert_eq!(code("https://example.com:99999/"), "invalid_port");
        assert_eq!(code("https://::1/"), "invalid_host");
        assert_eq!(code("https://ex_ample..com/"), "invalid_host");
        assert_eq!(code("https://example.com/%zz"), "bad_percent_encoding");
        assert_eq!(code("https://example.com/\r\n"), "control_character");
        assert_eq!(code(""), "empty");
    }

    #[test]
    fn ipv6_urls_keep_their_brackets() {
        let u = url("https://[2001:db8::1]:8443/x");
        assert_eq!(u.as_str(), "https://[2001:db8::1]:8443/x");
        assert_eq!(u.port().get(), 8443);
    }

    #[test]
    fn join_puts_exactly_one_slash_between_base_and_segment() {
        assert_eq!(
            url("https://graph.microsoft.com").join("/v1.0/users"),
            "https://graph.microsoft.com/v1.0/users"
        );
        assert_eq!(
            url("http://127.0.0.1:9/graph/").join("v1.0"),
            "http://127.0.0.1:9/graph/v1.0"
        );
    }

    #[test]
    fn a_url_deserialises_through_the_parser() {
        assert!(serde_json::from_str::<HttpsUrl>(r#""https://a.example/""#).is_ok());
        assert!(serde_json::from_str::<HttpsUrl>(r#""http://a.example/""#).is_err());
    }

    proptest! {
        #[test]
        fn a_url_round_trips(
            host in "[a-z][a-z0-9]{0,8}(\\.[a-z]{2,5}){1,2}",
            port in proptest::option::of(1u16..),
            path in "(/[a-zA-Z0-9._~ä%-]{0,8}){0,3}",
            query in proptest::option::of("[a-z0-9=&]{0,10}"),
        ) {
            let mut s = format!("https://{host}");
            if let Some(p) = port { s.push_str(&format!(":{p}")); }
            s.push_str(&path);
            if let Some(q) = query { s.push('?'); s.push_str(&q); }
            if let Ok(u) = HttpsUrl::parse(&s) {
                prop_assert_eq!(HttpsUrl::parse(u.as_str()).unwrap(), u.clone());
                let json = serde_json::to_string(&u).unwrap();
                prop_assert_eq!(serde_json::from_str::<HttpsUrl>(&json).unwrap(), u);
            }
        }
    }
}
