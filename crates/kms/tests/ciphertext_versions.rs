//! Ciphertext blob versions: blobs written by earlier builds keep decrypting, and Encrypt writes
//! the current version.

use rampart_kms::ciphertext::{decrypt, encrypt, parse, FORMAT_VERSION, V1_FORMAT_VERSION};
use rampart_kms::{EncryptionContext, KeyMaterial, KeySpec, KmsError, SecretBytes};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/ciphertext_v1.json");

fn text(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap().to_owned()
}

fn fixture() -> (KeyMaterial, Vec<Value>) {
    let doc: Value = serde_json::from_str(FIXTURE).unwrap();
    let secret = hex::decode(text(&doc, "material")).unwrap();
    let material =
        KeyMaterial::from_secret(KeySpec::SymmetricDefault, SecretBytes::new(secret)).unwrap();
    (material, doc["blobs"].as_array().unwrap().clone())
}

fn context(v: &Value) -> EncryptionContext {
    v["context"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn committed_version_1_blobs_decrypt() {
    let (material, blobs) = fixture();
    assert_eq!(blobs.len(), 2);
    for case in &blobs {
        let blob = hex::decode(text(case, "blob")).unwrap();
        let header = parse(&blob).unwrap();
        assert_eq!(header.version(), V1_FORMAT_VERSION);
        assert_eq!(header.key_id(), text(case, "key_id"));
        assert_eq!(header.material_id(), text(case, "material_id"));
        let plain = decrypt(&header, &blob, &material, &context(case)).unwrap();
        assert_eq!(
            plain.expose(),
            &hex::decode(text(case, "plaintext")).unwrap()[..]
        );
        // Still bound to its encryption context.
        let mut other = context(case);
        other.insert("extra".to_owned(), "pair".to_owned());
        assert_eq!(
            decrypt(&header, &blob, &material, &other),
            Err(KmsError::InvalidCiphertext)
        );
    }
}

#[test]
fn new_ciphertexts_are_the_current_version_and_decrypt() {
    let (material, blobs) = fixture();
    let case = &blobs[0];
    let plaintext = hex::decode(text(case, "plaintext")).unwrap();
    let blob = encrypt(
        &text(case, "key_id"),
        &text(case, "material_id"),
        &material,
        &plaintext,
        &context(case),
    )
    .unwrap();
    assert_eq!(blob[0], FORMAT_VERSION);
    assert_eq!(FORMAT_VERSION, 3);
    let header = parse(&blob).unwrap();
    assert_eq!(header.version(), FORMAT_VERSION);
    assert_eq!(
        decrypt(&header, &blob, &material, &context(case))
            .unwrap()
            .expose(),
        &plaintext[..]
    );
}
