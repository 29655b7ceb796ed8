//! How AWS managed policies are described: a stable `ANPA…` id derived from the name, the
//! date Rampart's documents were written as CreateDate/UpdateDate, `v1` as the one version, and
//! the account's attachment and permissions-boundary counts, as GetPolicy and ListPolicies give.

use std::collections::HashMap;

use rampart_service::{AwsError, RequestContext};

use super::{ts, IamService};
use crate::records::{self, GroupRecord, RoleRecord, UserRecord};
use crate::shapes::iam as s;

/// When Rampart's managed policy documents were written (2026-01-01T00:00:00Z).
const WRITTEN_MS: i64 = 1_767_225_600_000;

/// Characters of IAM unique ids after the prefix.
const ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The stable id of an AWS managed policy: `ANPA` and 17 characters from its name's digest.
pub(super) fn managed_policy_id(name: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, name.as_bytes());
    let tail: String = d
        .as_ref()
        .iter()
        .take(17)
        .map(|b| char::from(ID_ALPHABET[usize::from(b % 32)]))
        .collect();
    format!("ANPA{tail}")
}

/// How many of an account's users, roles and groups use each policy ARN: (attached, boundary).
#[derive(Default)]
pub(super) struct Usage {
    attached: HashMap<String, i32>,
    boundary: HashMap<String, i32>,
}

impl Usage {
    /// How many users and roles have `arn` as their permissions boundary.
    pub(super) fn boundary_uses(&self, arn: &str) -> i32 {
        self.boundary.get(arn).copied().unwrap_or(0)
    }

    fn count(&mut self, attached: &[String], boundary: Option<&String>) {
        for a in attached {
            *self.attached.entry(a.clone()).or_default() += 1;
        }
        if let Some(b) = boundary {
            *self.boundary.entry(b.clone()).or_default() += 1;
        }
    }
}

/// The shape of one AWS managed policy.
pub(super) fn managed_policy_shape(name: &str, path: &str, usage: &Usage) -> s::Policy {
    let arn = format!("arn:aws:iam::aws:policy{path}{name}");
    s::Policy {
        attachment_count: Some(usage.attached.get(&arn).copied().unwrap_or(0)),
        permissions_boundary_usage_count: Some(usage.boundary.get(&arn).copied().unwrap_or(0)),
        create_date: Some(ts(WRITTEN_MS)),
        update_date: Some(ts(WRITTEN_MS)),
        default_version_id: Some("v1".into()),
        is_attachable: Some(true),
        path: Some(path.to_owned()),
        policy_id: Some(managed_policy_id(name)),
        policy_name: Some(name.to_owned()),
        description: None,
        tags: None,
        arn: Some(arn),
    }
}

impl IamService {
    /// Counts the account's policy attachments and permissions boundaries.
    pub(super) async fn policy_usage(&self, ctx: &RequestContext) -> Result<Usage, AwsError> {
        let prefix = format!("{}/", ctx.caller.account);
        let store = &*self.id.store;
        let mut usage = Usage::default();
        let users: Vec<(String, UserRecord)> =
            records::USERS.list(store, &prefix, None, 10_000).await?;
        for (_, u) in &users {
            usage.count(&u.attached, u.boundary.as_ref());
        }
        let roles: Vec<(String, RoleRecord)> =
            records::ROLES.list(store, &prefix, None, 10_000).await?;
        for (_, r) in &roles {
            usage.count(&r.attached, r.boundary.as_ref());
        }
        let groups: Vec<(String, GroupRecord)> =
            records::GROUPS.list(store, &prefix, None, 10_000).await?;
        for (_, g) in &groups {
            usage.count(&g.attached, None);
        }
        Ok(usage)
    }
}

#[cfg(test)]
mod tests {
    use super::managed_policy_id;

    #[test]
    fn managed_policy_ids_are_stable_distinct_and_iam_shaped() {
        let a = managed_policy_id("AdministratorAccess");
        assert_eq!(a, managed_policy_id("AdministratorAccess"));
        assert_ne!(a, managed_policy_id("ReadOnlyAccess"));
        assert_eq!(a.len(), 21);
        assert!(a.starts_with("ANPA"));
        assert!(a[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    }
}
