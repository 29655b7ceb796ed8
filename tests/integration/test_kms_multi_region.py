"""KMS multi-Region keys (CreateKey MultiRegion, ReplicateKey, UpdatePrimaryRegion, deletion of
a set), ML-KEM Encapsulate/Decapsulate, ML-DSA signing, ListKeyPolicies and GetKeyLastUsage,
through boto3, judged against the AWS KMS API Reference.

The Encryption SDK's MRK-aware keyrings are covered in test_kms_esdk.py."""
import datetime
import json
import re

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem

from conftest import (ADMIN_ACCOUNT, BOTO_CONFIG, REGION, allow, error_code, error_message, lookup_events, make_user,
                      policy_doc, unique, wait_for)

WEST = "eu-west-1"
SYDNEY = "ap-southeast-2"
OREGON = "us-west-2"
MRK_ID = re.compile(r"^mrk-[0-9a-f]{32}$")
CONTEXT = {"purpose": "multi-region-test"}


# Rampart applies AWS's request quotas (ReplicateKey, CreateKey, ... : 5 per second per account
# and Region) on non-dev servers; like the AWS SDKs' defaults, these clients retry throttling.
RETRYING = BOTO_CONFIG.merge(Config(retries={"total_max_attempts": 20, "mode": "standard"}))


def kms_client(server, region=REGION, creds=None):
    if creds is None:
        access_key, secret_key = server.profile()
    else:
        access_key, secret_key = creds["AccessKeyId"], creds["SecretAccessKey"]
    return boto3.session.Session().client("kms", region_name=region, endpoint_url=server.endpoint,
                                          aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                          config=RETRYING)


@pytest.fixture(scope="module")
def kms(server):
    return kms_client(server)


@pytest.fixture(scope="module")
def kms_in(server):
    clients = {}

    def get(region):
        if region not in clients:
            clients[region] = kms_client(server, region)
        return clients[region]

    return get


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def arn_in(region, key_id):
    return f"arn:aws:kms:{region}:{ADMIN_ACCOUNT}:key/{key_id}"


def wait_enabled(client, key_id):
    """ReplicateKey is asynchronous on AWS: the replica is Creating, then Enabled."""
    ok = wait_for(lambda: client.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled", timeout=10)
    assert ok, client.describe_key(KeyId=key_id)["KeyMetadata"]


def mr_config(client, key_id):
    return client.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]


def replica_regions(config):
    return sorted(r["Region"] for r in config["ReplicaKeys"])


def new_mrk(kms_in, *replicas, **kw):
    """A multi-Region primary in us-east-1 with Enabled replicas in `replicas`."""
    primary = kms_in(REGION).create_key(MultiRegion=True, **kw)["KeyMetadata"]
    for region in replicas:
        kms_in(REGION).replicate_key(KeyId=primary["KeyId"], ReplicaRegion=region)
        wait_enabled(kms_in(region), primary["KeyId"])
    return primary


def server_now(kms):
    """The server's clock (dev servers' clock can be advanced): a new key's CreationDate."""
    meta = kms.create_key(Description="clock probe")["KeyMetadata"]
    return meta["CreationDate"]


# --------------------------------------------------------------------------------------------
# 1. CreateKey MultiRegion, ReplicateKey, cross-Region use
# --------------------------------------------------------------------------------------------


def test_create_multi_region_key_is_a_primary_without_replicas(kms):
    meta = kms.create_key(MultiRegion=True, Description="mrk primary")["KeyMetadata"]
    assert MRK_ID.match(meta["KeyId"]), meta["KeyId"]
    assert meta["Arn"] == arn_in(REGION, meta["KeyId"])
    assert meta["MultiRegion"] is True
    assert meta["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": meta["Arn"], "Region": REGION},
        "ReplicaKeys": [],
    }
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["MultiRegion"] is True
    assert described["MultiRegionConfiguration"] == meta["MultiRegionConfiguration"]
    # A single-Region key says so, and has no configuration.
    single = kms.create_key()["KeyMetadata"]
    assert single["MultiRegion"] is False
    assert "MultiRegionConfiguration" not in single
    assert not single["KeyId"].startswith("mrk-")


def test_replicate_key_creates_replicas_with_their_own_policy_description_and_tags(kms_in):
    east = kms_in(REGION)
    primary = east.create_key(MultiRegion=True, Description="primary description",
                              Tags=[{"TagKey": "side", "TagValue": "primary"}])["KeyMetadata"]
    key_id = primary["KeyId"]
    west_arn, sydney_arn = arn_in(WEST, key_id), arn_in(SYDNEY, key_id)
    replica_policy = policy_doc(
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{ADMIN_ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "replica-only", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{ADMIN_ACCOUNT}:root"}, "Action": "kms:DescribeKey",
         "Resource": "*"},
    )
    tags = [{"TagKey": "side", "TagValue": "west"}, {"TagKey": "team", "TagValue": "blue"}]

    out = east.replicate_key(KeyId=primary["Arn"], ReplicaRegion=WEST, Policy=replica_policy,
                             Description="west description", Tags=tags)
    meta = out["ReplicaKeyMetadata"]
    assert meta["KeyId"] == key_id
    assert meta["Arn"] == west_arn
    assert meta["AWSAccountId"] == ADMIN_ACCOUNT
    assert meta["MultiRegion"] is True
    assert meta["Description"] == "west description"
    assert meta["KeySpec"] == primary["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["Origin"] == "AWS_KMS"
    cfg = meta["MultiRegionConfiguration"]
    assert cfg["MultiRegionKeyType"] == "REPLICA"
    assert cfg["PrimaryKey"] == {"Arn": primary["Arn"], "Region": REGION}
    assert json.loads(out["ReplicaPolicy"]) == json.loads(replica_policy)
    assert sorted(out["ReplicaTags"], key=lambda t: t["TagKey"]) == tags

    out2 = east.replicate_key(KeyId=key_id, ReplicaRegion=SYDNEY)
    assert out2["ReplicaKeyMetadata"]["Arn"] == sydney_arn
    assert out2["ReplicaKeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"

    west, sydney = kms_in(WEST), kms_in(SYDNEY)
    wait_enabled(west, key_id)
    wait_enabled(sydney, key_id)

    # Each replica has its own policy, description and tags.
    assert json.loads(west.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == json.loads(replica_policy)
    sydney_policy = json.loads(sydney.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert not any(st.get("Sid") == "replica-only" for st in sydney_policy["Statement"])
    assert any(st.get("Principal") == {"AWS": f"arn:aws:iam::{ADMIN_ACCOUNT}:root"} and st.get("Action") == "kms:*"
               for st in sydney_policy["Statement"]), sydney_policy
    assert not any(st.get("Sid") == "replica-only"
                   for st in json.loads(east.get_key_policy(KeyId=key_id)["Policy"])["Statement"])
    assert west.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "west description"
    assert sydney.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == ""
    assert east.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "primary description"
    assert sorted(west.list_resource_tags(KeyId=key_id)["Tags"], key=lambda t: t["TagKey"]) == tags
    assert sydney.list_resource_tags(KeyId=key_id)["Tags"] == []
    assert east.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "side", "TagValue": "primary"}]

    # The primary lists both replicas; every member agrees on the set.
    expected_replicas = sorted([{"Arn": west_arn, "Region": WEST}, {"Arn": sydney_arn, "Region": SYDNEY}],
                               key=lambda r: r["Region"])
    for client, kind in ((east, "PRIMARY"), (west, "REPLICA"), (sydney, "REPLICA")):
        c = mr_config(client, key_id)
        assert c["MultiRegionKeyType"] == kind
        assert c["PrimaryKey"] == {"Arn": primary["Arn"], "Region": REGION}
        assert sorted(c["ReplicaKeys"], key=lambda r: r["Region"]) == expected_replicas

    # Each Region lists its own key; the replica's ARN answers in its Region.
    assert key_id in [k["KeyId"] for k in west.list_keys(Limit=1000)["Keys"]]
    assert west.describe_key(KeyId=west_arn)["KeyMetadata"]["Arn"] == west_arn


def test_ciphertext_of_one_region_decrypts_in_another(kms_in):
    primary = new_mrk(kms_in, WEST)
    key_id = primary["KeyId"]
    east, west = kms_in(REGION), kms_in(WEST)
    west_arn = arn_in(WEST, key_id)

    blob = east.encrypt(KeyId=key_id, Plaintext=b"from the east", EncryptionContext=CONTEXT)["CiphertextBlob"]
    for given in (None, key_id, west_arn):
        kw = {"KeyId": given} if given else {}
        out = west.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT, **kw)
        assert out["Plaintext"] == b"from the east"
        assert out["KeyId"] == west_arn

    blob2 = west.encrypt(KeyId=west_arn, Plaintext=b"from the west", EncryptionContext=CONTEXT)["CiphertextBlob"]
    for given in (None, key_id, primary["Arn"]):
        kw = {"KeyId": given} if given else {}
        out = east.decrypt(CiphertextBlob=blob2, EncryptionContext=CONTEXT, **kw)
        assert out["Plaintext"] == b"from the west"
        assert out["KeyId"] == primary["Arn"]

    # The encryption context still binds in the replica Region.
    with pytest.raises(ClientError) as e:
        west.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "other"})
    assert error_code(e.value) == "InvalidCiphertextException"


def test_only_a_multi_region_primary_can_be_replicated(kms_in):
    east = kms_in(REGION)
    single = east.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        east.replicate_key(KeyId=single["KeyId"], ReplicaRegion=WEST)
    assert error_code(e.value) == "UnsupportedOperationException"
    assert error_message(e.value) == f"{single['Arn']} is not a multi-region primary key."

    primary = new_mrk(kms_in, WEST)
    west = kms_in(WEST)
    with pytest.raises(ClientError) as e:
        west.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=SYDNEY)
    assert error_code(e.value) == "UnsupportedOperationException"
    assert error_message(e.value) == f"{arn_in(WEST, primary['KeyId'])} is not a multi-region primary key."
    # Nothing was created in Sydney.
    with pytest.raises(ClientError) as e:
        kms_in(SYDNEY).describe_key(KeyId=primary["KeyId"])
    assert error_code(e.value) == "NotFoundException"


def test_replicating_twice_to_a_region_already_exists(kms_in):
    primary = new_mrk(kms_in, WEST)
    with pytest.raises(ClientError) as e:
        kms_in(REGION).replicate_key(KeyId=primary["KeyId"], ReplicaRegion=WEST)
    assert error_code(e.value) == "AlreadyExistsException"
    # The set is unchanged.
    assert replica_regions(mr_config(kms_in(REGION), primary["KeyId"])) == [WEST]


def test_replica_region_must_be_a_region_name(kms_in):
    primary = kms_in(REGION).create_key(MultiRegion=True)["KeyMetadata"]
    for bad in ("not-a-region", "eu-west", "EU-WEST-1"):
        with pytest.raises(ClientError) as e:
            kms_in(REGION).replicate_key(KeyId=primary["KeyId"], ReplicaRegion=bad)
        assert error_code(e.value) == "ValidationException", (bad, e.value.response["Error"])
    # Another partition's Region is refused too (the replica must be in the primary's partition).
    with pytest.raises(ClientError):
        kms_in(REGION).replicate_key(KeyId=primary["KeyId"], ReplicaRegion="cn-north-1")
    assert mr_config(kms_in(REGION), primary["KeyId"])["ReplicaKeys"] == []


def test_unknown_and_malformed_mrk_ids_are_not_found(kms):
    missing = "mrk-" + "0123456789abcdef" * 2
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=missing, Plaintext=b"x")
    assert error_code(e.value) == "NotFoundException"
    assert error_message(e.value) == f"Key '{arn_in(REGION, missing)}' does not exist"

    real = kms.create_key(MultiRegion=True)["KeyMetadata"]
    blob = kms.encrypt(KeyId=real["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        kms.decrypt(KeyId=missing, CiphertextBlob=blob)
    assert error_code(e.value) == "NotFoundException"

    for op in (lambda: kms.encrypt(KeyId="mrk-xyz", Plaintext=b"x"),
               lambda: kms.decrypt(KeyId="mrk-xyz", CiphertextBlob=blob),
               lambda: kms.describe_key(KeyId="mrk-xyz")):
        with pytest.raises(ClientError) as e:
            op()
        assert error_code(e.value) == "NotFoundException"
        assert error_message(e.value) == "Invalid keyId 'mrk-xyz'"


# --------------------------------------------------------------------------------------------
# 2. Independent state, shared rotation
# --------------------------------------------------------------------------------------------


def test_replica_key_state_is_independent_of_the_primary(kms_in):
    primary = new_mrk(kms_in, WEST)
    key_id = primary["KeyId"]
    east, west = kms_in(REGION), kms_in(WEST)
    west.disable_key(KeyId=key_id)
    assert west.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    assert east.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    blob = east.encrypt(KeyId=key_id, Plaintext=b"still usable")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        west.decrypt(CiphertextBlob=blob)
    assert error_code(e.value) == "DisabledException"
    west.enable_key(KeyId=key_id)
    assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"still usable"

    # Description updates stay with the key they were made on.
    west.update_key_description(KeyId=key_id, Description="only west")
    assert east.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == ""


def test_rotation_is_managed_on_the_primary_and_shared_with_replicas(kms_in):
    primary = new_mrk(kms_in, WEST)
    key_id = primary["KeyId"]
    east, west = kms_in(REGION), kms_in(WEST)

    with pytest.raises(ClientError) as e:
        west.enable_key_rotation(KeyId=key_id)
    assert error_code(e.value) == "UnsupportedOperationException"
    with pytest.raises(ClientError) as e:
        west.rotate_key_on_demand(KeyId=key_id)
    assert error_code(e.value) == "UnsupportedOperationException"

    # Automatic rotation status is a shared property.
    east.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
    assert wait_for(lambda: west.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"], timeout=5)
    assert west.get_key_rotation_status(KeyId=key_id)["RotationPeriodInDays"] == 180

    before = west.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert before == east.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    old_blob = east.encrypt(KeyId=key_id, Plaintext=b"old material")["CiphertextBlob"]

    assert east.rotate_key_on_demand(KeyId=key_id)["KeyId"] == primary["KeyId"]
    after_east = east.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert after_east != before
    assert wait_for(lambda: west.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == after_east,
                    timeout=5), west.describe_key(KeyId=key_id)["KeyMetadata"]

    new_blob = east.encrypt(KeyId=key_id, Plaintext=b"new material")["CiphertextBlob"]
    out = west.decrypt(CiphertextBlob=new_blob)
    assert out["Plaintext"] == b"new material"
    assert out["KeyMaterialId"] == after_east
    old = west.decrypt(CiphertextBlob=old_blob)
    assert old["Plaintext"] == b"old material"
    assert old["KeyMaterialId"] == before
    # The replica lists the on-demand rotation as well.
    rotations = west.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]


# --------------------------------------------------------------------------------------------
# 3. UpdatePrimaryRegion
# --------------------------------------------------------------------------------------------


def test_update_primary_region_swaps_primary_and_replica(kms_in):
    primary = new_mrk(kms_in, WEST, SYDNEY)
    key_id = primary["KeyId"]
    east, west, sydney = kms_in(REGION), kms_in(WEST), kms_in(SYDNEY)

    east.update_primary_region(KeyId=key_id, PrimaryRegion=WEST)

    def settled():
        return (mr_config(west, key_id)["MultiRegionKeyType"] == "PRIMARY"
                and mr_config(east, key_id)["MultiRegionKeyType"] == "REPLICA")

    assert wait_for(settled, timeout=10), (mr_config(east, key_id), mr_config(west, key_id))
    west_arn = arn_in(WEST, key_id)
    for client in (east, west, sydney):
        c = mr_config(client, key_id)
        assert c["PrimaryKey"] == {"Arn": west_arn, "Region": WEST}, c
        assert sorted(c["ReplicaKeys"], key=lambda r: r["Region"]) == [
            {"Arn": arn_in(SYDNEY, key_id), "Region": SYDNEY},
            {"Arn": primary["Arn"], "Region": REGION},
        ], c
    assert mr_config(sydney, key_id)["MultiRegionKeyType"] == "REPLICA"
    for client in (east, west):
        assert wait_for(lambda: client.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled", timeout=10)

    # The new primary is the one that replicates and rotates; the old one no longer does.
    with pytest.raises(ClientError) as e:
        east.replicate_key(KeyId=key_id, ReplicaRegion=OREGON)
    assert error_code(e.value) == "UnsupportedOperationException"
    with pytest.raises(ClientError) as e:
        east.update_primary_region(KeyId=key_id, PrimaryRegion=SYDNEY)
    assert error_code(e.value) == "UnsupportedOperationException"
    out = west.replicate_key(KeyId=key_id, ReplicaRegion=OREGON)["ReplicaKeyMetadata"]
    assert out["MultiRegionConfiguration"]["PrimaryKey"] == {"Arn": west_arn, "Region": WEST}
    wait_enabled(kms_in(OREGON), key_id)
    assert sorted(replica_regions(mr_config(east, key_id))) == sorted([REGION, SYDNEY, OREGON])

    # Material is still shared.
    blob = west.encrypt(KeyId=key_id, Plaintext=b"after the move")["CiphertextBlob"]
    assert east.decrypt(CiphertextBlob=blob)["Plaintext"] == b"after the move"
    assert kms_in(OREGON).decrypt(CiphertextBlob=blob)["Plaintext"] == b"after the move"


def test_update_primary_region_to_a_region_without_a_replica_is_not_found(kms_in):
    primary = new_mrk(kms_in, WEST)
    with pytest.raises(ClientError) as e:
        kms_in(REGION).update_primary_region(KeyId=primary["KeyId"], PrimaryRegion=SYDNEY)
    assert error_code(e.value) == "NotFoundException"
    assert mr_config(kms_in(REGION), primary["KeyId"])["MultiRegionKeyType"] == "PRIMARY"
    single = kms_in(REGION).create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        kms_in(REGION).update_primary_region(KeyId=single["KeyId"], PrimaryRegion=WEST)
    assert error_code(e.value) == "UnsupportedOperationException"


def test_update_primary_region_needs_both_keys_enabled(kms_in):
    # AWS Developer Guide (multi-region-update): "Both the primary key and the replica key must be
    # in the Enabled key state when the operation starts."
    primary = new_mrk(kms_in, WEST)
    key_id = primary["KeyId"]
    east, west = kms_in(REGION), kms_in(WEST)
    west.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as e:
        east.update_primary_region(KeyId=key_id, PrimaryRegion=WEST)
    assert error_code(e.value) in ("DisabledException", "KMSInvalidStateException"), e.value.response["Error"]
    assert mr_config(east, key_id)["MultiRegionKeyType"] == "PRIMARY"
    west.enable_key(KeyId=key_id)
    east.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as e:
        east.update_primary_region(KeyId=key_id, PrimaryRegion=WEST)
    assert error_code(e.value) in ("DisabledException", "KMSInvalidStateException"), e.value.response["Error"]
    assert mr_config(west, key_id)["MultiRegionKeyType"] == "REPLICA"


# --------------------------------------------------------------------------------------------
# 4. Deleting a set
# --------------------------------------------------------------------------------------------


def test_primary_waits_for_its_replicas_to_be_deleted(dev_server):
    east, west, sydney = (kms_client(dev_server, r) for r in (REGION, WEST, SYDNEY))
    primary = east.create_key(MultiRegion=True)["KeyMetadata"]
    key_id = primary["KeyId"]
    for region, client in ((WEST, west), (SYDNEY, sydney)):
        east.replicate_key(KeyId=key_id, ReplicaRegion=region)
        wait_enabled(client, key_id)

    out = east.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyId"] == primary["Arn"]
    assert out["KeyState"] == "PendingReplicaDeletion"
    assert out["PendingWindowInDays"] == 7
    assert "DeletionDate" not in out
    meta = east.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingReplicaDeletion"
    assert meta["PendingDeletionWindowInDays"] == 7
    assert "DeletionDate" not in meta
    # It can't be used or replicated; its replicas still work.
    with pytest.raises(ClientError) as e:
        east.encrypt(KeyId=key_id, Plaintext=b"x")
    assert error_code(e.value) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as e:
        east.replicate_key(KeyId=key_id, ReplicaRegion=OREGON)
    assert error_code(e.value) == "KMSInvalidStateException"
    assert west.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"] == arn_in(WEST, key_id)

    w = west.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert w["KeyState"] == "PendingDeletion"
    assert "DeletionDate" in w
    s = sydney.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=10)
    assert s["KeyState"] == "PendingDeletion"

    # After 7 days the west replica is gone; the primary still waits for Sydney.
    dev_server.advance_clock(7 * 86400 + 60)
    with pytest.raises(ClientError) as e:
        west.describe_key(KeyId=key_id)
    assert error_code(e.value) == "NotFoundException"
    meta = east.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingReplicaDeletion"
    assert replica_regions(meta["MultiRegionConfiguration"]) == [SYDNEY]

    # After 10 days the last replica is gone: the primary's own 7-day window starts then.
    dev_server.advance_clock(3 * 86400)
    with pytest.raises(ClientError) as e:
        sydney.describe_key(KeyId=key_id)
    assert error_code(e.value) == "NotFoundException"
    now = server_now(east)

    def pending():
        return east.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"

    if not wait_for(pending, timeout=2):
        dev_server.advance_clock(1)  # let the next housekeeping pass see the set is empty
    assert wait_for(pending, timeout=5), east.describe_key(KeyId=key_id)["KeyMetadata"]
    meta = east.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["MultiRegionConfiguration"]["ReplicaKeys"] == []
    deletion = meta["DeletionDate"]
    window = deletion - now
    assert datetime.timedelta(days=7) - datetime.timedelta(minutes=5) <= window <= \
        datetime.timedelta(days=7) + datetime.timedelta(minutes=5), (now, deletion)

    dev_server.advance_clock(7 * 86400 + 120)
    with pytest.raises(ClientError) as e:
        east.describe_key(KeyId=key_id)
    assert error_code(e.value) == "NotFoundException"


def test_cancelling_a_replica_deletion_keeps_it_in_the_set(dev_server):
    east, west = kms_client(dev_server), kms_client(dev_server, WEST)
    primary = east.create_key(MultiRegion=True)["KeyMetadata"]
    key_id = primary["KeyId"]
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    wait_enabled(west, key_id)
    west.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    west.cancel_key_deletion(KeyId=key_id)
    assert west.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    dev_server.advance_clock(8 * 86400)
    assert west.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    assert replica_regions(mr_config(east, key_id)) == [WEST]


# --------------------------------------------------------------------------------------------
# 5. Authorization of ReplicateKey
# --------------------------------------------------------------------------------------------


def test_replicate_key_needs_replicate_key_and_create_key(server, kms_in, iam):
    primary = kms_in(REGION).create_key(MultiRegion=True)["KeyMetadata"]  # default policy: IAM decides
    name = unique("replicator")
    _, key = make_user(iam, name=name, inline=policy_doc(allow(["kms:ReplicateKey", "kms:DescribeKey"])))
    user_kms = kms_client(server, creds=key)
    with pytest.raises(ClientError) as e:
        user_kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=WEST)
    assert error_code(e.value) == "AccessDeniedException"
    assert mr_config(kms_in(REGION), primary["KeyId"])["ReplicaKeys"] == []
    with pytest.raises(ClientError) as e:
        kms_in(WEST).describe_key(KeyId=primary["KeyId"])
    assert error_code(e.value) == "NotFoundException"

    # kms:CreateKey alone is not enough either.
    iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy_doc(allow("kms:CreateKey")))
    with pytest.raises(ClientError) as e:
        user_kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=WEST)
    assert error_code(e.value) == "AccessDeniedException"

    # Both: allowed.
    iam.put_user_policy(UserName=name, PolicyName="inline",
                        PolicyDocument=policy_doc(allow(["kms:ReplicateKey", "kms:CreateKey"])))
    out = user_kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=WEST)
    assert out["ReplicaKeyMetadata"]["Arn"] == arn_in(WEST, primary["KeyId"])


def test_replicate_key_must_be_allowed_by_the_primary_key_policy(server, kms_in, iam):
    name = unique("replicator")
    user, key = make_user(iam, name=name, inline=policy_doc(allow("kms:*")))
    # The key policy gives the user everything but kms:ReplicateKey, and does not delegate to IAM.
    key_policy = policy_doc(
        {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ADMIN_ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalType": "Account"}}},
        {"Sid": "user", "Effect": "Allow", "Principal": {"AWS": user["Arn"]},
         "Action": ["kms:DescribeKey", "kms:Encrypt"], "Resource": "*"},
    )
    primary = kms_in(REGION).create_key(MultiRegion=True, Policy=key_policy,
                                        BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    user_kms = kms_client(server, creds=key)
    assert user_kms.describe_key(KeyId=primary["KeyId"])["KeyMetadata"]["MultiRegion"] is True
    with pytest.raises(ClientError) as e:
        user_kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=WEST)
    assert error_code(e.value) == "AccessDeniedException"


# --------------------------------------------------------------------------------------------
# 6. ML-KEM and ML-DSA
# --------------------------------------------------------------------------------------------

MLKEM = {
    # spec: (public key bytes, ciphertext bytes, cryptography class or None)
    "ML_KEM_512": (800, 768, None),
    "ML_KEM_768": (1184, 1088, mlkem.MLKEM768PublicKey),
    "ML_KEM_1024": (1568, 1568, mlkem.MLKEM1024PublicKey),
}


def raw_spki_key(der):
    """The subjectPublicKey BIT STRING contents of a DER SubjectPublicKeyInfo."""

    def read(buf, pos):
        tag = buf[pos]
        length = buf[pos + 1]
        pos += 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(buf[pos:pos + n], "big")
            pos += n
        return tag, buf[pos:pos + length], pos + length

    tag, body, _ = read(der, 0)
    assert tag == 0x30
    tag, _, pos = read(body, 0)  # AlgorithmIdentifier
    assert tag == 0x30
    tag, bits, _ = read(body, pos)
    assert tag == 0x03 and bits[0] == 0
    return bits[1:]


@pytest.fixture(scope="module")
def kem_keys(kms):
    return {spec: kms.create_key(KeySpec=spec, KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]
            for spec in MLKEM}


@pytest.mark.parametrize("spec", sorted(MLKEM))
def test_ml_kem_encapsulate_and_decapsulate_agree(kms, kem_keys, spec):
    pub_len, ct_len, local_cls = MLKEM[spec]
    meta = kem_keys[spec]
    assert meta["KeySpec"] == spec
    assert meta["KeyUsage"] == "ENCAPSULATE_DECAPSULATE"
    assert meta["EncapsulationAlgorithms"] == ["ML_KEM"]
    pub = kms.get_public_key(KeyId=meta["KeyId"])
    assert pub["KeyId"] == meta["Arn"]
    assert pub["KeySpec"] == spec
    assert pub["KeyUsage"] == "ENCAPSULATE_DECAPSULATE"
    assert pub["EncapsulationAlgorithms"] == ["ML_KEM"]
    assert len(raw_spki_key(pub["PublicKey"])) == pub_len

    enc = kms.encapsulate(KeyId=meta["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert enc["KeyId"] == meta["Arn"]
    assert enc["EncapsulationAlgorithm"] == "ML_KEM"
    assert len(enc["SharedSecret"]) == 32
    assert len(enc["SharedSecretCiphertextBlob"]) == ct_len
    dec = kms.decapsulate(KeyId=meta["KeyId"], EncapsulationAlgorithm="ML_KEM",
                          SharedSecretCiphertextBlob=enc["SharedSecretCiphertextBlob"])
    assert dec["KeyId"] == meta["Arn"]
    assert dec["EncapsulationAlgorithm"] == "ML_KEM"
    assert dec["SharedSecret"] == enc["SharedSecret"]
    # Each encapsulation is fresh.
    again = kms.encapsulate(KeyId=meta["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert again["SharedSecret"] != enc["SharedSecret"]

    # Independently: encapsulate to the public key locally, decapsulate in KMS.
    if local_cls is not None:
        local_pub = serialization.load_der_public_key(pub["PublicKey"])
        assert isinstance(local_pub, local_cls)
        secret, ciphertext = local_pub.encapsulate()
        out = kms.decapsulate(KeyId=meta["KeyId"], EncapsulationAlgorithm="ML_KEM",
                              SharedSecretCiphertextBlob=ciphertext)
        assert out["SharedSecret"] == secret

    # Implicit rejection: a tampered ciphertext of the right length decapsulates, to another secret.
    ct = enc["SharedSecretCiphertextBlob"]
    tampered = ct[:10] + bytes([ct[10] ^ 0x01]) + ct[11:]
    bad = kms.decapsulate(KeyId=meta["KeyId"], EncapsulationAlgorithm="ML_KEM",
                          SharedSecretCiphertextBlob=tampered)
    assert len(bad["SharedSecret"]) == 32
    assert bad["SharedSecret"] != enc["SharedSecret"]
    # The wrong length is an error.
    for wrong in (ct[:-1], ct + b"\x00"):
        with pytest.raises(ClientError) as e:
            kms.decapsulate(KeyId=meta["KeyId"], EncapsulationAlgorithm="ML_KEM",
                            SharedSecretCiphertextBlob=wrong)
        assert error_code(e.value) in ("InvalidCiphertextException", "ValidationException"), e.value.response


def test_encapsulate_needs_an_encapsulation_key(kms, kem_keys):
    sym = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        kms.encapsulate(KeyId=sym["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert error_code(e.value) == "InvalidKeyUsageException"
    enc = kms.encapsulate(KeyId=kem_keys["ML_KEM_768"]["KeyId"], EncapsulationAlgorithm="ML_KEM")
    with pytest.raises(ClientError) as e:
        kms.decapsulate(KeyId=sym["KeyId"], EncapsulationAlgorithm="ML_KEM",
                        SharedSecretCiphertextBlob=enc["SharedSecretCiphertextBlob"])
    assert error_code(e.value) == "InvalidKeyUsageException"
    dsa = kms.create_key(KeySpec="ML_DSA_44", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        kms.encapsulate(KeyId=dsa["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert error_code(e.value) == "InvalidKeyUsageException"
    # And an ML-KEM key does nothing but encapsulation.
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCRYPT_DECRYPT")
    assert error_code(e.value) == "ValidationException"


def test_encapsulate_and_decapsulate_honour_dry_run(kms, kem_keys):
    key_id = kem_keys["ML_KEM_512"]["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM", DryRun=True)
    assert error_code(e.value) == "DryRunOperationException"
    enc = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    with pytest.raises(ClientError) as e:
        kms.decapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM",
                        SharedSecretCiphertextBlob=enc["SharedSecretCiphertextBlob"], DryRun=True)
    assert error_code(e.value) == "DryRunOperationException"


def test_disabled_kem_key_is_refused(kms):
    meta = kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]
    kms.disable_key(KeyId=meta["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.encapsulate(KeyId=meta["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert error_code(e.value) == "DisabledException"


MLDSA = {
    "ML_DSA_44": (mldsa.MLDSA44PublicKey, 2420),
    "ML_DSA_65": (mldsa.MLDSA65PublicKey, 3309),
    "ML_DSA_87": (mldsa.MLDSA87PublicKey, 4627),
}


@pytest.mark.parametrize("spec", sorted(MLDSA))
def test_ml_dsa_sign_and_verify_round_trip(kms, spec):
    local_cls, sig_len = MLDSA[spec]
    meta = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert meta["SigningAlgorithms"] == ["ML_DSA_SHAKE_256"]
    message = b"post-quantum message " + spec.encode()
    out = kms.sign(KeyId=meta["KeyId"], Message=message, MessageType="RAW", SigningAlgorithm="ML_DSA_SHAKE_256")
    assert out["KeyId"] == meta["Arn"]
    assert out["SigningAlgorithm"] == "ML_DSA_SHAKE_256"
    sig = out["Signature"]
    assert len(sig) == sig_len
    v = kms.verify(KeyId=meta["KeyId"], Message=message, MessageType="RAW", Signature=sig,
                   SigningAlgorithm="ML_DSA_SHAKE_256")
    assert v["SignatureValid"] is True
    # Independently, with the public key.
    pub = serialization.load_der_public_key(kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"])
    assert isinstance(pub, local_cls)
    pub.verify(sig, message)
    # Another message does not verify.
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=meta["KeyId"], Message=message + b"!", MessageType="RAW", Signature=sig,
                   SigningAlgorithm="ML_DSA_SHAKE_256")
    assert error_code(e.value) == "KMSInvalidSignatureException"


# --------------------------------------------------------------------------------------------
# 7. ListKeyPolicies, GetKeyLastUsage
# --------------------------------------------------------------------------------------------


def test_list_key_policies_has_the_one_default_policy(kms_in):
    meta = kms_in(REGION).create_key()["KeyMetadata"]
    out = kms_in(REGION).list_key_policies(KeyId=meta["KeyId"])
    assert out["PolicyNames"] == ["default"]
    assert out["Truncated"] is False
    assert "NextMarker" not in out
    assert kms_in(REGION).list_key_policies(KeyId=meta["Arn"], Limit=1)["PolicyNames"] == ["default"]
    primary = new_mrk(kms_in, WEST)
    assert kms_in(WEST).list_key_policies(KeyId=primary["KeyId"])["PolicyNames"] == ["default"]
    with pytest.raises(ClientError) as e:
        kms_in(REGION).list_key_policies(KeyId="11111111-2222-3333-4444-555555555555")
    assert error_code(e.value) == "NotFoundException"


def test_get_key_last_usage_reports_the_last_successful_cryptographic_operation(kms):
    meta = kms.create_key()["KeyMetadata"]
    out = kms.get_key_last_usage(KeyId=meta["KeyId"])
    assert out["KeyId"] == meta["Arn"]
    assert out["KeyCreationDate"] == meta["CreationDate"]
    assert "TrackingStartDate" in out
    assert out["KeyCreationDate"] >= out["TrackingStartDate"]
    assert "KeyLastUsage" not in out

    # Management operations are not uses.
    kms.describe_key(KeyId=meta["KeyId"])
    kms.update_key_description(KeyId=meta["KeyId"], Description="x")
    assert "KeyLastUsage" not in kms.get_key_last_usage(KeyId=meta["KeyId"])

    enc = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"used", EncryptionContext=CONTEXT)
    request_id = enc["ResponseMetadata"]["RequestId"]
    usage = kms.get_key_last_usage(KeyId=meta["KeyId"])["KeyLastUsage"]
    assert usage["Operation"] == "Encrypt"
    assert usage["KmsRequestId"] == request_id
    assert usage["Timestamp"] >= meta["CreationDate"]

    # A failed operation is not a use.
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"purpose": "wrong"})
    usage = kms.get_key_last_usage(KeyId=meta["Arn"])["KeyLastUsage"]
    assert usage["Operation"] == "Encrypt"
    assert usage["KmsRequestId"] == request_id

    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=CONTEXT)
    usage = kms.get_key_last_usage(KeyId=meta["KeyId"])["KeyLastUsage"]
    assert usage["Operation"] == "Decrypt"
    assert usage["KmsRequestId"] == dec["ResponseMetadata"]["RequestId"]


def test_get_key_last_usage_does_not_take_an_alias(kms):
    # AWS: "To specify a KMS key, use its key ID or key ARN. Alias names are not supported."
    meta = kms.create_key()["KeyMetadata"]
    alias = "alias/" + unique("last-usage")
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    assert kms.get_key_last_usage(KeyId=meta["Arn"])["KeyId"] == meta["Arn"]
    with pytest.raises(ClientError):
        kms.get_key_last_usage(KeyId=alias)


def test_get_key_last_usage_names_the_cloudtrail_event(server, kms):
    meta = kms.create_key()["KeyMetadata"]
    enc = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"audited")
    request_id = enc["ResponseMetadata"]["RequestId"]
    ct = server.client("cloudtrail")

    def event():
        for ev in lookup_events(ct, "EventName", "Encrypt"):
            detail = json.loads(ev["CloudTrailEvent"])
            if detail.get("requestID") == request_id:
                return ev
        return None

    ev = wait_for(event, timeout=5)
    assert ev, "no CloudTrail event for the Encrypt"
    usage = kms.get_key_last_usage(KeyId=meta["KeyId"])["KeyLastUsage"]
    assert usage["KmsRequestId"] == request_id
    # AWS: "The response includes the operation type, timestamp, and associated CloudTrail event ID."
    assert usage.get("CloudTrailEventId") == ev["EventId"], usage


def test_last_usage_is_tracked_per_member_of_a_multi_region_set(kms_in):
    primary = new_mrk(kms_in, WEST)
    key_id = primary["KeyId"]
    east, west = kms_in(REGION), kms_in(WEST)
    enc = east.encrypt(KeyId=key_id, Plaintext=b"x")
    dec = west.decrypt(CiphertextBlob=enc["CiphertextBlob"])
    east_use = east.get_key_last_usage(KeyId=key_id)
    west_use = west.get_key_last_usage(KeyId=key_id)
    assert east_use["KeyId"] == primary["Arn"]
    assert west_use["KeyId"] == arn_in(WEST, key_id)
    assert east_use["KeyLastUsage"]["Operation"] == "Encrypt"
    assert east_use["KeyLastUsage"]["KmsRequestId"] == enc["ResponseMetadata"]["RequestId"]
    assert west_use["KeyLastUsage"]["Operation"] == "Decrypt"
    assert west_use["KeyLastUsage"]["KmsRequestId"] == dec["ResponseMetadata"]["RequestId"]


def test_encapsulate_and_decapsulate_are_tracked_uses(kms, kem_keys):
    key_id = kem_keys["ML_KEM_1024"]["KeyId"]
    enc = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    usage = kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]
    assert usage["Operation"] == "Encapsulate"
    assert usage["KmsRequestId"] == enc["ResponseMetadata"]["RequestId"]
    dec = kms.decapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM",
                          SharedSecretCiphertextBlob=enc["SharedSecretCiphertextBlob"])
    usage = kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]
    assert usage["Operation"] == "Decapsulate"
    assert usage["KmsRequestId"] == dec["ResponseMetadata"]["RequestId"]
