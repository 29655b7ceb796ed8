//! restJson1 routing: match a method and path against the model's URI templates.

use crate::model::{Protocol, ServiceModel};
use crate::Identified;

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

fn percent_decode(s: &str) -> String {
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
