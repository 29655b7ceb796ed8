//! The restXml (S3) and ec2Query codecs against fixtures botocore wrote
//! (`tests/fixtures/generate.py`): every request botocore serialises decodes to the parameters
//! it was given, and encoding botocore's parse of an AWS response reproduces that response's
//! headers and body.

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use rampart_protocol::http::{decode, encode_output, identify, Head, Routing};
use rampart_protocol::limits::Limits;
use rampart_protocol::model::{service, Kind, Location, Shape};
use rampart_protocol::{restxml, Identified};
use serde_json::{Map, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture file");
    match serde_json::from_str(&text).expect("fixture json") {
        Value::Array(a) => a,
        _ => panic!("{path} is not a list"),
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn header_map(v: &Value) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(Value::Object(o)) = v.get("headers") {
        for (k, v) in o {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                HeaderValue::from_str(v.as_str().unwrap_or_default()).expect("header value"),
            );
        }
    }
    h
}

fn body_of(v: &Value) -> Vec<u8> {
    B64.decode(str_of(v, "body_base64")).expect("base64 body")
}

#[test]
fn requests_serialised_by_botocore_decode_to_their_parameters() {
    let fixtures = load("requests.json");
    assert!(fixtures.len() >= 40, "fixtures missing");
    let mut failures = Vec::new();
    for f in &fixtures {
        let headers = header_map(f);
        let body = body_of(f);
        let head = Head {
            method: str_of(f, "method"),
            path: str_of(f, "path"),
            query: f.get("query").and_then(Value::as_str),
            headers: &headers,
        };
        let svc = str_of(f, "service");
        let op = str_of(f, "operation");
        let what = format!(
            "{svc} {op} {} {}",
            head.path,
            head.header("host").unwrap_or("")
        );
        let id = match identify(&head, &body, Some(svc), &Routing::default()) {
            Ok(id) => id,
            Err(e) => {
                failures.push(format!("{what}: not identified: {}", e.error));
                continue;
            }
        };
        if id.operation != op {
            failures.push(format!("{what}: identified as {}", id.operation));
            continue;
        }
        match decode(&id, &head, &body, &Limits::default()) {
            Ok(v) if Some(&v) == f.get("expected") => {}
            Ok(v) => failures.push(format!(
                "{what}: decoded {v}, botocore sent {}",
                f["expected"]
            )),
            Err(e) => failures.push(format!("{what}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn body_members(shape: &Shape, v: &Value) -> Value {
    let (Kind::Structure { members, .. }, Value::Object(obj)) = (&shape.kind, v) else {
        return v.clone();
    };
    let keep: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| {
            members
                .iter()
                .any(|m| m.name == k.as_str() && m.location == Location::Body)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(keep)
}

#[test]
fn encoding_botocores_parse_of_aws_responses_gives_back_their_headers_and_bodies() {
    let fixtures = load("responses.json");
    let mut failures = Vec::new();
    for f in &fixtures {
        let svc = str_of(f, "service");
        let op = str_of(f, "operation");
        let model = service(svc).expect("model");
        let id = Identified {
            model,
            protocol: model.protocol,
            operation: op.to_owned(),
            labels: Vec::new(),
        };
        let parsed = f.get("parsed").cloned().unwrap_or(Value::Null);
        let r = encode_output(&id, &parsed, "rid");
        let what = format!("{svc} {op}");
        if u64::from(r.status().as_u16()) != f["status"].as_u64().unwrap_or(0) {
            failures.push(format!("{what}: status {}", r.status()));
        }
        let Some(out) = id.op().and_then(|o| o.output) else {
            failures.push(format!("{what}: no output shape"));
            continue;
        };
        let shape = model.shape(out).expect("shape");
        let Kind::Structure {
            members, payload, ..
        } = &shape.kind
        else {
            continue;
        };
        // Every header the response carried for an output member comes back with its value.
        if let Some(Value::Object(h)) = f.get("headers") {
            for (name, want) in h {
                let bound = members.iter().any(|m| match m.location {
                    Location::Header => m
                        .location_name
                        .is_some_and(|n| n.eq_ignore_ascii_case(name)),
                    Location::Headers => m
                        .location_name
                        .is_some_and(|p| name.starts_with(&p.to_ascii_lowercase())),
                    _ => false,
                });
                if !bound {
                    continue;
                }
                let got = r.headers().get(name).and_then(|v| v.to_str().ok());
                if got != want.as_str() {
                    failures.push(format!("{what}: header {name} = {got:?}, AWS sent {want}"));
                }
            }
        }
        let aws_body = body_of(f);
        let blob_payload = payload
            .and_then(|p| members.iter().find(|m| m.name == p))
            .and_then(|m| model.shape(m.shape))
            .is_some_and(|s| matches!(s.kind, Kind::Blob { .. }));
        if blob_payload {
            if r.body().as_ref() != aws_body.as_slice() {
                failures.push(format!("{what}: payload differs"));
            }
            continue;
        }
        if aws_body.is_empty() {
            continue;
        }
        // Our reading of AWS's document agrees with botocore's, and so does our own document.
        let want = body_members(shape, &parsed);
        let limits = Limits::default();
        match restxml::decode_body(model, out, &aws_body, &limits) {
            Ok(v) if v == want => {}
            Ok(v) => failures.push(format!(
                "{what}: read AWS's body as {v}, botocore as {want}"
            )),
            Err(e) => failures.push(format!("{what}: AWS's body: {e}")),
        }
        match restxml::decode_body(model, out, r.body(), &limits) {
            Ok(v) if v == want => {}
            Ok(v) => failures.push(format!(
                "{what}: our body reads back as {v}, botocore parsed {want}\n{}",
                String::from_utf8_lossy(r.body())
            )),
            Err(e) => failures.push(format!("{what}: our body: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
