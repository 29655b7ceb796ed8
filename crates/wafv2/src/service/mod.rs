//! The WAFv2 API (awsJson1.1 `AWSWAF_20190729`): the control plane of the WAF.
//!
//! Not built yet: load balancers are not checked for existence when a web ACL is associated (a
//! well-formed ALB ARN in the caller's account and region is accepted; the ELBv2 proxy looks
//! associations up through [`crate::lookup`]). GetSampledRequests and
//! GetRateBasedStatementManagedKeys answer from the traffic the proxy recorded in
//! [`crate::telemetry`].

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use rampart_protocol::model::ServiceModel;
use rampart_protocol::types::Timestamp;
use rampart_service::policy::Context;
use rampart_service::tags;
use rampart_service::{operations, Arn, AwsError, Clock, RequestContext, Service};
use rampart_store::{Expect, Op, Store};

use crate::capacity::{self, References, MAX_CAPACITY};
use crate::errors::{
    associated, duplicate, invalid, limits_exceeded, nonexistent, optimistic_lock, BAD_FORMAT,
};
use crate::records::{self, AssociationRecord, Entity, Kind, LoggingRecord};
use crate::shapes::wafv2 as s;
use crate::validate::{self, Owner, Reference};

mod apikeys;
mod entities;
mod products;
mod resources;
mod sharing;

/// Most tags on one resource.
const MAX_TAGS: usize = 50;
/// Largest page of a List call.
const MAX_PAGE: usize = 100;

/// The WAFv2 service.
pub struct Wafv2Service {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// The WAF's MAC key (API keys); see [`Wafv2Service::with_keys`].
    keys: Option<Arc<crate::secret::WafKeys>>,
    telemetry: Arc<crate::Telemetry>,
    /// The OWASP Core Rule Set the server loaded, if any; see [`Wafv2Service::with_crs`].
    crs: Option<Arc<crate::crs::Crs>>,
}

operations!(Wafv2Service {
    "CreateWebACL" => create_web_acl,
    "GetWebACL" => get_web_acl,
    "UpdateWebACL" => update_web_acl,
    "DeleteWebACL" => delete_web_acl,
    "ListWebACLs" => list_web_acls,
    "CreateRuleGroup" => create_rule_group,
    "GetRuleGroup" => get_rule_group,
    "UpdateRuleGroup" => update_rule_group,
    "DeleteRuleGroup" => delete_rule_group,
    "ListRuleGroups" => list_rule_groups,
    "CreateIPSet" => create_ip_set,
    "GetIPSet" => get_ip_set,
    "UpdateIPSet" => update_ip_set,
    "DeleteIPSet" => delete_ip_set,
    "ListIPSets" => list_ip_sets,
    "CreateRegexPatternSet" => create_regex_pattern_set,
    "GetRegexPatternSet" => get_regex_pattern_set,
    "UpdateRegexPatternSet" => update_regex_pattern_set,
    "DeleteRegexPatternSet" => delete_regex_pattern_set,
    "ListRegexPatternSets" => list_regex_pattern_sets,
    "CheckCapacity" => check_capacity,
    "TagResource" => tag_resource,
    "UntagResource" => untag_resource,
    "ListTagsForResource" => list_tags_for_resource,
    "PutLoggingConfiguration" => put_logging_configuration,
    "GetLoggingConfiguration" => get_logging_configuration,
    "DeleteLoggingConfiguration" => delete_logging_configuration,
    "ListLoggingConfigurations" => list_logging_configurations,
    "AssociateWebACL" => associate_web_acl,
    "DisassociateWebACL" => disassociate_web_acl,
    "GetWebACLForResource" => get_web_acl_for_resource,
    "ListResourcesForWebACL" => list_resources_for_web_acl,
    "ListAvailableManagedRuleGroups" => list_available_managed_rule_groups,
    "DescribeManagedRuleGroup" => describe_managed_rule_group,
    "ListAvailableManagedRuleGroupVersions" => list_available_managed_rule_group_versions,
    "GetSampledRequests" => get_sampled_requests,
    "GetRateBasedStatementManagedKeys" => get_rate_based_statement_managed_keys,
    "CreateAPIKey" => create_api_key,
    "ListAPIKeys" => list_api_keys,
    "GetDecryptedAPIKey" => get_decrypted_api_key,
    "DeleteAPIKey" => delete_api_key,
    "PutPermissionPolicy" => put_permission_policy,
    "GetPermissionPolicy" => get_permission_policy,
    "DeletePermissionPolicy" => delete_permission_policy,
    "DeleteFirewallManagerRuleGroups" => delete_firewall_manager_rule_groups,
    "DescribeAllManagedProducts" => describe_all_managed_products,
    "DescribeManagedProductsByVendor" => describe_managed_products_by_vendor,
    "ListManagedRuleSets" => list_managed_rule_sets,
    "GetManagedRuleSet" => get_managed_rule_set,
    "PutManagedRuleSetVersions" => put_managed_rule_set_versions,
    "UpdateManagedRuleSetVersionExpiryDate" => update_managed_rule_set_version_expiry_date,
    "ListMobileSdkReleases" => list_mobile_sdk_releases,
    "GetMobileSdkRelease" => get_mobile_sdk_release,
    "GenerateMobileSdkReleaseUrl" => generate_mobile_sdk_release_url,
    "GetTopPathStatisticsByTraffic" => get_top_path_statistics_by_traffic,
    "ListEvents" => list_events,
    "ListEventsByWebACL" => list_events_by_web_acl,
    "GetEvent" => get_event,
    "ListEventActors" => list_event_actors,
    "GetEventActor" => get_event_actor,
    "GetRevenueStatistics" => get_revenue_statistics,
    "GetRevenueStatisticsSummary" => get_revenue_statistics_summary,
    "GetRevenueStatisticsTimeSeries" => get_revenue_statistics_time_series,
    "ListSettlementRecords" => list_settlement_records,
});

#[async_trait]
impl Service for Wafv2Service {
    fn model(&self) -> &'static ServiceModel {
        &rampart_protocol::generated::wafv2::MODEL
    }
    fn implemented(&self) -> &'static [&'static str] {
        Self::IMPLEMENTED
    }
    async fn call(&self, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
        self.dispatch(ctx, input).await
    }
}

/// Where an entity lives: the scope, and the key part that stands for it.
#[derive(Debug, Clone)]
struct Place {
    /// `REGIONAL` or `CLOUDFRONT`.
    scope: &'static str,
    /// `regional` or `global`, as in ARNs.
    word: &'static str,
    /// The region in store keys: the request's region, or `global`.
    key: String,
    account: String,
}

impl Place {
    fn prefix(&self) -> String {
        format!("{}/{}/", self.account, self.key)
    }
    fn key_of(&self, name: &str) -> String {
        format!("{}{name}", self.prefix())
    }
}

/// A located entity, with its store key and version.
struct Found {
    key: String,
    version: u64,
    entity: Entity,
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, AwsError> {
    serde_json::to_value(v).map_err(|_| AwsError::internal())
}

fn from_value<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, AwsError> {
    serde_json::from_value(v).map_err(|e| {
        tracing::error!(error = %e, "wafv2 record does not decode");
        AwsError::internal()
    })
}

fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A requested page size: AWS WAF's maximum when absent, at most that.
fn page_size(limit: Option<i32>) -> usize {
    rampart_service::paging::size(limit, MAX_PAGE, MAX_PAGE)
}

impl Wafv2Service {
    /// A WAFv2 service over `store`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let telemetry = crate::Telemetry::new(Arc::clone(&store), Arc::clone(&clock));
        Wafv2Service {
            store,
            clock,
            keys: None,
            telemetry,
            crs: None,
        }
    }

    /// API keys are authenticated with the deployment's WAF MAC key `keys` (shared with the
    /// load balancer's CAPTCHA and challenge tokens).
    #[must_use]
    pub fn with_keys(mut self, keys: Arc<crate::secret::WafKeys>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Answer GetSampledRequests and GetRateBasedStatementManagedKeys from `telemetry` (the
    /// registry the load balancers' proxy feeds) and keep it told of logging configurations.
    #[must_use]
    pub fn with_telemetry(mut self, telemetry: Arc<crate::Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Offer the managed rule group `Rampart/OWASPCoreRuleSet` from `crs`, the rule set the
    /// server loaded from its `--waf-crs-dir`.
    #[must_use]
    pub fn with_crs(mut self, crs: Option<Arc<crate::crs::Crs>>) -> Self {
        self.crs = crs;
        self
    }

    fn now(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// The place of `scope` for the caller; `CLOUDFRONT` only through us-east-1, as on AWS.
    fn place(ctx: &RequestContext, scope: &str) -> Result<Place, AwsError> {
        let account = ctx.caller.account.clone();
        match scope {
            "REGIONAL" => Ok(Place {
                scope: "REGIONAL",
                word: "regional",
                key: ctx.region.clone(),
                account,
            }),
            "CLOUDFRONT" if ctx.region == "us-east-1" => Ok(Place {
                scope: "CLOUDFRONT",
                word: "global",
                key: "global".to_owned(),
                account,
            }),
            other => Err(invalid("SCOPE_VALUE", other, "The scope is not valid.")),
        }
    }

    fn arn(ctx: &RequestContext, place: &Place, kind: Kind, name: &str, id: &str) -> String {
        let region = if place.word == "global" {
            "us-east-1"
        } else {
            ctx.region.as_str()
        };
        ctx.arn(
            "wafv2",
            region,
            &place.account,
            &format!("{}/{}/{name}/{id}", place.word, kind.arn_word()),
        )
    }

    /// Whether `arn` belongs to the caller's account (or is not an ARN at all).
    fn own_arn(ctx: &RequestContext, arn: &str) -> bool {
        Arn::parse(arn).is_none_or(|a| a.account == ctx.caller.account)
    }

    /// The place, kind, name and id an ARN names, when it is a WAFv2 entity ARN of the caller's
    /// account reachable from this region.
    fn parse_arn(ctx: &RequestContext, arn: &str) -> Option<(Place, Kind, String, String)> {
        let a = Arn::parse(arn)?;
        if a.service != "wafv2" || a.account != ctx.caller.account || a.partition != ctx.partition {
            return None;
        }
        let parts: Vec<&str> = a.resource.split('/').collect();
        let [word, kind, name, id] = parts.as_slice() else {
            return None;
        };
        let kind = Kind::from_arn_word(kind)?;
        let scope = match *word {
            "regional" if a.region == ctx.region => "REGIONAL",
            "global" if a.region == "us-east-1" => "CLOUDFRONT",
            _ => return None,
        };
        let place = Self::place(ctx, scope).ok()?;
        Some((place, kind, (*name).to_owned(), (*id).to_owned()))
    }

    async fn authorize(
        &self,
        ctx: &RequestContext,
        arn: &str,
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        let mut extra = Context::new();
        tags::resource_tags(
            &mut extra,
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let action = format!("wafv2:{}", ctx.operation);
        ctx.authorize(&action, arn, &ctx.caller.account, None, &extra)
            .await
    }

    /// The entity `kind` named `name` with id `id` in `place`.
    async fn load(
        &self,
        place: &Place,
        kind: Kind,
        name: &str,
        id: &str,
    ) -> Result<Found, AwsError> {
        let key = place.key_of(name);
        match records::entities(kind)
            .get(self.store.as_ref(), &key)
            .await?
        {
            Some(v) if v.value.id == id && v.value.kind == kind => Ok(Found {
                key,
                version: v.version,
                entity: v.value,
            }),
            _ => Err(nonexistent()),
        }
    }

    /// The entity an ARN names, which must be of `kind`.
    async fn load_arn(
        &self,
        ctx: &RequestContext,
        kind: Kind,
        arn: &str,
    ) -> Result<Found, AwsError> {
        match Self::parse_arn(ctx, arn) {
            Some((place, k, name, id)) if k == kind => self.load(&place, kind, &name, &id).await,
            _ => Err(nonexistent()),
        }
    }

    /// Validate rules and compute their WCUs; referenced entities must exist in `place`.
    async fn check_rules(
        &self,
        ctx: &RequestContext,
        place: &Place,
        rules: Option<&Vec<s::Rule>>,
        owner: Owner,
    ) -> Result<(Vec<Value>, i64), AwsError> {
        let values = rules
            .map(|rs| rs.iter().map(to_value).collect::<Result<Vec<_>, _>>())
            .transpose()?
            .unwrap_or_default();
        let refs = validate::rules(&values, owner)?;
        let mut groups = HashMap::new();
        for r in refs {
            let (kind, arn) = match r {
                Reference::IpSet(arn) => (Kind::IpSet, arn),
                Reference::RegexPatternSet(arn) => (Kind::RegexPatternSet, arn),
                Reference::RuleGroup(arn) => (Kind::RuleGroup, arn),
                Reference::Managed(vendor, name) => {
                    if crate::managed::find(&vendor, &name, self.crs.as_deref()).is_none() {
                        return Err(nonexistent());
                    }
                    continue;
                }
            };
            let entity = if kind == Kind::RuleGroup && !Self::own_arn(ctx, &arn) {
                // Another account's rule group, shared with a permission policy.
                let action = if ctx.operation == "UpdateWebACL" {
                    "wafv2:UpdateWebACL"
                } else {
                    "wafv2:CreateWebACL"
                };
                self.shared_rule_group(ctx, &arn, action).await?
            } else {
                self.load_arn(ctx, kind, &arn).await?.entity
            };
            if entity.scope != place.scope {
                return Err(nonexistent());
            }
            if kind == Kind::RuleGroup {
                let cap = entity
                    .body
                    .get("Capacity")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                groups.insert(arn, cap);
            }
        }
        if let Some(crs) = &self.crs {
            // Managed rule group statements are only ever at the top of a web ACL's rule.
            for rule in &values {
                let m = &rule["Statement"]["ManagedRuleGroupStatement"];
                if m["VendorName"] == crate::managed::VENDOR && m["Name"] == crate::crs::NAME {
                    crs.check_statement(m)?;
                }
            }
        }
        let wcu = capacity::rules_wcu(
            &values,
            &References {
                rule_groups: &groups,
                crs: self.crs.as_deref(),
            },
        );
        Ok((values, wcu))
    }

    /// Whether any web ACL or rule group in `place` references `arn`; for a rule group, also
    /// the web ACLs of other accounts (it may have been shared with a permission policy).
    async fn referenced(&self, place: &Place, arn: &str) -> Result<bool, AwsError> {
        if self
            .referenced_under(&place.prefix(), arn, &[Kind::WebAcl, Kind::RuleGroup])
            .await?
        {
            return Ok(true);
        }
        if arn.contains("/rulegroup/") {
            return self.referenced_under("", arn, &[Kind::WebAcl]).await;
        }
        Ok(false)
    }

    /// Whether an entity of `kinds` with a store key under `prefix` references `arn`.
    async fn referenced_under(
        &self,
        prefix: &str,
        arn: &str,
        kinds: &[Kind],
    ) -> Result<bool, AwsError> {
        for kind in kinds.iter().copied() {
            let mut after: Option<String> = None;
            loop {
                let page = records::entities(kind)
                    .list(self.store.as_ref(), prefix, after.as_deref(), 500)
                    .await?;
                for (_, e) in &page {
                    let rules = e
                        .body
                        .get("Rules")
                        .map(Value::to_string)
                        .unwrap_or_default();
                    if rules.contains(&format!("\"{arn}\"")) {
                        return Ok(true);
                    }
                }
                match page.last() {
                    Some((k, _)) if page.len() == 500 => after = Some(k.clone()),
                    _ => break,
                }
            }
        }
        Ok(false)
    }

    async fn check_capacity(
        &self,
        ctx: &RequestContext,
        req: s::CheckCapacityRequest,
    ) -> Result<s::CheckCapacityResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        let arn = Self::arn(ctx, &place, Kind::WebAcl, "*", "*");
        self.authorize(ctx, &arn, &[]).await?;
        let (_, wcu) = self
            .check_rules(ctx, &place, Some(&req.rules), Owner::WebAcl)
            .await?;
        Ok(s::CheckCapacityResponse {
            capacity: Some(wcu),
        })
    }

    async fn list_available_managed_rule_groups(
        &self,
        ctx: &RequestContext,
        req: s::ListAvailableManagedRuleGroupsRequest,
    ) -> Result<s::ListAvailableManagedRuleGroupsResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        self.authorize(ctx, &Self::arn(ctx, &place, Kind::WebAcl, "*", "*"), &[])
            .await?;
        let groups = crate::managed::available(self.crs.as_deref())
            .map(|g| s::ManagedRuleGroupSummary {
                description: Some(g.description.to_owned()),
                name: Some(g.name.to_owned()),
                vendor_name: Some(crate::managed::VENDOR.to_owned()),
                versioning_supported: Some(true),
            })
            .collect();
        Ok(s::ListAvailableManagedRuleGroupsResponse {
            managed_rule_groups: Some(groups),
            next_marker: None,
        })
    }

    async fn describe_managed_rule_group(
        &self,
        ctx: &RequestContext,
        req: s::DescribeManagedRuleGroupRequest,
    ) -> Result<s::DescribeManagedRuleGroupResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        self.authorize(ctx, &Self::arn(ctx, &place, Kind::WebAcl, "*", "*"), &[])
            .await?;
        let group = crate::managed::find(&req.vendor_name, &req.name, self.crs.as_deref())
            .ok_or_else(nonexistent)?;
        let version = req
            .version_name
            .unwrap_or_else(|| group.default_version().to_owned());
        if !group.versions.iter().any(|v| v.name == version) {
            return Err(nonexistent());
        }
        let block = s::RuleAction {
            block: Some(s::BlockAction::default()),
            ..Default::default()
        };
        Ok(s::DescribeManagedRuleGroupResponse {
            available_labels: Some(
                group
                    .rules
                    .iter()
                    .map(|(n, _)| s::LabelSummary {
                        name: Some(format!("{}{n}", group.label_namespace)),
                    })
                    .collect(),
            ),
            capacity: Some(group.capacity()),
            consumed_labels: Some(Vec::new()),
            label_namespace: Some(group.label_namespace.to_owned()),
            rules: Some(
                group
                    .rules
                    .iter()
                    .map(|(n, _)| s::RuleSummary {
                        action: Some(block.clone()),
                        name: Some((*n).to_owned()),
                    })
                    .collect(),
            ),
            sns_topic_arn: None,
            version_name: Some(version),
        })
    }

    async fn list_available_managed_rule_group_versions(
        &self,
        ctx: &RequestContext,
        req: s::ListAvailableManagedRuleGroupVersionsRequest,
    ) -> Result<s::ListAvailableManagedRuleGroupVersionsResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        self.authorize(ctx, &Self::arn(ctx, &place, Kind::WebAcl, "*", "*"), &[])
            .await?;
        let group = crate::managed::find(&req.vendor_name, &req.name, self.crs.as_deref())
            .ok_or_else(nonexistent)?;
        Ok(s::ListAvailableManagedRuleGroupVersionsResponse {
            current_default_version: Some(group.default_version().to_owned()),
            next_marker: None,
            versions: Some(
                group
                    .versions
                    .iter()
                    .rev()
                    .map(|v| s::ManagedRuleGroupVersion {
                        last_update_timestamp: Some(Timestamp::from_millis(v.published)),
                        name: Some(v.name.to_owned()),
                    })
                    .collect(),
            ),
        })
    }
}
