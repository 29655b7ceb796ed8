//! Tags on parameters: AddTagsToResource, RemoveTagsFromResource, ListTagsForResource.

use rampart_service::table::Versioned;
use rampart_service::{AwsError, RequestContext};

use crate::names;
use crate::records::ParamRecord;
use crate::shapes::ssm as s;

use super::{check_tags, validation, SsmService, E, MAX_TAGS};

impl SsmService {
    pub(super) async fn tagged(
        &self,
        ctx: &RequestContext,
        resource_type: &str,
        resource_id: &str,
        action: &str,
    ) -> Result<Versioned<ParamRecord>, AwsError> {
        if resource_type != "Parameter" {
            return Err(E::InvalidResourceType.err(format!("Rampart's Systems Manager supports tags on resource type Parameter only, not {resource_type}."),
            ));
        }
        let resource_id = &names::canonical(resource_id);
        if names::malformed(resource_id) {
            return Err(validation(names::BAD_PATH));
        }
        let arn = Self::arn_of(ctx, resource_id);
        self.allow(ctx, action, &arn).await?;
        ctx.note_resource("AWS::SSM::Parameter", &arn);
        self.load(&ctx.caller.account, &ctx.region, resource_id)
            .await?
            .ok_or_else(|| E::InvalidResourceId.err("The resource ID is not valid. Verify that you entered the correct ID and try again."))
    }

    pub(super) async fn add_tags_to_resource(
        &self,
        ctx: &RequestContext,
        req: s::AddTagsToResourceRequest,
    ) -> Result<s::AddTagsToResourceResult, AwsError> {
        let mut found = self
            .tagged(
                ctx,
                &req.resource_type,
                &req.resource_id,
                "AddTagsToResource",
            )
            .await?;
        let new: Vec<(String, String)> = req.tags.into_iter().map(|t| (t.key, t.value)).collect();
        check_tags(&new)?;
        let tags = &mut found.value.tags;
        for (k, v) in new {
            match tags.iter_mut().find(|(x, _)| *x == k) {
                Some(t) => t.1 = v,
                None => tags.push((k, v)),
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(E::TooManyTagsError.err("The Targets parameter includes too many tags. Remove one or more tags and try the command again.",
            ));
        }
        self.save(&found).await?;
        Ok(s::AddTagsToResourceResult {})
    }

    pub(super) async fn remove_tags_from_resource(
        &self,
        ctx: &RequestContext,
        req: s::RemoveTagsFromResourceRequest,
    ) -> Result<s::RemoveTagsFromResourceResult, AwsError> {
        let mut found = self
            .tagged(
                ctx,
                &req.resource_type,
                &req.resource_id,
                "RemoveTagsFromResource",
            )
            .await?;
        found.value.tags.retain(|(k, _)| !req.tag_keys.contains(k));
        self.save(&found).await?;
        Ok(s::RemoveTagsFromResourceResult {})
    }

    pub(super) async fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        req: s::ListTagsForResourceRequest,
    ) -> Result<s::ListTagsForResourceResult, AwsError> {
        let found = self
            .tagged(
                ctx,
                &req.resource_type,
                &req.resource_id,
                "ListTagsForResource",
            )
            .await?;
        Ok(s::ListTagsForResourceResult {
            tag_list: Some(
                found
                    .value
                    .tags
                    .into_iter()
                    .map(|(key, value)| s::Tag { key, value })
                    .collect(),
            ),
        })
    }
}
