//! Listener rules: creation, description, changes, priorities and deletion.

use rampart_service::{tags, AwsError, RequestContext};

use crate::errors::{self as err};
use crate::shapes::elbv2 as s;
use crate::state::{Listener, Rule};
use crate::topology as routing;

use super::{check_actions, hex_id, page, ElbService};

impl ElbService {
    pub(crate) fn describe_rule(r: &Rule) -> s::Rule {
        s::Rule {
            actions: Some(r.actions.clone()),
            conditions: Some(r.conditions.clone()),
            is_default: Some(false),
            priority: Some(r.priority.to_string()),
            rule_arn: Some(r.arn.clone()),
            transforms: None,
        }
    }

    pub(crate) fn default_rule(l: &Listener) -> s::Rule {
        let arn = l.desc.listener_arn.clone().unwrap_or_default();
        s::Rule {
            actions: l.desc.default_actions.clone(),
            conditions: Some(Vec::new()),
            is_default: Some(true),
            priority: Some("default".to_owned()),
            rule_arn: Some(format!(
                "{}/default",
                arn.replacen(":listener/", ":listener-rule/", 1)
            )),
            transforms: None,
        }
    }

    pub(super) async fn create_rule(
        &self,
        ctx: &RequestContext,
        req: s::CreateRuleInput,
    ) -> Result<s::CreateRuleOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        if !(1..=50000).contains(&req.priority) {
            return Err(err::validation("Priority must be between 1 and 50000"));
        }
        if !routing::supported(&req.conditions) {
            return Err(err::validation(
                "Rampart's load balancer supports path-pattern and host-header conditions with values",
            ));
        }
        if req.transforms.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(err::validation(
                "Rule transforms are not supported by Rampart's load balancer",
            ));
        }
        let tags = tags::pairs(req.tags.clone().unwrap_or_default());
        let rule = self
            .mutate(ctx, |st| {
                if !st.listeners.contains_key(&req.listener_arn) {
                    return Err(err::listener_not_found());
                }
                if st
                    .rules
                    .values()
                    .any(|r| r.listener_arn == req.listener_arn && r.priority == req.priority)
                {
                    return Err(err::priority_in_use(req.priority));
                }
                check_actions(st, &req.actions)?;
                let arn = format!(
                    "{}/{}",
                    req.listener_arn
                        .replacen(":listener/", ":listener-rule/", 1),
                    hex_id()
                );
                let r = Rule {
                    arn: arn.clone(),
                    listener_arn: req.listener_arn.clone(),
                    priority: req.priority,
                    conditions: req.conditions.clone(),
                    actions: req.actions.clone(),
                };
                st.rules.insert(arn.clone(), r.clone());
                if !tags.is_empty() {
                    st.tags.insert(arn, tags.clone());
                }
                Ok(r)
            })
            .await?;
        Ok(s::CreateRuleOutput {
            rules: Some(vec![Self::describe_rule(&rule)]),
        })
    }

    pub(super) async fn describe_rules(
        &self,
        ctx: &RequestContext,
        req: s::DescribeRulesInput,
    ) -> Result<s::DescribeRulesOutput, AwsError> {
        self.authorize(ctx, "*").await?;
        let (st, _) = self.load(ctx).await?;
        let out = if let Some(arns) = &req.rule_arns {
            arns.iter()
                .map(|a| {
                    if let Some(r) = st.rules.get(a) {
                        return Ok(Self::describe_rule(r));
                    }
                    st.listeners
                        .values()
                        .map(Self::default_rule)
                        .find(|d| d.rule_arn.as_ref() == Some(a))
                        .ok_or_else(err::rule_not_found)
                })
                .collect::<Result<Vec<_>, _>>()?
        } else if let Some(larn) = &req.listener_arn {
            let l = st.listeners.get(larn).ok_or_else(err::listener_not_found)?;
            let mut rules: Vec<&Rule> = st
                .rules
                .values()
                .filter(|r| &r.listener_arn == larn)
                .collect();
            rules.sort_by_key(|r| r.priority);
            let mut v: Vec<s::Rule> = rules.into_iter().map(Self::describe_rule).collect();
            v.push(Self::default_rule(l));
            v
        } else {
            return Err(err::validation(
                "You must specify either listener rule ARNs or a listener ARN",
            ));
        };
        let (out, next_marker) = page(
            ctx,
            "DescribeRules",
            out,
            req.marker.as_deref(),
            req.page_size,
        )?;
        Ok(s::DescribeRulesOutput {
            next_marker,
            rules: Some(out),
        })
    }

    pub(super) async fn delete_rule(
        &self,
        ctx: &RequestContext,
        req: s::DeleteRuleInput,
    ) -> Result<s::DeleteRuleOutput, AwsError> {
        self.authorize(ctx, &req.rule_arn).await?;
        let arn = req.rule_arn.clone();
        self.mutate(ctx, |st| {
            if arn.ends_with("/default") {
                return Err(AwsError::new(
                    "OperationNotPermitted",
                    400,
                    "Default rules cannot be deleted",
                ));
            }
            if st.rules.remove(&arn).is_none() {
                return Err(err::rule_not_found());
            }
            st.tags.remove(&arn);
            Ok(())
        })
        .await?;
        Ok(s::DeleteRuleOutput::default())
    }

    pub(crate) async fn modify_rule(
        &self,
        ctx: &RequestContext,
        req: s::ModifyRuleInput,
    ) -> Result<s::ModifyRuleOutput, AwsError> {
        self.authorize(ctx, &req.rule_arn).await?;
        if let Some(c) = &req.conditions {
            if !routing::supported(c) {
                return Err(err::validation(
                    "Rampart's load balancer supports path-pattern and host-header conditions with values",
                ));
            }
        }
        if req.transforms.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(err::validation(
                "Rule transforms are not supported by Rampart's load balancer",
            ));
        }
        let rule = self
            .mutate(ctx, |st| {
                if req.rule_arn.ends_with("/default") {
                    let larn = req.rule_arn.trim_end_matches("/default").replacen(
                        ":listener-rule/",
                        ":listener/",
                        1,
                    );
                    if req.conditions.as_ref().is_some_and(|c| !c.is_empty()) {
                        return Err(AwsError::new(
                            "OperationNotPermitted",
                            400,
                            "Conditions cannot be specified for a default rule",
                        ));
                    }
                    if let Some(a) = &req.actions {
                        check_actions(st, a)?;
                    }
                    let l = st
                        .listeners
                        .get_mut(&larn)
                        .ok_or_else(err::rule_not_found)?;
                    if let Some(a) = &req.actions {
                        l.desc.default_actions = Some(a.clone());
                    }
                    return Ok(Self::default_rule(l));
                }
                if let Some(a) = &req.actions {
                    check_actions(st, a)?;
                }
                let r = st
                    .rules
                    .get_mut(&req.rule_arn)
                    .ok_or_else(err::rule_not_found)?;
                if let Some(a) = &req.actions {
                    r.actions = a.clone();
                }
                if let Some(c) = &req.conditions {
                    r.conditions = c.clone();
                }
                Ok(Self::describe_rule(r))
            })
            .await?;
        Ok(s::ModifyRuleOutput {
            rules: Some(vec![rule]),
        })
    }

    pub(crate) async fn set_rule_priorities(
        &self,
        ctx: &RequestContext,
        req: s::SetRulePrioritiesInput,
    ) -> Result<s::SetRulePrioritiesOutput, AwsError> {
        for p in &req.rule_priorities {
            if let Some(a) = &p.rule_arn {
                self.authorize(ctx, a).await?;
            }
        }
        let out = self
            .mutate(ctx, |st| {
                let mut changed = Vec::new();
                for p in &req.rule_priorities {
                    let arn = p.rule_arn.clone().unwrap_or_default();
                    let prio = p.priority.unwrap_or(0);
                    if arn.ends_with("/default") {
                        return Err(AwsError::new(
                            "OperationNotPermitted",
                            400,
                            "The priority of a default rule cannot be changed",
                        ));
                    }
                    if !(1..=50000).contains(&prio) {
                        return Err(err::validation("Priority must be between 1 and 50000"));
                    }
                    let r = st.rules.get_mut(&arn).ok_or_else(err::rule_not_found)?;
                    r.priority = prio;
                    changed.push(arn);
                }
                // After the change, no two rules of a listener may share a priority.
                let mut seen = std::collections::HashSet::new();
                let mut rules: Vec<_> = st.rules.values().collect();
                rules.sort_by_key(|r| !changed.contains(&r.arn));
                for r in rules {
                    if !seen.insert((r.listener_arn.clone(), r.priority)) {
                        return Err(err::priority_in_use(r.priority));
                    }
                }
                let mut out: Vec<s::Rule> = changed
                    .iter()
                    .filter_map(|a| st.rules.get(a))
                    .map(Self::describe_rule)
                    .collect();
                out.sort_by_key(|r| r.priority.clone());
                Ok(out)
            })
            .await?;
        Ok(s::SetRulePrioritiesOutput { rules: Some(out) })
    }
}
