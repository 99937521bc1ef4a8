//! The test send through the API: saved profiles with their stored secrets, drafts under the
//! destination rule, the JSON report and the live event stream, against the aiosmtpd peer.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::mail_peers::SmtpPeer;
use crate::on_both_backends;
use crate::support::{Answer, CANARIES, TestApp};

fn peer_draft(name: &str, port: u16) -> Value {
    json!({
        "name": name,
        "transport": {
            "kind": "smtp", "host": "127.0.0.1", "port": port, "security": "none",
            "auth": {"kind": "basic", "username": "alice", "password": {"value": CANARIES[0]}, "mechanism": "plain"}
        },
        "sender": {"address": "\"Alerts\" <alerts@example.com>"},
        "utf8_headers": false
    })
}

fn peer() -> SmtpPeer {
    SmtpPeer::start(&[
        "--auth",
        "PLAIN",
        "--user",
        "alice",
        "--password",
        CANARIES[0],
        "--require-auth",
    ])
}

/// Saves a profile for the peer on `port`, then test-sends through it with `body`.
async fn test_saved(app: &TestApp, name: &str, port: u16, body: &Value) -> Answer {
    let created = app.create_profile(&peer_draft(name, port)).await;
    let id = created.json["id"].as_str().expect("id");
    app.post(&format!("/api/v1/profiles/{id}/test"), body).await
}

async fn a_saved_profile_is_tested_with_its_stored_password(app: &TestApp) {
    let peer = peer();
    let answer = test_saved(app, "Peer", peer.port, &json!({"to": "ops@example.net"})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["outcome"], "delivered", "{}", answer.text);
    let messages = peer.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["auth_login"], "alice");
    assert_eq!(messages[0]["rcpt_tos"], json!(["ops@example.net"]));
}

async fn a_dry_run_through_the_api_delivers_nothing(app: &TestApp) {
    let peer = peer();
    let answer = test_saved(
        app,
        "Dry",
        peer.port,
        &json!({"to": "ops@example.net", "dry_run": true}),
    )
    .await;
    assert_eq!(answer.json["outcome"], "dry_run_passed", "{}", answer.text);
    assert!(peer.messages().is_empty());
}

async fn a_failed_test_is_a_report_with_the_field_and_remedy_not_an_error_status(app: &TestApp) {
    let port = crate::mail_peers::fault::closed_port();
    let answer = test_saved(app, "Closed", port, &json!({"to": "ops@example.net"})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["outcome"], "failed");
    let failure = &answer.json["failure"];
    assert_eq!(failure["kind"], "connect");
    assert_eq!(failure["stage"], "connect");
    assert_eq!(failure["reason"], "connection_refused");
    assert_eq!(failure["field"], "transport.port");
    assert!(
        failure["remedy"]
            .as_str()
            .is_some_and(|r| r.contains("plain SMTP is 25")),
        "{failure}"
    );
}

async fn a_bad_recipient_is_a_422_naming_to(app: &TestApp) {
    let created = app.create_profile(&peer_draft("Bad to", 2525)).await;
    let id = created.json["id"].as_str().expect("id").to_owned();
    for to in [
        "not an address",
        "a@b.example\r\nBcc: x@example.com",
        "山田@例え.jp",
    ] {
        let answer = app
            .post(&format!("/api/v1/profiles/{id}/test"), &json!({"to": to}))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{to}: {}",
            answer.text
        );
        assert!(!answer.field_codes("to").is_empty(), "{}", answer.text);
    }
    let missing = app
        .post(
            "/api/v1/profiles/nope/test",
            &json!({"to": "a@example.com"}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn a_draft_reuses_a_stored_secret_only_for_the_same_destination(app: &TestApp) {
    let peer = peer();
    let created = app.create_profile(&peer_draft("Edited", peer.port)).await;
    let id = created.json["id"].as_str().expect("id").to_owned();
    let mut draft = peer_draft("Edited", peer.port);
    draft["transport"]["auth"]["password"] = json!({"set": true});
    let same = app
        .post(
            "/api/v1/profiles/test",
            &json!({"profile": draft, "profile_id": id, "to": "ops@example.net"}),
        )
        .await;
    assert_eq!(same.json["outcome"], "delivered", "{}", same.text);
    assert_eq!(peer.messages().len(), 1);

    // Another port is another destination: the stored password is not sent there.
    draft["transport"]["port"] = json!(peer.port + 1);
    let moved = app
        .post(
            "/api/v1/profiles/test",
            &json!({"profile": draft, "profile_id": id, "to": "ops@example.net"}),
        )
        .await;
    assert_eq!(
        moved.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        moved.text
    );
    assert_eq!(
        moved.field_codes("profile.transport.auth.password"),
        ["destination_changed"]
    );

    // Unsaved settings with the password typed in work without any saved profile.
    let fresh = app
        .post("/api/v1/profiles/test", &json!({"profile": peer_draft("New", peer.port), "to": "ops@example.net", "dry_run": true}))
        .await;
    assert_eq!(fresh.json["outcome"], "dry_run_passed", "{}", fresh.text);
}

async fn an_invalid_draft_names_its_fields_under_profile(app: &TestApp) {
    let mut draft = peer_draft("Bad", 25);
    draft["transport"]["host"] = json!("smtp.example.com\r\n");
    let answer = app
        .post(
            "/api/v1/profiles/test",
            &json!({"profile": draft, "to": "ops@example.net"}),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    assert!(
        !answer.field_codes("profile.transport.host").is_empty(),
        "{}",
        answer.text
    );
}

async fn with_an_event_stream_accept_header_stages_arrive_as_events_then_the_report(app: &TestApp) {
    let peer = peer();
    let created = app.create_profile(&peer_draft("Live", peer.port)).await;
    let id = created.json["id"].as_str().expect("id").to_owned();
    let answer = app
        .call(
            Method::POST,
            &format!("/api/v1/profiles/{id}/test"),
            Some(&json!({"to": "ops@example.net"})),
            &[("accept", "text/event-stream")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "text/event-stream");
    let events: Vec<(&str, Value)> = answer
        .text
        .split("\n\n")
        .filter_map(|block| {
            let event = block.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((
                event,
                serde_json::from_str(data).expect("event data is JSON"),
            ))
        })
        .collect();
    let stages: Vec<&str> = events
        .iter()
        .filter(|(e, _)| *e == "stage")
        .map(|(_, d)| d["stage"].as_str().expect("stage"))
        .collect();
    assert_eq!(
        stages,
        [
            "prepare", "resolve", "connect", "greeting", "ehlo", "auth", "mail", "rcpt", "data"
        ]
    );
    let (last, report) = events.last().expect("events");
    assert_eq!(*last, "report");
    assert_eq!(report["outcome"], "delivered");
}

on_both_backends!(
    a_saved_profile_is_tested_with_its_stored_password,
    a_dry_run_through_the_api_delivers_nothing,
    a_failed_test_is_a_report_with_the_field_and_remedy_not_an_error_status,
    a_bad_recipient_is_a_422_naming_to,
    a_draft_reuses_a_stored_secret_only_for_the_same_destination,
    an_invalid_draft_names_its_fields_under_profile,
    with_an_event_stream_accept_header_stages_arrive_as_events_then_the_report,
);
