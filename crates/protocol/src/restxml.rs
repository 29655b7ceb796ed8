//! restXml, S3's dialect: routing by method, path and query keys (path-style and
//! virtual-host addressing), XML documents decoded and encoded along the model, and S3's
//! error body.
//!
//! Wire facts (Smithy `aws.protocols#restXml`, S3 REST API reference):
//! - many operations share a path and differ by a query key (`GET /{Bucket}?tagging`,
//!   `GET /{Bucket}?list-type=2`, `POST /{Bucket}/{Key+}?uploads`); operations whose required
//!   input is bound to query parameters (`UploadPart`: `partNumber`, `uploadId`) need them;
//!   an `x-id=<Operation>` parameter, which newer SDKs add, names the operation outright;
//! - a bucket is named either by the first path segment or by the host
//!   (`photos.s3.us-east-1.amazonaws.com`, `photos.s3.localhost:4566`);
//! - documents are matched by local element name; lists are wrapped (`<TagSet><Tag>…`) unless
//!   flattened (`<Contents>…</Contents><Contents>…`), when a flattened list's element takes its
//!   member's `locationName`; members marked `xmlAttribute` are attributes;
//! - errors are `<Error><Code/><Message/><RequestId/><Resource/></Error>` with no namespace.

use serde_json::{Map, Value};

use crate::error::AwsError;
use crate::http::{Head, Routing};
use crate::limits::Limits;
use crate::model::{Kind, Location, Member, Protocol, ServiceModel, Shape};
use crate::rest::percent_decode;
use crate::types::{format_iso8601, parse_timestamp};
use crate::xml::{self, Element, Writer};
use crate::Identified;

/// Path labels captured by routing.
type Labels = Vec<(&'static str, String)>;

/// Nesting bound when walking values along a shape.
const MAX_VALUE_DEPTH: usize = 64;

/// The bucket a virtual-hosted request names in its host, if any: the labels before an
/// `s3.`/`s3-` endpoint of `amazonaws.com` (`a.b.s3.us-east-1.amazonaws.com` → `a.b`) or
/// before one of the configured suffixes.
#[must_use]
pub fn bucket_from_host(host: &str, suffixes: &[String]) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    for suffix in suffixes {
        let suffix = suffix.trim_matches('.').to_ascii_lowercase();
        if let Some(bucket) = host
            .strip_suffix(suffix.as_str())
            .and_then(|b| b.strip_suffix('.'))
        {
            return (!bucket.is_empty()).then(|| bucket.to_owned());
        }
    }
    let aws = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    // The rightmost label that starts the S3 endpoint name.
    let labels: Vec<&str> = aws.split('.').collect();
    let at = labels
        .iter()
        .rposition(|l| *l == "s3" || l.starts_with("s3-"))?;
    (at > 0).then(|| labels.get(..at).map(|b| b.join(".")))?
}

/// Identify a restXml request along `model`'s URI templates.
#[must_use]
pub fn identify(
    model: &'static ServiceModel,
    head: &Head<'_>,
    routing: &Routing,
) -> Option<Identified> {
    let vhost = head
        .host()
        .and_then(|h| bucket_from_host(h, &routing.virtual_host_suffixes));
    let path = match &vhost {
        Some(b) if head.path == "/" || head.path.is_empty() => format!("/{b}"),
        Some(b) => format!("/{b}{}", head.path),
        None => head.path.to_owned(),
    };
    let query: Vec<(String, String)> = head
        .query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let x_id = query
        .iter()
        .find(|(k, _)| k == "x-id")
        .map(|(_, v)| v.as_str());
    let mut best: Option<(i64, &'static str, Labels)> = None;
    for op in model.operations {
        if !op.http_method.eq_ignore_ascii_case(head.method) {
            continue;
        }
        let Some((score, labels)) = route(model, op, &path, &query, head, x_id) else {
            continue;
        };
        if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            best = Some((score, op.name, labels));
        }
    }
    best.map(|(_, op, labels)| Identified {
        model,
        protocol: Protocol::RestXml,
        operation: op.to_owned(),
        labels,
    })
}

/// Match one operation; the score ranks literal path segments and query keys matched.
fn route(
    model: &ServiceModel,
    op: &'static crate::model::Operation,
    path: &str,
    query: &[(String, String)],
    head: &Head<'_>,
    x_id: Option<&str>,
) -> Option<(i64, Labels)> {
    let (tpath, tquery) = op
        .request_uri
        .split_once('?')
        .unwrap_or((op.request_uri, ""));
    let mut score = 0i64;
    let mut labels = Vec::new();
    let mut rest = path.strip_prefix('/').unwrap_or(path);
    let tsegs: Vec<&'static str> = tpath
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    for (i, t) in tsegs.iter().enumerate() {
        let last = i + 1 == tsegs.len();
        if let Some(name) = t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            if let Some(name) = name.strip_suffix('+') {
                if rest.is_empty() {
                    return None;
                }
                labels.push((name, percent_decode(rest)));
                rest = "";
            } else {
                let (seg, after) = rest.split_once('/').unwrap_or((rest, ""));
                if seg.is_empty() {
                    return None;
                }
                labels.push((name, percent_decode(seg)));
                rest = if last { rest.get(seg.len()..)? } else { after };
            }
        } else {
            let (seg, after) = rest.split_once('/').unwrap_or((rest, ""));
            if seg != *t {
                return None;
            }
            score += 10;
            rest = if last { rest.get(seg.len()..)? } else { after };
        }
    }
    // Only a trailing slash may remain (`/bucket/` is the bucket).
    if !(rest.is_empty() || rest == "/") {
        return None;
    }
    let mut literals = 0i64;
    for lit in tquery.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = lit
            .split_once('=')
            .map_or((lit, None), |(k, v)| (k, Some(v)));
        if v.is_some_and(|v| v.starts_with('{')) {
            continue;
        }
        literals += 1;
        let present = query
            .iter()
            .any(|(qk, qv)| qk == k && v.is_none_or(|v| qv == v));
        if !present {
            return None;
        }
        score += 10;
    }
    // Required members bound to query parameters and headers must be there
    // (`UploadPart` needs `uploadId`, `CopyObject` needs `x-amz-copy-source`).
    if let Some(Shape {
        kind: Kind::Structure {
            members, required, ..
        },
        ..
    }) = op.input.and_then(|i| model.shape(i))
    {
        for m in members.iter().filter(|m| m.location == Location::Query) {
            let wire = m.location_name.unwrap_or(m.name);
            if query.iter().any(|(k, _)| k == wire) {
                score += 1;
            } else if required.contains(&m.name) {
                return None;
            }
        }
        for m in members.iter().filter(|m| m.location == Location::Header) {
            if required.contains(&m.name) {
                if head.headers.contains_key(m.location_name.unwrap_or(m.name)) {
                    score += 1;
                } else {
                    return None;
                }
            }
        }
    }
    match x_id {
        Some(x) if x == op.name => score += 1000,
        Some(_) => return None,
        None => {}
    }
    Some((score * 10 - literals, labels))
}

/// The element name of a member inside its parent (botocore's rule: a flattened list's
/// elements take the list member's `locationName`).
fn member_key<'a>(model: &ServiceModel, m: &'a Member) -> &'a str {
    if let Some(Shape {
        kind:
            Kind::List {
                member_name: Some(n),
                flattened,
                ..
            },
        ..
    }) = model.shape(m.shape)
    {
        if m.flattened || *flattened {
            return n;
        }
    }
    m.location_name.unwrap_or(m.name)
}

fn is_flattened(model: &ServiceModel, m: &Member) -> bool {
    m.flattened
        || matches!(
            model.shape(m.shape).map(|s| &s.kind),
            Some(
                Kind::List {
                    flattened: true,
                    ..
                } | Kind::Map {
                    flattened: true,
                    ..
                }
            )
        )
}

/// Decode an XML body along the shape at `shape` into the canonical JSON form.
///
/// # Errors
/// `MalformedXML` for a document that is not well-formed or nests too deeply.
pub fn decode_body(
    model: &ServiceModel,
    shape: u32,
    body: &[u8],
    limits: &Limits,
) -> Result<Value, AwsError> {
    if body.len() > limits.max_body {
        return Err(AwsError::new(
            "EntityTooLarge",
            400,
            "Your proposed upload exceeds the maximum allowed size",
        ));
    }
    let root = xml::parse(body).map_err(|_| malformed())?;
    let sh = model.shape(shape).ok_or_else(malformed)?;
    Ok(decode_element(model, sh, &root, 0).unwrap_or(Value::Null))
}

fn malformed() -> AwsError {
    AwsError::new(
        "MalformedXML",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// The value of an element along a shape; `None` when nothing could be read.
#[must_use]
pub fn decode_element(
    model: &ServiceModel,
    shape: &Shape,
    el: &Element,
    depth: usize,
) -> Option<Value> {
    if depth > MAX_VALUE_DEPTH {
        return None;
    }
    match &shape.kind {
        Kind::Structure { members, .. } => {
            let mut obj = Map::new();
            for m in *members {
                if !matches!(m.location, Location::Body) {
                    continue;
                }
                let Some(msh) = model.shape(m.shape) else {
                    continue;
                };
                let name = member_key(model, m);
                if m.xml_attribute {
                    if let Some(v) = el.attr(name) {
                        obj.insert(m.name.to_owned(), scalar(msh, v)?);
                    }
                    continue;
                }
                let value = if is_flattened(model, m) {
                    let items: Vec<&Element> = el.children_named(name).collect();
                    if items.is_empty() {
                        continue;
                    }
                    decode_flattened(model, msh, &items, depth + 1)
                } else {
                    match el.child(name) {
                        Some(c) => decode_element(model, msh, c, depth + 1),
                        None => continue,
                    }
                };
                if let Some(v) = value {
                    obj.insert(m.name.to_owned(), v);
                }
            }
            Some(Value::Object(obj))
        }
        Kind::List { member, .. } => {
            let msh = model.shape(*member)?;
            Some(Value::Array(
                el.children
                    .iter()
                    .filter_map(|c| decode_element(model, msh, c, depth + 1))
                    .collect(),
            ))
        }
        Kind::Map { .. } => {
            let entries: Vec<&Element> = el.children_named("entry").collect();
            decode_flattened(model, shape, &entries, depth + 1)
        }
        _ => scalar(shape, &el.text),
    }
}

fn decode_flattened(
    model: &ServiceModel,
    shape: &Shape,
    items: &[&Element],
    depth: usize,
) -> Option<Value> {
    match &shape.kind {
        Kind::List { member, .. } => {
            let msh = model.shape(*member)?;
            Some(Value::Array(
                items
                    .iter()
                    .filter_map(|c| decode_element(model, msh, c, depth + 1))
                    .collect(),
            ))
        }
        Kind::Map {
            value,
            key_name,
            value_name,
            ..
        } => {
            let vsh = model.shape(*value)?;
            let mut obj = Map::new();
            for e in items {
                let (Some(k), Some(v)) = (
                    e.child(key_name.unwrap_or("key")),
                    e.child(value_name.unwrap_or("value")),
                ) else {
                    continue;
                };
                if let Some(v) = decode_element(model, vsh, v, depth + 1) {
                    obj.insert(k.text.clone(), v);
                }
            }
            Some(Value::Object(obj))
        }
        _ => decode_element(model, shape, items.first()?, depth),
    }
}

fn scalar(shape: &Shape, text: &str) -> Option<Value> {
    let t = text.trim();
    Some(match &shape.kind {
        Kind::Integer { .. } | Kind::Long { .. } => t
            .parse::<i64>()
            .map_or_else(|_| Value::String(text.to_owned()), Value::from),
        Kind::Double { .. } => t
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(text.to_owned()), Value::Number),
        Kind::Boolean => match t {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        },
        Kind::Timestamp { .. } => parse_timestamp(t)
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(text.to_owned()), Value::Number),
        Kind::Blob { .. } => Value::String(t.to_owned()),
        _ => Value::String(text.to_owned()),
    })
}

/// Encode a value as a restXml document rooted at the shape at `shape`: the root takes the
/// payload member's `locationName`, else the shape's, else the shape name, and declares the
/// member's, the shape's or the service's namespace.
#[must_use]
pub fn encode_body(
    model: &ServiceModel,
    shape: u32,
    member: Option<&Member>,
    value: &Value,
) -> String {
    let mut w = Writer::with_declaration();
    let Some(sh) = model.shape(shape) else {
        return w.finish();
    };
    let name = member
        .and_then(|m| m.location_name)
        .or(sh.xml_name)
        .unwrap_or(sh.name);
    let ns = member
        .and_then(|m| m.xml_namespace)
        .or(sh.xml_namespace)
        .or(model.xml_namespace);
    let mut attrs: Vec<(&str, &str)> = Vec::new();
    if let Some(ns) = ns {
        attrs.push(("xmlns", ns));
    }
    encode_element(model, sh, value, name, &attrs, &mut w, Dialect::RestXml, 0);
    w.finish()
}

/// XML naming conventions of the protocols that share this encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// restXml: lists wrapped in `member` elements unless flattened or named.
    RestXml,
    /// ec2Query: lists wrapped in `item` elements.
    Ec2,
}

/// Write `value` as the element `name` along `shape`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn encode_element(
    model: &ServiceModel,
    shape: &Shape,
    value: &Value,
    name: &str,
    attrs: &[(&str, &str)],
    w: &mut Writer,
    dialect: Dialect,
    depth: usize,
) {
    if depth > MAX_VALUE_DEPTH || value.is_null() {
        return;
    }
    match &shape.kind {
        Kind::Structure { members, .. } => {
            let Value::Object(obj) = value else { return };
            let mut all: Vec<(&str, String)> =
                attrs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            for m in members.iter().filter(|m| m.xml_attribute) {
                if let Some(text) = obj.get(m.name).and_then(scalar_text_plain) {
                    let an = m.location_name.unwrap_or(m.name);
                    if an.starts_with("xsi:") && !all.iter().any(|(k, _)| *k == "xmlns:xsi") {
                        all.push((
                            "xmlns:xsi",
                            "http://www.w3.org/2001/XMLSchema-instance".to_owned(),
                        ));
                    }
                    all.push((an, text));
                }
            }
            let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            w.start(name, &refs);
            encode_members(model, shape, value, w, dialect, depth);
            w.end(name);
        }
        Kind::List {
            member,
            member_name,
            ..
        } => {
            let (Value::Array(items), Some(msh)) = (value, model.shape(*member)) else {
                return;
            };
            let default = if dialect == Dialect::Ec2 {
                "item"
            } else {
                "member"
            };
            w.start(name, attrs);
            for item in items {
                encode_element(
                    model,
                    msh,
                    item,
                    member_name.unwrap_or(default),
                    &[],
                    w,
                    dialect,
                    depth + 1,
                );
            }
            w.end(name);
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
            w.start(name, attrs);
            for (k, v) in obj {
                w.start("entry", &[]);
                w.leaf(key_name.unwrap_or("key"), k);
                encode_element(
                    model,
                    vsh,
                    v,
                    value_name.unwrap_or("value"),
                    &[],
                    w,
                    dialect,
                    depth + 1,
                );
                w.end("entry");
            }
            w.end(name);
        }
        _ => {
            if let Some(text) = scalar_text(shape, value) {
                w.start(name, attrs);
                w.text(&text);
                w.end(name);
            }
        }
    }
}

/// Write the members of a structure value (not its own element).
pub(crate) fn encode_members(
    model: &ServiceModel,
    shape: &Shape,
    value: &Value,
    w: &mut Writer,
    dialect: Dialect,
    depth: usize,
) {
    let (Kind::Structure { members, .. }, Value::Object(obj)) = (&shape.kind, value) else {
        return;
    };
    for m in *members {
        if m.xml_attribute || m.location != Location::Body {
            continue;
        }
        let (Some(v), Some(msh)) = (obj.get(m.name), model.shape(m.shape)) else {
            continue;
        };
        if v.is_null() {
            continue;
        }
        let mut attrs: Vec<(&str, &str)> = Vec::new();
        if let Some(ns) = m.xml_namespace {
            attrs.push(("xmlns", ns));
        }
        if is_flattened(model, m) && dialect == Dialect::RestXml {
            let name = member_key(model, m);
            encode_flattened(model, msh, v, name, w, dialect, depth + 1);
        } else {
            let name = m.location_name.unwrap_or(m.name);
            encode_element(model, msh, v, name, &attrs, w, dialect, depth + 1);
        }
    }
}

fn encode_flattened(
    model: &ServiceModel,
    shape: &Shape,
    value: &Value,
    name: &str,
    w: &mut Writer,
    dialect: Dialect,
    depth: usize,
) {
    match (&shape.kind, value) {
        (Kind::List { member, .. }, Value::Array(items)) => {
            let Some(msh) = model.shape(*member) else {
                return;
            };
            for item in items {
                encode_element(model, msh, item, name, &[], w, dialect, depth + 1);
            }
        }
        (
            Kind::Map {
                value: vs,
                key_name,
                value_name,
                ..
            },
            Value::Object(obj),
        ) => {
            let Some(vsh) = model.shape(*vs) else {
                return;
            };
            for (k, v) in obj {
                w.start(name, &[]);
                w.leaf(key_name.unwrap_or("key"), k);
                encode_element(
                    model,
                    vsh,
                    v,
                    value_name.unwrap_or("value"),
                    &[],
                    w,
                    dialect,
                    depth + 1,
                );
                w.end(name);
            }
        }
        _ => encode_element(model, shape, value, name, &[], w, dialect, depth),
    }
}

fn scalar_text_plain(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Text of a scalar in an XML document: timestamps ISO 8601 unless the shape says otherwise.
fn scalar_text(shape: &Shape, value: &Value) -> Option<String> {
    match (&shape.kind, value) {
        (Kind::Timestamp { format }, Value::Number(n)) => {
            let secs = n.as_f64()?;
            Some(match *format {
                Some("unixTimestamp") => n.to_string(),
                Some("rfc822") => crate::rest::format_http_date(secs),
                _ => format_iso8601(secs),
            })
        }
        _ => scalar_text_plain(value),
    }
}

/// S3's error body (no namespace).
#[must_use]
pub fn encode_error(err: &AwsError, request_id: &str, resource: Option<&str>) -> String {
    let mut w = Writer::with_declaration();
    w.start("Error", &[]);
    w.leaf("Code", &err.code);
    w.leaf("Message", &err.message);
    if let Some(r) = resource {
        w.leaf("Resource", r);
    }
    w.leaf("RequestId", request_id);
    w.end("Error");
    w.finish()
}
