//! The one error type of this crate.
//!
//! No variant carries secret material: key bytes, PINs and environment variable values are never
//! part of an error, only names, paths, lengths and reasons.

use std::path::PathBuf;

/// Everything that can go wrong while handling secrets, sealing, or loading a root key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A key had the wrong length.
    #[error("key must be {expected} bytes, got {actual}")]
    InvalidKeyLength {
        /// The required length in bytes.
        expected: usize,
        /// The length that was supplied.
        actual: usize,
    },
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// More random bytes were requested than one call may produce.
    #[error("requested {requested} random bytes, more than the limit of {max}")]
    RandomTooLarge {
        /// The number of bytes requested.
        requested: usize,
        /// The largest number of bytes one call may produce.
        max: usize,
    },
    /// AES-GCM sealing failed.
    #[error("sealing failed")]
    SealFailed,
    /// A sealed blob failed authentication: wrong key, wrong context (AAD), or corrupted data.
    #[error(
        "sealed data failed authentication (wrong root key, wrong context, or corrupted data)"
    )]
    OpenFailed,
    /// A sealed blob is not in the sealed format.
    #[error("sealed data is malformed: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A sealed blob carries a format version this build does not know.
    #[error("sealed data has unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// A sealed blob names a root key that is not loaded (neither current nor a previous key).
    #[error("sealed data was sealed under root key id {0:08x}, which is not loaded")]
    UnknownKeyId(u32),
    /// A file operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done (for example "read", "create", "rename").
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A root key file can be read by group or others.
    #[error(
        "root key file {} is accessible by group or others (mode {mode:04o}); \
         restrict it with `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    InsecureKeyFile {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A root key file (or wrapped key file) exists but does not hold a valid key.
    #[error("key file {} is invalid: {reason}", path.display())]
    InvalidKeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it (never its contents).
        reason: &'static str,
    },
    /// The environment variable that should hold the root key is not set.
    #[error(
        "environment variable {var} is not set; it must hold the base64 of a 32-byte root key"
    )]
    EnvKeyMissing {
        /// The variable's name.
        var: String,
    },
    /// The environment variable that should hold the root key does not hold a valid key.
    #[error("environment variable {var} is invalid: {reason}")]
    EnvKeyInvalid {
        /// The variable's name.
        var: String,
        /// What is wrong with it (never its value).
        reason: String,
    },
    /// A PKCS#11 operation failed.
    #[error("PKCS#11: cannot {op}: {detail}")]
    Pkcs11 {
        /// What was being done.
        op: &'static str,
        /// The module's error, as cryptoki describes it.
        detail: String,
    },
    /// No initialized PKCS#11 token has the configured label.
    #[error("PKCS#11: no initialized token labelled {label:?}")]
    TokenNotFound {
        /// The label looked for.
        label: String,
    },
    /// More than one AES key on the token has the configured label.
    #[error("PKCS#11: {count} AES keys are labelled {label:?}; exactly one is required")]
    DuplicateKeyLabel {
        /// The label looked for.
        label: String,
        /// How many keys carry it.
        count: usize,
    },
    /// A root-key provider specification could not be understood.
    #[error("invalid root key provider spec: {reason}")]
    InvalidSpec {
        /// What is wrong with it.
        reason: String,
    },
}

impl CryptoError {
    /// Builds an [`CryptoError::Io`] for `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Builds a [`CryptoError::Pkcs11`] for `op` from a cryptoki error.
    pub(crate) fn pkcs11(op: &'static str, err: &cryptoki::error::Error) -> Self {
        Self::Pkcs11 {
            op,
            detail: err.to_string(),
        }
    }
}
