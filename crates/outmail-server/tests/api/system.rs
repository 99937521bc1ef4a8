//! Health and the errors of the API surface itself.

use axum::http::{Method, StatusCode};

use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(
    the_health_check_names_the_backend_in_use,
    a_known_route_with_another_method_is_a_json_405,
);

async fn the_health_check_names_the_backend_in_use(app: &TestApp) {
    let answer = app.get("/api/v1/health").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["status"], "ok");
    assert_eq!(answer.json["database"], app.store.backend_name());
    assert!(["sqlite", "postgres"].contains(&app.store.backend_name()));
}

async fn a_known_route_with_another_method_is_a_json_405(app: &TestApp) {
    let answer = app.call(Method::PATCH, "/api/v1/profiles", None, &[]).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.json["code"], "method_not_allowed");
}
