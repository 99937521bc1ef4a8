//! An import written whole or not at all: the profiles, tenants, routing rules and global
//! settings of one import document go into the database in one settings transaction, so a
//! fault or a clash half-way leaves nothing behind.

use crate::global::write_global;
use crate::profiles::insert_profile;
use crate::records::{ProfileWrite, RoutingRuleWrite, TenantWrite};
use crate::routing::insert_rule;
use crate::tenants::insert_tenant;
use crate::{Store, StoreError, ensure_profiles_exist, in_settings_tx, new_id};

/// What one import writes. The caller gives the profiles the IDs they get here and remaps every
/// reference to them (alternates, tenants, rules, the default profile) beforehand.
#[derive(Debug, Clone, Default)]
pub struct ImportBatch {
    pub profiles: Vec<(String, ProfileWrite)>,
    /// Under their slugs.
    pub tenants: Vec<(String, TenantWrite)>,
    pub routing_rules: Vec<RoutingRuleWrite>,
    /// The global settings document, the version it replaces (0: never saved) and the
    /// profiles it names.
    pub global: String,
    pub global_version: i64,
    pub global_refers_to: Vec<String>,
}

impl Store {
    /// Writes `batch` in one transaction: all of it, or (on a taken name or slug, a reference
    /// to a profile that does not exist, a moved-on global version, or a fault) none of it.
    pub async fn import(&self, batch: &ImportBatch) -> Result<(), StoreError> {
        let now = self.now_ms();
        in_settings_tx!(self, tx => {
            for (id, profile) in &batch.profiles {
                insert_profile!(tx, id, profile, now);
            }
            // Alternates may name a profile imported after them: checked once all are in.
            for (_, profile) in &batch.profiles {
                ensure_profiles_exist!(tx, &profile.refers_to);
            }
            for (id, tenant) in &batch.tenants {
                ensure_profiles_exist!(tx, &tenant.refers_to);
                insert_tenant!(tx, id, tenant, now);
            }
            for rule in &batch.routing_rules {
                ensure_profiles_exist!(tx, &rule.refers_to);
                insert_rule!(tx, &new_id(), rule, now);
            }
            ensure_profiles_exist!(tx, &batch.global_refers_to);
            if write_global!(tx, batch.global_version, &batch.global, now).is_none() {
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM global_settings WHERE id = 1")
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(StoreError::VersionMismatch {
                    current: current.unwrap_or(0),
                });
            }
        });
        Ok(())
    }
}
