//! Managed products, managed rule sets (for rule group sellers), mobile SDK releases, and the
//! operations Rampart answers as not supported.
//!
//! - DescribeAllManagedProducts / DescribeManagedProductsByVendor describe Rampart's own managed
//!   rule groups ([`crate::managed`]) as products of the vendor `Rampart`.
//! - Managed rule sets exist only for sellers of managed rule groups on AWS Marketplace; no
//!   Rampart account is one, so ListManagedRuleSets is empty and GetManagedRuleSet,
//!   PutManagedRuleSetVersions and UpdateManagedRuleSetVersionExpiryDate answer
//!   `WAFNonexistentItemException`, as AWS does for a set that does not exist.
//! - Rampart ships no mobile SDK: ListMobileSdkReleases is empty, and GetMobileSdkRelease /
//!   GenerateMobileSdkReleaseUrl answer `WAFNonexistentItemException` for every release.
//! - Bot Control traffic statistics, events and actors, and the monetization (revenue and
//!   settlement) operations need data Rampart does not have (bot detection, payments); they
//!   answer `WAFInvalidOperationException` saying so.

use super::{nonexistent, s, AwsError, Kind, RequestContext, Wafv2Service};

/// `WAFInvalidOperationException` for an operation Rampart does not support.
fn unsupported(op: &str, why: &str) -> AwsError {
    AwsError::new(
        "WAFInvalidOperationException",
        400,
        format!("The operation isn't valid: {op} is not supported by Rampart ({why})."),
    )
}

const BOT_DATA: &str =
    "it reports AWS WAF Bot Control traffic data, which Rampart does not collect";
const MONETIZATION: &str =
    "it reports AWS WAF monetization payments, which Rampart does not process";

impl Wafv2Service {
    async fn authorize_scope(&self, ctx: &RequestContext, scope: &str) -> Result<(), AwsError> {
        let place = Self::place(ctx, scope)?;
        self.authorize(ctx, &Self::arn(ctx, &place, Kind::WebAcl, "*", "*"), &[])
            .await
    }

    fn products(vendor: Option<&str>) -> Vec<s::ManagedProductDescriptor> {
        if vendor.is_some_and(|v| v != crate::managed::VENDOR) {
            return Vec::new();
        }
        crate::managed::GROUPS
            .iter()
            .map(|g| s::ManagedProductDescriptor {
                is_advanced_managed_rule_set: Some(false),
                is_versioning_supported: Some(true),
                managed_rule_set_name: Some(g.name.to_owned()),
                product_description: Some(g.description.to_owned()),
                product_id: Some(g.name.to_owned()),
                product_link: None,
                product_title: Some(g.name.to_owned()),
                sns_topic_arn: None,
                vendor_name: Some(crate::managed::VENDOR.to_owned()),
            })
            .collect()
    }

    pub(super) async fn describe_all_managed_products(
        &self,
        ctx: &RequestContext,
        req: s::DescribeAllManagedProductsRequest,
    ) -> Result<s::DescribeAllManagedProductsResponse, AwsError> {
        self.authorize_scope(ctx, &req.scope).await?;
        Ok(s::DescribeAllManagedProductsResponse {
            managed_products: Some(Self::products(None)),
        })
    }

    pub(super) async fn describe_managed_products_by_vendor(
        &self,
        ctx: &RequestContext,
        req: s::DescribeManagedProductsByVendorRequest,
    ) -> Result<s::DescribeManagedProductsByVendorResponse, AwsError> {
        self.authorize_scope(ctx, &req.scope).await?;
        Ok(s::DescribeManagedProductsByVendorResponse {
            managed_products: Some(Self::products(Some(&req.vendor_name))),
        })
    }

    pub(super) async fn list_managed_rule_sets(
        &self,
        ctx: &RequestContext,
        req: s::ListManagedRuleSetsRequest,
    ) -> Result<s::ListManagedRuleSetsResponse, AwsError> {
        self.authorize_scope(ctx, &req.scope).await?;
        Ok(s::ListManagedRuleSetsResponse {
            managed_rule_sets: Some(Vec::new()),
            next_marker: None,
        })
    }

    pub(super) async fn get_managed_rule_set(
        &self,
        ctx: &RequestContext,
        req: s::GetManagedRuleSetRequest,
    ) -> Result<s::GetManagedRuleSetResponse, AwsError> {
        self.authorize_scope(ctx, &req.scope).await?;
        Err(nonexistent())
    }

    pub(super) async fn put_managed_rule_set_versions(
        &self,
        ctx: &RequestContext,
        req: s::PutManagedRuleSetVersionsRequest,
    ) -> Result<s::PutManagedRuleSetVersionsResponse, AwsError> {
        self.authorize_scope(ctx, &req.scope).await?;
        Err(nonexistent())
    }

    pub(super) async fn update_managed_rule_set_version_expiry_date(
        &self,
        ctx: &RequestContext,
        req: s::UpdateManagedRuleSetVersionExpiryDateRequest,
    ) -> Result<s::UpdateManagedRuleSetVersionExpiryDateResponse, AwsError> {
        self.authorize_scope(ctx, &req.scope).await?;
        Err(nonexistent())
    }

    async fn authorize_global(&self, ctx: &RequestContext) -> Result<(), AwsError> {
        let action = format!("wafv2:{}", ctx.operation);
        ctx.authorize(&action, "*", &ctx.caller.account, None, &Default::default())
            .await
    }

    pub(super) async fn list_mobile_sdk_releases(
        &self,
        ctx: &RequestContext,
        _req: s::ListMobileSdkReleasesRequest,
    ) -> Result<s::ListMobileSdkReleasesResponse, AwsError> {
        self.authorize_global(ctx).await?;
        Ok(s::ListMobileSdkReleasesResponse {
            next_marker: None,
            release_summaries: Some(Vec::new()),
        })
    }

    pub(super) async fn get_mobile_sdk_release(
        &self,
        ctx: &RequestContext,
        _req: s::GetMobileSdkReleaseRequest,
    ) -> Result<s::GetMobileSdkReleaseResponse, AwsError> {
        self.authorize_global(ctx).await?;
        Err(nonexistent())
    }

    pub(super) async fn generate_mobile_sdk_release_url(
        &self,
        ctx: &RequestContext,
        _req: s::GenerateMobileSdkReleaseUrlRequest,
    ) -> Result<s::GenerateMobileSdkReleaseUrlResponse, AwsError> {
        self.authorize_global(ctx).await?;
        Err(nonexistent())
    }
}

/// Handlers for operations Rampart answers as not supported: the scope is checked, the caller
/// authorized, then `WAFInvalidOperationException`.
macro_rules! unsupported_ops {
    ($($method:ident: $req:ident => $resp:ident, $why:expr;)*) => {
        impl Wafv2Service {
            $(
                pub(super) async fn $method(
                    &self,
                    ctx: &RequestContext,
                    req: s::$req,
                ) -> Result<s::$resp, AwsError> {
                    self.authorize_scope(ctx, &req.scope).await?;
                    Err(unsupported(&ctx.operation, $why))
                }
            )*
        }
    };
}

unsupported_ops! {
    get_top_path_statistics_by_traffic: GetTopPathStatisticsByTrafficRequest => GetTopPathStatisticsByTrafficResponse, BOT_DATA;
    list_events: ListEventsRequest => ListEventsResponse, BOT_DATA;
    list_events_by_web_acl: ListEventsByWebACLRequest => ListEventsByWebACLResponse, BOT_DATA;
    get_event: GetEventRequest => GetEventResponse, BOT_DATA;
    list_event_actors: ListEventActorsRequest => ListEventActorsResponse, BOT_DATA;
    get_event_actor: GetEventActorRequest => GetEventActorResponse, BOT_DATA;
    get_revenue_statistics: GetRevenueStatisticsRequest => GetRevenueStatisticsResponse, MONETIZATION;
    get_revenue_statistics_summary: GetRevenueStatisticsSummaryRequest => GetRevenueStatisticsSummaryResponse, MONETIZATION;
    get_revenue_statistics_time_series: GetRevenueStatisticsTimeSeriesRequest => GetRevenueStatisticsTimeSeriesResponse, MONETIZATION;
    list_settlement_records: ListSettlementRecordsRequest => ListSettlementRecordsResponse, MONETIZATION;
}
