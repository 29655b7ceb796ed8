//! What Secrets Manager keeps in the store, and typed access to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use rampart_service::table::{Db, Table};
use rampart_service::AwsError;

/// Namespace of secrets, by `account/region/name`.
pub const NS_SECRET: &str = "secretsmanager.secret";

/// One version of a secret's value.
#[derive(Clone, Serialize, Deserialize)]
pub struct VersionRecord {
    /// Version id (the ClientRequestToken that created it).
    pub id: String,
    /// Staging labels attached to it.
    pub stages: Vec<String>,
    /// Creation time, epoch millis.
    pub created: i64,
    /// The value encrypted by KMS, base64; `None` for a version rotation announced but whose
    /// value the rotator has not put yet.
    pub blob: Option<String>,
    /// The value is SecretBinary (else SecretString).
    pub binary: bool,
    /// ARN of the KMS key that encrypted the value.
    pub key_arn: Option<String>,
    /// Last day the value was read, epoch millis.
    pub last_accessed: Option<i64>,
    /// The value was encrypted under the account's default key (`alias/aws/secretsmanager`),
    /// which ListSecretVersionIds names `DefaultEncryptionKey`.
    #[serde(default)]
    pub default_key: bool,
}

impl std::fmt::Debug for VersionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionRecord")
            .field("id", &self.id)
            .field("stages", &self.stages)
            .finish_non_exhaustive()
    }
}

/// Rotation settings and state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Rotation {
    /// The rotation function (a Lambda ARN registered with Rampart).
    pub lambda_arn: Option<String>,
    /// `AutomaticallyAfterDays`.
    pub after_days: Option<i64>,
    /// `ScheduleExpression` (`rate(…)` / `cron(…)`).
    pub schedule: Option<String>,
    /// `Duration` (`2h`), the window in which a scheduled rotation runs.
    pub duration: Option<String>,
    /// Rotation is enabled.
    pub enabled: bool,
    /// Last successful rotation, epoch millis.
    pub last_rotated: Option<i64>,
    /// When the next rotation is due, epoch millis.
    pub next_rotation: Option<i64>,
    /// A rotation is running or due now with this token (version id).
    pub pending_token: Option<String>,
    /// The last rotation failure (step and reason, never a secret value).
    pub last_failure: Option<String>,
}

/// A replica of a primary secret in another region.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaStatus {
    /// Region.
    pub region: String,
    /// The key given for the replica (`None`: `alias/aws/secretsmanager` of that region).
    pub kms_key_id: Option<String>,
    /// `InSync`, `Failed` or `InProgress`.
    pub status: String,
    /// Why replication failed.
    pub message: Option<String>,
}

/// A secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretRecord {
    /// ARN with its random suffix.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Description.
    pub description: Option<String>,
    /// The KMS key as given (`None`: `alias/aws/secretsmanager`).
    pub kms_key_id: Option<String>,
    /// `Type` (a free-form label in the model).
    #[serde(default)]
    pub kind: Option<String>,
    /// Creation time, epoch millis.
    pub created: i64,
    /// Last change, epoch millis.
    pub last_changed: i64,
    /// Last read (a date, as AWS reports it), epoch millis.
    pub last_accessed: Option<i64>,
    /// When DeleteSecret was called, epoch millis.
    pub deleted: Option<i64>,
    /// When the secret is purged, epoch millis.
    pub purge_at: Option<i64>,
    /// Tags in order.
    pub tags: Vec<(String, String)>,
    /// Resource policies by name.
    pub policies: BTreeMap<String, String>,
    /// Versions by id.
    pub versions: BTreeMap<String, VersionRecord>,
    /// Rotation.
    pub rotation: Rotation,
    /// For a replica: the primary's region.
    pub primary_region: Option<String>,
    /// For a primary: its replicas.
    pub replicas: Vec<ReplicaStatus>,
    /// For a cross-account replica: its primary in another account.
    #[serde(default)]
    pub cross_primary: Option<CrossLink>,
    /// For a primary: its cross-account replica (at most one).
    #[serde(default)]
    pub cross_replicas: Vec<CrossLink>,
}

/// One end of a cross-account replication link.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrossLink {
    /// ARN of the secret at the other end.
    pub arn: String,
    /// The role named when the replica was associated.
    pub role_arn: Option<String>,
    /// `InProgress` (not associated yet), `InSync` or `Failed`.
    pub status: String,
    /// Why replication failed.
    pub message: Option<String>,
}

impl SecretRecord {
    /// The version holding `stage`.
    #[must_use]
    pub fn version_with(&self, stage: &str) -> Option<&VersionRecord> {
        self.versions
            .values()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    /// Versions to staging labels, for versions that have labels.
    #[must_use]
    pub fn versions_to_stages(&self) -> BTreeMap<String, Vec<String>> {
        self.versions
            .values()
            .filter(|v| !v.stages.is_empty())
            .map(|v| (v.id.clone(), v.stages.clone()))
            .collect()
    }
}

/// The store key of a secret.
#[must_use]
pub fn key(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}

fn store_err(e: &rampart_store::StoreError) -> AwsError {
    tracing::error!(error = %e, "store failure");
    AwsError::new(
        "InternalServiceError",
        500,
        "An error occurred on the server side.",
    )
}

pub use rampart_service::table::Versioned;

/// Secrets Manager's store errors: `InternalServiceError` when the store fails, and by default
/// the "previous request still in progress" error when a secret changed since it was read.
pub const DB: Db = Db::new(store_err, crate::service::concurrent);
/// Secrets (and replicas and cross-account links) by `account/region/name`.
pub const SECRETS: Table<SecretRecord> = DB.table(NS_SECRET);
