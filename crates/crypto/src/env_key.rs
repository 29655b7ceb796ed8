//! The environment-variable root-key provider.

use zeroize::Zeroizing;

use crate::{key_text, CryptoError, RootKeyProvider, Sealer};

/// The environment variable [`EnvRootKey`] reads when the spec is just `env`.
pub const DEFAULT_ROOT_KEY_VAR: &str = "RAMPART_ROOT_KEY";

/// A root key taken from an environment variable holding the base64 of 32 bytes.
///
/// Errors name the variable and what is wrong, never its value.
#[derive(Debug, Clone)]
pub struct EnvRootKey {
    var: String,
}

impl EnvRootKey {
    /// A provider reading the variable named `var`.
    #[must_use]
    pub fn new(var: impl Into<String>) -> Self {
        Self { var: var.into() }
    }

    /// The variable's name.
    #[must_use]
    pub fn var(&self) -> &str {
        &self.var
    }
}

impl RootKeyProvider for EnvRootKey {
    fn name(&self) -> &'static str {
        "env"
    }

    fn load(&self) -> Result<Sealer, CryptoError> {
        let Some(value) = std::env::var_os(&self.var) else {
            return Err(CryptoError::EnvKeyMissing {
                var: self.var.clone(),
            });
        };
        let value = Zeroizing::new(value.into_encoded_bytes());
        let key = key_text::decode_base64(&value).map_err(|reason| CryptoError::EnvKeyInvalid {
            var: self.var.clone(),
            reason,
        })?;
        Sealer::new(&key)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    // Each test uses its own variable: the environment is shared by all test threads.

    #[test]
    fn a_base64_key_in_the_variable_loads() {
        let var = "RAMPART_TEST_ENV_KEY_VALID";
        std::env::set_var(
            var,
            String::from_utf8(key_text::encode(&[9; 32]).to_vec()).unwrap(),
        );
        let sealer = EnvRootKey::new(var).load().unwrap();
        assert_eq!(sealer.key_id(), Sealer::new(&[9; 32]).unwrap().key_id());
    }

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let err = EnvRootKey::new("RAMPART_TEST_ENV_KEY_UNSET")
            .load()
            .unwrap_err();
        assert!(matches!(err, CryptoError::EnvKeyMissing { .. }));
        assert!(err.to_string().contains("RAMPART_TEST_ENV_KEY_UNSET"));
    }

    #[test]
    fn an_invalid_value_is_never_echoed() {
        let var = "RAMPART_TEST_ENV_KEY_INVALID";
        // Valid base64 of the wrong length, then invalid base64, then non-UTF-8.
        for value in ["c3VwZXJzZWNyZXRwYXNzd29yZA==", "supersecret!password"] {
            std::env::set_var(var, value);
            let err = EnvRootKey::new(var).load().unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(matches!(err, CryptoError::EnvKeyInvalid { .. }), "{shown}");
            assert!(
                !shown.contains("c3Vw") && !shown.contains("supersecret"),
                "{shown}"
            );
            assert!(shown.contains(var), "{shown}");
        }
        std::env::set_var(var, std::ffi::OsStr::from_bytes(b"\xffsupersecret"));
        let shown = format!("{:?}", EnvRootKey::new(var).load().unwrap_err());
        assert!(!shown.contains("supersecret"), "{shown}");
    }
}
