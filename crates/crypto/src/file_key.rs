//! The key-file root-key provider.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::sealer::KEY_LEN;
use crate::{key_text, random, secret_file, CryptoError, RootKeyProvider, Sealer};

/// A root key kept in a file, generated on first use.
///
/// A missing file is created with a fresh random 32-byte key, base64-encoded, mode 0600, written
/// atomically (temporary file, fsync, link into place, fsync directory), so concurrent first
/// starts agree on one key. An existing file may hold 32 raw bytes or their base64; it is refused
/// if group or others can access it.
#[derive(Debug, Clone)]
pub struct FileRootKey {
    path: PathBuf,
}

impl FileRootKey {
    /// A provider for the key file at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The key file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sealer_from(&self, contents: &[u8]) -> Result<Sealer, CryptoError> {
        let key =
            key_text::decode_file(contents).map_err(|reason| CryptoError::InvalidKeyFile {
                path: self.path.clone(),
                reason,
            })?;
        Sealer::new(&key)
    }
}

impl RootKeyProvider for FileRootKey {
    fn name(&self) -> &'static str {
        "file"
    }

    fn load(&self) -> Result<Sealer, CryptoError> {
        if let Some(contents) = secret_file::read(&self.path)? {
            return self.sealer_from(&contents);
        }
        let key = Zeroizing::new(random::random_bytes(KEY_LEN)?);
        if secret_file::create_new(&self.path, &key_text::encode(&key))? {
            return Sealer::new(&key);
        }
        // Another process created the file first; use its key.
        match secret_file::read(&self.path)? {
            Some(contents) => self.sealer_from(&contents),
            None => Err(CryptoError::InvalidKeyFile {
                path: self.path.clone(),
                reason: "vanished while being created",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn first_load_creates_a_0600_key_file_and_later_loads_reuse_it() {
        let dir = tempfile::tempdir().unwrap();
        let provider = FileRootKey::new(dir.path().join("root.key"));
        let first = provider.load().unwrap();
        let meta = fs::metadata(provider.path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 45, "base64 of 32 bytes plus newline");

        let sealed = first.seal(b"secret", b"aad").unwrap();
        let second = provider.load().unwrap();
        assert_eq!(first.key_id(), second.key_id());
        assert_eq!(second.open(&sealed, b"aad").unwrap().expose(), b"secret");
        assert_eq!(provider.name(), "file");
    }

    #[test]
    fn a_group_or_world_readable_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let provider = FileRootKey::new(dir.path().join("root.key"));
        provider.load().unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            fs::set_permissions(provider.path(), fs::Permissions::from_mode(mode)).unwrap();
            let err = provider.load().unwrap_err();
            assert!(
                matches!(err, CryptoError::InsecureKeyFile { .. }),
                "{err:?}"
            );
            let message = err.to_string();
            assert!(message.contains("chmod 600"), "{message}");
            assert!(message.contains(&format!("{mode:04o}")), "{message}");
        }
        fs::set_permissions(provider.path(), fs::Permissions::from_mode(0o400)).unwrap();
        provider.load().unwrap();
    }

    #[test]
    fn raw_and_base64_key_files_are_both_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let key = [0x42; KEY_LEN];
        let reference = Sealer::new(&key).unwrap().key_id();

        let raw = dir.path().join("raw.key");
        assert!(secret_file::create_new(&raw, &key).unwrap());
        assert_eq!(FileRootKey::new(&raw).load().unwrap().key_id(), reference);

        let text = dir.path().join("text.key");
        assert!(secret_file::create_new(&text, &key_text::encode(&key)).unwrap());
        assert_eq!(FileRootKey::new(&text).load().unwrap().key_id(), reference);
    }

    #[test]
    fn an_invalid_key_file_is_refused_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        assert!(secret_file::create_new(&path, b"topsecretvalue\n").unwrap());
        let err = FileRootKey::new(&path).load().unwrap_err();
        assert!(matches!(err, CryptoError::InvalidKeyFile { .. }));
        assert!(!format!("{err} {err:?}").contains("topsecret"));
    }
}
