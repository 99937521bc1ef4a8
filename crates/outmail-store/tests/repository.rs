//! The repository suite: every test runs once on SQLite and once on PostgreSQL.

mod support;

use std::collections::BTreeSet;

use outmail_store::seal::sealed_key_version;
use outmail_store::{
    ExposeSecret, ImportBatch, Plaintext, ProfileQuery, ProfileRow, ProfileWrite, RoutingRuleWrite,
    SealError, SecretChange, SecretWrite, SettingsDocuments, Store, StoreError, StoredSecret,
    TenantWrite,
};
use support::Harness;

on_both_backends!(
    the_store_names_its_backend,
    a_created_profile_reads_back_at_version_1,
    profiles_are_listed_by_name_with_filter_and_paging,
    names_differing_only_in_case_conflict,
    an_update_with_the_current_version_bumps_it,
    a_stale_version_is_refused,
    a_delete_with_a_stale_version_is_refused,
    unknown_ids_are_not_found,
    secrets_can_be_set_kept_and_cleared,
    keeping_a_secret_for_another_destination_is_refused_and_nothing_changes,
    a_sealed_secret_moved_to_another_row_or_destination_does_not_open,
    key_rotation_reseals_every_secret_and_the_old_key_can_go,
    deleting_a_profile_deletes_its_secrets,
    tenants_are_created_updated_and_deleted_with_versions,
    the_global_settings_start_absent_and_save_with_versions,
    routing_rules_are_listed_by_priority_and_updated_with_versions,
    concurrent_updates_with_the_same_version_let_exactly_one_win,
    concurrent_first_saves_of_the_global_settings_let_exactly_one_win,
    a_profile_still_named_by_a_setting_is_not_deleted,
    a_setting_cannot_name_a_profile_that_does_not_exist,
    a_reference_racing_a_delete_never_dangles,
    an_import_that_fails_half_way_writes_nothing,
);

/// A delete's reference check that finds nobody.
fn no_users(_: &SettingsDocuments) -> Result<Vec<String>, String> {
    Ok(Vec::new())
}

fn profile(name: &str, transport: &str) -> ProfileWrite {
    ProfileWrite {
        name: name.to_owned(),
        name_key: name.to_lowercase(),
        transport: transport.to_owned(),
        target: format!("{name}.example:587 (starttls)"),
        document: format!(r#"{{"name":"{name}"}}"#),
        refers_to: Vec::new(),
    }
}

fn secret(slot: &str, plaintext: &str, destination: &str) -> SecretWrite {
    SecretWrite {
        slot: slot.to_owned(),
        plaintext: Plaintext::from(plaintext),
        destination: destination.to_owned(),
    }
}

async fn opened(store: &Store, id: &str, slot: &str) -> Option<String> {
    store
        .open_secret(id, slot)
        .await
        .expect("open_secret")
        .map(|s| s.expose_secret().to_owned())
}

async fn the_store_names_its_backend(h: &Harness) {
    let expected = if h.url.starts_with("sqlite") {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(h.store.backend_name(), expected);
    h.store.ping().await.expect("ping");
}

async fn a_created_profile_reads_back_at_version_1(h: &Harness) {
    let created = h
        .store
        .create_profile(&profile("Relay", "smtp"), vec![])
        .await
        .expect("create");
    assert_eq!(created.version, 1);
    assert_eq!(created.name, "Relay");
    assert_eq!(created.name_key, "relay");
    assert_eq!(created.document, r#"{"name":"Relay"}"#);
    assert_eq!(created.created_at, created.updated_at);
    assert!(uuid::Uuid::parse_str(&created.id).is_ok(), "{}", created.id);
    assert_eq!(
        h.store.get_profile(&created.id).await.expect("get"),
        created
    );
}

async fn profiles_are_listed_by_name_with_filter_and_paging(h: &Harness) {
    for (name, transport) in [
        ("Zeta relay", "smtp"),
        ("alpha Relay", "smtp"),
        ("Graph main", "graph"),
        ("Exchange", "ews"),
        ("relay 100%", "smtp"),
        ("relay_x", "ews"),
    ] {
        h.store
            .create_profile(&profile(name, transport), vec![])
            .await
            .expect("create");
    }
    let names = |rows: &[ProfileRow]| rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>();

    let all = h
        .store
        .list_profiles(&ProfileQuery::default())
        .await
        .expect("list");
    assert_eq!(all.total, 6);
    assert_eq!(
        names(&all.items),
        [
            "alpha Relay",
            "Exchange",
            "Graph main",
            "relay 100%",
            "relay_x",
            "Zeta relay"
        ]
    );

    let relays = h
        .store
        .list_profiles(&ProfileQuery {
            name_contains: Some("RELAY".into()),
            ..ProfileQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(relays.total, 4);

    let smtp_relays = h
        .store
        .list_profiles(&ProfileQuery {
            name_contains: Some("relay".into()),
            transport: Some("smtp".into()),
            ..ProfileQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(
        names(&smtp_relays.items),
        ["alpha Relay", "relay 100%", "Zeta relay"]
    );

    // LIKE wildcards in the filter are plain characters.
    for (needle, expected) in [("%", vec!["relay 100%"]), ("_", vec!["relay_x"])] {
        let found = h
            .store
            .list_profiles(&ProfileQuery {
                name_contains: Some(needle.into()),
                ..ProfileQuery::default()
            })
            .await
            .expect("list");
        assert_eq!(names(&found.items), expected, "filter {needle:?}");
    }

    let page_two = h
        .store
        .list_profiles(&ProfileQuery {
            page: 2,
            per_page: 4,
            ..ProfileQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(page_two.total, 6);
    assert_eq!(names(&page_two.items), ["relay_x", "Zeta relay"]);

    let past_the_end = h
        .store
        .list_profiles(&ProfileQuery {
            page: 9,
            per_page: 4,
            ..ProfileQuery::default()
        })
        .await
        .expect("list");
    assert!(past_the_end.items.is_empty());
    assert_eq!(past_the_end.total, 6);

    assert_eq!(h.store.all_profiles().await.expect("all").len(), 6);
}

async fn names_differing_only_in_case_conflict(h: &Harness) {
    h.store
        .create_profile(&profile("Relay", "smtp"), vec![])
        .await
        .expect("create");
    let duplicate = h
        .store
        .create_profile(&profile("relay", "ews"), vec![secret("password", "p", "d")])
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict { field: "name" })),
        "{duplicate:?}"
    );

    let other = h
        .store
        .create_profile(&profile("Backup", "smtp"), vec![])
        .await
        .expect("create");
    let rename = h
        .store
        .update_profile(&other.id, 1, &profile("RELAY", "smtp"), vec![])
        .await;
    assert!(
        matches!(rename, Err(StoreError::Conflict { field: "name" })),
        "{rename:?}"
    );
    // The failed create left no half-written rows behind.
    assert_eq!(
        h.scalar("SELECT COUNT(*) FROM profile_secrets", &[]).await,
        0
    );
    assert_eq!(h.store.all_profiles().await.expect("all").len(), 2);
}

async fn an_update_with_the_current_version_bumps_it(h: &Harness) {
    let created = h
        .store
        .create_profile(&profile("Relay", "smtp"), vec![])
        .await
        .expect("create");
    let updated = h
        .store
        .update_profile(&created.id, 1, &profile("Relay two", "ews"), vec![])
        .await
        .expect("update");
    assert_eq!(updated.version, 2);
    assert_eq!(updated.name_key, "relay two");
    assert_eq!(updated.transport, "ews");
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at >= created.updated_at);
    let again = h
        .store
        .update_profile(&created.id, 2, &profile("Relay three", "ews"), vec![])
        .await
        .expect("update");
    assert_eq!(again.version, 3);
    assert_eq!(h.store.get_profile(&created.id).await.expect("get"), again);
}

async fn a_stale_version_is_refused(h: &Harness) {
    let created = h
        .store
        .create_profile(&profile("Relay", "smtp"), vec![])
        .await
        .expect("create");
    h.store
        .update_profile(&created.id, 1, &profile("Relay", "ews"), vec![])
        .await
        .expect("update");
    let stale = h
        .store
        .update_profile(
            &created.id,
            1,
            &profile("Other", "graph"),
            vec![SecretChange::Set(secret("password", "p", "d"))],
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch { current: 2 })),
        "{stale:?}"
    );
    let current = h.store.get_profile(&created.id).await.expect("get");
    assert_eq!((current.version, current.transport.as_str()), (2, "ews"));
    assert!(
        h.store
            .profile_secrets(&created.id)
            .await
            .expect("secrets")
            .is_empty()
    );
}

async fn a_delete_with_a_stale_version_is_refused(h: &Harness) {
    let created = h
        .store
        .create_profile(&profile("Relay", "smtp"), vec![])
        .await
        .expect("create");
    h.store
        .update_profile(&created.id, 1, &profile("Relay", "smtp"), vec![])
        .await
        .expect("update");
    let stale = h.store.delete_profile(&created.id, 1, no_users).await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch { current: 2 })),
        "{stale:?}"
    );
    h.store.get_profile(&created.id).await.expect("still there");
    h.store
        .delete_profile(&created.id, 2, no_users)
        .await
        .expect("delete with the current version");
    assert!(matches!(
        h.store.get_profile(&created.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        h.store.delete_profile(&created.id, 2, no_users).await,
        Err(StoreError::NotFound)
    ));
}

async fn unknown_ids_are_not_found(h: &Harness) {
    let id = "00000000-0000-4000-8000-000000000000";
    assert!(matches!(
        h.store.get_profile(id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        h.store
            .update_profile(id, 1, &profile("x", "smtp"), vec![])
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        h.store.delete_profile(id, 1, no_users).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        h.store.profile_secrets(id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        h.store
            .open_secret(id, "password")
            .await
            .expect("open")
            .is_none()
    );
    assert!(matches!(
        h.store.get_tenant("nope").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        h.store.get_routing_rule(id).await,
        Err(StoreError::NotFound)
    ));
}

async fn secrets_can_be_set_kept_and_cleared(h: &Harness) {
    let created = h
        .store
        .create_profile(
            &profile("Relay", "smtp"),
            vec![
                secret(
                    "password",
                    "hunter2",
                    "smtp.example:587/starttls/basic/alice",
                ),
                secret("client_secret", "cs-1", "login.example/tenant/client"),
            ],
        )
        .await
        .expect("create");
    let id = created.id.as_str();
    assert_eq!(
        h.store.profile_secrets(id).await.expect("status"),
        [
            StoredSecret {
                slot: "client_secret".into(),
                destination: "login.example/tenant/client".into()
            },
            StoredSecret {
                slot: "password".into(),
                destination: "smtp.example:587/starttls/basic/alice".into()
            },
        ]
    );
    assert_eq!(
        opened(&h.store, id, "password").await.as_deref(),
        Some("hunter2")
    );
    let blob = h.sealed_blob(id, "password").await;
    assert!(
        !blob.windows(7).any(|w| w == b"hunter2"),
        "the plaintext is stored in the clear"
    );

    // Keep one, replace the other, and add a third.
    let updated = h
        .store
        .update_profile(
            id,
            1,
            &profile("Relay", "smtp"),
            vec![
                SecretChange::Keep {
                    slot: "password".into(),
                    destination: "smtp.example:587/starttls/basic/alice".into(),
                },
                SecretChange::Set(secret(
                    "client_secret",
                    "cs-2",
                    "login.example/tenant/client2",
                )),
                SecretChange::Set(secret(
                    "refresh_token",
                    "rt",
                    "login.example/tenant/client2",
                )),
            ],
        )
        .await
        .expect("update");
    assert_eq!(updated.version, 2);
    assert_eq!(
        opened(&h.store, id, "password").await.as_deref(),
        Some("hunter2")
    );
    assert_eq!(
        opened(&h.store, id, "client_secret").await.as_deref(),
        Some("cs-2")
    );
    assert_eq!(
        opened(&h.store, id, "refresh_token").await.as_deref(),
        Some("rt")
    );

    // An update that does not mention a slot leaves it; Clear empties one.
    h.store
        .update_profile(
            id,
            2,
            &profile("Relay", "smtp"),
            vec![
                SecretChange::Clear {
                    slot: "client_secret".into(),
                },
                SecretChange::Clear {
                    slot: "never_set".into(),
                },
            ],
        )
        .await
        .expect("update");
    assert_eq!(opened(&h.store, id, "client_secret").await, None);
    assert_eq!(
        opened(&h.store, id, "password").await.as_deref(),
        Some("hunter2")
    );
    let slots: Vec<String> = h
        .store
        .profile_secrets(id)
        .await
        .expect("status")
        .into_iter()
        .map(|s| s.slot)
        .collect();
    assert_eq!(slots, ["password", "refresh_token"]);
}

async fn keeping_a_secret_for_another_destination_is_refused_and_nothing_changes(h: &Harness) {
    let created = h
        .store
        .create_profile(
            &profile("Relay", "smtp"),
            vec![secret("password", "hunter2", "old.example:587")],
        )
        .await
        .expect("create");
    let moved = h
        .store
        .update_profile(
            &created.id,
            1,
            &profile("Relay moved", "smtp"),
            vec![
                SecretChange::Set(secret("client_secret", "cs", "new.example:587")),
                SecretChange::Keep {
                    slot: "password".into(),
                    destination: "new.example:587".into(),
                },
            ],
        )
        .await;
    assert!(
        matches!(&moved, Err(StoreError::SecretDestinationChanged { slot }) if slot == "password"),
        "{moved:?}"
    );
    // The whole update rolled back: the name, version and the other secret are as before.
    let current = h.store.get_profile(&created.id).await.expect("get");
    assert_eq!((current.version, current.name.as_str()), (1, "Relay"));
    assert_eq!(opened(&h.store, &created.id, "client_secret").await, None);

    // Keeping an empty slot is fine and leaves it empty.
    h.store
        .update_profile(
            &created.id,
            1,
            &profile("Relay", "smtp"),
            vec![SecretChange::Keep {
                slot: "client_secret".into(),
                destination: "anything".into(),
            }],
        )
        .await
        .expect("update");
    assert_eq!(opened(&h.store, &created.id, "client_secret").await, None);
}

async fn a_sealed_secret_moved_to_another_row_or_destination_does_not_open(h: &Harness) {
    let first = h
        .store
        .create_profile(
            &profile("First", "smtp"),
            vec![secret("password", "first-secret", "first.example")],
        )
        .await
        .expect("create");
    let second = h
        .store
        .create_profile(
            &profile("Second", "smtp"),
            vec![secret("password", "second-secret", "first.example")],
        )
        .await
        .expect("create");

    // Same slot, same destination, other profile: the profile id in the associated data differs.
    let copied = h
        .execute(
            "UPDATE profile_secrets SET sealed = \
             (SELECT sealed FROM profile_secrets WHERE profile_id = $1 AND slot = 'password') \
             WHERE profile_id = $2 AND slot = 'password'",
            &[&first.id, &second.id],
        )
        .await;
    assert_eq!(copied, 1);
    let refused = h.store.open_secret(&second.id, "password").await;
    assert!(
        matches!(refused, Err(StoreError::Seal(SealError::OpenFailed))),
        "{refused:?}"
    );

    // The blob stays in place but its recorded destination changes.
    h.execute(
        "UPDATE profile_secrets SET destination = 'attacker.example' WHERE profile_id = $1",
        &[&first.id],
    )
    .await;
    let refused = h.store.open_secret(&first.id, "password").await;
    assert!(
        matches!(refused, Err(StoreError::Seal(SealError::OpenFailed))),
        "{refused:?}"
    );
}

async fn key_rotation_reseals_every_secret_and_the_old_key_can_go(h: &Harness) {
    let mut ids = Vec::new();
    for (name, secrets) in [
        ("One", vec![secret("password", "p1", "d1")]),
        (
            "Two",
            vec![
                secret("password", "p2", "d2"),
                secret("client_secret", "c2", "d2"),
            ],
        ),
        ("Three", vec![]),
    ] {
        let row = h
            .store
            .create_profile(&profile(name, "smtp"), secrets)
            .await
            .expect("create");
        ids.push(row.id);
    }
    assert_eq!(h.store.active_key_version().await, 1);
    assert_eq!(
        sealed_key_version(&h.sealed_blob(&ids[0], "password").await),
        Some(1)
    );

    let rotation = h.store.rotate_key().await.expect("rotate");
    assert_eq!(rotation.new_version, 2);
    assert_eq!(rotation.resealed, 3);
    assert_eq!(h.store.active_key_version().await, 2);
    for (id, slot) in [(0, "password"), (1, "password"), (1, "client_secret")] {
        assert_eq!(
            sealed_key_version(&h.sealed_blob(&ids[id], slot).await),
            Some(2)
        );
    }
    let expected = [
        (0, "password", "p1"),
        (1, "password", "p2"),
        (1, "client_secret", "c2"),
    ];
    for (id, slot, plaintext) in expected {
        assert_eq!(
            opened(&h.store, &ids[id], slot).await.as_deref(),
            Some(plaintext)
        );
    }

    // New secrets use the new key.
    h.store
        .update_profile(
            &ids[2],
            1,
            &profile("Three", "smtp"),
            vec![SecretChange::Set(secret("password", "p3", "d3"))],
        )
        .await
        .expect("update");
    assert_eq!(
        sealed_key_version(&h.sealed_blob(&ids[2], "password").await),
        Some(2)
    );

    // Drop key 1 from the file: after a restart everything still opens.
    let text = std::fs::read_to_string(&h.key_path).expect("read the key file");
    let kept: String = text
        .lines()
        .filter(|line| !line.starts_with("1 "))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(kept, text, "key 1 was in the file");
    std::fs::write(&h.key_path, kept).expect("rewrite the key file");
    let restarted = h.reopen().await;
    assert_eq!(restarted.active_key_version().await, 2);
    for (id, slot, plaintext) in expected.into_iter().chain([(2, "password", "p3")]) {
        assert_eq!(
            opened(&restarted, &ids[id], slot).await.as_deref(),
            Some(plaintext)
        );
    }
    restarted.close().await;
}

async fn deleting_a_profile_deletes_its_secrets(h: &Harness) {
    let doomed = h
        .store
        .create_profile(
            &profile("Doomed", "smtp"),
            vec![
                secret("password", "p", "d"),
                secret("client_secret", "c", "d"),
            ],
        )
        .await
        .expect("create");
    let kept = h
        .store
        .create_profile(&profile("Kept", "smtp"), vec![secret("password", "k", "d")])
        .await
        .expect("create");
    assert_eq!(
        h.scalar("SELECT COUNT(*) FROM profile_secrets", &[]).await,
        3
    );
    h.store
        .delete_profile(&doomed.id, 1, no_users)
        .await
        .expect("delete");
    assert_eq!(
        h.scalar(
            "SELECT COUNT(*) FROM profile_secrets WHERE profile_id = $1",
            &[&doomed.id]
        )
        .await,
        0
    );
    assert_eq!(
        opened(&h.store, &kept.id, "password").await.as_deref(),
        Some("k")
    );
}

async fn tenants_are_created_updated_and_deleted_with_versions(h: &Harness) {
    let write = |name: &str| TenantWrite {
        name: name.to_owned(),
        document: format!(r#"{{"profile":"{name}"}}"#),
        refers_to: Vec::new(),
    };
    let acme = h
        .store
        .create_tenant("acme", &write("Acme"))
        .await
        .expect("create");
    assert_eq!((acme.id.as_str(), acme.version), ("acme", 1));
    h.store
        .create_tenant("beta", &write("Beta"))
        .await
        .expect("create");
    let duplicate = h.store.create_tenant("acme", &write("Other")).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict { field: "id" })),
        "{duplicate:?}"
    );

    let updated = h
        .store
        .update_tenant("acme", 1, &write("Acme Corp"))
        .await
        .expect("update");
    assert_eq!((updated.version, updated.name.as_str()), (2, "Acme Corp"));
    assert!(matches!(
        h.store.update_tenant("acme", 1, &write("Stale")).await,
        Err(StoreError::VersionMismatch { current: 2 })
    ));
    assert_eq!(h.store.get_tenant("acme").await.expect("get"), updated);
    let ids: Vec<String> = h
        .store
        .list_tenants()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["acme", "beta"]);

    assert!(matches!(
        h.store.delete_tenant("acme", 1).await,
        Err(StoreError::VersionMismatch { current: 2 })
    ));
    h.store.delete_tenant("acme", 2).await.expect("delete");
    assert!(matches!(
        h.store.get_tenant("acme").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        h.store.update_tenant("acme", 2, &write("Gone")).await,
        Err(StoreError::NotFound)
    ));
}

async fn the_global_settings_start_absent_and_save_with_versions(h: &Harness) {
    let fresh = h.store.get_global().await.expect("get");
    assert_eq!((fresh.document, fresh.version), (None, 0));
    assert!(matches!(
        h.store.put_global(1, r#"{"enabled":true}"#, &[]).await,
        Err(StoreError::VersionMismatch { current: 0 })
    ));

    let first = h
        .store
        .put_global(0, r#"{"enabled":true}"#, &[])
        .await
        .expect("first save");
    assert_eq!(first.version, 1);
    assert_eq!(first.document.as_deref(), Some(r#"{"enabled":true}"#));
    assert!(matches!(
        h.store.put_global(0, "{}", &[]).await,
        Err(StoreError::VersionMismatch { current: 1 })
    ));

    let second = h
        .store
        .put_global(1, r#"{"enabled":false}"#, &[])
        .await
        .expect("second save");
    assert_eq!(second.version, 2);
    assert!(matches!(
        h.store.put_global(1, "{}", &[]).await,
        Err(StoreError::VersionMismatch { current: 2 })
    ));
    assert_eq!(h.store.get_global().await.expect("get"), second);
}

async fn routing_rules_are_listed_by_priority_and_updated_with_versions(h: &Harness) {
    let rule = |priority: i64, document: &str| RoutingRuleWrite {
        priority,
        document: document.to_owned(),
        refers_to: Vec::new(),
    };
    let late = h
        .store
        .create_routing_rule(&rule(20, r#"{"to":"late"}"#))
        .await
        .expect("create");
    let early = h
        .store
        .create_routing_rule(&rule(10, r#"{"to":"early"}"#))
        .await
        .expect("create");
    let order = |rows: Vec<outmail_store::RoutingRuleRow>| {
        rows.into_iter().map(|r| r.document).collect::<Vec<_>>()
    };
    assert_eq!(
        order(h.store.list_routing_rules().await.expect("list")),
        [r#"{"to":"early"}"#, r#"{"to":"late"}"#]
    );

    let moved = h
        .store
        .update_routing_rule(&late.id, 1, &rule(5, r#"{"to":"late"}"#))
        .await
        .expect("update");
    assert_eq!((moved.version, moved.priority), (2, 5));
    assert_eq!(
        order(h.store.list_routing_rules().await.expect("list")),
        [r#"{"to":"late"}"#, r#"{"to":"early"}"#]
    );
    assert!(matches!(
        h.store
            .update_routing_rule(&late.id, 1, &rule(1, "{}"))
            .await,
        Err(StoreError::VersionMismatch { current: 2 })
    ));
    assert!(matches!(
        h.store.delete_routing_rule(&early.id, 2).await,
        Err(StoreError::VersionMismatch { current: 1 })
    ));
    h.store
        .delete_routing_rule(&early.id, 1)
        .await
        .expect("delete");
    assert_eq!(
        h.store.get_routing_rule(&late.id).await.expect("get"),
        moved
    );
    assert_eq!(h.store.list_routing_rules().await.expect("list").len(), 1);
}

async fn concurrent_updates_with_the_same_version_let_exactly_one_win(h: &Harness) {
    let created = h
        .store
        .create_profile(&profile("Relay", "smtp"), vec![])
        .await
        .expect("create");
    let writers: Vec<_> = (0..8)
        .map(|n| {
            let store = h.store.clone();
            let id = created.id.clone();
            tokio::spawn(async move {
                store
                    .update_profile(
                        &id,
                        1,
                        &profile(&format!("Relay {n}"), "smtp"),
                        vec![SecretChange::Set(secret("password", &format!("p{n}"), "d"))],
                    )
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (n, writer) in writers.into_iter().enumerate() {
        match writer.await.expect("the writer task") {
            Ok(row) => winners.push((n, row)),
            Err(StoreError::VersionMismatch { current: 2 }) => {}
            Err(other) => panic!("writer {n} failed unexpectedly: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let (n, row) = &winners[0];
    assert_eq!(row.version, 2);
    assert_eq!(h.store.get_profile(&created.id).await.expect("get"), *row);
    // The secret is the winner's too: a loser's secret write rolled back with its update.
    assert_eq!(
        opened(&h.store, &created.id, "password").await,
        Some(format!("p{n}"))
    );
}

async fn concurrent_first_saves_of_the_global_settings_let_exactly_one_win(h: &Harness) {
    let writers: Vec<_> = (0..6)
        .map(|n| {
            let store = h.store.clone();
            tokio::spawn(async move { store.put_global(0, &format!(r#"{{"n":{n}}}"#), &[]).await })
        })
        .collect();
    let mut documents = BTreeSet::new();
    for writer in writers {
        match writer.await.expect("the writer task") {
            Ok(row) => {
                assert_eq!(row.version, 1);
                documents.insert(row.document);
            }
            Err(StoreError::VersionMismatch { current: 1 }) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_eq!(
        h.store.get_global().await.expect("get").document,
        documents.into_iter().next().flatten()
    );
}

/// A reference check in the style of the server's: who names `id` in their document.
fn naming(id: &str) -> impl FnOnce(&SettingsDocuments) -> Result<Vec<String>, String> + '_ {
    move |documents| {
        let mut users = Vec::new();
        if documents.global.as_deref().is_some_and(|d| d.contains(id)) {
            users.push("the global settings".to_owned());
        }
        for (kind, list) in [
            ("tenant", &documents.tenants),
            ("routing rule", &documents.routing_rules),
            ("profile", &documents.profiles),
        ] {
            for stored in list.iter().filter(|s| s.document.contains(id)) {
                users.push(format!("{kind} {}", stored.id));
            }
        }
        Ok(users)
    }
}

fn tenant_naming_nobody() -> TenantWrite {
    TenantWrite {
        name: "Acme".to_owned(),
        document: "{}".to_owned(),
        refers_to: Vec::new(),
    }
}

fn tenant_naming(profile_id: &str) -> TenantWrite {
    TenantWrite {
        name: "Acme".to_owned(),
        document: format!(r#"{{"profile":"{profile_id}"}}"#),
        refers_to: vec![profile_id.to_owned()],
    }
}

async fn a_profile_still_named_by_a_setting_is_not_deleted(h: &Harness) {
    let used = h
        .store
        .create_profile(&profile("Used", "smtp"), Vec::new())
        .await
        .unwrap();
    h.store
        .create_tenant("acme", &tenant_naming(&used.id))
        .await
        .unwrap();
    let refused = h.store.delete_profile(&used.id, 1, naming(&used.id)).await;
    match refused {
        Err(StoreError::InUse { users }) => assert_eq!(users, ["tenant acme"]),
        other => panic!("{other:?}"),
    }
    assert!(h.store.get_profile(&used.id).await.is_ok());
    let unreadable = h
        .store
        .delete_profile(&used.id, 1, |_| Err("not JSON".to_owned()))
        .await;
    assert!(
        matches!(unreadable, Err(StoreError::Unreadable(_))),
        "{unreadable:?}"
    );
}

async fn a_setting_cannot_name_a_profile_that_does_not_exist(h: &Harness) {
    let missing = || {
        Err::<(), _>(StoreError::MissingReference {
            referenced: "profile",
        })
    };
    let gone = "7d1c6c52-0000-4000-8000-000000000000".to_owned();
    let tenant = h.store.create_tenant("acme", &tenant_naming(&gone)).await;
    assert_eq!(
        tenant.map(|_| ()).map_err(|e| e.to_string()),
        missing().map_err(|e| e.to_string())
    );
    let rule = RoutingRuleWrite {
        priority: 1,
        document: "{}".to_owned(),
        refers_to: vec![gone.clone()],
    };
    assert!(matches!(
        h.store.create_routing_rule(&rule).await,
        Err(StoreError::MissingReference { .. })
    ));
    assert!(matches!(
        h.store
            .put_global(0, "{}", std::slice::from_ref(&gone))
            .await,
        Err(StoreError::MissingReference { .. })
    ));
    let mut alternate = profile("With a lost alternate", "smtp");
    alternate.refers_to = vec![gone];
    assert!(matches!(
        h.store.create_profile(&alternate, Vec::new()).await,
        Err(StoreError::MissingReference { .. })
    ));
    assert_eq!(h.store.list_tenants().await.unwrap().len(), 0);
}

/// A tenant pointed at a profile while the profile is deleted: afterwards either the profile
/// is there, or nothing names it. Without one lock around the delete's check and the write,
/// the tenant can end up naming a profile that is gone.
async fn a_reference_racing_a_delete_never_dangles(h: &Harness) {
    h.store
        .create_tenant("acme", &tenant_naming_nobody())
        .await
        .unwrap();
    for round in 0..20 {
        let name = format!("Contested {round}");
        let contested = h
            .store
            .create_profile(&profile(&name, "smtp"), Vec::new())
            .await
            .unwrap();
        let tenant_version = h.store.get_tenant("acme").await.unwrap().version;
        let (store_a, store_b) = (h.store.clone(), h.store.clone());
        let id = contested.id.clone();
        let pointing = tokio::spawn(async move {
            store_a
                .update_tenant("acme", tenant_version, &tenant_naming(&id))
                .await
                .map(|_| ())
        });
        let id = contested.id.clone();
        let deleting =
            tokio::spawn(async move { store_b.delete_profile(&id, 1, naming(&id)).await });
        let (pointed, deleted) = (pointing.await.unwrap(), deleting.await.unwrap());
        let profile_exists = h.store.get_profile(&contested.id).await.is_ok();
        let tenant = h.store.get_tenant("acme").await.unwrap();
        let named = tenant.document.contains(&contested.id);
        assert!(
            profile_exists || !named,
            "round {round}: the tenant names a deleted profile ({pointed:?}, {deleted:?})"
        );
        // Point the tenant away again for the next round.
        h.store
            .update_tenant("acme", tenant.version, &tenant_naming_nobody())
            .await
            .unwrap();
    }
}

async fn an_import_that_fails_half_way_writes_nothing(h: &Harness) {
    h.store
        .create_tenant("taken", &tenant_naming_nobody())
        .await
        .unwrap();
    let (first, second) = (
        "11111111-1111-4111-8111-111111111111".to_owned(),
        "22222222-2222-4222-8222-222222222222".to_owned(),
    );
    let mut with_alternate = profile("Imported primary", "smtp");
    with_alternate.refers_to = vec![second.clone()];
    let mut batch = ImportBatch {
        profiles: vec![
            (first.clone(), with_alternate),
            (second.clone(), profile("Imported backup", "smtp")),
        ],
        tenants: vec![
            ("fresh".to_owned(), tenant_naming(&first)),
            ("taken".to_owned(), tenant_naming(&second)),
        ],
        routing_rules: Vec::new(),
        global: format!(r#"{{"default":"{first}"}}"#),
        global_version: 0,
        global_refers_to: vec![first.clone()],
    };
    // The second tenant's slug is taken: the profiles and the first tenant written before it
    // must not stay.
    let clash = h.store.import(&batch).await;
    assert!(
        matches!(clash, Err(StoreError::Conflict { field: "id" })),
        "{clash:?}"
    );
    assert!(h.store.all_profiles().await.unwrap().is_empty());
    assert_eq!(h.store.list_tenants().await.unwrap().len(), 1);
    assert_eq!(h.store.get_global().await.unwrap().version, 0);

    batch.tenants.pop();
    h.store
        .import(&batch)
        .await
        .expect("the import without the clash");
    assert_eq!(h.store.all_profiles().await.unwrap().len(), 2);
    assert_eq!(h.store.list_tenants().await.unwrap().len(), 2);
    assert_eq!(h.store.get_global().await.unwrap().version, 1);
}
