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

#[cfg(test)]
mod tests {
    use crate::shapes::kms::ErrorCode;

    #[test]
    fn error_codes_carry_the_models_code_and_status() {
        let e = ErrorCode::NotFoundException.err("Key 'x' does not exist");
        assert_eq!((e.code.as_ref(), e.status), ("NotFoundException", 400));
        assert_eq!(ErrorCode::KMSInternalException.status(), 500);
        let model = &rampart_protocol::generated::kms::MODEL;
        for code in ErrorCode::ALL {
            let info = model.error_by_code(code.code()).expect("in the model");
            // Server faults without a status in the model answer 500, as AWS does.
            if info.sender_fault {
                assert_eq!(info.status, code.status(), "{}", code.code());
            } else {
                assert!(code.status() >= 500, "{}", code.code());
            }
        }
    }
}
