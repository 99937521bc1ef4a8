//! The sending API end to end: resolution of the profile (global default, a tenant's own,
//! sending switched off), the durable outbox and its worker delivering to the aiosmtpd peer,
//! the send frequency, idempotency keys, and refused input.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::mail_peers::fault::{self, Script};
use crate::mail_peers::{ScriptPeer, SmtpPeer, app_oauth_json, token_service};
use crate::on_both_backends;
use crate::support::{Answer, CANARIES, TestApp};

const SETTINGS: &str = "/api/v1/settings";

fn peer_profile(name: &str, port: u16) -> Value {
    json!({
        "name": name,
        "transport": {"kind": "smtp", "host": "127.0.0.1", "port": port, "security": "none",
                      "auth": {"kind": "none"}},
        "sender": {"address": "\"Alerts\" <alerts@example.com>", "reply_to": "help@example.com"},
        "signature": "The operations team",
        "send_frequency": 300,
        "utf8_headers": false
    })
}

/// A profile for `peer`, made the global default.
async fn global_profile(app: &TestApp, peer: &SmtpPeer) -> String {
    let created = app.create_profile(&peer_profile("Global", peer.port)).await;
    let id = created.json["id"].as_str().expect("id").to_owned();
    let saved = app
        .put(
            SETTINGS,
            "\"0\"",
            &json!({"sending_enabled": true, "tenant_support_allowed": false,
                    "attach_system_info": false, "default_profile_id": id}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    id
}

async fn send(app: &TestApp, body: &Value) -> Answer {
    app.post("/api/v1/messages", body).await
}

/// Polls the message until it leaves `queued` (the worker runs beside the test).
async fn settled(app: &TestApp, id: &str) -> Value {
    for _ in 0..200 {
        let answer = app.get(&format!("/api/v1/messages/{id}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        if answer.json["status"] != "queued" {
            return answer.json;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("message {id} is still queued after 10 s");
}

async fn log_is_empty(app: &TestApp) -> bool {
    let log = app.get("/api/v1/messages").await;
    log.json.as_array().is_some_and(Vec::is_empty)
}

fn alert(to: &str) -> Value {
    json!({"to": [to], "subject": "Disk almost full", "text": "90% used on /var",
           "headers": {"X-Alert-Id": "disk-1"}})
}

/// Microsoft Graph answering with an HTTP status that only a change of settings can fix (the
/// app lacks Mail.Send, a bad request, no such mailbox, too large, a refused token): the
/// worker fails the message after one attempt, with the cause, instead of retrying it for two
/// hours as it once read every 4xx as SMTP's "try again".
async fn graph_refusals_that_need_a_change_fail_at_once_in_the_worker(app: &TestApp) {
    const SENDER: &str = "alerts@example.com";
    const TOKEN: &str = "graph-access-token-1";
    let tokens = token_service(SENDER, TOKEN, &[]);
    let _worker = app.start_worker();
    for (n, (refusal, reason)) in [
        (["--deny", SENDER], "access_denied"),
        (["--fail-status", "400"], "rejected"),
        (["--fail-status", "404"], "mailbox_not_found"),
        (["--fail-status", "413"], "message_too_large"),
        (["--fail-status", "401"], "unauthorized"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut args = vec!["--token", TOKEN, "--mailbox", SENDER];
        args.extend_from_slice(&refusal);
        let graph = ScriptPeer::graph(&args);
        let draft = format!(
            r#"{{"name": "Graph {n}",
                 "transport": {{"kind": "graph", "endpoint": {{"kind": "custom", "url": "{}"}},
                                "oauth": {}, "save_to_sent_items": false}},
                 "sender": {{"address": "{SENDER}"}}, "send_frequency": 0,
                 "utf8_headers": false}}"#,
            graph.url(""),
            app_oauth_json(&tokens, "https://graph.microsoft.com/.default")
        );
        let created = app
            .create_profile(&serde_json::from_str(&draft).unwrap())
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let saved = app
            .put(
                SETTINGS,
                // The n-th save of the global settings replaces version n.
                &format!("\"{n}\""),
                &json!({"sending_enabled": true, "tenant_support_allowed": false,
                        "attach_system_info": false, "default_profile_id": created.json["id"]}),
            )
            .await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
        let accepted = send(app, &alert("ops@example.net")).await;
        assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
        let message = settled(app, accepted.json["id"].as_str().unwrap()).await;
        assert_eq!(message["status"], "failed", "{refusal:?}: {message}");
        assert_eq!(message["attempts"], 1, "{refusal:?}: {message}");
        let error = message["last_error"].as_str().unwrap();
        assert!(error.starts_with(reason), "{refusal:?}: {error}");
        assert_eq!(graph.records().len(), 1, "{refusal:?}: sent once");
    }
}

async fn a_message_is_queued_then_delivered_through_the_global_profile(app: &TestApp) {
    let peer = SmtpPeer::start(&[]);
    let profile = global_profile(app, &peer).await;
    let _worker = app.start_worker();
    let accepted = send(app, &alert("ops@example.net")).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    assert_eq!(accepted.json["status"], "queued");
    assert_eq!(accepted.json["profile_id"], profile.as_str());
    let id = accepted.json["id"].as_str().unwrap();
    let message = settled(app, id).await;
    assert_eq!(message["status"], "sent", "{message}");
    assert_eq!(message["attempts"], 1);
    assert!(
        message["server_used"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1"),
        "{message}"
    );
    let delivered = peer.messages();
    assert_eq!(delivered.len(), 1);
    let data = delivered[0]["data"].as_str().unwrap();
    assert!(data.contains("Subject: Disk almost full"), "{data}");
    assert!(data.contains("Reply-To: help@example.com"), "{data}");
    assert!(data.contains("X-Alert-Id: disk-1"), "{data}");
    assert!(data.contains("-- \r\nThe operations team"), "{data}");
    let log = app.get("/api/v1/messages?status=sent").await;
    assert_eq!(log.json.as_array().unwrap().len(), 1, "{}", log.text);
}

async fn the_same_alert_within_the_window_is_suppressed_and_logged(app: &TestApp) {
    let peer = SmtpPeer::start(&[]);
    global_profile(app, &peer).await;
    let _worker = app.start_worker();
    let first = send(app, &alert("ops@example.net")).await;
    let second = send(app, &alert("OPS@example.net")).await;
    assert_eq!(second.status, StatusCode::ACCEPTED);
    assert_eq!(second.json["status"], "suppressed", "{}", second.text);
    assert_eq!(second.json["suppressed"], json!(["ops@example.net"]));
    // Another alert to the same recipient goes.
    let other = send(
        app,
        &json!({"to": ["ops@example.net"], "subject": "CPU hot", "text": "95%"}),
    )
    .await;
    assert_eq!(other.json["status"], "queued");
    settled(app, first.json["id"].as_str().unwrap()).await;
    settled(app, other.json["id"].as_str().unwrap()).await;
    assert_eq!(peer.messages().len(), 2);
    let log = app.get("/api/v1/messages?status=suppressed").await;
    assert_eq!(
        log.json[0]["suppressed_recipients"],
        json!(["ops@example.net"])
    );
}

async fn an_idempotency_key_returns_the_first_message(app: &TestApp) {
    let peer = SmtpPeer::start(&[]);
    global_profile(app, &peer).await;
    let body = json!({"to": ["ops@example.net"], "subject": "Invoice 42", "text": "attached"});
    let key = [("idempotency-key", "invoice-42")];
    let first = app
        .call(Method::POST, "/api/v1/messages", Some(&body), &key)
        .await;
    let again = app
        .call(Method::POST, "/api/v1/messages", Some(&body), &key)
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(again.json["id"], first.json["id"]);
    let log = app.get("/api/v1/messages").await;
    assert_eq!(log.json.as_array().unwrap().len(), 1);
}

async fn sending_switched_off_is_a_409_and_nothing_is_stored(app: &TestApp) {
    let answer = send(app, &alert("ops@example.net")).await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text);
    app.put(
        SETTINGS,
        "\"0\"",
        &json!({"sending_enabled": false, "tenant_support_allowed": false, "attach_system_info": false}),
    )
    .await;
    let answer = send(app, &alert("ops@example.net")).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(
        answer.field_codes("sending_enabled"),
        ["sending_disabled"],
        "{}",
        answer.text
    );
    assert!(log_is_empty(app).await, "nothing may be stored");
}

async fn a_tenant_with_its_own_profile_sends_through_it(app: &TestApp) {
    let global_peer = SmtpPeer::start(&[]);
    let tenant_peer = SmtpPeer::start(&[]);
    global_profile(app, &global_peer).await;
    let own = app
        .create_profile(&peer_profile("Acme relay", tenant_peer.port))
        .await;
    let own_id = own.json["id"].as_str().unwrap();
    let tenant = app
        .post(
            "/api/v1/tenants",
            &json!({"id": "acme", "name": "ACME", "profile": {"kind": "own", "profile_id": own_id}}),
        )
        .await;
    assert_eq!(tenant.status, StatusCode::CREATED, "{}", tenant.text);
    let _worker = app.start_worker();
    let mut body = alert("ops@acme.example");
    body["tenant"] = json!("acme");
    let accepted = send(app, &body).await;
    settled(app, accepted.json["id"].as_str().unwrap()).await;
    assert_eq!(tenant_peer.messages().len(), 1);
    assert!(global_peer.messages().is_empty());
    let unknown = send(
        app,
        &json!({"tenant": "nobody", "to": ["a@example.net"], "subject": "s", "text": "t"}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
}

async fn bad_input_is_a_422_naming_each_field(app: &TestApp) {
    let peer = SmtpPeer::start(&[]);
    global_profile(app, &peer).await;
    let answer = send(
        app,
        &json!({"to": ["not an address"], "cc": ["ok@example.net", "bad@"], "subject": "a\r\nBcc: x@example.net",
                "headers": {"Received": "x", "X-Ok": "line\nbreak"}}),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    for field in [
        "to.0",
        "cc.1",
        "subject",
        "text",
        "headers.Received",
        "headers.X-Ok",
    ] {
        assert!(
            !answer.field_codes(field).is_empty(),
            "{field}: {}",
            answer.text
        );
    }
    assert!(log_is_empty(app).await, "nothing may be stored");
}

/// A primary whose peer acts out `script`, with `alternate` as its alternate, made the global
/// default; returns the primary's ID.
async fn primary_with_alternate(app: &TestApp, primary_port: u16, alternate: &SmtpPeer) -> String {
    let alternate = app
        .create_profile(&peer_profile("Alternate", alternate.port))
        .await;
    let mut primary = peer_profile("Primary", primary_port);
    primary["alternate_profile_id"] = alternate.json["id"].clone();
    let created = app.create_profile(&primary).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["id"].as_str().unwrap().to_owned();
    app.put(
        SETTINGS,
        "\"0\"",
        &json!({"sending_enabled": true, "tenant_support_allowed": false,
                "attach_system_info": false, "default_profile_id": id}),
    )
    .await;
    id
}

/// The primary drops the connection in the middle of DATA: the message goes through the
/// alternate, exactly once, and the profile stays there (shared state) until reset.
async fn a_primary_that_drops_mid_data_fails_over_and_the_message_arrives_once(app: &TestApp) {
    let primary_peer = fault::start(Script::DropMidData).await;
    let alternate = SmtpPeer::start(&[]);
    let primary = primary_with_alternate(app, primary_peer.port, &alternate).await;
    let _worker = app.start_worker();
    let first = send(app, &alert("ops@example.net")).await;
    let message = settled(app, first.json["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "sent", "{message}");
    assert_eq!(message["attempts"], 1);
    assert_eq!(
        alternate.messages().len(),
        1,
        "exactly once, through the alternate"
    );
    let state = app
        .get(&format!("/api/v1/profiles/{primary}/failover"))
        .await;
    assert_eq!(state.json["active"], true, "{}", state.text);
    let active = app.get("/api/v1/failovers").await;
    assert_eq!(
        active.json.as_array().map(Vec::len),
        Some(1),
        "{}",
        active.text
    );
    assert_eq!(active.json[0]["profile_id"], primary.as_str());
    assert_eq!(active.json[0]["reason"], state.json["reason"]);
    assert!(
        state.json["reason"]
            .as_str()
            .unwrap()
            .contains("connection_dropped"),
        "{}",
        state.text
    );

    // Sticky: the next message does not try the primary at all.
    let connections = |peer: &fault::FaultPeer| {
        peer.received
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("EHLO"))
            .count()
    };
    let before = connections(&primary_peer);
    let second = send(
        app,
        &json!({"to": ["ops@example.net"], "subject": "Second", "text": "x"}),
    )
    .await;
    settled(app, second.json["id"].as_str().unwrap()).await;
    assert_eq!(connections(&primary_peer), before);
    assert_eq!(alternate.messages().len(), 2);

    let reset = app
        .post(
            &format!("/api/v1/profiles/{primary}/failover/reset"),
            &json!({}),
        )
        .await;
    assert_eq!(reset.json["active"], false, "{}", reset.text);
    assert_eq!(app.get("/api/v1/failovers").await.json, json!([]));
    let kinds: Vec<&str> = reset.json["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reset", "failed_over"]);
}

/// The primary read the whole message and its final dot, then went silent: it may have taken
/// it, so the message is not sent again through the alternate.
async fn a_drop_after_the_final_dot_is_not_sent_again(app: &TestApp) {
    let primary_peer = fault::start(Script::DropAfterDot).await;
    let alternate = SmtpPeer::start(&[]);
    let primary = primary_with_alternate(app, primary_peer.port, &alternate).await;
    let _worker = app.start_worker();
    let accepted = send(app, &alert("ops@example.net")).await;
    let message = settled(app, accepted.json["id"].as_str().unwrap()).await;
    assert_eq!(message["status"], "failed", "{message}");
    assert!(
        message["last_error"]
            .as_str()
            .unwrap()
            .starts_with("delivery unknown"),
        "{message}"
    );
    assert!(alternate.messages().is_empty());
    let state = app
        .get(&format!("/api/v1/profiles/{primary}/failover"))
        .await;
    assert_eq!(state.json["active"], false);
}

/// The worker keeps connections open between messages: a burst shares a few connections (at
/// most one per concurrent send), and an edited profile never reuses a connection opened for
/// its old settings.
async fn the_worker_reuses_connections_until_the_profile_changes(app: &TestApp) {
    let peer = SmtpPeer::start(&[]);
    let profile = global_profile(app, &peer).await;
    let mut ids = Vec::new();
    for n in 0..24 {
        let body = json!({"to": [format!("n{n}@example.net")], "subject": format!("Burst {n}"), "text": "x"});
        ids.push(
            send(app, &body).await.json["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let _worker = app.start_worker();
    for id in &ids {
        assert_eq!(settled(app, id).await["status"], "sent");
    }
    let ports = |messages: &[Value]| {
        let mut ports: Vec<u64> = messages
            .iter()
            .map(|m| m["client_port"].as_u64().unwrap())
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    };
    let burst = peer.messages();
    assert_eq!(burst.len(), 24);
    let used = ports(&burst);
    assert!(
        used.len() <= 8,
        "at most one connection per concurrent send: {used:?}"
    );
    assert!(
        burst
            .iter()
            .any(|m| m["connection_message"].as_u64() > Some(1)),
        "some connection carried more than one message"
    );

    let current = app.get(&format!("/api/v1/profiles/{profile}")).await;
    let etag = format!("\"{}\"", current.json["version"]);
    let mut edited = peer_profile("Global", peer.port);
    edited["signature"] = json!("The edited team");
    let saved = app
        .put(&format!("/api/v1/profiles/{profile}"), &etag, &edited)
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let after = send(app, &alert("late@example.net")).await;
    assert_eq!(
        settled(app, after.json["id"].as_str().unwrap()).await["status"],
        "sent"
    );
    let all = peer.messages();
    let last = all.last().unwrap();
    assert!(last["data"].as_str().unwrap().contains("The edited team"));
    assert_eq!(
        last["connection_message"], 1,
        "a new connection for the new settings"
    );
    assert!(!used.contains(&last["client_port"].as_u64().unwrap()));
}

/// Two workers (as two replicas would) share the outbox: every message once.
async fn two_workers_deliver_every_message_exactly_once(app: &TestApp) {
    let peer = SmtpPeer::start(&[]);
    global_profile(app, &peer).await;
    let mut ids = Vec::new();
    for n in 0..40 {
        let body = json!({"to": [format!("n{n}@example.net")], "subject": format!("Alert {n}"), "text": "x"});
        ids.push(
            send(app, &body).await.json["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let _one = app.start_worker();
    let _two = app.start_worker();
    for id in &ids {
        assert_eq!(settled(app, id).await["status"], "sent");
    }
    let delivered = peer.messages();
    assert_eq!(delivered.len(), 40);
    let mut recipients: Vec<String> = delivered
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_owned())
        .collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 40, "no message twice");
}

/// A routing rule for the sender's domain picks its profile; the acting user becomes the
/// Reply-To where the profile does not send as them, or the From where it does.
async fn a_routing_rule_by_sender_picks_the_profile_and_the_acting_user_is_reply_to(app: &TestApp) {
    let global_peer = SmtpPeer::start(&[]);
    let vip_peer = SmtpPeer::start(&[]);
    global_profile(app, &global_peer).await;
    let mut vip = peer_profile("VIP relay", vip_peer.port);
    vip["sender"]["send_as_acting_user"] = json!(false);
    let vip = app.create_profile(&vip).await;
    let rule = app
        .post(
            "/api/v1/routing-rules",
            &json!({"match": {"kind": "sender_domain", "domain": "vip.example"},
                    "profile_id": vip.json["id"], "priority": 10}),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.text);
    let _worker = app.start_worker();
    let mut body = alert("ops@example.net");
    body["on_behalf_of"] = json!("\"The CEO\" <ceo@vip.example>");
    let accepted = send(app, &body).await;
    assert_eq!(
        accepted.json["profile_id"], vip.json["id"],
        "{}",
        accepted.text
    );
    settled(app, accepted.json["id"].as_str().unwrap()).await;
    let delivered = vip_peer.messages();
    assert_eq!(delivered.len(), 1);
    let data = delivered[0]["data"].as_str().unwrap();
    assert!(data.contains("From: Alerts <alerts@example.com>"), "{data}");
    assert!(
        data.contains("Reply-To: \"The CEO\" <ceo@vip.example>"),
        "{data}"
    );
    assert!(global_peer.messages().is_empty());
}

/// Support requests go to the tenant's own address where allowed, else the global one, with a
/// system-information file (version, platform, profile; never a secret) when asked for.
async fn support_requests_go_to_the_right_address_with_system_information(app: &TestApp) {
    let peer = SmtpPeer::start(&[
        "--auth",
        "PLAIN",
        "--user",
        "alice",
        "--password",
        CANARIES[0],
        "--require-auth",
    ]);
    let mut profile = peer_profile("Support relay", peer.port);
    profile["transport"]["auth"] = json!({"kind": "basic", "username": "alice",
                                          "password": {"value": CANARIES[0]}});
    let created = app.create_profile(&profile).await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    let settings = |tenant_allowed: bool, attach: bool| {
        json!({"sending_enabled": true, "default_profile_id": id,
               "support_address": "help@example.com",
               "tenant_support_allowed": tenant_allowed, "attach_system_info": attach})
    };
    let saved = app.put(SETTINGS, "\"0\"", &settings(true, true)).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    app.post(
        "/api/v1/tenants",
        &json!({"id": "acme", "name": "ACME", "profile": {"kind": "use_global"},
                "support_address": "it@acme.example"}),
    )
    .await;
    let _worker = app.start_worker();
    let request = json!({"tenant": "acme", "from": "Una User <una@acme.example>",
                         "subject": "Cannot sign in", "message": "The login page says 500."});
    let accepted = app.post("/api/v1/support-requests", &request).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    assert_eq!(accepted.json["to"], "it@acme.example");
    assert_eq!(accepted.json["system_info_attached"], true);
    settled(app, accepted.json["id"].as_str().unwrap()).await;
    let delivered = peer.messages();
    assert_eq!(delivered[0]["rcpt_tos"], json!(["it@acme.example"]));
    let data = delivered[0]["data"].as_str().unwrap();
    assert!(
        data.contains("Reply-To: \"Una User\" <una@acme.example>"),
        "{data}"
    );
    assert!(
        data.contains("Subject: Support request: Cannot sign in"),
        "{data}"
    );
    assert!(data.contains("filename=\"system-info.txt\""), "{data}");
    assert!(data.contains("profile: Support relay (smtp, "), "{data}");
    assert!(
        !data.contains(CANARIES[0]),
        "a secret in the support mail: {data}"
    );

    // Tenants may not have their own address now, and no file is attached.
    let current = app.get(SETTINGS).await.etag();
    app.put(SETTINGS, &current, &settings(false, false)).await;
    let accepted = app.post("/api/v1/support-requests", &request).await;
    assert_eq!(accepted.json["to"], "help@example.com", "{}", accepted.text);
    settled(app, accepted.json["id"].as_str().unwrap()).await;
    let data = peer.messages()[1]["data"].as_str().unwrap().to_owned();
    assert!(!data.contains("system-info.txt"), "{data}");
    let bad = app
        .post(
            "/api/v1/support-requests",
            &json!({"from": "nobody", "subject": "x", "message": " "}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert!(!bad.field_codes("from").is_empty() && !bad.field_codes("message").is_empty());
}

on_both_backends!(
    support_requests_go_to_the_right_address_with_system_information,
    a_routing_rule_by_sender_picks_the_profile_and_the_acting_user_is_reply_to,
    a_primary_that_drops_mid_data_fails_over_and_the_message_arrives_once,
    a_drop_after_the_final_dot_is_not_sent_again,
    two_workers_deliver_every_message_exactly_once,
    the_worker_reuses_connections_until_the_profile_changes,
    a_message_is_queued_then_delivered_through_the_global_profile,
    the_same_alert_within_the_window_is_suppressed_and_logged,
    an_idempotency_key_returns_the_first_message,
    sending_switched_off_is_a_409_and_nothing_is_stored,
    a_tenant_with_its_own_profile_sends_through_it,
    bad_input_is_a_422_naming_each_field,
    graph_refusals_that_need_a_change_fail_at_once_in_the_worker,
);
