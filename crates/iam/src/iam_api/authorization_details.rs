//! GetAccountAuthorizationDetails: every user, group, role and managed policy of the account
//! with their policies, in one paged answer (users, then groups, then roles, then policies).
//! AWS managed policies appear only while something in the account uses them, as in IAM.

use rampart_service::{tags, AwsError, RequestContext};

use super::managed_policies::{managed_policy_id, managed_policy_shape};
use super::{attached, boundary_shape, encode_doc, ts, IamService};
use crate::managed;
use crate::records::{self, GroupRecord, PolicyRecord, RoleRecord, UserRecord};
use crate::shapes::iam as s;

/// One entry of the answer before it is split into its four lists.
enum Detail {
    User(s::UserDetail),
    Group(s::GroupDetail),
    Role(Box<s::RoleDetail>),
    Policy(s::ManagedPolicyDetail),
}

fn inline_list(
    inline: &std::collections::BTreeMap<String, String>,
) -> Option<Vec<s::PolicyDetail>> {
    Some(
        inline
            .iter()
            .map(|(name, doc)| s::PolicyDetail {
                policy_name: Some(name.clone()),
                policy_document: Some(encode_doc(doc)),
            })
            .collect(),
    )
}

fn local_policy_detail(p: &PolicyRecord, boundary_uses: i32) -> s::ManagedPolicyDetail {
    s::ManagedPolicyDetail {
        arn: Some(p.arn.clone()),
        attachment_count: i32::try_from(p.attachments).ok(),
        create_date: Some(ts(p.created)),
        default_version_id: Some(p.default_version.clone()),
        description: p.description.clone(),
        is_attachable: Some(true),
        path: Some(p.path.clone()),
        permissions_boundary_usage_count: Some(boundary_uses),
        policy_id: Some(p.id.clone()),
        policy_name: Some(p.name.clone()),
        policy_version_list: Some(
            p.versions
                .iter()
                .map(|v| s::PolicyVersion {
                    create_date: Some(ts(v.created)),
                    document: Some(encode_doc(&v.document)),
                    is_default_version: Some(v.id == p.default_version),
                    version_id: Some(v.id.clone()),
                })
                .collect(),
        ),
        update_date: Some(ts(p.updated)),
    }
}

impl IamService {
    pub(super) async fn get_account_authorization_details(
        &self,
        ctx: &RequestContext,
        req: s::GetAccountAuthorizationDetailsRequest,
    ) -> Result<s::GetAccountAuthorizationDetailsResponse, AwsError> {
        self.allow(ctx, "iam:GetAccountAuthorizationDetails", "*")
            .await?;
        let filter = req.filter.unwrap_or_default();
        let wants = |t: &str| filter.is_empty() || filter.iter().any(|f| f == t);
        let store = &*self.id.store;
        let prefix = format!("{}/", ctx.caller.account);
        let mut items: Vec<(String, Detail)> = Vec::new();

        if wants("User") {
            let users: Vec<(String, UserRecord)> =
                records::USERS.list(store, &prefix, None, 10_000).await?;
            for (k, u) in users {
                items.push((
                    format!("1/{k}"),
                    Detail::User(s::UserDetail {
                        arn: Some(u.arn.clone()),
                        attached_managed_policies: Some(attached(&u.attached)),
                        create_date: Some(ts(u.created)),
                        group_list: Some(u.groups.clone()),
                        path: Some(u.path.clone()),
                        permissions_boundary: boundary_shape(u.boundary.as_ref()),
                        tags: tags::shapes_or_none(&u.tags),
                        user_id: Some(u.id.clone()),
                        user_name: Some(u.name.clone()),
                        user_policy_list: inline_list(&u.inline),
                    }),
                ));
            }
        }
        if wants("Group") {
            let groups: Vec<(String, GroupRecord)> =
                records::GROUPS.list(store, &prefix, None, 10_000).await?;
            for (k, g) in groups {
                items.push((
                    format!("2/{k}"),
                    Detail::Group(s::GroupDetail {
                        arn: Some(g.arn.clone()),
                        attached_managed_policies: Some(attached(&g.attached)),
                        create_date: Some(ts(g.created)),
                        group_id: Some(g.id.clone()),
                        group_name: Some(g.name.clone()),
                        group_policy_list: inline_list(&g.inline),
                        path: Some(g.path.clone()),
                    }),
                ));
            }
        }
        if wants("Role") {
            let roles: Vec<(String, RoleRecord)> =
                records::ROLES.list(store, &prefix, None, 10_000).await?;
            let profiles = self.profiles_with_roles(ctx).await?;
            for (k, r) in roles {
                let lower = r.name.to_lowercase();
                items.push((
                    format!("3/{k}"),
                    Detail::Role(Box::new(s::RoleDetail {
                        arn: Some(r.arn.clone()),
                        assume_role_policy_document: Some(encode_doc(&r.trust_policy)),
                        attached_managed_policies: Some(attached(&r.attached)),
                        create_date: Some(ts(r.created)),
                        instance_profile_list: Some(
                            profiles
                                .iter()
                                .filter(|(names, _)| names.contains(&lower))
                                .map(|(_, p)| p.clone())
                                .collect(),
                        ),
                        path: Some(r.path.clone()),
                        permissions_boundary: boundary_shape(r.boundary.as_ref()),
                        role_id: Some(r.id.clone()),
                        role_last_used: Some(s::RoleLastUsed {
                            last_used_date: r.last_used.map(ts),
                            region: r.last_used_region.clone(),
                        }),
                        role_name: Some(r.name.clone()),
                        role_policy_list: inline_list(&r.inline),
                        tags: tags::shapes_or_none(&r.tags),
                    })),
                ));
            }
        }
        if wants("LocalManagedPolicy") || wants("AWSManagedPolicy") {
            let usage = self.policy_usage(ctx).await?;
            if wants("LocalManagedPolicy") {
                let policies: Vec<(String, PolicyRecord)> =
                    records::POLICIES.list(store, &prefix, None, 10_000).await?;
                for (k, p) in policies {
                    let uses = usage.boundary_uses(&p.arn);
                    items.push((
                        format!("4/{k}"),
                        Detail::Policy(local_policy_detail(&p, uses)),
                    ));
                }
            }
            if wants("AWSManagedPolicy") {
                for (name, path, doc) in managed::AWS_MANAGED {
                    let shape = managed_policy_shape(name, path, &usage);
                    let used = shape.attachment_count.unwrap_or(0) > 0
                        || shape.permissions_boundary_usage_count.unwrap_or(0) > 0;
                    if !used {
                        continue;
                    }
                    items.push((
                        format!("5/{}", managed_policy_id(name)),
                        Detail::Policy(s::ManagedPolicyDetail {
                            arn: shape.arn,
                            attachment_count: shape.attachment_count,
                            create_date: shape.create_date,
                            default_version_id: shape.default_version_id,
                            description: None,
                            is_attachable: Some(true),
                            path: shape.path,
                            permissions_boundary_usage_count: shape
                                .permissions_boundary_usage_count,
                            policy_id: shape.policy_id,
                            policy_name: shape.policy_name,
                            policy_version_list: Some(vec![s::PolicyVersion {
                                create_date: shape.create_date,
                                document: Some(encode_doc(doc)),
                                is_default_version: Some(true),
                                version_id: Some("v1".into()),
                            }]),
                            update_date: shape.update_date,
                        }),
                    ));
                }
            }
        }

        let (page, marker) = self.page(
            "iam:GetAccountAuthorizationDetails",
            items,
            &req.marker,
            req.max_items,
        )?;
        let mut out = s::GetAccountAuthorizationDetailsResponse {
            group_detail_list: Some(Vec::new()),
            is_truncated: Some(marker.is_some()),
            marker,
            policies: Some(Vec::new()),
            role_detail_list: Some(Vec::new()),
            user_detail_list: Some(Vec::new()),
        };
        for d in page {
            match d {
                Detail::User(u) => out.user_detail_list.get_or_insert_with(Vec::new).push(u),
                Detail::Group(g) => out.group_detail_list.get_or_insert_with(Vec::new).push(g),
                Detail::Role(r) => out.role_detail_list.get_or_insert_with(Vec::new).push(*r),
                Detail::Policy(p) => out.policies.get_or_insert_with(Vec::new).push(p),
            }
        }
        Ok(out)
    }
}
