//! X.509 certificates and RSA private keys in PEM: the OAuth client-assertion credential and the
//! custom SMTP CA. Parsing and fingerprints only; signing happens on the server.

use std::fmt;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::spki::ObjectIdentifier;

use crate::secret::SecretString;

/// `rsaEncryption` (PKCS #1), the only key type Entra ID client assertions (RS256) use here.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Microsoft requires at least 2048-bit RSA for certificate credentials.
const MIN_RSA_BITS: usize = 2048;

/// The largest PEM we accept; a certificate with a long chain of extensions stays far below.
const MAX_PEM_LEN: usize = 64 * 1024;

/// Why a certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCertificate {
    #[error("paste a certificate")]
    Empty,
    #[error("paste the certificate in PEM form, starting with -----BEGIN CERTIFICATE-----")]
    NotPem,
    // Never echo a key back: the message names the mistake, not the content.
    #[error("this is a private key: paste it in the private key field, and the certificate here")]
    PrivateKeyPasted,
    #[error("expected a CERTIFICATE, found a PEM block labelled \"{0}\"")]
    WrongLabel(String),
    #[error("paste exactly one certificate (found {0})")]
    MultipleCertificates(usize),
    #[error("the PEM text is damaged: its base64 content does not decode")]
    BadBase64,
    #[error("the PEM block does not contain a valid X.509 certificate")]
    NotACertificate,
    #[error("the PEM text is too long")]
    TooLong,
}

error_codes!(InvalidCertificate {
    Me::Empty => "empty",
    Me::NotPem => "not_pem",
    Me::PrivateKeyPasted => "private_key_pasted",
    Me::WrongLabel(_) => "wrong_label",
    Me::MultipleCertificates(_) => "multiple_certificates",
    Me::BadBase64 => "bad_base64",
    Me::NotACertificate => "not_a_certificate",
    Me::TooLong => "too_long",
});

/// One PEM block: its label and decoded DER, plus whether it carried RFC 1421 headers
/// (`Proc-Type: 4,ENCRYPTED` marks a passphrase-protected traditional key).
struct PemBlock {
    label: String,
    der: Vec<u8>,
    has_headers: bool,
}

/// Splits text into PEM blocks, leniently: text around blocks (openssl's "Bag Attributes"),
/// CRLF line ends and any line width are fine.
fn pem_blocks(text: &str) -> Result<Vec<PemBlock>, ()> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut has_headers = false;
        let mut closed = false;
        for line in lines.by_ref() {
            if line == end {
                closed = true;
                break;
            }
            if line.contains(':') {
                has_headers = true;
                continue;
            }
            body.push_str(line);
        }
        if !closed {
            return Err(());
        }
        let der = if has_headers {
            Vec::new()
        } else {
            Base64::decode_vec(&body).map_err(|_| ())?
        };
        blocks.push(PemBlock {
            label: label.to_owned(),
            der,
            has_headers,
        });
    }
    Ok(blocks)
}

/// Base64 with 64-character lines between BEGIN/END, LF line ends (RFC 7468 "strict" form).
fn encode_pem(label: &str, der: &[u8]) -> String {
    let b64 = Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn is_key_label(label: &str) -> bool {
    label.ends_with("PRIVATE KEY")
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The RSA public key numbers, big-endian without leading zeros.
#[derive(Clone, PartialEq, Eq, Hash)]
struct RsaNumbers {
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

impl RsaNumbers {
    fn bits(&self) -> usize {
        match self.modulus.first() {
            None => 0,
            Some(first) => self.modulus.len() * 8 - first.leading_zeros() as usize,
        }
    }
}

/// One X.509 certificate, parsed from PEM. Serialised as its canonical PEM text.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct CertificatePem {
    pem: String,
    subject: String,
    issuer: String,
    not_before: i64,
    not_after: i64,
    sha1: [u8; 20],
    sha256: [u8; 32],
    rsa: Option<RsaNumbers>,
}

impl CertificatePem {
    pub fn parse(text: &str) -> Result<Self, InvalidCertificate> {
        if text.trim().is_empty() {
            return Err(InvalidCertificate::Empty);
        }
        if text.len() > MAX_PEM_LEN {
            return Err(InvalidCertificate::TooLong);
        }
        let blocks = pem_blocks(text).map_err(|_| InvalidCertificate::BadBase64)?;
        if blocks.iter().any(|b| is_key_label(&b.label)) {
            return Err(InvalidCertificate::PrivateKeyPasted);
        }
        let certs: Vec<&PemBlock> = blocks.iter().filter(|b| b.label == "CERTIFICATE").collect();
        let block = match (certs.as_slice(), blocks.first()) {
            ([one], _) => *one,
            ([], Some(other)) => return Err(InvalidCertificate::WrongLabel(other.label.clone())),
            ([], None) => return Err(InvalidCertificate::NotPem),
            (many, _) => return Err(InvalidCertificate::MultipleCertificates(many.len())),
        };
        let der = &block.der;
        let cert = Certificate::from_der(der).map_err(|_| InvalidCertificate::NotACertificate)?;
        let tbs = cert.tbs_certificate();
        let validity = tbs.validity();
        let spki = tbs.subject_public_key_info();
        let rsa = if spki.algorithm.oid == RSA_ENCRYPTION {
            pkcs1::RsaPublicKeyRef::try_from(spki.subject_public_key.raw_bytes())
                .ok()
                .map(|k| RsaNumbers {
                    modulus: k.modulus.as_bytes().to_vec(),
                    exponent: k.public_exponent.as_bytes().to_vec(),
                })
        } else {
            None
        };
        Ok(Self {
            pem: encode_pem("CERTIFICATE", der),
            subject: format_name(tbs.subject()),
            issuer: format_name(tbs.issuer()),
            not_before: unix_seconds(validity.not_before),
            not_after: unix_seconds(validity.not_after),
            sha1: Sha1::digest(der).into(),
            sha256: Sha256::digest(der).into(),
            rsa,
        })
    }

    /// The canonical PEM text (64-column base64, LF line ends).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The subject as an RFC 4514 string, e.g. `CN=app,O=Contoso,C=US`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// SHA-1 of the DER as uppercase hex: the "thumbprint" the Entra portal shows.
    pub fn thumbprint_sha1(&self) -> String {
        hex_upper(&self.sha1)
    }

    /// SHA-256 of the DER as uppercase hex.
    pub fn thumbprint_sha256(&self) -> String {
        hex_upper(&self.sha256)
    }

    /// The JWT `x5t` header: base64url (unpadded) SHA-1 of the DER, as Entra ID's client
    /// assertion expects.
    pub fn x5t(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.sha1)
    }

    /// The JWT `x5t#S256` header: base64url (unpadded) SHA-256 of the DER.
    pub fn x5t_s256(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.sha256)
    }

    /// Start of validity, unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// End of validity, unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// Whether the certificate has expired at `now` (unix seconds).
    pub fn is_expired(&self, now: i64) -> bool {
        now > self.not_after
    }

    /// Whether it is not valid yet at `now`.
    pub fn is_not_yet_valid(&self, now: i64) -> bool {
        now < self.not_before
    }

    /// Whether it expires within `seconds` from `now` (already expired counts). `now` is a
    /// parameter because this runs in the browser too, where there is no `SystemTime::now()`.
    pub fn expires_within(&self, now: i64, seconds: i64) -> bool {
        self.not_after <= now.saturating_add(seconds)
    }

    /// Whether the certificate carries an RSA public key.
    pub fn is_rsa(&self) -> bool {
        self.rsa.is_some()
    }

    /// RSA key size in bits, when it is RSA.
    pub fn rsa_bits(&self) -> Option<usize> {
        self.rsa.as_ref().map(RsaNumbers::bits)
    }
}

/// A certificate that parses but is not usable at a given time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateValidity {
    #[error("the certificate expired {days} day(s) ago; upload a renewed one")]
    Expired { days: i64 },
    #[error("the certificate is not valid yet (valid in {days} day(s))")]
    NotYetValid { days: i64 },
    #[error("the certificate expires in {days} day(s); renew it soon")]
    ExpiresSoon { days: i64 },
}

error_codes!(CertificateValidity {
    Me::Expired { .. } => "expired",
    Me::NotYetValid { .. } => "not_yet_valid",
    Me::ExpiresSoon { .. } => "expires_soon",
});

impl CertificatePem {
    /// Checks validity at `now` (unix seconds), warning when it ends within `warn_within`
    /// seconds. Time is a parameter: there is no clock in the browser.
    pub fn check_validity(&self, now: i64, warn_within: i64) -> Result<(), CertificateValidity> {
        let days = |secs: i64| secs.div_euclid(86_400);
        if self.is_expired(now) {
            Err(CertificateValidity::Expired {
                days: days(now - self.not_after),
            })
        } else if self.is_not_yet_valid(now) {
            Err(CertificateValidity::NotYetValid {
                days: days(self.not_before - now),
            })
        } else if self.expires_within(now, warn_within) {
            Err(CertificateValidity::ExpiresSoon {
                days: days(self.not_after - now),
            })
        } else {
            Ok(())
        }
    }
}

/// RFC 4514 string of a distinguished name (last RDN first), e.g. `CN=app,O=Contoso,C=US`.
///
/// Our own instead of `Name`'s `Display`, which looks names up in const-oid's full OID
/// database: that table alone adds ~100 KB to the browser bundle. Attribute types outside this
/// short list are written as dotted OIDs with a `#hex` DER value, as RFC 4514 allows.
fn format_name(name: &x509_cert::name::Name) -> String {
    let rdns: Vec<_> = name.iter_rdn().collect();
    let mut out = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            format_attribute(atv, &mut out);
        }
    }
    out
}

fn attribute_short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "TITLE",
        "2.5.4.42" => "GIVENNAME",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "EMAILADDRESS",
        _ => return None,
    })
}

fn format_attribute(atv: &x509_cert::attr::AttributeTypeAndValue, out: &mut String) {
    use x509_cert::der::{Encode, Tag, Tagged};
    let oid = atv.oid.to_string();
    let bytes = atv.value.value();
    let text: Option<String> = match atv.value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => {
            std::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        // T.61 in practice carries Latin-1.
        Tag::TeletexString => Some(bytes.iter().map(|&b| b as char).collect()),
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    };
    match (attribute_short_name(&oid), text) {
        (Some(key), Some(value)) => {
            out.push_str(key);
            out.push('=');
            let last = value.chars().count().saturating_sub(1);
            for (i, c) in value.chars().enumerate() {
                match c {
                    '#' if i == 0 => out.push_str("\\#"),
                    ' ' if i == 0 || i == last => out.push_str("\\ "),
                    '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                        out.push('\\');
                        out.push(c);
                    }
                    c if c.is_control() => out.push_str(&format!("\\{:02x}", c as u32)),
                    c => out.push(c),
                }
            }
        }
        _ => {
            out.push_str(&oid);
            out.push_str("=#");
            let der = atv.value.to_der().unwrap_or_default();
            for b in der {
                out.push_str(&format!("{b:02x}"));
            }
        }
    }
}

fn unix_seconds(t: x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

impl PartialEq for CertificatePem {
    fn eq(&self, other: &Self) -> bool {
        self.sha256 == other.sha256
    }
}

impl Eq for CertificatePem {}

impl std::hash::Hash for CertificatePem {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.sha256.hash(state);
    }
}

impl fmt::Display for CertificatePem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pem)
    }
}

impl fmt::Debug for CertificatePem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificatePem")
            .field("subject", &self.subject)
            .field("thumbprint_sha1", &self.thumbprint_sha1())
            .field("not_after", &self.not_after)
            .finish()
    }
}

string_conversions!(CertificatePem, InvalidCertificate);

/// Why a private key was refused. Messages never include key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPrivateKey {
    #[error("paste a private key")]
    Empty,
    #[error("paste the private key in PEM form, starting with -----BEGIN PRIVATE KEY-----")]
    NotPem,
    #[error("this is a certificate: paste it in the certificate field, and the private key here")]
    CertificatePasted,
    #[error(
        "the key is protected by a passphrase: export it without one (openssl pkcs8 -topk8 -nocrypt)"
    )]
    Encrypted,
    #[error("only RSA keys are supported (found a {0} key)")]
    UnsupportedAlgorithm(String),
    #[error("expected a PRIVATE KEY or RSA PRIVATE KEY, found a PEM block labelled \"{0}\"")]
    WrongLabel(String),
    #[error("paste exactly one private key (found {0})")]
    MultipleKeys(usize),
    #[error("the PEM text is damaged: its base64 content does not decode")]
    BadBase64,
    #[error("the PEM block does not contain a valid private key")]
    Malformed,
    #[error("the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required")]
    TooSmall { bits: usize },
    #[error("the PEM text is too long")]
    TooLong,
}

error_codes!(InvalidPrivateKey {
    Me::Empty => "empty",
    Me::NotPem => "not_pem",
    Me::CertificatePasted => "certificate_pasted",
    Me::Encrypted => "encrypted",
    Me::UnsupportedAlgorithm(_) => "unsupported_algorithm",
    Me::WrongLabel(_) => "wrong_label",
    Me::MultipleKeys(_) => "multiple_keys",
    Me::BadBase64 => "bad_base64",
    Me::Malformed => "malformed",
    Me::TooSmall { .. } => "too_small",
    Me::TooLong => "too_long",
});

/// Which container the key came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `-----BEGIN PRIVATE KEY-----`
    Pkcs8,
    /// `-----BEGIN RSA PRIVATE KEY-----`
    Pkcs1,
}

/// An RSA private key (PKCS #8 or PKCS #1 PEM), parsed. A secret: `Debug` shows only the
/// format and size, there is no `Display` and no `Serialize`.
#[derive(Clone)]
pub struct PrivateKeyPem {
    pem: SecretString,
    format: KeyFormat,
    public: RsaNumbers,
}

impl PrivateKeyPem {
    pub fn parse(text: &str) -> Result<Self, InvalidPrivateKey> {
        if text.trim().is_empty() {
            return Err(InvalidPrivateKey::Empty);
        }
        if text.len() > MAX_PEM_LEN {
            return Err(InvalidPrivateKey::TooLong);
        }
        let blocks = pem_blocks(text).map_err(|_| InvalidPrivateKey::BadBase64)?;
        let keys: Vec<&PemBlock> = blocks.iter().filter(|b| is_key_label(&b.label)).collect();
        let block = match (keys.as_slice(), blocks.first()) {
            ([one], _) => *one,
            ([], Some(b)) if b.label == "CERTIFICATE" => {
                return Err(InvalidPrivateKey::CertificatePasted);
            }
            ([], Some(b)) => return Err(InvalidPrivateKey::WrongLabel(b.label.clone())),
            ([], None) => return Err(InvalidPrivateKey::NotPem),
            (many, _) => return Err(InvalidPrivateKey::MultipleKeys(many.len())),
        };
        if block.has_headers || block.label == "ENCRYPTED PRIVATE KEY" {
            return Err(InvalidPrivateKey::Encrypted);
        }
        let (format, rsa_der) = match block.label.as_str() {
            "PRIVATE KEY" => {
                let info = pkcs8::PrivateKeyInfoRef::try_from(block.der.as_slice())
                    .map_err(|_| InvalidPrivateKey::Malformed)?;
                if info.algorithm.oid != RSA_ENCRYPTION {
                    return Err(InvalidPrivateKey::UnsupportedAlgorithm(algorithm_name(
                        info.algorithm.oid,
                    )));
                }
                (KeyFormat::Pkcs8, info.private_key.as_bytes().to_vec())
            }
            "RSA PRIVATE KEY" => (KeyFormat::Pkcs1, block.der.clone()),
            "EC PRIVATE KEY" => return Err(InvalidPrivateKey::UnsupportedAlgorithm("EC".into())),
            other => return Err(InvalidPrivateKey::WrongLabel(other.to_owned())),
        };
        let key = pkcs1::RsaPrivateKeyRef::try_from(rsa_der.as_slice())
            .map_err(|_| InvalidPrivateKey::Malformed)?;
        let public = RsaNumbers {
            modulus: key.modulus.as_bytes().to_vec(),
            exponent: key.public_exponent.as_bytes().to_vec(),
        };
        let bits = public.bits();
        if bits < MIN_RSA_BITS {
            return Err(InvalidPrivateKey::TooSmall { bits });
        }
        Ok(Self {
            pem: SecretString::new(encode_pem(&block.label, &block.der)),
            format,
            public,
        })
    }

    /// The canonical PEM text, for sealing and for the JWT signer. Handle with care.
    pub fn expose_pem(&self) -> &str {
        self.pem.expose()
    }

    pub fn format(&self) -> KeyFormat {
        self.format
    }

    pub fn bits(&self) -> usize {
        self.public.bits()
    }

    /// Whether this key belongs to the certificate's public key (same RSA modulus and exponent).
    pub fn matches(&self, cert: &CertificatePem) -> bool {
        cert.rsa.as_ref() == Some(&self.public)
    }
}

fn algorithm_name(oid: ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.2.840.10045.2.1" => "EC".into(),
        "1.3.101.112" => "Ed25519".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.2.840.113549.1.1.10" => "RSA-PSS".into(),
        other => other.to_owned(),
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKeyPem")
            .field("format", &self.format)
            .field("bits", &self.bits())
            .field("pem", &"[redacted]")
            .finish()
    }
}

/// Why a certificate and private key do not form a usable pair.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidKeyPair {
    #[error("the certificate does not hold an RSA key; client assertions need an RSA certificate")]
    CertificateNotRsa,
    #[error("the private key does not belong to this certificate")]
    Mismatch,
}

error_codes!(InvalidKeyPair {
    Me::CertificateNotRsa => "certificate_not_rsa",
    Me::Mismatch => "key_mismatch",
});

/// Checks that `key` is the private half of `cert`'s public key (compares the RSA modulus and
/// public exponent, which needs no signing and so no randomness).
pub fn check_key_pair(cert: &CertificatePem, key: &PrivateKeyPem) -> Result<(), InvalidKeyPair> {
    if !cert.is_rsa() {
        return Err(InvalidKeyPair::CertificateNotRsa);
    }
    if key.matches(cert) {
        Ok(())
    } else {
        Err(InvalidKeyPair::Mismatch)
    }
}

/// Test fixtures (certificates and keys generated once with `tests/fixtures/gen_fixtures.py`).
#[cfg(test)]
pub(crate) mod fixtures {
    pub const CLIENT_CERT: &str = include_str!("../tests/fixtures/client_cert.pem");
    pub const EXPIRED_CERT: &str = include_str!("../tests/fixtures/expired_cert.pem");
    pub const CLIENT_KEY_PKCS8: &str = include_str!("../tests/fixtures/client_key_pkcs8.pem");
    pub const CLIENT_KEY_PKCS1: &str = include_str!("../tests/fixtures/client_key_pkcs1.pem");
    pub const CLIENT_KEY_ENCRYPTED: &str =
        include_str!("../tests/fixtures/client_key_encrypted.pem");
    pub const OTHER_KEY_PKCS8: &str = include_str!("../tests/fixtures/other_key_pkcs8.pem");
    pub const EC_CERT: &str = include_str!("../tests/fixtures/ec_cert.pem");
    pub const EC_KEY_PKCS8: &str = include_str!("../tests/fixtures/ec_key_pkcs8.pem");
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::error::ErrorCode;

    // 2025-01-01T00:00:00Z, 2035-01-01T00:00:00Z and 2021-01-01T00:00:00Z.
    const NB: i64 = 1_735_689_600;
    const NA: i64 = 2_051_222_400;
    const EXPIRED_NA: i64 = 1_609_459_200;

    fn cert() -> CertificatePem {
        CertificatePem::parse(CLIENT_CERT).unwrap()
    }

    #[test]
    fn a_certificate_exposes_subject_validity_and_thumbprints() {
        let c = cert();
        assert_eq!(c.subject(), "CN=outmail test client,O=Outmail Tests,C=DE");
        assert_eq!(c.issuer(), c.subject());
        assert_eq!(c.not_before(), NB);
        assert_eq!(c.not_after(), NA);
        // Cross-checked with `openssl x509 -fingerprint -sha1` and `openssl dgst | basenc`.
        assert_eq!(
            c.thumbprint_sha1(),
            "87CB2A2F7FCE2B3C97A673319D8AF5A534986708"
        );
        assert_eq!(c.x5t(), "h8sqL3_OKzyXpnMxnYr1pTSYZwg");
        assert_eq!(c.x5t_s256(), "KMTeE7MJ8gRfWWn4UvWcuifc5OE0s4clOPKBbEOmg0k");
        assert!(c.is_rsa());
        assert_eq!(c.rsa_bits(), Some(2048));
    }

    #[test]
    fn expiry_is_judged_against_the_given_now() {
        let c = cert();
        assert!(!c.is_expired(NB + 10));
        assert!(c.is_expired(NA + 1));
        assert!(c.is_not_yet_valid(NB - 1));
        assert!(c.expires_within(NA - 30 * 86_400, 31 * 86_400));
        assert!(!c.expires_within(NA - 30 * 86_400, 29 * 86_400));
        let old = CertificatePem::parse(EXPIRED_CERT).unwrap();
        assert_eq!(old.not_after(), EXPIRED_NA);
        assert!(old.is_expired(NB));
        assert!(old.expires_within(NB, 0));
    }

    #[test]
    fn a_subject_is_formatted_as_rfc4514_with_escapes_and_unknown_oids_in_hex() {
        use std::str::FromStr;
        let name = x509_cert::name::Name::from_str("CN=Doe\\, John,OU=Ops+O=Acme,DC=example,C=US")
            .unwrap();
        assert_eq!(
            format_name(&name),
            "CN=Doe\\, John,OU=Ops+O=Acme,DC=example,C=US"
        );
        let odd = x509_cert::name::Name::from_str("2.5.4.45=#0403010203").unwrap();
        assert_eq!(format_name(&odd), "2.5.4.45=#0403010203");
    }

    #[test]
    fn validity_is_reported_with_days() {
        let c = cert();
        assert_eq!(c.check_validity(NB + 86_400, 30 * 86_400), Ok(()));
        assert_eq!(
            c.check_validity(NA - 10 * 86_400, 30 * 86_400),
            Err(CertificateValidity::ExpiresSoon { days: 10 })
        );
        assert_eq!(
            c.check_validity(NA + 3 * 86_400, 0).unwrap_err().code(),
            "expired"
        );
        assert_eq!(
            c.check_validity(NB - 86_400, 0),
            Err(CertificateValidity::NotYetValid { days: 1 })
        );
    }

    #[test]
    fn crlf_text_around_the_block_and_other_widths_are_accepted() {
        let crlf = format!("Bag Attributes\r\n{}", CLIENT_CERT.replace('\n', "\r\n"));
        assert_eq!(CertificatePem::parse(&crlf).unwrap(), cert());
        let body: String = CLIENT_CERT
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let one_line = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----");
        let parsed = CertificatePem::parse(&one_line).unwrap();
        assert_eq!(parsed, cert());
        assert_eq!(parsed.pem(), CLIENT_CERT);
    }

    #[test]
    fn a_certificate_round_trips_through_its_pem_and_json() {
        let c = cert();
        assert_eq!(CertificatePem::parse(&c.to_string()).unwrap(), c);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<CertificatePem>(&json).unwrap(), c);
    }

    #[test]
    fn a_chain_of_two_certificates_is_refused() {
        let two = format!("{CLIENT_CERT}{EXPIRED_CERT}");
        assert_eq!(
            CertificatePem::parse(&two).unwrap_err(),
            InvalidCertificate::MultipleCertificates(2)
        );
    }

    #[test]
    fn a_private_key_in_the_certificate_field_is_named_and_not_echoed() {
        let err = CertificatePem::parse(CLIENT_KEY_PKCS8).unwrap_err();
        assert_eq!(err.code(), "private_key_pasted");
        assert!(!err.to_string().contains("MII"));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        let code = |s: &str| CertificatePem::parse(s).unwrap_err().code();
        assert_eq!(code(""), "empty");
        assert_eq!(code("hello"), "not_pem");
        assert_eq!(
            code("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
            "bad_base64"
        );
        assert_eq!(
            code("-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n"),
            "not_a_certificate"
        );
        assert_eq!(
            code("-----BEGIN CERTIFICATE-----\naGVsbG8=\n"),
            "bad_base64"
        );
        assert_eq!(
            code("-----BEGIN PUBLIC KEY-----\naGVsbG8=\n-----END PUBLIC KEY-----\n"),
            "wrong_label"
        );
    }

    #[test]
    fn an_ec_certificate_parses_but_is_not_rsa() {
        let ec = CertificatePem::parse(EC_CERT).unwrap();
        assert!(!ec.is_rsa());
        let key = PrivateKeyPem::parse(CLIENT_KEY_PKCS8).unwrap();
        assert_eq!(
            check_key_pair(&ec, &key),
            Err(InvalidKeyPair::CertificateNotRsa)
        );
    }

    #[test]
    fn pkcs8_and_pkcs1_keys_parse_and_match_their_certificate() {
        let p8 = PrivateKeyPem::parse(CLIENT_KEY_PKCS8).unwrap();
        let p1 = PrivateKeyPem::parse(CLIENT_KEY_PKCS1).unwrap();
        assert_eq!(p8.format(), KeyFormat::Pkcs8);
        assert_eq!(p1.format(), KeyFormat::Pkcs1);
        assert_eq!(p8.bits(), 2048);
        assert_eq!(check_key_pair(&cert(), &p8), Ok(()));
        assert_eq!(check_key_pair(&cert(), &p1), Ok(()));
        assert!(p8.expose_pem().starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(
            p1.expose_pem()
                .starts_with("-----BEGIN RSA PRIVATE KEY-----\n")
        );
    }

    #[test]
    fn a_key_from_another_pair_does_not_match() {
        let other = PrivateKeyPem::parse(OTHER_KEY_PKCS8).unwrap();
        let err = check_key_pair(&cert(), &other).unwrap_err();
        assert_eq!(err.code(), "key_mismatch");
    }

    #[test]
    fn an_encrypted_key_asks_for_an_unencrypted_export() {
        let err = PrivateKeyPem::parse(CLIENT_KEY_ENCRYPTED).unwrap_err();
        assert_eq!(err.code(), "encrypted");
        let traditional = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(
            PrivateKeyPem::parse(traditional).unwrap_err(),
            InvalidPrivateKey::Encrypted
        );
    }

    #[test]
    fn an_ec_key_is_unsupported() {
        assert_eq!(
            PrivateKeyPem::parse(EC_KEY_PKCS8).unwrap_err(),
            InvalidPrivateKey::UnsupportedAlgorithm("EC".into())
        );
    }

    #[test]
    fn a_certificate_in_the_key_field_is_named() {
        assert_eq!(
            PrivateKeyPem::parse(CLIENT_CERT).unwrap_err().code(),
            "certificate_pasted"
        );
        assert_eq!(PrivateKeyPem::parse("  ").unwrap_err().code(), "empty");
        assert_eq!(
            PrivateKeyPem::parse("password").unwrap_err().code(),
            "not_pem"
        );
        assert_eq!(
            PrivateKeyPem::parse(&format!("{CLIENT_KEY_PKCS8}{OTHER_KEY_PKCS8}"))
                .unwrap_err()
                .code(),
            "multiple_keys"
        );
    }

    #[test]
    fn the_debug_output_of_a_private_key_hides_the_key() {
        let key = PrivateKeyPem::parse(CLIENT_KEY_PKCS8).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains("[redacted]"), "{debug}");
        assert!(!debug.contains("BEGIN"), "{debug}");
        let body_line = CLIENT_KEY_PKCS8.lines().nth(1).unwrap();
        assert!(!debug.contains(body_line));
    }
}
