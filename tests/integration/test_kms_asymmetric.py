"""KMS asymmetric and HMAC operations: GetPublicKey, Sign/Verify, GenerateMac/VerifyMac,
DeriveSharedSecret and GenerateDataKeyPair, checked independently with `cryptography`."""
import hashlib

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from conftest import error_code, error_message, http_status

HASHES = {
    "SHA_256": (hashes.SHA256, hashlib.sha256),
    "SHA_384": (hashes.SHA384, hashlib.sha384),
    "SHA_512": (hashes.SHA512, hashlib.sha512),
}

SIGNING_CASES = [
    ("RSA_2048", "RSASSA_PSS_SHA_256"),
    ("RSA_2048", "RSASSA_PSS_SHA_384"),
    ("RSA_2048", "RSASSA_PSS_SHA_512"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512"),
    ("ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("ECC_NIST_P521", "ECDSA_SHA_512"),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
]

CURVES = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}

HMAC_CASES = [
    ("HMAC_224", "HMAC_SHA_224", hashlib.sha224),
    ("HMAC_256", "HMAC_SHA_256", hashlib.sha256),
    ("HMAC_384", "HMAC_SHA_384", hashlib.sha384),
    ("HMAC_512", "HMAC_SHA_512", hashlib.sha512),
]

MESSAGE = b"rampart asymmetric test message"


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms")


_keys = {}


def key_for(kms, spec, usage):
    if (spec, usage) not in _keys:
        _keys[(spec, usage)] = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    return _keys[(spec, usage)]


def flip(sig):
    return sig[:-1] + bytes([sig[-1] ^ 1])


def independent_verify(public, algorithm, signature, message):
    hash_cls, _ = HASHES[algorithm[-7:]]
    if algorithm.startswith("RSASSA_PSS"):
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, message,
                      padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=hash_cls.digest_size),
                      hash_cls())
    elif algorithm.startswith("RSASSA_PKCS1"):
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, message, padding.PKCS1v15(), hash_cls())
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, message, ec.ECDSA(hash_cls()))


@pytest.mark.parametrize("spec,algorithm", SIGNING_CASES)
def test_sign_raw_and_digest_verify_independently_and_with_kms(kms, spec, algorithm):
    meta = key_for(kms, spec, "SIGN_VERIFY")
    pub = kms.get_public_key(KeyId=meta["KeyId"])
    assert pub["KeyId"] == meta["Arn"]
    assert pub["KeySpec"] == spec
    assert pub["KeyUsage"] == "SIGN_VERIFY"
    assert algorithm in pub["SigningAlgorithms"]
    assert "EncryptionAlgorithms" not in pub
    public = serialization.load_der_public_key(pub["PublicKey"])
    if spec in CURVES:
        assert isinstance(public.curve, CURVES[spec])

    hash_cls, hashlib_fn = HASHES[algorithm[-7:]]
    digest = hashlib_fn(MESSAGE).digest()
    for message_type, message in (("RAW", MESSAGE), ("DIGEST", digest)):
        out = kms.sign(KeyId=meta["KeyId"], Message=message, MessageType=message_type,
                       SigningAlgorithm=algorithm)
        assert out["KeyId"] == meta["Arn"]
        assert out["SigningAlgorithm"] == algorithm
        sig = out["Signature"]
        # Independent check: always over the original message.
        independent_verify(public, algorithm, sig, MESSAGE)
        if algorithm.startswith("ECDSA"):
            public.verify(sig, digest, ec.ECDSA(utils.Prehashed(hash_cls())))
        for mt, msg in (("RAW", MESSAGE), ("DIGEST", digest)):
            v = kms.verify(KeyId=meta["KeyId"], Message=msg, MessageType=mt, Signature=sig,
                           SigningAlgorithm=algorithm)
            assert v["SignatureValid"] is True
            assert v["KeyId"] == meta["Arn"]
            assert v["SigningAlgorithm"] == algorithm
        bad = flip(sig)
        with pytest.raises(InvalidSignature):
            independent_verify(public, algorithm, bad, MESSAGE)
        with pytest.raises(ClientError) as e:
            kms.verify(KeyId=meta["KeyId"], Message=message, MessageType=message_type,
                       Signature=bad, SigningAlgorithm=algorithm)
        assert error_code(e.value) == "KMSInvalidSignatureException"
        assert http_status(e.value) == 400
        assert error_message(e.value) == ""


def test_signature_over_other_message_is_invalid(kms):
    meta = key_for(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    sig = kms.sign(KeyId=meta["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=meta["KeyId"], Message=MESSAGE + b"!", Signature=sig,
                   SigningAlgorithm="ECDSA_SHA_256")
    assert error_code(e.value) == "KMSInvalidSignatureException"


def test_digest_of_wrong_length_is_refused(kms):
    meta = key_for(kms, "RSA_2048", "SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=meta["KeyId"], Message=b"\0" * 20, MessageType="DIGEST",
                 SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert error_code(e.value) == "ValidationException"
    assert error_message(e.value) == "Digest is invalid length for algorithm RSASSA_PSS_SHA_256."


def test_algorithm_the_key_does_not_support_is_refused(kms):
    meta = key_for(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=meta["KeyId"], Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert error_code(e.value) == "InvalidKeyUsageException"
    assert error_message(e.value) == "Algorithm RSASSA_PSS_SHA_256 is incompatible with key spec ECC_NIST_P256."


def test_sign_with_encrypt_decrypt_key_is_invalid_key_usage(kms):
    meta = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=meta["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")
    assert error_code(e.value) == "InvalidKeyUsageException"
    assert error_message(e.value) == (
        f"{meta['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for Sign.")
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=meta["KeyId"], Message=MESSAGE, Signature=b"x" * 64,
                   SigningAlgorithm="ECDSA_SHA_256")
    assert error_message(e.value) == (
        f"{meta['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for Verify.")


def test_sign_with_hmac_key_is_invalid_key_usage(kms):
    meta = key_for(kms, "HMAC_256", "GENERATE_VERIFY_MAC")
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=meta["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")
    assert error_code(e.value) == "InvalidKeyUsageException"
    assert error_message(e.value) == (
        f"{meta['Arn']} key usage is GENERATE_VERIFY_MAC which is not valid for Sign.")


def test_disabled_and_pending_deletion_keys_are_refused(kms):
    meta = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    kms.disable_key(KeyId=meta["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=meta["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")
    assert error_code(e.value) == "DisabledException"
    assert error_message(e.value) == f"{meta['Arn']} is disabled."
    with pytest.raises(ClientError) as e:
        kms.get_public_key(KeyId=meta["KeyId"])
    assert error_code(e.value) == "DisabledException"
    kms.enable_key(KeyId=meta["KeyId"])
    kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=meta["KeyId"], Message=MESSAGE, Signature=b"x" * 64,
                   SigningAlgorithm="ECDSA_SHA_256")
    assert error_code(e.value) == "KMSInvalidStateException"
    assert error_message(e.value) == f"{meta['Arn']} is pending deletion."


def test_get_public_key_of_symmetric_key_is_unsupported(kms):
    meta = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        kms.get_public_key(KeyId=meta["KeyId"])
    assert error_code(e.value) == "UnsupportedOperationException"


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"])
def test_derive_shared_secret_matches_local_ecdh(kms, spec):
    meta = key_for(kms, spec, "KEY_AGREEMENT")
    pub = kms.get_public_key(KeyId=meta["KeyId"])
    assert pub["KeyUsage"] == "KEY_AGREEMENT"
    assert pub["KeyAgreementAlgorithms"] == ["ECDH"]
    kms_public = serialization.load_der_public_key(pub["PublicKey"])
    local = ec.generate_private_key(CURVES[spec]())
    local_der = local.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    out = kms.derive_shared_secret(KeyId=meta["Arn"], KeyAgreementAlgorithm="ECDH",
                                   PublicKey=local_der)
    # The bare key id, not the ARN (awscli example derive-shared-secret).
    assert out["KeyId"] == meta["KeyId"]
    assert out["KeyAgreementAlgorithm"] == "ECDH"
    assert out["KeyOrigin"] == "AWS_KMS"
    assert out["SharedSecret"] == local.exchange(ec.ECDH(), kms_public)


def test_derive_shared_secret_refuses_other_key_usages(kms):
    meta = key_for(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    local = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ClientError) as e:
        kms.derive_shared_secret(KeyId=meta["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=local)
    assert error_code(e.value) == "InvalidKeyUsageException"
    assert error_message(e.value) == (
        f"{meta['Arn']} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.")


@pytest.mark.parametrize("spec,algorithm,hash_fn", HMAC_CASES)
def test_generate_and_verify_mac(kms, spec, algorithm, hash_fn):
    meta = key_for(kms, spec, "GENERATE_VERIFY_MAC")
    out = kms.generate_mac(KeyId=meta["KeyId"], MacAlgorithm=algorithm, Message=MESSAGE)
    assert out["KeyId"] == meta["Arn"]
    assert out["MacAlgorithm"] == algorithm
    mac = out["Mac"]
    assert len(mac) == hash_fn().digest_size
    v = kms.verify_mac(KeyId=meta["KeyId"], MacAlgorithm=algorithm, Message=MESSAGE, Mac=mac)
    assert v["MacValid"] is True
    assert v["KeyId"] == meta["Arn"]
    for bad_mac, message in ((flip(mac), MESSAGE), (mac, MESSAGE + b"!")):
        with pytest.raises(ClientError) as e:
            kms.verify_mac(KeyId=meta["KeyId"], MacAlgorithm=algorithm, Message=message, Mac=bad_mac)
        assert error_code(e.value) == "KMSInvalidMacException"
        assert http_status(e.value) == 400
        assert error_message(e.value) == ""


@pytest.mark.parametrize("spec,algorithm", [("HMAC_224", "HMAC_SHA_256"), ("HMAC_256", "HMAC_SHA_512")])
def test_mac_with_wrong_algorithm_is_refused(kms, spec, algorithm):
    meta = key_for(kms, spec, "GENERATE_VERIFY_MAC")
    with pytest.raises(ClientError) as e:
        kms.generate_mac(KeyId=meta["KeyId"], MacAlgorithm=algorithm, Message=MESSAGE)
    assert error_code(e.value) == "InvalidKeyUsageException"
    assert error_message(e.value) == f"Algorithm {algorithm} is incompatible with key spec {spec}."


def test_generate_mac_with_encrypt_decrypt_key_is_invalid_key_usage(kms):
    meta = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        kms.generate_mac(KeyId=meta["KeyId"], MacAlgorithm="HMAC_SHA_256", Message=MESSAGE)
    assert error_code(e.value) == "InvalidKeyUsageException"
    assert error_message(e.value) == (
        f"{meta['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.")


@pytest.mark.parametrize("pair_spec", ["RSA_2048", "ECC_NIST_P256", "ECC_SECG_P256K1"])
def test_generate_data_key_pair(kms, pair_spec):
    meta = kms.create_key()["KeyMetadata"]
    ctx = {"purpose": "test"}
    out = kms.generate_data_key_pair(KeyId=meta["KeyId"], KeyPairSpec=pair_spec, EncryptionContext=ctx)
    assert out["KeyId"] == meta["Arn"]
    assert out["KeyPairSpec"] == pair_spec
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    public_der = private.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    assert public_der == out["PublicKey"]
    plain = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext=ctx)
    assert plain["Plaintext"] == out["PrivateKeyPlaintext"]

    wp = kms.generate_data_key_pair_without_plaintext(KeyId=meta["KeyId"], KeyPairSpec=pair_spec)
    assert "PrivateKeyPlaintext" not in wp
    private = serialization.load_der_private_key(
        kms.decrypt(CiphertextBlob=wp["PrivateKeyCiphertextBlob"])["Plaintext"], password=None)
    assert private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == wp["PublicKey"]


def test_generate_data_key_pair_needs_a_symmetric_key(kms):
    meta = key_for(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        kms.generate_data_key_pair(KeyId=meta["KeyId"], KeyPairSpec="RSA_2048")
    assert error_code(e.value) == "InvalidKeyUsageException"


@pytest.mark.parametrize("spec,usage", [
    ("ML_DSA_44", "SIGN_VERIFY"), ("ML_DSA_65", "SIGN_VERIFY"), ("ML_DSA_87", "SIGN_VERIFY"),
    ("ML_KEM_768", "ENCAPSULATE_DECAPSULATE"), ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"),
])
def test_specs_newer_than_customer_master_key_spec_omit_it(kms, spec, usage):
    # The deprecated CustomerMasterKeySpec enum has no value for these specs: AWS leaves the member
    # out (awscli example create-key, ML_DSA_65) rather than answer a value outside its enum.
    meta = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    assert meta["KeySpec"] == spec
    assert "CustomerMasterKeySpec" not in meta
    assert "CustomerMasterKeySpec" not in kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    pub = kms.get_public_key(KeyId=meta["KeyId"])
    assert pub["KeySpec"] == spec
    assert "CustomerMasterKeySpec" not in pub


def test_specs_in_the_deprecated_enum_still_report_it(kms):
    meta = key_for(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    assert meta["CustomerMasterKeySpec"] == "ECC_NIST_P256"
    assert kms.get_public_key(KeyId=meta["KeyId"])["CustomerMasterKeySpec"] == "ECC_NIST_P256"
