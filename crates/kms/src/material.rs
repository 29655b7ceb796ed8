//! Key material: generation for every supported key spec, the serialized private form that the
//! store seals, and the public key that GetPublicKey returns.
//!
//! The serialized private form ([`KeyMaterial::secret`]) is:
//! - `SYMMETRIC_DEFAULT`: the 32-byte AES-256 key;
//! - `HMAC_*`: the HMAC key (generated at the hash's output length; imports may be longer);
//! - RSA, ECC, Ed25519 and ML-DSA: an unencrypted PKCS#8 v1 `PrivateKeyInfo` (DER), which is
//!   also what GenerateDataKeyPair returns as the private key;
//! - ML-KEM: the raw FIPS 203 decapsulation key, because aws-lc-rs has no PKCS#8 form for it.

use std::fmt;

use aws_lc_rs::aead::{RandomizedNonceKey, AES_256_GCM};
use aws_lc_rs::agreement::{self, ECDH_P256, ECDH_P384, ECDH_P521};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::kem::{DecapsulationKey, EncapsulationKey, ML_KEM_1024, ML_KEM_512, ML_KEM_768};
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{
    EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, PqdsaKeyPair,
    PqdsaSigningAlgorithm, RsaKeyPair, ECDSA_P256K1_SHA256_ASN1_SIGNING,
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING,
    ML_DSA_44_SIGNING, ML_DSA_65_SIGNING, ML_DSA_87_SIGNING,
};
use aws_lc_rs::{hmac, kem};
use rampart_crypto::{random_bytes, SecretBytes};

use crate::{KeySpec, KmsError};

/// The length of a `SYMMETRIC_DEFAULT` key in bytes.
pub const AES_KEY_LEN: usize = 32;

/// The private key of one KMS key (one backing key of it, after rotation), parsed once and ready
/// for use. `Debug` shows only the key spec.
pub struct KeyMaterial {
    spec: KeySpec,
    secret: SecretBytes,
    public_der: Option<Vec<u8>>,
    key: ParsedKey,
}

/// The parsed form of key material, one variant per algorithm family.
pub(crate) enum ParsedKey {
    /// AES-256-GCM.
    Aes(RandomizedNonceKey),
    /// HMAC with the spec's hash (boxed: aws-lc-rs keeps precomputed state inline).
    Hmac(Box<hmac::Key>),
    /// An RSA key pair, usable for signing and for OAEP encryption and decryption.
    Rsa {
        /// The signing view.
        signing: RsaKeyPair,
        /// The OAEP decryption view.
        decrypting: OaepPrivateDecryptingKey,
        /// The OAEP encryption view of the public key.
        encrypting: OaepPublicEncryptingKey,
    },
    /// An ECDSA key pair; NIST curves can also do ECDH.
    Ec {
        /// The signing view.
        signing: EcdsaKeyPair,
        /// The key agreement view (`None` for secp256k1).
        agreement: Option<agreement::PrivateKey>,
    },
    /// An Ed25519 key pair.
    Ed25519(Ed25519KeyPair),
    /// An ML-DSA key pair.
    MlDsa(PqdsaKeyPair),
    /// An ML-KEM key pair.
    MlKem {
        /// The private (decapsulation) key.
        decapsulation: DecapsulationKey,
        /// The public (encapsulation) key.
        encapsulation: EncapsulationKey,
    },
}

impl KeyMaterial {
    /// Generates fresh key material for `spec`.
    ///
    /// # Errors
    /// [`KmsError::Unsupported`] for SM2, [`KmsError::Internal`] if generation fails.
    pub fn generate(spec: KeySpec) -> Result<Self, KmsError> {
        let secret = match spec {
            KeySpec::SymmetricDefault => random(AES_KEY_LEN)?,
            KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512 => {
                random(hmac_key_lengths(spec).0)?
            }
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let pair = RsaKeyPair::generate(rsa_key_size(spec)).map_err(internal)?;
                let der: Pkcs8V1Der<'_> = pair.as_der().map_err(internal)?;
                SecretBytes::new(der.as_ref().to_vec())
            }
            KeySpec::EccNistP256
            | KeySpec::EccNistP384
            | KeySpec::EccNistP521
            | KeySpec::EccSecgP256k1 => {
                let pair = EcdsaKeyPair::generate(ecdsa_alg(spec)?).map_err(internal)?;
                SecretBytes::new(pair.to_pkcs8v1().map_err(internal)?.as_ref().to_vec())
            }
            KeySpec::EccNistEdwards25519 => {
                let pair = Ed25519KeyPair::generate().map_err(internal)?;
                SecretBytes::new(pair.to_pkcs8v1().map_err(internal)?.as_ref().to_vec())
            }
            KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87 => {
                let pair = PqdsaKeyPair::generate(ml_dsa_alg(spec)?).map_err(internal)?;
                SecretBytes::new(pair.to_pkcs8v1().map_err(internal)?.as_ref().to_vec())
            }
            KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024 => {
                let key = DecapsulationKey::generate(ml_kem_alg(spec)?).map_err(internal)?;
                SecretBytes::new(key.key_bytes().map_err(internal)?.as_ref().to_vec())
            }
            KeySpec::Sm2 => return Err(KmsError::Unsupported { what: "SM2" }),
        };
        Self::from_secret(spec, secret)
    }

    /// Parses serialized material for `spec` (from the store, or imported by
    /// ImportKeyMaterial), checking that it really is a key of that spec.
    ///
    /// # Errors
    /// [`KmsError::InvalidKeyMaterial`] if it is not, [`KmsError::Unsupported`] for SM2.
    pub fn from_secret(spec: KeySpec, secret: SecretBytes) -> Result<Self, KmsError> {
        let bytes = secret.expose();
        let (key, public_der) = match spec {
            KeySpec::SymmetricDefault => {
                if bytes.len() != AES_KEY_LEN {
                    return Err(KmsError::InvalidKeyMaterial { spec });
                }
                let key = RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(rejected(spec))?;
                (ParsedKey::Aes(key), None)
            }
            KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512 => {
                let (min, max) = hmac_key_lengths(spec);
                if !(min..=max).contains(&bytes.len()) {
                    return Err(KmsError::InvalidKeyMaterial { spec });
                }
                (
                    ParsedKey::Hmac(Box::new(hmac::Key::new(hmac_alg(spec), bytes))),
                    None,
                )
            }
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let signing = RsaKeyPair::from_pkcs8(bytes).map_err(rejected(spec))?;
                let private = PrivateDecryptingKey::from_pkcs8(bytes).map_err(rejected(spec))?;
                let encrypting =
                    OaepPublicEncryptingKey::new(private.public_key()).map_err(internal)?;
                let decrypting = OaepPrivateDecryptingKey::new(private).map_err(internal)?;
                if signing.public_modulus_len() != rsa_key_size(spec).len() {
                    return Err(KmsError::InvalidKeyMaterial { spec });
                }
                let public = der(signing.public_key())?;
                (
                    ParsedKey::Rsa {
                        signing,
                        decrypting,
                        encrypting,
                    },
                    Some(public),
                )
            }
            KeySpec::EccNistP256
            | KeySpec::EccNistP384
            | KeySpec::EccNistP521
            | KeySpec::EccSecgP256k1 => {
                let signing =
                    EcdsaKeyPair::from_pkcs8(ecdsa_alg(spec)?, bytes).map_err(rejected(spec))?;
                let agreement = match ecdh_alg(spec) {
                    Some(alg) => Some(
                        agreement::PrivateKey::from_private_key_der(alg, bytes)
                            .map_err(rejected(spec))?,
                    ),
                    None => None,
                };
                let public = der(signing.public_key())?;
                (ParsedKey::Ec { signing, agreement }, Some(public))
            }
            KeySpec::EccNistEdwards25519 => {
                let pair = Ed25519KeyPair::from_pkcs8(bytes).map_err(rejected(spec))?;
                let public = der(pair.public_key())?;
                (ParsedKey::Ed25519(pair), Some(public))
            }
            KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87 => {
                let pair =
                    PqdsaKeyPair::from_pkcs8(ml_dsa_alg(spec)?, bytes).map_err(rejected(spec))?;
                let public = der(pair.public_key())?;
                (ParsedKey::MlDsa(pair), Some(public))
            }
            KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024 => {
                let alg = ml_kem_alg(spec)?;
                let decapsulation = DecapsulationKey::new(alg, bytes).map_err(rejected(spec))?;
                // A key restored from bytes cannot give its public key in aws-lc-rs, but the
                // FIPS 203 decapsulation key embeds it: dk = dk_pke (384k) || ek (384k + 32) || ...
                let k = ml_kem_rank(spec);
                let raw = bytes
                    .get(384 * k..768 * k + 32)
                    .ok_or(KmsError::InvalidKeyMaterial { spec })?;
                let encapsulation = EncapsulationKey::new(alg, raw).map_err(rejected(spec))?;
                let public = ml_kem_spki(spec, raw)?;
                (
                    ParsedKey::MlKem {
                        decapsulation,
                        encapsulation,
                    },
                    Some(public),
                )
            }
            KeySpec::Sm2 => return Err(KmsError::Unsupported { what: "SM2" }),
        };
        Ok(Self {
            spec,
            secret,
            public_der,
            key,
        })
    }

    /// The key spec this material belongs to.
    #[must_use]
    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// The serialized private material (see the module documentation), to be sealed at rest.
    #[must_use]
    pub fn secret(&self) -> &SecretBytes {
        &self.secret
    }

    /// The public key as a DER `SubjectPublicKeyInfo` (what GetPublicKey returns); `None` for
    /// symmetric and HMAC keys.
    #[must_use]
    pub fn public_key_der(&self) -> Option<&[u8]> {
        self.public_der.as_deref()
    }

    pub(crate) fn parsed(&self) -> &ParsedKey {
        &self.key
    }

    /// An HMAC key of any length, for published test vectors whose keys AWS would not import.
    #[cfg(test)]
    pub(crate) fn hmac_for_test(spec: KeySpec, key: &[u8]) -> Self {
        Self {
            spec,
            secret: SecretBytes::new(key.to_vec()),
            public_der: None,
            key: ParsedKey::Hmac(Box::new(hmac::Key::new(hmac_alg(spec), key))),
        }
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// The shortest and longest HMAC key AWS accepts when importing into an HMAC key spec; generated
/// keys use the shortest, which is the hash's output length.
fn hmac_key_lengths(spec: KeySpec) -> (usize, usize) {
    match spec {
        KeySpec::Hmac224 => (28, 64),
        KeySpec::Hmac256 => (32, 64),
        KeySpec::Hmac384 => (48, 128),
        _ => (64, 128),
    }
}

pub(crate) fn hmac_alg(spec: KeySpec) -> hmac::Algorithm {
    match spec {
        KeySpec::Hmac224 => hmac::HMAC_SHA224,
        KeySpec::Hmac256 => hmac::HMAC_SHA256,
        KeySpec::Hmac384 => hmac::HMAC_SHA384,
        _ => hmac::HMAC_SHA512,
    }
}

fn rsa_key_size(spec: KeySpec) -> KeySize {
    match spec {
        KeySpec::Rsa2048 => KeySize::Rsa2048,
        KeySpec::Rsa3072 => KeySize::Rsa3072,
        _ => KeySize::Rsa4096,
    }
}

fn ecdsa_alg(spec: KeySpec) -> Result<&'static EcdsaSigningAlgorithm, KmsError> {
    match spec {
        KeySpec::EccNistP256 => Ok(&ECDSA_P256_SHA256_ASN1_SIGNING),
        KeySpec::EccNistP384 => Ok(&ECDSA_P384_SHA384_ASN1_SIGNING),
        KeySpec::EccNistP521 => Ok(&ECDSA_P521_SHA512_ASN1_SIGNING),
        KeySpec::EccSecgP256k1 => Ok(&ECDSA_P256K1_SHA256_ASN1_SIGNING),
        _ => Err(KmsError::Internal),
    }
}

fn ecdh_alg(spec: KeySpec) -> Option<&'static agreement::Algorithm> {
    match spec {
        KeySpec::EccNistP256 => Some(&ECDH_P256),
        KeySpec::EccNistP384 => Some(&ECDH_P384),
        KeySpec::EccNistP521 => Some(&ECDH_P521),
        _ => None,
    }
}

fn ml_dsa_alg(spec: KeySpec) -> Result<&'static PqdsaSigningAlgorithm, KmsError> {
    match spec {
        KeySpec::MlDsa44 => Ok(&ML_DSA_44_SIGNING),
        KeySpec::MlDsa65 => Ok(&ML_DSA_65_SIGNING),
        KeySpec::MlDsa87 => Ok(&ML_DSA_87_SIGNING),
        _ => Err(KmsError::Internal),
    }
}

fn ml_kem_alg(spec: KeySpec) -> Result<&'static kem::Algorithm, KmsError> {
    match spec {
        KeySpec::MlKem512 => Ok(&ML_KEM_512),
        KeySpec::MlKem768 => Ok(&ML_KEM_768),
        KeySpec::MlKem1024 => Ok(&ML_KEM_1024),
        _ => Err(KmsError::Internal),
    }
}

/// The module rank k of an ML-KEM parameter set.
fn ml_kem_rank(spec: KeySpec) -> usize {
    match spec {
        KeySpec::MlKem512 => 2,
        KeySpec::MlKem768 => 3,
        _ => 4,
    }
}

/// Wraps a raw ML-KEM encapsulation key in a `SubjectPublicKeyInfo` with the NIST algorithm
/// identifier (id-alg-ml-kem-*, 2.16.840.1.101.3.4.4.{1,2,3}, parameters absent), because
/// aws-lc-rs exposes only the raw key. This is DER framing, not cryptography.
fn ml_kem_spki(spec: KeySpec, raw: &[u8]) -> Result<Vec<u8>, KmsError> {
    let arc = match spec {
        KeySpec::MlKem512 => 1,
        KeySpec::MlKem768 => 2,
        _ => 3,
    };
    let oid = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, arc,
    ];
    let mut algorithm = vec![0x30];
    der_len(&mut algorithm, oid.len())?;
    algorithm.extend_from_slice(&oid);
    let mut bit_string = vec![0x03];
    der_len(&mut bit_string, raw.len() + 1)?;
    bit_string.push(0); // no unused bits
    bit_string.extend_from_slice(raw);
    let mut spki = vec![0x30];
    der_len(&mut spki, algorithm.len() + bit_string.len())?;
    spki.extend_from_slice(&algorithm);
    spki.extend_from_slice(&bit_string);
    Ok(spki)
}

fn der_len(out: &mut Vec<u8>, len: usize) -> Result<(), KmsError> {
    match (u8::try_from(len), u16::try_from(len)) {
        (Ok(short), _) if short < 0x80 => out.push(short),
        (Ok(byte), _) => out.extend_from_slice(&[0x81, byte]),
        (_, Ok(two)) => {
            out.push(0x82);
            out.extend_from_slice(&two.to_be_bytes());
        }
        _ => return Err(KmsError::Internal),
    }
    Ok(())
}

fn der<K>(key: &K) -> Result<Vec<u8>, KmsError>
where
    K: AsDer<aws_lc_rs::encoding::PublicKeyX509Der<'static>>,
{
    Ok(key.as_der().map_err(internal)?.as_ref().to_vec())
}

fn random(len: usize) -> Result<SecretBytes, KmsError> {
    random_bytes(len)
        .map(SecretBytes::new)
        .map_err(|_| KmsError::Internal)
}

fn rejected<E>(spec: KeySpec) -> impl FnOnce(E) -> KmsError {
    move |_| KmsError::InvalidKeyMaterial { spec }
}

fn internal<E>(_: E) -> KmsError {
    KmsError::Internal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_spec_generates_and_reparses() {
        for spec in KeySpec::ALL.iter().copied().filter(|s| s.is_supported()) {
            let material = KeyMaterial::generate(spec).unwrap();
            assert_eq!(material.spec(), spec);
            assert_eq!(material.public_key_der().is_some(), spec.is_asymmetric());
            let again = KeyMaterial::from_secret(spec, material.secret().clone()).unwrap();
            assert_eq!(again.public_key_der(), material.public_key_der(), "{spec}");
        }
    }

    #[test]
    fn sm2_is_unsupported() {
        assert_eq!(
            KeyMaterial::generate(KeySpec::Sm2).unwrap_err(),
            KmsError::Unsupported { what: "SM2" }
        );
    }

    #[test]
    fn material_of_another_spec_is_rejected() {
        let p256 = KeyMaterial::generate(KeySpec::EccNistP256).unwrap();
        for other in [KeySpec::EccNistP384, KeySpec::Rsa2048, KeySpec::MlDsa44] {
            assert_eq!(
                KeyMaterial::from_secret(other, p256.secret().clone()).unwrap_err(),
                KmsError::InvalidKeyMaterial { spec: other }
            );
        }
        let rsa = KeyMaterial::generate(KeySpec::Rsa2048).unwrap();
        assert!(KeyMaterial::from_secret(KeySpec::Rsa3072, rsa.secret().clone()).is_err());
        assert!(KeyMaterial::from_secret(KeySpec::SymmetricDefault, vec![0; 16].into()).is_err());
        assert!(KeyMaterial::from_secret(KeySpec::Hmac256, vec![0; 31].into()).is_err());
        assert!(KeyMaterial::from_secret(KeySpec::Hmac256, vec![0; 64].into()).is_ok());
        assert!(KeyMaterial::from_secret(KeySpec::MlKem768, vec![1; 10].into()).is_err());
    }

    #[test]
    fn key_lengths_match_the_spec() {
        let aes = KeyMaterial::generate(KeySpec::SymmetricDefault).unwrap();
        assert_eq!(aes.secret().len(), 32);
        for (spec, len) in [
            (KeySpec::Hmac224, 28),
            (KeySpec::Hmac256, 32),
            (KeySpec::Hmac384, 48),
            (KeySpec::Hmac512, 64),
        ] {
            assert_eq!(KeyMaterial::generate(spec).unwrap().secret().len(), len);
        }
        let kem = KeyMaterial::generate(KeySpec::MlKem768).unwrap();
        // SEQUENCE, AlgorithmIdentifier of 13 bytes, BIT STRING of 1 + 1184 bytes.
        let spki = kem.public_key_der().unwrap();
        assert_eq!(spki.len(), 4 + 13 + 4 + 1 + 1184);
        assert_eq!(&spki[..4], &[0x30, 0x82, 0x04, 0xb2]);
    }

    #[test]
    fn debug_shows_no_material() {
        let material = KeyMaterial::generate(KeySpec::Hmac256).unwrap();
        let shown = format!("{material:?}");
        assert_eq!(shown, "KeyMaterial { spec: Hmac256, .. }");
    }
}
