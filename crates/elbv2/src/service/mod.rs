//! The ELBv2 API (awsQuery, 2015-12-01) for application load balancers: the service, its
//! operation table and what the operations share here; the operations by resource in
//! `load_balancers`, `target_groups`, `listeners`, `rules`, `attributes`, `tagging`, `quotas`
//! and `trust_stores`.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use rampart_protocol::model::ServiceModel;
use rampart_service::policy::Context;
use rampart_service::{operations, tags, AwsError, Clock, RequestContext, Service};
use rampart_store::{Expect, Store};

use crate::certificates::CertificateSource;
use crate::errors::{self as err};
use crate::shapes::elbv2 as s;
use crate::state::{State, STATES};

mod attributes;
mod listeners;
mod load_balancers;
mod quotas;
mod rules;
mod tagging;
mod target_groups;
mod trust_stores;

/// The ELBv2 service; its data plane is the proxy it configures.
pub struct ElbService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) proxy: Arc<rampart_proxy::Proxy>,
    pub(crate) certs: Arc<dyn CertificateSource>,
    /// Certificate users last reported to ACM, per state key.
    pub(crate) cert_users: std::sync::Mutex<
        std::collections::HashMap<String, std::collections::BTreeSet<(String, String)>>,
    >,
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

/// One page of `items` at `marker` (an opaque token of the operation `op` for the caller's
/// account and Region), at most `size` (400 by default, as on AWS), and the next page's marker.
pub(crate) fn page<T>(
    ctx: &RequestContext,
    op: &str,
    items: Vec<T>,
    marker: Option<&str>,
    size: Option<i32>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let scope = format!("elbv2:{op}:{}/{}", ctx.caller.account, ctx.region);
    let size = size
        .and_then(|s| usize::try_from(s).ok())
        .filter(|s| *s > 0)
        .unwrap_or(400);
    rampart_service::paging::page_from(&scope, items, marker, size, || {
        err::validation("The marker is not valid")
    })
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

fn invalid_config(msg: impl Into<String>) -> AwsError {
    AwsError::new("InvalidConfigurationRequest", 400, msg)
}

impl ElbService {
    /// An ELBv2 service over `store`, configuring `proxy` (which binds load balancer ports).
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        proxy: Arc<rampart_proxy::Proxy>,
    ) -> Self {
        ElbService {
            store,
            clock,
            proxy,
            certs: crate::certificates::none(),
            cert_users: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Responses the load balancer proxy sent, by status class: index 0 counts 1xx, …, 4 5xx.
    #[must_use]
    pub fn proxy_responses(&self) -> [u64; 5] {
        self.proxy.responses()
    }

    /// Access log entries the proxy dropped because the writer fell behind.
    #[must_use]
    pub fn dropped_access_log_entries(&self) -> u64 {
        self.proxy.dropped_access_log_entries()
    }

    /// Listeners' certificates are checked against, and marked in use in, `certs` (ACM).
    #[must_use]
    pub fn with_certificates(mut self, certs: Arc<dyn CertificateSource>) -> Self {
        self.certs = certs;
        self
    }

    /// Start the proxy on this service's topology: bind the ports of the load balancers already
    /// in the store, start health checks, and keep reconciling with the store.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn start(self: &Arc<Self>) -> Result<(), String> {
        let weak: std::sync::Weak<Self> = Arc::downgrade(self);
        self.proxy.start(weak).await
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
            crate::service::quotas::check_quotas(&state)?;
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
                    self.proxy.update(&crate::topology::load_balancers(&state));
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
}
