//! Server-side encryption, the four ways S3 offers it. Every object's bytes are sealed under
//! a data key of their own (see [`crate::blobs`]); what differs is who protects that key:
//!
//! - SSE-S3: the node's sealer (root key), `ObjectRecord::data_key`.
//! - SSE-KMS / DSSE-KMS: KMS, called for the requester (`kms:GenerateDataKey` on write,
//!   `kms:Decrypt` on read) with the encryption context `aws:s3:arn` = the object's ARN; the
//!   key policy, grants and the requester's IAM policies decide, and each call is a KMS event of
//!   its own in CloudTrail.
//! - SSE-KMS with an S3 Bucket Key: KMS makes a bucket-level key (context `aws:s3:arn` = the
//!   bucket's ARN) and each object's data key is sealed under it. The plaintext bucket key is
//!   kept in memory for [`BUCKET_KEY_PERIOD_SECS`] per requester, bucket and KMS key, so a
//!   requester reaches KMS once per period instead of once per object, and a requester who was
//!   never allowed by KMS never uses a cached key.
//! - SSE-C: the customer's key seals the data key and is never stored; a salted HMAC-SHA256 of
//!   it lets a later request be checked (in constant time) before anything is opened.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use rampart_crypto::SecretBytes;
use rampart_service::{AwsError, RequestContext};

use crate::records::ObjectRecord;
use crate::settings::BucketSettings;
use crate::{field, S3Service};

/// How long a bucket key is reused before KMS is asked for a new one.
pub const BUCKET_KEY_PERIOD_SECS: i64 = 300;

/// How an object's data key is protected, besides SSE-S3.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Sse {
    /// SSE-KMS (or DSSE-KMS): the data key encrypted by KMS.
    Kms {
        /// ARN of the KMS key.
        key_arn: String,
        /// `aws:kms` or `aws:kms:dsse`.
        algorithm: String,
        /// The encryption context KMS bound the data key to.
        context: BTreeMap<String, String>,
        /// KMS's ciphertext of the data key, base64.
        blob: String,
    },
    /// SSE-KMS with an S3 Bucket Key.
    BucketKey {
        /// ARN of the KMS key.
        key_arn: String,
        /// KMS's ciphertext of the bucket key, base64.
        bucket_key: String,
        /// The bucket's ARN: the bucket key's encryption context `aws:s3:arn`.
        bucket_arn: String,
        /// The object's data key sealed under the bucket key, base64.
        sealed: String,
    },
    /// SSE-C.
    Customer {
        /// Random salt of `mac`, base64.
        salt: String,
        /// HMAC-SHA256(salt, customer key), base64.
        mac: String,
        /// Base64 MD5 of the customer key (returned in `x-amz-server-side-encryption-customer-key-MD5`).
        key_md5: String,
        /// The object's data key sealed under the customer key, base64.
        sealed: String,
    },
}

/// A data key for a new object and how it is kept.
pub struct NewKey {
    /// The plaintext data key.
    pub plain: SecretBytes,
    /// `ObjectRecord::data_key` (SSE-S3's sealed key; empty otherwise).
    pub data_key: String,
    /// `ObjectRecord::sse`.
    pub sse: Option<Sse>,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("sse", &self.sse)
            .finish_non_exhaustive()
    }
}

/// Bucket keys in memory: plaintext by (requester, bucket, KMS key) for writes, and by
/// ciphertext for reads.
#[derive(Default)]
pub struct BucketKeys {
    write: Mutex<HashMap<(String, String, String), CachedKey>>,
    read: Mutex<HashMap<(String, String), CachedKey>>,
}

impl std::fmt::Debug for BucketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketKeys").finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct CachedKey {
    plain: Vec<u8>,
    blob: String,
    key_arn: String,
    until: i64,
}

impl Drop for CachedKey {
    fn drop(&mut self) {
        self.plain.iter_mut().for_each(|b| *b = 0);
    }
}

/// The customer key of a request (`SSECustomer*` or `CopySourceSSECustomer*` members).
struct CustomerKey {
    key: SecretBytes,
    md5: String,
}

fn invalid_argument(message: &str) -> AwsError {
    AwsError::new("InvalidArgument", 400, message)
}

fn invalid_request(message: &str) -> AwsError {
    AwsError::new("InvalidRequest", 400, message)
}

fn access_denied() -> AwsError {
    AwsError::new("AccessDenied", 403, "Access Denied")
}

/// S3's answer for a KMS error met while serving the requester.
pub(crate) fn from_kms(e: AwsError) -> AwsError {
    match e.code.as_ref() {
        "AccessDeniedException" => AwsError::new("AccessDenied", 403, e.message),
        "ThrottlingException" | "LimitExceededException" => {
            AwsError::new("KMS.ThrottlingException", 503, e.message)
        }
        "NotFoundException"
        | "DisabledException"
        | "KMSInvalidStateException"
        | "InvalidKeyUsageException"
        | "InvalidArnException"
        | "InvalidCiphertextException"
        | "IncorrectKeyException"
        | "KeyUnavailableException"
        | "ValidationException" => AwsError::new(format!("KMS.{}", e.code), 400, e.message),
        _ => {
            tracing::error!(code = %e.code, "kms failure under s3");
            AwsError::internal()
        }
    }
}

fn seal(key: &[u8], plain: &[u8], aad: &[u8]) -> Result<String, AwsError> {
    let k = UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| AwsError::internal())?;
    let nonce_bytes = rampart_crypto::random_bytes(12).map_err(|_| AwsError::internal())?;
    let mut n = [0u8; 12];
    n.copy_from_slice(&nonce_bytes);
    let mut buf = plain.to_vec();
    k.seal_in_place_append_tag(Nonce::assume_unique_for_key(n), Aad::from(aad), &mut buf)
        .map_err(|_| AwsError::internal())?;
    let mut out = n.to_vec();
    out.extend_from_slice(&buf);
    buf.iter_mut().for_each(|b| *b = 0);
    Ok(B64.encode(out))
}

fn open(key: &[u8], sealed: &str, aad: &[u8]) -> Option<SecretBytes> {
    let raw = B64.decode(sealed).ok()?;
    if raw.len() < 12 + 16 {
        return None;
    }
    let k = UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .ok()?;
    let mut n = [0u8; 12];
    n.copy_from_slice(&raw[..12]);
    let mut buf = raw[12..].to_vec();
    let plain = k
        .open_in_place(Nonce::assume_unique_for_key(n), Aad::from(aad), &mut buf)
        .ok()?
        .to_vec();
    Some(SecretBytes::new(plain))
}

fn mac(salt: &[u8], key: &[u8]) -> Vec<u8> {
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, salt);
    aws_lc_rs::hmac::sign(&k, key).as_ref().to_vec()
}

/// The customer key a request carries under `prefix` (`SSECustomer` or
/// `CopySourceSSECustomer`), checked as S3 checks it; `None` when it carries none.
fn customer_key(
    ctx: &RequestContext,
    input: &Value,
    prefix: &str,
) -> Result<Option<CustomerKey>, AwsError> {
    let algorithm = field(input, &format!("{prefix}Algorithm"));
    let key = field(input, &format!("{prefix}Key"));
    let md5 = field(input, &format!("{prefix}KeyMD5"));
    if algorithm.is_none() && key.is_none() && md5.is_none() {
        return Ok(None);
    }
    if !ctx.secure_transport {
        return Err(invalid_request(
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
        ));
    }
    let Some(algorithm) = algorithm else {
        return Err(invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
        ));
    };
    if algorithm != "AES256" {
        return Err(AwsError::new(
            "InvalidEncryptionAlgorithmError",
            400,
            "The encryption request you specified is not valid. The valid value is AES256.",
        ));
    }
    let Some(key) = key else {
        return Err(invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
        ));
    };
    let key = B64
        .decode(key.trim())
        .ok()
        .filter(|k| k.len() == 32)
        .ok_or_else(|| {
            invalid_argument("The secret key was invalid for the specified algorithm.")
        })?;
    let key = SecretBytes::new(key);
    let Some(md5) = md5 else {
        return Err(invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
        ));
    };
    let actual = B64.encode(Md5::digest(key.expose()));
    if !rampart_crypto::ct_eq(actual.as_bytes(), md5.trim().as_bytes()) {
        return Err(invalid_argument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        ));
    }
    Ok(Some(CustomerKey { key, md5: actual }))
}

/// What the request (or else the bucket's default) asks for on write.
enum Wanted {
    S3,
    Kms {
        key: Option<String>,
        algorithm: String,
        bucket_key: bool,
    },
    Customer(CustomerKey),
}

fn wanted(
    ctx: &RequestContext,
    input: &Value,
    settings: &BucketSettings,
) -> Result<Wanted, AwsError> {
    let header = field(input, "ServerSideEncryption");
    let kms_key = field(input, "SSEKMSKeyId").filter(|k| !k.is_empty());
    let customer = customer_key(ctx, input, "SSECustomer")?;
    if let Some(c) = customer {
        if header.is_some() || kms_key.is_some() {
            return Err(invalid_argument(
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
            ));
        }
        if settings.blocks_sse_c() {
            return Err(invalid_request(
                "Requests specifying Server Side Encryption with Customer provided keys are blocked for this bucket.",
            ));
        }
        return Ok(Wanted::Customer(c));
    }
    let bucket_key_header = input.get("BucketKeyEnabled").and_then(Value::as_bool);
    match header {
        Some("AES256") => {
            if kms_key.is_some() {
                return Err(invalid_argument(
                    "Server Side Encryption with AWS Key Management Service key id is specified but the encryption method is not aws:kms",
                ));
            }
            Ok(Wanted::S3)
        }
        Some(a @ ("aws:kms" | "aws:kms:dsse")) => Ok(Wanted::Kms {
            key: kms_key.map(str::to_owned),
            algorithm: a.to_owned(),
            bucket_key: a == "aws:kms"
                && bucket_key_header.unwrap_or_else(|| settings.default_bucket_key()),
        }),
        Some(_) => Err(invalid_argument(
            "The encryption method specified is not supported",
        )),
        None if kms_key.is_some() => Err(invalid_argument(
            "Server Side Encryption with AWS Key Management Service key id is specified but the encryption method is not aws:kms",
        )),
        None => Ok(match settings.default_encryption() {
            Some((algorithm, key, bucket_key)) if algorithm.starts_with("aws:kms") => Wanted::Kms {
                bucket_key: algorithm == "aws:kms" && bucket_key_header.unwrap_or(bucket_key),
                key,
                algorithm,
            },
            _ => Wanted::S3,
        }),
    }
}

/// The encryption context of an object: `aws:s3:arn` plus what the request added
/// (`x-amz-server-side-encryption-context`, base64 JSON).
fn object_context(input: &Value, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let mut context = BTreeMap::new();
    if let Some(extra) = field(input, "SSEKMSEncryptionContext") {
        let bad = || invalid_argument("The encryption context provided is not valid JSON");
        let decoded = B64.decode(extra.trim()).map_err(|_| bad())?;
        let v: Value = serde_json::from_slice(&decoded).map_err(|_| bad())?;
        let Some(obj) = v.as_object() else {
            return Err(bad());
        };
        for (k, v) in obj {
            let Some(v) = v.as_str() else {
                return Err(bad());
            };
            context.insert(k.clone(), v.to_owned());
        }
    }
    context.insert("aws:s3:arn".to_owned(), arn.to_owned());
    Ok(context)
}

fn object_arn(ctx: &RequestContext, bucket: &str, key: &str) -> String {
    format!("arn:{}:s3:::{bucket}/{key}", ctx.partition)
}

impl S3Service {
    /// A new data key for the object `bucket/key` (file id `id`), protected as the request or
    /// the bucket's default encryption asks.
    ///
    /// # Errors
    /// S3's errors for bad encryption headers, and KMS's (as S3 relays them).
    pub(crate) async fn new_data_key(
        &self,
        ctx: &RequestContext,
        input: &Value,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> Result<NewKey, AwsError> {
        let settings = self.settings(bucket).await?;
        let plain = rampart_crypto::random_bytes(32).map_err(|_| AwsError::internal())?;
        match wanted(ctx, input, &settings)? {
            Wanted::S3 => Ok(NewKey {
                data_key: self.seal_data_key(id, &plain)?,
                plain: SecretBytes::new(plain),
                sse: None,
            }),
            Wanted::Customer(c) => {
                let salt = rampart_crypto::random_bytes(16).map_err(|_| AwsError::internal())?;
                Ok(NewKey {
                    sse: Some(Sse::Customer {
                        mac: B64.encode(mac(&salt, c.key.expose())),
                        salt: B64.encode(salt),
                        key_md5: c.md5,
                        sealed: seal(c.key.expose(), &plain, id.as_bytes())?,
                    }),
                    data_key: String::new(),
                    plain: SecretBytes::new(plain),
                })
            }
            Wanted::Kms {
                key: kms_key,
                algorithm,
                bucket_key: false,
            } => {
                let context = object_context(input, &object_arn(ctx, bucket, key))?;
                let (data, blob, key_arn) = self
                    .kms()?
                    .generate_data_key_via(ctx, "s3", kms_key.as_deref(), &context)
                    .await
                    .map_err(from_kms)?;
                Ok(NewKey {
                    plain: data,
                    data_key: String::new(),
                    sse: Some(Sse::Kms {
                        key_arn,
                        algorithm,
                        context,
                        blob: B64.encode(blob),
                    }),
                })
            }
            Wanted::Kms {
                key: kms_key,
                bucket_key: true,
                ..
            } => {
                let cached = self.bucket_key_for_write(ctx, bucket, kms_key).await?;
                Ok(NewKey {
                    sse: Some(Sse::BucketKey {
                        key_arn: cached.key_arn.clone(),
                        bucket_key: cached.blob.clone(),
                        bucket_arn: crate::buckets::bucket_arn(ctx, bucket),
                        sealed: seal(&cached.plain, &plain, id.as_bytes())?,
                    }),
                    plain: SecretBytes::new(plain),
                    data_key: String::new(),
                })
            }
        }
    }

    pub(crate) fn seal_data_key(&self, id: &str, key: &[u8]) -> Result<String, AwsError> {
        self.sealer
            .seal(key, format!("s3:{id}").as_bytes())
            .map(|s| B64.encode(s))
            .map_err(|_| AwsError::internal())
    }

    fn kms(&self) -> Result<&rampart_kms::KmsService, AwsError> {
        self.kms.as_deref().ok_or_else(|| {
            tracing::error!("SSE-KMS asked of an S3 service built without KMS");
            AwsError::internal()
        })
    }

    async fn bucket_key_for_write(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        kms_key: Option<String>,
    ) -> Result<CachedKey, AwsError> {
        let now = ctx.time.timestamp();
        let wanted_key = kms_key.clone().unwrap_or_else(|| "alias/aws/s3".to_owned());
        let slot = (ctx.caller.arn.clone(), bucket.to_owned(), wanted_key);
        if let Ok(cache) = self.bucket_keys.write.lock() {
            if let Some(c) = cache.get(&slot).filter(|c| c.until > now) {
                return Ok(c.clone());
            }
        }
        let context = BTreeMap::from([(
            "aws:s3:arn".to_owned(),
            crate::buckets::bucket_arn(ctx, bucket),
        )]);
        let (plain, blob, key_arn) = self
            .kms()?
            .generate_data_key_via(ctx, "s3", kms_key.as_deref(), &context)
            .await
            .map_err(from_kms)?;
        let cached = CachedKey {
            plain: plain.expose().to_vec(),
            blob: B64.encode(blob),
            key_arn,
            until: now + BUCKET_KEY_PERIOD_SECS,
        };
        if let Ok(mut cache) = self.bucket_keys.write.lock() {
            cache.retain(|_, c| c.until > now);
            cache.insert(slot, cached.clone());
        }
        if let Ok(mut cache) = self.bucket_keys.read.lock() {
            cache.insert(
                (ctx.caller.arn.clone(), cached.blob.clone()),
                cached.clone(),
            );
        }
        Ok(cached)
    }

    /// Checks the customer key of a read (or of a copy's source, `copy_source`) against the
    /// object, without opening anything: what HeadObject needs.
    ///
    /// # Errors
    /// S3's SSE-C errors.
    pub(crate) fn check_read_key(
        ctx: &RequestContext,
        input: &Value,
        rec: &ObjectRecord,
        copy_source: bool,
    ) -> Result<Option<SecretBytes>, AwsError> {
        let prefix = if copy_source {
            "CopySourceSSECustomer"
        } else {
            "SSECustomer"
        };
        let given = customer_key(ctx, input, prefix)?;
        match (&rec.sse, given) {
            (
                Some(Sse::Customer {
                    salt, mac: stored, ..
                }),
                Some(c),
            ) => {
                let salt = B64.decode(salt).map_err(|_| AwsError::internal())?;
                let stored = B64.decode(stored).map_err(|_| AwsError::internal())?;
                if rampart_crypto::ct_eq(&mac(&salt, c.key.expose()), &stored) {
                    Ok(Some(c.key))
                } else {
                    Err(access_denied())
                }
            }
            (Some(Sse::Customer { .. }), None) => Err(invalid_request(
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
            )),
            (_, Some(_)) => Err(invalid_request(
                "The encryption parameters are not applicable to this object.",
            )),
            (_, None) => Ok(None),
        }
    }

    /// The plaintext data key of `rec` for the requester: KMS Decrypt for SSE-KMS (the
    /// requester needs `kms:Decrypt`), the customer key for SSE-C.
    ///
    /// # Errors
    /// S3's SSE-C errors, KMS's errors as S3 relays them.
    pub(crate) async fn read_data_key(
        &self,
        ctx: &RequestContext,
        input: &Value,
        rec: &ObjectRecord,
        copy_source: bool,
    ) -> Result<SecretBytes, AwsError> {
        let customer = Self::check_read_key(ctx, input, rec, copy_source)?;
        match &rec.sse {
            None => {
                let sealed = B64
                    .decode(&rec.data_key)
                    .map_err(|_| AwsError::internal())?;
                self.sealer
                    .open(&sealed, format!("s3:{}", rec.id).as_bytes())
                    .map_err(|_| AwsError::internal())
            }
            Some(Sse::Customer { sealed, .. }) => {
                let key = customer.ok_or_else(AwsError::internal)?;
                open(key.expose(), sealed, rec.id.as_bytes()).ok_or_else(access_denied)
            }
            Some(Sse::Kms {
                key_arn,
                context,
                blob,
                ..
            }) => {
                let blob = B64.decode(blob).map_err(|_| AwsError::internal())?;
                self.kms()?
                    .decrypt_via(ctx, "s3", Some(key_arn), &blob, context)
                    .await
                    .map(|(k, _)| k)
                    .map_err(from_kms)
            }
            Some(Sse::BucketKey {
                key_arn,
                bucket_key,
                bucket_arn,
                sealed,
            }) => {
                let plain = self
                    .bucket_key_for_read(ctx, bucket_arn, key_arn, bucket_key)
                    .await?;
                open(&plain, sealed, rec.id.as_bytes()).ok_or_else(AwsError::internal)
            }
        }
    }

    async fn bucket_key_for_read(
        &self,
        ctx: &RequestContext,
        bucket_arn: &str,
        key_arn: &str,
        blob: &str,
    ) -> Result<Vec<u8>, AwsError> {
        let now = ctx.time.timestamp();
        let slot = (ctx.caller.arn.clone(), blob.to_owned());
        if let Ok(cache) = self.bucket_keys.read.lock() {
            if let Some(c) = cache.get(&slot).filter(|c| c.until > now) {
                return Ok(c.plain.clone());
            }
        }
        let context = BTreeMap::from([("aws:s3:arn".to_owned(), bucket_arn.to_owned())]);
        let raw = B64.decode(blob).map_err(|_| AwsError::internal())?;
        let (plain, _) = self
            .kms()?
            .decrypt_via(ctx, "s3", Some(key_arn), &raw, &context)
            .await
            .map_err(from_kms)?;
        let cached = CachedKey {
            plain: plain.expose().to_vec(),
            blob: blob.to_owned(),
            key_arn: key_arn.to_owned(),
            until: now + BUCKET_KEY_PERIOD_SECS,
        };
        if let Ok(mut cache) = self.bucket_keys.read.lock() {
            cache.retain(|_, c| c.until > now);
            cache.insert(slot, cached);
        }
        Ok(plain.expose().to_vec())
    }
}

/// Whether a copy asks for a different encryption than the source has (which makes copying an
/// object onto itself legal).
pub(crate) fn changes_encryption(input: &Value) -> bool {
    [
        "ServerSideEncryption",
        "SSEKMSKeyId",
        "SSECustomerAlgorithm",
    ]
    .iter()
    .any(|m| input.get(*m).is_some())
}

/// The encryption members of an answer about `rec` (PutObject, GetObject, HeadObject,
/// CopyObject).
pub(crate) fn describe(rec_sse: Option<&Sse>, o: &mut Map<String, Value>) {
    let s = |v: &str| Value::String(v.to_owned());
    match rec_sse {
        None => {
            o.insert("ServerSideEncryption".into(), s("AES256"));
        }
        Some(Sse::Kms {
            key_arn, algorithm, ..
        }) => {
            o.insert("ServerSideEncryption".into(), s(algorithm));
            o.insert("SSEKMSKeyId".into(), s(key_arn));
        }
        Some(Sse::BucketKey { key_arn, .. }) => {
            o.insert("ServerSideEncryption".into(), s("aws:kms"));
            o.insert("SSEKMSKeyId".into(), s(key_arn));
            o.insert("BucketKeyEnabled".into(), Value::Bool(true));
        }
        Some(Sse::Customer { key_md5, .. }) => {
            o.remove("ServerSideEncryption");
            o.insert("SSECustomerAlgorithm".into(), s("AES256"));
            o.insert("SSECustomerKeyMD5".into(), s(key_md5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_key_and_object() {
        let key = [3u8; 32];
        let sealed = seal(&key, b"data key", b"obj1").expect("seal");
        assert_eq!(
            open(&key, &sealed, b"obj1").map(|k| k.expose().to_vec()),
            Some(b"data key".to_vec())
        );
        assert!(open(&key, &sealed, b"obj2").is_none());
        assert!(open(&[4u8; 32], &sealed, b"obj1").is_none());
    }

    #[test]
    fn the_customer_key_check_is_salted() {
        let a = mac(b"salt-1", &[1u8; 32]);
        assert_ne!(a, mac(b"salt-2", &[1u8; 32]));
        assert_ne!(a, mac(b"salt-1", &[2u8; 32]));
        assert_eq!(a, mac(b"salt-1", &[1u8; 32]));
    }
}
