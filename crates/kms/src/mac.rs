//! GenerateMac and VerifyMac with HMAC keys. The MAC algorithm must be the one of the key's
//! spec; verification compares in constant time (aws-lc-rs `hmac::verify`).

use aws_lc_rs::hmac;

use crate::asymmetric::incompatible;
use crate::material::{KeyMaterial, ParsedKey};
use crate::signing::MAX_MESSAGE_LEN;
use crate::{KeyUsage, KmsError, MacAlgorithm};

/// Computes the HMAC of `message` (1 to 4096 bytes), as GenerateMac does.
///
/// # Errors
/// [`KmsError::IncompatibleAlgorithm`] (AWS's `InvalidKeyUsageException`) if `algorithm` is not
/// the key spec's, [`KmsError::Empty`] / [`KmsError::TooLong`] for the message length.
pub fn generate_mac(
    material: &KeyMaterial,
    algorithm: MacAlgorithm,
    message: &[u8],
) -> Result<Vec<u8>, KmsError> {
    let key = hmac_key(material, algorithm, message)?;
    Ok(hmac::sign(key, message).as_ref().to_vec())
}

/// Checks `mac` against the HMAC of `message` in constant time, as VerifyMac does.
///
/// # Errors
/// [`KmsError::InvalidMac`] if it does not match; otherwise the errors of [`generate_mac`].
pub fn verify_mac(
    material: &KeyMaterial,
    algorithm: MacAlgorithm,
    message: &[u8],
    mac: &[u8],
) -> Result<(), KmsError> {
    let key = hmac_key(material, algorithm, message)?;
    hmac::verify(key, message, mac).map_err(|_| KmsError::InvalidMac)
}

fn hmac_key<'a>(
    material: &'a KeyMaterial,
    algorithm: MacAlgorithm,
    message: &[u8],
) -> Result<&'a hmac::Key, KmsError> {
    let spec = material.spec();
    let ParsedKey::Hmac(key) = material.parsed() else {
        return Err(incompatible(algorithm.as_str(), spec));
    };
    if !spec
        .mac_algorithms(KeyUsage::GenerateVerifyMac)
        .contains(&algorithm)
    {
        return Err(incompatible(algorithm.as_str(), spec));
    }
    if message.is_empty() {
        return Err(KmsError::Empty { field: "message" });
    }
    if message.len() > MAX_MESSAGE_LEN {
        return Err(KmsError::TooLong {
            field: "message",
            max: MAX_MESSAGE_LEN,
        });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeySpec;

    #[test]
    fn algorithm_must_match_the_key_spec() {
        let key = KeyMaterial::generate(KeySpec::Hmac224).unwrap();
        let err = generate_mac(&key, MacAlgorithm::HmacSha256, b"m").unwrap_err();
        assert_eq!(
            err.aws_message(),
            "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224."
        );
        assert_eq!(err.aws_code(), "InvalidKeyUsageException");
    }

    /// RFC 4231 test cases 1 and 2, for every HMAC key spec.
    #[test]
    fn rfc_4231_vectors() {
        let cases: [(&[u8], &[u8], [&str; 4]); 2] = [
            (
                &[0x0b; 20],
                b"Hi There",
                [
                    "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c\
                     faea9ea9076ede7f4af152e8b2fa9cb6",
                    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
                     daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
                ],
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                [
                    "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                    "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
                     8e2240ca5e69e2c78b3239ecfab21649",
                    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                     9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
                ],
            ),
        ];
        let specs = [
            (KeySpec::Hmac224, MacAlgorithm::HmacSha224),
            (KeySpec::Hmac256, MacAlgorithm::HmacSha256),
            (KeySpec::Hmac384, MacAlgorithm::HmacSha384),
            (KeySpec::Hmac512, MacAlgorithm::HmacSha512),
        ];
        for (key, data, expected) in cases {
            for ((spec, algorithm), hex_mac) in specs.iter().zip(expected) {
                let material = KeyMaterial::hmac_for_test(*spec, key);
                let mac = generate_mac(&material, *algorithm, data).unwrap();
                assert_eq!(hex::encode(&mac), hex_mac, "{spec}");
                assert!(verify_mac(&material, *algorithm, data, &mac).is_ok());
            }
        }
    }

    #[test]
    fn truncated_or_altered_macs_fail() {
        let key = KeyMaterial::generate(KeySpec::Hmac512).unwrap();
        let mac = generate_mac(&key, MacAlgorithm::HmacSha512, b"m").unwrap();
        assert_eq!(mac.len(), 64);
        assert!(verify_mac(&key, MacAlgorithm::HmacSha512, b"m", &mac).is_ok());
        for bad in [&mac[..63], &[0; 64][..], &[][..]] {
            assert_eq!(
                verify_mac(&key, MacAlgorithm::HmacSha512, b"m", bad),
                Err(KmsError::InvalidMac)
            );
        }
        assert_eq!(
            verify_mac(&key, MacAlgorithm::HmacSha512, b"n", &mac),
            Err(KmsError::InvalidMac)
        );
    }
}
