//! Validation of what the model cannot check: addresses, regular expressions, rules and ARNs.

use std::collections::HashSet;

use serde_json::Value;

use rampart_service::{Arn, AwsError};

use crate::errors::{invalid, limits_exceeded, BAD_FORMAT};

/// Most addresses in one IP set.
pub const MAX_ADDRESSES: usize = 10_000;
/// Most regular expressions in one regex pattern set.
pub const MAX_REGEXES: usize = 10;
/// Longest regular expression AWS accepts, in characters.
pub const MAX_REGEX_LEN: usize = 200;
/// Compiled-program size limit for one regular expression.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// IP set addresses: CIDR blocks of the set's version (`IPV4` or `IPV6`), prefix length 1 or
/// more, at most [`MAX_ADDRESSES`].
///
/// # Errors
/// `WAFInvalidParameterException` (field `IP_ADDRESS`) naming the first bad address, or
/// `WAFLimitsExceededException` past the limit.
pub fn ip_addresses(version: &str, addresses: &[String]) -> Result<(), AwsError> {
    if addresses.len() > MAX_ADDRESSES {
        return Err(limits_exceeded());
    }
    for a in addresses {
        let ok = match a.parse::<ipnet::IpNet>() {
            Ok(ipnet::IpNet::V4(n)) => version == "IPV4" && n.prefix_len() > 0,
            Ok(ipnet::IpNet::V6(n)) => version == "IPV6" && n.prefix_len() > 0,
            Err(_) => false,
        };
        if !ok {
            return Err(invalid("IP_ADDRESS", a, BAD_FORMAT));
        }
    }
    Ok(())
}

/// One regular expression: at most [`MAX_REGEX_LEN`] characters and compilable by the engine's
/// regex library (which, like AWS, has no backreferences or lookaround).
///
/// # Errors
/// `WAFInvalidParameterException` with `field` naming where it was.
pub fn regex(field: &str, pattern: &str) -> Result<(), AwsError> {
    if pattern.chars().count() > MAX_REGEX_LEN {
        return Err(invalid(field, pattern, "The regex is too long."));
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(|_| ())
        .map_err(|_| invalid(field, pattern, BAD_FORMAT))
}

/// Regex pattern set contents.
///
/// # Errors
/// As [`regex`], and `WAFLimitsExceededException` past [`MAX_REGEXES`].
pub fn regex_list(patterns: &[String]) -> Result<(), AwsError> {
    if patterns.len() > MAX_REGEXES {
        return Err(limits_exceeded());
    }
    patterns
        .iter()
        .try_for_each(|p| regex("REGEX_PATTERN_SET", p))
}

/// The statement types of the model, by their member names.
const STATEMENTS: &[&str] = &[
    "ByteMatchStatement",
    "SqliMatchStatement",
    "XssMatchStatement",
    "SizeConstraintStatement",
    "GeoMatchStatement",
    "RuleGroupReferenceStatement",
    "IPSetReferenceStatement",
    "RegexPatternSetReferenceStatement",
    "RateBasedStatement",
    "AndStatement",
    "OrStatement",
    "NotStatement",
    "ManagedRuleGroupStatement",
    "LabelMatchStatement",
    "RegexMatchStatement",
    "AsnMatchStatement",
];

/// A reference from a rule to another entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// An IP set, by ARN.
    IpSet(String),
    /// A regex pattern set, by ARN.
    RegexPatternSet(String),
    /// A rule group, by ARN.
    RuleGroup(String),
    /// A managed rule group, by vendor and name.
    Managed(String, String),
}

/// Where a list of rules lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A web ACL: rule group statements allowed, with an override action.
    WebAcl,
    /// A rule group: no rule group statements.
    RuleGroup,
}

/// Rules (JSON `Rule` objects, already checked against the model): unique names and
/// priorities, one statement type per statement, the right action member, valid regexes.
/// Returns the entities they reference.
///
/// # Errors
/// `WAFInvalidParameterException` or `WAFDuplicateItemException` naming the problem.
pub fn rules(rules: &[Value], owner: Owner) -> Result<Vec<Reference>, AwsError> {
    let mut names = HashSet::new();
    let mut priorities = HashSet::new();
    let mut refs = Vec::new();
    for rule in rules {
        let name = rule.get("Name").and_then(Value::as_str).unwrap_or("");
        if !names.insert(name.to_owned()) {
            return Err(crate::errors::duplicate());
        }
        let priority = rule.get("Priority").and_then(Value::as_i64).unwrap_or(0);
        if !priorities.insert(priority) {
            return Err(crate::errors::duplicate());
        }
        let statement = rule.get("Statement").unwrap_or(&Value::Null);
        let top = statement_kind(statement)?;
        let is_group = matches!(
            top,
            "RuleGroupReferenceStatement" | "ManagedRuleGroupStatement"
        );
        if is_group && owner == Owner::RuleGroup {
            return Err(invalid("STATEMENT", top, BAD_FORMAT));
        }
        let has_action = rule.get("Action").is_some();
        let has_override = rule.get("OverrideAction").is_some();
        if is_group && (has_action || !has_override) {
            return Err(invalid("OVERRIDE_ACTION", name, BAD_FORMAT));
        }
        if !is_group && (has_override || !has_action) {
            return Err(invalid("RULE_ACTION", name, BAD_FORMAT));
        }
        walk(statement, &mut refs, true)?;
    }
    Ok(refs)
}

/// The one statement type set in a `Statement`.
fn statement_kind(statement: &Value) -> Result<&'static str, AwsError> {
    let obj = statement
        .as_object()
        .ok_or_else(|| invalid("STATEMENT", "Statement", BAD_FORMAT))?;
    let mut set = STATEMENTS.iter().filter(|k| obj.contains_key(**k));
    match (set.next(), set.next()) {
        (Some(k), None) if obj.len() == 1 => Ok(k),
        _ => Err(invalid(
            "STATEMENT",
            "Statement",
            "You must specify exactly one statement.",
        )),
    }
}

fn arn_of(s: &Value) -> String {
    s.get("ARN")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn walk(statement: &Value, refs: &mut Vec<Reference>, top: bool) -> Result<(), AwsError> {
    let kind = statement_kind(statement)?;
    let s = &statement[kind];
    match kind {
        "IPSetReferenceStatement" => refs.push(Reference::IpSet(arn_of(s))),
        "RegexPatternSetReferenceStatement" => refs.push(Reference::RegexPatternSet(arn_of(s))),
        "RuleGroupReferenceStatement" | "ManagedRuleGroupStatement" if !top => {
            return Err(invalid(
                "STATEMENT",
                kind,
                "The statement cannot be nested.",
            ));
        }
        "RuleGroupReferenceStatement" => refs.push(Reference::RuleGroup(arn_of(s))),
        "ManagedRuleGroupStatement" => {
            let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            refs.push(Reference::Managed(field("VendorName"), field("Name")));
            if let Some(sd) = s.get("ScopeDownStatement") {
                walk(sd, refs, false)?;
            }
        }
        "RegexMatchStatement" => {
            let p = s.get("RegexString").and_then(Value::as_str).unwrap_or("");
            regex("STATEMENT", p)?;
        }
        "RateBasedStatement" => {
            if let Some(sd) = s.get("ScopeDownStatement") {
                walk(sd, refs, false)?;
            }
        }
        "AndStatement" | "OrStatement" => {
            let list = s
                .get("Statements")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            if list.len() < 2 {
                let field = if kind == "AndStatement" {
                    "AND_STATEMENT"
                } else {
                    "OR_STATEMENT"
                };
                return Err(invalid(
                    field,
                    kind,
                    "You must specify at least two statements.",
                ));
            }
            for x in list {
                walk(x, refs, false)?;
            }
        }
        "NotStatement" => walk(s.get("Statement").unwrap_or(&Value::Null), refs, false)?,
        _ => {}
    }
    Ok(())
}

/// An Application Load Balancer ARN in the caller's partition, region and account:
/// `arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>` (name of 1–32
/// alphanumerics and hyphens, not starting or ending with a hyphen; id of 16 hex digits).
///
/// # Errors
/// `WAFInvalidParameterException` (field `RESOURCE_ARN`).
pub fn load_balancer_arn(arn: &str, region: &str, account: &str) -> Result<(), AwsError> {
    let bad = || invalid("RESOURCE_ARN", arn, BAD_FORMAT);
    let a = Arn::parse(arn).ok_or_else(bad)?;
    if a.service != "elasticloadbalancing" || a.region != region || a.account != account {
        return Err(bad());
    }
    let parts: Vec<&str> = a.resource.split('/').collect();
    let ["loadbalancer", "app", name, id] = parts.as_slice() else {
        return Err(bad());
    };
    let name_ok = (1..=32).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    let id_ok = id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit());
    if name_ok && id_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// A logging destination, as AWS accepts them: a Firehose delivery stream, an S3 bucket, or a
/// CloudWatch Logs log group, whose name starts with `aws-waf-logs-`.
///
/// # Errors
/// `WAFInvalidParameterException` (field `LOG_DESTINATION`).
pub fn log_destination(arn: &str) -> Result<(), AwsError> {
    let bad = || invalid("LOG_DESTINATION", arn, BAD_FORMAT);
    let a = Arn::parse(arn).ok_or_else(bad)?;
    let name = match a.service {
        "firehose" => a.resource.strip_prefix("deliverystream/"),
        "s3" => Some(a.resource.split('/').next().unwrap_or("")),
        "logs" => a
            .resource
            .strip_prefix("log-group:")
            .map(|n| n.strip_suffix(":*").unwrap_or(n)),
        _ => None,
    }
    .ok_or_else(bad)?;
    if name.starts_with("aws-waf-logs-") && name.len() > "aws-waf-logs-".len() {
        Ok(())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_are_cidrs_of_the_set_version() {
        assert!(ip_addresses("IPV4", &["10.0.0.0/8".into(), "192.0.2.44/32".into()]).is_ok());
        assert!(ip_addresses("IPV6", &["2001:db8::/32".into()]).is_ok());
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/0",
            "2001:db8::/32",
            "x/8",
        ] {
            assert!(ip_addresses("IPV4", &[bad.into()]).is_err(), "{bad}");
        }
        let many: Vec<String> = (0..=MAX_ADDRESSES)
            .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
            .collect();
        assert_eq!(
            ip_addresses("IPV4", &many).map_err(|e| e.code),
            Err("WAFLimitsExceededException".into())
        );
    }

    #[test]
    fn regexes_must_compile_and_fit_the_limits() {
        assert!(regex("X", "^/admin(/.*)?$").is_ok());
        assert!(regex("X", "(a").is_err());
        assert!(regex("X", "(?=x)").is_err());
        assert!(regex("X", &"a".repeat(201)).is_err());
    }

    #[test]
    fn rules_need_one_statement_and_the_right_action() {
        let geo = json!({"Name": "g", "Priority": 1, "Action": {"Block": {}}, "Statement": {"GeoMatchStatement": {"CountryCodes": ["FR"]}}});
        assert!(rules(std::slice::from_ref(&geo), Owner::WebAcl).is_ok());
        let dup = json!({"Name": "g", "Priority": 2, "Action": {"Block": {}}, "Statement": {"GeoMatchStatement": {}}});
        assert!(rules(&[geo.clone(), dup], Owner::WebAcl).is_err());
        let two = json!({"Name": "t", "Priority": 1, "Action": {"Block": {}}, "Statement": {"GeoMatchStatement": {}, "LabelMatchStatement": {}}});
        assert!(rules(&[two], Owner::WebAcl).is_err());
        let group = json!({"Name": "m", "Priority": 1, "OverrideAction": {"None": {}}, "Statement": {"ManagedRuleGroupStatement": {"VendorName": "Rampart", "Name": "RampartSQLiRuleSet"}}});
        assert_eq!(
            rules(std::slice::from_ref(&group), Owner::WebAcl).ok(),
            Some(vec![Reference::Managed(
                "Rampart".into(),
                "RampartSQLiRuleSet".into()
            )])
        );
        assert!(rules(&[group], Owner::RuleGroup).is_err());
    }

    #[test]
    fn load_balancer_and_log_destination_arns_are_checked() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/my-alb/50dc6c495c0c9188";
        assert!(load_balancer_arn(lb, "us-east-1", "111122223333").is_ok());
        assert!(load_balancer_arn(lb, "eu-west-1", "111122223333").is_err());
        assert!(load_balancer_arn("arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/net/x/50dc6c495c0c9188", "us-east-1", "111122223333").is_err());
        assert!(log_destination(
            "arn:aws:firehose:us-east-1:111122223333:deliverystream/aws-waf-logs-x"
        )
        .is_ok());
        assert!(log_destination("arn:aws:s3:::aws-waf-logs-bucket").is_ok());
        assert!(
            log_destination("arn:aws:logs:us-east-1:111122223333:log-group:aws-waf-logs-g").is_ok()
        );
        assert!(log_destination("arn:aws:s3:::my-bucket").is_err());
    }
}
