//! Rampart's KMS: the `TrentService` API ([`KmsService`], with [`records`] in the store) over a
//! cryptographic core that has no server, store or policy in it.
//!
//! - [`spec`]: key specs, key usages and algorithms by their AWS names, and AWS's matrix of
//!   which usages and algorithms each key spec allows.
//! - [`material`]: [`KeyMaterial`], generated or parsed once per backing key; its serialized
//!   private form (sealed at rest by the store) and its public key (GetPublicKey).
//! - [`context`]: the canonical bytes of an [`EncryptionContext`], used as AAD.
//! - [`ciphertext`]: the self-describing AES-256-GCM blob of symmetric keys (format version 3:
//!   a per-message key derived by HKDF-SHA256; version 1 blobs still decrypt).
//! - [`asymmetric`]: RSAES-OAEP, ECDH (DeriveSharedSecret), ML-KEM (Encapsulate/Decapsulate).
//! - [`signing`]: Sign and Verify with `RAW` and `DIGEST` messages.
//! - [`mac`]: GenerateMac and VerifyMac.
//! - [`keystore`]: custom key stores (a PKCS#11 token as CloudHSM, XKS proxies).
//!
//! All cryptography is aws-lc-rs. Secrets are returned as [`SecretBytes`] (redacted `Debug`,
//! zeroized on drop); errors are one [`KmsError`], which knows its AWS code and message.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod asymmetric;
pub mod ciphertext;
pub mod context;
mod error;
mod grants;
pub mod keystore;
pub mod mac;
pub mod material;
pub mod quota;
pub mod records;
pub mod registration;
mod service;
pub mod shapes;
pub mod signing;
pub mod spec;

pub use context::EncryptionContext;
pub use error::KmsError;
pub use material::KeyMaterial;
pub use rampart_crypto::SecretBytes;
pub use registration::REGISTRATION;
pub use service::{KmsService, ViaCiphertext};
pub use spec::{
    EncapsulationAlgorithm, EncryptionAlgorithm, KeyAgreementAlgorithm, KeySpec, KeyUsage,
    MacAlgorithm, MessageType, SigningAlgorithm, UnknownName,
};
