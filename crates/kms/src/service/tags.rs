//! Tags on keys: KMS's tag rules and the tag operations.

use super::*;
use rampart_service::tags;

/// KMS's answers to broken tag rules (lengths and characters are checked against the model).
fn tag_error(v: &tags::Violation) -> Option<AwsError> {
    match v {
        tags::Violation::Reserved(_) => {
            Some(E::TagException.err("Tags beginning with aws: are reserved"))
        }
        tags::Violation::Duplicate(_) => Some(E::TagException.err("Duplicate tag keys")),
        tags::Violation::TooMany { .. } => Some(E::TagException.err("Too many tags")),
        _ => None,
    }
}

/// KMS's tag rules.
const TAG_RULES: tags::Rules = tags::Rules {
    max: MAX_TAGS,
    // AWS refuses `aws:` in any letter case (`AWS:`, `Aws:`).
    reserved_any_case: true,
    answer: tag_error,
};

impl tags::TagShape for s::Tag {
    fn from_pair(tag_key: String, tag_value: String) -> Self {
        s::Tag { tag_key, tag_value }
    }
    fn into_pair(self) -> (String, String) {
        (self.tag_key, self.tag_value)
    }
}

pub(super) fn check_tags(tags: &[s::Tag]) -> Result<(), AwsError> {
    TAG_RULES.check(
        tags.iter()
            .map(|t| (t.tag_key.as_str(), t.tag_value.as_str())),
    )
}

impl KmsService {
    pub(super) async fn tag_resource(
        &self,
        ctx: &RequestContext,
        req: s::TagResourceRequest,
    ) -> Result<(), AwsError> {
        check_tags(&req.tags)?;
        let mut r = self
            .key_for(
                ctx,
                &req.key_id,
                "kms:TagResource",
                Needs::NotPendingDeletion,
            )
            .await?;
        let tags = &mut r.key.value.tags;
        for t in req.tags {
            match tags.iter_mut().find(|(k, _)| *k == t.tag_key) {
                Some(existing) => existing.1 = t.tag_value,
                None => tags.push((t.tag_key, t.tag_value)),
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(E::TagException.err("Too many tags"));
        }
        self.save(&r.key).await
    }

    pub(super) async fn untag_resource(
        &self,
        ctx: &RequestContext,
        req: s::UntagResourceRequest,
    ) -> Result<(), AwsError> {
        let mut r = self
            .key_for(
                ctx,
                &req.key_id,
                "kms:UntagResource",
                Needs::NotPendingDeletion,
            )
            .await?;
        r.key
            .value
            .tags
            .retain(|(k, _)| !req.tag_keys.iter().any(|t| t == k));
        self.save(&r.key).await
    }

    pub(super) async fn list_resource_tags(
        &self,
        ctx: &RequestContext,
        req: s::ListResourceTagsRequest,
    ) -> Result<s::ListResourceTagsResponse, AwsError> {
        let r = self
            .key_for(ctx, &req.key_id, "kms:ListResourceTags", Needs::Any)
            .await?;
        let limit = usize::try_from(req.limit.unwrap_or(50))
            .unwrap_or(50)
            .clamp(1, 50);
        let scope = format!("kms:ListResourceTags:{}", r.key.value.arn);
        let (page, next_marker) = paging::page_from(
            &scope,
            r.key.value.tags.clone(),
            req.marker.as_deref(),
            limit,
            invalid_marker,
        )?;
        Ok(s::ListResourceTagsResponse {
            tags: Some(tags::shapes(&page)),
            truncated: Some(next_marker.is_some()),
            next_marker,
        })
    }
}
