//! Engine-evaluated managed groups (Rampart/OWASPCoreRuleSet) inside a web ACL, with a stand-in
//! engine: labels for every matched rule, Block on interruption, overrides, scope-down, Count.

use std::net::IpAddr;
use std::sync::Arc;

use rampart_waf::model::{DefaultAction, IpSet, RegexPatternSet, Rule, RuleGroup};
use rampart_waf::{
    Action, ActionKind, CompileOptions, EngineGroup, EngineMatch, EngineRuleGroup, Request,
    Resolve, ResponseView, WebAcl,
};

/// Matches `942100` when the query holds `union`, and interrupts with `949110` then.
struct Fake;

impl EngineRuleGroup for Fake {
    fn evaluate(&self, req: &Request<'_>) -> EngineMatch {
        if req.query.contains("union") {
            EngineMatch {
                matched: vec!["942100".into(), "949110".into()],
                interrupted_by: Some("949110".into()),
            }
        } else if req.query.contains("odd") {
            EngineMatch {
                matched: vec!["920350".into()],
                interrupted_by: None,
            }
        } else {
            EngineMatch::default()
        }
    }

    /// Matches `951230` on a response leaking an SQL error, interrupting with `959100`; `953100`
    /// alone on `<?php`.
    fn evaluate_response(&self, _req: &Request<'_>, resp: &ResponseView<'_>) -> EngineMatch {
        if resp.body_prefix.starts_with(b"SQL syntax") {
            EngineMatch {
                matched: vec!["951230".into(), "959100".into()],
                interrupted_by: Some("959100".into()),
            }
        } else if resp.body_prefix.starts_with(b"<?php") {
            EngineMatch {
                matched: vec!["953100".into()],
                interrupted_by: None,
            }
        } else {
            EngineMatch::default()
        }
    }
}

struct Resolver;

impl Resolve for Resolver {
    fn ip_set(&self, _: &str) -> Option<IpSet> {
        None
    }
    fn regex_pattern_set(&self, _: &str) -> Option<RegexPatternSet> {
        None
    }
    fn rule_group(&self, _: &str) -> Option<RuleGroup> {
        None
    }
    fn managed_rule_group(&self, _: &str, _: &str, _: Option<&str>) -> Option<RuleGroup> {
        None
    }
    fn engine_rule_group(
        &self,
        vendor: &str,
        name: &str,
        _: Option<&str>,
        _: &[String],
    ) -> Option<Result<EngineGroup, String>> {
        (vendor == "Rampart" && name == "OWASPCoreRuleSet").then(|| {
            Ok(EngineGroup {
                engine: Arc::new(Fake),
                label_namespace: "awswaf:managed:rampart:crs:".into(),
            })
        })
    }
}

fn acl(stmt: serde_json::Value, override_action: serde_json::Value) -> rampart_waf::CompiledAcl {
    acl_with(stmt, override_action, &CompileOptions::default())
}

fn acl_with(
    stmt: serde_json::Value,
    override_action: serde_json::Value,
    options: &CompileOptions,
) -> rampart_waf::CompiledAcl {
    let rules: Vec<Rule> = serde_json::from_value(serde_json::json!([{
        "Name": "crs", "Priority": 0, "OverrideAction": override_action,
        "Statement": {"ManagedRuleGroupStatement": stmt},
        "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "crs"}
    }]))
    .expect("rules");
    let default: DefaultAction =
        serde_json::from_value(serde_json::json!({"Allow": {}})).expect("default");
    WebAcl::compile(&default, &rules, &Resolver, options).expect("compiles")
}

fn get(query: &str) -> Request<'_> {
    Request {
        query,
        ..Request::new("GET", "/", IpAddr::from([192, 0, 2, 1]))
    }
}

#[test]
fn an_interruption_blocks_and_labels_every_matched_rule() {
    let a = acl(
        serde_json::json!({"VendorName": "Rampart", "Name": "OWASPCoreRuleSet"}),
        serde_json::json!({"None": {}}),
    );
    let v = a.evaluate(&get("id=1 union select"));
    assert!(matches!(v.action, Action::Block(ref b) if b.status == 403));
    assert_eq!(v.terminating_rule.as_deref(), Some("crs"));
    assert_eq!(
        v.labels,
        [
            "awswaf:managed:rampart:crs:942100",
            "awswaf:managed:rampart:crs:949110"
        ]
    );
    let by_name: Vec<_> = v
        .matched_rules
        .iter()
        .map(|m| (m.name.as_str(), m.action))
        .collect();
    assert_eq!(
        by_name,
        [("942100", ActionKind::Count), ("949110", ActionKind::Block)]
    );
    assert!(v
        .matched_rules
        .iter()
        .all(|m| m.rule_group.as_deref() == Some("crs")));
}

#[test]
fn a_match_without_interruption_only_labels() {
    let a = acl(
        serde_json::json!({"VendorName": "Rampart", "Name": "OWASPCoreRuleSet"}),
        serde_json::json!({"None": {}}),
    );
    let v = a.evaluate(&get("odd=1"));
    assert_eq!(v.action, Action::Allow);
    assert_eq!(v.labels, ["awswaf:managed:rampart:crs:920350"]);
    assert_eq!(a.evaluate(&get("q=fine")).labels, Vec::<String>::new());
}

#[test]
fn overrides_count_and_scope_down_apply() {
    let counted = acl(
        serde_json::json!({"VendorName": "Rampart", "Name": "OWASPCoreRuleSet",
            "RuleActionOverrides": [{"Name": "949110", "ActionToUse": {"Count": {}}}]}),
        serde_json::json!({"None": {}}),
    );
    let v = counted.evaluate(&get("union"));
    assert_eq!(v.action, Action::Allow);
    assert!(v
        .labels
        .contains(&"awswaf:managed:rampart:crs:949110".to_owned()));
    let captcha = acl(
        serde_json::json!({"VendorName": "Rampart", "Name": "OWASPCoreRuleSet",
            "RuleActionOverrides": [{"Name": "949110", "ActionToUse": {"Captcha": {}}}]}),
        serde_json::json!({"None": {}}),
    );
    assert_eq!(captcha.evaluate(&get("union")).action, Action::Captcha);
    let whole_count = acl(
        serde_json::json!({"VendorName": "Rampart", "Name": "OWASPCoreRuleSet"}),
        serde_json::json!({"Count": {}}),
    );
    assert_eq!(whole_count.evaluate(&get("union")).action, Action::Allow);
    let scoped = acl(
        serde_json::json!({"VendorName": "Rampart", "Name": "OWASPCoreRuleSet",
            "ScopeDownStatement": {"ByteMatchStatement": {"SearchString": "L2FkbWlu",
                "FieldToMatch": {"UriPath": {}}, "PositionalConstraint": "STARTS_WITH",
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}}),
        serde_json::json!({"None": {}}),
    );
    assert_eq!(scoped.evaluate(&get("union")).action, Action::Allow);
    let admin = Request {
        query: "union",
        ..Request::new("GET", "/admin", IpAddr::from([192, 0, 2, 1]))
    };
    assert!(matches!(scoped.evaluate(&admin).action, Action::Block(_)));
}

#[test]
fn responses_are_inspected_only_when_the_web_acl_asks() {
    let crs = serde_json::json!({"VendorName": "Rampart", "Name": "OWASPCoreRuleSet"});
    let inspect = CompileOptions {
        inspect_responses: true,
        ..CompileOptions::default()
    };
    let resp = |body: &'static [u8]| ResponseView {
        status: 200,
        headers: &[],
        body_prefix: body,
    };
    let req = get("q=fine");
    let allowed = rampart_waf::CompiledAcl::evaluate(
        &acl(crs.clone(), serde_json::json!({"None": {}})),
        &req,
    );

    // Off by default: nothing is inspected.
    let off = acl(crs.clone(), serde_json::json!({"None": {}}));
    assert!(!off.inspects_responses());
    assert_eq!(
        off.evaluate_response(&req, &resp(b"SQL syntax"), &allowed),
        None
    );

    let on = acl_with(crs.clone(), serde_json::json!({"None": {}}), &inspect);
    assert!(on.inspects_responses());
    assert_eq!(
        on.evaluate_response(&req, &resp(b"<html>ok"), &allowed),
        None
    );
    let v = on
        .evaluate_response(&req, &resp(b"SQL syntax error"), &allowed)
        .expect("matched");
    assert!(matches!(v.action, Action::Block(ref b) if b.status == 403));
    assert_eq!(v.terminating_rule.as_deref(), Some("crs"));
    assert_eq!(
        v.labels,
        [
            "awswaf:managed:rampart:crs:951230",
            "awswaf:managed:rampart:crs:959100"
        ]
    );
    let by_name: Vec<_> = v
        .matched_rules
        .iter()
        .map(|m| (m.name.as_str(), m.action))
        .collect();
    assert_eq!(
        by_name,
        [("951230", ActionKind::Count), ("959100", ActionKind::Block)]
    );
    // A match below the threshold only labels.
    let v = on
        .evaluate_response(&req, &resp(b"<?php echo 1;"), &allowed)
        .expect("matched");
    assert_eq!(v.action, Action::Allow);
    assert_eq!(v.labels, ["awswaf:managed:rampart:crs:953100"]);

    // Count override action, and a Count or CAPTCHA override on 959100, never block.
    let counted = acl_with(crs.clone(), serde_json::json!({"Count": {}}), &inspect);
    let v = counted
        .evaluate_response(&req, &resp(b"SQL syntax"), &allowed)
        .expect("matched");
    assert_eq!(v.action, Action::Allow);
    for (a, to_use) in [
        ("Count", serde_json::json!({"Count": {}})),
        ("Captcha", serde_json::json!({"Captcha": {}})),
    ] {
        let o = acl_with(
            serde_json::json!({"VendorName": "Rampart", "Name": "OWASPCoreRuleSet",
                "RuleActionOverrides": [{"Name": "959100", "ActionToUse": to_use}]}),
            serde_json::json!({"None": {}}),
            &inspect,
        );
        let v = o
            .evaluate_response(&req, &resp(b"SQL syntax"), &allowed)
            .expect("matched");
        assert_eq!(v.action, Action::Allow, "{a}");
    }
    // Scope-down: only requests the group inspects have their responses inspected.
    let scoped = acl_with(
        serde_json::json!({"VendorName": "Rampart", "Name": "OWASPCoreRuleSet",
            "ScopeDownStatement": {"ByteMatchStatement": {"SearchString": "L2FkbWlu",
                "FieldToMatch": {"UriPath": {}}, "PositionalConstraint": "STARTS_WITH",
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}}),
        serde_json::json!({"None": {}}),
        &inspect,
    );
    assert_eq!(
        scoped.evaluate_response(&req, &resp(b"SQL syntax"), &allowed),
        None
    );
    let admin = Request::new("GET", "/admin", IpAddr::from([192, 0, 2, 1]));
    assert!(scoped
        .evaluate_response(&admin, &resp(b"SQL syntax"), &allowed)
        .is_some_and(|v| matches!(v.action, Action::Block(_))));
}
