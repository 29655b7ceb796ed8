//! Why a policy document was refused, worded as IAM words its `MalformedPolicyDocument` errors.

/// The reason a policy document was refused by [`Policy::parse`](crate::Policy::parse) or
/// [`Policy::validate`](crate::Policy::validate).
///
/// `Display` gives the message IAM returns for the same fault; [`PolicyError::code`] gives the
/// AWS error code a service should answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The document is not JSON, or its JSON does not have the shape of a policy.
    #[error("Syntax errors in policy.")]
    Syntax,
    /// The `Version` element names neither `2012-10-17` nor `2008-10-17`.
    #[error("Policy document must be version 2012-10-17 or greater.")]
    Version,
    /// A statement has no `Action` or `NotAction`, or an empty one.
    #[error("Policy statement must contain actions.")]
    MissingActions,
    /// A statement of an identity policy has no `Resource` or `NotResource`, or an empty one.
    #[error("Policy statement must contain resources.")]
    MissingResources,
    /// An identity policy names a `Principal` or `NotPrincipal`.
    #[error("Policy document should not specify a principal.")]
    PrincipalNotAllowed,
    /// A statement of a resource or trust policy names neither `Principal` nor `NotPrincipal`.
    #[error("Missing required field Principal")]
    MissingPrincipal,
    /// A statement holds an element that this kind of policy forbids (the element's name).
    #[error("Has prohibited field {0}")]
    ProhibitedField(String),
    /// A `Principal` or `NotPrincipal` entry is not a principal IAM recognises (the entry).
    #[error("Invalid principal in policy: {0}")]
    InvalidPrincipal(String),
    /// A `Resource` or `NotResource` entry is neither an ARN nor `*` (the entry).
    #[error("Resource {0} must be in ARN format or \"*\".")]
    InvalidResource(String),
    /// An `Action` or `NotAction` entry has no service prefix (the entry).
    #[error("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")]
    InvalidAction(String),
    /// A `Condition` block uses an operator IAM does not define (the operator).
    #[error("Invalid Condition type : {0}")]
    InvalidConditionOperator(String),
    /// Two statements of one policy share a `Sid` (the `Sid`).
    #[error("Statement IDs (SID) in a single policy must be unique.")]
    DuplicateSid(String),
    /// The document is longer than the engine accepts, in bytes.
    #[error("Cannot exceed quota for PolicySize: {limit}")]
    TooLarge {
        /// Length of the refused document in bytes.
        size: usize,
        /// The largest accepted length in bytes.
        limit: usize,
    },
    /// The document holds more statements than the engine accepts.
    #[error("Cannot exceed quota for StatementsPerPolicy: {limit}")]
    TooManyStatements {
        /// Number of statements in the refused document.
        count: usize,
        /// The largest accepted number of statements.
        limit: usize,
    },
    /// Any other fault, with IAM's message for it.
    #[error("{0}")]
    Malformed(String),
}

impl PolicyError {
    /// The AWS error code for this fault: `LimitExceeded` for size quotas,
    /// `MalformedPolicyDocument` for everything else (IAM's spelling; KMS and Secrets Manager
    /// map it to their own `MalformedPolicyDocumentException`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::TooLarge { .. } | PolicyError::TooManyStatements { .. } => "LimitExceeded",
            _ => "MalformedPolicyDocument",
        }
    }
}
