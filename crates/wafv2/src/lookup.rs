//! The narrow read-only view the load balancer's data plane needs: which web ACL a resource is
//! associated with, and the entities its rules reference.

use rampart_service::{Arn, AwsError};
use rampart_store::Store;

use crate::records::{self, Entity, Kind};

pub use crate::records::generation;

/// The web ACL associated with `resource_arn` (a load balancer ARN), if any.
///
/// # Errors
/// Store failures.
pub async fn web_acl_for_resource(
    store: &dyn Store,
    resource_arn: &str,
) -> Result<Option<Entity>, AwsError> {
    let Some(assoc) = records::ASSOCIATIONS.get(store, resource_arn).await? else {
        return Ok(None);
    };
    let acl = records::entities(Kind::WebAcl)
        .get(store, &assoc.value.web_acl_key)
        .await?;
    Ok(acl
        .map(|v| v.value)
        .filter(|e| e.arn == assoc.value.web_acl_arn))
}

/// The IP set, regex pattern set or rule group a rule references by ARN, if it exists.
///
/// # Errors
/// Store failures.
pub async fn entity_by_arn(store: &dyn Store, arn: &str) -> Result<Option<Entity>, AwsError> {
    let Some(a) = Arn::parse(arn) else {
        return Ok(None);
    };
    let parts: Vec<&str> = a.resource.split('/').collect();
    let [word, kind, name, id] = parts.as_slice() else {
        return Ok(None);
    };
    let Some(kind) = Kind::from_arn_word(kind) else {
        return Ok(None);
    };
    let region = if *word == "global" {
        "global"
    } else {
        a.region
    };
    let key = format!("{}/{region}/{name}", a.account);
    Ok(records::entities(kind)
        .get(store, &key)
        .await?
        .map(|v| v.value)
        .filter(|e| e.id == *id && e.arn == arn))
}

/// Remove the web ACL association of `resource_arn` (a load balancer being deleted), as
/// DisassociateWebACL would; nothing when there is none. Retried on a concurrent change.
///
/// # Errors
/// Store failures.
pub async fn remove_association(store: &dyn Store, resource_arn: &str) -> Result<(), AwsError> {
    use rampart_store::Expect;
    for _ in 0..5 {
        let Some(assoc) = records::ASSOCIATIONS.get(store, resource_arn).await? else {
            return Ok(());
        };
        let mut ops =
            vec![records::ASSOCIATIONS.delete_op(resource_arn, Expect::Version(assoc.version))];
        if let Some(acl) = records::entities(Kind::WebAcl)
            .get(store, &assoc.value.web_acl_key)
            .await?
        {
            let mut e = acl.value;
            e.associated.retain(|a| a != resource_arn);
            ops.push(records::entities(Kind::WebAcl).put_op(
                &assoc.value.web_acl_key,
                &e,
                Expect::Version(acl.version),
            )?);
        }
        let mut conflict = false;
        let res = records::DB
            .commit_or(store, ops, || {
                conflict = true;
                AwsError::internal()
            })
            .await;
        match res {
            Ok(()) => return Ok(()),
            Err(_) if conflict => {}
            Err(e) => return Err(e),
        }
    }
    Err(AwsError::internal())
}
