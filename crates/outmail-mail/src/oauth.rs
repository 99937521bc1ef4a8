//! OAuth 2.0 access tokens with the `oauth2` crate, over our own HTTP client (so token calls
//! go through the profile's proxy, with timeouts and no redirects):
//!
//! - client credentials with a client secret, or with a certificate: a JWT client assertion
//!   signed with the private key (PS256, the certificate's SHA-256 thumbprint in `x5t#S256`),
//!   as the Microsoft identity platform documents;
//! - the refresh-token grant for the authorization-code flow, keeping a rotated refresh token;
//! - the authorization-code flow itself (PKCE S256 and state) for the consent popup, with the
//!   signed-in mailbox read from the ID token;
//! - a per-profile cache that renews a token before it expires.
//!
//! Microsoft's `AADSTS` codes become [`Reason`]s with a remedy each.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardErrorResponse, StandardRevocableToken, StandardTokenResponse,
    TokenResponse, TokenUrl,
};
use outmail_types::diagnosis::Stage;
use outmail_types::profile::{ClientCredential, OAuthFlow, OAuthPreset, OAuthSettings};
use outmail_types::{CertificatePem, HttpsUrl, SecretSlot, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{MailError, Reason};
use crate::http_client::{self, HttpConnection, HttpSettings, ShowBody};
use crate::trace::Trace;

/// A token is renewed this long before it expires, so it cannot lapse mid-send.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);
/// Lifetime assumed when the token response has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// How long a client assertion is valid (Microsoft accepts up to 10 minutes).
const ASSERTION_LIFETIME_SECONDS: i64 = 10 * 60;
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// One profile's OAuth settings with the secrets they need, already opened.
#[derive(Debug, Clone)]
pub struct TokenSource {
    pub settings: OAuthSettings,
    pub client_secret: Option<SecretString>,
    pub private_key: Option<SecretString>,
    pub refresh_token: Option<SecretString>,
    /// The slot the refresh token lives in (to name it in errors and to store a rotated one).
    pub refresh_slot: SecretSlot,
    /// The slots of the client secret and private key, for "not set" errors.
    pub client_secret_slot: SecretSlot,
    pub private_key_slot: SecretSlot,
}

/// An access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub secret: SecretString,
    pub lifetime: Duration,
    /// A new refresh token, when the provider rotated it; the old one may no longer work.
    pub rotated_refresh_token: Option<SecretString>,
}

/// Stores a rotated refresh token (sealed, in the profile's slot). Given by the server, which
/// knows the profile.
pub type RefreshTokenSink = Arc<
    dyn Fn(SecretSlot, SecretString) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// Access tokens kept in memory per profile configuration, renewed before they expire. One
/// fetch at a time per key, so a single-use refresh token is never spent twice.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Cached>>>>>,
}

struct Cached {
    secret: SecretString,
    renew_at: Instant,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache")
    }
}

impl TokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self, key: String) -> Arc<tokio::sync::Mutex<Option<Cached>>> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.entry(key).or_default().clone()
    }
}

/// How to get a token for one send.
pub struct TokenRequest<'a> {
    pub source: &'a TokenSource,
    pub http: &'a HttpSettings,
    pub cache: Option<&'a TokenCache>,
    /// Skip the cache (a test send proves the credentials work now).
    pub fresh: bool,
    pub sink: Option<&'a RefreshTokenSink>,
}

/// Gets an access token (from the cache when still good), recording the `token` stage.
pub async fn access_token(
    trace: &mut Trace,
    request: TokenRequest<'_>,
) -> Result<SecretString, MailError> {
    trace.begin_nested(Stage::Token);
    let result = cached_or_fetch(trace, &request).await;
    trace.end_nested();
    match result {
        Ok((token, detail)) => {
            trace.pass(detail);
            Ok(token)
        }
        Err(mut e) => {
            e.stage = Stage::Token;
            Err(e)
        }
    }
}

async fn cached_or_fetch(
    trace: &mut Trace,
    request: &TokenRequest<'_>,
) -> Result<(SecretString, String), MailError> {
    let key = cache_key(request.source);
    let slot = request.cache.map(|cache| cache.slot(key));
    let mut guard = match &slot {
        Some(slot) => Some(slot.lock().await),
        None => None,
    };
    if !request.fresh
        && let Some(Some(cached)) = guard.as_deref()
        && Instant::now() < cached.renew_at
    {
        trace.note("using the cached access token");
        return Ok((cached.secret.clone(), "cached access token".to_owned()));
    }
    let token = fetch(trace, request.source, request.http).await?;
    if let Some(rotated) = &token.rotated_refresh_token
        && let Some(sink) = request.sink
    {
        // Keep the new refresh token before anything else can fail: the old one may be spent.
        if let Err(e) = sink(request.source.refresh_slot, rotated.clone()).await {
            tracing::error!(error = %e, "a rotated refresh token could not be stored");
        } else {
            trace.note("the provider rotated the refresh token; the new one is stored");
        }
    }
    if let Some(guard) = guard.as_deref_mut() {
        *guard = Some(Cached {
            secret: token.secret.clone(),
            renew_at: Instant::now() + token.lifetime.saturating_sub(RENEW_BEFORE_EXPIRY),
        });
    }
    Ok((
        token.secret,
        format!(
            "access token from {}, valid for {} s",
            request.source.settings.token_url.host(),
            token.lifetime.as_secs()
        ),
    ))
}

/// The cache key: everything that decides which token comes back, with the credential
/// hashed (a changed secret must not reuse a token fetched with the old one).
fn cache_key(source: &TokenSource) -> String {
    let settings = &source.settings;
    let mut hasher = Sha256::new();
    for part in [
        settings.token_url.as_str(),
        settings.client_id.as_str(),
        &settings.scopes.to_string(),
        match &settings.flow {
            OAuthFlow::ClientCredentials(_) => "client_credentials",
            OAuthFlow::AuthorizationCode { .. } => "authorization_code",
        },
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    for secret in [
        &source.client_secret,
        &source.private_key,
        &source.refresh_token,
    ] {
        hasher.update(secret.as_ref().map_or("", |s| s.expose()).as_bytes());
        hasher.update([0]);
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fetches a new access token with the profile's grant.
pub async fn fetch(
    trace: &mut Trace,
    source: &TokenSource,
    http: &HttpSettings,
) -> Result<AccessToken, MailError> {
    let settings = &source.settings;
    let client = client(settings, source.client_secret.as_ref())?;
    let scopes: Vec<Scope> = settings
        .scopes
        .iter()
        .map(|s| Scope::new(s.as_str().to_owned()))
        .collect();
    let transcript = Mutex::new(Trace::new());
    let http_client = TokenHttp {
        transcript: &transcript,
        http,
    };
    let result = match &settings.flow {
        OAuthFlow::ClientCredentials(credential) => {
            trace.note(&format!(
                "client credentials grant for client {} at {}",
                settings.client_id.as_str(),
                settings.token_url
            ));
            let mut grant = client.exchange_client_credentials().add_scopes(scopes);
            match credential {
                ClientCredential::Secret => {
                    require(&source.client_secret, source.client_secret_slot)?;
                }
                ClientCredential::Certificate(cert) => {
                    let key = require(&source.private_key, source.private_key_slot)?;
                    let assertion = client_assertion(
                        settings.client_id.as_str(),
                        settings.token_url.as_str(),
                        cert,
                        key,
                        outmail_clock::unix_seconds(http.clock.as_ref()),
                    )?;
                    trace.note(&format!(
                        "client assertion signed with the certificate {} (x5t#S256 {})",
                        cert.subject(),
                        cert.x5t_s256()
                    ));
                    grant = grant
                        .add_extra_param("client_assertion_type", JWT_BEARER)
                        .add_extra_param("client_assertion", assertion);
                }
            }
            grant.request_async(&http_client).await
        }
        OAuthFlow::AuthorizationCode { .. } => {
            let Some(refresh) = &source.refresh_token else {
                return Err(MailError::new(
                    Reason::ConsentRequired,
                    Stage::Token,
                    "no refresh token is stored: sign in and consent first",
                ));
            };
            trace.note(&format!(
                "refresh token grant for client {} at {}",
                settings.client_id.as_str(),
                settings.token_url
            ));
            let refresh = RefreshToken::new(refresh.expose().to_owned());
            client
                .exchange_refresh_token(&refresh)
                .add_scopes(scopes)
                .request_async(&http_client)
                .await
        }
    };
    let lines = transcript
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    trace.absorb(lines);
    let response = result.map_err(|e| token_error(e, source))?;
    let rotated = response
        .refresh_token()
        .map(|r| r.secret().as_str())
        .filter(|new| source.refresh_token.as_ref().map(|old| old.expose()) != Some(*new))
        .map(SecretString::from);
    Ok(AccessToken {
        secret: SecretString::from(response.access_token().secret().as_str()),
        lifetime: response.expires_in().unwrap_or(DEFAULT_LIFETIME),
        rotated_refresh_token: rotated,
    })
}

fn require(secret: &Option<SecretString>, slot: SecretSlot) -> Result<&SecretString, MailError> {
    secret.as_ref().ok_or_else(|| {
        MailError::new(
            Reason::SecretMissing { path: slot.path() },
            Stage::Token,
            format!("{} is not set", slot.path()),
        )
    })
}

/// The token response with OpenID Connect's `id_token` (present after a consent that asked
/// for `openid`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type TokenWithId = StandardTokenResponse<IdTokenField, BasicTokenType>;

type Client = oauth2::Client<
    BasicErrorResponse,
    TokenWithId,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

fn client(settings: &OAuthSettings, secret: Option<&SecretString>) -> Result<Client, MailError> {
    let invalid = |what: &str| {
        MailError::new(
            Reason::InvalidMessage,
            Stage::Token,
            format!("the {what} is not a valid URL"),
        )
    };
    let token_url =
        TokenUrl::new(settings.token_url.as_str().to_owned()).map_err(|_| invalid("token URL"))?;
    // Without an authorize URL (client credentials) the token URL stands in: the typestate
    // wants one, and it is never used for that flow.
    let authorize_url = settings
        .authorize_url
        .as_ref()
        .unwrap_or(&settings.token_url);
    let auth_url =
        AuthUrl::new(authorize_url.as_str().to_owned()).map_err(|_| invalid("authorize URL"))?;
    let mut client = oauth2::Client::<
        BasicErrorResponse,
        TokenWithId,
        BasicTokenIntrospectionResponse,
        StandardRevocableToken,
        BasicRevocationErrorResponse,
    >::new(ClientId::new(settings.client_id.as_str().to_owned()))
    .set_auth_uri(auth_url)
    .set_token_uri(token_url)
    // Microsoft and Google both take the client credentials in the form body.
    .set_auth_type(AuthType::RequestBody);
    if let Some(secret) = secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
    }
    if let OAuthFlow::AuthorizationCode { redirect_url } = &settings.flow {
        client = client.set_redirect_uri(
            RedirectUrl::new(redirect_url.as_str().to_owned())
                .map_err(|_| invalid("redirect URL"))?,
        );
    }
    Ok(client)
}

/// The JWT client assertion (RFC 7523) Microsoft's certificate credentials use: PS256 with
/// the certificate's SHA-256 thumbprint, audience the token URL, issuer and subject the client.
pub fn client_assertion(
    client_id: &str,
    token_url: &str,
    certificate: &CertificatePem,
    private_key_pem: &SecretString,
    now: i64,
) -> Result<String, MailError> {
    #[derive(Serialize)]
    struct Claims<'a> {
        aud: &'a str,
        iss: &'a str,
        sub: &'a str,
        jti: String,
        nbf: i64,
        iat: i64,
        exp: i64,
    }
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.expose().as_bytes())
        .map_err(|e| {
            MailError::new(
                Reason::TokenRefused,
                Stage::Token,
                format!("the private key cannot sign: {e}"),
            )
        })?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t_s256 = Some(certificate.x5t_s256());
    let claims = Claims {
        aud: token_url,
        iss: client_id,
        sub: client_id,
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now,
        iat: now,
        exp: now + ASSERTION_LIFETIME_SECONDS,
    };
    jsonwebtoken::encode(&header, &claims, &key).map_err(|e| {
        MailError::new(
            Reason::TokenRefused,
            Stage::Token,
            format!("the client assertion could not be signed: {e}"),
        )
    })
}

/// The `oauth2` crate's HTTP client: our connection per exchange, its transcript kept aside
/// (the crate calls the client through `&self`) and merged afterwards. A named type with a
/// boxed `Send` future, because a closure's future cannot be shown `Send` for every lifetime
/// (which the server's spawned tasks need).
struct TokenHttp<'a> {
    transcript: &'a Mutex<Trace>,
    http: &'a HttpSettings,
}

type ExchangeFuture<'c> =
    Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, MailError>> + Send + 'c>>;

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = MailError;
    type Future = ExchangeFuture<'c>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(exchange(self.transcript, self.http, request))
    }
}

async fn exchange(
    transcript: &Mutex<Trace>,
    http: &HttpSettings,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, MailError> {
    let mut trace = Trace::new();
    let result = async {
        let url = HttpsUrl::parse(&request.uri().to_string()).map_err(|e| {
            MailError::new(
                Reason::InvalidMessage,
                Stage::Token,
                format!("the token URL cannot be used: {e}"),
            )
        })?;
        let mut connection = HttpConnection::open(&mut trace, &url, http).await?;
        connection
            .send(&mut trace, Stage::Token, request, ShowBody::OnError)
            .await
    }
    .await;
    if let Ok(mut shared) = transcript.lock() {
        shared.absorb(trace);
    }
    let response = result?;
    if let Some(error) = unavailable(&response) {
        return Err(error);
    }
    let (parts, body) = response.into_parts();
    Ok(oauth2::HttpResponse::from_parts(parts, body.to_vec()))
}

/// A token endpoint that is down or busy (408, 429, 5xx) is a fault to wait out, not a refusal
/// of the credentials: without this the `oauth2` crate reads such an answer as an unparsable
/// token response, and the message would fail for good during an outage of the token service.
fn unavailable(response: &http::Response<bytes::Bytes>) -> Option<MailError> {
    let status = response.status().as_u16();
    let reason = match status {
        429 => Reason::Throttled,
        408 | 500..=599 => Reason::ServerError,
        _ => return None,
    };
    let mut error = MailError::new(
        reason,
        Stage::Token,
        format!("the token endpoint answered {}", response.status()),
    )
    .with_http_status(status);
    error.retry_after = http_client::retry_after(response);
    Some(error)
}

type TokenError = RequestTokenError<MailError, StandardErrorResponse<BasicErrorResponseType>>;

/// What went wrong at the token endpoint, with Microsoft's `AADSTS` codes sorted into causes.
fn token_error(error: TokenError, source: &TokenSource) -> MailError {
    match error {
        RequestTokenError::Request(mut e) => {
            e.stage = Stage::Token;
            e
        }
        RequestTokenError::ServerResponse(response) => {
            let description = response.error_description().cloned().unwrap_or_default();
            let words = format!("{}: {}", response.error(), description);
            let reason = match aadsts_code(&description) {
                Some(700016) => Reason::TokenApplicationNotFound,
                Some(7000215) => Reason::TokenInvalidSecret,
                Some(7000222) => Reason::TokenSecretExpired,
                Some(700027) => Reason::TokenCertificateNotRegistered,
                Some(90002) => Reason::TokenTenantNotFound,
                _ if *response.error() == BasicErrorResponseType::InvalidGrant
                    && matches!(source.settings.flow, OAuthFlow::AuthorizationCode { .. }) =>
                {
                    // The refresh token was revoked, expired or already spent: sign in again.
                    Reason::ConsentRequired
                }
                _ => Reason::TokenRefused,
            };
            MailError::new(reason, Stage::Token, words)
        }
        RequestTokenError::Parse(e, _) => MailError::new(
            Reason::Protocol,
            Stage::Token,
            format!("the token endpoint's answer is not a token response: {e}"),
        ),
        RequestTokenError::Other(words) => {
            MailError::new(Reason::TokenRefused, Stage::Token, words)
        }
    }
}

/// `AADSTS7000215: Invalid client secret provided…` → `7000215`.
fn aadsts_code(description: &str) -> Option<u32> {
    let start = description.find("AADSTS")? + "AADSTS".len();
    let digits: String = description[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A started consent: send the admin's browser to `authorize_url`, keep `state` and the PKCE
/// `verifier` on the server until the provider redirects back.
#[derive(Debug)]
pub struct ConsentStart {
    pub authorize_url: String,
    pub state: String,
    pub verifier: SecretString,
}

/// Builds the authorization request (PKCE S256, a random state, the login hint). Asks for
/// `openid` and `profile` besides the profile's scopes: the ID token says which mailbox
/// signed in.
pub fn consent_start(
    settings: &OAuthSettings,
    login_hint: &str,
) -> Result<ConsentStart, MailError> {
    let client = client(settings, None)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .add_extra_param("login_hint", login_hint);
    for scope in settings.scopes.iter() {
        request = request.add_scope(Scope::new(scope.as_str().to_owned()));
    }
    for extra in identity_scopes(settings.preset) {
        if !settings.scopes.contains(extra) {
            request = request.add_scope(Scope::new((*extra).to_owned()));
        }
    }
    if settings.preset == OAuthPreset::Google {
        // Google returns a refresh token only with offline access and a fresh consent.
        request = request
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent");
    }
    let (url, state) = request.url();
    Ok(ConsentStart {
        authorize_url: url.to_string(),
        state: state.secret().clone(),
        verifier: SecretString::from(verifier.secret().as_str()),
    })
}

fn identity_scopes(preset: OAuthPreset) -> &'static [&'static str] {
    match preset {
        OAuthPreset::Google => &["openid", "email"],
        OAuthPreset::Microsoft365 | OAuthPreset::Custom => &["openid", "profile"],
    }
}

/// What the consent produced.
#[derive(Debug)]
pub struct Consented {
    pub refresh_token: SecretString,
    /// The mailbox that signed in, from the ID token.
    pub mailbox: String,
}

/// Redeems the authorization code (with the PKCE verifier) for tokens, and reads who signed
/// in from the ID token. The ID token came straight from the token endpoint over our own
/// connection, so (as OpenID Connect Core 3.1.3.7 allows) its signature is not checked.
pub async fn consent_finish(
    settings: &OAuthSettings,
    client_secret: Option<&SecretString>,
    http: &HttpSettings,
    code: &str,
    verifier: &SecretString,
) -> Result<Consented, MailError> {
    let client = client(settings, client_secret)?;
    let transcript = Mutex::new(Trace::new());
    let http_client = TokenHttp {
        transcript: &transcript,
        http,
    };
    let source = TokenSource {
        settings: settings.clone(),
        client_secret: client_secret.cloned(),
        private_key: None,
        refresh_token: None,
        refresh_slot: SecretSlot::AuthRefreshToken,
        client_secret_slot: SecretSlot::AuthClientSecret,
        private_key_slot: SecretSlot::AuthPrivateKey,
    };
    let response: TokenWithId = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()))
        .request_async(&http_client)
        .await
        .map_err(|e| token_error(e, &source))?;
    let refresh_token = response.refresh_token().ok_or_else(|| {
        MailError::new(
            Reason::TokenRefused,
            Stage::Token,
            "the provider sent no refresh token: the scopes must include offline_access \
             (Microsoft) or the consent must ask for offline access (Google)",
        )
    })?;
    let mailbox = response
        .extra_fields()
        .id_token
        .as_deref()
        .and_then(id_token_mailbox)
        .ok_or_else(|| {
            MailError::new(
                Reason::TokenRefused,
                Stage::Token,
                "the provider sent no ID token naming the mailbox that signed in",
            )
        })?;
    Ok(Consented {
        refresh_token: SecretString::from(refresh_token.secret().as_str()),
        mailbox,
    })
}

/// The signed-in account from an ID token's claims: `email`, else `preferred_username`, else
/// `upn`.
fn id_token_mailbox(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let json = BASE64URL.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
    ["email", "preferred_username", "upn"]
        .iter()
        .find_map(|claim| claims.get(claim)?.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aadsts_codes_are_read_from_the_description() {
        assert_eq!(
            aadsts_code("AADSTS7000215: Invalid client secret provided."),
            Some(7000215)
        );
        assert_eq!(
            aadsts_code("AADSTS700016: Application with identifier 'x' was not found"),
            Some(700016)
        );
        assert_eq!(aadsts_code("invalid client"), None);
    }

    #[test]
    fn the_id_token_names_the_mailbox() {
        let claims = BASE64URL.encode(br#"{"preferred_username":"ops@contoso.example"}"#);
        assert_eq!(
            id_token_mailbox(&format!("e30.{claims}.sig")).as_deref(),
            Some("ops@contoso.example")
        );
        assert_eq!(id_token_mailbox("not-a-jwt"), None);
    }
}
