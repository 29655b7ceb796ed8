//! A transaction's variables: the request and response turned into ModSecurity's collections
//! (`ARGS`, `REQUEST_HEADERS`, `FILES`, ...), and the values a rule's targets select.

use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{bytes, Bytes, Entries, Key, Record, Transaction};
use crate::body;
use crate::rule::{self, Exclusion, Rule, Selector, Target};
use crate::Request;

/// One value a rule's target selected.
pub(super) struct Selected<'r> {
    /// The target that selected it.
    pub target: &'r Target,
    /// The collection entry's key (empty for a scalar).
    pub key: Key,
    pub value: Bytes,
    /// Whether the value is stored in the transaction (so the transformation cache may key on
    /// it), rather than made for this rule (counts, `DURATION`, `TIME`).
    pub stored: bool,
}

impl Selected<'_> {
    /// The variable's name as `MATCHED_VAR_NAME` gives it: `ARGS:id`, `REQUEST_URI`, `&ARGS`.
    pub fn name(&self) -> String {
        if self.target.count {
            format!("&{}", self.target.name)
        } else if self.key.is_empty() {
            self.target.name.clone()
        } else {
            format!("{}:{}", self.target.name, self.key)
        }
    }
}

/// The XML body as the `XML:` target reads it.
#[derive(Debug)]
pub(super) struct XmlValues {
    text: Bytes,
    attributes: Vec<Bytes>,
}

/// Entries as the transaction stores them.
pub(super) fn shared(e: &[(String, Vec<u8>)]) -> Entries {
    e.iter()
        .map(|(k, v)| (Key::from(k.as_str()), Bytes::from(v.as_slice())))
        .collect()
}

/// The `*_NAMES` collection of `e`: each key, as key and value.
pub(super) fn names(e: &Entries) -> Entries {
    e.iter()
        .map(|(k, _)| (Arc::clone(k), bytes(&**k)))
        .collect()
}

impl Transaction<'_> {
    pub(super) fn request_variables(&mut self, req: &Request) {
        let n = self.engine.counter.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let unique = format!("{:x}{:08x}", now.as_micros(), n);
        let raw = req.uri.as_str();
        // Absolute form: keep the path and query for REQUEST_URI.
        let uri = match raw.find("://") {
            Some(i) if raw[..i].chars().all(|c| c.is_ascii_alphabetic()) => {
                let after = &raw[i + 3..];
                after.find('/').map_or("/", |p| &after[p..])
            }
            _ => raw,
        };
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        // The server hands ModSecurity the path %-decoded (Apache unescapes it before the
        // rules run); `+` stays as it is in a path.
        let filename = percent_encoding::percent_decode(path.as_bytes()).collect::<Vec<u8>>();
        let basename = filename
            .rsplit(|b| *b == b'/' || *b == b'\\')
            .next()
            .unwrap_or(&filename)
            .to_vec();
        let headers: Entries = shared(&req.headers);
        let mut cookies = Entries::new();
        for (k, v) in &headers {
            if k.eq_ignore_ascii_case("cookie") {
                for c in v.split(|b| *b == b';') {
                    let c = c.trim_ascii_start();
                    if c.is_empty() {
                        continue;
                    }
                    let (n, val) = match c.iter().position(|b| *b == b'=') {
                        Some(i) => (&c[..i], &c[i + 1..]),
                        None => (c, &b""[..]),
                    };
                    cookies.push((Key::from(lossy(n)), Bytes::from(val)));
                }
            }
        }
        let host = header(&headers, "host").map(|h| {
            let h = lossy(h);
            match h.rsplit_once(':') {
                Some((a, p))
                    if !a.ends_with(']')
                        && p.chars().all(|c| c.is_ascii_digit())
                        && !a.contains(':') =>
                {
                    a.to_string()
                }
                _ => h,
            }
        });
        let mut args_get = query
            .map(|q| body::urlencoded(q.as_bytes()))
            .unwrap_or_default();
        args_get.truncate(self.engine.config.max_arguments);
        let args_get = shared(&args_get);
        let content_type = header(&headers, "content-type")
            .map(lossy)
            .unwrap_or_default();
        let ct = content_type.to_ascii_lowercase();
        self.body_processor = body_processor_for(&ct);
        let limit = self.engine.config.request_body_limit.min(req.body.len());
        self.request_body = req.body[..limit].to_vec();

        let s = &mut self.scalars;
        s.insert("REQUEST_METHOD", bytes(&req.method));
        s.insert("REQUEST_PROTOCOL", bytes(&req.protocol));
        s.insert("REQUEST_URI", bytes(uri));
        s.insert("REQUEST_URI_RAW", bytes(raw));
        s.insert("REQUEST_FILENAME", Bytes::from(filename));
        s.insert("REQUEST_BASENAME", Bytes::from(basename));
        s.insert(
            "REQUEST_LINE",
            bytes(format!("{} {} {}", req.method, raw, req.protocol)),
        );
        s.insert("QUERY_STRING", bytes(query.unwrap_or("")));
        s.insert("REMOTE_ADDR", bytes(req.client_ip.to_string()));
        s.insert("REMOTE_PORT", bytes(req.client_port.to_string()));
        s.insert("SERVER_NAME", bytes(host.unwrap_or_default()));
        s.insert("UNIQUE_ID", bytes(unique));
        s.insert("REQUEST_BODY", bytes(""));
        s.insert("REQUEST_BODY_LENGTH", bytes("0"));
        s.insert("REQUEST_CONTENT_TYPE", bytes(content_type));
        s.insert("REQBODY_ERROR", bytes("0"));
        // Present (empty) even when no processor applies, as in ModSecurity.
        s.insert(
            "REQBODY_PROCESSOR",
            bytes(self.body_processor.as_deref().unwrap_or_default()),
        );
        let c = &mut self.colls;
        c.insert("REQUEST_HEADERS_NAMES", names(&headers));
        c.insert("REQUEST_HEADERS", headers);
        c.insert("REQUEST_COOKIES_NAMES", names(&cookies));
        c.insert("REQUEST_COOKIES", cookies);
        c.insert("ARGS_GET_NAMES", names(&args_get));
        c.insert("ARGS_GET", args_get);
        self.rebuild_args();
    }

    /// ARGS = ARGS_GET + ARGS_POST, and the derived names and sizes.
    pub(super) fn rebuild_args(&mut self) {
        let mut args = self.colls.get("ARGS_GET").cloned().unwrap_or_default();
        args.extend(self.colls.get("ARGS_POST").cloned().unwrap_or_default());
        let size: usize = args.iter().map(|(k, v)| k.len() + v.len()).sum();
        self.colls.insert("ARGS_NAMES", names(&args));
        self.colls.insert("ARGS", args);
        self.scalars
            .insert("ARGS_COMBINED_SIZE", bytes(size.to_string()));
    }

    pub(super) fn process_request_body(&mut self) {
        let body = std::mem::take(&mut self.request_body);
        let ct = self
            .scalars
            .get("REQUEST_CONTENT_TYPE")
            .map(|v| lossy(v))
            .unwrap_or_default();
        self.scalars
            .insert("REQUEST_BODY_LENGTH", bytes(body.len().to_string()));
        let mut error = None;
        match self.body_processor.as_deref() {
            Some("URLENCODED") => {
                self.colls
                    .insert("ARGS_POST", shared(&body::urlencoded(&body)));
            }
            Some("JSON") if !body.is_empty() => match body::json(&body) {
                Ok(a) => {
                    self.colls.insert("ARGS_POST", shared(&a));
                }
                Err(e) => error = Some(e),
            },
            Some("XML") if !body.is_empty() => match body::xml(&body) {
                Ok(x) => {
                    self.xml = Some(XmlValues {
                        text: Bytes::from(x.text),
                        attributes: x.attributes.into_iter().map(Bytes::from).collect(),
                    });
                }
                Err(e) => error = Some(e),
            },
            Some("MULTIPART") => {
                let m = body::multipart(&body, &body::boundary(&ct).unwrap_or_default());
                error.clone_from(&m.error);
                let size: usize = m.files.iter().map(|f| f.2).sum();
                self.colls.insert("ARGS_POST", shared(&m.args));
                let files = |f: &dyn Fn(&(String, String, usize)) -> Bytes| -> Entries {
                    m.files
                        .iter()
                        .map(|e| (Key::from(e.0.as_str()), f(e)))
                        .collect()
                };
                self.colls.insert("FILES", files(&|e| bytes(&e.1)));
                self.colls.insert("FILES_NAMES", files(&|e| bytes(&e.0)));
                self.colls
                    .insert("FILES_SIZES", files(&|e| bytes(e.2.to_string())));
                self.colls
                    .insert("MULTIPART_PART_HEADERS", shared(&m.part_headers));
                self.scalars
                    .insert("FILES_COMBINED_SIZE", bytes(size.to_string()));
                let strict = u8::from(m.error.is_some() || m.unmatched_boundary);
                self.scalars
                    .insert("MULTIPART_STRICT_ERROR", bytes(strict.to_string()));
                self.scalars.insert(
                    "MULTIPART_UNMATCHED_BOUNDARY",
                    bytes(u8::from(m.unmatched_boundary).to_string()),
                );
            }
            _ => {}
        }
        let limit = self.engine.config.max_arguments;
        if let Some(post) = self.colls.get_mut("ARGS_POST") {
            if post.len() > limit {
                post.truncate(limit);
                error.get_or_insert_with(|| {
                    format!("more than {limit} arguments (SecArgumentsLimit)")
                });
            }
        }
        let post_names = self.colls.get("ARGS_POST").map(names).unwrap_or_default();
        self.colls.insert("ARGS_POST_NAMES", post_names);
        if let Some(e) = &error {
            self.scalars.insert("REQBODY_ERROR", bytes("1"));
            self.scalars.insert("REQBODY_ERROR_MSG", bytes(e));
        }
        self.request_body_error = error;
        // As in ModSecurity: REQUEST_BODY holds the body for the URL-encoded processor, or
        // for any when `ctl:forceRequestBodyVariable=On` (CRS turns it on when no processor
        // applies).
        if self.force_body_variable || self.body_processor.as_deref() == Some("URLENCODED") {
            self.scalars.insert("REQUEST_BODY", Bytes::from(body));
        }
        self.rebuild_args();
    }

    /// The values a rule's targets select, exclusions applied.
    pub(super) fn values<'r>(&self, rule: &'r Rule, head: &Rule) -> Vec<Selected<'r>> {
        let mut extra: Vec<&Exclusion> = Vec::new();
        for (ids, ex) in &self.removed_targets_by_id {
            if ids.iter().any(|x| x.contains(head.id)) {
                extra.extend(ex.iter());
            }
        }
        for (tag, ex) in &self.removed_targets_by_tag {
            if head.tags.contains(tag) {
                extra.extend(ex.iter());
            }
        }
        let excluded = |name: &str, key: &str| {
            rule.exclusions.iter().any(|e| e.removes(name, key))
                || extra.iter().any(|e| e.removes(name, key))
        };
        let mut out = Vec::new();
        for t in &rule.targets {
            let entries = self.entries(t);
            if t.count {
                let n = entries
                    .iter()
                    .filter(|(k, _)| !excluded(&t.name, k))
                    .count();
                out.push(Selected {
                    target: t,
                    key: Key::from(""),
                    value: bytes(n.to_string()),
                    stored: false,
                });
                continue;
            }
            let stored = !matches!(t.name.as_str(), "UNCONDITIONAL" | "DURATION")
                && !t.name.starts_with("TIME");
            for (key, value) in entries {
                if !key.is_empty() && excluded(&t.name, &key) {
                    continue;
                }
                if key.is_empty()
                    && rule
                        .exclusions
                        .iter()
                        .chain(extra.iter().copied())
                        .any(|e| e.name == t.name && e.selector.is_none())
                {
                    continue;
                }
                out.push(Selected {
                    target: t,
                    key,
                    value,
                    stored,
                });
            }
        }
        out
    }

    /// Entries of one target: (key, value); a scalar has an empty key.
    pub(super) fn entries(&self, t: &Target) -> Entries {
        let selected = |k: &str| t.selector.as_ref().is_none_or(|s| s.matches(k));
        let select =
            |e: &Entries| -> Entries { e.iter().filter(|(k, _)| selected(k)).cloned().collect() };
        let map_select = |m: &Record| -> Entries {
            // Keys of TX and the persistent collections are stored lower-cased, as a key
            // selector is: look it up rather than scan.
            if let Some(Selector::Key(k)) = &t.selector {
                return m
                    .get_key_value(k.as_str())
                    .map(|(k, v)| vec![(Arc::clone(k), Arc::clone(v))])
                    .unwrap_or_default();
            }
            m.iter()
                .filter(|(k, _)| selected(k))
                .map(|(k, v)| (Arc::clone(k), Arc::clone(v)))
                .collect()
        };
        let scalar = |v: Bytes| vec![(Key::from(""), v)];
        match t.name.as_str() {
            "UNCONDITIONAL" => scalar(bytes("")),
            "TX" => map_select(&self.tx),
            "IP" | "GLOBAL" | "SESSION" | "USER" | "RESOURCE" => self
                .persistent
                .get(&t.name.to_ascii_lowercase())
                .map(|(_, m)| map_select(m))
                .unwrap_or_default(),
            "MATCHED_VAR" => self
                .matched_var
                .as_ref()
                .map(|(_, v)| scalar(Arc::clone(v)))
                .unwrap_or_default(),
            "MATCHED_VAR_NAME" => self
                .matched_var
                .as_ref()
                .map(|(n, _)| scalar(bytes(n)))
                .unwrap_or_default(),
            "MATCHED_VARS" => self
                .matched_vars
                .iter()
                .filter(|(k, _)| selected(k))
                .map(|(k, v)| (Key::from(k.as_str()), Arc::clone(v)))
                .collect(),
            "MATCHED_VARS_NAMES" => self
                .matched_vars
                .iter()
                .filter(|(k, _)| selected(k))
                .map(|(k, _)| (Key::from(k.as_str()), bytes(k)))
                .collect(),
            "XML" => {
                let Some(x) = &self.xml else {
                    return Vec::new();
                };
                let attrs =
                    matches!(&t.selector, Some(rule::Selector::XPath(p)) if p.contains('@'));
                if attrs {
                    x.attributes
                        .iter()
                        .map(|a| (Key::from("xml"), Arc::clone(a)))
                        .collect()
                } else {
                    vec![(Key::from("/*"), Arc::clone(&x.text))]
                }
            }
            "DURATION" => scalar(bytes(self.started.elapsed().as_millis().to_string())),
            name if name.starts_with("TIME") => {
                time_var(name).map(|v| scalar(bytes(v))).unwrap_or_default()
            }
            name => {
                if let Some(e) = self.colls.get(name) {
                    select(e)
                } else if let Some(v) = self.scalars.get(name) {
                    scalar(Arc::clone(v))
                } else {
                    Vec::new()
                }
            }
        }
    }
}

pub(super) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(super) fn header<'a, K: AsRef<str>, V: AsRef<[u8]>>(
    h: &'a [(K, V)],
    name: &str,
) -> Option<&'a [u8]> {
    h.iter()
        .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

/// The body processor ModSecurity picks for a Content-Type: URLENCODED and MULTIPART as built
/// in (prefix of the header), then JSON and XML as the rules 200000/200001 of ModSecurity v2's
/// recommended configuration switch to them (an unanchored search in the lower-cased header;
/// JSON's rule runs last) — every CRS deployment includes that configuration.
pub(super) fn body_processor_for(ct: &str) -> Option<String> {
    let ct = ct.trim_start();
    let mut p = if ct.starts_with("application/x-www-form-urlencoded") {
        Some("URLENCODED")
    } else if ct.starts_with("multipart/form-data") {
        Some("MULTIPART")
    } else {
        None
    };
    static XML: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"(?:application(?:/soap\+|/)|text/)xml").ok());
    if XML.as_ref().is_some_and(|re| re.is_match(ct)) {
        p = Some("XML");
    }
    if ct.contains("application/json") {
        p = Some("JSON");
    }
    p.map(str::to_string)
}

pub(super) fn time_var(name: &str) -> Option<String> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since the epoch (UTC).
    let z = i64::try_from(days).ok()? + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    Some(match name {
        "TIME" => format!("{h:02}:{m:02}:{s:02}"),
        "TIME_EPOCH" => secs.to_string(),
        "TIME_YEAR" => year.to_string(),
        "TIME_MON" => month.to_string(),
        "TIME_DAY" => day.to_string(),
        "TIME_HOUR" => h.to_string(),
        "TIME_MIN" => m.to_string(),
        "TIME_SEC" => s.to_string(),
        "TIME_WDAY" => ((days + 4) % 7).to_string(),
        _ => return None,
    })
}
