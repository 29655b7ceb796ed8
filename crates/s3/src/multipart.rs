//! Multipart uploads: create, upload part (streamed into its own sealed file), upload part
//! copy (with ranges), complete, abort, and the two listings.
//!
//! Each part is a sealed object file of its own under its own data key. Completing an upload
//! streams the chosen parts, in order, into one new sealed file (fsynced and renamed into
//! place), then commits in one store transaction: the object record, the object's part sizes
//! (for `partNumber` reads), and the removal of the upload and of all its part records. The
//! object therefore appears whole or not at all; part files are removed only after that
//! commit. Aborting removes the upload's records, then its part files.
//!
//! The ETag of the object is AWS's: the MD5 of the concatenated binary MD5s of the parts,
//! hex, followed by `-<count>`. Checksums follow AWS too: an upload created with CRC32,
//! CRC32C, SHA1 or SHA256 gets a COMPOSITE checksum (the checksum of the concatenated binary
//! part checksums, `-<count>`); CRC64NVME, an explicit `FULL_OBJECT` type, or no algorithm at
//! all gets a FULL_OBJECT checksum of the whole content, computed while the parts are joined.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use rampart_service::stream::RequestBody;
use rampart_service::table::Table;
use rampart_service::{AwsError, RequestContext};
use rampart_sigv4::{Checksum, ChecksumAlgorithm};
use rampart_store::Expect;

use crate::errors;
use crate::objects::{algorithm_named, check_conditions, etag, member_of};
use crate::records::{ObjectRecord, DB};
use crate::{field, S3Service};

/// The smallest part allowed anywhere but last (5 MiB).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Part numbers run from 1 to this.
pub const MAX_PART_NUMBER: i64 = 10_000;

/// An upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadRecord {
    /// Initiation time, epoch milliseconds.
    pub initiated_ms: i64,
    /// The account that owns the bucket.
    pub owner: String,
    /// The initiator's ARN and principal id.
    pub initiator: (String, String),
    /// Standard headers for the object, by member name.
    pub headers: BTreeMap<String, String>,
    /// User metadata, names lowercased.
    pub metadata: BTreeMap<String, String>,
    /// The storage class label.
    pub storage_class: String,
    /// The checksum algorithm named at creation, if any.
    pub checksum_algorithm: Option<String>,
    /// `COMPOSITE` or `FULL_OBJECT`.
    pub checksum_type: String,
    /// The id of the object file Complete writes, fixed at creation with its data key.
    #[serde(default)]
    pub object_id: String,
    /// The object's data key as `ObjectRecord::data_key` keeps it (SSE-S3), made at creation
    /// as AWS makes it (SSE-KMS: GenerateDataKey for the initiator at CreateMultipartUpload).
    #[serde(default)]
    pub data_key: String,
    /// The object's encryption beyond SSE-S3 (`ObjectRecord::sse`).
    #[serde(default)]
    pub sse: Option<crate::sse::Sse>,
    /// The object's tags (`x-amz-tagging` at creation).
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// An uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartRecord {
    /// The part file's id.
    pub id: String,
    /// Plaintext size.
    pub size: u64,
    /// Hex MD5 of the part (its ETag).
    pub md5: String,
    /// The part's checksum (algorithm name, base64 value), when the upload has an algorithm
    /// or the part was sent with one.
    pub checksum: Option<(String, String)>,
    /// The part's data key, sealed.
    pub data_key: String,
    /// Upload time, epoch seconds.
    pub modified: i64,
}

/// Uploads by `bucket/key` + U+0001 + upload id (so a bucket's uploads list in key order, and
/// one key's in initiation order: upload ids start with the time).
pub const UPLOADS: Table<UploadRecord> = DB.table("s3.uploads");
/// Parts by `upload id/part number` (five digits).
pub const PARTS: Table<PartRecord> = DB.table("s3.parts");
/// The part sizes of objects assembled from parts, by object file id.
pub const OBJECT_PARTS: Table<Vec<u64>> = DB.table("s3.object_parts");

const SEP: char = '\u{1}';

fn upload_key(bucket: &str, key: &str, upload_id: &str) -> String {
    format!("{bucket}/{key}{SEP}{upload_id}")
}

fn part_key(upload_id: &str, part: i64) -> String {
    format!("{upload_id}/{part:05}")
}

fn no_such_upload() -> AwsError {
    AwsError::new(
        "NoSuchUpload",
        404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

fn malformed_xml() -> AwsError {
    AwsError::new(
        "MalformedXML",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

fn invalid_part() -> AwsError {
    AwsError::new(
        "InvalidPart",
        400,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
}

fn invalid_request(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidRequest", 400, message)
}

fn part_number(input: &Value) -> Result<i64, AwsError> {
    input
        .get("PartNumber")
        .and_then(Value::as_i64)
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            AwsError::new(
                "InvalidArgument",
                400,
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })
}

fn upload_id_of(input: &Value) -> &str {
    field(input, "UploadId").unwrap_or_default()
}

fn strip_quotes(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

fn seconds(ms: i64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let s = ms as f64 / 1000.0;
    s
}

/// The checksum type and algorithm an upload is created with, by AWS's rules.
fn upload_checksum(input: &Value) -> Result<(Option<ChecksumAlgorithm>, String), AwsError> {
    let algorithm = match field(input, "ChecksumAlgorithm") {
        Some(name) => Some(algorithm_named(name).ok_or_else(|| {
            invalid_request(format!("Checksum algorithm {name} is not supported"))
        })?),
        None => None,
    };
    let requested = field(input, "ChecksumType");
    let kind = match (algorithm, requested) {
        (None, Some(_)) => {
            return Err(invalid_request(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
            ))
        }
        (None, None) | (Some(ChecksumAlgorithm::Crc64Nvme), None) => "FULL_OBJECT",
        (Some(ChecksumAlgorithm::Crc64Nvme), Some("COMPOSITE")) => {
            return Err(invalid_request(
                "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
            ))
        }
        (Some(ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256), Some("FULL_OBJECT")) => {
            return Err(invalid_request(format!(
                "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                algorithm.map_or("", ChecksumAlgorithm::name).to_ascii_lowercase()
            )))
        }
        (Some(_), Some("FULL_OBJECT")) => "FULL_OBJECT",
        (Some(_), Some("COMPOSITE") | None) => "COMPOSITE",
        (Some(_), Some(other)) => {
            return Err(invalid_request(format!(
                "Value for x-amz-checksum-type header is invalid: {other}"
            )))
        }
    };
    Ok((algorithm, kind.to_owned()))
}

/// The algorithm a part is sent with (named, in a header, or in a trailer).
fn sent_algorithm(input: &Value, body: Option<&RequestBody>) -> Option<ChecksumAlgorithm> {
    if let Some(a) = field(input, "ChecksumAlgorithm").and_then(algorithm_named) {
        return Some(a);
    }
    if let Some(a) = ChecksumAlgorithm::ALL
        .into_iter()
        .find(|a| input.get(member_of(*a)).is_some())
    {
        return Some(a);
    }
    body.and_then(|b| {
        b.trailers()
            .iter()
            .find_map(|(name, _)| ChecksumAlgorithm::from_header_name(name))
    })
}

/// A fresh 256-bit data key.
fn random_key() -> Result<Vec<u8>, AwsError> {
    rampart_crypto::random_bytes(32).map_err(|_| AwsError::internal())
}

impl UploadRecord {
    /// The key-bearing part of the object Complete will write (what `read_data_key` opens).
    fn target_record(&self) -> ObjectRecord {
        ObjectRecord {
            id: self.object_id.clone(),
            size: 0,
            md5: String::new(),
            modified: 0,
            headers: BTreeMap::new(),
            metadata: BTreeMap::new(),
            checksum: (String::new(), String::new()),
            data_key: self.data_key.clone(),
            storage_class: self.storage_class.clone(),
            sse: self.sse.clone(),
            tags: Vec::new(),
            version_id: None,
        }
    }
}

/// A sealed part being written.
struct PartWriter {
    id: String,
    data_key: Vec<u8>,
    writer: crate::blobs::BlobWriter,
    md5: Md5,
    sum: Option<Checksum>,
    size: u64,
}

impl S3Service {
    async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<rampart_service::table::Versioned<UploadRecord>, AwsError> {
        UPLOADS
            .get(&*self.store, &upload_key(bucket, key, upload_id))
            .await?
            .ok_or_else(no_such_upload)
    }

    async fn part_writer(
        &self,
        algorithm: Option<ChecksumAlgorithm>,
    ) -> Result<PartWriter, AwsError> {
        let id = Self::new_object_id();
        let data_key = random_key()?;
        let writer = self.blobs.writer(&id, &data_key).await?;
        Ok(PartWriter {
            id,
            data_key,
            writer,
            md5: Md5::new(),
            sum: algorithm.map(Checksum::new),
            size: 0,
        })
    }

    /// Commits `part` as part `number` of the upload and removes the file of the part it
    /// replaces. Parts of one upload arrive concurrently, so the upload record is not
    /// rewritten; instead the upload is looked up again after the commit, and a part that
    /// landed after a Complete or Abort removes itself (those sweep their parts again after
    /// their own commit, so no part outlives its upload either way).
    async fn commit_part(
        &self,
        ukey: &str,
        upload_id: &str,
        number: i64,
        part: &PartRecord,
    ) -> Result<(), AwsError> {
        let pkey = part_key(upload_id, number);
        let old = PARTS.get(&*self.store, &pkey).await?;
        if let Err(e) = PARTS
            .commit(&*self.store, vec![PARTS.put_op(&pkey, part, Expect::Any)?])
            .await
        {
            self.blobs.remove(&part.id).await;
            return Err(e);
        }
        if let Some(old) = old {
            self.blobs.remove(&old.value.id).await;
        }
        if UPLOADS.get(&*self.store, ukey).await?.is_none() {
            self.sweep_parts(upload_id).await?;
            return Err(no_such_upload());
        }
        Ok(())
    }

    /// Removes every part record of a finished upload, then the part files.
    async fn sweep_parts(&self, upload_id: &str) -> Result<(), AwsError> {
        let parts = self.all_parts(upload_id).await?;
        if parts.is_empty() {
            return Ok(());
        }
        let ops = parts
            .iter()
            .map(|(n, _)| PARTS.delete_op(&part_key(upload_id, *n), Expect::Any))
            .collect();
        PARTS.commit(&*self.store, ops).await?;
        for (_, p) in parts {
            self.blobs.remove(&p.id).await;
        }
        Ok(())
    }

    fn part_output(part: &PartRecord) -> Value {
        let mut out = json!({ "ETag": etag(&part.md5), "ServerSideEncryption": "AES256" });
        if let (Some((alg, v)), Some(o)) = (&part.checksum, out.as_object_mut()) {
            o.insert(format!("Checksum{alg}"), Value::String(v.clone()));
        }
        out
    }

    pub(crate) async fn create_multipart_upload(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = Self::check_key(input)?;
        let (bucket, owner) = self.bucket(ctx, input, "s3:PutObject", Some(&key)).await?;
        let (algorithm, checksum_type) = upload_checksum(input)?;
        let (headers, metadata) = crate::objects::stored_headers_and_metadata(input);
        let tags = crate::tagging::from_header(input)?;
        let object_id = Self::new_object_id();
        let new_key = self
            .new_data_key(ctx, input, &bucket, &key, &object_id)
            .await?;
        let now_ms = ctx.time.timestamp_millis();
        // Upload ids sort by initiation time, as AWS lists one key's uploads.
        let upload_id = format!("{:012x}{}", now_ms.max(0), uuid::Uuid::new_v4().simple());
        let rec = UploadRecord {
            initiated_ms: now_ms,
            owner: owner.owner,
            initiator: (ctx.caller.arn.clone(), ctx.caller.user_id.clone()),
            headers,
            metadata,
            storage_class: field(input, "StorageClass")
                .unwrap_or("STANDARD")
                .to_owned(),
            checksum_algorithm: algorithm.map(|a| a.name().to_owned()),
            checksum_type: checksum_type.clone(),
            object_id,
            data_key: new_key.data_key,
            sse: new_key.sse,
            tags,
        };
        UPLOADS
            .commit(
                &*self.store,
                vec![UPLOADS.put_op(
                    &upload_key(&bucket, &key, &upload_id),
                    &rec,
                    Expect::Absent,
                )?],
            )
            .await?;
        let mut out = json!({
            "Bucket": bucket,
            "Key": key,
            "UploadId": upload_id,
        });
        if let Some(o) = out.as_object_mut() {
            crate::sse::describe(rec.sse.as_ref(), o);
        }
        if let (Some(a), Some(o)) = (algorithm, out.as_object_mut()) {
            o.insert("ChecksumAlgorithm".into(), Value::String(a.name().into()));
            o.insert("ChecksumType".into(), Value::String(checksum_type));
        }
        Ok(out)
    }

    pub(crate) async fn upload_part(
        &self,
        ctx: &RequestContext,
        input: &Value,
        mut body: RequestBody,
    ) -> Result<Value, AwsError> {
        let key = Self::check_key(input)?;
        let (bucket, _) = self.bucket(ctx, input, "s3:PutObject", Some(&key)).await?;
        let number = part_number(input)?;
        let upload_id = upload_id_of(input).to_owned();
        let ukey = upload_key(&bucket, &key, &upload_id);
        let upload = self.upload(&bucket, &key, &upload_id).await?;
        // SSE-C: every part carries the upload's customer key (and only then a key).
        Self::check_read_key(ctx, input, &upload.value.target_record(), false)?;
        let content_md5 = match field(input, "ContentMD5") {
            Some(v) => Some(
                B64.decode(v.trim())
                    .ok()
                    .filter(|d| d.len() == 16)
                    .ok_or_else(errors::invalid_digest)?,
            ),
            None => None,
        };
        let upload_alg = upload
            .value
            .checksum_algorithm
            .as_deref()
            .and_then(algorithm_named);
        let hinted = sent_algorithm(input, None);
        if let (Some(want), Some(got)) = (upload_alg, hinted) {
            if want != got {
                return Err(checksum_type_mismatch(want, got));
            }
        }
        let mut w = self.part_writer(upload_alg.or(hinted)).await?;
        let read = async {
            while let Some(piece) = body.next().await {
                let piece = piece?;
                w.md5.update(&piece);
                if let Some(s) = &mut w.sum {
                    s.update(&piece);
                }
                w.size += piece.len() as u64;
                w.writer.write(&piece).await?;
            }
            Ok::<(), AwsError>(())
        }
        .await;
        let PartWriter {
            id,
            data_key,
            writer,
            md5,
            sum,
            size,
        } = w;
        if let Err(e) = read {
            writer.abort().await;
            return Err(e);
        }
        let digest = md5.finalize();
        if content_md5.is_some_and(|want| want.as_slice() != digest.as_slice()) {
            writer.abort().await;
            return Err(errors::bad_digest());
        }
        // A trailer names its algorithm only once the body has ended.
        let trailed = sent_algorithm(input, Some(&body));
        let mut sum = sum;
        match (upload_alg.or(hinted), trailed) {
            (Some(want), Some(got)) if want != got => {
                writer.abort().await;
                return Err(checksum_type_mismatch(want, got));
            }
            // Only a trailer named it: the front door verified its value, which is kept.
            (None, Some(_)) => sum = None,
            _ => {}
        }
        let checksum = match (sum, trailed) {
            (Some(s), _) => Some((s.algorithm().name().to_owned(), s.finish_base64())),
            (None, Some(a)) => body
                .trailers()
                .iter()
                .find(|(n, _)| ChecksumAlgorithm::from_header_name(n) == Some(a))
                .map(|(_, v)| (a.name().to_owned(), v.trim().to_owned())),
            (None, None) => None,
        };
        writer.finish().await?;
        let part = PartRecord {
            id: id.clone(),
            size,
            md5: hex::encode(digest),
            checksum,
            data_key: self.seal_data_key(&id, &data_key)?,
            modified: ctx.time.timestamp(),
        };
        self.commit_part(&ukey, &upload_id, number, &part).await?;
        Ok(Self::part_output(&part))
    }

    pub(crate) async fn upload_part_copy(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = Self::check_key(input)?;
        let number = part_number(input)?;
        let source = field(input, "CopySource").unwrap_or_default();
        let source = source.split_once("?versionId=").map_or(source, |(s, _)| s);
        let source = rampart_protocol::rest::percent_decode(source.trim_start_matches('/'));
        let Some((src_bucket, src_key)) = source.split_once('/') else {
            return Err(AwsError::new(
                "InvalidArgument",
                400,
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ));
        };
        let (src_bucket, _) = self
            .bucket(
                ctx,
                &json!({ "Bucket": src_bucket }),
                "s3:GetObject",
                Some(src_key),
            )
            .await?;
        let src = self.object(&src_bucket, src_key).await?;
        let (bucket, _) = self.bucket(ctx, input, "s3:PutObject", Some(&key)).await?;
        let upload_id = upload_id_of(input).to_owned();
        let ukey = upload_key(&bucket, &key, &upload_id);
        let upload = self.upload(&bucket, &key, &upload_id).await?;
        let conditions = json!({
            "IfMatch": input.get("CopySourceIfMatch"),
            "IfNoneMatch": input.get("CopySourceIfNoneMatch"),
            "IfModifiedSince": input.get("CopySourceIfModifiedSince"),
            "IfUnmodifiedSince": input.get("CopySourceIfUnmodifiedSince"),
        });
        check_conditions(&conditions, &src).map_err(|e| {
            if e.status == 304 {
                errors::precondition_failed()
            } else {
                e
            }
        })?;
        let (start, end) = match field(input, "CopySourceRange") {
            Some(r) => copy_range(r, src.size)?,
            None => (0, src.size),
        };
        let upload_alg = upload
            .value
            .checksum_algorithm
            .as_deref()
            .and_then(algorithm_named);
        let mut w = self.part_writer(upload_alg).await?;
        let src_key_bytes = self.read_data_key(ctx, input, &src, true).await?;
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let blobs = self.blobs.clone();
        let (sid, ssize) = (src.id.clone(), src.size);
        let skey = src_key_bytes.expose().to_vec();
        tokio::spawn(async move {
            let skey = rampart_crypto::SecretBytes::new(skey);
            blobs
                .read_range(&sid, skey.expose(), ssize, start, end, tx)
                .await;
        });
        let mut failed = None;
        while let Some(piece) = rx.recv().await {
            let piece = match piece {
                Ok(p) => p,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            w.md5.update(&piece);
            if let Some(s) = &mut w.sum {
                s.update(&piece);
            }
            w.size += piece.len() as u64;
            if let Err(e) = w.writer.write(&piece).await {
                failed = Some(e);
                break;
            }
        }
        if let Some(e) = failed {
            w.writer.abort().await;
            return Err(e);
        }
        w.writer.finish().await?;
        let part = PartRecord {
            id: w.id.clone(),
            size: w.size,
            md5: hex::encode(w.md5.finalize()),
            checksum: w
                .sum
                .map(|s| (s.algorithm().name().to_owned(), s.finish_base64())),
            data_key: self.seal_data_key(&w.id, &w.data_key)?,
            modified: ctx.time.timestamp(),
        };
        self.commit_part(&ukey, &upload_id, number, &part).await?;
        let mut result = json!({ "ETag": etag(&part.md5), "LastModified": part.modified });
        if let (Some((alg, v)), Some(o)) = (&part.checksum, result.as_object_mut()) {
            o.insert(format!("Checksum{alg}"), Value::String(v.clone()));
        }
        Ok(json!({ "CopyPartResult": result, "ServerSideEncryption": "AES256" }))
    }

    /// Every part record of an upload, in part-number order.
    async fn all_parts(&self, upload_id: &str) -> Result<Vec<(i64, PartRecord)>, AwsError> {
        let prefix = format!("{upload_id}/");
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = PARTS
                .list(&*self.store, &prefix, after.as_deref(), 1000)
                .await?;
            let done = page.len() < 1000;
            after = page.last().map(|(k, _)| k.clone());
            for (k, p) in page {
                let n = k[prefix.len()..].parse::<i64>().unwrap_or(0);
                out.push((n, p));
            }
            if done {
                return Ok(out);
            }
        }
    }

    #[allow(clippy::too_many_lines)]
    pub(crate) async fn complete_multipart_upload(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = Self::check_key(input)?;
        let (bucket, _) = self.bucket(ctx, input, "s3:PutObject", Some(&key)).await?;
        let upload_id = upload_id_of(input).to_owned();
        let ukey = upload_key(&bucket, &key, &upload_id);
        let upload = self.upload(&bucket, &key, &upload_id).await?;
        let requested = input
            .pointer("/MultipartUpload/Parts")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or_else(malformed_xml)?;
        let condition = self.write_condition(input, &bucket, &key).await?;
        let stored: BTreeMap<i64, PartRecord> =
            self.all_parts(&upload_id).await?.into_iter().collect();
        let upload_alg = upload
            .value
            .checksum_algorithm
            .as_deref()
            .and_then(algorithm_named);
        // The list's order first, then each part, as S3 reports them.
        let mut numbers = Vec::with_capacity(requested.len());
        for p in requested {
            let number = p
                .get("PartNumber")
                .and_then(Value::as_i64)
                .ok_or_else(malformed_xml)?;
            if numbers.last().is_some_and(|prev| number <= *prev) {
                return Err(AwsError::new(
                    "InvalidPartOrder",
                    400,
                    "The list of parts was not in ascending order. Parts must be ordered by part number.",
                ));
            }
            numbers.push(number);
        }
        let mut chosen: Vec<&PartRecord> = Vec::with_capacity(requested.len());
        for (i, (p, number)) in requested.iter().zip(numbers).enumerate() {
            let part = stored.get(&number).ok_or_else(invalid_part)?;
            let tag = p
                .get("ETag")
                .and_then(Value::as_str)
                .ok_or_else(invalid_part)?;
            if strip_quotes(tag) != part.md5 {
                return Err(invalid_part());
            }
            if let Some(a) = upload_alg {
                if let Some(sent) = p.get(member_of(a)).and_then(Value::as_str) {
                    if part.checksum.as_ref().map(|c| c.1.as_str()) != Some(sent.trim()) {
                        return Err(invalid_part());
                    }
                }
            }
            if i + 1 < requested.len() && part.size < MIN_PART_SIZE {
                return Err(AwsError::new(
                    "EntityTooSmall",
                    400,
                    "Your proposed upload is smaller than the minimum allowed object size.",
                ));
            }
            chosen.push(part);
        }
        let total: u64 = chosen.iter().map(|p| p.size).sum();
        if let Some(n) = input.get("MpuObjectSize").and_then(Value::as_i64) {
            if u64::try_from(n).ok() != Some(total) {
                return Err(invalid_request(
                    "The provided x-amz-mp-object-size header value does not match the total size of the parts.",
                ));
            }
        }
        let count = chosen.len();
        // The ETag: MD5 over the binary part MD5s.
        let mut etag_md5 = Md5::new();
        for p in &chosen {
            etag_md5.update(hex::decode(&p.md5).map_err(|_| AwsError::internal())?);
        }
        let md5 = format!("{}-{count}", hex::encode(etag_md5.finalize()));
        let composite = upload.value.checksum_type == "COMPOSITE";
        let full_alg = if composite {
            None
        } else {
            Some(upload_alg.unwrap_or(ChecksumAlgorithm::Crc64Nvme))
        };
        // Join the parts into one sealed file, computing a full-object checksum on the way.
        let mut target = upload.value.target_record();
        if target.id.is_empty() {
            // An upload recorded before keys were made at creation: SSE-S3 now.
            target.id = Self::new_object_id();
            target.data_key = self.seal_data_key(&target.id, random_key()?.as_slice())?;
        }
        let id = target.id.clone();
        let data_key = self.read_data_key(ctx, input, &target, false).await?;
        let mut writer = self.blobs.writer(&id, data_key.expose()).await?;
        let mut full = full_alg.map(Checksum::new);
        let mut joined = async {
            for p in &chosen {
                let part_key = self.open_key_of(&p.id, &p.data_key)?;
                let (tx, mut rx) = tokio::sync::mpsc::channel(4);
                let blobs = self.blobs.clone();
                let (pid, psize) = (p.id.clone(), p.size);
                let k = part_key.expose().to_vec();
                tokio::spawn(async move {
                    let k = rampart_crypto::SecretBytes::new(k);
                    blobs
                        .read_range(&pid, k.expose(), psize, 0, psize, tx)
                        .await;
                });
                while let Some(piece) = rx.recv().await {
                    let piece = piece?;
                    if let Some(f) = &mut full {
                        f.update(&piece);
                    }
                    writer.write(&piece).await?;
                }
            }
            Ok::<(), AwsError>(())
        }
        .await;
        let checksum = match (composite, upload_alg, full) {
            (true, Some(a), _) => {
                let mut c = Checksum::new(a);
                for p in &chosen {
                    let v = p
                        .checksum
                        .as_ref()
                        .map(|c| c.1.as_str())
                        .unwrap_or_default();
                    match a.decode_value(v) {
                        Some(raw) => c.update(&raw),
                        None => {
                            joined = Err(AwsError::internal());
                            break;
                        }
                    }
                }
                (
                    a.name().to_owned(),
                    format!("{}-{count}", c.finish_base64()),
                )
            }
            (_, _, Some(f)) => (f.algorithm().name().to_owned(), f.finish_base64()),
            _ => {
                joined = Err(AwsError::internal());
                (String::new(), String::new())
            }
        };
        if let Err(e) = joined {
            writer.abort().await;
            return Err(e);
        }
        // A whole-object checksum sent with Complete must be the one computed.
        if let Some(a) = algorithm_named(&checksum.0) {
            if let Some(sent) = input.get(member_of(a)).and_then(Value::as_str) {
                let sent = sent.trim();
                let ours = checksum.1.as_str();
                let matches = sent == ours
                    || (composite && ours.split_once('-').is_some_and(|(v, _)| v == sent));
                if !matches {
                    writer.abort().await;
                    return Err(AwsError::new(
                        "BadDigest",
                        400,
                        format!(
                            "The {} you specified did not match the calculated checksum.",
                            a.name().to_ascii_lowercase()
                        ),
                    ));
                }
            }
        }
        writer.finish().await?;
        let rec = ObjectRecord {
            id: id.clone(),
            size: total,
            md5,
            modified: ctx.time.timestamp(),
            headers: upload.value.headers.clone(),
            metadata: upload.value.metadata.clone(),
            checksum: checksum.clone(),
            data_key: target.data_key,
            storage_class: upload.value.storage_class.clone(),
            sse: target.sse,
            tags: upload.value.tags.clone(),
            version_id: self.new_version_id(&bucket).await?,
        };
        self.commit_completed(
            &bucket, &key, &ukey, &upload, &stored, &rec, condition, &chosen,
        )
        .await?;
        let mut out = json!({
            "Location": format!("/{bucket}/{key}"),
            "Bucket": bucket,
            "Key": key,
            "ETag": etag(&rec.md5),
            "ChecksumType": if composite { "COMPOSITE" } else { "FULL_OBJECT" },
        });
        if let Some(o) = out.as_object_mut() {
            crate::sse::describe(rec.sse.as_ref(), o);
            // CompleteMultipartUploadOutput has no SSE-C members (AWS sends none there).
            o.remove("SSECustomerAlgorithm");
            o.remove("SSECustomerKeyMD5");
            if let Some(v) = &rec.version_id {
                o.insert("VersionId".into(), Value::String(v.clone()));
            }
            o.insert(format!("Checksum{}", checksum.0), Value::String(checksum.1));
        }
        Ok(out)
    }

    /// The completion's one transaction, then the removal of the files it made unreachable.
    #[allow(clippy::too_many_arguments)]
    async fn commit_completed(
        &self,
        bucket: &str,
        key: &str,
        ukey: &str,
        upload: &rampart_service::table::Versioned<UploadRecord>,
        stored: &BTreeMap<i64, PartRecord>,
        rec: &ObjectRecord,
        condition: Option<crate::conditional::WriteCondition>,
        chosen: &[&PartRecord],
    ) -> Result<(), AwsError> {
        use crate::conditional::WriteCondition;
        if self.versioning_status(bucket).await?.is_some() {
            // The object first (versioning keeps what it replaces), then the upload goes: a
            // crash between leaves the upload to be completed or aborted again, never a lost
            // object.
            self.commit_object_if(bucket, key, rec, condition).await?;
            let upload_id = ukey.rsplit_once(SEP).map_or("", |(_, id)| id);
            let mut ops = vec![
                UPLOADS.delete_op(ukey, Expect::Any),
                OBJECT_PARTS.put_op(
                    &rec.id,
                    &chosen.iter().map(|p| p.size).collect(),
                    Expect::Any,
                )?,
            ];
            for n in stored.keys() {
                ops.push(PARTS.delete_op(&part_key(upload_id, *n), Expect::Any));
            }
            DB.commit(&*self.store, ops).await?;
            for p in stored.values() {
                self.blobs.remove(&p.id).await;
            }
            self.sweep_parts(upload_id).await?;
            return Ok(());
        }
        let okey = crate::objects::object_key(bucket, key);
        let old = crate::records::OBJECTS.get(&*self.store, &okey).await?;
        let expect = match condition {
            None => Expect::Any,
            Some(WriteCondition::Absent) => Expect::Absent,
            Some(WriteCondition::Version(v)) => Expect::Version(v),
        };
        let upload_id = ukey.rsplit_once(SEP).map_or("", |(_, id)| id);
        let mut ops = vec![
            crate::records::OBJECTS.put_op(&okey, rec, expect)?,
            UPLOADS.delete_op(ukey, Expect::Version(upload.version)),
            OBJECT_PARTS.put_op(
                &rec.id,
                &chosen.iter().map(|p| p.size).collect(),
                Expect::Any,
            )?,
        ];
        for n in stored.keys() {
            ops.push(PARTS.delete_op(&part_key(upload_id, *n), Expect::Any));
        }
        let lost = || {
            match condition {
            Some(WriteCondition::Absent) => errors::precondition_failed(),
            Some(WriteCondition::Version(_)) => AwsError::new(
                "ConditionalRequestConflict",
                409,
                "The conditional request cannot succeed due to a conflicting operation against this resource.",
            ),
            None => no_such_upload(),
        }
        };
        if let Err(e) = DB.commit_or(&*self.store, ops, lost).await {
            self.blobs.remove(&rec.id).await;
            return Err(e);
        }
        if let Some(old) = old {
            self.blobs.remove(&old.value.id).await;
            self.forget_parts(&old.value.id).await;
        }
        for p in stored.values() {
            self.blobs.remove(&p.id).await;
        }
        // Parts committed while this completion ran.
        self.sweep_parts(upload_id).await?;
        Ok(())
    }

    fn open_key_of(&self, id: &str, sealed: &str) -> Result<rampart_crypto::SecretBytes, AwsError> {
        let sealed = B64.decode(sealed).map_err(|_| AwsError::internal())?;
        self.sealer
            .open(&sealed, format!("s3:{id}").as_bytes())
            .map_err(|_| AwsError::internal())
    }

    /// The part sizes of an object assembled from parts; `None` for a single-part object.
    pub(crate) async fn part_sizes(&self, object_id: &str) -> Result<Option<Vec<u64>>, AwsError> {
        Ok(OBJECT_PARTS
            .get(&*self.store, object_id)
            .await?
            .map(|v| v.value))
    }

    /// Drops the part sizes kept for an object file that is gone.
    pub(crate) async fn forget_parts(&self, object_id: &str) {
        let _ = OBJECT_PARTS
            .commit(
                &*self.store,
                vec![OBJECT_PARTS.delete_op(object_id, Expect::Any)],
            )
            .await;
    }

    pub(crate) async fn abort_multipart_upload(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = Self::check_key(input)?;
        let (bucket, _) = self
            .bucket(ctx, input, "s3:AbortMultipartUpload", Some(&key))
            .await?;
        let upload_id = upload_id_of(input).to_owned();
        let ukey = upload_key(&bucket, &key, &upload_id);
        let upload = self.upload(&bucket, &key, &upload_id).await?;
        if let Some(t) = input.get("IfMatchInitiatedTime").and_then(|v| {
            v.as_f64().or_else(|| {
                v.as_str()
                    .and_then(rampart_protocol::types::parse_timestamp)
            })
        }) {
            #[allow(clippy::cast_possible_truncation)]
            if (t * 1000.0) as i64 / 1000 != upload.value.initiated_ms / 1000 {
                return Err(errors::precondition_failed());
            }
        }
        let parts = self.all_parts(&upload_id).await?;
        let mut ops = vec![UPLOADS.delete_op(&ukey, Expect::Version(upload.version))];
        for (n, _) in &parts {
            ops.push(PARTS.delete_op(&part_key(&upload_id, *n), Expect::Any));
        }
        DB.commit_or(&*self.store, ops, no_such_upload).await?;
        for (_, p) in parts {
            self.blobs.remove(&p.id).await;
        }
        self.sweep_parts(&upload_id).await?;
        Ok(json!({}))
    }

    pub(crate) async fn list_parts(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = Self::check_key(input)?;
        let (bucket, _) = self
            .bucket(ctx, input, "s3:ListMultipartUploadParts", Some(&key))
            .await?;
        let upload_id = upload_id_of(input).to_owned();
        let upload = self.upload(&bucket, &key, &upload_id).await?.value;
        let max = input
            .get("MaxParts")
            .and_then(Value::as_i64)
            .unwrap_or(1000)
            .clamp(0, 1000);
        let marker = input
            .get("PartNumberMarker")
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(0);
        let after = (marker > 0).then(|| part_key(&upload_id, marker));
        let limit = usize::try_from(max).unwrap_or(1000) + 1;
        let mut page = PARTS
            .list(
                &*self.store,
                &format!("{upload_id}/"),
                after.as_deref(),
                limit,
            )
            .await?;
        let truncated = page.len() == limit;
        page.truncate(limit - 1);
        let mut parts = Vec::with_capacity(page.len());
        let mut last = 0i64;
        for (k, p) in &page {
            let n = k
                .rsplit('/')
                .next()
                .and_then(|n| n.parse::<i64>().ok())
                .unwrap_or(0);
            last = n;
            let mut item = json!({
                "PartNumber": n,
                "LastModified": p.modified,
                "ETag": etag(&p.md5),
                "Size": p.size,
            });
            if let (Some((alg, v)), Some(o)) = (&p.checksum, item.as_object_mut()) {
                o.insert(format!("Checksum{alg}"), Value::String(v.clone()));
            }
            parts.push(item);
        }
        let mut out = json!({
            "Bucket": bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumberMarker": marker,
            "MaxParts": max,
            "IsTruncated": truncated,
            "Parts": parts,
            "Initiator": { "ID": upload.initiator.0, "DisplayName": upload.initiator.1 },
            "Owner": { "ID": crate::buckets::owner_id(&upload.owner), "DisplayName": upload.owner },
            "StorageClass": upload.storage_class,
            "ChecksumType": upload.checksum_type,
        });
        if let Some(o) = out.as_object_mut() {
            if truncated {
                o.insert("NextPartNumberMarker".into(), Value::from(last));
            }
            if let Some(a) = &upload.checksum_algorithm {
                o.insert("ChecksumAlgorithm".into(), Value::String(a.clone()));
            }
        }
        Ok(out)
    }

    pub(crate) async fn list_multipart_uploads(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self
            .bucket(ctx, input, "s3:ListBucketMultipartUploads", None)
            .await?;
        let prefix = field(input, "Prefix").unwrap_or_default();
        let delimiter = field(input, "Delimiter").filter(|d| !d.is_empty());
        let max = input
            .get("MaxUploads")
            .and_then(Value::as_i64)
            .unwrap_or(1000)
            .clamp(0, 1000);
        let max = usize::try_from(max).unwrap_or(1000);
        let key_marker = field(input, "KeyMarker").filter(|m| !m.is_empty());
        let id_marker = field(input, "UploadIdMarker").filter(|m| !m.is_empty());
        let base = format!("{bucket}/");
        // Past the key marker's uploads, or past the one upload the id marker names.
        let mut after = key_marker.map(|k| match id_marker {
            Some(id) => format!("{base}{k}{SEP}{id}"),
            None => format!("{base}{k}{SEP}\u{10FFFF}"),
        });
        let full_prefix = format!("{base}{prefix}");
        let mut uploads = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut truncated = false;
        let mut next: Option<(String, String)> = None;
        'scan: loop {
            let page = UPLOADS
                .list(&*self.store, &full_prefix, after.as_deref(), 1000)
                .await?;
            let done = page.len() < 1000;
            after = page.last().map(|(k, _)| k.clone());
            for (k, u) in page {
                let Some((okey, id)) = k[base.len()..].rsplit_once(SEP) else {
                    continue;
                };
                let rest = &okey[prefix.len()..];
                let group = delimiter
                    .and_then(|d| rest.find(d).map(|i| &okey[..prefix.len() + i + d.len()]));
                if uploads.len() + prefixes.len() >= max {
                    truncated = true;
                    break 'scan;
                }
                if let Some(g) = group {
                    if prefixes.last().is_some_and(|p| p == g) {
                        continue;
                    }
                    prefixes.push(g.to_owned());
                    next = Some((g.to_owned(), String::new()));
                    continue;
                }
                uploads.push(json!({
                    "UploadId": id,
                    "Key": okey,
                    "Initiated": seconds(u.initiated_ms),
                    "StorageClass": u.storage_class,
                    "Owner": { "ID": crate::buckets::owner_id(&u.owner), "DisplayName": u.owner },
                    "Initiator": { "ID": u.initiator.0, "DisplayName": u.initiator.1 },
                    "ChecksumType": u.checksum_type,
                }));
                if let (Some(a), Some(o)) = (
                    &u.checksum_algorithm,
                    uploads.last_mut().and_then(Value::as_object_mut),
                ) {
                    o.insert("ChecksumAlgorithm".into(), Value::String(a.clone()));
                }
                next = Some((okey.to_owned(), id.to_owned()));
            }
            if done {
                break;
            }
        }
        let mut out = json!({
            "Bucket": bucket,
            "KeyMarker": key_marker.unwrap_or_default(),
            "UploadIdMarker": id_marker.unwrap_or_default(),
            "Prefix": prefix,
            "MaxUploads": max,
            "IsTruncated": truncated,
            "Uploads": uploads,
            "CommonPrefixes": prefixes.iter().map(|p| json!({ "Prefix": p })).collect::<Vec<_>>(),
        });
        if let Some(o) = out.as_object_mut() {
            if let Some(d) = delimiter {
                o.insert("Delimiter".into(), Value::String(d.to_owned()));
            }
            if let Some(e) = field(input, "EncodingType") {
                o.insert("EncodingType".into(), Value::String(e.to_owned()));
            }
            if truncated {
                if let Some((k, id)) = next {
                    // A group resumes past every key in it.
                    let k = if id.is_empty() {
                        format!("{k}\u{10FFFF}")
                    } else {
                        k
                    };
                    o.insert("NextKeyMarker".into(), Value::String(k));
                    o.insert("NextUploadIdMarker".into(), Value::String(id));
                }
            }
        }
        Ok(out)
    }
}

fn checksum_type_mismatch(want: ChecksumAlgorithm, got: ChecksumAlgorithm) -> AwsError {
    invalid_request(format!(
        "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
        want.name().to_ascii_lowercase(),
        got.name().to_ascii_lowercase()
    ))
}

/// `x-amz-copy-source-range: bytes=first-last` as `start..end` within an object of `size`.
fn copy_range(range: &str, size: u64) -> Result<(u64, u64), AwsError> {
    let bad = || {
        AwsError::new(
            "InvalidArgument",
            400,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let spec = range.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let first = a.trim().parse::<u64>().map_err(|_| bad())?;
    let last = b.trim().parse::<u64>().map_err(|_| bad())?;
    if last < first {
        return Err(bad());
    }
    if last >= size {
        return Err(AwsError::new(
            "InvalidRange",
            416,
            "The requested range is not satisfiable",
        ));
    }
    Ok((first, last + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ranges_are_inclusive_and_bounded() {
        assert_eq!(copy_range("bytes=0-9", 100).ok(), Some((0, 10)));
        assert_eq!(copy_range("bytes=10-99", 100).ok(), Some((10, 100)));
        assert_eq!(
            copy_range("bytes=10-100", 100).err().map(|e| e.status),
            Some(416)
        );
        assert_eq!(
            copy_range("bytes=10-", 100).err().map(|e| e.code),
            Some("InvalidArgument".into())
        );
    }

    #[test]
    fn upload_checksum_types_follow_aws() {
        let t = |v: Value| upload_checksum(&v).map(|(a, t)| (a.map(ChecksumAlgorithm::name), t));
        assert_eq!(t(json!({})).ok(), Some((None, "FULL_OBJECT".into())));
        assert_eq!(
            t(json!({"ChecksumAlgorithm": "CRC32"})).ok(),
            Some((Some("CRC32"), "COMPOSITE".into()))
        );
        assert_eq!(
            t(json!({"ChecksumAlgorithm": "CRC64NVME"})).ok(),
            Some((Some("CRC64NVME"), "FULL_OBJECT".into()))
        );
        assert_eq!(
            t(json!({"ChecksumAlgorithm": "CRC32C", "ChecksumType": "FULL_OBJECT"})).ok(),
            Some((Some("CRC32C"), "FULL_OBJECT".into()))
        );
        assert!(t(json!({"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"})).is_err());
        assert!(t(json!({"ChecksumAlgorithm": "CRC64NVME", "ChecksumType": "COMPOSITE"})).is_err());
        assert!(t(json!({"ChecksumType": "COMPOSITE"})).is_err());
    }

    #[test]
    fn upload_keys_sort_by_object_key_before_upload_id() {
        assert!(upload_key("b", "a", "ff") < upload_key("b", "a/b", "00"));
        assert!(part_key("u", 2) < part_key("u", 10));
    }
}
