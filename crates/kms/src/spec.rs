//! Key specs, key usages and algorithms as the KMS API names them, and AWS's validity matrix:
//! which usages each key spec allows and which algorithms DescribeKey reports for each
//! (spec, usage) pair, following the "Key spec reference" of the AWS KMS Developer Guide.

use std::fmt;
use std::str::FromStr;

use crate::KmsError;

/// Defines an enum whose variants have AWS wire names, with `as_str`, `FromStr`, `Display`,
/// serde support under the wire names, and `ALL` in the model's order.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[doc = $doc:literal])* $variant:ident = $wire:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[doc = $doc])* #[serde(rename = $wire)] $variant, )+
        }

        impl $name {
            /// Every value, in the order of the AWS model's enum.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name on the wire, as in the AWS model.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(UnknownName),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A string that names no value of the enum it was parsed as; the protocol layer reports it as
/// an enum-constraint `ValidationException`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a known enum value")]
pub struct UnknownName;

wire_enum! {
    /// The type of a KMS key (`KeySpec` in the API).
    pub enum KeySpec {
        /// RSA, 2048-bit modulus.
        Rsa2048 = "RSA_2048",
        /// RSA, 3072-bit modulus.
        Rsa3072 = "RSA_3072",
        /// RSA, 4096-bit modulus.
        Rsa4096 = "RSA_4096",
        /// NIST P-256 (secp256r1).
        EccNistP256 = "ECC_NIST_P256",
        /// NIST P-384 (secp384r1).
        EccNistP384 = "ECC_NIST_P384",
        /// NIST P-521 (secp521r1).
        EccNistP521 = "ECC_NIST_P521",
        /// SECG secp256k1, the curve of several cryptocurrencies.
        EccSecgP256k1 = "ECC_SECG_P256K1",
        /// A 256-bit AES-GCM key.
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        /// HMAC with SHA-224.
        Hmac224 = "HMAC_224",
        /// HMAC with SHA-256.
        Hmac256 = "HMAC_256",
        /// HMAC with SHA-384.
        Hmac384 = "HMAC_384",
        /// HMAC with SHA-512.
        Hmac512 = "HMAC_512",
        /// The Chinese SM2 curve (China Regions only on AWS).
        Sm2 = "SM2",
        /// ML-DSA-44 (FIPS 204).
        MlDsa44 = "ML_DSA_44",
        /// ML-DSA-65 (FIPS 204).
        MlDsa65 = "ML_DSA_65",
        /// ML-DSA-87 (FIPS 204).
        MlDsa87 = "ML_DSA_87",
        /// Ed25519.
        EccNistEdwards25519 = "ECC_NIST_EDWARDS25519",
        /// ML-KEM-512 (FIPS 203).
        MlKem512 = "ML_KEM_512",
        /// ML-KEM-768 (FIPS 203).
        MlKem768 = "ML_KEM_768",
        /// ML-KEM-1024 (FIPS 203).
        MlKem1024 = "ML_KEM_1024",
    }
}

wire_enum! {
    /// What a KMS key may be used for (`KeyUsageType` in the API); each key has exactly one.
    pub enum KeyUsage {
        /// Sign and Verify.
        SignVerify = "SIGN_VERIFY",
        /// Encrypt, Decrypt, ReEncrypt and the data key operations.
        EncryptDecrypt = "ENCRYPT_DECRYPT",
        /// GenerateMac and VerifyMac.
        GenerateVerifyMac = "GENERATE_VERIFY_MAC",
        /// DeriveSharedSecret.
        KeyAgreement = "KEY_AGREEMENT",
        /// Encapsulate and Decapsulate.
        EncapsulateDecapsulate = "ENCAPSULATE_DECAPSULATE",
    }
}

wire_enum! {
    /// An encryption algorithm (`EncryptionAlgorithmSpec`).
    pub enum EncryptionAlgorithm {
        /// AES-256-GCM with a self-describing ciphertext blob.
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        /// RSAES-OAEP with SHA-1 and MGF1-SHA-1.
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        /// RSAES-OAEP with SHA-256 and MGF1-SHA-256.
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        /// SM2 public-key encryption.
        Sm2Pke = "SM2PKE",
    }
}

wire_enum! {
    /// A signing algorithm (`SigningAlgorithmSpec`).
    pub enum SigningAlgorithm {
        /// RSASSA-PSS with SHA-256 (salt length 32, MGF1-SHA-256).
        RsassaPssSha256 = "RSASSA_PSS_SHA_256",
        /// RSASSA-PSS with SHA-384.
        RsassaPssSha384 = "RSASSA_PSS_SHA_384",
        /// RSASSA-PSS with SHA-512.
        RsassaPssSha512 = "RSASSA_PSS_SHA_512",
        /// RSASSA-PKCS1-v1_5 with SHA-256.
        RsassaPkcs1V15Sha256 = "RSASSA_PKCS1_V1_5_SHA_256",
        /// RSASSA-PKCS1-v1_5 with SHA-384.
        RsassaPkcs1V15Sha384 = "RSASSA_PKCS1_V1_5_SHA_384",
        /// RSASSA-PKCS1-v1_5 with SHA-512.
        RsassaPkcs1V15Sha512 = "RSASSA_PKCS1_V1_5_SHA_512",
        /// ECDSA with SHA-256, DER-encoded signature.
        EcdsaSha256 = "ECDSA_SHA_256",
        /// ECDSA with SHA-384, DER-encoded signature.
        EcdsaSha384 = "ECDSA_SHA_384",
        /// ECDSA with SHA-512, DER-encoded signature.
        EcdsaSha512 = "ECDSA_SHA_512",
        /// SM2 digital signature.
        Sm2Dsa = "SM2DSA",
        /// ML-DSA (pure, empty context), whose message representative uses SHAKE-256.
        MlDsaShake256 = "ML_DSA_SHAKE_256",
        /// Pure Ed25519.
        Ed25519Sha512 = "ED25519_SHA_512",
        /// Ed25519ph (pre-hashed with SHA-512).
        Ed25519PhSha512 = "ED25519_PH_SHA_512",
    }
}

wire_enum! {
    /// A MAC algorithm (`MacAlgorithmSpec`).
    pub enum MacAlgorithm {
        /// HMAC-SHA-224.
        HmacSha224 = "HMAC_SHA_224",
        /// HMAC-SHA-256.
        HmacSha256 = "HMAC_SHA_256",
        /// HMAC-SHA-384.
        HmacSha384 = "HMAC_SHA_384",
        /// HMAC-SHA-512.
        HmacSha512 = "HMAC_SHA_512",
    }
}

wire_enum! {
    /// A key agreement algorithm (`KeyAgreementAlgorithmSpec`).
    pub enum KeyAgreementAlgorithm {
        /// Elliptic-curve cofactor Diffie-Hellman, returning the raw shared secret.
        Ecdh = "ECDH",
    }
}

wire_enum! {
    /// A key encapsulation algorithm (`EncapsulationAlgorithmSpec`).
    pub enum EncapsulationAlgorithm {
        /// ML-KEM (FIPS 203).
        MlKem = "ML_KEM",
    }
}

wire_enum! {
    /// How Sign and Verify treat the message (`MessageType`).
    pub enum MessageType {
        /// The message itself; KMS hashes it.
        Raw = "RAW",
        /// A digest computed by the caller with the algorithm's hash.
        Digest = "DIGEST",
        /// The 64-byte ML-DSA message representative mu (FIPS 204, section 6.2).
        ExternalMu = "EXTERNAL_MU",
    }
}

use EncryptionAlgorithm as E;
use KeySpec as K;
use KeyUsage as U;
use SigningAlgorithm as S;

const RSA_ENCRYPTION: &[E] = &[E::RsaesOaepSha1, E::RsaesOaepSha256];
// DescribeKey lists RSA signing algorithms in this order.
const RSA_SIGNING: &[S] = &[
    S::RsassaPkcs1V15Sha256,
    S::RsassaPkcs1V15Sha384,
    S::RsassaPkcs1V15Sha512,
    S::RsassaPssSha256,
    S::RsassaPssSha384,
    S::RsassaPssSha512,
];

impl KeySpec {
    /// The key usages AWS allows for this spec; the first is the one to suggest.
    #[must_use]
    pub const fn key_usages(self) -> &'static [KeyUsage] {
        match self {
            K::SymmetricDefault => &[U::EncryptDecrypt],
            K::Rsa2048 | K::Rsa3072 | K::Rsa4096 => &[U::EncryptDecrypt, U::SignVerify],
            K::EccNistP256 | K::EccNistP384 | K::EccNistP521 => &[U::SignVerify, U::KeyAgreement],
            K::EccSecgP256k1 | K::EccNistEdwards25519 | K::MlDsa44 | K::MlDsa65 | K::MlDsa87 => {
                &[U::SignVerify]
            }
            K::Hmac224 | K::Hmac256 | K::Hmac384 | K::Hmac512 => &[U::GenerateVerifyMac],
            K::Sm2 => &[U::EncryptDecrypt, U::SignVerify, U::KeyAgreement],
            K::MlKem512 | K::MlKem768 | K::MlKem1024 => &[U::EncapsulateDecapsulate],
        }
    }

    /// Checks that `usage` is allowed for this spec, as CreateKey does.
    ///
    /// # Errors
    /// [`KmsError::IncompatibleKeyUsage`] when AWS would refuse the combination.
    pub fn check_usage(self, usage: KeyUsage) -> Result<(), KmsError> {
        if self.key_usages().contains(&usage) {
            Ok(())
        } else {
            Err(KmsError::IncompatibleKeyUsage { spec: self, usage })
        }
    }

    /// The encryption algorithms DescribeKey reports for a key of this spec and `usage`.
    #[must_use]
    pub fn encryption_algorithms(self, usage: KeyUsage) -> &'static [EncryptionAlgorithm] {
        match (self, usage) {
            (K::SymmetricDefault, U::EncryptDecrypt) => &[E::SymmetricDefault],
            (K::Rsa2048 | K::Rsa3072 | K::Rsa4096, U::EncryptDecrypt) => RSA_ENCRYPTION,
            (K::Sm2, U::EncryptDecrypt) => &[E::Sm2Pke],
            _ => &[],
        }
    }

    /// The signing algorithms DescribeKey reports for a key of this spec and `usage`.
    #[must_use]
    pub fn signing_algorithms(self, usage: KeyUsage) -> &'static [SigningAlgorithm] {
        if usage != U::SignVerify {
            return &[];
        }
        match self {
            K::Rsa2048 | K::Rsa3072 | K::Rsa4096 => RSA_SIGNING,
            K::EccNistP256 | K::EccSecgP256k1 => &[S::EcdsaSha256],
            K::EccNistP384 => &[S::EcdsaSha384],
            K::EccNistP521 => &[S::EcdsaSha512],
            K::EccNistEdwards25519 => &[S::Ed25519Sha512, S::Ed25519PhSha512],
            K::Sm2 => &[S::Sm2Dsa],
            K::MlDsa44 | K::MlDsa65 | K::MlDsa87 => &[S::MlDsaShake256],
            _ => &[],
        }
    }

    /// The MAC algorithms DescribeKey reports for a key of this spec and `usage`.
    #[must_use]
    pub fn mac_algorithms(self, usage: KeyUsage) -> &'static [MacAlgorithm] {
        match (self, usage) {
            (K::Hmac224, U::GenerateVerifyMac) => &[MacAlgorithm::HmacSha224],
            (K::Hmac256, U::GenerateVerifyMac) => &[MacAlgorithm::HmacSha256],
            (K::Hmac384, U::GenerateVerifyMac) => &[MacAlgorithm::HmacSha384],
            (K::Hmac512, U::GenerateVerifyMac) => &[MacAlgorithm::HmacSha512],
            _ => &[],
        }
    }

    /// The key agreement algorithms DescribeKey reports for a key of this spec and `usage`.
    #[must_use]
    pub fn key_agreement_algorithms(self, usage: KeyUsage) -> &'static [KeyAgreementAlgorithm] {
        match (self, usage) {
            (K::EccNistP256 | K::EccNistP384 | K::EccNistP521 | K::Sm2, U::KeyAgreement) => {
                &[KeyAgreementAlgorithm::Ecdh]
            }
            _ => &[],
        }
    }

    /// The encapsulation algorithms DescribeKey reports for a key of this spec and `usage`.
    #[must_use]
    pub fn encapsulation_algorithms(self, usage: KeyUsage) -> &'static [EncapsulationAlgorithm] {
        match (self, usage) {
            (K::MlKem512 | K::MlKem768 | K::MlKem1024, U::EncapsulateDecapsulate) => {
                &[EncapsulationAlgorithm::MlKem]
            }
            _ => &[],
        }
    }

    /// Whether the key is a public/private key pair (GetPublicKey works on it).
    #[must_use]
    pub const fn is_asymmetric(self) -> bool {
        !matches!(
            self,
            K::SymmetricDefault | K::Hmac224 | K::Hmac256 | K::Hmac384 | K::Hmac512
        )
    }

    /// The spec's name in the deprecated `CustomerMasterKeySpec` enum, which stopped growing
    /// before ML-DSA, ML-KEM and Ed25519 keys: `None` for those, whose responses omit the
    /// member.
    #[must_use]
    pub fn customer_master_key_spec(self) -> Option<&'static str> {
        (!matches!(
            self,
            K::MlDsa44
                | K::MlDsa65
                | K::MlDsa87
                | K::EccNistEdwards25519
                | K::MlKem512
                | K::MlKem768
                | K::MlKem1024
        ))
        .then(|| self.as_str())
    }

    /// Whether Rampart can create and use keys of this spec (the crypto library lacks SM2).
    #[must_use]
    pub const fn is_supported(self) -> bool {
        !matches!(self, K::Sm2)
    }
}

impl SigningAlgorithm {
    /// The length of the digest this algorithm signs, which a `DIGEST` message must have;
    /// `None` for algorithms that sign without a fixed-length digest.
    #[must_use]
    pub const fn digest_len(self) -> Option<usize> {
        match self {
            S::RsassaPssSha256 | S::RsassaPkcs1V15Sha256 | S::EcdsaSha256 | S::Sm2Dsa => Some(32),
            S::RsassaPssSha384 | S::RsassaPkcs1V15Sha384 | S::EcdsaSha384 => Some(48),
            S::RsassaPssSha512 | S::RsassaPkcs1V15Sha512 | S::EcdsaSha512 | S::Ed25519PhSha512 => {
                Some(64)
            }
            S::MlDsaShake256 | S::Ed25519Sha512 => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_str_and_serde() {
        for spec in KeySpec::ALL {
            assert_eq!(spec.as_str().parse::<KeySpec>(), Ok(*spec));
            let json = serde_json::to_string(spec).unwrap();
            assert_eq!(json, format!("\"{spec}\""));
            assert_eq!(serde_json::from_str::<KeySpec>(&json).unwrap(), *spec);
        }
        assert_eq!("RSA2048".parse::<KeySpec>(), Err(UnknownName));
        assert_eq!(
            "RSASSA_PKCS1_V1_5_SHA_256".parse(),
            Ok(SigningAlgorithm::RsassaPkcs1V15Sha256)
        );
    }

    #[test]
    fn customer_master_key_spec_is_exactly_the_deprecated_enum() {
        use rampart_protocol::model::Kind;
        let shape = rampart_protocol::generated::kms::MODEL
            .shape_named("CustomerMasterKeySpec")
            .expect("shape");
        let Kind::String { enums, .. } = &shape.kind else {
            panic!("CustomerMasterKeySpec is a string enum");
        };
        for spec in KeySpec::ALL {
            let listed = enums.contains(&spec.as_str());
            assert_eq!(spec.customer_master_key_spec().is_some(), listed, "{spec}");
            if listed {
                assert_eq!(spec.customer_master_key_spec(), Some(spec.as_str()));
            }
        }
    }

    #[test]
    fn every_spec_has_a_usage_and_every_usage_has_algorithms() {
        for spec in KeySpec::ALL {
            assert!(!spec.key_usages().is_empty(), "{spec}");
            for usage in spec.key_usages() {
                let count = spec.encryption_algorithms(*usage).len()
                    + spec.signing_algorithms(*usage).len()
                    + spec.mac_algorithms(*usage).len()
                    + spec.key_agreement_algorithms(*usage).len()
                    + spec.encapsulation_algorithms(*usage).len();
                assert!(count > 0, "{spec} {usage}");
            }
        }
    }

    #[test]
    fn key_agreement_is_not_compatible_with_rsa() {
        let err = KeySpec::Rsa2048
            .check_usage(KeyUsage::KeyAgreement)
            .unwrap_err();
        assert_eq!(
            err.aws_message(),
            "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048"
        );
        assert!(KeySpec::EccNistP384
            .check_usage(KeyUsage::KeyAgreement)
            .is_ok());
        assert!(KeySpec::EccSecgP256k1
            .check_usage(KeyUsage::KeyAgreement)
            .is_err());
    }

    #[test]
    fn algorithms_follow_the_usage() {
        let rsa = KeySpec::Rsa3072;
        assert_eq!(rsa.encryption_algorithms(KeyUsage::SignVerify), &[]);
        assert_eq!(rsa.signing_algorithms(KeyUsage::SignVerify).len(), 6);
        assert_eq!(
            KeySpec::EccNistP521.signing_algorithms(KeyUsage::SignVerify),
            &[SigningAlgorithm::EcdsaSha512]
        );
        assert_eq!(
            KeySpec::Hmac384.mac_algorithms(KeyUsage::GenerateVerifyMac),
            &[MacAlgorithm::HmacSha384]
        );
    }
}
