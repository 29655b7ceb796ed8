//! Secrets, sealing at rest, and root keys for Rampart.
//!
//! - [`SecretBytes`] and [`SecretString`] hold secrets: redacted `Debug`, zeroized on drop,
//!   constant-time equality; [`ct_eq`] compares MACs and signatures.
//! - [`Sealer`] seals sensitive fields (key material, secret values, private keys) with
//!   AES-256-GCM before they reach the store, bound to their place by additional data, and
//!   re-seals them when the root key rotates.
//! - [`RootKeyProvider`] is where the root key comes from, modelled on rustls's
//!   `CryptoProvider`: [`FileRootKey`], [`EnvRootKey`] and [`Pkcs11RootKey`], chosen by
//!   [`provider_from_config`].

#![deny(missing_docs)]

mod env_key;
mod error;
mod file_key;
mod key_text;
mod pkcs11_key;
mod provider;
mod random;
mod sealer;
mod secret;
mod secret_file;

pub use env_key::{EnvRootKey, DEFAULT_ROOT_KEY_VAR};
pub use error::CryptoError;
pub use file_key::FileRootKey;
pub use pkcs11_key::Pkcs11RootKey;
pub use provider::{
    provider_from_config, RootKeyProvider, DEFAULT_KEY_FILE, DEFAULT_PKCS11_KEY_LABEL,
    DEFAULT_WRAPPED_KEY_FILE,
};
pub use random::{random_bytes, MAX_RANDOM_BYTES};
pub use sealer::{Sealer, KEY_LEN};
pub use secret::{ct_eq, SecretBytes, SecretString};
