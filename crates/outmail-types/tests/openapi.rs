//! The OpenAPI schemas checked against the JSON the types really accept and produce: every
//! positive case is real serde output (or a documented example that serde accepts), every
//! negative case is JSON that serde refuses and the schema must refuse too. A schema that
//! accepted everything would pass the positive half; the negative half is what makes it honest.
//!
//! `$ref`s resolve against one root document holding the components at `components.schemas`, so
//! `#/components/schemas/X` works unchanged. Formats (`date-time`) are asserted, not just noted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use outmail_types::error::{ApiError, FieldError, FieldErrors};
use outmail_types::host::Security;
use outmail_types::profile::{
    AuthDraft, Authority, BasicMechanism, CredentialDraft, EwsVersion, FlowDraft,
    GraphEndpointDraft, OAuthPreset, ProfileDraft, ProfileId, ProfileSpec, ProfileSummary,
    ProfileView, ProxyKind, TransportKind, examples,
};
use outmail_types::secret::{SecretInput, SecretSlot, SecretStatus};
use outmail_types::settings::{
    ExportDocument, ExportedProfile, GlobalSettings, GlobalSettingsDraft, ListParams, ListQuery,
    Page, RouteMatchDraft, RoutingRule, RoutingRuleDraft, Tenant, TenantDraft, TenantProfileDraft,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The registered components, as JSON.
fn components() -> &'static Value {
    static COMPONENTS: OnceLock<Value> = OnceLock::new();
    COMPONENTS.get_or_init(|| {
        let components = serde_json::to_value(outmail_types::openapi::components()).unwrap();
        components["schemas"].clone()
    })
}

/// A validator for `schema`, with the components reachable at `#/components/schemas/…`.
fn validator(schema: Value) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": {"schemas": components()},
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}"))
}

fn named(name: &str) -> jsonschema::Validator {
    assert!(
        components().get(name).is_some(),
        "no component named {name}"
    );
    validator(json!({"$ref": format!("#/components/schemas/{name}")}))
}

fn errors(name: &str, instance: &Value) -> Vec<String> {
    named(name)
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// `instance` matches the schema `name`.
#[track_caller]
fn assert_valid(name: &str, instance: &Value) {
    let errors = errors(name, instance);
    assert!(
        errors.is_empty(),
        "{name} rejects valid JSON:\n{}\n{instance:#}",
        errors.join("\n")
    );
}

/// serde reads `instance` as `T`, and the schema `name` agrees.
#[track_caller]
fn accepted<T: DeserializeOwned>(name: &str, instance: &Value) {
    if let Err(e) = serde_json::from_value::<T>(instance.clone()) {
        panic!("serde refuses the positive case for {name}: {e}\n{instance:#}");
    }
    assert_valid(name, instance);
}

/// `value` serialised matches the schema `name` (and reads back with serde).
#[track_caller]
fn serialises_valid<T: Serialize + DeserializeOwned>(name: &str, value: &T) -> Value {
    let json = serde_json::to_value(value).unwrap();
    accepted::<T>(name, &json);
    json
}

/// serde refuses `instance` as `T`, and so does the schema `name`.
#[track_caller]
fn refused<T: DeserializeOwned>(name: &str, instance: &Value) {
    assert!(
        serde_json::from_value::<T>(instance.clone()).is_err(),
        "the negative case is not one: serde accepts it as {name}\n{instance:#}"
    );
    assert!(
        !named(name).is_valid(instance),
        "{name} accepts JSON that serde refuses:\n{instance:#}"
    );
}

fn example(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

fn spec(json: &str) -> ProfileSpec {
    serde_json::from_str::<ProfileDraft>(json)
        .unwrap()
        .validate()
        .unwrap()
}

fn id(s: &str) -> ProfileId {
    ProfileId::parse(s).unwrap()
}

/// Every `$ref` in `value`, as component names.
fn refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "$ref" {
                    let target = v.as_str().unwrap();
                    let name = target
                        .strip_prefix("#/components/schemas/")
                        .unwrap_or_else(|| panic!("a $ref outside the components: {target}"));
                    out.insert(name.to_owned());
                } else {
                    refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// The registry itself

#[test]
fn every_schema_name_is_registered_once_and_every_ref_resolves() {
    let list = outmail_types::openapi::schemas();
    let mut names = BTreeSet::new();
    for (name, _) in &list {
        assert!(names.insert(name.clone()), "{name} is registered twice");
    }
    let mut referenced = BTreeSet::new();
    refs(components(), &mut referenced);
    let dangling: Vec<_> = referenced.difference(&names).collect();
    assert!(dangling.is_empty(), "dangling $refs: {dangling:?}");
    for expected in [
        "ApiError",
        "FieldErrors",
        "FieldError",
        "SecretInput",
        "SecretStatus",
        "SecretSlot",
        "SecretState",
        "ProfileDraft",
        "ProfileDraft_SecretInput",
        "ProfileDraft_SecretStatus",
        "ProfileDraft_Omitted",
        "TransportDraft_SecretInput",
        "AuthDraft_SecretStatus",
        "ProfileView",
        "ProfileSummary",
        "Page_ProfileSummary",
        "GlobalSettingsDraft",
        "TenantDraft",
        "RoutingRuleDraft",
        "ExportDocument",
        "ProfileId",
        "TenantSlug",
    ] {
        assert!(names.contains(expected), "{expected} is not registered");
    }
}

#[test]
fn the_schemas_register_into_an_openapi_document_as_the_server_does() {
    let mut api = utoipa::openapi::OpenApiBuilder::new().build();
    api.components
        .get_or_insert_with(Default::default)
        .schemas
        .extend(outmail_types::openapi::schemas());
    let json = serde_json::to_value(&api).unwrap();
    assert!(
        json["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        json["openapi"]
    );
    assert_eq!(&json["components"]["schemas"], components());
}

#[test]
fn every_example_in_the_schemas_matches_the_schema_it_sits_in() {
    fn walk(value: &Value, path: &str, checked: &mut usize) {
        match value {
            Value::Object(map) => {
                let mut samples: Vec<&Value> = Vec::new();
                if let Some(example) = map.get("example") {
                    samples.push(example);
                }
                if let Some(Value::Array(list)) = map.get("examples") {
                    samples.extend(list);
                }
                if !samples.is_empty() {
                    let v = validator(value.clone());
                    for sample in samples {
                        assert!(
                            v.is_valid(sample),
                            "the example at {path} does not match its schema: {sample}"
                        );
                        *checked += 1;
                    }
                }
                for (key, v) in map {
                    walk(v, &format!("{path}/{key}"), checked);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{path}/{i}"), checked);
                }
            }
            _ => {}
        }
    }
    let mut checked = 0;
    walk(components(), "#/components/schemas", &mut checked);
    assert!(checked > 30, "only {checked} examples found");
}

#[test]
fn struct_variants_of_tagged_enums_refuse_unknown_fields_like_serde() {
    // Every `kind`-tagged `oneOf` in the components: a variant with fields besides `kind` must
    // deny others (serde does, for all of this crate's tagged enums), a bare tag must not.
    let mut tagged = 0;
    for (name, schema) in components().as_object().unwrap() {
        let Some(Value::Array(variants)) = schema.get("oneOf") else {
            continue;
        };
        if !variants.iter().all(|v| v["properties"]["kind"].is_object()) {
            continue;
        }
        tagged += 1;
        for variant in variants {
            let fields = variant["properties"].as_object().unwrap().len();
            let denies = variant["additionalProperties"] == json!(false);
            assert_eq!(
                denies,
                fields > 1,
                "{name}: variant {} should deny unknown fields exactly when it has fields",
                variant["properties"]["kind"]
            );
        }
    }
    // AuthDraft and TransportDraft in three secret shapes each, GraphEndpointDraft, FlowDraft,
    // CredentialDraft, TenantProfileDraft, RouteMatchDraft.
    assert_eq!(tagged, 11);

    refused::<AuthDraft<SecretInput>>(
        "AuthDraft_SecretInput",
        &json!({"kind": "basic", "username": "u", "passwd": {"value": "x"}}),
    );
    refused::<FlowDraft>(
        "FlowDraft",
        &json!({"kind": "authorization_code", "redirect_uri": "https://a.example/cb"}),
    );
    refused::<GraphEndpointDraft>(
        "GraphEndpointDraft",
        &json!({"kind": "custom", "url": "https://g.example", "region": "eu"}),
    );
    refused::<CredentialDraft>(
        "CredentialDraft",
        &json!({"kind": "certificate", "certificate": "", "thumbprint": "ab"}),
    );
    refused::<TenantProfileDraft>(
        "TenantProfileDraft",
        &json!({"kind": "own", "profile_id": "a", "priority": 1}),
    );
    refused::<RouteMatchDraft>(
        "RouteMatchDraft",
        &json!({"kind": "sender_domain", "domain": "example.com", "subdomains": true}),
    );
    // serde ignores extra fields next to a unit variant's tag; so does the schema.
    accepted::<AuthDraft<SecretInput>>("AuthDraft_SecretInput", &json!({"kind": "none", "x": 1}));
}

// ---------------------------------------------------------------------------------------------
// Profiles

#[test]
fn every_example_draft_matches_the_request_schema() {
    for (_, json) in examples::ALL {
        let draft = example(json);
        accepted::<ProfileDraft>("ProfileDraft_SecretInput", &draft);
        accepted::<ProfileDraft>("ProfileDraft", &draft);
        // The draft a client gets to edit a stored profile (every secret `{"set": true}`).
        serialises_valid("ProfileDraft_SecretInput", &spec(json).to_draft());
    }
}

#[test]
fn every_tag_value_serde_writes_is_one_the_schema_allows() {
    // Transports and auth kinds not covered by the examples.
    let mut none = example(examples::SMTP_BASIC);
    none["transport"]["auth"] = json!({"kind": "none"});
    accepted::<ProfileDraft>("ProfileDraft_SecretInput", &none);
    let mut certificate = example(examples::GRAPH_FAKE);
    certificate["transport"]["oauth"]["flow"]["credential"] =
        json!({"kind": "certificate", "certificate": "-----BEGIN CERTIFICATE-----\n…"});
    accepted::<ProfileDraft>("ProfileDraft_SecretInput", &certificate);

    for endpoint in [
        GraphEndpointDraft::Global,
        GraphEndpointDraft::UsGov,
        GraphEndpointDraft::UsGovDod,
        GraphEndpointDraft::China,
        GraphEndpointDraft::Custom {
            url: "https://graph.example".into(),
        },
    ] {
        serialises_valid("GraphEndpointDraft", &endpoint);
    }
    for flow in [
        FlowDraft::AuthorizationCode {
            redirect_url: "https://a.example/cb".into(),
        },
        FlowDraft::ClientCredentials {
            credential: CredentialDraft::Secret,
        },
    ] {
        serialises_valid("FlowDraft", &flow);
    }
    for security in Security::ALL {
        serialises_valid("Security", &security);
    }
    for version in EwsVersion::ALL {
        serialises_valid("EwsVersion", &version);
    }
    for kind in TransportKind::ALL {
        serialises_valid("TransportKind", &kind);
    }
    for slot in SecretSlot::ALL {
        serialises_valid("SecretSlot", &slot);
    }
    for kind in [ProxyKind::Http, ProxyKind::Socks5] {
        serialises_valid("ProxyKind", &kind);
    }
    for mechanism in [
        BasicMechanism::Auto,
        BasicMechanism::Plain,
        BasicMechanism::Login,
    ] {
        serialises_valid("BasicMechanism", &mechanism);
    }
    for preset in [
        OAuthPreset::Microsoft365,
        OAuthPreset::Google,
        OAuthPreset::Custom,
    ] {
        serialises_valid("OAuthPreset", &preset);
    }
    for authority in [Authority::Public, Authority::UsGov, Authority::China] {
        serialises_valid("Authority", &authority);
    }
    for input in [
        SecretInput::Keep,
        SecretInput::Clear,
        SecretInput::replace("pw"),
    ] {
        serialises_valid("SecretInput", &input);
    }
    serialises_valid("SecretStatus", &SecretStatus { set: false });
}

#[test]
fn a_profile_view_of_every_example_matches_its_schema_and_reads_back_as_a_request() {
    for (i, (name, json)) in examples::ALL.into_iter().enumerate() {
        let spec = spec(json);
        // Some secrets stored, some not, so both `set` values appear.
        let stored: BTreeSet<SecretSlot> = spec
            .secret_requirements()
            .into_iter()
            .filter(|r| r.required)
            .map(|r| r.slot)
            .collect();
        let view = ProfileView::new(
            id(name),
            i as i64 + 1,
            "2025-01-31T09:30:00Z",
            "2025-02-01T17:05:12.250+01:00",
            &spec,
            &stored,
        );
        let json = serialises_valid("ProfileView", &view);
        accepted::<ProfileDraft<SecretStatus>>("ProfileDraft_SecretStatus", &json["profile"]);
        // GET then PUT: the view's profile is a valid request body as it is.
        accepted::<ProfileDraft>("ProfileDraft_SecretInput", &json["profile"]);
        // Stored and exported: no secrets.
        serialises_valid("ProfileSpec", &spec);
        serialises_valid("ProfileDraft_Omitted", &spec);
    }
}

#[test]
fn a_profile_summary_and_a_page_of_them_match_their_schemas() {
    let summaries: Vec<ProfileSummary> = examples::ALL
        .into_iter()
        .map(|(name, json)| ProfileSummary::new(id(name), 7, &spec(json)))
        .collect();
    serialises_valid("ProfileSummary", &summaries[0]);
    let query = ListQuery::default();
    serialises_valid(
        "Page_ProfileSummary",
        &Page::new(summaries, examples::ALL.len() as u64, &query),
    );
    serialises_valid(
        "Page_ProfileSummary",
        &Page::<ProfileSummary>::new(vec![], 0, &query),
    );
}

#[test]
fn negative_profile_drafts_are_refused_by_serde_and_by_the_schema() {
    let draft = || example(examples::SMTP_BASIC);
    let request = "ProfileDraft_SecretInput";

    let mut pigeon = draft();
    pigeon["transport"]["kind"] = json!("carrier_pigeon");
    refused::<ProfileDraft>(request, &pigeon);

    let mut bare_secret = draft();
    bare_secret["transport"]["auth"]["password"] = json!("correct horse battery staple");
    refused::<ProfileDraft>(request, &bare_secret);

    let mut string_port = draft();
    string_port["transport"]["port"] = json!("587");
    refused::<ProfileDraft>(request, &string_port);

    let mut both = draft();
    both["transport"]["auth"]["password"] = json!({"set": true, "value": "x"});
    refused::<ProfileDraft>(request, &both);

    let mut empty_secret = draft();
    empty_secret["transport"]["auth"]["password"] = json!({});
    refused::<ProfileDraft>(request, &empty_secret);

    // The tag sits next to fields that deny unknown ones: an unknown one is still refused.
    let mut unknown = draft();
    unknown["transport"]["tls"] = json!(true);
    refused::<ProfileDraft>(request, &unknown);

    let mut no_kind = draft();
    no_kind["transport"].as_object_mut().unwrap().remove("kind");
    refused::<ProfileDraft>(request, &no_kind);

    let mut no_transport = draft();
    no_transport.as_object_mut().unwrap().remove("transport");
    refused::<ProfileDraft>(request, &no_transport);

    let mut security = draft();
    security["transport"]["security"] = json!("ssl");
    refused::<ProfileDraft>(request, &security);

    let mut top_level = draft();
    top_level["priority"] = json!(1);
    refused::<ProfileDraft>(request, &top_level);

    // A response never carries a typed secret, and a stored profile none at all.
    let mut typed_status = draft();
    typed_status["transport"]["auth"]["password"] = json!({"value": "x"});
    refused::<ProfileDraft<SecretStatus>>("ProfileDraft_SecretStatus", &typed_status);
    let mut with_secret = serde_json::to_value(spec(examples::SMTP_BASIC)).unwrap();
    with_secret["transport"]["auth"]["password"] = json!({"set": true});
    refused::<ProfileSpec>("ProfileSpec", &with_secret);
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn api_errors_with_and_without_fields_match_their_schema() {
    // A real validation failure, as the server would send it.
    let mut bad = example(examples::SMTP_BASIC);
    bad["transport"]["port"] = json!(0);
    bad["sender"]["address"] = json!("nope");
    bad["name"] = json!("");
    let fields = serde_json::from_value::<ProfileDraft>(bad)
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(fields.len() >= 3, "{fields}");
    let json = serialises_valid("ApiError", &ApiError::from(fields.clone()));
    assert_eq!(json["code"], "validation_failed");
    serialises_valid("FieldErrors", &fields);
    serialises_valid("ApiError", &ApiError::new("not_found", "No such profile"));
    serialises_valid(
        "FieldErrors",
        &FieldErrors::single("", FieldError::new("invalid", "the body is invalid")),
    );
    accepted::<ApiError>(
        "ApiError",
        &json!({"code": "precondition_failed", "message": "stale version"}),
    );

    refused::<ApiError>(
        "ApiError",
        &json!({"code": "validation_failed", "message": "m",
                "fields": {"name": {"code": "required", "message": "enter a name"}}}),
    );
    refused::<ApiError>("ApiError", &json!({"message": "no code"}));
    refused::<FieldErrors>("FieldErrors", &json!({"name": [{"code": "required"}]}));
}

// ---------------------------------------------------------------------------------------------
// Settings, tenants, routing, export

fn global_draft() -> Value {
    json!({
        "sending_enabled": true,
        "default_profile_id": "main",
        "support_address": "Support <support@example.com>",
        "tenant_support_allowed": true,
        "attach_system_info": false
    })
}

fn tenant_drafts() -> [Value; 2] {
    [
        json!({"id": "acme", "name": "ACME", "profile": {"kind": "use_global"}}),
        json!({
            "id": "globex", "name": "Globex",
            "profile": {"kind": "own", "profile_id": "backup-relay"},
            "support_address": "it@globex.example"
        }),
    ]
}

fn rule_drafts() -> [Value; 2] {
    [
        json!({"match": {"kind": "sender_domain", "domain": "bücher.example"},
               "profile_id": "main", "priority": -5}),
        json!({"match": {"kind": "sender_address", "address": "ceo@example.com"},
               "profile_id": "backup-relay"}),
    ]
}

#[test]
fn settings_tenant_and_rule_drafts_and_their_validated_forms_match_their_schemas() {
    accepted::<GlobalSettingsDraft>("GlobalSettingsDraft", &global_draft());
    // A missing switch is refused, not read as off.
    refused::<GlobalSettingsDraft>("GlobalSettingsDraft", &json!({}));
    let global: GlobalSettings = serde_json::from_value(global_draft()).unwrap();
    serialises_valid("GlobalSettings", &global);
    serialises_valid("GlobalSettings", &GlobalSettings::default());

    for tenant in tenant_drafts() {
        accepted::<TenantDraft>("TenantDraft", &tenant);
        let valid: Tenant = serde_json::from_value(tenant).unwrap();
        serialises_valid("Tenant", &valid);
    }
    for rule in rule_drafts() {
        accepted::<RoutingRuleDraft>("RoutingRuleDraft", &rule);
        let valid: RoutingRule = serde_json::from_value(rule).unwrap();
        serialises_valid("RoutingRule", &valid);
    }

    refused::<GlobalSettingsDraft>("GlobalSettingsDraft", &json!({"sending_enabled": "yes"}));
    refused::<TenantDraft>(
        "TenantDraft",
        &json!({"id": "acme", "name": "ACME", "profile": {"kind": "borrowed"}}),
    );
    refused::<TenantDraft>("TenantDraft", &json!({"id": "acme", "name": "ACME"}));
    refused::<RoutingRuleDraft>(
        "RoutingRuleDraft",
        &json!({"match": {"kind": "sender_ip", "ip": "10.0.0.1"}, "profile_id": "main"}),
    );
    refused::<RoutingRuleDraft>(
        "RoutingRuleDraft",
        &json!({"match": {"kind": "sender_domain", "domain": "example.com"},
                "profile_id": "main", "priority": "high"}),
    );
}

fn export() -> ExportDocument {
    let profiles = examples::ALL
        .into_iter()
        .map(|(name, json)| {
            let mut profile = spec(json);
            // The SMTP example fails over to `backup-relay`: keep the document consistent.
            profile.alternate_profile_id = None;
            ExportedProfile {
                id: id(&name.replace('_', "-")),
                profile,
            }
        })
        .collect();
    let tenants = tenant_drafts()
        .into_iter()
        .map(|t| serde_json::from_value(t).unwrap())
        .collect();
    let rules = rule_drafts()
        .into_iter()
        .map(|r| serde_json::from_value(r).unwrap())
        .collect();
    let global = GlobalSettings {
        default_profile_id: Some(id("smtp-basic")),
        ..GlobalSettings::default()
    };
    ExportDocument::new(global, profiles, tenants, rules)
}

#[test]
fn an_export_document_matches_its_schema_and_a_secret_or_another_version_does_not() {
    let json = serialises_valid("ExportDocument", &export());
    assert_eq!(json["profiles"].as_array().unwrap().len(), 6);
    accepted::<ExportDocument>(
        "ExportDocument",
        &json!({"version": 1, "global": GlobalSettings::default()}),
    );

    let mut with_password = json.clone();
    with_password["profiles"][0]["profile"]["transport"]["auth"]["password"] =
        json!({"value": "hunter2"});
    refused::<ExportDocument>("ExportDocument", &with_password);

    let mut with_client_secret = json.clone();
    with_client_secret["profiles"][5]["profile"]["transport"]["oauth"]["client_secret"] =
        json!({"set": true});
    refused::<ExportDocument>("ExportDocument", &with_client_secret);

    let mut version_2 = json.clone();
    version_2["version"] = json!(2);
    refused::<ExportDocument>("ExportDocument", &version_2);

    let mut extra = json;
    extra["secrets"] = json!([]);
    refused::<ExportDocument>("ExportDocument", &extra);
}

// ---------------------------------------------------------------------------------------------
// Query parameters

#[test]
fn list_params_are_documented_as_four_optional_query_parameters() {
    use utoipa::IntoParams;
    use utoipa::openapi::path::ParameterIn;

    let params = ListParams::into_params(|| Some(ParameterIn::Query));
    let json: Vec<Value> = params
        .iter()
        .map(|p| serde_json::to_value(p).unwrap())
        .collect();
    let by_name: BTreeMap<&str, &Value> = json
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p))
        .collect();
    assert_eq!(
        by_name.keys().copied().collect::<Vec<_>>(),
        ["name", "page", "per_page", "transport"]
    );
    for p in &json {
        assert_eq!(p["in"], "query", "{p}");
        assert_ne!(p["required"], json!(true), "{p}");
    }

    // Each documented parameter schema accepts what `ListParams::parse` accepts, and a value
    // it refuses is outside the schema too.
    let schema = |name: &str| validator(by_name[name]["schema"].clone());
    assert!(schema("transport").is_valid(&json!("graph")));
    assert!(!schema("transport").is_valid(&json!("fax")));
    assert!(schema("page").is_valid(&json!(3)));
    assert!(!schema("page").is_valid(&json!(0)));
    assert!(schema("per_page").is_valid(&json!(200)));
    assert!(!schema("per_page").is_valid(&json!(201)));
    let parsed = serde_json::from_value::<ListParams>(json!({
        "name": "relay", "transport": "graph", "page": "3", "per_page": "200"
    }))
    .unwrap()
    .parse();
    assert!(parsed.is_ok());
    let refused = serde_json::from_value::<ListParams>(json!({
        "transport": "fax", "page": "0", "per_page": "201"
    }))
    .unwrap()
    .parse()
    .unwrap_err();
    assert_eq!(refused.paths().count(), 3);
}
