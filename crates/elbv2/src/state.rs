//! What ELBv2 keeps in the store: one record per account and region (`account/region` in
//! namespace [`NS_STATE`]) holding its load balancers, target groups, listeners, rules and tags,
//! changed under optimistic concurrency.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::shapes::elbv2 as s;

/// The store namespace.
pub const NS_STATE: &str = "elbv2.state";

/// A load balancer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lb {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// The local port it is bound to.
    pub port: u16,
    /// Creation time, epoch millis.
    pub created: i64,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    /// `ipv4` or `dualstack`.
    pub ip_address_type: String,
}

/// A target group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tg {
    /// The group as DescribeTargetGroups returns it (without `LoadBalancerArns`).
    pub desc: s::TargetGroup,
    /// Registered targets: (host or IP, port).
    pub targets: Vec<(String, u16)>,
}

/// A listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listener {
    /// The listener as DescribeListeners returns it.
    pub desc: s::Listener,
    /// Extra certificates for SNI (AddListenerCertificates), in order.
    #[serde(default)]
    pub extra_certificates: Vec<String>,
}

/// A listener rule (not the default rule).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    /// ARN.
    pub arn: String,
    /// Its listener.
    pub listener_arn: String,
    /// Priority, 1–50000.
    pub priority: i32,
    /// Conditions.
    pub conditions: Vec<s::RuleCondition>,
    /// Actions.
    pub actions: Vec<s::Action>,
}

/// Everything of one account in one region.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Load balancers by ARN.
    pub lbs: BTreeMap<String, Lb>,
    /// Target groups by ARN.
    pub tgs: BTreeMap<String, Tg>,
    /// Listeners by ARN.
    pub listeners: BTreeMap<String, Listener>,
    /// Rules by ARN.
    pub rules: BTreeMap<String, Rule>,
    /// Tags by resource ARN.
    pub tags: BTreeMap<String, Vec<(String, String)>>,
}

impl State {
    /// The listeners of a load balancer, by listener port.
    #[must_use]
    pub fn listeners_of(&self, lb_arn: &str) -> Vec<&Listener> {
        let mut v: Vec<&Listener> = self
            .listeners
            .values()
            .filter(|l| l.desc.load_balancer_arn.as_deref() == Some(lb_arn))
            .collect();
        v.sort_by_key(|l| l.desc.port.unwrap_or(0));
        v
    }

    /// The target group ARNs an action list forwards to.
    pub fn forwarded(actions: &[s::Action]) -> impl Iterator<Item = String> + '_ {
        actions.iter().flat_map(|a| {
            let mut v = Vec::new();
            if let Some(t) = &a.target_group_arn {
                v.push(t.clone());
            }
            if let Some(f) = &a.forward_config {
                for t in f.target_groups.iter().flatten() {
                    if let Some(arn) = &t.target_group_arn {
                        v.push(arn.clone());
                    }
                }
            }
            v
        })
    }

    /// The load balancers whose listeners or rules forward to `tg_arn`.
    #[must_use]
    pub fn lbs_using(&self, tg_arn: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for l in self.listeners.values() {
            let mut uses = Self::forwarded(l.desc.default_actions.as_deref().unwrap_or_default())
                .any(|a| a == tg_arn);
            let larn = l.desc.listener_arn.as_deref().unwrap_or_default();
            uses |= self
                .rules
                .values()
                .filter(|r| r.listener_arn == larn)
                .any(|r| Self::forwarded(&r.actions).any(|a| a == tg_arn));
            if uses {
                if let Some(lb) = &l.desc.load_balancer_arn {
                    if !out.contains(lb) {
                        out.push(lb.clone());
                    }
                }
            }
        }
        out
    }
}
