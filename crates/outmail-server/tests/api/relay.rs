//! The SMTP relay end to end: real clients (swaks, Python's smtplib, a raw socket) submit to
//! the relay, the worker delivers through the profile, and the assertions are on what the real
//! peer received (aiosmtpd, the Graph and EWS fakes) and on the exact replies the relay gave.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use axum::http::StatusCode;
use outmail_server::config::RelayConfig;
use outmail_server::relay::Relay;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::mail_peers::{Pki, ScriptPeer, ServerCert, SmtpPeer, app_oauth_json, token_service};
use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    swaks_submits_over_starttls_with_plain_and_login_and_the_peer_gets_the_message_unchanged,
    a_retry_of_an_accepted_message_is_answered_250_and_not_sent_again,
    python_smtplib_relays_a_multipart_message_with_smtputf8_and_bcc_kept_out_of_the_headers,
    a_graph_profile_receives_the_products_mime_and_ews_gets_mime_content,
    every_bad_input_gets_its_documented_reply_and_nothing_is_queued,
    who_may_submit_is_decided_by_the_token_its_scope_and_its_tenant,
    refusals_of_the_sending_service_have_precise_replies,
);

/// A relay on a free loopback port over `app`, stopped when dropped.
struct TestRelay {
    address: SocketAddr,
    stop: watch::Sender<bool>,
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl TestRelay {
    async fn start(app: &TestApp, config: RelayConfig) -> Self {
        let config = RelayConfig {
            smtp_bind: Some("127.0.0.1:0".parse().unwrap()),
            ..config
        };
        let relay = Relay::bind(&config, app.store.clock().clone())
            .await
            .expect("the relay binds")
            .expect("the relay is on");
        let address = relay.local_addrs()[0];
        let (stop, stopped) = watch::channel(false);
        relay.spawn(app.state.clone(), stopped);
        Self { address, stop }
    }

    /// Plain text, AUTH allowed because the listener is on loopback and has no certificate.
    async fn plain(app: &TestApp) -> Self {
        Self::start(app, RelayConfig::default()).await
    }

    /// STARTTLS with the test CA's certificate for localhost.
    async fn with_tls(app: &TestApp, pki: &Pki) -> Self {
        let (cert, key) = pki.files(ServerCert::Good);
        Self::start(
            app,
            RelayConfig {
                tls_cert: Some(cert),
                tls_key: Some(key),
                ..RelayConfig::default()
            },
        )
        .await
    }

    fn port(&self) -> String {
        self.address.port().to_string()
    }
}

/// An SMTP profile to `port` sending as alerts@example.com, made the global default.
async fn global_smtp_profile(app: &TestApp, port: u16, extra: Value) -> String {
    let mut draft = json!({
        "name": "Relay target",
        "transport": {"kind": "smtp", "host": "127.0.0.1", "port": port, "security": "none",
                      "auth": {"kind": "none"}},
        "sender": {"address": "\"Alerts\" <alerts@example.com>"},
        "send_frequency": 300,
        "utf8_headers": true
    });
    if let (Some(draft), Some(extra)) = (draft.as_object_mut(), extra.as_object()) {
        draft.extend(extra.clone());
    }
    let id = app.create_profile(&draft).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    make_default(app, &id).await;
    id
}

async fn make_default(app: &TestApp, id: &str) {
    let current = app.get("/api/v1/settings").await;
    let saved = app
        .put(
            "/api/v1/settings",
            &current.etag(),
            &json!({"sending_enabled": true, "tenant_support_allowed": false,
                    "attach_system_info": false, "default_profile_id": id}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
}

/// A new API token with `scopes` (and bound to `tenant`), as the product would paste it.
async fn token(app: &TestApp, name: &str, scopes: &[&str], tenant: Option<&str>) -> String {
    let created = app
        .post(
            "/api/v1/tokens",
            &json!({"name": name, "scopes": scopes, "tenant": tenant}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.json["token"].as_str().unwrap().to_owned()
}

/// Runs a client program to its end off the async threads.
async fn run(program: &str, args: Vec<String>) -> (bool, String) {
    let program = program.to_owned();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(&program)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    })
    .await
    .unwrap()
}

async fn swaks(relay: &TestRelay, extra: &[&str]) -> (bool, String) {
    let mut args: Vec<String> = ["--server", "127.0.0.1", "--port", &relay.port()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    run("swaks", args).await
}

/// Waits for `count` messages at the peer.
async fn delivered(peer: &SmtpPeer, count: usize) -> Vec<Value> {
    for _ in 0..200 {
        let messages = peer.messages();
        if messages.len() >= count {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the peer got {} of {count} message(s) in 10 s",
        peer.messages().len()
    );
}

/// The delivery log's SMTP submissions, newest first.
async fn relayed_log(app: &TestApp) -> Vec<Value> {
    let log = app.get("/api/v1/messages?channel=smtp").await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    log.json.as_array().cloned().unwrap_or_default()
}

/// A line-oriented SMTP client over a raw socket, for the exact replies.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    async fn connect(relay: &TestRelay) -> Self {
        let stream = TcpStream::connect(relay.address).await.expect("connect");
        let mut client = Self {
            reader: BufReader::new(stream),
        };
        let greeting = client.reply().await;
        assert!(greeting.starts_with("220 "), "{greeting}");
        client
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).await.expect("write");
    }

    /// One whole reply (every line of a multi-line one), or "" when the relay closed.
    async fn reply(&mut self) -> String {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let read =
                tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
                    .await
                    .expect("a reply within 10 s")
                    .expect("read");
            if read == 0 {
                return text;
            }
            text.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return text;
            }
        }
    }

    async fn command(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    async fn login(&mut self, token: &str) -> String {
        use base64::Engine as _;
        let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0product\0{token}"));
        self.command(&format!("AUTH PLAIN {plain}")).await
    }
}

fn assert_reply(reply: &str, expected: &str) {
    assert!(
        reply.starts_with(expected),
        "expected {expected:?}, got {reply:?}"
    );
}

const MESSAGE: &str = "From: Alerts <alerts@example.com>\r\n\
To: Ops <ops@example.net>\r\n\
Subject: Disk almost full\r\n\
Message-ID: <disk-1@product.example>\r\n\
X-Product: billing\r\n\
\r\n\
90% used on /var\r\n";

async fn swaks_submits_over_starttls_with_plain_and_login_and_the_peer_gets_the_message_unchanged(
    app: &TestApp,
) {
    let peer = SmtpPeer::start(&[]);
    global_smtp_profile(app, peer.port, json!({"send_frequency": 0})).await;
    let pki = Pki::new();
    let relay = TestRelay::with_tls(app, &pki).await;
    let token = token(app, "billing", &["smtp:submit"], None).await;
    let _worker = app.start_worker();
    for (n, mechanism) in ["PLAIN", "LOGIN"].into_iter().enumerate() {
        let (ok, transcript) = swaks(
            &relay,
            &[
                "--tls",
                "--pipeline",
                "--auth",
                mechanism,
                "--auth-user",
                "billing",
                "--auth-password",
                &token,
                "--from",
                "alerts@example.com",
                "--to",
                "ops@example.net",
                "--header",
                &format!("Message-Id: <swaks-{n}@product.example>"),
                "--header",
                "X-Product: billing",
                "--header",
                "From: Alerts <alerts@example.com>",
                "--body",
                "90% used on /var",
            ],
        )
        .await;
        assert!(ok, "{transcript}");
        assert!(
            transcript.contains("220 2.0.0 Ready to start TLS"),
            "{transcript}"
        );
        assert!(transcript.contains("235 2.7.0"), "{transcript}");
        assert!(
            transcript.contains("250 2.0.0 OK: queued as"),
            "{transcript}"
        );
        // The token never shows in clear: swaks prints what it sent, base64 aside.
        assert!(!transcript.contains(&token), "{transcript}");
    }
    // swaks cannot ask for SMTPUTF8 (no MAIL parameter option), so a non-ASCII recipient is
    // refused as RFC 6531 says; Python's smtplib below sends one with SMTPUTF8.
    let (ok, transcript) = swaks(
        &relay,
        &[
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "billing",
            "--auth-password",
            &token,
            "--from",
            "alerts@example.com",
            "--to",
            "山田太郎@株式.会社",
        ],
    )
    .await;
    assert!(!ok, "{transcript}");
    assert!(transcript.contains("553 5.6.7"), "{transcript}");
    let messages = delivered(&peer, 2).await;
    for (n, message) in messages.iter().enumerate() {
        let data = message["data"].as_str().unwrap();
        assert!(
            data.contains(&format!("Message-Id: <swaks-{n}@product.example>")),
            "{data}"
        );
        assert!(data.contains("X-Product: billing"), "{data}");
        assert!(data.contains("90% used on /var"), "{data}");
        assert!(
            data.replace("\r\n ", " ")
                .contains("by localhost (outmail) with ESMTPSA"),
            "{data}"
        );
        assert_eq!(message["rcpt_tos"], json!(["ops@example.net"]));
    }
    let log = relayed_log(app).await;
    assert_eq!(log.len(), 2);
    for entry in &log {
        assert_eq!(entry["status"], "sent", "{entry}");
        assert_eq!(entry["source"]["channel"], "smtp");
        assert_eq!(entry["source"]["token"], "billing");
        assert!(
            entry["source"]["client"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
    }
    let page = app.get("/api/v1/relay").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.json["recent"].as_array().unwrap().len(), 2);
    assert_eq!(
        page.json["certificate"]["dns_names"],
        json!(["localhost"]),
        "{}",
        page.text
    );
}

async fn a_retry_of_an_accepted_message_is_answered_250_and_not_sent_again(app: &TestApp) {
    let peer = SmtpPeer::start(&[]);
    global_smtp_profile(app, peer.port, json!({})).await;
    let relay = TestRelay::plain(app).await;
    let token = token(app, "billing", &["smtp:submit"], None).await;
    let _worker = app.start_worker();
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(submit(&relay, &token, &["ops@example.net"], MESSAGE).await);
    }
    assert_reply(&answers[0], "250 2.0.0 OK: queued as");
    assert_reply(&answers[1], "250 2.0.0 OK:");
    assert!(answers[1].contains("repeat"), "{}", answers[1]);
    delivered(&peer, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        peer.messages().len(),
        1,
        "the retry was not delivered again"
    );
    // The same message to a new recipient is new for that recipient.
    let answer = submit(
        &relay,
        &token,
        &["ops@example.net", "oncall@example.net"],
        MESSAGE,
    )
    .await;
    assert_reply(&answer, "250 2.0.0 OK: queued as");
    let messages = delivered(&peer, 2).await;
    assert_eq!(messages[1]["rcpt_tos"], json!(["oncall@example.net"]));
    // X-Outmail-Dedupe-Key makes two different messages the same alert.
    for n in 0..2 {
        let message = MESSAGE.replace(
            "Message-ID: <disk-1@product.example>",
            &format!("Message-ID: <disk-2-{n}@product.example>\r\nX-Outmail-Dedupe-Key: disk-var"),
        );
        let answer = submit(&relay, &token, &["ops@example.net"], &message).await;
        assert_reply(&answer, "250 2.0.0 OK:");
        assert_eq!(answer.contains("repeat"), n == 1, "{answer}");
    }
    delivered(&peer, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(peer.messages().len(), 3, "the second alert was not sent");
}

/// Python's smtplib as a product uses it: `send_message` of an `EmailMessage` with a text and
/// an HTML alternative, an inline image and an attachment, over SMTPUTF8.
const SMTPLIB: &str = r#"
import smtplib, sys
from email.message import EmailMessage
port, token = int(sys.argv[1]), sys.argv[2]
m = EmailMessage()
m["From"] = "Alerts <alerts@example.com>"
m["To"] = "山田太郎 <山田太郎@株式.会社>"
m["Cc"] = "ops@example.net"
m["Bcc"] = "audit@example.org"
m["Subject"] = "Rechnung für März"
m["Message-ID"] = "<invoice-7@product.example>"
m.set_content("Ihre Rechnung\n")
m.add_alternative("<p>Ihre Rechnung <img src='cid:logo'></p>", subtype="html")
m.get_payload()[1].add_related(b"\x89PNG-logo", maintype="image", subtype="png", cid="<logo>")
m.add_attachment(b"%PDF-1.7 invoice", maintype="application", subtype="pdf", filename="invoice.pdf")
with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
    s.ehlo("product.example")
    s.login("billing", token)
    refused = s.send_message(m, mail_options=["SMTPUTF8"])
    print("refused", refused)
"#;

async fn python_smtplib_relays_a_multipart_message_with_smtputf8_and_bcc_kept_out_of_the_headers(
    app: &TestApp,
) {
    let peer = SmtpPeer::start(&[]);
    global_smtp_profile(
        app,
        peer.port,
        json!({"signature": "Das Team", "send_frequency": 0}),
    )
    .await;
    let relay = TestRelay::plain(app).await;
    let token = token(app, "billing", &["messages:send"], None).await;
    let _worker = app.start_worker();
    let (ok, out) = run(
        "/usr/bin/python3",
        vec!["-c".into(), SMTPLIB.into(), relay.port(), token],
    )
    .await;
    assert!(ok, "{out}");
    let message = &delivered(&peer, 1).await[0];
    let data = message["data"].as_str().unwrap();
    let mut envelope: Vec<String> = serde_json::from_value(message["rcpt_tos"].clone()).unwrap();
    envelope.sort();
    // The envelope names the domain in its A-label form, as every outmail transport does.
    assert_eq!(
        envelope,
        [
            "audit@example.org",
            "ops@example.net",
            "山田太郎@xn--w0tp6r.xn--6oq404h"
        ]
    );
    assert!(
        message["mail_options"].to_string().contains("SMTPUTF8"),
        "{message}"
    );
    // Bcc is in the envelope only.
    assert!(!data.to_ascii_lowercase().contains("bcc:"), "{data}");
    assert!(!data.contains("audit@example.org"), "{data}");
    // The product's structure and its own Message-ID are kept.
    assert!(
        data.contains("Message-ID: <invoice-7@product.example>"),
        "{data}"
    );
    for part in [
        "multipart/mixed",
        "multipart/alternative",
        "multipart/related",
        "image/png",
        "application/pdf",
        "invoice.pdf",
    ] {
        assert!(data.contains(part), "{part} missing: {data}");
    }
    // The signature went into the text part, after the separator; the HTML is as it was.
    let parsed = parse_with_python(data).await;
    assert_eq!(
        parsed["text"], "Ihre Rechnung\r\n\r\n-- \r\nDas Team\r\n",
        "{parsed}"
    );
    assert_eq!(
        parsed["html"], "<p>Ihre Rechnung <img src='cid:logo'></p>\r\n",
        "{parsed}"
    );
    assert_eq!(parsed["attachment"], "%PDF-1.7 invoice", "{parsed}");
    assert_eq!(parsed["subject"], "Rechnung für März", "{parsed}");
}

/// The text, HTML and attachment of a message as Python's email package reads them.
async fn parse_with_python(data: &str) -> Value {
    const PARSE: &str = r#"
import email, email.policy, json, sys
m = email.message_from_string(sys.argv[1], policy=email.policy.default)
text = m.get_body(("plain",)).get_content()
html = m.get_body(("html",)).get_content()
attachment = next(m.iter_attachments()).get_content().decode()
print(json.dumps({"text": text, "html": html,
                  "attachment": attachment, "subject": str(m["Subject"])}))
"#;
    let (ok, out) = run(
        "/usr/bin/python3",
        vec!["-c".into(), PARSE.into(), data.into()],
    )
    .await;
    assert!(ok, "{out}");
    serde_json::from_str(out.trim()).expect("json")
}

async fn a_graph_profile_receives_the_products_mime_and_ews_gets_mime_content(app: &TestApp) {
    const SENDER: &str = "alerts@example.com";
    let (_tokens, graph) = graph_default(app, SENDER).await;
    let relay = TestRelay::plain(app).await;
    let token = token(app, "billing", &["smtp:submit"], None).await;
    let _worker = app.start_worker();
    // ops@ is in To; audit@ is an envelope-only recipient.
    assert_reply(
        &submit(
            &relay,
            &token,
            &["ops@example.net", "audit@example.org"],
            MESSAGE,
        )
        .await,
        "250 2.0.0 OK: queued as",
    );
    let record = wait_for_record(&graph).await;
    assert_eq!(record["format"], "mime", "{record}");
    assert_eq!(record["headers"]["content-type"], "text/plain", "{record}");
    let mime = record["mime"].as_str().unwrap();
    assert!(
        mime.contains("Message-ID: <disk-1@product.example>"),
        "{mime}"
    );
    assert!(mime.contains("X-Product: billing"), "{mime}");
    // Graph takes a MIME send's recipients from its headers: the envelope-only one is in a
    // Bcc header, which Exchange removes before delivery.
    assert_eq!(
        record["mime_message"]["bcc"],
        json!([{"name": null, "address": "audit@example.org"}])
    );
    // Graph would send to every header recipient: one the envelope leaves out is refused.
    assert_reply(
        &submit(&relay, &token, &["audit@example.org"], MESSAGE).await,
        "550 5.7.1",
    );

    let ews = ews_default(app, SENDER).await;
    assert_reply(
        &submit(
            &relay,
            &token,
            &["ops@example.net", "audit@example.org"],
            MESSAGE,
        )
        .await,
        "250 2.0.0 OK: queued as",
    );
    let record = wait_for_record(&ews).await;
    let soap = &record["soap"];
    assert!(
        soap["mime"]
            .as_str()
            .unwrap()
            .contains("Message-ID: <disk-1@product.example>"),
        "{record}"
    );
    assert_eq!(
        soap["bcc"],
        json!([{"name": null, "address": "audit@example.org"}]),
        "{record}"
    );
    assert_eq!(soap["mime_message"]["bcc"], json!([]), "{record}");
}

/// Signs in with `token`, submits `message` from alerts@example.com to `to` (each recipient
/// must be accepted) and returns the reply to its end of data.
async fn submit(relay: &TestRelay, token: &str, to: &[&str], message: &str) -> String {
    let mut client = Client::connect(relay).await;
    client.command("EHLO product.example").await;
    assert_reply(&client.login(token).await, "235 2.7.0");
    assert_reply(
        &client.command("MAIL FROM:<alerts@example.com>").await,
        "250 2.1.0",
    );
    for to in to {
        assert_reply(
            &client.command(&format!("RCPT TO:<{to}>")).await,
            "250 2.1.5",
        );
    }
    assert_reply(&client.command("DATA").await, "354");
    client.send(message.as_bytes()).await;
    client.command(".").await
}

/// A Graph profile sending as `sender` through the Graph fake (with its token service),
/// made the global default. Both peers must live as long as the test uses the profile.
async fn graph_default(app: &TestApp, sender: &str) -> (ScriptPeer, ScriptPeer) {
    const TOKEN: &str = "graph-access-token-relay";
    let tokens = token_service(sender, TOKEN, &[]);
    let graph = ScriptPeer::graph(&["--token", TOKEN, "--mailbox", sender]);
    let draft = json!({
        "name": "Graph relay",
        "transport": {"kind": "graph", "endpoint": {"kind": "custom", "url": graph.url("")},
                      "oauth": serde_json::from_str::<Value>(&app_oauth_json(
                          &tokens, "https://graph.microsoft.com/.default")).unwrap(),
                      "save_to_sent_items": false},
        "sender": {"address": sender}, "send_frequency": 0, "utf8_headers": true
    });
    let id = app.create_profile(&draft).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    make_default(app, &id).await;
    (tokens, graph)
}

/// An EWS profile (basic auth) sending as `sender` through the EWS fake, made the default.
async fn ews_default(app: &TestApp, sender: &str) -> ScriptPeer {
    let ews = ScriptPeer::ews(&[
        "--auth",
        "basic",
        "--user",
        "svc",
        "--password",
        "ews-pass",
        "--mailbox",
        sender,
    ]);
    let draft = json!({
        "name": "EWS relay",
        "transport": {"kind": "ews", "url": ews.url("/EWS/Exchange.asmx"),
                      "server_version": "Exchange2013_SP1",
                      "auth": {"kind": "basic", "username": "svc", "password": {"value": "ews-pass"}}},
        "sender": {"address": sender}, "send_frequency": 0, "utf8_headers": true
    });
    let id = app.create_profile(&draft).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    make_default(app, &id).await;
    ews
}

async fn wait_for_record(peer: &ScriptPeer) -> Value {
    for _ in 0..200 {
        if let Some(record) = peer
            .records()
            .into_iter()
            .find(|r| r["status"] == 202 || r.get("soap").is_some())
        {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the fake received nothing in 10 s: {:?}", peer.records());
}

async fn every_bad_input_gets_its_documented_reply_and_nothing_is_queued(app: &TestApp) {
    let peer = SmtpPeer::start(&[]);
    global_smtp_profile(app, peer.port, json!({"send_frequency": 0})).await;
    let token = token(app, "billing", &["smtp:submit"], None).await;
    // With a certificate, AUTH waits for STARTTLS, even on loopback.
    let pki = Pki::new();
    let tls = TestRelay::with_tls(app, &pki).await;
    let mut client = Client::connect(&tls).await;
    let ehlo = client.command("EHLO product.example").await;
    assert!(
        ehlo.contains("250-STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    assert_reply(&client.login(&token).await, "538 5.7.11");
    assert_reply(
        &client.command("MAIL FROM:<alerts@example.com>").await,
        "530 5.7.0",
    );

    let relay = TestRelay::start(
        app,
        RelayConfig {
            max_message_bytes: 4096,
            idle_timeout: Duration::from_secs(1),
            ..RelayConfig::default()
        },
    )
    .await;
    let mut client = Client::connect(&relay).await;
    assert_reply(
        &client.command("MAIL FROM:<alerts@example.com>").await,
        "503 5.5.1",
    );
    let ehlo = client.command("EHLO product.example").await;
    for extension in [
        "PIPELINING",
        "SIZE 4096",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "AUTH PLAIN LOGIN",
    ] {
        assert!(ehlo.contains(extension), "{extension}: {ehlo}");
    }
    assert_reply(&client.login("om_not-a-token").await, "535 5.7.8");
    let read_only = self::token(app, "reader", &["messages:read"], None).await;
    let refused = client.login(&read_only).await;
    assert_reply(&refused, "535 5.7.8");
    assert!(refused.contains("smtp:submit"), "{refused}");
    assert_reply(&client.login(&token).await, "235 2.7.0");
    assert_reply(&client.command("VRFY ops").await, "252");
    assert_reply(&client.command("HELP").await, "214");
    assert_reply(&client.command("DATA").await, "503 5.5.1");
    assert_reply(
        &client.command(&format!("NOOP {}", "x".repeat(3000))).await,
        "500 5.5.6",
    );
    assert_reply(&client.command("NOOP").await, "250");
    assert_reply(
        &client
            .command("MAIL FROM:<alerts@example.com> SIZE=5000")
            .await,
        "552 5.3.4",
    );
    assert_reply(
        &client.command("MAIL FROM:<山田@example.com>").await,
        "553 5.6.7",
    );
    assert_reply(
        &client.command("MAIL FROM:<alerts@example.com>").await,
        "250",
    );
    assert_reply(
        &client.command("MAIL FROM:<alerts@example.com>").await,
        "503 5.5.1",
    );
    assert_reply(&client.command("DATA").await, "554 5.5.1");
    // Too many recipients: the 1,001st is deferred, the first 1,000 stand.
    let mut batch = String::new();
    for n in 0..1001 {
        batch.push_str(&format!("RCPT TO:<r{n}@example.net>\r\n"));
    }
    client.send(batch.as_bytes()).await;
    for _ in 0..1000 {
        assert_reply(&client.reply().await, "250 2.1.5");
    }
    assert_reply(&client.reply().await, "452 4.5.3");
    assert_reply(&client.command("RSET").await, "250");
    // Over SIZE without declaring it: read to the end, then refused.
    client.command("MAIL FROM:<alerts@example.com>").await;
    client.command("RCPT TO:<ops@example.net>").await;
    client.command("DATA").await;
    let big = format!("{MESSAGE}{}\r\n.\r\n", "y".repeat(5000));
    client.send(big.as_bytes()).await;
    assert_reply(&client.reply().await, "552 5.3.4");
    // Smuggling: a bare LF, and the ends other servers take, are data and refuse the message.
    for smuggled in ["\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n"] {
        client.command("MAIL FROM:<alerts@example.com>").await;
        client.command("RCPT TO:<ops@example.net>").await;
        client.command("DATA").await;
        client
            .send(format!("{MESSAGE}{smuggled}MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nsmuggled\r\n.\r\n").as_bytes())
            .await;
        assert_reply(&client.reply().await, "550 5.6.11");
        assert_reply(&client.command("NOOP").await, "250");
    }
    // 1,000 pipelined commands: 1,000 replies, in order.
    let pipelined = "NOOP\r\n".repeat(999) + "RSET\r\n";
    client.send(pipelined.as_bytes()).await;
    for _ in 0..1000 {
        assert_reply(&client.reply().await, "250 2.0.0 OK");
    }
    assert_reply(&client.command("QUIT").await, "221");

    // A client that goes silent mid-DATA is told and dropped; one that disconnects leaves nothing.
    let mut silent = Client::connect(&relay).await;
    silent.command("EHLO product.example").await;
    silent.login(&token).await;
    silent.command("MAIL FROM:<alerts@example.com>").await;
    silent.command("RCPT TO:<ops@example.net>").await;
    silent.command("DATA").await;
    silent
        .send(b"From: Alerts <alerts@example.com>\r\nSubject: half\r\n")
        .await;
    assert_reply(&silent.reply().await, "421 4.4.2");
    let mut gone = Client::connect(&relay).await;
    gone.command("EHLO product.example").await;
    gone.login(&token).await;
    gone.command("MAIL FROM:<alerts@example.com>").await;
    gone.command("RCPT TO:<ops@example.net>").await;
    gone.command("DATA").await;
    gone.send(b"From: Alerts <alerts@example.com>\r\nSubject: half\r\n")
        .await;
    drop(gone);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(relayed_log(app).await.is_empty(), "nothing was queued");
    // Failed AUTH is audited, and throttled like sign-in.
    let audit = app.get("/api/v1/audit").await;
    assert!(audit.text.contains("smtp.auth.failed"), "{}", audit.text);
    let mut client = Client::connect(&relay).await;
    client.command("EHLO product.example").await;
    let mut last = String::new();
    for _ in 0..6 {
        last = client.login("om_wrong").await;
    }
    assert_reply(&last, "454 4.7.0");
    assert_reply(&client.login(&token).await, "454 4.7.0");
}

async fn who_may_submit_is_decided_by_the_token_its_scope_and_its_tenant(app: &TestApp) {
    let global_peer = SmtpPeer::start(&[]);
    let tenant_peer = SmtpPeer::start(&[]);
    global_smtp_profile(app, global_peer.port, json!({"send_frequency": 0})).await;
    let own = app
        .create_profile(&json!({
            "name": "Acme's server",
            "transport": {"kind": "smtp", "host": "127.0.0.1", "port": tenant_peer.port,
                          "security": "none", "auth": {"kind": "none"}},
            "sender": {"address": "alerts@example.com"}, "send_frequency": 0,
            "utf8_headers": false
        }))
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tenant = app
        .post(
            "/api/v1/tenants",
            &json!({"id": "acme", "name": "Acme", "profile": {"kind": "own", "profile_id": own}}),
        )
        .await;
    assert_eq!(tenant.status, StatusCode::CREATED, "{}", tenant.text);
    let bound = token(
        app,
        "acme billing",
        &["smtp:submit", "messages:send"],
        Some("acme"),
    )
    .await;
    let unknown = app
        .post(
            "/api/v1/tokens",
            &json!({"name": "x", "scopes": ["smtp:submit"], "tenant": "nobody"}),
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.text
    );
    assert!(unknown.text.contains("tenant"), "{}", unknown.text);
    let relay = TestRelay::plain(app).await;
    let _worker = app.start_worker();
    let answer = submit(&relay, &bound, &["ops@example.net"], MESSAGE).await;
    assert_reply(&answer, "250 2.0.0");
    delivered(&tenant_peer, 1).await;
    assert!(global_peer.messages().is_empty());
    assert_eq!(relayed_log(app).await[0]["tenant"], "acme");
    // Over the REST API the same token cannot name another tenant.
    let other = app
        .call_as(
            &crate::support::Caller::Token(bound.clone()),
            axum::http::Method::POST,
            "/api/v1/messages",
            Some(r#"{"tenant": "other", "to": ["ops@example.net"], "subject": "x", "text": "y"}"#),
            Some("application/json"),
            &[],
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN, "{}", other.text);
    // Unauthenticated submission only from the listed networks.
    let open = TestRelay::start(
        app,
        RelayConfig {
            allow_unauthenticated: vec!["127.0.0.1/32".parse().unwrap()],
            ..RelayConfig::default()
        },
    )
    .await;
    let mut client = Client::connect(&open).await;
    client.command("EHLO product.example").await;
    assert_reply(
        &client.command("MAIL FROM:<alerts@example.com>").await,
        "250 2.1.0",
    );
    let closed = TestRelay::start(
        app,
        RelayConfig {
            allow_unauthenticated: vec!["10.0.0.0/8".parse().unwrap()],
            ..RelayConfig::default()
        },
    )
    .await;
    let mut client = Client::connect(&closed).await;
    client.command("EHLO product.example").await;
    assert_reply(
        &client.command("MAIL FROM:<alerts@example.com>").await,
        "530 5.7.0",
    );
}

async fn refusals_of_the_sending_service_have_precise_replies(app: &TestApp) {
    let peer = SmtpPeer::start(&[]);
    let relay = TestRelay::plain(app).await;
    let token = token(app, "billing", &["smtp:submit"], None).await;
    let submit = |message: &'static str| submit(&relay, &token, &["ops@example.net"], message);
    // Nothing configured yet: no profile applies.
    assert_reply(&submit(MESSAGE).await, "451 4.3.5");
    let id = global_smtp_profile(app, peer.port, json!({})).await;
    let current = app.get("/api/v1/settings").await;
    let off = app
        .put(
            "/api/v1/settings",
            &current.etag(),
            &json!({"sending_enabled": false, "tenant_support_allowed": false,
                    "attach_system_info": false, "default_profile_id": id}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    assert_reply(&submit(MESSAGE).await, "451 4.3.2");
    make_default(app, &id).await;
    let other_from = "From: Someone <someone@elsewhere.example>\r\nTo: ops@example.net\r\nSubject: x\r\n\r\nbody\r\n";
    let refused = submit(other_from).await;
    assert_reply(&refused, "550 5.7.1");
    assert!(refused.contains("alerts@example.com"), "{refused}");
    assert_reply(
        &submit("To: ops@example.net\r\nSubject: no from\r\n\r\nbody\r\n").await,
        "554 5.6.0",
    );
    assert_reply(
        &submit("not a header line\r\n\r\nbody\r\n").await,
        "554 5.6.0",
    );
    assert!(
        relayed_log(app).await.is_empty(),
        "nothing refused was stored"
    );
}

/// The database refuses the write (a trigger standing in for a full disk): the relay answers
/// 451 and keeps nothing; once the fault clears, the client's retry is accepted.
#[tokio::test]
async fn a_storage_fault_is_a_451_and_the_retry_succeeds_once_it_clears() {
    use sqlx::Connection as _;
    let app = TestApp::sqlite().await;
    let peer = SmtpPeer::start(&[]);
    global_smtp_profile(&app, peer.port, json!({})).await;
    let relay = TestRelay::plain(&app).await;
    let token = token(&app, "billing", &["smtp:submit"], None).await;
    let database = app.data_dir.path().join("outmail.db");
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display()))
        .await
        .expect("open the database beside the server");
    sqlx::query(
        "CREATE TRIGGER disk_full BEFORE INSERT ON messages \
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    )
    .execute(&mut db)
    .await
    .unwrap();
    let attempt = || submit(&relay, &token, &["ops@example.net"], MESSAGE);
    assert_reply(&attempt().await, "451 4.3.0");
    assert!(relayed_log(&app).await.is_empty());
    sqlx::query("DROP TRIGGER disk_full")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    assert_reply(&attempt().await, "250 2.0.0 OK: queued as");
    let _worker = app.start_worker();
    delivered(&peer, 1).await;
    drop(relay);
    app.finish().await;
}

/// The certificate is re-read when its files change: a renewal is used without a restart, and
/// a broken renewal keeps the certificate in use and says why. The implicit-TLS listener
/// presents the same certificate.
#[tokio::test]
async fn a_renewed_certificate_is_used_without_a_restart_and_a_broken_one_is_reported() {
    let app = TestApp::sqlite().await;
    let pki = Pki::new();
    let live = tempfile::tempdir().unwrap();
    let (cert, key) = (live.path().join("relay.crt"), live.path().join("relay.key"));
    let install = |which: ServerCert| {
        let (from_cert, from_key) = pki.files(which);
        std::fs::copy(from_cert, &cert).unwrap();
        std::fs::copy(from_key, &key).unwrap();
    };
    install(ServerCert::Good);
    let relay = TestRelay::start(
        &app,
        RelayConfig {
            smtps_bind: Some("127.0.0.1:0".parse().unwrap()),
            tls_cert: Some(cert.clone()),
            tls_key: Some(key.clone()),
            ..RelayConfig::default()
        },
    )
    .await;
    let page = app.get("/api/v1/relay").await;
    let listeners = page.json["listeners"].as_array().unwrap().clone();
    assert_eq!(listeners.len(), 2, "{}", page.text);
    assert_eq!(listeners[0]["security"], "starttls");
    assert_eq!(listeners[1]["security"], "implicit_tls");
    assert_eq!(listeners[0]["auth"], "after_tls");
    let first_expiry = page.json["certificate"]["not_after"].clone();
    // swaks speaks TLS from the first byte to the implicit-TLS listener.
    let smtps_port = listeners[1]["address"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let (ok, transcript) = run(
        "swaks",
        [
            "--server",
            "127.0.0.1",
            "--port",
            &smtps_port,
            "--tlsc",
            "--quit-after",
            "EHLO",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    )
    .await;
    assert!(ok, "{transcript}");
    assert!(transcript.contains("AUTH PLAIN LOGIN"), "{transcript}");

    // Modification times have a resolution of their own: make the change visible.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    install(ServerCert::Expired);
    let mut renewed = Value::Null;
    for _ in 0..100 {
        renewed = app.get("/api/v1/relay").await.json["certificate"]["not_after"].clone();
        if renewed != first_expiry {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(renewed, first_expiry, "the changed files were read again");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    std::fs::write(&cert, "not a certificate").unwrap();
    let mut page = app.get("/api/v1/relay").await;
    for _ in 0..100 {
        if !page.json["certificate_problem"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        page = app.get("/api/v1/relay").await;
    }
    assert!(
        page.json["certificate_problem"].is_string(),
        "{}",
        page.text
    );
    assert_eq!(
        page.json["certificate"]["not_after"], renewed,
        "the last good one stays"
    );
    drop(relay);
    app.finish().await;
}

/// A real Postfix configured as a product's relay client (`relayhost` = outmail, SASL with the
/// token, STARTTLS verified against the CA): mail submitted to Postfix reaches aiosmtpd through
/// outmail's SMTP profile, then the Graph fake as MIME and the EWS fake as MimeContent.
#[tokio::test]
async fn postfix_as_a_products_relay_client_sends_through_outmail_to_smtp_graph_and_ews() {
    use crate::mail_peers::PostfixRelay;
    let app = TestApp::sqlite().await;
    let peer = SmtpPeer::start(&[]);
    global_smtp_profile(&app, peer.port, json!({"send_frequency": 0})).await;
    let pki = Pki::new();
    let ca = pki.dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let relay = TestRelay::with_tls(&app, &pki).await;
    let token = token(&app, "postfix", &["smtp:submit"], None).await;
    let _worker = app.start_worker();
    let postfix = tokio::task::spawn_blocking({
        let (address, token, ca) = (relay.address, token.clone(), ca.clone());
        move || {
            PostfixRelay::start(
                address,
                Some(("postfix", &token)),
                Some(&ca),
                &["--relay-tls", "verify"],
            )
        }
    })
    .await
    .unwrap();
    let postfix_port = postfix.port.to_string();
    let submit = |id: &'static str| {
        let port = postfix_port.clone();
        async move {
            run(
                "swaks",
                [
                    "--server",
                    "127.0.0.1",
                    "--port",
                    &port,
                    "--from",
                    "alerts@example.com",
                    "--to",
                    "ops@example.net",
                    "--header",
                    "From: Alerts <alerts@example.com>",
                    "--header",
                    &format!("Message-Id: <{id}@product.example>"),
                    "--body",
                    "sent by a product that only knows SMTP",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            )
            .await
        }
    };
    let (ok, transcript) = submit("through-postfix-1").await;
    assert!(ok, "{transcript}");
    let message = &delivered(&peer, 1).await[0];
    let data = message["data"].as_str().unwrap();
    assert!(
        data.contains("Message-Id: <through-postfix-1@product.example>"),
        "{data}"
    );
    assert!(
        data.contains("sent by a product that only knows SMTP"),
        "{data}"
    );
    assert!(
        // Header lines are folded; unfolded, the trace line says TLS and AUTH.
        data.replace("\r\n ", " ")
            .contains("by localhost (outmail) with ESMTPSA"),
        "Postfix authenticated over TLS: {data}"
    );
    let outcomes = tokio::task::spawn_blocking(move || {
        let outcomes = postfix.outcomes(1);
        (postfix, outcomes)
    })
    .await
    .unwrap();
    let (postfix, outcomes) = outcomes;
    assert!(
        outcomes[0].contains("status=sent (250 2.0.0 OK: queued as"),
        "{outcomes:?}"
    );
    assert_eq!(relayed_log(&app).await[0]["source"]["token"], "postfix");

    const SENDER: &str = "alerts@example.com";
    let (_tokens, graph) = graph_default(&app, SENDER).await;
    let (ok, transcript) = submit("through-postfix-2").await;
    assert!(ok, "{transcript}");
    let record = wait_for_record(&graph).await;
    assert_eq!(record["format"], "mime", "{record}");
    assert!(
        record["mime"]
            .as_str()
            .unwrap()
            .contains("Message-Id: <through-postfix-2@product.example>"),
        "{record}"
    );

    // And through EWS, as MimeContent.
    let ews = ews_default(&app, SENDER).await;
    let (ok, transcript) = submit("through-postfix-3").await;
    assert!(ok, "{transcript}");
    let record = wait_for_record(&ews).await;
    assert!(
        record["soap"]["mime"]
            .as_str()
            .unwrap()
            .contains("Message-Id: <through-postfix-3@product.example>"),
        "{record}"
    );
    drop(postfix);
    drop(relay);
    app.finish().await;
}
