//! Parameter policies (Advanced tier): Expiration, ExpirationNotification and
//! NoChangeNotification, parsed from the JSON array PutParameter takes.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamPolicy {
    /// Delete the parameter at this time (epoch millis).
    Expiration {
        /// When.
        at: i64,
    },
    /// Notify this many millis before the Expiration.
    ExpirationNotification {
        /// Lead time in millis.
        before: i64,
    },
    /// Notify when the parameter has not changed for this many millis.
    NoChangeNotification {
        /// Idle time in millis.
        after: i64,
    },
}

impl ParamPolicy {
    /// The policy type's AWS name.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Expiration { .. } => "Expiration",
            Self::ExpirationNotification { .. } => "ExpirationNotification",
            Self::NoChangeNotification { .. } => "NoChangeNotification",
        }
    }
}

/// Why a policy document was refused: (AWS error code, message).
pub type PolicyError = (&'static str, String);

fn attribute_err(msg: impl Into<String>) -> PolicyError {
    ("InvalidPolicyAttributeException", msg.into())
}

fn amount(attrs: &Value, key: &str, ty: &str) -> Result<i64, PolicyError> {
    let raw = attrs.get(key).ok_or_else(|| {
        attribute_err(format!(
            "A policy attribute {key} is missing for {ty} policy."
        ))
    })?;
    let n: i64 = match raw {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .filter(|n| *n > 0)
    .ok_or_else(|| {
        attribute_err(format!(
            "The policy attribute {key} of {ty} policy must be a positive integer."
        ))
    })?;
    let unit = attrs.get("Unit").and_then(Value::as_str).unwrap_or("Days");
    let ms = match unit {
        "Days" => 86_400_000,
        "Hours" => 3_600_000,
        _ => {
            return Err(attribute_err(format!(
                "The policy attribute Unit of {ty} policy must be Days or Hours."
            )))
        }
    };
    n.checked_mul(ms)
        .ok_or_else(|| attribute_err(format!("The policy attribute {key} is too large.")))
}

/// Parse a policies document: a JSON array of `{Type, Version, Attributes}` objects, each
/// type at most once; with `now`, an Expiration must lie after it. Returns each policy with its own JSON text.
///
/// # Errors
/// `InvalidPolicyTypeException` or `InvalidPolicyAttributeException` with a message.
pub fn parse(
    doc: &str,
    now: Option<DateTime<Utc>>,
) -> Result<Vec<(ParamPolicy, String)>, PolicyError> {
    let v: Value = serde_json::from_str(doc).map_err(|_| {
        (
            "InvalidPolicyTypeException",
            "The policy document is not valid JSON.".to_owned(),
        )
    })?;
    let Value::Array(items) = v else {
        return Err((
            "InvalidPolicyTypeException",
            "Parameter policies must be a JSON array.".to_owned(),
        ));
    };
    let mut out: Vec<(ParamPolicy, String)> = Vec::new();
    for item in items {
        let ty = item.get("Type").and_then(Value::as_str).unwrap_or_default();
        let attrs = item.get("Attributes").cloned().unwrap_or(Value::Null);
        let policy = match ty {
            "Expiration" => {
                let ts = attrs
                    .get("Timestamp")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        attribute_err("A policy attribute Timestamp is missing for Expiration policy.")
                    })?;
                // ISO_INSTANT or ISO_OFFSET_DATE_TIME, whose offset may carry seconds
                // (`+10:30:00`).
                let at = DateTime::parse_from_rfc3339(ts)
                    .or_else(|e| {
                        let cut = ts.len().saturating_sub(9);
                        match (ts.get(..cut), ts.get(cut..)) {
                            (Some(head), Some(off))
                                if (off.starts_with('+') || off.starts_with('-'))
                                    && off.ends_with(":00") =>
                            {
                                match off.get(..6) {
                                    Some(hm) => DateTime::parse_from_rfc3339(&format!("{head}{hm}")),
                                    None => Err(e),
                                }
                            }
                            _ => Err(e),
                        }
                    })
                    .map_err(|_| {
                        attribute_err(
                            "The Timestamp of an Expiration policy must be an ISO 8601 date and time.",
                        )
                    })?
                    .timestamp_millis();
                if now.is_some_and(|n| at <= n.timestamp_millis()) {
                    return Err(attribute_err(
                        "The Timestamp of an Expiration policy must be in the future.",
                    ));
                }
                ParamPolicy::Expiration { at }
            }
            "ExpirationNotification" => ParamPolicy::ExpirationNotification {
                before: amount(&attrs, "Before", ty)?,
            },
            "NoChangeNotification" => ParamPolicy::NoChangeNotification {
                after: amount(&attrs, "After", ty)?,
            },
            other => {
                return Err((
                    "InvalidPolicyTypeException",
                    format!("The policy type {other} is not supported. Supported policy types: Expiration, ExpirationNotification, NoChangeNotification."),
                ))
            }
        };
        if out.iter().any(|(p, _)| p.type_name() == policy.type_name()) {
            return Err((
                "InvalidPolicyTypeException",
                format!("Only one policy of type {ty} is allowed per parameter."),
            ));
        }
        out.push((policy, item.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_policy_types() {
        let now = Some(Utc::now());
        let doc = r#"[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2999-01-01T00:00:00.000Z"}},
            {"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"2","Unit":"Hours"}},
            {"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"3","Unit":"Days"}}]"#;
        let p = parse(doc, now).expect("valid");
        assert_eq!(p.len(), 3);
        assert_eq!(
            p[1].0,
            ParamPolicy::ExpirationNotification { before: 7_200_000 }
        );
        assert_eq!(
            p[2].0,
            ParamPolicy::NoChangeNotification {
                after: 3 * 86_400_000
            }
        );
    }

    #[test]
    fn expiration_accepts_iso_instant_and_offset_date_time() {
        for ts in [
            "2999-11-01T22:13:48.87Z",
            "2999-11-01T22:13:48.87+10:30:00",
            "2999-11-01T22:13:48+10:30",
        ] {
            let doc = format!(r#"[{{"Type":"Expiration","Attributes":{{"Timestamp":"{ts}"}}}}]"#);
            assert!(parse(&doc, Some(Utc::now())).is_ok(), "{ts}");
        }
        let odd = r#"[{"Type":"Expiration","Attributes":{"Timestamp":"2999-11-01T22:13é+1é:00"}}]"#;
        assert!(parse(odd, Some(Utc::now())).is_err());
    }

    #[test]
    fn refuses_bad_policies() {
        let now = Some(Utc::now());
        assert_eq!(
            parse("[{\"Type\":\"Nope\"}]", now).unwrap_err().0,
            "InvalidPolicyTypeException"
        );
        let past = r#"[{"Type":"Expiration","Attributes":{"Timestamp":"2001-01-01T00:00:00Z"}}]"#;
        assert_eq!(
            parse(past, now).unwrap_err().0,
            "InvalidPolicyAttributeException"
        );
        let unit = r#"[{"Type":"NoChangeNotification","Attributes":{"After":"3","Unit":"Weeks"}}]"#;
        assert!(parse(unit, now).is_err());
        assert!(parse("{}", now).is_err());
    }
}
