//! Attributes of application load balancers, their target groups and listeners: AWS's keys
//! for type `application` with their defaults and allowed values (ELBv2 API Reference,
//! `LoadBalancerAttribute`, `TargetGroupAttribute`, `ListenerAttribute`).
//!
//! Keys of other load balancer types (Network, Gateway) are not recognized, as on AWS for an
//! application load balancer. A few keys describe features Rampart's proxy does not have
//! (connection and health check logs, slow start, zonal shift, anomaly mitigation): they accept
//! only their default value, with an `InvalidConfigurationRequest` naming the gap otherwise.
//! The same holds for `routing.http2.enabled` (HTTP/2 cannot be turned off),
//! `client_keep_alive.seconds` (client connections are not closed after a set time),
//! `stickiness.enabled` (targets are not sticky) and the unhealthy-state routing threshold
//! (with no healthy target, all targets get traffic, as with the default).

use std::collections::BTreeMap;

use rampart_service::AwsError;

use crate::errors as err;

/// What a value may be.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// `true` or `false`.
    Bool,
    /// An integer in the inclusive range.
    Range(i64, i64),
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// An S3 bucket name, or empty.
    Bucket,
    /// An S3 prefix, or empty; never containing `AWSLogs`.
    Prefix,
    /// An HTTP header name (token characters), 1–40 characters.
    HeaderName,
    /// A response header value, validated per key.
    HeaderValue,
    /// Only the default (a feature Rampart does not have).
    DefaultOnly,
    /// An application cookie name (not `AWSALB…`), or empty.
    CookieName,
}

/// One attribute: key, default value, and check.
type Spec = (&'static str, &'static str, Check);

const BOOL: Check = Check::Bool;

/// Load balancer attributes of an application load balancer.
const LOAD_BALANCER: &[Spec] = &[
    ("access_logs.s3.bucket", "", Check::Bucket),
    ("access_logs.s3.enabled", "false", BOOL),
    ("access_logs.s3.prefix", "", Check::Prefix),
    ("client_keep_alive.seconds", "3600", Check::DefaultOnly),
    ("connection_logs.s3.bucket", "", Check::Bucket),
    ("connection_logs.s3.enabled", "false", Check::DefaultOnly),
    ("connection_logs.s3.prefix", "", Check::Prefix),
    ("deletion_protection.enabled", "false", BOOL),
    ("health_check_logs.s3.bucket", "", Check::Bucket),
    ("health_check_logs.s3.enabled", "false", Check::DefaultOnly),
    ("health_check_logs.s3.prefix", "", Check::Prefix),
    ("idle_timeout.timeout_seconds", "60", Check::Range(1, 4000)),
    ("ipv6.deny_all_igw_traffic", "false", BOOL),
    (
        "load_balancing.cross_zone.enabled",
        "true",
        Check::DefaultOnly,
    ),
    (
        "routing.http.desync_mitigation_mode",
        "defensive",
        Check::OneOf(&["monitor", "defensive", "strictest"]),
    ),
    (
        "routing.http.drop_invalid_header_fields.enabled",
        "false",
        BOOL,
    ),
    ("routing.http.preserve_host_header.enabled", "false", BOOL),
    (
        "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
        "false",
        BOOL,
    ),
    (
        "routing.http.x_amzn_tls_kx.enabled",
        "false",
        Check::DefaultOnly,
    ),
    ("routing.http.xff_client_port.enabled", "false", BOOL),
    (
        "routing.http.xff_header_processing.mode",
        "append",
        Check::OneOf(&["append", "preserve", "remove"]),
    ),
    ("routing.http2.enabled", "true", Check::DefaultOnly),
    ("waf.fail_open.enabled", "false", BOOL),
    ("zonal_shift.config.enabled", "false", Check::DefaultOnly),
];

/// Target group attributes of an application load balancer's instance or IP target group.
const TARGET_GROUP: &[Spec] = &[
    (
        "deregistration_delay.timeout_seconds",
        "300",
        Check::Range(0, 3600),
    ),
    (
        "load_balancing.algorithm.anomaly_mitigation",
        "off",
        Check::DefaultOnly,
    ),
    (
        "load_balancing.algorithm.type",
        "round_robin",
        Check::OneOf(&[
            "round_robin",
            "least_outstanding_requests",
            "weighted_random",
        ]),
    ),
    (
        "load_balancing.cross_zone.enabled",
        "use_load_balancer_configuration",
        Check::OneOf(&["true", "false", "use_load_balancer_configuration"]),
    ),
    ("slow_start.duration_seconds", "0", Check::DefaultOnly),
    ("stickiness.app_cookie.cookie_name", "", Check::CookieName),
    (
        "stickiness.app_cookie.duration_seconds",
        "86400",
        Check::Range(1, 604_800),
    ),
    ("stickiness.enabled", "false", Check::DefaultOnly),
    (
        "stickiness.lb_cookie.duration_seconds",
        "86400",
        Check::Range(1, 604_800),
    ),
    (
        "stickiness.type",
        "lb_cookie",
        Check::OneOf(&["lb_cookie", "app_cookie"]),
    ),
    (
        "target_group_health.dns_failover.minimum_healthy_targets.count",
        "1",
        Check::DefaultOnly,
    ),
    (
        "target_group_health.dns_failover.minimum_healthy_targets.percentage",
        "off",
        Check::DefaultOnly,
    ),
    (
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count",
        "1",
        Check::DefaultOnly,
    ),
    (
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage",
        "off",
        Check::DefaultOnly,
    ),
];

/// Listener attributes of an application load balancer's listener.
const LISTENER: &[Spec] = &[
    (
        "routing.http.request.x_amzn_mtls_clientcert.header_name",
        "X-Amzn-Mtls-Clientcert",
        Check::HeaderName,
    ),
    (
        "routing.http.request.x_amzn_mtls_clientcert_issuer.header_name",
        "X-Amzn-Mtls-Clientcert-Issuer",
        Check::HeaderName,
    ),
    (
        "routing.http.request.x_amzn_mtls_clientcert_leaf.header_name",
        "X-Amzn-Mtls-Clientcert-Leaf",
        Check::HeaderName,
    ),
    (
        "routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name",
        "X-Amzn-Mtls-Clientcert-Serial-Number",
        Check::HeaderName,
    ),
    (
        "routing.http.request.x_amzn_mtls_clientcert_subject.header_name",
        "X-Amzn-Mtls-Clientcert-Subject",
        Check::HeaderName,
    ),
    (
        "routing.http.request.x_amzn_mtls_clientcert_validity.header_name",
        "X-Amzn-Mtls-Clientcert-Validity",
        Check::HeaderName,
    ),
    (
        "routing.http.request.x_amzn_tls_cipher_suite.header_name",
        "X-Amzn-Tls-Cipher-Suite",
        Check::HeaderName,
    ),
    (
        "routing.http.request.x_amzn_tls_version.header_name",
        "X-Amzn-Tls-Version",
        Check::HeaderName,
    ),
    (
        "routing.http.response.access_control_allow_credentials.header_value",
        "",
        Check::HeaderValue,
    ),
    (
        "routing.http.response.access_control_allow_headers.header_value",
        "",
        Check::HeaderValue,
    ),
    (
        "routing.http.response.access_control_allow_methods.header_value",
        "",
        Check::HeaderValue,
    ),
    (
        "routing.http.response.access_control_allow_origin.header_value",
        "",
        Check::HeaderValue,
    ),
    (
        "routing.http.response.access_control_expose_headers.header_value",
        "",
        Check::HeaderValue,
    ),
    (
        "routing.http.response.access_control_max_age.header_value",
        "",
        Check::HeaderValue,
    ),
    (
        "routing.http.response.content_security_policy.header_value",
        "",
        Check::HeaderValue,
    ),
    ("routing.http.response.server.enabled", "true", BOOL),
    (
        "routing.http.response.strict_transport_security.header_value",
        "",
        Check::HeaderValue,
    ),
    (
        "routing.http.response.x_content_type_options.header_value",
        "",
        Check::HeaderValue,
    ),
    (
        "routing.http.response.x_frame_options.header_value",
        "",
        Check::HeaderValue,
    ),
];

/// Which resource the attributes belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Of {
    /// A load balancer.
    LoadBalancer,
    /// A target group.
    TargetGroup,
    /// A listener.
    Listener,
}

impl Of {
    fn specs(self) -> &'static [Spec] {
        match self {
            Of::LoadBalancer => LOAD_BALANCER,
            Of::TargetGroup => TARGET_GROUP,
            Of::Listener => LISTENER,
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Of::LoadBalancer => "Load balancer",
            Of::TargetGroup => "Target group",
            Of::Listener => "Listener",
        }
    }
}

/// The default of `key`, if it is a key of `of`.
#[must_use]
pub fn default_of(of: Of, key: &str) -> Option<&'static str> {
    of.specs()
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, d, _)| *d)
}

/// Every attribute of `of`: the stored value, else the default; `internal` load balancers deny
/// internet gateway traffic by default.
#[must_use]
pub fn effective(
    of: Of,
    stored: &BTreeMap<String, String>,
    internal: bool,
) -> Vec<(String, String)> {
    of.specs()
        .iter()
        .map(|(k, d, _)| {
            let v = stored.get(*k).cloned().unwrap_or_else(|| {
                if *k == "ipv6.deny_all_igw_traffic" && internal {
                    "true".to_owned()
                } else {
                    (*d).to_owned()
                }
            });
            ((*k).to_owned(), v)
        })
        .collect()
}

/// The value of `key` (stored, else default).
#[must_use]
pub fn get<'a>(stored: &'a BTreeMap<String, String>, of: Of, key: &str) -> &'a str {
    stored
        .get(key)
        .map(String::as_str)
        .or_else(|| default_of(of, key))
        .unwrap_or("")
}

/// Whether boolean attribute `key` is `true`.
#[must_use]
pub fn enabled(stored: &BTreeMap<String, String>, of: Of, key: &str) -> bool {
    get(stored, of, key) == "true"
}

/// An integer attribute (stored, else default), or `fallback`.
#[must_use]
pub fn number(stored: &BTreeMap<String, String>, of: Of, key: &str, fallback: i64) -> i64 {
    get(stored, of, key).parse().unwrap_or(fallback)
}

fn invalid(of: Of, key: &str, value: &str, why: &str) -> AwsError {
    err::validation(format!(
        "{} attribute '{key}' value '{value}' is not valid: {why}",
        of.noun()
    ))
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !b.contains("..")
}

fn check_header_value(of: Of, key: &str, value: &str) -> Result<(), AwsError> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > 1024 || value.chars().any(|c| c.is_control()) {
        return Err(invalid(of, key, value, "not a valid header value"));
    }
    let name = key
        .trim_start_matches("routing.http.response.")
        .trim_end_matches(".header_value");
    let ok = match name {
        "x_content_type_options" => value == "nosniff",
        "x_frame_options" => {
            value == "DENY" || value == "SAMEORIGIN" || value.starts_with("ALLOW-FROM ")
        }
        "access_control_allow_credentials" => value == "true",
        "access_control_max_age" => value.parse::<u32>().is_ok_and(|n| n <= 86_400),
        "access_control_allow_methods" => value.split(',').all(|m| {
            matches!(
                m.trim(),
                "GET" | "HEAD" | "POST" | "DELETE" | "PATCH" | "PUT" | "OPTIONS"
            )
        }),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(
            of,
            key,
            value,
            "not an allowed value for this header",
        ))
    }
}

/// Check one attribute of `of`.
///
/// # Errors
/// `ValidationError` for an unknown key (including keys of other load balancer types) or a
/// value out of its domain; `InvalidConfigurationRequest` for a feature Rampart lacks.
pub fn check(of: Of, key: &str, value: &str) -> Result<(), AwsError> {
    let Some((_, default, c)) = of.specs().iter().find(|(k, _, _)| *k == key) else {
        return Err(err::validation(format!(
            "{} attribute key '{key}' is not recognized",
            of.noun()
        )));
    };
    let ok = match c {
        Check::Bool => value == "true" || value == "false",
        Check::Range(lo, hi) => value.parse::<i64>().is_ok_and(|n| (*lo..=*hi).contains(&n)),
        Check::OneOf(words) => words.contains(&value),
        Check::Bucket => value.is_empty() || valid_bucket(value),
        Check::Prefix => {
            value.len() <= 1024 && !value.contains("AWSLogs") && !value.starts_with('/')
        }
        Check::HeaderName => {
            (1..=40).contains(&value.len())
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        Check::HeaderValue => return check_header_value(of, key, value),
        Check::CookieName => {
            value.is_empty()
                || (!value.starts_with("AWSALB")
                    && value.len() <= 255
                    && value
                        .chars()
                        .all(|c| c.is_ascii_graphic() && !";,=".contains(c)))
        }
        Check::DefaultOnly => {
            if value == *default {
                return Ok(());
            }
            return Err(AwsError::new(
                "InvalidConfigurationRequest",
                400,
                format!(
                    "Rampart's load balancer does not implement '{key}'; only its default value '{default}' is accepted"
                ),
            ));
        }
    };
    if ok {
        return Ok(());
    }
    let why = match c {
        Check::Bool => "must be 'true' or 'false'".to_owned(),
        Check::Range(lo, hi) => format!("must be an integer from {lo} to {hi}"),
        Check::OneOf(words) => format!("must be one of {}", words.join(", ")),
        Check::Bucket => "not a valid S3 bucket name".to_owned(),
        Check::Prefix => "a prefix must not start with '/' or contain 'AWSLogs'".to_owned(),
        Check::HeaderName => "not a valid header name".to_owned(),
        Check::CookieName => {
            "not a valid cookie name (names starting with AWSALB are reserved)".to_owned()
        }
        Check::HeaderValue | Check::DefaultOnly => String::new(),
    };
    Err(invalid(of, key, value, &why))
}

/// Check a whole ModifyXAttributes request against the current values and return the
/// resulting stored map.
///
/// # Errors
/// As [`check`]; plus `InvalidConfigurationRequest` when access logs would be enabled without
/// a bucket.
pub fn apply(
    of: Of,
    current: &BTreeMap<String, String>,
    changes: &[(String, String)],
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut next = current.clone();
    for (k, v) in changes {
        check(of, k, v)?;
        next.insert(k.clone(), v.clone());
    }
    if of == Of::LoadBalancer
        && enabled(&next, of, "access_logs.s3.enabled")
        && get(&next, of, "access_logs.s3.bucket").is_empty()
    {
        return Err(AwsError::new(
            "InvalidConfigurationRequest",
            400,
            "The value of 'access_logs.s3.bucket' cannot be empty when access logs are enabled",
        ));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_other_type_keys_are_not_recognized() {
        let e = check(
            Of::LoadBalancer,
            "dns_record.client_routing_policy",
            "any_availability_zone",
        )
        .unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert!(check(Of::TargetGroup, "proxy_protocol_v2.enabled", "true").is_err());
        assert!(check(Of::Listener, "tcp.idle_timeout.seconds", "100").is_err());
    }

    #[test]
    fn values_are_checked() {
        assert!(check(Of::LoadBalancer, "idle_timeout.timeout_seconds", "4000").is_ok());
        assert!(check(Of::LoadBalancer, "idle_timeout.timeout_seconds", "0").is_err());
        assert!(check(
            Of::LoadBalancer,
            "routing.http.xff_header_processing.mode",
            "drop"
        )
        .is_err());
        assert!(check(
            Of::TargetGroup,
            "deregistration_delay.timeout_seconds",
            "3601"
        )
        .is_err());
        assert!(check(
            Of::TargetGroup,
            "stickiness.app_cookie.cookie_name",
            "AWSALBX"
        )
        .is_err());
        assert!(check(
            Of::Listener,
            "routing.http.response.x_frame_options.header_value",
            "DENY"
        )
        .is_ok());
        assert!(check(
            Of::Listener,
            "routing.http.response.x_frame_options.header_value",
            "NO"
        )
        .is_err());
        let e = check(
            Of::LoadBalancer,
            "load_balancing.cross_zone.enabled",
            "false",
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidConfigurationRequest");
    }

    #[test]
    fn access_logs_need_a_bucket() {
        let cur = BTreeMap::new();
        let on = vec![("access_logs.s3.enabled".to_owned(), "true".to_owned())];
        assert!(apply(Of::LoadBalancer, &cur, &on).is_err());
        let mut both = on.clone();
        both.push(("access_logs.s3.bucket".to_owned(), "my-logs".to_owned()));
        let next = apply(Of::LoadBalancer, &cur, &both).unwrap();
        assert!(enabled(&next, Of::LoadBalancer, "access_logs.s3.enabled"));
    }

    #[test]
    fn effective_lists_every_key_with_defaults() {
        let v = effective(Of::LoadBalancer, &BTreeMap::new(), true);
        assert_eq!(v.len(), LOAD_BALANCER.len());
        assert!(v.contains(&("ipv6.deny_all_igw_traffic".to_owned(), "true".to_owned())));
        assert!(v.contains(&("idle_timeout.timeout_seconds".to_owned(), "60".to_owned())));
    }
}
