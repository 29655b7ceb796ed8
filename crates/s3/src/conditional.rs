//! Conditional writes (`If-None-Match: *`, `If-Match: <etag>` on `PutObject` and
//! `CompleteMultipartUpload`) and the part of an object a read asks for (`Range` or
//! `partNumber`).
//!
//! AWS's rules for writes: `If-None-Match` accepts only `*` and fails with 412 when the key
//! exists; `If-Match` fails with 404 `NoSuchKey` when it does not and 412 when its ETag
//! differs. The condition is checked before the body is read and again, atomically, when the
//! object is committed: a write that lost a race against another writer of the same key
//! answers 412 (`If-None-Match`) or 409 `ConditionalRequestConflict` (`If-Match`).

use serde_json::Value;

use rampart_service::AwsError;
use rampart_store::Expect;

use crate::errors;
use crate::objects::{etag_matches, object_key, parse_range};
use crate::records::{ObjectRecord, OBJECTS};
use crate::{field, S3Service};

/// What a conditional write expects of the key when it commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteCondition {
    /// `If-None-Match: *`: the key must not exist.
    Absent,
    /// `If-Match`: the key must still hold the version whose ETag matched.
    Version(u64),
}

fn conditional_conflict() -> AwsError {
    AwsError::new(
        "ConditionalRequestConflict",
        409,
        "The conditional request cannot succeed due to a conflicting operation against this resource.",
    )
}

/// The part of an object a read asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Requested {
    /// `start..end` of a range or part; `None` for the whole object.
    pub range: Option<(u64, u64)>,
    /// The object's part count, answered for `partNumber` reads of multipart objects.
    pub parts_count: Option<usize>,
}

impl S3Service {
    /// The condition a write's `If-None-Match` / `If-Match` headers set, checked against the
    /// key's current state.
    pub(crate) async fn write_condition(
        &self,
        input: &Value,
        bucket: &str,
        key: &str,
    ) -> Result<Option<WriteCondition>, AwsError> {
        let if_none = field(input, "IfNoneMatch");
        let if_match = field(input, "IfMatch");
        if if_none.is_none() && if_match.is_none() {
            return Ok(None);
        }
        let current = OBJECTS.get(&*self.store, &object_key(bucket, key)).await?;
        if let Some(v) = if_none {
            if v.trim() != "*" {
                return Err(AwsError::new(
                    "NotImplemented",
                    501,
                    "A header you provided implies functionality that is not implemented",
                ));
            }
            if current.is_some() {
                return Err(errors::precondition_failed());
            }
            return Ok(Some(WriteCondition::Absent));
        }
        let wanted = if_match.unwrap_or_default();
        let Some(current) = current else {
            return Err(errors::no_such_key());
        };
        if !etag_matches(wanted, &current.value.md5) {
            return Err(errors::precondition_failed());
        }
        Ok(Some(WriteCondition::Version(current.version)))
    }

    /// Commits `rec` as `bucket/key` when `condition` still holds (last writer wins without
    /// one), removing the replaced object's file; on failure the new file is removed.
    pub(crate) async fn commit_object_if(
        &self,
        bucket: &str,
        key: &str,
        rec: &ObjectRecord,
        condition: Option<WriteCondition>,
    ) -> Result<(), AwsError> {
        let Some(condition) = condition else {
            return self.commit_object(bucket, key, rec).await;
        };
        if self.versioning_status(bucket).await?.is_some() {
            // Versioned: the condition is checked against the current object, and
            // commit_versioned's own expectation on that object's record makes the check and
            // the write one step; what the write replaces stays as a noncurrent version.
            let current = OBJECTS.get(&*self.store, &object_key(bucket, key)).await?;
            let refused = match (condition, &current) {
                (WriteCondition::Absent, Some(_)) => Some(errors::precondition_failed()),
                (WriteCondition::Version(v), Some(c)) if c.version != v => {
                    Some(conditional_conflict())
                }
                (WriteCondition::Version(_), None) => Some(conditional_conflict()),
                _ => None,
            };
            if let Some(e) = refused {
                self.blobs.remove(&rec.id).await;
                return Err(e);
            }
            let micros = self.clock.now().timestamp_micros();
            return self.commit_versioned(bucket, key, rec, micros).await;
        }
        let k = object_key(bucket, key);
        let old = OBJECTS.get(&*self.store, &k).await?;
        let expect = match condition {
            WriteCondition::Absent => Expect::Absent,
            WriteCondition::Version(v) => Expect::Version(v),
        };
        let lost = || match condition {
            WriteCondition::Absent => errors::precondition_failed(),
            WriteCondition::Version(_) => conditional_conflict(),
        };
        let result = OBJECTS
            .db()
            .commit_or(&*self.store, vec![OBJECTS.put_op(&k, rec, expect)?], lost)
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

    /// The part of `rec` a GET or HEAD asks for: `partNumber` (a part's bytes; the whole
    /// object is part 1 of a single-part object) or `Range`, not both.
    pub(crate) async fn requested(
        &self,
        input: &Value,
        rec: &ObjectRecord,
    ) -> Result<Requested, AwsError> {
        let range = field(input, "Range");
        let Some(part) = input.get("PartNumber").and_then(Value::as_i64) else {
            return Ok(Requested {
                range: match range {
                    Some(r) => parse_range(r, rec.size)?,
                    None => None,
                },
                parts_count: None,
            });
        };
        if range.is_some() {
            return Err(AwsError::new(
                "InvalidRequest",
                400,
                "Cannot specify both Range header and partNumber query parameter",
            ));
        }
        let invalid = || {
            AwsError::new(
                "InvalidPartNumber",
                416,
                "The requested partnumber is not satisfiable",
            )
        };
        if !(1..=10_000).contains(&part) {
            return Err(AwsError::new(
                "InvalidArgument",
                400,
                "Part number must be an integer between 1 and 10000, inclusive",
            ));
        }
        let sizes = self.part_sizes(&rec.id).await?;
        let Some(sizes) = sizes else {
            return if part == 1 {
                Ok(Requested {
                    range: (rec.size > 0).then_some((0, rec.size)),
                    parts_count: None,
                })
            } else {
                Err(invalid())
            };
        };
        let index = usize::try_from(part - 1).map_err(|_| invalid())?;
        let size = *sizes.get(index).ok_or_else(invalid)?;
        let start: u64 = sizes.iter().take(index).sum();
        Ok(Requested {
            range: Some((start, start + size)),
            parts_count: Some(sizes.len()),
        })
    }
}
