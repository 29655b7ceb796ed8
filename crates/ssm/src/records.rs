//! What Parameter Store keeps in the store: one record per parameter holding its versions.

use serde::{Deserialize, Serialize};

/// Namespace of parameters, by `account/region/name`.
pub const NS_PARAM: &str = "ssm.param";

/// One version of a parameter.
#[derive(Clone, Serialize, Deserialize)]
pub struct VersionRecord {
    /// Version number, from 1.
    pub version: i64,
    /// `String`, `StringList` or `SecureString`.
    pub r#type: String,
    /// The value; for `SecureString` the KMS ciphertext, base64.
    pub value: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// The KMS key ARN that encrypted a `SecureString` value.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The regular expression values must match.
    #[serde(default)]
    pub allowed_pattern: Option<String>,
    /// `text` or `aws:ec2:image`.
    pub data_type: String,
    /// `Standard` or `Advanced`.
    pub tier: String,
    /// Policies in force when this version was written (JSON texts).
    #[serde(default)]
    pub policies: Vec<String>,
    /// Labels on this version.
    #[serde(default)]
    pub labels: Vec<String>,
    /// When written, epoch millis.
    pub modified: i64,
    /// ARN of the principal that wrote it.
    pub user: String,
}

impl std::fmt::Debug for VersionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionRecord")
            .field("version", &self.version)
            .field("type", &self.r#type)
            .finish_non_exhaustive()
    }
}

/// What the policy job has done for a parameter's current policies.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PolicyProgress {
    /// The ExpirationNotification was sent.
    #[serde(default)]
    pub expiration_notified: bool,
    /// The NoChangeNotification was sent for the current version.
    #[serde(default)]
    pub no_change_notified: bool,
}

/// A parameter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParamRecord {
    /// Name as given.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Versions kept (at most 100), oldest first.
    pub versions: Vec<VersionRecord>,
    /// Tags in order.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Progress of the policy job.
    #[serde(default)]
    pub progress: PolicyProgress,
}

impl ParamRecord {
    /// The latest version.
    #[must_use]
    pub fn latest(&self) -> Option<&VersionRecord> {
        self.versions.last()
    }

    /// A version by number.
    #[must_use]
    pub fn version(&self, v: i64) -> Option<&VersionRecord> {
        self.versions.iter().find(|r| r.version == v)
    }

    /// The version carrying `label`.
    #[must_use]
    pub fn labelled(&self, label: &str) -> Option<&VersionRecord> {
        self.versions
            .iter()
            .find(|r| r.labels.iter().any(|l| l == label))
    }
}

/// The store key of a parameter.
#[must_use]
pub fn key(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}
