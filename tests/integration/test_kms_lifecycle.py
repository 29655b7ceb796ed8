"""KMS key life cycle through boto3: automatic and on-demand rotation, scheduled deletion, and
imported key material (GetParametersForImport / ImportKeyMaterial / DeleteImportedKeyMaterial).

Time-dependent behaviour is driven by the dev server's business clock
(`/_rampart/clock/advance/SECONDS`, which also runs the due scheduler jobs), never by sleeping.
Every clock advance here is far larger than the scheduler's 60 s period, so each one runs the
KMS housekeeping job.
"""
import datetime
import hashlib
import hmac
import os

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from conftest import ADMIN_ACCOUNT, allow, error_code, error_message, make_user, policy_doc

DAY = 86400


@pytest.fixture(scope="module")
def server(server_factory):
    """This module's own server, without KMS request quotas (the throttling of CreateKey at 5
    per second is not what these tests are about; test_kms_quotas.py covers it)."""
    return server_factory("kms-lifecycle", extra_env={"RAMPART_KMS_QUOTAS": "off"})


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms")


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


@pytest.fixture(scope="module")
def dkms(dev_server):
    return dev_server.client("kms")


def new_key(kms, **kw):
    return kms.create_key(**kw)["KeyMetadata"]


def approx(a, b, seconds=120):
    """Two datetimes within `seconds` of each other."""
    return abs((a - b).total_seconds()) <= seconds


def raises(fn, code, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    assert error_code(e.value) == code, e.value.response["Error"]
    return e.value


def all_rotations(kms, key_id, **kw):
    out, marker = [], None
    while True:
        args = dict(kw)
        if marker:
            args["Marker"] = marker
        page = kms.list_key_rotations(KeyId=key_id, **args)
        out += page["Rotations"]
        if not page["Truncated"]:
            return out
        marker = page["NextMarker"]


# --------------------------------------------------------------------------------------------
# Wrapping of key material for import (what the AWS docs tell customers to do)
# --------------------------------------------------------------------------------------------


def wrap(public_der, material, algorithm):
    public = serialization.load_der_public_key(public_der)
    h = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    assert algorithm.startswith("RSA_AES_KEY_WRAP")
    aes = os.urandom(32)
    return public.encrypt(aes, oaep) + aes_key_wrap_with_padding(aes, material)


def params(kms, key_id, algorithm="RSAES_OAEP_SHA_256", spec="RSA_2048"):
    return kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec)


def import_material(kms, key_id, material, algorithm="RSAES_OAEP_SHA_256", spec="RSA_2048", **kw):
    p = params(kms, key_id, algorithm, spec)
    kw.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    return kms.import_key_material(
        KeyId=key_id,
        ImportToken=p["ImportToken"],
        EncryptedKeyMaterial=wrap(p["PublicKey"], material, algorithm),
        **kw,
    )


def external_key(kms, **kw):
    return new_key(kms, Origin="EXTERNAL", **kw)


# --------------------------------------------------------------------------------------------
# Rotation
# --------------------------------------------------------------------------------------------


def test_rotation_is_off_by_default_and_enable_uses_365_days(kms):
    meta = new_key(kms)
    status = kms.get_key_rotation_status(KeyId=meta["KeyId"])
    assert status["KeyRotationEnabled"] is False
    assert "NextRotationDate" not in status
    kms.enable_key_rotation(KeyId=meta["KeyId"])
    status = kms.get_key_rotation_status(KeyId=meta["KeyId"])
    assert status["KeyRotationEnabled"] is True
    # The bare key id, not the ARN (API reference and awscli example get-key-rotation-status).
    assert status["KeyId"] == meta["KeyId"]
    assert status["RotationPeriodInDays"] == 365
    assert approx(status["NextRotationDate"], meta["CreationDate"] + datetime.timedelta(days=365))
    # No rotation has happened yet.
    assert kms.list_key_rotations(KeyId=meta["KeyId"])["Rotations"] == []


def test_enable_rotation_with_a_custom_period_and_disable(kms):
    meta = new_key(kms)
    kms.enable_key_rotation(KeyId=meta["KeyId"], RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=meta["KeyId"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 90
    assert approx(status["NextRotationDate"], meta["CreationDate"] + datetime.timedelta(days=90))
    kms.disable_key_rotation(KeyId=meta["KeyId"])
    status = kms.get_key_rotation_status(KeyId=meta["KeyId"])
    assert status["KeyRotationEnabled"] is False
    assert "NextRotationDate" not in status


@pytest.mark.parametrize("days", [89, 2561, 0])
def test_rotation_period_out_of_range_is_a_validation_error(server, days):
    # botocore would refuse 89 client-side: turn its validation off so the server answers.
    kms = server.client("kms", validate=False)
    meta = new_key(kms)
    e = raises(kms.enable_key_rotation, "ValidationException", KeyId=meta["KeyId"], RotationPeriodInDays=days)
    assert f"'{days}'" in error_message(e) and "rotationPeriodInDays" in error_message(e)
    assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"] is False


def test_rotation_bounds_90_and_2560_are_accepted(kms):
    for days in (90, 2560):
        meta = new_key(kms)
        kms.enable_key_rotation(KeyId=meta["KeyId"], RotationPeriodInDays=days)
        assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["RotationPeriodInDays"] == days


def test_automatic_rotation_happens_when_the_clock_passes_the_rotation_date(dev_server, dkms):
    meta = new_key(dkms)
    kid = meta["KeyId"]
    before = dkms.encrypt(KeyId=kid, Plaintext=b"before rotation")["CiphertextBlob"]
    old_material = dkms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert dkms.decrypt(CiphertextBlob=before)["KeyMaterialId"] == old_material
    dkms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=90)

    # A day short of the rotation date: nothing happens.
    dev_server.advance_clock(89 * DAY)
    assert dkms.list_key_rotations(KeyId=kid)["Rotations"] == []
    assert dkms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"] == old_material

    dev_server.advance_clock(DAY + 600)
    rotations = dkms.list_key_rotations(KeyId=kid)["Rotations"]
    assert len(rotations) == 1, rotations
    [rot] = rotations
    assert rot["RotationType"] == "AUTOMATIC"
    assert rot["KeyId"] == kid
    assert approx(rot["RotationDate"], meta["CreationDate"] + datetime.timedelta(days=90), seconds=900)
    new_material = dkms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert new_material != old_material
    assert rot["KeyMaterialId"] == new_material

    # Old ciphertext still decrypts (with the old material); new ciphertext uses the new one.
    out = dkms.decrypt(CiphertextBlob=before)
    assert out["Plaintext"] == b"before rotation"
    assert out["KeyMaterialId"] == old_material
    after = dkms.encrypt(KeyId=kid, Plaintext=b"after rotation")["CiphertextBlob"]
    out = dkms.decrypt(CiphertextBlob=after)
    assert out["Plaintext"] == b"after rotation"
    assert out["KeyMaterialId"] == new_material

    # The next rotation is a period after this one.
    status = dkms.get_key_rotation_status(KeyId=kid)
    assert status["KeyRotationEnabled"] is True
    assert approx(status["NextRotationDate"], rot["RotationDate"] + datetime.timedelta(days=90), seconds=900)

    # With rotation disabled, time passing does not rotate.
    dkms.disable_key_rotation(KeyId=kid)
    dev_server.advance_clock(200 * DAY)
    assert len(dkms.list_key_rotations(KeyId=kid)["Rotations"]) == 1
    assert dkms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"] == new_material


def test_rotation_schedule_counts_from_the_enable_date(dev_server, dkms):
    # AWS (EnableKeyRotation): "rotates the key material ... one year (approximately 365 days)
    # from the enable date"; RotationPeriodInDays is "the number of days after you enable
    # automatic key rotation that KMS will rotate your key material"; and (Disable automatic
    # key rotation) "If you enable automatic key rotation again, AWS KMS rotates the key
    # material based on the new rotation-enable date."
    meta = new_key(dkms)
    kid = meta["KeyId"]
    first = dkms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"]
    dev_server.advance_clock(100 * DAY)
    enabled_at = meta["CreationDate"] + datetime.timedelta(days=100)
    dkms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=90)
    status = dkms.get_key_rotation_status(KeyId=kid)
    assert approx(status["NextRotationDate"], enabled_at + datetime.timedelta(days=90), seconds=600), status
    # A few days later it has not rotated: the key is 100+ days old but rotation was enabled
    # only days ago.
    dev_server.advance_clock(5 * DAY)
    assert dkms.list_key_rotations(KeyId=kid)["Rotations"] == []
    assert dkms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"] == first

    # Disable, wait, re-enable: the schedule restarts from the new enable date.
    dkms.disable_key_rotation(KeyId=kid)
    dev_server.advance_clock(50 * DAY)
    reenabled_at = enabled_at + datetime.timedelta(days=55)
    dkms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=90)
    status = dkms.get_key_rotation_status(KeyId=kid)
    assert approx(status["NextRotationDate"], reenabled_at + datetime.timedelta(days=90), seconds=600), status


def test_a_disabled_key_is_not_rotated_until_it_is_enabled(dev_server, dkms):
    # AWS (How automatic key rotation works / Disable automatic key rotation): "If the KMS key is
    # disabled or pending deletion, AWS KMS does not rotate the key material".
    meta = new_key(dkms)
    kid = meta["KeyId"]
    first = dkms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"]
    dkms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=90)
    dkms.disable_key(KeyId=kid)
    dev_server.advance_clock(95 * DAY)
    assert dkms.list_key_rotations(KeyId=kid)["Rotations"] == []
    assert dkms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"] == first


@pytest.mark.parametrize("spec,usage", [
    ("RSA_2048", "ENCRYPT_DECRYPT"),
    ("ECC_NIST_P256", "SIGN_VERIFY"),
    ("HMAC_256", "GENERATE_VERIFY_MAC"),
])
def test_rotation_status_of_asymmetric_and_hmac_keys_is_false(kms, spec, usage):
    # AWS (GetKeyRotationStatus / DisableKeyRotation): automatic rotation is not supported on
    # asymmetric and HMAC keys; "The key rotation status of these KMS keys is always false."
    meta = new_key(kms, KeySpec=spec, KeyUsage=usage)
    status = kms.get_key_rotation_status(KeyId=meta["KeyId"])
    assert status["KeyRotationEnabled"] is False


@pytest.mark.parametrize("spec,usage", [
    ("RSA_2048", "ENCRYPT_DECRYPT"),
    ("ECC_NIST_P256", "SIGN_VERIFY"),
    ("HMAC_256", "GENERATE_VERIFY_MAC"),
])
def test_rotation_of_asymmetric_and_hmac_keys_is_unsupported(kms, spec, usage):
    meta = new_key(kms, KeySpec=spec, KeyUsage=usage)
    e = raises(kms.enable_key_rotation, "UnsupportedOperationException", KeyId=meta["KeyId"])
    assert meta["Arn"] in error_message(e)
    raises(kms.enable_key_rotation, "UnsupportedOperationException", KeyId=meta["KeyId"], RotationPeriodInDays=90)
    raises(kms.disable_key_rotation, "UnsupportedOperationException", KeyId=meta["KeyId"])
    raises(kms.rotate_key_on_demand, "UnsupportedOperationException", KeyId=meta["KeyId"])


def test_automatic_rotation_of_imported_material_is_unsupported(kms):
    meta = external_key(kms)
    import_material(kms, meta["KeyId"], os.urandom(32))
    e = raises(kms.enable_key_rotation, "UnsupportedOperationException", KeyId=meta["KeyId"])
    assert error_message(e) == f"{meta['Arn']} origin is EXTERNAL which is not valid for this operation."


def test_rotation_on_a_disabled_key_is_disabled_exception(kms):
    meta = new_key(kms)
    kms.disable_key(KeyId=meta["KeyId"])
    e = raises(kms.enable_key_rotation, "DisabledException", KeyId=meta["KeyId"])
    assert error_message(e) == f"{meta['Arn']} is disabled."
    raises(kms.disable_key_rotation, "DisabledException", KeyId=meta["KeyId"])


def test_rotate_key_on_demand_and_its_limit_of_ten(kms):
    meta = new_key(kms)
    kid = meta["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"v0")["CiphertextBlob"]
    first = kms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"]
    # The bare key id even when called with the ARN (awscli example rotate-key-on-demand).
    out = kms.rotate_key_on_demand(KeyId=meta["Arn"])
    assert out["KeyId"] == kid
    rotations = kms.list_key_rotations(KeyId=kid)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
    current = kms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert current != first and rotations[0]["KeyMaterialId"] == current
    # On-demand rotation does not turn on automatic rotation.
    assert kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is False
    for _ in range(9):
        kms.rotate_key_on_demand(KeyId=kid)
    rotations = kms.list_key_rotations(KeyId=kid)["Rotations"]
    assert len(rotations) == 10
    assert {r["RotationType"] for r in rotations} == {"ON_DEMAND"}
    assert len({r["KeyMaterialId"] for r in rotations}) == 10
    e = raises(kms.rotate_key_on_demand, "LimitExceededException", KeyId=kid)
    assert error_message(e) == (
        "The on-demand rotations limit has been reached for the given keyId. "
        f"No more on-demand rotations can be performed for this key: {meta['Arn']}"
    )
    assert len(kms.list_key_rotations(KeyId=kid)["Rotations"]) == 10
    # Every generation still decrypts.
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"v0"


def test_rotate_key_on_demand_on_a_disabled_key_is_refused(kms):
    meta = new_key(kms)
    kms.disable_key(KeyId=meta["KeyId"])
    raises(kms.rotate_key_on_demand, "DisabledException", KeyId=meta["KeyId"])


def test_list_key_rotations_pages_and_includes_all_key_material(kms):
    meta = new_key(kms)
    kid = meta["KeyId"]
    initial = kms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"]
    for _ in range(5):
        kms.rotate_key_on_demand(KeyId=kid)
    current = kms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"]

    page = kms.list_key_rotations(KeyId=kid, Limit=2)
    assert len(page["Rotations"]) == 2
    assert page["Truncated"] is True
    assert page["NextMarker"]
    seen, marker, pages = [], None, 0
    while True:
        kw = {"Limit": 2}
        if marker:
            kw["Marker"] = marker
        page = kms.list_key_rotations(KeyId=kid, **kw)
        pages += 1
        assert len(page["Rotations"]) <= 2
        seen += [r["KeyMaterialId"] for r in page["Rotations"]]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 5
    assert initial not in seen

    everything = all_rotations(kms, kid, IncludeKeyMaterial="ALL_KEY_MATERIAL", Limit=4)
    assert len(everything) == 6
    by_id = {r["KeyMaterialId"]: r for r in everything}
    assert set(by_id) == set(seen) | {initial}
    assert by_id[current]["KeyMaterialState"] == "CURRENT"
    assert by_id[initial]["KeyMaterialState"] == "NON_CURRENT"
    assert "RotationType" not in by_id[initial]
    assert sum(r["KeyMaterialState"] == "CURRENT" for r in everything) == 1
    only = all_rotations(kms, kid, IncludeKeyMaterial="ROTATIONS_ONLY")
    assert sorted(r["KeyMaterialId"] for r in only) == sorted(seen)


# --------------------------------------------------------------------------------------------
# Scheduled deletion
# --------------------------------------------------------------------------------------------


def test_key_pending_deletion_refuses_crypto_then_is_deleted_with_its_grants(dev_server, dkms):
    iam = dev_server.client("iam")
    grantee = iam.create_user(UserName=f"grantee-{os.urandom(4).hex()}")["User"]["Arn"]
    meta = new_key(dkms)
    kid = meta["KeyId"]
    blob = dkms.encrypt(KeyId=kid, Plaintext=b"doomed")["CiphertextBlob"]
    grant = dkms.create_grant(KeyId=kid, GranteePrincipal=grantee, RetiringPrincipal=grantee,
                              Operations=["Decrypt"])
    out = dkms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert out["KeyId"] == meta["Arn"]
    assert out["KeyState"] == "PendingDeletion"
    assert out["PendingWindowInDays"] == 7
    assert approx(out["DeletionDate"], meta["CreationDate"] + datetime.timedelta(days=7))

    # Six days in: still pending deletion, still listed, unusable.
    dev_server.advance_clock(6 * DAY)
    described = dkms.describe_key(KeyId=kid)["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion"
    assert described["Enabled"] is False
    assert described["DeletionDate"] == out["DeletionDate"]
    assert described["PendingDeletionWindowInDays"] == 7
    for call, kw in ((dkms.encrypt, {"KeyId": kid, "Plaintext": b"x"}),
                     (dkms.decrypt, {"CiphertextBlob": blob}),
                     (dkms.generate_data_key, {"KeyId": kid, "KeySpec": "AES_256"})):
        e = raises(call, "KMSInvalidStateException", **kw)
        assert error_message(e) == f"{meta['Arn']} is pending deletion."
    raises(dkms.enable_key_rotation, "KMSInvalidStateException", KeyId=kid)
    raises(dkms.rotate_key_on_demand, "KMSInvalidStateException", KeyId=kid)
    assert kid in [k["KeyId"] for k in all_keys(dkms)]
    assert grant["GrantId"] in [g["GrantId"] for g in dkms.list_grants(KeyId=kid)["Grants"]]

    # Past the deletion date: gone, with its grants.
    dev_server.advance_clock(DAY + 600)
    e = raises(dkms.describe_key, "NotFoundException", KeyId=kid)
    assert error_message(e) == f"Key '{meta['Arn']}' does not exist"
    assert kid not in [k["KeyId"] for k in all_keys(dkms)]
    retirable = dkms.list_retirable_grants(RetiringPrincipal=grantee)["Grants"]
    assert grant["GrantId"] not in [g["GrantId"] for g in retirable]
    # AWS documents only that the data can no longer be decrypted, not the error code.
    with pytest.raises(ClientError) as gone:
        dkms.decrypt(CiphertextBlob=blob)
    assert error_code(gone.value) in ("NotFoundException", "InvalidCiphertextException")
    raises(dkms.cancel_key_deletion, "NotFoundException", KeyId=kid)


def all_keys(kms):
    keys, marker = [], None
    while True:
        kw = {"Limit": 1000}
        if marker:
            kw["Marker"] = marker
        page = kms.list_keys(**kw)
        keys += page["Keys"]
        if not page["Truncated"]:
            return keys
        marker = page["NextMarker"]


def test_cancel_key_deletion_before_the_date_keeps_the_key_disabled(dev_server, dkms):
    meta = new_key(dkms)
    kid = meta["KeyId"]
    blob = dkms.encrypt(KeyId=kid, Plaintext=b"saved")["CiphertextBlob"]
    dkms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    dev_server.advance_clock(5 * DAY)
    assert dkms.cancel_key_deletion(KeyId=kid)["KeyId"] == meta["Arn"]
    described = dkms.describe_key(KeyId=kid)["KeyMetadata"]
    assert described["KeyState"] == "Disabled"
    assert "DeletionDate" not in described
    assert "PendingDeletionWindowInDays" not in described
    dev_server.advance_clock(10 * DAY)
    assert dkms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"
    e = raises(dkms.decrypt, "DisabledException", CiphertextBlob=blob)
    assert error_message(e) == f"{meta['Arn']} is disabled."
    dkms.enable_key(KeyId=kid)
    assert dkms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"saved"


def test_cancel_key_deletion_of_a_key_not_pending_deletion_is_invalid_state(kms):
    meta = new_key(kms)
    raises(kms.cancel_key_deletion, "KMSInvalidStateException", KeyId=meta["KeyId"])


# --------------------------------------------------------------------------------------------
# Imported key material
# --------------------------------------------------------------------------------------------


def test_external_key_starts_pending_import(kms):
    meta = external_key(kms)
    assert meta["Origin"] == "EXTERNAL"
    assert meta["KeyState"] == "PendingImport"
    assert meta["Enabled"] is False
    assert "CurrentKeyMaterialId" not in meta
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "PendingImport"
    assert "CurrentKeyMaterialId" not in described
    e = raises(kms.encrypt, "KMSInvalidStateException", KeyId=meta["KeyId"], Plaintext=b"x")
    assert error_message(e) == f"{meta['Arn']} is pending import."
    raises(kms.generate_data_key, "KMSInvalidStateException", KeyId=meta["KeyId"], KeySpec="AES_256")
    assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"] is False


@pytest.mark.parametrize("spec,bits", [("RSA_2048", 2048), ("RSA_3072", 3072), ("RSA_4096", 4096)])
@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_256"])
def test_import_symmetric_material_with_each_wrapping(kms, spec, bits, algorithm):
    meta = external_key(kms)
    p = params(kms, meta["KeyId"], algorithm, spec)
    assert p["KeyId"] == meta["Arn"]
    public = serialization.load_der_public_key(p["PublicKey"])
    assert public.key_size == bits
    assert approx(p["ParametersValidTo"], meta["CreationDate"] + datetime.timedelta(hours=24))
    material = os.urandom(32)
    out = kms.import_key_material(
        KeyId=meta["KeyId"],
        ImportToken=p["ImportToken"],
        EncryptedKeyMaterial=wrap(p["PublicKey"], material, algorithm),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    # The key ARN, as the API reference documents ImportKeyMaterialResponse.KeyId (the awscli
    # example shows a bare id; the reference wins).
    assert out["KeyId"] == meta["Arn"]
    assert out["KeyMaterialId"]
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "Enabled"
    assert described["Enabled"] is True
    assert described["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert "ValidTo" not in described
    assert described["CurrentKeyMaterialId"] == out["KeyMaterialId"]
    blob = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"imported")["CiphertextBlob"]
    dec = kms.decrypt(CiphertextBlob=blob)
    assert dec["Plaintext"] == b"imported"
    assert dec["KeyMaterialId"] == out["KeyMaterialId"]


def test_import_token_is_single_use(kms):
    meta = external_key(kms)
    p = params(kms, meta["KeyId"])
    wrapped = wrap(p["PublicKey"], os.urandom(32), "RSAES_OAEP_SHA_256")
    kms.import_key_material(KeyId=meta["KeyId"], ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrapped,
                            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    kms.delete_imported_key_material(KeyId=meta["KeyId"])
    raises(kms.import_key_material, "InvalidImportTokenException", KeyId=meta["KeyId"],
           ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrapped, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")


def test_reimporting_the_same_material_restores_old_ciphertexts(kms):
    meta = external_key(kms)
    kid = meta["KeyId"]
    material = os.urandom(32)
    first = import_material(kms, kid, material)
    blob = kms.encrypt(KeyId=kid, Plaintext=b"keep me")["CiphertextBlob"]

    out = kms.delete_imported_key_material(KeyId=kid)
    assert out["KeyId"] == meta["Arn"]
    assert out["KeyMaterialId"] == first["KeyMaterialId"]
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "PendingImport"
    e = raises(kms.decrypt, "KMSInvalidStateException", CiphertextBlob=blob)
    assert error_message(e) == f"{meta['Arn']} is pending import."
    raises(kms.encrypt, "KMSInvalidStateException", KeyId=kid, Plaintext=b"x")

    # Different material cannot take its place.
    e = raises(import_material, "IncorrectKeyMaterialException", kms=kms, key_id=kid, material=os.urandom(32))
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "PendingImport"

    # The same material, wrapped differently, brings the key back.
    again = import_material(kms, kid, material, algorithm="RSA_AES_KEY_WRAP_SHA_256", spec="RSA_3072")
    assert again["KeyMaterialId"] == first["KeyMaterialId"]
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"keep me"


def test_different_material_into_a_key_with_material_is_incorrect(kms):
    meta = external_key(kms)
    import_material(kms, meta["KeyId"], os.urandom(32))
    raises(import_material, "IncorrectKeyMaterialException", kms=kms, key_id=meta["KeyId"], material=os.urandom(32))
    raises(import_material, "IncorrectKeyMaterialException", kms=kms, key_id=meta["KeyId"],
           material=os.urandom(32), ImportType="EXISTING_KEY_MATERIAL")


def test_material_with_valid_to_expires_when_the_clock_passes_it(dev_server, dkms):
    meta = external_key(dkms)
    kid = meta["KeyId"]
    material = os.urandom(32)
    valid_to = meta["CreationDate"] + datetime.timedelta(days=1)
    out = import_material(dkms, kid, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    described = dkms.describe_key(KeyId=kid)["KeyMetadata"]
    assert described["KeyState"] == "Enabled"
    assert described["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert approx(described["ValidTo"], valid_to, seconds=2)
    blob = dkms.encrypt(KeyId=kid, Plaintext=b"ephemeral")["CiphertextBlob"]

    dev_server.advance_clock(DAY // 2)
    assert dkms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"ephemeral"

    dev_server.advance_clock(DAY // 2 + 600)
    assert dkms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "PendingImport"
    e = raises(dkms.decrypt, "KMSInvalidStateException", CiphertextBlob=blob)
    assert error_message(e) == f"{meta['Arn']} is pending import."
    [entry] = all_rotations(dkms, kid, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    assert entry["KeyMaterialId"] == out["KeyMaterialId"]
    assert entry["ImportState"] == "PENDING_IMPORT"

    # Reimport of the same material (now without expiry) restores it.
    import_material(dkms, kid, material)
    described = dkms.describe_key(KeyId=kid)["KeyMetadata"]
    assert described["KeyState"] == "Enabled"
    assert described["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert dkms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"ephemeral"


def test_key_material_expires_needs_a_valid_to(kms):
    meta = external_key(kms)
    p = params(kms, meta["KeyId"])
    e = raises(kms.import_key_material, "ValidationException", KeyId=meta["KeyId"], ImportToken=p["ImportToken"],
               EncryptedKeyMaterial=wrap(p["PublicKey"], os.urandom(32), "RSAES_OAEP_SHA_256"),
               ExpirationModel="KEY_MATERIAL_EXPIRES")
    assert error_message(e) == "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"


def test_import_token_of_another_key_is_invalid(kms):
    a, b = external_key(kms), external_key(kms)
    p = params(kms, a["KeyId"])
    e = raises(kms.import_key_material, "InvalidImportTokenException", KeyId=b["KeyId"], ImportToken=p["ImportToken"],
               EncryptedKeyMaterial=wrap(p["PublicKey"], os.urandom(32), "RSAES_OAEP_SHA_256"),
               ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert kms.describe_key(KeyId=b["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    raises(kms.import_key_material, "InvalidImportTokenException", KeyId=a["KeyId"], ImportToken=b"garbage-token",
           EncryptedKeyMaterial=wrap(p["PublicKey"], os.urandom(32), "RSAES_OAEP_SHA_256"),
           ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert e is not None


def test_import_token_expires_after_24_hours(dev_server, dkms):
    meta = external_key(dkms)
    p = params(dkms, meta["KeyId"])
    assert approx(p["ParametersValidTo"], meta["CreationDate"] + datetime.timedelta(hours=24))
    dev_server.advance_clock(25 * 3600)
    raises(dkms.import_key_material, "ExpiredImportTokenException", KeyId=meta["KeyId"], ImportToken=p["ImportToken"],
           EncryptedKeyMaterial=wrap(p["PublicKey"], os.urandom(32), "RSAES_OAEP_SHA_256"),
           ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert dkms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    # Fresh parameters work.
    import_material(dkms, meta["KeyId"], os.urandom(32))
    assert dkms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_import_operations_on_an_aws_kms_key_are_unsupported(kms):
    meta = new_key(kms)
    e = raises(params, "UnsupportedOperationException", kms=kms, key_id=meta["KeyId"])
    assert error_message(e) == f"{meta['Arn']} origin is AWS_KMS which is not valid for this operation."
    e = raises(kms.delete_imported_key_material, "UnsupportedOperationException", KeyId=meta["KeyId"])
    assert error_message(e) == f"{meta['Arn']} origin is AWS_KMS which is not valid for this operation."


def test_rsaes_pkcs1_v1_5_wrapping_is_refused(kms):
    meta = external_key(kms)
    with pytest.raises(ClientError) as e:
        params(kms, meta["KeyId"], "RSAES_PKCS1_V1_5")
    # AWS no longer supports this wrapping algorithm; the docs do not name the error code.
    assert error_code(e.value) in ("ValidationException", "UnsupportedOperationException")


def test_import_hmac_material_then_generate_mac(kms):
    meta = external_key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    assert meta["KeyState"] == "PendingImport"
    material = os.urandom(32)
    out = import_material(kms, meta["KeyId"], material)
    assert out["KeyMaterialId"]
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    msg = b"message to authenticate"
    mac = kms.generate_mac(KeyId=meta["KeyId"], Message=msg, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac == hmac.new(material, msg, hashlib.sha256).digest()
    assert kms.verify_mac(KeyId=meta["KeyId"], Message=msg, MacAlgorithm="HMAC_SHA_256", Mac=mac)["MacValid"]


def test_import_ecc_private_key_then_sign_and_verify_locally(kms):
    meta = external_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    import_material(kms, meta["KeyId"], der, algorithm="RSA_AES_KEY_WRAP_SHA_256")
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    expected_pub = private.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
    assert kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"] == expected_pub
    msg = b"signed by imported key"
    sig = kms.sign(KeyId=meta["KeyId"], Message=msg, MessageType="RAW",
                   SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    private.public_key().verify(sig, msg, ec.ECDSA(hashes.SHA256()))  # raises if invalid
    assert kms.verify(KeyId=meta["KeyId"], Message=msg, MessageType="RAW", Signature=sig,
                      SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"] is True


def test_new_key_material_waits_pending_rotation_then_rotate_on_demand(kms):
    meta = external_key(kms)
    kid = meta["KeyId"]
    first = import_material(kms, kid, os.urandom(32))["KeyMaterialId"]
    old_blob = kms.encrypt(KeyId=kid, Plaintext=b"gen1")["CiphertextBlob"]

    second = import_material(kms, kid, os.urandom(32), ImportType="NEW_KEY_MATERIAL",
                             KeyMaterialDescription="second generation")["KeyMaterialId"]
    assert second != first
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"] == first
    entries = {r["KeyMaterialId"]: r for r in all_rotations(kms, kid, IncludeKeyMaterial="ALL_KEY_MATERIAL")}
    assert set(entries) == {first, second}
    assert entries[first]["KeyMaterialState"] == "CURRENT"
    assert entries[second]["KeyMaterialState"] == "PENDING_ROTATION"
    assert entries[second]["ImportState"] == "IMPORTED"
    assert entries[second]["KeyMaterialDescription"] == "second generation"
    # Still encrypting under the first material.
    assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"])["KeyMaterialId"] == first

    # A second NEW while one is pending is refused.
    raises(import_material, "KMSInvalidStateException", kms=kms, key_id=kid, material=os.urandom(32),
           ImportType="NEW_KEY_MATERIAL")

    kms.rotate_key_on_demand(KeyId=kid)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"] == second
    entries = {r["KeyMaterialId"]: r for r in all_rotations(kms, kid, IncludeKeyMaterial="ALL_KEY_MATERIAL")}
    assert entries[second]["KeyMaterialState"] == "CURRENT"
    assert entries[first]["KeyMaterialState"] == "NON_CURRENT"
    rotations = all_rotations(kms, kid)
    assert [(r["KeyMaterialId"], r["RotationType"]) for r in rotations] == [(second, "ON_DEMAND")]
    new_blob = kms.encrypt(KeyId=kid, Plaintext=b"gen2")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=new_blob)["KeyMaterialId"] == second
    old = kms.decrypt(CiphertextBlob=old_blob)
    assert old["Plaintext"] == b"gen1" and old["KeyMaterialId"] == first
    # Nothing pending any more.
    raises(kms.rotate_key_on_demand, "KMSInvalidStateException", KeyId=kid)


# --------------------------------------------------------------------------------------------
# Authorization
# --------------------------------------------------------------------------------------------


def test_iam_kms_star_does_not_help_when_the_key_policy_does_not_delegate_to_iam(server, kms, iam):
    user, key = make_user(iam, inline=policy_doc(allow("kms:*")))
    user_kms = server.client("kms", creds=key)
    # Control: with the default key policy (which delegates to IAM) the user may.
    open_key = new_key(kms)
    user_kms.enable_key_rotation(KeyId=open_key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=open_key["KeyId"])["KeyRotationEnabled"] is True

    root = f"arn:aws:iam::{ADMIN_ACCOUNT}:root"
    closed_key = new_key(kms, Policy=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalArn": user["Arn"]}}},
    ))
    e = raises(user_kms.enable_key_rotation, "AccessDeniedException", KeyId=closed_key["KeyId"])
    assert "kms:EnableKeyRotation" in error_message(e)
    raises(user_kms.rotate_key_on_demand, "AccessDeniedException", KeyId=closed_key["KeyId"])
    raises(user_kms.schedule_key_deletion, "AccessDeniedException", KeyId=closed_key["KeyId"],
           PendingWindowInDays=7)
    assert kms.get_key_rotation_status(KeyId=closed_key["KeyId"])["KeyRotationEnabled"] is False
    assert kms.describe_key(KeyId=closed_key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_deleting_any_imported_material_makes_the_key_pending_import(kms):
    # AWS (Key states of AWS KMS keys): "When any key material for an imported key is deleted or
    # it expires, then the state changes from Enabled to PendingImport."
    meta = external_key(kms)
    kid = meta["KeyId"]
    first_material = os.urandom(32)
    first = import_material(kms, kid, first_material)["KeyMaterialId"]
    old_blob = kms.encrypt(KeyId=kid, Plaintext=b"gen1")["CiphertextBlob"]
    second = import_material(kms, kid, os.urandom(32), ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    kms.rotate_key_on_demand(KeyId=kid)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"] == second

    out = kms.delete_imported_key_material(KeyId=kid, KeyMaterialId=first)
    assert out["KeyMaterialId"] == first
    entries = {r["KeyMaterialId"]: r for r in all_rotations(kms, kid, IncludeKeyMaterial="ALL_KEY_MATERIAL")}
    assert entries[first]["ImportState"] == "PENDING_IMPORT"
    assert entries[second]["ImportState"] == "IMPORTED"
    # Ciphertext under the deleted material cannot be decrypted.
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=old_blob)
    assert error_code(e.value) == "KMSInvalidStateException"
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "PendingImport"
    # Reimporting it (as existing material) brings the key back.
    import_material(kms, kid, first_material, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=first)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"gen1"
