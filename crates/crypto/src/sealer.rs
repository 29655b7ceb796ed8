//! Sealing of sensitive fields at rest: AES-256-GCM under a root data key.
//!
//! Sealed format (all integers big-endian):
//!
//! ```text
//! version (1 byte, = 1) | key id (u32) | nonce (12 random bytes) | ciphertext | tag (16 bytes)
//! ```
//!
//! The GCM additional data is the 5-byte header followed by the caller's `aad`, so the version
//! and key id cannot be altered and a blob only opens in the place it was sealed for. The key id
//! is derived from the key itself (HMAC-SHA-256 of a fixed label, first four bytes), so the same
//! key always has the same id and no registry of ids is needed. Nonces are random: a key should
//! seal well under 2^32 blobs, far beyond what a root key protects between rotations.

use std::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hmac;
use zeroize::Zeroize;

use crate::random::fill_random;
use crate::{CryptoError, SecretBytes};

/// The length of a root data key in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// The current sealed-format version.
const VERSION: u8 = 1;
/// Version byte plus key id.
const HEADER_LEN: usize = 1 + 4;
/// The GCM authentication tag length.
const TAG_LEN: usize = 16;
/// The shortest possible sealed blob: header, nonce and tag around an empty plaintext.
const MIN_SEALED_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// Label whose HMAC under the key gives the key id.
const KEY_ID_LABEL: &[u8] = b"rampart sealer key id v1";

/// One AES-256-GCM key and its id.
struct SealingKey {
    id: u32,
    key: LessSafeKey,
}

impl SealingKey {
    fn new(key: &[u8]) -> Result<Self, CryptoError> {
        if key.len() != KEY_LEN {
            return Err(CryptoError::InvalidKeyLength {
                expected: KEY_LEN,
                actual: key.len(),
            });
        }
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), KEY_ID_LABEL);
        let mut id = [0; 4];
        id.copy_from_slice(&tag.as_ref()[..4]);
        let unbound =
            UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::InvalidKeyLength {
                expected: KEY_LEN,
                actual: key.len(),
            })?;
        Ok(Self {
            id: u32::from_be_bytes(id),
            key: LessSafeKey::new(unbound),
        })
    }
}

/// AES-256-GCM sealing of sensitive fields under a 32-byte root data key, with older keys kept
/// for opening so that root-key rotation can re-seal without downtime.
///
/// Obtain one from a [`crate::RootKeyProvider`]; share it behind an `Arc`.
pub struct Sealer {
    current: SealingKey,
    previous: Vec<SealingKey>,
}

impl Sealer {
    /// Makes a sealer from a 32-byte key. The key bytes are not retained outside the AES key
    /// schedule; the caller should zeroize its copy.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKeyLength`] unless `key` is exactly 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self {
            current: SealingKey::new(key)?,
            previous: Vec::new(),
        })
    }

    /// Makes a sealer with a fresh random key, for tests and for in-memory (non-persistent) runs.
    ///
    /// # Errors
    /// [`CryptoError::Random`] if the system random number generator fails.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut key = [0; KEY_LEN];
        let result = fill_random(&mut key).and_then(|()| Self::new(&key));
        key.zeroize();
        result
    }

    /// The id of the current key, written into every blob this sealer seals.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.current.id
    }

    /// Adds `other`'s keys (its current one and its own previous ones) as previous keys, so that
    /// blobs sealed under them still open. New blobs are always sealed under `self`'s current key.
    #[must_use]
    pub fn with_previous(mut self, other: Sealer) -> Sealer {
        let Sealer { current, previous } = other;
        self.previous.push(current);
        self.previous.extend(previous);
        self
    }

    /// Seals `plaintext` for the place named by `aad` (for example `iam/accesskey/AKIA...`).
    ///
    /// # Errors
    /// [`CryptoError::Random`] if no nonce can be drawn, [`CryptoError::SealFailed`] if the
    /// plaintext is too large for AES-GCM.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let header = header(self.current.id);
        let mut nonce = [0; NONCE_LEN];
        fill_random(&mut nonce)?;
        let capacity = plaintext
            .len()
            .checked_add(MIN_SEALED_LEN)
            .ok_or(CryptoError::SealFailed)?;
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        let sealed = self.current.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(gcm_aad(header, aad)),
            &mut body,
        );
        if sealed.is_err() {
            body.zeroize();
            return Err(CryptoError::SealFailed);
        }
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a blob sealed by [`Sealer::seal`] under the current or a previous key, for the same
    /// `aad`.
    ///
    /// # Errors
    /// [`CryptoError::Malformed`] or [`CryptoError::UnsupportedVersion`] if `sealed` is not a
    /// sealed blob, [`CryptoError::UnknownKeyId`] if its key is not loaded, and
    /// [`CryptoError::OpenFailed`] if it does not authenticate (wrong `aad`, tampering).
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<SecretBytes, CryptoError> {
        let parsed = parse(sealed)?;
        let mut candidates = self.keys().filter(|k| k.id == parsed.key_id).peekable();
        if candidates.peek().is_none() {
            return Err(CryptoError::UnknownKeyId(parsed.key_id));
        }
        let gcm_aad = gcm_aad(parsed.header, aad);
        // More than one candidate only on a 32-bit key-id collision; try each.
        for key in candidates {
            let mut buf = parsed.body.to_vec();
            let opened = key.key.open_in_place(
                Nonce::assume_unique_for_key(parsed.nonce),
                Aad::from(&gcm_aad),
                &mut buf,
            );
            if let Ok(plaintext) = opened {
                let len = plaintext.len();
                buf.truncate(len);
                return Ok(SecretBytes::new(buf));
            }
            buf.zeroize();
        }
        Err(CryptoError::OpenFailed)
    }

    /// Whether `sealed` should be re-sealed: true unless it is in the current format under the
    /// current key. Blobs that cannot be parsed also answer true; opening them reports why.
    #[must_use]
    pub fn needs_reseal(&self, sealed: &[u8]) -> bool {
        parse(sealed).map_or(true, |p| p.key_id != self.current.id)
    }

    /// Opens `sealed` (under any loaded key) and seals it again under the current key, for the
    /// same `aad`. Root-key rotation calls this on every blob for which
    /// [`Sealer::needs_reseal`] is true.
    ///
    /// # Errors
    /// Whatever [`Sealer::open`] or [`Sealer::seal`] reports.
    pub fn reseal(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let plaintext = self.open(sealed, aad)?;
        self.seal(plaintext.expose(), aad)
    }

    fn keys(&self) -> impl Iterator<Item = &SealingKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let previous: Vec<String> = self
            .previous
            .iter()
            .map(|k| format!("{:08x}", k.id))
            .collect();
        f.debug_struct("Sealer")
            .field("key_id", &format_args!("{:08x}", self.current.id))
            .field("previous_key_ids", &previous)
            .finish_non_exhaustive()
    }
}

/// The parts of a sealed blob.
struct Parsed<'a> {
    header: [u8; HEADER_LEN],
    key_id: u32,
    nonce: [u8; NONCE_LEN],
    body: &'a [u8],
}

fn parse(sealed: &[u8]) -> Result<Parsed<'_>, CryptoError> {
    let Some((&version, rest)) = sealed.split_first() else {
        return Err(CryptoError::Malformed { reason: "empty" });
    };
    if version != VERSION {
        return Err(CryptoError::UnsupportedVersion(version));
    }
    if sealed.len() < MIN_SEALED_LEN {
        return Err(CryptoError::Malformed {
            reason: "shorter than header, nonce and tag",
        });
    }
    let (id_bytes, rest) = rest.split_at(4);
    let (nonce_bytes, body) = rest.split_at(NONCE_LEN);
    let mut id = [0; 4];
    id.copy_from_slice(id_bytes);
    let mut nonce = [0; NONCE_LEN];
    nonce.copy_from_slice(nonce_bytes);
    let key_id = u32::from_be_bytes(id);
    Ok(Parsed {
        header: header(key_id),
        key_id,
        nonce,
        body,
    })
}

fn header(key_id: u32) -> [u8; HEADER_LEN] {
    let id = key_id.to_be_bytes();
    [VERSION, id[0], id[1], id[2], id[3]]
}

fn gcm_aad(header: [u8; HEADER_LEN], aad: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + aad.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(aad);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAD: &[u8] = b"iam/accesskey/AKIAIOSFODNN7EXAMPLE";

    #[test]
    fn seal_then_open_returns_the_plaintext() {
        let sealer = Sealer::generate().unwrap();
        for plaintext in [&b""[..], b"x", b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"] {
            let sealed = sealer.seal(plaintext, AAD).unwrap();
            assert_eq!(sealed.len(), MIN_SEALED_LEN + plaintext.len());
            assert_eq!(sealed[0], VERSION);
            assert_eq!(&sealed[1..5], &sealer.key_id().to_be_bytes());
            assert_eq!(sealer.open(&sealed, AAD).unwrap().expose(), plaintext);
        }
    }

    #[test]
    fn sealing_twice_gives_different_blobs() {
        let sealer = Sealer::generate().unwrap();
        assert_ne!(
            sealer.seal(b"same", AAD).unwrap(),
            sealer.seal(b"same", AAD).unwrap()
        );
    }

    #[test]
    fn ciphertext_does_not_contain_the_plaintext() {
        let sealer = Sealer::generate().unwrap();
        let sealed = sealer.seal(b"plaintext-marker", AAD).unwrap();
        assert!(!sealed.windows(16).any(|w| w == b"plaintext-marker"));
    }

    #[test]
    fn open_with_a_different_aad_fails() {
        let sealer = Sealer::generate().unwrap();
        let sealed = sealer.seal(b"secret", AAD).unwrap();
        assert!(matches!(
            sealer.open(&sealed, b"iam/accesskey/AKIAOTHER"),
            Err(CryptoError::OpenFailed)
        ));
        assert!(matches!(
            sealer.open(&sealed, b""),
            Err(CryptoError::OpenFailed)
        ));
    }

    #[test]
    fn any_tampered_byte_fails() {
        let sealer = Sealer::generate().unwrap();
        let sealed = sealer.seal(b"secret value", AAD).unwrap();
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(
                sealer.open(&tampered, AAD).is_err(),
                "byte {i} flipped still opened"
            );
        }
    }

    #[test]
    fn truncated_and_garbage_blobs_fail_without_panicking() {
        let sealer = Sealer::generate().unwrap();
        let sealed = sealer.seal(b"secret value", AAD).unwrap();
        for len in 0..sealed.len() {
            assert!(
                sealer.open(&sealed[..len], AAD).is_err(),
                "length {len} opened"
            );
        }
        assert!(matches!(
            sealer.open(&[2; 64], AAD),
            Err(CryptoError::UnsupportedVersion(2))
        ));
        assert!(matches!(
            sealer.open(&[], AAD),
            Err(CryptoError::Malformed { .. })
        ));
    }

    #[test]
    fn a_different_key_cannot_open() {
        let a = Sealer::generate().unwrap();
        let b = Sealer::generate().unwrap();
        let sealed = a.seal(b"secret", AAD).unwrap();
        assert!(
            matches!(b.open(&sealed, AAD), Err(CryptoError::UnknownKeyId(id)) if id == a.key_id())
        );
    }

    #[test]
    fn rotation_opens_old_blobs_and_flags_them_for_reseal() {
        let old = Sealer::generate().unwrap();
        let old_blob = old.seal(b"old secret", AAD).unwrap();
        let older = Sealer::generate().unwrap();
        let older_blob = older.seal(b"older secret", AAD).unwrap();

        let rotated = Sealer::generate()
            .unwrap()
            .with_previous(old.with_previous(older));
        assert_eq!(
            rotated.open(&old_blob, AAD).unwrap().expose(),
            b"old secret"
        );
        assert_eq!(
            rotated.open(&older_blob, AAD).unwrap().expose(),
            b"older secret"
        );
        assert!(rotated.needs_reseal(&old_blob));
        assert!(rotated.needs_reseal(&older_blob));

        let resealed = rotated.reseal(&old_blob, AAD).unwrap();
        assert!(!rotated.needs_reseal(&resealed));
        assert_eq!(&resealed[1..5], &rotated.key_id().to_be_bytes());
        assert_eq!(
            rotated.open(&resealed, AAD).unwrap().expose(),
            b"old secret"
        );
        assert!(rotated.needs_reseal(b"garbage"));
    }

    #[test]
    fn key_id_is_a_function_of_the_key() {
        let key = [7; KEY_LEN];
        let a = Sealer::new(&key).unwrap();
        let b = Sealer::new(&key).unwrap();
        assert_eq!(a.key_id(), b.key_id());
        assert_ne!(a.key_id(), Sealer::new(&[8; KEY_LEN]).unwrap().key_id());
        let sealed = a.seal(b"x", AAD).unwrap();
        assert_eq!(b.open(&sealed, AAD).unwrap().expose(), b"x");
    }

    #[test]
    fn keys_of_the_wrong_length_are_refused() {
        for len in [0, 16, 31, 33, 64] {
            assert!(matches!(
                Sealer::new(&vec![1; len]),
                Err(CryptoError::InvalidKeyLength { expected: 32, actual }) if actual == len
            ));
        }
    }

    #[test]
    fn sealer_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Sealer>();
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let key = [0x5a; KEY_LEN];
        let shown = format!("{:?}", Sealer::new(&key).unwrap());
        assert!(shown.starts_with("Sealer { key_id: "), "{shown}");
        assert!(
            !shown.contains("90, 90") && !shown.contains("5a5a5a5a"),
            "{shown}"
        );
    }
}
