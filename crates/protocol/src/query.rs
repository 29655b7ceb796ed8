//! awsQuery: form-encoded requests decoded along the model, XML responses encoded along it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::error::AwsError;
use crate::model::{Kind, Operation, ServiceModel, Shape};
use crate::types::{format_iso8601, parse_timestamp};

/// Decoded form parameters, sorted so that prefixes can be probed with range queries.
pub type Params = BTreeMap<String, String>;

/// Parse an `application/x-www-form-urlencoded` body (or query string) into parameters.
#[must_use]
pub fn parse_form(body: &[u8]) -> Params {
    form_urlencoded::parse(body).into_owned().collect()
}

fn has_prefix(params: &Params, prefix: &str) -> bool {
    if params.contains_key(prefix) {
        return true;
    }
    let dotted = format!("{prefix}.");
    params
        .range(dotted.clone()..)
        .next()
        .is_some_and(|(k, _)| k.starts_with(&dotted))
}

/// Decode the input of `op` from form parameters into the canonical JSON form.
///
/// # Errors
/// `ValidationError` when a scalar does not parse as its shape's type.
pub fn decode_input(
    model: &ServiceModel,
    op: &Operation,
    params: &Params,
) -> Result<Value, AwsError> {
    decode_input_as(model, op, params, false)
}

/// Decode the input of `op` from form parameters, with ec2Query's naming rules when `ec2`:
/// a member's `queryName`, else its `locationName` capitalised, else its name; lists as
/// `Name.N` with no `member` level.
///
/// # Errors
/// `ValidationError` when a scalar does not parse as its shape's type.
pub fn decode_input_as(
    model: &ServiceModel,
    op: &Operation,
    params: &Params,
    ec2: bool,
) -> Result<Value, AwsError> {
    let Some(shape) = op.input.and_then(|i| model.shape(i)) else {
        return Ok(Value::Object(Map::new()));
    };
    Ok(decode_struct(model, shape, params, "", 0, ec2)?
        .unwrap_or_else(|| Value::Object(Map::new())))
}

/// The ec2Query parameter name of a member.
fn ec2_name(m: &crate::model::Member) -> std::borrow::Cow<'static, str> {
    if let Some(q) = m.query_name {
        return q.into();
    }
    match m.location_name {
        Some(l) => {
            let mut c = l.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>().into(),
                None => m.name.into(),
            }
        }
        None => m.name.into(),
    }
}

fn decode_struct(
    model: &ServiceModel,
    shape: &Shape,
    params: &Params,
    prefix: &str,
    depth: usize,
    ec2: bool,
) -> Result<Option<Value>, AwsError> {
    let Kind::Structure { members, .. } = &shape.kind else {
        return Ok(None);
    };
    let mut obj = Map::new();
    for m in *members {
        let wire: std::borrow::Cow<'static, str> = if ec2 {
            ec2_name(m)
        } else {
            m.location_name.unwrap_or(m.name).into()
        };
        let key = if prefix.is_empty() {
            wire.into_owned()
        } else {
            format!("{prefix}.{wire}")
        };
        if !has_prefix(params, &key) {
            continue;
        }
        let Some(msh) = model.shape(m.shape) else {
            continue;
        };
        if let Some(v) = decode_value(model, msh, params, &key, m.flattened || ec2, depth + 1, ec2)?
        {
            obj.insert(m.name.to_owned(), v);
        }
    }
    Ok(Some(Value::Object(obj)))
}

fn decode_value(
    model: &ServiceModel,
    shape: &Shape,
    params: &Params,
    key: &str,
    flattened: bool,
    depth: usize,
    ec2: bool,
) -> Result<Option<Value>, AwsError> {
    if depth > 32 {
        return Err(AwsError::validation(
            "ValidationError",
            "Request nested too deeply",
        ));
    }
    let scalar = params.get(key);
    let bad = |what: &str| {
        AwsError::validation(
            "ValidationError",
            format!("1 validation error detected: Value '{}' at '{key}' failed to satisfy constraint: Member must be {what}", scalar.map_or("", String::as_str)),
        )
    };
    match &shape.kind {
        Kind::Structure { .. } => decode_struct(model, shape, params, key, depth, ec2),
        Kind::List {
            member,
            member_name,
            flattened: lf,
            ..
        } => {
            if scalar.is_some_and(String::is_empty) && !has_prefix(params, &format!("{key}.1")) {
                return Ok(Some(Value::Array(Vec::new())));
            }
            let Some(msh) = model.shape(*member) else {
                return Ok(None);
            };
            let base = if flattened || *lf || ec2 {
                key.to_owned()
            } else {
                format!("{key}.{}", member_name.unwrap_or("member"))
            };
            let mut items = Vec::new();
            for i in 1..=10_000 {
                let ik = format!("{base}.{i}");
                if !has_prefix(params, &ik) {
                    break;
                }
                if let Some(v) = decode_value(model, msh, params, &ik, false, depth + 1, ec2)? {
                    items.push(v);
                }
            }
            Ok(Some(Value::Array(items)))
        }
        Kind::Map {
            key: ks,
            value: vs,
            key_name,
            value_name,
            flattened: mf,
            ..
        } => {
            let (Some(_), Some(vsh)) = (model.shape(*ks), model.shape(*vs)) else {
                return Ok(None);
            };
            let base = if flattened || *mf {
                key.to_owned()
            } else {
                format!("{key}.entry")
            };
            let mut obj = Map::new();
            for i in 1..=10_000 {
                let ek = format!("{base}.{i}");
                if !has_prefix(params, &ek) {
                    break;
                }
                let Some(k) = params.get(&format!("{ek}.{}", key_name.unwrap_or("key"))) else {
                    continue;
                };
                let vk = format!("{ek}.{}", value_name.unwrap_or("value"));
                if let Some(v) = decode_value(model, vsh, params, &vk, false, depth + 1, ec2)? {
                    obj.insert(k.clone(), v);
                }
            }
            Ok(Some(Value::Object(obj)))
        }
        Kind::String { .. } | Kind::Blob { .. } => Ok(scalar.map(|s| Value::String(s.clone()))),
        Kind::Integer { .. } | Kind::Long { .. } => match scalar {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<i64>()
                .map(|n| Some(Value::from(n)))
                .map_err(|_| bad("an integer")),
        },
        Kind::Double { .. } => match scalar {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(|n| Some(Value::Number(n)))
                .ok_or_else(|| bad("a number")),
        },
        Kind::Boolean => match scalar.map(String::as_str) {
            None => Ok(None),
            Some("true") => Ok(Some(Value::Bool(true))),
            Some("false") => Ok(Some(Value::Bool(false))),
            Some(_) => Err(bad("a boolean")),
        },
        Kind::Timestamp { .. } => match scalar {
            None => Ok(None),
            Some(s) => parse_timestamp(s)
                .and_then(serde_json::Number::from_f64)
                .map(|n| Some(Value::Number(n)))
                .ok_or_else(|| bad("a timestamp")),
        },
    }
}

/// Escape text for XML content.
pub fn escape(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Encode a successful response of `op` as awsQuery XML.
#[must_use]
pub fn encode_output(
    model: &ServiceModel,
    op: &Operation,
    output: &Value,
    request_id: &str,
) -> String {
    let ns = model.xml_namespace.unwrap_or("");
    let mut out = String::with_capacity(512);
    let _ = write!(out, "<{}Response xmlns=\"{ns}\">", op.name);
    if let Some(shape) = op.output.and_then(|i| model.shape(i)) {
        let wrapper = op
            .result_wrapper
            .map_or_else(|| format!("{}Result", op.name), str::to_owned);
        let _ = write!(out, "<{wrapper}>");
        encode_members(model, shape, output, &mut out, 0);
        let _ = write!(out, "</{wrapper}>");
    }
    let _ = write!(
        out,
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{}Response>",
        op.name
    );
    out
}

fn encode_members(
    model: &ServiceModel,
    shape: &Shape,
    value: &Value,
    out: &mut String,
    depth: usize,
) {
    let (Kind::Structure { members, .. }, Value::Object(obj)) = (&shape.kind, value) else {
        return;
    };
    for m in *members {
        let Some(v) = obj.get(m.name) else { continue };
        if v.is_null() {
            continue;
        }
        let Some(msh) = model.shape(m.shape) else {
            continue;
        };
        let name = m.location_name.unwrap_or(m.name);
        encode_value(model, msh, v, name, m.flattened, out, depth + 1);
    }
}

fn encode_value(
    model: &ServiceModel,
    shape: &Shape,
    value: &Value,
    name: &str,
    flattened: bool,
    out: &mut String,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    match &shape.kind {
        Kind::Structure { .. } => {
            let _ = write!(out, "<{name}>");
            encode_members(model, shape, value, out, depth);
            let _ = write!(out, "</{name}>");
        }
        Kind::List {
            member,
            member_name,
            flattened: lf,
            ..
        } => {
            let (Value::Array(items), Some(msh)) = (value, model.shape(*member)) else {
                return;
            };
            if flattened || *lf {
                for item in items {
                    encode_value(model, msh, item, name, false, out, depth + 1);
                }
            } else {
                let _ = write!(out, "<{name}>");
                for item in items {
                    encode_value(
                        model,
                        msh,
                        item,
                        member_name.unwrap_or("member"),
                        false,
                        out,
                        depth + 1,
                    );
                }
                let _ = write!(out, "</{name}>");
            }
        }
        Kind::Map {
            value: vs,
            key_name,
            value_name,
            ..
        } => {
            let (Value::Object(obj), Some(vsh)) = (value, model.shape(*vs)) else {
                return;
            };
            let _ = write!(out, "<{name}>");
            for (k, v) in obj {
                out.push_str("<entry>");
                let kn = key_name.unwrap_or("key");
                let _ = write!(out, "<{kn}>");
                escape(out, k);
                let _ = write!(out, "</{kn}>");
                encode_value(
                    model,
                    vsh,
                    v,
                    value_name.unwrap_or("value"),
                    false,
                    out,
                    depth + 1,
                );
                out.push_str("</entry>");
            }
            let _ = write!(out, "</{name}>");
        }
        Kind::Timestamp { .. } => {
            let text = match value {
                Value::Number(n) => format_iso8601(n.as_f64().unwrap_or(0.0)),
                Value::String(s) => s.clone(),
                _ => return,
            };
            let _ = write!(out, "<{name}>{text}</{name}>");
        }
        _ => {
            let _ = write!(out, "<{name}>");
            match value {
                Value::String(s) => escape(out, s),
                Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                Value::Number(n) => {
                    let _ = write!(out, "{n}");
                }
                _ => {}
            }
            let _ = write!(out, "</{name}>");
        }
    }
}

/// Encode an error as awsQuery XML.
#[must_use]
pub fn encode_error(model_ns: Option<&str>, err: &AwsError, request_id: &str) -> String {
    let mut out = String::with_capacity(256);
    match model_ns {
        Some(ns) => {
            let _ = write!(out, "<ErrorResponse xmlns=\"{ns}\">");
        }
        None => out.push_str("<ErrorResponse>"),
    }
    let _ = write!(
        out,
        "<Error><Type>{}</Type><Code>",
        if err.sender_fault {
            "Sender"
        } else {
            "Receiver"
        }
    );
    escape(&mut out, &err.code);
    out.push_str("</Code><Message>");
    escape(&mut out, &err.message);
    let _ = write!(
        out,
        "</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    );
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{decode_input, encode_output, parse_form};
    use crate::model::service;

    #[test]
    fn lists_maps_and_scalars_decode_along_the_model() {
        let iam = service("iam").expect("iam");
        let op = iam.operation("CreateUser").expect("op");
        let p = parse_form(b"Action=CreateUser&UserName=alice&Path=%2Fteam%2F&Tags.member.1.Key=a&Tags.member.1.Value=b&Tags.member.2.Key=c&Tags.member.2.Value=d");
        let v = decode_input(iam, op, &p).expect("decoded");
        assert_eq!(
            v,
            json!({ "UserName": "alice", "Path": "/team/", "Tags": [{ "Key": "a", "Value": "b" }, { "Key": "c", "Value": "d" }] })
        );
    }

    #[test]
    fn integers_that_do_not_parse_are_validation_errors() {
        let iam = service("iam").expect("iam");
        let op = iam.operation("ListUsers").expect("op");
        let e = decode_input(iam, op, &parse_form(b"MaxItems=ten")).expect_err("bad");
        assert_eq!(e.code, "ValidationError");
    }

    #[test]
    fn output_xml_wraps_the_result_and_escapes_text() {
        let sts = service("sts").expect("sts");
        let op = sts.operation("GetCallerIdentity").expect("op");
        let xml = encode_output(
            sts,
            op,
            &json!({ "Account": "1<2", "Arn": "a", "UserId": "u" }),
            "rid",
        );
        assert!(xml.starts_with("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>"));
        assert!(xml.contains("<Account>1&lt;2</Account>"));
        assert!(xml.ends_with("<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetCallerIdentityResponse>"));
    }
}
