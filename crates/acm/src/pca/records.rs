//! What ACM-PCA keeps in the store.

use serde::{Deserialize, Serialize};

use rampart_service::table::{Db, Table};
use rampart_service::AwsError;

use crate::shapes::acm_pca as s;

/// Certificate authorities, by `account/region/ca-id`.
pub const NS_CA: &str = "acm-pca.ca";
/// Issued certificates, by `account/region/ca-id/serial-hex`.
pub const NS_CERT: &str = "acm-pca.cert";
/// The current CRL of each CA, by CA id (served over HTTP without an account).
pub const NS_CRL: &str = "acm-pca.crl";
/// Idempotency tokens, by `account/region/operation/scope/token`.
pub const NS_TOKEN: &str = "acm-pca.token";
/// Audit reports, by `account/region/ca-id/report-id`.
pub const NS_REPORT: &str = "acm-pca.report";

/// Where a CA's private key is held.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum KeyRef {
    /// PKCS#8 DER sealed by the server's sealer (AAD: the CA ARN), base64.
    Sealed {
        /// The sealed key.
        sealed: String,
    },
}

impl std::fmt::Debug for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRef(..)")
    }
}

/// A permission given to an AWS service principal (CreatePermission).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PermissionRecord {
    /// `acm.amazonaws.com`.
    pub principal: String,
    /// The account that may use it, if restricted.
    pub source_account: Option<String>,
    /// Actions allowed.
    pub actions: Vec<String>,
    /// When, epoch millis.
    pub created: i64,
}

/// A certificate authority.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaRecord {
    /// UUID.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// `ROOT` or `SUBORDINATE`.
    pub ca_type: String,
    /// The configuration it was created with.
    pub config: s::CertificateAuthorityConfiguration,
    /// Status.
    pub status: String,
    /// Creation, epoch millis.
    pub created: i64,
    /// Last status change, epoch millis.
    pub last_state_change: i64,
    /// The private key.
    pub key: KeyRef,
    /// The CA certificate (DER, base64), once imported.
    pub certificate: Option<String>,
    /// The chain of a subordinate CA's certificate (PEM), once imported.
    pub chain: Option<String>,
    /// Serial of the CA certificate, hex.
    pub serial: Option<String>,
    /// Validity of the CA certificate, epoch millis.
    pub not_before: Option<i64>,
    /// Validity of the CA certificate, epoch millis.
    pub not_after: Option<i64>,
    /// Revocation configuration.
    pub revocation: Option<s::RevocationConfiguration>,
    /// `GENERAL_PURPOSE` or `SHORT_LIVED_CERTIFICATE`.
    pub usage_mode: String,
    /// Key storage security standard.
    pub key_storage: String,
    /// DELETED only: when it is deleted for good, epoch millis.
    pub restorable_until: Option<i64>,
    /// DELETED only: its status before deletion.
    pub status_before_delete: Option<String>,
    /// Tags in order.
    pub tags: Vec<(String, String)>,
    /// Resource policy.
    pub policy: Option<String>,
    /// Permissions for AWS services.
    pub permissions: Vec<PermissionRecord>,
    /// Number of the last CRL published.
    pub crl_number: u64,
}

/// A certificate issued by a CA.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertRecord {
    /// Certificate ARN.
    pub arn: String,
    /// Serial, lowercase hex.
    pub serial: String,
    /// DER, base64.
    pub der: String,
    /// Subject text.
    pub subject: String,
    /// Template ARN.
    pub template: String,
    /// Issued at, epoch millis.
    pub issued: i64,
    /// Validity, epoch millis.
    pub not_before: i64,
    /// Validity, epoch millis.
    pub not_after: i64,
    /// Who asked for it (caller ARN).
    pub requested_by: String,
    /// Revocation, epoch millis.
    pub revoked: Option<i64>,
    /// Revocation reason.
    pub reason: Option<String>,
}

/// The published CRL of a CA.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrlRecord {
    /// DER, base64.
    pub der: String,
}

/// An idempotency token's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The resource created.
    pub arn: String,
    /// Fingerprint of the request it was used with.
    pub request: String,
    /// Until when it answers, epoch millis.
    pub until: i64,
}

/// An audit report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportRecord {
    /// Id.
    pub id: String,
    /// Bucket named in the request.
    pub bucket: String,
    /// Key of the report in the bucket (and under the reports directory).
    pub key: String,
    /// Created, epoch millis.
    pub created: i64,
    /// `SUCCESS` or `FAILED`.
    pub status: String,
}

/// The store key of a record in an account and region.
#[must_use]
pub fn scoped(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}

fn store_err(e: &rampart_store::StoreError) -> AwsError {
    tracing::error!(error = %e, "store failure");
    AwsError::new(
        "RequestFailedException",
        500,
        "The request failed because of an internal error. Retry the request.",
    )
}

fn concurrent() -> AwsError {
    AwsError::new(
        "ConcurrentModificationException",
        400,
        "A previous update to your private CA is still ongoing.",
    )
}

pub use rampart_service::table::Versioned;

/// ACM's and ACM-PCA's store errors: `RequestFailedException` when the store fails, and
/// `ConcurrentModificationException` when a record changed since it was read.
pub const DB: Db = Db::new(store_err, concurrent);
/// Private CAs.
pub const CAS: Table<CaRecord> = DB.table(NS_CA);
/// Certificates issued by private CAs.
pub const CERTS: Table<CertRecord> = DB.table(NS_CERT);
/// Each CA's current CRL.
pub const CRLS: Table<CrlRecord> = DB.table(NS_CRL);
/// Idempotency tokens.
pub const TOKENS: Table<TokenRecord> = DB.table(NS_TOKEN);
/// Audit reports.
pub const REPORTS: Table<ReportRecord> = DB.table(NS_REPORT);
