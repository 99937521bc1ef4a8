//! Peers and fixtures for the transport tests: the aiosmtpd peer (a real SMTP server), scripted
//! fault peers, a private CA with good, expired, wrong-host and self-signed certificates, and
//! profiles built from draft JSON exactly as the API receives them.
//!
//! The integration tests of every crate use it as a dev-dependency; the peer scripts live in
//! this crate's `peers/` ([`peer_script`]), the certificate fixtures are `outmail-types`'s
//! ([`fixtures`]).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use outmail_mail::Timeouts;
use outmail_mail::doctor::{TestSend, test_send};
use outmail_mail::transport::Secrets;
use outmail_types::diagnosis::TestReport;
use outmail_types::{Mailbox, ProfileDraft, ProfileSpec, SecretInput};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tempfile::TempDir;
use time::OffsetDateTime;

pub mod fault;
pub mod fixtures;

/// A peer script of this crate's `peers/` folder (`smtp_peer.py`, `ntlm_server.py`, …).
pub fn peer_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join(name)
}

/// Short limits so that a silent peer is reported in about a second.
pub fn quick_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        command: Duration::from_millis(1500),
        data: Duration::from_secs(3),
    }
}

/// A profile from its draft JSON, plus the secrets the draft enters.
pub fn profile(draft_json: &str) -> (ProfileSpec, Secrets) {
    let draft: ProfileDraft<SecretInput> = serde_json::from_str(draft_json)
        .unwrap_or_else(|e| panic!("draft JSON: {e}\n{draft_json}"));
    let spec = draft
        .validate()
        .unwrap_or_else(|e| panic!("draft does not validate: {e}\n{draft_json}"));
    let mut secrets = Secrets::new();
    for (slot, input) in draft.secret_inputs() {
        if let SecretInput::Replace(value) = input {
            secrets.insert(slot, value);
        }
    }
    (spec, secrets)
}

/// An SMTP profile draft for `127.0.0.1:port`; `auth` and `extra` are JSON fragments.
pub fn smtp_draft(port: u16, security: &str, ca: Option<&str>, auth: &str, utf8: bool) -> String {
    let ca = match ca {
        Some(pem) => serde_json::to_string(pem).expect("json"),
        None => "null".to_owned(),
    };
    format!(
        r#"{{
          "name": "Peer test",
          "transport": {{
            "kind": "smtp", "host": "localhost", "port": {port}, "security": "{security}",
            "ca_certificate": {ca}, "ehlo_name": "client.outmail.test", "auth": {auth}
          }},
          "sender": {{"address": "\"Outmail Test\" <sender@example.com>"}},
          "signature": "The operations team",
          "utf8_headers": {utf8}
        }}"#
    )
}

/// Runs a test send with short timeouts.
pub async fn run(spec: ProfileSpec, secrets: Secrets, to: &str, dry_run: bool) -> TestReport {
    run_within(spec, secrets, to, dry_run, Default::default()).await
}

/// Runs a test send with short timeouts under an egress policy.
pub async fn run_within(
    spec: ProfileSpec,
    secrets: Secrets,
    to: &str,
    dry_run: bool,
    egress: outmail_mail::EgressPolicy,
) -> TestReport {
    test_send(
        TestSend {
            spec,
            secrets,
            to: Mailbox::parse_utf8(to).expect("recipient"),
            dry_run,
            clock: std::sync::Arc::new(outmail_clock::SystemClock),
            timeouts: quick_timeouts(),
            deadline: Duration::from_secs(20),
            oauth: Default::default(),
            egress,
        },
        None,
    )
    .await
}

/// The failure's reason, or "none".
pub fn reason(report: &TestReport) -> &str {
    report
        .failure
        .as_ref()
        .map_or("none", |f| f.reason.as_str())
}

/// A private CA and server certificates for `localhost`, written as PEM files.
pub struct Pki {
    pub dir: TempDir,
    pub ca_pem: String,
}

/// Which server certificate a peer presents.
#[derive(Debug, Clone, Copy)]
pub enum ServerCert {
    /// Signed by the private CA, for localhost and 127.0.0.1, valid now.
    Good,
    /// Signed by the private CA, but expired yesterday.
    Expired,
    /// Signed by the private CA, for another host name.
    WrongHost,
    /// Self-signed for localhost.
    SelfSigned,
    /// Self-signed for localhost and marked as a CA (`CA:TRUE`, as `openssl req -x509` makes).
    SelfSignedCa,
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "outmail test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
        let ca_pem = ca_cert.pem();
        let issuer = Issuer::new(ca_params, ca_key);
        let now = OffsetDateTime::now_utc();
        let day = time::Duration::days(1);
        let leaf = |names: Vec<String>, valid: (OffsetDateTime, OffsetDateTime), file: &str| {
            let key = KeyPair::generate().expect("key");
            let mut params = CertificateParams::new(names).expect("params");
            params.not_before = valid.0;
            params.not_after = valid.1;
            let cert = params.signed_by(&key, &issuer).expect("sign");
            std::fs::write(dir.path().join(format!("{file}.crt")), cert.pem()).expect("write");
            std::fs::write(dir.path().join(format!("{file}.key")), key.serialize_pem())
                .expect("write");
        };
        let local = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        leaf(local.clone(), (now - day, now + 30 * day), "good");
        leaf(local.clone(), (now - 10 * day, now - day), "expired");
        leaf(
            vec!["mail.other.test".to_owned()],
            (now - day, now + 30 * day),
            "wronghost",
        );
        for (file, is_ca) in [("selfsigned", false), ("selfsignedca", true)] {
            let key = KeyPair::generate().expect("key");
            let mut params = CertificateParams::new(local.clone()).expect("params");
            if is_ca {
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            }
            let cert = params.self_signed(&key).expect("self-signed");
            std::fs::write(dir.path().join(format!("{file}.crt")), cert.pem()).expect("write");
            std::fs::write(dir.path().join(format!("{file}.key")), key.serialize_pem())
                .expect("write");
        }
        Self { dir, ca_pem }
    }

    pub fn files(&self, which: ServerCert) -> (PathBuf, PathBuf) {
        let name = match which {
            ServerCert::Good => "good",
            ServerCert::Expired => "expired",
            ServerCert::WrongHost => "wronghost",
            ServerCert::SelfSigned => "selfsigned",
            ServerCert::SelfSignedCa => "selfsignedca",
        };
        (
            self.dir.path().join(format!("{name}.crt")),
            self.dir.path().join(format!("{name}.key")),
        )
    }
}

/// The aiosmtpd peer (`peers/smtp_peer.py`) as a child process; killed on drop.
pub struct SmtpPeer {
    child: Child,
    pub port: u16,
    pub spool: TempDir,
}

impl SmtpPeer {
    /// Starts the peer with `args` (see the script's docstring) and waits for `READY`.
    pub fn start(args: &[&str]) -> Self {
        let spool = tempfile::tempdir().expect("spool");
        let script = peer_script("smtp_peer.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(&script)
            .args(["--spool", spool.path().to_str().expect("utf8 path")])
            .args(["--log-level", "warning", "--exit-on-stdin-eof"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect(
                "start /usr/bin/python3 with aiosmtpd (Debian python3-aiosmtpd; scripts/setup.sh \
                 installs it)",
            );
        let port = ready_port(&mut child, "the SMTP peer did not start");
        Self { child, port, spool }
    }

    /// Every accepted message, in arrival order.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        numbered_json_files(self.spool.path())
    }
}

/// The `<n>.json` files a peer writes into `dir` (one per message), parsed, in the order of
/// `n`; none when `dir` does not exist yet.
fn numbered_json_files(dir: &Path) -> Vec<serde_json::Value> {
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .map(|p| {
                    let n = p.file_stem().and_then(|s| s.to_str()?.parse().ok());
                    (n.unwrap_or(0), p)
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|(_, p)| serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json"))
        .collect()
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the one `READY <port>` line a peer prints once it listens; panics with `failure`
/// (and what the peer printed instead) when it does not.
fn ready_port(child: &mut Child, failure: impl std::fmt::Display) -> u16 {
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read READY");
    line.strip_prefix("READY ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("{failure}: {line:?}"))
}

/// The path as a `&str` for a command line.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("utf8 path")
}

/// tinyproxy (HTTP CONNECT) or microsocks (SOCKS5) on loopback; killed on drop.
pub struct ProxyPeer {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl ProxyPeer {
    /// tinyproxy with an optional `BasicAuth` user.
    pub fn tinyproxy(auth: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = fault::closed_port();
        let mut config = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\nAllow 127.0.0.1\n\
             LogLevel Warning\n"
        );
        if let Some((user, password)) = auth {
            config.push_str(&format!("BasicAuth {user} {password}\n"));
        }
        let path = dir.path().join("tinyproxy.conf");
        std::fs::write(&path, config).expect("write config");
        let child = Command::new("tinyproxy")
            .args(["-d", "-c", arg(&path)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tinyproxy (Debian package; scripts/setup.sh installs it)");
        Self::ready(child, port, dir)
    }

    /// microsocks with an optional user and password.
    pub fn microsocks(auth: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = fault::closed_port();
        let port_text = port.to_string();
        let mut args = vec!["-i", "127.0.0.1", "-p", port_text.as_str()];
        if let Some((user, password)) = auth {
            args.extend(["-u", user, "-P", password]);
        }
        let child = Command::new("microsocks")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start microsocks (Debian package; scripts/setup.sh installs it)");
        Self::ready(child, port, dir)
    }

    fn ready(child: Child, port: u16, dir: TempDir) -> Self {
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self {
                    child,
                    port,
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        panic!("the proxy did not listen on {port}");
    }
}

impl Drop for ProxyPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds a `proxy` block to a profile draft.
pub fn with_proxy(draft: &str, kind: &str, port: u16, auth: Option<(&str, &str)>) -> String {
    let mut value: serde_json::Value = serde_json::from_str(draft).expect("draft");
    let mut proxy = serde_json::json!({"kind": kind, "host": "127.0.0.1", "port": port});
    if let Some((user, password)) = auth {
        proxy["username"] = user.into();
        proxy["password"] = serde_json::json!({"value": password});
    }
    value["proxy"] = proxy;
    value.to_string()
}

/// A peer script that prints `READY <port>` and may append JSON lines to a record file: the
/// OAuth peer (Node), and the Graph and EWS fakes (Python). Killed on drop.
pub struct ScriptPeer {
    child: Child,
    pub port: u16,
    pub dir: TempDir,
}

impl ScriptPeer {
    /// The OAuth 2.0 token service, `tools/peers/oauth_peer.mjs` (oauth2-mock-server).
    pub fn oauth(args: &[&str]) -> Self {
        Self::start(
            "node",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/peers/oauth_peer.mjs"),
            args,
            "--exit-on-stdin-close",
        )
    }

    /// The strict Microsoft Graph fake, `peers/graph_peer.py`.
    pub fn graph(args: &[&str]) -> Self {
        Self::start(
            "/usr/bin/python3",
            peer_script("graph_peer.py"),
            &[&["--log-level", "warning"], args].concat(),
            "--exit-on-stdin-eof",
        )
    }

    /// The strict EWS fake, `peers/ews_peer.py`.
    pub fn ews(args: &[&str]) -> Self {
        Self::start(
            "/usr/bin/python3",
            peer_script("ews_peer.py"),
            &[&["--log-level", "warning"], args].concat(),
            "--exit-on-stdin-eof",
        )
    }

    fn start(program: &str, script: PathBuf, args: &[&str], exit_flag: &str) -> Self {
        let dir = tempfile::tempdir().expect("peer dir");
        let record = dir.path().join("record.jsonl");
        let mut child = Command::new(program)
            .arg(&script)
            .args(["--record", arg(&record), exit_flag])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program} {}: {e}", script.display()));
        let port = ready_port(&mut child, format!("{} did not start", script.display()));
        Self { child, port, dir }
    }

    /// Every request recorded so far, in order.
    pub fn records(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("record.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("record line"))
            .collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for ScriptPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The stage names of a report, in order, with their status (`token:ok`).
pub fn stages(report: &TestReport) -> Vec<String> {
    report
        .stages
        .iter()
        .map(|s| {
            format!(
                "{}:{}",
                s.stage,
                serde_json::to_value(s.status)
                    .expect("json")
                    .as_str()
                    .expect("str")
            )
        })
        .collect()
}

/// The whole transcript as one string, to search for secrets that must not be there.
pub fn transcript(report: &TestReport) -> String {
    report
        .transcript
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The tenant, application and secret the token peer serves in these tests.
pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
pub const CLIENT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
pub const CLIENT_SECRET: &str = "peer-client-secret~1";

/// The token peer for [`TENANT`] and [`CLIENT`] that always issues `access_token`, signing in
/// as `mailbox`.
pub fn token_service(mailbox: &str, access_token: &str, extra: &[&str]) -> ScriptPeer {
    let mut args = vec![
        "--tenant",
        TENANT,
        "--client-id",
        CLIENT,
        "--client-secret",
        CLIENT_SECRET,
        "--mailbox",
        mailbox,
        "--access-token",
        access_token,
    ];
    args.extend_from_slice(extra);
    ScriptPeer::oauth(&args)
}

/// The JSON `oauth` block of a client-credentials (secret) configuration against `tokens`.
pub fn app_oauth_json(tokens: &ScriptPeer, scopes: &str) -> String {
    format!(
        r#"{{
          "preset": "custom", "authority": null, "tenant_id": null, "client_id": "{CLIENT}",
          "flow": {{"kind": "client_credentials", "credential": {{"kind": "secret"}}}},
          "token_url": "{}", "authorize_url": null, "scopes": "{scopes}",
          "client_secret": {{"value": "{CLIENT_SECRET}"}},
          "private_key": {{"set": false}}, "refresh_token": {{"set": false}}
        }}"#,
        tokens.url(&format!("/{TENANT}/oauth2/v2.0/token"))
    )
}

/// A private Postfix instance (`peers/postfix_peer.py`): STARTTLS, Cyrus SASL PLAIN and
/// LOGIN, relaying for authenticated clients only, every message written to `dir/mail`.
pub struct PostfixPeer {
    child: Child,
    pub port: u16,
    pub dir: TempDir,
}

impl PostfixPeer {
    pub fn start(pki: &Pki, user: &str, password: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("postfix dir");
        let (crt, key) = pki.files(ServerCert::Good);
        let script = peer_script("postfix_peer.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(&script)
            .args([
                "--dir",
                arg(dir.path()),
                "--cert",
                arg(&crt),
                "--key",
                arg(&key),
            ])
            .args(["--user", user, "--password", password])
            .args(["--log-level", "warning", "--exit-on-stdin-eof"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Postfix peer (Debian postfix, libsasl2-modules, sasl2-bin)");
        let port = ready_port(&mut child, "Postfix did not start (it must run as root)");
        Self { child, port, dir }
    }

    /// Waits up to 10 s for `count` delivered messages (Postfix delivers after its 250).
    pub fn delivered(&self, count: usize) -> Vec<serde_json::Value> {
        let mail = self.dir.path().join("mail");
        for _ in 0..200 {
            let delivered = numbered_json_files(&mail);
            if delivered.len() >= count {
                return delivered;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Postfix delivered fewer than {count} message(s) within 10 s");
    }
}

impl Drop for PostfixPeer {
    fn drop(&mut self) {
        // Closing stdin stops Postfix cleanly before its directory goes.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A short letter from `from` to ops@example.net with one text attachment, `system-info.txt`
/// holding `outmail 0.1.0` (base64 `b3V0bWFpbCAwLjEuMA==`).
pub fn letter_with_attachment(from: &str) -> outmail_mail::Letter {
    let from = Mailbox::parse_ascii(from).expect("sender");
    outmail_mail::Letter {
        message_id: outmail_mail::Letter::new_message_id(from.address()),
        from,
        reply_to: None,
        to: vec![Mailbox::parse_ascii("ops@example.net").expect("recipient")],
        cc: Vec::new(),
        bcc: Vec::new(),
        subject: "Support request".into(),
        text: Some("help".into()),
        html: None,
        headers: Vec::new(),
        mime: None,
        attachments: vec![outmail_mail::Attachment {
            filename: "system-info.txt".into(),
            content_type: "text/plain".into(),
            content: b"outmail 0.1.0".to_vec(),
        }],
    }
}

/// A private Postfix instance as a relay (`peers/postfix_peer.py --relayhost`): it accepts mail
/// from 127.0.0.1 without AUTH on `port`, queues it on disk under `dir/queue` as Postfix always
/// does, and relays every message to its relayhost, at most 8 connections at once.
pub struct PostfixRelay {
    child: Child,
    pub port: u16,
    pub dir: TempDir,
}

impl PostfixRelay {
    /// Starts a relay to `relayhost` (an IPv4 address) and waits for `READY`. With `user`
    /// (name, password) it logs in there with SASL, over opportunistic STARTTLS; with `ca` it
    /// requires STARTTLS (`--relay-tls encrypt`: the certificate is only logged as trusted or
    /// not; pass `--relay-tls verify` in `extra` to require it to chain to `ca` and name the
    /// relayhost's address). `extra` takes the script's other flags (`--relay-concurrency`,
    /// `--cert`/`--key` to offer STARTTLS to clients, `--max-size`).
    pub fn start(
        relayhost: std::net::SocketAddr,
        user: Option<(&str, &str)>,
        ca: Option<&Path>,
        extra: &[&str],
    ) -> Self {
        let dir = tempfile::tempdir().expect("postfix dir");
        let script = peer_script("postfix_peer.py");
        let mut command = Command::new("/usr/bin/python3");
        command
            .arg(&script)
            .args(["--dir", arg(dir.path())])
            .args(["--relayhost", &relayhost.to_string()]);
        if let Some((user, password)) = user {
            command.args(["--relay-user", user, "--relay-password", password]);
        }
        if let Some(ca) = ca {
            command.args(["--relay-ca", arg(ca)]);
        }
        let mut child = command
            .args(["--log-level", "warning", "--exit-on-stdin-eof"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Postfix relay (Debian postfix, libsasl2-modules, sasl2-bin)");
        let port = ready_port(
            &mut child,
            "the Postfix relay did not start (it must run as root)",
        );
        Self { child, port, dir }
    }

    /// Postfix's log so far (`dir/maillog`; empty before the first line). Every attempt to
    /// hand a message to the relayhost is a `postfix/smtp` line with `status=sent`,
    /// `status=deferred` or `status=bounced` and the relayhost's reply in parentheses.
    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Waits up to 10 s until the maillog holds `count` delivery attempts and returns their
    /// lines (`… status=sent (250 2.0.0 Ok)`), in order; a deferred message that is retried
    /// (every one to two seconds) adds a line each time.
    pub fn outcomes(&self, count: usize) -> Vec<String> {
        let attempts = || -> Vec<String> {
            self.maillog()
                .lines()
                .filter(|line| line.contains(" postfix/smtp[") && line.contains(" status="))
                .map(str::to_owned)
                .collect()
        };
        for _ in 0..200 {
            let found = attempts();
            if found.len() >= count {
                return found;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "the Postfix relay logged fewer than {count} delivery attempt(s) within 10 s:\n{}",
            self.maillog()
        );
    }

    /// How many messages are in the queue: accepted, and not yet taken by the relayhost
    /// (or bounced). A message is on disk from Postfix's `250` until then.
    pub fn queued(&self) -> usize {
        fn files(dir: &Path) -> usize {
            std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .map(|entry| match entry.file_type() {
                            Ok(kind) if kind.is_dir() => files(&entry.path()),
                            Ok(_) => 1,
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        let queue = self.dir.path().join("queue");
        ["maildrop", "incoming", "active", "deferred", "hold"]
            .iter()
            .map(|name| files(&queue.join(name)))
            .sum()
    }

    /// Waits up to `timeout` until the queue is empty (every message relayed or bounced);
    /// panics with the maillog when it is not.
    pub fn wait_until_empty(&self, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        while self.queued() > 0 {
            if std::time::Instant::now() >= deadline {
                panic!(
                    "the Postfix relay still holds {} message(s) after {timeout:?}:\n{}",
                    self.queued(),
                    self.maillog()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PostfixRelay {
    fn drop(&mut self) {
        // Closing stdin stops Postfix cleanly before its directory goes.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}
