//! The one error type of this crate, and its mapping to AWS error codes and messages.
//!
//! No variant carries key material, plaintext or shared secrets.

use crate::spec::{KeySpec, KeyUsage};

/// Everything that can go wrong in KMS cryptography.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// A ciphertext is malformed, was tampered with, belongs to other key material, or was
    /// presented with a different encryption context; deliberately without detail.
    #[error("the ciphertext is invalid")]
    InvalidCiphertext,
    /// CreateKey with a key usage the key spec does not allow.
    #[error("KeyUsage {usage} is not compatible with KeySpec {spec}")]
    IncompatibleKeyUsage {
        /// The key spec.
        spec: KeySpec,
        /// The refused key usage.
        usage: KeyUsage,
    },
    /// An algorithm that the key's spec does not support (wrong family or wrong size).
    #[error("Algorithm {algorithm} is incompatible with key spec {spec}.")]
    IncompatibleAlgorithm {
        /// The algorithm's wire name.
        algorithm: &'static str,
        /// The key spec.
        spec: KeySpec,
    },
    /// A plaintext longer than RSAES-OAEP can encrypt with this key size and hash.
    #[error(
        "Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {max} bytes."
    )]
    PlaintextTooLarge {
        /// The encryption algorithm's wire name.
        algorithm: &'static str,
        /// The key spec.
        spec: KeySpec,
        /// The largest plaintext in bytes.
        max: usize,
    },
    /// An input field longer than the API allows.
    #[error("Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}")]
    TooLong {
        /// The field, as AWS names it in validation errors (`plaintext`, `message`).
        field: &'static str,
        /// The longest allowed length.
        max: usize,
    },
    /// An input field that must not be empty was empty.
    #[error("Value at '{field}' failed to satisfy constraint: Member must have length greater than or equal to 1")]
    Empty {
        /// The field, as AWS names it in validation errors.
        field: &'static str,
    },
    /// An encryption context larger than Rampart accepts.
    #[error("Encryption context is {size} bytes, more than the limit of {max}")]
    ContextTooLarge {
        /// The size of its keys and values, in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A `DIGEST` message whose length is not the algorithm's digest length.
    #[error("Digest is invalid length for algorithm {algorithm}.")]
    InvalidDigestLength {
        /// The signing algorithm's wire name.
        algorithm: &'static str,
    },
    /// A message type the signing algorithm does not accept.
    #[error("MessageType {message_type} is not supported for signing algorithm {algorithm}.")]
    InvalidMessageType {
        /// The message type's wire name.
        message_type: &'static str,
        /// The signing algorithm's wire name.
        algorithm: &'static str,
    },
    /// A signature that does not verify.
    #[error("the signature is invalid")]
    InvalidSignature,
    /// A MAC that does not verify.
    #[error("the MAC is invalid")]
    InvalidMac,
    /// A peer public key that is not a DER SubjectPublicKeyInfo on the key's curve.
    #[error("PublicKey is not a valid DER-encoded SubjectPublicKeyInfo for key spec {spec}.")]
    InvalidPublicKey {
        /// The key spec of the KMS key.
        spec: KeySpec,
    },
    /// Imported or stored key material that does not parse as the key spec's material.
    #[error("key material is not valid for key spec {spec}")]
    InvalidKeyMaterial {
        /// The key spec the material was meant for.
        spec: KeySpec,
    },
    /// A key spec, algorithm or message type the crypto library cannot provide.
    #[error("{what} is not supported by Rampart")]
    Unsupported {
        /// What is missing, by its AWS name.
        what: &'static str,
    },
    /// The crypto library failed (key generation, random number generator).
    #[error("internal cryptographic failure")]
    Internal,
}

impl KmsError {
    /// The AWS error code (the `__type` of the error response).
    #[must_use]
    pub fn aws_code(&self) -> &'static str {
        match self {
            Self::InvalidCiphertext => "InvalidCiphertextException",
            Self::IncompatibleAlgorithm { .. } => "InvalidKeyUsageException",
            Self::InvalidSignature => "KMSInvalidSignatureException",
            Self::InvalidMac => "KMSInvalidMacException",
            Self::Unsupported { .. } => "UnsupportedOperationException",
            Self::InvalidKeyMaterial { .. } => "IncorrectKeyMaterialException",
            Self::Internal => "KMSInternalException",
            Self::IncompatibleKeyUsage { .. }
            | Self::PlaintextTooLarge { .. }
            | Self::TooLong { .. }
            | Self::Empty { .. }
            | Self::ContextTooLarge { .. }
            | Self::InvalidDigestLength { .. }
            | Self::InvalidMessageType { .. }
            | Self::InvalidPublicKey { .. } => "ValidationException",
        }
    }

    /// The AWS error message: empty where AWS sends none (invalid ciphertext, signature, MAC),
    /// otherwise this error's `Display`.
    #[must_use]
    pub fn aws_message(&self) -> String {
        match self {
            Self::InvalidCiphertext | Self::InvalidSignature | Self::InvalidMac => String::new(),
            Self::TooLong { .. } | Self::Empty { .. } => {
                format!("1 validation error detected: {self}")
            }
            _ => self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_aws() {
        let err = KmsError::PlaintextTooLarge {
            algorithm: "RSAES_OAEP_SHA_256",
            spec: KeySpec::Rsa2048,
            max: 190,
        };
        assert_eq!(
            err.aws_message(),
            "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes."
        );
        assert_eq!(err.aws_code(), "ValidationException");
        let err = KmsError::IncompatibleAlgorithm {
            algorithm: "HMAC_SHA_256",
            spec: KeySpec::Hmac224,
        };
        assert_eq!(
            err.aws_message(),
            "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224."
        );
        assert_eq!(err.aws_code(), "InvalidKeyUsageException");
        let err = KmsError::TooLong {
            field: "plaintext",
            max: 4096,
        };
        assert_eq!(
            err.aws_message(),
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: \
             Member must have length less than or equal to 4096"
        );
        assert_eq!(KmsError::InvalidCiphertext.aws_message(), "");
        assert_eq!(
            KmsError::InvalidCiphertext.aws_code(),
            "InvalidCiphertextException"
        );
    }
}
