//! AWS's rules for parameter names, paths, labels and selectors (`name:version`, `name:label`).

/// The deepest hierarchy AWS allows.
pub const MAX_LEVELS: usize = 15;
/// The most labels one version can carry.
pub const MAX_LABELS: usize = 10;
/// The longest fully qualified name AWS accepts (the model allows more for its own use).
pub const MAX_NAME: usize = 1011;

/// AWS's message for a name with characters it does not allow (recorded from AWS).
pub const BAD_NAME: &str = "Parameter name: can't be prefixed with \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_";

/// AWS's message for a name or path outside the requirements where a path is expected
/// (recorded from AWS).
pub const BAD_PATH: &str = "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". It can't be prefixed with \\\"aws\\\" or \\\"ssm\\\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: /get/parameters2-/by1./path0_.";

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Characters outside `a-zA-Z0-9_.-/`, or empty path segments.
    Invalid,
    /// Begins with `aws` or `ssm` (either as the name or as its first path segment).
    Reserved,
    /// Contains `/` but does not begin with it.
    NotFullyQualified,
    /// More than 15 levels.
    TooDeep,
    /// Longer than 1011 characters.
    TooLong,
}

impl NameError {
    /// AWS's error code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooDeep => "HierarchyLevelLimitExceededException",
            _ => "ValidationException",
        }
    }

    /// AWS's message.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::Invalid => BAD_NAME.to_owned(),
            Self::Reserved => {
                "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive)."
                    .to_owned()
            }
            Self::NotFullyQualified => "Parameter name must be a fully qualified name.".to_owned(),
            Self::TooLong => format!("Parameter name must not exceed {MAX_NAME} characters."),
            Self::TooDeep => "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and constraints for parameter names in the AWS Systems Manager User Guide.".to_owned(),
        }
    }
}

fn name_chars_ok(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/'))
}

fn reserved(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    lower.starts_with("aws") || lower.starts_with("ssm")
}

/// Levels of a name: its `/`-separated segments.
#[must_use]
pub fn levels(name: &str) -> usize {
    name.trim_start_matches('/').split('/').count()
}

/// Check a name for writing (PutParameter).
///
/// # Errors
/// The rule the name breaks.
pub fn check_name(name: &str) -> Result<(), NameError> {
    if !name_chars_ok(name) {
        return Err(NameError::Invalid);
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err(NameError::NotFullyQualified);
    }
    let segments: Vec<&str> = name.trim_start_matches('/').split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(NameError::Invalid);
    }
    if segments.first().is_some_and(|s| reserved(s)) {
        return Err(NameError::Reserved);
    }
    if segments.len() > MAX_LEVELS {
        return Err(NameError::TooDeep);
    }
    if name.len() > MAX_NAME {
        return Err(NameError::TooLong);
    }
    Ok(())
}

/// Whether a name given to read or change an existing parameter breaks AWS's rules: bad
/// characters, or a hierarchy without its leading `/` (AWS answers both with [`BAD_NAME`]).
#[must_use]
pub fn malformed(name: &str) -> bool {
    matches!(
        check_name(name),
        Err(NameError::Invalid | NameError::NotFullyQualified)
    )
}

/// Check a path for GetParametersByPath and the `Path` filter: `/` or `/a/b` (a trailing `/`
/// allowed), at most 15 levels.
///
/// # Errors
/// The rule the path breaks.
pub fn check_path(path: &str) -> Result<String, NameError> {
    if path == "/" {
        return Ok("/".to_owned());
    }
    if !path.starts_with('/') || !name_chars_ok(path) {
        return Err(NameError::Invalid);
    }
    let trimmed = path.trim_end_matches('/');
    let inner = trimmed.get(1..).unwrap_or_default();
    if inner.is_empty() || inner.split('/').any(str::is_empty) {
        return Err(NameError::Invalid);
    }
    if levels(trimmed) > MAX_LEVELS {
        return Err(NameError::TooDeep);
    }
    Ok(trimmed.to_owned())
}

/// Whether `name` lies under `path` (already checked), directly or, with `recursive`, at
/// any depth. Under `/`, names without a leading slash are at the root too.
#[must_use]
pub fn under(name: &str, path: &str, recursive: bool) -> bool {
    let rest = if path == "/" {
        name.strip_prefix('/').unwrap_or(name)
    } else {
        match name.strip_prefix(path).and_then(|r| r.strip_prefix('/')) {
            Some(r) => r,
            None => return false,
        }
    };
    !rest.is_empty() && (recursive || !rest.contains('/'))
}

/// What a selector after `:` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The latest version.
    Latest,
    /// A version number.
    Version(i64),
    /// A label.
    Label(String),
}

/// Split `name:selector`. A selector of digits is a version, anything else a label.
#[must_use]
pub fn split_selector(input: &str) -> (&str, Selector, Option<&str>) {
    match input.rsplit_once(':') {
        Some((name, sel)) if !name.is_empty() && !sel.is_empty() => {
            if sel.bytes().all(|b| b.is_ascii_digit()) {
                match sel.parse::<i64>() {
                    Ok(v) => (name, Selector::Version(v), Some(sel)),
                    Err(_) => (name, Selector::Label(sel.to_owned()), Some(sel)),
                }
            } else {
                (name, Selector::Label(sel.to_owned()), Some(sel))
            }
        }
        _ => (input, Selector::Latest, None),
    }
}

/// Whether AWS accepts `label` as a label: 1–100 characters of `a-zA-Z0-9_.-`, not starting
/// with a digit, nor with `aws` or `ssm`.
#[must_use]
pub fn label_ok(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 100
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !label.as_bytes()[0].is_ascii_digit()
        && !reserved(label)
}

/// The name AWS stores: a single-level name given with a leading slash (`/example`) is
/// `example`; hierarchical names keep theirs.
#[must_use]
pub fn canonical(name: &str) -> String {
    match name.strip_prefix('/') {
        Some(rest) if !rest.is_empty() && !rest.contains('/') => rest.to_owned(),
        _ => name.to_owned(),
    }
}

/// The resource part of a parameter's ARN.
#[must_use]
pub fn arn_resource(name: &str) -> String {
    format!("parameter/{}", name.strip_prefix('/').unwrap_or(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_aws_rules() {
        assert_eq!(check_name("/mydept/my-app/dev/db-url"), Ok(()));
        assert_eq!(check_name("plain_name.v1"), Ok(()));
        assert_eq!(check_name("has space"), Err(NameError::Invalid));
        assert_eq!(check_name("a/b"), Err(NameError::NotFullyQualified));
        assert!(malformed("a/b") && malformed("a b") && !malformed("/a/b") && !malformed("/aws/x"));
        assert_eq!(check_name("/a//b"), Err(NameError::Invalid));
        assert_eq!(check_name("/aws/x"), Err(NameError::Reserved));
        assert_eq!(check_name("SSMthing"), Err(NameError::Reserved));
        let deep: String = (0..15).map(|i| format!("/l{i}")).collect();
        assert_eq!(check_name(&deep), Ok(()));
        assert_eq!(check_name(&format!("{deep}/x")), Err(NameError::TooDeep));
        assert_eq!(
            check_name(&format!("/{}", "n".repeat(1011))),
            Err(NameError::TooLong)
        );
        assert_eq!(
            NameError::TooDeep.code(),
            "HierarchyLevelLimitExceededException"
        );
    }

    #[test]
    fn paths_and_membership() {
        assert_eq!(check_path("/").as_deref(), Ok("/"));
        assert_eq!(check_path("/a/b/").as_deref(), Ok("/a/b"));
        assert!(check_path("a/b").is_err());
        assert!(check_path("//").is_err());
        assert!(check_path("///a").is_err());
        assert!(under("/a/b/c", "/a/b", false));
        assert!(!under("/a/b/c/d", "/a/b", false));
        assert!(under("/a/b/c/d", "/a/b", true));
        assert!(!under("/a/bc", "/a/b", true));
        assert!(under("/x", "/", false));
        assert!(under("x", "/", false));
        assert!(!under("/x/y", "/", false));
        assert!(under("/x/y", "/", true));
    }

    #[test]
    fn selectors_and_labels() {
        assert_eq!(split_selector("/a:3").1, Selector::Version(3));
        assert_eq!(split_selector("/a:prod").1, Selector::Label("prod".into()));
        assert_eq!(split_selector("/a").1, Selector::Latest);
        assert!(label_ok("prod-1"));
        assert!(!label_ok("1prod"));
        assert!(!label_ok("awsx"));
        assert!(!label_ok("a b"));
        assert!(!label_ok(&"a".repeat(101)));
        assert_eq!(arn_resource("/a/b"), "parameter/a/b");
        assert_eq!(arn_resource("a"), "parameter/a");
        assert_eq!(canonical("/example"), "example");
        assert_eq!(canonical("/a/b"), "/a/b");
        assert_eq!(canonical("plain"), "plain");
    }
}
