"""The symmetric ciphertext blob format (crates/kms/src/ciphertext.rs), checked from outside with
an independent implementation (pyca/cryptography): Encrypt writes version 3 (a per-message key
derived by HKDF-SHA256 from the backing key and a random salt); version 1 blobs (a random IV under
the backing key itself, written by earlier builds) still decrypt and re-encrypt to version 3."""

import os
import struct

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CONTEXT = {"purpose": "format", "department": "10103.0"}


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms")


@pytest.fixture(scope="module")
def imported(kms):
    """A key whose material the test knows: origin EXTERNAL, 32 random bytes imported."""
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    p = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                      WrappingKeySpec="RSA_2048")
    material = os.urandom(32)
    public = serialization.load_der_public_key(p["PublicKey"])
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    kms.import_key_material(KeyId=key_id, ImportToken=p["ImportToken"],
                            EncryptedKeyMaterial=public.encrypt(material, oaep),
                            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    return key_id, material


def canonical(context):
    out = struct.pack(">I", len(context))
    for k in sorted(context, key=lambda s: s.encode()):
        for part in (k.encode(), context[k].encode()):
            out += struct.pack(">I", len(part)) + part
    return out


def parse(blob):
    version = blob[0]
    at = 1
    ids = []
    for _ in range(2):
        n = blob[at]
        ids.append(blob[at + 1:at + 1 + n].decode())
        at += 1 + n
    return version, ids[0], ids[1], blob[:at], blob[at:]


def header(version, key_id, material_id):
    return bytes([version, len(key_id)]) + key_id.encode() + bytes([len(material_id)]) + material_id.encode()


def test_encrypt_writes_version_3_with_an_hkdf_derived_key(kms, imported):
    key_id, material = imported
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"format v3", EncryptionContext=CONTEXT)["CiphertextBlob"]
    version, blob_key, material_id, head, body = parse(blob)
    assert (version, blob_key) == (3, key_id)
    salt, iv, sealed = body[:32], body[32:44], body[44:]
    assert len(sealed) == len(b"format v3") + 16
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                   info=b"rampart:kms:ciphertext:v3" + head).derive(material)
    assert AESGCM(derived).decrypt(iv, sealed, head + canonical(CONTEXT)) == b"format v3"
    # Each message has its own salt, hence its own key.
    again = kms.encrypt(KeyId=key_id, Plaintext=b"format v3", EncryptionContext=CONTEXT)["CiphertextBlob"]
    assert parse(again)[4][:32] != salt


def test_version_1_blobs_still_decrypt_and_reencrypt_to_version_3(kms, imported):
    key_id, material = imported
    current = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    material_id = parse(current)[2]
    head = header(1, key_id, material_id)
    iv = os.urandom(12)
    v1 = head + iv + AESGCM(material).encrypt(iv, b"written by an older build", head + canonical(CONTEXT))

    out = kms.decrypt(CiphertextBlob=v1, EncryptionContext=CONTEXT)
    assert out["Plaintext"] == b"written by an older build"
    assert out["KeyId"].endswith(key_id)
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=v1)
    assert e.value.response["Error"]["Code"] == "InvalidCiphertextException"

    re = kms.re_encrypt(CiphertextBlob=v1, SourceEncryptionContext=CONTEXT,
                        DestinationKeyId=key_id, DestinationEncryptionContext=CONTEXT)
    assert re["CiphertextBlob"][0] == 3
    assert kms.decrypt(CiphertextBlob=re["CiphertextBlob"],
                       EncryptionContext=CONTEXT)["Plaintext"] == b"written by an older build"


def test_generated_data_keys_are_version_3(kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    out = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert out["CiphertextBlob"][0] == 3
    without = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=16)
    assert without["CiphertextBlob"][0] == 3
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == out["Plaintext"]
