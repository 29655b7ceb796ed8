//! Elastic Load Balancing's default quotas for an account in a Region (Application Load
//! Balancer Guide, "Quotas for your Application Load Balancers"; Network and Gateway Load
//! Balancer Guides for theirs), as DescribeAccountLimits reports them, and the ones Rampart
//! enforces for application load balancers.

use rampart_service::AwsError;

#[cfg(test)]
use std::collections::BTreeMap;

use crate::state::State;

/// Application load balancers per Region.
pub const LOAD_BALANCERS: usize = 50;
/// Target groups per Region.
pub const TARGET_GROUPS: usize = 3000;
/// Listeners per application load balancer.
pub const LISTENERS_PER_LB: usize = 50;
/// Rules per application load balancer, not counting default rules.
pub const RULES_PER_LB: usize = 100;
/// Targets per target group.
pub const TARGETS_PER_TG: usize = 1000;
/// Targets per application load balancer.
pub const TARGETS_PER_LB: usize = 1000;
/// Certificates per application load balancer, not counting default certificates.
pub const CERTIFICATES_PER_LB: usize = 25;

/// The limits DescribeAccountLimits lists, with their default maximums.
pub const DEFAULTS: &[(&str, u32)] = &[
    ("application-load-balancers", 50),
    ("condition-values-per-alb-rule", 5),
    ("condition-wildcards-per-alb-rule", 5),
    ("gateway-load-balancers", 100),
    ("gateway-load-balancers-per-vpc", 100),
    ("geneve-target-groups", 100),
    ("listeners-per-application-load-balancer", 50),
    ("listeners-per-network-load-balancer", 50),
    ("network-load-balancers", 50),
    ("rules-per-application-load-balancer", 100),
    ("target-groups", 3000),
    ("target-groups-per-action-on-application-load-balancer", 5),
    ("target-groups-per-action-on-network-load-balancer", 1),
    ("target-groups-per-application-load-balancer", 100),
    ("targets-per-application-load-balancer", 1000),
    (
        "targets-per-availability-zone-per-gateway-load-balancer",
        300,
    ),
    (
        "targets-per-availability-zone-per-network-load-balancer",
        500,
    ),
    ("targets-per-network-load-balancer", 3000),
];

fn too_many(code: &'static str, msg: &str) -> AwsError {
    AwsError::new(code, 400, msg)
}

/// Check the enforced quotas on a state about to be committed.
///
/// # Errors
/// `TooManyLoadBalancers`, `TooManyTargetGroups`, `TooManyListeners`, `TooManyRules`,
/// `TooManyTargets` or `TooManyCertificates`.
pub fn check(st: &State) -> Result<(), AwsError> {
    if st.lbs.len() > LOAD_BALANCERS {
        return Err(too_many(
            "TooManyLoadBalancers",
            "You've reached the limit on the number of load balancers for your AWS account",
        ));
    }
    if st.tgs.len() > TARGET_GROUPS {
        return Err(too_many(
            "TooManyTargetGroups",
            "You've reached the limit on the number of target groups for your AWS account",
        ));
    }
    if st.tgs.values().any(|t| t.targets.len() > TARGETS_PER_TG) {
        return Err(too_many(
            "TooManyTargets",
            "You've reached the limit on the number of targets",
        ));
    }
    for lb in st.lbs.keys() {
        let listeners = st.listeners_of(lb);
        if listeners.len() > LISTENERS_PER_LB {
            return Err(too_many(
                "TooManyListeners",
                "You've reached the limit on the number of listeners per load balancer",
            ));
        }
        let larns: Vec<&str> = listeners
            .iter()
            .filter_map(|l| l.desc.listener_arn.as_deref())
            .collect();
        let rules = st
            .rules
            .values()
            .filter(|r| larns.contains(&r.listener_arn.as_str()))
            .count();
        if rules > RULES_PER_LB {
            return Err(too_many(
                "TooManyRules",
                "You've reached the limit on the number of rules per load balancer",
            ));
        }
        let certs: usize = listeners.iter().map(|l| l.extra_certificates.len()).sum();
        if certs > CERTIFICATES_PER_LB {
            return Err(too_many(
                "TooManyCertificates",
                "You've reached the limit on the number of certificates per load balancer",
            ));
        }
        let targets: usize = st.lbs_using_all().get(lb.as_str()).map_or(0, |tgs| {
            tgs.iter()
                .filter_map(|t| st.tgs.get(*t))
                .map(|t| t.targets.len())
                .sum()
        });
        if targets > TARGETS_PER_LB {
            return Err(too_many(
                "TooManyTargets",
                "You've reached the limit on the number of targets per load balancer",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Lb, Tg};

    #[test]
    fn load_balancers_and_targets_are_capped() {
        let mut st = State::default();
        for i in 0..=LOAD_BALANCERS {
            let arn = format!("arn:lb/{i}");
            st.lbs.insert(
                arn.clone(),
                Lb {
                    name: format!("lb{i}"),
                    arn,
                    port: 1,
                    created: 0,
                    scheme: "internet-facing".to_owned(),
                    ip_address_type: "ipv4".to_owned(),
                    attributes: BTreeMap::new(),
                    security_groups: Vec::new(),
                    enforce_sg_private_link: None,
                    subnets: Vec::new(),
                    ipam_pool: None,
                    capacity: None,
                },
            );
        }
        assert_eq!(check(&st).unwrap_err().code, "TooManyLoadBalancers");
        let mut st = State::default();
        st.tgs.insert(
            "tg".to_owned(),
            Tg {
                desc: crate::shapes::elbv2::TargetGroup::default(),
                targets: (0..=TARGETS_PER_TG)
                    .map(|i| ("10.0.0.1".to_owned(), u16::try_from(i + 1).unwrap_or(1)))
                    .collect(),
                attributes: BTreeMap::new(),
                draining: Vec::new(),
            },
        );
        assert_eq!(check(&st).unwrap_err().code, "TooManyTargets");
    }
}
