//! What users, roles and groups have in common: a name in an account, an ARN, inline policies
//! and attached managed policies. One generic path serves the Put/Get/Delete…Policy and
//! Attach/Detach…Policy operations of all three.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::records::{ns, GroupRecord, RoleRecord, UserRecord};

/// An IAM identity that holds policies.
pub trait PolicyHolder: Serialize + DeserializeOwned + Send + Sync {
    /// Store namespace.
    const NS: &'static str;
    /// Lower-case noun used in IAM's messages (`user`, `role`, `group`).
    const NOUN: &'static str;
    /// Quota name for attached policies (`PoliciesPerUser`).
    const ATTACH_QUOTA: &'static str;
    /// Name as created.
    fn name(&self) -> &str;
    /// ARN.
    fn arn(&self) -> &str;
    /// IAM path.
    fn path(&self) -> &str;
    /// Inline policies by name.
    fn inline(&self) -> &BTreeMap<String, String>;
    /// Inline policies, for changes.
    fn inline_mut(&mut self) -> &mut BTreeMap<String, String>;
    /// Attached managed policy ARNs, for changes.
    fn attached_mut(&mut self) -> &mut Vec<String>;
}

macro_rules! holder {
    ($t:ty, $ns:expr, $noun:literal, $quota:literal) => {
        impl PolicyHolder for $t {
            const NS: &'static str = $ns;
            const NOUN: &'static str = $noun;
            const ATTACH_QUOTA: &'static str = $quota;
            fn name(&self) -> &str {
                &self.name
            }
            fn arn(&self) -> &str {
                &self.arn
            }
            fn path(&self) -> &str {
                &self.path
            }
            fn inline(&self) -> &BTreeMap<String, String> {
                &self.inline
            }
            fn inline_mut(&mut self) -> &mut BTreeMap<String, String> {
                &mut self.inline
            }
            fn attached_mut(&mut self) -> &mut Vec<String> {
                &mut self.attached
            }
        }
    };
}

holder!(UserRecord, ns::USER, "user", "PoliciesPerUser");
holder!(RoleRecord, ns::ROLE, "role", "PoliciesPerRole");
holder!(GroupRecord, ns::GROUP, "group", "PoliciesPerGroup");
