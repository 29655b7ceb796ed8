//! The ELBv2 API (awsQuery, 2015-12-01) for application load balancers: load balancers,
//! target groups, listeners, rules and tags here; attributes and other settings in
//! `configuration`, trust stores in `trust_stores`.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use rampart_protocol::model::ServiceModel;
use rampart_protocol::types::Timestamp;
use rampart_service::policy::Context;
use rampart_service::{operations, tags, AwsError, Clock, RequestContext, Service};
use rampart_store::{Expect, Store};

use crate::certs::CertificateSource;
use crate::errors::{self as err};
use crate::proxy::Runtime;
use crate::routing;
use crate::shapes::elbv2 as s;
use crate::state::{Lb, Listener, Rule, State, Tg, STATES};

/// How often each node reconciles its running load balancers with the store.
const RECONCILE: std::time::Duration = std::time::Duration::from_secs(2);

/// The ELBv2 service and its data plane.
pub struct ElbService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) certs: Arc<dyn CertificateSource>,
    /// Certificate users last reported to ACM, per state key.
    pub(crate) cert_users: std::sync::Mutex<
        std::collections::HashMap<String, std::collections::BTreeSet<(String, String)>>,
    >,
    /// Load balancers served here but missing from the store at the last reconcile.
    pub(crate) missing: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Load balancers whose port could not be bound here (warned about once).
    pub(crate) bind_failures: std::sync::Mutex<std::collections::HashSet<(String, u16)>>,
}

operations!(ElbService {
    "CreateLoadBalancer" => create_load_balancer,
    "DescribeLoadBalancers" => describe_load_balancers,
    "DeleteLoadBalancer" => delete_load_balancer,
    "CreateTargetGroup" => create_target_group,
    "DescribeTargetGroups" => describe_target_groups,
    "DeleteTargetGroup" => delete_target_group,
    "RegisterTargets" => register_targets,
    "DeregisterTargets" => deregister_targets,
    "DescribeTargetHealth" => describe_target_health,
    "CreateListener" => create_listener,
    "DescribeListeners" => describe_listeners,
    "ModifyListener" => modify_listener,
    "DeleteListener" => delete_listener,
    "AddListenerCertificates" => add_listener_certificates,
    "DescribeListenerCertificates" => describe_listener_certificates,
    "RemoveListenerCertificates" => remove_listener_certificates,
    "CreateRule" => create_rule,
    "DescribeRules" => describe_rules,
    "DeleteRule" => delete_rule,
    "AddTags" => add_tags,
    "RemoveTags" => remove_tags,
    "DescribeTags" => describe_tags,
    "DescribeLoadBalancerAttributes" => describe_load_balancer_attributes,
    "ModifyLoadBalancerAttributes" => modify_load_balancer_attributes,
    "DescribeTargetGroupAttributes" => describe_target_group_attributes,
    "ModifyTargetGroupAttributes" => modify_target_group_attributes,
    "DescribeListenerAttributes" => describe_listener_attributes,
    "ModifyListenerAttributes" => modify_listener_attributes,
    "ModifyTargetGroup" => modify_target_group,
    "ModifyRule" => modify_rule,
    "SetRulePriorities" => set_rule_priorities,
    "SetIpAddressType" => set_ip_address_type,
    "SetSecurityGroups" => set_security_groups,
    "SetSubnets" => set_subnets,
    "DescribeSSLPolicies" => describe_ssl_policies,
    "DescribeAccountLimits" => describe_account_limits,
    "DescribeCapacityReservation" => describe_capacity_reservation,
    "ModifyCapacityReservation" => modify_capacity_reservation,
    "ModifyIpPools" => modify_ip_pools,
    "GetResourcePolicy" => get_resource_policy,
    "CreateTrustStore" => create_trust_store,
    "DescribeTrustStores" => describe_trust_stores,
    "ModifyTrustStore" => modify_trust_store,
    "DeleteTrustStore" => delete_trust_store,
    "DescribeTrustStoreAssociations" => describe_trust_store_associations,
    "DescribeTrustStoreRevocations" => describe_trust_store_revocations,
    "AddTrustStoreRevocations" => add_trust_store_revocations,
    "RemoveTrustStoreRevocations" => remove_trust_store_revocations,
    "GetTrustStoreCaCertificatesBundle" => get_trust_store_ca_certificates_bundle,
    "GetTrustStoreRevocationContent" => get_trust_store_revocation_content,
    "DeleteSharedTrustStoreAssociation" => delete_shared_trust_store_association,
});

#[async_trait]
impl Service for ElbService {
    fn model(&self) -> &'static ServiceModel {
        &rampart_protocol::generated::elbv2::MODEL
    }
    fn implemented(&self) -> &'static [&'static str] {
        Self::IMPLEMENTED
    }
    async fn call(&self, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
        self.dispatch(ctx, input).await
    }
}

pub(crate) fn state_key(ctx: &RequestContext) -> String {
    format!("{}/{}", ctx.caller.account, ctx.region)
}

pub(crate) fn hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

/// The `app/<name>/<id>` part of a load balancer ARN.
pub(crate) fn lb_path(lb_arn: &str) -> &str {
    lb_arn.split_once(":loadbalancer/").map_or("", |(_, p)| p)
}

pub(crate) fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

impl tags::TagShape for s::Tag {
    fn from_pair(key: String, value: String) -> Self {
        s::Tag {
            key,
            value: Some(value),
        }
    }
    fn into_pair(self) -> (String, String) {
        (self.key, self.value.unwrap_or_default())
    }
}

/// One page of `items` after `marker` (an offset Rampart handed out), at most `size` (400 by
/// default, as on AWS), and the marker of the next page.
pub(crate) fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    size: Option<i32>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let start = match marker {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| err::validation("The marker is not valid"))?,
    };
    let size = size
        .and_then(|s| usize::try_from(s).ok())
        .filter(|s| *s > 0)
        .unwrap_or(400);
    let end = start.saturating_add(size).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

pub(crate) fn check_actions(state: &State, actions: &[s::Action]) -> Result<(), AwsError> {
    if actions.is_empty() {
        return Err(err::validation("At least one action must be specified"));
    }
    for a in actions {
        match a.r#type.as_str() {
            "forward" => {
                let tgs: Vec<String> = State::forwarded(std::slice::from_ref(a)).collect();
                if tgs.is_empty() {
                    return Err(err::validation(
                        "A target group ARN must be specified for a forward action",
                    ));
                }
                if tgs.iter().any(|t| !state.tgs.contains_key(t)) {
                    return Err(err::tg_not_found());
                }
            }
            "fixed-response" => {
                let Some(cfg) = &a.fixed_response_config else {
                    return Err(err::validation(
                        "A fixed response config must be specified for a fixed-response action",
                    ));
                };
                let ok = cfg.status_code.len() == 3
                    && cfg
                        .status_code
                        .parse::<u16>()
                        .is_ok_and(|c| (200..600).contains(&c));
                if !ok {
                    return Err(err::validation(format!(
                        "Status code '{}' is not valid",
                        cfg.status_code
                    )));
                }
            }
            other => {
                return Err(err::validation(format!(
                    "Action type '{other}' is not supported by Rampart's load balancer"
                )))
            }
        }
    }
    Ok(())
}

impl ElbService {
    /// An ELBv2 service over `store`, binding load balancer ports in `ports` (inclusive).
    #[must_use]
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ports: (u16, u16)) -> Self {
        let runtime = Runtime::new(Arc::clone(&store), ports);
        ElbService {
            store,
            clock,
            runtime,
            certs: crate::certs::none(),
            cert_users: std::sync::Mutex::new(std::collections::HashMap::new()),
            bind_failures: std::sync::Mutex::new(std::collections::HashSet::new()),
            missing: std::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Responses the load balancer proxy sent, by status class: index 0 counts 1xx, …, 4 5xx.
    #[must_use]
    pub fn proxy_responses(&self) -> [u64; 5] {
        self.runtime.responses()
    }

    /// Access log entries the proxy dropped because the writer fell behind.
    #[must_use]
    pub fn dropped_access_log_entries(&self) -> u64 {
        self.runtime.dropped_access_log_entries()
    }

    /// Web ACLs look client addresses up in `geo` (GeoMatch, AsnMatch, ASN rate keys).
    #[must_use]
    pub fn with_geo(self, geo: Arc<dyn rampart_waf::GeoLookup>) -> Self {
        self.runtime.set_geo(geo);
        self
    }

    /// HTTPS listeners use certificates from `certs` (ACM).
    #[must_use]
    pub fn with_certificates(mut self, certs: Arc<dyn CertificateSource>) -> Self {
        self.runtime.set_certificates(Arc::clone(&certs));
        self.certs = certs;
        self
    }

    /// CAPTCHA and Challenge actions use the WAF's MAC key `keys` for their tokens.
    #[must_use]
    pub fn with_waf_keys(self, keys: Arc<rampart_wafv2::secret::WafKeys>) -> Self {
        self.runtime
            .set_challenge(Arc::new(crate::challenge::Challenger::new(
                Arc::clone(&self.store),
                keys,
                Arc::clone(&self.clock),
            )));
        self
    }

    /// Report WAF decisions on proxied requests to `telemetry` (sampled requests, rate-based
    /// keys, WAF logs).
    #[must_use]
    pub fn with_telemetry(self, telemetry: Arc<rampart_wafv2::Telemetry>) -> Self {
        self.runtime.set_telemetry(telemetry);
        self
    }

    /// Bind the ports of the load balancers already in the store and start health checks.
    /// Write access logs (`access_logs.s3.*` attributes) under `root` (`<data dir>/elb-logs`).
    #[must_use]
    pub fn with_access_logs(self, root: std::path::PathBuf) -> Self {
        self.runtime
            .set_access_logs(Arc::new(crate::access_log::AccessLogs::start(root)));
        self
    }

    /// Bind the ports of the load balancers already in the store, start health checks, and
    /// keep reconciling with the store every [`RECONCILE`] so that load balancers created or
    /// deleted by another node of a scaled-out deployment are served or dropped here too.
    ///
    /// # Errors
    /// Store failures.
    pub async fn start(self: &Arc<Self>) -> Result<(), AwsError> {
        self.reconcile().await?;
        self.runtime.start_health_checks();
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RECONCILE).await;
                let Some(svc) = me.upgrade() else { return };
                if let Err(e) = svc.reconcile().await {
                    tracing::warn!(error = %e.message, "elbv2 reconcile failed");
                }
            }
        });
        Ok(())
    }

    /// Serve what the store holds: bind load balancers not served here (on their persisted
    /// port), drop the ones deleted, and take every routing change.
    async fn reconcile(&self) -> Result<(), AwsError> {
        let mut live = std::collections::HashSet::new();
        let served: std::collections::HashMap<String, u16> =
            self.runtime.served().into_iter().collect();
        let mut after: Option<String> = None;
        loop {
            let page = STATES
                .list(self.store.as_ref(), "", after.as_deref(), 100)
                .await?;
            for (key, state) in &page {
                for lb in state.lbs.values() {
                    live.insert(lb.arn.clone());
                    if served.get(&lb.arn) == Some(&lb.port) {
                        continue;
                    }
                    if let Err(e) = self.runtime.rebind(&lb.arn, lb.port).await {
                        // Another process (another node on this host) may hold the port: say
                        // so once, and keep trying.
                        let first = self
                            .bind_failures
                            .lock()
                            .is_ok_and(|mut f| f.insert((lb.arn.clone(), lb.port)));
                        if first {
                            tracing::warn!(lb = %lb.arn, port = lb.port, error = %e, "load balancer port not bound; retrying");
                        }
                    }
                }
                self.sync_certificate_users(key, state);
                self.runtime.update(state);
            }
            match page.last() {
                Some((k, _)) if page.len() == 100 => after = Some(k.clone()),
                _ => break,
            }
        }
        // A load balancer missing from two reconciles in a row was deleted elsewhere (one miss
        // may be a load balancer bound here whose creation is not committed yet).
        let mut missing_now = std::collections::HashSet::new();
        let missed_before = self.missing.lock().map(|m| m.clone()).unwrap_or_default();
        for (arn, _) in served {
            if !live.contains(&arn) {
                if missed_before.contains(&arn) {
                    self.runtime.remove(&arn);
                } else {
                    missing_now.insert(arn);
                }
            }
        }
        if let Ok(mut m) = self.missing.lock() {
            *m = missing_now;
        }
        self.runtime.retain_views(&live);
        Ok(())
    }

    pub(crate) async fn load(&self, ctx: &RequestContext) -> Result<(State, Expect), AwsError> {
        let got = STATES.get(self.store.as_ref(), &state_key(ctx)).await?;
        Ok(match got {
            Some(v) => (v.value, Expect::Version(v.version)),
            None => (State::default(), Expect::Absent),
        })
    }

    /// Apply `change` to the caller's state and commit it; retried on a concurrent change.
    pub(crate) async fn mutate<T>(
        &self,
        ctx: &RequestContext,
        mut change: impl FnMut(&mut State) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        for _ in 0..5 {
            let (mut state, expect) = self.load(ctx).await?;
            let out = change(&mut state)?;
            state.expire_draining(self.clock.now().timestamp_millis());
            crate::configuration::check_quotas(&state)?;
            let op = STATES.put_op(&state_key(ctx), &state, expect)?;
            let mut conflict = false;
            let res = STATES
                .db()
                .commit_or(self.store.as_ref(), vec![op], || {
                    conflict = true;
                    AwsError::internal()
                })
                .await;
            match res {
                Ok(()) => {
                    self.runtime.update(&state);
                    self.sync_certificate_users(&state_key(ctx), &state);
                    return Ok(out);
                }
                Err(_) if conflict => {}
                Err(e) => return Err(e),
            }
        }
        Err(AwsError::internal())
    }

    /// Tell ACM which load balancers use which certificates in `state` (InUseBy): new pairs
    /// are marked, pairs gone since the last report are released.
    pub(crate) fn sync_certificate_users(&self, key: &str, state: &State) {
        let now = state.certificate_users();
        let before = self
            .cert_users
            .lock()
            .ok()
            .and_then(|mut m| m.insert(key.to_owned(), now.clone()))
            .unwrap_or_default();
        for (cert, lb) in before.difference(&now) {
            self.certs.release(cert, lb);
        }
        for (cert, lb) in now.difference(&before) {
            self.certs.mark_in_use(cert, lb);
        }
    }

    pub(crate) async fn authorize(&self, ctx: &RequestContext, arn: &str) -> Result<(), AwsError> {
        let action = format!("elasticloadbalancing:{}", ctx.operation);
        ctx.authorize(&action, arn, &ctx.caller.account, None, &Context::new())
            .await
    }

    pub(crate) fn arn(ctx: &RequestContext, resource: &str) -> String {
        ctx.arn(
            "elasticloadbalancing",
            &ctx.region,
            &ctx.caller.account,
            resource,
        )
    }

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
                        zone_name: Some(crate::configuration::zone_name(&ctx.region, i)),
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

    async fn create_load_balancer(
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
        let subnets = crate::configuration::check_subnets(
            req.subnets.as_ref(),
            req.subnet_mappings.as_ref(),
        )?;
        let security_groups = req.security_groups.clone().unwrap_or_default();
        crate::configuration::check_security_groups(&security_groups)?;
        let arn = Self::arn(ctx, &format!("loadbalancer/app/{}/{}", req.name, hex_id()));
        self.authorize(ctx, &arn).await?;
        let (existing, _) = self.load(ctx).await?;
        if let Some(lb) = existing.lbs.values().find(|l| l.name == req.name) {
            // CreateLoadBalancer is idempotent on AWS for the same name and settings.
            return Ok(s::CreateLoadBalancerOutput {
                load_balancers: Some(vec![Self::describe_lb(ctx, lb)]),
            });
        }
        let port = self.runtime.bind(&arn).await?;
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
            self.runtime.remove(&arn);
            return Err(e);
        }
        ctx.note_resource("AWS::ElasticLoadBalancingV2::LoadBalancer", &arn);
        Ok(s::CreateLoadBalancerOutput {
            load_balancers: Some(vec![Self::describe_lb(ctx, &lb)]),
        })
    }

    async fn describe_load_balancers(
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
        let (out, next_marker) = page(out, req.marker.as_deref(), req.page_size)?;
        Ok(s::DescribeLoadBalancersOutput {
            load_balancers: Some(out.into_iter().map(|l| Self::describe_lb(ctx, l)).collect()),
            next_marker,
        })
    }

    async fn delete_load_balancer(
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
            self.runtime.remove(&arn);
            rampart_wafv2::lookup::remove_association(self.store.as_ref(), &arn).await?;
            ctx.note_resource("AWS::ElasticLoadBalancingV2::LoadBalancer", &arn);
        }
        // Deleting a load balancer that does not exist succeeds on AWS.
        Ok(s::DeleteLoadBalancerOutput::default())
    }

    pub(crate) fn describe_tg(st: &State, tg: &Tg) -> s::TargetGroup {
        let mut d = tg.desc.clone();
        let arn = d.target_group_arn.clone().unwrap_or_default();
        d.load_balancer_arns = Some(st.lbs_using(&arn));
        d
    }

    async fn create_target_group(
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
        if protocol != "HTTP" {
            return Err(err::unsupported_protocol(&protocol));
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

    async fn describe_target_groups(
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
        let (out, next_marker) = page(out, req.marker.as_deref(), req.page_size)?;
        Ok(s::DescribeTargetGroupsOutput {
            next_marker,
            target_groups: Some(out.into_iter().map(|t| Self::describe_tg(&st, t)).collect()),
        })
    }

    async fn delete_target_group(
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

    async fn register_targets(
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
        self.runtime.check_now();
        Ok(s::RegisterTargetsOutput::default())
    }

    async fn deregister_targets(
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

    async fn describe_target_health(
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
                    self.runtime.health_of(&req.target_group_arn, &id, port)
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

    fn check_listener_protocol(
        protocol: &str,
        certs: Option<&Vec<s::Certificate>>,
    ) -> Result<(), AwsError> {
        match protocol {
            "HTTP" => Ok(()),
            "HTTPS" => {
                if certs.is_none_or(Vec::is_empty) {
                    return Err(err::validation(
                        "A certificate must be specified for HTTPS listeners",
                    ));
                }
                Ok(())
            }
            other => Err(err::unsupported_protocol(other)),
        }
    }

    /// Mutual TLS needs a trust store, which cannot exist in Rampart (see `trust_stores`).
    fn check_mutual_authentication(
        m: Option<&s::MutualAuthenticationAttributes>,
    ) -> Result<(), AwsError> {
        let Some(m) = m else { return Ok(()) };
        match m.mode.as_deref() {
            None | Some("off") => Ok(()),
            Some("verify") => Err(AwsError::new(
                "TrustStoreNotFound",
                400,
                "One or more trust stores not found",
            )),
            Some(other) => Err(AwsError::new(
                "InvalidConfigurationRequest",
                400,
                format!("Mutual authentication mode '{other}' is not supported by Rampart's load balancer"),
            )),
        }
    }

    /// Every certificate must be an issued ACM certificate.
    async fn check_certificates(
        &self,
        certs: Option<&Vec<s::Certificate>>,
    ) -> Result<(), AwsError> {
        let source = self.certs.clone();
        for c in certs.into_iter().flatten() {
            let arn = c
                .certificate_arn
                .as_deref()
                .ok_or_else(err::certificate_not_found)?;
            source
                .material(arn)
                .await
                .map_err(|_| err::certificate_not_found())?;
        }
        Ok(())
    }

    /// Show the listener's load balancer in its certificates' `InUseBy`.
    fn mark_certificates(&self, l: &s::Listener) {
        let lb = l.load_balancer_arn.as_deref().unwrap_or_default();
        for c in l.certificates.iter().flatten() {
            if let Some(arn) = &c.certificate_arn {
                self.certs.mark_in_use(arn, lb);
            }
        }
    }

    async fn create_listener(
        &self,
        ctx: &RequestContext,
        req: s::CreateListenerInput,
    ) -> Result<s::CreateListenerOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        let protocol = req.protocol.clone().unwrap_or_else(|| "HTTP".to_owned());
        Self::check_listener_protocol(&protocol, req.certificates.as_ref())?;
        crate::configuration::check_ssl_policy(req.ssl_policy.as_deref())?;
        Self::check_mutual_authentication(req.mutual_authentication.as_ref())?;
        self.check_certificates(req.certificates.as_ref()).await?;
        let ssl_policy = (protocol == "HTTPS").then(|| {
            req.ssl_policy
                .clone()
                .unwrap_or_else(|| crate::ssl_policies::DEFAULT_POLICY.to_owned())
        });
        let port = req.port.unwrap_or(80);
        if !(1..=65535).contains(&port) {
            return Err(err::validation("Port must be between 1 and 65535"));
        }
        let tags = tags::pairs(req.tags.clone().unwrap_or_default());
        let out = self
            .mutate(ctx, |st| {
                if !st.lbs.contains_key(&req.load_balancer_arn) {
                    return Err(err::lb_not_found());
                }
                if st
                    .listeners_of(&req.load_balancer_arn)
                    .iter()
                    .any(|l| l.desc.port == Some(port))
                {
                    return Err(err::duplicate_listener());
                }
                check_actions(st, &req.default_actions)?;
                let arn = Self::arn(
                    ctx,
                    &format!("listener/{}/{}", lb_path(&req.load_balancer_arn), hex_id()),
                );
                let desc = s::Listener {
                    certificates: req.certificates.clone(),
                    default_actions: Some(req.default_actions.clone()),
                    listener_arn: Some(arn.clone()),
                    load_balancer_arn: Some(req.load_balancer_arn.clone()),
                    port: Some(port),
                    protocol: Some(protocol.clone()),
                    ssl_policy: ssl_policy.clone(),
                    ..Default::default()
                };
                st.listeners.insert(
                    arn.clone(),
                    Listener {
                        desc: desc.clone(),
                        extra_certificates: Vec::new(),
                        attributes: std::collections::BTreeMap::new(),
                    },
                );
                if !tags.is_empty() {
                    st.tags.insert(arn, tags.clone());
                }
                Ok(desc)
            })
            .await?;
        self.mark_certificates(&out);
        if let Some(a) = &out.listener_arn {
            ctx.note_resource("AWS::ElasticLoadBalancingV2::Listener", a);
        }
        Ok(s::CreateListenerOutput {
            listeners: Some(vec![out]),
        })
    }

    async fn describe_listeners(
        &self,
        ctx: &RequestContext,
        req: s::DescribeListenersInput,
    ) -> Result<s::DescribeListenersOutput, AwsError> {
        self.authorize(ctx, "*").await?;
        let (st, _) = self.load(ctx).await?;
        let out: Vec<s::Listener> = if let Some(arns) = &req.listener_arns {
            arns.iter()
                .map(|a| {
                    st.listeners
                        .get(a)
                        .map(|l| l.desc.clone())
                        .ok_or_else(err::listener_not_found)
                })
                .collect::<Result<_, _>>()?
        } else if let Some(lb) = &req.load_balancer_arn {
            if !st.lbs.contains_key(lb) {
                return Err(err::lb_not_found());
            }
            st.listeners_of(lb)
                .into_iter()
                .map(|l| l.desc.clone())
                .collect()
        } else {
            return Err(err::validation(
                "You must specify either listener ARNs or a load balancer ARN",
            ));
        };
        let (out, next_marker) = page(out, req.marker.as_deref(), req.page_size)?;
        Ok(s::DescribeListenersOutput {
            listeners: Some(out),
            next_marker,
        })
    }

    async fn modify_listener(
        &self,
        ctx: &RequestContext,
        req: s::ModifyListenerInput,
    ) -> Result<s::ModifyListenerOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        crate::configuration::check_ssl_policy(req.ssl_policy.as_deref())?;
        Self::check_mutual_authentication(req.mutual_authentication.as_ref())?;
        self.check_certificates(req.certificates.as_ref()).await?;
        let out = self
            .mutate(ctx, |st| {
                let cur = st
                    .listeners
                    .get(&req.listener_arn)
                    .ok_or_else(err::listener_not_found)?
                    .desc
                    .clone();
                let mut next = cur.clone();
                if let Some(p) = &req.protocol {
                    next.protocol = Some(p.clone());
                }
                if let Some(c) = &req.certificates {
                    next.certificates = Some(c.clone());
                }
                Self::check_listener_protocol(
                    next.protocol.as_deref().unwrap_or("HTTP"),
                    next.certificates.as_ref(),
                )?;
                if let Some(p) = req.port {
                    if !(1..=65535).contains(&p) {
                        return Err(err::validation("Port must be between 1 and 65535"));
                    }
                    let lb = cur.load_balancer_arn.clone().unwrap_or_default();
                    if st
                        .listeners_of(&lb)
                        .iter()
                        .any(|l| l.desc.port == Some(p) && l.desc.listener_arn != cur.listener_arn)
                    {
                        return Err(err::duplicate_listener());
                    }
                    next.port = Some(p);
                }
                if let Some(a) = &req.default_actions {
                    check_actions(st, a)?;
                    next.default_actions = Some(a.clone());
                }
                if let Some(p) = &req.ssl_policy {
                    next.ssl_policy = Some(p.clone());
                }
                if next.protocol.as_deref() == Some("HTTPS") {
                    if next.ssl_policy.is_none() {
                        next.ssl_policy = Some(crate::ssl_policies::DEFAULT_POLICY.to_owned());
                    }
                } else {
                    next.ssl_policy = None;
                }
                let (extra_certificates, attributes) = st
                    .listeners
                    .get(&req.listener_arn)
                    .map(|l| (l.extra_certificates.clone(), l.attributes.clone()))
                    .unwrap_or_default();
                st.listeners.insert(
                    req.listener_arn.clone(),
                    Listener {
                        desc: next.clone(),
                        extra_certificates,
                        attributes,
                    },
                );
                Ok(next)
            })
            .await?;
        self.mark_certificates(&out);
        Ok(s::ModifyListenerOutput {
            listeners: Some(vec![out]),
        })
    }

    async fn delete_listener(
        &self,
        ctx: &RequestContext,
        req: s::DeleteListenerInput,
    ) -> Result<s::DeleteListenerOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        let arn = req.listener_arn.clone();
        self.mutate(ctx, |st| {
            if st.listeners.remove(&arn).is_none() {
                return Err(err::listener_not_found());
            }
            st.tags.remove(&arn);
            let rules: Vec<String> = st
                .rules
                .iter()
                .filter(|(_, r)| r.listener_arn == arn)
                .map(|(k, _)| k.clone())
                .collect();
            for r in rules {
                st.rules.remove(&r);
                st.tags.remove(&r);
            }
            Ok(())
        })
        .await?;
        Ok(s::DeleteListenerOutput::default())
    }

    async fn add_listener_certificates(
        &self,
        ctx: &RequestContext,
        req: s::AddListenerCertificatesInput,
    ) -> Result<s::AddListenerCertificatesOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        self.check_certificates(Some(&req.certificates)).await?;
        let arns: Vec<String> = req
            .certificates
            .iter()
            .filter_map(|c| c.certificate_arn.clone())
            .collect();
        let lb = self
            .mutate(ctx, |st| {
                let l = st
                    .listeners
                    .get_mut(&req.listener_arn)
                    .ok_or_else(err::listener_not_found)?;
                if l.desc.protocol.as_deref() != Some("HTTPS") {
                    return Err(err::validation(
                        "Certificates can only be added to HTTPS listeners",
                    ));
                }
                for a in &arns {
                    if !l.extra_certificates.contains(a) {
                        l.extra_certificates.push(a.clone());
                    }
                }
                Ok(l.desc.load_balancer_arn.clone().unwrap_or_default())
            })
            .await?;
        for a in &arns {
            self.certs.mark_in_use(a, &lb);
        }
        Ok(s::AddListenerCertificatesOutput {
            certificates: Some(
                arns.into_iter()
                    .map(|a| s::Certificate {
                        certificate_arn: Some(a),
                        is_default: Some(false),
                    })
                    .collect(),
            ),
        })
    }

    async fn describe_listener_certificates(
        &self,
        ctx: &RequestContext,
        req: s::DescribeListenerCertificatesInput,
    ) -> Result<s::DescribeListenerCertificatesOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        let (st, _) = self.load(ctx).await?;
        let l = st
            .listeners
            .get(&req.listener_arn)
            .ok_or_else(err::listener_not_found)?;
        let mut out: Vec<s::Certificate> = l
            .desc
            .certificates
            .iter()
            .flatten()
            .map(|c| s::Certificate {
                certificate_arn: c.certificate_arn.clone(),
                is_default: Some(true),
            })
            .collect();
        out.extend(l.extra_certificates.iter().map(|a| s::Certificate {
            certificate_arn: Some(a.clone()),
            is_default: Some(false),
        }));
        let (out, next_marker) = page(out, req.marker.as_deref(), req.page_size)?;
        Ok(s::DescribeListenerCertificatesOutput {
            certificates: Some(out),
            next_marker,
        })
    }

    async fn remove_listener_certificates(
        &self,
        ctx: &RequestContext,
        req: s::RemoveListenerCertificatesInput,
    ) -> Result<s::RemoveListenerCertificatesOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        self.mutate(ctx, |st| {
            let l = st
                .listeners
                .get_mut(&req.listener_arn)
                .ok_or_else(err::listener_not_found)?;
            for c in &req.certificates {
                let Some(a) = &c.certificate_arn else {
                    continue;
                };
                let is_default = l
                    .desc
                    .certificates
                    .iter()
                    .flatten()
                    .any(|d| d.certificate_arn.as_ref() == Some(a));
                if is_default {
                    return Err(AwsError::new(
                        "OperationNotPermitted",
                        400,
                        "The default certificate of a listener cannot be removed",
                    ));
                }
                l.extra_certificates.retain(|x| x != a);
            }
            Ok(())
        })
        .await?;
        Ok(s::RemoveListenerCertificatesOutput::default())
    }

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

    async fn create_rule(
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

    async fn describe_rules(
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
        let (out, next_marker) = page(out, req.marker.as_deref(), req.page_size)?;
        Ok(s::DescribeRulesOutput {
            next_marker,
            rules: Some(out),
        })
    }

    async fn delete_rule(
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

    pub(crate) fn exists(st: &State, arn: &str) -> Result<(), AwsError> {
        if st.lbs.contains_key(arn) {
            Ok(())
        } else if arn.contains(":targetgroup/") {
            st.tgs.get(arn).map(|_| ()).ok_or_else(err::tg_not_found)
        } else if arn.contains(":listener-rule/") {
            st.rules
                .get(arn)
                .map(|_| ())
                .ok_or_else(err::rule_not_found)
        } else if arn.contains(":listener/") {
            st.listeners
                .get(arn)
                .map(|_| ())
                .ok_or_else(err::listener_not_found)
        } else {
            Err(err::lb_not_found())
        }
    }

    async fn add_tags(
        &self,
        ctx: &RequestContext,
        req: s::AddTagsInput,
    ) -> Result<s::AddTagsOutput, AwsError> {
        for a in &req.resource_arns {
            self.authorize(ctx, a).await?;
        }
        let new = tags::pairs(req.tags.clone());
        self.mutate(ctx, |st| {
            for a in &req.resource_arns {
                Self::exists(st, a)?;
                let tags = st.tags.entry(a.clone()).or_default();
                for (k, v) in &new {
                    match tags.iter_mut().find(|(tk, _)| tk == k) {
                        Some(t) => t.1.clone_from(v),
                        None => tags.push((k.clone(), v.clone())),
                    }
                }
                if tags.len() > 50 {
                    return Err(AwsError::new(
                        "TooManyTags",
                        400,
                        "You've reached the limit on the number of tags for this resource",
                    ));
                }
            }
            Ok(())
        })
        .await?;
        Ok(s::AddTagsOutput::default())
    }

    async fn remove_tags(
        &self,
        ctx: &RequestContext,
        req: s::RemoveTagsInput,
    ) -> Result<s::RemoveTagsOutput, AwsError> {
        for a in &req.resource_arns {
            self.authorize(ctx, a).await?;
        }
        self.mutate(ctx, |st| {
            for a in &req.resource_arns {
                Self::exists(st, a)?;
                if let Some(tags) = st.tags.get_mut(a) {
                    tags.retain(|(k, _)| !req.tag_keys.contains(k));
                }
            }
            Ok(())
        })
        .await?;
        Ok(s::RemoveTagsOutput::default())
    }

    async fn describe_tags(
        &self,
        ctx: &RequestContext,
        req: s::DescribeTagsInput,
    ) -> Result<s::DescribeTagsOutput, AwsError> {
        self.authorize(ctx, "*").await?;
        let (st, _) = self.load(ctx).await?;
        let mut out = Vec::new();
        for a in &req.resource_arns {
            Self::exists(&st, a)?;
            out.push(s::TagDescription {
                resource_arn: Some(a.clone()),
                tags: Some(
                    st.tags
                        .get(a)
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| s::Tag {
                            key: k.clone(),
                            value: Some(v.clone()),
                        })
                        .collect(),
                ),
            });
        }
        Ok(s::DescribeTagsOutput {
            tag_descriptions: Some(out),
        })
    }
}
