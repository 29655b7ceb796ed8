//! Instance profiles: containers for at most one role, which EC2 instances (and Inspector's
//! and Firewall Manager's views of them) carry.

use serde::{Deserialize, Serialize};

use rampart_service::table::Table;
use rampart_service::{tags, AwsError, RequestContext};
use rampart_store::Expect;

use super::entities::{check_path, merge_tags, remove_tags, tag_page};
use super::{conflict, exists, ids, no_such, path_or_root, role_shape, ts, IamService, TAG_RULES};
use crate::records::{self, name_key, RoleRecord, Versioned};
use crate::shapes::iam as s;

/// Instance profiles by `account/lowercase-name`.
const PROFILES: Table<ProfileRecord> = records::DB.table("iam.instanceprofile");

/// An instance profile.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProfileRecord {
    name: String,
    /// `AIPA…`
    id: String,
    path: String,
    arn: String,
    created: i64,
    /// Role names (IAM allows one).
    roles: Vec<String>,
    tags: Vec<(String, String)>,
}

/// How many instance profiles an account has.
pub(super) async fn count(
    store: &dyn rampart_store::Store,
    account: &str,
) -> Result<usize, AwsError> {
    Ok(PROFILES
        .list(store, &format!("{account}/"), None, 100_000)
        .await?
        .len())
}

/// Whether any instance profile of the account holds the role.
pub(super) async fn holds_role(
    store: &dyn rampart_store::Store,
    account: &str,
    role: &str,
) -> Result<bool, AwsError> {
    Ok(PROFILES
        .list(store, &format!("{account}/"), None, 100_000)
        .await?
        .iter()
        .any(|(_, p)| p.roles.iter().any(|r| r.eq_ignore_ascii_case(role))))
}

impl IamService {
    async fn load_profile(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<Versioned<ProfileRecord>, AwsError> {
        PROFILES
            .get(&*self.id.store, &name_key(&ctx.caller.account, name))
            .await?
            .ok_or_else(|| no_such(&format!("Instance Profile {name} cannot be found.")))
    }

    async fn save_profile(
        &self,
        ctx: &RequestContext,
        p: &Versioned<ProfileRecord>,
    ) -> Result<(), AwsError> {
        let op = PROFILES.put_op(
            &name_key(&ctx.caller.account, &p.value.name),
            &p.value,
            Expect::Version(p.version),
        )?;
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    async fn profile_shape(
        &self,
        ctx: &RequestContext,
        p: &ProfileRecord,
    ) -> Result<s::InstanceProfile, AwsError> {
        let mut roles = Vec::new();
        for r in &p.roles {
            let role: Option<Versioned<RoleRecord>> = records::ROLES
                .get(&*self.id.store, &name_key(&ctx.caller.account, r))
                .await?;
            if let Some(role) = role {
                roles.push(role_shape(&role.value, super::View::Create));
            }
        }
        Ok(s::InstanceProfile {
            arn: p.arn.clone(),
            create_date: ts(p.created),
            instance_profile_id: p.id.clone(),
            instance_profile_name: p.name.clone(),
            path: p.path.clone(),
            roles,
            tags: tags::shapes_or_none(&p.tags),
        })
    }

    /// Every instance profile of the account, with the (lowercase) names of the roles it holds.
    pub(super) async fn profiles_with_roles(
        &self,
        ctx: &RequestContext,
    ) -> Result<Vec<(Vec<String>, s::InstanceProfile)>, AwsError> {
        let all: Vec<(String, ProfileRecord)> = PROFILES
            .list(
                &*self.id.store,
                &format!("{}/", ctx.caller.account),
                None,
                100_000,
            )
            .await?;
        let mut out = Vec::with_capacity(all.len());
        for (_, p) in &all {
            let roles = p.roles.iter().map(|r| r.to_lowercase()).collect();
            out.push((roles, self.profile_shape(ctx, p).await?));
        }
        Ok(out)
    }

    pub(super) async fn create_instance_profile(
        &self,
        ctx: &RequestContext,
        req: s::CreateInstanceProfileRequest,
    ) -> Result<s::CreateInstanceProfileResponse, AwsError> {
        let path = path_or_root(req.path);
        check_path(&path)?;
        let arn = Self::arn(ctx, "instance-profile", &path, &req.instance_profile_name);
        self.allow(ctx, "iam:CreateInstanceProfile", &arn).await?;
        let rec = ProfileRecord {
            name: req.instance_profile_name.clone(),
            id: ids::unique_id("AIPA")?,
            path,
            arn,
            created: self.now_ms(),
            roles: Vec::new(),
            tags: TAG_RULES.on_create(req.tags.unwrap_or_default())?,
        };
        let op = PROFILES.put_op(
            &name_key(&ctx.caller.account, &rec.name),
            &rec,
            Expect::Absent,
        )?;
        let name = rec.name.clone();
        records::DB
            .commit_or(&*self.id.store, vec![op], || {
                exists(format!("Instance Profile {name} already exists."))
            })
            .await?;
        Ok(s::CreateInstanceProfileResponse {
            instance_profile: self.profile_shape(ctx, &rec).await?,
        })
    }

    pub(super) async fn get_instance_profile(
        &self,
        ctx: &RequestContext,
        req: s::GetInstanceProfileRequest,
    ) -> Result<s::GetInstanceProfileResponse, AwsError> {
        let p = self.load_profile(ctx, &req.instance_profile_name).await?;
        self.allow(ctx, "iam:GetInstanceProfile", &p.value.arn)
            .await?;
        Ok(s::GetInstanceProfileResponse {
            instance_profile: self.profile_shape(ctx, &p.value).await?,
        })
    }

    pub(super) async fn delete_instance_profile(
        &self,
        ctx: &RequestContext,
        req: s::DeleteInstanceProfileRequest,
    ) -> Result<(), AwsError> {
        let p = self.load_profile(ctx, &req.instance_profile_name).await?;
        self.allow(ctx, "iam:DeleteInstanceProfile", &p.value.arn)
            .await?;
        if !p.value.roles.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must remove roles from instance profile first.",
            ));
        }
        let op = PROFILES.delete_op(
            &name_key(&ctx.caller.account, &p.value.name),
            Expect::Version(p.version),
        );
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    pub(super) async fn list_instance_profiles(
        &self,
        ctx: &RequestContext,
        req: s::ListInstanceProfilesRequest,
    ) -> Result<s::ListInstanceProfilesResponse, AwsError> {
        self.allow(
            ctx,
            "iam:ListInstanceProfiles",
            &Self::arn(ctx, "instance-profile", "/", ""),
        )
        .await?;
        let prefix = req.path_prefix.unwrap_or_else(|| "/".into());
        let all: Vec<(String, ProfileRecord)> = PROFILES
            .list(
                &*self.id.store,
                &format!("{}/", ctx.caller.account),
                None,
                100_000,
            )
            .await?;
        let items = all
            .into_iter()
            .filter(|(_, p)| p.path.starts_with(&prefix))
            .collect();
        let (page, marker) = self.page(
            "iam:ListInstanceProfiles",
            items,
            &req.marker,
            req.max_items,
        )?;
        let mut out = Vec::with_capacity(page.len());
        for p in &page {
            out.push(self.profile_shape(ctx, p).await?);
        }
        Ok(s::ListInstanceProfilesResponse {
            instance_profiles: out,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    pub(super) async fn list_instance_profiles_for_role(
        &self,
        ctx: &RequestContext,
        req: s::ListInstanceProfilesForRoleRequest,
    ) -> Result<s::ListInstanceProfilesForRoleResponse, AwsError> {
        let role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:ListInstanceProfilesForRole", &role.value.arn)
            .await?;
        let all: Vec<(String, ProfileRecord)> = PROFILES
            .list(
                &*self.id.store,
                &format!("{}/", ctx.caller.account),
                None,
                100_000,
            )
            .await?;
        let items = all
            .into_iter()
            .filter(|(_, p)| {
                p.roles
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(&role.value.name))
            })
            .collect();
        let (page, marker) = self.page(
            "iam:ListInstanceProfilesForRole",
            items,
            &req.marker,
            req.max_items,
        )?;
        let mut out = Vec::with_capacity(page.len());
        for p in &page {
            out.push(self.profile_shape(ctx, p).await?);
        }
        Ok(s::ListInstanceProfilesForRoleResponse {
            instance_profiles: out,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    pub(super) async fn add_role_to_instance_profile(
        &self,
        ctx: &RequestContext,
        req: s::AddRoleToInstanceProfileRequest,
    ) -> Result<(), AwsError> {
        let mut p = self.load_profile(ctx, &req.instance_profile_name).await?;
        self.allow(ctx, "iam:AddRoleToInstanceProfile", &p.value.arn)
            .await?;
        let role = self.load_role(ctx, &req.role_name).await?;
        if !p.value.roles.is_empty() {
            return Err(AwsError::new(
                "LimitExceeded",
                409,
                "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
            ));
        }
        p.value.roles.push(role.value.name);
        self.save_profile(ctx, &p).await
    }

    pub(super) async fn remove_role_from_instance_profile(
        &self,
        ctx: &RequestContext,
        req: s::RemoveRoleFromInstanceProfileRequest,
    ) -> Result<(), AwsError> {
        let mut p = self.load_profile(ctx, &req.instance_profile_name).await?;
        self.allow(ctx, "iam:RemoveRoleFromInstanceProfile", &p.value.arn)
            .await?;
        let before = p.value.roles.len();
        p.value
            .roles
            .retain(|r| !r.eq_ignore_ascii_case(&req.role_name));
        if p.value.roles.len() == before {
            return Err(no_such(&format!(
                "The role with name {} cannot be found.",
                req.role_name
            )));
        }
        self.save_profile(ctx, &p).await
    }

    pub(super) async fn tag_instance_profile(
        &self,
        ctx: &RequestContext,
        req: s::TagInstanceProfileRequest,
    ) -> Result<(), AwsError> {
        let mut p = self.load_profile(ctx, &req.instance_profile_name).await?;
        self.allow(ctx, "iam:TagInstanceProfile", &p.value.arn)
            .await?;
        TAG_RULES.check(req.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())))?;
        merge_tags(&mut p.value.tags, req.tags);
        if p.value.tags.len() > tags::MAX_TAGS {
            return Err(AwsError::new(
                "LimitExceeded",
                409,
                "Cannot exceed quota for TagsPerInstanceProfile: 50",
            ));
        }
        self.save_profile(ctx, &p).await
    }

    pub(super) async fn untag_instance_profile(
        &self,
        ctx: &RequestContext,
        req: s::UntagInstanceProfileRequest,
    ) -> Result<(), AwsError> {
        let mut p = self.load_profile(ctx, &req.instance_profile_name).await?;
        self.allow(ctx, "iam:UntagInstanceProfile", &p.value.arn)
            .await?;
        remove_tags(&mut p.value.tags, &req.tag_keys);
        self.save_profile(ctx, &p).await
    }

    pub(super) async fn list_instance_profile_tags(
        &self,
        ctx: &RequestContext,
        req: s::ListInstanceProfileTagsRequest,
    ) -> Result<s::ListInstanceProfileTagsResponse, AwsError> {
        let p = self.load_profile(ctx, &req.instance_profile_name).await?;
        self.allow(ctx, "iam:ListInstanceProfileTags", &p.value.arn)
            .await?;
        let (tags, marker) = tag_page(
            "iam:ListInstanceProfileTags",
            &p.value.tags,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListInstanceProfileTagsResponse {
            is_truncated: Some(marker.is_some()),
            marker,
            tags,
        })
    }
}
