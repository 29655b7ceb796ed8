//! Centralized root access for AWS Organizations. Rampart has no Organizations: every account
//! stands alone, so IAM answers these operations as it does for an account that belongs to no
//! organization.

use rampart_service::{AwsError, RequestContext};

use super::IamService;
use crate::shapes::iam as s;

/// IAM's answer when the caller's account is in no organization.
fn no_organization() -> AwsError {
    AwsError::new(
        "OrganizationNotFoundException",
        400,
        "The request was rejected because no organization is associated with your account.",
    )
}

impl IamService {
    async fn organization_feature(
        &self,
        ctx: &RequestContext,
        action: &str,
    ) -> Result<(), AwsError> {
        self.allow(ctx, action, "*").await?;
        Err(no_organization())
    }

    pub(super) async fn enable_organizations_root_credentials_management(
        &self,
        ctx: &RequestContext,
        _req: serde::de::IgnoredAny,
    ) -> Result<s::EnableOrganizationsRootCredentialsManagementResponse, AwsError> {
        self.organization_feature(ctx, "iam:EnableOrganizationsRootCredentialsManagement")
            .await
            .map(|()| s::EnableOrganizationsRootCredentialsManagementResponse::default())
    }

    pub(super) async fn disable_organizations_root_credentials_management(
        &self,
        ctx: &RequestContext,
        _req: serde::de::IgnoredAny,
    ) -> Result<s::DisableOrganizationsRootCredentialsManagementResponse, AwsError> {
        self.organization_feature(ctx, "iam:DisableOrganizationsRootCredentialsManagement")
            .await
            .map(|()| s::DisableOrganizationsRootCredentialsManagementResponse::default())
    }

    pub(super) async fn enable_organizations_root_sessions(
        &self,
        ctx: &RequestContext,
        _req: serde::de::IgnoredAny,
    ) -> Result<s::EnableOrganizationsRootSessionsResponse, AwsError> {
        self.organization_feature(ctx, "iam:EnableOrganizationsRootSessions")
            .await
            .map(|()| s::EnableOrganizationsRootSessionsResponse::default())
    }

    pub(super) async fn disable_organizations_root_sessions(
        &self,
        ctx: &RequestContext,
        _req: serde::de::IgnoredAny,
    ) -> Result<s::DisableOrganizationsRootSessionsResponse, AwsError> {
        self.organization_feature(ctx, "iam:DisableOrganizationsRootSessions")
            .await
            .map(|()| s::DisableOrganizationsRootSessionsResponse::default())
    }

    pub(super) async fn list_organizations_features(
        &self,
        ctx: &RequestContext,
        _req: serde::de::IgnoredAny,
    ) -> Result<s::ListOrganizationsFeaturesResponse, AwsError> {
        self.organization_feature(ctx, "iam:ListOrganizationsFeatures")
            .await
            .map(|()| s::ListOrganizationsFeaturesResponse::default())
    }
}
