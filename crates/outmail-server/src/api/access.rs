//! Signing in and out, the first-run setup, API tokens and the audit log.

use axum::{
    Extension, Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use outmail_store::{ApiTokenRow, AuditRow};
use outmail_types::access::{
    ApiTokenView, AuditEvent, CreatedApiToken, LoginRequest, NewApiToken, Role, SessionView,
    SetupRequest,
};
use outmail_types::error::{FieldError, FieldErrors};
use outmail_types::settings::{ListQuery, Page};
use serde::Deserialize;

use super::error::{ApiFailure, ApiResult};
use super::extract::{ApiPath, ApiQuery};
use super::json::ApiJson;
use crate::auth::{self, AuditNote, Principal};
use crate::state::AppState;

/// How many characters of a token are kept to tell tokens apart (after `om_`).
const TOKEN_PREFIX_CHARS: usize = 4;

#[utoipa::path(post, path = "/session", tag = "access", request_body = LoginRequest, responses(
    (status = 200, description = "signed in; the session cookie is set", body = SessionView),
    (status = 401, description = "wrong email or password", body = outmail_types::error::ApiError),
    (status = 422, description = "email or password missing", body = outmail_types::error::ApiError),
    (status = 429, description = "too many failed sign-ins for this email; see Retry-After", body = outmail_types::error::ApiError),
))]
/// Signs in with email and password and sets the session cookie (HttpOnly, SameSite=Strict).
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let email = auth::normalize_email(&request.email);
    let mut missing = FieldErrors::default();
    if email.is_empty() {
        missing.add("email", FieldError::new("required", "enter your email"));
    }
    if request.password.is_empty() {
        missing.add(
            "password",
            FieldError::new("required", "enter your password"),
        );
    }
    if !missing.is_empty() {
        return Err(ApiFailure::invalid(missing));
    }
    if let Err(wait) = state.access.login_allowed(&email) {
        let note = AuditNote::new("login.throttled")
            .actor(&email)
            .target("session");
        return Ok(note.attach(
            ApiFailure::TooMany {
                code: "too_many_attempts",
                message: "too many failed sign-ins for this email".to_owned(),
                retry_after: wait,
            }
            .into_response(),
        ));
    }
    let admin = state.store.admin_by_email(&email).await?;
    let stored = admin.as_ref().map(|admin| admin.password_hash.clone());
    let matches = auth::password::verify(request.password, stored).await;
    let Some(admin) = admin.filter(|_| matches) else {
        state.access.login_failed(&email);
        let note = AuditNote::new("login.failed")
            .actor(&email)
            .target("session");
        return Ok(note.attach(
            ApiFailure::client(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "the email or the password is wrong",
            )
            .into_response(),
        ));
    };
    state.access.login_succeeded(&email);
    let role = Role::parse(&admin.role)
        .ok_or_else(|| ApiFailure::internal(anyhow::anyhow!("unknown role {}", admin.role)))?;
    let response = start_session(
        &state,
        &headers,
        &admin.id,
        &admin.email,
        role,
        StatusCode::OK,
    )
    .await?;
    Ok(AuditNote::new("login")
        .actor(&admin.email)
        .target("session")
        .attach(response))
}

/// Creates a session and answers `status` with its view and cookie.
async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    admin_id: &str,
    email: &str,
    role: Role,
    status: StatusCode,
) -> ApiResult<Response> {
    let token = auth::random_token();
    let lifetime = state.access.config.session_lifetime;
    let now = state.now_ms();
    let expires_at = now + i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX / 2);
    // Sessions that ended without being presented again (a closed browser) are removed here,
    // so the table holds only live ones and the ones of the last idle period.
    let idle = i64::try_from(state.access.config.session_idle.as_millis()).unwrap_or(i64::MAX / 2);
    state.store.delete_stale_sessions(now, now - idle).await?;
    state
        .store
        .create_session(&auth::digest(&token), admin_id, expires_at)
        .await?;
    let view = SessionView {
        email: email.to_owned(),
        role,
        expires_at,
    };
    let mut response = (status, Json(view)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        auth::session_cookie(&token, auth::over_https(headers), lifetime),
    );
    Ok(response)
}

#[utoipa::path(get, path = "/session", tag = "access", responses(
    (status = 200, description = "the signed-in person", body = SessionView),
    (status = 401, description = "not signed in", body = outmail_types::error::ApiError),
))]
/// Who is signed in.
pub async fn current(Extension(principal): Extension<Principal>) -> ApiResult<Json<SessionView>> {
    match principal {
        Principal::Person {
            email,
            role,
            expires_at,
            ..
        } => Ok(Json(SessionView {
            email,
            role,
            expires_at,
        })),
        Principal::Token { .. } => Err(ApiFailure::client(
            StatusCode::FORBIDDEN,
            "forbidden",
            "an API token has no session",
        )),
    }
}

#[utoipa::path(delete, path = "/session", tag = "access", responses(
    (status = 204, description = "signed out; the cookie is removed"),
    (status = 401, description = "not signed in", body = outmail_types::error::ApiError),
))]
/// Signs out: the session ends on the server, and the cookie is removed.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Extension(principal): Extension<Principal>,
) -> ApiResult<Response> {
    if let Principal::Person { session_hash, .. } = &principal {
        state.store.delete_session(session_hash).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        auth::expired_session_cookie(auth::over_https(&headers)),
    );
    Ok(AuditNote::new("logout").target("session").attach(response))
}

#[utoipa::path(post, path = "/setup", tag = "access", request_body = SetupRequest, responses(
    (status = 201, description = "the first admin exists and is signed in", body = SessionView),
    (status = 403, description = "the setup token is wrong", body = outmail_types::error::ApiError),
    (status = 409, description = "an admin exists already", body = outmail_types::error::ApiError),
    (status = 422, description = "email or password not accepted", body = outmail_types::error::ApiError),
))]
/// Creates the first admin with the one-time setup token the server printed at its first start.
pub async fn setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SetupRequest>,
) -> ApiResult<Response> {
    if !state
        .access
        .setup_token_matches(request.token.expose().trim())
    {
        let already = state.store.admin_count().await? > 0;
        return Err(if already {
            already_set_up()
        } else {
            ApiFailure::client(
                StatusCode::FORBIDDEN,
                "invalid_setup_token",
                "this is not the setup token the server printed when it started",
            )
        });
    }
    let (email, password_hash) =
        crate::accounts::new_account(&request.email, request.password).await?;
    let admin = state
        .store
        .create_first_admin(&email, Role::Admin.as_str(), &password_hash)
        .await
        .map_err(|error| match error {
            outmail_store::StoreError::Conflict { .. } => already_set_up(),
            other => other.into(),
        })?;
    state.access.end_setup();
    let response = start_session(
        &state,
        &headers,
        &admin.id,
        &admin.email,
        Role::Admin,
        StatusCode::CREATED,
    )
    .await?;
    Ok(AuditNote::new("admin.create")
        .actor(&admin.email)
        .target(format!("admins/{}", admin.email))
        .fields(vec!["email".into(), "role".into(), "password".into()])
        .attach(response))
}

fn already_set_up() -> ApiFailure {
    ApiFailure::client(
        StatusCode::CONFLICT,
        "already_set_up",
        "an admin exists already: sign in instead",
    )
}

fn token_view(row: ApiTokenRow) -> ApiTokenView {
    let scopes: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
    ApiTokenView {
        id: row.id,
        name: row.name,
        scopes: scopes
            .iter()
            .filter_map(|scope| outmail_types::access::TokenScope::parse(scope))
            .collect(),
        prefix: row.prefix,
        created_at: row.created_at,
        created_by: row.created_by,
        last_used_at: row.last_used_at,
        tenant: row.tenant_id,
    }
}

#[utoipa::path(get, path = "/tokens", tag = "access", responses(
    (status = 200, description = "every API token, newest first (never the token itself)", body = [ApiTokenView]),
))]
pub async fn list_tokens(State(state): State<AppState>) -> ApiResult<Json<Vec<ApiTokenView>>> {
    let rows = state.store.list_api_tokens().await?;
    Ok(Json(rows.into_iter().map(token_view).collect()))
}

#[utoipa::path(post, path = "/tokens", tag = "access", request_body = NewApiToken, responses(
    (status = 201, description = "the token, shown this once", body = CreatedApiToken),
    (status = 422, description = "name or scopes not accepted", body = outmail_types::error::ApiError),
))]
/// Creates an API token for the product's sending API. Only its hash is kept.
pub async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(request): ApiJson<NewApiToken>,
) -> ApiResult<Response> {
    let errors = request.validate();
    if !errors.is_empty() {
        return Err(ApiFailure::invalid(errors));
    }
    let tenant = request
        .tenant
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let mut scopes = request.scopes.clone();
    scopes.sort();
    scopes.dedup();
    let secret = auth::random_token();
    let token = format!("{}{secret}", auth::TOKEN_PREFIX);
    let row = ApiTokenRow {
        id: uuid::Uuid::new_v4().to_string(),
        name: request.name.trim().to_owned(),
        scopes: serde_json::to_string(
            &scopes
                .iter()
                .map(|scope| scope.as_str())
                .collect::<Vec<_>>(),
        )
        .map_err(ApiFailure::internal)?,
        prefix: token[..auth::TOKEN_PREFIX.len() + TOKEN_PREFIX_CHARS].to_owned(),
        token_hash: auth::digest(&token),
        created_at: state.now_ms(),
        created_by: principal.actor(),
        last_used_at: None,
        tenant_id: tenant,
    };
    state
        .store
        .create_api_token(&row)
        .await
        .map_err(|error| match error {
            outmail_store::StoreError::MissingReference { .. } => {
                ApiFailure::invalid_field("tenant", "not_found", "there is no tenant with this ID")
            }
            other => other.into(),
        })?;
    let target = format!("tokens/{}", row.id);
    let created = CreatedApiToken {
        view: token_view(row),
        token: token.into(),
    };
    let mut fields = vec!["name".to_owned(), "scopes".to_owned()];
    if created.view.tenant.is_some() {
        fields.push("tenant".to_owned());
    }
    let mut response = (StatusCode::CREATED, Json(created)).into_response();
    // The token is in this body only: no cache may keep it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(AuditNote::new("token.create")
        .target(target)
        .fields(fields)
        .attach(response))
}

#[utoipa::path(delete, path = "/tokens/{id}", tag = "access", params(("id" = String, Path, description = "the token's ID")), responses(
    (status = 204, description = "revoked: the token no longer works"),
    (status = 404, description = "no such token", body = outmail_types::error::ApiError),
))]
pub async fn revoke_token(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    state
        .store
        .delete_api_token(&id)
        .await
        .map_err(|error| super::error::not_found_as("token", error))?;
    Ok(AuditNote::new("token.revoke")
        .target(format!("tokens/{id}"))
        .attach(StatusCode::NO_CONTENT.into_response()))
}

/// The audit log's paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// From 1.
    page: Option<u32>,
    /// 1 to 200; 50 when absent.
    per_page: Option<u32>,
}

fn event(row: AuditRow) -> AuditEvent {
    AuditEvent {
        id: row.id,
        at: row.at,
        actor: row.actor,
        action: row.action,
        target: row.target,
        fields: serde_json::from_str(&row.fields).unwrap_or_default(),
        outcome: row.outcome,
    }
}

#[utoipa::path(get, path = "/audit", tag = "access", params(AuditParams), responses(
    (status = 200, description = "the audit log, newest first", body = Page<AuditEvent>),
    (status = 422, description = "bad paging", body = outmail_types::error::ApiError),
))]
pub async fn audit(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Json<Page<AuditEvent>>> {
    let page = params.page.unwrap_or(1);
    let per_page = params.per_page.unwrap_or(ListQuery::DEFAULT_PER_PAGE);
    if page == 0 {
        return Err(ApiFailure::invalid_field(
            "page",
            "out_of_range",
            "pages start at 1",
        ));
    }
    if !(1..=ListQuery::MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiFailure::invalid_field(
            "per_page",
            "out_of_range",
            format!("must be 1-{}", ListQuery::MAX_PER_PAGE),
        ));
    }
    let found = state.store.list_audit(page, per_page).await?;
    Ok(Json(Page {
        items: found.items.into_iter().map(event).collect(),
        total: u64::try_from(found.total).unwrap_or(0),
        page,
        per_page,
    }))
}

#[utoipa::path(get, path = "/audit/export", tag = "access", responses(
    (status = 200, description = "the whole audit log as a JSON file, oldest first", body = [AuditEvent]),
))]
pub async fn export_audit(State(state): State<AppState>) -> ApiResult<Response> {
    let events: Vec<AuditEvent> = state
        .store
        .all_audit()
        .await?
        .into_iter()
        .map(event)
        .collect();
    let mut response = Json(events).into_response();
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"outmail-audit.json\""),
    );
    Ok(response)
}
