//! Mail addresses: bare addr-specs ([`EmailAddress`]) and `"Name" <addr>` ([`Mailbox`]),
//! with the UTF-8 (SMTPUTF8 / RFC 6532) opt-in and the punycode domain SMTP needs.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use crate::host::{Host, InvalidHost};
use crate::text::{DisplayName, InvalidText, codepoint, is_line_break};

/// Whether non-ASCII is allowed in the address itself (local part or domain).
///
/// Only a profile with UTF-8 headers on may use `山田太郎@株式.会社`: the server must advertise
/// SMTPUTF8 for it, and without the opt-in such an address would fail late, at send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    Ascii,
    Utf8,
}

impl Charset {
    pub fn from_utf8_headers(utf8_headers: bool) -> Self {
        if utf8_headers {
            Charset::Utf8
        } else {
            Charset::Ascii
        }
    }
}

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEmailAddress {
    #[error("enter an email address")]
    Empty,
    #[error("an email address cannot contain line breaks or control characters ({0})")]
    ControlCharacter(String),
    #[error("an email address cannot contain spaces")]
    Whitespace,
    #[error("enter only the address (like name@example.com), without a name or <>")]
    DisplayNameNotAllowed,
    #[error("an email address needs an @ (like name@example.com)")]
    MissingAt,
    #[error("the part before the @ is empty")]
    EmptyLocalPart,
    #[error("the part after the @ is empty")]
    EmptyDomain,
    #[error(
        "this address contains non-ASCII characters: enable UTF-8 headers on the profile to use it"
    )]
    NeedsUtf8Headers,
    #[error("the part before the @ must be at most 64 bytes")]
    LocalPartTooLong,
    #[error("an email address must be at most 254 characters")]
    TooLong,
    #[error("the part before the @ contains a character that is not allowed")]
    InvalidLocalPart,
    #[error("the domain needs a dot and a top-level domain (like example.com)")]
    MissingTld,
    #[error("use a domain name, not an IP address, after the @")]
    IpDomain,
    #[error("the domain after the @ is invalid: {0}")]
    InvalidDomain(InvalidHost),
}

error_codes!(InvalidEmailAddress {
    Me::Empty => "empty",
    Me::ControlCharacter(_) => "control_character",
    Me::Whitespace => "whitespace",
    Me::DisplayNameNotAllowed => "display_name_not_allowed",
    Me::MissingAt => "missing_at",
    Me::EmptyLocalPart => "empty_local_part",
    Me::EmptyDomain => "empty_domain",
    Me::NeedsUtf8Headers => "needs_utf8_headers",
    Me::LocalPartTooLong => "local_part_too_long",
    Me::TooLong => "too_long",
    Me::InvalidLocalPart => "invalid_local_part",
    Me::MissingTld => "missing_tld",
    Me::IpDomain => "ip_domain",
    Me::InvalidDomain(_) => "invalid_domain",
});

/// A bare address (`local@domain`), no display name.
///
/// The local part is kept as typed (it is case-sensitive in principle); the domain is kept in the
/// form it was typed in (ASCII lowercase, or Unicode for an IDN) and is also available as
/// punycode via [`EmailAddress::ascii_domain`]. Two addresses are equal when local part and
/// punycode domain are.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct EmailAddress {
    local: String,
    /// As shown: lowercase ASCII, or the Unicode form when an IDN was typed.
    domain: String,
    ascii_domain: String,
}

impl EmailAddress {
    /// Parses an address that must be plain ASCII.
    pub fn parse_ascii(s: &str) -> Result<Self, InvalidEmailAddress> {
        Self::parse(s, Charset::Ascii)
    }

    /// Parses an address that may contain non-ASCII (only for profiles with UTF-8 headers).
    pub fn parse_utf8(s: &str) -> Result<Self, InvalidEmailAddress> {
        Self::parse(s, Charset::Utf8)
    }

    pub fn parse(input: &str, charset: Charset) -> Result<Self, InvalidEmailAddress> {
        if let Some(c) = input.chars().find(|&c| c.is_control() || is_line_break(c)) {
            return Err(InvalidEmailAddress::ControlCharacter(codepoint(c)));
        }
        let s = input.trim();
        if s.is_empty() {
            return Err(InvalidEmailAddress::Empty);
        }
        if s.contains(['<', '>']) {
            return Err(InvalidEmailAddress::DisplayNameNotAllowed);
        }
        // Spaces are legal inside a quoted local part, but nobody configures such a sender and a
        // space is far more often a paste accident.
        if s.chars().any(char::is_whitespace) {
            return Err(InvalidEmailAddress::Whitespace);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(InvalidEmailAddress::MissingAt)?;
        if local.is_empty() {
            return Err(InvalidEmailAddress::EmptyLocalPart);
        }
        if domain.is_empty() {
            return Err(InvalidEmailAddress::EmptyDomain);
        }
        if charset == Charset::Ascii && !s.is_ascii() {
            return Err(InvalidEmailAddress::NeedsUtf8Headers);
        }
        if local.len() > 64 {
            return Err(InvalidEmailAddress::LocalPartTooLong);
        }
        if domain.starts_with('[') {
            return Err(InvalidEmailAddress::IpDomain);
        }
        let host = Host::parse(domain).map_err(InvalidEmailAddress::InvalidDomain)?;
        if host.ip().is_some() {
            return Err(InvalidEmailAddress::IpDomain);
        }
        let ascii_domain = host.to_string();
        let domain = if domain.is_ascii() {
            ascii_domain.clone()
        } else {
            host.to_unicode()
        };
        // The syntax of the local part (dot-atom or quoted string) is email_address's job; we
        // hand it the punycode domain so its domain rules see what SMTP will see.
        let candidate = format!("{local}@{ascii_domain}");
        let options = email_address::Options::default()
            .without_display_text()
            .with_required_tld()
            .without_domain_literal();
        if let Err(err) = email_address::EmailAddress::parse_with_options(&candidate, options) {
            use email_address::Error as E;
            return Err(match err {
                E::DomainTooFew => InvalidEmailAddress::MissingTld,
                E::LocalPartTooLong => InvalidEmailAddress::LocalPartTooLong,
                E::DomainTooLong => InvalidEmailAddress::TooLong,
                E::LocalPartEmpty => InvalidEmailAddress::EmptyLocalPart,
                _ => InvalidEmailAddress::InvalidLocalPart,
            });
        }
        if candidate.len() > 254 {
            return Err(InvalidEmailAddress::TooLong);
        }
        Ok(Self {
            local: local.to_owned(),
            domain,
            ascii_domain,
        })
    }

    pub fn local_part(&self) -> &str {
        &self.local
    }

    /// The domain as shown to people (Unicode if it was typed that way).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The domain in punycode, as SMTP and DNS need it (`株式.会社` → `xn--w0tp6r.xn--6oq404h`).
    pub fn ascii_domain(&self) -> &str {
        &self.ascii_domain
    }

    /// `local@punycode-domain`: what goes into `MAIL FROM`/`RCPT TO`. Still non-ASCII when the
    /// local part is, which then needs SMTPUTF8.
    pub fn to_smtp(&self) -> String {
        format!("{}@{}", self.local, self.ascii_domain)
    }

    /// Whether sending to/from this address needs SMTPUTF8 (non-ASCII local part or domain).
    pub fn needs_utf8(&self) -> bool {
        !self.local.is_ascii() || !self.domain.is_ascii()
    }

    /// Whether the (punycode) domain equals `domain`, ignoring case.
    pub fn has_domain(&self, domain: &Host) -> bool {
        domain.domain() == Some(self.ascii_domain.as_str())
    }
}

impl PartialEq for EmailAddress {
    fn eq(&self, other: &Self) -> bool {
        self.local == other.local && self.ascii_domain == other.ascii_domain
    }
}

impl Eq for EmailAddress {}

impl Hash for EmailAddress {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.local.hash(state);
        self.ascii_domain.hash(state);
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({self})")
    }
}

// `FromStr`/serde accept UTF-8: without a profile there is no flag to consult. Profile
// validation applies the profile's own flag on top.
impl std::str::FromStr for EmailAddress {
    type Err = InvalidEmailAddress;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_utf8(s)
    }
}

impl TryFrom<&str> for EmailAddress {
    type Error = InvalidEmailAddress;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse_utf8(s)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidEmailAddress;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse_utf8(&s)
    }
}

coded_try_from!(EmailAddress, String);

impl From<EmailAddress> for String {
    fn from(a: EmailAddress) -> String {
        a.to_string()
    }
}

/// Why a mailbox (`"Name" <addr>`) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMailbox {
    #[error(transparent)]
    Address(#[from] InvalidEmailAddress),
    #[error("the name is invalid: {0}")]
    DisplayName(InvalidText),
    #[error("the name has an opening \" without a closing one")]
    UnbalancedQuotes,
    #[error("write the address as Name <name@example.com>: a < or > is missing")]
    UnbalancedBrackets,
    #[error("put the name in quotes when it contains \" (\"Name\" <name@example.com>)")]
    QuoteInName,
}

impl crate::error::ErrorCode for InvalidMailbox {
    fn code(&self) -> &'static str {
        match self {
            InvalidMailbox::Address(e) => e.code(),
            InvalidMailbox::DisplayName(e) => match e {
                InvalidText::TooLong { .. } => "display_name_too_long",
                _ => e.code(),
            },
            InvalidMailbox::UnbalancedQuotes => "unbalanced_quotes",
            InvalidMailbox::UnbalancedBrackets => "unbalanced_brackets",
            InvalidMailbox::QuoteInName => "quote_in_name",
        }
    }
}

/// An address with an optional display name: `a@b.c`, `Name <a@b.c>`, `"Name" <a@b.c>`.
///
/// `Display` always quotes the name (`"Name" <a@b.c>`), escaping `"` and `\`, which is valid
/// RFC 5322 for any name and parses back to the same value. (Encoding a non-ASCII name as an
/// RFC 2047 word is the mail library's job when it writes the header.)
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct Mailbox {
    name: Option<DisplayName>,
    address: EmailAddress,
}

impl Mailbox {
    pub fn new(name: Option<DisplayName>, address: EmailAddress) -> Self {
        Self { name, address }
    }

    pub fn parse_ascii(s: &str) -> Result<Self, InvalidMailbox> {
        Self::parse(s, Charset::Ascii)
    }

    pub fn parse_utf8(s: &str) -> Result<Self, InvalidMailbox> {
        Self::parse(s, Charset::Utf8)
    }

    /// `charset` applies to the address only; a non-ASCII *name* is always fine (it is
    /// encoded as an RFC 2047 word when UTF-8 headers are off).
    pub fn parse(input: &str, charset: Charset) -> Result<Self, InvalidMailbox> {
        if let Some(c) = input.chars().find(|&c| c.is_control() || is_line_break(c)) {
            return Err(InvalidMailbox::DisplayName(if is_line_break(c) {
                InvalidText::LineBreak
            } else {
                InvalidText::ControlCharacter(codepoint(c))
            }));
        }
        let s = input.trim();
        let Some(before_close) = s.strip_suffix('>') else {
            if s.contains(['<', '>']) {
                return Err(InvalidMailbox::UnbalancedBrackets);
            }
            return Ok(Self {
                name: None,
                address: EmailAddress::parse(s, charset)?,
            });
        };
        let (name_part, addr) = before_close
            .rsplit_once('<')
            .ok_or(InvalidMailbox::UnbalancedBrackets)?;
        if addr.contains(['<', '>']) {
            return Err(InvalidMailbox::UnbalancedBrackets);
        }
        let address = EmailAddress::parse(addr, charset)?;
        let name = parse_name(name_part.trim())?;
        Ok(Self { name, address })
    }

    pub fn name(&self) -> Option<&DisplayName> {
        self.name.as_ref()
    }

    pub fn address(&self) -> &EmailAddress {
        &self.address
    }

    /// The same address with another (or no) name.
    pub fn with_name(&self, name: Option<DisplayName>) -> Self {
        Self {
            name,
            address: self.address.clone(),
        }
    }

    pub fn needs_utf8(&self) -> bool {
        self.address.needs_utf8()
    }
}

fn parse_name(s: &str) -> Result<Option<DisplayName>, InvalidMailbox> {
    if s.is_empty() {
        return Ok(None);
    }
    let raw = if let Some(inner) = s.strip_prefix('"') {
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        let mut closed = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next().ok_or(InvalidMailbox::UnbalancedQuotes)?),
                '"' => {
                    closed = true;
                    break;
                }
                c => out.push(c),
            }
        }
        if !closed {
            return Err(InvalidMailbox::UnbalancedQuotes);
        }
        if !chars.as_str().trim().is_empty() {
            return Err(InvalidMailbox::QuoteInName);
        }
        out
    } else {
        if s.contains('"') {
            return Err(InvalidMailbox::QuoteInName);
        }
        s.to_owned()
    };
    if raw.trim().is_empty() {
        return Ok(None);
    }
    DisplayName::parse(&raw)
        .map(Some)
        .map_err(InvalidMailbox::DisplayName)
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            None => write!(f, "{}", self.address),
            Some(name) => {
                f.write_str("\"")?;
                for c in name.as_str().chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                write!(f, "\" <{}>", self.address)
            }
        }
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mailbox({self})")
    }
}

impl From<EmailAddress> for Mailbox {
    fn from(address: EmailAddress) -> Self {
        Self {
            name: None,
            address,
        }
    }
}

impl std::str::FromStr for Mailbox {
    type Err = InvalidMailbox;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_utf8(s)
    }
}

impl TryFrom<&str> for Mailbox {
    type Error = InvalidMailbox;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse_utf8(s)
    }
}

impl TryFrom<String> for Mailbox {
    type Error = InvalidMailbox;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse_utf8(&s)
    }
}

coded_try_from!(Mailbox, String);

impl From<Mailbox> for String {
    fn from(m: Mailbox) -> String {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse_ascii(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn code(s: &str) -> &'static str {
        EmailAddress::parse_ascii(s).unwrap_err().code()
    }

    #[test]
    fn a_plain_address_is_accepted_and_its_domain_lowercased() {
        let a = addr(" Alerts@Example.COM ");
        assert_eq!(a.to_string(), "Alerts@example.com");
        assert_eq!(a.local_part(), "Alerts");
        assert_eq!(a.ascii_domain(), "example.com");
        assert!(!a.needs_utf8());
    }

    #[test]
    fn plus_tags_dots_and_quoted_local_parts_are_accepted() {
        assert!(EmailAddress::parse_ascii("first.last+tag@mail.example.org").is_ok());
        assert!(EmailAddress::parse_ascii("\"odd@local\"@example.org").is_ok());
    }

    #[test]
    fn an_international_address_needs_utf8_headers() {
        let err = EmailAddress::parse_ascii("山田太郎@株式.会社").unwrap_err();
        assert_eq!(err.code(), "needs_utf8_headers");
        assert!(err.to_string().contains("enable UTF-8 headers"), "{err}");
        assert_eq!(code("jörg@example.com"), "needs_utf8_headers");
        assert_eq!(code("info@bücher.example"), "needs_utf8_headers");
    }

    #[test]
    fn an_international_address_with_utf8_keeps_unicode_and_offers_punycode() {
        let a = EmailAddress::parse_utf8("山田太郎@株式.会社").unwrap();
        assert_eq!(a.to_string(), "山田太郎@株式.会社");
        assert_eq!(a.ascii_domain(), "xn--w0tp6r.xn--6oq404h");
        assert_eq!(a.to_smtp(), "山田太郎@xn--w0tp6r.xn--6oq404h");
        assert!(a.needs_utf8());
    }

    #[test]
    fn a_punycode_domain_is_plain_ascii() {
        let a = addr("info@xn--bcher-kva.example");
        assert_eq!(a.to_string(), "info@xn--bcher-kva.example");
        assert_eq!(a, EmailAddress::parse_utf8("info@bücher.example").unwrap());
    }

    #[test]
    fn malformed_addresses_are_rejected_with_specific_codes() {
        assert_eq!(code(""), "empty");
        assert_eq!(code("alerts.example.com"), "missing_at");
        assert_eq!(code("@example.com"), "empty_local_part");
        assert_eq!(code("alerts@"), "empty_domain");
        assert_eq!(code("alerts@localhost"), "missing_tld");
        assert_eq!(code("alerts@[192.0.2.1]"), "ip_domain");
        assert_eq!(code("alerts@192.0.2.1"), "ip_domain");
        assert_eq!(code("al erts@example.com"), "whitespace");
        assert_eq!(code("a..b@example.com"), "invalid_local_part");
        assert_eq!(code("a,b@example.com"), "invalid_local_part");
        assert_eq!(code("alerts@exa_mple..com"), "invalid_domain");
        assert_eq!(
            code(&format!("{}@example.com", "a".repeat(65))),
            "local_part_too_long"
        );
        assert_eq!(
            code("Alerts <alerts@example.com>"),
            "display_name_not_allowed"
        );
    }

    #[test]
    fn an_address_with_a_line_break_is_rejected() {
        assert_eq!(
            code("alerts@example.com\r\nBcc: x@y.z"),
            "control_character"
        );
        assert_eq!(code("alerts@example.com\n"), "control_character");
    }

    #[test]
    fn a_mailbox_accepts_the_three_common_forms() {
        let bare = Mailbox::parse_ascii("alerts@example.com").unwrap();
        assert!(bare.name().is_none());
        let quoted = Mailbox::parse_ascii("\"Ops, Team\" <alerts@example.com>").unwrap();
        assert_eq!(quoted.name().unwrap().as_str(), "Ops, Team");
        let plain = Mailbox::parse_ascii("Ops Team <alerts@example.com>").unwrap();
        assert_eq!(plain.name().unwrap().as_str(), "Ops Team");
        assert_eq!(plain.address(), bare.address());
        let angle = Mailbox::parse_ascii("<alerts@example.com>").unwrap();
        assert!(angle.name().is_none());
    }

    #[test]
    fn a_mailbox_displays_with_the_name_quoted_and_escaped() {
        let m = Mailbox::parse_ascii(r#""Say \"hi\" \\ bye" <a@example.com>"#).unwrap();
        assert_eq!(m.name().unwrap().as_str(), r#"Say "hi" \ bye"#);
        assert_eq!(m.to_string(), r#""Say \"hi\" \\ bye" <a@example.com>"#);
        assert_eq!(Mailbox::parse_ascii(&m.to_string()).unwrap(), m);
        assert_eq!(
            Mailbox::parse_ascii("Ops <a@example.com>")
                .unwrap()
                .to_string(),
            "\"Ops\" <a@example.com>"
        );
    }

    #[test]
    fn a_mailbox_name_may_be_non_ascii_without_utf8_headers() {
        let m = Mailbox::parse_ascii("Jörg Müller <joerg@example.com>").unwrap();
        assert_eq!(m.name().unwrap().as_str(), "Jörg Müller");
        assert!(!m.needs_utf8());
    }

    #[test]
    fn a_mailbox_address_follows_the_utf8_flag() {
        let err = Mailbox::parse_ascii("山田 <山田太郎@株式.会社>").unwrap_err();
        assert_eq!(err.code(), "needs_utf8_headers");
        assert!(Mailbox::parse_utf8("山田 <山田太郎@株式.会社>").is_ok());
    }

    #[test]
    fn a_mailbox_with_broken_syntax_is_rejected() {
        let code = |s: &str| Mailbox::parse_ascii(s).unwrap_err().code();
        assert_eq!(code("Ops <alerts@example.com"), "unbalanced_brackets");
        assert_eq!(code("Ops alerts@example.com>"), "unbalanced_brackets");
        assert_eq!(code("\"Ops <alerts@example.com>"), "unbalanced_quotes");
        assert_eq!(code("O\"ps <alerts@example.com>"), "quote_in_name");
        assert_eq!(code("\"Ops\" x <alerts@example.com>"), "quote_in_name");
        assert_eq!(code("Ops <not-an-address>"), "missing_at");
        assert_eq!(
            code(&format!("{} <a@example.com>", "n".repeat(201))),
            "display_name_too_long"
        );
    }

    #[test]
    fn a_mailbox_with_a_line_break_in_the_name_is_rejected() {
        let err = Mailbox::parse_ascii("Ops\r\nBcc: x@y.z <alerts@example.com>").unwrap_err();
        assert_eq!(err.code(), "control_character");
    }

    #[test]
    fn addresses_and_mailboxes_deserialise_through_the_parser() {
        let m: Mailbox = serde_json::from_str(r#""\"Ops\" <ops@example.com>""#).unwrap();
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#""\"Ops\" <ops@example.com>""#
        );
        assert!(serde_json::from_str::<EmailAddress>(r#""nope""#).is_err());
    }

    fn local_part() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-zA-Z0-9_+-]{1,8}){0,2}"
    }

    fn domain() -> impl Strategy<Value = String> {
        // A first label starting `xn--` would be an A-label, almost never valid punycode.
        "[a-z][a-z0-9-]{0,8}[a-z0-9](\\.[a-z]{2,6}){1,2}"
            .prop_filter("no A-labels", |d| !d.starts_with("xn--"))
    }

    proptest! {
        #[test]
        fn an_email_address_round_trips(local in local_part(), domain in domain()) {
            let a = EmailAddress::parse_ascii(&format!("{local}@{domain}")).unwrap();
            prop_assert_eq!(EmailAddress::parse_ascii(&a.to_string()).unwrap(), a.clone());
            let json = serde_json::to_string(&a).unwrap();
            prop_assert_eq!(serde_json::from_str::<EmailAddress>(&json).unwrap(), a);
        }

        #[test]
        fn a_utf8_email_address_round_trips(local in "[a-zä山田]{1,8}", label in "[a-zü株式]{1,8}") {
            if let Ok(a) = EmailAddress::parse_utf8(&format!("{local}@{label}.example")) {
                let back = EmailAddress::parse_utf8(&a.to_string()).unwrap();
                prop_assert_eq!(back.to_string(), a.to_string());
                prop_assert_eq!(back, a);
            }
        }

        #[test]
        fn a_mailbox_round_trips(name in proptest::option::of("[^\\p{C}\u{2028}\u{2029}]{1,40}"), local in local_part(), domain in domain()) {
            let text = match &name {
                Some(n) => format!("\"{}\" <{local}@{domain}>", n.replace('\\', "\\\\").replace('"', "\\\"")),
                None => format!("{local}@{domain}"),
            };
            if let Ok(m) = Mailbox::parse_ascii(&text) {
                prop_assert_eq!(Mailbox::parse_ascii(&m.to_string()).unwrap(), m.clone());
                let json = serde_json::to_string(&m).unwrap();
                prop_assert_eq!(serde_json::from_str::<Mailbox>(&json).unwrap(), m);
            }
        }

        #[test]
        fn an_address_or_mailbox_with_a_control_character_is_rejected(
            local in "[a-z]{1,5}",
            c in prop::char::any().prop_filter("control", |c| c.is_control() || is_line_break(*c)),
            at in 0usize..3,
        ) {
            let s = match at {
                0 => format!("{local}{c}@example.com"),
                1 => format!("{local}@exa{c}mple.com"),
                _ => format!("{local}@example.com{c}"),
            };
            prop_assert!(EmailAddress::parse_utf8(&s).is_err());
            prop_assert!(Mailbox::parse_utf8(&s).is_err());
            let named = format!("Na{c}me <{local}@example.com>");
            prop_assert!(Mailbox::parse_utf8(&named).is_err());
        }
    }
}
