//! Sign and Verify: RSASSA-PSS and RSASSA-PKCS1-v1_5, ECDSA (DER signatures, as KMS returns
//! them), Ed25519 and ML-DSA, with `MessageType` `RAW` (KMS hashes the message) or `DIGEST`
//! (the caller hashed it; its length must match the algorithm's hash).
//!
//! Not available in aws-lc-rs, and so refused with [`KmsError::Unsupported`]: Ed25519ph
//! (`ED25519_PH_SHA_512`), ML-DSA with an external mu (`EXTERNAL_MU`), and SM2.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, RsaEncoding, RsaKeyPair, UnparsedPublicKey, VerificationAlgorithm,
};

use crate::asymmetric::incompatible;
use crate::material::{KeyMaterial, ParsedKey};
use crate::{KeySpec, KeyUsage, KmsError, MessageType, SigningAlgorithm};

use SigningAlgorithm as S;

/// The longest message Sign and Verify accept, in bytes.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// What gets signed: the message itself, or a digest the caller computed.
enum Input<'a> {
    Raw(&'a [u8]),
    Digest(Digest),
}

/// Signs `message` with the private key of `material`, as Sign does.
///
/// # Errors
/// [`KmsError::Empty`] / [`KmsError::TooLong`] for the message length,
/// [`KmsError::IncompatibleAlgorithm`] if the key spec does not support `algorithm`,
/// [`KmsError::InvalidDigestLength`] for a `DIGEST` of the wrong length,
/// [`KmsError::InvalidMessageType`] for a message type the algorithm does not take,
/// [`KmsError::Unsupported`] for Ed25519ph and `EXTERNAL_MU`.
pub fn sign(
    material: &KeyMaterial,
    algorithm: SigningAlgorithm,
    message_type: MessageType,
    message: &[u8],
) -> Result<Vec<u8>, KmsError> {
    let input = prepare(material.spec(), algorithm, message_type, message)?;
    let rng = SystemRandom::new();
    let failed = |_| KmsError::Internal;
    match (material.parsed(), input) {
        (ParsedKey::Rsa { signing, .. }, input) => rsa_sign(signing, algorithm, &input),
        (ParsedKey::Ec { signing, .. }, Input::Raw(message)) => Ok(signing
            .sign(&rng, message)
            .map_err(failed)?
            .as_ref()
            .to_vec()),
        (ParsedKey::Ec { signing, .. }, Input::Digest(digest)) => Ok(signing
            .sign_digest(&digest)
            .map_err(failed)?
            .as_ref()
            .to_vec()),
        (ParsedKey::Ed25519(pair), Input::Raw(message)) => {
            Ok(pair.try_sign(message).map_err(failed)?.as_ref().to_vec())
        }
        (ParsedKey::MlDsa(pair), Input::Raw(message)) => {
            let mut signature = vec![0; pair.algorithm().signature_len()];
            let len = pair.sign(message, &mut signature).map_err(failed)?;
            signature.truncate(len);
            Ok(signature)
        }
        _ => Err(KmsError::Internal),
    }
}

/// Verifies `signature` over `message` with the public key of `material`, as Verify does.
///
/// # Errors
/// [`KmsError::InvalidSignature`] if the signature does not verify; otherwise the same errors
/// as [`sign`].
pub fn verify(
    material: &KeyMaterial,
    algorithm: SigningAlgorithm,
    message_type: MessageType,
    message: &[u8],
    signature: &[u8],
) -> Result<(), KmsError> {
    let spec = material.spec();
    let input = prepare(spec, algorithm, message_type, message)?;
    let public = material.public_key_der().ok_or(KmsError::Internal)?;
    let key = UnparsedPublicKey::new(verification_alg(spec, algorithm)?, public);
    let verified = match input {
        Input::Raw(message) => key.verify(message, signature),
        Input::Digest(digest) => key.verify_digest(&digest, signature),
    };
    verified.map_err(|_| KmsError::InvalidSignature)
}

/// Checks the message, the algorithm against the key spec and the message type, and imports a
/// `DIGEST` message as a digest of the algorithm's hash.
fn prepare(
    spec: KeySpec,
    algorithm: SigningAlgorithm,
    message_type: MessageType,
    message: &[u8],
) -> Result<Input<'_>, KmsError> {
    if message.is_empty() {
        return Err(KmsError::Empty { field: "message" });
    }
    if message.len() > MAX_MESSAGE_LEN {
        return Err(KmsError::TooLong {
            field: "message",
            max: MAX_MESSAGE_LEN,
        });
    }
    if !spec
        .signing_algorithms(KeyUsage::SignVerify)
        .contains(&algorithm)
    {
        return Err(incompatible(algorithm.as_str(), spec));
    }
    let wrong_type = KmsError::InvalidMessageType {
        message_type: message_type.as_str(),
        algorithm: algorithm.as_str(),
    };
    match (algorithm, message_type) {
        (S::Ed25519PhSha512, _) => Err(KmsError::Unsupported {
            what: "ED25519_PH_SHA_512",
        }),
        (S::Sm2Dsa, _) => Err(KmsError::Unsupported { what: "SM2DSA" }),
        (S::MlDsaShake256, MessageType::ExternalMu) => Err(KmsError::Unsupported {
            what: "MessageType EXTERNAL_MU",
        }),
        (_, MessageType::Raw) => Ok(Input::Raw(message)),
        (S::MlDsaShake256 | S::Ed25519Sha512, _) | (_, MessageType::ExternalMu) => Err(wrong_type),
        (_, MessageType::Digest) => {
            let hash = digest_alg(algorithm).ok_or(wrong_type)?;
            Digest::import_less_safe(message, hash)
                .map(Input::Digest)
                .map_err(|_| KmsError::InvalidDigestLength {
                    algorithm: algorithm.as_str(),
                })
        }
    }
}

fn rsa_sign(
    pair: &RsaKeyPair,
    algorithm: SigningAlgorithm,
    input: &Input<'_>,
) -> Result<Vec<u8>, KmsError> {
    let encoding: &'static dyn RsaEncoding = match algorithm {
        S::RsassaPssSha256 => &signature::RSA_PSS_SHA256,
        S::RsassaPssSha384 => &signature::RSA_PSS_SHA384,
        S::RsassaPssSha512 => &signature::RSA_PSS_SHA512,
        S::RsassaPkcs1V15Sha256 => &signature::RSA_PKCS1_SHA256,
        S::RsassaPkcs1V15Sha384 => &signature::RSA_PKCS1_SHA384,
        S::RsassaPkcs1V15Sha512 => &signature::RSA_PKCS1_SHA512,
        _ => return Err(KmsError::Internal),
    };
    let mut out = vec![0; pair.public_modulus_len()];
    let signed = match input {
        Input::Raw(message) => pair.sign(encoding, &SystemRandom::new(), message, &mut out),
        Input::Digest(digest) => pair.sign_digest(encoding, digest, &mut out),
    };
    signed.map_err(|_| KmsError::Internal)?;
    Ok(out)
}

fn digest_alg(algorithm: SigningAlgorithm) -> Option<&'static digest::Algorithm> {
    match algorithm.digest_len()? {
        32 => Some(&digest::SHA256),
        48 => Some(&digest::SHA384),
        _ => Some(&digest::SHA512),
    }
}

fn verification_alg(
    spec: KeySpec,
    algorithm: SigningAlgorithm,
) -> Result<&'static dyn VerificationAlgorithm, KmsError> {
    Ok(match (spec, algorithm) {
        (_, S::RsassaPssSha256) => &signature::RSA_PSS_2048_8192_SHA256,
        (_, S::RsassaPssSha384) => &signature::RSA_PSS_2048_8192_SHA384,
        (_, S::RsassaPssSha512) => &signature::RSA_PSS_2048_8192_SHA512,
        (_, S::RsassaPkcs1V15Sha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (_, S::RsassaPkcs1V15Sha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (_, S::RsassaPkcs1V15Sha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (KeySpec::EccNistP256, _) => &signature::ECDSA_P256_SHA256_ASN1,
        (KeySpec::EccSecgP256k1, _) => &signature::ECDSA_P256K1_SHA256_ASN1,
        (KeySpec::EccNistP384, _) => &signature::ECDSA_P384_SHA384_ASN1,
        (KeySpec::EccNistP521, _) => &signature::ECDSA_P521_SHA512_ASN1,
        (KeySpec::EccNistEdwards25519, _) => &signature::ED25519,
        (KeySpec::MlDsa44, _) => &signature::ML_DSA_44,
        (KeySpec::MlDsa65, _) => &signature::ML_DSA_65,
        (KeySpec::MlDsa87, _) => &signature::ML_DSA_87,
        _ => return Err(KmsError::Internal),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_types_are_checked_per_algorithm() {
        let ed = KeyMaterial::generate(KeySpec::EccNistEdwards25519).unwrap();
        assert!(matches!(
            sign(&ed, S::Ed25519Sha512, MessageType::Digest, &[0; 64]),
            Err(KmsError::InvalidMessageType { .. })
        ));
        assert_eq!(
            sign(&ed, S::Ed25519PhSha512, MessageType::Digest, &[0; 64]),
            Err(KmsError::Unsupported {
                what: "ED25519_PH_SHA_512"
            })
        );
        let dsa = KeyMaterial::generate(KeySpec::MlDsa44).unwrap();
        assert!(matches!(
            sign(&dsa, S::MlDsaShake256, MessageType::ExternalMu, &[0; 64]),
            Err(KmsError::Unsupported { .. })
        ));
        assert!(matches!(
            sign(&dsa, S::MlDsaShake256, MessageType::Digest, &[0; 32]),
            Err(KmsError::InvalidMessageType { .. })
        ));
        let ec = KeyMaterial::generate(KeySpec::EccNistP256).unwrap();
        assert!(matches!(
            sign(&ec, S::EcdsaSha256, MessageType::ExternalMu, &[0; 64]),
            Err(KmsError::InvalidMessageType { .. })
        ));
    }

    #[test]
    fn algorithm_must_match_the_curve() {
        let ec = KeyMaterial::generate(KeySpec::EccNistP256).unwrap();
        let err = sign(&ec, S::EcdsaSha384, MessageType::Raw, b"m").unwrap_err();
        assert_eq!(
            err.aws_message(),
            "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256."
        );
        let hmac = KeyMaterial::generate(KeySpec::Hmac256).unwrap();
        assert!(sign(&hmac, S::EcdsaSha256, MessageType::Raw, b"m").is_err());
    }

    #[test]
    fn message_length_is_bounded() {
        let ec = KeyMaterial::generate(KeySpec::EccNistP256).unwrap();
        assert_eq!(
            sign(&ec, S::EcdsaSha256, MessageType::Raw, b""),
            Err(KmsError::Empty { field: "message" })
        );
        assert!(sign(&ec, S::EcdsaSha256, MessageType::Raw, &[1; 4096]).is_ok());
        assert!(matches!(
            sign(&ec, S::EcdsaSha256, MessageType::Raw, &[1; 4097]),
            Err(KmsError::TooLong { .. })
        ));
    }
}
