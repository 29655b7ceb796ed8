//! Object and bucket tags with S3's limits: at most 10 tags on an object and 50 on a bucket,
//! keys up to 128 and values up to 256 Unicode characters, no duplicate keys, no `aws:` keys.

use serde_json::{json, Value};

use rampart_service::{AwsError, RequestContext};

use crate::{field, S3Service};

/// The most tags an object may have.
pub const MAX_OBJECT_TAGS: usize = 10;
/// The most tags a bucket may have.
pub const MAX_BUCKET_TAGS: usize = 50;

fn invalid_tag(message: &str) -> AwsError {
    AwsError::new("InvalidTag", 400, message)
}

/// Checks a tag set against S3's rules; `object` selects the object limits.
///
/// # Errors
/// `InvalidTag` or `BadRequest` as S3 answers them.
pub fn check(tags: &[(String, String)], object: bool) -> Result<(), AwsError> {
    if object && tags.len() > MAX_OBJECT_TAGS {
        return Err(AwsError::new(
            "BadRequest",
            400,
            "Object tags cannot be greater than 10",
        ));
    }
    if !object && tags.len() > MAX_BUCKET_TAGS {
        return Err(invalid_tag("Bucket tag count cannot be greater than 50"));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > 256 {
            return Err(invalid_tag("The TagValue you have provided is invalid"));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid_tag(
                "System tags cannot be added/updated by requester",
            ));
        }
        if tags[..i].iter().any(|(other, _)| other == k) {
            return Err(invalid_tag(
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    Ok(())
}

/// The tags of a `Tagging` member (`{"TagSet": [{"Key", "Value"}]}`).
fn from_tag_set(input: &Value) -> Vec<(String, String)> {
    input
        .pointer("/Tagging/TagSet")
        .and_then(Value::as_array)
        .map(|set| {
            set.iter()
                .map(|t| {
                    (
                        field(t, "Key").unwrap_or_default().to_owned(),
                        field(t, "Value").unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn tag_set(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({ "Key": k, "Value": v }))
            .collect(),
    )
}

/// The tags of an `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded), checked.
///
/// # Errors
/// `InvalidArgument` for a malformed header, then [`check`]'s errors.
pub fn from_header(input: &Value) -> Result<Vec<(String, String)>, AwsError> {
    let Some(h) = field(input, "Tagging").filter(|h| !h.is_empty()) else {
        return Ok(Vec::new());
    };
    let decode = |s: &str| rampart_protocol::rest::percent_decode(&s.replace('+', " "));
    let tags: Vec<(String, String)> = h
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect();
    check(&tags, true)?;
    Ok(tags)
}

impl S3Service {
    pub(crate) async fn put_object_tagging(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = field(input, "Key").unwrap_or_default().to_owned();
        let (bucket, _) = self
            .bucket(ctx, input, "s3:PutObjectTagging", Some(&key))
            .await?;
        let tags = from_tag_set(input);
        check(&tags, true)?;
        let (mut rec, row) = self.tag_target(&bucket, &key, input).await?;
        rec.tags = tags;
        let version = rec.version_id.clone();
        self.save_tagged(rec, row).await?;
        Ok(version.map_or_else(|| json!({}), |v| json!({ "VersionId": v })))
    }

    pub(crate) async fn get_object_tagging(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = field(input, "Key").unwrap_or_default().to_owned();
        let (bucket, _) = self
            .bucket(ctx, input, "s3:GetObjectTagging", Some(&key))
            .await?;
        let (rec, _) = self.tag_target(&bucket, &key, input).await?;
        let mut out = json!({ "TagSet": tag_set(&rec.tags) });
        if let (Some(v), Some(o)) = (&rec.version_id, out.as_object_mut()) {
            o.insert("VersionId".into(), Value::String(v.clone()));
        }
        Ok(out)
    }

    pub(crate) async fn delete_object_tagging(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = field(input, "Key").unwrap_or_default().to_owned();
        let (bucket, _) = self
            .bucket(ctx, input, "s3:DeleteObjectTagging", Some(&key))
            .await?;
        let (mut rec, row) = self.tag_target(&bucket, &key, input).await?;
        rec.tags.clear();
        let version = rec.version_id.clone();
        self.save_tagged(rec, row).await?;
        Ok(version.map_or_else(|| json!({}), |v| json!({ "VersionId": v })))
    }

    pub(crate) async fn put_bucket_tagging(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self.bucket(ctx, input, "s3:PutBucketTagging", None).await?;
        let tags = from_tag_set(input);
        check(&tags, false)?;
        self.save_settings(&bucket, |s| {
            s.tags = tags;
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn get_bucket_tagging(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self.bucket(ctx, input, "s3:GetBucketTagging", None).await?;
        let tags = self.settings(&bucket).await?.tags;
        if tags.is_empty() {
            return Err(AwsError::new(
                "NoSuchTagSet",
                404,
                "The TagSet does not exist",
            ));
        }
        Ok(json!({ "TagSet": tag_set(&tags) }))
    }

    pub(crate) async fn delete_bucket_tagging(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self.bucket(ctx, input, "s3:PutBucketTagging", None).await?;
        self.save_settings(&bucket, |s| {
            s.tags.clear();
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("k{i}"), "v".to_owned())).collect()
    }

    #[test]
    fn tag_limits_are_s3s() {
        assert!(check(&tags(10), true).is_ok());
        assert_eq!(
            check(&tags(11), true).err().map(|e| e.code),
            Some("BadRequest".into())
        );
        assert!(check(&tags(50), false).is_ok());
        assert!(check(&tags(51), false).is_err());
        assert!(check(&[("k".repeat(129), String::new())], true).is_err());
        assert!(check(&[("k".into(), "v".repeat(257))], true).is_err());
        assert!(check(&[("aws:x".into(), String::new())], true).is_err());
        let dup = vec![
            ("a".to_owned(), "1".to_owned()),
            ("a".to_owned(), "2".to_owned()),
        ];
        assert!(check(&dup, true).is_err());
    }

    #[test]
    fn the_tagging_header_is_url_decoded() {
        let input = json!({ "Tagging": "project=blue%20sky&team=a%2Bb&empty=" });
        let got = from_header(&input).expect("tags");
        assert_eq!(
            got,
            vec![
                ("project".to_owned(), "blue sky".to_owned()),
                ("team".to_owned(), "a+b".to_owned()),
                ("empty".to_owned(), String::new()),
            ]
        );
    }
}
