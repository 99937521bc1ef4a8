//! The OAuth path table ([`OAuthPlace`], [`OAuthField`]): every path pinned, and each one where
//! the draft's serde shape puts that field.

use serde_json::Value;

use super::*;
use crate::cert::fixtures::CLIENT_CERT;
use crate::secret::SecretSlot;

/// Every field with its path under `transport.auth.oauth` and under `transport.oauth`.
const PINNED: [(OAuthField, &str, &str); 14] = [
    (
        OAuthField::Preset,
        "transport.auth.oauth.preset",
        "transport.oauth.preset",
    ),
    (
        OAuthField::Authority,
        "transport.auth.oauth.authority",
        "transport.oauth.authority",
    ),
    (
        OAuthField::TenantId,
        "transport.auth.oauth.tenant_id",
        "transport.oauth.tenant_id",
    ),
    (
        OAuthField::ClientId,
        "transport.auth.oauth.client_id",
        "transport.oauth.client_id",
    ),
    (
        OAuthField::Flow,
        "transport.auth.oauth.flow",
        "transport.oauth.flow",
    ),
    (
        OAuthField::Certificate,
        "transport.auth.oauth.flow.credential.certificate",
        "transport.oauth.flow.credential.certificate",
    ),
    (
        OAuthField::RedirectUrl,
        "transport.auth.oauth.flow.redirect_url",
        "transport.oauth.flow.redirect_url",
    ),
    (
        OAuthField::TokenUrl,
        "transport.auth.oauth.token_url",
        "transport.oauth.token_url",
    ),
    (
        OAuthField::AuthorizeUrl,
        "transport.auth.oauth.authorize_url",
        "transport.oauth.authorize_url",
    ),
    (
        OAuthField::Scopes,
        "transport.auth.oauth.scopes",
        "transport.oauth.scopes",
    ),
    (
        OAuthField::ClientSecret,
        "transport.auth.oauth.client_secret",
        "transport.oauth.client_secret",
    ),
    (
        OAuthField::SecretExpiresOn,
        "transport.auth.oauth.secret_expires_on",
        "transport.oauth.secret_expires_on",
    ),
    (
        OAuthField::PrivateKey,
        "transport.auth.oauth.private_key",
        "transport.oauth.private_key",
    ),
    (
        OAuthField::RefreshToken,
        "transport.auth.oauth.refresh_token",
        "transport.oauth.refresh_token",
    ),
];

fn value(example: &str) -> Value {
    serde_json::from_str(example).unwrap()
}

/// A draft JSON with OAuth for each transport that has it: SMTP and Graph from the examples,
/// EWS as the NTLM example with the SMTP example's OAuth authentication.
fn oauth_drafts() -> [(TransportKind, Value); 3] {
    let smtp = value(examples::SMTP_OAUTH2);
    let mut ews = value(examples::EWS_NTLM);
    ews["transport"]["auth"] = smtp["transport"]["auth"].clone();
    [
        (TransportKind::Smtp, smtp),
        (TransportKind::Ews, ews),
        (TransportKind::Graph, value(examples::GRAPH_DELEGATED)),
    ]
}

/// The JSON pointer of a dotted path.
fn pointer(path: &str) -> String {
    format!("/{}", path.replace('.', "/"))
}

/// Only the flow's own fields are in its JSON.
fn in_flow(field: OAuthField, flow: &FlowDraft) -> bool {
    match field {
        OAuthField::Certificate => matches!(
            flow,
            FlowDraft::ClientCredentials {
                credential: CredentialDraft::Certificate { .. }
            }
        ),
        OAuthField::RedirectUrl => matches!(flow, FlowDraft::AuthorizationCode { .. }),
        _ => true,
    }
}

#[test]
fn every_oauth_path_is_pinned_under_both_places() {
    assert_eq!(
        OAuthField::ALL.to_vec(),
        PINNED.map(|(field, _, _)| field).to_vec()
    );
    assert_eq!(OAuthPlace::Auth.prefix(), "transport.auth.oauth");
    assert_eq!(OAuthPlace::Graph.prefix(), "transport.oauth");
    for (field, auth, graph) in PINNED {
        assert_eq!(OAuthPlace::Auth.path(field), auth, "{field:?}");
        assert_eq!(OAuthPlace::Graph.path(field), graph, "{field:?}");
        for place in OAuthPlace::ALL {
            assert_eq!(
                place.path(field),
                format!("{}.{}", place.prefix(), field.leaf()),
                "{place:?} {field:?}"
            );
        }
    }
}

#[test]
fn the_secret_fields_paths_are_their_slots_paths() {
    let slots = [
        (
            OAuthPlace::Auth,
            [
                SecretSlot::AuthClientSecret,
                SecretSlot::AuthPrivateKey,
                SecretSlot::AuthRefreshToken,
            ],
        ),
        (
            OAuthPlace::Graph,
            [
                SecretSlot::GraphClientSecret,
                SecretSlot::GraphPrivateKey,
                SecretSlot::GraphRefreshToken,
            ],
        ),
    ];
    for (place, [client_secret, private_key, refresh_token]) in slots {
        assert_eq!(place.client_secret(), client_secret);
        assert_eq!(place.private_key(), private_key);
        assert_eq!(place.refresh_token(), refresh_token);
        for (field, slot) in [
            (OAuthField::ClientSecret, client_secret),
            (OAuthField::PrivateKey, private_key),
            (OAuthField::RefreshToken, refresh_token),
        ] {
            assert_eq!(place.path(field), slot.path(), "{place:?} {field:?}");
        }
    }
}

#[test]
fn every_oauth_path_points_at_its_field_in_the_draft_json() {
    let flows = [
        FlowDraft::ClientCredentials {
            credential: CredentialDraft::Certificate {
                certificate: CLIENT_CERT.to_owned(),
            },
        },
        FlowDraft::AuthorizationCode {
            redirect_url: "https://outmail.example.com/oauth/callback".to_owned(),
        },
    ];
    for (kind, json) in oauth_drafts() {
        for flow in &flows {
            let mut draft: ProfileDraft = serde_json::from_value(json.clone()).unwrap();
            draft.oauth_mut().unwrap().flow = flow.clone();
            let (place, _) = OAuthPlace::of_draft(&draft).unwrap();
            assert_eq!(place, OAuthPlace::for_transport(kind));
            let shape = serde_json::to_value(&draft).unwrap();
            assert!(
                shape
                    .pointer(&pointer(place.prefix()))
                    .is_some_and(Value::is_object),
                "{kind:?}: no OAuth object at {}",
                place.prefix()
            );
            for &field in OAuthField::ALL {
                let path = place.path(field);
                assert_eq!(
                    shape.pointer(&pointer(path)).is_some(),
                    in_flow(field, flow),
                    "{kind:?} {flow:?}: {path}"
                );
            }
        }
    }
}

#[test]
fn the_place_of_a_profile_follows_its_transport() {
    assert_eq!(
        OAuthPlace::for_transport(TransportKind::Smtp),
        OAuthPlace::Auth
    );
    assert_eq!(
        OAuthPlace::for_transport(TransportKind::Ews),
        OAuthPlace::Auth
    );
    assert_eq!(
        OAuthPlace::for_transport(TransportKind::Graph),
        OAuthPlace::Graph
    );
    for (name, example) in examples::ALL {
        let expected = match name {
            "smtp_oauth2" => Some(OAuthPlace::Auth),
            "graph_delegated" | "graph_fake" => Some(OAuthPlace::Graph),
            _ => None,
        };
        let draft: ProfileDraft = serde_json::from_str(example).unwrap();
        assert_eq!(
            OAuthPlace::of_draft(&draft).map(|(place, _)| place),
            expected,
            "{name}"
        );
        let spec = draft.validate().unwrap();
        let found = OAuthPlace::of(&spec);
        assert_eq!(found.map(|(place, _)| place), expected, "{name}");
        if let Some((_, settings)) = found {
            assert_eq!(Some(settings), spec.transport.oauth(), "{name}");
        }
    }
}
