//! What IAM keeps in the store, and typed access to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use rampart_service::table::{Db, Table};
use rampart_service::AwsError;

/// Namespaces in the store.
pub mod ns {
    /// Accounts by id.
    pub const ACCOUNT: &str = "account";
    /// Users by `account/lowercase-name`.
    pub const USER: &str = "iam.user";
    /// Roles by `account/lowercase-name`.
    pub const ROLE: &str = "iam.role";
    /// Groups by `account/lowercase-name`.
    pub const GROUP: &str = "iam.group";
    /// Customer managed policies by `account/lowercase-name`.
    pub const POLICY: &str = "iam.policy";
    /// Long-term access keys by access key id.
    pub const KEY: &str = "iam.key";
    /// Index of a principal's access keys: `account/lowercase-user/AKID` (root: `account/#root/AKID`).
    pub const USER_KEY: &str = "iam.userkey";
    /// Temporary credentials by access key id.
    pub const SESSION: &str = "sts.session";
}

/// An account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountRecord {
    /// Twelve-digit id.
    pub id: String,
    /// Creation time, epoch millis.
    pub created: i64,
}

/// An IAM user.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct UserRecord {
    /// Name as created (case preserved).
    pub name: String,
    /// `AIDA…`
    pub id: String,
    /// IAM path.
    pub path: String,
    /// ARN.
    pub arn: String,
    /// Creation time, epoch millis.
    pub created: i64,
    /// Inline policies by name.
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    pub attached: Vec<String>,
    /// Group names.
    pub groups: Vec<String>,
    /// Permissions boundary policy ARN.
    pub boundary: Option<String>,
    /// Tags in order.
    pub tags: Vec<(String, String)>,
}

/// An IAM role.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RoleRecord {
    /// Name as created.
    pub name: String,
    /// `AROA…`
    pub id: String,
    /// IAM path.
    pub path: String,
    /// ARN.
    pub arn: String,
    /// Creation time, epoch millis.
    pub created: i64,
    /// Trust policy document.
    pub trust_policy: String,
    /// Description.
    pub description: Option<String>,
    /// Maximum session duration in seconds.
    pub max_session: i64,
    /// Inline policies by name.
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    pub attached: Vec<String>,
    /// Permissions boundary policy ARN.
    pub boundary: Option<String>,
    /// Tags in order.
    pub tags: Vec<(String, String)>,
    /// When the role was last assumed, epoch millis (GetRole's `RoleLastUsed`).
    #[serde(default)]
    pub last_used: Option<i64>,
    /// The region it was last assumed in.
    #[serde(default)]
    pub last_used_region: Option<String>,
}

/// An IAM group.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct GroupRecord {
    /// Name as created.
    pub name: String,
    /// `AGPA…`
    pub id: String,
    /// IAM path.
    pub path: String,
    /// ARN.
    pub arn: String,
    /// Creation time, epoch millis.
    pub created: i64,
    /// Inline policies by name.
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    pub attached: Vec<String>,
}

/// One version of a managed policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// `v1`, `v2`, …
    pub id: String,
    /// The document.
    pub document: String,
    /// Creation time, epoch millis.
    pub created: i64,
}

/// A customer managed policy.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PolicyRecord {
    /// Name.
    pub name: String,
    /// `ANPA…`
    pub id: String,
    /// IAM path.
    pub path: String,
    /// ARN.
    pub arn: String,
    /// Description.
    pub description: Option<String>,
    /// Creation time, epoch millis.
    pub created: i64,
    /// Last update, epoch millis.
    pub updated: i64,
    /// Default version id.
    pub default_version: String,
    /// Versions, oldest first.
    pub versions: Vec<PolicyVersion>,
    /// Next version number.
    pub next_version: u32,
    /// Number of principals it is attached to.
    pub attachments: i64,
    /// Tags in order.
    pub tags: Vec<(String, String)>,
}

impl PolicyRecord {
    /// The default version's document.
    #[must_use]
    pub fn document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.document.as_str())
    }
}

/// A long-term access key.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Access key id.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// Owning user; `None` for the account root.
    pub user: Option<String>,
    /// `Active` or `Inactive`.
    pub status: String,
    /// Creation time, epoch millis.
    pub created: i64,
    /// Secret access key sealed under the root key, base64.
    pub secret_sealed: String,
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("id", &self.id)
            .field("account", &self.account)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// What a set of temporary credentials stands for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum SessionKind {
    /// From `AssumeRole`.
    Role {
        /// Role name.
        role_name: String,
        /// Role path.
        role_path: String,
        /// Role unique id.
        role_id: String,
        /// Session name.
        session_name: String,
    },
    /// From `GetSessionToken` by a user (`None`: the root).
    UserSession {
        /// The user.
        user: Option<String>,
    },
    /// From `GetFederationToken` by a user (`None`: the root): the user's permissions
    /// intersected with the session policy.
    Federated {
        /// The federating user.
        user: Option<String>,
        /// The name given to `GetFederationToken`.
        name: String,
    },
}

/// Temporary credentials.
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Access key id (`ASIA…`).
    pub id: String,
    /// Account of the identity the session stands for.
    pub account: String,
    /// What it stands for.
    pub kind: SessionKind,
    /// Secret access key sealed under the root key, base64.
    pub secret_sealed: String,
    /// SHA-256 of the session token, hex.
    pub token_digest: String,
    /// Issue time, epoch millis.
    pub issued: i64,
    /// Expiry, epoch millis.
    pub expires: i64,
    /// Session policy, if one was passed.
    pub session_policy: Option<String>,
    /// Session tags (`aws:PrincipalTag/<key>` for the session, over the role's own tags).
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Issued in `--dev` mode to the dev principal for a role that does not exist: the session
    /// acts with its account's full permissions, and only while the server runs in dev mode.
    #[serde(default)]
    pub dev_phantom: bool,
    /// When an MFA code was checked to issue the session, epoch millis
    /// (`aws:MultiFactorAuthPresent`, `aws:MultiFactorAuthAge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_at: Option<i64>,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("account", &self.account)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The store key of a named entity in an account (names are case-insensitive in IAM).
#[must_use]
pub fn name_key(account: &str, name: &str) -> String {
    format!("{account}/{}", name.to_lowercase())
}

fn store_err(e: &rampart_store::StoreError) -> AwsError {
    tracing::error!(error = %e, "store failure");
    AwsError::new(
        "ServiceUnavailable",
        503,
        "Service is unavailable. Please try again.",
    )
}

/// A record read with its version, for optimistic updates.
pub use rampart_service::table::Versioned;

/// IAM's store errors: `ServiceUnavailable` when the store fails, and `ConcurrentModification`
/// by default when an entity changed since it was read.
pub const DB: Db = Db::new(store_err, crate::iam_api::concurrent);
/// Accounts by id.
pub const ACCOUNTS: Table<AccountRecord> = DB.table(ns::ACCOUNT);
/// Users by `account/lowercase-name`.
pub const USERS: Table<UserRecord> = DB.table(ns::USER);
/// Roles by `account/lowercase-name`.
pub const ROLES: Table<RoleRecord> = DB.table(ns::ROLE);
/// Groups by `account/lowercase-name`.
pub const GROUPS: Table<GroupRecord> = DB.table(ns::GROUP);
/// Customer managed policies by `account/lowercase-name`.
pub const POLICIES: Table<PolicyRecord> = DB.table(ns::POLICY);
/// Long-term access keys by access key id.
pub const KEYS: Table<KeyRecord> = DB.table(ns::KEY);
/// Index of a principal's access keys (values are `null`).
pub const USER_KEYS: Table<serde_json::Value> = DB.table(ns::USER_KEY);
/// Temporary credentials by access key id.
pub const SESSIONS: Table<SessionRecord> = DB.table(ns::SESSION);
