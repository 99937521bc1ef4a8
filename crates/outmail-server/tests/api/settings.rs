//! Global settings, tenants with their effective configuration, routing rules, export/import.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Answer, TestApp, graph_draft, smtp_draft};

on_both_backends!(
    fresh_global_settings_are_version_0_with_the_defaults,
    global_settings_save_once_with_if_match_0_and_then_0_is_stale,
    global_settings_without_if_match_are_rejected_with_428,
    an_existing_default_profile_is_saved_and_read_back,
    a_tenant_is_created_listed_read_updated_and_deleted,
    changing_a_tenants_id_in_the_put_body_is_refused,
    a_tenant_on_the_global_profile_sends_through_the_default,
    a_tenant_with_its_own_profile_sends_through_it,
    a_tenant_on_the_global_profile_without_a_default_sends_nothing,
    sending_switched_off_globally_wins_over_every_tenant,
    a_tenant_support_address_applies_only_while_tenants_may_have_one,
    routing_rules_are_created_listed_by_priority_updated_and_deleted,
    a_profile_used_by_a_routing_rule_cannot_be_deleted,
    an_export_imports_into_a_fresh_installation_under_new_ids,
    importing_the_same_document_again_is_a_409_naming_every_clash,
);

const SETTINGS: &str = "/api/v1/settings";
const TENANTS: &str = "/api/v1/tenants";
const RULES: &str = "/api/v1/routing-rules";

fn id_of(answer: &Answer) -> String {
    answer.json["id"].as_str().expect("id").to_string()
}

async fn put_settings(app: &TestApp, settings: Value) -> Answer {
    let current = app.get(SETTINGS).await;
    let saved = app.put(SETTINGS, &current.etag(), &settings).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    saved
}

async fn create_tenant(app: &TestApp, tenant: Value) -> Answer {
    let created = app.post(TENANTS, &tenant).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created
}

async fn effective(app: &TestApp, tenant: &str) -> Value {
    let answer = app.get(&format!("{TENANTS}/{tenant}/effective")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json
}

fn use_global(id: &str) -> Value {
    json!({"id": id, "name": id.to_uppercase(), "profile": {"kind": "use_global"}})
}

fn own(id: &str, profile_id: &str) -> Value {
    json!({
        "id": id,
        "name": id.to_uppercase(),
        "profile": {"kind": "own", "profile_id": profile_id}
    })
}

fn domain_rule(domain: &str, profile_id: &str, priority: i64) -> Value {
    json!({
        "match": {"kind": "sender_domain", "domain": domain},
        "profile_id": profile_id,
        "priority": priority
    })
}

// --- Global settings ---------------------------------------------------------------------------

async fn fresh_global_settings_are_version_0_with_the_defaults(app: &TestApp) {
    let answer = app.get(SETTINGS).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.etag(), "\"0\"");
    assert_eq!(
        answer.json,
        json!({
            "version": 0,
            "settings": {
                "sending_enabled": true,
                "default_profile_id": null,
                "support_address": null,
                "tenant_support_allowed": false,
                "attach_system_info": true
            }
        })
    );
}

async fn global_settings_save_once_with_if_match_0_and_then_0_is_stale(app: &TestApp) {
    let settings = json!({
        "sending_enabled": true,
        "support_address": "Support <support@example.com>",
        "tenant_support_allowed": true,
        "attach_system_info": false
    });
    let saved = app.put(SETTINGS, "\"0\"", &settings).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(saved.etag(), "\"1\"");
    assert_eq!(saved.json["version"], 1);

    let read = app.get(SETTINGS).await;
    assert_eq!(read.etag(), "\"1\"");
    assert_eq!(
        read.json["settings"]["support_address"],
        "\"Support\" <support@example.com>"
    );
    assert_eq!(read.json["settings"]["tenant_support_allowed"], true);
    assert_eq!(read.json["settings"]["attach_system_info"], false);

    let stale = app
        .put(SETTINGS, "\"0\"", &json!({"sending_enabled": false, "tenant_support_allowed": false, "attach_system_info": true}))
        .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.text
    );
    assert_eq!(stale.json["code"], "version_mismatch");
    assert_eq!(
        stale.etag(),
        "\"1\"",
        "the answer names the current version"
    );
    assert_eq!(
        app.get(SETTINGS).await.json["settings"]["sending_enabled"],
        true
    );
}

async fn global_settings_without_if_match_are_rejected_with_428(app: &TestApp) {
    let body = json!({"sending_enabled": false, "tenant_support_allowed": false, "attach_system_info": true});
    let answer = app.call(Method::PUT, SETTINGS, Some(&body), &[]).await;
    assert_eq!(answer.status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(answer.json["code"], "if_match_required");
    let read = app.get(SETTINGS).await;
    assert_eq!(read.json["version"], 0);
    assert_eq!(read.json["settings"]["sending_enabled"], true);
}

async fn an_existing_default_profile_is_saved_and_read_back(app: &TestApp) {
    let profile = id_of(&app.create_profile(&smtp_draft("Relay")).await);
    let saved = app
        .put(
            SETTINGS,
            "\"0\"",
            &json!({"sending_enabled": true, "tenant_support_allowed": false, "attach_system_info": true, "default_profile_id": profile}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(
        saved.json["settings"]["default_profile_id"],
        profile.as_str()
    );
    let read = app.get(SETTINGS).await;
    assert_eq!(
        read.json["settings"]["default_profile_id"],
        profile.as_str()
    );
    assert_eq!(read.json["version"], 1);
}

// --- Tenants -----------------------------------------------------------------------------------

async fn a_tenant_is_created_listed_read_updated_and_deleted(app: &TestApp) {
    let profile = id_of(&app.create_profile(&smtp_draft("Acme relay")).await);
    let created = create_tenant(app, use_global("acme")).await;
    assert_eq!(created.etag(), "\"1\"");
    assert_eq!(created.headers["location"], "/api/v1/tenants/acme");
    assert_eq!(created.json["version"], 1);
    assert_eq!(
        created.json["tenant"],
        json!({
            "id": "acme", "name": "ACME", "profile": {"kind": "use_global"}, "support_address": null
        })
    );
    create_tenant(app, use_global("beta")).await;

    let list = app.get(TENANTS).await;
    assert_eq!(list.status, StatusCode::OK);
    let ids: Vec<&str> = list
        .json
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| t["tenant"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme", "beta"]);

    let read = app.get("/api/v1/tenants/acme").await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.etag(), "\"1\"");
    assert_eq!(read.json["tenant"]["name"], "ACME");

    let mut changed = own("acme", &profile);
    changed["name"] = json!("Acme Corporation");
    let updated = app.put("/api/v1/tenants/acme", "\"1\"", &changed).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.etag(), "\"2\"");
    assert_eq!(updated.json["version"], 2);
    assert_eq!(updated.json["tenant"]["name"], "Acme Corporation");
    assert_eq!(
        updated.json["tenant"]["profile"],
        json!({"kind": "own", "profile_id": profile})
    );
    let stale = app.put("/api/v1/tenants/acme", "\"1\"", &changed).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);

    assert_eq!(effective(app, "acme").await["profile_source"], "tenant");
    let deleted = app.delete("/api/v1/tenants/acme", "\"2\"").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_eq!(
        app.get("/api/v1/tenants/acme").await.status,
        StatusCode::NOT_FOUND
    );
    let gone = app.get("/api/v1/tenants/acme/effective").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(TENANTS).await.json.as_array().unwrap().len(), 1);
}

async fn changing_a_tenants_id_in_the_put_body_is_refused(app: &TestApp) {
    create_tenant(app, use_global("acme")).await;
    let renamed = app
        .put("/api/v1/tenants/acme", "\"1\"", &use_global("acme-2"))
        .await;
    assert_eq!(
        renamed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        renamed.text
    );
    assert_eq!(renamed.field_codes("id"), ["immutable"]);
    assert_eq!(app.get("/api/v1/tenants/acme").await.json["version"], 1);
    assert_eq!(
        app.get("/api/v1/tenants/acme-2").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn a_tenant_on_the_global_profile_sends_through_the_default(app: &TestApp) {
    let global = id_of(&app.create_profile(&smtp_draft("Global relay")).await);
    put_settings(
        app,
        json!({"sending_enabled": true, "tenant_support_allowed": false, "attach_system_info": true, "default_profile_id": global}),
    )
    .await;
    create_tenant(app, use_global("acme")).await;

    let view = effective(app, "acme").await;
    assert_eq!(view["tenant"], "acme");
    assert_eq!(view["sending_enabled"], true);
    assert_eq!(view["profile_source"], "global");
    assert_eq!(view["profile"]["id"], global.as_str());
    assert_eq!(view["profile"]["name"], "Global relay");
    assert_eq!(view["profile"]["transport"], "smtp");
    assert_eq!(view["profile"]["target"], "smtp.example.com:587 (starttls)");
    assert!(!view["reason"].as_str().unwrap().is_empty());
}

async fn a_tenant_with_its_own_profile_sends_through_it(app: &TestApp) {
    let global = id_of(&app.create_profile(&smtp_draft("Global relay")).await);
    let globex = id_of(&app.create_profile(&graph_draft("Globex Graph")).await);
    put_settings(
        app,
        json!({"sending_enabled": true, "tenant_support_allowed": false, "attach_system_info": true, "default_profile_id": global}),
    )
    .await;
    create_tenant(app, own("globex", &globex)).await;

    let view = effective(app, "globex").await;
    assert_eq!(view["sending_enabled"], true);
    assert_eq!(view["profile_source"], "tenant");
    assert_eq!(view["profile"]["id"], globex.as_str());
    assert_eq!(view["profile"]["name"], "Globex Graph");
    assert_eq!(view["profile"]["transport"], "graph");
}

async fn a_tenant_on_the_global_profile_without_a_default_sends_nothing(app: &TestApp) {
    create_tenant(app, use_global("acme")).await;
    let view = effective(app, "acme").await;
    assert_eq!(view["sending_enabled"], true);
    assert_eq!(view["profile_source"], "none");
    assert_eq!(view["profile"], Value::Null);
    let reason = view["reason"].as_str().unwrap();
    assert!(reason.contains("no default profile"), "{reason}");
}

async fn sending_switched_off_globally_wins_over_every_tenant(app: &TestApp) {
    let global = id_of(&app.create_profile(&smtp_draft("Global relay")).await);
    let globex = id_of(&app.create_profile(&smtp_draft("Globex relay")).await);
    put_settings(
        app,
        json!({"sending_enabled": false, "tenant_support_allowed": false, "attach_system_info": true, "default_profile_id": global}),
    )
    .await;
    create_tenant(app, use_global("acme")).await;
    create_tenant(app, own("globex", &globex)).await;

    for tenant in ["acme", "globex"] {
        let view = effective(app, tenant).await;
        assert_eq!(view["sending_enabled"], false, "{tenant}");
        assert_eq!(view["profile_source"], "none", "{tenant}");
        assert_eq!(view["profile"], Value::Null, "{tenant}");
        let reason = view["reason"].as_str().unwrap();
        assert!(reason.contains("switched off"), "{tenant}: {reason}");
    }
}

async fn a_tenant_support_address_applies_only_while_tenants_may_have_one(app: &TestApp) {
    let mut settings = json!({
        "sending_enabled": true,
        "support_address": "help@vendor.example",
        "tenant_support_allowed": false,
        "attach_system_info": true
    });
    put_settings(app, settings.clone()).await;
    let mut acme = use_global("acme");
    acme["support_address"] = json!("it@acme.example");
    create_tenant(app, acme).await;
    create_tenant(app, use_global("beta")).await;

    let view = effective(app, "acme").await;
    assert_eq!(view["support_address"], "help@vendor.example");
    assert_eq!(view["support_address_source"], "global");

    settings["tenant_support_allowed"] = json!(true);
    put_settings(app, settings).await;
    let view = effective(app, "acme").await;
    assert_eq!(view["support_address"], "it@acme.example");
    assert_eq!(view["support_address_source"], "tenant");
    // A tenant without an address of its own still gets the global one.
    let view = effective(app, "beta").await;
    assert_eq!(view["support_address"], "help@vendor.example");
    assert_eq!(view["support_address_source"], "global");
}

// --- Routing rules -----------------------------------------------------------------------------

fn rule_priorities(list: &Answer) -> Vec<i64> {
    list.json
        .as_array()
        .expect("a list")
        .iter()
        .map(|rule| rule["rule"]["priority"].as_i64().unwrap())
        .collect()
}

async fn routing_rules_are_created_listed_by_priority_updated_and_deleted(app: &TestApp) {
    let relay = id_of(&app.create_profile(&smtp_draft("Relay")).await);
    let mut ids = BTreeMap::new();
    for (domain, priority) in [
        ("late.example", 20),
        ("first.example", -5),
        ("mid.example", 10),
    ] {
        let created = app
            .post(RULES, &domain_rule(domain, &relay, priority))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        assert_eq!(created.etag(), "\"1\"");
        let id = id_of(&created);
        assert_eq!(
            created.headers["location"].to_str().unwrap(),
            format!("{RULES}/{id}")
        );
        assert_eq!(created.json["rule"]["match"]["domain"], domain);
        ids.insert(domain, id);
    }
    assert_eq!(rule_priorities(&app.get(RULES).await), [-5, 10, 20]);

    let first = format!("{RULES}/{}", ids["first.example"]);
    let updated = app
        .put(&first, "\"1\"", &domain_rule("first.example", &relay, 30))
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.etag(), "\"2\"");
    assert_eq!(updated.json["rule"]["priority"], 30);
    let list = app.get(RULES).await;
    assert_eq!(rule_priorities(&list), [10, 20, 30]);
    assert_eq!(list.json[2]["id"], ids["first.example"].as_str());

    let stale = app.delete(&first, "\"1\"").await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let deleted = app.delete(&first, "\"2\"").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_eq!(app.get(&first).await.status, StatusCode::NOT_FOUND);
    assert_eq!(rule_priorities(&app.get(RULES).await), [10, 20]);
}

async fn a_profile_used_by_a_routing_rule_cannot_be_deleted(app: &TestApp) {
    let relay = id_of(&app.create_profile(&smtp_draft("Relay")).await);
    let rule = app
        .post(RULES, &domain_rule("example.com", &relay, 0))
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.text);

    let profile = format!("/api/v1/profiles/{relay}");
    let refused = app.delete(&profile, "\"1\"").await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.json["code"], "in_use");
    let message = refused.json["message"].as_str().unwrap();
    assert!(message.contains("routing rule"), "{message}");
    assert_eq!(app.get(&profile).await.status, StatusCode::OK);

    let rule_path = format!("{RULES}/{}", id_of(&rule));
    assert_eq!(
        app.delete(&rule_path, "\"1\"").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&profile, "\"1\"").await.status,
        StatusCode::NO_CONTENT
    );
}

// --- Export and import -------------------------------------------------------------------------

/// A second, empty installation on the same backend as `app`.
async fn fresh_app_like(app: &TestApp) -> TestApp {
    match app.store.backend_name() {
        "postgres" => TestApp::postgres()
            .await
            .expect("the PostgreSQL half is running"),
        _ => TestApp::sqlite().await,
    }
}

/// On `app`: a primary relay failing over to a backup, the primary as global default, a tenant
/// with its own Graph profile and a routing rule. Returns the profile IDs by name.
async fn build_configuration(app: &TestApp) -> BTreeMap<&'static str, String> {
    let backup = id_of(&app.create_profile(&smtp_draft("Backup relay")).await);
    let mut primary = smtp_draft("Primary relay");
    primary["alternate_profile_id"] = json!(backup);
    let primary = id_of(&app.create_profile(&primary).await);
    let graph = id_of(&app.create_profile(&graph_draft("Globex Graph")).await);
    put_settings(
        app,
        json!({
            "sending_enabled": true,
            "default_profile_id": primary,
            "support_address": "Support <support@example.com>",
            "tenant_support_allowed": true,
            "attach_system_info": false
        }),
    )
    .await;
    create_tenant(app, own("globex", &graph)).await;
    create_tenant(app, use_global("acme")).await;
    let rule = app
        .post(RULES, &domain_rule("backup.example", &backup, 5))
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.text);
    BTreeMap::from([
        ("Backup relay", backup),
        ("Primary relay", primary),
        ("Globex Graph", graph),
    ])
}

struct Counts {
    profiles: u64,
    tenants: usize,
    rules: usize,
    settings_version: i64,
}

async fn counts(app: &TestApp) -> Counts {
    Counts {
        profiles: app.get("/api/v1/profiles").await.json["total"]
            .as_u64()
            .unwrap(),
        tenants: app.get(TENANTS).await.json.as_array().unwrap().len(),
        rules: app.get(RULES).await.json.as_array().unwrap().len(),
        settings_version: app.get(SETTINGS).await.json["version"].as_i64().unwrap(),
    }
}

async fn an_export_imports_into_a_fresh_installation_under_new_ids(app: &TestApp) {
    let a_ids = build_configuration(app).await;
    let export = app.get("/api/v1/export").await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    assert_eq!(export.json["version"], 1);

    let b = fresh_app_like(app).await;
    let report = b.post("/api/v1/import", &export.json).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    assert_eq!(report.json["profiles"], 3);
    assert_eq!(report.json["tenants"], 2);
    assert_eq!(report.json["routing_rules"], 1);

    // Every exported ID maps to a new one, which B knows under the same name.
    let map: BTreeMap<String, String> =
        serde_json::from_value(report.json["profile_ids"].clone()).expect("profile_ids");
    let old: Vec<&String> = map.keys().collect();
    let mut expected_old: Vec<&String> = a_ids.values().collect();
    expected_old.sort();
    assert_eq!(old, expected_old);
    for (name, a_id) in &a_ids {
        let b_id = &map[a_id];
        assert_ne!(b_id, a_id, "{name} got a new ID");
        let view = b.get(&format!("/api/v1/profiles/{b_id}")).await;
        assert_eq!(view.status, StatusCode::OK, "{}", view.text);
        assert_eq!(view.json["profile"]["name"], *name);
    }

    // Secrets did not travel: each imported profile asks for its own again.
    let secrets: BTreeMap<String, Vec<String>> =
        serde_json::from_value(report.json["secrets_to_enter"].clone()).expect("secrets");
    let expected = BTreeMap::from([
        (
            map[&a_ids["Backup relay"]].clone(),
            vec!["transport.auth.password".to_string()],
        ),
        (
            map[&a_ids["Primary relay"]].clone(),
            vec!["transport.auth.password".to_string()],
        ),
        (
            map[&a_ids["Globex Graph"]].clone(),
            vec!["transport.oauth.client_secret".to_string()],
        ),
    ]);
    assert_eq!(secrets, expected);
    let primary = b
        .get(&format!(
            "/api/v1/profiles/{}",
            map[&a_ids["Primary relay"]]
        ))
        .await;
    assert_eq!(
        primary.json["profile"]["transport"]["auth"]["password"],
        json!({"set": false})
    );
    assert_eq!(
        primary.json["secrets"][0],
        json!({
            "slot": "transport.auth.password", "required": true, "set": false
        })
    );
    assert_eq!(
        primary.json["profile"]["alternate_profile_id"],
        map[&a_ids["Backup relay"]].as_str(),
        "the alternate points at B's copy of the backup"
    );
    let graph = b
        .get(&format!("/api/v1/profiles/{}", map[&a_ids["Globex Graph"]]))
        .await;
    assert_eq!(
        graph.json["profile"]["transport"]["oauth"]["client_secret"],
        json!({"set": false})
    );

    // B's export is A's once B's IDs are read as A's.
    let b_export = b.get("/api/v1/export").await;
    assert_eq!(b_export.status, StatusCode::OK);
    let mut text = b_export.text.clone();
    for (a_id, b_id) in &map {
        text = text.replace(b_id.as_str(), a_id);
    }
    let mapped: Value = serde_json::from_str(&text).expect("export JSON");
    assert_eq!(mapped, export.json);
    let global = effective(&b, "acme").await;
    assert_eq!(
        global["profile"]["id"],
        map[&a_ids["Primary relay"]].as_str()
    );
    b.finish().await;
}

async fn importing_the_same_document_again_is_a_409_naming_every_clash(app: &TestApp) {
    build_configuration(app).await;
    let export = app.get("/api/v1/export").await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);

    let b = fresh_app_like(app).await;
    let first = b.post("/api/v1/import", &export.json).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let before = counts(&b).await;
    assert_eq!((before.profiles, before.tenants, before.rules), (3, 2, 1));

    let again = b.post("/api/v1/import", &export.json).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(again.json["code"], "conflict");
    let profiles = export.json["profiles"].as_array().unwrap();
    for (index, exported) in profiles.iter().enumerate() {
        let path = format!("profiles.{index}.profile.name");
        assert_eq!(
            again.field_codes(&path),
            ["duplicate_name"],
            "{path}: {}",
            again.text
        );
        let name = exported["profile"]["name"].as_str().unwrap();
        let message = again.json["fields"][&path][0]["message"].as_str().unwrap();
        assert!(message.contains(name), "{message}");
    }
    let tenants = export.json["tenants"].as_array().unwrap();
    for (index, tenant) in tenants.iter().enumerate() {
        let path = format!("tenants.{index}.id");
        assert_eq!(
            again.field_codes(&path),
            ["duplicate_id"],
            "{path}: {}",
            again.text
        );
        let id = tenant["id"].as_str().unwrap();
        let message = again.json["fields"][&path][0]["message"].as_str().unwrap();
        assert!(message.contains(id), "{message}");
    }
    let named = again.json["fields"].as_object().unwrap().len();
    assert_eq!(named, profiles.len() + tenants.len(), "{}", again.text);

    let after = counts(&b).await;
    assert_eq!(
        (
            after.profiles,
            after.tenants,
            after.rules,
            after.settings_version
        ),
        (
            before.profiles,
            before.tenants,
            before.rules,
            before.settings_version
        ),
        "nothing was created or changed by the refused import"
    );
    b.finish().await;
}
