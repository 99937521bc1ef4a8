//! Signing in for a profile that uses the authorization-code flow: `POST
//! /profiles/{id}/oauth/consent` gives the URL the consent popup opens (PKCE and state kept
//! here), and `GET /oauth/callback` is where the provider sends the browser back. The
//! callback redeems the code, checks that the mailbox that signed in is the one the profile
//! sends as, and seals the refresh token into the profile.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use outmail_mail::Transport;
use outmail_mail::oauth;
use outmail_store::SecretChange;
use outmail_types::profile::{
    Auth, EwsTransport, OAuthField, OAuthFlow, OAuthPlace, OAuthSettings, SmtpTransport,
    Transport as SpecTransport,
};
use outmail_types::{ProfileSpec, SecretSlot};
use serde::{Deserialize, Serialize};

use super::error::{ApiFailure, ApiResult};
use super::extract::ApiPath;
use super::profiles::{self, seal_input, write_of};
use crate::mail::CONSENT_LIFETIME;
use crate::state::AppState;

/// The answer of `POST /profiles/{id}/oauth/consent`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentStarted {
    /// Open this in a popup; the provider returns to the profile's redirect URL.
    pub authorize_url: String,
    /// The mailbox that must sign in (the profile's sending account).
    pub mailbox: String,
    /// Seconds until the sign-in must be finished.
    pub expires_in: u64,
}

/// `POST /profiles/{id}/oauth/consent`
#[utoipa::path(post, path = "/profiles/{id}/oauth/consent", tag = "profiles", params(("id" = String, Path, description = "the resource ID")), responses((status = 200, description = "open `authorize_url` in a popup; the callback stores the refresh token", body = ConsentStarted), (status = 404, description = "no such resource", body = outmail_types::error::ApiError), (status = 409, description = "the profile does not use the authorization-code flow", body = outmail_types::error::ApiError)))]
pub async fn start(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<ConsentStarted>> {
    let profile = profiles::load(&state, &id).await?;
    let Some((_, settings, mailbox)) = delegated(&profile.spec) else {
        return Err(ApiFailure::conflict(
            flow_field(&profile.spec),
            "not_authorization_code",
            "this profile does not sign in with the authorization-code flow",
        ));
    };
    let started = oauth::consent_start(settings, &mailbox).map_err(|e| {
        ApiFailure::conflict(flow_field(&profile.spec), "consent_unavailable", e.detail)
    })?;
    state.mail.begin_consent(
        started.state,
        profile.row.id.clone(),
        profile.row.version,
        started.verifier,
        mailbox.clone(),
    );
    Ok(axum::Json(ConsentStarted {
        authorize_url: started.authorize_url,
        mailbox,
        expires_in: CONSENT_LIFETIME.as_secs(),
    }))
}

/// The query the provider redirects back with.
#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /oauth/callback`: an HTML page for the popup, which tells the opener how it went.
pub async fn callback(State(state): State<AppState>, Query(query): Query<Callback>) -> Response {
    match finish(&state, query).await {
        Ok((profile_id, mailbox)) => page(
            StatusCode::OK,
            true,
            &profile_id,
            "Signed in",
            &format!("{mailbox} is connected. You can close this window."),
        ),
        Err((status, profile_id, message)) => {
            page(status, false, &profile_id, "Sign-in failed", &message)
        }
    }
}

type CallbackError = (StatusCode, String, String);

async fn finish(state: &AppState, query: Callback) -> Result<(String, String), CallbackError> {
    let expired = || {
        (
            StatusCode::BAD_REQUEST,
            String::new(),
            "This sign-in has expired or was already used. Start it again from the profile."
                .to_owned(),
        )
    };
    let pending = query
        .state
        .as_deref()
        .and_then(|s| state.mail.take_consent(s))
        .ok_or_else(expired)?;
    let id = pending.profile_id.clone();
    let fail = |status: StatusCode, message: String| (status, id.clone(), message);
    if let Some(error) = query.error {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            format!(
                "The provider did not grant access ({error}): {}",
                query.error_description.unwrap_or_default()
            ),
        ));
    }
    let code = query.code.ok_or_else(|| {
        fail(
            StatusCode::BAD_REQUEST,
            "The provider sent no authorization code.".to_owned(),
        )
    })?;
    let profile = profiles::load(state, &id).await.map_err(|_| {
        fail(
            StatusCode::NOT_FOUND,
            "The profile no longer exists.".to_owned(),
        )
    })?;
    if profile.row.version != pending.version {
        return Err(fail(
            StatusCode::CONFLICT,
            "The profile was changed while you signed in. Start the sign-in again.".to_owned(),
        ));
    }
    let Some((place, settings, _)) = delegated(&profile.spec) else {
        return Err(fail(
            StatusCode::CONFLICT,
            "The profile no longer uses the authorization-code flow.".to_owned(),
        ));
    };
    let (client_secret_slot, refresh_slot) = (place.client_secret(), place.refresh_token());
    let mut secrets = outmail_mail::Secrets::new();
    let client_secret = open(state, &id, client_secret_slot).await;
    if let Some(secret) = &client_secret {
        secrets.insert(client_secret_slot, secret.clone());
    }
    if profile.stored_secrets.contains(&SecretSlot::ProxyPassword)
        && let Some(password) = open(state, &id, SecretSlot::ProxyPassword).await
    {
        secrets.insert(SecretSlot::ProxyPassword, password);
    }
    let transport = Transport::new(profile.spec.clone(), secrets, Default::default())
        .with_clock(state.store.clock().clone())
        .with_egress(state.access.config.egress.clone());
    let explain = |e: outmail_mail::MailError| {
        let failure = e.to_failure(&transport.blame());
        fail(
            StatusCode::BAD_GATEWAY,
            format!("{} {}", failure.message, failure.remedy),
        )
    };
    let http = transport.http_settings().map_err(explain)?;
    let consented = oauth::consent_finish(
        settings,
        client_secret.as_ref(),
        &http,
        &code,
        &pending.verifier,
    )
    .await
    .map_err(explain)?;
    if !consented.mailbox.eq_ignore_ascii_case(&pending.mailbox) {
        return Err(fail(
            StatusCode::CONFLICT,
            format!(
                "You signed in as {}, but this profile sends as {}. Sign in with that mailbox.",
                consented.mailbox, pending.mailbox
            ),
        ));
    }
    let write = write_of(&profile.spec).map_err(|_| {
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The profile could not be saved.".to_owned(),
        )
    })?;
    let refresh = seal_input(
        &profile.spec,
        refresh_slot,
        consented.refresh_token.expose(),
    );
    state
        .store
        .update_profile(
            &id,
            pending.version,
            &write,
            vec![SecretChange::Set(refresh)],
        )
        .await
        .map_err(|error| {
            tracing::warn!(%error, profile = %id, "storing the consented refresh token failed");
            fail(
                StatusCode::CONFLICT,
                "The profile was changed while you signed in. Start the sign-in again.".to_owned(),
            )
        })?;
    // Tokens cached for the old refresh token are keyed by it, so they simply age out.
    tracing::info!(profile = %id, "OAuth consent stored");
    Ok((id, consented.mailbox))
}

/// The place (which decides the secret slots), the OAuth settings and the mailbox of a profile
/// that uses the authorization-code flow.
fn delegated(spec: &ProfileSpec) -> Option<(OAuthPlace, &OAuthSettings, String)> {
    let (place, oauth) = OAuthPlace::of(spec)?;
    if !matches!(oauth.flow, OAuthFlow::AuthorizationCode { .. }) {
        return None;
    }
    // The mailbox the token is for: the OAuth user name for SMTP and EWS, the sender for Graph.
    let mailbox = match &spec.transport {
        SpecTransport::Smtp(SmtpTransport {
            auth: Auth::OAuth2(o),
            ..
        })
        | SpecTransport::Ews(EwsTransport {
            auth: Auth::OAuth2(o),
            ..
        }) => o.username.to_string(),
        _ => spec.sender.address.address().to_string(),
    };
    Some((place, oauth, mailbox))
}

/// Where a refusal of the consent points: the grant of this transport's OAuth settings.
fn flow_field(spec: &ProfileSpec) -> &'static str {
    OAuthPlace::for_transport(spec.transport.kind()).path(OAuthField::Flow)
}

/// A stored secret for the consent's token call; one that cannot be opened is logged and left
/// out (the token endpoint then says what is missing).
async fn open(state: &AppState, id: &str, slot: SecretSlot) -> Option<outmail_types::SecretString> {
    match crate::sending::secrets::open_one(&state.store, id, slot).await {
        Ok(value) => value,
        Err(error) => {
            tracing::warn!(%error, profile = %id, %slot, "a stored secret could not be opened");
            None
        }
    }
}

/// The popup's page. `consent-done.js` tells the opener (same origin only) and closes it.
fn page(status: StatusCode, ok: bool, profile_id: &str, title: &str, message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · outmail</title><link rel=\"stylesheet\" href=\"{css}\">\
         <script src=\"/consent-done.js\" defer></script></head>\
         <body><main id=\"consent\" class=\"consent\" data-ok=\"{ok}\" data-profile=\"{profile}\" \
         data-message=\"{message}\"><h1>{title}</h1><p role=\"status\">{message}</p></main>\
         </body></html>",
        title = escape(title),
        css = crate::site::stylesheet_href(),
        profile = escape(profile_id),
        message = escape(message),
    );
    (status, Html(body)).into_response()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
