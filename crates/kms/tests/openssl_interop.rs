//! Independent verification with the `openssl` command line tool: public keys (as GetPublicKey
//! returns them) parse, signatures verify, ECDH agrees and RSA-OAEP ciphertexts decrypt.
//! Skips, saying so loudly, when `openssl` is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use rampart_kms::asymmetric::{decrypt, derive_shared_secret};
use rampart_kms::signing::sign;
use rampart_kms::{
    EncryptionAlgorithm, KeyAgreementAlgorithm, KeyMaterial, KeySpec, MessageType, SigningAlgorithm,
};

fn openssl_available() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: `openssl` is not installed; interop checks did not run");
    }
    found
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Converts a DER SubjectPublicKeyInfo to PEM with openssl, which checks that it parses.
fn public_pem(dir: &Path, name: &str, material: &KeyMaterial) -> String {
    let der = write(
        dir,
        &format!("{name}.der"),
        material.public_key_der().unwrap(),
    );
    let pem = dir.join(format!("{name}.pem"));
    let pem = pem.to_str().unwrap();
    openssl(&["pkey", "-pubin", "-inform", "DER", "-in", &der, "-out", pem]);
    pem.to_owned()
}

#[test]
fn signatures_verify_with_openssl() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let message = b"Rampart signs what OpenSSL verifies";
    let msg = write(dir, "msg", message);
    let rsa_algorithms = [
        (SigningAlgorithm::RsassaPkcs1V15Sha256, "-sha256", false),
        (SigningAlgorithm::RsassaPkcs1V15Sha384, "-sha384", false),
        (SigningAlgorithm::RsassaPkcs1V15Sha512, "-sha512", false),
        (SigningAlgorithm::RsassaPssSha256, "-sha256", true),
        (SigningAlgorithm::RsassaPssSha384, "-sha384", true),
        (SigningAlgorithm::RsassaPssSha512, "-sha512", true),
    ];
    let mut cases: Vec<(KeySpec, SigningAlgorithm, &str, bool)> = Vec::new();
    for spec in [KeySpec::Rsa2048, KeySpec::Rsa3072, KeySpec::Rsa4096] {
        for (algorithm, hash, pss) in rsa_algorithms {
            cases.push((spec, algorithm, hash, pss));
        }
    }
    cases.extend([
        (
            KeySpec::EccNistP256,
            SigningAlgorithm::EcdsaSha256,
            "-sha256",
            false,
        ),
        (
            KeySpec::EccNistP384,
            SigningAlgorithm::EcdsaSha384,
            "-sha384",
            false,
        ),
        (
            KeySpec::EccNistP521,
            SigningAlgorithm::EcdsaSha512,
            "-sha512",
            false,
        ),
        (
            KeySpec::EccSecgP256k1,
            SigningAlgorithm::EcdsaSha256,
            "-sha256",
            false,
        ),
    ]);
    let mut materials = std::collections::HashMap::new();
    for (spec, algorithm, hash, pss) in cases {
        let material = materials
            .entry(spec)
            .or_insert_with(|| KeyMaterial::generate(spec).unwrap());
        let pem = public_pem(dir, spec.as_str(), material);
        for message_type in [MessageType::Raw, MessageType::Digest] {
            let input = match message_type {
                MessageType::Digest => openssl(&["dgst", hash, "-binary", &msg]),
                _ => message.to_vec(),
            };
            let signature = sign(material, algorithm, message_type, &input).unwrap();
            let sig = write(dir, "sig", &signature);
            let mut args = vec!["dgst", hash, "-verify", &pem, "-signature", &sig];
            if pss {
                args.extend([
                    "-sigopt",
                    "rsa_padding_mode:pss",
                    "-sigopt",
                    "rsa_pss_saltlen:digest",
                ]);
            }
            args.push(&msg);
            let out = openssl(&args);
            assert!(
                String::from_utf8_lossy(&out).contains("Verified OK"),
                "{spec} {algorithm} {message_type}"
            );
        }
    }

    let ed = KeyMaterial::generate(KeySpec::EccNistEdwards25519).unwrap();
    let pem = public_pem(dir, "ed25519", &ed);
    let signature = sign(
        &ed,
        SigningAlgorithm::Ed25519Sha512,
        MessageType::Raw,
        message,
    )
    .unwrap();
    let sig = write(dir, "sig", &signature);
    let out = openssl(&[
        "pkeyutl", "-verify", "-pubin", "-inkey", &pem, "-rawin", "-in", &msg, "-sigfile", &sig,
    ]);
    assert!(String::from_utf8_lossy(&out).contains("Signature Verified Successfully"));
}

#[test]
fn ecdh_agrees_with_openssl() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for spec in [
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
    ] {
        let kms_key = KeyMaterial::generate(spec).unwrap();
        // The peer's private key, as GenerateDataKeyPair would hand it out (PKCS#8 DER).
        let peer = KeyMaterial::generate(spec).unwrap();
        let peer_private = write(dir, "peer.p8", peer.secret().expose());
        let kms_public = public_pem(dir, "kms", &kms_key);
        let theirs = openssl(&[
            "pkeyutl",
            "-derive",
            "-keyform",
            "DER",
            "-inkey",
            &peer_private,
            "-peerkey",
            &kms_public,
        ]);
        let ours = derive_shared_secret(
            &kms_key,
            KeyAgreementAlgorithm::Ecdh,
            peer.public_key_der().unwrap(),
        )
        .unwrap();
        assert_eq!(ours.expose(), &theirs[..], "{spec}");
    }
}

#[test]
fn openssl_oaep_ciphertexts_decrypt() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let material = KeyMaterial::generate(KeySpec::Rsa2048).unwrap();
    let pem = public_pem(dir, "rsa", &material);
    let plaintext = write(dir, "plain", b"wrapped by openssl");
    for (algorithm, hash) in [
        (EncryptionAlgorithm::RsaesOaepSha1, "sha1"),
        (EncryptionAlgorithm::RsaesOaepSha256, "sha256"),
    ] {
        let md = format!("rsa_oaep_md:{hash}");
        let mgf = format!("rsa_mgf1_md:{hash}");
        let ciphertext = openssl(&[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            &pem,
            "-in",
            &plaintext,
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            &md,
            "-pkeyopt",
            &mgf,
        ]);
        let decrypted = decrypt(&material, algorithm, &ciphertext).unwrap();
        assert_eq!(decrypted.expose(), b"wrapped by openssl");
    }
}
