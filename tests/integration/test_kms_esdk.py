"""KMS interop with the AWS Encryption SDK for Python (PyPI aws-encryption-sdk 4.x with the AWS
Cryptographic Material Providers Library): the SDK encrypts with a KMS keyring pointed at Rampart and
decrypts back, and with an MRK-aware keyring a message encrypted under an mrk- key in one region
decrypts through its replica in another region.

The SDK builds its own KMS requests; every KMS client it uses comes from this module (a client
supplier, a client passed to the keyring, or a botocore session for the legacy master key
providers) and records each call it makes, so the tests also pin down exactly what the SDK sends.
"""
import json
import os
import threading

import aws_encryption_sdk
import botocore.session
import pytest
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.errors import ServiceError as MplServiceError
from aws_cryptographic_material_providers.mpl.models import (
    CreateAwsKmsKeyringInput,
    CreateAwsKmsMrkDiscoveryMultiKeyringInput,
    CreateAwsKmsMrkMultiKeyringInput,
    CreateAwsKmsMultiKeyringInput,
    DiscoveryFilter,
)
from aws_cryptographic_material_providers.mpl.references import IClientSupplier
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
from aws_encryption_sdk.identifiers import Algorithm
from aws_encryption_sdk.key_providers.kms import (
    MRKAwareStrictAwsKmsMasterKeyProvider,
    StrictAwsKmsMasterKeyProvider,
)
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature, InvalidTag

from conftest import ADMIN_ACCOUNT, BOTO_CONFIG, REGION, error_code, lookup_events, make_user, unique, wait_for

REPLICA_REGION = "eu-west-1"
PUBLIC_KEY_CONTEXT = "aws-crypto-public-key"  # added by the SDK for signing algorithm suites
PLAINTEXT = os.urandom(5000) + b"rampart meets the AWS Encryption SDK"
CONTEXT = {"purpose": "esdk-interop", "tenant": "rampart", "unicode": "\u00e9t\u00e9 \u2603"}


# --------------------------------------------------------------------------------------------
# Clients the SDK uses: all point at Rampart and record what the SDK asks KMS
# --------------------------------------------------------------------------------------------


class KmsCallLog:
    """Records every KMS call made through the clients it is attached to: operation, the region of
    the client, the API parameters, and the error code Rampart answered (None on success)."""

    def __init__(self):
        self.calls = []
        self._lock = threading.Lock()

    def attach(self, events):
        events.register("before-parameter-build.kms", self._before)
        events.register("after-call.kms", self._after)
        events.register("after-call-error.kms", self._after_error)

    def _before(self, params, model, context, **_):
        entry = {"op": model.name, "region": context.get("client_region"), "params": dict(params),
                 "error": None}
        context["rampart_esdk_call"] = entry
        with self._lock:
            self.calls.append(entry)

    def _after(self, http_response, parsed, model, context, **_):
        entry = context.get("rampart_esdk_call")
        if entry is not None:
            entry["status"] = http_response.status_code
            entry["error"] = (parsed.get("Error") or {}).get("Code")
            entry["response_key_id"] = parsed.get("KeyId")

    def _after_error(self, exception, context, **_):
        entry = context.get("rampart_esdk_call")
        if entry is not None:
            entry["error"] = f"transport: {exception!r}"

    def ops(self):
        return [(c["op"], c["region"]) for c in self.calls]

    def only(self, op):
        return [c for c in self.calls if c["op"] == op]

    def clear(self):
        self.calls.clear()


class RampartClientSupplier(IClientSupplier):
    """MPL client supplier: a boto3 KMS client for the asked region, pointed at Rampart with the
    admin credentials, recording its calls into `log`."""

    def __init__(self, server, log):
        self.server = server
        self.log = log
        self.regions = []
        self._clients = {}

    def get_client(self, param):
        region = param.region
        self.regions.append(region)
        if region not in self._clients:
            self._clients[region] = kms_client(self.server, self.log, region)
        return self._clients[region]


def kms_client(server, log, region=REGION):
    client = server.client("kms", region=region)
    log.attach(client.meta.events)
    return client


def botocore_session_for(server, log, tmp_path):
    """A botocore session for the legacy master key providers: Rampart's endpoint for KMS through
    the standard shared-config `services` section, the admin credentials, and the call log."""
    access_key, secret_key = server.profile()
    config = tmp_path / "esdk-aws-config"
    config.write_text(
        "[profile esdk]\n"
        f"region = {REGION}\n"
        "services = rampart\n"
        "[services rampart]\n"
        "kms =\n"
        f"  endpoint_url = {server.endpoint}\n"
    )
    session = botocore.session.Session(profile="esdk")
    session.set_config_variable("config_file", str(config))
    session.set_config_variable("credentials_file", os.devnull)
    session.set_credentials(access_key, secret_key)
    session.set_default_client_config(BOTO_CONFIG)
    log.attach(session.get_component("event_emitter"))
    return session


# --------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms")


@pytest.fixture(scope="module")
def mpl():
    return AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())


@pytest.fixture(scope="module")
def esdk():
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


def kms_keyring(mpl, client, key_arn):
    return mpl.create_aws_kms_keyring(input=CreateAwsKmsKeyringInput(kms_key_id=key_arn, kms_client=client))


def edk_key_ids(header):
    out = []
    for edk in header.encrypted_data_keys:
        assert edk.key_provider.provider_id == "aws-kms"
        key_info = edk.key_provider.key_info
        out.append(key_info.decode() if isinstance(key_info, bytes) else key_info)
    return sorted(out)


def edk_for(header, key_arn):
    [edk] = [e for e in header.encrypted_data_keys
             if (e.key_provider.key_info.decode() if isinstance(e.key_provider.key_info, bytes)
                 else e.key_provider.key_info) == key_arn]
    return edk


def flip(data, index):
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def assert_context_sent(call, expected_context):
    """The SDK sends the message's full encryption context to KMS: the caller's pairs plus the
    public verification key of the signing suite."""
    sent = call["params"].get("EncryptionContext")
    assert sent is not None, call
    assert {k: v for k, v in sent.items() if k != PUBLIC_KEY_CONTEXT} == expected_context
    assert PUBLIC_KEY_CONTEXT in sent


def assert_context_contains(header_context, expected):
    for k, v in expected.items():
        assert header_context[k] == v
    assert PUBLIC_KEY_CONTEXT in header_context


# --------------------------------------------------------------------------------------------
# Test 1: a KMS keyring pointed at Rampart encrypts and decrypts back
# --------------------------------------------------------------------------------------------


def test_esdk_kms_keyring_round_trip_through_rampart(server, kms, mpl, esdk, tmp_path):
    key = kms.create_key(Description="esdk interop")["KeyMetadata"]
    other = kms.create_key(Description="esdk interop, not in the keyring")["KeyMetadata"]
    log = KmsCallLog()
    client = kms_client(server, log)
    keyring = kms_keyring(mpl, client, key["Arn"])

    # Encrypt: one GenerateDataKey on the keyring's key, carrying the full encryption context.
    ciphertext, enc_header = esdk.encrypt(source=PLAINTEXT, keyring=keyring, encryption_context=CONTEXT)
    assert ciphertext != PLAINTEXT and PLAINTEXT not in ciphertext
    assert enc_header.algorithm == Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
    assert edk_key_ids(enc_header) == [key["Arn"]]
    assert log.ops() == [("GenerateDataKey", REGION)], log.calls
    [gdk] = log.calls
    assert gdk["error"] is None, gdk
    assert gdk["params"]["KeyId"] == key["Arn"]
    assert gdk["params"]["NumberOfBytes"] == 32
    assert_context_sent(gdk, CONTEXT)
    assert gdk["params"]["EncryptionContext"] == enc_header.encryption_context
    assert gdk["response_key_id"] == key["Arn"]

    # Decrypt: one Decrypt naming the key, with the same context; the SDK requires the response's
    # KeyId to be exactly the key ARN it configured.
    log.clear()
    decrypted, dec_header = esdk.decrypt(source=ciphertext, keyring=keyring, encryption_context=CONTEXT)
    assert decrypted == PLAINTEXT
    assert dec_header.encryption_context == enc_header.encryption_context
    assert_context_contains(dec_header.encryption_context, CONTEXT)
    assert log.ops() == [("Decrypt", REGION)], log.calls
    [dec] = log.calls
    assert dec["error"] is None, dec
    assert dec["params"]["KeyId"] == key["Arn"]
    assert dec["params"]["CiphertextBlob"] == edk_for(enc_header, key["Arn"]).encrypted_data_key
    assert dec["params"]["EncryptionContext"] == enc_header.encryption_context
    assert dec["response_key_id"] == key["Arn"]

    # The SDK checks the caller's expected context against the message's.
    with pytest.raises(AWSEncryptionSDKClientError):
        esdk.decrypt(source=ciphertext, keyring=keyring, encryption_context={**CONTEXT, "tenant": "someone else"})

    # A keyring for a key the message was not encrypted under cannot decrypt it.
    with pytest.raises(AWSEncryptionSDKClientError):
        esdk.decrypt(source=ciphertext, keyring=kms_keyring(mpl, client, other["Arn"]))
    # Nor can KMS itself when asked to use that key: the data key names another key.
    edk = edk_for(enc_header, key["Arn"])
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=edk.encrypted_data_key, KeyId=other["Arn"],
                    EncryptionContext=enc_header.encryption_context)
    assert error_code(e.value) == "IncorrectKeyException"
    # And KMS refuses the data key under a different encryption context.
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=edk.encrypted_data_key, KeyId=key["Arn"], EncryptionContext=CONTEXT)
    assert error_code(e.value) == "InvalidCiphertextException"

    # Tampering: a flipped bit in the KMS ciphertext of the data key is refused by Rampart ...
    blob_at = ciphertext.find(edk.encrypted_data_key)
    assert blob_at > 0
    log.clear()
    with pytest.raises(AWSEncryptionSDKClientError):
        esdk.decrypt(source=flip(ciphertext, blob_at + len(edk.encrypted_data_key) // 2), keyring=keyring)
    assert [(c["op"], c["error"]) for c in log.calls] == [("Decrypt", "InvalidCiphertextException")], log.calls
    # ... and a flipped bit in the encrypted body or in the signature fails authentication (the SDK
    # lets the cryptography library's InvalidTag / InvalidSignature through).
    for index in (len(ciphertext) - 300, len(ciphertext) - 1):
        with pytest.raises((AWSEncryptionSDKClientError, InvalidTag, InvalidSignature)):
            esdk.decrypt(source=flip(ciphertext, index), keyring=keyring)

    # A multi-keyring: GenerateDataKey under the generator, Encrypt under the second key (same
    # plaintext data key, same context); either key alone then decrypts the message.
    log.clear()
    multi = mpl.create_aws_kms_multi_keyring(
        input=CreateAwsKmsMultiKeyringInput(generator=key["Arn"], kms_key_ids=[other["Arn"]],
                                            client_supplier=RampartClientSupplier(server, log))
    )
    ciphertext2, header2 = esdk.encrypt(source=PLAINTEXT, keyring=multi, encryption_context=CONTEXT)
    assert edk_key_ids(header2) == sorted([key["Arn"], other["Arn"]])
    assert log.ops() == [("GenerateDataKey", REGION), ("Encrypt", REGION)], log.calls
    enc = log.calls[1]
    assert enc["error"] is None, enc
    assert enc["params"]["KeyId"] == other["Arn"]
    assert len(enc["params"]["Plaintext"]) == 32
    assert enc["params"]["EncryptionContext"] == header2.encryption_context
    assert enc["response_key_id"] == other["Arn"]
    log.clear()
    decrypted2, _ = esdk.decrypt(source=ciphertext2, keyring=kms_keyring(mpl, client, other["Arn"]))
    assert decrypted2 == PLAINTEXT
    assert [(c["op"], c["params"]["KeyId"]) for c in log.calls] == [("Decrypt", other["Arn"])]

    # The legacy master key provider API (a botocore session) reads the keyring's message too,
    # and what it encrypts the keyring reads.
    session_log = KmsCallLog()
    provider = StrictAwsKmsMasterKeyProvider(key_ids=[key["Arn"]],
                                             botocore_session=botocore_session_for(server, session_log, tmp_path))
    decrypted3, _ = esdk.decrypt(source=ciphertext, key_provider=provider)
    assert decrypted3 == PLAINTEXT
    ciphertext3, header3 = esdk.encrypt(source=PLAINTEXT, key_provider=provider, encryption_context=CONTEXT)
    assert edk_key_ids(header3) == [key["Arn"]]
    decrypted4, _ = esdk.decrypt(source=ciphertext3, keyring=keyring, encryption_context=CONTEXT)
    assert decrypted4 == PLAINTEXT
    assert [(c["op"], c["region"], c["error"]) for c in session_log.calls] == [
        ("Decrypt", REGION, None), ("GenerateDataKey", REGION, None)
    ], session_log.calls
    with pytest.raises(AWSEncryptionSDKClientError):
        esdk.decrypt(source=ciphertext, key_provider=StrictAwsKmsMasterKeyProvider(
            key_ids=[other["Arn"]], botocore_session=botocore_session_for(server, session_log, tmp_path)))


def test_esdk_keyring_with_grant_tokens_for_a_user_allowed_only_by_a_grant(server, kms, mpl, esdk):
    """A caller with no KMS permission of its own, allowed by a grant constrained on the encryption
    context: the SDK passes the keyring's grant tokens on GenerateDataKey and Decrypt, and the
    context it sends (the caller's pairs plus aws-crypto-public-key) satisfies a subset constraint."""
    key = kms.create_key(Description="esdk grants")["KeyMetadata"]
    user, access_key = make_user(server.client("iam"), name=unique("esdk-grantee"))
    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user["Arn"],
                             Operations=["GenerateDataKey", "Decrypt"],
                             Constraints={"EncryptionContextSubset": {"tenant": CONTEXT["tenant"]}})
    log = KmsCallLog()
    client = server.client("kms", creds=access_key)
    log.attach(client.meta.events)
    keyring = mpl.create_aws_kms_keyring(
        input=CreateAwsKmsKeyringInput(kms_key_id=key["Arn"], kms_client=client, grant_tokens=[grant["GrantToken"]])
    )
    ciphertext, header = esdk.encrypt(source=PLAINTEXT, keyring=keyring, encryption_context=CONTEXT)
    decrypted, _ = esdk.decrypt(source=ciphertext, keyring=keyring, encryption_context=CONTEXT)
    assert decrypted == PLAINTEXT
    assert [(c["op"], c["error"]) for c in log.calls] == [("GenerateDataKey", None), ("Decrypt", None)], log.calls
    for call in log.calls:
        assert call["params"]["GrantTokens"] == [grant["GrantToken"]]
        assert call["params"]["EncryptionContext"] == header.encryption_context

    # Outside the grant's constraint the same caller is denied, and the SDK reports it (on encrypt
    # the Material Providers Library lets its own error, wrapping the KMS one, through).
    log.clear()
    with pytest.raises((AWSEncryptionSDKClientError, MplServiceError)):
        esdk.encrypt(source=PLAINTEXT, keyring=keyring, encryption_context={**CONTEXT, "tenant": "other"})
    assert [(c["op"], c["error"]) for c in log.calls] == [("GenerateDataKey", "AccessDeniedException")], log.calls


# --------------------------------------------------------------------------------------------
# Test 2: an MRK-aware keyring decrypts through the replica in another region
# --------------------------------------------------------------------------------------------


def test_esdk_mrk_keyring_decrypts_through_the_replica_region(server, mpl, esdk, tmp_path):
    kms_east = server.client("kms", region=REGION)
    kms_west = server.client("kms", region=REPLICA_REGION)
    primary = kms_east.create_key(Description="esdk mrk", MultiRegion=True)["KeyMetadata"]
    assert primary["KeyId"].startswith("mrk-")
    assert primary["MultiRegion"] is True
    assert primary["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    primary_arn = primary["Arn"]
    assert primary_arn == f"arn:aws:kms:{REGION}:{ADMIN_ACCOUNT}:key/{primary['KeyId']}"
    replica_arn = f"arn:aws:kms:{REPLICA_REGION}:{ADMIN_ACCOUNT}:key/{primary['KeyId']}"

    replica = kms_east.replicate_key(KeyId=primary_arn, ReplicaRegion=REPLICA_REGION)["ReplicaKeyMetadata"]
    assert replica["KeyId"] == primary["KeyId"]
    assert replica["Arn"] == replica_arn
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    # ReplicateKey is asynchronous on AWS (KeyState Creating, then Enabled).
    assert wait_for(lambda: kms_west.describe_key(KeyId=replica_arn)["KeyMetadata"]["KeyState"] == "Enabled",
                    timeout=10), kms_west.describe_key(KeyId=replica_arn)["KeyMetadata"]

    # Encrypt with an MRK-aware keyring on the primary, in us-east-1.
    enc_log = KmsCallLog()
    enc_keyring = mpl.create_aws_kms_mrk_multi_keyring(
        input=CreateAwsKmsMrkMultiKeyringInput(generator=primary_arn,
                                               client_supplier=RampartClientSupplier(server, enc_log))
    )
    ciphertext, enc_header = esdk.encrypt(source=PLAINTEXT, keyring=enc_keyring, encryption_context=CONTEXT)
    assert edk_key_ids(enc_header) == [primary_arn]
    assert [(c["op"], c["region"], c["error"]) for c in enc_log.calls] == [("GenerateDataKey", REGION, None)]
    assert enc_log.calls[0]["response_key_id"] == primary_arn

    # Key state is not shared between related multi-Region keys: with the primary disabled, only
    # the replica can still decrypt.
    kms_east.disable_key(KeyId=primary_arn)
    assert kms_west.describe_key(KeyId=replica_arn)["KeyMetadata"]["KeyState"] == "Enabled"

    # Decrypt with an MRK-aware keyring configured with the replica: one Decrypt, sent to
    # eu-west-1, naming the replica, answered with the replica's ARN.
    dec_log = KmsCallLog()
    supplier = RampartClientSupplier(server, dec_log)
    dec_keyring = mpl.create_aws_kms_mrk_multi_keyring(
        input=CreateAwsKmsMrkMultiKeyringInput(kms_key_ids=[replica_arn], client_supplier=supplier)
    )
    decrypted, dec_header = esdk.decrypt(source=ciphertext, keyring=dec_keyring, encryption_context=CONTEXT)
    assert decrypted == PLAINTEXT
    assert dec_header.encryption_context == enc_header.encryption_context
    assert set(supplier.regions) == {REPLICA_REGION}
    assert [(c["op"], c["region"], c["error"]) for c in dec_log.calls] == [("Decrypt", REPLICA_REGION, None)], \
        dec_log.calls
    [dec] = dec_log.calls
    assert dec["params"]["KeyId"] == replica_arn
    assert dec["params"]["CiphertextBlob"] == edk_for(enc_header, primary_arn).encrypted_data_key
    assert dec["params"]["EncryptionContext"] == enc_header.encryption_context
    assert dec["response_key_id"] == replica_arn

    # Rampart's audit agrees: the Decrypt was served in eu-west-1, on the replica, and none on the
    # primary in us-east-1.
    def decrypt_events(region, key_arn):
        ct = server.client("cloudtrail", region=region)
        found = []
        for ev in lookup_events(ct, "EventName", "Decrypt"):
            detail = json.loads(ev["CloudTrailEvent"])
            if detail.get("awsRegion") == region and any(
                r.get("ARN") == key_arn for r in detail.get("resources") or []
            ):
                found.append(detail)
        return found

    events = wait_for(lambda: decrypt_events(REPLICA_REGION, replica_arn), timeout=5)
    assert len(events) == 1, events
    assert "errorCode" not in events[0], events[0]
    assert events[0]["requestParameters"]["keyId"] == replica_arn
    assert events[0]["requestParameters"]["encryptionContext"] == enc_header.encryption_context
    assert decrypt_events(REGION, primary_arn) == []

    # An MRK-aware discovery keyring limited to eu-west-1 also decrypts, through the replica.
    disc_log = KmsCallLog()
    discovery = mpl.create_aws_kms_mrk_discovery_multi_keyring(
        input=CreateAwsKmsMrkDiscoveryMultiKeyringInput(
            regions=[REPLICA_REGION],
            discovery_filter=DiscoveryFilter(account_ids=[ADMIN_ACCOUNT], partition="aws"),
            client_supplier=RampartClientSupplier(server, disc_log),
        )
    )
    decrypted2, _ = esdk.decrypt(source=ciphertext, keyring=discovery)
    assert decrypted2 == PLAINTEXT
    assert [(c["op"], c["region"], c["params"]["KeyId"], c["error"]) for c in disc_log.calls] == [
        ("Decrypt", REPLICA_REGION, replica_arn, None)
    ], disc_log.calls

    # So does the legacy MRK-aware strict master key provider (botocore session) on the replica.
    session_log = KmsCallLog()
    provider = MRKAwareStrictAwsKmsMasterKeyProvider(
        key_ids=[replica_arn], botocore_session=botocore_session_for(server, session_log, tmp_path)
    )
    decrypted3, _ = esdk.decrypt(source=ciphertext, key_provider=provider)
    assert decrypted3 == PLAINTEXT
    assert [(c["op"], c["region"], c["params"]["KeyId"], c["error"]) for c in session_log.calls] == [
        ("Decrypt", REPLICA_REGION, replica_arn, None)
    ], session_log.calls

    # The primary itself is disabled: decrypting through us-east-1 fails with DisabledException.
    east_log = KmsCallLog()
    east_keyring = mpl.create_aws_kms_mrk_multi_keyring(
        input=CreateAwsKmsMrkMultiKeyringInput(kms_key_ids=[primary_arn],
                                               client_supplier=RampartClientSupplier(server, east_log))
    )
    with pytest.raises(AWSEncryptionSDKClientError):
        esdk.decrypt(source=ciphertext, keyring=east_keyring)
    assert [(c["op"], c["region"], c["error"]) for c in east_log.calls] == [("Decrypt", REGION, "DisabledException")]
