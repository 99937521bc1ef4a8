//! Who is asking, and whether they may: sessions and API tokens, the access rule of every route,
//! the cross-site check, sign-in throttling, the test-send limit and the audit trail.
//!
//! One middleware ([`guard`]) sits in front of the whole router, so a route added later is
//! covered by the rule its path and method fall under ([`policy::requirement`]) without
//! anyone remembering to add a check.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use base64::Engine as _;
use governor::{Quota, RateLimiter, clock::Clock as _};
use outmail_types::access::{Role, TokenScope};
use sha2::Digest as _;

use crate::api::error::ApiFailure;
use crate::config::AccessConfig;
use crate::state::AppState;

pub mod audit;
pub mod password;
pub mod policy;

pub use audit::AuditNote;
use policy::Requirement;

/// The session cookie. `__Host-` would bind it to https; it is added only behind https.
pub const SESSION_COOKIE: &str = "outmail_session";
/// API tokens start with this, so a leaked one is recognisable (and secret scanners can match).
pub const TOKEN_PREFIX: &str = "om_";
/// Failed sign-ins for one email within [`LOGIN_WINDOW`] before further tries are refused.
pub const MAX_LOGIN_FAILURES: usize = 5;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// A session's last activity is written at most this often, not on every request.
const TOUCH_INTERVAL_MS: i64 = 60_000;

/// Who made a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A person signed in through the UI.
    Person {
        admin_id: String,
        email: String,
        role: Role,
        /// The hash of the session cookie, to end this session on sign-out.
        session_hash: String,
        expires_at: i64,
    },
    /// A product using an API token.
    Token {
        id: String,
        name: String,
        scopes: Vec<TokenScope>,
        /// The tenant it is bound to: it sends only that tenant's mail.
        tenant: Option<String>,
    },
}

impl Principal {
    /// How the audit log names this principal.
    pub fn actor(&self) -> String {
        match self {
            Principal::Person { email, .. } => email.clone(),
            Principal::Token { name, .. } => format!("token:{name}"),
        }
    }
}

/// What the access rules keep between requests.
pub struct AccessState {
    pub config: AccessConfig,
    /// Recent failed sign-ins per email. In memory: with several replicas each counts its own,
    /// which still bounds guessing to a few tries per window per replica.
    login_failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    test_sends: governor::DefaultKeyedRateLimiter<String>,
    /// The one-time token that creates the first admin, while there is none.
    setup_token: Mutex<Option<String>>,
}

impl AccessState {
    pub fn new(config: AccessConfig) -> Self {
        let per_minute = NonZeroU32::new(config.test_sends_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            test_sends: RateLimiter::keyed(Quota::per_minute(per_minute)),
            config,
            login_failures: Mutex::default(),
            setup_token: Mutex::default(),
        }
    }

    /// Makes a new setup token (replacing any earlier one) and returns it.
    pub fn issue_setup_token(&self) -> String {
        let token = random_token();
        *lock(&self.setup_token) = Some(token.clone());
        token
    }

    /// Whether `token` is the setup token; it stays valid until [`Self::end_setup`].
    pub fn setup_token_matches(&self, token: &str) -> bool {
        lock(&self.setup_token)
            .as_deref()
            .is_some_and(|expected| digest(expected) == digest(token))
    }

    pub fn end_setup(&self) {
        *lock(&self.setup_token) = None;
    }

    /// `Err(wait)` while `email` has had too many failed sign-ins lately.
    pub fn login_allowed(&self, email: &str) -> Result<(), Duration> {
        let mut failures = lock(&self.login_failures);
        let Some(recent) = failures.get_mut(email) else {
            return Ok(());
        };
        let now = Instant::now();
        recent.retain(|at| now.duration_since(*at) < LOGIN_WINDOW);
        if recent.len() < MAX_LOGIN_FAILURES {
            return Ok(());
        }
        let oldest = recent.front().copied().unwrap_or(now);
        Err(LOGIN_WINDOW.saturating_sub(now.duration_since(oldest)))
    }

    pub fn login_failed(&self, email: &str) {
        let mut failures = lock(&self.login_failures);
        // Bounded: an attacker cycling through made-up emails must not grow this forever.
        if failures.len() > 10_000 {
            let now = Instant::now();
            failures.retain(|_, recent| {
                recent
                    .back()
                    .is_some_and(|at| now.duration_since(*at) < LOGIN_WINDOW)
            });
        }
        let recent = failures.entry(email.to_owned()).or_default();
        recent.push_back(Instant::now());
        while recent.len() > MAX_LOGIN_FAILURES {
            recent.pop_front();
        }
    }

    pub fn login_succeeded(&self, email: &str) {
        lock(&self.login_failures).remove(email);
    }

    /// Counts a test send for `admin_id`; `Err(wait)` beyond the configured rate.
    pub fn take_test_send(&self, admin_id: &str) -> Result<(), Duration> {
        self.test_sends
            .check_key(&admin_id.to_owned())
            .map_err(|not_until| {
                not_until.wait_time_from(governor::clock::DefaultClock::default().now())
            })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data is a cache of counters: after a panic elsewhere it is still usable.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// 32 random bytes, URL-safe: for session cookies, API tokens and the setup token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides random bytes");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a session cookie or API token: its SHA-256, in hex.
pub fn digest(secret: &str) -> String {
    format!("{:x}", sha2::Sha256::digest(secret.as_bytes()))
}

/// Emails are compared as typed but without surrounding spaces and case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The session cookie for `token`. `Secure` when the request came over https (directly or
/// through a proxy that says so), so a plain-http deployment on loopback still works.
pub fn session_cookie(token: &str, secure: bool, max_age: Duration) -> HeaderValue {
    let cookie = cookie::Cookie::build((SESSION_COOKIE, token.to_owned()))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("the cookie is ASCII")
}

/// The cookie that removes the session cookie.
pub fn expired_session_cookie(secure: bool) -> HeaderValue {
    session_cookie("", secure, Duration::ZERO)
}

/// Whether the browser reached us over https.
pub fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE && !cookie.value().is_empty())
        .map(|cookie| cookie.value().to_owned())
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Why a state-changing request looks cross-site, or `None` when it is from our own pages
/// (or from a client that is not a browser and carries no cookie a page could ride on).
fn cross_site(headers: &HeaderMap, has_cookie: bool) -> Option<&'static str> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => None,
            _ => Some("the request came from another site (Sec-Fetch-Site)"),
        };
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|origin| origin.split_once("://"))
            .map(|(_, authority)| authority);
        return match (origin_host, host) {
            (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host) => None,
            _ => Some("the request's Origin is not this server"),
        };
    }
    // Browsers send one of the two with every state-changing fetch; a cookie without either
    // is not from our pages.
    has_cookie.then_some("a signed-in request must come with Origin or Sec-Fetch-Site")
}

/// Resolves the principal of a request: its session cookie, else its bearer token. An expired
/// or unknown credential is no principal.
async fn identify(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiFailure> {
    let now = state.now_ms();
    if let Some(token) = session_token(headers) {
        let hash = digest(&token);
        let Some(session) = state.store.session(&hash).await? else {
            return Ok(None);
        };
        let idle_ms =
            i64::try_from(state.access.config.session_idle.as_millis()).unwrap_or(i64::MAX);
        if now >= session.expires_at || now - session.last_seen_at > idle_ms {
            state.store.delete_session(&hash).await?;
            return Ok(None);
        }
        if now - session.last_seen_at > TOUCH_INTERVAL_MS {
            state.store.touch_session(&hash, now).await?;
        }
        let Some(role) = Role::parse(&session.role) else {
            return Ok(None);
        };
        return Ok(Some(Principal::Person {
            admin_id: session.admin_id,
            email: session.email,
            role,
            session_hash: hash,
            expires_at: session.expires_at,
        }));
    }
    if let Some(token) = bearer_token(headers) {
        return Ok(token_holder(state, token).await?);
    }
    Ok(None)
}

/// The principal an API token stands for, or `None` for an unknown one. Also what the SMTP
/// relay's AUTH checks, so a token means the same at both doors.
pub async fn token_holder(
    state: &AppState,
    token: &str,
) -> Result<Option<Principal>, outmail_store::StoreError> {
    let now = state.now_ms();
    let Some(row) = state.store.api_token_by_hash(&digest(token)).await? else {
        return Ok(None);
    };
    if row
        .last_used_at
        .is_none_or(|at| now - at > TOUCH_INTERVAL_MS)
    {
        state.store.touch_api_token(&row.id, now).await?;
    }
    // Unreadable scopes grant nothing (fail closed), but say so: the token's owner will see
    // 403s and an operator needs the reason.
    let scopes: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_else(|error| {
        tracing::error!(token = %row.id, %error, "an API token's stored scopes cannot be read");
        Vec::new()
    });
    Ok(Some(Principal::Token {
        id: row.id,
        name: row.name,
        scopes: scopes.iter().filter_map(|s| TokenScope::parse(s)).collect(),
        tenant: row.tenant_id,
    }))
}

/// The middleware in front of every route: the cross-site check for state-changing requests,
/// the principal, the route's requirement, and the audit entry of every change.
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let changes = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    let has_cookie = session_token(request.headers()).is_some();
    if changes && let Some(why) = cross_site(request.headers(), has_cookie) {
        return ApiFailure::client(StatusCode::FORBIDDEN, "csrf", format!("refused: {why}"))
            .into_response();
    }
    let principal = match identify(&state, request.headers()).await {
        Ok(principal) => principal,
        Err(failure) => return failure.into_response(),
    };
    let requirement = policy::requirement(&method, &path);
    if let Err(refusal) = policy::admit(requirement, principal.as_ref()) {
        return refuse(refusal, requirement, &method, request.uri());
    }
    if let Some(principal) = &principal {
        request.extensions_mut().insert(principal.clone());
    }
    let mut response = next.run(request).await;
    // Queued messages and support requests have their own record, the delivery log; writing
    // an audit entry for each would double the database writes of the sending API.
    let in_delivery_log = matches!(
        requirement,
        Requirement::ChangeOrToken(TokenScope::MessagesSend)
    );
    if changes && !in_delivery_log {
        audit::record_request(&state, principal.as_ref(), &method, &path, &mut response).await;
    }
    response
}

fn refuse(
    refusal: policy::Refusal,
    requirement: Requirement,
    method: &Method,
    uri: &axum::http::Uri,
) -> Response {
    match refusal {
        policy::Refusal::SignInFirst
            if requirement == Requirement::Page && method == Method::GET =>
        {
            let next = uri
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned();
            let next = url_encode(&next);
            Redirect::to(&format!("/login?next={next}")).into_response()
        }
        policy::Refusal::SignInFirst => ApiFailure::client(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in first (POST /api/v1/session), or send an API token as \
             `Authorization: Bearer …`",
        )
        .into_response(),
        policy::Refusal::Forbidden(why) => {
            ApiFailure::client(StatusCode::FORBIDDEN, "forbidden", why).into_response()
        }
    }
}

/// Percent-encodes everything but unreserved characters, for a path in a query parameter.
fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn same_origin_requests_pass_and_cross_site_ones_do_not() {
        let ours = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert_eq!(cross_site(&ours, true), None);
        let fetch = headers(&[("sec-fetch-site", "same-origin")]);
        assert_eq!(cross_site(&fetch, true), None);
        for refused in [
            headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://evil.example"),
            ]),
            headers(&[("host", "127.0.0.1:3000"), ("origin", "null")]),
            headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://127.0.0.1:3000"),
            ]),
            headers(&[("sec-fetch-site", "same-site")]),
        ] {
            assert!(cross_site(&refused, false).is_some(), "{refused:?}");
        }
        // A cookie without either header is not from our pages; a script without a cookie is
        // not riding on anyone's session.
        assert!(cross_site(&HeaderMap::new(), true).is_some());
        assert_eq!(cross_site(&HeaderMap::new(), false), None);
    }

    #[test]
    fn the_session_cookie_is_http_only_and_strict() {
        let cookie = session_cookie("abc", false, Duration::from_secs(60));
        let text = cookie.to_str().unwrap();
        assert!(text.starts_with("outmail_session=abc"), "{text}");
        assert!(
            text.contains("HttpOnly") && text.contains("SameSite=Strict"),
            "{text}"
        );
        assert!(!text.contains("Secure"), "{text}");
        let secure = session_cookie("abc", true, Duration::from_secs(60));
        assert!(secure.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn failed_sign_ins_are_throttled_per_email() {
        let access = AccessState::new(AccessConfig::default());
        for _ in 0..MAX_LOGIN_FAILURES {
            assert!(access.login_allowed("a@example.com").is_ok());
            access.login_failed("a@example.com");
        }
        let wait = access.login_allowed("a@example.com").unwrap_err();
        assert!(wait > Duration::from_secs(14 * 60) && wait <= LOGIN_WINDOW);
        assert!(access.login_allowed("b@example.com").is_ok());
        access.login_succeeded("a@example.com");
        assert!(access.login_allowed("a@example.com").is_ok());
    }

    #[test]
    fn test_sends_are_limited_per_admin() {
        let access = AccessState::new(AccessConfig {
            test_sends_per_minute: 3,
            ..AccessConfig::default()
        });
        for _ in 0..3 {
            access.take_test_send("one").unwrap();
        }
        let wait = access.take_test_send("one").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        access.take_test_send("two").unwrap();
    }

    #[test]
    fn the_next_page_is_encoded() {
        assert_eq!(
            url_encode("/delivery?status=failed"),
            "%2Fdelivery%3Fstatus%3Dfailed"
        );
    }
}
