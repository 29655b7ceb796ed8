//! Statements compiled into an evaluation tree.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::net::IpAddr;

use aho_corasick::AhoCorasick;
use base64::Engine as _;
use ipnet::IpNet;
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::detect;
use crate::error::CompileError;
use crate::field::{Extracted, Field};
use crate::model::{
    AggregateKeyType, ComparisonOperator, FallbackBehavior, ForwardedIpConfig, ForwardedIpPosition,
    LabelMatchScope, PositionalConstraint, RateBasedStatement, SensitivityLevel, Statement,
    TextTransformation, TextTransformationType,
};
use crate::rate::RateCounter;
use crate::request::Request;
use crate::transform;
use crate::Resolve;

/// Compiled regexes are capped so a rule cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// AWS inspects at most this many addresses of a forwarded-IP header.
const MAX_FORWARDED_IPS: usize = 10;

/// Shared state while compiling one web ACL.
pub(crate) struct Compiler<'r> {
    pub(crate) resolver: &'r dyn Resolve,
    /// (field, transformation chain) → slot in the per-request cache.
    slots: HashMap<String, usize>,
    pub(crate) slot_defs: Vec<SlotDef>,
    pub(crate) rate_window_default: u64,
    pub(crate) rate_capacity: usize,
}

impl<'r> Compiler<'r> {
    pub(crate) fn new(resolver: &'r dyn Resolve, rate_capacity: usize) -> Self {
        Compiler {
            resolver,
            slots: HashMap::new(),
            slot_defs: Vec::new(),
            rate_window_default: 300,
            rate_capacity,
        }
    }

    /// The cache slot of a field with its transformations, shared by identical statements.
    /// Every prefix of the chain gets a slot too, so chains with a common start (URL_DECODE_UNI,
    /// URL_DECODE, then LOWERCASE or HTML_ENTITY_DECODE) compute the common part once per
    /// request.
    fn slot(
        &mut self,
        field: &crate::model::FieldToMatch,
        tts: &[TextTransformation],
    ) -> Result<usize, CompileError> {
        let chain: Vec<TextTransformationType> = sorted_chain(tts)?
            .into_iter()
            .filter(|t| *t != TextTransformationType::None)
            .collect();
        let field_key = serde_json::to_string(field).unwrap_or_default();
        let mut compiled = None;
        let mut slot = None;
        for n in 0..=chain.len() {
            let key = format!("{field_key}|{:?}", &chain[..n]);
            if let Some(s) = self.slots.get(&key) {
                slot = Some(*s);
                continue;
            }
            let field = match &compiled {
                Some(f) => Clone::clone(f),
                None => {
                    let f = Field::compile(field)?;
                    compiled = Some(f.clone());
                    f
                }
            };
            let derive = match (n.checked_sub(1), slot) {
                (Some(last), Some(parent)) => Some((parent, chain[last])),
                _ => None,
            };
            let id = self.slot_defs.len();
            self.slot_defs.push(SlotDef { field, derive });
            self.slots.insert(key, id);
            slot = Some(id);
        }
        slot.ok_or_else(|| CompileError::Invalid("FieldToMatch is empty".into()))
    }
}

/// One entry of the per-request cache: a field's raw values, or those of another entry with one
/// more transformation applied.
#[derive(Debug, Clone)]
pub(crate) struct SlotDef {
    pub(crate) field: Field,
    /// `(parent slot, transformation)`; `None` for the untransformed field.
    pub(crate) derive: Option<(usize, TextTransformationType)>,
}

/// Transformations sorted by priority; priorities must be distinct.
pub(crate) fn sorted_chain(
    tts: &[TextTransformation],
) -> Result<Vec<TextTransformationType>, CompileError> {
    if tts.is_empty() {
        return Err(CompileError::Invalid(
            "TextTransformations needs at least one entry".into(),
        ));
    }
    let mut v: Vec<&TextTransformation> = tts.iter().collect();
    v.sort_by_key(|t| t.priority);
    if v.windows(2).any(|w| w[0].priority == w[1].priority) {
        return Err(CompileError::Invalid(
            "TextTransformation priorities must be different".into(),
        ));
    }
    Ok(v.into_iter().map(|t| t.kind).collect())
}

/// Per-request evaluation state: the transformed-field cache and the labels added so far.
pub(crate) struct EvalCtx<'a, 'b> {
    pub(crate) req: &'b Request<'a>,
    pub(crate) slots: &'b [SlotDef],
    pub(crate) cache: Vec<OnceCell<Extracted<'a>>>,
    pub(crate) labels: Vec<String>,
    pub(crate) now: u64,
    pub(crate) body_limit: usize,
}

impl<'a> EvalCtx<'a, '_> {
    /// The transformed values of slot `i`, computed at most once per request (a transformed
    /// slot starts from its parent's values, computed once as well).
    fn values(&self, i: usize) -> &Extracted<'a> {
        self.cache[i].get_or_init(|| {
            let Some(def) = self.slots.get(i) else {
                return Extracted::Forced(false);
            };
            let Some((parent, t)) = def.derive else {
                return def.field.extract(self.req, self.body_limit);
            };
            match self.values(parent) {
                Extracted::Forced(b) => Extracted::Forced(*b),
                Extracted::Values(vs) => Extracted::Values(
                    vs.iter()
                        .map(|v| match transform::apply_changed(t, v) {
                            Some(changed) => Cow::Owned(changed),
                            None => v.clone(),
                        })
                        .collect(),
                ),
            }
        })
    }

    fn add_label(&mut self, label: String) {
        if !self.labels.contains(&label) {
            self.labels.push(label);
        }
    }
}

#[derive(Debug)]
pub(crate) enum ByteMatcher {
    Exactly(Vec<u8>),
    StartsWith(Vec<u8>),
    EndsWith(Vec<u8>),
    Contains(AhoCorasick),
    ContainsWord(AhoCorasick, usize),
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl ByteMatcher {
    fn matches(&self, v: &[u8]) -> bool {
        match self {
            ByteMatcher::Exactly(s) => v == s.as_slice(),
            ByteMatcher::StartsWith(s) => v.starts_with(s),
            ByteMatcher::EndsWith(s) => v.ends_with(s),
            ByteMatcher::Contains(ac) => ac.is_match(v),
            ByteMatcher::ContainsWord(ac, len) => ac.find_overlapping_iter(v).any(|m| {
                let before = m.start().checked_sub(1).and_then(|i| v.get(i));
                let after = v.get(m.start() + len);
                !before.is_some_and(|b| is_word(*b)) && !after.is_some_and(|b| is_word(*b))
            }),
        }
    }
}

/// Forwarded-IP settings of an IP set statement.
#[derive(Debug)]
pub(crate) struct IpForward {
    header: String,
    fallback: bool,
    position: ForwardedIpPosition,
}

#[derive(Debug)]
pub(crate) struct Forward {
    header: String,
    fallback: bool,
}

impl Forward {
    fn compile(c: Option<&ForwardedIpConfig>) -> Option<Self> {
        c.map(|c| Forward {
            header: c.header_name.to_ascii_lowercase(),
            fallback: c.fallback_behavior == FallbackBehavior::Match,
        })
    }
}

/// The client address, or the first forwarded address; `Err(fallback)` when it is missing.
fn origin_ip(req: &Request<'_>, fwd: Option<&Forward>) -> Result<IpAddr, bool> {
    match fwd {
        None => Ok(req.client_ip),
        Some(f) => forwarded_ips(req, &f.header)
            .and_then(|ips| ips.first().copied().flatten())
            .ok_or(f.fallback),
    }
}

/// The addresses of a forwarded-IP header (up to 10), `None` per entry that is not an address.
fn forwarded_ips(req: &Request<'_>, header: &str) -> Option<Vec<Option<IpAddr>>> {
    let raw = req.header_values(header).next()?;
    let text = std::str::from_utf8(raw).ok()?;
    let ips: Vec<Option<IpAddr>> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take(MAX_FORWARDED_IPS)
        .map(parse_ip)
        .collect();
    (!ips.is_empty()).then_some(ips)
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    // `[v6]:port` and `v4:port`.
    let s = s
        .strip_prefix('[')
        .map_or(s, |r| r.split(']').next().unwrap_or(r));
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    s.rsplit_once(':').and_then(|(h, _)| h.parse().ok())
}

/// A sorted set of CIDRs.
#[derive(Debug)]
pub(crate) struct IpMatcher {
    nets: Vec<IpNet>,
}

impl IpMatcher {
    pub(crate) fn compile(addresses: &[String]) -> Result<Self, CompileError> {
        let mut nets = Vec::with_capacity(addresses.len());
        for a in addresses {
            let net = a
                .parse::<IpNet>()
                .or_else(|_| a.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| CompileError::IpAddress(a.clone()))?;
            nets.push(net.trunc());
        }
        Ok(IpMatcher {
            nets: IpNet::aggregate(&nets),
        })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        self.nets.iter().any(|n| n.contains(&ip))
    }
}

/// One custom aggregation key of a rate-based rule.
#[derive(Debug)]
enum RateKey {
    Ip,
    ForwardedIp(Forward),
    Slot(usize),
    LabelNamespace(String),
    /// The ASN of the client address, or of the forwarded one with a ForwardedIPConfig.
    Asn(Option<Forward>),
}

#[derive(Debug)]
pub(crate) struct RateRule {
    keys: Vec<RateKey>,
    scope_down: Option<Stmt>,
    pub(crate) counter: RateCounter,
    aggregate: AggregateKeyType,
}

/// A compiled statement.
#[derive(Debug)]
pub(crate) enum Stmt {
    Byte(usize, ByteMatcher),
    Regex(usize, Regex),
    RegexSet(usize, RegexSet),
    Size(usize, ComparisonOperator, u64, bool),
    Sqli(usize, bool),
    Xss(usize),
    IpSet(IpMatcher, Option<IpForward>),
    Geo(Vec<[u8; 2]>, Option<Forward>),
    Asn(Vec<u32>, Option<Forward>),
    Label(LabelMatchScope, String),
    And(Vec<Stmt>),
    Or(Vec<Stmt>),
    Not(Box<Stmt>),
    Rate(Box<RateRule>),
}

fn build_regex(pattern: &str) -> Result<Regex, CompileError> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| CompileError::Regex {
            pattern: pattern.to_owned(),
            reason: e.to_string(),
        })
}

impl Stmt {
    /// Compiles a nestable statement. Rule group references, managed rule groups and (below the
    /// top level) rate-based statements are handled by the caller.
    pub(crate) fn compile(
        s: &Statement,
        c: &mut Compiler<'_>,
        top_level: bool,
    ) -> Result<Self, CompileError> {
        let set = [
            s.byte_match_statement.is_some(),
            s.sqli_match_statement.is_some(),
            s.xss_match_statement.is_some(),
            s.size_constraint_statement.is_some(),
            s.geo_match_statement.is_some(),
            s.rule_group_reference_statement.is_some(),
            s.ip_set_reference_statement.is_some(),
            s.regex_pattern_set_reference_statement.is_some(),
            s.rate_based_statement.is_some(),
            s.and_statement.is_some(),
            s.or_statement.is_some(),
            s.not_statement.is_some(),
            s.managed_rule_group_statement.is_some(),
            s.label_match_statement.is_some(),
            s.regex_match_statement.is_some(),
            s.asn_match_statement.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            return Err(CompileError::Invalid(
                "a Statement needs exactly one statement member".into(),
            ));
        }
        if let Some(b) = &s.byte_match_statement {
            let needle = base64::engine::general_purpose::STANDARD
                .decode(&b.search_string)
                .map_err(|_| CompileError::Invalid("SearchString is not valid base64".into()))?;
            if needle.is_empty() {
                return Err(CompileError::Invalid(
                    "SearchString must not be empty".into(),
                ));
            }
            let slot = c.slot(&b.field_to_match, &b.text_transformations)?;
            let ac =
                || AhoCorasick::new([&needle]).map_err(|e| CompileError::Invalid(e.to_string()));
            let m = match b.positional_constraint {
                PositionalConstraint::Exactly => ByteMatcher::Exactly(needle),
                PositionalConstraint::StartsWith => ByteMatcher::StartsWith(needle),
                PositionalConstraint::EndsWith => ByteMatcher::EndsWith(needle),
                PositionalConstraint::Contains => ByteMatcher::Contains(ac()?),
                PositionalConstraint::ContainsWord => {
                    if !needle.iter().all(|b| is_word(*b)) {
                        return Err(CompileError::Invalid(
                            "CONTAINS_WORD needs a SearchString of A-Z, a-z, 0-9 or _".into(),
                        ));
                    }
                    ByteMatcher::ContainsWord(ac()?, needle.len())
                }
            };
            return Ok(Stmt::Byte(slot, m));
        }
        if let Some(r) = &s.regex_match_statement {
            let slot = c.slot(&r.field_to_match, &r.text_transformations)?;
            return Ok(Stmt::Regex(slot, build_regex(&r.regex_string)?));
        }
        if let Some(r) = &s.regex_pattern_set_reference_statement {
            let set = c
                .resolver
                .regex_pattern_set(&r.arn)
                .ok_or_else(|| CompileError::NotFound(r.arn.clone()))?;
            let patterns: Vec<&str> = set
                .regular_expression_list
                .iter()
                .map(|e| e.regex_string.as_str())
                .collect();
            let compiled = RegexSetBuilder::new(&patterns)
                .size_limit(REGEX_SIZE_LIMIT * 4)
                .build()
                .map_err(|e| CompileError::Regex {
                    pattern: patterns.join(" | "),
                    reason: e.to_string(),
                })?;
            let slot = c.slot(&r.field_to_match, &r.text_transformations)?;
            return Ok(Stmt::RegexSet(slot, compiled));
        }
        if let Some(z) = &s.size_constraint_statement {
            let slot = c.slot(&z.field_to_match, &z.text_transformations)?;
            let untransformed = sorted_chain(&z.text_transformations)?
                .iter()
                .all(|t| *t == TextTransformationType::None);
            return Ok(Stmt::Size(
                slot,
                z.comparison_operator,
                z.size,
                untransformed,
            ));
        }
        if let Some(q) = &s.sqli_match_statement {
            let slot = c.slot(&q.field_to_match, &q.text_transformations)?;
            let high = q.sensitivity_level == Some(SensitivityLevel::High);
            return Ok(Stmt::Sqli(slot, high));
        }
        if let Some(x) = &s.xss_match_statement {
            return Ok(Stmt::Xss(
                c.slot(&x.field_to_match, &x.text_transformations)?,
            ));
        }
        if let Some(i) = &s.ip_set_reference_statement {
            let set = c
                .resolver
                .ip_set(&i.arn)
                .ok_or_else(|| CompileError::NotFound(i.arn.clone()))?;
            let fwd = i.ip_set_forwarded_ip_config.as_ref().map(|f| IpForward {
                header: f.header_name.to_ascii_lowercase(),
                fallback: f.fallback_behavior == FallbackBehavior::Match,
                position: f.position,
            });
            return Ok(Stmt::IpSet(IpMatcher::compile(&set.addresses)?, fwd));
        }
        if let Some(g) = &s.geo_match_statement {
            let mut codes = Vec::new();
            for cc in &g.country_codes {
                match cc.as_bytes() {
                    [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
                        codes.push([*a, *b])
                    }
                    _ => {
                        return Err(CompileError::Invalid(format!(
                            "invalid country code {cc:?}"
                        )))
                    }
                }
            }
            if codes.is_empty() {
                return Err(CompileError::Invalid(
                    "CountryCodes must not be empty".into(),
                ));
            }
            return Ok(Stmt::Geo(
                codes,
                Forward::compile(g.forwarded_ip_config.as_ref()),
            ));
        }
        if let Some(a) = &s.asn_match_statement {
            return Ok(Stmt::Asn(
                a.asn_list.clone(),
                Forward::compile(a.forwarded_ip_config.as_ref()),
            ));
        }
        if let Some(l) = &s.label_match_statement {
            return Ok(Stmt::Label(l.scope, l.key.clone()));
        }
        if let Some(a) = &s.and_statement {
            if a.statements.len() < 2 {
                return Err(CompileError::Invalid(
                    "AndStatement needs at least two statements".into(),
                ));
            }
            return Ok(Stmt::And(
                a.statements
                    .iter()
                    .map(|s| Stmt::compile(s, c, false))
                    .collect::<Result<_, _>>()?,
            ));
        }
        if let Some(o) = &s.or_statement {
            if o.statements.len() < 2 {
                return Err(CompileError::Invalid(
                    "OrStatement needs at least two statements".into(),
                ));
            }
            return Ok(Stmt::Or(
                o.statements
                    .iter()
                    .map(|s| Stmt::compile(s, c, false))
                    .collect::<Result<_, _>>()?,
            ));
        }
        if let Some(n) = &s.not_statement {
            return Ok(Stmt::Not(Box::new(Stmt::compile(&n.statement, c, false)?)));
        }
        if let Some(r) = &s.rate_based_statement {
            if !top_level {
                return Err(CompileError::Invalid(
                    "a RateBasedStatement can't be nested".into(),
                ));
            }
            return Ok(Stmt::Rate(Box::new(compile_rate(r, c)?)));
        }
        Err(CompileError::Invalid(
            "rule group statements can only be used at the top level of a rule".into(),
        ))
    }

    /// Evaluates the statement; may add labels (GeoMatch) and count rate keys.
    pub(crate) fn eval(&self, ctx: &mut EvalCtx<'_, '_>) -> bool {
        match self {
            Stmt::Byte(slot, m) => any_value(ctx, *slot, |v| m.matches(v)),
            Stmt::Regex(slot, re) => any_value(ctx, *slot, |v| re.is_match(v)),
            Stmt::RegexSet(slot, set) => any_value(ctx, *slot, |v| set.is_match(v)),
            Stmt::Size(slot, op, size, untransformed) => {
                let real = if *untransformed {
                    ctx.slots
                        .get(*slot)
                        .and_then(|d| d.field.real_size(ctx.req))
                } else {
                    None
                };
                let cmp = |len: u64| match op {
                    ComparisonOperator::Eq => len == *size,
                    ComparisonOperator::Ne => len != *size,
                    ComparisonOperator::Le => len <= *size,
                    ComparisonOperator::Lt => len < *size,
                    ComparisonOperator::Ge => len >= *size,
                    ComparisonOperator::Gt => len > *size,
                };
                match real {
                    Some(len) => cmp(len),
                    None => any_value(ctx, *slot, |v| cmp(v.len() as u64)),
                }
            }
            Stmt::Sqli(slot, high) => any_value(ctx, *slot, |v| detect::is_sqli(v, *high)),
            Stmt::Xss(slot) => any_value(ctx, *slot, detect::is_xss),
            Stmt::IpSet(set, fwd) => match fwd {
                None => set.contains(ctx.req.client_ip),
                Some(f) => match forwarded_ips(ctx.req, &f.header) {
                    None => f.fallback,
                    Some(ips) => {
                        let pick = match f.position {
                            ForwardedIpPosition::First => ips.first().copied(),
                            ForwardedIpPosition::Last => ips.last().copied(),
                            ForwardedIpPosition::Any => {
                                let valid: Vec<IpAddr> = ips.iter().flatten().copied().collect();
                                if valid.is_empty() {
                                    return f.fallback;
                                }
                                return valid.into_iter().any(|ip| set.contains(ip));
                            }
                        };
                        match pick.flatten() {
                            Some(ip) => set.contains(ip),
                            None => f.fallback,
                        }
                    }
                },
            },
            Stmt::Geo(codes, fwd) => {
                let ip = match origin_ip(ctx.req, fwd.as_ref()) {
                    Ok(ip) => ip,
                    Err(fallback) => return fallback,
                };
                let Some(country) = ctx.req.geo.and_then(|g| g.country(ip)) else {
                    return false;
                };
                let source = if fwd.is_some() {
                    "forwardedip"
                } else {
                    "clientip"
                };
                ctx.add_label(format!(
                    "awswaf:{source}:geo:country:{}",
                    String::from_utf8_lossy(&country)
                ));
                codes.contains(&country)
            }
            Stmt::Asn(list, fwd) => {
                let ip = match origin_ip(ctx.req, fwd.as_ref()) {
                    Ok(ip) => ip,
                    Err(fallback) => return fallback,
                };
                // AWS assigns ASN 0 to a valid address whose ASN it cannot determine.
                list.contains(&ctx.req.geo.and_then(|g| g.asn(ip)).unwrap_or(0))
            }
            Stmt::Label(scope, key) => ctx.labels.iter().any(|l| label_matches(*scope, key, l)),
            Stmt::And(v) => v.iter().all(|s| s.eval(ctx)),
            Stmt::Or(v) => v.iter().any(|s| s.eval(ctx)),
            Stmt::Not(s) => !s.eval(ctx),
            Stmt::Rate(r) => eval_rate(r, ctx),
        }
    }
}

fn any_value(ctx: &EvalCtx<'_, '_>, slot: usize, f: impl Fn(&[u8]) -> bool) -> bool {
    match ctx.values(slot) {
        Extracted::Forced(b) => *b,
        Extracted::Values(vs) => vs.iter().any(|v| f(v)),
    }
}

/// LabelMatch: a key matches a label equal to it or ending in `:key`; a namespace key matches
/// labels whose namespace equals it or ends in `:key` (AWS lets the key omit leading
/// namespaces).
pub(crate) fn label_matches(scope: LabelMatchScope, key: &str, label: &str) -> bool {
    let tail_matches = |s: &str, k: &str| {
        s == k
            || (s.len() > k.len() && s.ends_with(k) && s.as_bytes()[s.len() - k.len() - 1] == b':')
    };
    match scope {
        LabelMatchScope::Label => tail_matches(label, key),
        LabelMatchScope::Namespace => {
            let key = key.trim_end_matches(':');
            let Some((ns, _)) = label.rsplit_once(':') else {
                return false;
            };
            // Any enclosing namespace of the label counts.
            let mut cur = ns;
            loop {
                if tail_matches(cur, key) {
                    return true;
                }
                match cur.rsplit_once(':') {
                    Some((outer, _)) => cur = outer,
                    None => return false,
                }
            }
        }
    }
}

fn compile_rate(r: &RateBasedStatement, c: &mut Compiler<'_>) -> Result<RateRule, CompileError> {
    let window = r.evaluation_window_sec.unwrap_or(c.rate_window_default);
    if ![60, 120, 300, 600].contains(&window) {
        return Err(CompileError::Invalid(
            "EvaluationWindowSec must be 60, 120, 300 or 600".into(),
        ));
    }
    if !(10..=2_000_000_000).contains(&r.limit) {
        return Err(CompileError::Invalid(
            "Limit must be between 10 and 2000000000".into(),
        ));
    }
    let scope_down = r
        .scope_down_statement
        .as_ref()
        .map(|s| Stmt::compile(s, c, false))
        .transpose()?;
    let mut keys = Vec::new();
    match r.aggregate_key_type {
        AggregateKeyType::Ip => keys.push(RateKey::Ip),
        AggregateKeyType::ForwardedIp => {
            let f = Forward::compile(r.forwarded_ip_config.as_ref()).ok_or_else(|| {
                CompileError::Invalid("FORWARDED_IP aggregation needs a ForwardedIPConfig".into())
            })?;
            keys.push(RateKey::ForwardedIp(f));
        }
        AggregateKeyType::Constant => {}
        AggregateKeyType::CustomKeys => {
            if r.custom_keys.is_empty() || r.custom_keys.len() > 5 {
                return Err(CompileError::Invalid(
                    "CUSTOM_KEYS needs 1 to 5 CustomKeys".into(),
                ));
            }
            for k in &r.custom_keys {
                keys.push(compile_rate_key(k, r, c)?);
            }
        }
    }
    if r.aggregate_key_type != AggregateKeyType::CustomKeys && !r.custom_keys.is_empty() {
        return Err(CompileError::Invalid(
            "CustomKeys needs AggregateKeyType CUSTOM_KEYS".into(),
        ));
    }
    Ok(RateRule {
        keys,
        scope_down,
        counter: RateCounter::new(window, r.limit, c.rate_capacity),
        aggregate: r.aggregate_key_type,
    })
}

fn compile_rate_key(
    k: &crate::model::RateBasedStatementCustomKey,
    r: &RateBasedStatement,
    c: &mut Compiler<'_>,
) -> Result<RateKey, CompileError> {
    use crate::model::{FieldToMatch, NameOnly};
    let field = |f: FieldToMatch, tts: &[TextTransformation], c: &mut Compiler<'_>| {
        c.slot(&f, tts).map(RateKey::Slot)
    };
    let none = serde_json::Value::Object(serde_json::Map::new());
    if let Some(h) = &k.header {
        let f = FieldToMatch {
            single_header: Some(NameOnly {
                name: h.name.clone(),
            }),
            ..Default::default()
        };
        return field(f, &h.text_transformations, c);
    }
    if let Some(h) = &k.cookie {
        let f = FieldToMatch {
            cookies: Some(crate::model::MapField {
                match_pattern: crate::model::MapMatchPattern {
                    included_headers: Some(vec![h.name.clone()]),
                    ..Default::default()
                },
                match_scope: crate::model::MatchScope::Value,
                oversize_handling: crate::model::OversizeHandling::Continue,
            }),
            ..Default::default()
        };
        return field(f, &h.text_transformations, c);
    }
    if let Some(q) = &k.query_argument {
        let f = FieldToMatch {
            single_query_argument: Some(NameOnly {
                name: q.name.clone(),
            }),
            ..Default::default()
        };
        return field(f, &q.text_transformations, c);
    }
    if let Some(q) = &k.query_string {
        let f = FieldToMatch {
            query_string: Some(none),
            ..Default::default()
        };
        return field(f, &q.text_transformations, c);
    }
    if let Some(u) = &k.uri_path {
        let f = FieldToMatch {
            uri_path: Some(none),
            ..Default::default()
        };
        return field(f, &u.text_transformations, c);
    }
    let plain = [TextTransformation {
        priority: 0,
        kind: TextTransformationType::None,
    }];
    if k.http_method.is_some() {
        let f = FieldToMatch {
            method: Some(none),
            ..Default::default()
        };
        return field(f, &plain, c);
    }
    if let Some(j) = &k.ja3_fingerprint {
        let f = FieldToMatch {
            ja3_fingerprint: Some(j.clone()),
            ..Default::default()
        };
        return field(f, &plain, c);
    }
    if let Some(j) = &k.ja4_fingerprint {
        let f = FieldToMatch {
            ja4_fingerprint: Some(j.clone()),
            ..Default::default()
        };
        return field(f, &plain, c);
    }
    if k.ip.is_some() {
        return Ok(RateKey::Ip);
    }
    if k.forwarded_ip.is_some() {
        return Forward::compile(r.forwarded_ip_config.as_ref())
            .map(RateKey::ForwardedIp)
            .ok_or_else(|| {
                CompileError::Invalid("a ForwardedIP key needs a ForwardedIPConfig".into())
            });
    }
    if let Some(l) = &k.label_namespace {
        return Ok(RateKey::LabelNamespace(l.namespace.clone()));
    }
    if k.asn.is_some() {
        return Ok(RateKey::Asn(Forward::compile(
            r.forwarded_ip_config.as_ref(),
        )));
    }
    Err(CompileError::Invalid(
        "a RateBasedStatementCustomKey needs one member".into(),
    ))
}

/// Counts the request for its aggregation instance; matches when the instance is over the limit.
fn eval_rate(r: &RateRule, ctx: &mut EvalCtx<'_, '_>) -> bool {
    if let Some(s) = &r.scope_down {
        if !s.eval(ctx) {
            return false;
        }
    }
    let mut key: Vec<u8> = Vec::new();
    for k in &r.keys {
        if !key.is_empty() || r.keys.len() > 1 {
            key.push(0x1f);
        }
        match k {
            RateKey::Ip => key.extend_from_slice(ctx.req.client_ip.to_string().as_bytes()),
            RateKey::ForwardedIp(f) => match origin_ip(ctx.req, Some(f)) {
                Ok(ip) => key.extend_from_slice(ip.to_string().as_bytes()),
                // AWS applies the fallback to the whole statement when the header is unusable.
                Err(fallback) => return fallback,
            },
            RateKey::Slot(slot) => match ctx.values(*slot) {
                Extracted::Values(vs) if !vs.is_empty() => {
                    for (i, v) in vs.iter().enumerate() {
                        if i > 0 {
                            key.push(b',');
                        }
                        key.extend_from_slice(v);
                    }
                }
                // A request without the key's component is not rate limited.
                _ => return false,
            },
            RateKey::LabelNamespace(ns) => {
                let mut found = false;
                for l in &ctx.labels {
                    if l.starts_with(ns.as_str()) {
                        key.extend_from_slice(l.as_bytes());
                        key.push(b',');
                        found = true;
                    }
                }
                if !found {
                    return false;
                }
            }
            RateKey::Asn(f) => match origin_ip(ctx.req, f.as_ref()) {
                // An address without a known ASN counts as ASN 0, as AWS assigns.
                Ok(ip) => {
                    let asn = ctx.req.geo.and_then(|g| g.asn(ip)).unwrap_or(0);
                    key.extend_from_slice(asn.to_string().as_bytes());
                }
                Err(fallback) => return fallback,
            },
        }
    }
    r.counter.hit(&key, ctx.now)
}

impl RateRule {
    /// Aggregation instances over the limit, rendered for `GetRateBasedStatementManagedKeys`.
    pub(crate) fn managed_keys(&self, now: u64) -> Vec<String> {
        self.counter
            .over_limit(now)
            .into_iter()
            .map(|k| {
                let text = String::from_utf8_lossy(&k).into_owned();
                match self.aggregate {
                    AggregateKeyType::Ip | AggregateKeyType::ForwardedIp => text,
                    _ => text.replace('\u{1f}', " "),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_match_accepts_partial_namespaces() {
        let l = "awswaf:111122223333:webacl:acl:bot:crawler";
        assert!(label_matches(LabelMatchScope::Label, "bot:crawler", l));
        assert!(label_matches(LabelMatchScope::Label, "crawler", l));
        assert!(label_matches(LabelMatchScope::Label, l, l));
        assert!(!label_matches(LabelMatchScope::Label, "rawler", l));
        assert!(label_matches(LabelMatchScope::Namespace, "bot:", l));
        assert!(label_matches(LabelMatchScope::Namespace, "acl:bot", l));
        assert!(label_matches(
            LabelMatchScope::Namespace,
            "awswaf:111122223333:webacl:",
            l
        ));
        assert!(!label_matches(LabelMatchScope::Namespace, "crawler", l));
    }

    #[test]
    fn ip_matcher_handles_v4_v6_and_mapped() {
        let m = IpMatcher::compile(&[
            "10.0.0.0/8".into(),
            "2001:db8::/32".into(),
            "192.0.2.7".into(),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(m.contains("10.1.2.3".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        assert!(m.contains(
            "::ffff:10.9.9.9"
                .parse()
                .unwrap_or(IpAddr::from([0, 0, 0, 0]))
        ));
        assert!(m.contains("2001:db8::1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        assert!(m.contains(IpAddr::from([192, 0, 2, 7])));
        assert!(!m.contains(IpAddr::from([192, 0, 2, 8])));
        assert!(IpMatcher::compile(&["10.0.0.300/8".into()]).is_err());
    }

    #[test]
    fn forwarded_ip_parsing_accepts_ports() {
        assert_eq!(parse_ip("1.2.3.4:80"), Some(IpAddr::from([1, 2, 3, 4])));
        assert_eq!(parse_ip("[::1]:80"), "::1".parse().ok());
        assert_eq!(parse_ip("junk"), None);
    }

    #[test]
    fn contains_word_needs_word_boundaries() {
        let m = ByteMatcher::ContainsWord(
            AhoCorasick::new(["BadBot"]).unwrap_or_else(|e| panic!("{e}")),
            6,
        );
        assert!(m.matches(b"BadBot"));
        assert!(m.matches(b"BadBot;"));
        assert!(m.matches(b";BadBot"));
        assert!(m.matches(b"x BadBot y"));
        assert!(m.matches(b"BadBotX BadBot"));
        assert!(!m.matches(b"BadBotX"));
        assert!(!m.matches(b"_BadBot"));
    }
}
