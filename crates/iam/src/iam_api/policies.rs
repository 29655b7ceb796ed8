//! Customer managed policies after creation: versions and the default version, tags, and the
//! entities a policy is attached to (or bounds).

use rampart_service::{tags, AwsError, RequestContext};

use super::entities::{merge_tags, remove_tags, tag_page};
use super::{check_identity_policy, conflict, no_such, ts, IamService, TAG_RULES};
use crate::managed;
use crate::records::{
    self, name_key, ns, GroupRecord, PolicyRecord, PolicyVersion, RoleRecord, UserRecord, Versioned,
};
use crate::shapes::iam as s;

/// Most versions a managed policy keeps.
const MAX_VERSIONS: usize = 5;

impl IamService {
    /// The customer managed policy behind `arn`, or IAM's errors: `InvalidInput` for a
    /// malformed ARN and `NoSuchEntity` for an unknown one (AWS managed policies cannot change).
    async fn own_policy(
        &self,
        ctx: &RequestContext,
        arn: &str,
    ) -> Result<Versioned<PolicyRecord>, AwsError> {
        check_policy_arn(arn)?;
        self.load_policy(ctx, arn)
            .await?
            .ok_or_else(|| no_such(&format!("Policy {arn} was not found.")))
    }

    async fn save_policy(
        &self,
        ctx: &RequestContext,
        p: &Versioned<PolicyRecord>,
    ) -> Result<(), AwsError> {
        self.save(
            ns::POLICY,
            &name_key(&ctx.caller.account, &p.value.name),
            &p.value,
            p.version,
        )
        .await
    }

    pub(super) async fn create_policy_version(
        &self,
        ctx: &RequestContext,
        req: s::CreatePolicyVersionRequest,
    ) -> Result<s::CreatePolicyVersionResponse, AwsError> {
        self.allow(ctx, "iam:CreatePolicyVersion", &req.policy_arn)
            .await?;
        let mut p = self.own_policy(ctx, &req.policy_arn).await?;
        check_identity_policy(&req.policy_document)?;
        if p.value.versions.len() >= MAX_VERSIONS {
            return Err(AwsError::new(
                "LimitExceeded",
                409,
                "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
            ));
        }
        let now = self.now_ms();
        let id = format!("v{}", p.value.next_version);
        p.value.next_version += 1;
        p.value.versions.push(PolicyVersion {
            id: id.clone(),
            document: req.policy_document.clone(),
            created: now,
        });
        let default = req.set_as_default.unwrap_or(false);
        if default {
            p.value.default_version.clone_from(&id);
        }
        p.value.updated = now;
        self.save_policy(ctx, &p).await?;
        Ok(s::CreatePolicyVersionResponse {
            policy_version: Some(s::PolicyVersion {
                create_date: Some(ts(now)),
                document: None,
                is_default_version: Some(default),
                version_id: Some(id),
            }),
        })
    }

    pub(super) async fn delete_policy_version(
        &self,
        ctx: &RequestContext,
        req: s::DeletePolicyVersionRequest,
    ) -> Result<(), AwsError> {
        self.allow(ctx, "iam:DeletePolicyVersion", &req.policy_arn)
            .await?;
        let mut p = self.own_policy(ctx, &req.policy_arn).await?;
        if p.value.default_version == req.version_id {
            return Err(conflict("Cannot delete the default version of a policy."));
        }
        let before = p.value.versions.len();
        p.value.versions.retain(|v| v.id != req.version_id);
        if p.value.versions.len() == before {
            return Err(no_such(&format!(
                "Policy {} version {} does not exist.",
                req.policy_arn, req.version_id
            )));
        }
        self.save_policy(ctx, &p).await
    }

    pub(super) async fn list_policy_versions(
        &self,
        ctx: &RequestContext,
        req: s::ListPolicyVersionsRequest,
    ) -> Result<s::ListPolicyVersionsResponse, AwsError> {
        self.allow(ctx, "iam:ListPolicyVersions", &req.policy_arn)
            .await?;
        let items: Vec<(String, s::PolicyVersion)> =
            if managed::aws_managed(&req.policy_arn).is_some() {
                vec![(
                    "0".into(),
                    s::PolicyVersion {
                        create_date: Some(ts(0)),
                        document: None,
                        is_default_version: Some(true),
                        version_id: Some("v1".into()),
                    },
                )]
            } else {
                let p = self.own_policy(ctx, &req.policy_arn).await?;
                // Newest first, as IAM lists them.
                p.value
                    .versions
                    .iter()
                    .rev()
                    .enumerate()
                    .map(|(i, v)| {
                        (
                            format!("{i:02}"),
                            s::PolicyVersion {
                                create_date: Some(ts(v.created)),
                                document: None,
                                is_default_version: Some(v.id == p.value.default_version),
                                version_id: Some(v.id.clone()),
                            },
                        )
                    })
                    .collect()
            };
        let (versions, marker) =
            self.page("iam:ListPolicyVersions", items, &req.marker, req.max_items)?;
        Ok(s::ListPolicyVersionsResponse {
            is_truncated: Some(marker.is_some()),
            marker,
            versions: Some(versions),
        })
    }

    pub(super) async fn set_default_policy_version(
        &self,
        ctx: &RequestContext,
        req: s::SetDefaultPolicyVersionRequest,
    ) -> Result<(), AwsError> {
        self.allow(ctx, "iam:SetDefaultPolicyVersion", &req.policy_arn)
            .await?;
        let mut p = self.own_policy(ctx, &req.policy_arn).await?;
        if !p.value.versions.iter().any(|v| v.id == req.version_id) {
            return Err(no_such(&format!(
                "Policy {} version {} does not exist or is not attachable.",
                req.policy_arn, req.version_id
            )));
        }
        p.value.default_version = req.version_id;
        p.value.updated = self.now_ms();
        self.save_policy(ctx, &p).await
    }

    pub(super) async fn tag_policy(
        &self,
        ctx: &RequestContext,
        req: s::TagPolicyRequest,
    ) -> Result<(), AwsError> {
        self.allow(ctx, "iam:TagPolicy", &req.policy_arn).await?;
        let mut p = self.own_policy(ctx, &req.policy_arn).await?;
        TAG_RULES.check(req.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())))?;
        merge_tags(&mut p.value.tags, req.tags);
        if p.value.tags.len() > tags::MAX_TAGS {
            return Err(AwsError::new(
                "LimitExceeded",
                409,
                "Cannot exceed quota for TagsPerPolicy: 50",
            ));
        }
        self.save_policy(ctx, &p).await
    }

    pub(super) async fn untag_policy(
        &self,
        ctx: &RequestContext,
        req: s::UntagPolicyRequest,
    ) -> Result<(), AwsError> {
        self.allow(ctx, "iam:UntagPolicy", &req.policy_arn).await?;
        let mut p = self.own_policy(ctx, &req.policy_arn).await?;
        remove_tags(&mut p.value.tags, &req.tag_keys);
        self.save_policy(ctx, &p).await
    }

    pub(super) async fn list_policy_tags(
        &self,
        ctx: &RequestContext,
        req: s::ListPolicyTagsRequest,
    ) -> Result<s::ListPolicyTagsResponse, AwsError> {
        self.allow(ctx, "iam:ListPolicyTags", &req.policy_arn)
            .await?;
        let p = self.own_policy(ctx, &req.policy_arn).await?;
        let (tags, marker) = tag_page(
            "iam:ListPolicyTags",
            &p.value.tags,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListPolicyTagsResponse {
            is_truncated: Some(marker.is_some()),
            marker,
            tags,
        })
    }

    pub(super) async fn list_entities_for_policy(
        &self,
        ctx: &RequestContext,
        req: s::ListEntitiesForPolicyRequest,
    ) -> Result<s::ListEntitiesForPolicyResponse, AwsError> {
        self.allow(ctx, "iam:ListEntitiesForPolicy", &req.policy_arn)
            .await?;
        check_policy_arn(&req.policy_arn)?;
        if managed::aws_managed(&req.policy_arn).is_none()
            && self.load_policy(ctx, &req.policy_arn).await?.is_none()
        {
            return Err(no_such(&format!(
                "Policy {} was not found.",
                req.policy_arn
            )));
        }
        let filter = req.entity_filter.as_deref();
        let boundary = req.policy_usage_filter.as_deref() == Some("PermissionsBoundary");
        let policy_use = req.policy_usage_filter.as_deref() == Some("PermissionPolicy");
        let prefix = req.path_prefix.unwrap_or_else(|| "/".into());
        let arn = req.policy_arn.as_str();
        let account = format!("{}/", ctx.caller.account);
        let uses = |attached: &[String], bound: Option<&String>| {
            let a = !boundary && attached.iter().any(|x| x == arn);
            let b = !policy_use && bound.is_some_and(|x| x == arn);
            a || b
        };
        // (sort key, entity) so one marker pages across the three kinds.
        let mut items: Vec<(String, Entity)> = Vec::new();
        if matches!(filter, None | Some("User")) {
            let users: Vec<(String, UserRecord)> = records::USERS
                .list(&*self.id.store, &account, None, 10_000)
                .await?;
            for (k, u) in users {
                if u.path.starts_with(&prefix) && uses(&u.attached, u.boundary.as_ref()) {
                    items.push((format!("u/{k}"), Entity::User(u.id, u.name)));
                }
            }
        }
        if matches!(filter, None | Some("Role")) {
            let roles: Vec<(String, RoleRecord)> = records::ROLES
                .list(&*self.id.store, &account, None, 10_000)
                .await?;
            for (k, r) in roles {
                if r.path.starts_with(&prefix) && uses(&r.attached, r.boundary.as_ref()) {
                    items.push((format!("r/{k}"), Entity::Role(r.id, r.name)));
                }
            }
        }
        if matches!(filter, None | Some("Group")) && !boundary {
            let groups: Vec<(String, GroupRecord)> = records::GROUPS
                .list(&*self.id.store, &account, None, 10_000)
                .await?;
            for (k, g) in groups {
                if g.path.starts_with(&prefix) && uses(&g.attached, None) {
                    items.push((format!("g/{k}"), Entity::Group(g.id, g.name)));
                }
            }
        }
        let (page, marker) = self.page(
            "iam:ListEntitiesForPolicy",
            items,
            &req.marker,
            req.max_items,
        )?;
        let mut out = s::ListEntitiesForPolicyResponse {
            is_truncated: Some(marker.is_some()),
            marker,
            policy_groups: Some(Vec::new()),
            policy_roles: Some(Vec::new()),
            policy_users: Some(Vec::new()),
        };
        for e in page {
            match e {
                Entity::User(id, name) => {
                    out.policy_users
                        .get_or_insert_with(Vec::new)
                        .push(s::PolicyUser {
                            user_id: Some(id),
                            user_name: Some(name),
                        })
                }
                Entity::Role(id, name) => {
                    out.policy_roles
                        .get_or_insert_with(Vec::new)
                        .push(s::PolicyRole {
                            role_id: Some(id),
                            role_name: Some(name),
                        })
                }
                Entity::Group(id, name) => {
                    out.policy_groups
                        .get_or_insert_with(Vec::new)
                        .push(s::PolicyGroup {
                            group_id: Some(id),
                            group_name: Some(name),
                        })
                }
            }
        }
        Ok(out)
    }
}

enum Entity {
    User(String, String),
    Role(String, String),
    Group(String, String),
}

/// IAM's check of a policy ARN's form.
pub(super) fn check_policy_arn(arn: &str) -> Result<(), AwsError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[3].is_empty()
        && (parts[4] == "aws"
            || (parts[4].len() == 12 && parts[4].bytes().all(|b| b.is_ascii_digit())))
        && parts[5].starts_with("policy/")
        && parts[5].len() > "policy/".len();
    if ok {
        Ok(())
    } else {
        Err(AwsError::validation(
            "InvalidInput",
            format!("ARN {arn} is not valid."),
        ))
    }
}
