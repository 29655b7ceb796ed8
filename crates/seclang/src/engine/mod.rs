//! The engine (compiled rules, shared) and a transaction (one request's state).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

mod transform_cache;
mod variables;

use transform_cache::TransformCache;
use variables::{header, lossy, Selected};

use crate::macros::MacroSource;
use crate::operator::{atoi, OpCtx};
use crate::parser;
use crate::rule::{
    self, AllowScope, Ctl, Disruptive, Effect, EngineMode, Exclusion, IdRange, Item, Rule, RuleSet,
    SetOp, Target,
};
use crate::screen::Screens;
use crate::{
    EngineConfig, EngineInfo, InterruptAction, Interruption, LoadError, MatchedRule, Outcome,
    Request, Response,
};

/// Shortest value the literal screens search (see [`Transaction::screened_check`]).
const SCREEN_MIN_LEN: usize = 32;

/// Most persistent-collection records (`initcol`) kept in memory; the oldest half is dropped
/// when the map grows past it.
const MAX_PERSISTENT_RECORDS: usize = 10_000;

/// A loaded, compiled rule set. Cheap to share: wrap it in an `Arc`.
#[derive(Debug)]
pub struct Engine {
    rules: RuleSet,
    screens: Screens,
    markers: [HashMap<String, usize>; 5],
    config: EngineConfig,
    persistent: Mutex<HashMap<(String, String), Record>>,
    counter: AtomicU64,
}

/// A variable's value. Shared: selecting it for a rule copies a pointer, and its allocation
/// identifies it in the transformation cache.
pub(crate) type Bytes = Arc<[u8]>;
/// A collection's key (`ARGS:name`), shared as values are.
type Key = Arc<str>;
type Entries = Vec<(Key, Bytes)>;
/// One persistent-collection record (`initcol:ip=...`): variable → value.
type Record = BTreeMap<Key, Bytes>;

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

    /// Loads rules from text as if read from `file` (which names it in errors; data files of
    /// `@pmFromFile` are looked up beside it).
    pub fn load_text(file: &Path, text: &str, cfg: &EngineConfig) -> Result<Self, LoadError> {
        let mut set = RuleSet::default();
        set.add(parser::directives(file, text)?)?;
        set.finish(file)?;
        set.remove_ids(&cfg.excluded_rules);
        Ok(Self::from_set(set, cfg))
    }

    fn from_set(mut set: RuleSet, cfg: &EngineConfig) -> Self {
        set.number_transform_steps();
        let screens = Screens::build(&mut set);
        let markers = std::array::from_fn(|i| rule::marker_index(&set.phases[i]));
        Self {
            rules: set,
            screens,
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

    /// The ids of the loaded rules (chains by their first rule), ascending.
    #[must_use]
    pub fn rule_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .rules
            .phases
            .iter()
            .flatten()
            .filter_map(|it| match it {
                Item::Rule(r) if r.id != 0 => Some(r.id),
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
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
    scalars: HashMap<&'static str, Bytes>,
    tx: Record,
    persistent: HashMap<String, (String, Record)>,
    xml: Option<variables::XmlValues>,
    mode: EngineMode,
    removed_ids: Vec<IdRange>,
    removed_tags: Vec<String>,
    removed_targets_by_id: Vec<(Vec<IdRange>, Arc<Vec<Exclusion>>)>,
    removed_targets_by_tag: Vec<(String, Arc<Vec<Exclusion>>)>,
    body_processor: Option<String>,
    force_body_variable: bool,
    matched_var: Option<(String, Bytes)>,
    matched_vars: Vec<(String, Bytes)>,
    rule: Option<&'e Rule>,
    interruption: Option<Interruption>,
    allowed: Option<AllowScope>,
    matched: Vec<MatchedRule>,
    request_body: Vec<u8>,
    request_body_error: Option<String>,
    started: Instant,
    finished_phases: u8,
    transforms: TransformCache,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("matched", &self.matched.len())
            .field("interruption", &self.interruption)
            .finish_non_exhaustive()
    }
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
            transforms: TransformCache::default(),
        };
        if engine.config.mode != EngineMode::On {
            t.mode = engine.config.mode;
        }
        t.request_variables(req);
        t
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

    /// Runs phases 3 and 4 on the upstream's response; answers the interruption, if any.
    pub fn process_response(&mut self, resp: &Response) -> Option<Interruption> {
        if self.interruption.is_some() {
            return self.interruption.clone();
        }
        let ct = header(&resp.headers, "content-type")
            .map(lossy)
            .unwrap_or_default();
        let s = &mut self.scalars;
        s.insert("RESPONSE_STATUS", bytes(resp.status.to_string()));
        s.insert("RESPONSE_PROTOCOL", bytes(resp.protocol.as_str()));
        s.insert("RESPONSE_CONTENT_TYPE", bytes(ct.as_str()));
        s.insert(
            "STATUS_LINE",
            bytes(format!("{} {}", resp.protocol, resp.status)),
        );
        if let Some(len) = header(&resp.headers, "content-length") {
            s.insert("RESPONSE_CONTENT_LENGTH", Bytes::from(len));
        }
        let headers = variables::shared(&resp.headers);
        self.colls
            .insert("RESPONSE_HEADERS_NAMES", variables::names(&headers));
        self.colls.insert("RESPONSE_HEADERS", headers);
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
                let limit = self.engine.config.response_body_limit.min(resp.body.len());
                self.scalars
                    .insert("RESPONSE_BODY", Bytes::from(&resp.body[..limit]));
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

    fn eval_chain(&mut self, head: &'e Rule) -> bool {
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
    fn eval_link(&mut self, rule: &'e Rule, head: &'e Rule) -> bool {
        let values = self.values(rule, head);
        self.matched_vars.clear();
        let mut any = false;
        for sel in values {
            let (v, hit) = self.transform_and_check(rule, &sel);
            if let Some(caps) = hit {
                any = true;
                if rule.capture && !caps.is_empty() {
                    for (i, c) in caps.into_iter().enumerate() {
                        self.tx.insert(Key::from(i.to_string()), Bytes::from(c));
                    }
                }
                // SecAction has no variable: it leaves MATCHED_VAR as it was.
                if sel.target.name != "UNCONDITIONAL" {
                    let name = sel.name();
                    self.matched_var = Some((name.clone(), Arc::clone(&v)));
                    self.matched_vars.push((name, v));
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

    /// Runs a link's transformations on one selected value, and its operator on the result
    /// (with `multiMatch`, on the value and after every step that changed it): the transformed
    /// value, and `Some(captures)` if the operator matched.
    fn transform_and_check(
        &mut self,
        rule: &Rule,
        sel: &Selected<'_>,
    ) -> (Bytes, Option<Vec<Vec<u8>>>) {
        let fast = self.engine.config.fast_paths && sel.stored;
        let cached = fast && !rule.transforms.is_empty();
        if cached && !rule.multi_match {
            let last = rule.transform_steps.last().copied().unwrap_or_default();
            if let Some(done) = self.transforms.get(&sel.value, last) {
                let v = Arc::clone(&done.value);
                let hit = self.screened_check(rule, &sel.value, &v, fast);
                return (v, hit);
            }
        }
        let mut hit = None;
        if rule.multi_match {
            hit = self.check(rule, &sel.value);
        }
        let mut v = Arc::clone(&sel.value);
        for (i, (t, step)) in rule
            .transforms
            .iter()
            .zip(&rule.transform_steps)
            .enumerate()
        {
            let s = if cached {
                self.transforms.step(&sel.value, *step, i == 0, *t, &v)
            } else {
                transform_cache::apply(*t, &v)
            };
            v = s.value;
            if s.changed && rule.multi_match && hit.is_none() {
                hit = self.check(rule, &v);
            }
        }
        if !rule.multi_match {
            hit = self.screened_check(rule, &sel.value, &v, fast);
        }
        (v, hit)
    }

    /// [`Self::check`] of `v`, the value `src` transformed by the rule's whole chain, after
    /// the rule's literal screen when it has one (and `fast`): a value without any of the
    /// rule's literals cannot match its operator.
    fn screened_check(
        &mut self,
        rule: &Rule,
        src: &Bytes,
        v: &Bytes,
        fast: bool,
    ) -> Option<Vec<Vec<u8>>> {
        // A short value is cheaper to run the operator on than to search and remember.
        if let (true, Some((step, slot))) = (fast && v.len() >= SCREEN_MIN_LEN, rule.screen) {
            if let Some(screen) = self.engine.screens.get(step) {
                if !self.transforms.screen(src, step, v, screen, slot) {
                    return rule.negated.then(Vec::new);
                }
            }
        }
        self.check(rule, v)
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
                        map.remove(name.as_str());
                    }
                    SetOp::Set => {
                        map.insert(Key::from(name), Bytes::from(value));
                    }
                    SetOp::Add | SetOp::Sub => {
                        let cur = map.get(name.as_str()).map_or(0, |v| atoi(v));
                        let d = atoi(&value);
                        let n = if *op == SetOp::Add {
                            cur.saturating_add(d)
                        } else {
                            cur.saturating_sub(d)
                        };
                        map.insert(Key::from(name), bytes(n.to_string()));
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
                    self.scalars.insert("REQBODY_PROCESSOR", bytes(p.as_str()));
                }
                Ctl::ForceRequestBodyVariable(on) => self.force_body_variable = *on,
                Ctl::Ignored => {}
            },
        }
    }
}

impl MacroSource for Transaction<'_> {
    fn macro_value(&self, name: &str, key: Option<&str>) -> Option<Cow<'_, [u8]>> {
        fn borrowed(v: &Bytes) -> Cow<'_, [u8]> {
            Cow::Borrowed(v)
        }
        match (name, key) {
            ("TX", Some(k)) => self.tx.get(k).map(borrowed),
            ("IP" | "GLOBAL" | "SESSION" | "USER" | "RESOURCE", Some(k)) => self
                .persistent
                .get(&name.to_ascii_lowercase())
                .and_then(|(_, m)| m.get(k).map(borrowed)),
            ("RULE", Some(k)) => {
                let r = self.rule?;
                let owned = |v: Vec<u8>| Cow::Owned(v);
                match k {
                    "id" => Some(owned(r.id.to_string().into_bytes())),
                    "phase" => Some(owned(r.phase.to_string().into_bytes())),
                    "severity" => r.severity.as_deref().map(|s| Cow::Borrowed(s.as_bytes())),
                    // A message that names itself expands to nothing rather than recursing.
                    "msg" => r
                        .msg
                        .as_ref()
                        .filter(|m| !m.mentions("RULE"))
                        .map(|m| owned(m.expand(self))),
                    "logdata" => r
                        .logdata
                        .as_ref()
                        .filter(|m| !m.mentions("RULE"))
                        .map(|m| owned(m.expand(self))),
                    _ => None,
                }
            }
            ("MATCHED_VAR", None) => self.matched_var.as_ref().map(|(_, v)| borrowed(v)),
            ("MATCHED_VAR_NAME", None) => self
                .matched_var
                .as_ref()
                .map(|(n, _)| Cow::Borrowed(n.as_bytes())),
            (n, Some(k)) => self
                .colls
                .get(n)
                .and_then(|e| e.iter().find(|(ek, _)| ek.eq_ignore_ascii_case(k)))
                .map(|(_, v)| borrowed(v)),
            (n, None) => {
                let t = Target {
                    name: n.to_string(),
                    selector: None,
                    count: false,
                };
                self.entries(&t)
                    .into_iter()
                    .next()
                    .map(|(_, v)| Cow::Owned(v.to_vec()))
            }
        }
    }
}

/// A value made from text.
fn bytes(s: impl AsRef<[u8]>) -> Bytes {
    Bytes::from(s.as_ref())
}
