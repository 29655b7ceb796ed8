//! What ELBv2 keeps in the store: one record per account and region (`account/region` in
//! namespace [`NS_STATE`]) holding its load balancers, target groups, listeners, rules and tags,
//! changed under optimistic concurrency.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use rampart_service::table::{Db, Table};
use rampart_service::AwsError;

use crate::shapes::elbv2 as s;

/// The store namespace.
pub const NS_STATE: &str = "elbv2.state";
/// The per-account-and-region state records; a conflict is retried by the caller.
pub const STATES: Table<State> =
    Db::new(crate::errors::store_unavailable, AwsError::internal).table(NS_STATE);

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
    /// Attributes set by ModifyLoadBalancerAttributes (the others have their defaults).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Security groups (SetSecurityGroups), stored and described.
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// `EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic` (`on`/`off`), when set.
    #[serde(default)]
    pub enforce_sg_private_link: Option<String>,
    /// Subnets (CreateLoadBalancer/SetSubnets), stored and described; one zone each.
    #[serde(default)]
    pub subnets: Vec<String>,
    /// The IPv4 IPAM pool (ModifyIpPools), stored and described.
    #[serde(default)]
    pub ipam_pool: Option<String>,
    /// The minimum capacity reservation (ModifyCapacityReservation): units and when it was
    /// last changed (epoch millis).
    #[serde(default)]
    pub capacity: Option<(i32, i64)>,
}

/// A target group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tg {
    /// The group as DescribeTargetGroups returns it (without `LoadBalancerArns`).
    pub desc: s::TargetGroup,
    /// Registered targets: (host or IP, port).
    pub targets: Vec<(String, u16)>,
    /// Attributes set by ModifyTargetGroupAttributes (the others have their defaults).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Deregistered targets still draining: (host or IP, port, until epoch millis). They get no
    /// new requests and show as `draining` until the deregistration delay has passed.
    #[serde(default)]
    pub draining: Vec<(String, u16, i64)>,
}

/// A listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listener {
    /// The listener as DescribeListeners returns it.
    pub desc: s::Listener,
    /// Extra certificates for SNI (AddListenerCertificates), in order.
    #[serde(default)]
    pub extra_certificates: Vec<String>,
    /// Attributes set by ModifyListenerAttributes (the others have their defaults).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
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

    /// Every (certificate ARN, load balancer ARN) pair in use: default and extra certificates
    /// of every listener.
    #[must_use]
    pub fn certificate_users(&self) -> std::collections::BTreeSet<(String, String)> {
        let mut out = std::collections::BTreeSet::new();
        for l in self.listeners.values() {
            let lb = l.desc.load_balancer_arn.clone().unwrap_or_default();
            for c in l.desc.certificates.iter().flatten() {
                if let Some(a) = &c.certificate_arn {
                    out.insert((a.clone(), lb.clone()));
                }
            }
            for a in &l.extra_certificates {
                out.insert((a.clone(), lb.clone()));
            }
        }
        out
    }

    /// Drop draining targets whose deregistration delay has passed at `now` (epoch millis).
    pub fn expire_draining(&mut self, now: i64) {
        for tg in self.tgs.values_mut() {
            tg.draining.retain(|(_, _, until)| *until > now);
        }
    }

    /// For every load balancer, the target groups its listeners and rules forward to.
    #[must_use]
    pub fn lbs_using_all(&self) -> BTreeMap<&str, std::collections::BTreeSet<&str>> {
        let mut out: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
        for tg in self.tgs.keys() {
            for lb in self.lbs_using(tg) {
                if let Some((k, _)) = self.lbs.get_key_value(&lb) {
                    out.entry(k.as_str()).or_default().insert(tg.as_str());
                }
            }
        }
        out
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
