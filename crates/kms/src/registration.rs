//! What this crate declares to the server's service list (router, audit, coverage).

use rampart_service::registry::Registration;

/// The kms service's declaration.
pub static REGISTRATION: Registration = Registration {
    model: &rampart_protocol::generated::kms::MODEL,
    implemented: crate::service::KmsService::IMPLEMENTED,
    read_only,
    areas: &[],
};

/// KMS's cryptographic operations change no state, so CloudTrail records them as read-only,
/// besides the usual `Get…`/`List…`/`Describe…` operations.
fn read_only(operation: &str) -> bool {
    const CRYPTO: &[&str] = &[
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateRandom",
        "GenerateMac",
        "VerifyMac",
        "Sign",
        "Verify",
        "DeriveSharedSecret",
        "Encapsulate",
        "Decapsulate",
    ];
    CRYPTO.contains(&operation) || rampart_service::registry::read_only_by_name(operation)
}
