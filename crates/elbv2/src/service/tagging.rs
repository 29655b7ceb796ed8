//! Tags on load balancers, target groups, listeners, rules and trust stores.

use rampart_service::{tags, AwsError, RequestContext};

use crate::errors::{self as err};
use crate::shapes::elbv2 as s;
use crate::state::State;

use super::ElbService;

impl ElbService {
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

    pub(super) async fn add_tags(
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

    pub(super) async fn remove_tags(
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

    pub(super) async fn describe_tags(
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
