//! The engine (compiled rules, shared) and a transaction (one request's state).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::body;
use crate::macros::MacroSource;
use crate::operator::{atoi, OpCtx};
use crate::parser;
use crate::rule::{
    self, AllowScope, Ctl, Disruptive, Effect, EngineMode, Exclusion, IdRange, Item, Rule, RuleSet,
    SetOp, Target,
};
use crate::transform;
use crate::{
    EngineConfig, EngineInfo, InterruptAction, Interruption, LoadError, MatchedRule, Outcome,
    Request, Response,
};

/// Most persistent-collection records (`initcol`) kept in memory; the oldest half is dropped
/// when the map grows past it.
const MAX_PERSISTENT_RECORDS: usize = 10_000;

/// A loaded, compiled rule set. Cheap to share: wrap it in an `Arc`.
#[derive(Debug)]
pub struct Engine {
    rules: RuleSet,
    markers: [HashMap<String, usize>; 5],
    config: EngineConfig,
    persistent: Mutex<HashMap<(String, String), Record>>,
    counter: AtomicU64,
}

type Entries = Vec<(String, Vec<u8>)>;
/// One persistent-collection record (`initcol:ip=...`): variable → value.
type Record = BTreeMap<String, Vec<u8>>;

impl Engine {
    /// Loads a Core Rule Set directory: `crs-setup.conf` (or `crs-setup.conf.example`), then the
    /// settings of `cfg` as a `SecAction`, then `rules/*.conf` in name order.
    pub fn load(dir: &Path, cfg: &EngineConfig) -> Result<Self, LoadError> {
        let setup = ["crs-setup.conf", "crs-setup.conf.example"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file());
        let rules_dir = dir.join("rules");
        let mut rule_files: Vec<PathBuf> = std::fs::read_dir(&rules_dir)
            .map_err(|e| LoadError::Io {
                path: rules_dir.clone(),
                reason: e.to_string(),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        rule_files.sort();
        let mut set = RuleSet::default();
        if let Some(setup) = setup {
            let text = std::fs::read_to_string(&setup).map_err(|e| LoadError::Io {
                path: setup.clone(),
                reason: e.to_string(),
            })?;
            set.add(parser::directives(&setup, &text)?)?;
        }
        let cfg_file = PathBuf::from("<engine-config>");
        set.add(parser::directives(&cfg_file, &config_directives(cfg)?)?)?;
        for f in &rule_files {
            let text = std::fs::read_to_string(f).map_err(|e| LoadError::Io {
                path: f.clone(),
                reason: e.to_string(),
            })?;
            set.add(parser::directives(f, &text)?)?;
        }
        set.finish(rule_files.last().unwrap_or(&cfg_file))?;
        set.remove_ids(&cfg.excluded_rules);
        Ok(Self::from_set(set, cfg))
    }

    /// Loads rule files as they are (no CRS layout, no configuration `SecAction`).
    pub fn load_files(files: &[PathBuf], cfg: &EngineConfig) -> Result<Self, LoadError> {
        let mut set = rule::load_files(files)?;
        set.remove_ids(&cfg.excluded_rules);
        Ok(Self::from_set(set, cfg))
    }

    fn from_set(set: RuleSet, cfg: &EngineConfig) -> Self {
        let markers = std::array::from_fn(|i| rule::marker_index(&set.phases[i]));
        Self {
            rules: set,
            markers,
            config: cfg.clone(),
            persistent: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
        }
    }

    /// Rule count, regex fallbacks, component signatures.
    #[must_use]
    pub fn info(&self) -> EngineInfo {
        let mut fallback = self.rules.fallback_rules.clone();
        fallback.sort_unstable();
        fallback.dedup();
        let mut unicode = self.rules.unicode_rules.clone();
        unicode.sort_unstable();
        unicode.dedup();
        EngineInfo {
            rules: self.rules.rule_count(),
            fallback_regex_rules: fallback,
            unicode_regex_rules: unicode,
            component_signatures: self.rules.component_signatures.clone(),
        }
    }

    /// The tags of rule `id` (`paranoia-level/2`, `attack-sqli`, ...), if it is loaded.
    #[must_use]
    pub fn rule_tags(&self, id: u64) -> Option<&[String]> {
        self.rules.phases.iter().flatten().find_map(|it| match it {
            Item::Rule(r) if r.id == id => Some(r.tags.as_slice()),
            _ => None,
        })
    }

    /// Starts a transaction for `req`.
    #[must_use]
    pub fn begin<'e>(&'e self, req: &Request) -> Transaction<'e> {
        Transaction::new(self, req)
    }

    /// Runs every phase: the request phases, the response phases when `resp` is given and the
    /// request was not interrupted, then logging.
    #[must_use]
    pub fn transaction(&self, req: &Request, resp: Option<&Response>) -> Outcome {
        let mut tx = self.begin(req);
        if tx.process_request().is_none() {
            if let Some(r) = resp {
                tx.process_response(r);
            }
        }
        tx.finish()
    }
}

/// The configuration `SecAction` (id 900000, as CRS's own setup examples number it).
fn config_directives(cfg: &EngineConfig) -> Result<String, LoadError> {
    let bad = |m: String| Err(LoadError::Config(m));
    if !(1..=4).contains(&cfg.blocking_paranoia_level) {
        return bad("blocking paranoia level must be 1-4".into());
    }
    let detection = cfg
        .detection_paranoia_level
        .unwrap_or(cfg.blocking_paranoia_level);
    if !(cfg.blocking_paranoia_level..=4).contains(&detection) {
        return bad("detection paranoia level must be between the blocking level and 4".into());
    }
    let mut vars = vec![
        (
            "blocking_paranoia_level".to_string(),
            cfg.blocking_paranoia_level.to_string(),
        ),
        (
            "detection_paranoia_level".to_string(),
            detection.to_string(),
        ),
        (
            "inbound_anomaly_score_threshold".to_string(),
            cfg.inbound_anomaly_threshold.to_string(),
        ),
        (
            "outbound_anomaly_score_threshold".to_string(),
            cfg.outbound_anomaly_threshold.to_string(),
        ),
    ];
    vars.extend(cfg.setvars.iter().cloned());
    let mut text = String::from("SecAction \"id:900000,phase:1,pass,nolog,t:none");
    for (name, value) in vars {
        let name = name.strip_prefix("tx.").unwrap_or(&name);
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return bad(format!("bad variable name {name:?}"));
        }
        if value.contains(['"', '\\', '\n', '\r']) {
            return bad(format!(
                "value of {name} may not contain quotes, backslashes or newlines"
            ));
        }
        text.push_str(&format!(",setvar:'tx.{name}={}'", value.replace('\'', "")));
    }
    text.push_str("\"\n");
    Ok(text)
}

/// One transaction's state.
pub struct Transaction<'e> {
    engine: &'e Engine,
    colls: HashMap<&'static str, Entries>,
    scalars: HashMap<&'static str, Vec<u8>>,
    tx: BTreeMap<String, Vec<u8>>,
    persistent: HashMap<String, (String, BTreeMap<String, Vec<u8>>)>,
    xml: Option<body::Xml>,
    mode: EngineMode,
    removed_ids: Vec<IdRange>,
    removed_tags: Vec<String>,
    removed_targets_by_id: Vec<(Vec<IdRange>, Arc<Vec<Exclusion>>)>,
    removed_targets_by_tag: Vec<(String, Arc<Vec<Exclusion>>)>,
    body_processor: Option<String>,
    force_body_variable: bool,
    matched_var: Option<(String, Vec<u8>)>,
    matched_vars: Entries,
    rule: Option<&'e Rule>,
    interruption: Option<Interruption>,
    allowed: Option<AllowScope>,
    matched: Vec<MatchedRule>,
    request_body: Vec<u8>,
    request_body_error: Option<String>,
    started: Instant,
    finished_phases: u8,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("matched", &self.matched.len())
            .field("interruption", &self.interruption)
            .finish_non_exhaustive()
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl<'e> Transaction<'e> {
    fn new(engine: &'e Engine, req: &Request) -> Self {
        let mut t = Self {
            engine,
            colls: HashMap::new(),
            scalars: HashMap::new(),
            tx: BTreeMap::new(),
            persistent: HashMap::new(),
            xml: None,
            mode: engine.rules.engine_mode.unwrap_or(engine.config.mode),
            removed_ids: Vec::new(),
            removed_tags: Vec::new(),
            removed_targets_by_id: Vec::new(),
            removed_targets_by_tag: Vec::new(),
            body_processor: None,
            force_body_variable: false,
            matched_var: None,
            matched_vars: Vec::new(),
            rule: None,
            interruption: None,
            allowed: None,
            matched: Vec::new(),
            request_body: Vec::new(),
            request_body_error: None,
            started: Instant::now(),
            finished_phases: 0,
        };
        if engine.config.mode != EngineMode::On {
            t.mode = engine.config.mode;
        }
        t.request_variables(req);
        t
    }

    fn request_variables(&mut self, req: &Request) {
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
        let headers: Entries = req.headers.clone();
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
                    cookies.push((lossy(n), val.to_vec()));
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
        let content_type = header(&headers, "content-type")
            .map(lossy)
            .unwrap_or_default();
        let ct = content_type.to_ascii_lowercase();
        self.body_processor = body_processor_for(&ct);
        let mut body = req.body.clone();
        body.truncate(self.engine.config.request_body_limit);
        self.request_body = body;

        let s = &mut self.scalars;
        s.insert("REQUEST_METHOD", req.method.clone().into_bytes());
        s.insert("REQUEST_PROTOCOL", req.protocol.clone().into_bytes());
        s.insert("REQUEST_URI", uri.as_bytes().to_vec());
        s.insert("REQUEST_URI_RAW", raw.as_bytes().to_vec());
        s.insert("REQUEST_FILENAME", filename);
        s.insert("REQUEST_BASENAME", basename);
        s.insert(
            "REQUEST_LINE",
            format!("{} {} {}", req.method, raw, req.protocol).into_bytes(),
        );
        s.insert("QUERY_STRING", query.unwrap_or("").as_bytes().to_vec());
        s.insert("REMOTE_ADDR", req.client_ip.to_string().into_bytes());
        s.insert("REMOTE_PORT", req.client_port.to_string().into_bytes());
        s.insert("SERVER_NAME", host.unwrap_or_default().into_bytes());
        s.insert("UNIQUE_ID", unique.into_bytes());
        s.insert("REQUEST_BODY", Vec::new());
        s.insert("REQUEST_BODY_LENGTH", b"0".to_vec());
        s.insert("REQUEST_CONTENT_TYPE", content_type.into_bytes());
        s.insert("REQBODY_ERROR", b"0".to_vec());
        // Present (empty) even when no processor applies, as in ModSecurity.
        s.insert(
            "REQBODY_PROCESSOR",
            self.body_processor.clone().unwrap_or_default().into_bytes(),
        );
        let names = |e: &Entries| -> Entries {
            e.iter()
                .map(|(k, _)| (k.clone(), k.clone().into_bytes()))
                .collect()
        };
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
    fn rebuild_args(&mut self) {
        let mut args = self.colls.get("ARGS_GET").cloned().unwrap_or_default();
        args.extend(self.colls.get("ARGS_POST").cloned().unwrap_or_default());
        let size: usize = args.iter().map(|(k, v)| k.len() + v.len()).sum();
        let names = args
            .iter()
            .map(|(k, _)| (k.clone(), k.clone().into_bytes()))
            .collect();
        self.colls.insert("ARGS_NAMES", names);
        self.colls.insert("ARGS", args);
        self.scalars
            .insert("ARGS_COMBINED_SIZE", size.to_string().into_bytes());
    }

    /// Runs phases 1 and 2 (headers, then the body); answers the interruption, if any.
    pub fn process_request(&mut self) -> Option<Interruption> {
        self.run_phase(1);
        if self.interruption.is_none() {
            self.process_request_body();
            self.run_phase(2);
        }
        self.interruption.clone()
    }

    fn process_request_body(&mut self) {
        let body = std::mem::take(&mut self.request_body);
        let ct = self
            .scalars
            .get("REQUEST_CONTENT_TYPE")
            .map(|v| lossy(v))
            .unwrap_or_default();
        self.scalars
            .insert("REQUEST_BODY_LENGTH", body.len().to_string().into_bytes());
        let mut error = None;
        match self.body_processor.as_deref() {
            Some("URLENCODED") => {
                self.colls.insert("ARGS_POST", body::urlencoded(&body));
            }
            Some("JSON") if !body.is_empty() => match body::json(&body) {
                Ok(a) => {
                    self.colls.insert("ARGS_POST", a);
                }
                Err(e) => error = Some(e),
            },
            Some("XML") if !body.is_empty() => match body::xml(&body) {
                Ok(x) => self.xml = Some(x),
                Err(e) => error = Some(e),
            },
            Some("MULTIPART") => {
                let m = body::multipart(&body, &body::boundary(&ct).unwrap_or_default());
                error.clone_from(&m.error);
                let size: usize = m.files.iter().map(|f| f.2).sum();
                self.colls.insert("ARGS_POST", m.args);
                self.colls.insert(
                    "FILES",
                    m.files
                        .iter()
                        .map(|(n, f, _)| (n.clone(), f.clone().into_bytes()))
                        .collect(),
                );
                self.colls.insert(
                    "FILES_NAMES",
                    m.files
                        .iter()
                        .map(|(n, _, _)| (n.clone(), n.clone().into_bytes()))
                        .collect(),
                );
                self.colls.insert(
                    "FILES_SIZES",
                    m.files
                        .iter()
                        .map(|(n, _, s)| (n.clone(), s.to_string().into_bytes()))
                        .collect(),
                );
                self.colls.insert("MULTIPART_PART_HEADERS", m.part_headers);
                self.scalars
                    .insert("FILES_COMBINED_SIZE", size.to_string().into_bytes());
                let strict = u8::from(m.error.is_some() || m.unmatched_boundary);
                self.scalars
                    .insert("MULTIPART_STRICT_ERROR", strict.to_string().into_bytes());
                self.scalars.insert(
                    "MULTIPART_UNMATCHED_BOUNDARY",
                    u8::from(m.unmatched_boundary).to_string().into_bytes(),
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
        let names: Entries = self
            .colls
            .get("ARGS_POST")
            .map(|a| {
                a.iter()
                    .map(|(k, _)| (k.clone(), k.clone().into_bytes()))
                    .collect()
            })
            .unwrap_or_default();
        self.colls.insert("ARGS_POST_NAMES", names);
        if let Some(e) = &error {
            self.scalars.insert("REQBODY_ERROR", b"1".to_vec());
            self.scalars
                .insert("REQBODY_ERROR_MSG", e.clone().into_bytes());
        }
        self.request_body_error = error;
        // As in ModSecurity: REQUEST_BODY holds the body for the URL-encoded processor, or
        // for any when `ctl:forceRequestBodyVariable=On` (CRS turns it on when no processor
        // applies).
        if self.force_body_variable || self.body_processor.as_deref() == Some("URLENCODED") {
            self.scalars.insert("REQUEST_BODY", body);
        }
        self.rebuild_args();
    }

    /// Runs phases 3 and 4 on the upstream's response; answers the interruption, if any.
    pub fn process_response(&mut self, resp: &Response) -> Option<Interruption> {
        if self.interruption.is_some() {
            return self.interruption.clone();
        }
        let ct = header(&resp.headers, "content-type")
            .map(lossy)
            .unwrap_or_default();
        let s = &mut self.scalars;
        s.insert("RESPONSE_STATUS", resp.status.to_string().into_bytes());
        s.insert("RESPONSE_PROTOCOL", resp.protocol.clone().into_bytes());
        s.insert("RESPONSE_CONTENT_TYPE", ct.clone().into_bytes());
        s.insert(
            "STATUS_LINE",
            format!("{} {}", resp.protocol, resp.status).into_bytes(),
        );
        if let Some(len) = header(&resp.headers, "content-length") {
            s.insert("RESPONSE_CONTENT_LENGTH", len.to_vec());
        }
        self.colls.insert(
            "RESPONSE_HEADERS_NAMES",
            resp.headers
                .iter()
                .map(|(k, _)| (k.clone(), k.clone().into_bytes()))
                .collect(),
        );
        self.colls.insert("RESPONSE_HEADERS", resp.headers.clone());
        self.run_phase(3);
        if self.interruption.is_none() {
            let mime = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let inspect = mime.is_empty()
                || self
                    .engine
                    .config
                    .response_body_mime_types
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(&mime));
            if inspect {
                let mut b = resp.body.clone();
                b.truncate(self.engine.config.response_body_limit);
                self.scalars.insert("RESPONSE_BODY", b);
            }
            self.run_phase(4);
        }
        self.interruption.clone()
    }

    /// Runs phase 5 (logging) and answers the outcome.
    #[must_use]
    pub fn finish(mut self) -> Outcome {
        if self.finished_phases < 5 {
            self.run_phase(5);
        }
        self.persist();
        let n = |k: &str| self.tx.get(k).map_or(0, |v| atoi(v));
        Outcome {
            interruption: self.interruption.clone(),
            inbound_anomaly_score: n("blocking_inbound_anomaly_score"),
            outbound_anomaly_score: n("blocking_outbound_anomaly_score"),
            detection_inbound_anomaly_score: n("detection_inbound_anomaly_score"),
            detection_outbound_anomaly_score: n("detection_outbound_anomaly_score"),
            matched: std::mem::take(&mut self.matched),
            request_body_error: self.request_body_error.take(),
        }
    }

    fn persist(&mut self) {
        if self.persistent.is_empty() {
            return;
        }
        let Ok(mut store) = self.engine.persistent.lock() else {
            return;
        };
        if store.len() > MAX_PERSISTENT_RECORDS {
            let drop: Vec<_> = store.keys().take(store.len() / 2).cloned().collect();
            for k in drop {
                store.remove(&k);
            }
        }
        for (coll, (key, vars)) in self.persistent.drain() {
            store.insert((coll, key), vars);
        }
    }

    fn run_phase(&mut self, phase: u8) {
        self.finished_phases = phase;
        if self.mode == EngineMode::Off {
            return;
        }
        match self.allowed {
            Some(AllowScope::All) => return,
            Some(AllowScope::Request) if phase <= 2 => return,
            _ => {}
        }
        if self.allowed == Some(AllowScope::Phase) {
            self.allowed = None;
        }
        let engine = self.engine;
        let items = &engine.rules.phases[usize::from(phase - 1)];
        let markers = &engine.markers[usize::from(phase - 1)];
        let mut i = 0;
        let mut skip = 0u32;
        while i < items.len() {
            let Item::Rule(r) = &items[i] else {
                i += 1;
                continue;
            };
            i += 1;
            if skip > 0 {
                skip -= 1;
                continue;
            }
            if self.is_removed(r) {
                continue;
            }
            self.rule = Some(r);
            self.matched_vars.clear();
            if !self.eval_chain(r) {
                continue;
            }
            self.matched.push(MatchedRule {
                id: r.id,
                phase,
                msg: r
                    .msg
                    .as_ref()
                    .map(|m| m.expand_string(self))
                    .unwrap_or_default(),
                logdata: r
                    .logdata
                    .as_ref()
                    .map(|m| m.expand_string(self))
                    .unwrap_or_default(),
                severity: r.severity.clone(),
                tags: r.tags.clone(),
                logged: r.log,
            });
            let (dis, status) = match r.disruptive {
                Some(Disruptive::Block) => engine.rules.block_action[usize::from(phase - 1)]
                    .map_or((Disruptive::Pass, r.status), |(d, s)| (d, r.status.or(s))),
                Some(d) => (d, r.status),
                None => (Disruptive::Pass, r.status),
            };
            if self.mode == EngineMode::On {
                let action = match dis {
                    Disruptive::Deny => Some(InterruptAction::Deny),
                    Disruptive::Drop => Some(InterruptAction::Drop),
                    Disruptive::Redirect => Some(InterruptAction::Redirect),
                    Disruptive::Allow(scope) => {
                        self.allowed = Some(scope);
                        return;
                    }
                    Disruptive::Pass | Disruptive::Block => None,
                };
                if let Some(action) = action {
                    self.interruption = Some(Interruption {
                        action,
                        status: status.unwrap_or(403),
                        rule_id: r.id,
                        phase,
                    });
                    return;
                }
            }
            if r.skip > 0 {
                skip = r.skip;
            }
            if let Some(m) = &r.skip_after {
                i = markers.get(m).map_or(items.len(), |at| at + 1);
            }
        }
    }

    fn is_removed(&self, r: &Rule) -> bool {
        self.removed_ids.iter().any(|x| x.contains(r.id))
            || r.tags.iter().any(|t| self.removed_tags.contains(t))
    }

    fn eval_chain(&mut self, head: &Rule) -> bool {
        let mut link = head;
        loop {
            if !self.eval_link(link, head) {
                return false;
            }
            match &link.chain {
                Some(next) => link = next,
                None => return true,
            }
        }
    }

    /// Evaluates one link: true if any target value matched.
    fn eval_link(&mut self, rule: &Rule, head: &Rule) -> bool {
        let values = self.values(rule, head);
        self.matched_vars.clear();
        let mut any = false;
        for (name, raw) in values {
            let mut v: Cow<'_, [u8]> = Cow::Owned(raw);
            let mut hit = None;
            if rule.multi_match {
                hit = self.check(rule, &v);
            }
            for t in &rule.transforms {
                if let Some(n) = transform::apply(*t, &v) {
                    v = Cow::Owned(n);
                    if rule.multi_match && hit.is_none() {
                        hit = self.check(rule, &v);
                    }
                }
            }
            if !rule.multi_match {
                hit = self.check(rule, &v);
            }
            if let Some(caps) = hit {
                any = true;
                if rule.capture && !caps.is_empty() {
                    for (i, c) in caps.into_iter().enumerate() {
                        self.tx.insert(i.to_string(), c);
                    }
                }
                // SecAction has no variable: it leaves MATCHED_VAR as it was.
                if name != "UNCONDITIONAL" {
                    self.matched_var = Some((name.clone(), v.to_vec()));
                    self.matched_vars.push((name, v.into_owned()));
                }
                // As in ModSecurity v2, a link's non-disruptive actions run for each value it
                // matches, before the next link is evaluated.
                for e in &rule.effects {
                    self.effect(e);
                }
            }
        }
        any
    }

    /// Runs the operator (with negation): `Some(captures)` when the rule matches this value.
    fn check(&self, rule: &Rule, v: &[u8]) -> Option<Vec<Vec<u8>>> {
        let ctx = OpCtx {
            macros: self,
            capture: rule.capture,
        };
        let r = rule.op.run(v, &ctx);
        match (r, rule.negated) {
            (Some(c), false) => Some(c),
            (None, true) => Some(Vec::new()),
            _ => None,
        }
    }

    /// The (name, value) pairs a rule's targets select, exclusions applied.
    fn values(&self, rule: &Rule, head: &Rule) -> Vec<(String, Vec<u8>)> {
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
                out.push((format!("&{}", t.name), n.to_string().into_bytes()));
                continue;
            }
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
                let name = if key.is_empty() {
                    t.name.clone()
                } else {
                    format!("{}:{key}", t.name)
                };
                out.push((name, value));
            }
        }
        out
    }

    /// Entries of one target: (key, value); a scalar has an empty key.
    fn entries(&self, t: &Target) -> Vec<(String, Vec<u8>)> {
        let select = |e: &Entries| -> Vec<(String, Vec<u8>)> {
            e.iter()
                .filter(|(k, _)| t.selector.as_ref().is_none_or(|s| s.matches(k)))
                .cloned()
                .collect()
        };
        let map_select = |m: &BTreeMap<String, Vec<u8>>| -> Vec<(String, Vec<u8>)> {
            m.iter()
                .filter(|(k, _)| t.selector.as_ref().is_none_or(|s| s.matches(k)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        match t.name.as_str() {
            "UNCONDITIONAL" => vec![(String::new(), Vec::new())],
            "TX" => map_select(&self.tx),
            "IP" | "GLOBAL" | "SESSION" | "USER" | "RESOURCE" => self
                .persistent
                .get(&t.name.to_ascii_lowercase())
                .map(|(_, m)| map_select(m))
                .unwrap_or_default(),
            "MATCHED_VAR" => self
                .matched_var
                .as_ref()
                .map(|(_, v)| vec![(String::new(), v.clone())])
                .unwrap_or_default(),
            "MATCHED_VAR_NAME" => self
                .matched_var
                .as_ref()
                .map(|(n, _)| vec![(String::new(), n.clone().into_bytes())])
                .unwrap_or_default(),
            "MATCHED_VARS" => select(&self.matched_vars),
            "MATCHED_VARS_NAMES" => self
                .matched_vars
                .iter()
                .filter(|(k, _)| t.selector.as_ref().is_none_or(|s| s.matches(k)))
                .map(|(k, _)| (k.clone(), k.clone().into_bytes()))
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
                        .map(|a| ("xml".to_string(), a.clone()))
                        .collect()
                } else {
                    vec![("/*".to_string(), x.text.clone())]
                }
            }
            "DURATION" => vec![(
                String::new(),
                self.started.elapsed().as_millis().to_string().into_bytes(),
            )],
            name if name.starts_with("TIME") => time_var(name)
                .map(|v| vec![(String::new(), v.into_bytes())])
                .unwrap_or_default(),
            name => {
                if let Some(e) = self.colls.get(name) {
                    select(e)
                } else if let Some(v) = self.scalars.get(name) {
                    vec![(String::new(), v.clone())]
                } else {
                    Vec::new()
                }
            }
        }
    }

    fn effect(&mut self, e: &Effect) {
        match e {
            Effect::SetVar {
                collection,
                name,
                op,
                value,
            } => {
                let name = name.expand_string(self).to_ascii_lowercase();
                let value = value.expand(self);
                let map = if collection == "tx" {
                    &mut self.tx
                } else {
                    &mut self
                        .persistent
                        .entry(collection.clone())
                        .or_insert_with(|| (String::new(), BTreeMap::new()))
                        .1
                };
                match op {
                    SetOp::Delete => {
                        map.remove(&name);
                    }
                    SetOp::Set => {
                        map.insert(name, value);
                    }
                    SetOp::Add | SetOp::Sub => {
                        let cur = map.get(&name).map_or(0, |v| atoi(v));
                        let d = atoi(&value);
                        let n = if *op == SetOp::Add {
                            cur.saturating_add(d)
                        } else {
                            cur.saturating_sub(d)
                        };
                        map.insert(name, n.to_string().into_bytes());
                    }
                }
            }
            Effect::InitCol { collection, key } => {
                let key = key.expand_string(self);
                let stored = self
                    .engine
                    .persistent
                    .lock()
                    .ok()
                    .and_then(|s| s.get(&(collection.clone(), key.clone())).cloned())
                    .unwrap_or_default();
                self.persistent.insert(collection.clone(), (key, stored));
            }
            Effect::Ctl(c) => match c {
                Ctl::RuleEngine(m) => self.mode = *m,
                Ctl::RemoveById(ids) => self.removed_ids.extend(ids.iter().copied()),
                Ctl::RemoveByTag(t) => self.removed_tags.push(t.clone()),
                Ctl::RemoveTargetById(ids, ex) => {
                    self.removed_targets_by_id
                        .push((ids.clone(), Arc::clone(ex)));
                }
                Ctl::RemoveTargetByTag(t, ex) => {
                    self.removed_targets_by_tag
                        .push((t.clone(), Arc::clone(ex)));
                }
                Ctl::RequestBodyProcessor(p) => {
                    self.body_processor = Some(p.clone());
                    self.scalars
                        .insert("REQBODY_PROCESSOR", p.clone().into_bytes());
                }
                Ctl::ForceRequestBodyVariable(on) => self.force_body_variable = *on,
                Ctl::Ignored => {}
            },
        }
    }
}

impl MacroSource for Transaction<'_> {
    fn macro_value(&self, name: &str, key: Option<&str>) -> Option<Vec<u8>> {
        match (name, key) {
            ("TX", Some(k)) => self.tx.get(k).cloned(),
            ("IP" | "GLOBAL" | "SESSION" | "USER" | "RESOURCE", Some(k)) => self
                .persistent
                .get(&name.to_ascii_lowercase())
                .and_then(|(_, m)| m.get(k).cloned()),
            ("RULE", Some(k)) => {
                let r = self.rule?;
                match k {
                    "id" => Some(r.id.to_string().into_bytes()),
                    "phase" => Some(r.phase.to_string().into_bytes()),
                    "severity" => r.severity.clone().map(String::into_bytes),
                    // A message that names itself expands to nothing rather than recursing.
                    "msg" => r
                        .msg
                        .as_ref()
                        .filter(|m| !m.mentions("RULE"))
                        .map(|m| m.expand(self)),
                    "logdata" => r
                        .logdata
                        .as_ref()
                        .filter(|m| !m.mentions("RULE"))
                        .map(|m| m.expand(self)),
                    _ => None,
                }
            }
            ("MATCHED_VAR", None) => self.matched_var.as_ref().map(|(_, v)| v.clone()),
            ("MATCHED_VAR_NAME", None) => self
                .matched_var
                .as_ref()
                .map(|(n, _)| n.clone().into_bytes()),
            (n, Some(k)) => self
                .colls
                .get(n)
                .and_then(|e| e.iter().find(|(ek, _)| ek.eq_ignore_ascii_case(k)))
                .map(|(_, v)| v.clone()),
            (n, None) => {
                let t = Target {
                    name: n.to_string(),
                    selector: None,
                    count: false,
                };
                self.entries(&t).into_iter().next().map(|(_, v)| v)
            }
        }
    }
}

fn header<'a>(h: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// The body processor ModSecurity picks for a Content-Type: URLENCODED and MULTIPART as built
/// in (prefix of the header), then JSON and XML as the rules 200000/200001 of ModSecurity v2's
/// recommended configuration switch to them (an unanchored search in the lower-cased header;
/// JSON's rule runs last) — every CRS deployment includes that configuration.
fn body_processor_for(ct: &str) -> Option<String> {
    let ct = ct.trim_start();
    let mut p = if ct.starts_with("application/x-www-form-urlencoded") {
        Some("URLENCODED")
    } else if ct.starts_with("multipart/form-data") {
        Some("MULTIPART")
    } else {
        None
    };
    if regex::Regex::new(r"(?:application(?:/soap\+|/)|text/)xml").is_ok_and(|re| re.is_match(ct)) {
        p = Some("XML");
    }
    if ct.contains("application/json") {
        p = Some("JSON");
    }
    p.map(str::to_string)
}

fn time_var(name: &str) -> Option<String> {
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
