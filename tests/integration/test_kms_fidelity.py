"""KMS behaviours checked against AWS's documentation (issue 12): keys are regional, public-key
encryption done outside KMS decrypts inside it with either OAEP hash, deleted imported material
stops the key, `aws:` tag keys are reserved in any letter case, and the usage error of
Decrypt/ReEncrypt with a key that is not an encryption key."""
import os

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from conftest import error_code, error_message


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory("kms-fidelity", extra_env={"RAMPART_KMS_QUOTAS": "off"})


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms")


@pytest.fixture(scope="module")
def west(server):
    return server.client("kms", region="us-west-2")


def raises(fn, code, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    assert error_code(e.value) == code, e.value.response["Error"]
    return e.value


# --------------------------------------------------------------------------------------------
# Keys are regional
# --------------------------------------------------------------------------------------------


def test_a_key_is_not_found_from_another_region_by_id(kms, west):
    meta = west.create_key()["KeyMetadata"]
    e = raises(kms.describe_key, "NotFoundException", KeyId=meta["KeyId"])
    assert meta["KeyId"] in error_message(e)
    raises(kms.encrypt, "NotFoundException", KeyId=meta["KeyId"], Plaintext=b"x")
    raises(kms.get_key_policy, "NotFoundException", KeyId=meta["KeyId"], PolicyName="default")
    raises(kms.list_resource_tags, "NotFoundException", KeyId=meta["KeyId"])


def test_a_key_arn_of_another_region_is_invalid(kms, west):
    meta = west.create_key()["KeyMetadata"]
    for call, kw in (
        (kms.describe_key, {}),
        (kms.encrypt, {"Plaintext": b"x"}),
        (kms.generate_data_key, {"KeySpec": "AES_256"}),
        (kms.get_key_rotation_status, {}),
        (kms.tag_resource, {"Tags": [{"TagKey": "k", "TagValue": "v"}]}),
        (kms.disable_key, {}),
        (kms.schedule_key_deletion, {"PendingWindowInDays": 7}),
    ):
        e = raises(call, "NotFoundException", KeyId=meta["Arn"], **kw)
        # The message AWS gives for an ARN in another Region names that Region.
        assert error_message(e) == "Invalid arn us-west-2"
    # Nothing happened to the key in its own Region.
    assert west.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    blob = west.encrypt(KeyId=meta["Arn"], Plaintext=b"x")["CiphertextBlob"]
    raises(kms.decrypt, "NotFoundException", CiphertextBlob=blob, KeyId=meta["Arn"])


def test_an_alias_arn_of_another_region_is_invalid(kms, west):
    meta = west.create_key()["KeyMetadata"]
    name = f"alias/regional-{os.urandom(4).hex()}"
    west.create_alias(AliasName=name, TargetKeyId=meta["KeyId"])
    alias_arn = meta["Arn"].split(":key/")[0] + ":" + name
    assert west.describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyId"] == meta["KeyId"]
    e = raises(kms.describe_key, "NotFoundException", KeyId=alias_arn)
    assert error_message(e) == "Invalid arn us-west-2"
    raises(kms.describe_key, "NotFoundException", KeyId=name)
    # An alias in us-east-1 cannot point at the us-west-2 key either.
    raises(kms.create_alias, "NotFoundException", AliasName=name, TargetKeyId=meta["Arn"])
    raises(kms.create_grant, "NotFoundException", KeyId=meta["Arn"],
           GranteePrincipal=meta["Arn"].split(":kms:")[0] + ":iam::000000000000:root", Operations=["Encrypt"])


# --------------------------------------------------------------------------------------------
# RSA encryption done outside KMS with the key's public key
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_public_key_encryption_outside_kms_decrypts_in_kms(kms, algorithm, spec):
    meta = kms.create_key(KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"])
    h = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    modulus = int(spec.split("_")[1]) // 8
    largest = modulus - 2 * h.digest_size - 2
    for size in (1, 64, largest - 1, largest):
        plaintext = os.urandom(size)
        blob = public.encrypt(plaintext, padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None))
        out = kms.decrypt(KeyId=meta["KeyId"], CiphertextBlob=blob, EncryptionAlgorithm=algorithm)
        assert out["Plaintext"] == plaintext
        assert out["EncryptionAlgorithm"] == algorithm
        again = kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=meta["KeyId"], SourceEncryptionAlgorithm=algorithm,
                               DestinationKeyId=meta["KeyId"], DestinationEncryptionAlgorithm=algorithm)
        assert kms.decrypt(KeyId=meta["KeyId"], CiphertextBlob=again["CiphertextBlob"],
                           EncryptionAlgorithm=algorithm)["Plaintext"] == plaintext


# --------------------------------------------------------------------------------------------
# Deleting imported key material
# --------------------------------------------------------------------------------------------


def import_material(kms, key_id, material, expires=False):
    p = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                      WrappingKeySpec="RSA_2048")
    public = serialization.load_der_public_key(p["PublicKey"])
    wrapped = public.encrypt(material, padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()),
                                                     algorithm=hashes.SHA256(), label=None))
    kw = {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
    if expires:
        import datetime

        kw = {"ExpirationModel": "KEY_MATERIAL_EXPIRES",
              "ValidTo": datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)}
    return kms.import_key_material(KeyId=key_id, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrapped, **kw)


@pytest.mark.parametrize("expires", [False, True])
def test_deleted_imported_material_makes_the_key_pending_import(kms, expires):
    meta = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    kid = meta["KeyId"]
    import_material(kms, kid, os.urandom(32), expires=expires)
    described = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert described["KeyState"] == "Enabled"
    assert described["ExpirationModel"] == ("KEY_MATERIAL_EXPIRES" if expires else "KEY_MATERIAL_DOES_NOT_EXPIRE")
    kms.delete_imported_key_material(KeyId=kid)
    described = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert described["KeyState"] == "PendingImport"
    assert described["Enabled"] is False
    assert "ExpirationModel" not in described
    assert "ValidTo" not in described
    for call, kw in (
        (kms.encrypt, {"Plaintext": b"x"}),
        (kms.generate_data_key, {"KeySpec": "AES_256"}),
        (kms.generate_data_key_without_plaintext, {"KeySpec": "AES_256"}),
    ):
        e = raises(call, "KMSInvalidStateException", KeyId=kid, **kw)
        assert error_message(e) == f"{meta['Arn']} is pending import."
    assert kms.list_keys()["Keys"]


# --------------------------------------------------------------------------------------------
# Reserved tag keys
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["aws:owner", "AWS:owner", "Aws:owner", "aWs:owner"])
def test_tag_keys_beginning_with_aws_are_reserved_in_any_case(kms, key):
    e = raises(kms.create_key, "TagException", Tags=[{"TagKey": key, "TagValue": "v"}])
    assert error_message(e) == "Tags beginning with aws: are reserved"
    meta = kms.create_key()["KeyMetadata"]
    e = raises(kms.tag_resource, "TagException", KeyId=meta["KeyId"], Tags=[{"TagKey": key, "TagValue": "v"}])
    assert error_message(e) == "Tags beginning with aws: are reserved"
    assert kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == []


# --------------------------------------------------------------------------------------------
# Decrypt and ReEncrypt with a key that does not encrypt
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec,usage", [("HMAC_256", "GENERATE_VERIFY_MAC"), ("ECC_NIST_P256", "SIGN_VERIFY")])
def test_decrypt_with_a_key_of_another_usage_is_invalid_key_usage(kms, spec, usage):
    meta = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    source = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    # AWS: "For encrypting, decrypting, re-encrypting, and generating data keys, the KeyUsage
    # must be ENCRYPT_DECRYPT" (InvalidKeyUsageException).
    e = raises(kms.decrypt, "InvalidKeyUsageException", KeyId=meta["KeyId"], CiphertextBlob=blob)
    assert error_message(e) == f"{meta['Arn']} key usage is {usage} which is not valid for Decrypt."
    e = raises(kms.re_encrypt, "InvalidKeyUsageException", CiphertextBlob=blob, SourceKeyId=meta["KeyId"],
               DestinationKeyId=source["KeyId"])
    assert error_message(e) == f"{meta['Arn']} key usage is {usage} which is not valid for ReEncryptFrom."
    e = raises(kms.re_encrypt, "InvalidKeyUsageException", CiphertextBlob=blob, DestinationKeyId=meta["KeyId"])
    assert error_message(e) == f"{meta['Arn']} key usage is {usage} which is not valid for ReEncryptTo."
