//! Buckets: create (name and location rules), head, delete, list, location.

use rampart_service::{AwsError, RequestContext};
use rampart_store::Expect;
use serde_json::{json, Value};

use crate::errors;
use crate::records::{BucketRecord, BUCKETS, OBJECTS};
use crate::{field, S3Service};

/// Whether `name` follows S3's bucket naming rules: 3 to 63 lowercase letters, digits, dots
/// and hyphens, starting and ending with a letter or digit, no `..`, not an IPv4 address, none
/// of the reserved prefixes and suffixes.
#[must_use]
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&b.len())
        && b.iter().all(|&c| edge(c) || c == b'.' || c == b'-')
        && b.first().is_some_and(|&c| edge(c))
        && b.last().is_some_and(|&c| edge(c))
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !name.starts_with("xn--")
        && !name.starts_with("sthree-")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3")
}

/// S3 answers a refusal as `AccessDenied` (403), whatever the policy engine's protocol-neutral
/// code.
pub(crate) fn s3_denied(e: AwsError) -> AwsError {
    if e.code == "AccessDeniedException" {
        AwsError::new("AccessDenied", 403, e.message)
    } else {
        e
    }
}

pub(crate) fn bucket_arn(ctx: &RequestContext, bucket: &str) -> String {
    format!("arn:{}:s3:::{bucket}", ctx.partition)
}

impl S3Service {
    /// The bucket named by the input, after checking the caller may do `action` on it.
    pub(crate) async fn bucket(
        &self,
        ctx: &RequestContext,
        input: &Value,
        action: &str,
        resource: Option<&str>,
    ) -> Result<(String, BucketRecord), AwsError> {
        let name = field(input, "Bucket").unwrap_or_default().to_owned();
        let Some(rec) = BUCKETS.get(&*self.store, &name).await? else {
            return Err(errors::no_such_bucket());
        };
        let arn = match resource {
            Some(key) => format!("{}/{key}", bucket_arn(ctx, &name)),
            None => bucket_arn(ctx, &name),
        };
        // The bucket policy and the request's s3: condition keys (crate::settings).
        let (policy, extra) = self
            .access_inputs(ctx, input, &name, &rec.value.owner, action, resource)
            .await?;
        ctx.authorize(action, &arn, &rec.value.owner, policy.as_ref(), &extra)
            .await
            .map_err(s3_denied)?;
        ctx.note_resource("AWS::S3::Bucket", &bucket_arn(ctx, &name));
        Ok((name, rec.value))
    }

    pub(crate) async fn create_bucket(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = field(input, "Bucket").unwrap_or_default();
        if !valid_bucket_name(name) {
            return Err(errors::invalid_bucket_name());
        }
        let arn = bucket_arn(ctx, name);
        ctx.authorize(
            "s3:CreateBucket",
            &arn,
            &ctx.caller.account,
            None,
            &ctx.base_context(),
        )
        .await
        .map_err(s3_denied)?;
        let constraint = input
            .pointer("/CreateBucketConfiguration/LocationConstraint")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty());
        match constraint {
            None if ctx.region != "us-east-1" => {
                return Err(AwsError::new(
                    "IllegalLocationConstraintException",
                    400,
                    "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
                ))
            }
            Some("us-east-1") => {
                return Err(AwsError::new(
                    "InvalidLocationConstraint",
                    400,
                    "The specified location-constraint is not valid",
                ))
            }
            Some(c) if c != ctx.region => {
                return Err(AwsError::new(
                    "IllegalLocationConstraintException",
                    400,
                    format!("The {c} location constraint is incompatible for the region specific endpoint this request was sent to."),
                ))
            }
            _ => {}
        }
        if let Some(existing) = BUCKETS.get(&*self.store, name).await? {
            return Err(if existing.value.owner == ctx.caller.account {
                AwsError::new(
                    "BucketAlreadyOwnedByYou",
                    409,
                    "Your previous request to create the named bucket succeeded and you already own it.",
                )
            } else {
                AwsError::new(
                    "BucketAlreadyExists",
                    409,
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                )
            });
        }
        let rec = BucketRecord {
            owner: ctx.caller.account.clone(),
            region: ctx.region.clone(),
            created_ms: ctx.time.timestamp_millis(),
        };
        let op = BUCKETS.put_op(name, &rec, Expect::Absent)?;
        BUCKETS
            .db()
            .commit_or(&*self.store, vec![op], || {
                AwsError::new(
                    "OperationAborted",
                    409,
                    "A conflicting conditional operation is currently in progress against this resource. Please try again.",
                )
            })
            .await?;
        ctx.note_resource("AWS::S3::Bucket", &arn);
        Ok(json!({ "Location": format!("/{name}") }))
    }

    pub(crate) async fn head_bucket(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (_, rec) = self.bucket(ctx, input, "s3:ListBucket", None).await?;
        Ok(json!({ "BucketRegion": rec.region }))
    }

    pub(crate) async fn get_bucket_location(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (_, rec) = self
            .bucket(ctx, input, "s3:GetBucketLocation", None)
            .await?;
        // us-east-1 answers an empty constraint.
        let constraint = if rec.region == "us-east-1" {
            Value::Null
        } else {
            Value::String(rec.region)
        };
        Ok(json!({ "LocationConstraint": constraint }))
    }

    pub(crate) async fn delete_bucket(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (name, _) = self.bucket(ctx, input, "s3:DeleteBucket", None).await?;
        let prefix = format!("{name}/");
        if !OBJECTS
            .list(&*self.store, &prefix, None, 1)
            .await?
            .is_empty()
            || self.has_versions(&name).await?
        {
            return Err(errors::bucket_not_empty());
        }
        BUCKETS
            .commit(&*self.store, vec![BUCKETS.delete_op(&name, Expect::Any)])
            .await?;
        self.forget_settings(&name).await?;
        Ok(json!({}))
    }

    pub(crate) async fn list_buckets(&self, ctx: &RequestContext) -> Result<Value, AwsError> {
        ctx.authorize(
            "s3:ListAllMyBuckets",
            "*",
            &ctx.caller.account,
            None,
            &ctx.base_context(),
        )
        .await
        .map_err(s3_denied)?;
        let mut buckets = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = BUCKETS
                .list(&*self.store, "", after.as_deref(), 1000)
                .await?;
            let done = page.len() < 1000;
            after = page.last().map(|(k, _)| k.clone());
            for (name, rec) in page {
                if rec.owner == ctx.caller.account {
                    #[allow(clippy::cast_precision_loss)]
                    let created = rec.created_ms as f64 / 1000.0;
                    buckets.push(json!({
                        "Name": name,
                        "CreationDate": created,
                        "BucketRegion": rec.region,
                    }));
                }
            }
            if done {
                break;
            }
        }
        Ok(json!({
            "Buckets": buckets,
            "Owner": { "ID": owner_id(&ctx.caller.account), "DisplayName": ctx.caller.account },
        }))
    }
}

/// The canonical user id of an account (64 hex digits, stable per account).
pub(crate) fn owner_id(account: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, account.as_bytes());
    hex::encode(d.as_ref())
}

#[cfg(test)]
mod tests {
    use super::valid_bucket_name;

    #[test]
    fn bucket_names_follow_the_naming_rules() {
        for good in ["abc", "my.bucket-1", "a1b", &"a".repeat(63)] {
            assert!(valid_bucket_name(good), "{good}");
        }
        for bad in [
            "ab",
            "Abc",
            "a..b",
            "-abc",
            "abc-",
            "192.168.1.1",
            "a_b",
            "xn--abc",
            "abc-s3alias",
            &"a".repeat(64),
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
