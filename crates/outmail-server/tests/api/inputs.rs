//! The bad-input matrix: every malformed request is a 4xx naming the field, never a 5xx.
//!
//! One table of cases ([`cases`]), each a request with one thing broken and the answer a
//! serious product gives. One test per backend runs them all and lists every mismatch at once,
//! so a run shows the whole picture rather than the first failure.

use axum::http::{Method, StatusCode};
use outmail_testkit::fixtures;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Answer, CANARIES, TestApp, graph_draft, smtp_draft};

on_both_backends!(every_bad_input_is_a_4xx_json_error_naming_the_field);

const CLIENT_CERT: &str = fixtures::CLIENT_CERT;
const CLIENT_KEY: &str = fixtures::CLIENT_KEY_PKCS8;
const OTHER_KEY: &str = fixtures::OTHER_KEY_PKCS8;
const EXPIRED_CERT: &str = fixtures::EXPIRED_CERT;
const ENCRYPTED_KEY: &str = fixtures::CLIENT_KEY_ENCRYPTED;
const EC_CERT: &str = fixtures::EC_CERT;

const PROFILES: &str = "/api/v1/profiles";
const SETTINGS: &str = "/api/v1/settings";
const TENANTS: &str = "/api/v1/tenants";
const RULES: &str = "/api/v1/routing-rules";
const IMPORT: &str = "/api/v1/import";
const JSON: Option<&str> = Some("application/json");

/// What a case sends as its body.
enum Body {
    None,
    Json(Value),
    Raw {
        text: String,
        content_type: Option<&'static str>,
    },
}

/// One request with one thing wrong, and the answer expected.
struct Case {
    name: &'static str,
    method: Method,
    path: String,
    body: Body,
    headers: Vec<(&'static str, String)>,
    status: StatusCode,
    /// The field path that must be named in `fields`.
    field: Option<&'static str>,
    /// The code that field must carry (only where the code is stable).
    code: Option<&'static str>,
}

fn case(name: &'static str, method: Method, path: &str, body: Body, status: u16) -> Case {
    Case {
        name,
        method,
        path: path.to_string(),
        body,
        headers: Vec::new(),
        status: StatusCode::from_u16(status).expect("status"),
        field: None,
        code: None,
    }
}

fn post(name: &'static str, path: &str, body: Value, status: u16) -> Case {
    case(name, Method::POST, path, Body::Json(body), status)
}

fn get(name: &'static str, path: &str, status: u16) -> Case {
    case(name, Method::GET, path, Body::None, status)
}

fn raw(text: impl Into<String>, content_type: Option<&'static str>) -> Body {
    Body::Raw {
        text: text.into(),
        content_type,
    }
}

impl Case {
    fn field(mut self, path: &'static str) -> Self {
        self.field = Some(path);
        self
    }

    fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    fn at(self, path: &'static str, code: &'static str) -> Self {
        self.field(path).code(code)
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// The valid SMTP draft with one edit.
fn smtp(edit: impl FnOnce(&mut Value)) -> Value {
    let mut draft = smtp_draft("Matrix");
    edit(&mut draft);
    draft
}

/// The valid Microsoft 365 Graph draft with one edit.
fn graph(edit: impl FnOnce(&mut Value)) -> Value {
    let mut draft = graph_draft("Matrix graph");
    edit(&mut draft);
    draft
}

/// A valid Graph draft against a loopback fake with the custom OAuth preset, with one edit.
fn custom_graph(edit: impl FnOnce(&mut Value)) -> Value {
    graph(|d| {
        d["transport"]["endpoint"] =
            json!({"kind": "custom", "url": "http://127.0.0.1:8025/graph"});
        d["transport"]["oauth"] = json!({
            "preset": "custom",
            "client_id": "outmail-tests",
            "flow": {"kind": "client_credentials", "credential": {"kind": "secret"}},
            "token_url": "http://127.0.0.1:8025/oauth/token",
            "scopes": "https://graph.microsoft.com/.default",
            "client_secret": {"value": CANARIES[1]}
        });
        edit(d);
    })
}

/// A Graph draft with a certificate credential and this private key.
fn certificate_graph(name: &str, certificate: &str, key: &str) -> Value {
    graph(|d| {
        d["name"] = json!(name);
        let oauth = &mut d["transport"]["oauth"];
        oauth["flow"] = json!({
            "kind": "client_credentials",
            "credential": {"kind": "certificate", "certificate": certificate}
        });
        oauth
            .as_object_mut()
            .expect("oauth")
            .remove("client_secret");
        oauth["private_key"] = json!({"value": key});
    })
}

/// A valid EWS draft with basic authentication, with one edit.
fn ews(edit: impl FnOnce(&mut Value)) -> Value {
    let mut draft = json!({
        "name": "Matrix EWS",
        "transport": {
            "kind": "ews",
            "url": "https://mail.example.com/EWS/Exchange.asmx",
            "auth": {"kind": "basic", "username": "svc-mailer", "password": {"value": CANARIES[0]}}
        },
        "sender": {"address": "alerts@example.com"}
    });
    edit(&mut draft);
    draft
}

fn tenant(id: &str, profile: Value) -> Value {
    json!({"id": id, "name": "Matrix tenant", "profile": profile})
}

fn rule(matcher: Value, profile_id: &str) -> Value {
    json!({"match": matcher, "profile_id": profile_id, "priority": 0})
}

fn export_document(edit: impl FnOnce(&mut Value)) -> Value {
    let mut document = json!({
        "version": 1,
        "global": {"sending_enabled": true, "tenant_support_allowed": false, "attach_system_info": true},
        "profiles": [],
        "tenants": [],
        "routing_rules": []
    });
    edit(&mut document);
    document
}

/// A profile as an export carries it: no secret fields, an ID others refer to.
fn exported_profile(id: &str, name: &str, alternate: Option<&str>) -> Value {
    let mut profile = smtp_draft(name);
    profile["transport"]["auth"]
        .as_object_mut()
        .expect("auth")
        .remove("password");
    profile["alternate_profile_id"] = json!(alternate);
    json!({"id": id, "profile": profile})
}

/// What exists before the cases run: a profile at version 2 and a tenant.
struct Fixtures {
    profile_id: String,
    profile_path: String,
}

async fn fixtures(app: &TestApp) -> Fixtures {
    let created = app.create_profile(&smtp_draft("Office Relay")).await;
    let profile_id = created.json["id"].as_str().expect("id").to_string();
    let profile_path = format!("{PROFILES}/{profile_id}");
    let mut draft = smtp_draft("Office Relay");
    draft["transport"]["auth"]["password"] = json!({"set": true});
    let updated = app.put(&profile_path, "\"1\"", &draft).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    let acme = app
        .post(TENANTS, &tenant("acme", json!({"kind": "use_global"})))
        .await;
    assert_eq!(acme.status, StatusCode::CREATED, "{}", acme.text);
    Fixtures {
        profile_id,
        profile_path,
    }
}

/// The matrix. Field paths are the ones a form needs to put the message next to the input.
fn cases(fx: &Fixtures) -> Vec<Case> {
    [
        body_cases(),
        name_cases(),
        shape_cases(),
        port_cases(),
        host_cases(),
        sender_cases(),
        field_cases(),
        secret_cases(),
        ews_cases(),
        oauth_cases(),
        proxy_cases(),
        version_cases(fx),
        list_cases(),
        settings_cases(),
        tenant_cases(),
        rule_cases(fx),
        import_cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Cases on the body itself: empty, not JSON, wrong type, too large.
fn body_cases() -> Vec<Case> {
    vec![
        case("empty body", Method::POST, PROFILES, raw("", JSON), 400).code("malformed_json"),
        case(
            "non-JSON body",
            Method::POST,
            PROFILES,
            raw("name=Relay&host=smtp", JSON),
            400,
        )
        .code("malformed_json"),
        case(
            "truncated JSON",
            Method::POST,
            PROFILES,
            raw(r#"{"name": "Relay""#, JSON),
            400,
        ),
        // A complete, valid draft followed by garbage: the body as a whole is not JSON.
        case(
            "trailing garbage after a valid draft",
            Method::POST,
            PROFILES,
            raw(format!("{} x", smtp_draft("Trailing garbage")), JSON),
            400,
        )
        .code("malformed_json"),
        // Inside `transport` the parser buffers whatever it finds, so depth is what it meets.
        case(
            "JSON nested deeper than the parser allows",
            Method::POST,
            PROFILES,
            raw(
                format!(
                    r#"{{"name": "Deep", "transport": {{"kind": "smtp", "x": {}{}}}}}"#,
                    "[".repeat(200),
                    "]".repeat(200)
                ),
                JSON,
            ),
            400,
        )
        .code("malformed_json"),
        case(
            "wrong content type (text/plain)",
            Method::POST,
            PROFILES,
            raw(smtp_draft("Plain").to_string(), Some("text/plain")),
            415,
        )
        .code("unsupported_media_type"),
        case(
            "no content type",
            Method::POST,
            PROFILES,
            raw(smtp_draft("Untyped").to_string(), None),
            415,
        ),
        case(
            "JSON array instead of an object",
            Method::POST,
            PROFILES,
            raw("[]", JSON),
            422,
        ),
        case(
            "JSON null instead of an object",
            Method::POST,
            PROFILES,
            raw("null", JSON),
            422,
        ),
        case(
            "body over 64 KiB",
            Method::POST,
            PROFILES,
            raw(
                smtp(|d| d["description"] = json!("x".repeat(70 * 1024))).to_string(),
                JSON,
            ),
            413,
        )
        .code("body_too_large"),
    ]
}

/// Cases on the profile name.
fn name_cases() -> Vec<Case> {
    vec![
        post(
            "profile name empty",
            PROFILES,
            smtp(|d| d["name"] = json!("")),
            422,
        )
        .at("name", "required"),
        post(
            "profile name only spaces",
            PROFILES,
            smtp(|d| d["name"] = json!("   ")),
            422,
        )
        .at("name", "required"),
        post(
            "profile name of 101 characters",
            PROFILES,
            smtp(|d| d["name"] = json!("n".repeat(101))),
            422,
        )
        .at("name", "too_long"),
        post(
            "profile name with CR",
            PROFILES,
            smtp(|d| d["name"] = json!("Relay\rBcc")),
            422,
        )
        .at("name", "control_character"),
        post(
            "profile name with LF",
            PROFILES,
            smtp(|d| d["name"] = json!("Relay\nBcc")),
            422,
        )
        .at("name", "control_character"),
        post(
            "profile name with NUL",
            PROFILES,
            smtp(|d| d["name"] = json!("Relay\u{0}")),
            422,
        )
        .at("name", "control_character"),
        post(
            "profile name with a tab",
            PROFILES,
            smtp(|d| d["name"] = json!("Relay\tA")),
            422,
        )
        .at("name", "control_character"),
        post(
            "profile name is a number",
            PROFILES,
            smtp(|d| d["name"] = json!(42)),
            422,
        )
        .at("name", "invalid_type"),
        post(
            "duplicate name in another case",
            PROFILES,
            smtp_draft("office relay"),
            409,
        )
        .at("name", "duplicate_name"),
        post(
            "duplicate name with inner spaces doubled",
            PROFILES,
            smtp_draft("Office  RELAY"),
            409,
        )
        .at("name", "duplicate_name"),
    ]
}

/// Cases on the shape of the draft: unknown fields and tags, missing parts.
fn shape_cases() -> Vec<Case> {
    vec![
        post(
            "unknown top-level field",
            PROFILES,
            smtp(|d| d["colour"] = json!("blue")),
            422,
        )
        .at("colour", "unknown_field"),
        post(
            "unknown field inside transport",
            PROFILES,
            smtp(|d| d["transport"]["hots"] = json!("x")),
            422,
        )
        .at("transport.hots", "unknown_field"),
        post(
            "unknown field inside transport.auth",
            PROFILES,
            smtp(|d| d["transport"]["auth"]["realm"] = json!("x")),
            422,
        )
        .at("transport.auth.realm", "unknown_field"),
        post(
            "transport missing",
            PROFILES,
            smtp(|d| {
                d.as_object_mut().unwrap().remove("transport");
            }),
            422,
        )
        .at("transport", "required"),
        post(
            "transport.kind unknown",
            PROFILES,
            smtp(|d| d["transport"]["kind"] = json!("fax")),
            422,
        )
        .at("transport.kind", "unknown_value"),
        post(
            "transport.auth.kind unknown",
            PROFILES,
            smtp(|d| d["transport"]["auth"]["kind"] = json!("kerberos")),
            422,
        )
        .at("transport.auth.kind", "unknown_value"),
        post(
            "security missing",
            PROFILES,
            smtp(|d| {
                d["transport"].as_object_mut().unwrap().remove("security");
            }),
            422,
        )
        .at("transport.security", "required"),
        post(
            "security opportunistic",
            PROFILES,
            smtp(|d| d["transport"]["security"] = json!("opportunistic")),
            422,
        )
        .at("transport.security", "unknown_value"),
    ]
}

/// Cases on the SMTP port.
fn port_cases() -> Vec<Case> {
    vec![
        post(
            "port 0",
            PROFILES,
            smtp(|d| d["transport"]["port"] = json!(0)),
            422,
        )
        .at("transport.port", "out_of_range"),
        post(
            "port 65536",
            PROFILES,
            smtp(|d| d["transport"]["port"] = json!(65536)),
            422,
        )
        .at("transport.port", "out_of_range"),
        post(
            "port -1",
            PROFILES,
            smtp(|d| d["transport"]["port"] = json!(-1)),
            422,
        )
        .at("transport.port", "out_of_range"),
        post(
            "port as the string \"25\"",
            PROFILES,
            smtp(|d| d["transport"]["port"] = json!("25")),
            422,
        )
        .at("transport.port", "invalid_type"),
        post(
            "port 25.5",
            PROFILES,
            smtp(|d| d["transport"]["port"] = json!(25.5)),
            422,
        )
        .at("transport.port", "invalid_type"),
        post(
            "implicit TLS on port 587",
            PROFILES,
            smtp(|d| d["transport"]["security"] = json!("tls")),
            422,
        )
        .at("transport.security", "security_port_mismatch"),
    ]
}

/// Cases on the SMTP host and EHLO name.
fn host_cases() -> Vec<Case> {
    vec![
        post(
            "host empty",
            PROFILES,
            smtp(|d| d["transport"]["host"] = json!("")),
            422,
        )
        .at("transport.host", "required"),
        post(
            "host with spaces",
            PROFILES,
            smtp(|d| d["transport"]["host"] = json!("smtp.example.com mail.example.com")),
            422,
        )
        .at("transport.host", "whitespace"),
        post(
            "host:25",
            PROFILES,
            smtp(|d| d["transport"]["host"] = json!("smtp.example.com:25")),
            422,
        )
        .at("transport.host", "port_in_host"),
        post(
            "host with CR/LF",
            PROFILES,
            smtp(|d| d["transport"]["host"] = json!("smtp.example.com\r\n")),
            422,
        )
        .at("transport.host", "control_character"),
        post(
            "host exa mple.com",
            PROFILES,
            smtp(|d| d["transport"]["host"] = json!("exa mple.com")),
            422,
        )
        .at("transport.host", "whitespace"),
        post(
            "host given as a URL",
            PROFILES,
            smtp(|d| d["transport"]["host"] = json!("smtp://smtp.example.com")),
            422,
        )
        .at("transport.host", "url_not_host"),
        post(
            "ehlo_name with CRLF",
            PROFILES,
            smtp(|d| d["transport"]["ehlo_name"] = json!("app.example.com\r\nMAIL FROM:<x@y.z>")),
            422,
        )
        .at("transport.ehlo_name", "control_character"),
    ]
}

/// Cases on the sender.
fn sender_cases() -> Vec<Case> {
    vec![
        post(
            "sender missing",
            PROFILES,
            smtp(|d| {
                d.as_object_mut().unwrap().remove("sender");
            }),
            422,
        )
        .at("sender", "required"),
        post(
            "sender address without @",
            PROFILES,
            smtp(|d| d["sender"]["address"] = json!("alerts.example.com")),
            422,
        )
        .at("sender.address", "missing_at"),
        post(
            "sender address with CRLF header injection",
            PROFILES,
            smtp(|d| d["sender"]["address"] = json!("a@b.c\r\nBcc: x@y.z")),
            422,
        )
        .at("sender.address", "control_character"),
        post(
            "display name with LF",
            PROFILES,
            smtp(|d| {
                d["sender"]["address"] = json!("alerts@example.com");
                d["sender"]["display_name"] = json!("Alerts\nBcc: x@y.z");
            }),
            422,
        )
        .at("sender.display_name", "control_character"),
        post(
            "UTF-8 sender without utf8_headers",
            PROFILES,
            smtp(|d| d["sender"]["address"] = json!("山田太郎@株式.会社")),
            422,
        )
        .at("sender.address", "needs_utf8_headers"),
        post(
            "UTF-8 sender with utf8_headers (positive control)",
            PROFILES,
            smtp(|d| {
                d["name"] = json!("UTF-8 sender");
                d["sender"]["address"] = json!("山田太郎@株式.会社");
                d["utf8_headers"] = json!(true);
            }),
            201,
        ),
        post(
            "reply_to invalid",
            PROFILES,
            smtp(|d| d["sender"]["reply_to"] = json!("helpdesk")),
            422,
        )
        .at("sender.reply_to", "missing_at"),
        post(
            "sender display name contradicts the address's",
            PROFILES,
            smtp(|d| d["sender"]["display_name"] = json!("Someone Else")),
            422,
        )
        .at("sender.display_name", "conflicting_display_name"),
    ]
}

/// Cases on the other top-level fields.
fn field_cases() -> Vec<Case> {
    vec![
        post(
            "signature with NUL",
            PROFILES,
            smtp(|d| d["signature"] = json!("-- \nOps\u{0}")),
            422,
        )
        .at("signature", "control_character"),
        post(
            "description with a bell",
            PROFILES,
            smtp(|d| d["description"] = json!("ding\u{7}")),
            422,
        )
        .at("description", "control_character"),
        post(
            "send_frequency -1",
            PROFILES,
            smtp(|d| d["send_frequency"] = json!(-1)),
            422,
        )
        .at("send_frequency", "out_of_range"),
        post(
            "send_frequency 86401",
            PROFILES,
            smtp(|d| d["send_frequency"] = json!(86401)),
            422,
        )
        .at("send_frequency", "out_of_range"),
        post(
            "send_frequency \"5m\"",
            PROFILES,
            smtp(|d| d["send_frequency"] = json!("5m")),
            422,
        )
        .at("send_frequency", "invalid_type"),
        post(
            "utf8_headers as a string",
            PROFILES,
            smtp(|d| d["utf8_headers"] = json!("yes")),
            422,
        )
        .at("utf8_headers", "invalid_type"),
        post(
            "alternate_profile_id unknown",
            PROFILES,
            smtp(|d| d["alternate_profile_id"] = json!("no-such-profile")),
            422,
        )
        .at("alternate_profile_id", "unknown_profile"),
        post(
            "alternate_profile_id malformed",
            PROFILES,
            smtp(|d| d["alternate_profile_id"] = json!("../etc/passwd")),
            422,
        )
        .at("alternate_profile_id", "invalid_format"),
    ]
}

/// Cases on secret fields.
fn secret_cases() -> Vec<Case> {
    vec![
        post(
            "password as a bare string",
            PROFILES,
            smtp(|d| d["transport"]["auth"]["password"] = json!(CANARIES[0])),
            422,
        )
        .field("transport.auth.password"),
        post(
            "proxy password as a bare string",
            PROFILES,
            smtp(|d| {
                d["proxy"] = json!({"kind": "socks5", "host": "127.0.0.1", "port": 1080,
                    "username": "relay", "password": CANARIES[2]});
            }),
            422,
        )
        .field("proxy.password"),
        post(
            "password {\"value\": \"\"}",
            PROFILES,
            smtp(|d| d["transport"]["auth"]["password"] = json!({"value": ""})),
            422,
        )
        .at("transport.auth.password", "empty"),
        post(
            "password with NUL",
            PROFILES,
            smtp(|d| d["transport"]["auth"]["password"] = json!({"value": "pass\u{0}word"})),
            422,
        )
        .at("transport.auth.password", "control_character"),
        post(
            "password with both set and value",
            PROFILES,
            smtp(|d| {
                d["transport"]["auth"]["password"] = json!({"set": true, "value": CANARIES[0]})
            }),
            422,
        )
        .field("transport.auth.password"),
        post(
            "required password kept on create with nothing stored",
            PROFILES,
            smtp(|d| d["transport"]["auth"]["password"] = json!({"set": true})),
            422,
        )
        .at("transport.auth.password", "required"),
        post(
            "required password missing on create",
            PROFILES,
            smtp(|d| {
                d["transport"]["auth"]
                    .as_object_mut()
                    .unwrap()
                    .remove("password");
            }),
            422,
        )
        .at("transport.auth.password", "required"),
        post(
            "client secret kept on create with nothing stored",
            PROFILES,
            graph(|d| d["transport"]["oauth"]["client_secret"] = json!({"set": true})),
            422,
        )
        .at("transport.oauth.client_secret", "required"),
    ]
}

/// Cases on EWS.
fn ews_cases() -> Vec<Case> {
    vec![
        post(
            "EWS url http:// to a non-loopback host",
            PROFILES,
            ews(|d| d["transport"]["url"] = json!("http://mail.example.com/EWS/Exchange.asmx")),
            422,
        )
        .at("transport.url", "not_https"),
        post(
            "EWS url ftp://",
            PROFILES,
            ews(|d| d["transport"]["url"] = json!("ftp://mail.example.com/EWS/Exchange.asmx")),
            422,
        )
        .at("transport.url", "not_https"),
        post(
            "EWS url with userinfo",
            PROFILES,
            ews(|d| {
                d["transport"]["url"] = json!("https://svc:pw@mail.example.com/EWS/Exchange.asmx")
            }),
            422,
        )
        .at("transport.url", "userinfo"),
        post(
            "EWS without authentication",
            PROFILES,
            ews(|d| d["transport"]["auth"] = json!({"kind": "none"})),
            422,
        )
        .at("transport.auth", "auth_required"),
    ]
}

/// Cases on Graph and OAuth.
fn oauth_cases() -> Vec<Case> {
    vec![
        post(
            "Graph custom endpoint http:// non-loopback",
            PROFILES,
            custom_graph(|d| {
                d["transport"]["endpoint"] = json!({
                    "kind": "custom",
                    "url": "http://graph.example.com"
                });
            }),
            422,
        )
        .at("transport.endpoint.url", "not_https"),
        post(
            "Graph endpoint kind unknown",
            PROFILES,
            graph(|d| d["transport"]["endpoint"] = json!({"kind": "mars"})),
            422,
        )
        .at("transport.endpoint.kind", "unknown_value"),
        post(
            "Graph China endpoint with the public authority",
            PROFILES,
            graph(|d| d["transport"]["endpoint"] = json!({"kind": "china"})),
            422,
        )
        .at("transport.oauth.authority", "cloud_mismatch"),
        post(
            "OAuth tenant_id not a GUID",
            PROFILES,
            graph(|d| d["transport"]["oauth"]["tenant_id"] = json!("contoso.onmicrosoft.com")),
            422,
        )
        .at("transport.oauth.tenant_id", "not_a_guid"),
        post(
            "OAuth client_id not a GUID for microsoft365",
            PROFILES,
            graph(|d| d["transport"]["oauth"]["client_id"] = json!("outmail-app")),
            422,
        )
        .at("transport.oauth.client_id", "not_a_guid"),
        post(
            "OAuth token_url http:// non-loopback for the custom preset",
            PROFILES,
            custom_graph(|d| {
                let token_url = "http://login.example.com/token";
                d["transport"]["oauth"]["token_url"] = json!(token_url);
            }),
            422,
        )
        .at("transport.oauth.token_url", "not_https"),
        post(
            "OAuth token_url contradicting the microsoft365 preset",
            PROFILES,
            graph(|d| {
                let token_url = "https://evil.example.com/token";
                d["transport"]["oauth"]["token_url"] = json!(token_url);
            }),
            422,
        )
        .at("transport.oauth.token_url", "derived_from_preset"),
        post(
            "OAuth scopes empty for the custom preset",
            PROFILES,
            custom_graph(|d| d["transport"]["oauth"]["scopes"] = json!("")),
            422,
        )
        .at("transport.oauth.scopes", "required"),
        post(
            "OAuth redirect_url http:// non-loopback",
            PROFILES,
            graph(|d| {
                d["transport"]["oauth"]["flow"] = json!({
                    "kind": "authorization_code",
                    "redirect_url": "http://outmail.example.com/cb"
                });
            }),
            422,
        )
        .at("transport.oauth.flow.redirect_url", "not_https"),
        post(
            "Google with client_credentials",
            PROFILES,
            smtp(|d| {
                d["transport"]["auth"] = json!({
                    "kind": "oauth2",
                    "username": "alerts@gmail.com",
                    "oauth": {
                        "preset": "google",
                        "client_id": "1234-abc.apps.googleusercontent.com",
                        "flow": {"kind": "client_credentials", "credential": {"kind": "secret"}},
                        "client_secret": {"value": CANARIES[1]}
                    }
                });
            }),
            422,
        )
        .at("transport.auth.oauth.flow", "unsupported_flow"),
        post(
            "malformed PEM certificate",
            PROFILES,
            certificate_graph(
                "Bad certificate",
                "-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n",
                CLIENT_KEY,
            ),
            422,
        )
        .at("transport.oauth.flow.credential.certificate", "bad_base64"),
        post(
            "private key pasted as the certificate",
            PROFILES,
            certificate_graph("Key as certificate", CLIENT_KEY, CLIENT_KEY),
            422,
        )
        .at(
            "transport.oauth.flow.credential.certificate",
            "private_key_pasted",
        ),
        post(
            "EC certificate (RSA needed)",
            PROFILES,
            certificate_graph("EC certificate", EC_CERT, CLIENT_KEY),
            422,
        )
        .at(
            "transport.oauth.flow.credential.certificate",
            "certificate_not_rsa",
        ),
        post(
            "private key that does not match the certificate",
            PROFILES,
            certificate_graph("Mismatched key", CLIENT_CERT, OTHER_KEY),
            422,
        )
        .at("transport.oauth.private_key", "key_mismatch"),
        post(
            "passphrase-protected private key",
            PROFILES,
            certificate_graph("Encrypted key", CLIENT_CERT, ENCRYPTED_KEY),
            422,
        )
        .at("transport.oauth.private_key", "encrypted"),
        // An expired certificate cannot authenticate: refused when saved, not at the first send.
        post(
            "expired client certificate",
            PROFILES,
            certificate_graph("Expired certificate", EXPIRED_CERT, CLIENT_KEY),
            422,
        )
        .at("transport.oauth.flow.credential.certificate", "expired"),
    ]
}

/// Cases on the proxy.
fn proxy_cases() -> Vec<Case> {
    vec![
        post(
            "proxy kind unknown",
            PROFILES,
            smtp(|d| d["proxy"] = json!({"kind": "socks4", "host": "127.0.0.1", "port": 1080})),
            422,
        )
        .at("proxy.kind", "unknown_value"),
        post(
            "proxy port 0",
            PROFILES,
            smtp(|d| d["proxy"] = json!({"kind": "http", "host": "127.0.0.1", "port": 0})),
            422,
        )
        .at("proxy.port", "out_of_range"),
        post(
            "proxy host empty",
            PROFILES,
            smtp(|d| d["proxy"] = json!({"kind": "http", "host": "", "port": 3128})),
            422,
        )
        .at("proxy.host", "required"),
        post(
            "proxy password without a user name",
            PROFILES,
            smtp(|d| {
                d["proxy"] = json!({"kind": "http", "host": "127.0.0.1", "port": 3128,
                    "password": {"value": CANARIES[2]}});
            }),
            422,
        )
        .at("proxy.password", "not_applicable"),
        post(
            "proxy on the local transport",
            PROFILES,
            smtp(|d| {
                d["transport"] = json!({"kind": "local"});
                d["proxy"] = json!({"kind": "http", "host": "127.0.0.1", "port": 3128});
            }),
            422,
        )
        .at("proxy", "not_applicable"),
    ]
}

/// Cases on versions (If-Match) and lookups.
fn version_cases(fx: &Fixtures) -> Vec<Case> {
    let profile = fx.profile_path.as_str();
    let resend = {
        let mut draft = smtp_draft("Office Relay");
        draft["transport"]["auth"]["password"] = json!({"set": true});
        draft
    };
    vec![
        case(
            "PUT without If-Match",
            Method::PUT,
            profile,
            Body::Json(resend.clone()),
            428,
        )
        .code("if_match_required"),
        case(
            "PUT with If-Match \"abc\"",
            Method::PUT,
            profile,
            Body::Json(resend.clone()),
            400,
        )
        .header("if-match", "\"abc\"")
        .code("bad_if_match"),
        case(
            "PUT with If-Match unquoted",
            Method::PUT,
            profile,
            Body::Json(resend.clone()),
            400,
        )
        .header("if-match", "2"),
        case(
            "PUT with a stale version",
            Method::PUT,
            profile,
            Body::Json(resend.clone()),
            412,
        )
        .header("if-match", "\"1\"")
        .code("version_mismatch"),
        case(
            "PUT of an unknown profile",
            Method::PUT,
            &format!("{PROFILES}/no-such-profile"),
            Body::Json(resend.clone()),
            404,
        )
        .header("if-match", "\"1\""),
        case(
            "DELETE without If-Match",
            Method::DELETE,
            profile,
            Body::None,
            428,
        ),
        case(
            "DELETE with a stale version",
            Method::DELETE,
            profile,
            Body::None,
            412,
        )
        .header("if-match", "\"1\""),
        get(
            "GET unknown profile",
            &format!("{PROFILES}/no-such-profile"),
            404,
        )
        .code("not_found"),
        get(
            "GET with a non-UTF-8 profile id",
            &format!("{PROFILES}/%FF"),
            400,
        ),
        get("unknown API route", "/api/v1/no-such-thing", 404).code("not_found"),
        case(
            "method not allowed",
            Method::PATCH,
            profile,
            Body::Json(resend),
            405,
        ),
        post(
            "duplicate with a name containing LF",
            &format!("{profile}/duplicate"),
            json!({"name": "A\nB"}),
            422,
        )
        .at("name", "control_character"),
        post(
            "duplicate with an unknown field",
            &format!("{profile}/duplicate"),
            json!({"nmae": "Copy"}),
            422,
        )
        .at("nmae", "unknown_field"),
    ]
}

/// Cases on the profile list query.
fn list_cases() -> Vec<Case> {
    vec![
        get("list ?per_page=0", &format!("{PROFILES}?per_page=0"), 422)
            .at("per_page", "out_of_range"),
        get(
            "list ?per_page=1000",
            &format!("{PROFILES}?per_page=1000"),
            422,
        )
        .at("per_page", "out_of_range"),
        get("list ?page=abc", &format!("{PROFILES}?page=abc"), 422).at("page", "not_a_number"),
        get(
            "list ?transport=fax",
            &format!("{PROFILES}?transport=fax"),
            422,
        )
        .at("transport", "invalid_choice"),
        get(
            "list ?page given twice",
            &format!("{PROFILES}?page=1&page=2"),
            400,
        ),
    ]
}

/// Cases on global settings.
fn settings_cases() -> Vec<Case> {
    vec![
        case(
            "settings default_profile_id unknown",
            Method::PUT,
            SETTINGS,
            Body::Json(json!({"sending_enabled": true, "tenant_support_allowed": false, "attach_system_info": true, "default_profile_id": "no-such-profile"})),
            422,
        )
        .header("if-match", "\"0\"")
        .at("default_profile_id", "unknown_profile"),
        case(
            "settings support_address invalid",
            Method::PUT,
            SETTINGS,
            Body::Json(json!({"sending_enabled": true, "tenant_support_allowed": false, "attach_system_info": true, "support_address": "support at example"})),
            422,
        )
        .header("if-match", "\"0\"")
        .field("support_address"),
        case(
            "settings with an unknown field",
            Method::PUT,
            SETTINGS,
            Body::Json(json!({"sending_enabled": true, "tenant_support_allowed": false, "attach_system_info": true, "sending_enbled": false})),
            422,
        )
        .header("if-match", "\"0\"")
        .at("sending_enbled", "unknown_field"),
        case(
            "settings PUT without the master switch",
            Method::PUT,
            SETTINGS,
            Body::Json(json!({"tenant_support_allowed": false, "attach_system_info": true})),
            422,
        )
        .header("if-match", "\"0\"")
        .at("sending_enabled", "required"),
        case(
            "settings PUT without If-Match",
            Method::PUT,
            SETTINGS,
            Body::Json(json!({"sending_enabled": true, "tenant_support_allowed": false, "attach_system_info": true})),
            428,
        ),
    ]
}

/// Cases on tenants.
fn tenant_cases() -> Vec<Case> {
    vec![
        post(
            "tenant id Bad ID!",
            TENANTS,
            tenant("Bad ID!", json!({"kind": "use_global"})),
            422,
        )
        .at("id", "invalid_character"),
        post(
            "tenant id of 64 characters",
            TENANTS,
            tenant(&"a".repeat(64), json!({"kind": "use_global"})),
            422,
        )
        .at("id", "too_long"),
        post(
            "tenant profile.kind unknown",
            TENANTS,
            tenant("globex", json!({"kind": "shared"})),
            422,
        )
        .at("profile.kind", "unknown_value"),
        post(
            "tenant own profile unknown",
            TENANTS,
            tenant(
                "globex",
                json!({"kind": "own", "profile_id": "no-such-profile"}),
            ),
            422,
        )
        .at("profile.profile_id", "unknown_profile"),
        post(
            "duplicate tenant id",
            TENANTS,
            tenant("acme", json!({"kind": "use_global"})),
            409,
        )
        .at("id", "duplicate_id"),
        post(
            "tenant name with CRLF",
            TENANTS,
            json!({"id": "initech", "name": "Initech\r\nX", "profile": {"kind": "use_global"}}),
            422,
        )
        .at("name", "control_character"),
        case(
            "tenant PUT of an unknown tenant",
            Method::PUT,
            &format!("{TENANTS}/no-such-tenant"),
            Body::Json(tenant("no-such-tenant", json!({"kind": "use_global"}))),
            404,
        )
        .header("if-match", "\"1\""),
        case(
            "tenant PUT with a stale version",
            Method::PUT,
            &format!("{TENANTS}/acme"),
            Body::Json(tenant("acme", json!({"kind": "use_global"}))),
            412,
        )
        .header("if-match", "\"7\""),
        get(
            "effective configuration of an unknown tenant",
            &format!("{TENANTS}/nobody/effective"),
            404,
        ),
    ]
}

/// Cases on routing rules.
fn rule_cases(fx: &Fixtures) -> Vec<Case> {
    let pid = fx.profile_id.as_str();
    vec![
        post(
            "routing rule with a bad domain",
            RULES,
            rule(
                json!({"kind": "sender_domain", "domain": "exa mple.com"}),
                pid,
            ),
            422,
        )
        .at("match.domain", "whitespace"),
        post(
            "routing rule with an IP as domain",
            RULES,
            rule(json!({"kind": "sender_domain", "domain": "10.0.0.1"}), pid),
            422,
        )
        .at("match.domain", "ip_domain"),
        post(
            "routing rule with an unknown profile",
            RULES,
            rule(
                json!({"kind": "sender_domain", "domain": "example.com"}),
                "no-such-profile",
            ),
            422,
        )
        .at("profile_id", "unknown_profile"),
        post(
            "routing rule match.kind unknown",
            RULES,
            rule(
                json!({"kind": "recipient_domain", "domain": "example.com"}),
                pid,
            ),
            422,
        )
        .at("match.kind", "unknown_value"),
        post(
            "routing rule priority out of i32 range",
            RULES,
            json!({"match": {"kind": "sender_domain", "domain": "example.com"},
                   "profile_id": pid, "priority": 1_u64 << 40}),
            422,
        )
        .field("priority"),
        get(
            "GET unknown routing rule",
            &format!("{RULES}/no-such-rule"),
            404,
        ),
    ]
}

/// Cases on import documents.
fn import_cases() -> Vec<Case> {
    vec![
        post(
            "import with version 2",
            IMPORT,
            export_document(|d| d["version"] = json!(2)),
            422,
        )
        .field("version"),
        post(
            "import with a dangling tenant reference",
            IMPORT,
            export_document(|d| {
                d["tenants"] = json!([{"id": "ghost-tenant", "name": "Ghost",
                    "profile": {"kind": "own", "profile_id": "ghost"}}]);
            }),
            422,
        )
        .at("tenants.0.profile.profile_id", "unknown_profile"),
        post(
            "import with a dangling default profile",
            IMPORT,
            export_document(|d| d["global"]["default_profile_id"] = json!("ghost")),
            422,
        )
        .at("global.default_profile_id", "unknown_profile"),
        post(
            "import with two profiles of the same name",
            IMPORT,
            export_document(|d| {
                d["profiles"] = json!([
                    exported_profile("one", "Twin relay", None),
                    exported_profile("two", "TWIN relay", None),
                ]);
            }),
            422,
        )
        .at("profiles.1.profile.name", "duplicate_name"),
        post(
            "import with an invalid profile inside",
            IMPORT,
            export_document(|d| {
                let mut profile = exported_profile("imported", "Imported", None);
                profile["profile"]["sender"]["address"] = json!("no-at-sign");
                d["profiles"] = json!([profile]);
            }),
            422,
        )
        .at("profiles.0.profile.sender.address", "missing_at"),
        post(
            "import with a secret inside a profile",
            IMPORT,
            export_document(|d| {
                let mut profile = exported_profile("imported", "Imported", None);
                profile["profile"]["transport"]["auth"]["password"] = json!({"value": CANARIES[0]});
                d["profiles"] = json!([profile]);
            }),
            422,
        )
        .field("profiles.0.profile.transport.auth.password"),
        // The API refuses these alternates on POST/PUT; an import must not create them either.
        post(
            "import with a profile that is its own alternate",
            IMPORT,
            export_document(|d| {
                d["profiles"] = json!([exported_profile("loop", "Loop relay", Some("loop"))]);
            }),
            422,
        )
        .at("profiles.0.profile.alternate_profile_id", "self_reference"),
        post(
            "import with alternates that fail over to each other",
            IMPORT,
            export_document(|d| {
                d["profiles"] = json!([
                    exported_profile("ping", "Ping relay", Some("pong")),
                    exported_profile("pong", "Pong relay", Some("ping")),
                ]);
            }),
            422,
        )
        .field("profiles.0.profile.alternate_profile_id"),
    ]
}

/// Everything wrong with one answer, in words; empty when it is right.
fn mismatches(case: &Case, answer: &Answer) -> Vec<String> {
    let mut problems = Vec::new();
    if answer.status != case.status {
        problems.push(format!(
            "status {} (expected {})",
            answer.status.as_u16(),
            case.status.as_u16()
        ));
    }
    if answer.status.is_server_error() {
        problems.push("a 5xx for a client's mistake".to_string());
    }
    for canary in CANARIES {
        if answer.text.contains(canary) {
            problems.push(format!("the answer echoes the secret {canary}"));
        }
    }
    // A positive control, or a bad input that was accepted: the status says it all.
    if case.status.is_success() || answer.status.is_success() {
        return problems;
    }
    if !answer.status.is_client_error() {
        problems.push("not a 4xx".to_string());
    }
    let body = &answer.json;
    let shaped = body.is_object()
        && body["code"].as_str().is_some_and(|code| !code.is_empty())
        && body["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty())
        && body["fields"].is_object();
    if !shaped {
        problems.push(format!(
            "the body is not {{code, message, fields}}: {:?}",
            answer.text
        ));
        return problems;
    }
    if let Some(field) = case.field {
        let named = body["fields"][field]
            .as_array()
            .is_some_and(|errors| !errors.is_empty());
        if !named {
            let paths: Vec<&String> = body["fields"]
                .as_object()
                .map(|f| f.keys().collect())
                .unwrap_or_default();
            problems.push(format!("field {field:?} not named (fields: {paths:?})"));
        } else if let Some(code) = case.code {
            let codes = answer.field_codes(field);
            if !codes.iter().any(|c| c == code) {
                problems.push(format!(
                    "field {field:?} has codes {codes:?}, expected {code:?}"
                ));
            }
        }
    } else if let Some(code) = case.code
        && body["code"] != code
    {
        problems.push(format!("code {} (expected {code:?})", body["code"]));
    }
    problems
}

async fn send(app: &TestApp, case: &Case) -> Answer {
    let headers: Vec<(&str, &str)> = case.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let method = case.method.clone();
    match &case.body {
        Body::None => app.call_raw(method, &case.path, None, None, &headers).await,
        Body::Json(json) => app.call(method, &case.path, Some(json), &headers).await,
        Body::Raw { text, content_type } => {
            app.call_raw(method, &case.path, Some(text), *content_type, &headers)
                .await
        }
    }
}

async fn every_bad_input_is_a_4xx_json_error_naming_the_field(app: &TestApp) {
    let fx = fixtures(app).await;
    let cases = cases(&fx);
    println!("bad-input matrix: {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let answer = send(app, case).await;
        let problems = mismatches(case, &answer);
        if !problems.is_empty() {
            failures.push(format!(
                "- {} ({} {}): {}\n    answer: {} {}",
                case.name,
                case.method,
                case.path,
                problems.join("; "),
                answer.status.as_u16(),
                answer.text.chars().take(300).collect::<String>(),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases were answered wrongly:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
