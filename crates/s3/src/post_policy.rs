//! Browser POST uploads: the policy document a form carries, checked as S3 checks it.
//!
//! The form's `policy` field is a base64 JSON document with an `expiration` (ISO 8601) and a
//! list of `conditions`: `{"field": "value"}` and `["eq", "$field", "value"]` for exact
//! matches, `["starts-with", "$field", "prefix"]` (an empty prefix allows anything), and
//! `["content-length-range", min, max]` for the file's size. Every form field but `policy`,
//! `x-amz-signature`, `file` and `x-ignore-*` must be allowed by some condition, and every
//! condition must hold. The signature over the policy (SigV4's signing key over the base64
//! text) is checked by the front door, which knows the caller's secret; this module knows
//! only S3's rules.

use chrono::{DateTime, Utc};
use serde_json::Value;

use rampart_service::AwsError;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

/// The file's size bounds a policy sets (`content-length-range`), inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRange {
    /// Smallest size allowed.
    pub min: u64,
    /// Largest size allowed.
    pub max: u64,
}

fn invalid_policy(why: &str) -> AwsError {
    AwsError::new(
        "InvalidPolicyDocument",
        400,
        format!("Invalid Policy: {why}"),
    )
}

fn denied(why: &str) -> AwsError {
    AwsError::new(
        "AccessDenied",
        403,
        format!("Invalid according to Policy: {why}"),
    )
}

/// A form field's value by name (names compare without regard to case, as S3 does).
#[must_use]
pub fn form_field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn value_of<'a>(fields: &'a [(String, String)], bucket: &'a str, name: &str) -> Option<&'a str> {
    if name.eq_ignore_ascii_case("bucket") {
        Some(bucket)
    } else {
        form_field(fields, name)
    }
}

/// Checks the base64 `policy` against the form `fields` (with `key` already expanded) and
/// the `bucket` of the request at `now`; answers the file's size bounds, if the policy sets
/// them.
///
/// # Errors
/// `InvalidPolicyDocument` for a policy that does not parse, `AccessDenied` ("Invalid
/// according to Policy: …") for an expired one, a failed condition or a field no condition
/// allows.
pub fn check(
    policy_b64: &str,
    fields: &[(String, String)],
    bucket: &str,
    now: DateTime<Utc>,
) -> Result<Option<SizeRange>, AwsError> {
    let raw = B64
        .decode(policy_b64.trim())
        .map_err(|_| invalid_policy("Invalid JSON."))?;
    let doc: Value = serde_json::from_slice(&raw).map_err(|_| invalid_policy("Invalid JSON."))?;
    let expiration = doc
        .get("expiration")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_policy("Policy missing expiration."))?;
    let expires = DateTime::parse_from_rfc3339(expiration)
        .map_err(|_| invalid_policy(&format!("Invalid 'expiration' value: '{expiration}'")))?;
    if expires.with_timezone(&Utc) <= now {
        return Err(denied("Policy expired."));
    }
    let conditions = doc
        .get("conditions")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid_policy("Policy missing conditions."))?;
    let value_of = |name: &str| value_of(fields, bucket, name);
    let mut allowed: Vec<String> = Vec::new();
    let mut size = None;
    for c in conditions {
        let shown = c.to_string();
        match c {
            Value::Object(m) => {
                for (name, want) in m {
                    let want = want.as_str().ok_or_else(|| {
                        invalid_policy("Invalid Simple-Condition: value must be a string.")
                    })?;
                    if value_of(name) != Some(want) {
                        return Err(denied(&format!("Policy Condition failed: {shown}")));
                    }
                    allowed.push(name.to_ascii_lowercase());
                }
            }
            Value::Array(items) => {
                let op = items
                    .first()
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase);
                match op.as_deref() {
                    Some("content-length-range") => {
                        let n = |i: usize| {
                            items.get(i).and_then(|v| {
                                v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
                            })
                        };
                        let (Some(min), Some(max)) = (n(1), n(2)) else {
                            return Err(invalid_policy("Invalid content-length-range condition."));
                        };
                        size = Some(SizeRange { min, max });
                    }
                    Some(op @ ("eq" | "starts-with")) => {
                        let name = items
                            .get(1)
                            .and_then(Value::as_str)
                            .and_then(|n| n.strip_prefix('$'))
                            .ok_or_else(|| {
                                invalid_policy(&format!("Invalid condition: {shown}"))
                            })?;
                        let want = items.get(2).and_then(Value::as_str).ok_or_else(|| {
                            invalid_policy(&format!("Invalid condition: {shown}"))
                        })?;
                        let got = value_of(name).unwrap_or_default();
                        let holds = if op == "eq" {
                            got == want
                        } else {
                            got.starts_with(want)
                        };
                        if !holds {
                            return Err(denied(&format!("Policy Condition failed: {shown}")));
                        }
                        allowed.push(name.to_ascii_lowercase());
                    }
                    _ => return Err(invalid_policy(&format!("Invalid condition: {shown}"))),
                }
            }
            _ => return Err(invalid_policy(&format!("Invalid condition: {shown}"))),
        }
    }
    let extra: Vec<&str> = fields
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| {
            let l = n.to_ascii_lowercase();
            !matches!(l.as_str(), "policy" | "x-amz-signature" | "file")
                && !l.starts_with("x-ignore-")
                && !allowed.contains(&l)
        })
        .collect();
    if !extra.is_empty() {
        return Err(denied(&format!("Extra input fields: {}", extra.join(", "))));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn policy(v: &Value) -> String {
        B64.encode(v.to_string())
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn a_policy_allows_exactly_the_fields_its_conditions_match() {
        let p = policy(&serde_json::json!({
            "expiration": "2026-12-08T00:00:00Z",
            "conditions": [
                {"bucket": "b"},
                ["starts-with", "$key", "uploads/"],
                ["eq", "$Content-Type", "text/plain"],
                ["content-length-range", 1, 100],
            ]
        }));
        let ok = fields(&[
            ("key", "uploads/a.txt"),
            ("Content-Type", "text/plain"),
            ("policy", "x"),
        ]);
        assert_eq!(
            check(&p, &ok, "b", now()).ok(),
            Some(Some(SizeRange { min: 1, max: 100 }))
        );
        let wrong_key = fields(&[("key", "other/a.txt"), ("Content-Type", "text/plain")]);
        assert_eq!(
            check(&p, &wrong_key, "b", now()).err().map(|e| e.code),
            Some("AccessDenied".into())
        );
        assert!(check(&p, &ok, "other-bucket", now()).is_err());
        let extra = fields(&[
            ("key", "uploads/a"),
            ("Content-Type", "text/plain"),
            ("acl", "public-read"),
        ]);
        assert!(check(&p, &extra, "b", now())
            .err()
            .is_some_and(|e| e.message.contains("Extra input fields: acl")));
        let ignored = fields(&[
            ("key", "uploads/a"),
            ("Content-Type", "text/plain"),
            ("x-ignore-me", "1"),
        ]);
        assert!(check(&p, &ignored, "b", now()).is_ok());
    }

    #[test]
    fn an_expired_or_malformed_policy_is_refused() {
        let p =
            policy(&serde_json::json!({"expiration": "2026-12-07T11:59:59Z", "conditions": []}));
        assert!(check(&p, &[], "b", now())
            .err()
            .is_some_and(|e| e.message.contains("Policy expired")));
        assert_eq!(
            check("not base64!", &[], "b", now()).err().map(|e| e.code),
            Some("InvalidPolicyDocument".into())
        );
    }
}
