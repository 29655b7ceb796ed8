//! The `Condition` element: operators, set qualifiers, `...IfExists`, and their evaluation.

use std::net::IpAddr;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use ipnet::IpNet;

use crate::error::PolicyError;
use crate::glob::{self, Token};
use crate::variables::{text_of, Template};

/// A condition operator without its qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseOperator {
    /// `StringEquals`: exact, case-sensitive.
    StringEquals,
    /// `StringNotEquals`: negation of `StringEquals`.
    StringNotEquals,
    /// `StringEqualsIgnoreCase`: exact, case-insensitive.
    StringEqualsIgnoreCase,
    /// `StringNotEqualsIgnoreCase`: negation of `StringEqualsIgnoreCase`.
    StringNotEqualsIgnoreCase,
    /// `StringLike`: case-sensitive with `*` and `?` wildcards.
    StringLike,
    /// `StringNotLike`: negation of `StringLike`.
    StringNotLike,
    /// `NumericEquals`.
    NumericEquals,
    /// `NumericNotEquals`.
    NumericNotEquals,
    /// `NumericLessThan`.
    NumericLessThan,
    /// `NumericLessThanEquals`.
    NumericLessThanEquals,
    /// `NumericGreaterThan`.
    NumericGreaterThan,
    /// `NumericGreaterThanEquals`.
    NumericGreaterThanEquals,
    /// `DateEquals`.
    DateEquals,
    /// `DateNotEquals`.
    DateNotEquals,
    /// `DateLessThan`.
    DateLessThan,
    /// `DateLessThanEquals`.
    DateLessThanEquals,
    /// `DateGreaterThan`.
    DateGreaterThan,
    /// `DateGreaterThanEquals`.
    DateGreaterThanEquals,
    /// `Bool`: `true` or `false`, case-insensitive.
    Bool,
    /// `BinaryEquals`: base64-encoded bytes compared byte for byte.
    BinaryEquals,
    /// `IpAddress`: the address lies in one of the CIDR blocks.
    IpAddress,
    /// `NotIpAddress`: negation of `IpAddress`.
    NotIpAddress,
    /// `ArnEquals`: ARN comparison with wildcards per component (same as `ArnLike`).
    ArnEquals,
    /// `ArnLike`: ARN comparison with wildcards per component.
    ArnLike,
    /// `ArnNotEquals`: negation of `ArnEquals`.
    ArnNotEquals,
    /// `ArnNotLike`: negation of `ArnLike`.
    ArnNotLike,
    /// `Null`: `true` when the key must be absent, `false` when it must be present.
    Null,
}

const OPERATORS: [(&str, BaseOperator); 27] = [
    ("StringEquals", BaseOperator::StringEquals),
    ("StringNotEquals", BaseOperator::StringNotEquals),
    (
        "StringEqualsIgnoreCase",
        BaseOperator::StringEqualsIgnoreCase,
    ),
    (
        "StringNotEqualsIgnoreCase",
        BaseOperator::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", BaseOperator::StringLike),
    ("StringNotLike", BaseOperator::StringNotLike),
    ("NumericEquals", BaseOperator::NumericEquals),
    ("NumericNotEquals", BaseOperator::NumericNotEquals),
    ("NumericLessThan", BaseOperator::NumericLessThan),
    ("NumericLessThanEquals", BaseOperator::NumericLessThanEquals),
    ("NumericGreaterThan", BaseOperator::NumericGreaterThan),
    (
        "NumericGreaterThanEquals",
        BaseOperator::NumericGreaterThanEquals,
    ),
    ("DateEquals", BaseOperator::DateEquals),
    ("DateNotEquals", BaseOperator::DateNotEquals),
    ("DateLessThan", BaseOperator::DateLessThan),
    ("DateLessThanEquals", BaseOperator::DateLessThanEquals),
    ("DateGreaterThan", BaseOperator::DateGreaterThan),
    ("DateGreaterThanEquals", BaseOperator::DateGreaterThanEquals),
    ("Bool", BaseOperator::Bool),
    ("BinaryEquals", BaseOperator::BinaryEquals),
    ("IpAddress", BaseOperator::IpAddress),
    ("NotIpAddress", BaseOperator::NotIpAddress),
    ("ArnEquals", BaseOperator::ArnEquals),
    ("ArnLike", BaseOperator::ArnLike),
    ("ArnNotEquals", BaseOperator::ArnNotEquals),
    ("ArnNotLike", BaseOperator::ArnNotLike),
    ("Null", BaseOperator::Null),
];

impl BaseOperator {
    /// The positive operator this one negates, or `None` when it is not a negation.
    fn negates(self) -> Option<BaseOperator> {
        use BaseOperator as B;
        Some(match self {
            B::StringNotEquals => B::StringEquals,
            B::StringNotEqualsIgnoreCase => B::StringEqualsIgnoreCase,
            B::StringNotLike => B::StringLike,
            B::NumericNotEquals => B::NumericEquals,
            B::DateNotEquals => B::DateEquals,
            B::NotIpAddress => B::IpAddress,
            B::ArnNotEquals => B::ArnEquals,
            B::ArnNotLike => B::ArnLike,
            _ => return None,
        })
    }
}

/// `ForAllValues:` or `ForAnyValue:`, the set qualifiers for multivalued keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// `ForAllValues:`: every value of the key must satisfy the operator; true when the key is
    /// absent.
    ForAllValues,
    /// `ForAnyValue:`: at least one value of the key must satisfy the operator; false when the
    /// key is absent.
    ForAnyValue,
}

/// A full condition operator as written, such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The operator without qualifiers.
    pub base: BaseOperator,
    /// The set qualifier, if any.
    pub set: Option<SetQualifier>,
    /// Whether the `IfExists` suffix was given: an absent key then satisfies the condition.
    pub if_exists: bool,
}

impl Operator {
    /// Reads an operator name. Names are matched case-insensitively.
    pub(crate) fn parse(name: &str) -> Result<Operator, PolicyError> {
        let invalid = || PolicyError::InvalidConditionOperator(name.to_owned());
        let lower = name.to_ascii_lowercase();
        let (set, rest) = if let Some(rest) = lower.strip_prefix("forallvalues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else if let Some(rest) = lower.strip_prefix("foranyvalue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else {
            (None, lower.as_str())
        };
        let (if_exists, rest) = match rest.strip_suffix("ifexists") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let base = OPERATORS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(rest))
            .map(|(_, op)| *op)
            .ok_or_else(invalid)?;
        if base == BaseOperator::Null && (if_exists || set.is_some()) {
            return Err(invalid());
        }
        Ok(Operator {
            base,
            set,
            if_exists,
        })
    }
}

/// One test of a `Condition` block: an operator, one context key and the policy's values for
/// it, any of which may match.
#[derive(Debug, Clone)]
pub struct Condition {
    operator: Operator,
    key: String,
    key_lower: String,
    values: Vec<Template>,
    raw_values: Vec<String>,
}

impl Condition {
    /// Builds a condition; `values` are parsed for variables when `variables` is set.
    pub(crate) fn new(operator: Operator, key: &str, values: Vec<String>, variables: bool) -> Self {
        let templates = values
            .iter()
            .map(|v| {
                if variables {
                    Template::parse(v)
                } else {
                    Template::literal(v)
                }
            })
            .collect();
        Condition {
            operator,
            key: key.to_owned(),
            key_lower: key.to_lowercase(),
            values: templates,
            raw_values: values,
        }
    }

    /// The operator.
    #[must_use]
    pub fn operator(&self) -> &Operator {
        &self.operator
    }

    /// The context key, as written in the policy.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The policy's values for the key, as written (before variable substitution).
    #[must_use]
    pub fn values(&self) -> &[String] {
        &self.raw_values
    }

    /// Whether the condition holds. `lookup` gives a key's values (lower-cased key name),
    /// `None` when the key is absent.
    pub(crate) fn evaluate(&self, lookup: &dyn Fn(&str) -> Option<Vec<String>>) -> bool {
        let op = &self.operator;
        let present = lookup(&self.key_lower).filter(|v| !v.is_empty());
        if op.base == BaseOperator::Null {
            let absent = present.is_none();
            return self.values.iter().any(|t| {
                t.resolve(lookup)
                    .map(|tokens| text_of(&tokens).to_ascii_lowercase())
                    .is_some_and(|v| match v.as_str() {
                        "true" => absent,
                        "false" => !absent,
                        _ => false,
                    })
            });
        }
        let Some(request_values) = present else {
            if op.if_exists {
                return true;
            }
            return match op.set {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => op.base.negates().is_some(),
            };
        };
        // A policy value whose variable does not resolve matches no request value.
        let policy_values: Vec<Vec<Token>> = self
            .values
            .iter()
            .filter_map(|t| t.resolve(lookup))
            .collect();
        let (positive, negated) = match op.base.negates() {
            Some(positive) => (positive, true),
            None => (op.base, false),
        };
        let matches_any = |v: &str| policy_values.iter().any(|p| value_matches(positive, v, p));
        let satisfies = |v: &String| matches_any(v) != negated;
        // Without a qualifier a negated operator must hold for every value (none matches) and
        // a positive one for any value.
        let every = match op.set {
            Some(SetQualifier::ForAllValues) => true,
            Some(SetQualifier::ForAnyValue) => false,
            None => negated,
        };
        if every {
            request_values.iter().all(satisfies)
        } else {
            request_values.iter().any(satisfies)
        }
    }
}

/// Whether the request value `request` satisfies the positive operator `op` against one policy
/// value (as pattern tokens).
fn value_matches(op: BaseOperator, request: &str, policy: &[Token]) -> bool {
    use BaseOperator as B;
    match op {
        B::StringEquals => text_of(policy) == request,
        B::StringEqualsIgnoreCase => text_of(policy).to_lowercase() == request.to_lowercase(),
        B::StringLike => glob::matches(policy, &request.chars().collect::<Vec<_>>()),
        B::NumericEquals
        | B::NumericLessThan
        | B::NumericLessThanEquals
        | B::NumericGreaterThan
        | B::NumericGreaterThanEquals => {
            let (Some(r), Some(p)) = (parse_number(request), parse_number(&text_of(policy))) else {
                return false;
            };
            // Exact comparison is what NumericEquals means: "10" equals "10.0" and nothing else.
            #[allow(clippy::float_cmp)]
            match op {
                B::NumericEquals => r == p,
                B::NumericLessThan => r < p,
                B::NumericLessThanEquals => r <= p,
                B::NumericGreaterThan => r > p,
                _ => r >= p,
            }
        }
        B::DateEquals
        | B::DateLessThan
        | B::DateLessThanEquals
        | B::DateGreaterThan
        | B::DateGreaterThanEquals => {
            let (Some(r), Some(p)) = (parse_date(request), parse_date(&text_of(policy))) else {
                return false;
            };
            match op {
                B::DateEquals => r == p,
                B::DateLessThan => r < p,
                B::DateLessThanEquals => r <= p,
                B::DateGreaterThan => r > p,
                _ => r >= p,
            }
        }
        B::Bool => {
            let p = text_of(policy);
            let r = request.trim();
            (p.eq_ignore_ascii_case("true") || p.eq_ignore_ascii_case("false"))
                && p.eq_ignore_ascii_case(r)
        }
        B::BinaryEquals => {
            let engine = base64::engine::general_purpose::STANDARD;
            match (
                engine.decode(request.trim()),
                engine.decode(text_of(policy).trim()),
            ) {
                (Ok(r), Ok(p)) => r == p,
                _ => false,
            }
        }
        B::IpAddress => match (parse_ip(request), parse_cidr(&text_of(policy))) {
            (Some(ip), Some(net)) => net.contains(&ip),
            _ => false,
        },
        B::ArnEquals | B::ArnLike => {
            glob::arn_matches(policy, &request.chars().collect::<Vec<_>>())
        }
        // Negated operators and Null never reach here; they are evaluated through their
        // positive counterpart or on presence alone.
        _ => false,
    }
}

/// A decimal number as AWS numeric conditions read it: an optional sign, digits, an optional
/// fraction and exponent. `NaN` and infinities are refused.
fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E');
    if t.is_empty() || !t.chars().all(allowed) || !t.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A date in one of the forms AWS accepts: epoch seconds, ISO 8601 with or without a time and
/// zone (a missing zone is UTC).
pub(crate) fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        if let Ok(secs) = t.parse::<i64>() {
            return DateTime::from_timestamp(secs, 0);
        }
        if t.bytes().filter(|b| *b == b'.').count() == 1 && !t.contains('-') {
            if let Ok(secs) = t.parse::<f64>() {
                if secs.is_finite() && secs.abs() < 1e15 {
                    #[allow(clippy::cast_possible_truncation)]
                    let millis = (secs * 1000.0).round() as i64;
                    return DateTime::from_timestamp_millis(millis);
                }
            }
        }
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M%#z",
        "%Y%m%dT%H%M%S%#z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(t, format) {
            return Some(d.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%MZ",
        "%Y-%m-%dT%H:%M",
        "%Y%m%dT%H%M%SZ",
        "%Y-%m-%d %H:%M:%S%.f UTC",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, format) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// The request's IP address; an IPv4-mapped IPv6 address counts as its IPv4 address.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    let ip = t
        .parse::<IpAddr>()
        .ok()
        .or_else(|| t.parse::<IpNet>().ok().map(|n| n.addr()))?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    })
}

/// A CIDR block of the policy; a bare address is a block of one.
fn parse_cidr(text: &str) -> Option<IpNet> {
    let t = text.trim();
    t.parse::<IpNet>()
        .ok()
        .or_else(|| t.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_parse_with_qualifiers() {
        let op = Operator::parse("ForAnyValue:StringLikeIfExists").ok();
        assert_eq!(
            op,
            Some(Operator {
                base: BaseOperator::StringLike,
                set: Some(SetQualifier::ForAnyValue),
                if_exists: true
            })
        );
    }

    #[test]
    fn unknown_operator_is_refused() {
        assert_eq!(
            Operator::parse("StringEqualz"),
            Err(PolicyError::InvalidConditionOperator("StringEqualz".into()))
        );
        assert!(Operator::parse("NullIfExists").is_err());
        assert!(Operator::parse("ForAllValues:Null").is_err());
        assert!(Operator::parse("ForAllValues:").is_err());
    }

    #[test]
    fn dates_parse_in_iso_and_epoch_forms() {
        let expected = DateTime::from_timestamp(1_563_278_400, 0);
        for text in [
            "2019-07-16T12:00:00Z",
            "2019-07-16T12:00:00.000Z",
            "2019-07-16T14:00:00+02:00",
            "2019-07-16T12:00:00",
            "2019-07-16T12:00Z",
            "20190716T120000Z",
            "1563278400",
            "2019-07-16 12:00:00 UTC",
        ] {
            assert_eq!(parse_date(text), expected, "{text}");
        }
        assert_eq!(
            parse_date("2019-07-16"),
            DateTime::from_timestamp(1_563_235_200, 0)
        );
        assert_eq!(parse_date("not a date"), None);
        assert_eq!(parse_date("99999999999999999999"), None);
    }

    #[test]
    fn numbers_refuse_nan_and_infinity() {
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("1e999"), None);
        assert_eq!(parse_number("-2.5"), Some(-2.5));
        assert_eq!(parse_number("."), None);
    }

    #[test]
    fn ipv4_mapped_ipv6_request_counts_as_ipv4() {
        assert_eq!(parse_ip("::ffff:10.1.2.3"), "10.1.2.3".parse().ok());
    }
}
