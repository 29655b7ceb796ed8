//! The `AWS_CLOUDHSM` backend: a "cluster" is a PKCS#11 token (an HSM, or `SoftHSM` in tests).
//!
//! Connecting logs in to the token as the user whose PIN is the key store's `kmsuser` password.
//! Each KMS key's backing key is an AES-256 secret key generated inside the token
//! (`CKA_TOKEN`, `CKA_SENSITIVE`, `CKA_PRIVATE` true, `CKA_EXTRACTABLE` false) and labelled with
//! the key's material id; encryption and decryption are `CKM_AES_GCM` inside the token.
//!
//! PKCS#11 functions block, so callers run these methods on a blocking thread.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use rampart_crypto::{SecretBytes, SecretString};

/// GCM tag length, in bits, as PKCS#11 wants it.
const TAG_BITS: u64 = 128;

/// Why a token operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HsmError {
    /// No cluster id maps to a token in the server's configuration, or the token is missing.
    #[error("cluster not found")]
    ClusterNotFound,
    /// The PKCS#11 module could not be loaded or initialised.
    #[error("PKCS#11 module unavailable: {0}")]
    Module(String),
    /// The user PIN (`kmsuser` password) is wrong.
    #[error("incorrect PIN")]
    InvalidCredentials,
    /// The user PIN is locked after too many failures.
    #[error("user locked out")]
    LockedOut,
    /// The token has no user PIN set.
    #[error("user not initialised")]
    UserNotFound,
    /// The backing key labelled with the material id is not in the token.
    #[error("backing key not found in the token")]
    KeyNotFound,
    /// A ciphertext did not decrypt (wrong key, tampered with, other context).
    #[error("invalid ciphertext")]
    InvalidCiphertext,
    /// Any other PKCS#11 failure.
    #[error("PKCS#11 {op} failed: {detail}")]
    Token {
        /// What was being done.
        op: &'static str,
        /// The PKCS#11 error.
        detail: String,
    },
}

impl HsmError {
    fn token(op: &'static str, e: &P11Error) -> Self {
        Self::Token {
            op,
            detail: e.to_string(),
        }
    }

    /// The `ConnectionErrorCode` AWS reports for a failed connection.
    #[must_use]
    pub fn connection_error_code(&self) -> &'static str {
        match self {
            Self::ClusterNotFound => "CLUSTER_NOT_FOUND",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::LockedOut => "USER_LOCKED_OUT",
            Self::UserNotFound => "USER_NOT_FOUND",
            Self::Module(_) | Self::KeyNotFound | Self::InvalidCiphertext | Self::Token { .. } => {
                "INTERNAL_ERROR"
            }
        }
    }
}

/// Where a cluster id points: a PKCS#11 module and the label of a token in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HsmCluster {
    /// Path of the PKCS#11 module (shared library).
    pub module: PathBuf,
    /// Label of the token.
    pub token_label: String,
}

/// Modules loaded in this process, by path: `C_Initialize` is once per process and module.
static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();

fn module(path: &Path) -> Result<Pkcs11, HsmError> {
    let mut modules = MODULES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(m) = modules.get(path) {
        return Ok(m.clone());
    }
    let pkcs11 = Pkcs11::new(path).map_err(|e| HsmError::Module(e.to_string()))?;
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(HsmError::Module(e.to_string())),
    }
    modules.insert(path.to_path_buf(), pkcs11.clone());
    Ok(pkcs11)
}

impl HsmCluster {
    /// Log in to the token with `pin`; the session stays logged in until the connection drops.
    ///
    /// # Errors
    /// [`HsmError::ClusterNotFound`] if no token has the label, [`HsmError::InvalidCredentials`]
    /// for a wrong PIN, and other [`HsmError`]s for module failures.
    pub fn connect(&self, pin: &SecretString) -> Result<HsmConnection, HsmError> {
        let pkcs11 = module(&self.module)?;
        let slots = pkcs11
            .get_slots_with_initialized_token()
            .map_err(|e| HsmError::token("list slots", &e))?;
        let mut found = None;
        for slot in slots {
            let info = pkcs11
                .get_token_info(slot)
                .map_err(|e| HsmError::token("read token information", &e))?;
            if info.label().trim_end() == self.token_label {
                found = Some(slot);
                break;
            }
        }
        let slot = found.ok_or(HsmError::ClusterNotFound)?;
        let session = pkcs11
            .open_rw_session(slot)
            .map_err(|e| HsmError::token("open a session", &e))?;
        // A login is per application and token: log out whatever an earlier connection left,
        // so this PIN is always checked.
        let _ = session.logout();
        let pin = AuthPin::new(pin.expose().into());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) => {}
            Err(P11Error::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
                return Err(HsmError::InvalidCredentials)
            }
            Err(P11Error::Pkcs11(RvError::PinLocked, _)) => return Err(HsmError::LockedOut),
            Err(P11Error::Pkcs11(RvError::UserPinNotInitialized, _)) => {
                return Err(HsmError::UserNotFound)
            }
            Err(e) => return Err(HsmError::token("log in", &e)),
        }
        Ok(HsmConnection {
            session: Arc::new(Mutex::new(session)),
        })
    }
}

/// A logged-in session on a token. Dropping the last clone logs out and closes it.
#[derive(Clone)]
pub struct HsmConnection {
    session: Arc<Mutex<Session>>,
}

impl std::fmt::Debug for HsmConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmConnection").finish_non_exhaustive()
    }
}

impl HsmConnection {
    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Log out now (Disconnect), rather than when the last clone drops.
    pub fn logout(&self) {
        // Logging out of a session that is already logged out changes nothing.
        let _ = self.session().logout();
    }

    fn find(session: &Session, label: &str) -> Result<ObjectHandle, HsmError> {
        let found = session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(|e| HsmError::token("search for a backing key", &e))?;
        match found.as_slice() {
            [key] => Ok(*key),
            _ => Err(HsmError::KeyNotFound),
        }
    }

    /// Generate a non-extractable AES-256 token key labelled `label`.
    ///
    /// # Errors
    /// PKCS#11 failures.
    pub fn generate_key(&self, label: &str) -> Result<(), HsmError> {
        self.session()
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32.into()),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                    Attribute::Label(label.as_bytes().to_vec()),
                ],
            )
            .map(|_| ())
            .map_err(|e| HsmError::token("generate a backing key", &e))
    }

    /// Destroy the token key labelled `label` (when a key could not be recorded).
    ///
    /// # Errors
    /// PKCS#11 failures, or [`HsmError::KeyNotFound`].
    pub fn destroy_key(&self, label: &str) -> Result<(), HsmError> {
        let session = self.session();
        let key = Self::find(&session, label)?;
        session
            .destroy_object(key)
            .map_err(|e| HsmError::token("destroy a backing key", &e))
    }

    /// AES-GCM encrypt `plaintext` under the key labelled `label` with `iv` (12 bytes) and
    /// `aad`, inside the token; returns ciphertext || 16-byte tag.
    ///
    /// # Errors
    /// [`HsmError::KeyNotFound`], or PKCS#11 failures.
    pub fn encrypt(
        &self,
        label: &str,
        iv: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        let session = self.session();
        let key = Self::find(&session, label)?;
        let mut iv = *iv;
        let params = GcmParams::new(&mut iv, aad, TAG_BITS.into())
            .map_err(|e| HsmError::token("prepare AES-GCM parameters", &e))?;
        session
            .encrypt(&Mechanism::AesGcm(params), key, plaintext)
            .map_err(|e| HsmError::token("encrypt", &e))
    }

    /// AES-GCM decrypt `sealed` (ciphertext || tag) under the key labelled `label`.
    ///
    /// # Errors
    /// [`HsmError::InvalidCiphertext`] when the tag does not verify, [`HsmError::KeyNotFound`],
    /// or PKCS#11 failures.
    pub fn decrypt(
        &self,
        label: &str,
        iv: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<SecretBytes, HsmError> {
        let session = self.session();
        let key = Self::find(&session, label)?;
        let mut iv = *iv;
        let params = GcmParams::new(&mut iv, aad, TAG_BITS.into())
            .map_err(|e| HsmError::token("prepare AES-GCM parameters", &e))?;
        match session.decrypt(&Mechanism::AesGcm(params), key, sealed) {
            Ok(plain) => Ok(SecretBytes::new(plain)),
            // SoftHSM reports a tag mismatch as CKR_GENERAL_ERROR; the inputs are otherwise
            // well formed (a found key, a 12-byte IV), so a failing decryption is the blob's.
            Err(P11Error::Pkcs11(
                RvError::GeneralError
                | RvError::FunctionFailed
                | RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::DataInvalid
                | RvError::DataLenRange,
                _,
            )) => Err(HsmError::InvalidCiphertext),
            Err(e) => Err(HsmError::token("decrypt", &e)),
        }
    }
}

/// Parse `RAMPART_CLOUDHSM_CLUSTERS`: comma-separated `cluster-id=MODULE_PATH:TOKEN_LABEL`.
///
/// # Errors
/// A message naming the malformed entry.
pub fn parse_clusters(spec: &str) -> Result<HashMap<String, HsmCluster>, String> {
    let mut out = HashMap::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (id, target) = entry
            .split_once('=')
            .ok_or_else(|| format!("cluster entry {entry:?} is not cluster-id=MODULE:TOKEN"))?;
        let (module, token) = target
            .rsplit_once(':')
            .ok_or_else(|| format!("cluster entry {entry:?} is not cluster-id=MODULE:TOKEN"))?;
        let id = id.trim();
        if !is_cluster_id(id) {
            return Err(format!(
                "{id:?} is not a CloudHSM cluster id (cluster- and 11 to 16 of [2-7a-zA-Z])"
            ));
        }
        if module.is_empty() || token.is_empty() {
            return Err(format!(
                "cluster entry {entry:?} has an empty module or token"
            ));
        }
        out.insert(
            id.to_owned(),
            HsmCluster {
                module: PathBuf::from(module),
                token_label: token.to_owned(),
            },
        );
    }
    Ok(out)
}

/// AWS's cluster id pattern: `cluster-` and 11 to 16 of `[2-7a-zA-Z]`.
#[must_use]
pub fn is_cluster_id(id: &str) -> bool {
    id.strip_prefix("cluster-").is_some_and(|rest| {
        (11..=16).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || (b'2'..=b'7').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_settings_parse() {
        let m = parse_clusters(
            "cluster-abcdefghijk=/usr/lib/softhsm/libsofthsm2.so:tok-a, cluster-zzzzzzzzzzzz=/x.so:b",
        )
        .unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["cluster-abcdefghijk"].token_label, "tok-a");
        assert_eq!(
            m["cluster-abcdefghijk"].module,
            PathBuf::from("/usr/lib/softhsm/libsofthsm2.so")
        );
        assert!(parse_clusters("cluster-abc=/x.so:t").is_err());
        assert!(parse_clusters("cluster-abcdefghijk=/x.so").is_err());
        assert!(parse_clusters("").unwrap().is_empty());
    }

    #[test]
    fn cluster_ids_follow_aws_pattern() {
        assert!(is_cluster_id("cluster-2ab3cd4ef5g"));
        assert!(!is_cluster_id("cluster-2ab3cd4ef5"));
        assert!(!is_cluster_id("cluster-2ab3cd4ef5gab7zzz"));
        assert!(!is_cluster_id("clusterabcdefghijk"));
    }

    /// The whole backend against a SoftHSM token in a temp dir (skipped, loudly, without
    /// softhsm2 unless `RAMPART_REQUIRE_SOFTHSM=1`).
    #[test]
    fn softhsm_token_logs_in_generates_and_seals() {
        const LIB: &str = "/usr/lib/softhsm/libsofthsm2.so";
        if !Path::new(LIB).exists() {
            assert!(
                std::env::var("RAMPART_REQUIRE_SOFTHSM").as_deref() != Ok("1"),
                "softhsm2 is required but not installed"
            );
            eprintln!("SKIPPED: softhsm2 not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\n",
                tokens.display()
            ),
        )
        .unwrap();
        // Only this test in the crate loads SoftHSM, so the variable is set before C_Initialize.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let status = std::process::Command::new("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                "unit-cks",
                "--pin",
                "unit-pin-1",
                "--so-pin",
                "so-pin-1",
            ])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .unwrap();
        assert!(status.status.success());
        let cluster = HsmCluster {
            module: PathBuf::from(LIB),
            token_label: "unit-cks".to_owned(),
        };
        let wrong = cluster.connect(&SecretString::new("wrong-pin".to_owned()));
        assert_eq!(wrong.err(), Some(HsmError::InvalidCredentials));
        let missing = HsmCluster {
            module: PathBuf::from(LIB),
            token_label: "no-such-token".to_owned(),
        };
        assert_eq!(
            missing
                .connect(&SecretString::new("unit-pin-1".to_owned()))
                .err(),
            Some(HsmError::ClusterNotFound)
        );
        let conn = cluster
            .connect(&SecretString::new("unit-pin-1".to_owned()))
            .unwrap();
        conn.generate_key("material-1").unwrap();
        let iv = [7u8; 12];
        let sealed = conn.encrypt("material-1", &iv, b"aad", b"secret").unwrap();
        assert_eq!(sealed.len(), 6 + 16);
        let plain = conn.decrypt("material-1", &iv, b"aad", &sealed).unwrap();
        assert_eq!(plain.expose(), b"secret");
        assert_eq!(
            conn.decrypt("material-1", &iv, b"other", &sealed).err(),
            Some(HsmError::InvalidCiphertext)
        );
        assert_eq!(
            conn.encrypt("material-2", &iv, b"aad", b"x").err(),
            Some(HsmError::KeyNotFound)
        );
        conn.destroy_key("material-1").unwrap();
        assert_eq!(
            conn.decrypt("material-1", &iv, b"aad", &sealed).err(),
            Some(HsmError::KeyNotFound)
        );
    }
}
