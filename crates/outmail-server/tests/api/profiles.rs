//! Profiles: create, read, list, update with versions, delete, duplicate, secrets and references.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{CANARIES, TestApp, graph_draft, smtp_draft};

on_both_backends!(
    a_created_profile_reads_back_with_its_etag_and_location,
    secrets_are_reported_as_set_and_never_returned,
    secrets_are_sealed_at_rest,
    the_list_filters_by_name_and_transport_and_pages,
    an_update_with_the_current_etag_bumps_the_version,
    a_stale_if_match_is_rejected_with_412,
    an_update_without_if_match_is_rejected_with_428,
    a_name_taken_in_another_case_is_a_409_on_the_name,
    changing_the_host_without_the_password_again_is_refused,
    a_get_view_sent_back_unchanged_keeps_the_secrets,
    a_secret_can_be_cleared_only_when_optional,
    a_deleted_profile_is_gone_and_a_stale_delete_is_refused,
    a_profile_in_use_cannot_be_deleted,
    a_duplicate_copies_settings_and_secrets_under_a_free_name,
    an_alternate_must_exist_and_must_not_lead_back,
    an_unknown_profile_is_404,
    a_row_without_a_stored_target_is_listed_from_its_document,
);

fn path(answer: &crate::support::Answer) -> String {
    format!(
        "/api/v1/profiles/{}",
        answer.json["id"].as_str().expect("id")
    )
}

async fn a_created_profile_reads_back_with_its_etag_and_location(app: &TestApp) {
    let created = app.create_profile(&smtp_draft("Office relay")).await;
    assert_eq!(created.etag(), "\"1\"");
    assert_eq!(created.json["version"], 1);
    let location = created.headers["location"].to_str().unwrap().to_string();
    assert_eq!(location, path(&created));

    let read = app.get(&location).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.etag(), "\"1\"");
    assert_eq!(read.json["profile"]["name"], "Office relay");
    assert_eq!(
        read.json["profile"]["transport"]["host"],
        "smtp.example.com"
    );
    assert_eq!(read.json["profile"]["transport"]["port"], 587);
    assert!(read.json["created_at"].as_str().unwrap().ends_with('Z'));
}

async fn secrets_are_reported_as_set_and_never_returned(app: &TestApp) {
    let smtp = app.create_profile(&smtp_draft("Relay")).await;
    let graph = app.create_profile(&graph_draft("Graph")).await;
    assert_eq!(
        smtp.json["profile"]["transport"]["auth"]["password"],
        json!({"set": true})
    );
    assert_eq!(
        graph.json["profile"]["transport"]["oauth"]["client_secret"],
        json!({"set": true})
    );
    // Every way of reading the settings back; `finish` asserts no body carried a canary.
    app.get(&path(&smtp)).await;
    app.get(&path(&graph)).await;
    app.get("/api/v1/profiles").await;
    let export = app.get("/api/v1/export").await;
    assert_eq!(export.status, StatusCode::OK);
    for canary in CANARIES {
        assert!(!export.text.contains(canary));
    }
}

async fn secrets_are_sealed_at_rest(app: &TestApp) {
    let created = app.create_profile(&smtp_draft("Relay")).await;
    let id = created.json["id"].as_str().unwrap();
    // The store hands the value back only through the key...
    let opened = app
        .store
        .open_secret(id, "transport.auth.password")
        .await
        .unwrap()
        .expect("stored");
    use outmail_store::ExposeSecret;
    assert_eq!(opened.expose_secret(), CANARIES[0]);
    // ...and the SQLite file never holds it in clear (PostgreSQL is checked by the store's tests).
    let database = app.data_dir.path().join("outmail.db");
    if database.exists() {
        app.store.close().await;
        for file in ["outmail.db", "outmail.db-wal"] {
            let path = app.data_dir.path().join(file);
            if let Ok(bytes) = std::fs::read(&path) {
                let found = bytes
                    .windows(CANARIES[0].len())
                    .any(|w| w == CANARIES[0].as_bytes());
                assert!(!found, "{file} holds the password in clear");
            }
        }
    }
}

async fn the_list_filters_by_name_and_transport_and_pages(app: &TestApp) {
    for name in ["Relay A", "Relay B", "Backup relay"] {
        app.create_profile(&smtp_draft(name)).await;
    }
    app.create_profile(&graph_draft("Graph tenant")).await;

    let all = app.get("/api/v1/profiles").await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.json["total"], 4);
    assert_eq!(all.json["page"], 1);
    assert_eq!(all.json["per_page"], 50);

    let relays = app.get("/api/v1/profiles?name=RELAY").await;
    let names: Vec<&str> = relays.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap())
        .collect();
    assert_eq!(relays.json["total"], 3, "{names:?}");

    let graph = app.get("/api/v1/profiles?transport=graph").await;
    assert_eq!(graph.json["total"], 1);
    assert_eq!(graph.json["items"][0]["transport"], "graph");
    assert_eq!(
        graph.json["items"][0]["target"],
        "https://graph.microsoft.com"
    );

    let second_page = app.get("/api/v1/profiles?per_page=3&page=2").await;
    assert_eq!(second_page.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(second_page.json["total"], 4);
}

async fn an_update_with_the_current_etag_bumps_the_version(app: &TestApp) {
    let created = app.create_profile(&smtp_draft("Relay")).await;
    let mut draft = smtp_draft("Relay (renamed)");
    draft["transport"]["auth"]["password"] = json!({"set": true});
    let updated = app.put(&path(&created), "\"1\"", &draft).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.etag(), "\"2\"");
    assert_eq!(updated.json["profile"]["name"], "Relay (renamed)");
    assert_eq!(
        updated.json["profile"]["transport"]["auth"]["password"],
        json!({"set": true})
    );
}

async fn a_stale_if_match_is_rejected_with_412(app: &TestApp) {
    let created = app.create_profile(&smtp_draft("Relay")).await;
    let mut draft = smtp_draft("Relay");
    draft["transport"]["auth"]["password"] = json!({"set": true});
    assert_eq!(
        app.put(&path(&created), "\"1\"", &draft).await.status,
        StatusCode::OK
    );

    draft["name"] = json!("Someone else's edit");
    let stale = app.put(&path(&created), "\"1\"", &draft).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.json["code"], "version_mismatch");
    assert_eq!(
        stale.etag(),
        "\"2\"",
        "the answer names the current version"
    );
    assert_eq!(
        app.get(&path(&created)).await.json["profile"]["name"],
        "Relay"
    );
}

async fn an_update_without_if_match_is_rejected_with_428(app: &TestApp) {
    let created = app.create_profile(&smtp_draft("Relay")).await;
    let answer = app
        .call(
            Method::PUT,
            &path(&created),
            Some(&smtp_draft("Relay")),
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(answer.json["code"], "if_match_required");
    let answer = app.call(Method::DELETE, &path(&created), None, &[]).await;
    assert_eq!(answer.status, StatusCode::PRECONDITION_REQUIRED);
}

async fn a_name_taken_in_another_case_is_a_409_on_the_name(app: &TestApp) {
    app.create_profile(&smtp_draft("Office Relay")).await;
    let clash = app
        .post("/api/v1/profiles", &smtp_draft("office relay"))
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    assert_eq!(clash.field_codes("name"), vec!["duplicate_name"]);
}

async fn changing_the_host_without_the_password_again_is_refused(app: &TestApp) {
    let created = app.create_profile(&smtp_draft("Relay")).await;
    let mut moved = smtp_draft("Relay");
    moved["transport"]["host"] = json!("smtp.elsewhere.example");
    moved["transport"]["auth"]["password"] = json!({"set": true});
    let refused = app.put(&path(&created), "\"1\"", &moved).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert_eq!(
        refused.field_codes("transport.auth.password"),
        vec!["destination_changed"]
    );

    // Entering it again for the new host is accepted.
    moved["transport"]["auth"]["password"] = json!({"value": CANARIES[0]});
    let accepted = app.put(&path(&created), "\"1\"", &moved).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    assert_eq!(
        accepted.json["profile"]["transport"]["host"],
        "smtp.elsewhere.example"
    );
}

async fn a_get_view_sent_back_unchanged_keeps_the_secrets(app: &TestApp) {
    let created = app.create_profile(&graph_draft("Graph")).await;
    let view = app.get(&path(&created)).await;
    let resent = app
        .put(&path(&created), &view.etag(), &view.json["profile"])
        .await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.text);
    assert_eq!(
        resent.json["profile"]["transport"]["oauth"]["client_secret"],
        json!({"set": true})
    );
}

async fn a_secret_can_be_cleared_only_when_optional(app: &TestApp) {
    let created = app.create_profile(&smtp_draft("Relay")).await;
    let mut draft = smtp_draft("Relay");
    draft["transport"]["auth"]["password"] = json!({"set": false});
    let refused = app.put(&path(&created), "\"1\"", &draft).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused.field_codes("transport.auth.password"),
        vec!["required"]
    );

    // A proxy password goes with a proxy username: set with it, cleared when the username goes.
    let mut with_proxy = smtp_draft("Relay");
    with_proxy["transport"]["auth"]["password"] = json!({"set": true});
    with_proxy["proxy"] = json!({
        "kind": "socks5", "host": "127.0.0.1", "port": 1080,
        "username": "relay", "password": {"value": CANARIES[2]}
    });
    let set = app.put(&path(&created), "\"1\"", &with_proxy).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(
        set.json["profile"]["proxy"]["password"],
        json!({"set": true})
    );
    with_proxy["proxy"]["username"] = Value::Null;
    with_proxy["proxy"]["password"] = json!({"set": false});
    let cleared = app.put(&path(&created), "\"2\"", &with_proxy).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    assert_eq!(
        cleared.json["profile"]["proxy"]["password"],
        json!({"set": false})
    );
}

async fn a_deleted_profile_is_gone_and_a_stale_delete_is_refused(app: &TestApp) {
    let created = app.create_profile(&smtp_draft("Relay")).await;
    let stale = app.delete(&path(&created), "\"7\"").await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let deleted = app.delete(&path(&created), "\"1\"").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path(&created)).await.status, StatusCode::NOT_FOUND);
    let id = created.json["id"].as_str().unwrap();
    let secrets = app.store.profile_secrets(id).await;
    assert!(
        matches!(&secrets, Err(outmail_store::StoreError::NotFound))
            || matches!(&secrets, Ok(s) if s.is_empty()),
        "the secrets went with the profile: {secrets:?}"
    );
}

async fn a_profile_in_use_cannot_be_deleted(app: &TestApp) {
    let primary = app.create_profile(&smtp_draft("Primary")).await;
    let backup = app.create_profile(&smtp_draft("Backup")).await;
    let mut draft = smtp_draft("Primary");
    draft["transport"]["auth"]["password"] = json!({"set": true});
    draft["alternate_profile_id"] = backup.json["id"].clone();
    assert_eq!(
        app.put(&path(&primary), "\"1\"", &draft).await.status,
        StatusCode::OK
    );

    let refused = app.delete(&path(&backup), "\"1\"").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.json["code"], "in_use");
    assert!(
        refused.json["message"]
            .as_str()
            .unwrap()
            .contains("Primary")
    );

    let settings = json!({"sending_enabled": true, "tenant_support_allowed": false, "attach_system_info": true, "default_profile_id": primary.json["id"]});
    assert_eq!(
        app.put("/api/v1/settings", "\"0\"", &settings).await.status,
        StatusCode::OK
    );
    let refused = app.delete(&path(&primary), "\"2\"").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.json["message"]
            .as_str()
            .unwrap()
            .contains("global settings")
    );
}

async fn a_duplicate_copies_settings_and_secrets_under_a_free_name(app: &TestApp) {
    let original = app.create_profile(&smtp_draft("Relay")).await;
    let copy_path = format!("{}/duplicate", path(&original));
    let first = app.post(&copy_path, &json!({})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.json["profile"]["name"], "Copy of Relay");
    assert_eq!(
        first.json["profile"]["transport"]["auth"]["password"],
        json!({"set": true})
    );
    let second = app.post(&copy_path, &json!({})).await;
    assert_eq!(second.json["profile"]["name"], "Copy of Relay (2)");
    let named = app
        .post(&copy_path, &json!({"name": "Relay for tenant B"}))
        .await;
    assert_eq!(named.json["profile"]["name"], "Relay for tenant B");
    let clash = app.post(&copy_path, &json!({"name": "relay"})).await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    let copy_id = first.json["id"].as_str().unwrap();
    use outmail_store::ExposeSecret;
    let secret = app
        .store
        .open_secret(copy_id, "transport.auth.password")
        .await
        .unwrap();
    assert_eq!(secret.unwrap().expose_secret(), CANARIES[0]);
}

async fn an_alternate_must_exist_and_must_not_lead_back(app: &TestApp) {
    let mut draft = smtp_draft("Primary");
    draft["alternate_profile_id"] = json!("no-such-profile");
    let unknown = app.post("/api/v1/profiles", &draft).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        unknown.field_codes("alternate_profile_id"),
        vec!["unknown_profile"]
    );

    let a = app.create_profile(&smtp_draft("A")).await;
    let mut b_draft = smtp_draft("B");
    b_draft["alternate_profile_id"] = a.json["id"].clone();
    let b = app.create_profile(&b_draft).await;

    let mut a_draft = smtp_draft("A");
    a_draft["transport"]["auth"]["password"] = json!({"set": true});
    a_draft["alternate_profile_id"] = a.json["id"].clone();
    let own = app.put(&path(&a), "\"1\"", &a_draft).await;
    assert_eq!(
        own.field_codes("alternate_profile_id"),
        vec!["self_reference"]
    );

    a_draft["alternate_profile_id"] = b.json["id"].clone();
    let cycle = app.put(&path(&a), "\"1\"", &a_draft).await;
    assert_eq!(cycle.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        cycle.field_codes("alternate_profile_id"),
        vec!["alternate_cycle"]
    );
}

async fn an_unknown_profile_is_404(app: &TestApp) {
    let answer = app.get("/api/v1/profiles/no-such-profile").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json["code"], "not_found");
    assert_eq!(answer.json["message"], "no such profile");
    let _: Value = answer.json;
}

async fn a_row_without_a_stored_target_is_listed_from_its_document(app: &TestApp) {
    let created = app.create_profile(&smtp_draft("Older relay")).await;
    let id = created.json["id"].as_str().unwrap();
    // As a row written before the summary column existed.
    let row = app.store.get_profile(id).await.unwrap();
    let write = outmail_store::ProfileWrite {
        name: row.name,
        name_key: row.name_key,
        transport: row.transport,
        target: String::new(),
        document: row.document,
        refers_to: Vec::new(),
    };
    app.store
        .update_profile(id, row.version, &write, Vec::new())
        .await
        .unwrap();
    let list = app.get("/api/v1/profiles").await;
    assert_eq!(
        list.json["items"][0]["target"],
        "smtp.example.com:587 (starttls)"
    );
}
