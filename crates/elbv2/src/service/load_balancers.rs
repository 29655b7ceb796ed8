//! Load balancers: CreateLoadBalancer, DescribeLoadBalancers, DeleteLoadBalancer and their
//! network settings (stored and described: Rampart's load balancers listen on a local port,
//! not in subnets), capacity reservations and IPAM pools.

use rampart_protocol::types::Timestamp;
use rampart_service::{tags, AwsError, RequestContext};

use crate::errors::{self as err};
use crate::shapes::elbv2 as s;
use crate::state::Lb;

use super::{hex_id, invalid_config, page, valid_name, ElbService};

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
    pub(crate) fn describe_lb(ctx: &RequestContext, lb: &Lb) -> s::LoadBalancer {
        s::LoadBalancer {
            availability_zones: Some(if lb.subnets.is_empty() {
                vec![s::AvailabilityZone {
                    zone_name: Some(format!("{}a", ctx.region)),
                    ..Default::default()
                }]
            } else {
                lb.subnets
                    .iter()
                    .enumerate()
                    .map(|(i, id)| s::AvailabilityZone {
                        subnet_id: Some(id.clone()),
                        zone_name: Some(crate::service::load_balancers::zone_name(&ctx.region, i)),
                        ..Default::default()
                    })
                    .collect()
            }),
            enforce_security_group_inbound_rules_on_private_link_traffic: lb
                .enforce_sg_private_link
                .clone(),
            ipam_pools: lb.ipam_pool.clone().map(|p| s::IpamPools {
                ipv4_ipam_pool_id: Some(p),
            }),
            canonical_hosted_zone_id: Some("Z00RAMPARTLOCAL".to_owned()),
            created_time: Some(Timestamp::from_millis(lb.created)),
            dns_name: Some(format!("127.0.0.1:{}", lb.port)),
            ip_address_type: Some(lb.ip_address_type.clone()),
            load_balancer_arn: Some(lb.arn.clone()),
            load_balancer_name: Some(lb.name.clone()),
            scheme: Some(lb.scheme.clone()),
            security_groups: Some(lb.security_groups.clone()),
            state: Some(s::LoadBalancerState {
                code: Some("active".to_owned()),
                reason: None,
            }),
            r#type: Some("application".to_owned()),
            vpc_id: Some("vpc-rampart".to_owned()),
            ..Default::default()
        }
    }

    pub(super) async fn create_load_balancer(
        &self,
        ctx: &RequestContext,
        req: s::CreateLoadBalancerInput,
    ) -> Result<s::CreateLoadBalancerOutput, AwsError> {
        match req.r#type.as_deref() {
            None | Some("application") => {}
            Some(t) => {
                return Err(err::validation(format!(
                    "Load balancer type '{t}' is not supported by Rampart; only 'application'"
                )))
            }
        }
        if !valid_name(&req.name, 32) || req.name.starts_with("internal-") {
            return Err(err::validation(format!(
                "The load balancer name '{}' is not valid",
                req.name
            )));
        }
        let subnets = crate::service::load_balancers::check_subnets(
            req.subnets.as_ref(),
            req.subnet_mappings.as_ref(),
        )?;
        let security_groups = req.security_groups.clone().unwrap_or_default();
        crate::service::load_balancers::check_security_groups(&security_groups)?;
        let arn = Self::arn(ctx, &format!("loadbalancer/app/{}/{}", req.name, hex_id()));
        self.authorize(ctx, &arn).await?;
        let (existing, _) = self.load(ctx).await?;
        if let Some(lb) = existing.lbs.values().find(|l| l.name == req.name) {
            // CreateLoadBalancer is idempotent on AWS for the same name and settings.
            return Ok(s::CreateLoadBalancerOutput {
                load_balancers: Some(vec![Self::describe_lb(ctx, lb)]),
            });
        }
        let port = self.proxy.bind(&arn).await.map_err(|_| err::no_port())?;
        let lb = Lb {
            name: req.name.clone(),
            arn: arn.clone(),
            port,
            created: self.clock.now().timestamp_millis(),
            scheme: req.scheme.unwrap_or_else(|| "internet-facing".to_owned()),
            ip_address_type: req.ip_address_type.unwrap_or_else(|| "ipv4".to_owned()),
            attributes: std::collections::BTreeMap::new(),
            security_groups,
            enforce_sg_private_link: None,
            subnets,
            ipam_pool: req.ipam_pools.and_then(|p| p.ipv4_ipam_pool_id),
            capacity: None,
        };
        let tags = tags::pairs(req.tags.unwrap_or_default());
        let res = self
            .mutate(ctx, |st| {
                if st.lbs.values().any(|l| l.name == lb.name) {
                    return Err(err::duplicate_lb());
                }
                st.lbs.insert(lb.arn.clone(), lb.clone());
                if !tags.is_empty() {
                    st.tags.insert(lb.arn.clone(), tags.clone());
                }
                Ok(())
            })
            .await;
        if let Err(e) = res {
            self.proxy.remove(&arn);
            return Err(e);
        }
        ctx.note_resource("AWS::ElasticLoadBalancingV2::LoadBalancer", &arn);
        Ok(s::CreateLoadBalancerOutput {
            load_balancers: Some(vec![Self::describe_lb(ctx, &lb)]),
        })
    }

    pub(super) async fn describe_load_balancers(
        &self,
        ctx: &RequestContext,
        req: s::DescribeLoadBalancersInput,
    ) -> Result<s::DescribeLoadBalancersOutput, AwsError> {
        self.authorize(ctx, "*").await?;
        let (st, _) = self.load(ctx).await?;
        let mut out = Vec::new();
        if let Some(arns) = &req.load_balancer_arns {
            for a in arns {
                out.push(st.lbs.get(a).ok_or_else(err::lb_not_found)?);
            }
        } else if let Some(names) = &req.names {
            for n in names {
                out.push(
                    st.lbs
                        .values()
                        .find(|l| &l.name == n)
                        .ok_or_else(err::lb_not_found)?,
                );
            }
        } else {
            out.extend(st.lbs.values());
        }
        let (out, next_marker) = page(
            ctx,
            "DescribeLoadBalancers",
            out,
            req.marker.as_deref(),
            req.page_size,
        )?;
        Ok(s::DescribeLoadBalancersOutput {
            load_balancers: Some(out.into_iter().map(|l| Self::describe_lb(ctx, l)).collect()),
            next_marker,
        })
    }

    pub(super) async fn delete_load_balancer(
        &self,
        ctx: &RequestContext,
        req: s::DeleteLoadBalancerInput,
    ) -> Result<s::DeleteLoadBalancerOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        let arn = req.load_balancer_arn.clone();
        let removed = self
            .mutate(ctx, |st| {
                let Some(lb) = st.lbs.get(&arn) else {
                    return Ok(false);
                };
                if crate::attributes::enabled(
                    &lb.attributes,
                    crate::attributes::Of::LoadBalancer,
                    "deletion_protection.enabled",
                ) {
                    return Err(AwsError::new(
                        "OperationNotPermitted",
                        400,
                        format!(
                            "Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
                        ),
                    ));
                }
                st.lbs.remove(&arn);
                let listeners: Vec<String> = st
                    .listeners
                    .iter()
                    .filter(|(_, l)| l.desc.load_balancer_arn.as_deref() == Some(arn.as_str()))
                    .map(|(k, _)| k.clone())
                    .collect();
                for l in &listeners {
                    st.listeners.remove(l);
                    st.tags.remove(l);
                }
                let rules: Vec<String> = st
                    .rules
                    .iter()
                    .filter(|(_, r)| listeners.contains(&r.listener_arn))
                    .map(|(k, _)| k.clone())
                    .collect();
                for r in rules {
                    st.rules.remove(&r);
                    st.tags.remove(&r);
                }
                st.tags.remove(&arn);
                Ok(true)
            })
            .await?;
        if removed {
            self.proxy.remove(&arn);
            rampart_wafv2::lookup::remove_association(self.store.as_ref(), &arn).await?;
            ctx.note_resource("AWS::ElasticLoadBalancingV2::LoadBalancer", &arn);
        }
        // Deleting a load balancer that does not exist succeeds on AWS.
        Ok(s::DeleteLoadBalancerOutput::default())
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

    pub(super) fn capacity_output(
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
