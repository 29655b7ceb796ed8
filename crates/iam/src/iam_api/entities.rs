//! Changing users, groups and roles after they exist: renames and moves, role settings, group
//! policies, role tags and permissions boundaries.

use rampart_service::{tags, AwsError, RequestContext};
use rampart_store::Expect;

use super::{attached, exists, no_such, role_shape, IamService, TAG_RULES};
use crate::managed;
use crate::records::{self, name_key, ns, GroupRecord, UserRecord};
use crate::shapes::iam as s;

/// IAM's accepted role session lengths, in seconds.
const SESSION_RANGE: std::ops::RangeInclusive<i32> = 3600..=43200;

/// Add or replace IAM tags: keys compare without regard to case, as IAM does.
pub(super) fn merge_tags(into: &mut Vec<(String, String)>, new: Vec<s::Tag>) {
    for t in new {
        match into
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(&t.key))
        {
            Some(slot) => slot.1 = t.value,
            None => into.push((t.key, t.value)),
        }
    }
}

/// Remove IAM tags by key, without regard to case.
pub(super) fn remove_tags(from: &mut Vec<(String, String)>, keys: &[String]) {
    from.retain(|(k, _)| !keys.iter().any(|d| d.eq_ignore_ascii_case(k)));
}

/// Checks an IAM path: starts and ends with `/`, printable ASCII, at most 512 characters.
pub(super) fn check_path(path: &str) -> Result<(), AwsError> {
    let ok = path.len() <= 512
        && path.starts_with('/')
        && path.ends_with('/')
        && path.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AwsError::validation(
            "ValidationError",
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.",
        ))
    }
}

impl IamService {
    /// Whether `arn` names a managed policy a permissions boundary may use.
    async fn boundary_policy(&self, ctx: &RequestContext, arn: &str) -> Result<(), AwsError> {
        if !arn.starts_with("arn:") || arn.split(':').count() < 6 || !arn.contains(":policy/") {
            return Err(AwsError::validation(
                "InvalidInput",
                format!("ARN {arn} is not valid."),
            ));
        }
        if managed::aws_managed(arn).is_some() || self.load_policy(ctx, arn).await?.is_some() {
            return Ok(());
        }
        Err(no_such(&format!(
            "Scope ARN: {arn} does not exist or is not attachable."
        )))
    }

    pub(super) async fn update_user(
        &self,
        ctx: &RequestContext,
        req: s::UpdateUserRequest,
    ) -> Result<(), AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?;
        self.allow(ctx, "iam:UpdateUser", &user.value.arn).await?;
        if let Some(p) = &req.new_path {
            check_path(p)?;
        }
        let mut rec = user.value.clone();
        if let Some(p) = req.new_path {
            rec.path = p;
        }
        let new_name = req.new_user_name.unwrap_or_else(|| rec.name.clone());
        rec.name.clone_from(&new_name);
        rec.arn = Self::arn(ctx, "user", &rec.path, &new_name);
        let account = &ctx.caller.account;
        let old_key = name_key(account, &user.value.name);
        let new_key = name_key(account, &new_name);
        let mut ops = Vec::new();
        if old_key == new_key {
            ops.push(records::USERS.put_op(&old_key, &rec, Expect::Version(user.version))?);
        } else {
            ops.push(records::USERS.delete_op(&old_key, Expect::Version(user.version)));
            ops.push(records::USERS.put_op(&new_key, &rec, Expect::Absent)?);
            // The user's access keys follow it.
            let old_owner = user.value.name.to_lowercase();
            let new_owner = new_name.to_lowercase();
            for id in self.key_ids(account, Some(&user.value.name)).await? {
                if let Some(mut k) = records::KEYS.get(&*self.id.store, &id).await? {
                    k.value.user = Some(new_name.clone());
                    ops.push(records::KEYS.put_op(&id, &k.value, Expect::Version(k.version))?);
                }
                ops.push(
                    records::USER_KEYS
                        .delete_op(&format!("{account}/{old_owner}/{id}"), Expect::Any),
                );
                ops.push(records::USER_KEYS.put_op(
                    &format!("{account}/{new_owner}/{id}"),
                    &serde_json::Value::Null,
                    Expect::Any,
                )?);
            }
            ops.extend(
                self.rename_user_records(account, &user.value.name, &new_name)
                    .await?,
            );
            ops.extend(
                super::credentials::rename_credentials(
                    &*self.id.store,
                    account,
                    &user.value.name,
                    &new_name,
                )
                .await?,
            );
            ops.extend(
                self.rename_mfa_user(account, &user.value.name, &new_name)
                    .await?,
            );
        }
        let name = new_name.clone();
        records::DB
            .commit_or(&*self.id.store, ops, || {
                exists(format!("User with name {name} already exists."))
            })
            .await
    }

    pub(super) async fn update_group(
        &self,
        ctx: &RequestContext,
        req: s::UpdateGroupRequest,
    ) -> Result<(), AwsError> {
        let group = self.load_group(ctx, &req.group_name).await?;
        self.allow(ctx, "iam:UpdateGroup", &group.value.arn).await?;
        if let Some(p) = &req.new_path {
            check_path(p)?;
        }
        let mut rec = group.value.clone();
        if let Some(p) = req.new_path {
            rec.path = p;
        }
        let new_name = req.new_group_name.unwrap_or_else(|| rec.name.clone());
        rec.name.clone_from(&new_name);
        rec.arn = Self::arn(ctx, "group", &rec.path, &new_name);
        let account = &ctx.caller.account;
        let old_key = name_key(account, &group.value.name);
        let new_key = name_key(account, &new_name);
        let mut ops = Vec::new();
        if old_key == new_key {
            ops.push(records::GROUPS.put_op(&old_key, &rec, Expect::Version(group.version))?);
        } else {
            ops.push(records::GROUPS.delete_op(&old_key, Expect::Version(group.version)));
            ops.push(records::GROUPS.put_op(&new_key, &rec, Expect::Absent)?);
        }
        // Members keep their membership under the new name.
        let users: Vec<(String, UserRecord)> = records::USERS
            .list(&*self.id.store, &format!("{account}/"), None, 10_000)
            .await?;
        for (key, mut u) in users {
            let mut changed = false;
            for g in &mut u.groups {
                if g.eq_ignore_ascii_case(&group.value.name) {
                    g.clone_from(&new_name);
                    changed = true;
                }
            }
            if changed {
                ops.push(records::USERS.put_op(&key, &u, Expect::Any)?);
            }
        }
        let name = new_name.clone();
        records::DB
            .commit_or(&*self.id.store, ops, || {
                exists(format!("Group with name {name} already exists."))
            })
            .await
    }

    pub(super) async fn update_role(
        &self,
        ctx: &RequestContext,
        req: s::UpdateRoleRequest,
    ) -> Result<(), AwsError> {
        let mut role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:UpdateRole", &role.value.arn).await?;
        if let Some(d) = req.max_session_duration {
            if !SESSION_RANGE.contains(&d) {
                return Err(AwsError::validation(
                    "ValidationError",
                    format!("The requested duration {d} seconds is not within the allowed range of 3600 to 43200 seconds."),
                ));
            }
            role.value.max_session = i64::from(d);
        }
        if let Some(d) = req.description {
            role.value.description = Some(d);
        }
        self.save(
            ns::ROLE,
            &name_key(&ctx.caller.account, &req.role_name),
            &role.value,
            role.version,
        )
        .await
    }

    pub(super) async fn update_role_description(
        &self,
        ctx: &RequestContext,
        req: s::UpdateRoleDescriptionRequest,
    ) -> Result<s::UpdateRoleDescriptionResponse, AwsError> {
        let mut role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:UpdateRoleDescription", &role.value.arn)
            .await?;
        role.value.description = Some(req.description);
        self.save(
            ns::ROLE,
            &name_key(&ctx.caller.account, &req.role_name),
            &role.value,
            role.version,
        )
        .await?;
        Ok(s::UpdateRoleDescriptionResponse {
            role: Some(role_shape(&role.value, super::View::Get)),
        })
    }

    // ---- group policies ----

    pub(super) async fn get_group_policy(
        &self,
        ctx: &RequestContext,
        req: s::GetGroupPolicyRequest,
    ) -> Result<s::GetGroupPolicyResponse, AwsError> {
        let (owner, doc) = self
            .get_inline::<GroupRecord>(ctx, &req.group_name, "iam:GetGroupPolicy", &req.policy_name)
            .await?;
        Ok(s::GetGroupPolicyResponse {
            group_name: owner,
            policy_document: doc,
            policy_name: req.policy_name,
        })
    }

    pub(super) async fn delete_group_policy(
        &self,
        ctx: &RequestContext,
        req: s::DeleteGroupPolicyRequest,
    ) -> Result<(), AwsError> {
        self.delete_inline::<GroupRecord>(
            ctx,
            &req.group_name,
            "iam:DeleteGroupPolicy",
            &req.policy_name,
        )
        .await
    }

    pub(super) async fn list_group_policies(
        &self,
        ctx: &RequestContext,
        req: s::ListGroupPoliciesRequest,
    ) -> Result<s::ListGroupPoliciesResponse, AwsError> {
        let group = self.load_group(ctx, &req.group_name).await?;
        self.allow(ctx, "iam:ListGroupPolicies", &group.value.arn)
            .await?;
        let names: Vec<(String, String)> = group
            .value
            .inline
            .keys()
            .map(|k| (k.clone(), k.clone()))
            .collect();
        let (policy_names, marker) =
            self.page("iam:ListGroupPolicies", names, &req.marker, req.max_items)?;
        Ok(s::ListGroupPoliciesResponse {
            is_truncated: Some(marker.is_some()),
            marker,
            policy_names,
        })
    }

    pub(super) async fn detach_group_policy(
        &self,
        ctx: &RequestContext,
        req: s::DetachGroupPolicyRequest,
    ) -> Result<(), AwsError> {
        self.detach::<GroupRecord>(
            ctx,
            &req.group_name,
            "iam:DetachGroupPolicy",
            &req.policy_arn,
        )
        .await
    }

    pub(super) async fn list_attached_group_policies(
        &self,
        ctx: &RequestContext,
        req: s::ListAttachedGroupPoliciesRequest,
    ) -> Result<s::ListAttachedGroupPoliciesResponse, AwsError> {
        let group = self.load_group(ctx, &req.group_name).await?;
        self.allow(ctx, "iam:ListAttachedGroupPolicies", &group.value.arn)
            .await?;
        let (policies, marker) = self.attached_page(
            "iam:ListAttachedGroupPolicies",
            &group.value.attached,
            req.path_prefix,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListAttachedGroupPoliciesResponse {
            attached_policies: Some(policies),
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    // ---- role tags ----

    pub(super) async fn tag_role(
        &self,
        ctx: &RequestContext,
        req: s::TagRoleRequest,
    ) -> Result<(), AwsError> {
        let mut role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:TagRole", &role.value.arn).await?;
        TAG_RULES.check(req.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())))?;
        merge_tags(&mut role.value.tags, req.tags);
        if role.value.tags.len() > tags::MAX_TAGS {
            return Err(AwsError::new(
                "LimitExceeded",
                409,
                "Cannot exceed quota for TagsPerRole: 50",
            ));
        }
        self.save(
            ns::ROLE,
            &name_key(&ctx.caller.account, &req.role_name),
            &role.value,
            role.version,
        )
        .await
    }

    pub(super) async fn untag_role(
        &self,
        ctx: &RequestContext,
        req: s::UntagRoleRequest,
    ) -> Result<(), AwsError> {
        let mut role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:UntagRole", &role.value.arn).await?;
        remove_tags(&mut role.value.tags, &req.tag_keys);
        self.save(
            ns::ROLE,
            &name_key(&ctx.caller.account, &req.role_name),
            &role.value,
            role.version,
        )
        .await
    }

    pub(super) async fn list_role_tags(
        &self,
        ctx: &RequestContext,
        req: s::ListRoleTagsRequest,
    ) -> Result<s::ListRoleTagsResponse, AwsError> {
        let role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:ListRoleTags", &role.value.arn).await?;
        let (tags, marker) = tag_page(
            "iam:ListRoleTags",
            &role.value.tags,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListRoleTagsResponse {
            is_truncated: Some(marker.is_some()),
            marker,
            tags,
        })
    }

    // ---- permissions boundaries ----

    pub(super) async fn put_user_permissions_boundary(
        &self,
        ctx: &RequestContext,
        req: s::PutUserPermissionsBoundaryRequest,
    ) -> Result<(), AwsError> {
        let mut user = self.load_user(ctx, &req.user_name).await?;
        self.allow(ctx, "iam:PutUserPermissionsBoundary", &user.value.arn)
            .await?;
        self.boundary_policy(ctx, &req.permissions_boundary).await?;
        user.value.boundary = Some(req.permissions_boundary);
        self.store_holder(ctx, &user).await
    }

    pub(super) async fn delete_user_permissions_boundary(
        &self,
        ctx: &RequestContext,
        req: s::DeleteUserPermissionsBoundaryRequest,
    ) -> Result<(), AwsError> {
        let mut user = self.load_user(ctx, &req.user_name).await?;
        self.allow(ctx, "iam:DeleteUserPermissionsBoundary", &user.value.arn)
            .await?;
        user.value.boundary = None;
        self.store_holder(ctx, &user).await
    }

    pub(super) async fn put_role_permissions_boundary(
        &self,
        ctx: &RequestContext,
        req: s::PutRolePermissionsBoundaryRequest,
    ) -> Result<(), AwsError> {
        let mut role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:PutRolePermissionsBoundary", &role.value.arn)
            .await?;
        self.boundary_policy(ctx, &req.permissions_boundary).await?;
        role.value.boundary = Some(req.permissions_boundary);
        self.store_holder(ctx, &role).await
    }

    pub(super) async fn delete_role_permissions_boundary(
        &self,
        ctx: &RequestContext,
        req: s::DeleteRolePermissionsBoundaryRequest,
    ) -> Result<(), AwsError> {
        let mut role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:DeleteRolePermissionsBoundary", &role.value.arn)
            .await?;
        role.value.boundary = None;
        self.store_holder(ctx, &role).await
    }

    /// One page of an entity's attached managed policies under `path_prefix`.
    pub(super) fn attached_page(
        &self,
        scope: &str,
        arns: &[String],
        path_prefix: Option<String>,
        marker: &Option<String>,
        max: Option<i32>,
    ) -> Result<(Vec<s::AttachedPolicy>, Option<String>), AwsError> {
        let prefix = path_prefix.unwrap_or_else(|| "/".into());
        let items: Vec<(String, s::AttachedPolicy)> = attached(arns)
            .into_iter()
            .filter(|p| policy_path(p.policy_arn.as_deref().unwrap_or("")).starts_with(&prefix))
            .map(|p| (p.policy_arn.clone().unwrap_or_default(), p))
            .collect();
        self.page(scope, items, marker, max)
    }

    /// One page of `items` (ordered by key) after an IAM `Marker`.
    pub(super) fn page<T>(
        &self,
        scope: &str,
        mut items: Vec<(String, T)>,
        marker: &Option<String>,
        max: Option<i32>,
    ) -> Result<(Vec<T>, Option<String>), AwsError> {
        items.sort_by(|a, b| a.0.cmp(&b.0));
        rampart_service::paging::page_after(
            scope,
            items,
            marker.as_deref(),
            super::max_items(max),
            invalid_marker,
        )
    }
}

/// IAM's answer to a marker it did not issue.
pub(super) fn invalid_marker() -> AwsError {
    AwsError::validation("ValidationError", "Invalid Marker.")
}

/// One page of a resource's tags.
pub(super) fn tag_page(
    scope: &str,
    tags: &[(String, String)],
    marker: &Option<String>,
    max: Option<i32>,
) -> Result<(Vec<s::Tag>, Option<String>), AwsError> {
    let items: Vec<s::Tag> = tags
        .iter()
        .map(|(k, v)| s::Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect();
    rampart_service::paging::page_from(
        scope,
        items,
        marker.as_deref(),
        super::max_items(max),
        invalid_marker,
    )
}

/// The path of a managed policy from its ARN (`arn:aws:iam::aws:policy/service-role/X` →
/// `/service-role/`).
pub(super) fn policy_path(arn: &str) -> String {
    let rest = arn.split_once(":policy").map_or("", |(_, r)| r);
    match rest.rfind('/') {
        Some(i) => rest[..=i].to_owned(),
        None => "/".to_owned(),
    }
}
