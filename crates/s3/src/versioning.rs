//! Versioning: Put/GetBucketVersioning, version ids on writes, delete markers, reads and
//! deletes of a given version, ListObjectVersions, and the `null` version of unversioned and
//! suspended writes.
//!
//! `s3.objects` keeps holding each key's current object (what GetObject without a version and
//! the object listings read). `s3.versions` holds everything else: noncurrent versions and
//! delete markers, under `bucket/key \x01 seq` (the store keeps no NUL), where `seq` makes a
//! key's newest entry sort first.
//! A key whose newest version is a delete marker has no current object. A version id of `None`
//! is the `null` version.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use rampart_service::table::Table;
use rampart_service::{AwsError, RequestContext};
use rampart_store::{Expect, Op};

use crate::records::{ObjectRecord, OBJECTS};
use crate::{field, S3Service};

/// A noncurrent version or a delete marker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionEntry {
    /// The version id (`None`: the `null` version).
    pub version_id: Option<String>,
    /// The object, or `None` for a delete marker.
    pub object: Option<ObjectRecord>,
    /// When the version was made, epoch seconds.
    pub modified: i64,
}

/// Noncurrent versions and delete markers by `bucket/key \x01 seq` (the store keeps no NUL).
pub const VERSIONS: Table<VersionEntry> = OBJECTS.db().table("s3.versions");

/// `Enabled` or `Suspended`.
pub const ENABLED: &str = "Enabled";
const SUSPENDED: &str = "Suspended";

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A sequence part that sorts newer entries first (per node: time in microseconds, made
/// strictly increasing).
fn next_seq(ctx_micros: i64) -> String {
    let now = u64::try_from(ctx_micros).unwrap_or(0);
    let mut prev = SEQ.load(Ordering::SeqCst);
    loop {
        let next = now.max(prev + 1);
        match SEQ.compare_exchange(prev, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return format!("{:016x}", u64::MAX - next),
            Err(p) => prev = p,
        }
    }
}

fn versions_prefix(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}\u{1}")
}

fn wire_id(id: Option<&str>) -> String {
    id.unwrap_or("null").to_owned()
}

fn no_such_version() -> AwsError {
    AwsError::new(
        "NoSuchVersion",
        404,
        "The specified version does not exist.",
    )
}

fn invalid_version() -> AwsError {
    AwsError::new("InvalidArgument", 400, "Invalid version id specified")
}

/// Where a tagged object is kept.
pub(crate) enum TagRow {
    /// The current object's row and store version.
    Current(String, u64),
    /// A noncurrent version's row.
    Version(String, Box<VersionEntry>),
}

/// What a version id names.
pub(crate) enum Found {
    /// The current object.
    Current(ObjectRecord),
    /// A noncurrent version.
    Noncurrent(ObjectRecord),
    /// A delete marker.
    Marker,
}

fn is_wanted(id: Option<&String>, wanted: &str) -> bool {
    match id {
        Some(i) => i == wanted,
        None => wanted == "null",
    }
}

impl S3Service {
    /// The bucket's versioning status (`None`: never configured).
    pub(crate) async fn versioning_status(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        Ok(self.settings(bucket).await?.versioning)
    }

    /// The version id a new object of `bucket` gets: a fresh one when versioning is enabled,
    /// `None` (the `null` version) otherwise.
    pub(crate) async fn new_version_id(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        Ok(match self.versioning_status(bucket).await?.as_deref() {
            Some(ENABLED) => Some(uuid::Uuid::new_v4().simple().to_string()),
            _ => None,
        })
    }

    async fn key_versions(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<(String, VersionEntry)>, AwsError> {
        let prefix = versions_prefix(bucket, key);
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = VERSIONS
                .list(&*self.store, &prefix, after.as_deref(), 1000)
                .await?;
            let done = page.len() < 1000;
            after = page.last().map(|(k, _)| k.clone());
            // A key may itself contain the separator: keep this key's rows only.
            let own = prefix.len();
            out.extend(
                page.into_iter()
                    .filter(|(k, _)| !k[own..].contains('\u{1}')),
            );
            if done {
                return Ok(out);
            }
        }
    }

    /// Commits `rec` as the current object of a bucket whose versioning is configured: the
    /// object it replaces becomes a noncurrent version, except a `null` one replaced by
    /// another `null` one (a suspended bucket's write), which is gone.
    pub(crate) async fn commit_versioned(
        &self,
        bucket: &str,
        key: &str,
        rec: &ObjectRecord,
        micros: i64,
    ) -> Result<(), AwsError> {
        let k = format!("{bucket}/{key}");
        let old = OBJECTS.get(&*self.store, &k).await?;
        let mut ops: Vec<Op> = Vec::new();
        let mut dropped: Vec<String> = Vec::new();
        let expect = match &old {
            Some(o) => Expect::Version(o.version),
            None => Expect::Absent,
        };
        if let Some(o) = &old {
            if o.value.version_id.is_none() && rec.version_id.is_none() {
                dropped.push(o.value.id.clone());
            } else {
                ops.push(VERSIONS.put_op(
                    &format!("{}{}", versions_prefix(bucket, key), next_seq(micros)),
                    &VersionEntry {
                        version_id: o.value.version_id.clone(),
                        modified: o.value.modified,
                        object: Some(o.value.clone()),
                    },
                    Expect::Absent,
                )?);
            }
        }
        if rec.version_id.is_none() {
            // The one null version: a noncurrent one or a null delete marker goes.
            for (vk, v) in self.key_versions(bucket, key).await? {
                if v.version_id.is_none() {
                    ops.push(VERSIONS.delete_op(&vk, Expect::Any));
                    if let Some(obj) = v.object {
                        dropped.push(obj.id);
                    }
                }
            }
        }
        ops.push(OBJECTS.put_op(&k, rec, expect)?);
        if let Err(e) = OBJECTS.db().commit(&*self.store, ops).await {
            self.blobs.remove(&rec.id).await;
            return Err(e);
        }
        for id in dropped {
            self.blobs.remove(&id).await;
        }
        Ok(())
    }

    /// DeleteObject without a version id in a versioning-configured bucket: a delete marker
    /// becomes the key's newest version. Returns the marker's version id.
    pub(crate) async fn add_delete_marker(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        status: &str,
    ) -> Result<Option<String>, AwsError> {
        let k = format!("{bucket}/{key}");
        let micros = ctx.time.timestamp_micros();
        let old = OBJECTS.get(&*self.store, &k).await?;
        let marker_id = (status == ENABLED).then(|| uuid::Uuid::new_v4().simple().to_string());
        let mut ops = Vec::new();
        let mut dropped = Vec::new();
        if let Some(o) = &old {
            ops.push(OBJECTS.delete_op(&k, Expect::Version(o.version)));
            if o.value.version_id.is_none() && marker_id.is_none() {
                dropped.push(o.value.id.clone());
            } else {
                ops.push(VERSIONS.put_op(
                    &format!("{}{}", versions_prefix(bucket, key), next_seq(micros)),
                    &VersionEntry {
                        version_id: o.value.version_id.clone(),
                        modified: o.value.modified,
                        object: Some(o.value.clone()),
                    },
                    Expect::Absent,
                )?);
            }
        }
        if marker_id.is_none() {
            for (vk, v) in self.key_versions(bucket, key).await? {
                if v.version_id.is_none() {
                    ops.push(VERSIONS.delete_op(&vk, Expect::Any));
                    if let Some(obj) = v.object {
                        dropped.push(obj.id);
                    }
                }
            }
        }
        ops.push(VERSIONS.put_op(
            &format!("{}{}", versions_prefix(bucket, key), next_seq(micros)),
            &VersionEntry {
                version_id: marker_id.clone(),
                object: None,
                modified: ctx.time.timestamp(),
            },
            Expect::Absent,
        )?);
        OBJECTS.db().commit(&*self.store, ops).await?;
        for id in dropped {
            self.blobs.remove(&id).await;
        }
        Ok(marker_id.or_else(|| Some("null".to_owned())))
    }

    /// Permanently deletes one version (or delete marker). When it was the current object, the
    /// next newest version, unless that is a delete marker, becomes current. Returns whether
    /// it was a delete marker; a version that does not exist is no error (as S3 answers).
    pub(crate) async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
    ) -> Result<bool, AwsError> {
        check_version_id(version)?;
        let k = format!("{bucket}/{key}");
        let current = OBJECTS.get(&*self.store, &k).await?;
        let versions = self.key_versions(bucket, key).await?;
        if let Some(c) = current.filter(|c| is_wanted(c.value.version_id.as_ref(), version)) {
            // The next newest version becomes current, unless it is a delete marker.
            let mut ops = Vec::new();
            match versions.first() {
                Some((vk, v)) if v.object.is_some() => {
                    ops.push(VERSIONS.delete_op(vk, Expect::Any));
                    if let Some(obj) = &v.object {
                        ops.push(OBJECTS.put_op(&k, obj, Expect::Version(c.version))?);
                    }
                }
                _ => ops.push(OBJECTS.delete_op(&k, Expect::Version(c.version))),
            }
            OBJECTS.db().commit(&*self.store, ops).await?;
            self.blobs.remove(&c.value.id).await;
            return Ok(false);
        }
        let Some(pos) = versions
            .iter()
            .position(|(_, v)| is_wanted(v.version_id.as_ref(), version))
        else {
            return Ok(false);
        };
        let (vk, v) = &versions[pos];
        let mut ops = vec![VERSIONS.delete_op(vk, Expect::Any)];
        // Removing the newest delete marker of a key without a current object brings the
        // next version back as current.
        let has_current = OBJECTS.get(&*self.store, &k).await?.is_some();
        if pos == 0 && v.object.is_none() && !has_current {
            if let Some((nk, n)) = versions.get(1) {
                if let Some(obj) = &n.object {
                    ops.push(VERSIONS.delete_op(nk, Expect::Any));
                    ops.push(OBJECTS.put_op(&k, obj, Expect::Absent)?);
                }
            }
        }
        OBJECTS.db().commit(&*self.store, ops).await?;
        if let Some(obj) = &v.object {
            self.blobs.remove(&obj.id).await;
        }
        Ok(v.object.is_none())
    }

    /// The object a read names: the current one, or the given `VersionId`. A delete marker
    /// answers `NoSuchKey` when current and `MethodNotAllowed` when named.
    pub(crate) async fn object_version(
        &self,
        bucket: &str,
        key: &str,
        input: &Value,
    ) -> Result<ObjectRecord, AwsError> {
        let Some(version) = field(input, "VersionId") else {
            return self.object(bucket, key).await;
        };
        match self.find_version(bucket, key, version).await? {
            Found::Current(r) | Found::Noncurrent(r) => Ok(r),
            Found::Marker => Err(AwsError::new(
                "MethodNotAllowed",
                405,
                "The specified method is not allowed against this resource.",
            )),
        }
    }

    pub(crate) async fn find_version(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
    ) -> Result<Found, AwsError> {
        check_version_id(version)?;
        if let Some(c) = OBJECTS
            .get(&*self.store, &format!("{bucket}/{key}"))
            .await?
        {
            if is_wanted(c.value.version_id.as_ref(), version) {
                return Ok(Found::Current(c.value));
            }
        }
        for (_, v) in self.key_versions(bucket, key).await? {
            if is_wanted(v.version_id.as_ref(), version) {
                return Ok(match v.object {
                    Some(o) => Found::Noncurrent(o),
                    None => Found::Marker,
                });
            }
        }
        Err(no_such_version())
    }

    /// DeleteObject of `bucket/key` (of one version when `version` is given), answered with
    /// `VersionId` and `DeleteMarker` as S3 answers them.
    pub(crate) async fn delete_one(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Value, AwsError> {
        if let Some(v) = version {
            let was_marker = self.delete_version(bucket, key, v).await?;
            let mut out = json!({ "VersionId": v });
            if was_marker {
                if let Some(o) = out.as_object_mut() {
                    o.insert("DeleteMarker".into(), Value::Bool(true));
                }
            }
            return Ok(out);
        }
        match self.versioning_status(bucket).await? {
            Some(status) => {
                let id = self.add_delete_marker(ctx, bucket, key, &status).await?;
                Ok(json!({ "DeleteMarker": true, "VersionId": id }))
            }
            None => {
                self.remove_object(bucket, key).await?;
                Ok(json!({}))
            }
        }
    }

    /// The object a tagging request names and where it is kept: the current object (with
    /// its store version), or a noncurrent version's row.
    pub(crate) async fn tag_target(
        &self,
        bucket: &str,
        key: &str,
        input: &Value,
    ) -> Result<(ObjectRecord, TagRow), AwsError> {
        let k = format!("{bucket}/{key}");
        let current = OBJECTS.get(&*self.store, &k).await?;
        let version = field(input, "VersionId");
        if let Some(c) =
            current.filter(|c| version.is_none_or(|v| is_wanted(c.value.version_id.as_ref(), v)))
        {
            return Ok((c.value, TagRow::Current(k, c.version)));
        }
        let Some(version) = version else {
            return Err(crate::errors::no_such_key());
        };
        check_version_id(version)?;
        for (row, v) in self.key_versions(bucket, key).await? {
            if is_wanted(v.version_id.as_ref(), version) {
                let Some(obj) = v.object.clone() else {
                    return Err(AwsError::new(
                        "MethodNotAllowed",
                        405,
                        "The specified method is not allowed against this resource.",
                    ));
                };
                return Ok((obj, TagRow::Version(row, Box::new(v))));
            }
        }
        Err(no_such_version())
    }

    /// Stores `rec` (with changed tags) back where [`Self::tag_target`] found it.
    pub(crate) async fn save_tagged(&self, rec: ObjectRecord, row: TagRow) -> Result<(), AwsError> {
        let op = match row {
            TagRow::Current(k, version) => OBJECTS.put_op(&k, &rec, Expect::Version(version))?,
            TagRow::Version(k, mut entry) => {
                entry.object = Some(rec);
                VERSIONS.put_op(&k, &entry, Expect::Any)?
            }
        };
        OBJECTS.db().commit(&*self.store, vec![op]).await
    }

    /// Whether the bucket holds any noncurrent version or delete marker.
    pub(crate) async fn has_versions(&self, bucket: &str) -> Result<bool, AwsError> {
        Ok(!VERSIONS
            .list(&*self.store, &format!("{bucket}/"), None, 1)
            .await?
            .is_empty())
    }

    pub(crate) async fn put_bucket_versioning(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self
            .bucket(ctx, input, "s3:PutBucketVersioning", None)
            .await?;
        let status = input
            .pointer("/VersioningConfiguration/Status")
            .and_then(Value::as_str);
        let status = match status {
            Some(s @ (ENABLED | SUSPENDED)) => s.to_owned(),
            _ => {
                return Err(AwsError::new(
                    "MalformedXML",
                    400,
                    "The XML you provided was not well-formed or did not validate against our published schema",
                ))
            }
        };
        if input
            .pointer("/VersioningConfiguration/MFADelete")
            .and_then(Value::as_str)
            == Some("Enabled")
        {
            return Err(AwsError::new(
                "InvalidRequest",
                400,
                "DevPay and Mfa are mutually exclusive authorization methods.",
            ));
        }
        self.save_settings(&bucket, |s| {
            s.versioning = Some(status);
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn get_bucket_versioning(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self
            .bucket(ctx, input, "s3:GetBucketVersioning", None)
            .await?;
        Ok(match self.versioning_status(&bucket).await? {
            Some(s) => json!({ "Status": s }),
            None => json!({}),
        })
    }

    pub(crate) async fn list_object_versions(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, owner) = self
            .bucket(ctx, input, "s3:ListBucketVersions", None)
            .await?;
        let prefix = field(input, "Prefix").unwrap_or_default();
        let delimiter = field(input, "Delimiter").filter(|d| !d.is_empty());
        let max_keys = input
            .get("MaxKeys")
            .and_then(Value::as_i64)
            .unwrap_or(1000)
            .clamp(0, 1000);
        let max = usize::try_from(max_keys).unwrap_or(1000);
        let key_marker = field(input, "KeyMarker").filter(|m| !m.is_empty());
        let version_marker = field(input, "VersionIdMarker").filter(|m| !m.is_empty());
        if version_marker.is_some() && key_marker.is_none() {
            return Err(AwsError::new(
                "InvalidArgument",
                400,
                "A version-id marker cannot be specified without a key marker.",
            ));
        }
        let owner_json = json!({
            "ID": crate::buckets::owner_id(&owner.owner),
            "DisplayName": owner.owner,
        });
        let base = format!("{bucket}/");
        let full_prefix = format!("{base}{prefix}");
        let mut objects = Cursor::new(full_prefix.clone());
        let mut versions = Cursor::new(full_prefix.clone());
        let mut listing = Listing {
            max,
            versions: Vec::new(),
            markers: Vec::new(),
            prefixes: Vec::new(),
            truncated: false,
            next: None,
            owner: owner_json,
        };
        if let Some(m) = key_marker {
            let full = format!("{base}{m}");
            if full.as_str() >= full_prefix.as_str() {
                objects.after = Some(full.clone());
                versions.after = Some(format!("{full}\u{2}"));
            }
            if let Some(vm) = version_marker {
                // The rest of the marker key's versions, after the marked one.
                let mut entries = self.entries_of(&bucket, m).await?;
                if let Some(pos) = entries
                    .iter()
                    .position(|e| is_wanted(e.version_id.as_ref(), vm))
                {
                    entries.drain(..=pos);
                    listing.emit_key(m, prefix, delimiter, entries, false);
                }
            }
        }
        while !listing.truncated {
            let ok = objects
                .peek(self)
                .await?
                .map(|(k, _)| k[base.len()..].to_owned());
            let vk = versions
                .peek_versions(self)
                .await?
                .map(|(k, _)| version_key(&k[base.len()..]).to_owned());
            let key = match (ok, vk) {
                (None, None) => break,
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (Some(a), Some(b)) => a.min(b),
            };
            let mut entries = Vec::new();
            if objects
                .peek(self)
                .await?
                .is_some_and(|(k, _)| k[base.len()..] == *key)
            {
                if let Some((_, rec)) = objects.pop() {
                    entries.push(VersionEntry {
                        version_id: rec.version_id.clone(),
                        modified: rec.modified,
                        object: Some(rec),
                    });
                }
            }
            while versions
                .peek_versions(self)
                .await?
                .is_some_and(|(k, _)| version_key(&k[base.len()..]) == key)
            {
                if let Some((_, v)) = versions.pop_version() {
                    entries.push(v);
                }
            }
            listing.emit_key(&key, prefix, delimiter, entries, true);
        }
        let url = field(input, "EncodingType").is_some_and(|e| e == "url");
        let mut out = json!({
            "Name": bucket,
            "Prefix": prefix,
            "KeyMarker": key_marker.unwrap_or_default(),
            "VersionIdMarker": version_marker.unwrap_or_default(),
            "MaxKeys": max_keys,
            "IsTruncated": listing.truncated,
            "Versions": listing.versions,
            "DeleteMarkers": listing.markers,
            "CommonPrefixes": listing.prefixes.iter().map(|p| json!({ "Prefix": p })).collect::<Vec<_>>(),
        });
        if let Some(o) = out.as_object_mut() {
            if let Some(d) = delimiter {
                o.insert("Delimiter".into(), Value::String(d.to_owned()));
            }
            if url {
                o.insert("EncodingType".into(), Value::String("url".into()));
            }
            if listing.truncated {
                if let Some((k, v)) = listing.next {
                    o.insert("NextKeyMarker".into(), Value::String(k));
                    if let Some(v) = v {
                        o.insert("NextVersionIdMarker".into(), Value::String(v));
                    }
                }
            }
        }
        Ok(out)
    }

    /// All versions of one key, newest first (the current object first).
    async fn entries_of(&self, bucket: &str, key: &str) -> Result<Vec<VersionEntry>, AwsError> {
        let mut entries = Vec::new();
        if let Some(c) = OBJECTS
            .get(&*self.store, &format!("{bucket}/{key}"))
            .await?
        {
            entries.push(VersionEntry {
                version_id: c.value.version_id.clone(),
                modified: c.value.modified,
                object: Some(c.value),
            });
        }
        entries.extend(
            self.key_versions(bucket, key)
                .await?
                .into_iter()
                .map(|(_, v)| v),
        );
        Ok(entries)
    }
}

/// The action a read is authorized as: `s3:GetObjectVersion` when it names a version.
pub(crate) fn get_action(input: &Value) -> &'static str {
    if field(input, "VersionId").is_some() {
        "s3:GetObjectVersion"
    } else {
        "s3:GetObject"
    }
}

/// A version id as S3 accepts it: `null` or one Rampart could have made.
fn check_version_id(v: &str) -> Result<(), AwsError> {
    if v == "null" || (v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())) {
        Ok(())
    } else {
        Err(invalid_version())
    }
}

/// The object key of a `s3.versions` row key (without the bucket).
fn version_key(row: &str) -> &str {
    row.rsplit_once('\u{1}').map_or(row, |(k, _)| k)
}

/// A listing being built.
struct Listing {
    max: usize,
    versions: Vec<Value>,
    markers: Vec<Value>,
    prefixes: Vec<String>,
    truncated: bool,
    next: Option<(String, Option<String>)>,
    owner: Value,
}

impl Listing {
    fn count(&self) -> usize {
        self.versions.len() + self.markers.len() + self.prefixes.len()
    }

    fn emit_key(
        &mut self,
        key: &str,
        prefix: &str,
        delimiter: Option<&str>,
        entries: Vec<VersionEntry>,
        first_is_latest: bool,
    ) {
        if let Some(d) = delimiter {
            if let Some(i) = key.get(prefix.len()..).and_then(|rest| rest.find(d)) {
                let group = &key[..prefix.len() + i + d.len()];
                if self.prefixes.last().is_some_and(|p| p == group) {
                    return;
                }
                if self.count() >= self.max {
                    self.truncated = true;
                    return;
                }
                self.prefixes.push(group.to_owned());
                self.next = Some((format!("{group}\u{10FFFF}"), None));
                return;
            }
        }
        for (i, e) in entries.into_iter().enumerate() {
            if self.count() >= self.max {
                self.truncated = true;
                return;
            }
            let latest = first_is_latest && i == 0;
            let id = wire_id(e.version_id.as_deref());
            match e.object {
                Some(rec) => self.versions.push(json!({
                    "Key": key,
                    "VersionId": id,
                    "IsLatest": latest,
                    "LastModified": rec.modified,
                    "ETag": format!("\"{}\"", rec.md5),
                    "Size": rec.size,
                    "StorageClass": rec.storage_class,
                    "ChecksumAlgorithm": [rec.checksum.0],
                    "ChecksumType": "FULL_OBJECT",
                    "Owner": self.owner,
                })),
                None => self.markers.push(json!({
                    "Key": key,
                    "VersionId": id,
                    "IsLatest": latest,
                    "LastModified": e.modified,
                    "Owner": self.owner,
                })),
            }
            self.next = Some((key.to_owned(), Some(id)));
        }
    }
}

/// A buffered walk over one table's rows under a prefix.
struct Cursor<T> {
    prefix: String,
    after: Option<String>,
    buf: VecDeque<(String, T)>,
    done: bool,
}

impl<T> Cursor<T> {
    fn new(prefix: String) -> Self {
        Self {
            prefix,
            after: None,
            buf: VecDeque::new(),
            done: false,
        }
    }

    fn pop(&mut self) -> Option<(String, T)> {
        self.buf.pop_front()
    }
}

impl Cursor<ObjectRecord> {
    async fn peek(&mut self, s3: &S3Service) -> Result<Option<(String, ObjectRecord)>, AwsError> {
        if self.buf.is_empty() && !self.done {
            let page = OBJECTS
                .list(&*s3.store, &self.prefix, self.after.as_deref(), 1000)
                .await?;
            self.done = page.len() < 1000;
            self.after = page.last().map(|(k, _)| k.clone());
            self.buf.extend(page);
        }
        Ok(self.buf.front().cloned())
    }
}

impl Cursor<VersionEntry> {
    async fn peek_versions(
        &mut self,
        s3: &S3Service,
    ) -> Result<Option<(String, VersionEntry)>, AwsError> {
        if self.buf.is_empty() && !self.done {
            let page = VERSIONS
                .list(&*s3.store, &self.prefix, self.after.as_deref(), 1000)
                .await?;
            self.done = page.len() < 1000;
            self.after = page.last().map(|(k, _)| k.clone());
            self.buf.extend(page);
        }
        Ok(self.buf.front().cloned())
    }

    fn pop_version(&mut self) -> Option<(String, VersionEntry)> {
        self.buf.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_versions_sort_first() {
        let a = next_seq(1_000);
        let b = next_seq(1_000);
        let c = next_seq(5_000);
        assert!(b < a && c < b, "{a} {b} {c}");
    }

    #[test]
    fn version_rows_name_their_key() {
        assert_eq!(version_key("dir/a b\u{1}00ff"), "dir/a b");
        assert!(check_version_id("null").is_ok());
        assert!(check_version_id(&"a".repeat(32)).is_ok());
        assert!(check_version_id("../x").is_err());
    }
}
