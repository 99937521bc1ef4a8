//! OpenAPI schemas (utoipa) for every API body, behind the `openapi` feature so the browser
//! bundle never compiles them. Most types derive `ToSchema` where they are defined; this module
//! holds what the derive cannot express, and [`schemas`], the one list the server registers.
//!
//! Hand-written here:
//! - [`SecretInput`]: `oneOf` `{"set": bool}` / `{"value": string}` (custom serde).
//! - [`Omitted`]: a schema nothing matches, so a stored or exported profile may not carry a
//!   secret field at all (serde refuses one).
//! - [`TransportDraft`]: the derive would write each variant as `allOf: [SmtpDraft, {kind}]`,
//!   and `SmtpDraft`'s `additionalProperties: false` (it denies unknown fields) would then reject
//!   the `kind` tag; here `kind` is merged into each variant's object instead.
//! - Validated types that serialise as their drafts ([`GlobalSettings`], [`Tenant`],
//!   [`RoutingRule`], [`ProfileSpec`]): a `$ref` to the draft schema.
//! - Newtypes that serialise as a string or a number (`ProfileId`, `Host`, `Port`, …).
//!
//! And one correction to derived schemas, applied by [`schemas`]: the struct variants of the
//! `kind`-tagged enums get `additionalProperties: false`, as serde's `deny_unknown_fields` does
//! for them (the derive leaves them open).
//!
//! Generic drafts follow utoipa's naming: `ProfileDraft<SecretInput>` is the component
//! `ProfileDraft_SecretInput`, `Page<ProfileSummary>` is `Page_ProfileSummary`. That is also the
//! name utoipa gives them when a handler's `#[utoipa::path]` names the full type, so write
//! `request_body = ProfileDraft<SecretInput>` there, not bare `ProfileDraft`.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, ObjectBuilder, OneOfBuilder, RefBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Components, ComponentsBuilder, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::cert::CertificatePem;
use crate::diagnosis::{
    Direction, Failure, FailureKind, Outcome, Stage, StageResult, StageStatus, TestReport,
    TestSendRequest, TranscriptLine, Warning,
};
use crate::email::{EmailAddress, Mailbox};
use crate::error::{ApiError, FieldError, FieldErrors};
use crate::frequency::SendFrequency;
use crate::guid::Guid;
use crate::host::{Host, Port, Security};
use crate::profile::{
    AuthDraft, Authority, BasicMechanism, ClientId, CredentialDraft, EwsDraft, EwsVersion,
    FlowDraft, GraphDraft, GraphEndpointDraft, LocalDraft, OAuthDraft, OAuthPreset, ProfileDraft,
    ProfileId, ProfileSpec, ProfileSummary, ProfileView, ProxyDraft, ProxyKind, SecretState,
    SenderDraft, SendmailPath, SmtpDraft, TransportDraft, TransportKind,
};
use crate::scope::Scopes;
use crate::secret::{Omitted, SecretInput, SecretSlot, SecretStatus};
use crate::settings::{
    ExportDocument, ExportVersion, ExportedProfile, GlobalSettings, GlobalSettingsDraft, Page,
    RouteMatchDraft, RoutingRule, RoutingRuleDraft, Tenant, TenantDraft, TenantProfileDraft,
    TenantSlug,
};
use crate::text::{
    Description, DisplayName, HeaderText, ProfileName, Signature, TenantName, Username,
};
use crate::url::HttpsUrl;

/// Every schema an API body uses, as `(component name, schema)`, each name once. Register them
/// all, after anything utoipa collected from the handlers so that these win for a name both
/// have (they are the stricter, corrected ones):
/// `api.components.get_or_insert_with(Default::default).schemas.extend(schemas())`, or
/// `ComponentsBuilder::schemas_from_iter(schemas())`, or [`components`].
///
/// Generic instances are listed under utoipa's names (`ProfileDraft_SecretInput`,
/// `ProfileDraft_SecretStatus`, `ProfileDraft_Omitted`, `Page_ProfileSummary`, and the nested
/// `TransportDraft_SecretInput`, `AuthDraft_SecretStatus`, …); `ProfileDraft` is an alias of
/// `ProfileDraft_SecretInput` (the request body), for a path macro that names the type bare.
pub fn schemas() -> Vec<(String, RefOr<Schema>)> {
    let mut list = Schemas::default();

    // Errors.
    list.add::<ApiError>();
    list.add::<FieldErrors>();
    list.add::<FieldError>();

    // Secrets.
    list.add::<SecretInput>();
    list.add::<SecretStatus>();
    list.add::<Omitted>();
    list.add::<SecretSlot>();
    list.add::<SecretState>();

    // Profile drafts, in the three secret shapes: requests, responses, stored/exported.
    list.add_generic::<ProfileDraft<SecretInput>, SecretInput>();
    list.add_generic::<ProfileDraft<SecretStatus>, SecretStatus>();
    list.add_generic::<ProfileDraft<Omitted>, Omitted>();
    list.drafts::<SecretInput>();
    list.drafts::<SecretStatus>();
    list.drafts::<Omitted>();
    list.push(
        "ProfileDraft".to_owned(),
        draft_ref(
            generic_name::<ProfileDraft<SecretInput>, SecretInput>(),
            "Alias of `ProfileDraft_SecretInput`, the request body.",
        ),
    );
    list.add::<LocalDraft>();
    list.add::<GraphEndpointDraft>();
    list.add::<FlowDraft>();
    list.add::<CredentialDraft>();
    list.add::<SenderDraft>();

    // Enums.
    list.add::<Security>();
    list.add::<ProxyKind>();
    list.add::<BasicMechanism>();
    list.add::<EwsVersion>();
    list.add::<OAuthPreset>();
    list.add::<Authority>();
    list.add::<TransportKind>();

    // Profile responses.
    list.add::<ProfileView>();
    list.add::<ProfileSummary>();
    list.add_generic::<Page<ProfileSummary>, ProfileSummary>();
    list.add::<ProfileSpec>();

    // Settings, tenants, routing, export.
    list.add::<GlobalSettingsDraft>();
    list.add::<GlobalSettings>();
    list.add::<TenantDraft>();
    list.add::<TenantProfileDraft>();
    list.add::<Tenant>();
    list.add::<RoutingRuleDraft>();
    list.add::<RouteMatchDraft>();
    list.add::<RoutingRule>();
    list.add::<ExportDocument>();
    list.add::<ExportedProfile>();
    list.add::<ExportVersion>();

    // The test send.
    list.add::<TestSendRequest>();
    list.add::<TestReport>();
    list.add::<Outcome>();
    list.add::<StageResult>();
    list.add::<Stage>();
    list.add::<StageStatus>();
    list.add::<TranscriptLine>();
    list.add::<Direction>();
    list.add::<Failure>();
    list.add::<FailureKind>();
    list.add::<Warning>();

    // Value formats (path parameters, and documentation of what the drafts' strings hold).
    list.add::<ProfileId>();
    list.add::<TenantSlug>();
    list.add::<ClientId>();
    list.add::<SendmailPath>();
    list.add::<Host>();
    list.add::<Port>();
    list.add::<EmailAddress>();
    list.add::<Mailbox>();
    list.add::<HttpsUrl>();
    list.add::<Guid>();
    list.add::<Scopes>();
    list.add::<SendFrequency>();
    list.add::<CertificatePem>();
    list.add::<ProfileName>();
    list.add::<TenantName>();
    list.add::<Description>();
    list.add::<DisplayName>();
    list.add::<HeaderText>();
    list.add::<Signature>();
    list.add::<Username>();

    list.finish()
}

/// [`schemas`] as OpenAPI components, for `openapi.merge_components(..)`-style use or tests.
pub fn components() -> Components {
    ComponentsBuilder::new()
        .schemas_from_iter(schemas())
        .build()
}

/// utoipa's component name for `Outer<Arg>`: `Outer_Arg`.
fn generic_name<Outer: ToSchema, Arg: ToSchema>() -> String {
    format!("{}_{}", Outer::name(), Arg::name())
}

/// The list [`schemas`] builds: the types named explicitly first, then what they reference
/// (collected by utoipa), so an explicit entry wins when a name comes twice. utoipa collects a
/// generic instance with its secret fields inlined; the explicit entries `$ref` `SecretInput`
/// and friends instead. Both describe the same JSON.
#[derive(Default)]
struct Schemas {
    named: Vec<(String, RefOr<Schema>)>,
    referenced: Vec<(String, RefOr<Schema>)>,
}

impl Schemas {
    fn push(&mut self, name: String, schema: RefOr<Schema>) {
        self.named.push((name, schema));
    }

    fn add<T: ToSchema>(&mut self) {
        self.named.push((T::name().into_owned(), T::schema()));
        T::schemas(&mut self.referenced);
    }

    fn add_generic<T: ToSchema, Arg: ToSchema>(&mut self) {
        self.named.push((generic_name::<T, Arg>(), T::schema()));
        T::schemas(&mut self.referenced);
    }

    /// The nested generic drafts for one secret shape.
    fn drafts<S: ToSchema>(&mut self) {
        self.add_generic::<TransportDraft<S>, S>();
        self.add_generic::<SmtpDraft<S>, S>();
        self.add_generic::<EwsDraft<S>, S>();
        self.add_generic::<GraphDraft<S>, S>();
        self.add_generic::<AuthDraft<S>, S>();
        self.add_generic::<OAuthDraft<S>, S>();
        self.add_generic::<ProxyDraft<S>, S>();
    }

    fn finish(self) -> Vec<(String, RefOr<Schema>)> {
        let mut seen = std::collections::BTreeSet::new();
        self.named
            .into_iter()
            .chain(self.referenced)
            .filter(|(name, _)| seen.insert(name.clone()))
            .map(|(name, schema)| {
                let strict = DENY_UNKNOWN_TAGGED.iter().any(|base| {
                    name == *base
                        || name
                            .strip_prefix(base)
                            .is_some_and(|rest| rest.starts_with('_'))
                });
                let schema = if strict {
                    deny_unknown_in_variants(schema)
                } else {
                    schema
                };
                (name, schema)
            })
            .collect()
    }
}

/// The `kind`-tagged enums declared with `#[serde(deny_unknown_fields)]`. serde applies that to
/// their struct variants (`{"kind": "basic", "passwd": …}` is refused) but not to their unit
/// variants (`{"kind": "none", "x": 1}` is accepted); utoipa's derive applies it to neither.
const DENY_UNKNOWN_TAGGED: [&str; 6] = [
    "AuthDraft",
    "GraphEndpointDraft",
    "FlowDraft",
    "CredentialDraft",
    "TenantProfileDraft",
    "RouteMatchDraft",
];

/// Sets `additionalProperties: false` on the `oneOf` variants that have fields besides the tag,
/// which is where serde refuses unknown fields.
fn deny_unknown_in_variants(schema: RefOr<Schema>) -> RefOr<Schema> {
    let RefOr::T(Schema::OneOf(mut one_of)) = schema else {
        return schema;
    };
    for item in &mut one_of.items {
        if let RefOr::T(Schema::Object(object)) = item
            && object.properties.len() > 1
        {
            object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
        }
    }
    RefOr::T(Schema::OneOf(one_of))
}

// ---------------------------------------------------------------------------------------------
// Secrets

fn bool_schema(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .description(Some(description))
}

impl PartialSchema for SecretInput {
    fn schema() -> RefOr<Schema> {
        let keep_or_clear = ObjectBuilder::new()
            .schema_type(Type::Object)
            .title(Some("keep or clear"))
            .property(
                "set",
                bool_schema("`true` keeps the stored value, `false` clears it."),
            )
            .required("set")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .examples([serde_json::json!({"set": true})]);
        let replace = ObjectBuilder::new()
            .schema_type(Type::Object)
            .title(Some("replace"))
            .property(
                "value",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(
                        "The new secret. Empty is a validation error: send `{\"set\": false}` \
                     to clear.",
                    )),
            )
            .required("value")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .examples([serde_json::json!({"value": "correct horse battery staple"})]);
        OneOfBuilder::new()
            .item(keep_or_clear)
            .item(replace)
            .description(Some(
                "A write-only secret in a request: `{\"set\": true}` keeps the stored value \
                 (what a GET returns, so GET then PUT works), `{\"set\": false}` clears it, \
                 `{\"value\": \"…\"}` replaces it. A missing field means keep.",
            ))
            .into()
    }
}

impl ToSchema for SecretInput {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SecretInput")
    }
}

impl PartialSchema for Omitted {
    fn schema() -> RefOr<Schema> {
        // `enum: []` matches no value: the field must be absent (serde refuses any value).
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .enum_values(Some(Vec::<serde_json::Value>::new()))
            .description(Some(
                "Never present: stored and exported profiles carry no secrets (they are \
                 entered again after an import).",
            ))
            .into()
    }
}

impl ToSchema for Omitted {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Omitted")
    }
}

// ---------------------------------------------------------------------------------------------
// The transport

/// Adds the `kind` tag to a variant's inline object schema, as serde's internal tagging writes
/// it (next to the variant's own fields, which deny unknown ones).
fn with_kind(kind: &str, variant: RefOr<Schema>) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut object)) = variant else {
        panic!("a transport variant's schema is an inline object");
    };
    object.properties.insert(
        "kind".to_owned(),
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([kind]))
            .into(),
    );
    object.required.insert(0, "kind".to_owned());
    object.title = Some(kind.to_owned());
    RefOr::T(Schema::Object(object))
}

impl<S: ToSchema> utoipa::__dev::ComposeSchema for TransportDraft<S> {
    fn compose(_generics: Vec<RefOr<Schema>>) -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(with_kind("smtp", SmtpDraft::<S>::schema()))
            .item(with_kind("local", LocalDraft::schema()))
            .item(with_kind("ews", EwsDraft::<S>::schema()))
            .item(with_kind("graph", GraphDraft::<S>::schema()))
            .description(Some(
                "The transport, tagged by `kind`: `smtp`, `local`, `ews` or `graph`.",
            ))
            .into()
    }
}

impl<S: ToSchema> ToSchema for TransportDraft<S> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TransportDraft")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        SmtpDraft::<S>::schemas(schemas);
        LocalDraft::schemas(schemas);
        EwsDraft::<S>::schemas(schemas);
        GraphDraft::<S>::schemas(schemas);
    }
}

// ---------------------------------------------------------------------------------------------
// Validated types: serialised in their draft's shape

/// `$ref` to the draft a validated type serialises as, described.
fn draft_ref(draft: String, description: &str) -> RefOr<Schema> {
    RefOr::Ref(
        RefBuilder::new()
            .ref_location_from_schema_name(draft)
            .description(Some(description))
            .build(),
    )
}

macro_rules! serialises_as_draft {
    ($ty:ty, $name:literal, $draft:ty, $draft_name:expr, $description:literal) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                draft_ref($draft_name, $description)
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                schemas.push(($draft_name, <$draft>::schema()));
                <$draft>::schemas(schemas);
            }
        }
    };
}

serialises_as_draft!(
    GlobalSettings,
    "GlobalSettings",
    GlobalSettingsDraft,
    GlobalSettingsDraft::name().into_owned(),
    "Valid global settings, in the draft's shape (every field present)."
);
serialises_as_draft!(
    Tenant,
    "Tenant",
    TenantDraft,
    TenantDraft::name().into_owned(),
    "A valid tenant, in the draft's shape."
);
serialises_as_draft!(
    RoutingRule,
    "RoutingRule",
    RoutingRuleDraft,
    RoutingRuleDraft::name().into_owned(),
    "A valid routing rule, in the draft's shape."
);
serialises_as_draft!(
    ProfileSpec,
    "ProfileSpec",
    ProfileDraft<Omitted>,
    generic_name::<ProfileDraft<Omitted>, Omitted>(),
    "A valid profile as stored and exported: the draft's shape without any secret field."
);

// ---------------------------------------------------------------------------------------------
// Newtypes that serialise as a string or a number

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

fn integer(description: &str, minimum: i64, maximum: i64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(minimum))
        .maximum(Some(maximum))
        .description(Some(description))
}

macro_rules! value_schema {
    ($ty:ty, $name:literal, $schema:expr) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

value_schema!(
    ExportVersion,
    "ExportVersion",
    integer("The export format version; only 1 exists.", 1, 1).enum_values(Some([1]))
);
value_schema!(
    ProfileId,
    "ProfileId",
    string("A profile's ID: 1–64 ASCII letters, digits, `-` and `_`.")
        .pattern(Some("^[A-Za-z0-9_-]{1,64}$"))
        .examples(["backup-relay"])
);
value_schema!(
    TenantSlug,
    "TenantSlug",
    string("A tenant's ID: lowercase letters a-z, digits and `-`, 1–63 characters, no `-` at either end.")
        .pattern(Some("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))
        .examples(["acme"])
);
value_schema!(
    ClientId,
    "ClientId",
    string("An OAuth client (application) ID: visible ASCII without spaces, 1–256 characters.")
        .pattern(Some("^[!-~]{1,256}$"))
        .examples(["0b8f3c9e-5d2a-4e7b-9a1c-3f6d8e2b1a4c"])
);
value_schema!(
    SendmailPath,
    "SendmailPath",
    string("The absolute path of a sendmail-compatible program (no arguments).")
        .examples([SendmailPath::DEFAULT])
);
value_schema!(
    Host,
    "Host",
    string("A DNS name (IDNs in punycode) or an IP address (IPv6 without brackets), lowercase.")
        .examples(["smtp.example.com"])
);
value_schema!(
    Port,
    "Port",
    integer("A TCP port.", 1, 65535).examples([587])
);
value_schema!(
    EmailAddress,
    "EmailAddress",
    string("A bare address, `local@domain` (Unicode where UTF-8 headers are on).")
        .examples(["alerts@example.com"])
);
value_schema!(
    Mailbox,
    "Mailbox",
    string("An address with an optional display name: `a@b.c`, `Name <a@b.c>` or `\"Name\" <a@b.c>`; written back as `\"Name\" <a@b.c>`.")
        .examples(["\"Example Alerts\" <alerts@example.com>"])
);
value_schema!(
    HttpsUrl,
    "HttpsUrl",
    string("An absolute `https://` URL (`http://` only to a loopback host).")
        .format(Some(utoipa::openapi::SchemaFormat::Custom(
            "uri".to_owned()
        )))
        .examples(["https://mail.corp.example.com/EWS/Exchange.asmx"])
);
value_schema!(
    Guid,
    "Guid",
    string("A GUID; written back lowercase and hyphenated (input may be uppercase or in braces).")
        .examples(["72f988bf-86f1-41af-91ab-2d7cd011db47"])
);
value_schema!(
    Scopes,
    "Scopes",
    string("Space-separated OAuth scopes.")
        .examples(["https://outlook.office365.com/SMTP.Send offline_access"])
);
value_schema!(
    SendFrequency,
    "SendFrequency",
    integer(
        "Seconds within which an identical alert to the same recipient is suppressed; 0 turns \
         suppression off.",
        0,
        i64::from(SendFrequency::MAX_SECONDS)
    )
    .examples([300])
);
value_schema!(
    CertificatePem,
    "CertificatePem",
    string("One X.509 certificate in PEM (`-----BEGIN CERTIFICATE-----`).")
);

macro_rules! text_schema {
    ($ty:ty, $name:literal, $description:literal) => {
        value_schema!(
            $ty,
            $name,
            string($description)
                .min_length(Some(1))
                .max_length(Some(<$ty>::MAX_CHARS))
        );
    };
}

text_schema!(
    ProfileName,
    "ProfileName",
    "A profile's name: one line, trimmed."
);
text_schema!(
    TenantName,
    "TenantName",
    "A tenant's display name: one line, trimmed."
);
text_schema!(
    Description,
    "Description",
    "A free-text note: multi-line, trimmed."
);
text_schema!(
    DisplayName,
    "DisplayName",
    "The name part of `\"Name\" <addr>`: one line, trimmed."
);
text_schema!(
    HeaderText,
    "HeaderText",
    "One line of header text: no CR, LF or other control character, trimmed."
);
text_schema!(
    Signature,
    "Signature",
    "The signature appended to every system mail: multi-line, not trimmed."
);
text_schema!(
    Username,
    "Username",
    "A user name for authentication: one line, trimmed."
);
