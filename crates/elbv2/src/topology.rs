//! ELBv2's resources as the proxy serves them: this service implements
//! [`rampart_proxy::Topology`] over its store, and hands a node's own changes to the proxy as
//! soon as they are committed. Attributes are handed over with their effective values.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;

use rampart_proxy::{Action, Condition, HealthCheck, Listener, LoadBalancer, Rule, TargetGroup};

use crate::attributes::{self, Of};
use crate::shapes::elbv2 as s;
use crate::state::{State, Tg, STATES};
use crate::ElbService;

/// The values of a path-pattern or host-header condition: its config's and the legacy
/// `Values`.
fn values<'a>(
    c: &'a s::RuleCondition,
    cfg: Option<&'a Vec<String>>,
) -> impl Iterator<Item = &'a String> {
    cfg.into_iter().flatten().chain(c.values.iter().flatten())
}

fn config_values(c: &s::RuleCondition) -> Option<&Vec<String>> {
    match c.field.as_deref() {
        Some("path-pattern") => c
            .path_pattern_config
            .as_ref()
            .and_then(|x| x.values.as_ref()),
        Some("host-header") => c
            .host_header_config
            .as_ref()
            .and_then(|x| x.values.as_ref()),
        _ => None,
    }
}

/// Whether the conditions are of the kinds the proxy evaluates and carry values.
#[must_use]
pub fn supported(conditions: &[s::RuleCondition]) -> bool {
    !conditions.is_empty()
        && conditions.iter().all(|c| {
            matches!(c.field.as_deref(), Some("path-pattern" | "host-header"))
                && values(c, config_values(c)).next().is_some()
        })
}

fn condition(c: &s::RuleCondition) -> Condition {
    let v = || values(c, config_values(c)).cloned().collect();
    match c.field.as_deref() {
        Some("path-pattern") => Condition::PathPattern(v()),
        Some("host-header") => Condition::HostHeader(v()),
        _ => Condition::Other,
    }
}

fn action(a: &s::Action) -> Action {
    if let (Some(cfg), "fixed-response") = (&a.fixed_response_config, a.r#type.as_str()) {
        return Action::FixedResponse {
            status: cfg.status_code.parse().unwrap_or(200),
            content_type: cfg
                .content_type
                .clone()
                .unwrap_or_else(|| "text/plain".to_owned()),
            body: cfg.message_body.clone().unwrap_or_default(),
        };
    }
    State::forwarded(std::slice::from_ref(a))
        .next()
        .map_or(Action::Unsupported, Action::Forward)
}

/// Every attribute with its effective value (stored, else the default).
fn effective(
    of: Of,
    stored: &BTreeMap<String, String>,
    internal: bool,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = attributes::effective(of, stored, internal)
        .into_iter()
        .collect();
    for (k, v) in stored {
        out.insert(k.clone(), v.clone());
    }
    out
}

fn target_group(tg: &Tg) -> TargetGroup {
    let d = &tg.desc;
    let secs =
        |v: Option<i32>, default: u64| v.and_then(|n| u64::try_from(n).ok()).unwrap_or(default);
    TargetGroup {
        targets: tg.targets.clone(),
        algorithm: attributes::get(
            &tg.attributes,
            Of::TargetGroup,
            "load_balancing.algorithm.type",
        )
        .to_owned(),
        health_check: HealthCheck {
            enabled: d.health_check_enabled != Some(false),
            interval_secs: secs(d.health_check_interval_seconds, 30),
            timeout_secs: secs(d.health_check_timeout_seconds, 5),
            path: d
                .health_check_path
                .clone()
                .unwrap_or_else(|| "/".to_owned()),
            port: d.health_check_port.as_deref().and_then(|p| p.parse().ok()),
            codes: d
                .matcher
                .as_ref()
                .and_then(|m| m.http_code.clone())
                .unwrap_or_else(|| "200".to_owned()),
            healthy_threshold: d.healthy_threshold_count.unwrap_or(5),
            unhealthy_threshold: d.unhealthy_threshold_count.unwrap_or(2),
        },
    }
}

/// The load balancers of one account and region, as the proxy serves them: on the port, the
/// HTTP and the HTTPS listener with the lowest listener port.
#[must_use]
pub fn load_balancers(state: &State) -> Vec<LoadBalancer> {
    let tgs: Arc<HashMap<String, TargetGroup>> = Arc::new(
        state
            .tgs
            .iter()
            .map(|(k, tg)| (k.clone(), target_group(tg)))
            .collect(),
    );
    state
        .lbs
        .values()
        .map(|lb| {
            let mut out = LoadBalancer {
                arn: lb.arn.clone(),
                port: lb.port,
                attributes: effective(Of::LoadBalancer, &lb.attributes, lb.scheme == "internal"),
                http: None,
                https: None,
                target_groups: Arc::clone(&tgs),
            };
            for l in state.listeners_of(&lb.arn) {
                let slot = if l.desc.protocol.as_deref() == Some("HTTPS") {
                    &mut out.https
                } else {
                    &mut out.http
                };
                if slot.is_some() {
                    continue;
                }
                let larn = l.desc.listener_arn.clone().unwrap_or_default();
                let mut rules: Vec<_> = state
                    .rules
                    .values()
                    .filter(|r| r.listener_arn == larn)
                    .collect();
                rules.sort_by_key(|r| r.priority);
                let certs = l.desc.certificates.as_deref().unwrap_or_default();
                *slot = Some(Listener {
                    default_actions: l
                        .desc
                        .default_actions
                        .iter()
                        .flatten()
                        .map(action)
                        .collect(),
                    rules: rules
                        .into_iter()
                        .map(|r| Rule {
                            priority: r.priority,
                            conditions: r.conditions.iter().map(condition).collect(),
                            actions: r.actions.iter().map(action).collect(),
                        })
                        .collect(),
                    attributes: effective(Of::Listener, &l.attributes, false),
                    ssl_policy: l.desc.ssl_policy.clone(),
                    certificate: certs
                        .iter()
                        .find(|c| c.is_default != Some(false))
                        .or(certs.first())
                        .and_then(|c| c.certificate_arn.clone()),
                    sni_certificates: l.extra_certificates.clone(),
                });
            }
            out
        })
        .collect()
}

#[async_trait]
impl rampart_proxy::Topology for ElbService {
    /// Every account's and region's load balancers; ACM learns on the way which certificates
    /// they use (certificates attached on another node show in `InUseBy` here too).
    async fn load_balancers(&self) -> Result<Vec<LoadBalancer>, String> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = STATES
                .list(self.store.as_ref(), "", after.as_deref(), 100)
                .await
                .map_err(|e| e.message.clone())?;
            for (key, state) in &page {
                self.sync_certificate_users(key, state);
                out.extend(load_balancers(state));
            }
            match page.last() {
                Some((k, _)) if page.len() == 100 => after = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(field: &str, values: &[&str]) -> s::RuleCondition {
        s::RuleCondition {
            field: Some(field.to_owned()),
            values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn conditions_and_actions_become_the_proxys() {
        assert!(supported(&[cond("path-pattern", &["/api/*"])]));
        assert!(!supported(&[cond("http-header", &["x"])]));
        assert!(!supported(&[cond("host-header", &[])]));
        assert!(!supported(&[]));
        assert_eq!(
            condition(&cond("host-header", &["*.example.com"])),
            Condition::HostHeader(vec!["*.example.com".to_owned()])
        );
        let fixed = s::Action {
            r#type: "fixed-response".into(),
            fixed_response_config: Some(s::FixedResponseActionConfig {
                status_code: "418".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            action(&fixed),
            Action::FixedResponse {
                status: 418,
                content_type: "text/plain".into(),
                body: String::new()
            }
        );
        let forward = s::Action {
            r#type: "forward".into(),
            target_group_arn: Some("tg".into()),
            ..Default::default()
        };
        assert_eq!(action(&forward), Action::Forward("tg".into()));
    }
}
