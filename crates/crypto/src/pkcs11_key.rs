//! The PKCS#11 (HSM) root-key provider.
//!
//! The HSM holds a non-extractable AES-256 key. The root data key that seals fields is a random
//! 32-byte key encrypted by the HSM key (`CKM_AES_GCM`, inside the HSM) and kept in a small file;
//! each start asks the HSM to decrypt it. The HSM key never leaves the HSM, and the data key never
//! touches disk in the clear.
//!
//! Wrapped file format: `version (1) | IV (12 bytes) | ciphertext (32) | tag (16)`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::sealer::KEY_LEN;
use crate::{random, secret_file, CryptoError, RootKeyProvider, Sealer, SecretString};

/// Version byte of the wrapped-key file.
const WRAPPED_VERSION: u8 = 1;
/// GCM IV length used for wrapping.
const IV_LEN: usize = 12;
/// GCM tag length used for wrapping, in bytes.
const TAG_LEN: usize = 16;
/// Length of a wrapped-key file.
const WRAPPED_LEN: usize = 1 + IV_LEN + KEY_LEN + TAG_LEN;
/// Additional data binding the wrapped blob to its purpose.
const WRAP_AAD: &[u8] = b"rampart root data key v1";

/// `C_Initialize`/`C_Finalize` are per process, so loads are serialised.
static LOAD_LOCK: Mutex<()> = Mutex::new(());

/// A root key protected by an AES-256 key in a PKCS#11 token (an HSM, or `SoftHSM` for tests).
///
/// On load it logs in to the token labelled `token_label`, finds the AES key labelled `key_label`
/// or generates one (`CKA_TOKEN`, `CKA_SENSITIVE`, `CKA_PRIVATE` true, `CKA_EXTRACTABLE` false),
/// then decrypts the wrapped data key at `wrapped_key_path` inside the token, creating that file
/// with a fresh random data key on first start.
#[derive(Debug, Clone)]
pub struct Pkcs11RootKey {
    module: PathBuf,
    token_label: String,
    pin: SecretString,
    key_label: String,
    wrapped_key_path: PathBuf,
}

impl Pkcs11RootKey {
    /// A provider using the PKCS#11 `module` (a shared library such as
    /// `/usr/lib/softhsm/libsofthsm2.so`), the token labelled `token_label` and its user `pin`,
    /// the AES key labelled `key_label`, and the wrapped data key file `wrapped_key_path`.
    #[must_use]
    pub fn new(
        module: impl Into<PathBuf>,
        token_label: impl Into<String>,
        pin: SecretString,
        key_label: impl Into<String>,
        wrapped_key_path: impl Into<PathBuf>,
    ) -> Self {
        Self {
            module: module.into(),
            token_label: token_label.into(),
            pin,
            key_label: key_label.into(),
            wrapped_key_path: wrapped_key_path.into(),
        }
    }

    /// The file holding the data key wrapped by the HSM key.
    #[must_use]
    pub fn wrapped_key_path(&self) -> &Path {
        &self.wrapped_key_path
    }

    fn load_with(&self, pkcs11: &Pkcs11) -> Result<Sealer, CryptoError> {
        let slot = self.find_slot(pkcs11)?;
        let session = pkcs11
            .open_rw_session(slot)
            .map_err(|e| CryptoError::pkcs11("open a session", &e))?;
        let pin = AuthPin::new(self.pin.expose().into());
        let logged_in = match session.login(UserType::User, Some(&pin)) {
            Ok(()) => true,
            Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => false,
            Err(e) => return Err(CryptoError::pkcs11("log in to the token", &e)),
        };
        let result = self.find_or_generate_key(&session).and_then(|key| {
            match secret_file::read(&self.wrapped_key_path)? {
                Some(blob) => self.unwrap_data_key(&session, key, &blob),
                None => self.create_data_key(&session, key),
            }
        });
        if logged_in {
            // Closing the session (on drop) ends the login anyway; a failure here changes nothing.
            let _ = session.logout();
        }
        result
    }

    fn find_slot(&self, pkcs11: &Pkcs11) -> Result<Slot, CryptoError> {
        let slots = pkcs11
            .get_slots_with_initialized_token()
            .map_err(|e| CryptoError::pkcs11("list slots", &e))?;
        for slot in slots {
            let info = pkcs11
                .get_token_info(slot)
                .map_err(|e| CryptoError::pkcs11("read token information", &e))?;
            if info.label().trim_end() == self.token_label {
                return Ok(slot);
            }
        }
        Err(CryptoError::TokenNotFound {
            label: self.token_label.clone(),
        })
    }

    fn find_or_generate_key(&self, session: &Session) -> Result<ObjectHandle, CryptoError> {
        let label = Attribute::Label(self.key_label.as_bytes().to_vec());
        let found = session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                label.clone(),
            ])
            .map_err(|e| CryptoError::pkcs11("search for the root key", &e))?;
        match found.as_slice() {
            [key] => Ok(*key),
            [] => session
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
                        label,
                    ],
                )
                .map_err(|e| CryptoError::pkcs11("generate the root key", &e)),
            many => Err(CryptoError::DuplicateKeyLabel {
                label: self.key_label.clone(),
                count: many.len(),
            }),
        }
    }

    /// First start: a fresh data key, encrypted in the HSM and stored. If another process stored
    /// one meanwhile, that one wins.
    fn create_data_key(&self, session: &Session, key: ObjectHandle) -> Result<Sealer, CryptoError> {
        let data_key = Zeroizing::new(random::random_bytes(KEY_LEN)?);
        let mut iv = [0; IV_LEN];
        random::fill_random(&mut iv)?;
        let mut blob = Vec::with_capacity(WRAPPED_LEN);
        blob.push(WRAPPED_VERSION);
        blob.extend_from_slice(&iv);
        let params = GcmParams::new(&mut iv, WRAP_AAD, 128.into())
            .map_err(|e| CryptoError::pkcs11("prepare AES-GCM parameters", &e))?;
        let wrapped = session
            .encrypt(&Mechanism::AesGcm(params), key, &data_key)
            .map_err(|e| CryptoError::pkcs11("wrap the root data key", &e))?;
        blob.extend_from_slice(&wrapped);
        if blob.len() != WRAPPED_LEN {
            return Err(CryptoError::Pkcs11 {
                op: "wrap the root data key",
                detail: format!(
                    "token returned {} bytes, expected {}",
                    wrapped.len(),
                    KEY_LEN + TAG_LEN
                ),
            });
        }
        if secret_file::create_new(&self.wrapped_key_path, &blob)? {
            return Sealer::new(&data_key);
        }
        match secret_file::read(&self.wrapped_key_path)? {
            Some(existing) => self.unwrap_data_key(session, key, &existing),
            None => Err(self.invalid_wrapped("vanished while being created")),
        }
    }

    fn unwrap_data_key(
        &self,
        session: &Session,
        key: ObjectHandle,
        blob: &[u8],
    ) -> Result<Sealer, CryptoError> {
        if blob.len() != WRAPPED_LEN {
            return Err(self.invalid_wrapped("wrong length for a wrapped root data key"));
        }
        let (version, rest) = blob.split_at(1);
        if version != [WRAPPED_VERSION] {
            return Err(self.invalid_wrapped("unsupported wrapped-key format version"));
        }
        let (iv_bytes, wrapped) = rest.split_at(IV_LEN);
        let mut iv = [0; IV_LEN];
        iv.copy_from_slice(iv_bytes);
        let params = GcmParams::new(&mut iv, WRAP_AAD, 128.into())
            .map_err(|e| CryptoError::pkcs11("prepare AES-GCM parameters", &e))?;
        let data_key = Zeroizing::new(
            session
                .decrypt(&Mechanism::AesGcm(params), key, wrapped)
                .map_err(|e| {
                    CryptoError::pkcs11(
                        "unwrap the root data key (was the wrapped key file made with another HSM key?)",
                        &e,
                    )
                })?,
        );
        Sealer::new(&data_key)
    }

    fn invalid_wrapped(&self, reason: &'static str) -> CryptoError {
        CryptoError::InvalidKeyFile {
            path: self.wrapped_key_path.clone(),
            reason,
        }
    }
}

impl RootKeyProvider for Pkcs11RootKey {
    fn name(&self) -> &'static str {
        "pkcs11"
    }

    fn load(&self) -> Result<Sealer, CryptoError> {
        let _serialised = LOAD_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        let pkcs11 = Pkcs11::new(&self.module)
            .map_err(|e| CryptoError::pkcs11("load the PKCS#11 module", &e))?;
        // If something else in this process already initialised the module, it owns finalising.
        let owned = match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) => true,
            Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => false,
            Err(e) => return Err(CryptoError::pkcs11("initialise the PKCS#11 module", &e)),
        };
        let result = self.load_with(&pkcs11);
        if owned {
            // The key is in the Sealer now; a finalisation failure cannot make it wrong.
            let _ = pkcs11.finalize();
        }
        result
    }
}
