//! What the store holds for S3: bucket and object records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use rampart_service::table::{Db, Table};
use rampart_service::AwsError;

/// A bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketRecord {
    /// The owning account.
    pub owner: String,
    /// The region it was created in.
    pub region: String,
    /// Creation time, epoch milliseconds.
    pub created_ms: i64,
}

/// An object: its metadata and where its sealed bytes are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// The object file's id (random; never derived from the key name).
    pub id: String,
    /// Plaintext size in bytes.
    pub size: u64,
    /// Hex MD5 of the content (the ETag, without quotes).
    pub md5: String,
    /// Last modification, epoch seconds.
    pub modified: i64,
    /// Standard headers stored with the object (`Content-Type`, `Cache-Control`, …), by the
    /// model's member name.
    pub headers: BTreeMap<String, String>,
    /// User metadata (`x-amz-meta-*`), names lowercased.
    pub metadata: BTreeMap<String, String>,
    /// The checksum algorithm name (`CRC32`, …) and its base64 value.
    pub checksum: (String, String),
    /// The object's data key, sealed with the node's sealer.
    pub data_key: String,
    /// The storage class label.
    pub storage_class: String,
    // --- versioning, policies and encryption (crate::sse, crate::tagging) ---
    /// How the data key is protected beyond SSE-S3: SSE-KMS (with or without a bucket key),
    /// DSSE-KMS or SSE-C; `None` is SSE-S3 (`data_key` sealed with the node's sealer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<crate::sse::Sse>,
    /// The object's tags, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// The version id (`None`: the `null` version; see crate::versioning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

fn unavailable(_: &rampart_store::StoreError) -> AwsError {
    AwsError::new(
        "ServiceUnavailable",
        503,
        "Please reduce your request rate.",
    )
}

fn conflict() -> AwsError {
    AwsError::new(
        "OperationAborted",
        409,
        "A conflicting conditional operation is currently in progress against this resource. Please try again.",
    )
}

pub(crate) const DB: Db = Db::new(unavailable, conflict);
/// Buckets by name (one namespace for all accounts, as on AWS).
pub const BUCKETS: Table<BucketRecord> = DB.table("s3.buckets");
/// Objects by `bucket/key`.
pub const OBJECTS: Table<ObjectRecord> = DB.table("s3.objects");
/// A bucket's policy, Block Public Access, tags and default encryption, by bucket name.
pub const SETTINGS: Table<crate::settings::BucketSettings> = DB.table("s3.bucket_settings");
