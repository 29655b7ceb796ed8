//! Target groups, their health check settings, and the targets registered in them with
//! their health.

use rampart_service::{tags, AwsError, RequestContext};

use crate::errors::{self as err};
use crate::shapes::elbv2 as s;
use crate::state::{State, Tg};

use super::{hex_id, invalid_config, page, valid_name, ElbService};

impl ElbService {
    pub(crate) fn describe_tg(st: &State, tg: &Tg) -> s::TargetGroup {
        let mut d = tg.desc.clone();
        let arn = d.target_group_arn.clone().unwrap_or_default();
        d.load_balancer_arns = Some(st.lbs_using(&arn));
        d
    }

    pub(super) async fn create_target_group(
        &self,
        ctx: &RequestContext,
        req: s::CreateTargetGroupInput,
    ) -> Result<s::CreateTargetGroupOutput, AwsError> {
        if !valid_name(&req.name, 32) {
            return Err(err::validation(format!(
                "Target group name '{}' can only contain characters that are alphanumeric characters or hyphens(-)",
                req.name
            )));
        }
        let target_type = req
            .target_type
            .clone()
            .unwrap_or_else(|| "instance".to_owned());
        if target_type != "instance" && target_type != "ip" {
            return Err(err::validation(format!(
                "Target type '{target_type}' is not supported by Rampart; use 'ip' or 'instance'"
            )));
        }
        let protocol = req.protocol.clone().unwrap_or_else(|| "HTTP".to_owned());
        // CreateTargetGroup declares no UnsupportedProtocol (listeners do): a protocol of the
        // other load balancer types is refused as the unsupported target types are.
        if protocol != "HTTP" {
            return Err(err::validation(format!(
                "Target group protocol '{protocol}' is not supported by Rampart; use 'HTTP'"
            )));
        }
        let port = req
            .port
            .ok_or_else(|| err::validation("A port must be specified"))?;
        if !(1..=65535).contains(&port) {
            return Err(err::validation("Port must be between 1 and 65535"));
        }
        let arn = Self::arn(ctx, &format!("targetgroup/{}/{}", req.name, hex_id()));
        self.authorize(ctx, &arn).await?;
        let desc = s::TargetGroup {
            health_check_enabled: Some(req.health_check_enabled.unwrap_or(true)),
            health_check_interval_seconds: Some(req.health_check_interval_seconds.unwrap_or(30)),
            health_check_path: Some(req.health_check_path.unwrap_or_else(|| "/".to_owned())),
            health_check_port: Some(
                req.health_check_port
                    .unwrap_or_else(|| "traffic-port".to_owned()),
            ),
            health_check_protocol: Some("HTTP".to_owned()),
            health_check_timeout_seconds: Some(req.health_check_timeout_seconds.unwrap_or(5)),
            healthy_threshold_count: Some(req.healthy_threshold_count.unwrap_or(5)),
            ip_address_type: Some("ipv4".to_owned()),
            matcher: Some(req.matcher.unwrap_or(s::Matcher {
                grpc_code: None,
                http_code: Some("200".to_owned()),
            })),
            port: Some(port),
            protocol: Some(protocol),
            protocol_version: Some("HTTP1".to_owned()),
            target_group_arn: Some(arn.clone()),
            target_group_name: Some(req.name.clone()),
            target_type: Some(target_type),
            unhealthy_threshold_count: Some(req.unhealthy_threshold_count.unwrap_or(2)),
            vpc_id: req.vpc_id.clone(),
            ..Default::default()
        };
        let tags = tags::pairs(req.tags.unwrap_or_default());
        let out = self
            .mutate(ctx, |st| {
                if st
                    .tgs
                    .values()
                    .any(|t| t.desc.target_group_name.as_deref() == Some(req.name.as_str()))
                {
                    return Err(err::duplicate_tg());
                }
                let tg = Tg {
                    desc: desc.clone(),
                    targets: Vec::new(),
                    attributes: std::collections::BTreeMap::new(),
                    draining: Vec::new(),
                };
                st.tgs.insert(arn.clone(), tg.clone());
                if !tags.is_empty() {
                    st.tags.insert(arn.clone(), tags.clone());
                }
                Ok(Self::describe_tg(st, &tg))
            })
            .await?;
        ctx.note_resource("AWS::ElasticLoadBalancingV2::TargetGroup", &arn);
        Ok(s::CreateTargetGroupOutput {
            target_groups: Some(vec![out]),
        })
    }

    pub(super) async fn describe_target_groups(
        &self,
        ctx: &RequestContext,
        req: s::DescribeTargetGroupsInput,
    ) -> Result<s::DescribeTargetGroupsOutput, AwsError> {
        self.authorize(ctx, "*").await?;
        let (st, _) = self.load(ctx).await?;
        let mut out = Vec::new();
        if let Some(arns) = &req.target_group_arns {
            for a in arns {
                out.push(st.tgs.get(a).ok_or_else(err::tg_not_found)?);
            }
        } else if let Some(names) = &req.names {
            for n in names {
                out.push(
                    st.tgs
                        .values()
                        .find(|t| t.desc.target_group_name.as_ref() == Some(n))
                        .ok_or_else(err::tg_not_found)?,
                );
            }
        } else if let Some(lb) = &req.load_balancer_arn {
            if !st.lbs.contains_key(lb) {
                return Err(err::lb_not_found());
            }
            out.extend(st.tgs.values().filter(|t| {
                st.lbs_using(t.desc.target_group_arn.as_deref().unwrap_or_default())
                    .contains(lb)
            }));
        } else {
            out.extend(st.tgs.values());
        }
        let (out, next_marker) = page(
            ctx,
            "DescribeTargetGroups",
            out,
            req.marker.as_deref(),
            req.page_size,
        )?;
        Ok(s::DescribeTargetGroupsOutput {
            next_marker,
            target_groups: Some(out.into_iter().map(|t| Self::describe_tg(&st, t)).collect()),
        })
    }

    pub(super) async fn delete_target_group(
        &self,
        ctx: &RequestContext,
        req: s::DeleteTargetGroupInput,
    ) -> Result<s::DeleteTargetGroupOutput, AwsError> {
        self.authorize(ctx, &req.target_group_arn).await?;
        let arn = req.target_group_arn.clone();
        self.mutate(ctx, |st| {
            if !st.tgs.contains_key(&arn) {
                return Ok(());
            }
            if !st.lbs_using(&arn).is_empty() {
                return Err(err::in_use(&format!("Target group '{arn}'")));
            }
            st.tgs.remove(&arn);
            st.tags.remove(&arn);
            Ok(())
        })
        .await?;
        ctx.note_resource("AWS::ElasticLoadBalancingV2::TargetGroup", &arn);
        Ok(s::DeleteTargetGroupOutput::default())
    }

    pub(crate) fn targets(
        tg: &Tg,
        given: &[s::TargetDescription],
    ) -> Result<Vec<(String, u16)>, AwsError> {
        given
            .iter()
            .map(|t| {
                let port = t.port.or(tg.desc.port).unwrap_or(80);
                let port = u16::try_from(port)
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| err::invalid_target(format!("Port {port} is not valid")))?;
                let id = t.id.trim();
                let ok = !id.is_empty()
                    && id.len() <= 253
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
                if !ok {
                    return Err(err::invalid_target(format!(
                        "The target Id '{}' is not a host name or IP address",
                        t.id
                    )));
                }
                Ok((id.to_owned(), port))
            })
            .collect()
    }

    pub(super) async fn register_targets(
        &self,
        ctx: &RequestContext,
        req: s::RegisterTargetsInput,
    ) -> Result<s::RegisterTargetsOutput, AwsError> {
        self.authorize(ctx, &req.target_group_arn).await?;
        let arn = req.target_group_arn.clone();
        self.mutate(ctx, |st| {
            let tg = st.tgs.get_mut(&arn).ok_or_else(err::tg_not_found)?;
            for t in Self::targets(tg, &req.targets)? {
                tg.draining.retain(|(id, p, _)| (id, p) != (&t.0, &t.1));
                if !tg.targets.contains(&t) {
                    tg.targets.push(t);
                }
            }
            Ok(())
        })
        .await?;
        self.proxy.check_now();
        Ok(s::RegisterTargetsOutput::default())
    }

    pub(super) async fn deregister_targets(
        &self,
        ctx: &RequestContext,
        req: s::DeregisterTargetsInput,
    ) -> Result<s::DeregisterTargetsOutput, AwsError> {
        self.authorize(ctx, &req.target_group_arn).await?;
        let arn = req.target_group_arn.clone();
        let now = self.clock.now().timestamp_millis();
        self.mutate(ctx, |st| {
            let tg = st.tgs.get_mut(&arn).ok_or_else(err::tg_not_found)?;
            let gone = Self::targets(tg, &req.targets)?;
            let delay = crate::attributes::number(
                &tg.attributes,
                crate::attributes::Of::TargetGroup,
                "deregistration_delay.timeout_seconds",
                300,
            );
            for t in &gone {
                if tg.targets.contains(t) && delay > 0 {
                    tg.draining.retain(|(id, p, _)| (id, p) != (&t.0, &t.1));
                    tg.draining.push((
                        t.0.clone(),
                        t.1,
                        now.saturating_add(delay.saturating_mul(1000)),
                    ));
                }
            }
            tg.targets.retain(|t| !gone.contains(t));
            Ok(())
        })
        .await?;
        Ok(s::DeregisterTargetsOutput::default())
    }

    pub(super) async fn describe_target_health(
        &self,
        ctx: &RequestContext,
        req: s::DescribeTargetHealthInput,
    ) -> Result<s::DescribeTargetHealthOutput, AwsError> {
        self.authorize(ctx, &req.target_group_arn).await?;
        let (st, _) = self.load(ctx).await?;
        let tg = st
            .tgs
            .get(&req.target_group_arn)
            .ok_or_else(err::tg_not_found)?;
        let now = self.clock.now().timestamp_millis();
        let draining: Vec<(String, u16)> = tg
            .draining
            .iter()
            .filter(|(_, _, until)| *until > now)
            .map(|(id, p, _)| (id.clone(), *p))
            .collect();
        let wanted = match &req.targets {
            Some(t) => Self::targets(tg, t)?,
            None => tg.targets.iter().chain(&draining).cloned().collect(),
        };
        let in_use = !st.lbs_using(&req.target_group_arn).is_empty();
        let out = wanted
            .into_iter()
            .map(|(id, port)| {
                let registered = tg.targets.contains(&(id.clone(), port));
                let (state, reason, description) = if draining.contains(&(id.clone(), port)) {
                    (
                        "draining",
                        Some("Target.DeregistrationInProgress"),
                        Some("Target deregistration is in progress"),
                    )
                } else if !registered {
                    (
                        "unused",
                        Some("Target.NotRegistered"),
                        Some("Target is not registered to the target group"),
                    )
                } else if !in_use {
                    (
                        "unused",
                        Some("Target.NotInUse"),
                        Some("Target group is not configured to receive traffic from the load balancer"),
                    )
                } else {
                    self.proxy.health_of(&req.target_group_arn, &id, port)
                };
                s::TargetHealthDescription {
                    health_check_port: Some(port.to_string()),
                    target: Some(s::TargetDescription {
                        id,
                        port: Some(i32::from(port)),
                        ..Default::default()
                    }),
                    target_health: Some(s::TargetHealth {
                        description: description.map(str::to_owned),
                        reason: reason.map(str::to_owned),
                        state: Some(state.to_owned()),
                    }),
                    ..Default::default()
                }
            })
            .collect();
        Ok(s::DescribeTargetHealthOutput {
            target_health_descriptions: Some(out),
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
        self.proxy.check_now();
        Ok(s::ModifyTargetGroupOutput {
            target_groups: Some(vec![out]),
        })
    }
}
