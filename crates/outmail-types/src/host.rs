//! Where to connect: host names (IDN → punycode), IP addresses, ports and the SMTP security mode.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU16;

use serde::{Deserialize, Serialize};

use crate::text::{codepoint, is_line_break};

/// Why a host was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidHost {
    #[error("enter a host name or IP address")]
    Empty,
    #[error("a host name cannot contain spaces")]
    Whitespace,
    #[error("a host name cannot contain line breaks or control characters ({0})")]
    ControlCharacter(String),
    #[error("remove \":{port}\" from the host and enter {port} in the port field")]
    PortInHost { port: String },
    #[error("enter only the host name, not a URL (remove \"{scheme}://\" and any path)")]
    UrlNotHost { scheme: String },
    #[error("\"{0}\" is not allowed in a host name")]
    InvalidCharacter(String),
    #[error("not a valid IPv4 address")]
    InvalidIpv4,
    #[error("not a valid IPv6 address")]
    InvalidIpv6,
    #[error("a host name cannot have an empty label (\"..\" or a leading dot)")]
    EmptyLabel,
    #[error("each part of a host name must be at most 63 characters")]
    LabelTooLong,
    #[error("a host name must be at most 253 characters")]
    TooLong,
    #[error("a part of a host name cannot start or end with \"-\"")]
    HyphenAtEdge,
    #[error("each part of a host name needs a letter or digit")]
    NoAlphanumeric,
    #[error("not a valid internationalised domain name")]
    InvalidIdn,
}

error_codes!(InvalidHost {
    Me::Empty => "empty",
    Me::Whitespace => "whitespace",
    Me::ControlCharacter(_) => "control_character",
    Me::PortInHost { .. } => "port_in_host",
    Me::UrlNotHost { .. } => "url_not_host",
    Me::InvalidCharacter(_) => "invalid_character",
    Me::InvalidIpv4 => "invalid_ipv4",
    Me::InvalidIpv6 => "invalid_ipv6",
    Me::EmptyLabel => "empty_label",
    Me::LabelTooLong => "label_too_long",
    Me::TooLong => "too_long",
    Me::HyphenAtEdge => "hyphen_at_edge",
    Me::NoAlphanumeric => "no_alphanumeric",
    Me::InvalidIdn => "invalid_idn",
});

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum HostKind {
    /// Lowercase ASCII (punycode for IDNs).
    Domain(String),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

/// A DNS name or IP address, canonical: DNS names lowercase ASCII (IDNs in punycode), IPv6
/// without brackets. `Display` gives that form; [`Host::url_host`] adds brackets for URLs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct Host(HostKind);

impl Host {
    pub fn parse(input: &str) -> Result<Self, InvalidHost> {
        // Controls first: trimming must not quietly swallow a trailing "\r\n".
        if let Some(c) = input.chars().find(|&c| c.is_control() || is_line_break(c)) {
            return Err(InvalidHost::ControlCharacter(codepoint(c)));
        }
        let s = input.trim();
        if s.is_empty() {
            return Err(InvalidHost::Empty);
        }
        if s.chars().any(char::is_whitespace) {
            return Err(InvalidHost::Whitespace);
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(InvalidHost::UrlNotHost {
                scheme: scheme.to_owned(),
            });
        }
        if let Some(inner) = s.strip_prefix('[') {
            let (addr, rest) = inner.split_once(']').ok_or(InvalidHost::InvalidIpv6)?;
            if let Some(port) = rest.strip_prefix(':') {
                return Err(InvalidHost::PortInHost {
                    port: port.to_owned(),
                });
            }
            if !rest.is_empty() {
                return Err(InvalidHost::InvalidIpv6);
            }
            return addr
                .parse::<Ipv6Addr>()
                .map(|ip| Host(HostKind::Ipv6(ip)))
                .map_err(|_| InvalidHost::InvalidIpv6);
        }
        if s.contains(':') {
            if let Ok(ip) = s.parse::<Ipv6Addr>() {
                return Ok(Host(HostKind::Ipv6(ip)));
            }
            // "name:25" (one colon, digits after) is a port typed into the host field.
            if let Some((_, port)) = s.split_once(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(InvalidHost::PortInHost {
                    port: port.to_owned(),
                });
            }
            return Err(InvalidHost::InvalidIpv6);
        }
        if let Ok(ip) = s.parse::<Ipv4Addr>() {
            return Ok(Host(HostKind::Ipv4(ip)));
        }
        parse_domain(s).map(|d| Host(HostKind::Domain(d)))
    }

    /// The host from an IP address.
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Host(HostKind::Ipv4(v4)),
            IpAddr::V6(v6) => Host(HostKind::Ipv6(v6)),
        }
    }

    /// The IP address, when the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match &self.0 {
            HostKind::Domain(_) => None,
            HostKind::Ipv4(ip) => Some(IpAddr::V4(*ip)),
            HostKind::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        }
    }

    /// The DNS name (lowercase ASCII, punycode), when the host is one.
    pub fn domain(&self) -> Option<&str> {
        match &self.0 {
            HostKind::Domain(d) => Some(d),
            _ => None,
        }
    }

    /// `localhost` (and its subdomains), 127.0.0.0/8 or `::1` (also as IPv4-mapped).
    pub fn is_loopback(&self) -> bool {
        match &self.0 {
            HostKind::Domain(d) => d == "localhost" || d.ends_with(".localhost"),
            HostKind::Ipv4(ip) => ip.is_loopback(),
            HostKind::Ipv6(ip) => {
                ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        }
    }

    /// The form used inside a URL or `host:port` pair: IPv6 in brackets, everything else as is.
    pub fn url_host(&self) -> Cow<'_, str> {
        match &self.0 {
            HostKind::Domain(d) => Cow::Borrowed(d),
            HostKind::Ipv4(ip) => Cow::Owned(ip.to_string()),
            HostKind::Ipv6(ip) => Cow::Owned(format!("[{ip}]")),
        }
    }

    /// The human form: IDNs decoded back to Unicode (`xn--bcher-kva.example` → `bücher.example`).
    pub fn to_unicode(&self) -> String {
        match &self.0 {
            HostKind::Domain(d) if d.split('.').any(|l| l.starts_with("xn--")) => {
                let (unicode, result) = idna::domain_to_unicode(d);
                if result.is_ok() { unicode } else { d.clone() }
            }
            _ => self.to_string(),
        }
    }
}

/// IDN → punycode, then the LDH rules (plus `_`, which real internal hosts use), label and total
/// length limits.
fn parse_domain(s: &str) -> Result<String, InvalidHost> {
    if let Some(c) = s.chars().find(|c| "/?#@\\,;<>\"'[]()".contains(*c)) {
        return Err(InvalidHost::InvalidCharacter(c.to_string()));
    }
    // An absolute name ("example.com.") means the same host; drop the root dot.
    let s = s.strip_suffix('.').unwrap_or(s);
    let ascii = idna::domain_to_ascii_cow(s.as_bytes(), idna::AsciiDenyList::EMPTY)
        .map_err(|_| InvalidHost::InvalidIdn)?
        .into_owned();
    if ascii.len() > 253 {
        return Err(InvalidHost::TooLong);
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(InvalidHost::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(InvalidHost::LabelTooLong);
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(InvalidHost::InvalidCharacter(c.to_string()));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(InvalidHost::HyphenAtEdge);
        }
        if !label.bytes().any(|b| b.is_ascii_alphanumeric()) {
            return Err(InvalidHost::NoAlphanumeric);
        }
    }
    // "1.2.3" or "300.1.1.1" is a mistyped IPv4 address, not a name: no TLD is all digits.
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(InvalidHost::InvalidIpv4);
    }
    Ok(ascii)
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            HostKind::Domain(d) => f.write_str(d),
            HostKind::Ipv4(ip) => write!(f, "{ip}"),
            HostKind::Ipv6(ip) => write!(f, "{ip}"),
        }
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Host({self})")
    }
}

string_conversions!(Host, InvalidHost);

/// Why a port was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPort {
    #[error("enter a port number")]
    Empty,
    #[error("a port is a whole number between 1 and 65535")]
    NotANumber,
    #[error("a port must be between 1 and 65535")]
    OutOfRange,
}

error_codes!(InvalidPort {
    Me::Empty => "empty",
    Me::NotANumber => "not_a_number",
    Me::OutOfRange => "out_of_range",
});

/// A TCP port, 1–65535. Serialised as a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<i64>", into = "u16")]
pub struct Port(NonZeroU16);

impl Port {
    pub const SMTP: Port = Port::new_const(25);
    pub const SUBMISSION: Port = Port::new_const(587);
    pub const SUBMISSIONS: Port = Port::new_const(465);
    pub const HTTPS: Port = Port::new_const(443);
    pub const HTTP: Port = Port::new_const(80);

    const fn new_const(n: u16) -> Port {
        match NonZeroU16::new(n) {
            Some(p) => Port(p),
            None => panic!("port 0"),
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidPort> {
        let s = s.trim();
        if s.is_empty() {
            return Err(InvalidPort::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidPort::NotANumber);
        }
        // Digits only, so the only parse failure left is overflow.
        let n: u64 = s.parse().map_err(|_| InvalidPort::OutOfRange)?;
        Self::try_from(n as i64)
    }

    pub fn get(self) -> u16 {
        self.0.get()
    }
}

impl TryFrom<i64> for Port {
    type Error = InvalidPort;
    fn try_from(n: i64) -> Result<Self, InvalidPort> {
        u16::try_from(n)
            .ok()
            .and_then(NonZeroU16::new)
            .map(Port)
            .ok_or(InvalidPort::OutOfRange)
    }
}

coded_try_from!(Port, i64);

impl TryFrom<u16> for Port {
    type Error = InvalidPort;
    fn try_from(n: u16) -> Result<Self, InvalidPort> {
        Self::try_from(i64::from(n))
    }
}

impl From<Port> for u16 {
    fn from(p: Port) -> u16 {
        p.get()
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for Port {
    type Err = InvalidPort;
    fn from_str(s: &str) -> Result<Self, InvalidPort> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Port {
    type Error = InvalidPort;
    fn try_from(s: &str) -> Result<Self, InvalidPort> {
        Self::parse(s)
    }
}

/// How an SMTP connection is protected.
///
/// `starttls` is always *required*: if the server does not offer STARTTLS the send fails rather
/// than continuing in clear text (opportunistic TLS would let an attacker strip it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Security {
    /// Plain SMTP, no TLS.
    None,
    /// Connect in clear text, then upgrade with STARTTLS (required).
    Starttls,
    /// TLS from the first byte ("SMTPS", implicit TLS).
    Tls,
}

impl Security {
    pub const ALL: [Security; 3] = [Security::None, Security::Starttls, Security::Tls];

    /// 25 for none, 587 for STARTTLS, 465 for implicit TLS.
    pub fn default_port(self) -> Port {
        match self {
            Security::None => Port::SMTP,
            Security::Starttls => Port::SUBMISSION,
            Security::Tls => Port::SUBMISSIONS,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::Starttls => "starttls",
            Security::Tls => "tls",
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a security mode was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("choose none, starttls or tls")]
pub struct InvalidSecurity;

error_codes!(InvalidSecurity { _ => "invalid_choice" });

impl std::str::FromStr for Security {
    type Err = InvalidSecurity;
    fn from_str(s: &str) -> Result<Self, InvalidSecurity> {
        Security::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(InvalidSecurity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    fn host(s: &str) -> Host {
        Host::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn code(s: &str) -> &'static str {
        Host::parse(s).unwrap_err().code()
    }

    #[test]
    fn a_dns_name_is_lowercased() {
        assert_eq!(host("SMTP.Example.COM").to_string(), "smtp.example.com");
    }

    #[test]
    fn an_idn_is_stored_as_punycode_and_shown_as_unicode() {
        let h = host("Bücher.example");
        assert_eq!(h.to_string(), "xn--bcher-kva.example");
        assert_eq!(h.to_unicode(), "bücher.example");
        assert_eq!(host("株式.会社").to_string(), "xn--w0tp6r.xn--6oq404h");
    }

    #[test]
    fn surrounding_spaces_and_a_root_dot_are_dropped() {
        assert_eq!(host("  mail.example.org. ").to_string(), "mail.example.org");
    }

    #[test]
    fn single_label_and_underscore_names_are_accepted() {
        assert_eq!(host("mailhub").to_string(), "mailhub");
        assert_eq!(host("mail_relay.corp").to_string(), "mail_relay.corp");
    }

    #[test]
    fn ipv4_and_ipv6_are_recognised() {
        assert_eq!(host("192.0.2.10").ip(), Some("192.0.2.10".parse().unwrap()));
        assert_eq!(host("::1").to_string(), "::1");
        assert_eq!(host("[::1]").to_string(), "::1");
        assert_eq!(host("[2001:DB8::1]").to_string(), "2001:db8::1");
    }

    #[test]
    fn url_host_brackets_ipv6_only() {
        assert_eq!(host("::1").url_host(), "[::1]");
        assert_eq!(host("127.0.0.1").url_host(), "127.0.0.1");
        assert_eq!(host("a.example").url_host(), "a.example");
    }

    #[test]
    fn a_port_in_the_host_field_points_to_the_port_field() {
        let err = Host::parse("smtp.example.com:25").unwrap_err();
        assert_eq!(err.code(), "port_in_host");
        assert!(err.to_string().contains("port field"), "{err}");
        assert_eq!(code("[::1]:2525"), "port_in_host");
        assert_eq!(code("10.0.0.1:587"), "port_in_host");
    }

    #[test]
    fn a_url_in_the_host_field_is_explained() {
        assert_eq!(code("smtp://mail.example.com"), "url_not_host");
        assert_eq!(code("https://mail.example.com/x"), "url_not_host");
    }

    #[test]
    fn empty_and_blank_hosts_are_rejected() {
        assert_eq!(code(""), "empty");
        assert_eq!(code("   "), "empty");
    }

    #[test]
    fn spaces_inside_a_host_are_rejected() {
        assert_eq!(code("mail example.com"), "whitespace");
    }

    #[test]
    fn control_characters_are_rejected_even_at_the_end() {
        assert_eq!(code("mail.example.com\r\n"), "control_character");
        assert_eq!(code("mail\0.example.com"), "control_character");
    }

    #[test]
    fn nonsense_labels_are_rejected() {
        assert_eq!(code("___"), "no_alphanumeric");
        assert_eq!(code("a.__.example"), "no_alphanumeric");
        assert_eq!(code("a..example"), "empty_label");
        assert_eq!(code(".example"), "empty_label");
        assert_eq!(code("-a.example"), "hyphen_at_edge");
        assert_eq!(code("a-.example"), "hyphen_at_edge");
        assert_eq!(code("mail.example.com;"), "invalid_character");
        assert_eq!(code("user@mail.example.com"), "invalid_character");
        assert_eq!(code("mail.example.com/path"), "invalid_character");
        assert_eq!(code("a*b.example"), "invalid_character");
    }

    #[test]
    fn length_limits_are_enforced() {
        let label63 = "a".repeat(63);
        assert!(Host::parse(&format!("{label63}.example")).is_ok());
        assert_eq!(code(&format!("{}a.example", label63)), "label_too_long");
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(long.len() > 253);
        assert_eq!(code(&long), "too_long");
    }

    #[test]
    fn mistyped_ipv4_addresses_are_not_taken_for_names() {
        assert_eq!(code("192.168.1"), "invalid_ipv4");
        assert_eq!(code("300.1.1.1"), "invalid_ipv4");
        assert_eq!(code("::g"), "invalid_ipv6");
        assert_eq!(code("[::1"), "invalid_ipv6");
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for s in [
            "localhost",
            "LOCALHOST",
            "app.localhost",
            "127.0.0.1",
            "127.8.9.1",
            "::1",
        ] {
            assert!(host(s).is_loopback(), "{s}");
        }
        for s in ["localhost.example.com", "10.0.0.1", "::2", "example.com"] {
            assert!(!host(s).is_loopback(), "{s}");
        }
    }

    #[test]
    fn a_host_deserialises_through_the_parser() {
        assert_eq!(
            serde_json::from_str::<Host>(r#""MX.Example.org""#).unwrap(),
            host("mx.example.org")
        );
        assert!(serde_json::from_str::<Host>(r#""mx.example.org:25""#).is_err());
    }

    #[test]
    fn a_port_of_zero_is_rejected() {
        assert_eq!(Port::parse("0"), Err(InvalidPort::OutOfRange));
        assert_eq!(Port::try_from(0_i64), Err(InvalidPort::OutOfRange));
    }

    #[test]
    fn ports_above_65535_and_negative_ports_are_rejected() {
        assert_eq!(Port::parse("65536"), Err(InvalidPort::OutOfRange));
        assert_eq!(
            Port::parse("99999999999999999999999"),
            Err(InvalidPort::OutOfRange)
        );
        assert_eq!(Port::try_from(-25_i64), Err(InvalidPort::OutOfRange));
        assert_eq!(Port::parse("-25"), Err(InvalidPort::NotANumber));
        assert_eq!(Port::parse("25a"), Err(InvalidPort::NotANumber));
        assert_eq!(Port::parse(""), Err(InvalidPort::Empty));
    }

    #[test]
    fn a_port_is_a_json_number() {
        let p = Port::parse(" 587 ").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "587");
        assert_eq!(serde_json::from_str::<Port>("65535").unwrap().get(), 65535);
        assert!(serde_json::from_str::<Port>("0").is_err());
        assert!(serde_json::from_str::<Port>("70000").is_err());
    }

    #[test]
    fn security_default_ports_follow_the_convention() {
        assert_eq!(Security::None.default_port().get(), 25);
        assert_eq!(Security::Starttls.default_port().get(), 587);
        assert_eq!(Security::Tls.default_port().get(), 465);
    }

    #[test]
    fn security_is_snake_case_in_json() {
        assert_eq!(
            serde_json::to_string(&Security::Starttls).unwrap(),
            r#""starttls""#
        );
        assert_eq!(
            serde_json::from_str::<Security>(r#""tls""#).unwrap(),
            Security::Tls
        );
        assert!(serde_json::from_str::<Security>(r#""ssl""#).is_err());
        assert_eq!("STARTTLS".parse::<Security>(), Ok(Security::Starttls));
    }

    proptest! {
        #[test]
        fn a_host_round_trips(
            // A first label starting `xn--` would be an A-label, almost never valid punycode.
            s in "[a-zA-Z]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?(\\.[a-zA-Z]{2,8}){0,3}"
                .prop_filter("no A-labels", |s| !s.to_ascii_lowercase().starts_with("xn--"))
        ) {
            let h = Host::parse(&s).unwrap();
            prop_assert_eq!(Host::parse(&h.to_string()).unwrap(), h.clone());
            let json = serde_json::to_string(&h).unwrap();
            prop_assert_eq!(serde_json::from_str::<Host>(&json).unwrap(), h);
        }

        #[test]
        fn an_ip_host_round_trips(ip in any::<IpAddr>()) {
            let h = Host::from_ip(ip);
            prop_assert_eq!(Host::parse(&h.to_string()).unwrap(), h.clone());
            prop_assert_eq!(Host::parse(&h.url_host()).unwrap(), h);
        }

        #[test]
        fn any_unicode_host_that_parses_round_trips(s in "\\PC{1,30}") {
            if let Ok(h) = Host::parse(&s) {
                prop_assert_eq!(Host::parse(&h.to_string()).unwrap(), h);
            }
        }

        #[test]
        fn a_host_with_a_control_character_is_rejected(
            a in "[a-z]{1,8}",
            c in prop::char::any().prop_filter("control", |c| c.is_control() || is_line_break(*c)),
            b in "[a-z]{0,8}",
        ) {
            let s = format!("{a}{c}{b}.example");
            prop_assert!(Host::parse(&s).is_err());
        }

        #[test]
        fn a_port_round_trips(n in 1u16..=65535) {
            let p = Port::try_from(n).unwrap();
            prop_assert_eq!(Port::parse(&p.to_string()).unwrap(), p);
            let json = serde_json::to_string(&p).unwrap();
            prop_assert_eq!(serde_json::from_str::<Port>(&json).unwrap(), p);
        }
    }
}
