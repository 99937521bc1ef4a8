#!/usr/bin/python3
"""Server side of NTLMv2 (MS-NLMP), for the outmail-mail test peers.

Standard library only; imported by ``ews_peer.py`` (HTTP NTLM) and
``smtp_peer.py`` (AUTH NTLM, MS-SMTPNTLM).  ``/usr/bin/python3 ntlm_server.py
--self-test`` checks the primitives against published test vectors (MD4: RFC
1320 appendix A.5; NTLMv2: MS-NLMP section 4.2.4) and runs a full
NEGOTIATE/CHALLENGE/AUTHENTICATE round trip; it prints ``self-test ok`` and
exits 0, or prints the first mismatch and exits 1.

MD4 is written out here (RFC 1320) because OpenSSL 3 as shipped by Debian
does not offer it (``hashlib.new("md4")`` fails).

API
---
``new_challenge(negotiate, *, server_challenge=None, nb_domain=...,
nb_computer=..., dns_domain=..., dns_computer=..., timestamp=None)``
    Parses a NEGOTIATE_MESSAGE (type 1) and returns ``(challenge_bytes,
    state)``: a CHALLENGE_MESSAGE (type 2) and the ``ChallengeState`` needed
    to check the answer.  ``server_challenge`` (8 bytes) and ``timestamp``
    (a FILETIME integer) are random/now unless given.  Raises ``NtlmError``
    when the NEGOTIATE_MESSAGE is not acceptable (see below).

``verify_authenticate(authenticate, state, users)``
    Checks an AUTHENTICATE_MESSAGE (type 3).  ``users`` maps
    ``(USER, DOMAIN)`` (both upper-cased) to the password.  Returns
    ``(ok, reason, user, domain)``: user and domain as the client sent them
    (None when the message could not be parsed that far) and a one-line
    reason (``"ok"`` on success).  An empty domain in the message is looked
    up as the server's NetBIOS domain (``state.nb_domain``), as a domain
    member server would do; the NTLMv2 hash itself is always computed with
    the domain exactly as the client sent it.

What is refused
---------------
NEGOTIATE: not ``NTLMSSP\\0`` / type 1, shorter than 32 octets (the fixed
part of MS-NLMP 2.2.1.1), NTLMSSP_NEGOTIATE_NTLM or NTLMSSP_NEGOTIATE_UNICODE
not set (this server speaks Unicode only).

AUTHENTICATE: bad signature/type, a security buffer pointing outside the
message, NTLMSSP_NEGOTIATE_UNICODE not set, anonymous (ANONYMOUS flag or
empty user name or empty NtChallengeResponse), NTLMv1 (NtChallengeResponse of
24 octets) or any NtChallengeResponse too short for NTLMv2, a blob whose
RespType/HiRespType is not 1/1, a blob whose AV pairs are malformed, lack
MsvAvEOL, or do not repeat every AV pair of our CHALLENGE_MESSAGE with the
same value (so MsvAvTimestamp must be present and equal), an LmChallengeResponse
that is neither empty nor 24 octets, an unknown user, a wrong NTProofStr
(wrong password, wrong challenge, tampered blob), and, when the client's
MsvAvFlags has bit 0x2 set, a missing or wrong MIC (HMAC-MD5 over the three
messages keyed with the exported session key, RC4-decrypted from
EncryptedRandomSessionKey when NTLMSSP_NEGOTIATE_KEY_EXCH is set).

CHALLENGE message sent
----------------------
Flags: UNICODE | REQUEST_TARGET | NTLM | TARGET_TYPE_DOMAIN |
EXTENDED_SESSIONSECURITY | TARGET_INFO | VERSION, plus whichever of SIGN,
SEAL, ALWAYS_SIGN, 128, 56 and KEY_EXCH the client asked for.
TargetName: the NetBIOS domain (UTF-16LE).  TargetInfo, in this order:
MsvAvNbDomainName, MsvAvNbComputerName, MsvAvDnsDomainName,
MsvAvDnsComputerName, MsvAvTimestamp, MsvAvEOL.  Version: 10.0.20348, NTLM
revision 15.
"""

import hashlib
import hmac
import os
import struct
import sys
import time

SIGNATURE = b"NTLMSSP\x00"

NEGOTIATE_UNICODE = 0x00000001
NEGOTIATE_OEM = 0x00000002
REQUEST_TARGET = 0x00000004
NEGOTIATE_SIGN = 0x00000010
NEGOTIATE_SEAL = 0x00000020
NEGOTIATE_LM_KEY = 0x00000080
NEGOTIATE_NTLM = 0x00000200
NEGOTIATE_ANONYMOUS = 0x00000800
NEGOTIATE_ALWAYS_SIGN = 0x00008000
TARGET_TYPE_DOMAIN = 0x00010000
TARGET_TYPE_SERVER = 0x00020000
NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000
NEGOTIATE_TARGET_INFO = 0x00800000
NEGOTIATE_VERSION = 0x02000000
NEGOTIATE_128 = 0x20000000
NEGOTIATE_KEY_EXCH = 0x40000000
NEGOTIATE_56 = 0x80000000

# Flags copied into the CHALLENGE when the client asked for them.
ECHOED_FLAGS = (
    NEGOTIATE_SIGN | NEGOTIATE_SEAL | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_128 | NEGOTIATE_56 | NEGOTIATE_KEY_EXCH
)
SERVER_FLAGS = (
    NEGOTIATE_UNICODE | REQUEST_TARGET | NEGOTIATE_NTLM | TARGET_TYPE_DOMAIN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY | NEGOTIATE_TARGET_INFO
    | NEGOTIATE_VERSION
)

MSV_AV_EOL = 0
MSV_AV_NB_COMPUTER_NAME = 1
MSV_AV_NB_DOMAIN_NAME = 2
MSV_AV_DNS_COMPUTER_NAME = 3
MSV_AV_DNS_DOMAIN_NAME = 4
MSV_AV_DNS_TREE_NAME = 5
MSV_AV_FLAGS = 6
MSV_AV_TIMESTAMP = 7
MSV_AV_SINGLE_HOST = 8
MSV_AV_TARGET_NAME = 9
MSV_AV_CHANNEL_BINDINGS = 10

AV_NAMES = {
    0: "MsvAvEOL", 1: "MsvAvNbComputerName", 2: "MsvAvNbDomainName",
    3: "MsvAvDnsComputerName", 4: "MsvAvDnsDomainName", 5: "MsvAvDnsTreeName",
    6: "MsvAvFlags", 7: "MsvAvTimestamp", 8: "MsvAvSingleHost",
    9: "MsvAvTargetName", 10: "MsvAvChannelBindings",
}

# Windows Server 2022 (10.0.20348), NTLMSSP_REVISION_W2K3 (15).
SERVER_VERSION = struct.pack("<BBHBBBB", 10, 0, 20348, 0, 0, 0, 15)

# Seconds between 1601-01-01 and 1970-01-01.
FILETIME_EPOCH_OFFSET = 11644473600


class NtlmError(ValueError):
    """A message that this server refuses; str() says why."""


# ---------------------------------------------------------------------------
# MD4 (RFC 1320), HMAC-MD5, RC4
# ---------------------------------------------------------------------------

def _rotl(value, shift):
    value &= 0xFFFFFFFF
    return ((value << shift) | (value >> (32 - shift))) & 0xFFFFFFFF


def md4(data):
    """MD4 digest of `data` (bytes), per RFC 1320."""
    data = bytes(data)
    bit_length = (8 * len(data)) & 0xFFFFFFFFFFFFFFFF
    padded = data + b"\x80"
    padded += b"\x00" * ((56 - len(padded) % 64) % 64)
    padded += struct.pack("<Q", bit_length)

    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for offset in range(0, len(padded), 64):
        x = struct.unpack("<16I", padded[offset:offset + 64])
        aa, bb, cc, dd = a, b, c, d

        def f(x_, y_, z_):
            return (x_ & y_) | (~x_ & z_)

        def g(x_, y_, z_):
            return (x_ & y_) | (x_ & z_) | (y_ & z_)

        def h(x_, y_, z_):
            return x_ ^ y_ ^ z_

        # Round 1: [abcd k s] a = (a + F(b,c,d) + X[k]) <<< s
        for k in (0, 4, 8, 12):
            a = _rotl(a + f(b, c, d) + x[k], 3)
            d = _rotl(d + f(a, b, c) + x[k + 1], 7)
            c = _rotl(c + f(d, a, b) + x[k + 2], 11)
            b = _rotl(b + f(c, d, a) + x[k + 3], 19)
        # Round 2: a = (a + G(b,c,d) + X[k] + 5A827999) <<< s
        for k in (0, 1, 2, 3):
            a = _rotl(a + g(b, c, d) + x[k] + 0x5A827999, 3)
            d = _rotl(d + g(a, b, c) + x[k + 4] + 0x5A827999, 5)
            c = _rotl(c + g(d, a, b) + x[k + 8] + 0x5A827999, 9)
            b = _rotl(b + g(c, d, a) + x[k + 12] + 0x5A827999, 13)
        # Round 3: a = (a + H(b,c,d) + X[k] + 6ED9EBA1) <<< s
        for k in (0, 2, 1, 3):
            a = _rotl(a + h(b, c, d) + x[k] + 0x6ED9EBA1, 3)
            d = _rotl(d + h(a, b, c) + x[k + 8] + 0x6ED9EBA1, 9)
            c = _rotl(c + h(d, a, b) + x[k + 4] + 0x6ED9EBA1, 11)
            b = _rotl(b + h(c, d, a) + x[k + 12] + 0x6ED9EBA1, 15)

        a = (a + aa) & 0xFFFFFFFF
        b = (b + bb) & 0xFFFFFFFF
        c = (c + cc) & 0xFFFFFFFF
        d = (d + dd) & 0xFFFFFFFF
    return struct.pack("<4I", a, b, c, d)


def hmac_md5(key, data):
    return hmac.new(key, data, hashlib.md5).digest()


def rc4(key, data):
    """RC4 (ARCFOUR) keystream applied to `data`."""
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 0xFF
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) & 0xFF
        j = (j + s[i]) & 0xFF
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) & 0xFF])
    return bytes(out)


# ---------------------------------------------------------------------------
# NTLMv2 computations (MS-NLMP 3.3.2)
# ---------------------------------------------------------------------------

def nt_hash(password):
    """MD4(UTF-16LE(password))."""
    return md4(password.encode("utf-16-le"))


def ntowf_v2(password, user, domain):
    """NTOWFv2 = HMAC_MD5(MD4(UTF16LE(Passwd)), UTF16LE(Upper(User) + UserDom))."""
    return hmac_md5(nt_hash(password), (user.upper() + domain).encode("utf-16-le"))


def ntlmv2_temp(timestamp, client_challenge, av_pairs):
    """The blob (`temp`) hashed into NTProofStr.

    temp = RespType(1) HiRespType(1) Z(6) Time(8) ClientChallenge(8) Z(4)
           ServerName Z(4); ServerName is the AV pair list (with MsvAvEOL).
    """
    return (
        b"\x01\x01" + b"\x00" * 6 + struct.pack("<Q", timestamp)
        + client_challenge + b"\x00" * 4 + av_pairs + b"\x00" * 4
    )


def nt_proof_str(response_key_nt, server_challenge, temp):
    """NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge + temp)."""
    return hmac_md5(response_key_nt, server_challenge + temp)


def ntlmv2_response(response_key_nt, server_challenge, temp):
    """NtChallengeResponse = NTProofStr + temp."""
    return nt_proof_str(response_key_nt, server_challenge, temp) + temp


def lmv2_response(response_key_lm, server_challenge, client_challenge):
    """LmChallengeResponse = HMAC_MD5(ResponseKeyLM, SC + CC) + CC."""
    return hmac_md5(response_key_lm, server_challenge + client_challenge) + client_challenge


def session_base_key(response_key_nt, proof):
    """SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr)."""
    return hmac_md5(response_key_nt, proof)


def encode_av_pairs(pairs):
    """[(AvId, value bytes), ...] -> AV_PAIR list ending with MsvAvEOL."""
    out = b""
    for av_id, value in pairs:
        out += struct.pack("<HH", av_id, len(value)) + value
    return out + struct.pack("<HH", MSV_AV_EOL, 0)


def decode_av_pairs(data):
    """AV_PAIR list -> [(AvId, value bytes)] without the EOL; bytes after
    MsvAvEOL are returned as the second item (the caller decides)."""
    pairs = []
    offset = 0
    while True:
        if offset + 4 > len(data):
            raise NtlmError("AV pair list ends without MsvAvEOL")
        av_id, length = struct.unpack_from("<HH", data, offset)
        offset += 4
        if av_id == MSV_AV_EOL:
            if length != 0:
                raise NtlmError("MsvAvEOL with a non-zero length")
            return pairs, data[offset:]
        if offset + length > len(data):
            raise NtlmError(
                f"AV pair {AV_NAMES.get(av_id, av_id)} runs past the end of the list"
            )
        pairs.append((av_id, data[offset:offset + length]))
        offset += length


def filetime_now():
    return int((time.time() + FILETIME_EPOCH_OFFSET) * 10_000_000)


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------

def _security_buffer(message, offset, name):
    """Reads a (Len, MaxLen, Offset) field at `offset` and returns the bytes."""
    length, _max_length, data_offset = struct.unpack_from("<HHI", message, offset)
    if length == 0:
        return b""
    if data_offset + length > len(message):
        raise NtlmError(
            f"{name} ({length} octets at offset {data_offset}) runs past the end "
            f"of the {len(message)}-octet message"
        )
    return message[data_offset:data_offset + length]


def parse_negotiate(message):
    """NEGOTIATE_MESSAGE -> dict(flags, domain, workstation)."""
    if len(message) < 32:
        raise NtlmError(f"NEGOTIATE_MESSAGE too short ({len(message)} octets, need 32)")
    if message[:8] != SIGNATURE:
        raise NtlmError("not an NTLMSSP message (bad signature)")
    (message_type,) = struct.unpack_from("<I", message, 8)
    if message_type != 1:
        raise NtlmError(f"expected NEGOTIATE_MESSAGE (type 1), got type {message_type}")
    (flags,) = struct.unpack_from("<I", message, 12)
    if not flags & NEGOTIATE_NTLM:
        raise NtlmError("NEGOTIATE_MESSAGE lacks NTLMSSP_NEGOTIATE_NTLM")
    if not flags & NEGOTIATE_UNICODE:
        raise NtlmError("NEGOTIATE_MESSAGE lacks NTLMSSP_NEGOTIATE_UNICODE (OEM is not supported)")
    # Domain and workstation are OEM strings when supplied (MS-NLMP 2.2.1.1).
    domain = _security_buffer(message, 16, "DomainNameFields")
    workstation = _security_buffer(message, 24, "WorkstationFields")
    return {
        "flags": flags,
        "domain": domain.decode("latin-1"),
        "workstation": workstation.decode("latin-1"),
    }


class ChallengeState:
    """What the server remembers between CHALLENGE and AUTHENTICATE."""

    def __init__(self, negotiate, challenge, server_challenge, flags,
                 target_info, av_pairs, timestamp, nb_domain):
        self.negotiate = negotiate
        self.challenge = challenge
        self.server_challenge = server_challenge
        self.flags = flags
        self.target_info = target_info
        self.av_pairs = av_pairs
        self.timestamp = timestamp
        self.nb_domain = nb_domain


def new_challenge(negotiate, *, server_challenge=None, nb_domain="OUTMAIL",
                  nb_computer="EXCH01", dns_domain="outmail.test",
                  dns_computer="exch01.outmail.test", timestamp=None):
    """NEGOTIATE bytes -> (CHALLENGE bytes, ChallengeState)."""
    request = parse_negotiate(negotiate)
    if server_challenge is None:
        server_challenge = os.urandom(8)
    if len(server_challenge) != 8:
        raise ValueError("server_challenge must be 8 bytes")
    if timestamp is None:
        timestamp = filetime_now()
    flags = SERVER_FLAGS | (request["flags"] & ECHOED_FLAGS)
    av_pairs = [
        (MSV_AV_NB_DOMAIN_NAME, nb_domain.encode("utf-16-le")),
        (MSV_AV_NB_COMPUTER_NAME, nb_computer.encode("utf-16-le")),
        (MSV_AV_DNS_DOMAIN_NAME, dns_domain.encode("utf-16-le")),
        (MSV_AV_DNS_COMPUTER_NAME, dns_computer.encode("utf-16-le")),
        (MSV_AV_TIMESTAMP, struct.pack("<Q", timestamp)),
    ]
    target_info = encode_av_pairs(av_pairs)
    target_name = nb_domain.encode("utf-16-le")
    header_length = 56
    challenge = (
        SIGNATURE
        + struct.pack("<I", 2)
        + struct.pack("<HHI", len(target_name), len(target_name), header_length)
        + struct.pack("<I", flags)
        + server_challenge
        + b"\x00" * 8
        + struct.pack("<HHI", len(target_info), len(target_info),
                      header_length + len(target_name))
        + SERVER_VERSION
        + target_name
        + target_info
    )
    state = ChallengeState(bytes(negotiate), challenge, server_challenge, flags,
                           target_info, av_pairs, timestamp, nb_domain)
    return challenge, state


def parse_authenticate(message):
    """AUTHENTICATE_MESSAGE -> dict of its fields (raw bytes, flags)."""
    if len(message) < 64:
        raise NtlmError(f"AUTHENTICATE_MESSAGE too short ({len(message)} octets, need 64)")
    if message[:8] != SIGNATURE:
        raise NtlmError("not an NTLMSSP message (bad signature)")
    (message_type,) = struct.unpack_from("<I", message, 8)
    if message_type != 3:
        raise NtlmError(f"expected AUTHENTICATE_MESSAGE (type 3), got type {message_type}")
    (flags,) = struct.unpack_from("<I", message, 60)
    fields = {
        "flags": flags,
        "lm": _security_buffer(message, 12, "LmChallengeResponseFields"),
        "nt": _security_buffer(message, 20, "NtChallengeResponseFields"),
        "domain": _security_buffer(message, 28, "DomainNameFields"),
        "user": _security_buffer(message, 36, "UserNameFields"),
        "workstation": _security_buffer(message, 44, "WorkstationFields"),
        "session_key": _security_buffer(message, 52, "EncryptedRandomSessionKeyFields"),
    }
    # The payload starts at the lowest non-empty buffer offset; everything
    # before it is the fixed header (64), Version (8) and MIC (16) if present.
    offsets = [
        struct.unpack_from("<I", message, at + 4)[0]
        for at in (12, 20, 28, 36, 44, 52)
        if struct.unpack_from("<H", message, at)[0] > 0
    ]
    fields["payload_offset"] = min(offsets) if offsets else len(message)
    return fields


def _decode_name(raw, unicode, what):
    if not unicode:
        return raw.decode("latin-1")
    if len(raw) % 2:
        raise NtlmError(f"{what} has an odd length for UTF-16LE")
    try:
        return raw.decode("utf-16-le")
    except UnicodeDecodeError as error:
        raise NtlmError(f"{what} is not valid UTF-16LE: {error}") from None


def verify_authenticate(authenticate, state, users):
    """Checks a type 3 message; returns (ok, reason, user, domain)."""
    user = domain = None
    try:
        fields = parse_authenticate(authenticate)
        flags = fields["flags"]
        if not flags & NEGOTIATE_UNICODE:
            raise NtlmError("AUTHENTICATE_MESSAGE lacks NTLMSSP_NEGOTIATE_UNICODE")
        user = _decode_name(fields["user"], True, "UserName")
        domain = _decode_name(fields["domain"], True, "DomainName")
        nt = fields["nt"]
        if flags & NEGOTIATE_ANONYMOUS or not user or not nt:
            raise NtlmError("anonymous authentication is not accepted")
        if len(nt) == 24:
            raise NtlmError("NTLMv1 response (24-octet NtChallengeResponse) is not accepted")
        if len(nt) < 16 + 28 + 4:
            raise NtlmError(f"NtChallengeResponse of {len(nt)} octets is too short for NTLMv2")
        if len(fields["lm"]) not in (0, 24):
            raise NtlmError(f"LmChallengeResponse of {len(fields['lm'])} octets (want 0 or 24)")
        proof, temp = nt[:16], nt[16:]
        if temp[0] != 1 or temp[1] != 1:
            raise NtlmError(f"NTLMv2 blob RespType/HiRespType are {temp[0]}/{temp[1]}, want 1/1")
        if temp[2:8] != b"\x00" * 6 or temp[24:28] != b"\x00" * 4:
            raise NtlmError("NTLMv2 blob reserved fields are not zero")
        client_pairs, trailing = decode_av_pairs(temp[28:])
        if trailing.strip(b"\x00"):
            raise NtlmError("NTLMv2 blob has non-zero bytes after MsvAvEOL")
        client_map = {}
        for av_id, value in client_pairs:
            if av_id in client_map:
                raise NtlmError(f"NTLMv2 blob repeats {AV_NAMES.get(av_id, av_id)}")
            client_map[av_id] = value
        for av_id, value in state.av_pairs:
            if client_map.get(av_id) != value:
                raise NtlmError(
                    f"NTLMv2 blob does not echo the server's {AV_NAMES[av_id]} "
                    f"(got {client_map.get(av_id)!r}, sent {value!r})"
                )

        key = (user.upper(), (domain or state.nb_domain).upper())
        if key not in users:
            raise NtlmError(f"unknown user {domain}\\{user}")
        response_key = ntowf_v2(users[key], user, domain)
        expected = nt_proof_str(response_key, state.server_challenge, temp)
        if not hmac.compare_digest(expected, proof):
            raise NtlmError(f"wrong NTProofStr for {domain}\\{user} (wrong password?)")

        av_flags = client_map.get(MSV_AV_FLAGS)
        if av_flags is not None and len(av_flags) == 4 and struct.unpack("<I", av_flags)[0] & 2:
            if fields["payload_offset"] < 88:
                raise NtlmError("MsvAvFlags announces a MIC but the message has no room for one")
            mic = authenticate[72:88]
            key_exchange_key = session_base_key(response_key, proof)
            if flags & NEGOTIATE_KEY_EXCH:
                if len(fields["session_key"]) != 16:
                    raise NtlmError("KEY_EXCH without a 16-octet EncryptedRandomSessionKey")
                exported = rc4(key_exchange_key, fields["session_key"])
            else:
                exported = key_exchange_key
            zeroed = authenticate[:72] + b"\x00" * 16 + authenticate[88:]
            want = hmac_md5(exported, state.negotiate + state.challenge + zeroed)
            if not hmac.compare_digest(want, mic):
                raise NtlmError("wrong MIC")
    except NtlmError as error:
        return False, str(error), user, domain
    except struct.error as error:
        return False, f"truncated message: {error}", user, domain
    return True, "ok", user, domain


# ---------------------------------------------------------------------------
# Client side (self-test and test drivers only)
# ---------------------------------------------------------------------------

def build_negotiate(flags=None):
    """A 32-octet NEGOTIATE_MESSAGE without domain/workstation."""
    if flags is None:
        flags = (NEGOTIATE_UNICODE | REQUEST_TARGET | NEGOTIATE_NTLM
                 | NEGOTIATE_ALWAYS_SIGN | NEGOTIATE_EXTENDED_SESSIONSECURITY
                 | NEGOTIATE_128 | NEGOTIATE_56)
    return SIGNATURE + struct.pack("<II", 1, flags) + b"\x00" * 16


def parse_challenge(message):
    """CHALLENGE_MESSAGE -> dict(flags, server_challenge, target_info)."""
    if message[:8] != SIGNATURE or struct.unpack_from("<I", message, 8)[0] != 2:
        raise NtlmError("not a CHALLENGE_MESSAGE")
    (flags,) = struct.unpack_from("<I", message, 20)
    return {
        "flags": flags,
        "server_challenge": message[24:32],
        "target_info": _security_buffer(message, 40, "TargetInfoFields"),
    }


def build_authenticate(challenge, user, domain, password, *, negotiate=None,
                       client_challenge=None, timestamp=None, with_mic=False,
                       key_exchange=False, workstation="CLIENT"):
    """An NTLMv2 AUTHENTICATE_MESSAGE answering `challenge` (test client)."""
    parsed = parse_challenge(challenge)
    pairs, _ = decode_av_pairs(parsed["target_info"])
    pair_map = dict(pairs)
    if timestamp is None:
        timestamp = struct.unpack("<Q", pair_map[MSV_AV_TIMESTAMP])[0] \
            if MSV_AV_TIMESTAMP in pair_map else filetime_now()
    if client_challenge is None:
        client_challenge = os.urandom(8)
    if with_mic:
        pairs = pairs + [(MSV_AV_FLAGS, struct.pack("<I", 2))]
    av = encode_av_pairs(pairs)
    key = ntowf_v2(password, user, domain)
    temp = ntlmv2_temp(timestamp, client_challenge, av)
    nt = ntlmv2_response(key, parsed["server_challenge"], temp)
    lm = b"\x00" * 24
    key_exchange_key = session_base_key(key, nt[:16])
    if key_exchange and parsed["flags"] & NEGOTIATE_KEY_EXCH:
        flags = parsed["flags"]
        exported = os.urandom(16)
        encrypted = rc4(key_exchange_key, exported)
    else:
        flags = parsed["flags"] & ~NEGOTIATE_KEY_EXCH
        exported = key_exchange_key
        encrypted = b""
    fields = [lm, nt, domain.encode("utf-16-le"), user.encode("utf-16-le"),
              workstation.encode("utf-16-le"), encrypted]
    header_length = 88
    header = SIGNATURE + struct.pack("<I", 3)
    offset = header_length
    payload = b""
    for field in fields:
        header += struct.pack("<HHI", len(field), len(field), offset)
        payload += field
        offset += len(field)
    header += struct.pack("<I", flags) + SERVER_VERSION
    message = header + b"\x00" * 16 + payload
    if with_mic:
        mic = hmac_md5(exported, (negotiate or b"") + challenge + message)
        message = message[:72] + mic + message[88:]
    return message


# ---------------------------------------------------------------------------
# Self-test
# ---------------------------------------------------------------------------

MD4_VECTORS = [  # RFC 1320, appendix A.5
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "043f8582f241db351ce627e153e7f0e4"),
    (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
]


def _check(name, got, want_hex):
    got_hex = got.hex()
    if got_hex != want_hex:
        raise AssertionError(f"{name}: got {got_hex}, want {want_hex}")


def self_test():
    for data, digest in MD4_VECTORS:
        _check(f"MD4({data[:20]!r})", md4(data), digest)
    # MS-NLMP 4.2.1 / 4.2.4 (NTLMv2 authentication).
    server_challenge = bytes.fromhex("0123456789abcdef")
    client_challenge = bytes.fromhex("aaaaaaaaaaaaaaaa")
    av = encode_av_pairs([
        (MSV_AV_NB_DOMAIN_NAME, "Domain".encode("utf-16-le")),
        (MSV_AV_NB_COMPUTER_NAME, "Server".encode("utf-16-le")),
    ])
    _check("NT hash of 'Password'", nt_hash("Password"), "a4f49c406510bdcab6824ee7c30fd852")
    key = ntowf_v2("Password", "User", "Domain")
    _check("NTOWFv2", key, "0c868a403bfd7a93a3001ef22ef02e3f")
    temp = ntlmv2_temp(0, client_challenge, av)
    _check(
        "temp",
        temp,
        "0101000000000000" "0000000000000000" "aaaaaaaaaaaaaaaa" "00000000"
        "02000c0044006f006d00610069006e00" "01000c005300650072007600650072000000"
        "0000" "00000000",
    )
    proof = nt_proof_str(key, server_challenge, temp)
    _check("NTProofStr", proof, "68cd0ab851e51c96aabc927bebef6a1c")
    _check("SessionBaseKey", session_base_key(key, proof), "8de40ccadbc14a82f15cb0ad0de95ca3")
    _check("LMv2 response", lmv2_response(key, server_challenge, client_challenge),
           "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
    _check("RC4 (RFC 6229 key 0102030405, first 16 octets)",
           rc4(bytes.fromhex("0102030405"), b"\x00" * 16),
           "b2396305f03dc027ccc3524a0a1118a8")

    # Round trip through this module's server and test client.
    users = {("ALICE", "OUTMAIL"): "s3cret pass"}
    for with_mic in (False, True):
        negotiate = build_negotiate(
            (NEGOTIATE_UNICODE | NEGOTIATE_NTLM | NEGOTIATE_KEY_EXCH
             | NEGOTIATE_128 | NEGOTIATE_SIGN)
        )
        challenge, state = new_challenge(negotiate)
        message = build_authenticate(challenge, "alice", "outmail", "s3cret pass",
                                     negotiate=negotiate, with_mic=with_mic,
                                     key_exchange=with_mic)
        ok, reason, user, domain = verify_authenticate(message, state, users)
        if not ok or (user, domain) != ("alice", "outmail"):
            raise AssertionError(f"round trip (mic={with_mic}) failed: {reason}")
        # A wrong password must fail.
        message = build_authenticate(challenge, "alice", "outmail", "wrong",
                                     negotiate=negotiate, with_mic=with_mic)
        ok, reason, _, _ = verify_authenticate(message, state, users)
        if ok or "NTProofStr" not in reason:
            raise AssertionError(f"wrong password accepted or odd reason: {reason}")
    # Empty domain falls back to the server's NetBIOS domain.
    negotiate = build_negotiate()
    challenge, state = new_challenge(negotiate)
    message = build_authenticate(challenge, "ALICE", "", "s3cret pass")
    ok, reason, _, _ = verify_authenticate(message, state, users)
    if not ok:
        raise AssertionError(f"empty domain refused: {reason}")
    # A challenge answered against another challenge must fail.
    _, other_state = new_challenge(negotiate)
    ok, reason, _, _ = verify_authenticate(message, other_state, users)
    if ok:
        raise AssertionError("response accepted for another server challenge")
    # NTLMv1-sized response.
    v1 = bytearray(message)
    struct.pack_into("<HH", v1, 20, 24, 24)
    ok, reason, _, _ = verify_authenticate(bytes(v1), state, users)
    if ok or "NTLMv1" not in reason:
        raise AssertionError(f"NTLMv1 not refused: {reason}")
    return True


def main(argv):
    if argv == ["--self-test"]:
        try:
            self_test()
        except AssertionError as error:
            print(f"self-test FAILED: {error}")
            return 1
        print("self-test ok")
        return 0
    sys.stderr.write("usage: ntlm_server.py --self-test\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
