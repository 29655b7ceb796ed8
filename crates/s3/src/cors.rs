//! Bucket CORS: the configuration (`PutBucketCors`, `GetBucketCors`, `DeleteBucketCors`, kept
//! in the bucket's settings) and its answers: to browser preflights (`OPTIONS`, unsigned, which
//! the server's front door hands to [`S3Service::preflight`]) and the `Access-Control-*`
//! headers added to actual requests from an allowed origin ([`S3Service::cors_headers`]).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use rampart_service::{AwsError, RequestContext};

use crate::records::BUCKETS;
use crate::{errors, S3Service};

/// The most rules a configuration holds.
pub const MAX_RULES: usize = 100;
/// The largest configuration accepted, in bytes of its XML form.
pub const MAX_BYTES: usize = 64 * 1024;
/// The methods a rule may allow.
const METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];
/// The `Vary` header of every CORS answer.
const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// One CORS rule, as configured.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CorsRule {
    /// The rule's ID.
    #[serde(default)]
    pub id: Option<String>,
    /// Request headers a preflight may name (each may hold one `*`).
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Methods allowed.
    pub allowed_methods: Vec<String>,
    /// Origins allowed (each may hold one `*`).
    pub allowed_origins: Vec<String>,
    /// Response headers a browser script may read.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight answer.
    #[serde(default)]
    pub max_age_seconds: Option<i64>,
}

/// `pattern` (at most one `*`, standing for any run of characters) matches `value`.
fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (p, v) = if ignore_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_owned(), value.to_owned())
    };
    match p.split_once('*') {
        None => p == v,
        Some((head, tail)) => {
            v.len() >= head.len() + tail.len() && v.starts_with(head) && v.ends_with(tail)
        }
    }
}

impl CorsRule {
    /// The allowed origin pattern `origin` matches, if any.
    fn origin_match(&self, origin: &str) -> Option<&str> {
        self.allowed_origins
            .iter()
            .find(|o| wildcard(o, origin, false))
            .map(String::as_str)
    }

    fn allows_method(&self, method: &str) -> bool {
        self.allowed_methods.iter().any(|m| m == method)
    }

    fn allows_header(&self, header: &str) -> bool {
        self.allowed_headers
            .iter()
            .any(|h| wildcard(h, header, true))
    }

    /// The headers (lower-case names) of an answer to `origin` under this rule (matched by
    /// `pattern`).
    fn answer(&self, pattern: &str, origin: &str) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if pattern == "*" {
            out.push(("access-control-allow-origin", "*".to_owned()));
        } else {
            out.push(("access-control-allow-origin", origin.to_owned()));
            out.push(("access-control-allow-credentials", "true".to_owned()));
        }
        out.push((
            "access-control-allow-methods",
            self.allowed_methods.join(", "),
        ));
        if !self.expose_headers.is_empty() {
            out.push((
                "access-control-expose-headers",
                self.expose_headers.join(", "),
            ));
        }
        if let Some(age) = self.max_age_seconds {
            out.push(("access-control-max-age", age.to_string()));
        }
        out.push(("vary", VARY.to_owned()));
        out
    }

    /// The rule's size as configuration XML (element names and values).
    fn xml_len(&self) -> usize {
        let element = |name: &str, v: &str| 2 * name.len() + 5 + v.len();
        let list = |name: &str, vs: &[String]| vs.iter().map(|v| element(name, v)).sum::<usize>();
        element("CORSRule", "")
            + self.id.as_deref().map_or(0, |i| element("ID", i))
            + list("AllowedHeader", &self.allowed_headers)
            + list("AllowedMethod", &self.allowed_methods)
            + list("AllowedOrigin", &self.allowed_origins)
            + list("ExposeHeader", &self.expose_headers)
            + self
                .max_age_seconds
                .map_or(0, |a| element("MaxAgeSeconds", &a.to_string()))
    }
}

fn malformed_xml() -> AwsError {
    AwsError::new(
        "MalformedXML",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

fn invalid(message: String) -> AwsError {
    AwsError::new("InvalidRequest", 400, message)
}

fn strings(rule: &Value, name: &str) -> Result<Vec<String>, AwsError> {
    match rule.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(malformed_xml))
            .collect(),
        Some(_) => Err(malformed_xml()),
    }
}

/// The rules of a `PutBucketCors` input, checked as S3 checks them.
///
/// # Errors
/// `MalformedXML` for a missing or empty part, too many rules or too large a configuration;
/// `InvalidRequest` for an unsupported method or a pattern with more than one wildcard.
pub fn parse_rules(input: &Value) -> Result<Vec<CorsRule>, AwsError> {
    let rules = input
        .pointer("/CORSConfiguration/CORSRules")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(malformed_xml)?;
    if rules.len() > MAX_RULES {
        return Err(malformed_xml());
    }
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        let rule = CorsRule {
            id: r.get("ID").and_then(Value::as_str).map(str::to_owned),
            allowed_headers: strings(r, "AllowedHeaders")?,
            allowed_methods: strings(r, "AllowedMethods")?,
            allowed_origins: strings(r, "AllowedOrigins")?,
            expose_headers: strings(r, "ExposeHeaders")?,
            max_age_seconds: r.get("MaxAgeSeconds").and_then(Value::as_i64),
        };
        if rule.allowed_methods.is_empty() || rule.allowed_origins.is_empty() {
            return Err(malformed_xml());
        }
        if rule.id.as_ref().is_some_and(|i| i.chars().count() > 255) {
            return Err(invalid(
                "The ID of a CORS rule must be at most 255 characters".to_owned(),
            ));
        }
        if let Some(m) = rule
            .allowed_methods
            .iter()
            .find(|m| !METHODS.contains(&m.as_str()))
        {
            return Err(invalid(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            )));
        }
        if let Some(o) = rule
            .allowed_origins
            .iter()
            .find(|o| o.matches('*').count() > 1)
        {
            return Err(invalid(format!(
                "AllowedOrigin \"{o}\" can not have more than one wildcard."
            )));
        }
        if let Some(h) = rule
            .allowed_headers
            .iter()
            .find(|h| h.matches('*').count() > 1)
        {
            return Err(invalid(format!(
                "AllowedHeader \"{h}\" can not have more than one wildcard."
            )));
        }
        out.push(rule);
    }
    let size = out.iter().map(CorsRule::xml_len).sum::<usize>() + 41;
    if size > MAX_BYTES {
        return Err(malformed_xml());
    }
    Ok(out)
}

/// The `GetBucketCors` output for `rules`.
#[must_use]
pub fn rules_output(rules: &[CorsRule]) -> Value {
    let rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            let mut o = serde_json::Map::new();
            if let Some(id) = &r.id {
                o.insert("ID".into(), json!(id));
            }
            if !r.allowed_headers.is_empty() {
                o.insert("AllowedHeaders".into(), json!(r.allowed_headers));
            }
            o.insert("AllowedMethods".into(), json!(r.allowed_methods));
            o.insert("AllowedOrigins".into(), json!(r.allowed_origins));
            if !r.expose_headers.is_empty() {
                o.insert("ExposeHeaders".into(), json!(r.expose_headers));
            }
            if let Some(a) = r.max_age_seconds {
                o.insert("MaxAgeSeconds".into(), json!(a));
            }
            Value::Object(o)
        })
        .collect();
    json!({ "CORSRules": rules })
}

fn forbidden(message: &str) -> AwsError {
    AwsError::new("AccessForbidden", 403, format!("CORSResponse: {message}"))
}

fn bad_request(message: String) -> AwsError {
    AwsError::new("BadRequest", 400, message)
}

/// The answer to a preflight under `rules`: the first rule matching the origin, the requested
/// method and every requested header.
///
/// # Errors
/// `BadRequest` without an origin or a valid requested method; `AccessForbidden` when no rule
/// allows the request.
pub fn preflight_answer(
    rules: Option<&[CorsRule]>,
    origin: Option<&str>,
    method: Option<&str>,
    request_headers: Option<&str>,
) -> Result<Vec<(&'static str, String)>, AwsError> {
    let origin = origin.filter(|o| !o.is_empty()).ok_or_else(|| {
        bad_request("Insufficient information. Origin request header needed.".to_owned())
    })?;
    let method = match method {
        Some(m) if METHODS.contains(&m) => m,
        other => {
            return Err(bad_request(format!(
                "Invalid Access-Control-Request-Method: {}",
                other.unwrap_or("null")
            )))
        }
    };
    let Some(rules) = rules else {
        return Err(forbidden("CORS is not enabled for this bucket."));
    };
    let asked: Vec<&str> = request_headers
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    for rule in rules {
        let Some(pattern) = rule.origin_match(origin) else {
            continue;
        };
        if !rule.allows_method(method) || !asked.iter().all(|h| rule.allows_header(h)) {
            continue;
        }
        let mut out = rule.answer(pattern, origin);
        if !asked.is_empty() {
            out.push((
                "access-control-allow-headers",
                asked
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        return Ok(out);
    }
    Err(forbidden(
        "This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
    ))
}

impl S3Service {
    pub(crate) async fn put_bucket_cors(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self.bucket(ctx, input, "s3:PutBucketCORS", None).await?;
        let rules = parse_rules(input)?;
        self.save_settings(&bucket, |s| {
            s.cors = Some(rules);
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn get_bucket_cors(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self.bucket(ctx, input, "s3:GetBucketCORS", None).await?;
        match self.settings(&bucket).await?.cors {
            Some(rules) => Ok(rules_output(&rules)),
            None => Err(AwsError::new(
                "NoSuchCORSConfiguration",
                404,
                "The CORS configuration does not exist",
            )),
        }
    }

    pub(crate) async fn delete_bucket_cors(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (bucket, _) = self.bucket(ctx, input, "s3:PutBucketCORS", None).await?;
        self.save_settings(&bucket, |s| {
            s.cors = None;
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    /// The answer to a browser's preflight (`OPTIONS`) on `bucket`: unauthenticated, from the
    /// bucket's CORS rules.
    ///
    /// # Errors
    /// `NoSuchBucket`; those of [`preflight_answer`]; the store's.
    pub async fn preflight(
        &self,
        bucket: &str,
        origin: Option<&str>,
        method: Option<&str>,
        request_headers: Option<&str>,
    ) -> Result<Vec<(&'static str, String)>, AwsError> {
        if BUCKETS.get(&*self.store, bucket).await?.is_none() {
            return Err(errors::no_such_bucket());
        }
        let rules = self.settings(bucket).await?.cors;
        preflight_answer(rules.as_deref(), origin, method, request_headers)
    }

    /// The `Access-Control-*` headers of an actual request with `origin` and `method` on
    /// `bucket`: the first rule allowing both, or none.
    pub async fn cors_headers(
        &self,
        bucket: &str,
        origin: &str,
        method: &str,
    ) -> Vec<(&'static str, String)> {
        let Ok(settings) = self.settings(bucket).await else {
            return Vec::new();
        };
        settings
            .cors
            .unwrap_or_default()
            .iter()
            .find_map(|r| {
                r.origin_match(origin)
                    .filter(|_| r.allows_method(method))
                    .map(|p| r.answer(p, origin))
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            allowed_methods: methods.iter().map(|s| (*s).to_owned()).collect(),
            allowed_headers: headers.iter().map(|s| (*s).to_owned()).collect(),
            ..CorsRule::default()
        }
    }

    #[test]
    fn one_wildcard_matches_any_run_of_characters() {
        assert!(wildcard(
            "https://*.example.com",
            "https://a.b.example.com",
            false
        ));
        assert!(!wildcard(
            "https://*.example.com",
            "http://a.example.com",
            false
        ));
        assert!(wildcard("x-amz-*", "X-Amz-Date", true));
        assert!(!wildcard("ab*ba", "aba", false));
    }

    #[test]
    fn the_first_rule_allowing_origin_method_and_headers_answers() {
        let rules = vec![
            rule(&["https://a.example"], &["GET"], &[]),
            rule(&["https://*.example"], &["PUT", "GET"], &["content-*"]),
        ];
        let got = preflight_answer(
            Some(&rules),
            Some("https://a.example"),
            Some("PUT"),
            Some("Content-Type"),
        )
        .unwrap_or_default();
        assert!(got.contains(&("access-control-allow-methods", "PUT, GET".to_owned())));
        assert!(got.contains(&("access-control-allow-headers", "content-type".to_owned())));
        let refused = preflight_answer(
            Some(&rules),
            Some("https://a.example"),
            Some("DELETE"),
            None,
        );
        assert_eq!(
            refused.map_err(|e| e.code.to_string()),
            Err("AccessForbidden".to_owned())
        );
        let none = preflight_answer(None, Some("https://a.example"), Some("GET"), None);
        assert_eq!(none.map_err(|e| e.status), Err(403));
    }

    #[test]
    fn configurations_are_checked_as_s3_checks_them() {
        let bad_method = json!({"CORSConfiguration": {"CORSRules": [
            {"AllowedMethods": ["PATCH"], "AllowedOrigins": ["*"]}]}});
        assert_eq!(
            parse_rules(&bad_method).map_err(|e| e.code.to_string()),
            Err("InvalidRequest".to_owned())
        );
        let no_rules = json!({"CORSConfiguration": {"CORSRules": []}});
        assert!(parse_rules(&no_rules).is_err());
        let two_stars = json!({"CORSConfiguration": {"CORSRules": [
            {"AllowedMethods": ["GET"], "AllowedOrigins": ["http://*.*.com"]}]}});
        assert!(parse_rules(&two_stars).is_err());
    }
}
