//! One complete draft JSON document per transport: the documented request shape of
//! `POST/PUT /api/v1/profiles`. Tests check that each deserialises, validates and serialises
//! back to exactly the same JSON.

/// SMTP with STARTTLS and basic authentication; the password is entered (`{"value": …}`).
pub const SMTP_BASIC: &str = r#"{
  "name": "Office relay",
  "description": "Main outgoing relay",
  "transport": {
    "kind": "smtp",
    "host": "smtp.example.com",
    "port": 587,
    "security": "starttls",
    "ca_certificate": null,
    "ehlo_name": "app.example.com",
    "auth": {
      "kind": "basic",
      "username": "alerts@example.com",
      "password": {"value": "correct horse battery staple"},
      "mechanism": "auto"
    }
  },
  "sender": {
    "address": "\"Example Alerts\" <alerts@example.com>",
    "display_name": null,
    "reply_to": "helpdesk@example.com",
    "send_as_acting_user": false,
    "template_from_overrides": true
  },
  "signature": "-- \nThe Example operations team",
  "send_frequency": 300,
  "alternate_profile_id": "backup-relay",
  "proxy": null,
  "utf8_headers": false
}"#;

/// SMTP to Microsoft 365 with XOAUTH2 (app-only, client secret) through a SOCKS5 proxy whose
/// password is already stored (`{"set": true}` keeps it).
pub const SMTP_OAUTH2: &str = r#"{
  "name": "Microsoft 365 SMTP",
  "description": null,
  "transport": {
    "kind": "smtp",
    "host": "smtp.office365.com",
    "port": null,
    "security": "starttls",
    "ca_certificate": null,
    "ehlo_name": null,
    "auth": {
      "kind": "oauth2",
      "username": "alerts@contoso.com",
      "oauth": {
        "preset": "microsoft365",
        "authority": "public",
        "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "client_id": "0b8f3c9e-5d2a-4e7b-9a1c-3f6d8e2b1a4c",
        "flow": {"kind": "client_credentials", "credential": {"kind": "secret"}},
        "token_url": null,
        "authorize_url": null,
        "scopes": null,
        "secret_expires_on": "2027-03-31",
        "client_secret": {"value": "Qx8~example-client-secret"},
        "private_key": {"set": false},
        "refresh_token": {"set": false}
      }
    }
  },
  "sender": {
    "address": "alerts@contoso.com",
    "display_name": "Contoso Alerts",
    "reply_to": null,
    "send_as_acting_user": false,
    "template_from_overrides": false
  },
  "signature": null,
  "send_frequency": 0,
  "alternate_profile_id": null,
  "proxy": {
    "kind": "socks5",
    "host": "proxy.contoso.com",
    "port": 1080,
    "username": "mailer",
    "password": {"set": true}
  },
  "utf8_headers": false
}"#;

/// The MTA on this machine, with an internationalised sender (UTF-8 headers on).
pub const LOCAL: &str = r#"{
  "name": "Local MTA",
  "description": null,
  "transport": {
    "kind": "local",
    "sendmail_path": "/usr/sbin/sendmail"
  },
  "sender": {
    "address": "\"山田太郎\" <山田太郎@株式.会社>",
    "display_name": null,
    "reply_to": null,
    "send_as_acting_user": true,
    "template_from_overrides": false
  },
  "signature": null,
  "send_frequency": 300,
  "alternate_profile_id": null,
  "proxy": null,
  "utf8_headers": true
}"#;

/// EWS on premises with NTLM.
pub const EWS_NTLM: &str = r#"{
  "name": "Exchange on premises",
  "description": "EWS, NTLM\nfallback for the relay",
  "transport": {
    "kind": "ews",
    "url": "https://mail.corp.example.com/EWS/Exchange.asmx",
    "auth": {
      "kind": "ntlm",
      "username": "svc-mailer",
      "domain": "CORP",
      "workstation": null,
      "password": {"value": "Winter2025!"}
    },
    "server_version": "Exchange2016"
  },
  "sender": {
    "address": "noreply@corp.example.com",
    "display_name": "Corp Notifications",
    "reply_to": null,
    "send_as_acting_user": false,
    "template_from_overrides": false
  },
  "signature": null,
  "send_frequency": 600,
  "alternate_profile_id": null,
  "proxy": null,
  "utf8_headers": false
}"#;

/// Microsoft Graph, delegated (authorization code + PKCE) in the global cloud. The refresh
/// token comes from the consent popup, so it is only ever kept (`{"set": true}`) or cleared.
pub const GRAPH_DELEGATED: &str = r#"{
  "name": "Graph (delegated)",
  "description": null,
  "transport": {
    "kind": "graph",
    "endpoint": {"kind": "global"},
    "oauth": {
      "preset": "microsoft365",
      "authority": "public",
      "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
      "client_id": "0b8f3c9e-5d2a-4e7b-9a1c-3f6d8e2b1a4c",
      "flow": {
        "kind": "authorization_code",
        "redirect_url": "https://outmail.example.com/oauth/callback"
      },
      "token_url": null,
      "authorize_url": null,
      "scopes": "https://graph.microsoft.com/Mail.Send offline_access",
      "secret_expires_on": null,
      "client_secret": {"value": "Qx8~example-client-secret"},
      "private_key": {"set": false},
      "refresh_token": {"set": true}
    },
    "save_to_sent_items": true
  },
  "sender": {
    "address": "alerts@contoso.com",
    "display_name": null,
    "reply_to": null,
    "send_as_acting_user": false,
    "template_from_overrides": false
  },
  "signature": null,
  "send_frequency": 300,
  "alternate_profile_id": null,
  "proxy": null,
  "utf8_headers": false
}"#;

/// Microsoft Graph against a loopback fake: custom endpoint and custom OAuth (plain http is
/// allowed on loopback only).
pub const GRAPH_FAKE: &str = r#"{
  "name": "Graph fake",
  "description": null,
  "transport": {
    "kind": "graph",
    "endpoint": {"kind": "custom", "url": "http://127.0.0.1:8025/graph"},
    "oauth": {
      "preset": "custom",
      "authority": null,
      "tenant_id": null,
      "client_id": "outmail-tests",
      "flow": {"kind": "client_credentials", "credential": {"kind": "secret"}},
      "token_url": "http://127.0.0.1:8025/oauth/token",
      "authorize_url": null,
      "scopes": "https://graph.microsoft.com/.default",
      "secret_expires_on": null,
      "client_secret": {"value": "fake-secret"},
      "private_key": {"set": false},
      "refresh_token": {"set": false}
    },
    "save_to_sent_items": false
  },
  "sender": {
    "address": "alerts@example.com",
    "display_name": null,
    "reply_to": null,
    "send_as_acting_user": false,
    "template_from_overrides": false
  },
  "signature": null,
  "send_frequency": 300,
  "alternate_profile_id": null,
  "proxy": null,
  "utf8_headers": false
}"#;

/// Every example, by name.
pub const ALL: [(&str, &str); 6] = [
    ("smtp_basic", SMTP_BASIC),
    ("smtp_oauth2", SMTP_OAUTH2),
    ("local", LOCAL),
    ("ews_ntlm", EWS_NTLM),
    ("graph_delegated", GRAPH_DELEGATED),
    ("graph_fake", GRAPH_FAKE),
];
