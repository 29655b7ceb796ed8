//! Trust stores (mutual TLS) and resource policies.
//!
//! A trust store is created from a CA certificates bundle in Amazon S3, which Rampart does not
//! have: CreateTrustStore and ModifyTrustStore answer `CaCertificatesBundleNotFound` (the bundle
//! cannot be read from anywhere). No trust store can therefore exist, and every operation on
//! one answers what AWS answers for a trust store that does not exist: `TrustStoreNotFound`,
//! while DescribeTrustStores without names lists none. Resource policies exist on AWS only for
//! shared trust stores, so GetResourcePolicy answers `ResourceNotFound`.

use rampart_service::{AwsError, RequestContext};

use crate::errors as err;
use crate::shapes::elbv2 as s;

use super::{valid_name, ElbService};

fn not_found() -> AwsError {
    AwsError::new(
        "TrustStoreNotFound",
        400,
        "One or more trust stores not found",
    )
}

fn bundle_not_found(bucket: &str, key: &str) -> AwsError {
    AwsError::new(
        "CaCertificatesBundleNotFound",
        400,
        format!(
            "The CA certificates bundle s3://{bucket}/{key} cannot be read: Rampart has no Amazon S3, so trust stores (mutual TLS) are not available"
        ),
    )
}

impl ElbService {
    pub(crate) async fn create_trust_store(
        &self,
        ctx: &RequestContext,
        req: s::CreateTrustStoreInput,
    ) -> Result<s::CreateTrustStoreOutput, AwsError> {
        if !valid_name(&req.name, 32) {
            return Err(err::validation(format!(
                "The trust store name '{}' is not valid",
                req.name
            )));
        }
        self.authorize(ctx, "*").await?;
        Err(bundle_not_found(
            &req.ca_certificates_bundle_s3_bucket,
            &req.ca_certificates_bundle_s3_key,
        ))
    }

    pub(crate) async fn modify_trust_store(
        &self,
        ctx: &RequestContext,
        req: s::ModifyTrustStoreInput,
    ) -> Result<s::ModifyTrustStoreOutput, AwsError> {
        self.authorize(ctx, &req.trust_store_arn).await?;
        Err(not_found())
    }

    pub(crate) async fn describe_trust_stores(
        &self,
        ctx: &RequestContext,
        req: s::DescribeTrustStoresInput,
    ) -> Result<s::DescribeTrustStoresOutput, AwsError> {
        self.authorize(ctx, "*").await?;
        let named = req.names.as_ref().is_some_and(|n| !n.is_empty())
            || req.trust_store_arns.as_ref().is_some_and(|a| !a.is_empty());
        if named {
            return Err(not_found());
        }
        super::page(
            ctx,
            "DescribeTrustStores",
            Vec::<s::TrustStore>::new(),
            req.marker.as_deref(),
            req.page_size,
        )?;
        Ok(s::DescribeTrustStoresOutput {
            next_marker: None,
            trust_stores: Some(Vec::new()),
        })
    }

    pub(crate) async fn delete_trust_store(
        &self,
        ctx: &RequestContext,
        req: s::DeleteTrustStoreInput,
    ) -> Result<s::DeleteTrustStoreOutput, AwsError> {
        self.authorize(ctx, &req.trust_store_arn).await?;
        Err(not_found())
    }

    pub(crate) async fn describe_trust_store_associations(
        &self,
        ctx: &RequestContext,
        req: s::DescribeTrustStoreAssociationsInput,
    ) -> Result<s::DescribeTrustStoreAssociationsOutput, AwsError> {
        self.authorize(ctx, &req.trust_store_arn).await?;
        Err(not_found())
    }

    pub(crate) async fn describe_trust_store_revocations(
        &self,
        ctx: &RequestContext,
        req: s::DescribeTrustStoreRevocationsInput,
    ) -> Result<s::DescribeTrustStoreRevocationsOutput, AwsError> {
        self.authorize(ctx, &req.trust_store_arn).await?;
        Err(not_found())
    }

    pub(crate) async fn add_trust_store_revocations(
        &self,
        ctx: &RequestContext,
        req: s::AddTrustStoreRevocationsInput,
    ) -> Result<s::AddTrustStoreRevocationsOutput, AwsError> {
        self.authorize(ctx, &req.trust_store_arn).await?;
        Err(not_found())
    }

    pub(crate) async fn remove_trust_store_revocations(
        &self,
        ctx: &RequestContext,
        req: s::RemoveTrustStoreRevocationsInput,
    ) -> Result<s::RemoveTrustStoreRevocationsOutput, AwsError> {
        self.authorize(ctx, &req.trust_store_arn).await?;
        Err(not_found())
    }

    pub(crate) async fn get_trust_store_ca_certificates_bundle(
        &self,
        ctx: &RequestContext,
        req: s::GetTrustStoreCaCertificatesBundleInput,
    ) -> Result<s::GetTrustStoreCaCertificatesBundleOutput, AwsError> {
        self.authorize(ctx, &req.trust_store_arn).await?;
        Err(not_found())
    }

    pub(crate) async fn get_trust_store_revocation_content(
        &self,
        ctx: &RequestContext,
        req: s::GetTrustStoreRevocationContentInput,
    ) -> Result<s::GetTrustStoreRevocationContentOutput, AwsError> {
        self.authorize(ctx, &req.trust_store_arn).await?;
        Err(not_found())
    }

    pub(crate) async fn delete_shared_trust_store_association(
        &self,
        ctx: &RequestContext,
        req: s::DeleteSharedTrustStoreAssociationInput,
    ) -> Result<s::DeleteSharedTrustStoreAssociationOutput, AwsError> {
        self.authorize(ctx, &req.trust_store_arn).await?;
        Err(not_found())
    }

    pub(crate) async fn get_resource_policy(
        &self,
        ctx: &RequestContext,
        req: s::GetResourcePolicyInput,
    ) -> Result<s::GetResourcePolicyOutput, AwsError> {
        self.authorize(ctx, &req.resource_arn).await?;
        Err(AwsError::new(
            "ResourceNotFound",
            400,
            "The specified resource does not exist",
        ))
    }
}
