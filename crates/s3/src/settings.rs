//! A bucket's security settings: its policy (evaluated with the caller's IAM policies on every
//! request), Block Public Access, tags and default encryption. One record per bucket in
//! `s3.bucket_settings`; a bucket without one has AWS's defaults (no policy, no Block Public
//! Access configuration, no tags, SSE-S3).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use rampart_service::policy::{self, Policy, PolicyKind};
use rampart_service::{AwsError, RequestContext};
use rampart_store::Expect;

use crate::records::{ObjectRecord, SETTINGS};
use crate::{field, S3Service};

/// A bucket's Block Public Access configuration.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicAccessBlock {
    /// Refuse public ACLs.
    pub block_public_acls: bool,
    /// Ignore public ACLs.
    pub ignore_public_acls: bool,
    /// Refuse a public bucket policy.
    pub block_public_policy: bool,
    /// With a public policy, only the owner's account and AWS services get access through it.
    pub restrict_public_buckets: bool,
}

/// The bucket's default encryption rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DefaultEncryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    /// The KMS key for `aws:kms*` (the AWS managed key `aws/s3` when absent).
    pub kms_key: Option<String>,
    /// Whether SSE-KMS objects use an S3 Bucket Key by default.
    pub bucket_key: bool,
    /// Encryption types refused on writes (`SSE-C`).
    pub blocked: Vec<String>,
}

/// What `s3.bucket_settings` holds for a bucket.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BucketSettings {
    /// The bucket policy document, as given.
    #[serde(default)]
    pub policy: Option<String>,
    /// Block Public Access.
    #[serde(default)]
    pub public_access_block: Option<PublicAccessBlock>,
    /// Bucket tags.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Default encryption, when configured.
    #[serde(default)]
    pub encryption: Option<DefaultEncryption>,
    /// Versioning status (`Enabled`, `Suspended`); `None` until first configured.
    #[serde(default)]
    pub versioning: Option<String>,
    /// CORS rules (`crate::cors`), when configured.
    #[serde(default)]
    pub cors: Option<Vec<crate::cors::CorsRule>>,
}

impl BucketSettings {
    /// Whether the bucket refuses SSE-C writes.
    #[must_use]
    pub fn blocks_sse_c(&self) -> bool {
        self.encryption
            .as_ref()
            .is_some_and(|e| e.blocked.iter().any(|b| b == "SSE-C"))
    }

    /// Whether SSE-KMS writes use a bucket key unless the request says otherwise.
    #[must_use]
    pub fn default_bucket_key(&self) -> bool {
        self.encryption.as_ref().is_some_and(|e| e.bucket_key)
    }

    /// The default encryption: (algorithm, KMS key, bucket key).
    #[must_use]
    pub fn default_encryption(&self) -> Option<(String, Option<String>, bool)> {
        self.encryption
            .as_ref()
            .map(|e| (e.algorithm.clone(), e.kms_key.clone(), e.bucket_key))
    }
}

/// Condition keys whose presence narrows a statement that names everyone to something other
/// than the public (AWS's list for "is this policy public").
const NARROWING_KEYS: &[&str] = &[
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:userid",
    "aws:sourceip",
];

/// Whether a bucket policy is public: an Allow statement naming everyone (`*`) with no
/// condition that fixes an account, organization, network or source.
#[must_use]
pub fn is_public(doc: &Value) -> bool {
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(one) => vec![one.clone()],
        None => return false,
    };
    statements.iter().any(|st| {
        if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
            return false;
        }
        let everyone = |p: &Value| match p {
            Value::String(s) => s == "*",
            Value::Array(a) => a.iter().any(|x| x.as_str() == Some("*")),
            _ => false,
        };
        let public = match st.get("Principal") {
            Some(Value::String(s)) => s == "*",
            Some(Value::Object(m)) => m.get("AWS").is_some_and(everyone),
            _ => st.get("NotPrincipal").is_some(),
        };
        let narrowed = st
            .get("Condition")
            .and_then(Value::as_object)
            .is_some_and(|ops| {
                ops.values().any(|keys| {
                    keys.as_object().is_some_and(|k| {
                        k.keys()
                            .any(|key| NARROWING_KEYS.contains(&key.to_lowercase().as_str()))
                    })
                })
            });
        public && !narrowed
    })
}

fn malformed_policy(message: &str) -> AwsError {
    AwsError::new("MalformedPolicy", 400, message)
}

fn bool_member(v: &Value, name: &str) -> bool {
    v.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// Object actions whose request carries `s3:ExistingObjectTag/<key>` condition keys.
const EXISTING_TAG_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging",
    "s3:GetObjectAcl",
    "s3:PutObjectAcl",
];

impl S3Service {
    /// The bucket's settings (defaults when it has none).
    ///
    /// # Errors
    /// The store's errors.
    pub(crate) async fn settings(&self, bucket: &str) -> Result<BucketSettings, AwsError> {
        Ok(SETTINGS
            .get(&*self.store, bucket)
            .await?
            .map(|v| v.value)
            .unwrap_or_default())
    }

    pub(crate) async fn save_settings(
        &self,
        bucket: &str,
        change: impl FnOnce(&mut BucketSettings) -> Result<(), AwsError>,
    ) -> Result<(), AwsError> {
        let current = SETTINGS.get(&*self.store, bucket).await?;
        let (mut s, expect) = match current {
            Some(v) => (v.value, Expect::Version(v.version)),
            None => (BucketSettings::default(), Expect::Absent),
        };
        change(&mut s)?;
        SETTINGS
            .commit(&*self.store, vec![SETTINGS.put_op(bucket, &s, expect)?])
            .await
    }

    /// Removes a deleted bucket's settings.
    pub(crate) async fn forget_settings(&self, bucket: &str) -> Result<(), AwsError> {
        SETTINGS
            .commit(&*self.store, vec![SETTINGS.delete_op(bucket, Expect::Any)])
            .await
    }

    /// The policy and condition keys an S3 request is authorized with: the bucket policy (left
    /// out for other accounts when RestrictPublicBuckets is on and it is public), and the `s3:`
    /// keys of the request (`s3:x-amz-server-side-encryption`,
    /// `s3:x-amz-server-side-encryption-aws-kms-key-id`, `s3:prefix`, `s3:delimiter`,
    /// `s3:max-keys`, `s3:ExistingObjectTag/<key>`).
    pub(crate) async fn access_inputs(
        &self,
        ctx: &RequestContext,
        input: &Value,
        bucket: &str,
        owner: &str,
        action: &str,
        object: Option<&str>,
    ) -> Result<(Option<Policy>, policy::Context), AwsError> {
        let settings = self.settings(bucket).await?;
        let mut policy = None;
        if let Some(doc) = &settings.policy {
            let restricted = settings
                .public_access_block
                .is_some_and(|p| p.restrict_public_buckets)
                && ctx.caller.account != owner
                && serde_json::from_str::<Value>(doc).is_ok_and(|v| is_public(&v));
            if !restricted {
                policy = Policy::parse_as(doc, PolicyKind::Resource).ok();
            }
        }
        let mut extra = ctx.base_context();
        if matches!(
            action,
            "s3:PutObject" | "s3:CreateMultipartUpload" | "s3:CopyObject"
        ) {
            if let Some(v) = field(input, "ServerSideEncryption") {
                extra.insert("s3:x-amz-server-side-encryption", v);
            }
            if let Some(v) = field(input, "SSEKMSKeyId") {
                extra.insert("s3:x-amz-server-side-encryption-aws-kms-key-id", v);
            }
            if let Some(v) = field(input, "SSECustomerAlgorithm") {
                extra.insert("s3:x-amz-server-side-encryption-customer-algorithm", v);
            }
        }
        if action == "s3:ListBucket" || action == "s3:ListBucketVersions" {
            extra.insert("s3:prefix", field(input, "Prefix").unwrap_or_default());
            if let Some(d) = field(input, "Delimiter") {
                extra.insert("s3:delimiter", d);
            }
            if let Some(m) = input.get("MaxKeys").and_then(Value::as_i64) {
                extra.insert("s3:max-keys", m);
            }
        }
        if let Some(key) = object {
            if EXISTING_TAG_ACTIONS.contains(&action) {
                let rec: Option<ObjectRecord> = crate::records::OBJECTS
                    .get(&*self.store, &format!("{bucket}/{key}"))
                    .await?
                    .map(|v| v.value);
                for (k, v) in rec.map(|r| r.tags).unwrap_or_default() {
                    extra.insert(&format!("s3:ExistingObjectTag/{k}"), v);
                }
            }
        }
        Ok((policy, extra))
    }

    pub(crate) async fn put_bucket_policy(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self.bucket(ctx, input, "s3:PutBucketPolicy", None).await?;
        let doc = field(input, "Policy").unwrap_or_default();
        if !doc.trim_start().starts_with('{') {
            return Err(malformed_policy(
                "Policies must be valid JSON and the first byte must be '{'",
            ));
        }
        let v: Value = serde_json::from_str(doc)
            .map_err(|_| malformed_policy("This policy contains invalid Json"))?;
        if doc.len() > 20 * 1024 {
            return Err(AwsError::new(
                "PolicyTooLarge",
                400,
                "Policy exceeds the maximum allowed document size.",
            ));
        }
        Policy::parse_as(doc, PolicyKind::Resource)
            .map_err(|e| malformed_policy(&format!("Invalid policy document: {e}")))?;
        let settings = self.settings(&bucket).await?;
        if settings
            .public_access_block
            .is_some_and(|p| p.block_public_policy)
            && is_public(&v)
        {
            return Err(AwsError::new("AccessDenied", 403, "Access Denied"));
        }
        let doc = doc.to_owned();
        self.save_settings(&bucket, |s| {
            s.policy = Some(doc);
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn get_bucket_policy(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self.bucket(ctx, input, "s3:GetBucketPolicy", None).await?;
        match self.settings(&bucket).await?.policy {
            Some(p) => Ok(json!({ "Policy": p })),
            None => Err(no_such_policy()),
        }
    }

    pub(crate) async fn get_bucket_policy_status(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self
            .bucket(ctx, input, "s3:GetBucketPolicyStatus", None)
            .await?;
        let Some(p) = self.settings(&bucket).await?.policy else {
            return Err(no_such_policy());
        };
        let public = serde_json::from_str::<Value>(&p).is_ok_and(|v| is_public(&v));
        Ok(json!({ "PolicyStatus": { "IsPublic": public } }))
    }

    pub(crate) async fn delete_bucket_policy(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self
            .bucket(ctx, input, "s3:DeleteBucketPolicy", None)
            .await?;
        self.save_settings(&bucket, |s| {
            s.policy = None;
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn put_public_access_block(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self
            .bucket(ctx, input, "s3:PutBucketPublicAccessBlock", None)
            .await?;
        let c = input
            .get("PublicAccessBlockConfiguration")
            .cloned()
            .unwrap_or(Value::Null);
        let pab = PublicAccessBlock {
            block_public_acls: bool_member(&c, "BlockPublicAcls"),
            ignore_public_acls: bool_member(&c, "IgnorePublicAcls"),
            block_public_policy: bool_member(&c, "BlockPublicPolicy"),
            restrict_public_buckets: bool_member(&c, "RestrictPublicBuckets"),
        };
        self.save_settings(&bucket, |s| {
            s.public_access_block = Some(pab);
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn get_public_access_block(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self
            .bucket(ctx, input, "s3:GetBucketPublicAccessBlock", None)
            .await?;
        let Some(p) = self.settings(&bucket).await?.public_access_block else {
            return Err(AwsError::new(
                "NoSuchPublicAccessBlockConfiguration",
                404,
                "The public access block configuration was not found",
            ));
        };
        Ok(json!({ "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": p.block_public_acls,
            "IgnorePublicAcls": p.ignore_public_acls,
            "BlockPublicPolicy": p.block_public_policy,
            "RestrictPublicBuckets": p.restrict_public_buckets,
        }}))
    }

    pub(crate) async fn delete_public_access_block(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self
            .bucket(ctx, input, "s3:PutBucketPublicAccessBlock", None)
            .await?;
        self.save_settings(&bucket, |s| {
            s.public_access_block = None;
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn put_bucket_encryption(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self
            .bucket(ctx, input, "s3:PutEncryptionConfiguration", None)
            .await?;
        let malformed = || {
            AwsError::new(
                "MalformedXML",
                400,
                "The XML you provided was not well-formed or did not validate against our published schema",
            )
        };
        let rules = input
            .pointer("/ServerSideEncryptionConfiguration/Rules")
            .and_then(Value::as_array)
            .filter(|r| r.len() == 1)
            .ok_or_else(malformed)?;
        let rule = &rules[0];
        let by_default = rule.get("ApplyServerSideEncryptionByDefault");
        let algorithm = by_default
            .and_then(|d| field(d, "SSEAlgorithm"))
            .unwrap_or("AES256")
            .to_owned();
        if !matches!(algorithm.as_str(), "AES256" | "aws:kms" | "aws:kms:dsse") {
            return Err(malformed());
        }
        let kms_key = by_default
            .and_then(|d| field(d, "KMSMasterKeyID"))
            .filter(|k| !k.is_empty())
            .map(str::to_owned);
        if kms_key.is_some() && algorithm == "AES256" {
            return Err(AwsError::new(
                "InvalidArgument",
                400,
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
            ));
        }
        let blocked = rule
            .pointer("/BlockedEncryptionTypes/EncryptionType")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let enc = DefaultEncryption {
            algorithm,
            kms_key,
            bucket_key: rule
                .get("BucketKeyEnabled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            blocked,
        };
        self.save_settings(&bucket, |s| {
            s.encryption = Some(enc);
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn get_bucket_encryption(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self
            .bucket(ctx, input, "s3:GetEncryptionConfiguration", None)
            .await?;
        // Every bucket has default encryption: SSE-S3 unless configured otherwise.
        let e = self
            .settings(&bucket)
            .await?
            .encryption
            .unwrap_or_else(|| DefaultEncryption {
                algorithm: "AES256".into(),
                ..DefaultEncryption::default()
            });
        let mut by_default = json!({ "SSEAlgorithm": e.algorithm });
        if let (Some(k), Some(o)) = (&e.kms_key, by_default.as_object_mut()) {
            o.insert("KMSMasterKeyID".into(), Value::String(k.clone()));
        }
        let mut rule = json!({
            "ApplyServerSideEncryptionByDefault": by_default,
            "BucketKeyEnabled": e.bucket_key,
        });
        if !e.blocked.is_empty() {
            if let Some(o) = rule.as_object_mut() {
                o.insert(
                    "BlockedEncryptionTypes".into(),
                    json!({ "EncryptionType": e.blocked }),
                );
            }
        }
        Ok(json!({ "ServerSideEncryptionConfiguration": { "Rules": [rule] } }))
    }

    pub(crate) async fn delete_bucket_encryption(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self
            .bucket(ctx, input, "s3:PutEncryptionConfiguration", None)
            .await?;
        self.save_settings(&bucket, |s| {
            s.encryption = None;
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }
}

fn no_such_policy() -> AwsError {
    AwsError::new(
        "NoSuchBucketPolicy",
        404,
        "The bucket policy does not exist",
    )
}

#[cfg(test)]
mod tests {
    use super::is_public;
    use serde_json::json;

    #[test]
    fn a_policy_naming_everyone_without_a_narrowing_condition_is_public() {
        let open = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]});
        assert!(is_public(&open));
        let narrowed = json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}});
        assert!(!is_public(&narrowed));
        let named = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "s3:*", "Resource": "*"}]});
        assert!(!is_public(&named));
        let deny = json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]});
        assert!(!is_public(&deny));
    }
}
