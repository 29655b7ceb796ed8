//! REST protocols (restJson1, restXml): routing by method and URI template, and the HTTP
//! bindings of members (path labels, query, headers, header-prefix maps, status code, payload).

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::AwsError;
use crate::http::Head;
use crate::limits::{self, Limits};
use crate::model::{Kind, Location, Member, Operation, Protocol, ServiceModel, Shape};
use crate::types::{format_iso8601, parse_timestamp};
use crate::Identified;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Find the operation of `model` whose method and URI template match the request.
#[must_use]
pub fn identify(model: &'static ServiceModel, method: &str, path: &str) -> Option<Identified> {
    let path_only = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path_only
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let mut best: Option<(usize, Identified)> = None;
    for op in model.operations {
        if !op.http_method.eq_ignore_ascii_case(method) {
            continue;
        }
        let template = op.request_uri.split('?').next().unwrap_or(op.request_uri);
        let tsegs: Vec<&str> = template
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let greedy = tsegs.last().is_some_and(|s| s.ends_with("+}"));
        if (!greedy && tsegs.len() != segs.len()) || (greedy && segs.len() < tsegs.len()) {
            continue;
        }
        let mut labels = Vec::new();
        let mut literal = 0usize;
        let mut ok = true;
        for (i, t) in tsegs.iter().enumerate() {
            if let Some(name) = t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                let (name, value) = if let Some(n) = name.strip_suffix('+') {
                    (n, segs.get(i..).map(|s| s.join("/")).unwrap_or_default())
                } else {
                    (name, segs.get(i).copied().unwrap_or_default().to_owned())
                };
                let decoded = percent_decode(&value);
                labels.push((static_label(model, name), decoded));
            } else if segs.get(i) == Some(t) {
                literal += 1;
            } else {
                ok = false;
                break;
            }
        }
        if ok && best.as_ref().is_none_or(|(score, _)| literal > *score) {
            best = Some((
                literal,
                Identified {
                    model,
                    protocol: Protocol::RestJson,
                    operation: op.name.to_owned(),
                    labels,
                },
            ));
        }
    }
    best.map(|(_, id)| id)
}

fn static_label(model: &'static ServiceModel, name: &str) -> &'static str {
    for s in model.shapes {
        if let crate::model::Kind::Structure { members, .. } = &s.kind {
            for m in *members {
                if m.location == crate::model::Location::Uri && m.location_name == Some(name) {
                    return m.location_name.unwrap_or(m.name);
                }
            }
        }
    }
    "label"
}

/// Decode `%XX` escapes; invalid escapes stay as they are.
#[must_use]
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(
                std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                16,
            ) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Typed value of a scalar that travelled as text (path label, query value, header): numbers
/// and booleans parse, timestamps become epoch seconds, everything else stays text. A value
/// that does not parse stays text so that validation reports it in AWS's words.
fn scalar(model: &ServiceModel, shape: u32, text: &str) -> Value {
    match model.shape(shape).map(|s| &s.kind) {
        Some(Kind::Integer { .. } | Kind::Long { .. }) => text
            .trim()
            .parse::<i64>()
            .map_or_else(|_| Value::String(text.to_owned()), Value::from),
        Some(Kind::Double { .. }) => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(text.to_owned()), Value::Number),
        Some(Kind::Boolean) => match text.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        },
        Some(Kind::Timestamp { .. }) => parse_timestamp(text.trim())
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(text.to_owned()), Value::Number),
        _ => Value::String(text.to_owned()),
    }
}

/// The input structure's members that travel outside the body, read from the request.
fn decode_bindings(
    id: &Identified,
    head: &Head<'_>,
    members: &[Member],
    obj: &mut Map<String, Value>,
) {
    let model = id.model;
    let query: Vec<(String, String)> = head
        .query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let bound_query: Vec<&str> = members
        .iter()
        .filter(|m| m.location == Location::Query)
        .map(|m| m.location_name.unwrap_or(m.name))
        .collect();
    for m in members {
        let wire = m.location_name.unwrap_or(m.name);
        let Some(shape) = model.shape(m.shape) else {
            continue;
        };
        let value = match m.location {
            Location::Uri => id
                .labels
                .iter()
                .find(|(n, _)| *n == wire)
                .map(|(_, v)| scalar(model, m.shape, v)),
            Location::Query => match &shape.kind {
                Kind::List { member, .. } => {
                    let items: Vec<Value> = query
                        .iter()
                        .filter(|(k, _)| k == wire)
                        .map(|(_, v)| scalar(model, *member, v))
                        .collect();
                    (!items.is_empty()).then_some(Value::Array(items))
                }
                Kind::Map { value, .. } => {
                    // A query map takes every parameter no other member claims.
                    let many = matches!(
                        model.shape(*value).map(|s| &s.kind),
                        Some(Kind::List { .. })
                    );
                    let mut map = Map::new();
                    for (k, v) in query
                        .iter()
                        .filter(|(k, _)| !bound_query.contains(&k.as_str()))
                    {
                        if many {
                            if let Value::Array(a) = map
                                .entry(k.clone())
                                .or_insert_with(|| Value::Array(Vec::new()))
                            {
                                a.push(Value::String(v.clone()));
                            }
                        } else {
                            map.entry(k.clone())
                                .or_insert_with(|| Value::String(v.clone()));
                        }
                    }
                    (!map.is_empty()).then_some(Value::Object(map))
                }
                _ => query
                    .iter()
                    .find(|(k, _)| k == wire)
                    .map(|(_, v)| scalar(model, m.shape, v)),
            },
            Location::Header => {
                let values: Vec<&str> = head
                    .headers
                    .get_all(wire)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                if values.is_empty() {
                    None
                } else if let Kind::List { member, .. } = &shape.kind {
                    Some(Value::Array(
                        values
                            .iter()
                            .flat_map(|v| v.split(','))
                            .map(|v| scalar(model, *member, v.trim()))
                            .collect(),
                    ))
                } else {
                    Some(scalar(model, m.shape, &values.join(", ")))
                }
            }
            Location::Headers => {
                let prefix = wire.to_ascii_lowercase();
                let mut map = Map::new();
                for (name, v) in head.headers {
                    if let (Some(key), Ok(v)) =
                        (name.as_str().strip_prefix(prefix.as_str()), v.to_str())
                    {
                        map.insert(key.to_owned(), Value::String(v.to_owned()));
                    }
                }
                (!map.is_empty()).then_some(Value::Object(map))
            }
            Location::Body | Location::StatusCode => None,
        };
        if let Some(v) = value {
            obj.insert(m.name.to_owned(), v);
        }
    }
}

/// Decode a JSON body into a value, bounded by the nesting limit.
fn json_body(body: &[u8], limits: &Limits) -> Result<Value, AwsError> {
    if limits::json_depth(body) > limits.max_json_depth {
        return Err(AwsError::serialization("Request nesting too deep"));
    }
    serde_json::from_slice(body).map_err(|_| AwsError::serialization("Malformed request body"))
}

/// Decode and validate a restJson1 or restXml request: path labels, query parameters
/// (lists and maps included), headers and header-prefix maps, and the body (members, or the
/// payload member: raw bytes for a blob, text for a string, a document for a structure).
///
/// # Errors
/// `SerializationException` (or S3's `MalformedXML`) for a malformed body, validation errors
/// from the model.
pub fn decode(
    id: &Identified,
    head: &Head<'_>,
    body: &[u8],
    limits: &Limits,
) -> Result<Value, AwsError> {
    let xml = id.protocol == Protocol::RestXml;
    let shape = id
        .op()
        .and_then(|o| o.input)
        .and_then(|i| id.model.shape(i));
    let Some(Shape {
        kind: Kind::Structure {
            members, payload, ..
        },
        ..
    }) = shape
    else {
        return Ok(Value::Object(Map::new()));
    };
    let mut obj = match payload.and_then(|p| members.iter().find(|m| m.name == p)) {
        Some(m) => {
            let mut obj = Map::new();
            if !body.is_empty() {
                let value = match id.model.shape(m.shape).map(|s| &s.kind) {
                    Some(Kind::Blob { .. }) => Value::String(B64.encode(body)),
                    Some(Kind::String { .. }) => Value::String(
                        std::str::from_utf8(body)
                            .map_err(|_| AwsError::serialization("Malformed request body"))?
                            .to_owned(),
                    ),
                    _ if xml => crate::restxml::decode_body(id.model, m.shape, body, limits)?,
                    _ => json_body(body, limits)?,
                };
                obj.insert(m.name.to_owned(), value);
            }
            obj
        }
        None if body.iter().all(u8::is_ascii_whitespace) => Map::new(),
        None if xml => match id.op().and_then(|o| o.input) {
            Some(input) => match crate::restxml::decode_body(id.model, input, body, limits)? {
                Value::Object(o) => o,
                _ => Map::new(),
            },
            None => Map::new(),
        },
        None => match json_body(body, limits)? {
            Value::Object(o) => o,
            _ => {
                return Err(AwsError::serialization(
                    "Request body must be a JSON object",
                ))
            }
        },
    };
    decode_bindings(id, head, members, &mut obj);
    let value = Value::Object(obj);
    crate::validate_input(id, &value)?;
    Ok(value)
}

/// A REST response before it becomes HTTP.
#[derive(Debug)]
pub struct Encoded {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` of the body.
    pub content_type: String,
    /// Headers bound from output members.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Text of a scalar bound to a header: timestamps as HTTP dates unless the shape says
/// otherwise, blobs as base64 (already their canonical form), lists comma-joined.
fn header_text(model: &ServiceModel, shape: u32, value: &Value) -> Option<String> {
    let kind = model.shape(shape).map(|s| &s.kind);
    match (kind, value) {
        (Some(Kind::Timestamp { format }), Value::Number(n)) => {
            let secs = n.as_f64()?;
            Some(match *format {
                Some("iso8601") => format_iso8601(secs),
                Some("unixTimestamp") => n.to_string(),
                _ => format_http_date(secs),
            })
        }
        (Some(Kind::List { member, .. }), Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(|v| header_text(model, *member, v))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (_, Value::String(s)) => Some(s.clone()),
        (_, Value::Bool(b)) => Some(b.to_string()),
        (_, Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// An HTTP date (`Tue, 29 Apr 2014 18:30:38 GMT`), the default for timestamps in headers.
#[must_use]
pub fn format_http_date(epoch_secs: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let secs = epoch_secs.floor() as i64;
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(t) => t.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        None => "Thu, 01 Jan 1970 00:00:00 GMT".to_owned(),
    }
}

/// Encode a restJson1 or restXml output: members bound to headers, header-prefix maps and the
/// status code leave the body; a payload member is the whole body (raw bytes for a blob, text
/// for a string, a document for a structure); otherwise the body holds the remaining members.
#[must_use]
pub fn encode_output(
    model: &ServiceModel,
    op: &Operation,
    output: &Value,
    protocol: Protocol,
) -> Encoded {
    let xml = protocol == Protocol::RestXml;
    let mut out = Encoded {
        status: op.success_status,
        content_type: if xml {
            "application/xml"
        } else {
            "application/json"
        }
        .to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let shape = op.output.and_then(|i| model.shape(i));
    let (
        Some(Shape {
            kind: Kind::Structure {
                members, payload, ..
            },
            ..
        }),
        Value::Object(obj),
    ) = (shape, output)
    else {
        if !xml {
            out.body = if output.is_null() {
                b"{}".to_vec()
            } else {
                serde_json::to_vec(output).unwrap_or_else(|_| b"{}".to_vec())
            };
        }
        return out;
    };
    let mut bound = false;
    for m in *members {
        let wire = m.location_name.unwrap_or(m.name);
        match m.location {
            Location::Body | Location::Uri | Location::Query => continue,
            _ => bound = true,
        }
        let Some(v) = obj.get(m.name).filter(|v| !v.is_null()) else {
            continue;
        };
        match m.location {
            Location::Header => {
                if let Some(text) = header_text(model, m.shape, v) {
                    if wire.eq_ignore_ascii_case("content-type") {
                        out.content_type.clone_from(&text);
                    } else {
                        out.headers.push((wire.to_owned(), text));
                    }
                }
            }
            Location::Headers => {
                if let Value::Object(map) = v {
                    for (k, v) in map {
                        if let Some(text) = v.as_str() {
                            out.headers.push((format!("{wire}{k}"), text.to_owned()));
                        }
                    }
                }
            }
            Location::StatusCode => {
                if let Some(s) = v.as_u64().and_then(|s| u16::try_from(s).ok()) {
                    out.status = s;
                }
            }
            _ => {}
        }
    }
    let content_type_bound = members.iter().any(|m| {
        m.location == Location::Header
            && m.location_name
                .is_some_and(|n| n.eq_ignore_ascii_case("content-type"))
            && obj.get(m.name).is_some_and(|v| !v.is_null())
    });
    if let Some(m) = payload.and_then(|p| members.iter().find(|m| m.name == p)) {
        let Some(v) = obj.get(m.name).filter(|v| !v.is_null()) else {
            if !xml {
                out.body = b"{}".to_vec();
            }
            return out;
        };
        match model.shape(m.shape).map(|s| &s.kind) {
            Some(Kind::Blob { .. }) => {
                out.body = v
                    .as_str()
                    .and_then(|s| B64.decode(s).ok())
                    .unwrap_or_default();
                if !content_type_bound {
                    "application/octet-stream".clone_into(&mut out.content_type);
                }
            }
            Some(Kind::String { .. }) => {
                out.body = v.as_str().unwrap_or_default().as_bytes().to_vec();
                if !content_type_bound {
                    "text/plain".clone_into(&mut out.content_type);
                }
            }
            _ if xml => {
                out.body = crate::restxml::encode_body(model, m.shape, Some(m), v).into_bytes();
            }
            _ => out.body = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec()),
        }
        return out;
    }
    if xml {
        let has_body = members
            .iter()
            .any(|m| m.location == Location::Body && obj.get(m.name).is_some_and(|v| !v.is_null()));
        if has_body {
            if let Some(i) = op.output {
                out.body = crate::restxml::encode_body(model, i, None, output).into_bytes();
            }
        }
        return out;
    }
    out.body = if bound {
        let rest: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| {
                members
                    .iter()
                    .find(|m| m.name == k.as_str())
                    .is_none_or(|m| m.location == Location::Body)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::to_vec(&rest).unwrap_or_else(|_| b"{}".to_vec())
    } else {
        serde_json::to_vec(output).unwrap_or_else(|_| b"{}".to_vec())
    };
    out
}
