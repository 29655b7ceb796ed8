//! AWS resource tags: the rules every service applies (at most 50 tags, keys of 1–128 and
//! values of 0–256 characters from `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`, the `aws:` prefix
//! reserved, no duplicate keys), each service answering a broken rule with its own error, and
//! the ABAC condition keys (`aws:ResourceTag/<k>`, `aws:RequestTag/<k>`, `aws:TagKeys`).

use crate::{policy, AwsError};

/// AWS's default limit on tags per resource.
pub const MAX_TAGS: usize = 50;
/// Longest tag key, in characters.
pub const MAX_KEY_LEN: usize = 128;
/// Longest tag value, in characters.
pub const MAX_VALUE_LEN: usize = 256;

/// A service's generated `Tag` shape, whatever its members are called.
pub trait TagShape: Sized {
    /// The tag from a key and a value.
    fn from_pair(key: String, value: String) -> Self;
    /// The tag's key and value (an absent value is empty).
    fn into_pair(self) -> (String, String);
}

/// Tags from a request's shapes, in request order.
pub fn pairs<T: TagShape>(tags: impl IntoIterator<Item = T>) -> Vec<(String, String)> {
    tags.into_iter().map(TagShape::into_pair).collect()
}

/// Stored tags as a response's shapes.
#[must_use]
pub fn shapes<T: TagShape>(tags: &[(String, String)]) -> Vec<T> {
    tags.iter()
        .map(|(k, v)| T::from_pair(k.clone(), v.clone()))
        .collect()
}

/// Stored tags as a response's shapes, absent when there are none.
#[must_use]
pub fn shapes_or_none<T: TagShape>(tags: &[(String, String)]) -> Option<Vec<T>> {
    (!tags.is_empty()).then(|| shapes(tags))
}

/// A broken tag rule, for the service to answer with its own error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// The key starts with the reserved `aws:` prefix.
    Reserved(String),
    /// The key appears twice.
    Duplicate(String),
    /// The key is empty or longer than 128 characters.
    KeyLength(String),
    /// The value is longer than 256 characters.
    ValueLength(String),
    /// The key has a character outside `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
    KeyCharacters(String),
    /// The value has a character outside `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
    ValueCharacters(String),
    /// More tags than the limit.
    TooMany {
        /// How many there would be.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// Answers a broken rule with the service's error; `None` where the service does not
/// enforce that rule.
pub type Answer = fn(&Violation) -> Option<AwsError>;

/// A service's tag rules: its limit, whether `aws:` is reserved in any case (`AWS:`), and its
/// answer to each broken rule.
#[derive(Clone, Copy)]
pub struct Rules {
    /// Most tags a resource may have.
    pub max: usize,
    /// `AWS:…` is reserved as well as `aws:…`.
    pub reserved_any_case: bool,
    /// The service's error for each broken rule.
    pub answer: Answer,
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules")
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

/// Whether `s` has only the characters AWS allows in tags.
#[must_use]
pub fn allowed_characters(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_alphanumeric()
            || c.is_whitespace()
            || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
    })
}

impl Rules {
    /// The first broken rule of `tags` that this service enforces, checking each tag in order
    /// (reserved prefix, duplicate, key and value length and characters) and then the count.
    ///
    /// # Errors
    /// The service's error for that rule.
    pub fn check<'a>(
        &self,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), AwsError> {
        let mut seen = std::collections::BTreeSet::new();
        let mut count = 0;
        for (k, v) in tags {
            count += 1;
            let reserved = if self.reserved_any_case {
                k.to_ascii_lowercase().starts_with("aws:")
            } else {
                k.starts_with("aws:")
            };
            let key_len = k.chars().count();
            let violations = [
                reserved.then(|| Violation::Reserved(k.to_owned())),
                (!seen.insert(k)).then(|| Violation::Duplicate(k.to_owned())),
                (key_len == 0 || key_len > MAX_KEY_LEN).then(|| Violation::KeyLength(k.to_owned())),
                (v.chars().count() > MAX_VALUE_LEN).then(|| Violation::ValueLength(k.to_owned())),
                (!allowed_characters(k)).then(|| Violation::KeyCharacters(k.to_owned())),
                (!allowed_characters(v)).then(|| Violation::ValueCharacters(k.to_owned())),
            ];
            for v in violations.into_iter().flatten() {
                if let Some(e) = (self.answer)(&v) {
                    return Err(e);
                }
            }
        }
        self.check_count(count)
    }

    /// Whether a resource may have `count` tags.
    ///
    /// # Errors
    /// The service's error for too many tags.
    pub fn check_count(&self, count: usize) -> Result<(), AwsError> {
        if count > self.max {
            if let Some(e) = (self.answer)(&Violation::TooMany {
                count,
                max: self.max,
            }) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Check `tags` and return them as stored pairs (tag-on-create).
    ///
    /// # Errors
    /// The service's error for the first broken rule.
    pub fn on_create<T: TagShape>(
        &self,
        tags: impl IntoIterator<Item = T>,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let tags = pairs(tags);
        self.check(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        Ok(tags)
    }
}

/// Add or replace `new` tags in `into` (TagResource), keeping the order of first appearance.
pub fn merge(into: &mut Vec<(String, String)>, new: Vec<(String, String)>) {
    for (k, v) in new {
        match into.iter_mut().find(|(have, _)| *have == k) {
            Some(slot) => slot.1 = v,
            None => into.push((k, v)),
        }
    }
}

/// Remove the tags with these keys (UntagResource).
pub fn remove(from: &mut Vec<(String, String)>, keys: &[String]) {
    from.retain(|(k, _)| !keys.contains(k));
}

/// Adds `aws:ResourceTag/<k>` for each of a resource's tags.
pub fn resource_tags<'a>(
    ctx: &mut policy::Context,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    for (k, v) in tags {
        ctx.insert(&format!("aws:ResourceTag/{k}"), v);
    }
}

/// Adds `aws:RequestTag/<k>` for each tag in the request and, when there are any,
/// `aws:TagKeys`.
pub fn request_tags<'a>(
    ctx: &mut policy::Context,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    let mut keys = Vec::new();
    for (k, v) in tags {
        ctx.insert(&format!("aws:RequestTag/{k}"), v);
        keys.push(k);
    }
    if !keys.is_empty() {
        ctx.insert_multi("aws:TagKeys", keys);
    }
}

/// Adds `aws:TagKeys` for the keys a request names (UntagResource).
pub fn tag_keys<'a>(ctx: &mut policy::Context, keys: impl IntoIterator<Item = &'a str>) {
    ctx.insert_multi("aws:TagKeys", keys);
}

#[cfg(test)]
mod tests {
    use super::{merge, request_tags, resource_tags, Rules, Violation};
    use crate::{policy, AwsError};

    fn answer(v: &Violation) -> Option<AwsError> {
        let code = match v {
            Violation::Reserved(_) => "Reserved",
            Violation::Duplicate(_) => "Duplicate",
            Violation::KeyLength(_) => "KeyLength",
            Violation::ValueLength(_) => "ValueLength",
            Violation::KeyCharacters(_) => "KeyCharacters",
            Violation::ValueCharacters(_) => "ValueCharacters",
            Violation::TooMany { .. } => "TooMany",
        };
        Some(AwsError::new(code, 400, ""))
    }

    const RULES: Rules = Rules {
        max: 50,
        reserved_any_case: false,
        answer,
    };

    fn code(tags: &[(&str, &str)]) -> String {
        RULES
            .check(tags.iter().copied())
            .err()
            .map(|e| e.code.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn tags_follow_aws_rules() {
        assert_eq!(code(&[("Project", "Alpha beta"), ("ünï:/=+-@_.", "1")]), "");
        assert_eq!(code(&[("aws:x", "1")]), "Reserved");
        assert_eq!(code(&[("AWS:x", "1")]), "");
        assert_eq!(code(&[("a", "1"), ("a", "2")]), "Duplicate");
        assert_eq!(code(&[("", "1")]), "KeyLength");
        assert_eq!(code(&[(&"k".repeat(129), "1")]), "KeyLength");
        assert_eq!(code(&[(&"k".repeat(128), &"v".repeat(256))]), "");
        assert_eq!(code(&[("k", &"v".repeat(257))]), "ValueLength");
        assert_eq!(code(&[("k#", "1")]), "KeyCharacters");
        assert_eq!(code(&[("k", "a*b")]), "ValueCharacters");
        let many: Vec<(String, String)> =
            (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        let e = RULES
            .check(many.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .expect_err("too many");
        assert_eq!(e.code, "TooMany");
        let any_case = Rules {
            reserved_any_case: true,
            ..RULES
        };
        assert!(any_case.check([("AWS:x", "1")]).is_err());
    }

    #[test]
    fn rules_a_service_does_not_enforce_pass() {
        let lenient = Rules {
            max: 50,
            reserved_any_case: false,
            answer: |v| matches!(v, Violation::TooMany { .. }).then(AwsError::internal),
        };
        assert!(lenient.check([("aws:x", "1"), ("aws:x", "2")]).is_ok());
    }

    #[test]
    fn merge_replaces_values_and_keeps_order() {
        let mut tags = vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ];
        merge(
            &mut tags,
            vec![("b".into(), "3".into()), ("c".into(), "4".into())],
        );
        assert_eq!(
            tags,
            [
                ("a".into(), "1".into()),
                ("b".into(), "3".into()),
                ("c".into(), "4".into())
            ]
        );
    }

    #[test]
    fn abac_keys_are_added_to_the_context() {
        let mut c = policy::Context::default();
        resource_tags(&mut c, [("Team", "red")]);
        request_tags(&mut c, [("Env", "prod"), ("Owner", "me")]);
        assert_eq!(c.get("aws:ResourceTag/Team"), Some(&["red".to_owned()][..]));
        assert_eq!(c.get("aws:RequestTag/Env"), Some(&["prod".to_owned()][..]));
        assert_eq!(c.get("aws:TagKeys").map(<[String]>::len), Some(2));
    }
}
