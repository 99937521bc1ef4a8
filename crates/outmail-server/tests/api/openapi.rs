//! The OpenAPI document: served, complete, and routed.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::TestApp;

/// Every operation the API has. A route added without documentation, or documentation for a
/// route that is gone, makes this list disagree with the document.
const OPERATIONS: [(&str, &str); 42] = [
    ("get", "/health"),
    ("post", "/session"),
    ("get", "/session"),
    ("delete", "/session"),
    ("post", "/setup"),
    ("get", "/tokens"),
    ("post", "/tokens"),
    ("delete", "/tokens/{id}"),
    ("get", "/audit"),
    ("get", "/audit/export"),
    ("get", "/profiles"),
    ("post", "/profiles"),
    ("get", "/profiles/{id}"),
    ("put", "/profiles/{id}"),
    ("delete", "/profiles/{id}"),
    ("post", "/profiles/{id}/duplicate"),
    ("post", "/profiles/{id}/test"),
    ("post", "/profiles/test"),
    ("post", "/profiles/{id}/oauth/consent"),
    ("post", "/messages"),
    ("get", "/messages"),
    ("get", "/messages/{id}"),
    ("post", "/messages/{id}/resend"),
    ("get", "/failovers"),
    ("get", "/relay"),
    ("get", "/profiles/{id}/failover"),
    ("post", "/support-requests"),
    ("post", "/profiles/{id}/failover/reset"),
    ("get", "/settings"),
    ("put", "/settings"),
    ("get", "/tenants"),
    ("post", "/tenants"),
    ("get", "/tenants/{id}"),
    ("put", "/tenants/{id}"),
    ("delete", "/tenants/{id}"),
    ("get", "/tenants/{id}/effective"),
    ("get", "/routing-rules"),
    ("post", "/routing-rules"),
    ("get", "/routing-rules/{id}"),
    ("put", "/routing-rules/{id}"),
    ("delete", "/routing-rules/{id}"),
    ("get", "/export"),
];

fn documented_operations(document: &Value) -> Vec<(String, String)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                operations.push((method.to_string(), path.clone()));
            }
        }
    }
    operations.sort();
    operations
}

fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target.clone());
            }
            map.values().for_each(|child| refs(child, found));
        }
        Value::Array(items) => items.iter().for_each(|child| refs(child, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_lists_every_route_and_every_reference_resolves() {
    let app = TestApp::sqlite().await;
    let answer = app.get("/api/v1/openapi.json").await;
    assert_eq!(answer.status, StatusCode::OK);
    let document = answer.json.clone();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["servers"][0]["url"], "/api/v1");

    let mut expected: Vec<(String, String)> = OPERATIONS
        .iter()
        .chain(&[("post", "/import")])
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    expected.sort();
    assert_eq!(documented_operations(&document), expected);

    let mut found = Vec::new();
    refs(&document, &mut found);
    assert!(found.len() > 20, "the bodies refer to schemas: {found:?}");
    for target in found {
        let (kind, name) = target
            .strip_prefix("#/components/")
            .and_then(|rest| rest.split_once('/'))
            .expect("a component ref");
        assert!(
            ["schemas", "responses"].contains(&kind)
                && document["components"][kind].get(name).is_some(),
            "{target} does not resolve"
        );
    }
    // Every tag an operation names is declared, with a description.
    let declared: Vec<&str> = document["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["name"].as_str().unwrap())
        .collect();
    for (method, path) in documented_operations(&document) {
        for tag in document["paths"][&path][&method]["tags"]
            .as_array()
            .unwrap()
        {
            let tag = tag.as_str().unwrap();
            assert!(
                declared.contains(&tag),
                "{method} {path}: tag {tag} is not declared"
            );
        }
    }
    // The refusals every operation shares are declared once, as `4XX`, and every operation
    // refers to them; none repeats the body-parsing ones (a 401, 403 or 429 with a meaning of
    // its own, as at sign-in, is the operation's to list).
    for (method, path) in documented_operations(&document) {
        let responses = document["paths"][&path][&method]["responses"]
            .as_object()
            .unwrap();
        assert_eq!(
            responses["4XX"]["$ref"], "#/components/responses/ClientError",
            "{method} {path}"
        );
        for shared in ["400", "413", "415"] {
            assert!(
                !responses.contains_key(shared),
                "{method} {path} repeats {shared}"
            );
        }
    }
    app.finish().await;
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::sqlite().await;
    let document = app.get("/api/v1/openapi.json").await.json;
    for (method, path) in documented_operations(&document) {
        let url = format!("/api/v1{}", path.replace("{id}", "no-such-id"));
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let body = serde_json::json!({});
        let with_body = [Method::POST, Method::PUT].contains(&method);
        let answer = app
            .call(
                method.clone(),
                &url,
                with_body.then_some(&body),
                &[("if-match", "\"1\"")],
            )
            .await;
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {url}"
        );
        assert_ne!(
            answer.json["message"], "no such API route; see /api/v1/openapi.json",
            "{method} {url} is documented but not routed"
        );
        assert!(
            !answer.status.is_server_error(),
            "{method} {url}: {}",
            answer.text
        );
    }
    app.finish().await;
}
