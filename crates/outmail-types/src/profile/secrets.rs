//! Which secrets a profile needs, the destination each was entered for, and the decision to
//! seal, keep or clear each one when a profile is saved.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::FieldErrors;
use crate::secret::{InvalidSecret, SecretInput, SecretSlot, SecretString};

use super::draft::OAuthPlace;
use super::spec::*;

/// One secret a profile uses, and whether saving without it is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretRequirement {
    pub slot: SecretSlot,
    /// False for the refresh token (obtained by consent after saving) and for the client
    /// secret of an authorization-code flow (except Google's).
    pub required: bool,
}

impl ProfileSpec {
    /// The secrets this profile uses, in slot order.
    pub fn secret_requirements(&self) -> Vec<SecretRequirement> {
        let mut out = Vec::new();
        let mut need = |slot, required| out.push(SecretRequirement { slot, required });
        // The authorization-code flow may also send the app's client secret: a confidential
        // ("web") app registration needs it, a public client using PKCE alone does not. Google
        // always issues and requires one.
        let oauth_needs = |oauth: &OAuthSettings, place: OAuthPlace| match &oauth.flow {
            OAuthFlow::ClientCredentials(ClientCredential::Secret) => {
                vec![(place.client_secret(), true)]
            }
            OAuthFlow::ClientCredentials(ClientCredential::Certificate(_)) => {
                vec![(place.private_key(), true)]
            }
            OAuthFlow::AuthorizationCode { .. } => vec![
                (
                    place.client_secret(),
                    oauth.preset == super::oauth::OAuthPreset::Google,
                ),
                (place.refresh_token(), false),
            ],
        };
        if let Transport::Smtp(SmtpTransport { auth, .. })
        | Transport::Ews(EwsTransport { auth, .. }) = &self.transport
            && let Auth::Basic(_) | Auth::Ntlm(_) = auth
        {
            need(SecretSlot::AuthPassword, true);
        }
        if let Some((place, oauth)) = OAuthPlace::of(self) {
            for (slot, required) in oauth_needs(oauth, place) {
                need(slot, required);
            }
        }
        if let Some(proxy) = &self.proxy
            && proxy.username.is_some()
        {
            need(SecretSlot::ProxyPassword, true);
        }
        out
    }

    /// Whether this profile uses `slot` (and if so, whether it is required).
    pub fn uses_secret(&self, slot: SecretSlot) -> Option<bool> {
        self.secret_requirements()
            .into_iter()
            .find(|r| r.slot == slot)
            .map(|r| r.required)
    }

    /// A canonical, stable description of where the secret in `slot` is sent: the server stores
    /// a secret only for the destination it was entered for, and refuses to reuse it once this
    /// string changes (so editing the host cannot send the old password somewhere new).
    ///
    /// `v1;key=value;…` with `%`, `;` and `=` percent-escaped in values. Covers the transport
    /// target (SMTP host, port, security and custom CA; EWS URL; Graph endpoint and sending
    /// mailbox), the auth kind and user name (and NTLM domain), and for OAuth the preset,
    /// authority, token URL, tenant, client ID and credential kind (plus the certificate for a
    /// private key, and flow and scopes for a refresh token). A proxy password depends only on
    /// the proxy's kind, host, port and user name. Empty for a slot the profile does not use.
    pub fn destination(&self, slot: SecretSlot) -> String {
        if self.uses_secret(slot).is_none() {
            return String::new();
        }
        let mut d = Destination::default();
        if slot == SecretSlot::ProxyPassword {
            if let Some(p) = &self.proxy {
                d.push("proxy", p.kind.as_str());
                d.push("host", &p.host.to_string());
                d.push("port", &p.port.to_string());
                d.push(
                    "username",
                    p.username.as_ref().map(|u| u.as_str()).unwrap_or(""),
                );
            }
            return d.finish();
        }
        match &self.transport {
            Transport::Smtp(s) => {
                d.push("transport", "smtp");
                d.push("host", &s.host.to_string());
                d.push("port", &s.port.to_string());
                d.push("security", s.security.as_str());
                d.push(
                    "ca",
                    &s.ca_certificate
                        .as_ref()
                        .map_or_else(|| "system".to_owned(), |c| c.thumbprint_sha256()),
                );
                auth_destination(&mut d, &s.auth, slot);
            }
            Transport::Ews(e) => {
                d.push("transport", "ews");
                d.push("url", e.url.as_str());
                auth_destination(&mut d, &e.auth, slot);
            }
            Transport::Graph(g) => {
                d.push("transport", "graph");
                d.push("endpoint", g.endpoint.base_url().as_str());
                d.push("mailbox", &self.sender.address.address().to_smtp());
                d.push("auth", "oauth2");
                oauth_destination(&mut d, &g.oauth, slot);
            }
            Transport::Local(_) => {}
        }
        d.finish()
    }
}

fn auth_destination(d: &mut Destination, auth: &Auth, slot: SecretSlot) {
    d.push("auth", auth.kind());
    match auth {
        Auth::None => {}
        Auth::Basic(b) => d.push("username", b.username.as_str()),
        Auth::Ntlm(n) => {
            d.push("username", n.username.as_str());
            d.push("domain", n.domain.as_ref().map_or("", |x| x.as_str()));
        }
        Auth::OAuth2(o) => {
            d.push("username", &o.username.to_smtp());
            oauth_destination(d, &o.oauth, slot);
        }
    }
}

fn oauth_destination(d: &mut Destination, o: &OAuthSettings, slot: SecretSlot) {
    d.push("preset", o.preset.as_str());
    d.push("authority", o.authority.map_or("", |a| a.as_str()));
    d.push("token_url", o.token_url.as_str());
    d.push(
        "tenant",
        &o.tenant_id
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default(),
    );
    d.push("client_id", o.client_id.as_str());
    match &o.flow {
        OAuthFlow::ClientCredentials(ClientCredential::Secret) => {
            d.push("credential", "secret");
        }
        OAuthFlow::ClientCredentials(ClientCredential::Certificate(c)) => {
            d.push("credential", "certificate");
            d.push("certificate", &c.thumbprint_sha256());
        }
        OAuthFlow::AuthorizationCode { .. } => {
            d.push("flow", "authorization_code");
            // A refresh token was consented for these scopes; new scopes need a new consent.
            if slot.kind() == crate::secret::SecretKind::RefreshToken {
                d.push("scopes", &o.scopes.to_string());
            }
        }
    }
}

#[derive(Default)]
struct Destination(String);

impl Destination {
    fn push(&mut self, key: &str, value: &str) {
        if self.0.is_empty() {
            self.0.push_str("v1");
        }
        self.0.push(';');
        self.0.push_str(key);
        self.0.push('=');
        for c in value.chars() {
            match c {
                '%' => self.0.push_str("%25"),
                ';' => self.0.push_str("%3B"),
                '=' => self.0.push_str("%3D"),
                c => self.0.push(c),
            }
        }
    }

    fn finish(self) -> String {
        self.0
    }
}

/// The currently stored profile and which secret slots hold a value.
#[derive(Debug, Clone, Copy)]
pub struct StoredProfile<'a> {
    pub spec: &'a ProfileSpec,
    pub secrets: &'a BTreeSet<SecretSlot>,
}

/// What to do with one secret slot when saving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretAction {
    /// Seal and store this new value (with `new.destination(slot)`).
    Seal(SecretString),
    /// Leave the stored value as it is.
    Keep,
    /// Delete the stored value.
    Clear,
}

/// The decision for every slot that needs an action (slots with nothing stored and nothing
/// entered are absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretPlan {
    pub actions: BTreeMap<SecretSlot, SecretAction>,
}

impl SecretPlan {
    pub fn get(&self, slot: SecretSlot) -> Option<&SecretAction> {
        self.actions.get(&slot)
    }
}

/// Decides, per slot, whether a save seals a new secret, keeps the stored one or clears it —
/// or refuses with field errors:
///
/// - a required secret that is neither stored nor entered → `required`;
/// - a stored secret kept (`{"set": true}`) while its [`ProfileSpec::destination`] changed →
///   `destination_changed` (enter it again). A refresh token is cleared instead, because it
///   cannot be typed: the profile then needs a new consent;
/// - slots the new profile no longer uses are cleared.
///
/// `inputs` is [`super::ProfileDraft::secret_inputs`]; a slot missing from it means keep.
pub fn plan_secrets(
    old: Option<StoredProfile<'_>>,
    new: &ProfileSpec,
    inputs: &BTreeMap<SecretSlot, SecretInput>,
) -> Result<SecretPlan, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut plan = SecretPlan::default();
    let requirements = new.secret_requirements();
    for slot in SecretSlot::ALL {
        let stored = old.is_some_and(|o| o.secrets.contains(&slot));
        let label = slot.kind().label();
        let Some(required) = requirements
            .iter()
            .find(|r| r.slot == slot)
            .map(|r| r.required)
        else {
            if stored {
                plan.actions.insert(slot, SecretAction::Clear);
            }
            continue;
        };
        match inputs.get(&slot).unwrap_or(&SecretInput::Keep) {
            SecretInput::Replace(value) => {
                if !slot.is_enterable() {
                    errors.add(slot.path(), InvalidSecret::NotEnterable(label));
                } else if value.is_empty() {
                    errors.add(slot.path(), InvalidSecret::Empty(label));
                } else {
                    plan.actions.insert(slot, SecretAction::Seal(value.clone()));
                }
            }
            SecretInput::Clear => {
                if required {
                    errors.add(slot.path(), InvalidSecret::Required(label));
                } else if stored {
                    plan.actions.insert(slot, SecretAction::Clear);
                }
            }
            SecretInput::Keep => {
                if !stored {
                    if required {
                        errors.add(slot.path(), InvalidSecret::Required(label));
                    }
                    continue;
                }
                let old_spec = old.map(|o| o.spec);
                let same = old_spec.is_some_and(|o| o.destination(slot) == new.destination(slot));
                if same {
                    plan.actions.insert(slot, SecretAction::Keep);
                } else if slot.is_enterable() {
                    errors.add(slot.path(), InvalidSecret::DestinationChanged(label));
                } else {
                    plan.actions.insert(slot, SecretAction::Clear);
                }
            }
        }
    }
    errors.into_result(plan)
}

/// Only the errors of [`plan_secrets`]: empty when the save may go ahead.
pub fn secret_reuse_errors(
    old: Option<StoredProfile<'_>>,
    new: &ProfileSpec,
    inputs: &BTreeMap<SecretSlot, SecretInput>,
) -> FieldErrors {
    plan_secrets(old, new, inputs).err().unwrap_or_default()
}
