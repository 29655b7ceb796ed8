//! S3's errors, with AWS's codes, statuses and messages.

use rampart_service::AwsError;

/// `NoSuchBucket` (404).
pub fn no_such_bucket() -> AwsError {
    AwsError::new("NoSuchBucket", 404, "The specified bucket does not exist")
}

/// `NoSuchKey` (404).
pub fn no_such_key() -> AwsError {
    AwsError::new("NoSuchKey", 404, "The specified key does not exist.")
}

/// `InvalidBucketName` (400).
pub fn invalid_bucket_name() -> AwsError {
    AwsError::new(
        "InvalidBucketName",
        400,
        "The specified bucket is not valid.",
    )
}

/// `BucketNotEmpty` (409).
pub fn bucket_not_empty() -> AwsError {
    AwsError::new(
        "BucketNotEmpty",
        409,
        "The bucket you tried to delete is not empty",
    )
}

/// `InvalidDigest` (400): a `Content-MD5` that is not the base64 of 16 bytes.
pub fn invalid_digest() -> AwsError {
    AwsError::new(
        "InvalidDigest",
        400,
        "The Content-MD5 you specified was invalid.",
    )
}

/// `BadDigest` (400): a `Content-MD5` that does not match the body.
pub fn bad_digest() -> AwsError {
    AwsError::new(
        "BadDigest",
        400,
        "The Content-MD5 you specified did not match what we received.",
    )
}

/// `PreconditionFailed` (412).
pub fn precondition_failed() -> AwsError {
    AwsError::new(
        "PreconditionFailed",
        412,
        "At least one of the pre-conditions you specified did not hold",
    )
}

/// `NotModified` (304).
pub fn not_modified() -> AwsError {
    AwsError::new("NotModified", 304, "Not Modified")
}

/// `InvalidRange` (416).
pub fn invalid_range() -> AwsError {
    AwsError::new(
        "InvalidRange",
        416,
        "The requested range is not satisfiable",
    )
}

/// `KeyTooLongError` (400).
pub fn key_too_long() -> AwsError {
    AwsError::new("KeyTooLongError", 400, "Your key is too long")
}
