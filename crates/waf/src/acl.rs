//! Web ACL compilation and evaluation: rules in priority order, actions, labels, rule groups.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::CompileError;
use crate::model::{
    BlockAction, CustomResponse, DefaultAction, ImmunityConfig, RequestHandlingAction, Rule,
    RuleAction, RuleActionOverride, RuleGroup, Statement,
};
use crate::rate::{Clock, SystemClock};
use crate::request::Request;
use crate::statement::{Compiler, EvalCtx, SlotDef, Stmt};
use crate::{EngineGroup, Resolve};

/// The body inspection limits AWS offers (`AssociationConfig`): 8 KB default, up to 64 KB.
pub const BODY_INSPECTION_LIMITS: [usize; 5] =
    [8 * 1024, 16 * 1024, 32 * 1024, 48 * 1024, 64 * 1024];

/// Settings of one compiled web ACL.
#[derive(Clone)]
pub struct CompileOptions {
    /// Namespace for the web ACL's own rule labels: `awswaf:<account>:webacl:<name>:`.
    pub label_namespace: String,
    /// Body inspection limit in bytes (one of [`BODY_INSPECTION_LIMITS`]).
    pub body_inspection_limit: usize,
    /// Web ACL level CAPTCHA immunity time (`CaptchaConfig`), 300 s by default.
    pub captcha_immunity_secs: u64,
    /// Web ACL level challenge immunity time (`ChallengeConfig`), 300 s by default.
    pub challenge_immunity_secs: u64,
    /// Maximum aggregation instances tracked per rate-based rule.
    pub rate_key_capacity: usize,
    /// Clock for rate windows.
    pub clock: Arc<dyn Clock>,
    /// Whether upstream responses go through the response-side rules of engine-evaluated
    /// groups ([`CompiledAcl::evaluate_response`]); a Rampart extension, off by default.
    pub inspect_responses: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            label_namespace: String::new(),
            body_inspection_limit: 8 * 1024,
            captcha_immunity_secs: 300,
            challenge_immunity_secs: 300,
            rate_key_capacity: 100_000,
            clock: Arc::new(SystemClock),
            inspect_responses: false,
        }
    }
}

/// The kind of action a rule took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Allow.
    Allow,
    /// Block.
    Block,
    /// Count.
    Count,
    /// CAPTCHA.
    Captcha,
    /// Challenge.
    Challenge,
}

/// What to do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Forward it (with the verdict's inserted headers).
    Allow,
    /// Answer with this response instead.
    Block(BlockResponse),
    /// Answer with a CAPTCHA puzzle (HTTP 405 on AWS).
    Captcha,
    /// Answer with a silent challenge page (HTTP 202 on AWS).
    Challenge,
}

/// The response for a blocked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockResponse {
    /// Status code (403 unless a custom response says otherwise).
    pub status: u16,
    /// Response headers of the custom response.
    pub headers: Vec<(String, String)>,
    /// Key into the web ACL's `CustomResponseBodies`.
    pub body_key: Option<String>,
}

/// A rule that matched the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    /// Rule name.
    pub name: String,
    /// Enclosing rule group rule, for rules inside a group.
    pub rule_group: Option<String>,
    /// The action applied (after overrides).
    pub action: ActionKind,
}

/// The outcome of evaluating a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Final action.
    pub action: Action,
    /// The rule that terminated evaluation (`None` = the default action).
    pub terminating_rule: Option<String>,
    /// Labels added to the request, in order.
    pub labels: Vec<String>,
    /// Every rule that matched, in evaluation order.
    pub matched_rules: Vec<MatchedRule>,
    /// Headers to add to the forwarded request (names already carry `x-amzn-waf-`).
    pub inserted_headers: Vec<(String, String)>,
}

/// Per-rule counters (the CloudWatch metrics of the rule's `VisibilityConfig`).
#[derive(Debug, Default)]
pub struct RuleCounters {
    /// Requests the rule matched.
    pub matched: AtomicU64,
    /// Requests the rule allowed.
    pub allowed: AtomicU64,
    /// Requests the rule blocked.
    pub blocked: AtomicU64,
    /// Requests the rule counted.
    pub counted: AtomicU64,
    /// Requests answered with a CAPTCHA.
    pub captcha: AtomicU64,
    /// Requests answered with a challenge.
    pub challenge: AtomicU64,
}

impl RuleCounters {
    fn bump(&self, a: ActionKind) {
        self.matched.fetch_add(1, Ordering::Relaxed);
        let c = match a {
            ActionKind::Allow => &self.allowed,
            ActionKind::Block => &self.blocked,
            ActionKind::Count => &self.counted,
            ActionKind::Captcha => &self.captcha,
            ActionKind::Challenge => &self.challenge,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of one rule's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMetric {
    /// Rule name (`group/rule` for rules inside a group).
    pub name: String,
    /// Metric name from the rule's `VisibilityConfig`.
    pub metric_name: String,
    /// Requests matched.
    pub matched: u64,
    /// Requests allowed.
    pub allowed: u64,
    /// Requests blocked.
    pub blocked: u64,
    /// Requests counted.
    pub counted: u64,
}

#[derive(Debug, Clone)]
struct CAction {
    kind: ActionKind,
    headers: Vec<(String, String)>,
    block: Option<BlockResponse>,
    immunity: u64,
}

impl CAction {
    fn compile(a: &RuleAction, rule_immunity: (u64, u64)) -> Result<Self, CompileError> {
        let handling = |h: &RequestHandlingAction| -> Vec<(String, String)> {
            h.custom_request_handling
                .as_ref()
                .map(|c| {
                    c.insert_headers
                        .iter()
                        .map(|h| (format!("x-amzn-waf-{}", h.name), h.value.clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let set = [
            a.allow.is_some(),
            a.block.is_some(),
            a.count.is_some(),
            a.captcha.is_some(),
            a.challenge.is_some(),
            a.monetize.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            return Err(CompileError::Invalid(
                "a RuleAction needs exactly one action".into(),
            ));
        }
        let mk = |kind, h: &RequestHandlingAction, immunity| CAction {
            kind,
            headers: handling(h),
            block: None,
            immunity,
        };
        if let Some(h) = &a.allow {
            return Ok(mk(ActionKind::Allow, h, 0));
        }
        if let Some(h) = &a.count {
            return Ok(mk(ActionKind::Count, h, 0));
        }
        if let Some(h) = &a.captcha {
            return Ok(mk(ActionKind::Captcha, h, rule_immunity.0));
        }
        if let Some(h) = &a.challenge {
            return Ok(mk(ActionKind::Challenge, h, rule_immunity.1));
        }
        if let Some(b) = &a.block {
            return Ok(CAction {
                kind: ActionKind::Block,
                headers: Vec::new(),
                block: Some(block_response(b)),
                immunity: 0,
            });
        }
        Err(CompileError::Unsupported("the Monetize action".into()))
    }
}

fn block_response(b: &BlockAction) -> BlockResponse {
    match &b.custom_response {
        None => BlockResponse {
            status: 403,
            headers: Vec::new(),
            body_key: None,
        },
        Some(CustomResponse {
            response_code,
            custom_response_body_key,
            response_headers,
        }) => BlockResponse {
            status: *response_code,
            headers: response_headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
            body_key: custom_response_body_key.clone(),
        },
    }
}

#[derive(Debug)]
enum RuleBody {
    Plain {
        stmt: Stmt,
        action: CAction,
    },
    Group {
        scope_down: Option<Stmt>,
        rules: Vec<CRule>,
        count_override: bool,
    },
    /// A managed group another engine evaluates; `overrides` are `RuleActionOverrides` by the
    /// engine's rule names, applied to the rule that stops the request.
    Engine {
        scope_down: Option<Stmt>,
        group: EngineGroup,
        overrides: Vec<(String, CAction)>,
        count_override: bool,
    },
}

#[derive(Debug)]
struct CRule {
    name: String,
    metric_name: String,
    labels: Vec<String>,
    body: RuleBody,
    counters: RuleCounters,
}

fn immunity(c: Option<&ImmunityConfig>, default: u64) -> u64 {
    c.and_then(|c| c.immunity_time_property.as_ref())
        .map_or(default, |p| p.immunity_time)
}

fn qualify(namespace: &str, label: &str) -> String {
    if label.starts_with("awswaf:") || namespace.is_empty() {
        return label.to_owned();
    }
    if namespace.ends_with(':') {
        format!("{namespace}{label}")
    } else {
        format!("{namespace}:{label}")
    }
}

/// Sorts rules by priority and refuses duplicate priorities or names.
fn ordered(rules: &[Rule]) -> Result<Vec<&Rule>, CompileError> {
    let mut v: Vec<&Rule> = rules.iter().collect();
    v.sort_by_key(|r| r.priority);
    if v.windows(2).any(|w| w[0].priority == w[1].priority) {
        return Err(CompileError::Invalid(
            "rule priorities must be unique".into(),
        ));
    }
    let mut names: Vec<&str> = v.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(CompileError::Invalid("rule names must be unique".into()));
    }
    Ok(v)
}

fn compile_rule(
    r: &Rule,
    namespace: &str,
    c: &mut Compiler<'_>,
    opts: &CompileOptions,
    in_group: bool,
    overrides: &[RuleActionOverride],
    excluded: &[String],
) -> Result<CRule, CompileError> {
    let labels = r
        .rule_labels
        .iter()
        .map(|l| qualify(namespace, &l.name))
        .collect();
    let metric_name = r
        .visibility_config
        .as_ref()
        .map_or_else(|| r.name.clone(), |v| v.metric_name.clone());
    let rule_immunity = (
        immunity(r.captcha_config.as_ref(), opts.captcha_immunity_secs),
        immunity(r.challenge_config.as_ref(), opts.challenge_immunity_secs),
    );
    let engine = engine_statement(r, c, rule_immunity, in_group)?;
    let group = if engine.is_some() {
        None
    } else {
        group_statement(&r.statement, c)?
    };
    let body = if let Some(body) = engine {
        body
    } else if let Some((group, scope_down, excluded_rules, group_overrides)) = group {
        if in_group {
            return Err(CompileError::Invalid("rule groups can't be nested".into()));
        }
        if r.action.is_some() {
            return Err(CompileError::Invalid(format!(
                "rule {} references a rule group and needs OverrideAction, not Action",
                r.name
            )));
        }
        let ov = r.override_action.as_ref().ok_or_else(|| {
            CompileError::Invalid(format!("rule {} needs an OverrideAction", r.name))
        })?;
        let count_override = ov.count.is_some();
        let scope_down = scope_down
            .map(|s| Stmt::compile(&s, c, false))
            .transpose()?;
        let mut rules = Vec::new();
        for inner in ordered(&group.rules)? {
            rules.push(compile_rule(
                inner,
                &group.label_namespace,
                c,
                opts,
                true,
                &group_overrides,
                &excluded_rules,
            )?);
        }
        RuleBody::Group {
            scope_down,
            rules,
            count_override,
        }
    } else {
        if r.override_action.is_some() {
            return Err(CompileError::Invalid(format!(
                "rule {} needs Action, not OverrideAction",
                r.name
            )));
        }
        let action = r
            .action
            .as_ref()
            .ok_or_else(|| CompileError::Invalid(format!("rule {} needs an Action", r.name)))?;
        let mut action = CAction::compile(action, rule_immunity)?;
        if let Some(o) = overrides.iter().find(|o| o.name == r.name) {
            action = CAction::compile(&o.action_to_use, rule_immunity)?;
        } else if excluded.contains(&r.name) {
            action = CAction {
                kind: ActionKind::Count,
                headers: Vec::new(),
                block: None,
                immunity: 0,
            };
        }
        RuleBody::Plain {
            stmt: Stmt::compile(&r.statement, c, true)?,
            action,
        }
    };
    Ok(CRule {
        name: r.name.clone(),
        metric_name,
        labels,
        body,
        counters: RuleCounters::default(),
    })
}

type GroupParts = (
    RuleGroup,
    Option<Statement>,
    Vec<String>,
    Vec<RuleActionOverride>,
);

/// Compiles a managed rule group statement that names an engine-evaluated group.
fn engine_statement(
    r: &Rule,
    c: &mut Compiler<'_>,
    rule_immunity: (u64, u64),
    in_group: bool,
) -> Result<Option<RuleBody>, CompileError> {
    let Some(m) = &r.statement.managed_rule_group_statement else {
        return Ok(None);
    };
    let excluded: Vec<String> = m.excluded_rules.iter().map(|e| e.name.clone()).collect();
    let Some(group) =
        c.resolver
            .engine_rule_group(&m.vendor_name, &m.name, m.version.as_deref(), &excluded)
    else {
        return Ok(None);
    };
    let group = group.map_err(CompileError::Invalid)?;
    if in_group {
        return Err(CompileError::Invalid("rule groups can't be nested".into()));
    }
    if r.action.is_some() {
        return Err(CompileError::Invalid(format!(
            "rule {} references a rule group and needs OverrideAction, not Action",
            r.name
        )));
    }
    let ov = r
        .override_action
        .as_ref()
        .ok_or_else(|| CompileError::Invalid(format!("rule {} needs an OverrideAction", r.name)))?;
    let scope_down = m
        .scope_down_statement
        .as_ref()
        .map(|s| Stmt::compile(s, c, false))
        .transpose()?;
    let overrides = m
        .rule_action_overrides
        .iter()
        .map(|o| {
            Ok((
                o.name.clone(),
                CAction::compile(&o.action_to_use, rule_immunity)?,
            ))
        })
        .collect::<Result<_, CompileError>>()?;
    Ok(Some(RuleBody::Engine {
        scope_down,
        group,
        overrides,
        count_override: ov.count.is_some(),
    }))
}

/// Resolves a rule group reference or managed rule group statement.
fn group_statement(s: &Statement, c: &Compiler<'_>) -> Result<Option<GroupParts>, CompileError> {
    if let Some(g) = &s.rule_group_reference_statement {
        let group = c
            .resolver
            .rule_group(&g.arn)
            .ok_or_else(|| CompileError::NotFound(g.arn.clone()))?;
        let excluded = g.excluded_rules.iter().map(|e| e.name.clone()).collect();
        return Ok(Some((
            group,
            None,
            excluded,
            g.rule_action_overrides.clone(),
        )));
    }
    if let Some(m) = &s.managed_rule_group_statement {
        let group = c
            .resolver
            .managed_rule_group(&m.vendor_name, &m.name, m.version.as_deref())
            .ok_or_else(|| CompileError::NotFound(format!("{}/{}", m.vendor_name, m.name)))?;
        let excluded = m.excluded_rules.iter().map(|e| e.name.clone()).collect();
        return Ok(Some((
            group,
            m.scope_down_statement.clone(),
            excluded,
            m.rule_action_overrides.clone(),
        )));
    }
    Ok(None)
}

/// Entry point: compiles a web ACL's rules into a [`CompiledAcl`].
#[derive(Debug, Clone, Copy)]
pub struct WebAcl;

impl WebAcl {
    /// Compiles `rules` (any order; evaluated by priority) with `default_action`.
    ///
    /// # Errors
    /// [`CompileError`] when a rule is malformed, a reference does not resolve or a regex does
    /// not compile.
    pub fn compile(
        default_action: &DefaultAction,
        rules: &[Rule],
        resolver: &dyn Resolve,
        options: &CompileOptions,
    ) -> Result<CompiledAcl, CompileError> {
        if !BODY_INSPECTION_LIMITS.contains(&options.body_inspection_limit) {
            return Err(CompileError::Invalid(
                "body inspection limit must be 8, 16, 32, 48 or 64 KB".into(),
            ));
        }
        let default = match (&default_action.allow, &default_action.block) {
            (Some(a), None) => CAction::compile(
                &RuleAction {
                    allow: Some(a.clone()),
                    ..Default::default()
                },
                (0, 0),
            )?,
            (None, Some(b)) => CAction::compile(
                &RuleAction {
                    block: Some(b.clone()),
                    ..Default::default()
                },
                (0, 0),
            )?,
            _ => {
                return Err(CompileError::Invalid(
                    "DefaultAction needs exactly one of Allow, Block".into(),
                ))
            }
        };
        let mut c = Compiler::new(resolver, options.rate_key_capacity);
        let mut compiled = Vec::new();
        for r in ordered(rules)? {
            compiled.push(compile_rule(
                r,
                &options.label_namespace,
                &mut c,
                options,
                false,
                &[],
                &[],
            )?);
        }
        Ok(CompiledAcl {
            rules: compiled,
            default,
            slots: c.slot_defs,
            options: options.clone(),
        })
    }
}

/// A web ACL ready to evaluate requests; share it behind an `Arc` across connections.
pub struct CompiledAcl {
    rules: Vec<CRule>,
    default: CAction,
    slots: Vec<SlotDef>,
    options: CompileOptions,
}

impl std::fmt::Debug for CompiledAcl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledAcl")
            .field("rules", &self.rules.len())
            .field("fields", &self.slots.len())
            .finish_non_exhaustive()
    }
}

enum Step {
    Continue,
    Stop(Action, String),
}

impl CompiledAcl {
    /// Evaluates `req` against the rules in priority order.
    #[must_use]
    pub fn evaluate(&self, req: &Request<'_>) -> Verdict {
        let mut ctx = EvalCtx {
            req,
            slots: &self.slots,
            cache: (0..self.slots.len()).map(|_| OnceCell::new()).collect(),
            labels: Vec::new(),
            now: self.options.clock.now_secs(),
            body_limit: self.options.body_inspection_limit,
        };
        let mut verdict = Verdict {
            action: Action::Allow,
            terminating_rule: None,
            labels: Vec::new(),
            matched_rules: Vec::new(),
            inserted_headers: Vec::new(),
        };
        for rule in &self.rules {
            if let Step::Stop(action, name) =
                self.eval_rule(rule, None, false, &mut ctx, &mut verdict)
            {
                verdict.action = action;
                verdict.terminating_rule = Some(name);
                verdict.labels = ctx.labels;
                return verdict;
            }
        }
        verdict
            .inserted_headers
            .extend(self.default.headers.iter().cloned());
        verdict.action = match &self.default.block {
            Some(b) => {
                verdict.inserted_headers.clear();
                Action::Block(b.clone())
            }
            None => Action::Allow,
        };
        verdict.labels = ctx.labels;
        verdict
    }

    /// Whether this web ACL inspects upstream responses ([`CompileOptions::inspect_responses`]
    /// and at least one engine-evaluated group).
    #[must_use]
    pub fn inspects_responses(&self) -> bool {
        self.options.inspect_responses
            && self
                .rules
                .iter()
                .any(|r| matches!(r.body, RuleBody::Engine { .. }))
    }

    /// Evaluates the upstream's response to `req` (which `request` allowed) with the
    /// response-side rules of the web ACL's engine-evaluated groups, in priority order, each
    /// group only where its scope-down statement holds. `None` when the web ACL does not
    /// inspect responses or no rule matched; otherwise a verdict like a request's: the rules
    /// that matched (counted), their labels added to the request's, and `Block` when a group's
    /// response blocking rule (CRS 959100) fired, after `RuleActionOverrides` and a `Count`
    /// override action.
    #[must_use]
    pub fn evaluate_response(
        &self,
        req: &Request<'_>,
        resp: &crate::ResponseView<'_>,
        request: &Verdict,
    ) -> Option<Verdict> {
        if !self.inspects_responses() {
            return None;
        }
        let mut ctx = EvalCtx {
            req,
            slots: &self.slots,
            cache: (0..self.slots.len()).map(|_| OnceCell::new()).collect(),
            labels: request.labels.clone(),
            now: self.options.clock.now_secs(),
            body_limit: self.options.body_inspection_limit,
        };
        let mut verdict = Verdict {
            action: Action::Allow,
            terminating_rule: None,
            labels: Vec::new(),
            matched_rules: Vec::new(),
            inserted_headers: Vec::new(),
        };
        let mut any = false;
        for rule in &self.rules {
            let RuleBody::Engine {
                scope_down,
                group,
                overrides,
                count_override,
            } = &rule.body
            else {
                continue;
            };
            if let Some(s) = scope_down {
                if !s.eval(&mut ctx) {
                    continue;
                }
            }
            let found = group.engine.evaluate_response(req, resp);
            if found.matched.is_empty() && found.interrupted_by.is_none() {
                continue;
            }
            any = true;
            for id in found.matched.iter().chain(found.interrupted_by.iter()) {
                let label = format!("{}{id}", group.label_namespace);
                if !ctx.labels.contains(&label) {
                    ctx.labels.push(label);
                }
            }
            for id in &found.matched {
                if found.interrupted_by.as_ref() == Some(id) {
                    continue;
                }
                verdict.matched_rules.push(MatchedRule {
                    name: id.clone(),
                    rule_group: Some(rule.name.clone()),
                    action: ActionKind::Count,
                });
            }
            let Some(stopper) = found.interrupted_by else {
                rule.counters.bump(ActionKind::Count);
                continue;
            };
            let block = CAction {
                kind: ActionKind::Block,
                headers: Vec::new(),
                block: None,
                immunity: 0,
            };
            let action = overrides
                .iter()
                .find(|(n, _)| *n == stopper)
                .map_or(&block, |(_, a)| a);
            // A response cannot be answered with a CAPTCHA or a challenge any more: those
            // count, as does Allow (the response is sent).
            let kind = match effective_kind(action, *count_override, &ctx) {
                ActionKind::Block => ActionKind::Block,
                _ => ActionKind::Count,
            };
            verdict.matched_rules.push(MatchedRule {
                name: stopper.clone(),
                rule_group: Some(rule.name.clone()),
                action: kind,
            });
            rule.counters.bump(kind);
            if kind == ActionKind::Block {
                if let Step::Stop(a, _) = apply(kind, action, &stopper, &mut verdict) {
                    verdict.action = a;
                    verdict.terminating_rule = Some(rule.name.clone());
                    break;
                }
            }
        }
        verdict.labels = ctx.labels;
        any.then_some(verdict)
    }

    fn eval_rule(
        &self,
        rule: &CRule,
        group: Option<&str>,
        count_override: bool,
        ctx: &mut EvalCtx<'_, '_>,
        verdict: &mut Verdict,
    ) -> Step {
        match &rule.body {
            RuleBody::Group {
                scope_down,
                rules,
                count_override: co,
            } => {
                if let Some(s) = scope_down {
                    if !s.eval(ctx) {
                        return Step::Continue;
                    }
                }
                for inner in rules {
                    if let Step::Stop(action, _) =
                        self.eval_rule(inner, Some(&rule.name), *co, ctx, verdict)
                    {
                        rule.counters.bump(kind_of(&action));
                        return Step::Stop(action, rule.name.clone());
                    }
                }
                Step::Continue
            }
            RuleBody::Engine {
                scope_down,
                group,
                overrides,
                count_override: co,
            } => {
                if let Some(s) = scope_down {
                    if !s.eval(ctx) {
                        return Step::Continue;
                    }
                }
                let found = group.engine.evaluate(ctx.req);
                for id in &found.matched {
                    let label = format!("{}{id}", group.label_namespace);
                    if !ctx.labels.contains(&label) {
                        ctx.labels.push(label);
                    }
                }
                let block = CAction {
                    kind: ActionKind::Block,
                    headers: Vec::new(),
                    block: None,
                    immunity: 0,
                };
                for id in &found.matched {
                    if found.interrupted_by.as_ref() == Some(id) {
                        continue;
                    }
                    verdict.matched_rules.push(MatchedRule {
                        name: id.clone(),
                        rule_group: Some(rule.name.clone()),
                        action: ActionKind::Count,
                    });
                }
                let Some(stopper) = found.interrupted_by else {
                    if !found.matched.is_empty() {
                        rule.counters.bump(ActionKind::Count);
                    }
                    return Step::Continue;
                };
                let action = overrides
                    .iter()
                    .find(|(n, _)| *n == stopper)
                    .map_or(&block, |(_, a)| a);
                let kind = effective_kind(action, *co, ctx);
                verdict.matched_rules.push(MatchedRule {
                    name: stopper.clone(),
                    rule_group: Some(rule.name.clone()),
                    action: kind,
                });
                rule.counters.bump(kind);
                match apply(kind, action, &stopper, verdict) {
                    Step::Stop(a, _) => Step::Stop(a, rule.name.clone()),
                    Step::Continue => Step::Continue,
                }
            }
            RuleBody::Plain { stmt, action } => {
                if !stmt.eval(ctx) {
                    return Step::Continue;
                }
                for l in &rule.labels {
                    if !ctx.labels.contains(l) {
                        ctx.labels.push(l.clone());
                    }
                }
                let kind = effective_kind(action, count_override, ctx);
                rule.counters.bump(kind);
                verdict.matched_rules.push(MatchedRule {
                    name: rule.name.clone(),
                    rule_group: group.map(str::to_owned),
                    action: kind,
                });
                apply(kind, action, &rule.name, verdict)
            }
        }
    }

    /// Counters of every rule (rules inside groups as `group/rule`).
    #[must_use]
    pub fn metrics(&self) -> Vec<RuleMetric> {
        let mut out = Vec::new();
        for r in &self.rules {
            push_metric(&mut out, r, None);
            if let RuleBody::Group { rules, .. } = &r.body {
                for inner in rules {
                    push_metric(&mut out, inner, Some(&r.name));
                }
            }
        }
        out
    }

    /// Aggregation instances currently over the limit of the top-level rate-based rule `rule`.
    #[must_use]
    pub fn rate_limited_keys(&self, rule: &str) -> Option<Vec<String>> {
        self.rules
            .iter()
            .find(|r| r.name == rule)
            .and_then(|r| match &r.body {
                RuleBody::Plain {
                    stmt: Stmt::Rate(rate),
                    ..
                } => Some(rate.managed_keys(self.options.clock.now_secs())),
                _ => None,
            })
    }

    /// Aggregation instances over the limit of the rate-based rule `rule` inside the rule group
    /// that the top-level rule `group` references (each reference counts on its own, as on AWS).
    #[must_use]
    pub fn rate_limited_keys_in_group(&self, group: &str, rule: &str) -> Option<Vec<String>> {
        let RuleBody::Group { rules, .. } = &self.rules.iter().find(|r| r.name == group)?.body
        else {
            return None;
        };
        rules
            .iter()
            .find(|r| r.name == rule)
            .and_then(|r| match &r.body {
                RuleBody::Plain {
                    stmt: Stmt::Rate(rate),
                    ..
                } => Some(rate.managed_keys(self.options.clock.now_secs())),
                _ => None,
            })
    }
}

/// The action a matching rule takes: its own, or Count under a Count override or when the
/// request carries a solved CAPTCHA / challenge within the immunity time.
fn effective_kind(action: &CAction, count_override: bool, ctx: &EvalCtx<'_, '_>) -> ActionKind {
    let tokens = ctx.req.tokens;
    let fresh = |age: Option<u64>| age.is_some_and(|a| a <= action.immunity);
    let solved = match action.kind {
        ActionKind::Captcha => fresh(tokens.captcha_age_secs),
        ActionKind::Challenge => fresh(tokens.challenge_age_secs) || fresh(tokens.captcha_age_secs),
        _ => false,
    };
    if count_override || solved {
        ActionKind::Count
    } else {
        action.kind
    }
}

/// Applies a matching rule's action `kind` (named `name`) to the verdict.
fn apply(kind: ActionKind, action: &CAction, name: &str, verdict: &mut Verdict) -> Step {
    match kind {
        ActionKind::Count => {
            verdict
                .inserted_headers
                .extend(action.headers.iter().cloned());
            Step::Continue
        }
        ActionKind::Allow => {
            verdict
                .inserted_headers
                .extend(action.headers.iter().cloned());
            Step::Stop(Action::Allow, name.to_owned())
        }
        ActionKind::Block => {
            verdict.inserted_headers.clear();
            let resp = action.block.clone().unwrap_or(BlockResponse {
                status: 403,
                headers: Vec::new(),
                body_key: None,
            });
            Step::Stop(Action::Block(resp), name.to_owned())
        }
        ActionKind::Captcha => Step::Stop(Action::Captcha, name.to_owned()),
        ActionKind::Challenge => Step::Stop(Action::Challenge, name.to_owned()),
    }
}

fn kind_of(a: &Action) -> ActionKind {
    match a {
        Action::Allow => ActionKind::Allow,
        Action::Block(_) => ActionKind::Block,
        Action::Captcha => ActionKind::Captcha,
        Action::Challenge => ActionKind::Challenge,
    }
}

fn push_metric(out: &mut Vec<RuleMetric>, r: &CRule, group: Option<&str>) {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    out.push(RuleMetric {
        name: group.map_or_else(|| r.name.clone(), |g| format!("{g}/{}", r.name)),
        metric_name: r.metric_name.clone(),
        matched: load(&r.counters.matched),
        allowed: load(&r.counters.allowed),
        blocked: load(&r.counters.blocked),
        counted: load(&r.counters.counted),
    });
}
