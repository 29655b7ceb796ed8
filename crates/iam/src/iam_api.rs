//! The IAM API (awsQuery): users, access keys, roles, groups, managed and inline policies.

use std::sync::Arc;

use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use rampart_policy::Policy;
use rampart_protocol::model::ServiceModel;
use rampart_protocol::types::Timestamp;
use rampart_service::{operations, AwsError, RequestContext, Service};
use rampart_service::{paging, tags};
use rampart_store::Expect;

use crate::principals::PolicyHolder;
use crate::records::{
    self, name_key, ns, GroupRecord, KeyRecord, PolicyRecord, PolicyVersion, RoleRecord,
    UserRecord, Versioned,
};
use crate::shapes::iam as s;
use crate::{ids, managed, Identity};

mod account;
mod authorization_details;
mod credential_report;
mod credentials;
mod entities;
mod instance_profiles;
mod managed_policies;
mod mfa_devices;
mod organizations;
mod policies;
pub(crate) mod providers;
mod server_certificates;
mod service_linked_roles;
mod simulator;

/// Documents are returned URL-encoded, as IAM does (the SDKs decode them).
const DOC_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode_doc(doc: &str) -> String {
    utf8_percent_encode(doc, DOC_ENCODE).to_string()
}

/// Most access keys a user (or root) may have.
pub const ACCESS_KEYS_PER_USER: usize = 2;
/// Most entities per listing page.
const MAX_ITEMS_DEFAULT: usize = 100;

/// The IAM service.
pub struct IamService {
    id: Arc<Identity>,
}

operations!(IamService {
    "CreateUser" => create_user,
    "GetUser" => get_user,
    "ListUsers" => list_users,
    "DeleteUser" => delete_user,
    "CreateAccessKey" => create_access_key,
    "ListAccessKeys" => list_access_keys,
    "DeleteAccessKey" => delete_access_key,
    "UpdateAccessKey" => update_access_key,
    "PutUserPolicy" => put_user_policy,
    "GetUserPolicy" => get_user_policy,
    "DeleteUserPolicy" => delete_user_policy,
    "ListUserPolicies" => list_user_policies,
    "CreatePolicy" => create_policy,
    "GetPolicy" => get_policy,
    "GetPolicyVersion" => get_policy_version,
    "DeletePolicy" => delete_policy,
    "AttachUserPolicy" => attach_user_policy,
    "DetachUserPolicy" => detach_user_policy,
    "ListAttachedUserPolicies" => list_attached_user_policies,
    "CreateRole" => create_role,
    "GetRole" => get_role,
    "DeleteRole" => delete_role,
    "PutRolePolicy" => put_role_policy,
    "GetRolePolicy" => get_role_policy,
    "DeleteRolePolicy" => delete_role_policy,
    "AttachRolePolicy" => attach_role_policy,
    "DetachRolePolicy" => detach_role_policy,
    "ListAttachedRolePolicies" => list_attached_role_policies,
    "UpdateAssumeRolePolicy" => update_assume_role_policy,
    "CreateGroup" => create_group,
    "AddUserToGroup" => add_user_to_group,
    "PutGroupPolicy" => put_group_policy,
    "AttachGroupPolicy" => attach_group_policy,
    "ListRoles" => list_roles,
    "ListRolePolicies" => list_role_policies,
    "ListPolicies" => list_policies,
    "ListGroups" => list_groups,
    "GetGroup" => get_group,
    "ListGroupsForUser" => list_groups_for_user,
    "RemoveUserFromGroup" => remove_user_from_group,
    "DeleteGroup" => delete_group,
    "TagUser" => tag_user,
    "UntagUser" => untag_user,
    "ListUserTags" => list_user_tags,
    "UpdateUser" => update_user,
    "UpdateGroup" => update_group,
    "UpdateRole" => update_role,
    "UpdateRoleDescription" => update_role_description,
    "GetGroupPolicy" => get_group_policy,
    "DeleteGroupPolicy" => delete_group_policy,
    "ListGroupPolicies" => list_group_policies,
    "DetachGroupPolicy" => detach_group_policy,
    "ListAttachedGroupPolicies" => list_attached_group_policies,
    "TagRole" => tag_role,
    "UntagRole" => untag_role,
    "ListRoleTags" => list_role_tags,
    "PutUserPermissionsBoundary" => put_user_permissions_boundary,
    "DeleteUserPermissionsBoundary" => delete_user_permissions_boundary,
    "PutRolePermissionsBoundary" => put_role_permissions_boundary,
    "DeleteRolePermissionsBoundary" => delete_role_permissions_boundary,
    "CreatePolicyVersion" => create_policy_version,
    "DeletePolicyVersion" => delete_policy_version,
    "ListPolicyVersions" => list_policy_versions,
    "SetDefaultPolicyVersion" => set_default_policy_version,
    "TagPolicy" => tag_policy,
    "UntagPolicy" => untag_policy,
    "ListPolicyTags" => list_policy_tags,
    "ListEntitiesForPolicy" => list_entities_for_policy,
    "CreateInstanceProfile" => create_instance_profile,
    "GetInstanceProfile" => get_instance_profile,
    "DeleteInstanceProfile" => delete_instance_profile,
    "ListInstanceProfiles" => list_instance_profiles,
    "ListInstanceProfilesForRole" => list_instance_profiles_for_role,
    "AddRoleToInstanceProfile" => add_role_to_instance_profile,
    "RemoveRoleFromInstanceProfile" => remove_role_from_instance_profile,
    "TagInstanceProfile" => tag_instance_profile,
    "UntagInstanceProfile" => untag_instance_profile,
    "ListInstanceProfileTags" => list_instance_profile_tags,
    "CreateAccountAlias" => create_account_alias,
    "DeleteAccountAlias" => delete_account_alias,
    "ListAccountAliases" => list_account_aliases,
    "UpdateAccountPasswordPolicy" => update_account_password_policy,
    "GetAccountPasswordPolicy" => get_account_password_policy,
    "DeleteAccountPasswordPolicy" => delete_account_password_policy,
    "GetAccountSummary" => get_account_summary,
    "CreateLoginProfile" => create_login_profile,
    "GetLoginProfile" => get_login_profile,
    "UpdateLoginProfile" => update_login_profile,
    "DeleteLoginProfile" => delete_login_profile,
    "ChangePassword" => change_password,
    "SimulatePrincipalPolicy" => simulate_principal_policy,
    "SimulateCustomPolicy" => simulate_custom_policy,
    "GetContextKeysForCustomPolicy" => get_context_keys_for_custom_policy,
    "GetContextKeysForPrincipalPolicy" => get_context_keys_for_principal_policy,
    "CreateVirtualMFADevice" => create_virtual_mfa_device,
    "EnableMFADevice" => enable_mfa_device,
    "ResyncMFADevice" => resync_mfa_device,
    "DeactivateMFADevice" => deactivate_mfa_device,
    "DeleteVirtualMFADevice" => delete_virtual_mfa_device,
    "ListMFADevices" => list_mfa_devices,
    "GetMFADevice" => get_mfa_device,
    "ListVirtualMFADevices" => list_virtual_mfa_devices,
    "TagMFADevice" => tag_mfa_device,
    "UntagMFADevice" => untag_mfa_device,
    "ListMFADeviceTags" => list_mfa_device_tags,
    "UploadSSHPublicKey" => upload_ssh_public_key,
    "GetSSHPublicKey" => get_ssh_public_key,
    "ListSSHPublicKeys" => list_ssh_public_keys,
    "UpdateSSHPublicKey" => update_ssh_public_key,
    "DeleteSSHPublicKey" => delete_ssh_public_key,
    "UploadSigningCertificate" => upload_signing_certificate,
    "ListSigningCertificates" => list_signing_certificates,
    "UpdateSigningCertificate" => update_signing_certificate,
    "DeleteSigningCertificate" => delete_signing_certificate,
    "CreateServiceSpecificCredential" => create_service_specific_credential,
    "ResetServiceSpecificCredential" => reset_service_specific_credential,
    "ListServiceSpecificCredentials" => list_service_specific_credentials,
    "UpdateServiceSpecificCredential" => update_service_specific_credential,
    "DeleteServiceSpecificCredential" => delete_service_specific_credential,
    "UploadServerCertificate" => upload_server_certificate,
    "GetServerCertificate" => get_server_certificate,
    "ListServerCertificates" => list_server_certificates,
    "UpdateServerCertificate" => update_server_certificate,
    "DeleteServerCertificate" => delete_server_certificate,
    "TagServerCertificate" => tag_server_certificate,
    "UntagServerCertificate" => untag_server_certificate,
    "ListServerCertificateTags" => list_server_certificate_tags,
    "CreateOpenIDConnectProvider" => create_open_id_connect_provider,
    "GetOpenIDConnectProvider" => get_open_id_connect_provider,
    "ListOpenIDConnectProviders" => list_open_id_connect_providers,
    "DeleteOpenIDConnectProvider" => delete_open_id_connect_provider,
    "AddClientIDToOpenIDConnectProvider" => add_client_id_to_open_id_connect_provider,
    "RemoveClientIDFromOpenIDConnectProvider" => remove_client_id_from_open_id_connect_provider,
    "UpdateOpenIDConnectProviderThumbprint" => update_open_id_connect_provider_thumbprint,
    "TagOpenIDConnectProvider" => tag_open_id_connect_provider,
    "UntagOpenIDConnectProvider" => untag_open_id_connect_provider,
    "ListOpenIDConnectProviderTags" => list_open_id_connect_provider_tags,
    "CreateSAMLProvider" => create_saml_provider,
    "GetSAMLProvider" => get_saml_provider,
    "UpdateSAMLProvider" => update_saml_provider,
    "DeleteSAMLProvider" => delete_saml_provider,
    "ListSAMLProviders" => list_saml_providers,
    "TagSAMLProvider" => tag_saml_provider,
    "UntagSAMLProvider" => untag_saml_provider,
    "ListSAMLProviderTags" => list_saml_provider_tags,
    "GenerateCredentialReport" => generate_credential_report,
    "GetCredentialReport" => get_credential_report,
    "GetAccessKeyLastUsed" => get_access_key_last_used,
    "CreateServiceLinkedRole" => create_service_linked_role,
    "DeleteServiceLinkedRole" => delete_service_linked_role,
    "GetServiceLinkedRoleDeletionStatus" => get_service_linked_role_deletion_status,
    "EnableOrganizationsRootCredentialsManagement" => enable_organizations_root_credentials_management,
    "DisableOrganizationsRootCredentialsManagement" => disable_organizations_root_credentials_management,
    "EnableOrganizationsRootSessions" => enable_organizations_root_sessions,
    "DisableOrganizationsRootSessions" => disable_organizations_root_sessions,
    "ListOrganizationsFeatures" => list_organizations_features,
    "GetAccountAuthorizationDetails" => get_account_authorization_details,
});

#[async_trait]
impl Service for IamService {
    fn model(&self) -> &'static ServiceModel {
        &rampart_protocol::generated::iam::MODEL
    }
    fn implemented(&self) -> &'static [&'static str] {
        Self::IMPLEMENTED
    }
    async fn call(&self, ctx: &RequestContext, input: Value) -> Result<Value, AwsError> {
        self.dispatch(ctx, input).await
    }
}

fn no_such(what: &str) -> AwsError {
    AwsError::new("NoSuchEntity", 404, what.to_owned())
}

fn exists(what: String) -> AwsError {
    AwsError::new("EntityAlreadyExists", 409, what)
}

fn conflict(what: &str) -> AwsError {
    AwsError::new("DeleteConflict", 409, what.to_owned())
}

pub(crate) fn concurrent() -> AwsError {
    AwsError::new("ConcurrentModification", 409, "The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.")
}

fn malformed(e: &rampart_policy::PolicyError) -> AwsError {
    AwsError::new("MalformedPolicyDocument", 400, e.to_string())
}

fn check_identity_policy(doc: &str) -> Result<(), AwsError> {
    let p = Policy::parse(doc).map_err(|e| malformed(&e))?;
    p.validate(rampart_policy::PolicyKind::Identity)
        .map_err(|e| malformed(&e))
}

fn check_trust_policy(doc: &str) -> Result<(), AwsError> {
    let p = Policy::parse(doc).map_err(|e| malformed(&e))?;
    p.validate(rampart_policy::PolicyKind::Trust)
        .map_err(|e| malformed(&e))
}

fn path_or_root(path: Option<String>) -> String {
    path.unwrap_or_else(|| "/".to_owned())
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// IAM's answer to broken tag rules: only the quota is enforced here.
fn tag_error(v: &tags::Violation) -> Option<AwsError> {
    match v {
        tags::Violation::TooMany { .. } => Some(AwsError::new(
            "LimitExceeded",
            409,
            "Cannot exceed quota for TagsPerUser: 50",
        )),
        _ => None,
    }
}

/// IAM's tag rules.
const TAG_RULES: tags::Rules = tags::Rules {
    max: tags::MAX_TAGS,
    reserved_any_case: false,
    answer: tag_error,
};

impl tags::TagShape for s::Tag {
    fn from_pair(key: String, value: String) -> Self {
        s::Tag { key, value }
    }
    fn into_pair(self) -> (String, String) {
        (self.key, self.value)
    }
}

/// Which operation a user, role or policy is described for: AWS returns a different subset
/// of members in each (its API Reference examples and the model's notes on listings).
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    /// `Create*`: what was given, no usage data.
    Create,
    /// `Get*`: every member.
    Get,
    /// `List*` (and GetGroup's users): no tags, boundaries or last use.
    List,
}

fn boundary_shape(b: Option<&String>) -> Option<s::AttachedPermissionsBoundary> {
    b.map(|b| s::AttachedPermissionsBoundary {
        permissions_boundary_arn: Some(b.clone()),
        permissions_boundary_type: Some("PermissionsBoundaryPolicy".into()),
    })
}

fn user_shape(u: &UserRecord, view: View) -> s::User {
    let full = view != View::List;
    s::User {
        arn: u.arn.clone(),
        create_date: ts(u.created),
        path: u.path.clone(),
        user_id: u.id.clone(),
        user_name: u.name.clone(),
        tags: tags::shapes_or_none(&u.tags).filter(|_| full),
        permissions_boundary: boundary_shape(u.boundary.as_ref()).filter(|_| full),
        ..Default::default()
    }
}

fn role_shape(r: &RoleRecord, view: View) -> s::Role {
    s::Role {
        arn: r.arn.clone(),
        assume_role_policy_document: Some(encode_doc(&r.trust_policy)),
        create_date: ts(r.created),
        description: r.description.clone(),
        max_session_duration: i32::try_from(r.max_session)
            .ok()
            .filter(|_| view != View::Create),
        path: r.path.clone(),
        role_id: r.id.clone(),
        role_name: r.name.clone(),
        tags: tags::shapes_or_none(&r.tags).filter(|_| view != View::List),
        permissions_boundary: boundary_shape(r.boundary.as_ref()).filter(|_| view != View::List),
        // Empty until the role is first used.
        role_last_used: (view == View::Get).then(|| s::RoleLastUsed {
            last_used_date: r.last_used.map(ts),
            region: r.last_used_region.clone(),
        }),
        ..Default::default()
    }
}

fn policy_shape(p: &PolicyRecord, view: View) -> s::Policy {
    let listing = view == View::List;
    s::Policy {
        arn: Some(p.arn.clone()),
        attachment_count: i32::try_from(p.attachments).ok(),
        create_date: Some(ts(p.created)),
        default_version_id: Some(p.default_version.clone()),
        description: p.description.clone().filter(|_| !listing),
        is_attachable: Some(true),
        path: Some(p.path.clone()),
        // A new policy bounds no one yet; CreatePolicy reports the 0 (the CLI's create-policy
        // example), GetPolicy does not report the member.
        permissions_boundary_usage_count: (listing || view == View::Create).then_some(0),
        policy_id: Some(p.id.clone()),
        policy_name: Some(p.name.clone()),
        tags: tags::shapes_or_none(&p.tags).filter(|_| !listing),
        update_date: Some(ts(p.updated)),
    }
}

/// A policy ARN IAM can parse: `arn:<partition>:iam::<account or aws>:policy/<path/name>`.
fn check_policy_arn(arn: &str) -> Result<(), AwsError> {
    let ok = rampart_service::Arn::parse(arn).is_some_and(|a| {
        arn.starts_with("arn:")
            && a.service == "iam"
            && a.region.is_empty()
            && (a.account == "aws"
                || (a.account.len() == 12 && a.account.bytes().all(|b| b.is_ascii_digit())))
            && a.resource
                .strip_prefix("policy/")
                .is_some_and(|r| !r.is_empty() && !r.ends_with('/'))
    });
    if ok {
        Ok(())
    } else {
        Err(AwsError::new(
            "ValidationError",
            400,
            format!("ARN {arn} is not valid."),
        ))
    }
}

fn group_shape(g: &GroupRecord) -> s::Group {
    s::Group {
        arn: g.arn.clone(),
        create_date: ts(g.created),
        group_id: g.id.clone(),
        group_name: g.name.clone(),
        path: g.path.clone(),
    }
}

fn max_items(m: Option<i32>) -> usize {
    m.and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(MAX_ITEMS_DEFAULT)
        .min(1000)
}

impl IamService {
    /// The IAM service over shared identity state.
    #[must_use]
    pub fn new(id: Arc<Identity>) -> Self {
        IamService { id }
    }

    fn now_ms(&self) -> i64 {
        self.id.now().timestamp_millis()
    }

    async fn allow(
        &self,
        ctx: &RequestContext,
        action: &str,
        resource: &str,
    ) -> Result<(), AwsError> {
        ctx.note_resource("AWS::IAM", resource);
        ctx.authorize(
            action,
            resource,
            &ctx.caller.account,
            None,
            &rampart_policy::Context::new(),
        )
        .await
    }

    fn arn(ctx: &RequestContext, kind: &str, path: &str, name: &str) -> String {
        format!(
            "arn:{}:iam::{}:{kind}{path}{name}",
            ctx.partition, ctx.caller.account
        )
    }

    /// One page of an account's users, roles or groups under `path_prefix`, and the marker of
    /// the next page.
    async fn list_by_path<E: PolicyHolder>(
        &self,
        ctx: &RequestContext,
        path_prefix: Option<String>,
        marker: Option<String>,
        max: Option<i32>,
    ) -> Result<(Vec<E>, Option<String>), AwsError> {
        const CHUNK: usize = 500;
        let max = max_items(max);
        let path_prefix = path_prefix.unwrap_or_else(|| "/".into());
        let prefix = format!("{}/", ctx.caller.account);
        let mut after = marker;
        let mut out: Vec<(String, E)> = Vec::new();
        loop {
            let batch: Vec<(String, E)> = records::DB
                .table::<E>(E::NS)
                .list(&*self.id.store, &prefix, after.as_deref(), CHUNK)
                .await?;
            let done = batch.len() < CHUNK;
            for (key, e) in batch {
                after = Some(key.clone());
                if !e.path().starts_with(&path_prefix) {
                    continue;
                }
                if out.len() == max {
                    let next = out.last().map(|(k, _)| k.clone());
                    return Ok((out.into_iter().map(|(_, e)| e).collect(), next));
                }
                out.push((key, e));
            }
            if done {
                return Ok((out.into_iter().map(|(_, e)| e).collect(), None));
            }
        }
    }

    async fn load<E: PolicyHolder>(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<Versioned<E>, AwsError> {
        records::DB
            .table::<E>(E::NS)
            .get(&*self.id.store, &name_key(&ctx.caller.account, name))
            .await?
            .ok_or_else(|| {
                no_such(&format!(
                    "The {} with name {name} cannot be found.",
                    E::NOUN
                ))
            })
    }

    async fn store_holder<E: PolicyHolder>(
        &self,
        ctx: &RequestContext,
        e: &Versioned<E>,
    ) -> Result<(), AwsError> {
        self.save(
            E::NS,
            &name_key(&ctx.caller.account, e.value.name()),
            &e.value,
            e.version,
        )
        .await
    }

    async fn put_inline<E: PolicyHolder>(
        &self,
        ctx: &RequestContext,
        name: &str,
        action: &str,
        policy_name: String,
        doc: String,
    ) -> Result<(), AwsError> {
        let mut e = self.load::<E>(ctx, name).await?;
        self.allow(ctx, action, e.value.arn()).await?;
        check_identity_policy(&doc)?;
        e.value.inline_mut().insert(policy_name, doc);
        self.store_holder(ctx, &e).await
    }

    /// The owner's name and the URL-encoded document of an inline policy.
    async fn get_inline<E: PolicyHolder>(
        &self,
        ctx: &RequestContext,
        name: &str,
        action: &str,
        policy_name: &str,
    ) -> Result<(String, String), AwsError> {
        let e = self.load::<E>(ctx, name).await?;
        self.allow(ctx, action, e.value.arn()).await?;
        let doc = e.value.inline().get(policy_name).ok_or_else(|| {
            no_such(&format!(
                "The {} policy with name {policy_name} cannot be found.",
                E::NOUN
            ))
        })?;
        Ok((e.value.name().to_owned(), encode_doc(doc)))
    }

    async fn delete_inline<E: PolicyHolder>(
        &self,
        ctx: &RequestContext,
        name: &str,
        action: &str,
        policy_name: &str,
    ) -> Result<(), AwsError> {
        let mut e = self.load::<E>(ctx, name).await?;
        self.allow(ctx, action, e.value.arn()).await?;
        if e.value.inline_mut().remove(policy_name).is_none() {
            return Err(no_such(&format!(
                "The {} policy with name {policy_name} cannot be found.",
                E::NOUN
            )));
        }
        self.store_holder(ctx, &e).await
    }

    async fn attach<E: PolicyHolder>(
        &self,
        ctx: &RequestContext,
        name: &str,
        action: &str,
        policy_arn: &str,
    ) -> Result<(), AwsError> {
        check_policy_arn(policy_arn)?;
        let mut e = self.load::<E>(ctx, name).await?;
        self.allow(ctx, action, e.value.arn()).await?;
        self.attachable(ctx, policy_arn).await?;
        if e.value.attached_mut().iter().any(|a| a == policy_arn) {
            return Ok(());
        }
        if e.value.attached_mut().len() >= 10 {
            return Err(AwsError::new(
                "LimitExceeded",
                409,
                format!("Cannot exceed quota for {}: 10", E::ATTACH_QUOTA),
            ));
        }
        e.value.attached_mut().push(policy_arn.to_owned());
        self.store_holder(ctx, &e).await?;
        self.bump_attachments(ctx, policy_arn, 1).await
    }

    async fn detach<E: PolicyHolder>(
        &self,
        ctx: &RequestContext,
        name: &str,
        action: &str,
        policy_arn: &str,
    ) -> Result<(), AwsError> {
        check_policy_arn(policy_arn)?;
        let mut e = self.load::<E>(ctx, name).await?;
        self.allow(ctx, action, e.value.arn()).await?;
        let attached = e.value.attached_mut();
        let before = attached.len();
        attached.retain(|a| a != policy_arn);
        if attached.len() == before {
            return Err(no_such(&format!("Policy {policy_arn} was not found.")));
        }
        self.store_holder(ctx, &e).await?;
        self.bump_attachments(ctx, policy_arn, -1).await
    }

    async fn load_user(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<Versioned<UserRecord>, AwsError> {
        self.load::<UserRecord>(ctx, name).await
    }

    async fn load_role(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<Versioned<RoleRecord>, AwsError> {
        self.load::<RoleRecord>(ctx, name).await
    }

    async fn load_group(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<Versioned<GroupRecord>, AwsError> {
        self.load::<GroupRecord>(ctx, name).await
    }

    async fn save<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        namespace: &'static str,
        key: &str,
        value: &T,
        version: u64,
    ) -> Result<(), AwsError> {
        let op = records::DB
            .table::<T>(namespace)
            .put_op(key, value, Expect::Version(version))?;
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    /// The managed policy behind `arn`, customer (with its store version) or AWS managed.
    async fn load_policy(
        &self,
        ctx: &RequestContext,
        arn: &str,
    ) -> Result<Option<Versioned<PolicyRecord>>, AwsError> {
        let prefix = format!("arn:{}:iam::{}:policy/", ctx.partition, ctx.caller.account);
        let Some(rest) = arn.strip_prefix(&prefix) else {
            return Ok(None);
        };
        let name = rest.rsplit('/').next().unwrap_or(rest);
        let rec: Option<Versioned<PolicyRecord>> = records::POLICIES
            .get(&*self.id.store, &name_key(&ctx.caller.account, name))
            .await?;
        Ok(rec.filter(|r| r.value.arn == arn))
    }

    async fn attachable(
        &self,
        ctx: &RequestContext,
        arn: &str,
    ) -> Result<Option<Versioned<PolicyRecord>>, AwsError> {
        if managed::aws_managed(arn).is_some() {
            return Ok(None);
        }
        match self.load_policy(ctx, arn).await? {
            Some(p) => Ok(Some(p)),
            None => Err(no_such(&format!(
                "Policy {arn} does not exist or is not attachable."
            ))),
        }
    }

    async fn bump_attachments(
        &self,
        ctx: &RequestContext,
        arn: &str,
        delta: i64,
    ) -> Result<(), AwsError> {
        if let Some(mut p) = self.load_policy(ctx, arn).await? {
            p.value.attachments = (p.value.attachments + delta).max(0);
            let key = name_key(&ctx.caller.account, &p.value.name);
            self.save(ns::POLICY, &key, &p.value, p.version).await?;
        }
        Ok(())
    }

    // ---- users ----

    async fn create_user(
        &self,
        ctx: &RequestContext,
        req: s::CreateUserRequest,
    ) -> Result<s::CreateUserResponse, AwsError> {
        let path = path_or_root(req.path);
        let arn = Self::arn(ctx, "user", &path, &req.user_name);
        self.allow(ctx, "iam:CreateUser", &arn).await?;
        let rec = UserRecord {
            name: req.user_name.clone(),
            id: ids::unique_id("AIDA")?,
            path,
            arn,
            created: self.now_ms(),
            tags: TAG_RULES.on_create(req.tags.unwrap_or_default())?,
            boundary: req.permissions_boundary,
            ..Default::default()
        };
        let op = records::USERS.put_op(
            &name_key(&ctx.caller.account, &req.user_name),
            &rec,
            Expect::Absent,
        )?;
        let name = req.user_name.clone();
        records::DB
            .commit_or(&*self.id.store, vec![op], || {
                exists(format!("User with name {name} already exists."))
            })
            .await?;
        Ok(s::CreateUserResponse {
            user: Some(user_shape(&rec, View::Create)),
        })
    }

    async fn get_user(
        &self,
        ctx: &RequestContext,
        req: s::GetUserRequest,
    ) -> Result<s::GetUserResponse, AwsError> {
        let Some(name) = req.user_name else {
            // Without a name, GetUser describes the caller.
            self.allow(ctx, "iam:GetUser", &ctx.caller.arn).await?;
            return match &ctx.caller.principal {
                rampart_policy::Principal::User { name, .. } => Ok(s::GetUserResponse {
                    user: user_shape(&self.load_user(ctx, name).await?.value, View::Get),
                }),
                rampart_policy::Principal::Root { account } => Ok(s::GetUserResponse {
                    user: s::User {
                        arn: ctx.caller.arn.clone(),
                        create_date: ts(0),
                        path: "/".into(),
                        user_id: account.clone(),
                        user_name: String::new(),
                        ..Default::default()
                    },
                }),
                _ => Err(AwsError::validation(
                    "ValidationError",
                    "Must specify userName when calling with non-User credentials",
                )),
            };
        };
        let user = self.load_user(ctx, &name).await;
        let arn = user.as_ref().map_or_else(
            |_| Self::arn(ctx, "user", "/", &name),
            |u| u.value.arn.clone(),
        );
        self.allow(ctx, "iam:GetUser", &arn).await?;
        Ok(s::GetUserResponse {
            user: user_shape(&user?.value, View::Get),
        })
    }

    async fn list_users(
        &self,
        ctx: &RequestContext,
        req: s::ListUsersRequest,
    ) -> Result<s::ListUsersResponse, AwsError> {
        self.allow(ctx, "iam:ListUsers", &Self::arn(ctx, "user", "/", ""))
            .await?;
        let (items, marker) = self
            .list_by_path::<UserRecord>(ctx, req.path_prefix, req.marker, req.max_items)
            .await?;
        Ok(s::ListUsersResponse {
            users: items.iter().map(|u| user_shape(u, View::List)).collect(),
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    async fn delete_user(
        &self,
        ctx: &RequestContext,
        req: s::DeleteUserRequest,
    ) -> Result<(), AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?;
        self.allow(ctx, "iam:DeleteUser", &user.value.arn).await?;
        if !user.value.inline.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !user.value.attached.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        if !user.value.groups.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must remove user from all groups first.",
            ));
        }
        if account::LOGIN_PROFILES
            .get(
                &*self.id.store,
                &name_key(&ctx.caller.account, &req.user_name),
            )
            .await?
            .is_some()
        {
            return Err(conflict(
                "Cannot delete entity, must delete login profile first.",
            ));
        }
        if let Some(msg) =
            credentials::blocking_credentials(&*self.id.store, &ctx.caller.account, &req.user_name)
                .await?
        {
            return Err(conflict(msg));
        }
        if self
            .user_has_mfa(&ctx.caller.account, &req.user_name)
            .await?
        {
            return Err(conflict(
                "Cannot delete entity, must delete MFA device first.",
            ));
        }
        let keys = self
            .key_ids(&ctx.caller.account, Some(&req.user_name))
            .await?;
        if !keys.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must delete access keys first.",
            ));
        }
        let op = records::USERS.delete_op(
            &name_key(&ctx.caller.account, &req.user_name),
            Expect::Version(user.version),
        );
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    // ---- access keys ----

    async fn key_ids(&self, account: &str, user: Option<&str>) -> Result<Vec<String>, AwsError> {
        let owner = user.map_or_else(|| "#root".to_owned(), str::to_lowercase);
        let prefix = format!("{account}/{owner}/");
        let items = self
            .id
            .store
            .list(ns::USER_KEY, &prefix, None, 100)
            .await
            .map_err(|_| AwsError::internal())?;
        Ok(items
            .into_iter()
            .filter_map(|i| i.key.rsplit('/').next().map(str::to_owned))
            .collect())
    }

    /// The user a key operation targets: the named user, or the caller itself.
    async fn key_owner(
        &self,
        ctx: &RequestContext,
        user_name: Option<String>,
    ) -> Result<(Option<String>, String), AwsError> {
        match user_name {
            Some(name) => {
                let user = self.load_user(ctx, &name).await?;
                Ok((Some(user.value.name), user.value.arn))
            }
            None => match &ctx.caller.principal {
                rampart_policy::Principal::User { name, arn, .. } => {
                    Ok((Some(name.clone()), arn.clone()))
                }
                rampart_policy::Principal::Root { .. } => Ok((None, ctx.caller.arn.clone())),
                _ => Err(AwsError::validation(
                    "ValidationError",
                    "Must specify userName when calling with non-User credentials",
                )),
            },
        }
    }

    async fn create_access_key(
        &self,
        ctx: &RequestContext,
        req: s::CreateAccessKeyRequest,
    ) -> Result<s::CreateAccessKeyResponse, AwsError> {
        let (user, arn) = self.key_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:CreateAccessKey", &arn).await?;
        if self
            .key_ids(&ctx.caller.account, user.as_deref())
            .await?
            .len()
            >= ACCESS_KEYS_PER_USER
        {
            return Err(AwsError::new(
                "LimitExceeded",
                409,
                format!("Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}"),
            ));
        }
        let (issued, rec) = self
            .id
            .create_access_key(&ctx.caller.account, user.as_deref(), Vec::new())
            .await?;
        let secret = String::from_utf8_lossy(issued.secret.expose()).into_owned();
        Ok(s::CreateAccessKeyResponse {
            access_key: s::AccessKey {
                access_key_id: issued.access_key_id,
                create_date: Some(ts(rec.created)),
                secret_access_key: secret,
                status: rec.status,
                user_name: user.unwrap_or_default(),
            },
        })
    }

    async fn load_key(
        &self,
        ctx: &RequestContext,
        id: &str,
        user: Option<&str>,
    ) -> Result<Versioned<KeyRecord>, AwsError> {
        let missing = || no_such(&format!("The Access Key with id {id} cannot be found."));
        let key: Versioned<KeyRecord> = records::KEYS
            .get(&*self.id.store, id)
            .await?
            .ok_or_else(missing)?;
        let same_owner =
            key.value.user.as_deref().map(str::to_lowercase) == user.map(str::to_lowercase);
        if key.value.account != ctx.caller.account || !same_owner {
            return Err(missing());
        }
        Ok(key)
    }

    async fn list_access_keys(
        &self,
        ctx: &RequestContext,
        req: s::ListAccessKeysRequest,
    ) -> Result<s::ListAccessKeysResponse, AwsError> {
        let (user, arn) = self.key_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:ListAccessKeys", &arn).await?;
        let mut out = Vec::new();
        for id in self.key_ids(&ctx.caller.account, user.as_deref()).await? {
            if let Some(k) = records::KEYS.get(&*self.id.store, &id).await? {
                out.push((
                    id,
                    s::AccessKeyMetadata {
                        access_key_id: Some(k.value.id),
                        create_date: Some(ts(k.value.created)),
                        status: Some(k.value.status),
                        user_name: user.clone(),
                    },
                ));
            }
        }
        let (access_key_metadata, marker) =
            self.page("iam:ListAccessKeys", out, &req.marker, req.max_items)?;
        Ok(s::ListAccessKeysResponse {
            access_key_metadata,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    async fn delete_access_key(
        &self,
        ctx: &RequestContext,
        req: s::DeleteAccessKeyRequest,
    ) -> Result<(), AwsError> {
        let (user, arn) = self.key_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:DeleteAccessKey", &arn).await?;
        let key = self
            .load_key(ctx, &req.access_key_id, user.as_deref())
            .await?;
        let owner = user.map_or_else(|| "#root".to_owned(), |u| u.to_lowercase());
        let ops = vec![
            records::KEYS.delete_op(&req.access_key_id, Expect::Version(key.version)),
            records::USER_KEYS.delete_op(
                &format!("{}/{owner}/{}", ctx.caller.account, req.access_key_id),
                Expect::Any,
            ),
        ];
        records::DB.commit(&*self.id.store, ops).await
    }

    async fn update_access_key(
        &self,
        ctx: &RequestContext,
        req: s::UpdateAccessKeyRequest,
    ) -> Result<(), AwsError> {
        let (user, arn) = self.key_owner(ctx, req.user_name).await?;
        self.allow(ctx, "iam:UpdateAccessKey", &arn).await?;
        let mut key = self
            .load_key(ctx, &req.access_key_id, user.as_deref())
            .await?;
        key.value.status = req.status;
        self.save(ns::KEY, &req.access_key_id, &key.value, key.version)
            .await
    }

    // ---- inline user policies ----

    async fn put_user_policy(
        &self,
        ctx: &RequestContext,
        req: s::PutUserPolicyRequest,
    ) -> Result<(), AwsError> {
        self.put_inline::<UserRecord>(
            ctx,
            &req.user_name,
            "iam:PutUserPolicy",
            req.policy_name,
            req.policy_document,
        )
        .await
    }

    async fn get_user_policy(
        &self,
        ctx: &RequestContext,
        req: s::GetUserPolicyRequest,
    ) -> Result<s::GetUserPolicyResponse, AwsError> {
        let (owner, doc) = self
            .get_inline::<UserRecord>(ctx, &req.user_name, "iam:GetUserPolicy", &req.policy_name)
            .await?;
        Ok(s::GetUserPolicyResponse {
            policy_document: doc,
            policy_name: req.policy_name,
            user_name: owner,
        })
    }

    async fn delete_user_policy(
        &self,
        ctx: &RequestContext,
        req: s::DeleteUserPolicyRequest,
    ) -> Result<(), AwsError> {
        self.delete_inline::<UserRecord>(
            ctx,
            &req.user_name,
            "iam:DeleteUserPolicy",
            &req.policy_name,
        )
        .await
    }

    async fn list_user_policies(
        &self,
        ctx: &RequestContext,
        req: s::ListUserPoliciesRequest,
    ) -> Result<s::ListUserPoliciesResponse, AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?;
        self.allow(ctx, "iam:ListUserPolicies", &user.value.arn)
            .await?;
        let names: Vec<(String, String)> = user
            .value
            .inline
            .keys()
            .map(|k| (k.clone(), k.clone()))
            .collect();
        let (policy_names, marker) =
            self.page("iam:ListUserPolicies", names, &req.marker, req.max_items)?;
        Ok(s::ListUserPoliciesResponse {
            policy_names,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    // ---- managed policies ----

    async fn create_policy(
        &self,
        ctx: &RequestContext,
        req: s::CreatePolicyRequest,
    ) -> Result<s::CreatePolicyResponse, AwsError> {
        let path = path_or_root(req.path);
        let arn = Self::arn(ctx, "policy", &path, &req.policy_name);
        self.allow(ctx, "iam:CreatePolicy", &arn).await?;
        check_identity_policy(&req.policy_document)?;
        let now = self.now_ms();
        let rec = PolicyRecord {
            name: req.policy_name.clone(),
            id: ids::unique_id("ANPA")?,
            path,
            arn,
            description: req.description,
            created: now,
            updated: now,
            default_version: "v1".into(),
            versions: vec![PolicyVersion {
                id: "v1".into(),
                document: req.policy_document,
                created: now,
            }],
            next_version: 2,
            attachments: 0,
            tags: TAG_RULES.on_create(req.tags.unwrap_or_default())?,
        };
        let op = records::POLICIES.put_op(
            &name_key(&ctx.caller.account, &req.policy_name),
            &rec,
            Expect::Absent,
        )?;
        let name = req.policy_name.clone();
        records::DB
            .commit_or(&*self.id.store, vec![op], || {
                exists(format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                ))
            })
            .await?;
        Ok(s::CreatePolicyResponse {
            policy: Some(policy_shape(&rec, View::Create)),
        })
    }

    async fn get_policy(
        &self,
        ctx: &RequestContext,
        req: s::GetPolicyRequest,
    ) -> Result<s::GetPolicyResponse, AwsError> {
        check_policy_arn(&req.policy_arn)?;
        self.allow(ctx, "iam:GetPolicy", &req.policy_arn).await?;
        if managed::aws_managed(&req.policy_arn).is_some() {
            let rest = req.policy_arn.split_once(":policy").map_or("", |(_, r)| r);
            let (path, name) = rest.rsplit_once('/').unwrap_or(("", rest));
            let usage = self.policy_usage(ctx).await?;
            return Ok(s::GetPolicyResponse {
                policy: Some(managed_policies::managed_policy_shape(
                    name,
                    &format!("{path}/"),
                    &usage,
                )),
            });
        }
        let p = self
            .load_policy(ctx, &req.policy_arn)
            .await?
            .ok_or_else(|| no_such(&format!("Policy {} was not found.", req.policy_arn)))?;
        Ok(s::GetPolicyResponse {
            policy: Some(policy_shape(&p.value, View::Get)),
        })
    }

    async fn get_policy_version(
        &self,
        ctx: &RequestContext,
        req: s::GetPolicyVersionRequest,
    ) -> Result<s::GetPolicyVersionResponse, AwsError> {
        check_policy_arn(&req.policy_arn)?;
        self.allow(ctx, "iam:GetPolicyVersion", &req.policy_arn)
            .await?;
        let missing = || {
            no_such(&format!(
                "Policy {} version {} does not exist or is not attachable.",
                req.policy_arn, req.version_id
            ))
        };
        let (doc, created, default) = if let Some(doc) = managed::aws_managed(&req.policy_arn) {
            if req.version_id != "v1" {
                return Err(missing());
            }
            (doc.to_owned(), 0, true)
        } else {
            let p = self
                .load_policy(ctx, &req.policy_arn)
                .await?
                .ok_or_else(missing)?;
            let v = p
                .value
                .versions
                .iter()
                .find(|v| v.id == req.version_id)
                .ok_or_else(missing)?;
            (
                v.document.clone(),
                v.created,
                p.value.default_version == v.id,
            )
        };
        Ok(s::GetPolicyVersionResponse {
            policy_version: Some(s::PolicyVersion {
                create_date: Some(ts(created)),
                document: Some(encode_doc(&doc)),
                is_default_version: Some(default),
                version_id: Some(req.version_id),
            }),
        })
    }

    async fn delete_policy(
        &self,
        ctx: &RequestContext,
        req: s::DeletePolicyRequest,
    ) -> Result<(), AwsError> {
        check_policy_arn(&req.policy_arn)?;
        self.allow(ctx, "iam:DeletePolicy", &req.policy_arn).await?;
        let p = self
            .load_policy(ctx, &req.policy_arn)
            .await?
            .ok_or_else(|| no_such(&format!("Policy {} was not found.", req.policy_arn)))?;
        if p.value.attachments > 0 {
            return Err(conflict("Cannot delete a policy attached to entities."));
        }
        let op = records::POLICIES.delete_op(
            &name_key(&ctx.caller.account, &p.value.name),
            Expect::Version(p.version),
        );
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    async fn attach_user_policy(
        &self,
        ctx: &RequestContext,
        req: s::AttachUserPolicyRequest,
    ) -> Result<(), AwsError> {
        self.attach::<UserRecord>(ctx, &req.user_name, "iam:AttachUserPolicy", &req.policy_arn)
            .await
    }

    async fn detach_user_policy(
        &self,
        ctx: &RequestContext,
        req: s::DetachUserPolicyRequest,
    ) -> Result<(), AwsError> {
        self.detach::<UserRecord>(ctx, &req.user_name, "iam:DetachUserPolicy", &req.policy_arn)
            .await
    }

    async fn list_attached_user_policies(
        &self,
        ctx: &RequestContext,
        req: s::ListAttachedUserPoliciesRequest,
    ) -> Result<s::ListAttachedUserPoliciesResponse, AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?;
        self.allow(ctx, "iam:ListAttachedUserPolicies", &user.value.arn)
            .await?;
        let (policies, marker) = self.attached_page(
            "iam:ListAttachedUserPolicies",
            &user.value.attached,
            req.path_prefix,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListAttachedUserPoliciesResponse {
            attached_policies: Some(policies),
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    // ---- roles ----

    async fn create_role(
        &self,
        ctx: &RequestContext,
        req: s::CreateRoleRequest,
    ) -> Result<s::CreateRoleResponse, AwsError> {
        let path = path_or_root(req.path);
        let arn = Self::arn(ctx, "role", &path, &req.role_name);
        self.allow(ctx, "iam:CreateRole", &arn).await?;
        check_trust_policy(&req.assume_role_policy_document)?;
        let rec = RoleRecord {
            name: req.role_name.clone(),
            id: ids::unique_id("AROA")?,
            path,
            arn,
            created: self.now_ms(),
            trust_policy: req.assume_role_policy_document,
            description: req.description,
            max_session: i64::from(req.max_session_duration.unwrap_or(3600)),
            boundary: req.permissions_boundary,
            tags: TAG_RULES.on_create(req.tags.unwrap_or_default())?,
            ..Default::default()
        };
        let op = records::ROLES.put_op(
            &name_key(&ctx.caller.account, &req.role_name),
            &rec,
            Expect::Absent,
        )?;
        let name = req.role_name.clone();
        records::DB
            .commit_or(&*self.id.store, vec![op], || {
                exists(format!("Role with name {name} already exists."))
            })
            .await?;
        Ok(s::CreateRoleResponse {
            role: role_shape(&rec, View::Create),
        })
    }

    async fn get_role(
        &self,
        ctx: &RequestContext,
        req: s::GetRoleRequest,
    ) -> Result<s::GetRoleResponse, AwsError> {
        let role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:GetRole", &role.value.arn).await?;
        Ok(s::GetRoleResponse {
            role: role_shape(&role.value, View::Get),
        })
    }

    async fn delete_role(
        &self,
        ctx: &RequestContext,
        req: s::DeleteRoleRequest,
    ) -> Result<(), AwsError> {
        let role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:DeleteRole", &role.value.arn).await?;
        if service_linked_roles::is_service_linked(&role.value) {
            return Err(service_linked_roles::unmodifiable(&role.value.name));
        }
        if !role.value.inline.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !role.value.attached.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        if instance_profiles::holds_role(&*self.id.store, &ctx.caller.account, &role.value.name)
            .await?
        {
            return Err(conflict(
                "Cannot delete entity, must remove roles from instance profile first.",
            ));
        }
        let op = records::ROLES.delete_op(
            &name_key(&ctx.caller.account, &req.role_name),
            Expect::Version(role.version),
        );
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    async fn put_role_policy(
        &self,
        ctx: &RequestContext,
        req: s::PutRolePolicyRequest,
    ) -> Result<(), AwsError> {
        self.refuse_service_linked(ctx, &req.role_name).await?;
        self.put_inline::<RoleRecord>(
            ctx,
            &req.role_name,
            "iam:PutRolePolicy",
            req.policy_name,
            req.policy_document,
        )
        .await
    }

    async fn get_role_policy(
        &self,
        ctx: &RequestContext,
        req: s::GetRolePolicyRequest,
    ) -> Result<s::GetRolePolicyResponse, AwsError> {
        let (owner, doc) = self
            .get_inline::<RoleRecord>(ctx, &req.role_name, "iam:GetRolePolicy", &req.policy_name)
            .await?;
        Ok(s::GetRolePolicyResponse {
            policy_document: doc,
            policy_name: req.policy_name,
            role_name: owner,
        })
    }

    async fn delete_role_policy(
        &self,
        ctx: &RequestContext,
        req: s::DeleteRolePolicyRequest,
    ) -> Result<(), AwsError> {
        self.refuse_service_linked(ctx, &req.role_name).await?;
        self.delete_inline::<RoleRecord>(
            ctx,
            &req.role_name,
            "iam:DeleteRolePolicy",
            &req.policy_name,
        )
        .await
    }

    async fn attach_role_policy(
        &self,
        ctx: &RequestContext,
        req: s::AttachRolePolicyRequest,
    ) -> Result<(), AwsError> {
        self.refuse_service_linked(ctx, &req.role_name).await?;
        self.attach::<RoleRecord>(ctx, &req.role_name, "iam:AttachRolePolicy", &req.policy_arn)
            .await
    }

    async fn detach_role_policy(
        &self,
        ctx: &RequestContext,
        req: s::DetachRolePolicyRequest,
    ) -> Result<(), AwsError> {
        self.refuse_service_linked(ctx, &req.role_name).await?;
        self.detach::<RoleRecord>(ctx, &req.role_name, "iam:DetachRolePolicy", &req.policy_arn)
            .await
    }

    async fn list_attached_role_policies(
        &self,
        ctx: &RequestContext,
        req: s::ListAttachedRolePoliciesRequest,
    ) -> Result<s::ListAttachedRolePoliciesResponse, AwsError> {
        let role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:ListAttachedRolePolicies", &role.value.arn)
            .await?;
        let (policies, marker) = self.attached_page(
            "iam:ListAttachedRolePolicies",
            &role.value.attached,
            req.path_prefix,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListAttachedRolePoliciesResponse {
            attached_policies: Some(policies),
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    async fn update_assume_role_policy(
        &self,
        ctx: &RequestContext,
        req: s::UpdateAssumeRolePolicyRequest,
    ) -> Result<(), AwsError> {
        let mut role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:UpdateAssumeRolePolicy", &role.value.arn)
            .await?;
        if service_linked_roles::is_service_linked(&role.value) {
            return Err(service_linked_roles::unmodifiable(&role.value.name));
        }
        check_trust_policy(&req.policy_document)?;
        role.value.trust_policy = req.policy_document;
        self.save(
            ns::ROLE,
            &name_key(&ctx.caller.account, &req.role_name),
            &role.value,
            role.version,
        )
        .await
    }

    // ---- groups ----

    async fn create_group(
        &self,
        ctx: &RequestContext,
        req: s::CreateGroupRequest,
    ) -> Result<s::CreateGroupResponse, AwsError> {
        let path = path_or_root(req.path);
        let arn = Self::arn(ctx, "group", &path, &req.group_name);
        self.allow(ctx, "iam:CreateGroup", &arn).await?;
        let rec = GroupRecord {
            name: req.group_name.clone(),
            id: ids::unique_id("AGPA")?,
            path,
            arn,
            created: self.now_ms(),
            ..Default::default()
        };
        let op = records::GROUPS.put_op(
            &name_key(&ctx.caller.account, &req.group_name),
            &rec,
            Expect::Absent,
        )?;
        let name = req.group_name.clone();
        records::DB
            .commit_or(&*self.id.store, vec![op], || {
                exists(format!("Group with name {name} already exists."))
            })
            .await?;
        Ok(s::CreateGroupResponse {
            group: s::Group {
                arn: rec.arn,
                create_date: ts(rec.created),
                group_id: rec.id,
                group_name: rec.name,
                path: rec.path,
            },
        })
    }

    async fn add_user_to_group(
        &self,
        ctx: &RequestContext,
        req: s::AddUserToGroupRequest,
    ) -> Result<(), AwsError> {
        let group = self.load_group(ctx, &req.group_name).await?;
        self.allow(ctx, "iam:AddUserToGroup", &group.value.arn)
            .await?;
        let mut user = self.load_user(ctx, &req.user_name).await?;
        if !user
            .value
            .groups
            .iter()
            .any(|g| g.eq_ignore_ascii_case(&group.value.name))
        {
            user.value.groups.push(group.value.name);
            self.save(
                ns::USER,
                &name_key(&ctx.caller.account, &req.user_name),
                &user.value,
                user.version,
            )
            .await?;
        }
        Ok(())
    }

    async fn put_group_policy(
        &self,
        ctx: &RequestContext,
        req: s::PutGroupPolicyRequest,
    ) -> Result<(), AwsError> {
        self.put_inline::<GroupRecord>(
            ctx,
            &req.group_name,
            "iam:PutGroupPolicy",
            req.policy_name,
            req.policy_document,
        )
        .await
    }

    async fn attach_group_policy(
        &self,
        ctx: &RequestContext,
        req: s::AttachGroupPolicyRequest,
    ) -> Result<(), AwsError> {
        self.attach::<GroupRecord>(
            ctx,
            &req.group_name,
            "iam:AttachGroupPolicy",
            &req.policy_arn,
        )
        .await
    }

    // ---- listings, group membership, tags ----

    async fn list_roles(
        &self,
        ctx: &RequestContext,
        req: s::ListRolesRequest,
    ) -> Result<s::ListRolesResponse, AwsError> {
        self.allow(ctx, "iam:ListRoles", &Self::arn(ctx, "role", "/", ""))
            .await?;
        let (items, marker) = self
            .list_by_path::<RoleRecord>(ctx, req.path_prefix, req.marker, req.max_items)
            .await?;
        Ok(s::ListRolesResponse {
            roles: items.iter().map(|r| role_shape(r, View::List)).collect(),
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    async fn list_role_policies(
        &self,
        ctx: &RequestContext,
        req: s::ListRolePoliciesRequest,
    ) -> Result<s::ListRolePoliciesResponse, AwsError> {
        let role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:ListRolePolicies", &role.value.arn)
            .await?;
        let names: Vec<(String, String)> = role
            .value
            .inline
            .keys()
            .map(|k| (k.clone(), k.clone()))
            .collect();
        let (policy_names, marker) =
            self.page("iam:ListRolePolicies", names, &req.marker, req.max_items)?;
        Ok(s::ListRolePoliciesResponse {
            policy_names,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    async fn list_policies(
        &self,
        ctx: &RequestContext,
        req: s::ListPoliciesRequest,
    ) -> Result<s::ListPoliciesResponse, AwsError> {
        self.allow(ctx, "iam:ListPolicies", &Self::arn(ctx, "policy", "/", ""))
            .await?;
        let scope = req.scope.as_deref().unwrap_or("All");
        let only_attached = req.only_attached.unwrap_or(false);
        let path_prefix = req.path_prefix.unwrap_or_else(|| "/".into());
        let max = max_items(req.max_items);
        let mut all: Vec<(String, s::Policy)> = Vec::new();
        let usage = self.policy_usage(ctx).await?;
        if scope != "Local" {
            for (name, path, _) in managed::AWS_MANAGED {
                all.push((
                    format!("aws/{name}"),
                    managed_policies::managed_policy_shape(name, path, &usage),
                ));
            }
        }
        if scope != "AWS" {
            let prefix = format!("{}/", ctx.caller.account);
            let items: Vec<(String, PolicyRecord)> = records::POLICIES
                .list(&*self.id.store, &prefix, None, 1000)
                .await?;
            all.extend(items.iter().map(|(k, p)| {
                let mut shape = policy_shape(p, View::List);
                shape.permissions_boundary_usage_count = Some(usage.boundary_uses(&p.arn));
                (format!("local/{k}"), shape)
            }));
        }
        let items: Vec<(String, s::Policy)> = all
            .into_iter()
            .filter(|(_, p)| {
                p.path.as_deref().unwrap_or("/").starts_with(&path_prefix)
                    && (!only_attached || p.attachment_count.unwrap_or(0) > 0)
            })
            .collect();
        let (policies, marker) = paging::page_after(
            "iam:ListPolicies",
            items,
            req.marker.as_deref(),
            max,
            || AwsError::new("InvalidInput", 400, "Invalid Marker."),
        )?;
        Ok(s::ListPoliciesResponse {
            policies: Some(policies),
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    async fn list_groups(
        &self,
        ctx: &RequestContext,
        req: s::ListGroupsRequest,
    ) -> Result<s::ListGroupsResponse, AwsError> {
        self.allow(ctx, "iam:ListGroups", &Self::arn(ctx, "group", "/", ""))
            .await?;
        let (items, marker) = self
            .list_by_path::<GroupRecord>(ctx, req.path_prefix, req.marker, req.max_items)
            .await?;
        Ok(s::ListGroupsResponse {
            groups: items.iter().map(group_shape).collect(),
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    async fn get_group(
        &self,
        ctx: &RequestContext,
        req: s::GetGroupRequest,
    ) -> Result<s::GetGroupResponse, AwsError> {
        let group = self.load_group(ctx, &req.group_name).await?;
        self.allow(ctx, "iam:GetGroup", &group.value.arn).await?;
        let prefix = format!("{}/", ctx.caller.account);
        let users: Vec<(String, UserRecord)> = records::USERS
            .list(&*self.id.store, &prefix, None, 10_000)
            .await?;
        let members = users
            .iter()
            .filter(|(_, u)| {
                u.groups
                    .iter()
                    .any(|g| g.eq_ignore_ascii_case(&group.value.name))
            })
            .map(|(k, u)| (k.clone(), user_shape(u, View::List)))
            .collect();
        let (users, marker) = self.page("iam:GetGroup", members, &req.marker, req.max_items)?;
        Ok(s::GetGroupResponse {
            group: group_shape(&group.value),
            users,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    async fn list_groups_for_user(
        &self,
        ctx: &RequestContext,
        req: s::ListGroupsForUserRequest,
    ) -> Result<s::ListGroupsForUserResponse, AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?;
        self.allow(ctx, "iam:ListGroupsForUser", &user.value.arn)
            .await?;
        let mut groups = Vec::new();
        for g in &user.value.groups {
            if let Some(rec) = records::GROUPS
                .get(&*self.id.store, &name_key(&ctx.caller.account, g))
                .await?
            {
                groups.push((g.to_lowercase(), group_shape(&rec.value)));
            }
        }
        let (groups, marker) =
            self.page("iam:ListGroupsForUser", groups, &req.marker, req.max_items)?;
        Ok(s::ListGroupsForUserResponse {
            groups,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }

    async fn remove_user_from_group(
        &self,
        ctx: &RequestContext,
        req: s::RemoveUserFromGroupRequest,
    ) -> Result<(), AwsError> {
        let group = self.load_group(ctx, &req.group_name).await?;
        self.allow(ctx, "iam:RemoveUserFromGroup", &group.value.arn)
            .await?;
        let mut user = self.load_user(ctx, &req.user_name).await?;
        let before = user.value.groups.len();
        user.value
            .groups
            .retain(|g| !g.eq_ignore_ascii_case(&group.value.name));
        if user.value.groups.len() == before {
            return Err(no_such(&format!(
                "The user with name {} cannot be found in group {}.",
                req.user_name, req.group_name
            )));
        }
        self.save(
            ns::USER,
            &name_key(&ctx.caller.account, &req.user_name),
            &user.value,
            user.version,
        )
        .await
    }

    async fn delete_group(
        &self,
        ctx: &RequestContext,
        req: s::DeleteGroupRequest,
    ) -> Result<(), AwsError> {
        let group = self.load_group(ctx, &req.group_name).await?;
        self.allow(ctx, "iam:DeleteGroup", &group.value.arn).await?;
        if !group.value.inline.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !group.value.attached.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        let prefix = format!("{}/", ctx.caller.account);
        let users: Vec<(String, UserRecord)> = records::USERS
            .list(&*self.id.store, &prefix, None, 10_000)
            .await?;
        if users.iter().any(|(_, u)| {
            u.groups
                .iter()
                .any(|g| g.eq_ignore_ascii_case(&group.value.name))
        }) {
            return Err(conflict(
                "Cannot delete entity, must remove users from group first.",
            ));
        }
        let op = records::GROUPS.delete_op(
            &name_key(&ctx.caller.account, &req.group_name),
            Expect::Version(group.version),
        );
        records::DB.commit(&*self.id.store, vec![op]).await
    }

    async fn tag_user(&self, ctx: &RequestContext, req: s::TagUserRequest) -> Result<(), AwsError> {
        let mut user = self.load_user(ctx, &req.user_name).await?;
        self.allow(ctx, "iam:TagUser", &user.value.arn).await?;
        entities::merge_tags(&mut user.value.tags, req.tags);
        if user.value.tags.len() > tags::MAX_TAGS {
            return Err(AwsError::new(
                "LimitExceeded",
                409,
                "Cannot exceed quota for TagsPerUser: 50",
            ));
        }
        self.save(
            ns::USER,
            &name_key(&ctx.caller.account, &req.user_name),
            &user.value,
            user.version,
        )
        .await
    }

    async fn untag_user(
        &self,
        ctx: &RequestContext,
        req: s::UntagUserRequest,
    ) -> Result<(), AwsError> {
        let mut user = self.load_user(ctx, &req.user_name).await?;
        self.allow(ctx, "iam:UntagUser", &user.value.arn).await?;
        entities::remove_tags(&mut user.value.tags, &req.tag_keys);
        self.save(
            ns::USER,
            &name_key(&ctx.caller.account, &req.user_name),
            &user.value,
            user.version,
        )
        .await
    }

    async fn list_user_tags(
        &self,
        ctx: &RequestContext,
        req: s::ListUserTagsRequest,
    ) -> Result<s::ListUserTagsResponse, AwsError> {
        let user = self.load_user(ctx, &req.user_name).await?;
        self.allow(ctx, "iam:ListUserTags", &user.value.arn).await?;
        let (tags, marker) = entities::tag_page(
            "iam:ListUserTags",
            &user.value.tags,
            &req.marker,
            req.max_items,
        )?;
        Ok(s::ListUserTagsResponse {
            tags,
            is_truncated: Some(marker.is_some()),
            marker,
        })
    }
}

fn attached(arns: &[String]) -> Vec<s::AttachedPolicy> {
    arns.iter()
        .map(|a| s::AttachedPolicy {
            policy_arn: Some(a.clone()),
            policy_name: a.rsplit('/').next().map(str::to_owned),
        })
        .collect()
}
