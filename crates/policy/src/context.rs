//! The request context: condition keys and their values.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::principal::{Principal, DERIVED_KEYS};

/// `key` in lower case; the ASCII case (every AWS condition key name) without Unicode tables.
fn lower(key: &str) -> String {
    if key.is_ascii() {
        key.to_ascii_lowercase()
    } else {
        key.to_lowercase()
    }
}

/// The condition keys of a request and their values.
///
/// Key names are case-insensitive, as AWS documents (`aws:SourceIp` and `AWS:sourceip` are one
/// key); values are kept as strings and interpreted by each condition operator (numbers, dates
/// in ISO 8601 or epoch seconds, `true`/`false`, IP addresses, base64 for binary). A key holds
/// one value or, for multivalued keys such as `aws:TagKeys`, several. A key with no values is
/// treated as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    entries: BTreeMap<String, Vec<String>>,
}

impl Context {
    /// An empty context.
    #[must_use]
    pub fn new() -> Context {
        Context::default()
    }

    /// A context holding the principal-derived global keys of `principal`: `aws:PrincipalArn`
    /// (the role ARN for an assumed role), `aws:PrincipalAccount`, `aws:userid`,
    /// `aws:username` (users only), `aws:PrincipalType` (`Account`, `User`, `AssumedRole`,
    /// `FederatedUser`, `Anonymous`), `aws:PrincipalIsAWSService` and
    /// `aws:PrincipalServiceName` (services only).
    #[must_use]
    pub fn with_principal(principal: &Principal) -> Context {
        let mut context = Context::new();
        for key in DERIVED_KEYS {
            let key = lower(key);
            if let Some(value) = principal.derived_key(&key) {
                context.entries.insert(key, vec![value]);
            }
        }
        context
    }

    /// Sets `key` to the single value `value`, replacing any earlier values.
    // By value so that `&str`, `String`, `bool` and numbers can all be passed as they are.
    #[allow(clippy::needless_pass_by_value)]
    pub fn insert(&mut self, key: &str, value: impl ToString) -> &mut Context {
        self.entries.insert(lower(key), vec![value.to_string()]);
        self
    }

    /// Sets `key` to the values `values` (a multivalued key), replacing any earlier values.
    pub fn insert_multi<I, V>(&mut self, key: &str, values: I) -> &mut Context
    where
        I: IntoIterator<Item = V>,
        V: ToString,
    {
        let values = values.into_iter().map(|v| v.to_string()).collect();
        self.entries.insert(lower(key), values);
        self
    }

    /// Sets `key` to a date, written in ISO 8601 as `aws:CurrentTime` is.
    pub fn insert_date(&mut self, key: &str, value: DateTime<Utc>) -> &mut Context {
        self.insert(key, value.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    /// Removes `key`, returning its values.
    pub fn remove(&mut self, key: &str) -> Option<Vec<String>> {
        self.entries.remove(&lower(key))
    }

    /// The values of `key`, if it is present.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.get_lower(&lower(key))
    }

    /// The values of a key already lower-cased; absent when it has no values.
    pub(crate) fn get_lower(&self, key: &str) -> Option<&[String]> {
        self.entries
            .get(key)
            .map(Vec::as_slice)
            .filter(|v| !v.is_empty())
    }

    /// Whether `key` is present with at least one value.
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Number of keys present.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is present.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys (lower-cased) and their values, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_key_names_are_lowered_too() {
        let mut c = Context::new();
        c.insert("aws:RequestTag/ÉTÉ", "x");
        assert_eq!(c.get("aws:requesttag/été"), Some(&["x".to_owned()][..]));
    }

    #[test]
    fn condition_key_names_are_case_insensitive() {
        let mut c = Context::new();
        c.insert("aws:SourceIp", "10.0.0.1");
        assert_eq!(c.get("AWS:SOURCEIP"), Some(&["10.0.0.1".to_owned()][..]));
    }

    #[test]
    fn empty_multivalued_key_is_absent() {
        let mut c = Context::new();
        c.insert_multi("aws:TagKeys", Vec::<String>::new());
        assert!(!c.contains("aws:TagKeys"));
    }

    #[test]
    fn with_principal_fills_user_keys() {
        let p = Principal::user("111122223333", "/", "alice", "AIDAEXAMPLE");
        let c = Context::with_principal(&p);
        assert_eq!(c.get("aws:username"), Some(&["alice".to_owned()][..]));
        assert_eq!(c.get("aws:userid"), Some(&["AIDAEXAMPLE".to_owned()][..]));
        assert_eq!(c.get("aws:PrincipalType"), Some(&["User".to_owned()][..]));
        assert_eq!(
            c.get("aws:PrincipalAccount"),
            Some(&["111122223333".to_owned()][..])
        );
        assert_eq!(
            c.get("aws:PrincipalArn"),
            Some(&["arn:aws:iam::111122223333:user/alice".to_owned()][..])
        );
    }

    #[test]
    fn with_principal_gives_root_account_type_and_no_username() {
        let c = Context::with_principal(&Principal::root("111122223333"));
        assert_eq!(
            c.get("aws:PrincipalType"),
            Some(&["Account".to_owned()][..])
        );
        assert_eq!(c.get("aws:userid"), Some(&["111122223333".to_owned()][..]));
        assert!(!c.contains("aws:username"));
    }

    #[test]
    fn with_principal_gives_assumed_role_userid_with_session() {
        let p = Principal::assumed_role("111122223333", "/", "Admin", "AROAEXAMPLE", "s1");
        let c = Context::with_principal(&p);
        assert_eq!(
            c.get("aws:userid"),
            Some(&["AROAEXAMPLE:s1".to_owned()][..])
        );
        assert_eq!(
            c.get("aws:PrincipalType"),
            Some(&["AssumedRole".to_owned()][..])
        );
    }
}
