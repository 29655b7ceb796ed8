//! Objects: put (streamed, sealed, checksummed), get (ranges, conditions, streamed), head,
//! delete, copy, and the two listings.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use md5::{Digest as _, Md5};
use serde_json::{json, Map, Value};

use rampart_service::stream::{self, RequestBody, StreamingOutput};
use rampart_service::{AwsError, RequestContext};
use rampart_sigv4::{Checksum, ChecksumAlgorithm};
use rampart_store::Expect;

use crate::blobs::BlobWriter;
use crate::errors;
use crate::records::{ObjectRecord, OBJECTS};
use crate::versioning::get_action;
use crate::{field, S3Service};

/// Standard headers stored with an object, by member name.
pub(crate) const STORED_HEADERS: &[&str] = &[
    "ContentType",
    "ContentEncoding",
    "ContentDisposition",
    "ContentLanguage",
    "CacheControl",
    "WebsiteRedirectLocation",
];

/// The standard headers (`STORED_HEADERS`) and user metadata (names lowercased) a write keeps
/// with its object: PutObject, CopyObject with `REPLACE`, CreateMultipartUpload.
pub(crate) type Stored = (BTreeMap<String, String>, BTreeMap<String, String>);

pub(crate) fn stored_headers_and_metadata(input: &Value) -> Stored {
    let headers = STORED_HEADERS
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), field(input, name)?.to_owned())))
        .collect();
    let metadata = input
        .get("Metadata")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    (headers, metadata)
}

/// The largest key, in UTF-8 bytes.
const MAX_KEY_LEN: usize = 1024;

pub(crate) fn object_key(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

pub(crate) fn member_of(algorithm: ChecksumAlgorithm) -> String {
    format!("Checksum{}", algorithm.name())
}

pub(crate) fn algorithm_named(name: &str) -> Option<ChecksumAlgorithm> {
    ChecksumAlgorithm::ALL
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(name))
}

/// The checksum an upload is stored with: the one the client named or sent, else CRC64NVME
/// (S3's default for objects uploaded without one).
fn checksum_algorithm(input: &Value, body: &RequestBody) -> ChecksumAlgorithm {
    if let Some(a) = field(input, "ChecksumAlgorithm").and_then(algorithm_named) {
        return a;
    }
    for a in ChecksumAlgorithm::ALL {
        if input.get(member_of(a)).is_some() {
            return a;
        }
    }
    for (name, _) in body.trailers() {
        if let Some(a) = ChecksumAlgorithm::from_header_name(&name) {
            return a;
        }
    }
    ChecksumAlgorithm::Crc64Nvme
}

pub(crate) fn etag(md5: &str) -> String {
    format!("\"{md5}\"")
}

fn epoch(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| {
        v.as_str()
            .and_then(rampart_protocol::types::parse_timestamp)
    })
}

pub(crate) fn etag_matches(condition: &str, md5: &str) -> bool {
    condition
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == md5)
}

/// S3's conditional request rules (RFC 7232 with S3's precedence).
pub(crate) fn check_conditions(input: &Value, rec: &ObjectRecord) -> Result<(), AwsError> {
    #[allow(clippy::cast_precision_loss)]
    let modified = rec.modified as f64;
    let if_match = field(input, "IfMatch");
    if let Some(c) = if_match {
        if !etag_matches(c, &rec.md5) {
            return Err(errors::precondition_failed());
        }
    } else if let Some(t) = input.get("IfUnmodifiedSince").and_then(epoch) {
        if modified > t {
            return Err(errors::precondition_failed());
        }
    }
    if let Some(c) = field(input, "IfNoneMatch") {
        if etag_matches(c, &rec.md5) {
            return Err(errors::not_modified());
        }
    } else if let Some(t) = input.get("IfModifiedSince").and_then(epoch) {
        if modified <= t {
            return Err(errors::not_modified());
        }
    }
    Ok(())
}

/// A `Range: bytes=…` of an object of `size` bytes as `start..end`; `None` for no range or
/// one S3 ignores (malformed, or several ranges).
pub(crate) fn parse_range(range: &str, size: u64) -> Result<Option<(u64, u64)>, AwsError> {
    let Some(spec) = range.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        (None, Some(n)) if a.is_empty() => {
            if n == 0 || size == 0 {
                return Err(errors::invalid_range());
            }
            (size.saturating_sub(n), size)
        }
        (Some(s), None) if b.is_empty() => (s, size),
        (Some(s), Some(e)) if e >= s => (s, (e + 1).min(size)),
        _ => return Ok(None),
    };
    if parsed.0 >= size {
        return Err(errors::invalid_range());
    }
    Ok(Some(parsed))
}

/// Percent-encoding of `encoding-type=url` listings: everything but unreserved characters
/// and `/`.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl S3Service {
    pub(crate) fn check_key(input: &Value) -> Result<String, AwsError> {
        let key = field(input, "Key").unwrap_or_default();
        if key.len() > MAX_KEY_LEN {
            return Err(errors::key_too_long());
        }
        Ok(key.to_owned())
    }

    pub(crate) async fn object(&self, bucket: &str, key: &str) -> Result<ObjectRecord, AwsError> {
        OBJECTS
            .get(&*self.store, &object_key(bucket, key))
            .await?
            .map(|v| v.value)
            .ok_or_else(errors::no_such_key)
    }

    /// Commits `rec` as the object `bucket/key` and removes the file of the object it
    /// replaces, if any (last writer wins).
    pub(crate) async fn commit_object(
        &self,
        bucket: &str,
        key: &str,
        rec: &ObjectRecord,
    ) -> Result<(), AwsError> {
        if self.versioning_status(bucket).await?.is_some() {
            // Versioning: the replaced object may stay as a noncurrent version.
            let micros = self.clock.now().timestamp_micros();
            return self.commit_versioned(bucket, key, rec, micros).await;
        }
        let k = object_key(bucket, key);
        let old = OBJECTS.get(&*self.store, &k).await?;
        let result = OBJECTS
            .commit(&*self.store, vec![OBJECTS.put_op(&k, rec, Expect::Any)?])
            .await;
        if let Err(e) = result {
            self.blobs.remove(&rec.id).await;
            return Err(e);
        }
        if let Some(old) = old {
            self.blobs.remove(&old.value.id).await;
            self.forget_parts(&old.value.id).await;
        }
        Ok(())
    }

    pub(crate) fn new_object_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    pub(crate) async fn put_object(
        &self,
        ctx: &RequestContext,
        input: &Value,
        mut body: RequestBody,
    ) -> Result<Value, AwsError> {
        let key = Self::check_key(input)?;
        let (bucket, _) = self.bucket(ctx, input, "s3:PutObject", Some(&key)).await?;
        let condition = self.write_condition(input, &bucket, &key).await?;
        let content_md5 = match field(input, "ContentMD5") {
            Some(v) => Some(
                B64.decode(v.trim())
                    .ok()
                    .filter(|d| d.len() == 16)
                    .ok_or_else(errors::invalid_digest)?,
            ),
            None => None,
        };
        let id = Self::new_object_id();
        // Versioning, policies and encryption: the data key as the request or the bucket's
        // default encryption asks (crate::sse), and the x-amz-tagging tags.
        let tags = crate::tagging::from_header(input)?;
        let enc = self.new_data_key(ctx, input, &bucket, &key, &id).await?;
        let mut writer = self.blobs.writer(&id, enc.plain.expose()).await?;
        let mut md5 = Md5::new();
        let algorithm_hint = checksum_algorithm(input, &body);
        let mut sum = Checksum::new(algorithm_hint);
        let mut size = 0u64;
        let read = async {
            while let Some(piece) = body.next().await {
                let piece = piece?;
                md5.update(&piece);
                sum.update(&piece);
                size += piece.len() as u64;
                writer.write(&piece).await?;
            }
            Ok::<(), AwsError>(())
        }
        .await;
        if let Err(e) = read {
            writer.abort().await;
            return Err(e);
        }
        let digest = md5.finalize();
        if content_md5.is_some_and(|want| want.as_slice() != digest.as_slice()) {
            writer.abort().await;
            return Err(errors::bad_digest());
        }
        // A trailer can name the algorithm only once the body has ended.
        let algorithm = checksum_algorithm(input, &body);
        let checksum = if algorithm == algorithm_hint {
            sum.finish_base64()
        } else {
            writer.abort().await;
            return Err(AwsError::new(
                "InvalidRequest",
                400,
                "The x-amz-sdk-checksum-algorithm and the checksum trailer name different algorithms",
            ));
        };
        writer.finish().await?;
        let (headers, metadata) = stored_headers_and_metadata(input);
        let rec = ObjectRecord {
            id: id.clone(),
            size,
            md5: hex::encode(digest),
            modified: ctx.time.timestamp(),
            headers,
            metadata,
            checksum: (algorithm.name().to_owned(), checksum.clone()),
            data_key: enc.data_key,
            storage_class: field(input, "StorageClass")
                .unwrap_or("STANDARD")
                .to_owned(),
            sse: enc.sse,
            tags,
            version_id: self.new_version_id(&bucket).await?,
        };
        self.commit_object_if(&bucket, &key, &rec, condition)
            .await?;
        let mut out = json!({
            "ETag": etag(&rec.md5),
            "ChecksumType": "FULL_OBJECT",
        });
        if let Some(o) = out.as_object_mut() {
            o.insert(member_of(algorithm), Value::String(checksum));
            crate::sse::describe(rec.sse.as_ref(), o);
            if let Some(v) = &rec.version_id {
                o.insert("VersionId".into(), Value::String(v.clone()));
            }
        }
        Ok(out)
    }

    /// The output members that describe an object (shared by Get and Head).
    fn describe(input: &Value, rec: &ObjectRecord) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("ETag".into(), Value::String(etag(&rec.md5)));
        o.insert("LastModified".into(), Value::from(rec.modified));
        o.insert("ContentLength".into(), Value::from(rec.size));
        o.insert("AcceptRanges".into(), Value::String("bytes".into()));
        crate::sse::describe(rec.sse.as_ref(), &mut o);
        if !rec.tags.is_empty() {
            o.insert("TagCount".into(), Value::from(rec.tags.len()));
        }
        if let Some(v) = &rec.version_id {
            o.insert("VersionId".into(), Value::String(v.clone()));
        }
        o.insert(
            "ContentType".into(),
            Value::String(
                rec.headers
                    .get("ContentType")
                    .cloned()
                    .unwrap_or_else(|| "binary/octet-stream".into()),
            ),
        );
        for (name, v) in &rec.headers {
            o.entry(name.clone())
                .or_insert_with(|| Value::String(v.clone()));
        }
        if !rec.metadata.is_empty() {
            o.insert("Metadata".into(), json!(rec.metadata));
        }
        if rec.storage_class != "STANDARD" {
            o.insert(
                "StorageClass".into(),
                Value::String(rec.storage_class.clone()),
            );
        }
        if field(input, "ChecksumMode").is_some_and(|m| m.eq_ignore_ascii_case("ENABLED")) {
            o.insert(
                format!("Checksum{}", rec.checksum.0),
                Value::String(rec.checksum.1.clone()),
            );
            o.insert(
                "ChecksumType".into(),
                Value::String(checksum_type(rec).into()),
            );
        }
        o
    }

    pub(crate) async fn head_object(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = Self::check_key(input)?;
        let (bucket, _) = self
            .bucket(ctx, input, get_action(input), Some(&key))
            .await?;
        let rec = self.object_version(&bucket, &key, input).await?;
        Self::check_read_key(ctx, input, &rec, false)?;
        check_conditions(input, &rec)?;
        let mut o = Self::describe(input, &rec);
        let requested = self.requested(input, &rec).await?;
        if let Some(n) = requested.parts_count {
            o.insert("PartsCount".into(), Value::from(n));
        }
        if let Some((s, e)) = requested.range {
            o.insert("ContentLength".into(), Value::from(e - s));
            o.insert(
                "ContentRange".into(),
                Value::String(format!("bytes {s}-{}/{}", e - 1, rec.size)),
            );
        }
        Ok(Value::Object(o))
    }

    pub(crate) async fn get_object(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<StreamingOutput, AwsError> {
        let key = Self::check_key(input)?;
        let (bucket, _) = self
            .bucket(ctx, input, get_action(input), Some(&key))
            .await?;
        let rec = self.object_version(&bucket, &key, input).await?;
        check_conditions(input, &rec)?;
        let mut o = Self::describe(input, &rec);
        let requested = self.requested(input, &rec).await?;
        if let Some(n) = requested.parts_count {
            o.insert("PartsCount".into(), Value::from(n));
        }
        let range = requested.range;
        let (start, end) = range.unwrap_or((0, rec.size));
        if range.is_some() {
            o.insert("ContentLength".into(), Value::from(end - start));
            o.insert(
                "ContentRange".into(),
                Value::String(format!("bytes {start}-{}/{}", end - 1, rec.size)),
            );
            // A part of the object has no checksum of its own.
            o.retain(|k, _| !k.starts_with("Checksum"));
        }
        let data_key = self.read_data_key(ctx, input, &rec, false).await?;
        let (tx, body) = stream::channel(4);
        let blobs = self.blobs.clone();
        let key_bytes = data_key.expose().to_vec();
        let (id, size) = (rec.id.clone(), rec.size);
        tokio::spawn(async move {
            let key_bytes = rampart_crypto::SecretBytes::new(key_bytes);
            blobs
                .read_range(&id, key_bytes.expose(), size, start, end, tx)
                .await;
        });
        Ok(StreamingOutput {
            output: Value::Object(o),
            status: range.map(|_| 206),
            body: Some(body),
        })
    }

    pub(crate) async fn delete_object(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = Self::check_key(input)?;
        let version = field(input, "VersionId");
        let action = if version.is_some() {
            "s3:DeleteObjectVersion"
        } else {
            "s3:DeleteObject"
        };
        let (bucket, _) = self.bucket(ctx, input, action, Some(&key)).await?;
        self.delete_one(ctx, &bucket, &key, version).await
    }

    pub(crate) async fn remove_object(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        let k = object_key(bucket, key);
        if let Some(old) = OBJECTS.get(&*self.store, &k).await? {
            OBJECTS
                .commit(
                    &*self.store,
                    vec![OBJECTS.delete_op(&k, Expect::Version(old.version))],
                )
                .await?;
            self.blobs.remove(&old.value.id).await;
            self.forget_parts(&old.value.id).await;
        }
        Ok(())
    }

    pub(crate) async fn delete_objects(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let malformed = || {
            AwsError::new(
                "MalformedXML",
                400,
                "The XML you provided was not well-formed or did not validate against our published schema",
            )
        };
        let objects = input
            .pointer("/Delete/Objects")
            .and_then(Value::as_array)
            .filter(|o| !o.is_empty() && o.len() <= 1000)
            .ok_or_else(malformed)?;
        let quiet = input
            .pointer("/Delete/Quiet")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let name = field(input, "Bucket").unwrap_or_default();
        if crate::records::BUCKETS
            .get(&*self.store, name)
            .await?
            .is_none()
        {
            return Err(errors::no_such_bucket());
        }
        let mut deleted = Vec::new();
        let mut failed = Vec::new();
        for o in objects {
            let Some(key) = o.get("Key").and_then(Value::as_str) else {
                return Err(malformed());
            };
            let version = o.get("VersionId").and_then(Value::as_str);
            let attempt = async {
                let action = if version.is_some() {
                    "s3:DeleteObjectVersion"
                } else {
                    "s3:DeleteObject"
                };
                self.bucket(ctx, input, action, Some(key)).await?;
                self.delete_one(ctx, name, key, version).await
            }
            .await;
            match attempt {
                Ok(mut done) if !quiet => {
                    if let Some(d) = done.as_object_mut() {
                        if let Some(v) = d.remove("VersionId") {
                            let member = if d.contains_key("DeleteMarker") && version.is_none() {
                                "DeleteMarkerVersionId"
                            } else {
                                "VersionId"
                            };
                            d.insert(member.into(), v);
                        }
                        d.insert("Key".into(), Value::String(key.to_owned()));
                    }
                    deleted.push(done);
                }
                Ok(_) => {}
                Err(e) => failed.push(json!({ "Key": key, "Code": e.code, "Message": e.message })),
            }
        }
        Ok(json!({ "Deleted": deleted, "Errors": failed }))
    }

    pub(crate) async fn copy_object(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = Self::check_key(input)?;
        let source = field(input, "CopySource").unwrap_or_default();
        let (source, source_version) = source
            .split_once("?versionId=")
            .map_or((source, None), |(s, v)| (s, Some(v)));
        let source = rampart_protocol::rest::percent_decode(source.trim_start_matches('/'));
        let Some((src_bucket, src_key)) = source.split_once('/') else {
            return Err(AwsError::new(
                "InvalidArgument",
                400,
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ));
        };
        let src_input = match source_version {
            Some(v) => json!({ "Bucket": src_bucket, "VersionId": v }),
            None => json!({ "Bucket": src_bucket }),
        };
        let (src_bucket, _) = self
            .bucket(ctx, &src_input, get_action(&src_input), Some(src_key))
            .await?;
        let src = self
            .object_version(&src_bucket, src_key, &src_input)
            .await?;
        let (bucket, _) = self.bucket(ctx, input, "s3:PutObject", Some(&key)).await?;
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
        let replace = field(input, "MetadataDirective").is_some_and(|d| d == "REPLACE");
        if src_bucket == bucket
            && src_key == key
            && !replace
            && input.get("StorageClass").is_none()
            && !crate::sse::changes_encryption(input)
        {
            return Err(AwsError::new(
                "InvalidRequest",
                400,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        // Re-sealed under a new data key, streamed chunk by chunk.
        let src_key_bytes = self.read_data_key(ctx, input, &src, true).await?;
        let id = Self::new_object_id();
        let tags = match field(input, "TaggingDirective") {
            Some("REPLACE") => crate::tagging::from_header(input)?,
            _ => src.tags.clone(),
        };
        let enc = self.new_data_key(ctx, input, &bucket, &key, &id).await?;
        let mut writer: BlobWriter = self.blobs.writer(&id, enc.plain.expose()).await?;
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let blobs = self.blobs.clone();
        let (sid, ssize) = (src.id.clone(), src.size);
        let skey = src_key_bytes.expose().to_vec();
        tokio::spawn(async move {
            let skey = rampart_crypto::SecretBytes::new(skey);
            blobs
                .read_range(&sid, skey.expose(), ssize, 0, ssize, tx)
                .await;
        });
        let mut md5 = Md5::new();
        while let Some(piece) = rx.recv().await {
            let piece = match piece {
                Ok(p) => p,
                Err(e) => {
                    writer.abort().await;
                    return Err(e);
                }
            };
            md5.update(&piece);
            if let Err(e) = writer.write(&piece).await {
                writer.abort().await;
                return Err(e);
            }
        }
        writer.finish().await?;
        let (headers, metadata) = if replace {
            stored_headers_and_metadata(input)
        } else {
            (src.headers.clone(), src.metadata.clone())
        };
        let rec = ObjectRecord {
            id: id.clone(),
            size: src.size,
            md5: hex::encode(md5.finalize()),
            modified: ctx.time.timestamp(),
            headers,
            metadata,
            checksum: src.checksum.clone(),
            data_key: enc.data_key,
            storage_class: field(input, "StorageClass")
                .map_or_else(|| src.storage_class.clone(), str::to_owned),
            sse: enc.sse,
            tags,
            version_id: self.new_version_id(&bucket).await?,
        };
        self.commit_object(&bucket, &key, &rec).await?;
        let mut out = json!({
            "CopyObjectResult": { "ETag": etag(&rec.md5), "LastModified": rec.modified },
        });
        if let Some(o) = out.as_object_mut() {
            crate::sse::describe(rec.sse.as_ref(), o);
            if let Some(v) = &rec.version_id {
                o.insert("VersionId".into(), Value::String(v.clone()));
            }
            if let Some(v) = &src.version_id {
                o.insert("CopySourceVersionId".into(), Value::String(v.clone()));
            }
        }
        Ok(out)
    }

    pub(crate) async fn list_objects(
        &self,
        ctx: &RequestContext,
        input: &Value,
        v2: bool,
    ) -> Result<Value, AwsError> {
        let (bucket, owner) = self.bucket(ctx, input, "s3:ListBucket", None).await?;
        let prefix = field(input, "Prefix").unwrap_or_default();
        let delimiter = field(input, "Delimiter").filter(|d| !d.is_empty());
        let max_keys = input
            .get("MaxKeys")
            .and_then(Value::as_i64)
            .unwrap_or(1000)
            .clamp(0, 1000);
        let url = field(input, "EncodingType").is_some_and(|e| e == "url");
        let enc = |s: &str| if url { url_encode(s) } else { s.to_owned() };
        let token = field(input, "ContinuationToken");
        let listing = format!("s3:ListObjectsV2:{bucket}");
        let start = if v2 {
            match token {
                Some(t) => Some(rampart_service::paging::open(&listing, t).ok_or_else(|| {
                    AwsError::new(
                        "InvalidArgument",
                        400,
                        "The continuation token provided is incorrect",
                    )
                })?),
                None => field(input, "StartAfter").map(str::to_owned),
            }
        } else {
            field(input, "Marker").map(str::to_owned)
        };
        let base = format!("{bucket}/");
        let mut after = start.map(|s| format!("{base}{s}"));
        let full_prefix = format!("{base}{prefix}");
        if after.as_deref().is_none_or(|a| a < full_prefix.as_str()) && !prefix.is_empty() {
            // Nothing before the prefix can match; start just before it.
            after = None;
        }
        let mut contents = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut last_returned: Option<String> = None;
        let mut truncated = false;
        let max = usize::try_from(max_keys).unwrap_or(1000);
        'scan: loop {
            let page = OBJECTS
                .list(&*self.store, &full_prefix, after.as_deref(), 1000)
                .await?;
            let done = page.len() < 1000;
            after = page.last().map(|(k, _)| k.clone());
            for (k, rec) in page {
                let key = &k[base.len()..];
                let rest = &key[prefix.len()..];
                let group = delimiter
                    .and_then(|d| rest.find(d).map(|i| &key[..prefix.len() + i + d.len()]));
                if let Some(g) = group {
                    if prefixes.last().is_some_and(|p| p == g) {
                        continue;
                    }
                    if contents.len() + prefixes.len() >= max {
                        truncated = true;
                        break 'scan;
                    }
                    prefixes.push(g.to_owned());
                    last_returned = Some(g.to_owned());
                    continue;
                }
                if contents.len() + prefixes.len() >= max {
                    truncated = true;
                    break 'scan;
                }
                let mut item = json!({
                    "Key": enc(key),
                    "LastModified": rec.modified,
                    "ETag": etag(&rec.md5),
                    "Size": rec.size,
                    "StorageClass": rec.storage_class,
                    "ChecksumAlgorithm": [rec.checksum.0],
                    "ChecksumType": checksum_type(&rec),
                });
                if !v2 || input.get("FetchOwner").and_then(Value::as_bool) == Some(true) {
                    if let Some(o) = item.as_object_mut() {
                        o.insert(
                            "Owner".into(),
                            json!({ "ID": crate::buckets::owner_id(&owner.owner), "DisplayName": owner.owner }),
                        );
                    }
                }
                contents.push(item);
                last_returned = Some(key.to_owned());
            }
            if done {
                break;
            }
        }
        let common: Vec<Value> = prefixes
            .iter()
            .map(|p| json!({ "Prefix": enc(p) }))
            .collect();
        let mut out = json!({
            "Name": bucket,
            "Prefix": enc(prefix),
            "MaxKeys": max_keys,
            "IsTruncated": truncated,
            "Contents": contents,
            "CommonPrefixes": common,
        });
        let Some(o) = out.as_object_mut() else {
            return Err(AwsError::internal());
        };
        if let Some(d) = delimiter {
            o.insert("Delimiter".into(), Value::String(enc(d)));
        }
        if url {
            o.insert("EncodingType".into(), Value::String("url".into()));
        }
        // A group's last key sorts before anything after the group: resume past all of it.
        let resume = last_returned.map(|l| {
            if prefixes.last() == Some(&l) {
                format!("{l}\u{10FFFF}")
            } else {
                l
            }
        });
        if v2 {
            let count = contents_len(o);
            o.insert("KeyCount".into(), Value::from(count));
            if let Some(t) = token {
                o.insert("ContinuationToken".into(), Value::String(t.to_owned()));
            }
            if let Some(s) = field(input, "StartAfter") {
                o.insert("StartAfter".into(), Value::String(enc(s)));
            }
            if truncated {
                if let Some(r) = &resume {
                    o.insert(
                        "NextContinuationToken".into(),
                        Value::String(rampart_service::paging::token(&listing, r)),
                    );
                }
            }
        } else {
            if let Some(m) = field(input, "Marker") {
                o.insert("Marker".into(), Value::String(enc(m)));
            }
            if truncated && delimiter.is_some() {
                if let Some(r) = &resume {
                    o.insert("NextMarker".into(), Value::String(enc(r)));
                }
            }
        }
        Ok(out)
    }
}

/// A multipart object's composite checksum ends in `-<parts>`.
fn checksum_type(rec: &ObjectRecord) -> &'static str {
    if rec.checksum.1.contains('-') {
        "COMPOSITE"
    } else {
        "FULL_OBJECT"
    }
}

fn contents_len(o: &Map<String, Value>) -> usize {
    let n = |k: &str| o.get(k).and_then(Value::as_array).map_or(0, Vec::len);
    n("Contents") + n("CommonPrefixes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_s3_reads_them() {
        assert_eq!(parse_range("bytes=0-9", 100).ok(), Some(Some((0, 10))));
        assert_eq!(parse_range("bytes=90-", 100).ok(), Some(Some((90, 100))));
        assert_eq!(parse_range("bytes=-5", 100).ok(), Some(Some((95, 100))));
        assert_eq!(parse_range("bytes=50-500", 100).ok(), Some(Some((50, 100))));
        assert_eq!(parse_range("bytes=9-1", 100).ok(), Some(None));
        assert_eq!(parse_range("items=0-1", 100).ok(), Some(None));
        assert_eq!(
            parse_range("bytes=100-", 100).err().map(|e| e.status),
            Some(416)
        );
    }

    #[test]
    fn listing_keys_are_url_encoded_except_slashes() {
        assert_eq!(url_encode("a b/ü+"), "a%20b/%C3%BC%2B");
    }
}
