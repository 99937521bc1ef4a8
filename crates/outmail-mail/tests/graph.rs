//! Microsoft Graph `sendMail` against the strict Graph fake (which refuses anything not in the
//! documented request shape), with tokens from the token peer: the request Graph receives,
//! each documented refusal and its remedy, the dry run, and both proxies for the token and
//! the Graph calls.

use outmail_testkit::{
    ProxyPeer, ScriptPeer, app_oauth_json, profile, reason, run, stages, token_service, transcript,
    with_proxy,
};

const SENDER: &str = "alerts@example.com";
const TOKEN: &str = "graph-access-token-1";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

fn graph_draft(graph: &ScriptPeer, tokens: &ScriptPeer) -> String {
    format!(
        r#"{{
          "name": "Graph",
          "transport": {{
            "kind": "graph",
            "endpoint": {{"kind": "custom", "url": "{}"}},
            "oauth": {},
            "save_to_sent_items": false
          }},
          "sender": {{"address": "\"Alerts\" <{SENDER}>", "reply_to": "help@example.com"}},
          "signature": "The operations team",
          "utf8_headers": false
        }}"#,
        graph.url(""),
        app_oauth_json(tokens, GRAPH_SCOPE)
    )
}

fn graph_peer(extra: &[&str]) -> ScriptPeer {
    let mut args = vec!["--token", TOKEN, "--mailbox", SENDER];
    args.extend_from_slice(extra);
    ScriptPeer::graph(&args)
}

#[tokio::test]
async fn a_message_is_posted_in_the_documented_shape() {
    let tokens = token_service(SENDER, TOKEN, &[]);
    let graph = graph_peer(&[]);
    let (spec, secrets) = profile(&graph_draft(&graph, &tokens));
    let report = run(spec, secrets, "\"Ops\" <ops@example.net>", false).await;
    assert_eq!(reason(&report), "none", "{report:#?}");
    assert_eq!(
        stages(&report),
        [
            "prepare:ok",
            "token:ok",
            "resolve:ok",
            "connect:ok",
            "send:ok"
        ]
    );
    let records = graph.records();
    assert_eq!(records.len(), 1);
    let request = &records[0];
    assert_eq!(request["status"], 202);
    assert_eq!(request["path"], format!("/v1.0/users/{SENDER}/sendMail"));
    let body = &request["body"];
    assert_eq!(body["saveToSentItems"], false);
    let message = &body["message"];
    assert_eq!(message["from"]["emailAddress"]["address"], SENDER);
    assert_eq!(message["from"]["emailAddress"]["name"], "Alerts");
    assert_eq!(
        message["toRecipients"][0]["emailAddress"],
        serde_json::json!({"address": "ops@example.net", "name": "Ops"})
    );
    assert_eq!(
        message["replyTo"][0]["emailAddress"]["address"],
        "help@example.com"
    );
    assert_eq!(message["body"]["contentType"], "text");
    assert!(
        message["body"]["content"]
            .as_str()
            .unwrap()
            .ends_with("-- \r\nThe operations team")
    );
    assert_eq!(
        message["internetMessageHeaders"],
        serde_json::json!([{"name": "X-Outmail-Test", "value": "1"}])
    );
    let token_request = &tokens.records()[0]["body"];
    assert_eq!(token_request["scope"], GRAPH_SCOPE);
    assert!(!transcript(&report).contains(TOKEN));
}

#[tokio::test]
async fn graph_refusals_name_the_cause_and_the_fix() {
    let tokens = token_service(SENDER, TOKEN, &[]);
    let cases: [(&[&str], &str, Option<&str>, &str); 5] = [
        (
            &["--deny", SENDER],
            "access_denied",
            Some("transport.oauth.client_id"),
            "Mail.Send",
        ),
        (
            &["--mailbox", "someone@example.com", "--token", "other"],
            "unauthorized",
            Some("transport.oauth.scopes"),
            "scopes",
        ),
        (
            &["--throttle", "1"],
            "throttled",
            None,
            "try again in 3 seconds",
        ),
        (
            &["--fail-status", "503"],
            "server_error",
            None,
            "Try again later",
        ),
        (
            &["--fail-status", "500"],
            "server_error",
            None,
            "Try again later",
        ),
    ];
    for (args, expected, field, remedy) in cases {
        let graph = graph_peer(args);
        let (spec, secrets) = profile(&graph_draft(&graph, &tokens));
        let report = run(spec, secrets, "ops@example.net", false).await;
        let failure = report.failure.as_ref().expect("a failure");
        assert_eq!(failure.reason, expected, "{args:?}: {failure:#?}");
        assert_eq!(failure.field.as_deref(), field, "{failure:#?}");
        assert!(failure.remedy.contains(remedy), "{failure:#?}");
    }
}

#[tokio::test]
async fn an_unknown_sending_mailbox_points_at_the_sender() {
    let tokens = token_service(SENDER, TOKEN, &[]);
    let graph = ScriptPeer::graph(&["--token", TOKEN, "--mailbox", "other@example.com"]);
    let (spec, secrets) = profile(&graph_draft(&graph, &tokens));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("a failure");
    assert_eq!(failure.reason, "mailbox_not_found");
    assert_eq!(failure.code, Some(404));
    assert_eq!(failure.field.as_deref(), Some("sender.address"));
    assert!(failure.message.contains("ErrorInvalidUser"), "{failure:#?}");
}

#[tokio::test]
async fn a_dry_run_gets_a_token_and_reaches_graph_but_posts_nothing() {
    let tokens = token_service(SENDER, TOKEN, &[]);
    let graph = graph_peer(&[]);
    let (spec, secrets) = profile(&graph_draft(&graph, &tokens));
    let report = run(spec, secrets, "ops@example.net", true).await;
    assert_eq!(reason(&report), "none", "{report:#?}");
    assert_eq!(stages(&report).last().unwrap(), "send:skipped");
    assert!(graph.records().is_empty());
    assert_eq!(tokens.records().len(), 1);
}

/// The token request and the Graph call both go through the profile's proxy.
#[tokio::test]
async fn token_and_graph_calls_go_through_either_proxy() {
    let tokens = token_service(SENDER, TOKEN, &[]);
    let graph = graph_peer(&[]);
    for (kind, proxy) in [
        (
            "http",
            ProxyPeer::tinyproxy(Some(("proxyuser", "proxy-pass-1"))),
        ),
        (
            "socks5",
            ProxyPeer::microsocks(Some(("proxyuser", "proxy-pass-1"))),
        ),
    ] {
        let draft = with_proxy(
            &graph_draft(&graph, &tokens),
            kind,
            proxy.port,
            Some(("proxyuser", "proxy-pass-1")),
        );
        let (spec, secrets) = profile(&draft);
        let report = run(spec, secrets, "ops@example.net", false).await;
        assert_eq!(reason(&report), "none", "{kind}: {report:#?}");
        let text = transcript(&report);
        assert_eq!(
            text.matches(&format!("connected to {kind} proxy")).count(),
            2,
            "the token call and the Graph call both use the proxy:\n{text}"
        );
        assert!(!text.contains("proxy-pass-1"));
    }
    assert_eq!(graph.records().len(), 2);
}

/// An attachment goes as a documented `fileAttachment`, its content in base64.
#[tokio::test]
async fn attachments_are_file_attachments() {
    let tokens = token_service(SENDER, TOKEN, &[]);
    let graph = graph_peer(&[]);
    let (spec, secrets) = profile(&graph_draft(&graph, &tokens));
    let letter = outmail_testkit::letter_with_attachment(SENDER);
    let transport = outmail_mail::Transport::new(spec, secrets, outmail_testkit::quick_timeouts());
    let mut trace = outmail_mail::Trace::new();
    transport.send(&mut trace, &letter, false).await.unwrap();
    let attachment = &graph.records()[0]["body"]["message"]["attachments"][0];
    assert_eq!(attachment["@odata.type"], "#microsoft.graph.fileAttachment");
    assert_eq!(attachment["name"], "system-info.txt");
    assert_eq!(attachment["contentBytes"], "b3V0bWFpbCAwLjEuMA==");
}
