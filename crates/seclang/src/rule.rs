//! Compiled rules and the loader that turns directives into them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::macros::Expandable;
use crate::operator::Op;
use crate::parser::{self, Directive, RawVar};
use crate::transform::{self, Tf};
use crate::LoadError;

/// Variables the engine can produce. A rule naming any other fails to load.
pub(crate) const KNOWN_VARIABLES: &[&str] = &[
    "ARGS",
    "ARGS_NAMES",
    "ARGS_GET",
    "ARGS_GET_NAMES",
    "ARGS_POST",
    "ARGS_POST_NAMES",
    "ARGS_COMBINED_SIZE",
    "REQUEST_HEADERS",
    "REQUEST_HEADERS_NAMES",
    "REQUEST_COOKIES",
    "REQUEST_COOKIES_NAMES",
    "REQUEST_URI",
    "REQUEST_URI_RAW",
    "REQUEST_FILENAME",
    "REQUEST_BASENAME",
    "REQUEST_LINE",
    "REQUEST_METHOD",
    "REQUEST_PROTOCOL",
    "QUERY_STRING",
    "REQUEST_BODY",
    "REQUEST_BODY_LENGTH",
    "XML",
    "FILES",
    "FILES_NAMES",
    "FILES_SIZES",
    "FILES_COMBINED_SIZE",
    "MULTIPART_PART_HEADERS",
    "MULTIPART_STRICT_ERROR",
    "MULTIPART_UNMATCHED_BOUNDARY",
    "REQBODY_ERROR",
    "REQBODY_ERROR_MSG",
    "REQBODY_PROCESSOR",
    "TX",
    "IP",
    "GLOBAL",
    "SESSION",
    "USER",
    "RESOURCE",
    "MATCHED_VAR",
    "MATCHED_VARS",
    "MATCHED_VAR_NAME",
    "MATCHED_VARS_NAMES",
    "UNIQUE_ID",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "SERVER_NAME",
    "RESPONSE_STATUS",
    "RESPONSE_PROTOCOL",
    "RESPONSE_HEADERS",
    "RESPONSE_HEADERS_NAMES",
    "RESPONSE_BODY",
    "RESPONSE_CONTENT_TYPE",
    "RESPONSE_CONTENT_LENGTH",
    "DURATION",
    "TIME",
    "TIME_EPOCH",
    "TIME_YEAR",
    "TIME_MON",
    "TIME_DAY",
    "TIME_HOUR",
    "TIME_MIN",
    "TIME_SEC",
    "TIME_WDAY",
    "REQUEST_CONTENT_TYPE",
    "STATUS_LINE",
];

/// What selects entries of a collection.
#[derive(Debug)]
pub(crate) enum Selector {
    /// A key, compared case-insensitively (stored lower-cased).
    Key(String),
    /// `/regex/` on the key.
    Regex(regex::Regex),
    /// An XPath expression of `XML:`.
    XPath(String),
}

impl Selector {
    fn new(var: &str, sel: &str) -> Result<Self, String> {
        if var == "XML" {
            return Ok(Self::XPath(sel.to_string()));
        }
        if sel.len() >= 2 && sel.starts_with('/') && sel.ends_with('/') {
            let re = regex::RegexBuilder::new(&sel[1..sel.len() - 1])
                .case_insensitive(true)
                .build()
                .map_err(|e| format!("bad selector {sel}: {e}"))?;
            return Ok(Self::Regex(re));
        }
        Ok(Self::Key(sel.to_ascii_lowercase()))
    }

    /// Whether the entry named `key` is selected.
    pub(crate) fn matches(&self, key: &str) -> bool {
        match self {
            Self::Key(k) => key.eq_ignore_ascii_case(k),
            Self::Regex(re) => re.is_match(key),
            Self::XPath(_) => true,
        }
    }
}

/// A variable of a rule's target list (`ARGS:foo`, `&TX:x`).
#[derive(Debug)]
pub(crate) struct Target {
    pub name: String,
    pub selector: Option<Selector>,
    pub count: bool,
}

/// An exclusion of a target list (`!ARGS:foo`): from collection `name`, drop selected entries.
#[derive(Debug)]
pub(crate) struct Exclusion {
    pub name: String,
    pub selector: Option<Selector>,
}

impl Exclusion {
    /// Whether this exclusion removes entry `key` of collection `name`.
    pub(crate) fn removes(&self, name: &str, key: &str) -> bool {
        self.name == name && self.selector.as_ref().is_none_or(|s| s.matches(key))
    }
}

/// Disruptive actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disruptive {
    Pass,
    Block,
    Deny,
    Drop,
    Redirect,
    Allow(AllowScope),
}

/// What `allow` lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AllowScope {
    /// `allow`: every remaining phase.
    All,
    /// `allow:phase`: the rest of this phase.
    Phase,
    /// `allow:request`: the remaining request phases.
    Request,
}

/// `SecRuleEngine` / `ctl:ruleEngine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMode {
    /// Rules run and disruptive actions interrupt.
    On,
    /// Rules run and are logged; nothing is interrupted.
    DetectionOnly,
    /// No rule runs.
    Off,
}

impl EngineMode {
    fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            "detectiononly" => Ok(Self::DetectionOnly),
            other => Err(format!("unknown rule engine mode {other:?}")),
        }
    }
}

/// How `setvar` changes a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    Set,
    Add,
    Sub,
    Delete,
}

/// Rule ids a `ctl` or exclusion names: one id or an inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdRange(pub u64, pub u64);

impl IdRange {
    pub(crate) fn contains(self, id: u64) -> bool {
        (self.0..=self.1).contains(&id)
    }

    fn parse_list(s: &str) -> Result<Vec<Self>, String> {
        s.split([' ', ','])
            .filter(|x| !x.is_empty())
            .map(|x| {
                let (a, b) = x.split_once('-').unwrap_or((x, x));
                let n = |v: &str| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("bad rule id {x:?}"))
                };
                Ok(Self(n(a)?, n(b)?))
            })
            .collect()
    }
}

/// `ctl:` actions.
#[derive(Debug)]
pub(crate) enum Ctl {
    RuleEngine(EngineMode),
    RemoveById(Vec<IdRange>),
    RemoveByTag(String),
    RemoveTargetById(Vec<IdRange>, Arc<Vec<Exclusion>>),
    RemoveTargetByTag(String, Arc<Vec<Exclusion>>),
    RequestBodyProcessor(String),
    /// Fill `REQUEST_BODY` whatever the body processor.
    ForceRequestBodyVariable(bool),
    /// Settings with no effect in this engine (`auditEngine`, `debugLogLevel`, ...).
    Ignored,
}

/// Non-disruptive actions that change state, run in the order written once the rule (and its
/// chain) matched.
#[derive(Debug)]
pub(crate) enum Effect {
    SetVar {
        collection: String,
        name: Expandable,
        op: SetOp,
        value: Expandable,
    },
    Ctl(Ctl),
    InitCol {
        collection: String,
        key: Expandable,
    },
}

/// One compiled rule (a chain link is a rule too).
#[derive(Debug)]
pub(crate) struct Rule {
    pub id: u64,
    pub phase: u8,
    pub line: usize,
    pub targets: Vec<Target>,
    pub exclusions: Vec<Exclusion>,
    pub op: Op,
    pub negated: bool,
    pub transforms: Vec<Tf>,
    /// For each step of `transforms`, the number of that prefix of the chain among every
    /// chain of the rule set (equal prefixes, equal numbers): the transformation cache's key.
    pub transform_steps: Vec<u32>,
    /// The literal screen (by transformation step) and the rule's slot in it, if the rule is
    /// screened ([`crate::screen`]).
    pub screen: Option<(u32, u32)>,
    pub multi_match: bool,
    pub capture: bool,
    pub disruptive: Option<Disruptive>,
    pub status: Option<u16>,
    pub effects: Vec<Effect>,
    pub skip: u32,
    pub skip_after: Option<String>,
    pub log: bool,
    pub msg: Option<Expandable>,
    pub logdata: Option<Expandable>,
    pub tags: Vec<String>,
    pub severity: Option<String>,
    pub chain: Option<Box<Rule>>,
    /// Set while loading: the rule asked for `chain`.
    wants_chain: bool,
}

/// An entry of a phase's rule list.
#[derive(Debug)]
pub(crate) enum Item {
    Rule(Box<Rule>),
    Marker(String),
}

/// Defaults set by `SecDefaultAction` for one phase.
#[derive(Debug, Clone)]
struct Defaults {
    disruptive: Disruptive,
    status: Option<u16>,
    log: bool,
    transforms: Vec<Tf>,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            disruptive: Disruptive::Pass,
            status: None,
            log: true,
            transforms: Vec::new(),
        }
    }
}

/// The loaded rule set: rules per phase (1–5) in configuration order.
#[derive(Debug, Default)]
pub(crate) struct RuleSet {
    pub phases: [Vec<Item>; 5],
    pub engine_mode: Option<EngineMode>,
    pub component_signatures: Vec<String>,
    /// Per phase: the default disruptive action `block` stands for.
    pub block_action: [Option<(Disruptive, Option<u16>)>; 5],
    /// Rules whose operator needed the `fancy-regex` fallback.
    pub fallback_rules: Vec<u64>,
    /// Rules whose regex needed Unicode mode.
    pub unicode_rules: Vec<u64>,
    defaults: [Option<Defaults>; 5],
    /// Rules loaded so far, before they are sorted into phases (chains folded).
    pending: Vec<Item>,
    open_chain: Vec<Rule>,
}

/// Directives with no effect on rule evaluation here, accepted by name.
const IGNORED_DIRECTIVES: &[&str] = &[
    "SecRequestBodyAccess",
    "SecResponseBodyAccess",
    "SecRequestBodyLimit",
    "SecRequestBodyNoFilesLimit",
    "SecRequestBodyInMemoryLimit",
    "SecRequestBodyLimitAction",
    "SecRequestBodyJsonDepthLimit",
    "SecResponseBodyLimit",
    "SecResponseBodyLimitAction",
    "SecResponseBodyMimeType",
    "SecPcreMatchLimit",
    "SecPcreMatchLimitRecursion",
    "SecAuditEngine",
    "SecAuditLog",
    "SecAuditLogParts",
    "SecAuditLogType",
    "SecAuditLogStorageDir",
    "SecAuditLogRelevantStatus",
    "SecAuditLogFormat",
    "SecDebugLog",
    "SecDebugLogLevel",
    "SecTmpDir",
    "SecDataDir",
    "SecUploadDir",
    "SecUploadKeepFiles",
    "SecArgumentSeparator",
    "SecCookieFormat",
    "SecUnicodeMapFile",
    "SecStatusEngine",
    "SecCollectionTimeout",
    "SecArgumentsLimit",
    "SecServerSignature",
];

impl RuleSet {
    /// Adds one file's directives.
    pub(crate) fn add(&mut self, directives: Vec<Directive>) -> Result<(), LoadError> {
        for d in directives {
            let err = |reason: String| LoadError::Parse {
                file: d.file.clone(),
                line: d.line,
                reason,
            };
            self.directive(&d).map_err(err)?;
        }
        Ok(())
    }

    fn directive(&mut self, d: &Directive) -> Result<(), String> {
        let arg = |i: usize| {
            d.args
                .get(i)
                .map(String::as_str)
                .ok_or_else(|| format!("{} needs {} argument(s)", d.name, i + 1))
        };
        match d.name.as_str() {
            "SecRule" => {
                let vars = parser::variables(arg(0)?)?;
                let op = parser::operator(arg(1)?);
                let actions = d.args.get(2).map(String::as_str).unwrap_or("");
                self.rule(d, Some((vars, op)), actions)
            }
            "SecAction" => self.rule(d, None, arg(0)?),
            "SecMarker" => {
                self.check_no_open_chain()?;
                self.pending.push(Item::Marker(arg(0)?.to_string()));
                Ok(())
            }
            "SecDefaultAction" => {
                let acts = parser::actions(arg(0)?)?;
                let mut def = Defaults::default();
                let mut phase = 2;
                for (name, value) in &acts {
                    match name.to_ascii_lowercase().as_str() {
                        "phase" => phase = parse_phase(value.as_deref())?,
                        "log" => def.log = true,
                        "nolog" => def.log = false,
                        "status" => def.status = Some(parse_num(value.as_deref())?),
                        "t" => push_transform(&mut def.transforms, value.as_deref())?,
                        n => {
                            if let Some(dis) = disruptive(n, value.as_deref())? {
                                if dis == Disruptive::Block {
                                    return Err("SecDefaultAction cannot use block".into());
                                }
                                def.disruptive = dis;
                            }
                        }
                    }
                }
                let i = usize::from(phase - 1);
                self.block_action[i] = Some((def.disruptive, def.status));
                self.defaults[i] = Some(def);
                Ok(())
            }
            "SecRuleEngine" => {
                self.engine_mode = Some(EngineMode::parse(arg(0)?)?);
                Ok(())
            }
            "SecComponentSignature" => {
                self.component_signatures.push(arg(0)?.to_string());
                Ok(())
            }
            "SecRuleRemoveById" => {
                let ids = IdRange::parse_list(&d.args.join(" "))?;
                self.pending.retain(
                    |it| !matches!(it, Item::Rule(r) if ids.iter().any(|x| x.contains(r.id))),
                );
                Ok(())
            }
            "SecRuleRemoveByTag" => {
                let tag = arg(0)?.to_string();
                self.pending
                    .retain(|it| !matches!(it, Item::Rule(r) if r.tags.contains(&tag)));
                Ok(())
            }
            "SecRuleUpdateTargetById" => {
                let ids = IdRange::parse_list(arg(0)?)?;
                let vars = parser::variables(arg(1)?)?;
                let mut touched = false;
                for it in &mut self.pending {
                    let Item::Rule(r) = it else { continue };
                    if !ids.iter().any(|x| x.contains(r.id)) {
                        continue;
                    }
                    touched = true;
                    for v in &vars {
                        add_var(r, v)?;
                    }
                }
                if touched {
                    Ok(())
                } else {
                    Err(format!("SecRuleUpdateTargetById: no rule {}", arg(0)?))
                }
            }
            name if IGNORED_DIRECTIVES.contains(&name) => Ok(()),
            other => Err(format!("unsupported directive {other}")),
        }
    }

    fn check_no_open_chain(&self) -> Result<(), String> {
        if self.open_chain.is_empty() {
            Ok(())
        } else {
            Err("a chained rule is missing after `chain`".into())
        }
    }

    fn rule(
        &mut self,
        d: &Directive,
        cond: Option<(Vec<RawVar>, parser::RawOperator)>,
        actions: &str,
    ) -> Result<(), String> {
        let in_chain = !self.open_chain.is_empty();
        let dir = d.file.parent().unwrap_or(Path::new("."));
        let (op, negated) = match &cond {
            Some((_, raw)) => (Op::compile(&raw.name, &raw.arg, dir)?, raw.negated),
            None => (Op::Unconditional, false),
        };
        let mut rule = Rule {
            id: 0,
            phase: 2,
            line: d.line,
            targets: Vec::new(),
            exclusions: Vec::new(),
            op,
            negated,
            transforms: Vec::new(),
            transform_steps: Vec::new(),
            screen: None,
            multi_match: false,
            capture: false,
            disruptive: None,
            status: None,
            effects: Vec::new(),
            skip: 0,
            skip_after: None,
            log: true,
            msg: None,
            logdata: None,
            tags: Vec::new(),
            severity: None,
            chain: None,
            wants_chain: false,
        };
        if let Some((vars, _)) = &cond {
            for v in vars {
                add_var(&mut rule, v)?;
            }
        } else {
            rule.targets.push(Target {
                name: "UNCONDITIONAL".into(),
                selector: None,
                count: false,
            });
        }
        let acts = parser::actions(actions)?;
        let mut phase = None;
        let mut log = None;
        let mut own_t: Vec<Option<Tf>> = Vec::new();
        for (name, value) in &acts {
            let v = value.as_deref();
            match name.to_ascii_lowercase().as_str() {
                "id" => rule.id = parse_num(v)?,
                "phase" => phase = Some(parse_phase(v)?),
                "t" => {
                    let tv = v.ok_or("t: needs a value")?;
                    own_t.push(transform::by_name(tv)?);
                }
                "chain" => rule.wants_chain = true,
                "capture" => rule.capture = true,
                "multimatch" => rule.multi_match = true,
                "log" => log = Some(true),
                "nolog" => log = Some(false),
                "msg" => rule.msg = Some(Expandable::new(v.unwrap_or(""))),
                "logdata" => rule.logdata = Some(Expandable::new(v.unwrap_or(""))),
                "tag" => rule.tags.push(v.unwrap_or("").to_string()),
                "severity" => rule.severity = Some(severity(v.unwrap_or(""))),
                "status" => rule.status = Some(parse_num(v)?),
                "skip" => rule.skip = parse_num(v)?,
                "skipafter" => {
                    rule.skip_after = Some(v.ok_or("skipAfter needs a marker")?.to_string())
                }
                "setvar" => rule.effects.push(setvar(v.ok_or("setvar needs a value")?)?),
                "ctl" => rule
                    .effects
                    .push(Effect::Ctl(ctl(v.ok_or("ctl needs a value")?)?)),
                "initcol" => {
                    let v = v.ok_or("initcol needs a value")?;
                    let (c, k) = v.split_once('=').ok_or("initcol needs collection=key")?;
                    rule.effects.push(Effect::InitCol {
                        collection: c.trim().to_ascii_lowercase(),
                        key: Expandable::new(k),
                    });
                }
                // Metadata and logging switches with no effect on evaluation.
                "ver" | "rev" | "maturity" | "accuracy" | "auditlog" | "noauditlog"
                | "expirevar" | "sanitisematched" | "sanitizematched" | "sanitisearg"
                | "sanitizearg" | "logdata_hidden" | "setenv" | "setuid" | "setsid"
                | "deprecatevar" | "append" | "prepend" | "exec" => {}
                n => match disruptive(n, v)? {
                    Some(dis) => rule.disruptive = Some(dis),
                    None => return Err(format!("unsupported action {name:?}")),
                },
            }
        }
        if in_chain {
            if rule.id != 0
                || phase.is_some()
                || rule.disruptive.is_some()
                || rule.skip_after.is_some()
            {
                return Err(
                    "a chained rule may not set id, phase, a disruptive action or skipAfter".into(),
                );
            }
            rule.phase = self.open_chain[0].phase;
        } else {
            if rule.id == 0 {
                return Err("rule has no id".into());
            }
            rule.phase = phase.unwrap_or(2);
        }
        let def = self.defaults[usize::from(rule.phase - 1)]
            .clone()
            .unwrap_or_default();
        let mut transforms = def.transforms.clone();
        for t in own_t {
            match t {
                None => transforms.clear(),
                Some(t) => transforms.push(t),
            }
        }
        rule.transforms = transforms;
        rule.log = log.unwrap_or(def.log);
        if !in_chain {
            if rule.disruptive.is_none() {
                rule.disruptive = Some(def.disruptive);
            }
            if rule.status.is_none() {
                rule.status = def.status;
            }
        }
        let id = if in_chain {
            self.open_chain[0].id
        } else {
            rule.id
        };
        if let Op::Rx(re) = &rule.op {
            if re.is_fallback() {
                self.fallback_rules.push(id);
            }
            if re.is_unicode() {
                self.unicode_rules.push(id);
            }
        }
        if rule.wants_chain {
            self.open_chain.push(rule);
        } else if in_chain {
            self.open_chain.push(rule);
            let mut links = std::mem::take(&mut self.open_chain);
            let mut tail = links.pop();
            while let Some(mut prev) = links.pop() {
                prev.chain = tail.map(Box::new);
                tail = Some(prev);
            }
            if let Some(head) = tail {
                self.pending.push(Item::Rule(Box::new(head)));
            }
        } else {
            self.pending.push(Item::Rule(Box::new(rule)));
        }
        Ok(())
    }

    /// Sorts the loaded rules into phases (markers go into every phase, as in ModSecurity).
    pub(crate) fn finish(&mut self, file: &Path) -> Result<(), LoadError> {
        if !self.open_chain.is_empty() {
            return Err(LoadError::Parse {
                file: file.to_path_buf(),
                line: self.open_chain[0].line,
                reason: "the last rule asks for `chain` but no rule follows".into(),
            });
        }
        for item in std::mem::take(&mut self.pending) {
            match item {
                Item::Marker(m) => {
                    for p in &mut self.phases {
                        p.push(Item::Marker(m.clone()));
                    }
                }
                Item::Rule(rule) => {
                    let phase = usize::from(rule.phase - 1);
                    self.phases[phase].push(Item::Rule(rule));
                }
            }
        }
        Ok(())
    }

    /// Numbers every prefix of every rule's transformation chain (chain links included), so
    /// that rules sharing a prefix (`t:urlDecodeUni,t:lowercase` and
    /// `t:urlDecodeUni,t:lowercase,t:removeNulls`) share its cached results.
    pub(crate) fn number_transform_steps(&mut self) {
        let mut prefixes: HashMap<(u32, Tf), u32> = HashMap::new();
        let mut number = |rule: &mut Rule| {
            let mut parent = 0;
            rule.transform_steps = rule
                .transforms
                .iter()
                .map(|t| {
                    let next = u32::try_from(prefixes.len() + 1).unwrap_or(u32::MAX);
                    parent = *prefixes.entry((parent, *t)).or_insert(next);
                    parent
                })
                .collect();
        };
        for item in self.phases.iter_mut().flatten() {
            let Item::Rule(head) = item else { continue };
            let mut link: Option<&mut Rule> = Some(head);
            while let Some(r) = link {
                number(r);
                link = r.chain.as_deref_mut();
            }
        }
    }

    /// Removes rules by id (configuration-time exclusions).
    pub(crate) fn remove_ids(&mut self, ids: &[u64]) {
        for p in &mut self.phases {
            p.retain(|it| !matches!(it, Item::Rule(r) if ids.contains(&r.id)));
        }
    }

    /// The rule ids loaded, in order, per phase.
    pub(crate) fn rule_count(&self) -> usize {
        self.phases
            .iter()
            .flatten()
            .filter(|i| matches!(i, Item::Rule(_)))
            .count()
    }
}

fn add_var(rule: &mut Rule, v: &RawVar) -> Result<(), String> {
    if !KNOWN_VARIABLES.contains(&v.name.as_str()) {
        return Err(format!("unknown variable {}", v.name));
    }
    let selector = v
        .selector
        .as_deref()
        .map(|s| Selector::new(&v.name, s))
        .transpose()?;
    if v.exclude {
        rule.exclusions.push(Exclusion {
            name: v.name.clone(),
            selector,
        });
    } else {
        rule.targets.push(Target {
            name: v.name.clone(),
            selector,
            count: v.count,
        });
    }
    Ok(())
}

pub(crate) fn exclusions_of(list: &str) -> Result<Vec<Exclusion>, String> {
    parser::variables(list)?
        .into_iter()
        .map(|v| {
            Ok(Exclusion {
                selector: v
                    .selector
                    .as_deref()
                    .map(|s| Selector::new(&v.name, s))
                    .transpose()?,
                name: v.name,
            })
        })
        .collect()
}

fn parse_num<T: std::str::FromStr>(v: Option<&str>) -> Result<T, String> {
    let v = v.ok_or("missing number")?;
    v.trim()
        .trim_matches('\'')
        .parse()
        .map_err(|_| format!("bad number {v:?}"))
}

fn parse_phase(v: Option<&str>) -> Result<u8, String> {
    match v.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("1" | "request_headers") => Ok(1),
        Some("2" | "request") => Ok(2),
        Some("3" | "response_headers") => Ok(3),
        Some("4" | "response") => Ok(4),
        Some("5" | "logging") => Ok(5),
        other => Err(format!("bad phase {other:?}")),
    }
}

fn push_transform(list: &mut Vec<Tf>, v: Option<&str>) -> Result<(), String> {
    match transform::by_name(v.ok_or("t: needs a value")?)? {
        None => list.clear(),
        Some(t) => list.push(t),
    }
    Ok(())
}

fn disruptive(name: &str, v: Option<&str>) -> Result<Option<Disruptive>, String> {
    Ok(Some(match name {
        "pass" => Disruptive::Pass,
        "block" => Disruptive::Block,
        "deny" => Disruptive::Deny,
        "drop" => Disruptive::Drop,
        "redirect" => Disruptive::Redirect,
        "allow" => Disruptive::Allow(match v.map(str::to_ascii_lowercase).as_deref() {
            None => AllowScope::All,
            Some("phase") => AllowScope::Phase,
            Some("request") => AllowScope::Request,
            Some(o) => return Err(format!("bad allow scope {o:?}")),
        }),
        _ => return Ok(None),
    }))
}

fn severity(v: &str) -> String {
    match v.trim() {
        "0" => "EMERGENCY",
        "1" => "ALERT",
        "2" => "CRITICAL",
        "3" => "ERROR",
        "4" => "WARNING",
        "5" => "NOTICE",
        "6" => "INFO",
        "7" => "DEBUG",
        other => other,
    }
    .to_ascii_uppercase()
}

fn setvar(v: &str) -> Result<Effect, String> {
    let v = v.trim();
    let (delete, v) = match v.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let (lhs, rhs) = match v.split_once('=') {
        Some((l, r)) => (l, Some(r)),
        None => (v, None),
    };
    let (collection, name) = lhs
        .trim()
        .split_once('.')
        .ok_or_else(|| format!("setvar {v:?} needs collection.name"))?;
    let (op, value) = if delete {
        (SetOp::Delete, "")
    } else {
        match rhs {
            None => (SetOp::Set, "1"),
            Some(r) => {
                if let Some(x) = r.strip_prefix('+') {
                    (SetOp::Add, x)
                } else if let Some(x) = r.strip_prefix('-') {
                    (SetOp::Sub, x)
                } else {
                    (SetOp::Set, r)
                }
            }
        }
    };
    Ok(Effect::SetVar {
        collection: collection.to_ascii_lowercase(),
        name: Expandable::new(name),
        op,
        value: Expandable::new(value),
    })
}

fn ctl(v: &str) -> Result<Ctl, String> {
    let (name, value) = v
        .split_once('=')
        .ok_or_else(|| format!("ctl {v:?} needs name=value"))?;
    let value = value.trim();
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "ruleengine" => Ctl::RuleEngine(EngineMode::parse(value)?),
        "ruleremovebyid" => Ctl::RemoveById(IdRange::parse_list(value)?),
        "ruleremovebytag" => Ctl::RemoveByTag(value.to_string()),
        "ruleremovetargetbyid" => {
            let (ids, vars) = value
                .split_once(';')
                .ok_or("ruleRemoveTargetById needs id;VAR")?;
            Ctl::RemoveTargetById(IdRange::parse_list(ids)?, Arc::new(exclusions_of(vars)?))
        }
        "ruleremovetargetbytag" => {
            let (tag, vars) = value
                .split_once(';')
                .ok_or("ruleRemoveTargetByTag needs tag;VAR")?;
            Ctl::RemoveTargetByTag(tag.to_string(), Arc::new(exclusions_of(vars)?))
        }
        "requestbodyprocessor" => Ctl::RequestBodyProcessor(value.to_ascii_uppercase()),
        "forcerequestbodyvariable" => {
            Ctl::ForceRequestBodyVariable(value.eq_ignore_ascii_case("on"))
        }
        "auditengine" | "auditlogparts" | "debugloglevel" | "requestbodyaccess"
        | "responsebodyaccess" | "requestbodylimit" | "hashengine" => Ctl::Ignored,
        other => return Err(format!("unsupported ctl:{other}")),
    })
}

/// Loads `files` in order into a rule set.
pub(crate) fn load_files(files: &[PathBuf]) -> Result<RuleSet, LoadError> {
    let mut set = RuleSet::default();
    let mut last = PathBuf::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| LoadError::Io {
            path: f.clone(),
            reason: e.to_string(),
        })?;
        set.add(parser::directives(f, &text)?)?;
        last.clone_from(f);
    }
    set.finish(&last)?;
    Ok(set)
}

/// Maps marker names to their index in each phase (for `skipAfter`).
pub(crate) fn marker_index(items: &[Item]) -> HashMap<String, usize> {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| match it {
            Item::Marker(m) => Some((m.clone(), i)),
            Item::Rule(_) => None,
        })
        .collect()
}
