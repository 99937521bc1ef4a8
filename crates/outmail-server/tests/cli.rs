//! The `outmail` binary as a person or a service manager runs it.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use outmail_testkit as mail_peers;

fn outmail() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_outmail"));
    // The environment of whoever runs the tests must not leak into these cases.
    for name in [
        "OUTMAIL_BIND",
        "OUTMAIL_DATA_DIR",
        "OUTMAIL_DATABASE_URL",
        "OUTMAIL_LOG",
        "OUTMAIL_SITE_ROOT",
        "OUTMAIL_CONFIG",
        "OUTMAIL_DELIVERY_LEASE",
        "OUTMAIL_DRAIN_TIMEOUT",
        "OUTMAIL_SESSION_IDLE_MINUTES",
        "OUTMAIL_SESSION_HOURS",
        "OUTMAIL_TEST_SENDS_PER_MINUTE",
        "OUTMAIL_EGRESS_ALLOW",
        "OUTMAIL_EGRESS_DENY_LOOPBACK",
    ] {
        command.env_remove(name);
    }
    command
}

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let output = outmail().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for (flag, variable) in [
        ("--bind", "OUTMAIL_BIND"),
        ("--data-dir", "OUTMAIL_DATA_DIR"),
        ("--database-url", "OUTMAIL_DATABASE_URL"),
        ("--log", "OUTMAIL_LOG"),
        ("--site-root", "OUTMAIL_SITE_ROOT"),
        ("--drain-timeout", "OUTMAIL_DRAIN_TIMEOUT"),
        ("--config", "OUTMAIL_CONFIG"),
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
        assert!(help.contains(variable), "{variable} missing from:\n{help}");
    }
    assert!(help.contains("serve"), "{help}");
}

#[test]
fn a_bad_environment_value_is_refused_before_starting() {
    let output = outmail()
        .args(["serve"])
        .env("OUTMAIL_BIND", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--bind"), "{stderr}");
    assert!(stderr.contains("not-an-address"), "{stderr}");
}

#[test]
fn a_broken_config_file_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("outmail.toml");
    std::fs::write(&file, "bind = 3000\n").unwrap();
    let output = outmail()
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("outmail.toml"), "{stderr}");
    assert!(stderr.contains("bind"), "{stderr}");
}

#[test]
fn serve_prints_its_url_and_exits_zero_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("outmail.toml");
    // The file names the data folder; the flag overrides the file's port.
    std::fs::write(
        &config,
        format!(
            "bind = \"127.0.0.1:1\"\ndata_dir = \"{}\"\n",
            data.path().join("from-file").display()
        ),
    )
    .unwrap();
    let mut child = outmail()
        .args(["serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first_line = String::new();
    stdout.read_line(&mut first_line).unwrap();
    assert!(
        first_line.starts_with("outmail is listening on http://127.0.0.1:"),
        "{first_line}"
    );
    // No account yet: the one-time setup address follows, its token in the fragment.
    let mut second_line = String::new();
    stdout.read_line(&mut second_line).unwrap();
    assert!(
        second_line.starts_with("No admin yet: open http://127.0.0.1:")
            && second_line.contains("/setup#token="),
        "{second_line}"
    );
    assert!(
        !first_line.contains(":1\n"),
        "the flag wins over the file: {first_line}"
    );
    assert!(
        data.path().join("from-file").is_dir(),
        "the file's data_dir is used"
    );

    terminate(&child);
    assert_eq!(exit_status_within_10_s(&mut child).code(), Some(0));
}

/// `serve --smtp-bind` says where the relay listens; on SIGTERM a client waiting in an open
/// session is told `421 4.3.2` (it keeps its mail and comes back), and the server exits 0.
#[test]
fn the_relay_tells_an_open_session_421_at_sigterm_and_the_server_exits_zero() {
    use std::io::{Read as _, Write as _};
    let data = tempfile::tempdir().unwrap();
    let mut child = outmail()
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--smtp-bind",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut relay = None;
    for _ in 0..3 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        if let Some(address) = line.trim().strip_prefix("The SMTP relay is listening on ") {
            relay = Some(address.to_owned());
        }
    }
    let relay = relay.expect("the relay's address is printed");
    let mut session = std::net::TcpStream::connect(&relay).unwrap();
    session
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let read = |session: &mut std::net::TcpStream| {
        let mut buffer = [0u8; 4096];
        let n = session.read(&mut buffer).unwrap();
        String::from_utf8_lossy(&buffer[..n]).into_owned()
    };
    assert!(read(&mut session).starts_with("220 "));
    session.write_all(b"NOOP\r\n").unwrap();
    assert!(read(&mut session).starts_with("250 "));
    terminate(&child);
    let told = read(&mut session);
    assert!(told.starts_with("421 4.3.2"), "{told:?}");
    assert_eq!(exit_status_within_10_s(&mut child).code(), Some(0));
}

#[test]
fn admin_create_checks_the_password_and_refuses_a_second_account_with_the_email() {
    let data = tempfile::tempdir().unwrap();
    let created = create_admin(data.path(), &[], "Ops@Example.com", "viewer");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&created.stdout),
        "created ops@example.com (viewer)\n"
    );
    let again = create_admin(data.path(), &[], "ops@example.com", "admin");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));

    use std::io::Write;
    let mut weak = outmail()
        .args([
            "admin",
            "create",
            "--email",
            "new@example.com",
            "--data-dir",
        ])
        .arg(data.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(weak.stdin.take().unwrap(), "short").unwrap();
    let weak = weak.wait_with_output().unwrap();
    assert!(!weak.status.success());
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert!(
        stderr.contains("password: use at least 12 characters"),
        "{stderr}"
    );

    let list = outmail()
        .args(["admin", "list", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "ops@example.com\tviewer\n"
    );

    // A new password, read like `create`'s.
    let mut reset = outmail()
        .args([
            "admin",
            "set-password",
            "--email",
            "ops@example.com",
            "--data-dir",
        ])
        .arg(data.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(reset.stdin.take().unwrap(), "a brand new password").unwrap();
    let reset = reset.wait_with_output().unwrap();
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    assert!(String::from_utf8_lossy(&reset.stdout).contains("its sessions have ended"));

    // The last admin stays; a viewer can go.
    assert!(
        create_admin(data.path(), &[], "boss@example.com", "admin")
            .status
            .success()
    );
    let delete = |email: &str| {
        outmail()
            .args(["admin", "delete", "--email", email, "--data-dir"])
            .arg(data.path())
            .output()
            .unwrap()
    };
    let last = delete("boss@example.com");
    assert!(!last.status.success());
    assert!(String::from_utf8_lossy(&last.stderr).contains("the last admin"));
    let viewer = delete("OPS@example.com");
    assert!(
        viewer.status.success(),
        "{}",
        String::from_utf8_lossy(&viewer.stderr)
    );
    let nobody = delete("nobody@example.com");
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no account"));
    let list = outmail()
        .args(["admin", "list", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "boss@example.com\tadmin\n"
    );
}

/// A running `outmail serve` on a free port, with everything it logs kept for inspection.
struct RunningServer {
    child: std::process::Child,
    base: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    log_reader: std::thread::JoinHandle<()>,
    /// `Cookie: …` of the admin's session, sent with every request.
    session: String,
}

/// The account the tests sign in with; its password must never be logged or stored as typed.
const ADMIN_EMAIL: &str = "admin@example.com";
const ADMIN_PASSWORD: &str = "canary-password-5d2f0a91";

/// Creates the test admin with `outmail admin create`, the password on standard input. A
/// second start on the same data finds it there already.
fn create_admin(
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
    email: &str,
    role: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut child = outmail()
        .args([
            "admin",
            "create",
            "--email",
            email,
            "--role",
            role,
            "--data-dir",
        ])
        .arg(data_dir)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{ADMIN_PASSWORD}").unwrap();
    child.wait_with_output().unwrap()
}

impl RunningServer {
    fn start(data_dir: &std::path::Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    fn start_with(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        create_admin(data_dir, env, ADMIN_EMAIL, "admin");
        let mut child = outmail()
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .envs(env.iter().copied())
            // The most talkative level: if a secret reached any log line, it would be here.
            .env("OUTMAIL_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        let log_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first_line = String::new();
        stdout.read_line(&mut first_line).unwrap();
        log.lock().unwrap().push_str(&first_line);
        let base = first_line
            .trim()
            .strip_prefix("outmail is listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first_line}"))
            .to_string();
        let mut server = Self {
            child,
            base,
            log,
            log_reader,
            session: String::new(),
        };
        server.session = server.sign_in();
        server
    }

    /// Signs in as the test admin; returns the `Cookie` header line.
    fn sign_in(&self) -> String {
        let body =
            serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).to_string();
        let (status, answer, head) = self.exchange("POST", "/api/v1/session", Some(&body), "");
        assert_eq!(status, 200, "sign-in: {answer}");
        let cookie = head
            .lines()
            .find_map(|line| {
                line.strip_prefix("set-cookie: ")
                    .or_else(|| line.strip_prefix("Set-Cookie: "))
            })
            .and_then(|value| value.split(';').next())
            .expect("a session cookie")
            .to_owned();
        format!("Cookie: {cookie}\r\n")
    }

    /// A plain HTTP/1.1 exchange: status and body.
    fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        self.request_with(method, path, body, "")
    }

    /// [`RunningServer::request`] with extra header lines (each ending in CRLF).
    fn request_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &str,
    ) -> (u16, String) {
        // As our pages send it: the session cookie and our own origin.
        let origin = format!("Origin: {}\r\n", self.base);
        let headers = format!("{}{origin}{headers}", self.session);
        let (status, body, _) = self.exchange(method, path, body, &headers);
        (status, body)
    }

    /// One HTTP/1.1 exchange with exactly these extra headers: status, body and head.
    fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &str,
    ) -> (u16, String, String) {
        use std::io::{Read, Write};
        let authority = self.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(authority).unwrap();
        let body = body.unwrap_or("");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\
             Content-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, body.to_string(), head.to_string())
    }

    /// Kills the process with SIGKILL: no shutdown, no cleanup.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.log_reader.join().unwrap();
    }

    fn stop(mut self) -> String {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let exit = self.child.wait().unwrap();
        assert_eq!(exit.code(), Some(0));
        // The reader ends at the pipe's end of file, so every line is in the log after this.
        self.log_reader.join().unwrap();
        self.log.lock().unwrap().clone()
    }
}

const CANARY: &str = "canary-secret-3b1e77d9";

fn profile_with_canary() -> String {
    serde_json::json!({
        "name": "Canary relay",
        "transport": {
            "kind": "smtp", "host": "smtp.example.com", "port": 587, "security": "starttls",
            "auth": {"kind": "basic", "username": "alerts@example.com", "password": {"value": CANARY}}
        },
        "sender": {"address": "alerts@example.com"}
    })
    .to_string()
}

/// Every file under `dir`, read as bytes.
fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            hits.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
        {
            hits.push(path);
        }
    }
    hits
}

#[test]
fn a_secret_never_reaches_responses_logs_or_the_database_file() {
    let data = tempfile::tempdir().unwrap();
    let server = RunningServer::start(data.path());
    let (status, created) =
        server.request("POST", "/api/v1/profiles", Some(&profile_with_canary()));
    assert_eq!(status, 201, "{created}");
    let id = serde_json::from_str::<serde_json::Value>(&created).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut bodies = vec![created];
    for path in [
        format!("/api/v1/profiles/{id}"),
        "/api/v1/profiles".to_string(),
        "/api/v1/export".to_string(),
        "/".to_string(),
    ] {
        let (status, body) = server.request("GET", &path, None);
        assert_eq!(status, 200, "{path}: {body}");
        bodies.push(body);
    }
    // An API token is shown once; after that it exists only as a hash.
    let (status, created_token) = server.request(
        "POST",
        "/api/v1/tokens",
        Some(r#"{"name": "billing", "scopes": ["messages:send"]}"#),
    );
    assert_eq!(status, 201, "{created_token}");
    let token = serde_json::from_str::<serde_json::Value>(&created_token).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        "/api/v1/tokens",
        "/api/v1/audit/export",
        "/tokens",
        "/audit",
    ] {
        let (status, body) = server.request("GET", path, None);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(!body.contains(&token), "{path} showed the token again");
        bodies.push(body);
    }
    // A failed update that echoes input back must not echo the secret either.
    let bad = profile_with_canary().replace("smtp.example.com", "bad host");
    let (status, body) = server.request("PUT", &format!("/api/v1/profiles/{id}"), Some(&bad));
    assert_eq!(status, 428, "{body}");
    bodies.push(body);

    let log = server.stop();
    assert!(log.contains("request"), "trace logging was on: {log}");
    for body in &bodies {
        assert!(
            !body.contains(CANARY),
            "a response carried the secret: {body}"
        );
    }
    for secret in [CANARY, ADMIN_PASSWORD, token.as_str()] {
        assert!(!log.contains(secret), "the log carried a secret");
        assert_eq!(
            files_containing(data.path(), secret),
            Vec::<std::path::PathBuf>::new(),
            "the data folder (database, key file) holds a secret as typed"
        );
    }
    for body in &bodies {
        assert!(
            !body.contains(ADMIN_PASSWORD),
            "a response carried the password"
        );
    }
}

#[test]
fn rotate_key_reseals_every_secret_and_the_server_still_reads_them() {
    let data = tempfile::tempdir().unwrap();
    let server = RunningServer::start(data.path());
    let (status, created) =
        server.request("POST", "/api/v1/profiles", Some(&profile_with_canary()));
    assert_eq!(status, 201, "{created}");
    server.stop();

    let output = outmail()
        .args(["rotate-key", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("sealed 1 secret(s) with key version 2"),
        "{stdout}"
    );
    let key_file = std::fs::read_to_string(data.path().join("secret.key")).unwrap();
    let keys = key_file
        .lines()
        .filter(|line| !line.starts_with('#'))
        .count();
    assert_eq!(keys, 2, "the old key is kept until dropped:\n{key_file}");

    // After the rotation the server still reads the profile and knows its secret is set.
    let server = RunningServer::start(data.path());
    let id = serde_json::from_str::<serde_json::Value>(&created).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = server.request("GET", &format!("/api/v1/profiles/{id}"), None);
    assert_eq!(status, 200);
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        view["profile"]["transport"]["auth"]["password"]["set"],
        true
    );
    server.stop();
    assert!(files_containing(data.path(), CANARY).is_empty());
}

/// A server killed with SIGKILL in the middle of a batch loses no message: once the lease of
/// what it had claimed runs out, the next start sends it.
#[test]
fn a_server_killed_mid_batch_loses_no_message() {
    // Each message takes 0.3 s at the server, so the batch is still going when the kill comes.
    let peer = mail_peers::SmtpPeer::start(&["--data-delay", "0.3"]);
    let data = tempfile::tempdir().unwrap();
    let lease = [("OUTMAIL_DELIVERY_LEASE", "2")];
    let server = RunningServer::start_with(data.path(), &lease);
    default_relay(&server, &server, "Slow relay", peer.port);
    const MESSAGES: usize = 24;
    for n in 0..MESSAGES {
        post_alert(&server, n);
    }
    wait_for("a few deliveries", || peer.messages().len() >= 3);
    server.kill();
    let at_kill = peer.messages().len();
    assert!(
        at_kill < MESSAGES,
        "the batch was over before the kill ({at_kill})"
    );

    let server = RunningServer::start_with(data.path(), &lease);
    wait_for("every message sent", || {
        sent_count(&server) == Some(MESSAGES)
    });
    server.stop();
    let arrivals = peer.messages().len();
    assert_eq!(
        distinct_recipients(&peer),
        MESSAGES,
        "every message arrived"
    );
    // What a kill costs: the messages a dead worker had in flight may arrive twice.
    eprintln!(
        "killed after {at_kill} of {MESSAGES} deliveries; {} arrived twice",
        arrivals - MESSAGES
    );
}

/// SIGTERM while the peer holds eight sends after their final dot: the server stops claiming,
/// lets the eight finish and records them, gives back what it claimed but had not started, and
/// exits 0. Every message then arrives exactly once, and the next start sends the rest at once
/// (the lease is ten minutes: nothing waits for it).
#[test]
fn sigterm_during_sends_drains_them_without_a_duplicate() {
    let peer = mail_peers::SmtpPeer::start(&["--data-delay", "2"]);
    let data = tempfile::tempdir().unwrap();
    let server = RunningServer::start(data.path());
    default_relay(&server, &server, "Held relay", peer.port);
    const MESSAGES: usize = 12;
    for n in 0..MESSAGES {
        post_alert(&server, n);
    }
    // Eight connections reach the final dot within milliseconds; the peer holds each for 2 s.
    std::thread::sleep(Duration::from_millis(800));
    assert!(peer.messages().is_empty(), "the peer answered too early");
    let stopping = std::time::Instant::now();
    let log = server.stop();
    let took = stopping.elapsed();
    let at_exit = peer.messages().len();
    assert_eq!(at_exit, outmail_server::worker::CONCURRENCY, "{log}");
    assert!(took < Duration::from_secs(10), "the drain took {took:?}");
    assert!(log.contains("gave back unstarted messages"), "{log}");

    let server = RunningServer::start(data.path());
    wait_for("the rest sent", || peer.messages().len() >= MESSAGES);
    wait_for("every message recorded as sent", || {
        sent_count(&server) == Some(MESSAGES)
    });
    server.stop();
    assert_eq!(peer.messages().len(), MESSAGES, "no message arrived twice");
    assert_eq!(
        distinct_recipients(&peer),
        MESSAGES,
        "every message arrived"
    );
}

/// Posts alert `n`, to its own recipient `n{n}@example.net`, and expects it accepted.
fn post_alert(server: &RunningServer, n: usize) {
    let message = format!(r#"{{"to": ["n{n}@example.net"], "subject": "Alert {n}", "text": "x"}}"#);
    let (status, body) = server.request("POST", "/api/v1/messages", Some(&message));
    assert_eq!(status, 202, "{body}");
}

/// How many messages the delivery log has as sent (`None` while it does not answer).
fn sent_count(server: &RunningServer) -> Option<usize> {
    let (_, body) = server.request("GET", "/api/v1/messages?status=sent&limit=200", None);
    serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.as_array().map(Vec::len))
}

/// How many different first recipients reached the peer (each test message has its own).
fn distinct_recipients(peer: &mail_peers::SmtpPeer) -> usize {
    let recipients: std::collections::BTreeSet<String> = peer
        .messages()
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_owned())
        .collect();
    recipients.len()
}

/// Polls `done` every 50 ms for up to 30 s.
/// Sends SIGTERM, as a service manager stops the server.
fn terminate(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// How `child` exited, which it must within 10 s.
fn exit_status_within_10_s(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            return exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// Two `outmail serve` processes sharing one PostgreSQL database (two replicas): messages
/// accepted by either are delivered exactly once, and both deliver.
#[test]
fn two_servers_sharing_postgresql_deliver_every_message_exactly_once() {
    let Ok(admin_url) = std::env::var("OUTMAIL_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("OUTMAIL_SKIP_POSTGRES").is_some(),
            "OUTMAIL_TEST_POSTGRES_URL is not set. Run the tests through \
             `bash scripts/with-postgres.sh cargo test`, or set OUTMAIL_SKIP_POSTGRES=1."
        );
        return;
    };
    let name = format!("replicas_{}", std::process::id());
    let psql = |sql: &str| {
        let status = Command::new("psql")
            .args([admin_url.as_str(), "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .status()
            .expect("psql");
        assert!(status.success(), "psql {sql}");
    };
    psql(&format!("CREATE DATABASE {name}"));
    let (base, _) = admin_url.rsplit_once('/').expect("a database in the URL");
    let url = format!("{base}/{name}");
    let env = [("OUTMAIL_DATABASE_URL", url.as_str())];

    let peer = mail_peers::SmtpPeer::start(&["--data-delay", "0.02"]);
    let (one_dir, two_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let one = RunningServer::start_with(one_dir.path(), &env);
    let two = RunningServer::start_with(two_dir.path(), &env);
    default_relay(&one, &two, "Shared relay", peer.port);
    const MESSAGES: usize = 60;
    for n in 0..MESSAGES {
        post_alert(if n % 2 == 0 { &one } else { &two }, n);
    }
    wait_for("every message sent", || sent_count(&two) == Some(MESSAGES));
    // The worker's log line for each message it sent.
    let sent_by = |log: &str| {
        log.lines()
            .filter(|l| l.contains("outmail_server::worker") && l.contains(" sent "))
            .count()
    };
    let (one_log, two_log) = (one.stop(), two.stop());
    let (by_one, by_two) = (sent_by(&one_log), sent_by(&two_log));
    assert_eq!(peer.messages().len(), MESSAGES, "exactly once");
    assert_eq!(distinct_recipients(&peer), MESSAGES);
    assert_eq!(by_one + by_two, MESSAGES, "one sent line per delivery");
    assert!(
        by_one > 0 && by_two > 0,
        "both replicas delivered: {by_one} and {by_two}"
    );
    eprintln!("replica one sent {by_one}, replica two sent {by_two}");
    psql(&format!("DROP DATABASE {name}"));
}

/// Creates a plain SMTP profile `name` for the peer on `port` through `creating`, and makes it
/// the global default (sending, no suppression) through `setting`.
fn default_relay(creating: &RunningServer, setting: &RunningServer, name: &str, port: u16) {
    let profile = format!(
        r#"{{"name": "{name}", "transport": {{"kind": "smtp", "host": "127.0.0.1",
            "port": {port}, "security": "none", "auth": {{"kind": "none"}}}},
            "sender": {{"address": "alerts@example.com"}}, "send_frequency": 0,
            "utf8_headers": false}}"#
    );
    let (status, created) = creating.request("POST", "/api/v1/profiles", Some(&profile));
    assert_eq!(status, 201, "{created}");
    let id = serde_json::from_str::<serde_json::Value>(&created).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let settings = format!(
        r#"{{"sending_enabled": true, "tenant_support_allowed": false,
            "attach_system_info": false, "default_profile_id": "{id}"}}"#
    );
    let (status, body) = setting.request_with(
        "PUT",
        "/api/v1/settings",
        Some(&settings),
        "If-Match: \"0\"\r\n",
    );
    assert_eq!(status, 200, "{body}");
}
