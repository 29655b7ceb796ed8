//! Custom key stores: where keys of origin `AWS_CLOUDHSM` and `EXTERNAL_KEY_STORE` keep their
//! key material.
//!
//! - [`cloudhsm`]: a PKCS#11 token stands in for a CloudHSM cluster.
//! - [`xks`]: a client of AWS's external key store proxy API.
//!
//! The store's record ([`CustomKeyStoreRecord`]) is the truth about a key store's connection
//! state on every node; a node keeps its own logged-in token session ([`KeyStores`]) and
//! re-establishes it from the sealed `kmsuser` password when a connected store has none here
//! (after a restart, or on another node).

pub mod cloudhsm;
pub mod xks;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use self::cloudhsm::{HsmCluster, HsmConnection};
use self::xks::XksSettings;

/// Namespace of custom key stores, by `account/region/cks-id`.
pub const NS_CUSTOM_KEY_STORE: &str = "kms.custom-key-store";

/// `CustomKeyStoreType` of a CloudHSM key store.
pub const AWS_CLOUDHSM: &str = "AWS_CLOUDHSM";
/// `CustomKeyStoreType` of an external key store.
pub const EXTERNAL_KEY_STORE: &str = "EXTERNAL_KEY_STORE";

/// A custom key store.
#[derive(Clone, Serialize, Deserialize)]
pub struct CustomKeyStoreRecord {
    /// `cks-` and 17 hex digits.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Friendly name, unique in the account and region.
    pub name: String,
    /// [`AWS_CLOUDHSM`] or [`EXTERNAL_KEY_STORE`].
    pub store_type: String,
    /// Creation time, epoch millis.
    pub created: i64,
    /// `CONNECTED`, `CONNECTING`, `DISCONNECTED`, `DISCONNECTING` or `FAILED`.
    pub connection_state: String,
    /// Why the last connection failed.
    #[serde(default)]
    pub connection_error_code: Option<String>,
    /// CloudHSM: the cluster id.
    #[serde(default)]
    pub cloud_hsm_cluster_id: Option<String>,
    /// CloudHSM: the trust anchor certificate (PEM).
    #[serde(default)]
    pub trust_anchor_certificate: Option<String>,
    /// CloudHSM: the `kmsuser` password, sealed, base64.
    #[serde(default)]
    pub sealed_password: Option<String>,
    /// XKS: `PUBLIC_ENDPOINT` or `VPC_ENDPOINT_SERVICE`.
    #[serde(default)]
    pub xks_connectivity: Option<String>,
    /// XKS: `https://host`.
    #[serde(default)]
    pub xks_uri_endpoint: Option<String>,
    /// XKS: `[/prefix]/kms/xks/v1`.
    #[serde(default)]
    pub xks_uri_path: Option<String>,
    /// XKS: VPC endpoint service name.
    #[serde(default)]
    pub xks_vpc_endpoint_service_name: Option<String>,
    /// XKS: VPC endpoint service owner.
    #[serde(default)]
    pub xks_vpc_endpoint_service_owner: Option<String>,
    /// XKS: the proxy authentication credential's access key id.
    #[serde(default)]
    pub xks_access_key_id: Option<String>,
    /// XKS: the proxy authentication credential's secret, sealed, base64.
    #[serde(default)]
    pub sealed_xks_secret: Option<String>,
}

impl std::fmt::Debug for CustomKeyStoreRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomKeyStoreRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("store_type", &self.store_type)
            .field("connection_state", &self.connection_state)
            .finish_non_exhaustive()
    }
}

/// The server's custom key store settings and this node's live token sessions.
#[derive(Debug, Default)]
pub struct KeyStores {
    clusters: HashMap<String, HsmCluster>,
    xks: Option<XksSettings>,
    /// Logged-in sessions by key store id, with the record version they were made for.
    sessions: Mutex<HashMap<String, HsmConnection>>,
}

impl KeyStores {
    /// Settings: the CloudHSM cluster map and how to reach XKS proxies (`None`: external key
    /// stores cannot connect).
    #[must_use]
    pub fn new(clusters: HashMap<String, HsmCluster>, xks: Option<XksSettings>) -> Self {
        Self {
            clusters,
            xks,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The token a cluster id maps to.
    #[must_use]
    pub fn cluster(&self, id: &str) -> Option<&HsmCluster> {
        self.clusters.get(id)
    }

    /// How to reach XKS proxies.
    #[must_use]
    pub fn xks(&self) -> Option<&XksSettings> {
        self.xks.as_ref()
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, HsmConnection>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This node's session for a key store, if it has one.
    #[must_use]
    pub fn session(&self, store_id: &str) -> Option<HsmConnection> {
        self.sessions().get(store_id).cloned()
    }

    /// Keep `session` for a key store, replacing (and logging out) any earlier one.
    pub fn keep_session(&self, store_id: &str, session: HsmConnection) {
        self.sessions().insert(store_id.to_owned(), session);
    }

    /// Forget (and log out) this node's session for a key store.
    pub fn drop_session(&self, store_id: &str) {
        let old = self.sessions().remove(store_id);
        if let Some(s) = old {
            s.logout();
        }
    }
}
