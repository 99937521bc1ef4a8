//! Admin accounts, their sessions, API tokens and the audit log.
//!
//! The store keeps only hashes of session cookies and API tokens (the server makes and hashes
//! them), so reading the database never yields a credential that works.

use crate::error::constraint;
use crate::records::RowPage;
use crate::{Store, StoreError, in_write_tx, new_id, with_pool};

/// An account that may sign in.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AdminRow {
    pub id: String,
    pub email: String,
    /// `admin` or `viewer`.
    pub role: String,
    /// An argon2id PHC string.
    pub password_hash: String,
    pub created_at: i64,
}

/// A live session with the account it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub admin_id: String,
    pub email: String,
    pub role: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// An API token as stored: its hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiTokenRow {
    pub id: String,
    pub name: String,
    /// A JSON array of scope names.
    pub scopes: String,
    pub prefix: String,
    pub token_hash: String,
    pub created_at: i64,
    pub created_by: String,
    pub last_used_at: Option<i64>,
    /// The tenant the token is bound to; deleting the tenant deletes the token.
    pub tenant_id: Option<String>,
}

/// One audit entry; `fields` is a JSON array of field names.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub fields: String,
    pub outcome: String,
}

/// What to record; the store adds the ID and the time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditWrite {
    pub actor: String,
    pub action: String,
    pub target: String,
    /// A JSON array of field names.
    pub fields: String,
    pub outcome: String,
}

/// Inserts an account inside the transaction `$tx` and evaluates to its row (a macro: the
/// statement is compiled once per backend, as `in_write_tx!` binds a different transaction type
/// for each).
macro_rules! insert_admin {
    ($tx:ident, $email:expr, $role:expr, $hash:expr, $now:expr) => {
        sqlx::query_as::<_, AdminRow>(
            "INSERT INTO admins (id, email, role, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 RETURNING id, email, role, password_hash, created_at",
        )
        .bind(new_id())
        .bind($email)
        .bind($role)
        .bind($hash)
        .bind($now)
        .fetch_one(&mut *$tx)
        .await
        .map_err(constraint("email", "admin"))?
    };
}

impl Store {
    /// Creates an account; a taken email is `Conflict { field: "email" }`.
    pub async fn create_admin(
        &self,
        email: &str,
        role: &str,
        password_hash: &str,
    ) -> Result<AdminRow, StoreError> {
        let row = in_write_tx!(self, tx => {
            insert_admin!(tx, email, role, password_hash, self.now_ms())
        });
        Ok(row)
    }

    /// Creates the first account only while there is none, in one transaction, so two setup
    /// requests at once cannot both create one. `Conflict { field: "admins" }` when one exists.
    pub async fn create_first_admin(
        &self,
        email: &str,
        role: &str,
        password_hash: &str,
    ) -> Result<AdminRow, StoreError> {
        let row = in_write_tx!(self, tx => {
            let (existing,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM admins")
                .fetch_one(&mut *tx)
                .await?;
            if existing > 0 {
                return Err(StoreError::Conflict { field: "admins" });
            }
            insert_admin!(tx, email, role, password_hash, self.now_ms())
        });
        Ok(row)
    }

    /// Deletes an account and, with it, its sessions.
    pub async fn delete_admin(&self, id: &str) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sqlx::query("DELETE FROM admins WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Replaces an account's password hash and ends its sessions: whoever knew the old
    /// password is signed out. `NotFound` when there is no such account.
    pub async fn set_admin_password(
        &self,
        id: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let changed = in_write_tx!(self, tx => {
            let changed = sqlx::query("UPDATE admins SET password_hash = $2 WHERE id = $1")
                .bind(id)
                .bind(password_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM sessions WHERE admin_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            changed
        });
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn admin_by_email(&self, email: &str) -> Result<Option<AdminRow>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, AdminRow>(
                "SELECT id, email, role, password_hash, created_at FROM admins WHERE email = $1",
            )
            .bind(email)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Every account, by email.
    pub async fn list_admins(&self) -> Result<Vec<AdminRow>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, AdminRow>(
                "SELECT id, email, role, password_hash, created_at FROM admins ORDER BY email",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    pub async fn admin_count(&self) -> Result<i64, StoreError> {
        with_pool!(self, pool => {
            let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM admins")
                .fetch_one(pool)
                .await?;
            Ok(count)
        })
    }

    /// Starts a session for `admin_id` that ends at `expires_at` at the latest.
    pub async fn create_session(
        &self,
        token_hash: &str,
        admin_id: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        in_write_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO sessions (token_hash, admin_id, created_at, last_seen_at, expires_at) \
                 VALUES ($1, $2, $3, $3, $4)",
            )
            .bind(token_hash)
            .bind(admin_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(constraint("token_hash", "tenant"))?;
        });
        Ok(())
    }

    /// The session with this hash and its account, whatever its age (the caller judges it).
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, SessionRow>(
                "SELECT s.admin_id, a.email, a.role, s.created_at, s.last_seen_at, s.expires_at \
                 FROM sessions s JOIN admins a ON a.id = s.admin_id WHERE s.token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Records activity on a session, which pushes its idle timeout back.
    pub async fn touch_session(&self, token_hash: &str, at: i64) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
                .bind(token_hash)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Removes sessions past their absolute end or idle since before `idle_before`.
    pub async fn delete_stale_sessions(
        &self,
        now: i64,
        idle_before: i64,
    ) -> Result<u64, StoreError> {
        let removed = in_write_tx!(self, tx => {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2")
                .bind(now)
                .bind(idle_before)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(removed)
    }

    pub async fn create_api_token(&self, token: &ApiTokenRow) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO api_tokens \
                 (id, name, scopes, prefix, token_hash, created_at, created_by, last_used_at, tenant_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&token.id)
            .bind(&token.name)
            .bind(&token.scopes)
            .bind(&token.prefix)
            .bind(&token.token_hash)
            .bind(token.created_at)
            .bind(&token.created_by)
            .bind(token.last_used_at)
            .bind(&token.tenant_id)
            .execute(&mut *tx)
            .await
            .map_err(constraint("token_hash", "tenant"))?;
        });
        Ok(())
    }

    pub async fn api_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ApiTokenRow>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, ApiTokenRow>(
                "SELECT id, name, scopes, prefix, token_hash, created_at, created_by, last_used_at, tenant_id \
                 FROM api_tokens WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Every token, newest first.
    pub async fn list_api_tokens(&self) -> Result<Vec<ApiTokenRow>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, ApiTokenRow>(
                "SELECT id, name, scopes, prefix, token_hash, created_at, created_by, last_used_at, tenant_id \
                 FROM api_tokens ORDER BY created_at DESC, id",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// Revokes a token: it is deleted, so it never works again. `NotFound` when there is none.
    pub async fn delete_api_token(&self, id: &str) -> Result<ApiTokenRow, StoreError> {
        let row = in_write_tx!(self, tx => {
            sqlx::query_as::<_, ApiTokenRow>(
                "DELETE FROM api_tokens WHERE id = $1 RETURNING \
                 id, name, scopes, prefix, token_hash, created_at, created_by, last_used_at, tenant_id",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        });
        row.ok_or(StoreError::NotFound)
    }

    pub async fn touch_api_token(&self, id: &str, at: i64) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    pub async fn record_audit(&self, event: &AuditWrite) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO audit_events (id, at, actor, action, target, fields, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(new_id())
            .bind(self.now_ms())
            .bind(&event.actor)
            .bind(&event.action)
            .bind(&event.target)
            .bind(&event.fields)
            .bind(&event.outcome)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// One page of the audit log, newest first (`page` from 1).
    pub async fn list_audit(
        &self,
        page: u32,
        per_page: u32,
    ) -> Result<RowPage<AuditRow>, StoreError> {
        let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
        with_pool!(self, pool => {
            let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_events")
                .fetch_one(pool)
                .await?;
            let items = sqlx::query_as::<_, AuditRow>(
                "SELECT id, at, actor, action, target, fields, outcome FROM audit_events \
                 ORDER BY at DESC, id DESC LIMIT $1 OFFSET $2",
            )
            .bind(i64::from(per_page))
            .bind(offset)
            .fetch_all(pool)
            .await?;
            Ok(RowPage { items, total })
        })
    }

    /// The whole audit log, oldest first: for the export.
    pub async fn all_audit(&self) -> Result<Vec<AuditRow>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, AuditRow>(
                "SELECT id, at, actor, action, target, fields, outcome FROM audit_events \
                 ORDER BY at, id",
            )
            .fetch_all(pool)
            .await?)
        })
    }
}
