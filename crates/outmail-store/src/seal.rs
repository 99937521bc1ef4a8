//! Secret sealing: the keyring of numbered AEAD keys, where it lives, and sealing/opening blobs.
//!
//! A sealed blob is `[key version: u32 big-endian][24-byte nonce][ciphertext + 16-byte tag]`,
//! encrypted with XChaCha20-Poly1305. The associated data binds the blob to the row and the
//! destination it was entered for (`profile_id 0x00 slot 0x00 destination`), so a blob copied to
//! another profile, slot or destination does not open.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// The environment variable that, when set, holds the only key (`[<version>:]<base64>`).
pub const KEY_ENV: &str = "OUTMAIL_SECRET_KEY";

/// The key file's name inside the data directory.
pub const KEY_FILE_NAME: &str = "secret.key";

const VERSION_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;

/// Why a key could not be loaded, or a secret could not be sealed or opened.
///
/// No variant carries key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{KEY_ENV} is not usable: {reason}")]
    EnvKeyInvalid { reason: &'static str },
    #[error(
        "the key file {path} is readable or writable by group or others (mode {mode:o}); \
         run `chmod 600 {path}` and start again"
    )]
    KeyFileTooOpen { path: PathBuf, mode: u32 },
    #[error("the key file {path} is malformed at line {line}: {reason}")]
    KeyFileMalformed {
        path: PathBuf,
        line: usize,
        reason: &'static str,
    },
    #[error("the key file {path} could not be {action}: {source}")]
    KeyFileIo {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the operating system's random number generator failed")]
    Rng,
    #[error(
        "this secret was sealed with key version {0}, which the keyring does not hold; \
         was the key file replaced or {KEY_ENV} changed?"
    )]
    UnknownKeyVersion(u32),
    #[error("the sealed secret is truncated")]
    Truncated,
    #[error(
        "the secret does not open: it was sealed for another profile, slot or destination, \
         or with a different key"
    )]
    OpenFailed,
    #[error("the secret could not be sealed")]
    SealFailed,
    #[error("the opened secret is not UTF-8")]
    NotUtf8,
    #[error("profile ids and slot names must not contain NUL bytes")]
    InvalidContext,
    #[error(
        "keys from {KEY_ENV} cannot be rotated here; unset it to use the key file, \
         or rotate the key outside outmail"
    )]
    RotationNeedsKeyFile,
}

/// What a sealed secret is bound to; becomes the AEAD associated data.
#[derive(Debug, Clone, Copy)]
pub struct SecretContext<'a> {
    pub profile_id: &'a str,
    pub slot: &'a str,
    pub destination: &'a str,
}

impl SecretContext<'_> {
    fn associated_data(&self) -> Result<Vec<u8>, SealError> {
        // NUL separates the parts; forbidding it in the first two keeps the encoding unambiguous
        // (the destination is last, so it may hold anything).
        if self.profile_id.contains('\0') || self.slot.contains('\0') {
            return Err(SealError::InvalidContext);
        }
        let mut aad = Vec::with_capacity(
            self.profile_id.len() + self.slot.len() + self.destination.len() + 2,
        );
        aad.extend_from_slice(self.profile_id.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.slot.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.destination.as_bytes());
        Ok(aad)
    }
}

/// One 32-byte key; zeroed on drop and never printed.
#[derive(Clone)]
struct SealKey(Zeroizing<[u8; KEY_LEN]>);

impl SealKey {
    fn generate() -> Result<Self, SealError> {
        let bytes = <[u8; KEY_LEN]>::try_generate().map_err(|_| SealError::Rng)?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    fn from_base64(text: &str) -> Result<Self, &'static str> {
        let decoded = Zeroizing::new(
            BASE64
                .decode(text.trim())
                .map_err(|_| "the key is not valid base64")?,
        );
        let bytes: [u8; KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| "the key must decode to exactly 32 bytes")?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE64.encode(self.0.as_slice()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(*self.0))
    }
}

/// Where the keyring came from, which decides whether it can be reloaded and rotated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `OUTMAIL_SECRET_KEY`: a single key, managed outside outmail.
    Env,
    /// A key file holding every key version still in use.
    File(PathBuf),
}

/// Numbered keys; the highest version seals, every version opens.
pub struct Keyring {
    keys: BTreeMap<u32, SealKey>,
    source: KeySource,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Versions and source only: the keys themselves never reach a log.
        f.debug_struct("Keyring")
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .field("source", &self.source)
            .finish()
    }
}

impl Keyring {
    /// The server's rule: `OUTMAIL_SECRET_KEY` if set, else `<data_dir>/secret.key`, created on
    /// first run.
    pub fn load(data_dir: &Path) -> Result<Self, SealError> {
        match std::env::var(KEY_ENV) {
            Ok(value) => Self::from_env_value(&value),
            Err(std::env::VarError::NotPresent) => {
                Self::open_or_create_file(&data_dir.join(KEY_FILE_NAME))
            }
            Err(std::env::VarError::NotUnicode(_)) => Err(SealError::EnvKeyInvalid {
                reason: "the value is not UTF-8",
            }),
        }
    }

    /// Parses the value of `OUTMAIL_SECRET_KEY`: `[<version>:]<base64 of 32 bytes>`; the version
    /// defaults to 1 and must match the one the stored secrets were sealed with.
    pub fn from_env_value(value: &str) -> Result<Self, SealError> {
        let value = Zeroizing::new(value.trim().to_owned());
        let (version, encoded) = match value.split_once(':') {
            Some((version, encoded)) => (
                parse_version(version).ok_or(SealError::EnvKeyInvalid {
                    reason: "the part before ':' must be a key version from 1 to 4294967295",
                })?,
                encoded,
            ),
            None => (1, value.as_str()),
        };
        if encoded.is_empty() {
            return Err(SealError::EnvKeyInvalid {
                reason: "the value is empty",
            });
        }
        let key =
            SealKey::from_base64(encoded).map_err(|reason| SealError::EnvKeyInvalid { reason })?;
        Ok(Self {
            keys: BTreeMap::from([(version, key)]),
            source: KeySource::Env,
        })
    }

    /// Loads the key file, or creates it (mode 0600) with one fresh key when it does not exist.
    /// Refuses a file that group or others may read or write.
    pub fn open_or_create_file(path: &Path) -> Result<Self, SealError> {
        match read_key_file(path) {
            Ok(keys) => Ok(Self {
                keys,
                source: KeySource::File(path.to_owned()),
            }),
            Err(SealError::KeyFileIo { source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                let keys = BTreeMap::from([(1, SealKey::generate()?)]);
                match create_key_file(path, &keys) {
                    Ok(()) => Ok(Self {
                        keys,
                        source: KeySource::File(path.to_owned()),
                    }),
                    // Another process created it first: use theirs.
                    Err(SealError::KeyFileIo { source, .. })
                        if source.kind() == io::ErrorKind::AlreadyExists =>
                    {
                        Self::open_or_create_file(path)
                    }
                    Err(other) => Err(other),
                }
            }
            Err(other) => Err(other),
        }
    }

    /// The version new secrets are sealed with.
    pub fn active_version(&self) -> u32 {
        self.keys.keys().next_back().copied().unwrap_or(0)
    }

    /// Every key version held, oldest first.
    pub fn versions(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Seals `plaintext` with the active key, bound to `context`.
    pub fn seal(
        &self,
        context: &SecretContext<'_>,
        plaintext: &SecretString,
    ) -> Result<Vec<u8>, SealError> {
        let aad = context.associated_data()?;
        let (&version, key) = self
            .keys
            .iter()
            .next_back()
            .ok_or(SealError::UnknownKeyVersion(0))?;
        let nonce = XNonce::try_generate().map_err(|_| SealError::Rng)?;
        let ciphertext = key
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.expose_secret().as_bytes(),
                    aad: &aad,
                },
            )
            // XChaCha20-Poly1305 only fails to encrypt past 256 GiB; keep it an error anyway.
            .map_err(|_| SealError::SealFailed)?;
        let mut sealed = Vec::with_capacity(VERSION_LEN + NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&version.to_be_bytes());
        sealed.extend_from_slice(nonce.as_slice());
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a blob made by [`Keyring::seal`] with the same context.
    pub fn open(
        &self,
        context: &SecretContext<'_>,
        sealed: &[u8],
    ) -> Result<SecretString, SealError> {
        let aad = context.associated_data()?;
        let version = sealed_key_version(sealed).ok_or(SealError::Truncated)?;
        let rest = &sealed[VERSION_LEN..];
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Truncated);
        }
        let key = self
            .keys
            .get(&version)
            .ok_or(SealError::UnknownKeyVersion(version))?;
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SealError::Truncated)?;
        let plaintext = Zeroizing::new(
            key.cipher()
                .decrypt(
                    &nonce,
                    Payload {
                        msg: ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| SealError::OpenFailed)?,
        );
        // Copy into an exactly-sized box so no reallocation leaves plaintext behind; the
        // decrypted buffer is zeroed when `plaintext` drops.
        let text: Box<str> = std::str::from_utf8(&plaintext)
            .map_err(|_| SealError::NotUtf8)?
            .into();
        Ok(SecretString::from(text))
    }

    /// Re-reads the key file, picking up versions another process (`outmail rotate-key`) added.
    pub fn reload(&mut self) -> Result<(), SealError> {
        if let KeySource::File(path) = &self.source {
            self.keys = read_key_file(path)?;
        }
        Ok(())
    }

    /// Adds a fresh key one version above the highest in the file and writes the file before
    /// returning, so nothing is ever sealed with a key that is not on disk.
    pub(crate) fn add_key(&mut self) -> Result<u32, SealError> {
        let KeySource::File(path) = &self.source else {
            return Err(SealError::RotationNeedsKeyFile);
        };
        let path = path.clone();
        self.keys = read_key_file(&path)?;
        let version = self
            .active_version()
            .checked_add(1)
            .ok_or(SealError::KeyFileMalformed {
                path: path.clone(),
                line: 0,
                reason: "no key version is left above the highest one",
            })?;
        let mut keys = self.keys.clone();
        keys.insert(version, SealKey::generate()?);
        replace_key_file(&path, &keys)?;
        self.keys = keys;
        Ok(version)
    }
}

/// The key version a sealed blob names, if it is long enough to name one.
pub fn sealed_key_version(sealed: &[u8]) -> Option<u32> {
    let header: [u8; VERSION_LEN] = sealed.get(..VERSION_LEN)?.try_into().ok()?;
    Some(u32::from_be_bytes(header))
}

fn parse_version(text: &str) -> Option<u32> {
    text.trim().parse::<u32>().ok().filter(|&v| v >= 1)
}

fn io_error(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> SealError + use<> {
    let path = path.to_owned();
    move |source| SealError::KeyFileIo {
        path,
        action,
        source,
    }
}

fn read_key_file(path: &Path) -> Result<BTreeMap<u32, SealKey>, SealError> {
    let mut file = OpenOptions::new()
        .read(true)
        .open(path)
        .map_err(io_error(path, "opened"))?;
    let mode = file
        .metadata()
        .map_err(io_error(path, "inspected"))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(SealError::KeyFileTooOpen {
            path: path.to_owned(),
            mode: mode & 0o7777,
        });
    }
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text)
        .map_err(io_error(path, "read"))?;

    let malformed = |line: usize, reason: &'static str| SealError::KeyFileMalformed {
        path: path.to_owned(),
        line,
        reason,
    };
    let mut keys = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (version, encoded) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| malformed(line_no, "expected \"<version> <base64 key>\""))?;
        let version = parse_version(version)
            .ok_or_else(|| malformed(line_no, "the version must be a number from 1 up"))?;
        let key = SealKey::from_base64(encoded).map_err(|reason| malformed(line_no, reason))?;
        if keys.insert(version, key).is_some() {
            return Err(malformed(line_no, "this key version appears twice"));
        }
    }
    if keys.is_empty() {
        return Err(malformed(0, "the file holds no key"));
    }
    Ok(keys)
}

fn render_key_file(keys: &BTreeMap<u32, SealKey>) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::from(
        "# outmail secret keys: keep this file private (mode 0600), back it up with the\n\
         # database. One key a line, \"<version> <base64 of 32 bytes>\"; the highest version\n\
         # seals new secrets, every version listed opens the secrets sealed with it.\n",
    ));
    for (version, key) in keys {
        text.push_str(&version.to_string());
        text.push(' ');
        text.push_str(&key.to_base64());
        text.push('\n');
    }
    text
}

fn ensure_parent_dir(path: &Path) -> Result<(), SealError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_error(dir, "created")),
        _ => Ok(()),
    }
}

/// Writes a new file with mode 0600 from the start (never a window where it is readable), and
/// flushes it and its directory so a crash cannot lose a key that sealed something.
fn write_new_file(path: &Path, keys: &BTreeMap<u32, SealKey>) -> Result<(), SealError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path, "created"))?;
    file.write_all(render_key_file(keys).as_bytes())
        .map_err(io_error(path, "written"))?;
    file.sync_all().map_err(io_error(path, "flushed"))
}

fn sync_parent_dir(path: &Path) -> Result<(), SealError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir, "flushed"))
}

fn create_key_file(path: &Path, keys: &BTreeMap<u32, SealKey>) -> Result<(), SealError> {
    ensure_parent_dir(path)?;
    write_new_file(path, keys)?;
    sync_parent_dir(path)
}

/// Replaces the key file atomically: write a sibling, then rename over the original.
fn replace_key_file(path: &Path, keys: &BTreeMap<u32, SealKey>) -> Result<(), SealError> {
    let mut staging = path.as_os_str().to_owned();
    staging.push(".new");
    let staging = PathBuf::from(staging);
    // A leftover from an interrupted rotation holds nothing the real file lacks.
    match fs::remove_file(&staging) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&staging, "removed")(e)),
    }
    write_new_file(&staging, keys)?;
    fs::rename(&staging, path).map_err(io_error(path, "replaced"))?;
    sync_parent_dir(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context<'a>(profile_id: &'a str, slot: &'a str, destination: &'a str) -> SecretContext<'a> {
        SecretContext {
            profile_id,
            slot,
            destination,
        }
    }

    fn env_keyring() -> Keyring {
        Keyring::from_env_value(&BASE64.encode([7u8; 32])).expect("a valid env key")
    }

    #[test]
    fn a_sealed_secret_opens_with_the_same_context() {
        let keyring = env_keyring();
        let ctx = context("p1", "password", "smtp://mail.example:587");
        let sealed = keyring
            .seal(&ctx, &SecretString::from("hunter2"))
            .expect("seals");
        assert_eq!(sealed_key_version(&sealed), Some(1));
        assert_eq!(
            sealed.len(),
            VERSION_LEN + NONCE_LEN + "hunter2".len() + TAG_LEN
        );
        let opened = keyring.open(&ctx, &sealed).expect("opens");
        assert_eq!(opened.expose_secret(), "hunter2");
    }

    #[test]
    fn two_seals_of_the_same_secret_differ() {
        let keyring = env_keyring();
        let ctx = context("p1", "password", "d");
        let secret = SecretString::from("same");
        assert_ne!(
            keyring.seal(&ctx, &secret).expect("seals"),
            keyring.seal(&ctx, &secret).expect("seals")
        );
    }

    #[test]
    fn a_sealed_secret_does_not_open_for_another_row_slot_or_destination() {
        let keyring = env_keyring();
        let sealed = keyring
            .seal(&context("p1", "password", "d1"), &SecretString::from("s"))
            .expect("seals");
        for other in [
            context("p2", "password", "d1"),
            context("p1", "client_secret", "d1"),
            context("p1", "password", "d2"),
            // Moving bytes across the separator must not produce the same associated data.
            context("p1\u{0}password", "", "d1"),
        ] {
            assert!(
                keyring.open(&other, &sealed).is_err(),
                "{other:?} opened it"
            );
        }
    }

    #[test]
    fn a_tampered_or_truncated_blob_is_refused() {
        let keyring = env_keyring();
        let ctx = context("p1", "password", "d");
        let mut sealed = keyring.seal(&ctx, &SecretString::from("s")).expect("seals");
        assert!(matches!(
            keyring.open(&ctx, &sealed[..10]),
            Err(SealError::Truncated)
        ));
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(matches!(
            keyring.open(&ctx, &sealed),
            Err(SealError::OpenFailed)
        ));
        sealed[..4].copy_from_slice(&9u32.to_be_bytes());
        assert!(matches!(
            keyring.open(&ctx, &sealed),
            Err(SealError::UnknownKeyVersion(9))
        ));
    }

    #[test]
    fn an_env_key_must_be_base64_of_32_bytes() {
        for bad in [
            "",
            "not base64!",
            &BASE64.encode([1u8; 16]),
            "0:AAAA",
            "x:AAAA",
        ] {
            assert!(
                matches!(
                    Keyring::from_env_value(bad),
                    Err(SealError::EnvKeyInvalid { .. })
                ),
                "{bad:?} was accepted"
            );
        }
        let keyring =
            Keyring::from_env_value(&format!("3:{}", BASE64.encode([1u8; 32]))).expect("valid");
        assert_eq!(keyring.active_version(), 3);
        assert!(matches!(
            keyring.clone_for_test().add_key(),
            Err(SealError::RotationNeedsKeyFile)
        ));
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let keyring = env_keyring();
        let printed = format!("{keyring:?}");
        assert!(!printed.contains(&BASE64.encode([7u8; 32])));
        assert!(!printed.contains("7, 7"));
    }

    #[test]
    fn a_new_key_file_is_created_private_and_reloads_to_the_same_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested").join(KEY_FILE_NAME);
        let created = Keyring::open_or_create_file(&path).expect("creates the key file");
        let mode = fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(created.versions(), vec![1]);

        let ctx = context("p", "s", "d");
        let sealed = created.seal(&ctx, &SecretString::from("x")).expect("seals");
        let reloaded = Keyring::open_or_create_file(&path).expect("loads the key file");
        assert_eq!(
            reloaded.open(&ctx, &sealed).expect("opens").expose_secret(),
            "x"
        );
    }

    #[test]
    fn a_group_or_world_readable_key_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(KEY_FILE_NAME);
        Keyring::open_or_create_file(&path).expect("creates the key file");
        for mode in [0o644, 0o640, 0o604, 0o620] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            let refused = Keyring::open_or_create_file(&path);
            assert!(
                matches!(refused, Err(SealError::KeyFileTooOpen { mode: m, .. }) if m == mode),
                "mode {mode:o} was accepted"
            );
        }
    }

    #[test]
    fn a_malformed_key_file_is_refused_with_its_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(KEY_FILE_NAME);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .expect("create");
        file.write_all(b"# comment\n1 not-base64\n").expect("write");
        assert!(matches!(
            Keyring::open_or_create_file(&path),
            Err(SealError::KeyFileMalformed { line: 2, .. })
        ));
    }

    #[test]
    fn an_added_key_is_on_disk_and_seals_while_old_keys_still_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(KEY_FILE_NAME);
        let mut keyring = Keyring::open_or_create_file(&path).expect("creates");
        let ctx = context("p", "s", "d");
        let old = keyring
            .seal(&ctx, &SecretString::from("old"))
            .expect("seals");
        assert_eq!(keyring.add_key().expect("adds"), 2);
        let new = keyring
            .seal(&ctx, &SecretString::from("new"))
            .expect("seals");
        assert_eq!(sealed_key_version(&new), Some(2));

        let reloaded = Keyring::open_or_create_file(&path).expect("loads");
        assert_eq!(reloaded.versions(), vec![1, 2]);
        assert_eq!(
            reloaded.open(&ctx, &old).expect("opens").expose_secret(),
            "old"
        );
        assert_eq!(
            reloaded.open(&ctx, &new).expect("opens").expose_secret(),
            "new"
        );
        let mode = fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the rewritten file stays private");
    }

    impl Keyring {
        fn clone_for_test(&self) -> Self {
            Self {
                keys: self.keys.clone(),
                source: self.source.clone(),
            }
        }
    }
}
