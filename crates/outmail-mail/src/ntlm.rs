//! The client side of NTLMv2 (MS-NLMP) for `AUTH NTLM` (MS-SMTPNTLM) and HTTP NTLM (EWS):
//! the NEGOTIATE message, and the AUTHENTICATE message answering the server's CHALLENGE.
//!
//! Written here on RustCrypto's MD4, MD5 and HMAC rather than taken from a crate: the
//! maintained NTLM implementations come inside full SSPI stacks (Kerberos, CredSSP, Windows
//! bindings), while sending mail needs only these two messages. Checked against the
//! MS-NLMP 4.2.4 test vectors below. NTLMv1 and LM are never sent; signing and sealing are not
//! used (the transport is TLS).

use hmac::{Hmac, Mac};
use md4::{Digest, Md4};
use md5::Md5;
use outmail_types::SecretString;

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
const REQUEST_TARGET: u32 = 0x0000_0004;
const NEGOTIATE_NTLM: u32 = 0x0000_0200;
const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
const NEGOTIATE_EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
const NEGOTIATE_128: u32 = 0x2000_0000;
const NEGOTIATE_56: u32 = 0x8000_0000;
const CLIENT_FLAGS: u32 = NEGOTIATE_UNICODE
    | REQUEST_TARGET
    | NEGOTIATE_NTLM
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_TARGET_INFO
    | NEGOTIATE_128
    | NEGOTIATE_56;
/// MsvAvTimestamp: when the server sends one, the LMv2 response is zeros (MS-NLMP 3.1.5.1.2).
const AV_TIMESTAMP: u16 = 7;
const AV_EOL: u16 = 0;
/// The AUTHENTICATE header: signature, type, six security buffers and the flags.
const AUTHENTICATE_HEADER_LEN: usize = 64;

/// Who signs in.
#[derive(Debug, Clone)]
pub struct NtlmCredentials {
    pub username: String,
    pub domain: String,
    pub workstation: String,
    pub password: SecretString,
}

/// Why the server's CHALLENGE could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NtlmError {
    #[error("the server's NTLM challenge is malformed ({0})")]
    MalformedChallenge(&'static str),
    #[error("the server offers only NTLMv1 without Unicode, which outmail does not send")]
    Unsupported,
}

/// The NEGOTIATE (type 1) message.
pub fn negotiate() -> Vec<u8> {
    let mut message = Vec::with_capacity(32);
    message.extend_from_slice(SIGNATURE);
    message.extend_from_slice(&1u32.to_le_bytes());
    message.extend_from_slice(&CLIENT_FLAGS.to_le_bytes());
    // Empty domain and workstation fields: the names go in the AUTHENTICATE message.
    message.extend_from_slice(&[0; 16]);
    message
}

/// A CHALLENGE (type 2) message, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub flags: u32,
    pub server_challenge: [u8; 8],
    pub target_info: Vec<u8>,
}

impl Challenge {
    pub fn parse(message: &[u8]) -> Result<Self, NtlmError> {
        if message.len() < 48 || &message[..8] != SIGNATURE {
            return Err(NtlmError::MalformedChallenge("no NTLMSSP signature"));
        }
        if read_u32(message, 8) != Some(2) {
            return Err(NtlmError::MalformedChallenge("not a CHALLENGE message"));
        }
        let flags = read_u32(message, 20).unwrap_or(0);
        if flags & NEGOTIATE_UNICODE == 0 {
            return Err(NtlmError::Unsupported);
        }
        let mut server_challenge = [0; 8];
        server_challenge.copy_from_slice(&message[24..32]);
        let target_info = buffer(message, 40)
            .ok_or(NtlmError::MalformedChallenge(
                "target information out of bounds",
            ))?
            .to_vec();
        Ok(Self {
            flags,
            server_challenge,
            target_info,
        })
    }

    /// The server's MsvAvTimestamp (a FILETIME), if it sent one.
    fn timestamp(&self) -> Option<[u8; 8]> {
        let mut rest = self.target_info.as_slice();
        while rest.len() >= 4 {
            let id = u16::from_le_bytes([rest[0], rest[1]]);
            let len = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
            let value = rest.get(4..4 + len)?;
            match id {
                AV_EOL => return None,
                AV_TIMESTAMP if len == 8 => return value.try_into().ok(),
                _ => rest = &rest[4 + len..],
            }
        }
        None
    }
}

/// The AUTHENTICATE (type 3) message answering `challenge`, with an NTLMv2 response.
/// `client_challenge` is random in use and fixed in tests; `now` is the time as a Windows
/// FILETIME, used when the server sends no timestamp of its own.
pub fn authenticate(
    challenge: &Challenge,
    credentials: &NtlmCredentials,
    client_challenge: [u8; 8],
    now: u64,
) -> Vec<u8> {
    let key = ntowf_v2(credentials);
    let server_time = challenge.timestamp();
    let time = server_time.unwrap_or(now.to_le_bytes());
    let nt_response = nt_v2_response(
        &key,
        &challenge.server_challenge,
        &client_challenge,
        &time,
        &challenge.target_info,
    );
    let lm_response = if server_time.is_some() {
        vec![0; 24]
    } else {
        lm_v2_response(&key, &challenge.server_challenge, &client_challenge)
    };
    let flags = challenge.flags & CLIENT_FLAGS | NEGOTIATE_UNICODE;
    let fields: [Vec<u8>; 6] = [
        lm_response,
        nt_response,
        utf16le(&credentials.domain),
        utf16le(&credentials.username),
        utf16le(&credentials.workstation),
        Vec::new(), // no session key exchange
    ];
    let mut header = Vec::with_capacity(AUTHENTICATE_HEADER_LEN);
    header.extend_from_slice(SIGNATURE);
    header.extend_from_slice(&3u32.to_le_bytes());
    let mut payload = Vec::new();
    for field in &fields {
        let offset = AUTHENTICATE_HEADER_LEN + payload.len();
        let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
        header.extend_from_slice(&len.to_le_bytes());
        header.extend_from_slice(&len.to_le_bytes());
        header.extend_from_slice(&u32::try_from(offset).unwrap_or(u32::MAX).to_le_bytes());
        payload.extend_from_slice(field);
    }
    header.extend_from_slice(&flags.to_le_bytes());
    header.extend_from_slice(&payload);
    header
}

/// 8 random bytes for the client challenge, from the operating system.
pub fn random_client_challenge() -> Result<[u8; 8], crate::MailError> {
    client_challenge_from(getrandom::fill)
}

/// A client challenge filled by `fill`. Without randomness there is no challenge: a fixed one
/// (all zeros) would let a recorded NTLMv2 response be replayed against the same server
/// challenge, so a failing source is an error, never a silent fallback.
fn client_challenge_from(
    fill: impl FnOnce(&mut [u8]) -> Result<(), getrandom::Error>,
) -> Result<[u8; 8], crate::MailError> {
    let mut bytes = [0; 8];
    fill(&mut bytes).map_err(|error| {
        crate::MailError::new(
            crate::Reason::Protocol,
            outmail_types::diagnosis::Stage::Auth,
            format!("this machine gave no randomness for the NTLM client challenge: {error}"),
        )
    })?;
    Ok(bytes)
}

/// Now by `clock` as a Windows FILETIME (100 ns ticks since 1601).
pub fn filetime(clock: &dyn outmail_clock::Clock) -> u64 {
    const UNIX_EPOCH_IN_FILETIME: u64 = 116_444_736_000_000_000;
    let since_unix_ms = u64::try_from(clock.now_ms()).unwrap_or(0);
    UNIX_EPOCH_IN_FILETIME + since_unix_ms.saturating_mul(10_000)
}

/// NTOWFv2: HMAC-MD5 keyed with MD4(password) over UPPER(user) + domain, all UTF-16LE.
fn ntowf_v2(credentials: &NtlmCredentials) -> [u8; 16] {
    let password_hash = Md4::digest(utf16le(credentials.password.expose()));
    let identity = format!(
        "{}{}",
        credentials.username.to_uppercase(),
        credentials.domain
    );
    hmac_md5(&password_hash, &[&utf16le(&identity)])
}

fn nt_v2_response(
    key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
    time: &[u8; 8],
    target_info: &[u8],
) -> Vec<u8> {
    let mut temp = vec![1, 1, 0, 0, 0, 0, 0, 0];
    temp.extend_from_slice(time);
    temp.extend_from_slice(client_challenge);
    temp.extend_from_slice(&[0; 4]);
    temp.extend_from_slice(target_info);
    temp.extend_from_slice(&[0; 4]);
    let proof = hmac_md5(key, &[server_challenge, &temp]);
    let mut response = proof.to_vec();
    response.extend_from_slice(&temp);
    response
}

fn lm_v2_response(
    key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
) -> Vec<u8> {
    let mut response = hmac_md5(key, &[server_challenge, client_challenge]).to_vec();
    response.extend_from_slice(client_challenge);
    response
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac =
        <Hmac<Md5> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn read_u32(message: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        message.get(at..at + 4)?.try_into().ok()?,
    ))
}

/// The bytes a security buffer (length, allocated length, offset) at `at` points to.
fn buffer(message: &[u8], at: usize) -> Option<&[u8]> {
    let len = usize::from(u16::from_le_bytes(
        message.get(at..at + 2)?.try_into().ok()?,
    ));
    let offset = usize::try_from(read_u32(message, at + 4)?).ok()?;
    message.get(offset..offset.checked_add(len)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_failing_random_source_is_an_error_not_a_zero_challenge() {
        let failed = super::client_challenge_from(|_| Err(getrandom::Error::UNSUPPORTED));
        assert!(failed.unwrap_err().detail.contains("no randomness"));
        let filled = super::client_challenge_from(|bytes| {
            bytes.fill(7);
            Ok(())
        });
        assert_eq!(filled.unwrap(), [7; 8]);
    }

    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
            .collect()
    }

    /// MS-NLMP 4.2.1 and 4.2.4: User / Domain / Password, server challenge 0123456789abcdef,
    /// client challenge aa…aa, time 0, and the AV pairs NbDomainName "Domain" and
    /// NbComputerName "Server".
    fn vector_credentials() -> NtlmCredentials {
        NtlmCredentials {
            username: "User".into(),
            domain: "Domain".into(),
            workstation: "COMPUTER".into(),
            password: SecretString::from("Password"),
        }
    }

    fn vector_target_info() -> Vec<u8> {
        let mut info = vec![0x02, 0x00, 0x0c, 0x00];
        info.extend(utf16le("Domain"));
        info.extend([0x01, 0x00, 0x0c, 0x00]);
        info.extend(utf16le("Server"));
        info.extend([0, 0, 0, 0]);
        info
    }

    #[test]
    fn ntowfv2_matches_ms_nlmp() {
        assert_eq!(
            ntowf_v2(&vector_credentials()).to_vec(),
            unhex("0c868a403bfd7a93a3001ef22ef02e3f")
        );
    }

    #[test]
    fn ntlmv2_and_lmv2_responses_match_ms_nlmp() {
        let key = ntowf_v2(&vector_credentials());
        let server = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
        let client = [0xaa; 8];
        let response = nt_v2_response(&key, &server, &client, &[0; 8], &vector_target_info());
        assert_eq!(response[..16], unhex("68cd0ab851e51c96aabc927bebef6a1c"));
        assert_eq!(
            lm_v2_response(&key, &server, &client),
            unhex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
        );
        // SessionBaseKey = HMAC_MD5(NTOWFv2, NTProofStr), also given by the vectors.
        assert_eq!(
            hmac_md5(&key, &[&response[..16]]).to_vec(),
            unhex("8de40ccadbc14a82f15cb0ad0de95ca3")
        );
    }

    fn challenge_message(flags: u32, target_info: &[u8]) -> Vec<u8> {
        let mut message = SIGNATURE.to_vec();
        message.extend(2u32.to_le_bytes());
        message.extend([0, 0, 0, 0, 48, 0, 0, 0]); // empty target name at 48
        message.extend(flags.to_le_bytes());
        message.extend([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        message.extend([0; 8]);
        let len = u16::try_from(target_info.len()).unwrap().to_le_bytes();
        message.extend(len);
        message.extend(len);
        message.extend(48u32.to_le_bytes());
        message.extend(target_info);
        message
    }

    #[test]
    fn the_authenticate_message_carries_the_vector_response_in_its_buffers() {
        let challenge =
            Challenge::parse(&challenge_message(CLIENT_FLAGS, &vector_target_info())).unwrap();
        assert_eq!(challenge.target_info, vector_target_info());
        let message = authenticate(&challenge, &vector_credentials(), [0xaa; 8], 0);
        assert_eq!(&message[..8], SIGNATURE);
        assert_eq!(read_u32(&message, 8), Some(3));
        let nt = buffer(&message, 20).unwrap();
        assert_eq!(nt[..16], unhex("68cd0ab851e51c96aabc927bebef6a1c"));
        assert_eq!(buffer(&message, 28).unwrap(), utf16le("Domain"));
        assert_eq!(buffer(&message, 36).unwrap(), utf16le("User"));
        assert_eq!(buffer(&message, 44).unwrap(), utf16le("COMPUTER"));
    }

    #[test]
    fn a_server_timestamp_is_used_and_the_lm_response_is_zero() {
        let mut info = vec![0x07, 0x00, 0x08, 0x00];
        info.extend(0x01d2_0000_0000_0000u64.to_le_bytes());
        info.extend([0, 0, 0, 0]);
        let challenge = Challenge::parse(&challenge_message(CLIENT_FLAGS, &info)).unwrap();
        let message = authenticate(&challenge, &vector_credentials(), [0xaa; 8], 42);
        assert_eq!(buffer(&message, 12).unwrap(), [0; 24]);
        let nt = buffer(&message, 20).unwrap();
        assert_eq!(nt[24..32], 0x01d2_0000_0000_0000u64.to_le_bytes());
    }

    #[test]
    fn malformed_and_v1_only_challenges_are_refused() {
        assert!(Challenge::parse(b"NTLMSSP\0").is_err());
        assert_eq!(
            Challenge::parse(&challenge_message(NEGOTIATE_NTLM, &[])),
            Err(NtlmError::Unsupported)
        );
        let mut truncated = challenge_message(CLIENT_FLAGS, &vector_target_info());
        truncated.truncate(60);
        assert!(Challenge::parse(&truncated).is_err());
    }
}
