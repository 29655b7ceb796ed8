//! Validation of a decoded request against its model shape, with AWS's messages.
//!
//! AWS reports constraint failures as
//! `N validation error(s) detected: Value 'x' at 'memberPath' failed to satisfy constraint: ...`
//! joined by `; `; sensitive values are left out (`Value at 'plaintext' failed ...`).

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use base64::Engine as _;
use serde_json::Value;

use crate::error::AwsError;
use crate::model::{Kind, ServiceModel, Shape};

/// At most this many messages are listed, as AWS caps its list.
const MAX_LISTED: usize = 10;

/// A type mismatch that AWS reports as a serialization error rather than a constraint.
#[derive(Debug)]
struct TypeMismatch(String);

/// Validate `input` against the shape at `shape`. `code` is the service's validation error code
/// (`ValidationException` for JSON services, `ValidationError` for awsQuery).
///
/// # Errors
/// An [`AwsError`] naming every violated constraint, or a `SerializationException` when a value
/// has the wrong JSON type.
pub fn validate(
    model: &ServiceModel,
    shape: u32,
    input: &Value,
    code: &'static str,
) -> Result<(), AwsError> {
    let mut errors = Vec::new();
    let Some(sh) = model.shape(shape) else {
        return Ok(());
    };
    if let Err(TypeMismatch(m)) = check(model, sh, input, "", &mut errors, false, 0) {
        return Err(AwsError::serialization(m));
    }
    if errors.is_empty() {
        return Ok(());
    }
    let n = errors.len();
    errors.truncate(MAX_LISTED);
    let noun = if n == 1 { "error" } else { "errors" };
    Err(AwsError::validation(
        code,
        format!("{n} validation {noun} detected: {}", errors.join("; ")),
    ))
}

fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn join(path: &str, seg: &str) -> String {
    if path.is_empty() {
        seg.to_owned()
    } else {
        format!("{path}.{seg}")
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(shown).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn fail(
    errors: &mut Vec<String>,
    value: Option<&Value>,
    sensitive: bool,
    path: &str,
    constraint: &str,
) {
    let v = match (value, sensitive) {
        (None, _) => "Value null".to_owned(),
        (Some(_), true) => "Value".to_owned(),
        (Some(v), false) => format!("Value '{}'", shown(v)),
    };
    let at = if path.is_empty() {
        String::new()
    } else {
        format!(" at '{path}'")
    };
    errors.push(format!(
        "{v}{at} failed to satisfy constraint: {constraint}"
    ));
}

pub(crate) fn pattern_matches(pattern: &'static str, value: &str) -> bool {
    static CACHE: OnceLock<RwLock<HashMap<&'static str, Option<regex::Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| RwLock::new(HashMap::new()));
    if let Ok(map) = cache.read() {
        if let Some(re) = map.get(pattern) {
            // A model pattern the regex engine cannot express is not enforced (see DESIGN).
            return re.as_ref().is_none_or(|r| r.is_match(value));
        }
    }
    // Model patterns are unanchored Java regexes that must match the whole value.
    let anchored = format!("^(?:{pattern})$");
    let re = regex::RegexBuilder::new(&anchored)
        .size_limit(1 << 22)
        .build()
        .ok();
    let ok = re.as_ref().is_none_or(|r| r.is_match(value));
    if let Ok(mut map) = cache.write() {
        map.insert(pattern, re);
    }
    ok
}

fn length_checks(
    errors: &mut Vec<String>,
    value: &Value,
    sensitive: bool,
    path: &str,
    len: usize,
    min: Option<i64>,
    max: Option<i64>,
) {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    if let Some(min) = min {
        if len < min {
            fail(
                errors,
                Some(value),
                sensitive,
                path,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
    }
    if let Some(max) = max {
        if len > max {
            fail(
                errors,
                Some(value),
                sensitive,
                path,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check(
    model: &ServiceModel,
    shape: &Shape,
    value: &Value,
    path: &str,
    errors: &mut Vec<String>,
    inherited_sensitive: bool,
    depth: usize,
) -> Result<(), TypeMismatch> {
    if depth > 64 {
        return Err(TypeMismatch("Input nested too deeply".into()));
    }
    let sensitive = inherited_sensitive || shape.sensitive;
    if value.is_null() {
        return Ok(());
    }
    match &shape.kind {
        Kind::Structure {
            members,
            required,
            union,
            ..
        } => {
            let Value::Object(obj) = value else {
                return Err(TypeMismatch(format!(
                    "Expected an object for {}",
                    shape.name
                )));
            };
            for m in *members {
                let Some(msh) = model.shape(m.shape) else {
                    continue;
                };
                let mpath = join(path, &lower_first(m.name));
                match obj.get(m.name) {
                    None | Some(Value::Null) => {
                        if required.contains(&m.name) {
                            fail(errors, None, false, &mpath, "Member must not be null");
                        }
                    }
                    Some(v) => check(model, msh, v, &mpath, errors, sensitive, depth + 1)?,
                }
            }
            if *union {
                let set = members
                    .iter()
                    .filter(|m| obj.get(m.name).is_some_and(|v| !v.is_null()))
                    .count();
                if set > 1 {
                    errors.push(format!("Only one member of {} may be set", shape.name));
                }
            }
        }
        Kind::List {
            member, min, max, ..
        } => {
            let Value::Array(items) = value else {
                return Err(TypeMismatch(format!("Expected a list for {}", shape.name)));
            };
            length_checks(errors, value, sensitive, path, items.len(), *min, *max);
            if let Some(msh) = model.shape(*member) {
                for (i, item) in items.iter().enumerate() {
                    let ipath = join(path, &format!("{}.member", i + 1));
                    check(model, msh, item, &ipath, errors, sensitive, depth + 1)?;
                }
            }
        }
        Kind::Map {
            key,
            value: vshape,
            min,
            max,
            ..
        } => {
            let Value::Object(obj) = value else {
                return Err(TypeMismatch(format!("Expected a map for {}", shape.name)));
            };
            length_checks(errors, value, sensitive, path, obj.len(), *min, *max);
            let ksh = model.shape(*key);
            let vsh = model.shape(*vshape);
            for (k, v) in obj {
                if let Some(ksh) = ksh {
                    check(
                        model,
                        ksh,
                        &Value::String(k.clone()),
                        path,
                        errors,
                        sensitive,
                        depth + 1,
                    )?;
                }
                if let Some(vsh) = vsh {
                    check(model, vsh, v, &join(path, k), errors, sensitive, depth + 1)?;
                }
            }
        }
        Kind::String {
            min,
            max,
            pattern,
            enums,
        } => {
            let Value::String(s) = value else {
                return Err(TypeMismatch(format!(
                    "Expected a string for {}",
                    shape.name
                )));
            };
            if !enums.is_empty() {
                if !enums.contains(&s.as_str()) {
                    fail(
                        errors,
                        Some(value),
                        sensitive,
                        path,
                        &format!("Member must satisfy enum value set: [{}]", enums.join(", ")),
                    );
                }
                return Ok(());
            }
            length_checks(
                errors,
                value,
                sensitive,
                path,
                s.chars().count(),
                *min,
                *max,
            );
            if let Some(p) = pattern {
                if !pattern_matches(p, s) {
                    fail(
                        errors,
                        Some(value),
                        sensitive,
                        path,
                        &format!("Member must satisfy regular expression pattern: {p}"),
                    );
                }
            }
        }
        Kind::Integer { min, max } | Kind::Long { min, max } => {
            let Some(n) = value
                .as_i64()
                .or_else(|| value.as_f64().filter(|f| f.fract() == 0.0).map(|_| 0))
            else {
                return Err(TypeMismatch(format!(
                    "Expected an integer for {}",
                    shape.name
                )));
            };
            if matches!(shape.kind, Kind::Integer { .. }) && i32::try_from(n).is_err() {
                return Err(TypeMismatch(format!(
                    "Integer out of range for {}",
                    shape.name
                )));
            }
            if let Some(min) = min {
                if n < *min {
                    fail(
                        errors,
                        Some(value),
                        sensitive,
                        path,
                        &format!("Member must have value greater than or equal to {min}"),
                    );
                }
            }
            if let Some(max) = max {
                if n > *max {
                    fail(
                        errors,
                        Some(value),
                        sensitive,
                        path,
                        &format!("Member must have value less than or equal to {max}"),
                    );
                }
            }
        }
        Kind::Double { min, max } => {
            let Some(n) = value.as_f64() else {
                return Err(TypeMismatch(format!(
                    "Expected a number for {}",
                    shape.name
                )));
            };
            if let Some(min) = min {
                if n < *min {
                    fail(
                        errors,
                        Some(value),
                        sensitive,
                        path,
                        &format!("Member must have value greater than or equal to {min}"),
                    );
                }
            }
            if let Some(max) = max {
                if n > *max {
                    fail(
                        errors,
                        Some(value),
                        sensitive,
                        path,
                        &format!("Member must have value less than or equal to {max}"),
                    );
                }
            }
        }
        Kind::Boolean => {
            if !value.is_boolean() {
                return Err(TypeMismatch(format!(
                    "Expected a boolean for {}",
                    shape.name
                )));
            }
        }
        Kind::Timestamp { .. } => {
            let ok = match value {
                Value::Number(_) => true,
                Value::String(s) => crate::types::parse_timestamp(s).is_some(),
                _ => false,
            };
            if !ok {
                return Err(TypeMismatch(format!(
                    "Expected a timestamp for {}",
                    shape.name
                )));
            }
        }
        Kind::Blob { min, max } => {
            let Value::String(s) = value else {
                return Err(TypeMismatch(format!(
                    "Expected base64 data for {}",
                    shape.name
                )));
            };
            let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s.as_bytes()) else {
                return Err(TypeMismatch("Invalid base64 data".into()));
            };
            // AWS leaves the value out for binary members.
            length_checks(errors, value, true, path, bytes.len(), *min, *max);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::model::service;

    fn check(svc: &str, op: &str, input: &serde_json::Value) -> Result<(), crate::AwsError> {
        let model = service(svc).expect("model");
        let shape = model.operation(op).and_then(|o| o.input).expect("input");
        let code = if svc == "iam" {
            "ValidationError"
        } else {
            "ValidationException"
        };
        super::validate(model, shape, input, code)
    }

    #[test]
    fn a_missing_required_member_is_reported_as_null() {
        let e = check("kms", "Encrypt", &json!({ "Plaintext": "aGk=" })).expect_err("invalid");
        assert_eq!(e.code, "ValidationException");
        assert_eq!(e.message, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    }

    #[test]
    fn ranges_use_the_member_name_in_lower_camel_case() {
        let e =
            check("kms", "GenerateRandom", &json!({ "NumberOfBytes": 1025 })).expect_err("invalid");
        assert_eq!(e.message, "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024");
        let e =
            check("kms", "GenerateRandom", &json!({ "NumberOfBytes": 0 })).expect_err("invalid");
        assert!(e
            .message
            .ends_with("Member must have value greater than or equal to 1"));
    }

    #[test]
    fn sensitive_values_are_left_out_of_the_message() {
        let big =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, vec![7u8; 4097]);
        let e = check("kms", "Encrypt", &json!({ "KeyId": "k", "Plaintext": big }))
            .expect_err("invalid");
        assert_eq!(e.message, "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096");
    }

    #[test]
    fn enums_list_the_allowed_values() {
        let e = check("kms", "CreateKey", &json!({ "KeyUsage": "RANDOM" })).expect_err("invalid");
        assert!(e.message.starts_with("1 validation error detected: Value 'RANDOM' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: ["), "{}", e.message);
    }

    #[test]
    fn several_violations_are_counted_and_joined() {
        let name = "x".repeat(65);
        let e = check(
            "iam",
            "CreateUser",
            &json!({ "UserName": name, "Path": "no-slash" }),
        )
        .expect_err("invalid");
        assert!(
            e.message.starts_with("2 validation errors detected: "),
            "{}",
            e.message
        );
        assert!(e.message.contains("; "));
    }

    #[test]
    fn patterns_must_match_the_whole_value() {
        let e =
            check("iam", "CreateUser", &json!({ "UserName": "bad name!" })).expect_err("invalid");
        assert!(
            e.message
                .contains("Member must satisfy regular expression pattern"),
            "{}",
            e.message
        );
        check("iam", "CreateUser", &json!({ "UserName": "alice.b@x" })).expect("valid");
    }

    #[test]
    fn a_wrong_json_type_is_a_serialization_error() {
        let e = check("kms", "GenerateRandom", &json!({ "NumberOfBytes": "ten" }))
            .expect_err("invalid");
        assert_eq!(e.code, "SerializationException");
    }

    #[test]
    fn list_members_are_addressed_by_position() {
        let e = check(
            "kms",
            "CreateKey",
            &json!({ "Tags": [{ "TagKey": "a", "TagValue": "b" }, { "TagValue": "c" }] }),
        )
        .expect_err("invalid");
        assert!(
            e.message.contains("at 'tags.2.member.tagKey'"),
            "{}",
            e.message
        );
    }
}
