//! Exchange Web Services against the strict EWS fake (schema order, namespaces, NTLMv2
//! verified by its own MS-NLMP implementation): basic, NTLM and app-only OAuth with
//! impersonation, and each documented refusal with its remedy.

use outmail_testkit::{
    ScriptPeer, app_oauth_json, profile, reason, run, stages, token_service, transcript,
};

const SENDER: &str = "noreply@corp.example.com";
const PASSWORD: &str = "Winter2025!ews";

fn ews_draft(ews: &ScriptPeer, auth: &str) -> String {
    format!(
        r#"{{
          "name": "EWS",
          "transport": {{
            "kind": "ews", "url": "{}", "auth": {auth}, "server_version": "Exchange2013_SP1"
          }},
          "sender": {{"address": "\"Relay\" <{SENDER}>", "reply_to": "help@corp.example.com"}},
          "signature": "Corp IT",
          "utf8_headers": false
        }}"#,
        ews.url("/EWS/Exchange.asmx")
    )
}

fn basic(password: &str) -> String {
    format!(
        r#"{{"kind": "basic", "username": "svc-mailer", "password": {{"value": "{password}"}}}}"#
    )
}

fn ntlm(password: &str) -> String {
    format!(
        r#"{{"kind": "ntlm", "username": "svc-mailer", "domain": "CORP", "password": {{"value": "{password}"}}}}"#
    )
}

fn ews_peer(auth: &str, extra: &[&str]) -> ScriptPeer {
    let mut args = vec![
        "--auth",
        auth,
        "--user",
        "svc-mailer",
        "--password",
        PASSWORD,
        "--domain",
        "CORP",
        "--mailbox",
        SENDER,
    ];
    args.extend_from_slice(extra);
    ScriptPeer::ews(&args)
}

#[tokio::test]
async fn basic_auth_sends_a_create_item_in_schema_order() {
    let ews = ews_peer("basic", &[]);
    let (spec, secrets) = profile(&ews_draft(&ews, &basic(PASSWORD)));
    let report = run(spec, secrets, "\"Ops\" <ops@example.net>", false).await;
    assert_eq!(reason(&report), "none", "{report:#?}");
    assert_eq!(
        stages(&report),
        ["prepare:ok", "resolve:ok", "connect:ok", "send:ok"]
    );
    let records = ews.records();
    assert_eq!(records.len(), 1);
    let soap = &records[0]["soap"];
    assert_eq!(records[0]["response_code"], "NoError");
    assert_eq!(soap["version"], "Exchange2013_SP1");
    assert_eq!(soap["disposition"], "SendAndSaveCopy");
    assert_eq!(soap["saved_folder"]["id"], "sentitems");
    assert_eq!(soap["from"]["address"], SENDER);
    assert_eq!(soap["from"]["name"], "Relay");
    assert_eq!(soap["to"][0]["address"], "ops@example.net");
    assert_eq!(soap["reply_to"][0]["address"], "help@corp.example.com");
    assert_eq!(soap["body_type"], "Text");
    assert!(soap["body"].as_str().unwrap().contains("Corp IT"));
    assert_eq!(
        soap["internet_headers"],
        serde_json::json!([["X-Outmail-Test", "1"]])
    );
    assert!(!transcript(&report).contains(PASSWORD));
}

#[tokio::test]
async fn ntlm_authenticates_on_one_connection_then_sends() {
    let ews = ews_peer("ntlm", &[]);
    let (spec, secrets) = profile(&ews_draft(&ews, &ntlm(PASSWORD)));
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(reason(&report), "none", "{report:#?}");
    assert_eq!(
        stages(&report),
        [
            "prepare:ok",
            "resolve:ok",
            "connect:ok",
            "auth:ok",
            "send:ok"
        ]
    );
    let records = ews.records();
    assert_eq!(
        records.len(),
        2,
        "NEGOTIATE, then AUTHENTICATE with the message"
    );
    assert_eq!(records[1]["auth"]["scheme"], "ntlm");
    assert_eq!(records[1]["auth"]["domain"], "CORP");
    assert_eq!(records[1]["response_code"], "NoError");
    assert!(!transcript(&report).contains(PASSWORD));
}

#[tokio::test]
async fn wrong_passwords_are_auth_failures_on_the_password_field() {
    for (mode, auth) in [("basic", basic("wrong")), ("ntlm", ntlm("wrong"))] {
        let ews = ews_peer(mode, &[]);
        let (spec, secrets) = profile(&ews_draft(&ews, &auth));
        let report = run(spec, secrets, "ops@example.net", false).await;
        let failure = report.failure.as_ref().expect("a failure");
        assert_eq!(failure.reason, "auth_failed", "{mode}: {failure:#?}");
        assert_eq!(failure.code, Some(401));
        assert_eq!(failure.field.as_deref(), Some("transport.auth.password"));
    }
}

/// An app-only token must impersonate the mailbox, with `X-AnchorMailbox` naming it.
#[tokio::test]
async fn app_only_oauth_impersonates_the_mailbox() {
    const TOKEN: &str = "ews-app-token";
    let tokens = token_service(SENDER, TOKEN, &[]);
    let ews = ScriptPeer::ews(&[
        "--auth",
        "bearer",
        "--token",
        TOKEN,
        "--mailbox",
        SENDER,
        "--impersonation",
        "required",
    ]);
    let auth = format!(
        r#"{{"kind": "oauth2", "username": "{SENDER}", "oauth": {}}}"#,
        app_oauth_json(&tokens, "https://outlook.office365.com/.default")
    );
    let (spec, secrets) = profile(&ews_draft(&ews, &auth));
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(reason(&report), "none", "{report:#?}");
    assert_eq!(stages(&report)[1], "token:ok");
    let record = &ews.records()[0];
    assert_eq!(record["soap"]["impersonated"], SENDER);
    assert_eq!(record["soap"]["anchor_mailbox"], SENDER);
    assert_eq!(record["headers"]["x-anchormailbox"], SENDER);
    assert!(!transcript(&report).contains(TOKEN));
}

#[tokio::test]
async fn ews_response_codes_name_the_cause_and_the_fix() {
    let cases: [(&[&str], &str, Option<&str>); 4] = [
        (
            &["--response-code", "ErrorAccessDenied"],
            "access_denied",
            None,
        ),
        (
            &["--response-code", "ErrorNonExistentMailbox"],
            "mailbox_not_found",
            Some("sender.address"),
        ),
        (
            &["--response-code", "ErrorSendAsDenied"],
            "sender_rejected",
            Some("sender.address"),
        ),
        (
            &["--fault", "ErrorServerBusy", "--backoff-ms", "2000"],
            "throttled",
            None,
        ),
    ];
    for (args, expected, field) in cases {
        let ews = ews_peer("basic", args);
        let (spec, secrets) = profile(&ews_draft(&ews, &basic(PASSWORD)));
        let report = run(spec, secrets, "ops@example.net", false).await;
        let failure = report.failure.as_ref().expect("a failure");
        assert_eq!(failure.reason, expected, "{args:?}: {failure:#?}");
        assert_eq!(failure.field.as_deref(), field, "{failure:#?}");
        assert!(!failure.remedy.is_empty());
        if expected == "throttled" {
            assert!(
                failure.remedy.contains("try again in 2 seconds"),
                "{failure:#?}"
            );
        } else {
            assert!(failure.message.starts_with("Error"), "{failure:#?}");
        }
    }
}

#[tokio::test]
async fn a_dry_run_creates_nothing() {
    let ews = ews_peer("basic", &[]);
    let (spec, secrets) = profile(&ews_draft(&ews, &basic(PASSWORD)));
    let report = run(spec, secrets, "ops@example.net", true).await;
    assert_eq!(reason(&report), "none", "{report:#?}");
    assert_eq!(stages(&report).last().unwrap(), "send:skipped");
    assert!(ews.records().is_empty());
}

/// The fakes' own NTLMv2 verifier matches the MS-NLMP 4.2.4 vectors, so a wrong response from
/// us cannot pass because the fake is wrong the same way.
#[test]
fn the_fakes_ntlm_verifier_passes_the_ms_nlmp_vectors() {
    let script = outmail_testkit::peer_script("ntlm_server.py");
    let output = std::process::Command::new("/usr/bin/python3")
        .arg(&script)
        .arg("--self-test")
        .output()
        .expect("run the NTLM self-test");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An attachment goes as a `t:FileAttachment` right after the body, as the schema orders it.
#[tokio::test]
async fn attachments_are_file_attachments_after_the_body() {
    let ews = ews_peer("basic", &[]);
    let (spec, secrets) = profile(&ews_draft(&ews, &basic(PASSWORD)));
    let letter = outmail_testkit::letter_with_attachment(SENDER);
    let transport = outmail_mail::Transport::new(spec, secrets, outmail_testkit::quick_timeouts());
    let mut trace = outmail_mail::Trace::new();
    transport.send(&mut trace, &letter, false).await.unwrap();
    let record = &ews.records()[0];
    assert_eq!(record["response_code"], "NoError", "{record}");
    let attachment = &record["soap"]["attachments"][0];
    assert_eq!(attachment["name"], "system-info.txt", "{record}");
    assert_eq!(attachment["size"], 13, "{record}");
}
