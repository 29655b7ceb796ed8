//! WAFv2's errors, with AWS's codes and messages, in one place.
//!
//! `WAFInvalidParameterException` has `Field`, `Parameter` and `Reason` members on AWS; the
//! protocol layer's error carries a code and a message only, so they are given in the message
//! in the form AWS uses (`Error reason: …, field: …, parameter: …`).

use rampart_service::AwsError;

/// `WAFNonexistentItemException`.
#[must_use]
pub fn nonexistent() -> AwsError {
    AwsError::new(
        "WAFNonexistentItemException",
        400,
        "AWS WAF couldn\u{2019}t perform the operation because your resource doesn\u{2019}t exist.",
    )
}

/// `WAFDuplicateItemException`.
#[must_use]
pub fn duplicate() -> AwsError {
    AwsError::new(
        "WAFDuplicateItemException",
        400,
        "AWS WAF couldn\u{2019}t perform the operation because some resource in your request is a duplicate of an existing one.",
    )
}

/// `WAFOptimisticLockException`: a stale lock token, or a concurrent change.
#[must_use]
pub fn optimistic_lock() -> AwsError {
    AwsError::new(
        "WAFOptimisticLockException",
        400,
        "AWS WAF couldn\u{2019}t save your changes because someone changed the resource after you started to edit it. Reapply your changes.",
    )
}

/// `WAFAssociatedItemException`: the resource is used by, or associated with, another one.
#[must_use]
pub fn associated() -> AwsError {
    AwsError::new(
        "WAFAssociatedItemException",
        400,
        "AWS WAF couldn\u{2019}t perform the operation because your resource is being used by another resource or it\u{2019}s associated with another resource.",
    )
}

/// `WAFLimitsExceededException`.
#[must_use]
pub fn limits_exceeded() -> AwsError {
    AwsError::new(
        "WAFLimitsExceededException",
        400,
        "AWS WAF couldn\u{2019}t perform the operation because you exceeded your resource limit. For example, the maximum number of WebACL objects that you can create for an Amazon Web Services account.",
    )
}

/// `WAFInvalidParameterException` with its field (one of the model's `ParameterExceptionField`
/// values), the offending parameter, and the reason.
#[must_use]
pub fn invalid(field: &str, parameter: &str, reason: &str) -> AwsError {
    AwsError::new(
        "WAFInvalidParameterException",
        400,
        format!("Error reason: {reason}, field: {field}, parameter: {parameter}"),
    )
}

/// The reason AWS gives for a value whose format is not valid.
pub const BAD_FORMAT: &str = "The parameter contains formatting that is not valid.";

/// `WAFInternalErrorException`: a store failure (logged, not shown).
#[must_use]
pub fn store_unavailable(e: &rampart_store::StoreError) -> AwsError {
    tracing::error!(error = %e, "wafv2 store failure");
    let mut err = AwsError::new(
        "WAFInternalErrorException",
        500,
        "Your request is valid, but AWS WAF couldn\u{2019}t perform the operation because of a system problem. Retry your request.",
    );
    err.sender_fault = false;
    err
}
