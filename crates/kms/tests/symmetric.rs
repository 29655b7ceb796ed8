//! Encrypt and Decrypt with symmetric keys, as the AWS KMS Developer Guide describes them:
//! self-describing ciphertext, encryption context as AAD, rotated keys still decrypting.

use rampart_kms::ciphertext::{decrypt, encrypt, parse};
use rampart_kms::{EncryptionContext, KeyMaterial, KeySpec, KmsError};

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const MRK_ID: &str = "mrk-1234abcd12ab34cd56ef1234567890ab";
const MATERIAL_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn aes() -> KeyMaterial {
    KeyMaterial::generate(KeySpec::SymmetricDefault).unwrap()
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn open(
    blob: &[u8],
    material: &KeyMaterial,
    context: &EncryptionContext,
) -> Result<Vec<u8>, KmsError> {
    let header = parse(blob)?;
    decrypt(&header, blob, material, context).map(|p| p.expose().to_vec())
}

#[test]
fn decrypt_without_key_id_finds_the_key_in_the_blob() {
    let material = aes();
    let context = ctx(&[("department", "10103.0")]);
    for key_id in [KEY_ID, MRK_ID] {
        let blob = encrypt(key_id, MATERIAL_ID, &material, b"secret", &context).unwrap();
        let header = parse(&blob).unwrap();
        assert_eq!(
            (header.key_id(), header.material_id()),
            (key_id, MATERIAL_ID)
        );
        assert_eq!(
            decrypt(&header, &blob, &material, &context)
                .unwrap()
                .expose(),
            b"secret"
        );
    }
}

#[test]
fn every_encryption_is_randomized() {
    let material = aes();
    let empty = EncryptionContext::new();
    let a = encrypt(KEY_ID, MATERIAL_ID, &material, b"same", &empty).unwrap();
    let b = encrypt(KEY_ID, MATERIAL_ID, &material, b"same", &empty).unwrap();
    assert_ne!(a, b);
}

#[test]
fn tampering_with_any_byte_is_invalid_ciphertext() {
    let material = aes();
    let context = ctx(&[("purpose", "test")]);
    let blob = encrypt(KEY_ID, MATERIAL_ID, &material, b"attack at dawn", &context).unwrap();
    for i in 0..blob.len() {
        for flip in [0x01, 0x80] {
            let mut tampered = blob.clone();
            tampered[i] ^= flip;
            assert_eq!(
                open(&tampered, &material, &context),
                Err(KmsError::InvalidCiphertext),
                "byte {i} flipped with {flip:#x}"
            );
        }
    }
    for len in 0..blob.len() {
        assert_eq!(
            open(&blob[..len], &material, &context),
            Err(KmsError::InvalidCiphertext)
        );
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert_eq!(
        open(&longer, &material, &context),
        Err(KmsError::InvalidCiphertext)
    );
}

#[test]
fn a_different_encryption_context_is_invalid_ciphertext() {
    let material = aes();
    let context = ctx(&[("a", "1"), ("b", "2")]);
    let blob = encrypt(KEY_ID, MATERIAL_ID, &material, b"x", &context).unwrap();
    // Only the order of pairs may vary; AWS matches case-sensitively.
    assert!(open(&blob, &material, &ctx(&[("b", "2"), ("a", "1")])).is_ok());
    for wrong in [
        ctx(&[]),
        ctx(&[("a", "1")]),
        ctx(&[("a", "1"), ("b", "2"), ("c", "3")]),
        ctx(&[("A", "1"), ("b", "2")]),
        ctx(&[("a", "1"), ("b", "3")]),
        ctx(&[("a", "12"), ("b", "")]),
    ] {
        assert_eq!(
            open(&blob, &material, &wrong),
            Err(KmsError::InvalidCiphertext),
            "{wrong:?}"
        );
    }
}

#[test]
fn a_blob_from_material_a_does_not_open_with_material_b() {
    let (a, b) = (aes(), aes());
    let empty = EncryptionContext::new();
    let blob = encrypt(KEY_ID, MATERIAL_ID, &a, b"x", &empty).unwrap();
    assert_eq!(open(&blob, &b, &empty), Err(KmsError::InvalidCiphertext));
}

#[test]
fn rotated_keys_keep_decrypting_with_older_material() {
    let old = aes();
    let new = aes();
    let empty = EncryptionContext::new();
    let before = encrypt(KEY_ID, "material-1", &old, b"old data", &empty).unwrap();
    let after = encrypt(KEY_ID, "material-2", &new, b"new data", &empty).unwrap();
    let pick = |id: &str| if id == "material-1" { &old } else { &new };
    for (blob, expected) in [(&before, b"old data"), (&after, b"new data")] {
        let header = parse(blob).unwrap();
        let material = pick(header.material_id());
        assert_eq!(
            decrypt(&header, blob, material, &empty).unwrap().expose(),
            expected
        );
    }
}

#[test]
fn material_survives_serialization() {
    let material = aes();
    let empty = EncryptionContext::new();
    let blob = encrypt(KEY_ID, MATERIAL_ID, &material, b"x", &empty).unwrap();
    let restored =
        KeyMaterial::from_secret(KeySpec::SymmetricDefault, material.secret().clone()).unwrap();
    assert_eq!(open(&blob, &restored, &empty).unwrap(), b"x");
}

#[test]
fn garbage_is_invalid_ciphertext() {
    let material = aes();
    let empty = EncryptionContext::new();
    for garbage in [
        &b""[..],
        b"\x01",
        b"\x02abc",
        &[0xff; 300],
        &[1, 0, 0],
        &[1, 1, b' ', 1, b'm'],
    ] {
        assert_eq!(
            open(garbage, &material, &empty),
            Err(KmsError::InvalidCiphertext)
        );
    }
}

#[test]
fn asymmetric_material_cannot_seal_blobs() {
    let rsa = KeyMaterial::generate(KeySpec::Rsa2048).unwrap();
    let err = encrypt(KEY_ID, MATERIAL_ID, &rsa, b"x", &EncryptionContext::new()).unwrap_err();
    assert_eq!(err.aws_code(), "InvalidKeyUsageException");
}
