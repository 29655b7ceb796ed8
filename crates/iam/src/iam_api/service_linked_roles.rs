//! Service-linked roles: CreateServiceLinkedRole, DeleteServiceLinkedRole,
//! GetServiceLinkedRoleDeletionStatus, and the rule that users cannot change them.
//!
//! A service-linked role lives under `/aws-service-role/<service principal>/`, trusts only its
//! service, and carries the service's managed policy. Deletion is a task: Rampart's services
//! keep no resource that depends on the role once the caller asked, so the task succeeds at
//! once and its status stays readable.

use serde::{Deserialize, Serialize};

use rampart_service::table::Table;
use rampart_service::{AwsError, RequestContext};
use rampart_store::Expect;

use super::{no_such, role_shape, IamService, View};
use crate::records::{self, name_key, RoleRecord};
use crate::shapes::iam as s;
use crate::{ids, managed};

/// Deletion tasks by `account/task id`.
const DELETION_TASKS: Table<DeletionTask> = records::DB.table("iam.slrdeletion");

/// Where service-linked roles live.
pub(super) const SERVICE_ROLE_PATH: &str = "/aws-service-role/";

/// A service that can have a service-linked role: (principal, role name, managed policy,
/// whether a custom suffix is allowed).
struct LinkedService {
    principal: &'static str,
    role: &'static str,
    policy: &'static str,
    suffix: bool,
}

/// The services Rampart has (and Auto Scaling, which the load balancer examples use), with
/// the role names and policies AWS's table of services that work with IAM gives them.
const LINKED_SERVICES: &[LinkedService] = &[
    LinkedService {
        principal: "elasticloadbalancing.amazonaws.com",
        role: "AWSServiceRoleForElasticLoadBalancing",
        policy: "AWSElasticLoadBalancingServiceRolePolicy",
        suffix: false,
    },
    LinkedService {
        principal: "guardduty.amazonaws.com",
        role: "AWSServiceRoleForAmazonGuardDuty",
        policy: "AmazonGuardDutyServiceRolePolicy",
        suffix: false,
    },
    LinkedService {
        principal: "inspector2.amazonaws.com",
        role: "AWSServiceRoleForAmazonInspector2",
        policy: "AmazonInspector2ServiceRolePolicy",
        suffix: false,
    },
    LinkedService {
        principal: "macie.amazonaws.com",
        role: "AWSServiceRoleForAmazonMacie",
        policy: "AmazonMacieServiceRolePolicy",
        suffix: false,
    },
    LinkedService {
        principal: "fms.amazonaws.com",
        role: "AWSServiceRoleForFMS",
        policy: "FMSServiceRolePolicy",
        suffix: false,
    },
    LinkedService {
        principal: "shield.amazonaws.com",
        role: "AWSServiceRoleForAWSShield",
        policy: "AWSShieldServiceRolePolicy",
        suffix: false,
    },
    LinkedService {
        principal: "autoscaling.amazonaws.com",
        role: "AWSServiceRoleForAutoScaling",
        policy: "AutoScalingServiceRolePolicy",
        suffix: true,
    },
    LinkedService {
        principal: "acm.amazonaws.com",
        role: "AWSServiceRoleForCertificateManager",
        policy: "CertificateManagerServiceRolePolicy",
        suffix: false,
    },
    LinkedService {
        principal: "ssm.amazonaws.com",
        role: "AWSServiceRoleForAmazonSSM",
        policy: "AmazonSSMServiceRolePolicy",
        suffix: false,
    },
    LinkedService {
        principal: "cloudtrail.amazonaws.com",
        role: "AWSServiceRoleForCloudTrail",
        policy: "CloudTrailServiceRolePolicy",
        suffix: false,
    },
    LinkedService {
        principal: "wafv2.amazonaws.com",
        role: "AWSServiceRoleForWAFV2Logging",
        policy: "WAFV2LoggingServiceRolePolicy",
        suffix: false,
    },
];

/// A deletion task and how it ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeletionTask {
    role: String,
    status: String,
    reason: Option<String>,
}

/// Whether a role is service-linked (only its service may change it).
pub(super) fn is_service_linked(role: &RoleRecord) -> bool {
    role.path.starts_with(SERVICE_ROLE_PATH)
}

/// IAM's refusal to let a user change a service-linked role.
pub(super) fn unmodifiable(role: &str) -> AwsError {
    AwsError::new(
        "UnmodifiableEntity",
        400,
        format!("Cannot perform the operation on the protected role '{role}' - this role is only modifiable by AWS"),
    )
}

fn invalid(msg: String) -> AwsError {
    AwsError::validation("InvalidInput", msg)
}

/// A version-4-style random UUID for a deletion task.
fn task_uuid() -> Result<String, AwsError> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| AwsError::internal())?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn trust_policy(principal: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": [principal]},
            "Action": ["sts:AssumeRole"],
        }],
    })
    .to_string()
}

impl IamService {
    /// Refuses a user's change to a service-linked role.
    pub(super) async fn refuse_service_linked(
        &self,
        ctx: &RequestContext,
        role_name: &str,
    ) -> Result<(), AwsError> {
        let role: Option<records::Versioned<RoleRecord>> = records::ROLES
            .get(&*self.id.store, &name_key(&ctx.caller.account, role_name))
            .await?;
        match role {
            Some(r) if is_service_linked(&r.value) => Err(unmodifiable(&r.value.name)),
            _ => Ok(()),
        }
    }

    pub(super) async fn create_service_linked_role(
        &self,
        ctx: &RequestContext,
        req: s::CreateServiceLinkedRoleRequest,
    ) -> Result<s::CreateServiceLinkedRoleResponse, AwsError> {
        let service = LINKED_SERVICES
            .iter()
            .find(|l| l.principal == req.aws_service_name)
            .ok_or_else(|| {
                no_such(&format!(
                    "Service role name for {} is not supported.",
                    req.aws_service_name
                ))
            })?;
        let name = match &req.custom_suffix {
            None => service.role.to_owned(),
            Some(_) if !service.suffix => {
                return Err(invalid(format!(
                    "Custom suffix is not allowed for {}",
                    service.principal
                )))
            }
            Some(sfx) => format!("{}_{sfx}", service.role),
        };
        let path = format!("{SERVICE_ROLE_PATH}{}/", service.principal);
        let arn = Self::arn(ctx, "role", &path, &name);
        self.allow(ctx, "iam:CreateServiceLinkedRole", &arn).await?;
        let policy_arn = format!(
            "arn:{}:iam::aws:policy{SERVICE_ROLE_PATH}{}",
            ctx.partition, service.policy
        );
        let attached = if managed::aws_managed(&policy_arn).is_some() {
            vec![policy_arn]
        } else {
            Vec::new()
        };
        let rec = RoleRecord {
            name: name.clone(),
            id: ids::unique_id("AROA")?,
            path,
            arn,
            created: self.now_ms(),
            trust_policy: trust_policy(service.principal),
            description: req.description,
            max_session: 3600,
            attached,
            ..Default::default()
        };
        let op =
            records::ROLES.put_op(&name_key(&ctx.caller.account, &name), &rec, Expect::Absent)?;
        records::DB
            .commit_or(&*self.id.store, vec![op], || {
                invalid(format!(
                    "Service role name {name} has been taken in this account, please try a different suffix."
                ))
            })
            .await?;
        Ok(s::CreateServiceLinkedRoleResponse {
            role: Some(role_shape(&rec, View::Get)),
        })
    }

    pub(super) async fn delete_service_linked_role(
        &self,
        ctx: &RequestContext,
        req: s::DeleteServiceLinkedRoleRequest,
    ) -> Result<s::DeleteServiceLinkedRoleResponse, AwsError> {
        let role = self.load_role(ctx, &req.role_name).await?;
        self.allow(ctx, "iam:DeleteServiceLinkedRole", &role.value.arn)
            .await?;
        if !is_service_linked(&role.value) {
            return Err(invalid(format!(
                "Role {} is not a service-linked role.",
                role.value.name
            )));
        }
        let principal = role
            .value
            .path
            .trim_start_matches(SERVICE_ROLE_PATH)
            .trim_end_matches('/');
        let task_id = format!(
            "task{SERVICE_ROLE_PATH}{principal}/{}/{}",
            role.value.name,
            task_uuid()?
        );
        let account = &ctx.caller.account;
        let ops = vec![
            records::ROLES.delete_op(
                &name_key(account, &role.value.name),
                Expect::Version(role.version),
            ),
            DELETION_TASKS.put_op(
                &format!("{account}/{task_id}"),
                &DeletionTask {
                    role: role.value.name.clone(),
                    status: "SUCCEEDED".into(),
                    reason: None,
                },
                Expect::Absent,
            )?,
        ];
        records::DB.commit(&*self.id.store, ops).await?;
        Ok(s::DeleteServiceLinkedRoleResponse {
            deletion_task_id: task_id,
        })
    }

    pub(super) async fn get_service_linked_role_deletion_status(
        &self,
        ctx: &RequestContext,
        req: s::GetServiceLinkedRoleDeletionStatusRequest,
    ) -> Result<s::GetServiceLinkedRoleDeletionStatusResponse, AwsError> {
        let parts: Vec<&str> = req.deletion_task_id.split('/').collect();
        // task / aws-service-role / <principal> / <role> / <uuid>
        if parts.len() != 5 || parts[0] != "task" || parts[1] != "aws-service-role" {
            return Err(invalid(format!(
                "Invalid deletion task id: {}",
                req.deletion_task_id
            )));
        }
        let arn = Self::arn(
            ctx,
            "role",
            &format!("{SERVICE_ROLE_PATH}{}/", parts[2]),
            parts[3],
        );
        self.allow(ctx, "iam:GetServiceLinkedRoleDeletionStatus", &arn)
            .await?;
        let task = DELETION_TASKS
            .get(
                &*self.id.store,
                &format!("{}/{}", ctx.caller.account, req.deletion_task_id),
            )
            .await?
            .ok_or_else(|| {
                no_such(&format!(
                    "Deletion task {} cannot be found.",
                    req.deletion_task_id
                ))
            })?;
        Ok(s::GetServiceLinkedRoleDeletionStatusResponse {
            reason: task.value.reason.map(|r| s::DeletionTaskFailureReasonType {
                reason: Some(r),
                role_usage_list: None,
            }),
            status: task.value.status,
        })
    }
}
