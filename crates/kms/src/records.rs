//! What KMS keeps in the store, and typed access to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use rampart_service::table::{Db, Table};
use rampart_service::AwsError;

use crate::grants::GrantRecord;
use crate::keystore::CustomKeyStoreRecord;
use crate::{KeySpec, KeyUsage};

/// Namespace of keys, by `account/region/key-id`.
pub const NS_KEY: &str = "kms.key";
/// Namespace of aliases, by `account/region/alias-name`.
pub const NS_ALIAS: &str = "kms.alias";

/// One backing key of a KMS key, sealed at rest.
#[derive(Clone, Serialize, Deserialize)]
pub struct MaterialRecord {
    /// Key material id (64 hex digits).
    pub id: String,
    /// The serialized material sealed by the server's sealer, base64.
    pub sealed: String,
    /// Creation time, epoch millis.
    pub created: i64,
    /// How this material became current: `None` for a key's first material, else
    /// `AUTOMATIC` or `ON_DEMAND`.
    #[serde(default)]
    pub rotation_type: Option<String>,
    /// Imported material only: `IMPORTED` or `PENDING_IMPORT` (deleted or expired; the sealed
    /// bytes are gone and `sealed` is empty).
    #[serde(default)]
    pub import_state: Option<String>,
    /// Imported material only: when it expires, epoch millis (`None`: does not expire).
    #[serde(default)]
    pub valid_to: Option<i64>,
    /// Imported material only: its description.
    #[serde(default)]
    pub description: Option<String>,
    /// Imported material only: imported as new material that is not yet current
    /// (`PENDING_ROTATION`).
    #[serde(default)]
    pub pending_rotation: bool,
}

impl MaterialRecord {
    /// Whether the material is present: not imported material that was deleted or expired.
    /// (Material kept in a custom key store has no sealed bytes here and is usable.)
    #[must_use]
    pub fn usable(&self) -> bool {
        self.import_state.as_deref() != Some("PENDING_IMPORT")
    }
}

impl std::fmt::Debug for MaterialRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaterialRecord")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A KMS key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Key id (UUID v4).
    pub id: String,
    /// Key ARN.
    pub arn: String,
    /// Owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Key spec.
    pub spec: KeySpec,
    /// Key usage.
    pub usage: KeyUsage,
    /// Description.
    pub description: String,
    /// `Enabled`, `Disabled` or `PendingDeletion`.
    pub state: String,
    /// Creation time, epoch millis.
    pub created: i64,
    /// When a key pending deletion is deleted, epoch millis.
    pub deletion_date: Option<i64>,
    /// `AWS_KMS`.
    pub origin: String,
    /// The key policy document.
    pub policy: String,
    /// Backing keys, oldest first.
    pub materials: Vec<MaterialRecord>,
    /// Id of the backing key that encrypts.
    pub current_material: String,
    /// Tags in order.
    pub tags: Vec<(String, String)>,
    /// Automatic rotation: the period in days when enabled.
    #[serde(default)]
    pub rotation_period_days: Option<i32>,
    /// Automatic rotation: when the key next rotates, epoch millis.
    #[serde(default)]
    pub next_rotation: Option<i64>,
    /// Number of on-demand rotations so far (AWS allows 10 per key).
    #[serde(default)]
    pub on_demand_rotations: u32,
    /// Multi-Region keys: the set this key belongs to.
    #[serde(default)]
    pub multi_region: Option<MultiRegion>,
    /// The pending window of a scheduled deletion, in days.
    #[serde(default)]
    pub pending_window_days: Option<i32>,
    /// An AWS managed key (`alias/aws/<service>`), not managed by the customer.
    #[serde(default)]
    pub aws_managed: bool,
    /// The custom key store holding the key material (origin `AWS_CLOUDHSM` or
    /// `EXTERNAL_KEY_STORE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_key_store_id: Option<String>,
    /// The CloudHSM cluster of the key's custom key store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_hsm_cluster_id: Option<String>,
    /// The external key's id in the external key manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xks_key_id: Option<String>,
}

/// The multi-Region key set a key belongs to; every member holds a copy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MultiRegion {
    /// Region of the primary key.
    pub primary_region: String,
    /// Regions of the replicas, in order of creation.
    pub replica_regions: Vec<String>,
}

/// The parameters of one GetParametersForImport call, kept until used or expired.
#[derive(Clone, Serialize, Deserialize)]
pub struct ImportRecord {
    /// The key they are for.
    pub key_id: String,
    /// The wrapping algorithm named in the request.
    pub wrapping_algorithm: String,
    /// The RSA wrapping private key (PKCS#8), sealed by the server's sealer, base64.
    pub sealed_private_key: String,
    /// When the parameters expire, epoch millis.
    pub valid_to: i64,
}

impl std::fmt::Debug for ImportRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportRecord")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Namespace of import parameters, by `account/region/token-id`.
pub const NS_IMPORT: &str = "kms.import";
/// Namespace of key last usage, by `account/region/key-id`.
pub const NS_LAST_USE: &str = "kms.lastuse";

/// The last cryptographic use of a key (GetKeyLastUsage).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastUse {
    /// Operation name.
    pub operation: String,
    /// Request id.
    pub request_id: String,
    /// CloudTrail event id.
    #[serde(default)]
    pub event_id: String,
    /// When, epoch millis.
    pub at: i64,
}

/// An alias.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AliasRecord {
    /// `alias/…`
    pub alias_name: String,
    /// Id of the key it points to.
    pub target_key_id: String,
    /// Creation time, epoch millis.
    pub created: i64,
    /// Last update, epoch millis.
    pub updated: i64,
}

/// The store key of a record in an account and region.
#[must_use]
pub fn scoped(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}

fn store_err(e: &rampart_store::StoreError) -> AwsError {
    tracing::error!(error = %e, "store failure");
    AwsError::new(
        "KMSInternalException",
        500,
        "The request was rejected because an internal exception occurred. The request can be retried.",
    )
}

pub use rampart_service::table::Versioned;

/// KMS's store errors: `KMSInternalException` when the store fails, and
/// `ConcurrentModificationException` by default when a record changed since it was read.
pub const DB: Db = Db::new(store_err, crate::service::concurrent);
/// Keys by `account/region/key-id`.
pub const KEYS: Table<KeyRecord> = DB.table(NS_KEY);
/// Aliases by `account/region/alias-name`.
pub const ALIASES: Table<AliasRecord> = DB.table(NS_ALIAS);
/// Pending imports (wrapping key pairs) by key.
pub const IMPORTS: Table<ImportRecord> = DB.table(NS_IMPORT);
/// Last cryptographic use of each key.
pub const LAST_USES: Table<LastUse> = DB.table(NS_LAST_USE);
/// Grants by `key/grant-id`.
pub const GRANTS: Table<GrantRecord> = DB.table(crate::grants::NS_GRANT);
/// Custom key stores.
pub const CUSTOM_KEY_STORES: Table<CustomKeyStoreRecord> =
    DB.table(crate::keystore::NS_CUSTOM_KEY_STORE);

/// Tags as a map, for condition keys.
#[must_use]
pub fn tag_map(tags: &[(String, String)]) -> BTreeMap<&str, &str> {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
