//! Asymmetric and HMAC keys: every spec and algorithm the AWS key spec reference lists, with
//! AWS's limits and messages.

use aws_lc_rs::agreement::{self, EphemeralPrivateKey, ECDH_P256};
use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use rampart_kms::asymmetric::{
    decapsulate, decrypt, derive_shared_secret, encapsulate, encrypt, max_plaintext_len,
};
use rampart_kms::mac::{generate_mac, verify_mac};
use rampart_kms::signing::{sign, verify};
use rampart_kms::{
    EncapsulationAlgorithm, EncryptionAlgorithm, KeyAgreementAlgorithm, KeyMaterial, KeySpec,
    KeyUsage, KmsError, MacAlgorithm, MessageType, SigningAlgorithm,
};

const RSA: [KeySpec; 3] = [KeySpec::Rsa2048, KeySpec::Rsa3072, KeySpec::Rsa4096];
const OAEP: [EncryptionAlgorithm; 2] = [
    EncryptionAlgorithm::RsaesOaepSha1,
    EncryptionAlgorithm::RsaesOaepSha256,
];

fn hash(algorithm: SigningAlgorithm, message: &[u8]) -> Vec<u8> {
    let alg = match algorithm.digest_len() {
        Some(32) => &digest::SHA256,
        Some(48) => &digest::SHA384,
        _ => &digest::SHA512,
    };
    digest::digest(alg, message).as_ref().to_vec()
}

#[test]
fn rsa_encryption_round_trips_up_to_the_aws_maximum() {
    for spec in RSA {
        let material = KeyMaterial::generate(spec).unwrap();
        for algorithm in OAEP {
            let max = max_plaintext_len(spec, algorithm).unwrap();
            for len in [1, max] {
                let plaintext = vec![0xa5; len];
                let ciphertext = encrypt(&material, algorithm, &plaintext).unwrap();
                assert_eq!(ciphertext.len() * 8, spec_bits(spec));
                let decrypted = decrypt(&material, algorithm, &ciphertext).unwrap();
                assert_eq!(decrypted.expose(), &plaintext[..]);
            }
            let err = encrypt(&material, algorithm, &vec![0; max + 1]).unwrap_err();
            assert_eq!(
                err.aws_message(),
                format!(
                    "Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {max} bytes."
                )
            );
        }
    }
}

fn spec_bits(spec: KeySpec) -> usize {
    match spec {
        KeySpec::Rsa2048 => 2048,
        KeySpec::Rsa3072 => 3072,
        _ => 4096,
    }
}

#[test]
fn rsa_ciphertext_errors_are_invalid_ciphertext() {
    let material = KeyMaterial::generate(KeySpec::Rsa2048).unwrap();
    let sha1 = EncryptionAlgorithm::RsaesOaepSha1;
    let sha256 = EncryptionAlgorithm::RsaesOaepSha256;
    let mut ciphertext = encrypt(&material, sha256, b"hello").unwrap();
    // The wrong OAEP hash does not decrypt.
    assert_eq!(
        decrypt(&material, sha1, &ciphertext).unwrap_err(),
        KmsError::InvalidCiphertext
    );
    ciphertext[100] ^= 1;
    assert_eq!(
        decrypt(&material, sha256, &ciphertext).unwrap_err(),
        KmsError::InvalidCiphertext
    );
    assert_eq!(
        decrypt(&material, sha256, &[1; 10]).unwrap_err(),
        KmsError::InvalidCiphertext
    );
    let other = KeyMaterial::generate(KeySpec::Rsa2048).unwrap();
    let ciphertext = encrypt(&material, sha256, b"hello").unwrap();
    assert_eq!(
        decrypt(&other, sha256, &ciphertext).unwrap_err(),
        KmsError::InvalidCiphertext
    );
}

#[test]
fn every_signing_spec_and_algorithm_round_trips_raw_and_digest() {
    let message = b"The quick brown fox jumps over the lazy dog";
    for spec in KeySpec::ALL.iter().copied().filter(|s| s.is_supported()) {
        let algorithms = spec.signing_algorithms(KeyUsage::SignVerify);
        if algorithms.is_empty() {
            continue;
        }
        let material = KeyMaterial::generate(spec).unwrap();
        for &algorithm in algorithms {
            if algorithm == SigningAlgorithm::Ed25519PhSha512 {
                continue; // not in aws-lc-rs; checked in the unit tests
            }
            let signature = sign(&material, algorithm, MessageType::Raw, message).unwrap();
            verify(&material, algorithm, MessageType::Raw, message, &signature).unwrap();
            assert_eq!(
                verify(
                    &material,
                    algorithm,
                    MessageType::Raw,
                    b"another message",
                    &signature
                ),
                Err(KmsError::InvalidSignature),
                "{spec} {algorithm}"
            );
            let mut bad = signature.clone();
            let last = bad.len() - 1;
            bad[last / 2] ^= 0x10;
            assert_eq!(
                verify(&material, algorithm, MessageType::Raw, message, &bad),
                Err(KmsError::InvalidSignature)
            );
            if algorithm.digest_len().is_none() {
                continue; // Ed25519 and ML-DSA take RAW only
            }
            // DIGEST is RAW without the hashing step, both ways round.
            let digest = hash(algorithm, message);
            let from_digest = sign(&material, algorithm, MessageType::Digest, &digest).unwrap();
            verify(
                &material,
                algorithm,
                MessageType::Raw,
                message,
                &from_digest,
            )
            .unwrap();
            verify(
                &material,
                algorithm,
                MessageType::Digest,
                &digest,
                &signature,
            )
            .unwrap();
            assert_eq!(
                sign(&material, algorithm, MessageType::Digest, &digest[1..])
                    .unwrap_err()
                    .aws_message(),
                format!("Digest is invalid length for algorithm {algorithm}.")
            );
        }
    }
}

#[test]
fn signatures_have_the_shapes_kms_returns() {
    let rsa = KeyMaterial::generate(KeySpec::Rsa3072).unwrap();
    let sig = sign(
        &rsa,
        SigningAlgorithm::RsassaPssSha384,
        MessageType::Raw,
        b"m",
    )
    .unwrap();
    assert_eq!(sig.len(), 384);
    for spec in [
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256k1,
    ] {
        let ec = KeyMaterial::generate(spec).unwrap();
        let algorithm = spec.signing_algorithms(KeyUsage::SignVerify)[0];
        let sig = sign(&ec, algorithm, MessageType::Raw, b"m").unwrap();
        assert_eq!(sig[0], 0x30, "ECDSA signatures are DER SEQUENCEs");
    }
    let ed = KeyMaterial::generate(KeySpec::EccNistEdwards25519).unwrap();
    let sig = sign(&ed, SigningAlgorithm::Ed25519Sha512, MessageType::Raw, b"m").unwrap();
    assert_eq!(sig.len(), 64);
    for (spec, len) in [
        (KeySpec::MlDsa44, 2420),
        (KeySpec::MlDsa65, 3309),
        (KeySpec::MlDsa87, 4627),
    ] {
        let dsa = KeyMaterial::generate(spec).unwrap();
        let sig = sign(
            &dsa,
            SigningAlgorithm::MlDsaShake256,
            MessageType::Raw,
            b"m",
        )
        .unwrap();
        assert_eq!(sig.len(), len, "{spec}");
    }
}

#[test]
fn ecdh_agrees_both_ways() {
    for spec in [
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
    ] {
        let alice = KeyMaterial::generate(spec).unwrap();
        let bob = KeyMaterial::generate(spec).unwrap();
        let ab = derive_shared_secret(
            &alice,
            KeyAgreementAlgorithm::Ecdh,
            bob.public_key_der().unwrap(),
        )
        .unwrap();
        let ba = derive_shared_secret(
            &bob,
            KeyAgreementAlgorithm::Ecdh,
            alice.public_key_der().unwrap(),
        )
        .unwrap();
        assert_eq!(ab, ba);
        assert!(!ab.is_empty());
    }
}

#[test]
fn ecdh_agrees_with_a_peer_outside_kms() {
    let kms_key = KeyMaterial::generate(KeySpec::EccNistP256).unwrap();
    let peer =
        EphemeralPrivateKey::generate(&ECDH_P256, &aws_lc_rs::rand::SystemRandom::new()).unwrap();
    let peer_public = peer.compute_public_key().unwrap();
    let peer_spki: PublicKeyX509Der<'static> = peer_public.as_der().unwrap();
    let ours =
        derive_shared_secret(&kms_key, KeyAgreementAlgorithm::Ecdh, peer_spki.as_ref()).unwrap();
    let kms_public =
        agreement::UnparsedPublicKey::new(&ECDH_P256, kms_key.public_key_der().unwrap());
    let theirs = agreement::agree_ephemeral(peer, kms_public, (), |s| Ok(s.to_vec())).unwrap();
    assert_eq!(ours.expose(), &theirs[..]);
}

#[test]
fn ecdh_refuses_keys_that_are_not_spki_on_the_curve() {
    let alice = KeyMaterial::generate(KeySpec::EccNistP256).unwrap();
    let p384 = KeyMaterial::generate(KeySpec::EccNistP384).unwrap();
    let invalid = KmsError::InvalidPublicKey {
        spec: KeySpec::EccNistP256,
    };
    let ecdh = KeyAgreementAlgorithm::Ecdh;
    assert_eq!(
        derive_shared_secret(&alice, ecdh, p384.public_key_der().unwrap()),
        Err(invalid.clone())
    );
    assert_eq!(
        derive_shared_secret(&alice, ecdh, b"not a key"),
        Err(invalid.clone())
    );
    assert_eq!(
        derive_shared_secret(&alice, ecdh, b""),
        Err(invalid.clone())
    );
    // A bare SEC1 point is not what the API takes.
    let spki = KeyMaterial::generate(KeySpec::EccNistP256)
        .unwrap()
        .public_key_der()
        .unwrap()
        .to_vec();
    let point = &spki[spki.len() - 65..];
    assert_eq!(point[0], 0x04);
    assert_eq!(derive_shared_secret(&alice, ecdh, point), Err(invalid));
}

#[test]
fn ml_kem_encapsulates_and_decapsulates() {
    for (spec, ciphertext_len) in [
        (KeySpec::MlKem512, 768),
        (KeySpec::MlKem768, 1088),
        (KeySpec::MlKem1024, 1568),
    ] {
        let material = KeyMaterial::generate(spec).unwrap();
        let (ciphertext, secret) = encapsulate(&material, EncapsulationAlgorithm::MlKem).unwrap();
        assert_eq!(
            (ciphertext.len(), secret.len()),
            (ciphertext_len, 32),
            "{spec}"
        );
        let recovered = decapsulate(&material, EncapsulationAlgorithm::MlKem, &ciphertext).unwrap();
        assert_eq!(recovered, secret);
        let mut tampered = ciphertext.clone();
        tampered[0] ^= 1;
        let implicit = decapsulate(&material, EncapsulationAlgorithm::MlKem, &tampered).unwrap();
        assert_ne!(
            implicit, secret,
            "implicit rejection yields an unrelated secret"
        );
        assert_eq!(
            decapsulate(&material, EncapsulationAlgorithm::MlKem, &ciphertext[1..]),
            Err(KmsError::InvalidCiphertext)
        );
    }
}

#[test]
fn hmac_round_trips_for_every_spec() {
    for (spec, algorithm, len) in [
        (KeySpec::Hmac224, MacAlgorithm::HmacSha224, 28),
        (KeySpec::Hmac256, MacAlgorithm::HmacSha256, 32),
        (KeySpec::Hmac384, MacAlgorithm::HmacSha384, 48),
        (KeySpec::Hmac512, MacAlgorithm::HmacSha512, 64),
    ] {
        let material = KeyMaterial::generate(spec).unwrap();
        let mac = generate_mac(&material, algorithm, b"message").unwrap();
        assert_eq!(mac.len(), len);
        verify_mac(&material, algorithm, b"message", &mac).unwrap();
        let other = KeyMaterial::generate(spec).unwrap();
        assert_eq!(
            verify_mac(&other, algorithm, b"message", &mac),
            Err(KmsError::InvalidMac)
        );
        let restored = KeyMaterial::from_secret(spec, material.secret().clone()).unwrap();
        assert_eq!(generate_mac(&restored, algorithm, b"message").unwrap(), mac);
    }
}

#[test]
fn operations_on_the_wrong_key_type_are_invalid_key_usage() {
    let aes = KeyMaterial::generate(KeySpec::SymmetricDefault).unwrap();
    let hmac = KeyMaterial::generate(KeySpec::Hmac256).unwrap();
    let errors = [
        sign(&aes, SigningAlgorithm::EcdsaSha256, MessageType::Raw, b"m").unwrap_err(),
        generate_mac(&aes, MacAlgorithm::HmacSha256, b"m").unwrap_err(),
        encrypt(&hmac, EncryptionAlgorithm::RsaesOaepSha1, b"m").unwrap_err(),
        derive_shared_secret(&hmac, KeyAgreementAlgorithm::Ecdh, b"k").unwrap_err(),
        decapsulate(&aes, EncapsulationAlgorithm::MlKem, b"c").unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.aws_code(), "InvalidKeyUsageException", "{err}");
    }
}
