//! Root-key providers: where the key that seals fields at rest comes from.

use std::collections::HashMap;
use std::path::Path;

use crate::{
    CryptoError, EnvRootKey, FileRootKey, Pkcs11RootKey, Sealer, SecretString, DEFAULT_ROOT_KEY_VAR,
};

/// The key file name used by the default `file` provider, inside the data directory.
pub const DEFAULT_KEY_FILE: &str = "root.key";
/// The wrapped data key file name used by the `pkcs11` provider, inside the data directory.
pub const DEFAULT_WRAPPED_KEY_FILE: &str = "root.key.wrapped";
/// The HSM key label used by the `pkcs11` provider when the spec names none.
pub const DEFAULT_PKCS11_KEY_LABEL: &str = "rampart-root";

/// A source of the root key, turned into a [`Sealer`] at start-up.
pub trait RootKeyProvider: Send + Sync {
    /// A short name for logs and errors (`file`, `env`, `pkcs11`).
    fn name(&self) -> &'static str;

    /// Loads (or, where the provider supports it, creates on first use) the root key.
    ///
    /// # Errors
    /// A [`CryptoError`] explaining why the key could not be obtained; it never contains key
    /// material.
    fn load(&self) -> Result<Sealer, CryptoError>;
}

/// Builds the provider a configuration string names.
///
/// - `file` (or empty): `DATA_DIR/root.key`, generated on first use.
/// - `file:PATH`: the key file at `PATH`.
/// - `env` / `env:VAR`: base64 of 32 bytes in `RAMPART_ROOT_KEY` / `VAR`.
/// - `pkcs11:module=PATH;token=LABEL;pin-env=VAR[;key=LABEL][;wrapped=PATH]`: an HSM; the user
///   PIN is read now from the environment variable `VAR`; `key` defaults to `rampart-root`,
///   `wrapped` to `DATA_DIR/root.key.wrapped`.
///
/// # Errors
/// [`CryptoError::InvalidSpec`] if the string cannot be understood (the message never quotes
/// values, in case a key or PIN was pasted into it), [`CryptoError::EnvKeyMissing`] if the PIN
/// variable is unset.
pub fn provider_from_config(
    spec: &str,
    data_dir: &Path,
) -> Result<Box<dyn RootKeyProvider>, CryptoError> {
    let spec = spec.trim();
    let (kind, rest) = match spec.split_once(':') {
        Some((kind, rest)) => (kind, Some(rest)),
        None => (spec, None),
    };
    match (kind, rest) {
        ("" | "file", None) => Ok(Box::new(FileRootKey::new(data_dir.join(DEFAULT_KEY_FILE)))),
        ("file", Some(path)) if !path.is_empty() => Ok(Box::new(FileRootKey::new(path))),
        ("env", None) => Ok(Box::new(EnvRootKey::new(DEFAULT_ROOT_KEY_VAR))),
        ("env", Some(var)) if is_env_name(var) => Ok(Box::new(EnvRootKey::new(var))),
        ("env", Some(_)) => Err(invalid(
            "env:VAR needs a variable name of letters, digits and _",
        )),
        ("file", Some(_)) => Err(invalid("file:PATH needs a path")),
        ("pkcs11", Some(options)) => pkcs11_from_options(options, data_dir),
        ("pkcs11", None) => Err(invalid(
            "pkcs11 needs options: pkcs11:module=PATH;token=LABEL;pin-env=VAR",
        )),
        _ => Err(invalid(
            "unknown provider; expected file, file:PATH, env, env:VAR or pkcs11:OPTIONS",
        )),
    }
}

fn pkcs11_from_options(
    options: &str,
    data_dir: &Path,
) -> Result<Box<dyn RootKeyProvider>, CryptoError> {
    let mut values: HashMap<&str, &str> = HashMap::new();
    for option in options.split(';').map(str::trim).filter(|o| !o.is_empty()) {
        let Some((name, value)) = option.split_once('=') else {
            return Err(invalid(
                "pkcs11 options must be NAME=VALUE separated by ';'",
            ));
        };
        let name = name.trim();
        if !matches!(name, "module" | "token" | "pin-env" | "key" | "wrapped") {
            return Err(invalid(format!(
                "unknown pkcs11 option {name:?}; expected module, token, pin-env, key, wrapped"
            )));
        }
        if values.insert(name, value.trim()).is_some() {
            return Err(invalid(format!("pkcs11 option {name:?} given twice")));
        }
    }
    let required = |name: &'static str| match values.get(name) {
        Some(value) if !value.is_empty() => Ok(*value),
        _ => Err(invalid(format!("pkcs11 option {name:?} is required"))),
    };
    let module = required("module")?;
    let token = required("token")?;
    let pin_var = required("pin-env")?;
    if !is_env_name(pin_var) {
        return Err(invalid("pkcs11 pin-env must name an environment variable"));
    }
    let pin = std::env::var(pin_var).map_err(|_| CryptoError::EnvKeyMissing {
        var: pin_var.to_owned(),
    })?;
    let key = values
        .get("key")
        .copied()
        .unwrap_or(DEFAULT_PKCS11_KEY_LABEL);
    let wrapped = values.get("wrapped").map_or_else(
        || data_dir.join(DEFAULT_WRAPPED_KEY_FILE),
        |p| Path::new(p).to_owned(),
    );
    Ok(Box::new(Pkcs11RootKey::new(
        module,
        token,
        SecretString::new(pin),
        key,
        wrapped,
    )))
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn invalid(reason: impl Into<String>) -> CryptoError {
    CryptoError::InvalidSpec {
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(spec: &str) -> Result<&'static str, CryptoError> {
        provider_from_config(spec, Path::new("/data")).map(|p| p.name())
    }

    #[test]
    fn specs_select_providers() {
        assert_eq!(name_of("").unwrap(), "file");
        assert_eq!(name_of("file").unwrap(), "file");
        assert_eq!(name_of("file:/etc/rampart/root.key").unwrap(), "file");
        assert_eq!(name_of("env").unwrap(), "env");
        assert_eq!(name_of("env:MY_ROOT_KEY").unwrap(), "env");
        std::env::set_var("RAMPART_TEST_SPEC_PIN", "1234");
        assert_eq!(
            name_of(
                "pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=rampart;\
                 pin-env=RAMPART_TEST_SPEC_PIN;key=rampart-root"
            )
            .unwrap(),
            "pkcs11"
        );
    }

    #[test]
    fn the_default_file_lives_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let provider = provider_from_config("file", dir.path()).unwrap();
        provider.load().unwrap();
        assert!(dir.path().join(DEFAULT_KEY_FILE).is_file());
    }

    #[test]
    fn bad_specs_are_refused_without_quoting_values() {
        for spec in [
            "c3VwZXJzZWNyZXQ=",
            "vault:whatever",
            "file:",
            "env:NOT VALID",
            "pkcs11",
            "pkcs11:module=/m.so;token=t",
            "pkcs11:module=/m.so;token=t;pin-env=X;pin=supersecret",
            "pkcs11:module=/m.so;token=t;pin-env=X;module=/n.so",
            "pkcs11:supersecret",
        ] {
            let err = name_of(spec).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(
                matches!(err, CryptoError::InvalidSpec { .. }),
                "{spec}: {shown}"
            );
            assert!(
                !shown.contains("supersecret") && !shown.contains("c3Vw"),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_missing_pin_variable_is_reported() {
        let err =
            name_of("pkcs11:module=/m.so;token=t;pin-env=RAMPART_TEST_SPEC_PIN_UNSET").unwrap_err();
        assert!(matches!(err, CryptoError::EnvKeyMissing { .. }), "{err:?}");
    }
}
