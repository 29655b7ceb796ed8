//! Why a web ACL or rule group could not be compiled.

/// A compile failure; the WAFv2 API maps these to `WAFInvalidParameterException` or
/// `WAFNonexistentItemException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A statement, field or action is malformed (the message says which).
    #[error("{0}")]
    Invalid(String),
    /// A referenced IP set, regex pattern set or rule group does not exist.
    #[error("referenced item not found: {0}")]
    NotFound(String),
    /// A regular expression does not compile or exceeds the size limit.
    #[error("invalid regular expression {pattern:?}: {reason}")]
    Regex {
        /// The pattern as given.
        pattern: String,
        /// The regex crate's reason.
        reason: String,
    },
    /// An IP set address is not an IPv4/IPv6 address or CIDR.
    #[error("invalid IP address or CIDR: {0}")]
    IpAddress(String),
    /// A feature this engine does not implement (e.g. the Monetize action).
    #[error("not supported by this engine: {0}")]
    Unsupported(String),
}
