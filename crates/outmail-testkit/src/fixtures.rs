//! The certificate and key fixtures of `outmail-types` (`crates/outmail-types/tests/fixtures`,
//! made by its `gen_fixtures.py`): they stay there because that crate's own tests read them and
//! must not depend on this one; every other crate gets them from here.

use std::path::{Path, PathBuf};

/// RSA client certificate for the OAuth client assertion (`client_cert.pem`).
pub const CLIENT_CERT: &str = include_str!("../../outmail-types/tests/fixtures/client_cert.pem");
/// The key of [`CLIENT_CERT`], PKCS#8 (`client_key_pkcs8.pem`).
pub const CLIENT_KEY_PKCS8: &str =
    include_str!("../../outmail-types/tests/fixtures/client_key_pkcs8.pem");
/// The key of [`CLIENT_CERT`], PKCS#1 (`client_key_pkcs1.pem`).
pub const CLIENT_KEY_PKCS1: &str =
    include_str!("../../outmail-types/tests/fixtures/client_key_pkcs1.pem");
/// The key of [`CLIENT_CERT`], encrypted PKCS#8 (`client_key_encrypted.pem`).
pub const CLIENT_KEY_ENCRYPTED: &str =
    include_str!("../../outmail-types/tests/fixtures/client_key_encrypted.pem");
/// An RSA key that does not belong to [`CLIENT_CERT`] (`other_key_pkcs8.pem`).
pub const OTHER_KEY_PKCS8: &str =
    include_str!("../../outmail-types/tests/fixtures/other_key_pkcs8.pem");
/// An expired RSA certificate (`expired_cert.pem`).
pub const EXPIRED_CERT: &str = include_str!("../../outmail-types/tests/fixtures/expired_cert.pem");
/// An EC certificate (`ec_cert.pem`).
pub const EC_CERT: &str = include_str!("../../outmail-types/tests/fixtures/ec_cert.pem");
/// The key of [`EC_CERT`], PKCS#8 (`ec_key_pkcs8.pem`).
pub const EC_KEY_PKCS8: &str = include_str!("../../outmail-types/tests/fixtures/ec_key_pkcs8.pem");

/// The fixtures folder, for peers that take a file (`--client-cert`).
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../outmail-types/tests/fixtures")
}

/// A fixture's contents, by file name.
pub fn fixture(name: &str) -> String {
    let path = dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fixture's path as text for a command line, by file name.
pub fn fixture_path(name: &str) -> String {
    dir().join(name).to_str().expect("utf8 path").to_owned()
}
