//! Operations that configure existing resources: attributes, health check settings, rule
//! changes and priorities, load balancer network settings (stored and described: Rampart's
//! load balancers listen on a local port, not in subnets), capacity reservations, security
//! policies and account limits.

use rampart_protocol::types::Timestamp;
use rampart_service::{AwsError, RequestContext};

use crate::attributes::{self, Of};
use crate::errors as err;
use crate::limits;
use crate::routing;
use crate::service::{check_actions, page, ElbService};
use crate::shapes::elbv2 as s;
use crate::ssl_policies;
use crate::state::State;

fn pairs<K, V>(given: &[(Option<K>, Option<V>)]) -> Vec<(String, String)>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    given
        .iter()
        .map(|(k, v)| {
            (
                k.as_ref()
                    .map(|x| x.as_ref().to_owned())
                    .unwrap_or_default(),
                v.as_ref()
                    .map(|x| x.as_ref().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn invalid_config(msg: impl Into<String>) -> AwsError {
    AwsError::new("InvalidConfigurationRequest", 400, msg)
}

fn lb_attrs(v: Vec<(String, String)>) -> Vec<s::LoadBalancerAttribute> {
    v.into_iter()
        .map(|(k, v)| s::LoadBalancerAttribute {
            key: Some(k),
            value: Some(v),
        })
        .collect()
}

fn tg_attrs(v: Vec<(String, String)>) -> Vec<s::TargetGroupAttribute> {
    v.into_iter()
        .map(|(k, v)| s::TargetGroupAttribute {
            key: Some(k),
            value: Some(v),
        })
        .collect()
}

fn listener_attrs(v: Vec<(String, String)>) -> Vec<s::ListenerAttribute> {
    v.into_iter()
        .map(|(k, v)| s::ListenerAttribute {
            key: Some(k),
            value: Some(v),
        })
        .collect()
}

/// An EC2-style id: the prefix, then 1–32 letters and digits (Rampart has no VPC to look
/// the id up in, so only its shape is checked).
fn valid_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|h| {
        (1..=32).contains(&h.len()) && h.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// The zone name Rampart describes for the `i`-th subnet of a load balancer.
#[must_use]
pub fn zone_name(region: &str, i: usize) -> String {
    let letter = char::from(b'a' + u8::try_from(i % 26).unwrap_or(0));
    format!("{region}{letter}")
}

/// Check subnets given to CreateLoadBalancer or SetSubnets: ids of the form `subnet-<id>`,
/// no duplicates, no Network Load Balancer settings.
///
/// # Errors
/// `SubnetNotFound` for a malformed id, `InvalidConfigurationRequest` otherwise.
pub fn check_subnets(
    subnets: Option<&Vec<String>>,
    mappings: Option<&Vec<s::SubnetMapping>>,
) -> Result<Vec<String>, AwsError> {
    let mut ids: Vec<String> = subnets.cloned().unwrap_or_default();
    for m in mappings.into_iter().flatten() {
        if m.allocation_id.is_some()
            || m.private_i_pv4_address.is_some()
            || m.i_pv6_address.is_some()
            || m.source_nat_ipv6_prefix.is_some()
        {
            return Err(invalid_config(
                "Elastic IP addresses, private IP addresses and IPv6 prefixes cannot be specified for an Application Load Balancer",
            ));
        }
        if let Some(id) = &m.subnet_id {
            ids.push(id.clone());
        }
    }
    for id in &ids {
        if !valid_id(id, "subnet-") {
            return Err(AwsError::new(
                "SubnetNotFound",
                400,
                format!("The subnet ID '{id}' is not valid"),
            ));
        }
    }
    let mut uniq = ids.clone();
    uniq.sort();
    uniq.dedup();
    if uniq.len() != ids.len() {
        return Err(invalid_config(
            "A subnet cannot be specified more than once",
        ));
    }
    Ok(ids)
}

/// Check security group ids: `sg-<hex>`, at most 5.
///
/// # Errors
/// `InvalidSecurityGroup` for a malformed id, `InvalidConfigurationRequest` over the quota.
pub fn check_security_groups(groups: &[String]) -> Result<(), AwsError> {
    for g in groups {
        if !valid_id(g, "sg-") {
            return Err(AwsError::new(
                "InvalidSecurityGroup",
                400,
                format!("Invalid security group '{g}'"),
            ));
        }
    }
    if groups.len() > 5 {
        return Err(invalid_config(
            "You cannot associate more than 5 security groups with a load balancer",
        ));
    }
    Ok(())
}

impl ElbService {
    pub(crate) async fn describe_load_balancer_attributes(
        &self,
        ctx: &RequestContext,
        req: s::DescribeLoadBalancerAttributesInput,
    ) -> Result<s::DescribeLoadBalancerAttributesOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        let (st, _) = self.load(ctx).await?;
        let lb = st
            .lbs
            .get(&req.load_balancer_arn)
            .ok_or_else(err::lb_not_found)?;
        Ok(s::DescribeLoadBalancerAttributesOutput {
            attributes: Some(lb_attrs(attributes::effective(
                Of::LoadBalancer,
                &lb.attributes,
                lb.scheme == "internal",
            ))),
        })
    }

    pub(crate) async fn modify_load_balancer_attributes(
        &self,
        ctx: &RequestContext,
        req: s::ModifyLoadBalancerAttributesInput,
    ) -> Result<s::ModifyLoadBalancerAttributesOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        let changes = pairs(
            &req.attributes
                .iter()
                .map(|a| (a.key.clone(), a.value.clone()))
                .collect::<Vec<_>>(),
        );
        let out = self
            .mutate(ctx, |st| {
                let lb = st
                    .lbs
                    .get_mut(&req.load_balancer_arn)
                    .ok_or_else(err::lb_not_found)?;
                lb.attributes = attributes::apply(Of::LoadBalancer, &lb.attributes, &changes)?;
                Ok(attributes::effective(
                    Of::LoadBalancer,
                    &lb.attributes,
                    lb.scheme == "internal",
                ))
            })
            .await?;
        Ok(s::ModifyLoadBalancerAttributesOutput {
            attributes: Some(lb_attrs(out)),
        })
    }

    pub(crate) async fn describe_target_group_attributes(
        &self,
        ctx: &RequestContext,
        req: s::DescribeTargetGroupAttributesInput,
    ) -> Result<s::DescribeTargetGroupAttributesOutput, AwsError> {
        self.authorize(ctx, &req.target_group_arn).await?;
        let (st, _) = self.load(ctx).await?;
        let tg = st
            .tgs
            .get(&req.target_group_arn)
            .ok_or_else(err::tg_not_found)?;
        Ok(s::DescribeTargetGroupAttributesOutput {
            attributes: Some(tg_attrs(attributes::effective(
                Of::TargetGroup,
                &tg.attributes,
                false,
            ))),
        })
    }

    pub(crate) async fn modify_target_group_attributes(
        &self,
        ctx: &RequestContext,
        req: s::ModifyTargetGroupAttributesInput,
    ) -> Result<s::ModifyTargetGroupAttributesOutput, AwsError> {
        self.authorize(ctx, &req.target_group_arn).await?;
        let changes = pairs(
            &req.attributes
                .iter()
                .map(|a| (a.key.clone(), a.value.clone()))
                .collect::<Vec<_>>(),
        );
        let out = self
            .mutate(ctx, |st| {
                let tg = st
                    .tgs
                    .get_mut(&req.target_group_arn)
                    .ok_or_else(err::tg_not_found)?;
                let next = attributes::apply(Of::TargetGroup, &tg.attributes, &changes)?;
                if attributes::get(&next, Of::TargetGroup, "stickiness.type") == "app_cookie"
                    && attributes::enabled(&next, Of::TargetGroup, "stickiness.enabled")
                    && attributes::get(&next, Of::TargetGroup, "stickiness.app_cookie.cookie_name")
                        .is_empty()
                {
                    return Err(invalid_config(
                        "An application cookie name must be specified for app_cookie stickiness",
                    ));
                }
                tg.attributes = next;
                Ok(attributes::effective(
                    Of::TargetGroup,
                    &tg.attributes,
                    false,
                ))
            })
            .await?;
        Ok(s::ModifyTargetGroupAttributesOutput {
            attributes: Some(tg_attrs(out)),
        })
    }

    pub(crate) async fn describe_listener_attributes(
        &self,
        ctx: &RequestContext,
        req: s::DescribeListenerAttributesInput,
    ) -> Result<s::DescribeListenerAttributesOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        let (st, _) = self.load(ctx).await?;
        let l = st
            .listeners
            .get(&req.listener_arn)
            .ok_or_else(err::listener_not_found)?;
        Ok(s::DescribeListenerAttributesOutput {
            attributes: Some(listener_attrs(attributes::effective(
                Of::Listener,
                &l.attributes,
                false,
            ))),
        })
    }

    pub(crate) async fn modify_listener_attributes(
        &self,
        ctx: &RequestContext,
        req: s::ModifyListenerAttributesInput,
    ) -> Result<s::ModifyListenerAttributesOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        let changes = pairs(
            &req.attributes
                .iter()
                .map(|a| (a.key.clone(), a.value.clone()))
                .collect::<Vec<_>>(),
        );
        let out = self
            .mutate(ctx, |st| {
                let l = st
                    .listeners
                    .get_mut(&req.listener_arn)
                    .ok_or_else(err::listener_not_found)?;
                l.attributes = attributes::apply(Of::Listener, &l.attributes, &changes)?;
                Ok(attributes::effective(Of::Listener, &l.attributes, false))
            })
            .await?;
        Ok(s::ModifyListenerAttributesOutput {
            attributes: Some(listener_attrs(out)),
        })
    }

    pub(crate) async fn modify_target_group(
        &self,
        ctx: &RequestContext,
        req: s::ModifyTargetGroupInput,
    ) -> Result<s::ModifyTargetGroupOutput, AwsError> {
        self.authorize(ctx, &req.target_group_arn).await?;
        if let Some(p) = req.health_check_protocol.as_deref() {
            if p != "HTTP" {
                return Err(invalid_config(format!(
                    "Health check protocol '{p}' is not supported by Rampart's target groups; use HTTP"
                )));
            }
        }
        if let Some(path) = &req.health_check_path {
            if !path.starts_with('/') || path.len() > 1024 {
                return Err(err::validation(
                    "Health check path must begin with a '/' character and be at most 1024 characters",
                ));
            }
        }
        if let Some(port) = &req.health_check_port {
            if port != "traffic-port" && !port.parse::<u16>().is_ok_and(|p| p > 0) {
                return Err(err::validation(
                    "Health check port must be 'traffic-port' or a port from 1 to 65535",
                ));
            }
        }
        if let Some(m) = &req.matcher {
            let ok = m.http_code.as_deref().is_some_and(|c| {
                !c.is_empty()
                    && c.split(',').all(|part| {
                        part.split('-')
                            .all(|n| n.parse::<u16>().is_ok_and(|n| (200..500).contains(&n)))
                    })
            });
            if !ok {
                return Err(err::validation(
                    "Health check matcher HTTP codes must be values from 200 to 499, as a list (200,202) or range (200-299)",
                ));
            }
        }
        let out = self
            .mutate(ctx, |st| {
                let tg = st
                    .tgs
                    .get_mut(&req.target_group_arn)
                    .ok_or_else(err::tg_not_found)?;
                let d = &mut tg.desc;
                if let Some(v) = req.health_check_enabled {
                    d.health_check_enabled = Some(v);
                }
                if let Some(v) = req.health_check_interval_seconds {
                    d.health_check_interval_seconds = Some(v);
                }
                if let Some(v) = &req.health_check_path {
                    d.health_check_path = Some(v.clone());
                }
                if let Some(v) = &req.health_check_port {
                    d.health_check_port = Some(v.clone());
                }
                if let Some(v) = req.health_check_timeout_seconds {
                    d.health_check_timeout_seconds = Some(v);
                }
                if let Some(v) = req.healthy_threshold_count {
                    d.healthy_threshold_count = Some(v);
                }
                if let Some(v) = req.unhealthy_threshold_count {
                    d.unhealthy_threshold_count = Some(v);
                }
                if let Some(v) = &req.matcher {
                    d.matcher = Some(v.clone());
                }
                let timing_changed = req.health_check_interval_seconds.is_some()
                    || req.health_check_timeout_seconds.is_some();
                if timing_changed
                    && d.health_check_timeout_seconds.unwrap_or(5)
                        >= d.health_check_interval_seconds.unwrap_or(30)
                {
                    return Err(invalid_config(
                        "Health check interval must be greater than the timeout.",
                    ));
                }
                let tg = tg.clone();
                Ok(Self::describe_tg(st, &tg))
            })
            .await?;
        self.runtime.check_now();
        Ok(s::ModifyTargetGroupOutput {
            target_groups: Some(vec![out]),
        })
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

    pub(crate) async fn set_ip_address_type(
        &self,
        ctx: &RequestContext,
        req: s::SetIpAddressTypeInput,
    ) -> Result<s::SetIpAddressTypeOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        let t = req.ip_address_type.clone();
        let out = self
            .mutate(ctx, |st| {
                let lb = st
                    .lbs
                    .get_mut(&req.load_balancer_arn)
                    .ok_or_else(err::lb_not_found)?;
                if t == "dualstack-without-public-ipv4" && lb.scheme == "internal" {
                    return Err(invalid_config(
                        "The IP address type 'dualstack-without-public-ipv4' is only supported for internet-facing load balancers",
                    ));
                }
                lb.ip_address_type.clone_from(&t);
                Ok(t.clone())
            })
            .await?;
        Ok(s::SetIpAddressTypeOutput {
            ip_address_type: Some(out),
        })
    }

    pub(crate) async fn set_security_groups(
        &self,
        ctx: &RequestContext,
        req: s::SetSecurityGroupsInput,
    ) -> Result<s::SetSecurityGroupsOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        check_security_groups(&req.security_groups)?;
        let out = self
            .mutate(ctx, |st| {
                let lb = st
                    .lbs
                    .get_mut(&req.load_balancer_arn)
                    .ok_or_else(err::lb_not_found)?;
                lb.security_groups.clone_from(&req.security_groups);
                if let Some(e) = &req.enforce_security_group_inbound_rules_on_private_link_traffic {
                    lb.enforce_sg_private_link = Some(e.clone());
                }
                Ok((
                    lb.security_groups.clone(),
                    lb.enforce_sg_private_link.clone(),
                ))
            })
            .await?;
        Ok(s::SetSecurityGroupsOutput {
            enforce_security_group_inbound_rules_on_private_link_traffic: out.1,
            security_group_ids: Some(out.0),
        })
    }

    pub(crate) async fn set_subnets(
        &self,
        ctx: &RequestContext,
        req: s::SetSubnetsInput,
    ) -> Result<s::SetSubnetsOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        if req.enable_prefix_for_ipv6_source_nat.is_some() {
            return Err(invalid_config(
                "Source NAT prefixes apply to Network Load Balancers with UDP listeners only",
            ));
        }
        let ids = check_subnets(req.subnets.as_ref(), req.subnet_mappings.as_ref())?;
        if ids.is_empty() {
            return Err(err::validation(
                "You must specify subnets or subnet mappings",
            ));
        }
        let region = ctx.region.clone();
        let out = self
            .mutate(ctx, |st| {
                let lb = st
                    .lbs
                    .get_mut(&req.load_balancer_arn)
                    .ok_or_else(err::lb_not_found)?;
                lb.subnets.clone_from(&ids);
                if let Some(t) = &req.ip_address_type {
                    lb.ip_address_type.clone_from(t);
                }
                Ok(lb.ip_address_type.clone())
            })
            .await?;
        Ok(s::SetSubnetsOutput {
            availability_zones: Some(
                ids.iter()
                    .enumerate()
                    .map(|(i, id)| s::AvailabilityZone {
                        subnet_id: Some(id.clone()),
                        zone_name: Some(zone_name(&region, i)),
                        ..Default::default()
                    })
                    .collect(),
            ),
            enable_prefix_for_ipv6_source_nat: None,
            ip_address_type: Some(out),
        })
    }

    pub(crate) async fn describe_ssl_policies(
        &self,
        ctx: &RequestContext,
        req: s::DescribeSSLPoliciesInput,
    ) -> Result<s::DescribeSSLPoliciesOutput, AwsError> {
        self.authorize(ctx, "*").await?;
        let policies: Vec<&ssl_policies::Policy> = match &req.names {
            Some(names) if !names.is_empty() => names
                .iter()
                .map(|n| {
                    ssl_policies::find(n).ok_or_else(|| {
                        AwsError::new(
                            "SSLPolicyNotFound",
                            400,
                            format!("SSL policy '{n}' not found"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => match req.load_balancer_type.as_deref() {
                None | Some("application" | "network") => ssl_policies::POLICIES.iter().collect(),
                Some(_) => Vec::new(),
            },
        };
        let (out, next_marker) = page(policies, req.marker.as_deref(), req.page_size)?;
        Ok(s::DescribeSSLPoliciesOutput {
            next_marker,
            ssl_policies: Some(
                out.into_iter()
                    .map(|p| s::SslPolicy {
                        ciphers: Some(
                            p.cipher_names()
                                .zip(1..)
                                .map(|(n, i)| s::Cipher {
                                    name: Some(n.to_owned()),
                                    priority: Some(i),
                                })
                                .collect(),
                        ),
                        name: Some(p.name.to_owned()),
                        ssl_protocols: Some(p.protocols.iter().map(|x| (*x).to_owned()).collect()),
                        supported_load_balancer_types: Some(vec![
                            "application".to_owned(),
                            "network".to_owned(),
                        ]),
                    })
                    .collect(),
            ),
        })
    }

    pub(crate) async fn describe_account_limits(
        &self,
        ctx: &RequestContext,
        req: s::DescribeAccountLimitsInput,
    ) -> Result<s::DescribeAccountLimitsOutput, AwsError> {
        self.authorize(ctx, "*").await?;
        let (out, next_marker) = page(
            limits::DEFAULTS.to_vec(),
            req.marker.as_deref(),
            req.page_size,
        )?;
        Ok(s::DescribeAccountLimitsOutput {
            limits: Some(
                out.into_iter()
                    .map(|(n, m)| s::Limit {
                        max: Some(m.to_string()),
                        name: Some(n.to_owned()),
                    })
                    .collect(),
            ),
            next_marker,
        })
    }

    fn capacity_output(
        ctx: &RequestContext,
        lb: &crate::state::Lb,
    ) -> s::DescribeCapacityReservationOutput {
        let zones = lb.subnets.len().max(1);
        s::DescribeCapacityReservationOutput {
            capacity_reservation_state: Some(match lb.capacity {
                Some((units, _)) => (0..zones)
                    .map(|i| s::ZonalCapacityReservationState {
                        availability_zone: Some(zone_name(&ctx.region, i)),
                        effective_capacity_units: Some(f64::from(units) / zones as f64),
                        state: Some(s::CapacityReservationStatus {
                            code: Some("provisioned".to_owned()),
                            reason: None,
                        }),
                    })
                    .collect(),
                None => Vec::new(),
            }),
            decrease_requests_remaining: None,
            last_modified_time: lb.capacity.map(|(_, t)| Timestamp::from_millis(t)),
            minimum_load_balancer_capacity: lb.capacity.map(|(u, _)| {
                s::MinimumLoadBalancerCapacity {
                    capacity_units: Some(u),
                }
            }),
        }
    }

    pub(crate) async fn describe_capacity_reservation(
        &self,
        ctx: &RequestContext,
        req: s::DescribeCapacityReservationInput,
    ) -> Result<s::DescribeCapacityReservationOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        let (st, _) = self.load(ctx).await?;
        let lb = st
            .lbs
            .get(&req.load_balancer_arn)
            .ok_or_else(err::lb_not_found)?;
        Ok(Self::capacity_output(ctx, lb))
    }

    pub(crate) async fn modify_capacity_reservation(
        &self,
        ctx: &RequestContext,
        req: s::ModifyCapacityReservationInput,
    ) -> Result<s::ModifyCapacityReservationOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        let units = req
            .minimum_load_balancer_capacity
            .as_ref()
            .and_then(|m| m.capacity_units);
        let reset = req.reset_capacity_reservation == Some(true);
        if units.is_some() == reset {
            return Err(invalid_config(
                "You must specify either MinimumLoadBalancerCapacity or ResetCapacityReservation",
            ));
        }
        if let Some(u) = units {
            if u < 1 {
                return Err(err::validation("Capacity units must be a positive number"));
            }
        }
        let now = self.clock.now().timestamp_millis();
        let out = self
            .mutate(ctx, |st| {
                let lb = st
                    .lbs
                    .get_mut(&req.load_balancer_arn)
                    .ok_or_else(err::lb_not_found)?;
                lb.capacity = units.map(|u| (u, now));
                Ok(lb.clone())
            })
            .await?;
        let o = Self::capacity_output(ctx, &out);
        Ok(s::ModifyCapacityReservationOutput {
            capacity_reservation_state: o.capacity_reservation_state,
            decrease_requests_remaining: o.decrease_requests_remaining,
            last_modified_time: o.last_modified_time,
            minimum_load_balancer_capacity: o.minimum_load_balancer_capacity,
        })
    }

    pub(crate) async fn modify_ip_pools(
        &self,
        ctx: &RequestContext,
        req: s::ModifyIpPoolsInput,
    ) -> Result<s::ModifyIpPoolsOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        let add = req
            .ipam_pools
            .as_ref()
            .and_then(|p| p.ipv4_ipam_pool_id.clone());
        if let Some(p) = &add {
            if !valid_id(p, "ipam-pool-") {
                return Err(err::validation(format!(
                    "The IPAM pool ID '{p}' is not valid"
                )));
            }
        }
        let remove_v4 = req.remove_ipam_pools.iter().flatten().any(|r| r == "ipv4");
        let out = self
            .mutate(ctx, |st| {
                let lb = st
                    .lbs
                    .get_mut(&req.load_balancer_arn)
                    .ok_or_else(err::lb_not_found)?;
                if remove_v4 {
                    lb.ipam_pool = None;
                }
                if let Some(p) = &add {
                    lb.ipam_pool = Some(p.clone());
                }
                Ok(lb.ipam_pool.clone())
            })
            .await?;
        Ok(s::ModifyIpPoolsOutput {
            ipam_pools: out.map(|p| s::IpamPools {
                ipv4_ipam_pool_id: Some(p),
            }),
        })
    }
}

/// Check a listener's `SslPolicy` (HTTPS listeners only).
///
/// # Errors
/// `SSLPolicyNotFound` for an unknown name.
pub fn check_ssl_policy(policy: Option<&str>) -> Result<(), AwsError> {
    match policy {
        Some(p) if ssl_policies::find(p).is_none() => Err(AwsError::new(
            "SSLPolicyNotFound",
            400,
            format!("SSL policy '{p}' not found"),
        )),
        _ => Ok(()),
    }
}

/// Whether `st` stays within the quotas after a change (see [`limits`]).
///
/// # Errors
/// The quota's `TooMany…` error.
pub fn check_quotas(st: &State) -> Result<(), AwsError> {
    limits::check(st)
}
