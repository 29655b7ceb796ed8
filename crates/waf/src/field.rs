//! `FieldToMatch`: which part of the request a statement inspects, with AWS's oversize and
//! fallback handling.

use std::borrow::Cow;

use crate::error::CompileError;
use crate::model::{
    BodyParsingFallbackBehavior, FallbackBehavior, FieldToMatch, MapMatchPattern, MatchScope,
    OversizeHandling,
};
use crate::request::Request;

/// AWS inspects at most this many headers or cookies, and at most this many bytes of them.
const MAP_MAX_ITEMS: usize = 200;
const MAP_MAX_BYTES: usize = 8 * 1024;

/// The values a field yields for one request, or a decision made without looking at them.
#[derive(Debug, Clone)]
pub(crate) enum Extracted<'a> {
    /// Inspect each value; the statement matches if any value matches.
    Values(Vec<Cow<'a, [u8]>>),
    /// Oversize handling or a fallback decided: `true` = match.
    Forced(bool),
}

/// Which names of a header/cookie map are inspected.
#[derive(Debug, Clone)]
pub(crate) enum NameFilter {
    All,
    Included(Vec<String>),
    Excluded(Vec<String>),
}

impl NameFilter {
    fn from_pattern(p: &MapMatchPattern, fold_case: bool) -> Result<Self, CompileError> {
        let norm = |v: &Vec<String>| {
            v.iter()
                .map(|s| {
                    if fold_case {
                        s.to_ascii_lowercase()
                    } else {
                        s.clone()
                    }
                })
                .collect()
        };
        match (&p.all, &p.included_headers, &p.excluded_headers) {
            (Some(_), None, None) => Ok(NameFilter::All),
            (None, Some(v), None) => Ok(NameFilter::Included(norm(v))),
            (None, None, Some(v)) => Ok(NameFilter::Excluded(norm(v))),
            _ => Err(CompileError::Invalid(
                "MatchPattern needs exactly one of All, Included…, Excluded…".into(),
            )),
        }
    }

    fn admits(&self, name: &[u8], fold_case: bool) -> bool {
        let eq = |s: &String| {
            if fold_case {
                s.as_bytes().eq_ignore_ascii_case(name)
            } else {
                s.as_bytes() == name
            }
        };
        match self {
            NameFilter::All => true,
            NameFilter::Included(v) => v.iter().any(eq),
            NameFilter::Excluded(v) => !v.iter().any(eq),
        }
    }
}

/// A compiled `FieldToMatch`.
#[derive(Debug, Clone)]
pub(crate) enum Field {
    SingleHeader(String),
    SingleQueryArgument(String),
    AllQueryArguments,
    UriPath,
    QueryString,
    Body(OversizeHandling),
    JsonBody {
        paths: Option<Vec<Vec<String>>>,
        scope: MatchScope,
        invalid: Option<BodyParsingFallbackBehavior>,
        oversize: OversizeHandling,
    },
    Method,
    Headers {
        filter: NameFilter,
        scope: MatchScope,
        oversize: OversizeHandling,
    },
    Cookies {
        filter: NameFilter,
        scope: MatchScope,
        oversize: OversizeHandling,
    },
    HeaderOrder(OversizeHandling),
    Ja3(FallbackBehavior),
    Ja4(FallbackBehavior),
    UriFragment(Option<FallbackBehavior>),
}

impl Field {
    /// Compiles a `FieldToMatch`; exactly one member must be set.
    pub(crate) fn compile(f: &FieldToMatch) -> Result<Self, CompileError> {
        let mut found = Vec::new();
        if let Some(h) = &f.single_header {
            found.push(Field::SingleHeader(h.name.to_ascii_lowercase()));
        }
        if let Some(q) = &f.single_query_argument {
            found.push(Field::SingleQueryArgument(q.name.to_ascii_lowercase()));
        }
        if f.all_query_arguments.is_some() {
            found.push(Field::AllQueryArguments);
        }
        if f.uri_path.is_some() {
            found.push(Field::UriPath);
        }
        if f.query_string.is_some() {
            found.push(Field::QueryString);
        }
        if let Some(b) = &f.body {
            found.push(Field::Body(
                b.oversize_handling.unwrap_or(OversizeHandling::Continue),
            ));
        }
        if f.method.is_some() {
            found.push(Field::Method);
        }
        if let Some(j) = &f.json_body {
            let paths = match (&j.match_pattern.all, &j.match_pattern.included_paths) {
                (Some(_), None) => None,
                (None, Some(paths)) => Some(
                    paths
                        .iter()
                        .map(|p| parse_pointer(p))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                _ => {
                    return Err(CompileError::Invalid(
                        "JsonMatchPattern needs exactly one of All, IncludedPaths".into(),
                    ))
                }
            };
            found.push(Field::JsonBody {
                paths,
                scope: j.match_scope,
                invalid: j.invalid_fallback_behavior,
                oversize: j.oversize_handling.unwrap_or(OversizeHandling::Continue),
            });
        }
        if let Some(h) = &f.headers {
            found.push(Field::Headers {
                filter: NameFilter::from_pattern(&h.match_pattern, true)?,
                scope: h.match_scope,
                oversize: h.oversize_handling,
            });
        }
        if let Some(c) = &f.cookies {
            found.push(Field::Cookies {
                filter: NameFilter::from_pattern(&c.match_pattern, false)?,
                scope: c.match_scope,
                oversize: c.oversize_handling,
            });
        }
        if let Some(h) = &f.header_order {
            found.push(Field::HeaderOrder(h.oversize_handling));
        }
        if let Some(j) = &f.ja3_fingerprint {
            found.push(Field::Ja3(
                j.fallback_behavior.unwrap_or(FallbackBehavior::NoMatch),
            ));
        }
        if let Some(j) = &f.ja4_fingerprint {
            found.push(Field::Ja4(
                j.fallback_behavior.unwrap_or(FallbackBehavior::NoMatch),
            ));
        }
        if let Some(u) = &f.uri_fragment {
            found.push(Field::UriFragment(u.fallback_behavior));
        }
        if found.len() != 1 {
            return Err(CompileError::Invalid(
                "FieldToMatch needs exactly one member".into(),
            ));
        }
        found
            .pop()
            .ok_or_else(|| CompileError::Invalid("FieldToMatch is empty".into()))
    }

    /// The real size of an untransformed field when it differs from what is inspected (the
    /// body's length beyond the inspection limit).
    pub(crate) fn real_size(&self, req: &Request<'_>) -> Option<u64> {
        match self {
            Field::Body(_) => Some(req.body_len),
            _ => None,
        }
    }

    /// Extracts the field's values from `req`.
    pub(crate) fn extract<'a>(&self, req: &Request<'a>, body_limit: usize) -> Extracted<'a> {
        let one = |v: &'a [u8]| Extracted::Values(vec![Cow::Borrowed(v)]);
        match self {
            Field::SingleHeader(name) => {
                let mut values = req.header_values(name);
                match (values.next(), values.next()) {
                    (None, _) => Extracted::Values(Vec::new()),
                    (Some(v), None) => one(v),
                    (Some(first), Some(second)) => {
                        let mut joined = first.to_vec();
                        for v in std::iter::once(second).chain(values) {
                            joined.extend_from_slice(b", ");
                            joined.extend_from_slice(v);
                        }
                        Extracted::Values(vec![Cow::Owned(joined)])
                    }
                }
            }
            Field::SingleQueryArgument(name) => Extracted::Values(
                req.query_args()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
                    .map(|(_, v)| Cow::Borrowed(v))
                    .collect(),
            ),
            Field::AllQueryArguments => {
                Extracted::Values(req.query_args().map(|(_, v)| Cow::Borrowed(v)).collect())
            }
            Field::UriPath => one(req.uri_path.as_bytes()),
            Field::QueryString => one(req.query.as_bytes()),
            Field::Method => one(req.method.as_bytes()),
            Field::Body(oversize) => {
                let prefix = body_prefix(req, body_limit);
                if oversized_body(req, body_limit) {
                    if let Some(forced) = forced(*oversize) {
                        return forced;
                    }
                }
                one(prefix)
            }
            Field::JsonBody {
                paths,
                scope,
                invalid,
                oversize,
            } => {
                let prefix = body_prefix(req, body_limit);
                if oversized_body(req, body_limit) {
                    if let Some(forced) = forced(*oversize) {
                        return forced;
                    }
                }
                if prefix.is_empty() {
                    return Extracted::Values(Vec::new());
                }
                let doc = match serde_json::from_slice::<serde_json::Value>(prefix) {
                    Ok(doc) => doc,
                    Err(_) => match invalid {
                        Some(BodyParsingFallbackBehavior::Match) => return Extracted::Forced(true),
                        Some(BodyParsingFallbackBehavior::EvaluateAsString) => return one(prefix),
                        Some(BodyParsingFallbackBehavior::NoMatch) => {
                            return Extracted::Forced(false)
                        }
                        // Without a fallback AWS evaluates what parsed before the first error.
                        None => match crate::partial_json::parse_prefix(prefix) {
                            Some(doc) => doc,
                            None => return Extracted::Forced(false),
                        },
                    },
                };
                let mut out = Vec::new();
                match paths {
                    None => collect_json(&doc, *scope, &mut out),
                    Some(paths) => {
                        for p in paths {
                            if let Some(node) = pointer(&doc, p) {
                                collect_json(node, *scope, &mut out);
                            }
                        }
                    }
                }
                Extracted::Values(out.into_iter().map(Cow::Owned).collect())
            }
            Field::Headers {
                filter,
                scope,
                oversize,
            } => {
                let total: usize = req.headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
                if req.headers.len() > MAP_MAX_ITEMS || total > MAP_MAX_BYTES {
                    if let Some(forced) = forced(*oversize) {
                        return forced;
                    }
                }
                let mut out = Vec::new();
                let mut used = 0;
                for (name, value) in req.headers.iter().take(MAP_MAX_ITEMS) {
                    used += name.len() + value.len() + 4;
                    if used > MAP_MAX_BYTES {
                        break;
                    }
                    if filter.admits(name.as_bytes(), true) {
                        push_scoped(&mut out, name.as_bytes(), value, *scope);
                    }
                }
                Extracted::Values(out)
            }
            Field::Cookies {
                filter,
                scope,
                oversize,
            } => {
                let cookies = req.cookies();
                let total: usize = cookies.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
                if cookies.len() > MAP_MAX_ITEMS || total > MAP_MAX_BYTES {
                    if let Some(forced) = forced(*oversize) {
                        return forced;
                    }
                }
                let mut out = Vec::new();
                let mut used = 0;
                for (name, value) in cookies.into_iter().take(MAP_MAX_ITEMS) {
                    used += name.len() + value.len() + 2;
                    if used > MAP_MAX_BYTES {
                        break;
                    }
                    if filter.admits(name, false) {
                        push_scoped(&mut out, name, value, *scope);
                    }
                }
                Extracted::Values(out)
            }
            Field::HeaderOrder(oversize) => {
                if req.headers.len() > MAP_MAX_ITEMS {
                    if let Some(forced) = forced(*oversize) {
                        return forced;
                    }
                }
                let mut order = Vec::new();
                for (i, (name, _)) in req.headers.iter().take(MAP_MAX_ITEMS).enumerate() {
                    if i > 0 {
                        order.push(b':');
                    }
                    order.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
                }
                Extracted::Values(vec![Cow::Owned(order)])
            }
            Field::Ja3(fallback) => match req.ja3 {
                Some(v) => one(v.as_bytes()),
                None => Extracted::Forced(*fallback == FallbackBehavior::Match),
            },
            Field::Ja4(fallback) => match req.ja4 {
                Some(v) => one(v.as_bytes()),
                None => Extracted::Forced(*fallback == FallbackBehavior::Match),
            },
            Field::UriFragment(fallback) => match (req.fragment, fallback) {
                (Some(v), _) => one(v.as_bytes()),
                (None, Some(fb)) => Extracted::Forced(*fb == FallbackBehavior::Match),
                (None, None) => one(b""),
            },
        }
    }
}

fn body_prefix<'a>(req: &Request<'a>, limit: usize) -> &'a [u8] {
    let n = req.body_prefix.len().min(limit);
    &req.body_prefix[..n]
}

fn oversized_body(req: &Request<'_>, limit: usize) -> bool {
    req.body_len > limit as u64 || req.body_prefix.len() > limit
}

fn forced(o: OversizeHandling) -> Option<Extracted<'static>> {
    match o {
        OversizeHandling::Continue => None,
        OversizeHandling::Match => Some(Extracted::Forced(true)),
        OversizeHandling::NoMatch => Some(Extracted::Forced(false)),
    }
}

fn push_scoped<'a>(
    out: &mut Vec<Cow<'a, [u8]>>,
    key: &'a [u8],
    value: &'a [u8],
    scope: MatchScope,
) {
    if matches!(scope, MatchScope::Key | MatchScope::All) {
        out.push(Cow::Borrowed(key));
    }
    if matches!(scope, MatchScope::Value | MatchScope::All) {
        out.push(Cow::Borrowed(value));
    }
}

/// Splits a JSON pointer into unescaped tokens; `/` alone (AWS's root) is the whole document.
fn parse_pointer(p: &str) -> Result<Vec<String>, CompileError> {
    if p == "/" {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(CompileError::Invalid(format!(
            "JSON pointer {p:?} must start with /"
        )));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn pointer<'v>(doc: &'v serde_json::Value, tokens: &[String]) -> Option<&'v serde_json::Value> {
    tokens.iter().try_fold(doc, |node, t| match node {
        serde_json::Value::Object(m) => m.get(t),
        serde_json::Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Collects keys and/or leaf values under `node` in document order.
fn collect_json(node: &serde_json::Value, scope: MatchScope, out: &mut Vec<Vec<u8>>) {
    let want_values = matches!(scope, MatchScope::Value | MatchScope::All);
    match node {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if matches!(scope, MatchScope::Key | MatchScope::All) {
                    out.push(k.as_bytes().to_vec());
                }
                collect_json(v, scope, out);
            }
        }
        serde_json::Value::Array(a) => {
            for v in a {
                collect_json(v, scope, out);
            }
        }
        serde_json::Value::String(s) if want_values => out.push(s.as_bytes().to_vec()),
        serde_json::Value::Number(n) if want_values => out.push(n.to_string().into_bytes()),
        serde_json::Value::Bool(b) if want_values => out.push(b.to_string().into_bytes()),
        serde_json::Value::Null if want_values => out.push(b"null".to_vec()),
        _ => {}
    }
}
