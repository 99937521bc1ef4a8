//! Whole-draft tests: examples, error collection, secrets, views.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::cert::fixtures::*;
use crate::error::FieldErrors;
use crate::secret::{Omitted, SecretInput, SecretSlot, SecretStatus, SecretString};

fn value(example: &str) -> Value {
    serde_json::from_str(example).unwrap()
}

/// The example with JSON-pointer edits applied (`/transport/port` = 0); `Value::Null` on a
/// `-` prefixed pointer removes the key.
fn edited(example: &str, edits: &[(&str, Value)]) -> ProfileDraft {
    let mut v = value(example);
    for (pointer, new) in edits {
        let (remove, pointer) = match pointer.strip_prefix('-') {
            Some(p) => (true, p),
            None => (false, *pointer),
        };
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let obj = v
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("no object at {parent}"));
        if remove {
            obj.remove(key);
        } else {
            obj.insert(key.to_owned(), new.clone());
        }
    }
    serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(example: &str, edits: &[(&str, Value)]) -> FieldErrors {
    edited(example, edits).validate().unwrap_err()
}

fn spec(example: &str) -> ProfileSpec {
    let draft: ProfileDraft = serde_json::from_str(example).unwrap();
    draft.validate().unwrap_or_else(|e| panic!("{e}"))
}

fn assert_error(errors: &FieldErrors, path: &str, code: &str) {
    assert!(
        errors.has(path, code),
        "expected {code} at {path}, got {}",
        serde_json::to_string_pretty(errors).unwrap()
    );
}

fn pem_json(pem: &str) -> Value {
    Value::String(pem.to_owned())
}

// --- examples -------------------------------------------------------------------------------

#[test]
fn every_example_deserialises_validates_and_serialises_to_the_same_json() {
    for (name, example) in examples::ALL {
        let draft: ProfileDraft =
            serde_json::from_str(example).unwrap_or_else(|e| panic!("{name}: {e}"));
        draft.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            serde_json::to_value(&draft).unwrap(),
            value(example),
            "{name}"
        );
    }
}

#[test]
fn every_example_round_trips_through_to_draft() {
    for (name, example) in examples::ALL {
        let spec = spec(example);
        assert_eq!(spec.to_draft().validate().unwrap(), spec, "{name}");
    }
}

#[test]
fn a_stored_spec_has_no_secret_fields_and_reads_back_equal() {
    for (name, example) in examples::ALL {
        let spec = spec(example);
        let stored = serde_json::to_string(&spec).unwrap();
        for secret_word in [
            "password",
            "client_secret",
            "private_key",
            "refresh_token",
            "\"value\"",
        ] {
            assert!(!stored.contains(secret_word), "{name}: {stored}");
        }
        let back: ProfileSpec = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, spec, "{name}");
    }
}

#[test]
fn a_stored_document_carrying_a_secret_is_refused() {
    let with_secret = serde_json::to_value(spec(examples::SMTP_BASIC).to_draft()).unwrap();
    assert!(serde_json::from_value::<ProfileSpec>(with_secret).is_err());
}

#[test]
fn a_stored_document_is_validated_when_read() {
    let mut stored = serde_json::to_value(spec(examples::SMTP_BASIC)).unwrap();
    stored["transport"]["port"] = json!(0);
    let err = serde_json::from_value::<ProfileSpec>(stored).unwrap_err();
    assert!(err.to_string().contains("transport.port"), "{err}");
}

#[test]
fn the_smtp_example_resolves_to_the_expected_spec() {
    let spec = spec(examples::SMTP_BASIC);
    let Transport::Smtp(smtp) = &spec.transport else {
        panic!("not smtp")
    };
    assert_eq!(smtp.host.to_string(), "smtp.example.com");
    assert_eq!(smtp.port.get(), 587);
    assert_eq!(smtp.security, crate::host::Security::Starttls);
    assert_eq!(smtp.auth.kind(), "basic");
    assert_eq!(
        spec.sender.from_mailbox().to_string(),
        "\"Example Alerts\" <alerts@example.com>"
    );
    assert_eq!(spec.send_frequency.seconds(), 300);
    assert_eq!(spec.target(), "smtp.example.com:587 (starttls)");
}

#[test]
fn presets_derive_token_url_and_default_scopes() {
    let spec = spec(examples::SMTP_OAUTH2);
    let oauth = spec.transport.oauth().unwrap();
    assert_eq!(
        oauth.token_url.as_str(),
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"
    );
    assert_eq!(
        oauth.scopes.to_string(),
        "https://outlook.office365.com/.default"
    );
    assert!(!oauth.scopes_entered);
    assert!(oauth.authorize_url.is_none());
    let Transport::Smtp(smtp) = &spec.transport else {
        panic!()
    };
    assert_eq!(smtp.port.get(), 587, "port follows security when missing");

    let graph = self::spec(examples::GRAPH_DELEGATED);
    let oauth = graph.transport.oauth().unwrap();
    assert_eq!(
        oauth.authorize_url.as_ref().unwrap().as_str(),
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/authorize"
    );
}

#[test]
fn national_cloud_graph_defaults_to_its_own_graph_scope() {
    let draft = edited(
        examples::GRAPH_DELEGATED,
        &[
            ("/transport/endpoint", json!({"kind": "us_gov"})),
            ("/transport/oauth/authority", json!("us_gov")),
            ("/transport/oauth/scopes", Value::Null),
            (
                "/transport/oauth/flow",
                json!({"kind": "client_credentials", "credential": {"kind": "secret"}}),
            ),
        ],
    );
    let spec = draft.validate().unwrap();
    let oauth = spec.transport.oauth().unwrap();
    assert_eq!(
        oauth.scopes.to_string(),
        "https://graph.microsoft.us/.default"
    );
    assert!(
        oauth
            .token_url
            .as_str()
            .starts_with("https://login.microsoftonline.us/")
    );
}

// --- error collection ---------------------------------------------------------------------

#[test]
fn a_draft_with_five_errors_reports_all_five_paths() {
    let errors = errors(
        examples::SMTP_BASIC,
        &[
            ("/name", json!("")),
            ("/transport/port", json!(0)),
            ("/transport/host", json!("smtp.example.com:25")),
            ("/sender/address", json!("not an address")),
            (
                "/proxy",
                json!({"kind": "http", "host": "proxy.example.com", "port": 70000}),
            ),
        ],
    );
    assert_eq!(
        errors.paths().collect::<Vec<_>>(),
        [
            "name",
            "proxy.port",
            "sender.address",
            "transport.host",
            "transport.port"
        ]
    );
    assert_error(&errors, "name", "required");
    assert_error(&errors, "transport.port", "out_of_range");
    assert_error(&errors, "transport.host", "port_in_host");
    assert_error(&errors, "sender.address", "whitespace");
    assert_error(&errors, "proxy.port", "out_of_range");
}

#[test]
fn errors_at_returns_only_the_errors_of_one_field_or_group() {
    let draft = edited(
        examples::SMTP_BASIC,
        &[("/name", json!("")), ("/transport/port", json!(0))],
    );
    let at = draft.errors_at("transport.port");
    assert_eq!(at.paths().collect::<Vec<_>>(), ["transport.port"]);
    assert_eq!(draft.errors_at("transport").len(), 1);
    assert!(draft.errors_at("sender").is_empty());
}

#[test]
fn an_unknown_field_is_refused_by_deserialisation() {
    let mut v = value(examples::SMTP_BASIC);
    v["transport"]["hostname"] = json!("typo");
    assert!(serde_json::from_value::<ProfileDraft>(v).is_err());
    let mut v = value(examples::SMTP_BASIC);
    v["colour"] = json!("blue");
    assert!(serde_json::from_value::<ProfileDraft>(v).is_err());
}

#[test]
fn missing_optional_fields_take_their_defaults() {
    let draft: ProfileDraft = serde_json::from_value(json!({
        "name": "Minimal",
        "transport": {"kind": "smtp", "host": "mx.example.com", "security": "tls", "auth": {"kind": "none"}},
        "sender": {"address": "a@example.com"}
    }))
    .unwrap();
    let spec = draft.validate().unwrap();
    let Transport::Smtp(smtp) = &spec.transport else {
        panic!()
    };
    assert_eq!(smtp.port.get(), 465);
    assert_eq!(spec.send_frequency.seconds(), 300);
    assert!(!spec.utf8_headers);
    let local: ProfileDraft = serde_json::from_value(json!({
        "name": "Local",
        "transport": {"kind": "local"},
        "sender": {"address": "a@example.com"}
    }))
    .unwrap();
    let spec = local.validate().unwrap();
    assert_eq!(spec.target(), "/usr/sbin/sendmail");
}

#[test]
fn empty_optional_strings_mean_not_set() {
    let spec = edited(
        examples::SMTP_BASIC,
        &[
            ("/description", json!("")),
            ("/transport/ehlo_name", json!("  ")),
            ("/sender/reply_to", json!("")),
            ("/alternate_profile_id", json!("")),
        ],
    )
    .validate()
    .unwrap();
    assert!(spec.description.is_none());
    assert!(spec.sender.reply_to.is_none());
    assert!(spec.alternate_profile_id.is_none());
}

#[test]
fn starttls_on_465_and_tls_on_587_are_mix_ups() {
    let e = errors(
        examples::SMTP_BASIC,
        &[
            ("/transport/port", json!(465)),
            ("/transport/security", json!("starttls")),
        ],
    );
    assert_error(&e, "transport.security", "security_port_mismatch");
    let e = errors(
        examples::SMTP_BASIC,
        &[("/transport/security", json!("tls"))],
    );
    assert_error(&e, "transport.security", "security_port_mismatch");
    assert!(
        edited(
            examples::SMTP_BASIC,
            &[
                ("/transport/port", json!(2525)),
                ("/transport/security", json!("tls"))
            ]
        )
        .validate()
        .is_ok()
    );
}

#[test]
fn a_ca_certificate_is_checked_and_needs_tls() {
    let spec = edited(
        examples::SMTP_BASIC,
        &[("/transport/ca_certificate", pem_json(CLIENT_CERT))],
    )
    .validate()
    .unwrap();
    let Transport::Smtp(smtp) = &spec.transport else {
        panic!()
    };
    assert!(smtp.ca_certificate.is_some());
    let e = errors(
        examples::SMTP_BASIC,
        &[
            ("/transport/ca_certificate", pem_json(CLIENT_CERT)),
            ("/transport/security", json!("none")),
            ("/transport/port", json!(25)),
        ],
    );
    assert_error(&e, "transport.ca_certificate", "not_applicable");
    let e = errors(
        examples::SMTP_BASIC,
        &[("/transport/ca_certificate", json!("not a pem"))],
    );
    assert_error(&e, "transport.ca_certificate", "not_pem");
}

#[test]
fn ews_without_authentication_is_refused() {
    let e = errors(
        examples::EWS_NTLM,
        &[("/transport/auth", json!({"kind": "none"}))],
    );
    assert_error(&e, "transport.auth", "auth_required");
}

#[test]
fn an_ews_url_must_be_https() {
    let e = errors(
        examples::EWS_NTLM,
        &[(
            "/transport/url",
            json!("http://mail.corp.example.com/EWS/Exchange.asmx"),
        )],
    );
    assert_error(&e, "transport.url", "not_https");
}

#[test]
fn google_with_client_credentials_is_refused_with_a_clear_message() {
    let e = errors(
        examples::SMTP_OAUTH2,
        &[
            ("/transport/auth/oauth/preset", json!("google")),
            ("-/transport/auth/oauth/authority", Value::Null),
            ("/transport/auth/oauth/tenant_id", Value::Null),
            (
                "/transport/auth/oauth/client_id",
                json!("123.apps.googleusercontent.com"),
            ),
        ],
    );
    assert_error(&e, "transport.auth.oauth.flow", "unsupported_flow");
    let msg = &e.get("transport.auth.oauth.flow")[0].message;
    assert!(
        msg.contains("Google") && msg.contains("authorization code"),
        "{msg}"
    );
    assert_eq!(e.len(), 1, "{e}");
}

#[test]
fn google_with_authorization_code_on_smtp_works_and_needs_its_client_secret() {
    let google = |secret: Value| {
        edited(
            examples::SMTP_OAUTH2,
            &[
                ("/transport/host", json!("smtp.gmail.com")),
                ("/transport/auth/oauth/preset", json!("google")),
                ("/transport/auth/oauth/authority", Value::Null),
                ("/transport/auth/oauth/tenant_id", Value::Null),
                (
                    "/transport/auth/oauth/client_id",
                    json!("123.apps.googleusercontent.com"),
                ),
                (
                    "/transport/auth/oauth/flow",
                    json!({"kind": "authorization_code", "redirect_url": "https://outmail.example.com/cb"}),
                ),
                ("/transport/auth/oauth/client_secret", secret),
            ],
        )
    };
    let spec = google(json!({"value": "GOCSPX-secret"}))
        .validate()
        .unwrap();
    let oauth = spec.transport.oauth().unwrap();
    assert_eq!(oauth.scopes.to_string(), "https://mail.google.com/");
    assert_eq!(
        oauth.token_url.as_str(),
        "https://oauth2.googleapis.com/token"
    );
    let e = google(json!({"set": false})).validate().unwrap_err();
    assert_error(&e, "transport.auth.oauth.client_secret", "required");
}

#[test]
fn google_is_not_a_graph_or_ews_preset() {
    let e = errors(
        examples::GRAPH_FAKE,
        &[("/transport/oauth/preset", json!("google"))],
    );
    assert_error(&e, "transport.oauth.preset", "unsupported_preset");
}

#[test]
fn microsoft_tenant_and_client_ids_must_be_guids() {
    let e = errors(
        examples::SMTP_OAUTH2,
        &[
            (
                "/transport/auth/oauth/tenant_id",
                json!("contoso.onmicrosoft.com"),
            ),
            ("/transport/auth/oauth/client_id", json!("my-app")),
        ],
    );
    assert_error(&e, "transport.auth.oauth.tenant_id", "not_a_guid");
    assert_error(&e, "transport.auth.oauth.client_id", "not_a_guid");
    let e = errors(
        examples::SMTP_OAUTH2,
        &[("/transport/auth/oauth/tenant_id", Value::Null)],
    );
    assert_error(&e, "transport.auth.oauth.tenant_id", "required");
}

#[test]
fn microsoft_guids_are_stored_lowercase() {
    let spec = edited(
        examples::SMTP_OAUTH2,
        &[(
            "/transport/auth/oauth/client_id",
            json!("{0B8F3C9E-5D2A-4E7B-9A1C-3F6D8E2B1A4C}"),
        )],
    )
    .validate()
    .unwrap();
    assert_eq!(
        spec.transport.oauth().unwrap().client_id.as_str(),
        "0b8f3c9e-5d2a-4e7b-9a1c-3f6d8e2b1a4c"
    );
}

#[test]
fn a_preset_token_url_may_only_restate_the_derived_one() {
    let derived =
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token";
    assert!(
        edited(
            examples::SMTP_OAUTH2,
            &[("/transport/auth/oauth/token_url", json!(derived))]
        )
        .validate()
        .is_ok()
    );
    let e = errors(
        examples::SMTP_OAUTH2,
        &[(
            "/transport/auth/oauth/token_url",
            json!("https://evil.example.com/token"),
        )],
    );
    assert_error(&e, "transport.auth.oauth.token_url", "derived_from_preset");
}

#[test]
fn the_custom_preset_needs_token_url_and_scopes() {
    let e = errors(
        examples::GRAPH_FAKE,
        &[
            ("/transport/oauth/token_url", Value::Null),
            ("/transport/oauth/scopes", json!("")),
        ],
    );
    assert_error(&e, "transport.oauth.token_url", "required");
    assert_error(&e, "transport.oauth.scopes", "required");
    let e = errors(
        examples::GRAPH_FAKE,
        &[(
            "/transport/oauth/flow",
            json!({"kind": "authorization_code", "redirect_url": "http://127.0.0.1:9/cb"}),
        )],
    );
    assert_error(&e, "transport.oauth.authorize_url", "required");
}

#[test]
fn microsoft_only_fields_are_refused_for_other_presets() {
    let e = errors(
        examples::GRAPH_FAKE,
        &[
            ("/transport/oauth/authority", json!("public")),
            (
                "/transport/oauth/tenant_id",
                json!("72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ),
        ],
    );
    assert_error(&e, "transport.oauth.authority", "not_applicable");
    assert_error(&e, "transport.oauth.tenant_id", "not_applicable");
}

#[test]
fn a_graph_endpoint_must_match_the_authority_cloud() {
    let e = errors(
        examples::GRAPH_DELEGATED,
        &[("/transport/endpoint", json!({"kind": "china"}))],
    );
    assert_error(&e, "transport.oauth.authority", "cloud_mismatch");
}

#[test]
fn a_custom_graph_endpoint_allows_http_on_loopback_only() {
    let e = errors(
        examples::GRAPH_FAKE,
        &[(
            "/transport/endpoint",
            json!({"kind": "custom", "url": "http://graph.example.com"}),
        )],
    );
    assert_error(&e, "transport.endpoint.url", "not_https");
}

#[test]
fn an_international_sender_needs_utf8_headers() {
    let e = errors(examples::LOCAL, &[("/utf8_headers", json!(false))]);
    assert_error(&e, "sender.address", "needs_utf8_headers");
    let msg = &e.get("sender.address")[0].message;
    assert!(msg.contains("UTF-8 headers"), "{msg}");
    let spec = spec(examples::LOCAL);
    assert_eq!(
        spec.sender.address.address().ascii_domain(),
        "xn--w0tp6r.xn--6oq404h"
    );
}

#[test]
fn a_display_name_may_not_contradict_the_name_in_the_address() {
    let e = errors(
        examples::SMTP_BASIC,
        &[("/sender/display_name", json!("Someone Else"))],
    );
    assert_error(&e, "sender.display_name", "conflicting_display_name");
    let same = edited(
        examples::SMTP_BASIC,
        &[("/sender/display_name", json!("Example Alerts"))],
    );
    assert!(same.validate().is_ok());
}

#[test]
fn header_fields_refuse_line_breaks() {
    let e = errors(
        examples::SMTP_BASIC,
        &[
            ("/name", json!("Relay\nX")),
            (
                "/sender/display_name",
                json!("Alerts\r\nBcc: victim@example.com"),
            ),
            ("/sender/reply_to", json!("help@example.com\r\nBcc: x@y.z")),
            ("/transport/ehlo_name", json!("app.example.com\n")),
        ],
    );
    for path in [
        "name",
        "sender.display_name",
        "sender.reply_to",
        "transport.ehlo_name",
    ] {
        assert_error(&e, path, "control_character");
    }
}

#[test]
fn a_proxy_is_checked_and_refused_for_the_local_mta() {
    let e = errors(
        examples::SMTP_BASIC,
        &[(
            "/proxy",
            json!({"kind": "socks5", "host": "", "password": {"value": "pw"}}),
        )],
    );
    assert_error(&e, "proxy.host", "required");
    assert_error(&e, "proxy.port", "required");
    assert_error(&e, "proxy.password", "not_applicable");
    let e = errors(
        examples::LOCAL,
        &[(
            "/proxy",
            json!({"kind": "http", "host": "proxy.example.com", "port": 3128}),
        )],
    );
    assert_error(&e, "proxy", "not_applicable");
}

#[test]
fn a_send_frequency_above_a_day_is_refused() {
    let e = errors(examples::SMTP_BASIC, &[("/send_frequency", json!(86_401))]);
    assert_error(&e, "send_frequency", "out_of_range");
    let e = errors(examples::SMTP_BASIC, &[("/send_frequency", json!(-1))]);
    assert_error(&e, "send_frequency", "out_of_range");
}

// --- secrets in the draft -------------------------------------------------------------------

#[test]
fn an_empty_secret_value_says_how_to_clear() {
    let e = errors(
        examples::SMTP_BASIC,
        &[("/transport/auth/password", json!({"value": ""}))],
    );
    assert_error(&e, "transport.auth.password", "empty");
    assert!(
        e.get("transport.auth.password")[0]
            .message
            .contains("\"set\": false")
    );
}

#[test]
fn clearing_a_required_password_is_refused() {
    let e = errors(
        examples::EWS_NTLM,
        &[("/transport/auth/password", json!({"set": false}))],
    );
    assert_error(&e, "transport.auth.password", "required");
}

#[test]
fn a_refresh_token_cannot_be_typed() {
    let e = errors(
        examples::GRAPH_DELEGATED,
        &[("/transport/oauth/refresh_token", json!({"value": "0.AAAA"}))],
    );
    assert_error(&e, "transport.oauth.refresh_token", "not_enterable");
}

#[test]
fn secret_values_never_appear_in_debug_output_of_a_draft() {
    let draft: ProfileDraft = serde_json::from_str(examples::SMTP_BASIC).unwrap();
    let debug = format!("{draft:?}");
    assert!(!debug.contains("correct horse"), "{debug}");
    assert!(debug.contains("[redacted]"));
}

fn certificate_draft(cert: &str, key: Value) -> ProfileDraft {
    edited(
        examples::SMTP_OAUTH2,
        &[
            (
                "/transport/auth/oauth/flow",
                json!({"kind": "client_credentials", "credential": {"kind": "certificate", "certificate": cert}}),
            ),
            ("/transport/auth/oauth/private_key", key),
        ],
    )
}

#[test]
fn a_certificate_credential_with_its_key_validates() {
    for key in [CLIENT_KEY_PKCS8, CLIENT_KEY_PKCS1] {
        let spec = certificate_draft(CLIENT_CERT, json!({ "value": key }))
            .validate()
            .unwrap();
        let OAuthFlow::ClientCredentials(ClientCredential::Certificate(cert)) =
            &spec.transport.oauth().unwrap().flow
        else {
            panic!()
        };
        assert_eq!(cert.x5t(), "h8sqL3_OKzyXpnMxnYr1pTSYZwg");
        assert_eq!(
            spec.secret_requirements(),
            [
                SecretRequirement {
                    slot: SecretSlot::AuthPrivateKey,
                    required: true
                },
                SecretRequirement {
                    slot: SecretSlot::ProxyPassword,
                    required: true
                }
            ]
        );
    }
}

#[test]
fn expired_and_expiring_certificates_are_reported_against_the_given_now() {
    let spec = certificate_draft(EXPIRED_CERT, json!({ "value": CLIENT_KEY_PKCS8 }))
        .validate()
        .unwrap();
    let problems = spec.certificate_problems(1_735_689_600, 30 * 86_400);
    assert_error(
        &problems,
        "transport.auth.oauth.flow.credential.certificate",
        "expired",
    );
    let fresh = certificate_draft(CLIENT_CERT, json!({ "value": CLIENT_KEY_PKCS8 }))
        .validate()
        .unwrap();
    assert!(
        fresh
            .certificate_problems(1_735_689_600, 30 * 86_400)
            .is_empty()
    );
    let smtp = edited(
        examples::SMTP_BASIC,
        &[("/transport/ca_certificate", pem_json(EXPIRED_CERT))],
    )
    .validate()
    .unwrap();
    assert_error(
        &smtp.certificate_problems(1_735_689_600, 0),
        "transport.ca_certificate",
        "expired",
    );
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_reported_on_the_key() {
    let e = certificate_draft(CLIENT_CERT, json!({ "value": OTHER_KEY_PKCS8 }))
        .validate()
        .unwrap_err();
    assert_error(&e, "transport.auth.oauth.private_key", "key_mismatch");
    let e = certificate_draft(CLIENT_CERT, json!({ "value": CLIENT_KEY_ENCRYPTED }))
        .validate()
        .unwrap_err();
    assert_error(&e, "transport.auth.oauth.private_key", "encrypted");
}

#[test]
fn an_ec_certificate_cannot_sign_a_client_assertion() {
    let e = certificate_draft(EC_CERT, json!({"set": true}))
        .validate()
        .unwrap_err();
    assert_error(
        &e,
        "transport.auth.oauth.flow.credential.certificate",
        "certificate_not_rsa",
    );
}

#[test]
fn a_draft_lists_its_secret_inputs_by_slot() {
    let draft: ProfileDraft = serde_json::from_str(examples::SMTP_OAUTH2).unwrap();
    let inputs = draft.secret_inputs();
    assert_eq!(
        inputs.keys().copied().collect::<Vec<_>>(),
        [
            SecretSlot::AuthClientSecret,
            SecretSlot::AuthPrivateKey,
            SecretSlot::AuthRefreshToken,
            SecretSlot::ProxyPassword
        ]
    );
    assert_eq!(inputs[&SecretSlot::ProxyPassword], SecretInput::Keep);
    assert_eq!(
        inputs[&SecretSlot::AuthClientSecret],
        SecretInput::replace("Qx8~example-client-secret")
    );
}

#[test]
fn each_transport_needs_the_secrets_its_auth_uses() {
    let needs = |example| {
        spec(example)
            .secret_requirements()
            .into_iter()
            .map(|r| (r.slot, r.required))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        needs(examples::SMTP_BASIC),
        [(SecretSlot::AuthPassword, true)]
    );
    assert_eq!(
        needs(examples::SMTP_OAUTH2),
        [
            (SecretSlot::AuthClientSecret, true),
            (SecretSlot::ProxyPassword, true)
        ]
    );
    assert_eq!(needs(examples::LOCAL), []);
    assert_eq!(
        needs(examples::EWS_NTLM),
        [(SecretSlot::AuthPassword, true)]
    );
    assert_eq!(
        needs(examples::GRAPH_DELEGATED),
        [
            (SecretSlot::GraphClientSecret, false),
            (SecretSlot::GraphRefreshToken, false)
        ]
    );
}

// --- destinations and the secret plan ---------------------------------------------------------

fn stored(slots: &[SecretSlot]) -> BTreeSet<SecretSlot> {
    slots.iter().copied().collect()
}

fn keep_all(draft: &ProfileDraft) -> BTreeMap<SecretSlot, SecretInput> {
    draft
        .secret_inputs()
        .into_keys()
        .map(|s| (s, SecretInput::Keep))
        .collect()
}

#[test]
fn the_destination_covers_host_port_security_auth_and_user_only() {
    let base = spec(examples::SMTP_BASIC);
    let dest = base.destination(SecretSlot::AuthPassword);
    assert_eq!(
        dest,
        "v1;transport=smtp;host=smtp.example.com;port=587;security=starttls;ca=system;auth=basic;username=alerts@example.com"
    );
    let unchanged = edited(
        examples::SMTP_BASIC,
        &[
            ("/name", json!("Renamed")),
            ("/signature", json!("bye")),
            ("/transport/auth/mechanism", json!("login")),
        ],
    )
    .validate()
    .unwrap();
    assert_eq!(unchanged.destination(SecretSlot::AuthPassword), dest);
    for (pointer, new) in [
        ("/transport/host", json!("smtp.evil.example")),
        ("/transport/port", json!(2525)),
        ("/transport/security", json!("none")),
        ("/transport/auth/username", json!("other@example.com")),
    ] {
        let changed = edited(examples::SMTP_BASIC, &[(pointer, new)])
            .validate()
            .unwrap();
        assert_ne!(
            changed.destination(SecretSlot::AuthPassword),
            dest,
            "{pointer}"
        );
    }
    assert_eq!(base.destination(SecretSlot::ProxyPassword), "");
}

#[test]
fn destination_values_are_escaped_so_fields_cannot_run_together() {
    let a = edited(
        examples::SMTP_BASIC,
        &[("/transport/auth/username", json!("a;ca=x"))],
    )
    .validate()
    .unwrap();
    assert!(
        a.destination(SecretSlot::AuthPassword)
            .ends_with("username=a%3Bca%3Dx")
    );
}

#[test]
fn an_oauth_destination_names_token_url_tenant_and_client() {
    let dest = spec(examples::SMTP_OAUTH2).destination(SecretSlot::AuthClientSecret);
    assert!(dest.contains(";token_url=https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"), "{dest}");
    assert!(
        dest.contains(";tenant=72f988bf-86f1-41af-91ab-2d7cd011db47"),
        "{dest}"
    );
    assert!(
        dest.contains(";client_id=0b8f3c9e-5d2a-4e7b-9a1c-3f6d8e2b1a4c"),
        "{dest}"
    );
    let other_tenant = edited(
        examples::SMTP_OAUTH2,
        &[(
            "/transport/auth/oauth/tenant_id",
            json!("11111111-2222-3333-4444-555555555555"),
        )],
    )
    .validate()
    .unwrap();
    assert_ne!(other_tenant.destination(SecretSlot::AuthClientSecret), dest);
}

#[test]
fn a_proxy_password_depends_only_on_the_proxy() {
    let base = spec(examples::SMTP_OAUTH2);
    let moved = edited(
        examples::SMTP_OAUTH2,
        &[("/transport/host", json!("smtp-alt.office365.com"))],
    )
    .validate()
    .unwrap();
    assert_eq!(
        base.destination(SecretSlot::ProxyPassword),
        moved.destination(SecretSlot::ProxyPassword)
    );
    assert_eq!(
        base.destination(SecretSlot::ProxyPassword),
        "v1;proxy=socks5;host=proxy.contoso.com;port=1080;username=mailer"
    );
}

#[test]
fn creating_a_profile_seals_the_entered_secret() {
    let draft: ProfileDraft = serde_json::from_str(examples::SMTP_BASIC).unwrap();
    let new = draft.validate().unwrap();
    let plan = plan_secrets(None, &new, &draft.secret_inputs()).unwrap();
    assert_eq!(
        plan.get(SecretSlot::AuthPassword),
        Some(&SecretAction::Seal(SecretString::new(
            "correct horse battery staple"
        )))
    );
    assert_eq!(plan.actions.len(), 1);
}

#[test]
fn creating_a_profile_without_its_required_secret_is_refused() {
    let draft = edited(
        examples::SMTP_BASIC,
        &[("/transport/auth/password", json!({"set": true}))],
    );
    let new = draft.validate().unwrap();
    let e = secret_reuse_errors(None, &new, &draft.secret_inputs());
    assert_error(&e, "transport.auth.password", "required");
}

#[test]
fn an_unchanged_destination_keeps_the_stored_secret() {
    let old = spec(examples::SMTP_BASIC);
    let draft = edited(examples::SMTP_BASIC, &[("/name", json!("Renamed"))]);
    let new = draft.validate().unwrap();
    let secrets = stored(&[SecretSlot::AuthPassword]);
    let old_profile = StoredProfile {
        spec: &old,
        secrets: &secrets,
    };
    let plan = plan_secrets(Some(old_profile), &new, &keep_all(&draft)).unwrap();
    assert_eq!(
        plan.get(SecretSlot::AuthPassword),
        Some(&SecretAction::Keep)
    );
}

#[test]
fn a_changed_host_with_a_kept_password_is_refused_naming_the_secret() {
    let old = spec(examples::SMTP_BASIC);
    let draft = edited(
        examples::SMTP_BASIC,
        &[("/transport/host", json!("smtp.attacker.example"))],
    );
    let new = draft.validate().unwrap();
    let secrets = stored(&[SecretSlot::AuthPassword]);
    let old_profile = StoredProfile {
        spec: &old,
        secrets: &secrets,
    };
    let e = secret_reuse_errors(Some(old_profile), &new, &keep_all(&draft));
    assert_error(&e, "transport.auth.password", "destination_changed");
    assert!(
        e.get("transport.auth.password")[0]
            .message
            .contains("enter it again")
    );
    // Entering it again is fine.
    let plan = plan_secrets(Some(old_profile), &new, &draft.secret_inputs()).unwrap();
    assert!(matches!(
        plan.get(SecretSlot::AuthPassword),
        Some(SecretAction::Seal(_))
    ));
}

#[test]
fn a_refresh_token_for_a_changed_destination_is_dropped_not_refused() {
    let old = spec(examples::GRAPH_DELEGATED);
    let draft = edited(
        examples::GRAPH_DELEGATED,
        &[
            (
                "/transport/oauth/scopes",
                json!("https://graph.microsoft.com/Mail.Send.Shared offline_access"),
            ),
            ("/transport/oauth/client_secret", json!({"set": true})),
        ],
    );
    let new = draft.validate().unwrap();
    let secrets = stored(&[SecretSlot::GraphRefreshToken, SecretSlot::GraphClientSecret]);
    let old_profile = StoredProfile {
        spec: &old,
        secrets: &secrets,
    };
    let plan = plan_secrets(Some(old_profile), &new, &draft.secret_inputs()).unwrap();
    assert_eq!(
        plan.get(SecretSlot::GraphRefreshToken),
        Some(&SecretAction::Clear)
    );
    assert_eq!(
        plan.get(SecretSlot::GraphClientSecret),
        Some(&SecretAction::Keep)
    );
}

#[test]
fn secrets_the_new_profile_no_longer_uses_are_cleared() {
    let old = spec(examples::SMTP_BASIC);
    let draft = edited(
        examples::SMTP_BASIC,
        &[("/transport/auth", json!({"kind": "none"}))],
    );
    let new = draft.validate().unwrap();
    let secrets = stored(&[SecretSlot::AuthPassword]);
    let plan = plan_secrets(
        Some(StoredProfile {
            spec: &old,
            secrets: &secrets,
        }),
        &new,
        &draft.secret_inputs(),
    )
    .unwrap();
    assert_eq!(
        plan.get(SecretSlot::AuthPassword),
        Some(&SecretAction::Clear)
    );
}

#[test]
fn clearing_an_optional_secret_is_planned() {
    let old = spec(examples::GRAPH_DELEGATED);
    let draft = edited(
        examples::GRAPH_DELEGATED,
        &[
            ("/transport/oauth/refresh_token", json!({"set": false})),
            ("/transport/oauth/client_secret", json!({"set": true})),
        ],
    );
    let new = draft.validate().unwrap();
    let secrets = stored(&[SecretSlot::GraphRefreshToken, SecretSlot::GraphClientSecret]);
    let plan = plan_secrets(
        Some(StoredProfile {
            spec: &old,
            secrets: &secrets,
        }),
        &new,
        &draft.secret_inputs(),
    )
    .unwrap();
    assert_eq!(
        plan.get(SecretSlot::GraphRefreshToken),
        Some(&SecretAction::Clear)
    );
}

// --- views ------------------------------------------------------------------------------------

#[test]
fn a_view_shows_secret_status_and_round_trips_as_a_put_body() {
    let spec = spec(examples::SMTP_OAUTH2);
    let secrets = stored(&[SecretSlot::AuthClientSecret, SecretSlot::ProxyPassword]);
    let view = ProfileView::new(
        ProfileId::parse("p1").unwrap(),
        3,
        "2025-01-01T00:00:00Z",
        "2025-02-01T00:00:00Z",
        &spec,
        &secrets,
    );
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(
        json["transport"],
        Value::Null,
        "the spec sits under profile"
    );
    assert_eq!(
        json["profile"]["transport"]["auth"]["oauth"]["client_secret"],
        json!({"set": true})
    );
    assert_eq!(
        json["profile"]["transport"]["auth"]["oauth"]["private_key"],
        json!({"set": false})
    );
    assert_eq!(json["profile"]["proxy"]["password"], json!({"set": true}));
    assert_eq!(
        json["secrets"][0],
        json!({"slot": "transport.auth.oauth.client_secret", "required": true, "set": true})
    );
    assert!(!json.to_string().contains("Qx8~"));

    // The UI reads the view, and PUTs its `profile` back unchanged.
    let read: ProfileView = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(read, view);
    let put: ProfileDraft = serde_json::from_value(json["profile"].clone()).unwrap();
    let new = put.validate().unwrap();
    assert_eq!(new, spec);
    let plan = plan_secrets(
        Some(StoredProfile {
            spec: &spec,
            secrets: &secrets,
        }),
        &new,
        &put.secret_inputs(),
    )
    .unwrap();
    assert_eq!(
        plan.get(SecretSlot::AuthClientSecret),
        Some(&SecretAction::Keep)
    );
    assert_eq!(
        plan.get(SecretSlot::ProxyPassword),
        Some(&SecretAction::Keep)
    );
}

#[test]
fn a_summary_names_kind_and_target() {
    let s = ProfileSummary::new(
        ProfileId::parse("g1").unwrap(),
        1,
        &spec(examples::GRAPH_FAKE),
    );
    assert_eq!(s.transport, TransportKind::Graph);
    assert_eq!(s.target, "http://127.0.0.1:8025/graph");
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        json!({"id": "g1", "name": "Graph fake", "transport": "graph", "target": "http://127.0.0.1:8025/graph", "version": 1})
    );
    let ews = ProfileSummary::new(
        ProfileId::parse("e1").unwrap(),
        1,
        &spec(examples::EWS_NTLM),
    );
    assert_eq!(
        ews.target,
        "https://mail.corp.example.com/EWS/Exchange.asmx"
    );
}

#[test]
fn the_stored_and_view_shapes_share_the_draft_layout() {
    let spec = spec(examples::EWS_NTLM);
    let stored = serde_json::to_value(spec.to_draft_with(|_| Omitted)).unwrap();
    let view = serde_json::to_value(spec.to_draft_with(|_| SecretStatus { set: true })).unwrap();
    assert!(stored["transport"]["auth"].get("password").is_none());
    assert_eq!(view["transport"]["auth"]["password"], json!({"set": true}));
    assert_eq!(stored["transport"]["url"], view["transport"]["url"]);
}

// --- properties ---------------------------------------------------------------------------------

proptest! {
    #[test]
    fn any_valid_smtp_draft_round_trips_through_spec_and_storage(
        name in "[A-Za-z][A-Za-z0-9 ]{0,30}",
        host in "[a-z][a-z0-9]{0,10}\\.(com|org|example)",
        port in proptest::option::of(1024i64..65535),
        security in prop_oneof![Just("none"), Just("starttls"), Just("tls")],
        freq in 0i64..=86_400,
        utf8 in any::<bool>(),
    ) {
        let draft = edited(examples::SMTP_BASIC, &[
            ("/name", json!(name)),
            ("/transport/host", json!(host)),
            ("/transport/port", json!(port)),
            ("/transport/security", json!(security)),
            ("/send_frequency", json!(freq)),
            ("/utf8_headers", json!(utf8)),
        ]);
        let spec = draft.validate().unwrap();
        prop_assert_eq!(spec.to_draft().validate().unwrap(), spec.clone());
        let stored = serde_json::to_string(&spec).unwrap();
        prop_assert_eq!(serde_json::from_str::<ProfileSpec>(&stored).unwrap(), spec);
    }

    #[test]
    fn a_control_character_in_any_header_field_is_refused(
        c in prop::char::any().prop_filter("control", |c| c.is_control() || crate::text::is_line_break(*c)),
        field in prop_oneof![
            Just("/name"),
            Just("/sender/display_name"),
            Just("/sender/address"),
            Just("/sender/reply_to"),
            Just("/transport/host"),
            Just("/transport/ehlo_name"),
            Just("/transport/auth/username"),
        ],
    ) {
        let base = value(examples::SMTP_BASIC);
        let pointer = field;
        let current = base.pointer(pointer).and_then(Value::as_str).unwrap_or("x@example.com").to_owned();
        let injected = format!("{current}{c}Bcc: victim@example.com");
        let draft = edited(examples::SMTP_BASIC, &[(pointer, json!(injected))]);
        let errors = draft.validate().unwrap_err();
        let path = pointer.trim_start_matches('/').replace('/', ".");
        prop_assert!(!errors.get(&path).is_empty(), "{} accepted {:?}", path, c);
    }
}

// --- default scopes as a form prefills them ---------------------------------------------------

/// The scopes a form prefills (`ProfileDraft::default_scopes`) are exactly the ones validation
/// uses when none are entered, for every OAuth example and every Graph cloud.
#[test]
fn prefilled_scopes_are_the_scopes_validation_derives() {
    let mut drafts = Vec::new();
    for (name, example) in examples::ALL {
        let mut draft: ProfileDraft = serde_json::from_str(example).unwrap();
        let Some(oauth) = draft.oauth_mut() else {
            continue;
        };
        oauth.scopes = None;
        drafts.push((name.to_owned(), draft));
    }
    for endpoint in [
        GraphEndpointDraft::Global,
        GraphEndpointDraft::UsGov,
        GraphEndpointDraft::UsGovDod,
        GraphEndpointDraft::China,
    ] {
        let mut draft: ProfileDraft = serde_json::from_str(examples::GRAPH_DELEGATED).unwrap();
        let oauth = draft.oauth_mut().unwrap();
        oauth.scopes = None;
        oauth.authority = Some(endpoint.cloud().authority());
        if let TransportDraft::Graph(graph) = &mut draft.transport {
            graph.endpoint = endpoint.clone();
        }
        drafts.push((format!("graph {endpoint:?}"), draft));
    }
    assert!(drafts.len() >= 6, "{}", drafts.len());
    for (name, draft) in drafts {
        let Some(prefilled) = draft.default_scopes() else {
            // No defaults (a custom provider): then the scopes must be entered.
            let errors = draft.validate().unwrap_err();
            assert!(
                errors.paths().any(|p| p.ends_with("oauth.scopes")),
                "{name}"
            );
            continue;
        };
        let derived = draft
            .validate()
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .transport
            .oauth()
            .map(|o| o.scopes.to_string());
        assert_eq!(Some(prefilled), derived, "{name}");
    }
}
