//! The REST API under `/api/v1`: the product, scripts and the UI are all its clients.

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use serde::Serialize;

use crate::state::AppState;

pub mod access;
pub mod consent;
pub mod documents;
pub mod error;
pub mod etag;
pub mod extract;
pub mod failover;
pub mod json;
pub mod messages;
pub mod profiles;
pub mod references;
pub mod relay;
pub mod respond;
pub mod routing;
pub mod settings;
pub mod support;
pub mod tenants;
pub mod test_send;
pub mod transfer;

/// The document's frame; every operation and schema is added from the handlers and types.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "outmail",
        description = "Outgoing-mail settings and delivery. Errors are `ApiError` JSON; every \
                       update and delete takes the ETag it edits in `If-Match`; secrets are \
                       write-only and come back as `{\"set\": bool}`."
    ),
    servers((url = "/api/v1")),
    tags(
        (name = "profiles", description = "Named mail-server profiles"),
        (name = "settings", description = "Global settings"),
        (name = "tenants", description = "Tenants and their effective configuration"),
        (name = "routing", description = "Sender address or domain to profile"),
        (name = "messages", description = "Sending, the delivery log, resends and support requests"),
        (name = "relay", description = "The SMTP relay for products that only send SMTP"),
        (name = "transfer", description = "Export and import of the whole configuration"),
        (name = "access", description = "Signing in, API tokens and the audit log"),
        (name = "system", description = "Health"),
    )
)]
struct ApiDoc;

/// The routes and the OpenAPI document, built from one handler list so that neither can have a
/// route the other lacks.
fn documented_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi as _;
    use utoipa_axum::{router::OpenApiRouter, routes};
    let (routes, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(access::login, access::current, access::logout))
        .routes(routes!(access::setup))
        .routes(routes!(access::list_tokens, access::create_token))
        .routes(routes!(access::revoke_token))
        .routes(routes!(access::audit))
        .routes(routes!(access::export_audit))
        .routes(routes!(profiles::list, profiles::create))
        .routes(routes!(profiles::get, profiles::update, profiles::delete))
        .routes(routes!(profiles::duplicate))
        .routes(routes!(test_send::saved))
        .routes(routes!(test_send::draft))
        .routes(routes!(consent::start))
        .routes(routes!(messages::send, messages::list))
        .routes(routes!(messages::get))
        .routes(routes!(messages::resend))
        .routes(routes!(support::create))
        .routes(routes!(relay::get))
        .routes(routes!(failover::list))
        .routes(routes!(failover::get))
        .routes(routes!(failover::reset))
        .routes(routes!(settings::get, settings::update))
        .routes(routes!(tenants::list, tenants::create))
        .routes(routes!(tenants::get, tenants::update, tenants::delete))
        .routes(routes!(tenants::effective))
        .routes(routes!(routing::list, routing::create))
        .routes(routes!(routing::get, routing::update, routing::delete))
        .routes(routes!(transfer::export))
        .routes(routes!(transfer::import))
        .split_for_parts();
    // The model's own schemas are exact (tagged variants closed, as serde reads them); they
    // replace what the derives collected under the same names.
    let components = document.components.get_or_insert_with(Default::default);
    components.schemas.extend(outmail_types::openapi::schemas());
    declare_client_errors(&mut document);
    (routes, document)
}

/// The refusals any operation can answer, declared once and referred to by every operation
/// under `4XX`, instead of the same list on each: the operations list only what is their own
/// (404, 409, 412, 422, 428 and what those mean there).
fn declare_client_errors(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    const NAME: &str = "ClientError";
    let response = ResponseBuilder::new()
        .description(
            "The request was refused, and the ApiError body says why (naming the field where \
             there is one): the body is not valid JSON (400) or not JSON at all (415), or is \
             over 64 KiB (413); no session or token (401); the role or token scope does not \
             allow it, or a cross-site request (403); too many requests, with Retry-After \
             (429); and the operation's own refusals listed beside this.",
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ApiError")))
                .build(),
        )
        .build();
    document
        .components
        .get_or_insert_with(Default::default)
        .responses
        .insert(NAME.to_owned(), RefOr::T(response));
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation
                .responses
                .responses
                .entry("4XX".to_owned())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name(NAME)));
        }
    }
}

/// The OpenAPI 3.1 document of this API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_routes().1
}

pub fn router() -> Router<AppState> {
    let (routes, document) = documented_routes();
    let document = document
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    routes
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(json::BODY_LIMIT_BYTES))
}

/// The answer of `GET /api/v1/health`.
#[derive(Serialize, Debug, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    pub database: &'static str,
}

#[utoipa::path(get, path = "/health", tag = "system", responses(
    (status = 200, description = "ready", body = Health),
    (status = 503, description = "the database does not answer", body = Health),
))]
/// Ready only when the database answers: a load balancer should not send work to an instance
/// that cannot read its settings.
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (status, word) = match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(%error, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    };
    let health = Health {
        status: word,
        version: env!("CARGO_PKG_VERSION"),
        database: state.store.backend_name(),
    };
    (status, Json(health))
}

/// A known path with a method it does not take.
async fn method_not_allowed() -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(serde_json::json!({
            "code": "method_not_allowed",
            "message": "this route does not take that method; see /api/v1/openapi.json",
            "fields": {},
        })),
    )
}

/// API clients get JSON for a wrong path, not the UI's HTML page.
async fn unknown_route() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({
            "code": "not_found",
            "message": "no such API route; see /api/v1/openapi.json",
            "fields": {},
        })),
    )
}
