//! The audit trail: every state-changing request by a signed-in person or a token is recorded
//! by the access middleware, with what the handler says about it (which fields changed, which
//! profile was tested). Field names only: a value, secret or not, never reaches the log.

use axum::{http::Method, response::Response};
use outmail_store::AuditWrite;
use serde_json::Value;

use super::Principal;
use crate::state::AppState;

/// What a handler adds to its response for the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    /// E.g. `profile.update`; without it the method and path are the action.
    pub action: String,
    /// E.g. `profiles/<id>`; without it, the request path.
    pub target: Option<String>,
    pub fields: Vec<String>,
    /// Overrides the HTTP status as the outcome (a test send's result).
    pub outcome: Option<String>,
    /// The actor when the request had no principal (a sign-in names the email tried).
    pub actor: Option<String>,
    /// The handler records this request itself (a test send, when its report is ready).
    pub skip: bool,
}

impl AuditNote {
    pub fn new(action: &str) -> Self {
        Self {
            action: action.to_owned(),
            ..Self::default()
        }
    }

    /// Tells the middleware that the handler writes the entry itself.
    pub fn recorded_by_handler() -> Self {
        Self {
            skip: true,
            ..Self::default()
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn fields(mut self, fields: Vec<String>) -> Self {
        self.fields = fields;
        self
    }

    pub fn outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = Some(outcome.into());
        self
    }

    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Attaches this note to `response`.
    pub fn attach(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }
}

/// Records the request that produced `response`, unless nobody is accountable for it (an
/// anonymous request refused before it did anything).
pub async fn record_request(
    state: &AppState,
    principal: Option<&Principal>,
    method: &Method,
    path: &str,
    response: &mut Response,
) {
    let note = response.extensions_mut().remove::<AuditNote>();
    if note.as_ref().is_some_and(|note| note.skip) {
        return;
    }
    let actor = match (principal, note.as_ref().and_then(|n| n.actor.clone())) {
        (Some(principal), _) => principal.actor(),
        (None, Some(actor)) => actor,
        (None, None) => return,
    };
    let note = note.unwrap_or_default();
    let event = AuditWrite {
        actor,
        action: if note.action.is_empty() {
            format!("{method} {path}")
        } else {
            note.action
        },
        target: note
            .target
            .unwrap_or_else(|| path.trim_start_matches("/api/v1/").to_owned()),
        fields: serde_json::to_string(&note.fields).unwrap_or_else(|_| "[]".to_owned()),
        outcome: note
            .outcome
            .unwrap_or_else(|| response.status().as_u16().to_string()),
    };
    if let Err(error) = state.store.record_audit(&event).await {
        // The change itself is done; losing its audit line is logged loudly, not hidden.
        tracing::error!(%error, action = %event.action, "could not write the audit log");
    }
}

/// The fields that differ between two versions of a document (a profile draft, the global
/// settings, a tenant), named by their dotted paths as field errors name them.
pub fn fields_changed<T: serde::Serialize>(before: &T, after: &T) -> Vec<String> {
    match (serde_json::to_value(before), serde_json::to_value(after)) {
        (Ok(before), Ok(after)) => changed_fields(&before, &after),
        // Our own types always serialise; an empty list only loses detail, not the entry.
        _ => Vec::new(),
    }
}

/// The dotted paths whose values differ between two JSON documents (leaves only; an array
/// that changed is one path). Secrets appear as `{"set": bool}` in views, so a secret whose
/// state changed shows as its own path, never with its value.
pub fn changed_fields(before: &Value, after: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    walk("", before, after, &mut paths);
    paths
}

/// A secret as a view shows it: `{"set": bool}`, compared as one field.
fn is_secret_status(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|object| object.len() == 1 && object.get("set").is_some_and(Value::is_boolean))
}

fn walk(prefix: &str, before: &Value, after: &Value, paths: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(old), Value::Object(new))
            if !is_secret_status(before) && !is_secret_status(after) =>
        {
            let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                walk(
                    &path,
                    old.get(key).unwrap_or(&Value::Null),
                    new.get(key).unwrap_or(&Value::Null),
                    paths,
                );
            }
        }
        _ if before != after => paths.push(prefix.to_owned()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_fields_are_named_without_values() {
        let before = json!({"name": "a", "transport": {"port": 25, "auth": {"password": {"set": false}}}, "version": 1});
        let after = json!({"name": "b", "transport": {"port": 25, "auth": {"password": {"set": true}}}, "proxy": {"host": "p"}, "version": 1});
        assert_eq!(
            changed_fields(&before, &after),
            vec!["name", "proxy", "transport.auth.password"]
        );
        assert!(changed_fields(&before, &before).is_empty());
    }
}
