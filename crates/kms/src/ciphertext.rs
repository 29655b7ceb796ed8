//! The self-describing ciphertext blob of symmetric (`SYMMETRIC_DEFAULT`) KMS keys.
//!
//! Encrypt writes format version 3 (the second generation of the KMS-held format; version
//! byte 2 was already taken by external key stores):
//!
//! ```text
//! version (1 byte, = 3)
//! key id length (1 byte) || key id (ASCII: a UUID or an `mrk-` id)
//! material id length (1 byte) || backing-key material id (ASCII)
//! salt (32 random bytes)
//! IV (12 random bytes)
//! AES-256-GCM ciphertext || 16-byte tag
//! ```
//!
//! The AES-256-GCM key is a per-message data key, derived as AWS KMS does: HKDF-SHA256 with the
//! backing key as input keying material, the blob's salt as salt, and as info the label
//! `rampart:kms:ciphertext:v3` followed by the header. Each message has its own key, so the
//! number of messages under one backing key is not limited by the birthday bound of random
//! 96-bit GCM nonces (about 2^32 messages per key); two messages share a key only if their
//! 256-bit salts collide.
//!
//! Version 1 blobs, written before version 3, are the same header with version 1, then a
//! 12-byte random IV and the AES-256-GCM ciphertext and tag under the backing key itself. They
//! still decrypt. Keys in a CloudHSM key store keep writing version 1 blobs (the AES-GCM runs in
//! the token, under the token's key); keys in an external key store write version 2 blobs: the
//! same header with version 2, then the external key store proxy's encryption of a version 1
//! body (see [`crate::keystore::xks`]). [`parse`] reads all three, so Decrypt finds the key
//! whatever wrote the blob.
//!
//! The header (everything before the salt or IV) names the key, so Decrypt works without a
//! KeyId, and the backing key, so a rotated key still decrypts with its older material. The
//! additional authenticated data is the header followed by the canonical encryption context,
//! which binds both to the ciphertext. Every failure to open a blob is the same
//! [`KmsError::InvalidCiphertext`], as AWS's `InvalidCiphertextException` carries no detail.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf::{Salt, HKDF_SHA256};
use rampart_crypto::SecretBytes;
use zeroize::Zeroizing;

use crate::context::{canonical_bytes, EncryptionContext};
use crate::material::{KeyMaterial, ParsedKey};
use crate::KmsError;

/// The format version Encrypt writes: a per-message key derived by HKDF-SHA256.
pub const FORMAT_VERSION: u8 = 3;
/// The first format version: a random IV under the backing key itself. Still read, and still
/// the body format of CloudHSM key store blobs and of the inner layer of external ones.
pub const V1_FORMAT_VERSION: u8 = 1;
/// The format version of blobs of keys in an external key store (double encryption).
pub const EXTERNAL_FORMAT_VERSION: u8 = 2;
/// The largest plaintext Encrypt accepts, in bytes.
pub const MAX_PLAINTEXT_LEN: usize = 4096;
/// The longest key id or material id a blob can carry, in bytes.
pub const MAX_ID_LEN: usize = 255;
/// The length of the HKDF salt in a version 3 blob, in bytes.
pub const SALT_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// The start of the HKDF info; the header follows it.
const INFO_LABEL: &[u8] = b"rampart:kms:ciphertext:v3";

/// The readable part of a ciphertext blob: which key and which backing key sealed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    version: u8,
    key_id: String,
    material_id: String,
    len: usize,
}

impl Header {
    /// The id of the KMS key (without ARN), as given to [`encrypt`].
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The id of the backing key material, as given to [`encrypt`].
    #[must_use]
    pub fn material_id(&self) -> &str {
        &self.material_id
    }

    /// The format version: [`FORMAT_VERSION`], [`V1_FORMAT_VERSION`] or
    /// [`EXTERNAL_FORMAT_VERSION`].
    #[must_use]
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The header's bytes in `blob` (the start of the additional authenticated data).
    #[must_use]
    pub fn bytes<'a>(&self, blob: &'a [u8]) -> &'a [u8] {
        blob.get(..self.len).unwrap_or_default()
    }

    /// What follows the header in `blob`.
    #[must_use]
    pub fn body<'a>(&self, blob: &'a [u8]) -> &'a [u8] {
        blob.get(self.len..).unwrap_or_default()
    }
}

/// The header bytes of a blob of `version` naming `key_id` and `material_id`.
///
/// # Errors
/// [`KmsError::Internal`] if an id is empty, too long or not printable ASCII.
pub fn header_bytes(version: u8, key_id: &str, material_id: &str) -> Result<Vec<u8>, KmsError> {
    let mut out = vec![version];
    push_id(&mut out, key_id)?;
    push_id(&mut out, material_id)?;
    Ok(out)
}

/// The additional authenticated data of a blob: its header, then the canonical context.
///
/// # Errors
/// [`KmsError::ContextTooLarge`] for an oversized context.
pub fn aad(header: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, KmsError> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&canonical_bytes(context)?);
    Ok(aad)
}

/// Checks the plaintext length Encrypt accepts (1 to 4096 bytes).
///
/// # Errors
/// [`KmsError::Empty`] or [`KmsError::TooLong`].
pub fn check_plaintext(plaintext: &[u8]) -> Result<(), KmsError> {
    if plaintext.is_empty() {
        return Err(KmsError::Empty { field: "plaintext" });
    }
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(KmsError::TooLong {
            field: "plaintext",
            max: MAX_PLAINTEXT_LEN,
        });
    }
    Ok(())
}

/// Encrypts `plaintext` (1 to 4096 bytes) under `material` into a version 3 blob, naming
/// `key_id` and `material_id` in it and binding `context`.
///
/// # Errors
/// [`KmsError::Empty`] or [`KmsError::TooLong`] for the plaintext length,
/// [`KmsError::ContextTooLarge`], [`KmsError::IncompatibleAlgorithm`] if `material` is not a
/// `SYMMETRIC_DEFAULT` key, [`KmsError::Internal`] if an id is empty, longer than
/// [`MAX_ID_LEN`] or not printable ASCII (a caller bug), or if sealing fails.
pub fn encrypt(
    key_id: &str,
    material_id: &str,
    material: &KeyMaterial,
    plaintext: &[u8],
    context: &EncryptionContext,
) -> Result<Vec<u8>, KmsError> {
    check_plaintext(plaintext)?;
    aes_key(material)?;
    let mut blob = header_bytes(FORMAT_VERSION, key_id, material_id)?;
    let aad = aad(&blob, context)?;
    let mut salt = [0u8; SALT_LEN];
    let mut iv = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| KmsError::Internal)?;
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| KmsError::Internal)?;
    let key = derived_key(material, &salt, &blob)?;
    let mut sealed = Zeroizing::new(plaintext.to_vec());
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(iv),
        Aad::from(&aad),
        &mut *sealed,
    )
    .map_err(|_| KmsError::Internal)?;
    blob.extend_from_slice(&salt);
    blob.extend_from_slice(&iv);
    blob.extend_from_slice(&sealed);
    Ok(blob)
}

/// Encrypts `plaintext` into a version 1 blob (a random IV under `material` itself).
///
/// Only for the inner layer of external key store blobs, whose format is fixed: every other
/// caller wants [`encrypt`].
///
/// # Errors
/// As [`encrypt`].
pub fn encrypt_v1(
    key_id: &str,
    material_id: &str,
    material: &KeyMaterial,
    plaintext: &[u8],
    context: &EncryptionContext,
) -> Result<Vec<u8>, KmsError> {
    check_plaintext(plaintext)?;
    let key = aes_key(material)?;
    let mut blob = header_bytes(V1_FORMAT_VERSION, key_id, material_id)?;
    let aad = aad(&blob, context)?;
    let mut sealed = Zeroizing::new(plaintext.to_vec());
    let nonce = key
        .seal_in_place_append_tag(Aad::from(&aad), &mut *sealed)
        .map_err(|_| KmsError::Internal)?;
    blob.extend_from_slice(nonce.as_ref());
    blob.extend_from_slice(&sealed);
    Ok(blob)
}

/// Reads the header of `blob` without decrypting it, so Decrypt can find the key.
///
/// # Errors
/// [`KmsError::InvalidCiphertext`] if the blob is not in a known format.
pub fn parse(blob: &[u8]) -> Result<Header, KmsError> {
    let mut rest = blob;
    let version = take(&mut rest, 1)?.first().copied().unwrap_or(0);
    // What precedes the ciphertext and tag, and the longest ciphertext and tag.
    let (prefix, max) = match version {
        FORMAT_VERSION => (SALT_LEN + NONCE_LEN, MAX_PLAINTEXT_LEN + TAG_LEN),
        V1_FORMAT_VERSION => (NONCE_LEN, MAX_PLAINTEXT_LEN + TAG_LEN),
        // A version 2 body wraps a version 1 body with the proxy's IV, tag and metadata.
        EXTERNAL_FORMAT_VERSION => (NONCE_LEN, MAX_PLAINTEXT_LEN + 2 * TAG_LEN + NONCE_LEN + 64),
        _ => return Err(KmsError::InvalidCiphertext),
    };
    let key_id = take_id(&mut rest)?;
    let material_id = take_id(&mut rest)?;
    let len = blob.len() - rest.len();
    let body = rest.len().saturating_sub(prefix);
    if rest.len() < prefix || !(TAG_LEN + 1..=max).contains(&body) {
        return Err(KmsError::InvalidCiphertext);
    }
    Ok(Header {
        version,
        key_id,
        material_id,
        len,
    })
}

/// Decrypts `blob` (version 3 or version 1), whose header is `header`, with `material` and
/// `context`.
///
/// # Errors
/// [`KmsError::InvalidCiphertext`] for every blob that does not open: malformed, tampered with,
/// sealed under other material, presented with another context, or not matching `header`;
/// [`KmsError::ContextTooLarge`] for an oversized context; [`KmsError::IncompatibleAlgorithm`]
/// if `material` is not a `SYMMETRIC_DEFAULT` key.
pub fn decrypt(
    header: &Header,
    blob: &[u8],
    material: &KeyMaterial,
    context: &EncryptionContext,
) -> Result<SecretBytes, KmsError> {
    let legacy = aes_key(material)?;
    if parse(blob)? != *header {
        return Err(KmsError::InvalidCiphertext);
    }
    let (head, rest) = blob
        .split_at_checked(header.len)
        .ok_or(KmsError::InvalidCiphertext)?;
    let aad = aad(head, context)?;
    let mut buffer;
    let plaintext = match header.version {
        FORMAT_VERSION => {
            let (salt, rest) = rest
                .split_at_checked(SALT_LEN)
                .ok_or(KmsError::InvalidCiphertext)?;
            let (nonce, body) = split_nonce(rest)?;
            let key = derived_key(material, salt, head)?;
            buffer = Zeroizing::new(body.to_vec());
            key.open_in_place(nonce, Aad::from(&aad), &mut buffer)
        }
        V1_FORMAT_VERSION => {
            let (nonce, body) = split_nonce(rest)?;
            buffer = Zeroizing::new(body.to_vec());
            legacy.open_in_place(nonce, Aad::from(&aad), &mut buffer)
        }
        _ => return Err(KmsError::InvalidCiphertext),
    }
    .map_err(|_| KmsError::InvalidCiphertext)?;
    Ok(SecretBytes::new(plaintext.to_vec()))
}

fn split_nonce(rest: &[u8]) -> Result<(Nonce, &[u8]), KmsError> {
    let (iv, body) = rest
        .split_at_checked(NONCE_LEN)
        .ok_or(KmsError::InvalidCiphertext)?;
    let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| KmsError::InvalidCiphertext)?;
    Ok((nonce, body))
}

/// The per-message AES-256-GCM key of a version 3 blob: HKDF-SHA256 of the backing key with the
/// blob's salt, and the label and header as info.
fn derived_key(
    material: &KeyMaterial,
    salt: &[u8],
    header: &[u8],
) -> Result<LessSafeKey, KmsError> {
    let prk = Salt::new(HKDF_SHA256, salt).extract(material.secret().expose());
    let info = [INFO_LABEL, header];
    let okm = prk
        .expand(&info, &AES_256_GCM)
        .map_err(|_| KmsError::Internal)?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

fn aes_key(material: &KeyMaterial) -> Result<&aws_lc_rs::aead::RandomizedNonceKey, KmsError> {
    match material.parsed() {
        ParsedKey::Aes(key) => Ok(key),
        _ => Err(KmsError::IncompatibleAlgorithm {
            algorithm: "SYMMETRIC_DEFAULT",
            spec: material.spec(),
        }),
    }
}

fn valid_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.iter().all(u8::is_ascii_graphic)
}

fn push_id(out: &mut Vec<u8>, id: &str) -> Result<(), KmsError> {
    let len = u8::try_from(id.len()).map_err(|_| KmsError::Internal)?;
    if !valid_id(id.as_bytes()) {
        return Err(KmsError::Internal);
    }
    out.push(len);
    out.extend_from_slice(id.as_bytes());
    Ok(())
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], KmsError> {
    let (head, tail) = rest
        .split_at_checked(n)
        .ok_or(KmsError::InvalidCiphertext)?;
    *rest = tail;
    Ok(head)
}

fn take_id(rest: &mut &[u8]) -> Result<String, KmsError> {
    let len = take(rest, 1)?.first().copied().unwrap_or(0);
    let id = take(rest, usize::from(len))?;
    if !valid_id(id) {
        return Err(KmsError::InvalidCiphertext);
    }
    String::from_utf8(id.to_vec()).map_err(|_| KmsError::InvalidCiphertext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeySpec;

    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    const MATERIAL_ID: &str = "e5b8a1d4c0f7a0b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9";

    fn aes() -> KeyMaterial {
        KeyMaterial::generate(KeySpec::SymmetricDefault).unwrap()
    }

    #[test]
    fn header_names_key_and_material() {
        let material = aes();
        let blob = encrypt(
            KEY_ID,
            MATERIAL_ID,
            &material,
            b"hi",
            &EncryptionContext::new(),
        )
        .unwrap();
        let header = parse(&blob).unwrap();
        assert_eq!(header.key_id(), KEY_ID);
        assert_eq!(header.material_id(), MATERIAL_ID);
        assert_eq!(
            blob.len(),
            1 + 1 + KEY_ID.len() + 1 + MATERIAL_ID.len() + SALT_LEN + NONCE_LEN + 2 + TAG_LEN
        );
        assert_eq!(header.version(), FORMAT_VERSION);
    }

    #[test]
    fn version_1_blobs_still_open_and_are_bound_the_same_way() {
        let material = aes();
        let context: EncryptionContext = [("a".to_owned(), "b".to_owned())].into();
        let blob = encrypt_v1(KEY_ID, MATERIAL_ID, &material, b"old", &context).unwrap();
        let header = parse(&blob).unwrap();
        assert_eq!(header.version(), V1_FORMAT_VERSION);
        assert_eq!(
            blob.len(),
            1 + 1 + KEY_ID.len() + 1 + MATERIAL_ID.len() + NONCE_LEN + 3 + TAG_LEN
        );
        assert_eq!(
            decrypt(&header, &blob, &material, &context)
                .unwrap()
                .expose(),
            b"old"
        );
        assert_eq!(
            decrypt(&header, &blob, &material, &EncryptionContext::new()),
            Err(KmsError::InvalidCiphertext)
        );
    }

    #[test]
    fn each_message_has_its_own_derived_key() {
        let material = aes();
        let empty = EncryptionContext::new();
        let a = encrypt(KEY_ID, MATERIAL_ID, &material, b"same", &empty).unwrap();
        let b = encrypt(KEY_ID, MATERIAL_ID, &material, b"same", &empty).unwrap();
        let header = parse(&a).unwrap();
        let salt = |blob: &[u8]| blob[header.len..header.len + SALT_LEN].to_vec();
        assert_ne!(salt(&a), salt(&b));
        // Another blob's salt derives another key: the tag no longer verifies.
        let mut swapped = a.clone();
        swapped[header.len..header.len + SALT_LEN].copy_from_slice(&salt(&b));
        assert_eq!(
            decrypt(&header, &swapped, &material, &empty),
            Err(KmsError::InvalidCiphertext)
        );
    }

    #[test]
    fn external_blobs_do_not_open_here() {
        let material = aes();
        let empty = EncryptionContext::new();
        let mut blob = encrypt_v1(KEY_ID, MATERIAL_ID, &material, b"x", &empty).unwrap();
        blob[0] = EXTERNAL_FORMAT_VERSION;
        let header = parse(&blob).unwrap();
        assert_eq!(
            decrypt(&header, &blob, &material, &empty),
            Err(KmsError::InvalidCiphertext)
        );
    }

    #[test]
    fn plaintext_length_is_bounded() {
        let material = aes();
        let empty = EncryptionContext::new();
        assert_eq!(
            encrypt(KEY_ID, MATERIAL_ID, &material, b"", &empty),
            Err(KmsError::Empty { field: "plaintext" })
        );
        let max = vec![7; MAX_PLAINTEXT_LEN];
        let blob = encrypt(KEY_ID, MATERIAL_ID, &material, &max, &empty).unwrap();
        let header = parse(&blob).unwrap();
        assert_eq!(
            decrypt(&header, &blob, &material, &empty).unwrap().expose(),
            &max[..]
        );
        assert!(matches!(
            encrypt(
                KEY_ID,
                MATERIAL_ID,
                &material,
                &[7; MAX_PLAINTEXT_LEN + 1],
                &empty
            ),
            Err(KmsError::TooLong { max: 4096, .. })
        ));
    }

    #[test]
    fn bad_ids_are_refused_when_encrypting() {
        let material = aes();
        let empty = EncryptionContext::new();
        for bad in ["", "has space", &"x".repeat(256)] {
            assert!(encrypt(bad, MATERIAL_ID, &material, b"x", &empty).is_err());
            assert!(encrypt(KEY_ID, bad, &material, b"x", &empty).is_err());
        }
    }

    #[test]
    fn header_from_another_blob_is_refused() {
        let material = aes();
        let empty = EncryptionContext::new();
        let a = encrypt(KEY_ID, "m1", &material, b"x", &empty).unwrap();
        let b = encrypt(KEY_ID, "m2", &material, b"x", &empty).unwrap();
        let header_a = parse(&a).unwrap();
        assert_eq!(
            decrypt(&header_a, &b, &material, &empty),
            Err(KmsError::InvalidCiphertext)
        );
    }
}
