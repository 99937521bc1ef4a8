//! The access rule of every route, in one table: what a path and method require, and whether a
//! principal meets it. A route not named here falls under the rule for its kind (API read, API
//! change, page, file), so a new route is never left open by accident.

use axum::http::Method;
use outmail_types::access::TokenScope;

use super::Principal;

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Anyone: health, the API description, signing in, the first-run setup, the OAuth
    /// callback (which proves itself with its one-time `state`), and the site's files.
    Public,
    /// Any signed-in person (their own session: who am I, sign out).
    SignedIn,
    /// Reading the API: an admin or a viewer.
    Read,
    /// Changing anything, sending test mail: an admin.
    Change,
    /// An admin, or an API token with this scope.
    ChangeOrToken(TokenScope),
    /// An admin or a viewer, or an API token with this scope.
    ReadOrToken(TokenScope),
    /// A UI page: a signed-in person; without a session the browser is sent to sign in.
    Page,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No (valid) session or token: 401, or the sign-in page for a page.
    SignInFirst,
    /// Signed in, but not allowed: 403 with the reason.
    Forbidden(String),
}

/// Pages anyone may open.
const PUBLIC_PAGES: [&str; 2] = ["/login", "/setup"];

/// The rule for `method` on `path` (the full path, `/api/v1/…` for the API).
pub fn requirement(method: &Method, path: &str) -> Requirement {
    let Some(api) = path.strip_prefix("/api/v1") else {
        return page_or_file(path);
    };
    let reads = matches!(*method, Method::GET | Method::HEAD);
    let segments: Vec<&str> = api.trim_matches('/').split('/').collect();
    match (reads, segments.as_slice()) {
        (true, ["health"] | ["openapi.json"]) => Requirement::Public,
        (false, ["session"] | ["setup"]) if *method == Method::POST => Requirement::Public,
        (_, ["session"]) => Requirement::SignedIn,
        (false, ["messages"] | ["support-requests"]) if *method == Method::POST => {
            Requirement::ChangeOrToken(TokenScope::MessagesSend)
        }
        (true, ["messages"] | ["messages", _]) => {
            Requirement::ReadOrToken(TokenScope::MessagesRead)
        }
        (true, _) => Requirement::Read,
        (false, _) => Requirement::Change,
    }
}

fn page_or_file(path: &str) -> Requirement {
    if PUBLIC_PAGES.contains(&path) || path == "/oauth/callback" {
        return Requirement::Public;
    }
    // The built site: hashed bundles, the stylesheet, icons, scripts. A page path has no dot
    // in its last segment (profile IDs are UUIDs).
    let last = path.rsplit('/').next().unwrap_or_default();
    if path.starts_with("/pkg/") || last.contains('.') {
        return Requirement::Public;
    }
    Requirement::Page
}

/// Whether `principal` meets `requirement`.
pub fn admit(requirement: Requirement, principal: Option<&Principal>) -> Result<(), Refusal> {
    if requirement == Requirement::Public {
        return Ok(());
    }
    let Some(principal) = principal else {
        return Err(Refusal::SignInFirst);
    };
    match (requirement, principal) {
        (Requirement::Public, _) => Ok(()),
        (
            Requirement::SignedIn
            | Requirement::Read
            | Requirement::Page
            | Requirement::ReadOrToken(_),
            Principal::Person { .. },
        ) => Ok(()),
        (Requirement::Change | Requirement::ChangeOrToken(_), Principal::Person { role, .. }) => {
            if role.can_change() {
                Ok(())
            } else {
                Err(Refusal::Forbidden(
                    "a viewer may read but not change anything or send test mail; sign in as an \
                     admin"
                        .to_owned(),
                ))
            }
        }
        (
            Requirement::ChangeOrToken(scope) | Requirement::ReadOrToken(scope),
            Principal::Token { scopes, .. },
        ) if scopes.contains(&scope) => Ok(()),
        (_, Principal::Token { scopes, .. }) => Err(Refusal::Forbidden(format!(
            "this API token's scopes ({}) do not cover this route",
            scopes
                .iter()
                .map(|scope| scope.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use outmail_types::access::Role;

    fn person(role: Role) -> Principal {
        Principal::Person {
            admin_id: "a".into(),
            email: "a@example.com".into(),
            role,
            session_hash: "h".into(),
            expires_at: i64::MAX,
        }
    }

    fn token(scopes: &[TokenScope]) -> Principal {
        Principal::Token {
            id: "t".into(),
            name: "billing".into(),
            scopes: scopes.to_vec(),
            tenant: None,
        }
    }

    #[test]
    fn routes_fall_under_their_rules() {
        use Requirement as R;
        let cases = [
            (Method::GET, "/api/v1/health", R::Public),
            (Method::GET, "/api/v1/openapi.json", R::Public),
            (Method::POST, "/api/v1/session", R::Public),
            (Method::POST, "/api/v1/setup", R::Public),
            (Method::GET, "/api/v1/session", R::SignedIn),
            (Method::DELETE, "/api/v1/session", R::SignedIn),
            (Method::GET, "/api/v1/profiles", R::Read),
            (Method::POST, "/api/v1/profiles", R::Change),
            (Method::POST, "/api/v1/profiles/test", R::Change),
            (
                Method::POST,
                "/api/v1/messages",
                R::ChangeOrToken(TokenScope::MessagesSend),
            ),
            (
                Method::POST,
                "/api/v1/support-requests",
                R::ChangeOrToken(TokenScope::MessagesSend),
            ),
            (
                Method::GET,
                "/api/v1/messages/x",
                R::ReadOrToken(TokenScope::MessagesRead),
            ),
            (Method::POST, "/api/v1/messages/x/resend", R::Change),
            (Method::GET, "/api/v1/tokens", R::Read),
            (Method::GET, "/", R::Page),
            (
                Method::GET,
                "/profiles/0b6f4d8e-1a7c-4f1e-9a55-0c7b8d2e3f41",
                R::Page,
            ),
            (Method::GET, "/login", R::Public),
            (Method::GET, "/oauth/callback", R::Public),
            (Method::GET, "/pkg/outmail.abc.wasm", R::Public),
            (Method::GET, "/favicon.svg", R::Public),
            // An unknown API path is still the API's: a session is needed even to get its 404.
            (Method::GET, "/api/v1/nothing-here", R::Read),
            (Method::PUT, "/api/v1/health", R::Change),
        ];
        for (method, path, expected) in cases {
            assert_eq!(requirement(&method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn viewers_read_and_admins_change() {
        let viewer = person(Role::Viewer);
        let admin = person(Role::Admin);
        assert_eq!(admit(Requirement::Read, Some(&viewer)), Ok(()));
        assert!(matches!(
            admit(Requirement::Change, Some(&viewer)),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            admit(
                Requirement::ChangeOrToken(TokenScope::MessagesSend),
                Some(&viewer)
            ),
            Err(Refusal::Forbidden(_))
        ));
        assert_eq!(admit(Requirement::Change, Some(&admin)), Ok(()));
        assert_eq!(admit(Requirement::Read, None), Err(Refusal::SignInFirst));
        assert_eq!(admit(Requirement::Page, None), Err(Refusal::SignInFirst));
    }

    #[test]
    fn tokens_reach_only_their_scopes() {
        let send = token(&[TokenScope::MessagesSend]);
        assert_eq!(
            admit(
                Requirement::ChangeOrToken(TokenScope::MessagesSend),
                Some(&send)
            ),
            Ok(())
        );
        for refused in [
            Requirement::ReadOrToken(TokenScope::MessagesRead),
            Requirement::Read,
            Requirement::Change,
            Requirement::Page,
            Requirement::SignedIn,
        ] {
            assert!(
                matches!(admit(refused, Some(&send)), Err(Refusal::Forbidden(_))),
                "{refused:?}"
            );
        }
    }
}
