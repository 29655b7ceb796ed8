//! The one error type of this crate, with messages worded like AWS's.

use std::fmt;

/// Why a request's SigV4 authentication was rejected.
///
/// `Display` gives the message AWS would put in the error body; [`SigV4Error::query_code`]
/// gives the error code used by the awsQuery protocol (STS, IAM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// The Authorization header or the presigned query lacks a required part (AWS `IncompleteSignature`).
    IncompleteSignature(String),
    /// The credential scope is malformed or does not match the request date (AWS `IncompleteSignature`/`SignatureDoesNotMatch`).
    MalformedCredential(String),
    /// `X-Amz-Date` (or `Date`) is missing its ISO-8601 basic format (AWS `IncompleteSignature`).
    MalformedDate,
    /// The signature computed with the secret key differs from the one sent (AWS `SignatureDoesNotMatch`).
    SignatureDoesNotMatch,
    /// The request time is too old: header auth beyond the 15-minute skew, or a presigned URL past its expiry.
    Expired {
        /// AWS's wording, e.g. `Signature expired: ... is now earlier than ... (... - 15 min.)`.
        message: String,
    },
    /// The request time is more than 15 minutes in the future.
    NotYetValid {
        /// AWS's wording, e.g. `Signature not yet current: ... is still later than ... (... + 15 min.)`.
        message: String,
    },
    /// `X-Amz-Expires` of a presigned URL is outside 1..=604800 seconds.
    InvalidExpires(String),
    /// `x-amz-content-sha256` is not the SHA-256 of the body (AWS `XAmzContentSHA256Mismatch`).
    InvalidPayloadHash,
    /// `x-amz-content-sha256` asks for a streaming mode this verifier does not support
    /// (SigV4a), or a streaming request reached [`crate::SignedRequest::verify`], which
    /// checks whole bodies only.
    StreamingUnsupported(String),
    /// [`crate::SignedRequest::verify_streaming`] was given a request whose signed
    /// `x-amz-content-sha256` is not one of the aws-chunked streaming modes.
    NotStreaming,
    /// A header-signed request whose body is verified as it streams did not sign
    /// `x-amz-content-sha256` (S3 requires it then).
    MissingContentSha256,
    /// The `host` header is not among the signed headers.
    HostNotSigned,
    /// Both an Authorization header and presigned query parameters were sent.
    MultipleAuthMechanisms,
    /// A signing algorithm other than `AWS4-HMAC-SHA256` was named.
    UnsupportedAlgorithm(String),
    /// The credential scope names another service than the one serving the request; holds the
    /// signing name of the service that serves it.
    WrongService(String),
    /// The credential scope's region is not a region; holds the region it named.
    InvalidRegion(String),
}

impl SigV4Error {
    /// The error code an awsQuery service (STS, IAM) answers with for this error.
    ///
    /// awsJson services (KMS, Secrets Manager, ...) answer `IncompleteSignatureException` where
    /// this returns `IncompleteSignature`, and `InvalidSignatureException` otherwise.
    #[must_use]
    pub fn query_code(&self) -> &'static str {
        match self {
            Self::IncompleteSignature(_)
            | Self::MalformedCredential(_)
            | Self::MalformedDate
            | Self::HostNotSigned
            | Self::UnsupportedAlgorithm(_) => "IncompleteSignature",
            Self::SignatureDoesNotMatch
            | Self::Expired { .. }
            | Self::NotYetValid { .. }
            | Self::WrongService(_)
            | Self::InvalidRegion(_) => "SignatureDoesNotMatch",
            Self::InvalidExpires(_)
            | Self::MultipleAuthMechanisms
            | Self::NotStreaming
            | Self::MissingContentSha256 => "InvalidRequest",
            Self::InvalidPayloadHash => "XAmzContentSHA256Mismatch",
            Self::StreamingUnsupported(_) => "NotImplemented",
        }
    }
}

impl fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IncompleteSignature(m)
            | Self::MalformedCredential(m)
            | Self::InvalidExpires(m)
            | Self::Expired { message: m }
            | Self::NotYetValid { message: m } => f.write_str(m),
            Self::MalformedDate => f.write_str(
                "Date must be in ISO-8601 'basic format'. See http://en.wikipedia.org/wiki/ISO_8601",
            ),
            Self::SignatureDoesNotMatch => f.write_str(
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. \
                 Consult the service documentation for details.",
            ),
            Self::InvalidPayloadHash => f.write_str(
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ),
            Self::StreamingUnsupported(v) => {
                write!(f, "Payload signing mode '{v}' is not supported.")
            }
            Self::NotStreaming => f.write_str(
                "Content-Encoding aws-chunked requires a signed x-amz-content-sha256 \
                 streaming value.",
            ),
            Self::MissingContentSha256 => {
                f.write_str("Missing required header for this request: x-amz-content-sha256")
            }
            Self::HostNotSigned => f.write_str(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            ),
            Self::MultipleAuthMechanisms => f.write_str(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter \
                 or the Authorization header should be specified",
            ),
            // AWS's wording, trailing space included.
            Self::WrongService(service) => write!(
                f,
                "Credential should be scoped to correct service: '{service}'. "
            ),
            Self::InvalidRegion(region) => write!(
                f,
                "Credential should be scoped to a valid region, not '{region}'. "
            ),
            Self::UnsupportedAlgorithm(a) => write!(
                f,
                "Unsupported AWS 'algorithm': '{a}'; only \"AWS4-HMAC-SHA256\" is supported"
            ),
        }
    }
}

impl std::error::Error for SigV4Error {}
