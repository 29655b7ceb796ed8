//! Public-key operations other than signing: RSAES-OAEP encryption, ECDH key agreement
//! (DeriveSharedSecret) and ML-KEM encapsulation.

use aws_lc_rs::agreement::{self, ParsedPublicKey, ParsedPublicKeyFormat, UnparsedPublicKey};
use aws_lc_rs::kem::Ciphertext;
use aws_lc_rs::rsa::{OaepAlgorithm, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256};
use rampart_crypto::SecretBytes;
use zeroize::Zeroizing;

use crate::material::{KeyMaterial, ParsedKey};
use crate::{
    EncapsulationAlgorithm, EncryptionAlgorithm, KeyAgreementAlgorithm, KeySpec, KmsError,
};

/// The largest plaintext `algorithm` can encrypt under a key of `spec` (for RSAES-OAEP, the
/// modulus length minus twice the hash length minus 2); `None` if the pair is not valid.
#[must_use]
pub fn max_plaintext_len(spec: KeySpec, algorithm: EncryptionAlgorithm) -> Option<usize> {
    let modulus = match spec {
        KeySpec::Rsa2048 => 256,
        KeySpec::Rsa3072 => 384,
        KeySpec::Rsa4096 => 512,
        _ => return None,
    };
    let hash = match algorithm {
        EncryptionAlgorithm::RsaesOaepSha1 => 20,
        EncryptionAlgorithm::RsaesOaepSha256 => 32,
        _ => return None,
    };
    Some(modulus - 2 * hash - 2)
}

/// Encrypts `plaintext` with the public key of an RSA key, as Encrypt does for asymmetric keys.
///
/// # Errors
/// [`KmsError::IncompatibleAlgorithm`] unless the key is RSA and `algorithm` is RSAES-OAEP,
/// [`KmsError::Empty`] for an empty plaintext, [`KmsError::PlaintextTooLarge`] with AWS's
/// message when the plaintext exceeds [`max_plaintext_len`].
pub fn encrypt(
    material: &KeyMaterial,
    algorithm: EncryptionAlgorithm,
    plaintext: &[u8],
) -> Result<Vec<u8>, KmsError> {
    let (ParsedKey::Rsa { encrypting, .. }, Some(oaep)) = (material.parsed(), oaep(algorithm))
    else {
        return Err(incompatible(algorithm.as_str(), material.spec()));
    };
    if plaintext.is_empty() {
        return Err(KmsError::Empty { field: "plaintext" });
    }
    let max = encrypting.max_plaintext_size(oaep);
    if plaintext.len() > max {
        return Err(KmsError::PlaintextTooLarge {
            algorithm: algorithm.as_str(),
            spec: material.spec(),
            max,
        });
    }
    let mut out = vec![0; encrypting.ciphertext_size()];
    let len = encrypting
        .encrypt(oaep, plaintext, &mut out, None)
        .map_err(|_| KmsError::Internal)?
        .len();
    out.truncate(len);
    Ok(out)
}

/// Decrypts an RSAES-OAEP ciphertext with the private key of an RSA key.
///
/// # Errors
/// [`KmsError::IncompatibleAlgorithm`] unless the key is RSA and `algorithm` is RSAES-OAEP,
/// [`KmsError::InvalidCiphertext`] for any ciphertext that does not decrypt.
pub fn decrypt(
    material: &KeyMaterial,
    algorithm: EncryptionAlgorithm,
    ciphertext: &[u8],
) -> Result<SecretBytes, KmsError> {
    let (ParsedKey::Rsa { decrypting, .. }, Some(oaep)) = (material.parsed(), oaep(algorithm))
    else {
        return Err(incompatible(algorithm.as_str(), material.spec()));
    };
    if ciphertext.len() != decrypting.min_output_size() {
        return Err(KmsError::InvalidCiphertext);
    }
    let mut out = Zeroizing::new(vec![0; decrypting.min_output_size()]);
    let plaintext = decrypting
        .decrypt(oaep, ciphertext, &mut out, None)
        .map_err(|_| KmsError::InvalidCiphertext)?;
    Ok(SecretBytes::new(plaintext.to_vec()))
}

/// Derives the raw ECDH shared secret between a NIST-curve key and a peer's public key, given
/// as a DER `SubjectPublicKeyInfo` on the same curve (DeriveSharedSecret).
///
/// # Errors
/// [`KmsError::IncompatibleAlgorithm`] unless the key is on a NIST curve,
/// [`KmsError::InvalidPublicKey`] if the peer key is not an SPKI on the key's curve.
pub fn derive_shared_secret(
    material: &KeyMaterial,
    algorithm: KeyAgreementAlgorithm,
    peer_public_key: &[u8],
) -> Result<SecretBytes, KmsError> {
    let KeyAgreementAlgorithm::Ecdh = algorithm;
    let spec = material.spec();
    let ParsedKey::Ec {
        agreement: Some(private),
        ..
    } = material.parsed()
    else {
        return Err(incompatible(algorithm.as_str(), spec));
    };
    let invalid = KmsError::InvalidPublicKey { spec };
    let peer = UnparsedPublicKey::new(private.algorithm(), peer_public_key);
    let parsed = ParsedPublicKey::try_from(&peer).map_err(|_| invalid.clone())?;
    // AWS takes only SubjectPublicKeyInfo, not bare SEC1 points.
    if !matches!(parsed.format(), ParsedPublicKeyFormat::X509) {
        return Err(invalid);
    }
    agreement::agree(private, parsed, invalid, |secret| {
        Ok(SecretBytes::new(secret.to_vec()))
    })
}

/// Generates a shared secret and its encapsulation under the public key of an ML-KEM key
/// (Encapsulate); returns `(ciphertext, shared secret)`.
///
/// # Errors
/// [`KmsError::IncompatibleAlgorithm`] unless the key is ML-KEM.
pub fn encapsulate(
    material: &KeyMaterial,
    algorithm: EncapsulationAlgorithm,
) -> Result<(Vec<u8>, SecretBytes), KmsError> {
    let EncapsulationAlgorithm::MlKem = algorithm;
    let ParsedKey::MlKem { encapsulation, .. } = material.parsed() else {
        return Err(incompatible(algorithm.as_str(), material.spec()));
    };
    let (ciphertext, secret) = encapsulation
        .encapsulate()
        .map_err(|_| KmsError::Internal)?;
    Ok((
        ciphertext.as_ref().to_vec(),
        SecretBytes::new(secret.as_ref().to_vec()),
    ))
}

/// Recovers the shared secret from an ML-KEM ciphertext (Decapsulate). As ML-KEM specifies, a
/// tampered ciphertext of the right length yields an unrelated secret rather than an error.
///
/// # Errors
/// [`KmsError::IncompatibleAlgorithm`] unless the key is ML-KEM,
/// [`KmsError::InvalidCiphertext`] if the ciphertext has the wrong length.
pub fn decapsulate(
    material: &KeyMaterial,
    algorithm: EncapsulationAlgorithm,
    ciphertext: &[u8],
) -> Result<SecretBytes, KmsError> {
    let EncapsulationAlgorithm::MlKem = algorithm;
    let ParsedKey::MlKem { decapsulation, .. } = material.parsed() else {
        return Err(incompatible(algorithm.as_str(), material.spec()));
    };
    let secret = decapsulation
        .decapsulate(Ciphertext::from(ciphertext))
        .map_err(|_| KmsError::InvalidCiphertext)?;
    Ok(SecretBytes::new(secret.as_ref().to_vec()))
}

fn oaep(algorithm: EncryptionAlgorithm) -> Option<&'static OaepAlgorithm> {
    match algorithm {
        EncryptionAlgorithm::RsaesOaepSha1 => Some(&OAEP_SHA1_MGF1SHA1),
        EncryptionAlgorithm::RsaesOaepSha256 => Some(&OAEP_SHA256_MGF1SHA256),
        _ => None,
    }
}

pub(crate) fn incompatible(algorithm: &'static str, spec: KeySpec) -> KmsError {
    KmsError::IncompatibleAlgorithm { algorithm, spec }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oaep_limits_match_aws() {
        let expected = [
            (KeySpec::Rsa2048, 214, 190),
            (KeySpec::Rsa3072, 342, 318),
            (KeySpec::Rsa4096, 470, 446),
        ];
        for (spec, sha1, sha256) in expected {
            assert_eq!(
                max_plaintext_len(spec, EncryptionAlgorithm::RsaesOaepSha1),
                Some(sha1)
            );
            assert_eq!(
                max_plaintext_len(spec, EncryptionAlgorithm::RsaesOaepSha256),
                Some(sha256)
            );
        }
        assert_eq!(
            max_plaintext_len(KeySpec::EccNistP256, EncryptionAlgorithm::RsaesOaepSha1),
            None
        );
    }

    #[test]
    fn wrong_key_families_are_incompatible() {
        let ec = KeyMaterial::generate(KeySpec::EccSecgP256k1).unwrap();
        assert_eq!(
            encrypt(&ec, EncryptionAlgorithm::RsaesOaepSha256, b"x"),
            Err(incompatible("RSAES_OAEP_SHA_256", KeySpec::EccSecgP256k1))
        );
        // secp256k1 keys sign only; AWS offers no key agreement on that curve.
        assert!(derive_shared_secret(&ec, KeyAgreementAlgorithm::Ecdh, b"").is_err());
        assert!(encapsulate(&ec, EncapsulationAlgorithm::MlKem).is_err());
    }
}
