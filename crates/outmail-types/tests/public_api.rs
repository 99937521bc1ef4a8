//! The crate used only through its public API, the way the server and the UI use it: a create,
//! a GET, an edit that moves the profile to another host, and the error bodies on the wire.

use std::collections::BTreeSet;

use outmail_types::error::{ApiError, FieldErrors};
use outmail_types::profile::{
    ProfileDraft, ProfileId, ProfileSpec, ProfileView, SecretAction, StoredProfile, examples,
    plan_secrets,
};
use outmail_types::secret::SecretSlot;

fn create(json: &str) -> (ProfileSpec, BTreeSet<SecretSlot>) {
    let draft: ProfileDraft = serde_json::from_str(json).expect("draft JSON");
    let spec = draft.validate().expect("valid draft");
    let plan = plan_secrets(None, &spec, &draft.secret_inputs()).expect("secrets present");
    let stored = plan
        .actions
        .iter()
        .filter(|(_, a)| matches!(a, SecretAction::Seal(_)))
        .map(|(slot, _)| *slot)
        .collect();
    (spec, stored)
}

#[test]
fn a_profile_survives_create_get_and_an_unchanged_put() {
    let (spec, stored) = create(examples::EWS_NTLM);
    assert_eq!(stored, BTreeSet::from([SecretSlot::AuthPassword]));

    let view = ProfileView::new(
        ProfileId::parse("p-1").unwrap(),
        1,
        "2025-03-01T10:00:00Z",
        "2025-03-01T10:00:00Z",
        &spec,
        &stored,
    );
    let body = serde_json::to_string(&view).unwrap();
    assert!(!body.contains("Winter2025!"), "a GET never shows a secret");

    let ui: ProfileView = serde_json::from_str(&body).unwrap();
    let put_body = serde_json::to_string(&ui.profile).unwrap();
    let draft: ProfileDraft = serde_json::from_str(&put_body).unwrap();
    let new = draft.validate().unwrap();
    let plan = plan_secrets(
        Some(StoredProfile {
            spec: &spec,
            secrets: &stored,
        }),
        &new,
        &draft.secret_inputs(),
    )
    .unwrap();
    assert_eq!(
        plan.get(SecretSlot::AuthPassword),
        Some(&SecretAction::Keep)
    );
}

#[test]
fn moving_a_profile_to_another_server_without_retyping_the_password_is_a_422_naming_it() {
    let (spec, stored) = create(examples::EWS_NTLM);
    let mut edited = spec.to_draft();
    if let outmail_types::profile::TransportDraft::Ews(ews) = &mut edited.transport {
        ews.url = "https://mail.elsewhere.example/EWS/Exchange.asmx".into();
    }
    let new = edited.validate().unwrap();
    let err = plan_secrets(
        Some(StoredProfile {
            spec: &spec,
            secrets: &stored,
        }),
        &new,
        &edited.secret_inputs(),
    )
    .unwrap_err();
    let wire = serde_json::to_value(ApiError::validation(err)).unwrap();
    assert_eq!(wire["code"], "validation_failed");
    assert_eq!(
        wire["fields"]["transport.auth.password"][0]["code"],
        "destination_changed"
    );
}

#[test]
fn the_ui_reads_field_errors_from_an_api_error_body() {
    let body = r#"{"code":"validation_failed","message":"2 fields are invalid",
        "fields":{"transport.port":[{"code":"out_of_range","message":"a port must be between 1 and 65535"}],
                  "name":[{"code":"required","message":"this field is required"}]}}"#;
    let err: ApiError = serde_json::from_str(body).unwrap();
    assert_eq!(err.fields.get("transport.port")[0].code, "out_of_range");
    assert_eq!(
        err.fields.paths().collect::<Vec<_>>(),
        ["name", "transport.port"]
    );
    let empty: FieldErrors = serde_json::from_str("{}").unwrap();
    assert!(empty.is_empty());
}
