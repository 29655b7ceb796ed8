"""KMS (TrentService): keys, their life cycle and key policies, aliases, tags, symmetric
encryption and data keys, through boto3."""
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, REGION, allow, deny, error_code, error_message, make_user, policy_doc, unique


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms")


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def new_key(kms, **kw):
    return kms.create_key(**kw)["KeyMetadata"]


def test_create_key_describes_a_symmetric_key_with_aws_metadata(kms):
    meta = new_key(kms, Description="first key")
    assert meta["AWSAccountId"] == ADMIN_ACCOUNT
    assert meta["Arn"] == f"arn:aws:kms:{REGION}:{ADMIN_ACCOUNT}:key/{meta['KeyId']}"
    assert uuid.UUID(meta["KeyId"]).version == 4
    assert meta["Enabled"] is True
    assert meta["KeyState"] == "Enabled"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["KeySpec"] == meta["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert meta["Origin"] == "AWS_KMS"
    assert meta["KeyManager"] == "CUSTOMER"
    assert meta["MultiRegion"] is False
    assert meta["Description"] == "first key"
    described = kms.describe_key(KeyId=meta["Arn"])["KeyMetadata"]
    assert described["KeyId"] == meta["KeyId"]
    assert described["CreationDate"] == meta["CreationDate"]


def test_create_key_reports_algorithms_of_asymmetric_and_hmac_specs(kms):
    sign = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    assert sign["SigningAlgorithms"] == ["ECDSA_SHA_256"]
    assert "EncryptionAlgorithms" not in sign
    mac = new_key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    assert mac["MacAlgorithms"] == ["HMAC_SHA_256"]


def test_create_key_refuses_a_usage_the_spec_does_not_allow(kms):
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="RSA_2048", KeyUsage="KEY_AGREEMENT")
    assert error_code(e.value) == "ValidationException"
    assert error_message(e.value) == "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048"
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="ECC_NIST_P256")
    assert error_message(e.value) == (
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
    )


def test_create_key_default_policy_is_aws_default(kms):
    meta = new_key(kms)
    policy = json.loads(kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"])
    [st] = policy["Statement"]
    assert st["Sid"] == "Enable IAM User Permissions"
    assert st["Principal"] == {"AWS": f"arn:aws:iam::{ADMIN_ACCOUNT}:root"}
    assert st["Action"] == "kms:*"
    assert st["Resource"] == "*"


def test_malformed_key_policy_is_refused(kms):
    with pytest.raises(ClientError) as e:
        kms.create_key(Policy='{"Version": "2012-10-17", "Statement": "nope"}')
    assert error_code(e.value) == "MalformedPolicyDocumentException"


def test_list_keys_pages_through_the_accounts_keys(kms):
    ids = {new_key(kms)["KeyId"] for _ in range(3)}
    seen, marker = [], None
    while True:
        kw = {"Limit": 2}
        if marker:
            kw["Marker"] = marker
        page = kms.list_keys(**kw)
        assert len(page["Keys"]) <= 2
        seen += [k["KeyId"] for k in page["Keys"]]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert ids <= set(seen)
    assert len(seen) == len(set(seen))


def test_encrypt_decrypt_round_trip_with_and_without_key_id(kms):
    meta = new_key(kms)
    out = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"secret data")
    assert out["KeyId"] == meta["Arn"]
    assert out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = out["CiphertextBlob"]
    plain = kms.decrypt(CiphertextBlob=blob)
    assert plain["Plaintext"] == b"secret data"
    assert plain["KeyId"] == meta["Arn"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId=meta["Arn"])["Plaintext"] == b"secret data"


def test_dry_run_checks_the_request_without_performing_it(kms):
    key_id = new_key(kms)["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key_id, Plaintext=b"x", DryRun=True)
    assert error_code(e.value) == "DryRunOperationException"
    assert error_message(e.value) == "The request would have succeeded, but the DryRun option is set."
    with pytest.raises(ClientError) as e:
        kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", DryRun=True)
    assert error_code(e.value) == "DryRunOperationException"
    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key_id, Plaintext=b"x", DryRun=True)
    assert error_code(e.value) == "DisabledException"


def test_decrypt_with_another_key_id_is_incorrect_key(kms):
    blob = kms.encrypt(KeyId=new_key(kms)["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, KeyId=new_key(kms)["KeyId"])
    assert error_code(e.value) == "IncorrectKeyException"
    assert error_message(e.value) == (
        "The key ID in the request does not identify a CMK that can perform this operation."
    )


def test_decrypt_with_wrong_encryption_context_fails(kms):
    key_id = new_key(kms)["KeyId"]
    ctx = {"purpose": "test", "tenant": "a"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"bound", EncryptionContext=ctx)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == b"bound"
    for wrong in ({}, {"purpose": "test", "tenant": "b"}, {"purpose": "test"}):
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=blob, EncryptionContext=wrong)
        assert error_code(e.value) == "InvalidCiphertextException"


def test_tampered_ciphertext_is_invalid_ciphertext(kms):
    blob = bytearray(kms.encrypt(KeyId=new_key(kms)["KeyId"], Plaintext=b"payload")["CiphertextBlob"])
    blob[-1] ^= 1
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=bytes(blob))
    assert error_code(e.value) == "InvalidCiphertextException"
    assert error_message(e.value) == ""
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=b"not a kms blob at all, really not")
    assert error_code(e.value) == "InvalidCiphertextException"


def test_disabled_key_refuses_encrypt_with_exact_message_and_enable_restores(kms):
    meta = new_key(kms)
    kms.disable_key(KeyId=meta["KeyId"])
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "Disabled"
    assert described["Enabled"] is False
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
    assert error_code(e.value) == "DisabledException"
    assert error_message(e.value) == f"{meta['Arn']} is disabled."
    kms.enable_key(KeyId=meta["KeyId"])
    assert kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")["KeyId"] == meta["Arn"]


def test_pending_deletion_key_is_invalid_state_and_cancel_leaves_it_disabled(kms):
    meta = new_key(kms)
    out = kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion"
    assert out["PendingWindowInDays"] == 7
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion"
    assert described["DeletionDate"] == out["DeletionDate"]
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
    assert error_code(e.value) == "KMSInvalidStateException"
    assert error_message(e.value) == f"{meta['Arn']} is pending deletion."
    assert kms.cancel_key_deletion(KeyId=meta["KeyId"])["KeyId"] == meta["Arn"]
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "Disabled"
    assert "DeletionDate" not in described


def test_schedule_key_deletion_window_must_be_7_to_30_days(kms):
    key_id = new_key(kms)["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=6)
    assert error_code(e.value) == "ValidationException"
    out = kms.schedule_key_deletion(KeyId=key_id)
    assert out["PendingWindowInDays"] == 30


def test_aliases_resolve_for_encrypt_and_decrypt(kms):
    meta = new_key(kms)
    name = f"alias/{unique('app')}"
    kms.create_alias(AliasName=name, TargetKeyId=meta["KeyId"])
    blob = kms.encrypt(KeyId=name, Plaintext=b"via alias")["CiphertextBlob"]
    alias_arn = f"arn:aws:kms:{REGION}:{ADMIN_ACCOUNT}:{name}"
    assert kms.decrypt(CiphertextBlob=blob, KeyId=alias_arn)["Plaintext"] == b"via alias"
    assert kms.describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyId"] == meta["KeyId"]
    listed = kms.list_aliases(KeyId=meta["KeyId"])["Aliases"]
    assert [(a["AliasName"], a["AliasArn"], a["TargetKeyId"]) for a in listed] == [
        (name, alias_arn, meta["KeyId"])
    ]
    other = new_key(kms)
    kms.update_alias(AliasName=name, TargetKeyId=other["Arn"])
    assert kms.encrypt(KeyId=name, Plaintext=b"x")["KeyId"] == other["Arn"]
    kms.delete_alias(AliasName=name)
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=name, Plaintext=b"x")
    assert error_code(e.value) == "NotFoundException"
    assert error_message(e.value) == f"Alias {alias_arn} is not found."


def test_alias_names_are_validated_and_unique(kms):
    key_id = new_key(kms)["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="noprefix", TargetKeyId=key_id)
    assert error_code(e.value) == "ValidationException"
    assert error_message(e.value) == (
        'Alias must start with the prefix "alias/". Please see '
        "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
    )
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/aws/reserved", TargetKeyId=key_id)
    assert error_code(e.value) == "NotAuthorizedException"
    name = f"alias/{unique('dup')}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    assert error_code(e.value) == "AlreadyExistsException"


def test_generate_data_key_plaintext_decrypts_from_its_ciphertext_blob(kms):
    key_id = new_key(kms)["KeyId"]
    ctx = {"file": "a.txt"}
    out = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=ctx)
    assert len(out["Plaintext"]) == 32
    dec = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=ctx)
    assert dec["Plaintext"] == out["Plaintext"]
    out = kms.generate_data_key(KeyId=key_id, NumberOfBytes=64)
    assert len(out["Plaintext"]) == 64
    without = kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_128")
    assert "Plaintext" not in without
    assert len(kms.decrypt(CiphertextBlob=without["CiphertextBlob"])["Plaintext"]) == 16


def test_generate_data_key_needs_exactly_one_of_key_spec_and_number_of_bytes(kms):
    key_id = new_key(kms)["KeyId"]
    for kw in ({}, {"KeySpec": "AES_256", "NumberOfBytes": 32}):
        with pytest.raises(ClientError) as e:
            kms.generate_data_key(KeyId=key_id, **kw)
        assert error_code(e.value) == "ValidationException"


def test_generate_random_sizes_and_1025_is_validation_error(server, kms):
    for n in (1, 32, 1024):
        assert len(kms.generate_random(NumberOfBytes=n)["Plaintext"]) == n
    unvalidated = server.client("kms", validate=False)
    with pytest.raises(ClientError) as e:
        unvalidated.generate_random(NumberOfBytes=1025)
    assert error_code(e.value) == "ValidationException"
    assert error_message(e.value) == (
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value less than or equal to 1024"
    )


def test_wrong_key_usage_is_invalid_key_usage(kms):
    meta = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
    assert error_code(e.value) == "InvalidKeyUsageException"
    assert error_message(e.value) == f"{meta['Arn']} key usage is SIGN_VERIFY which is not valid for Encrypt."


def test_rsa_key_encrypts_and_decrypts_with_oaep(kms):
    meta = new_key(kms, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    assert meta["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    blob = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"rsa", EncryptionAlgorithm="RSAES_OAEP_SHA_256")[
        "CiphertextBlob"
    ]
    out = kms.decrypt(CiphertextBlob=blob, KeyId=meta["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert out["Plaintext"] == b"rsa"


def test_re_encrypt_moves_ciphertext_to_another_key(kms):
    a, b = new_key(kms), new_key(kms)
    blob = kms.encrypt(KeyId=a["KeyId"], Plaintext=b"move me", EncryptionContext={"k": "1"})["CiphertextBlob"]
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"k": "1"},
        DestinationKeyId=b["KeyId"],
        DestinationEncryptionContext={"k": "2"},
    )
    assert out["SourceKeyId"] == a["Arn"]
    assert out["KeyId"] == b["Arn"]
    dec = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"k": "2"})
    assert dec["Plaintext"] == b"move me"
    assert dec["KeyId"] == b["Arn"]


def test_unknown_key_ids_are_not_found_with_aws_messages(kms):
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="fake-key-id")
    assert error_code(e.value) == "NotFoundException"
    assert error_message(e.value) == "Invalid keyId 'fake-key-id'"
    missing = str(uuid.uuid4())
    arn = f"arn:aws:kms:{REGION}:{ADMIN_ACCOUNT}:key/{missing}"
    for given in (missing, arn):
        with pytest.raises(ClientError) as e:
            kms.encrypt(KeyId=given, Plaintext=b"x")
        assert error_code(e.value) == "NotFoundException"
        assert error_message(e.value) == f"Key '{arn}' does not exist"


def test_tags_update_description_and_put_key_policy(kms):
    meta = new_key(kms, Tags=[{"TagKey": "team", "TagValue": "a"}])
    kms.tag_resource(KeyId=meta["KeyId"], Tags=[{"TagKey": "team", "TagValue": "b"}, {"TagKey": "env", "TagValue": "x"}])
    tags = kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]
    assert tags == [{"TagKey": "team", "TagValue": "b"}, {"TagKey": "env", "TagValue": "x"}]
    kms.untag_resource(KeyId=meta["KeyId"], TagKeys=["team"])
    assert kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [{"TagKey": "env", "TagValue": "x"}]
    with pytest.raises(ClientError) as e:
        kms.tag_resource(KeyId=meta["KeyId"], Tags=[{"TagKey": "aws:x", "TagValue": "y"}])
    assert error_code(e.value) == "TagException"
    assert error_message(e.value) == "Tags beginning with aws: are reserved"
    kms.update_key_description(KeyId=meta["KeyId"], Description="changed")
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["Description"] == "changed"
    policy = kms.get_key_policy(KeyId=meta["KeyId"])["Policy"]
    doc = json.loads(policy)
    doc["Statement"][0]["Sid"] = "Renamed"
    kms.put_key_policy(KeyId=meta["KeyId"], PolicyName="default", Policy=json.dumps(doc))
    assert json.loads(kms.get_key_policy(KeyId=meta["KeyId"])["Policy"])["Statement"][0]["Sid"] == "Renamed"


def test_key_policy_without_root_statement_refuses_iam_allowed_user_and_root(server, kms, iam):
    _, key = make_user(iam, inline=policy_doc(allow("kms:*")))
    someone_else = f"arn:aws:iam::{ADMIN_ACCOUNT}:user/{unique('nobody')}"
    iam.create_user(UserName=someone_else.rsplit("/", 1)[1])
    only_someone = policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": someone_else}, "Action": "kms:*", "Resource": "*"}
    )
    # Without the bypass, the lockout safety check refuses a policy that locks the caller out.
    with pytest.raises(ClientError) as e:
        kms.create_key(Policy=only_someone)
    assert error_code(e.value) == "MalformedPolicyDocumentException"
    meta = new_key(kms, Policy=only_someone, BypassPolicyLockoutSafetyCheck=True)
    user_kms = server.client("kms", creds=key)
    for client in (user_kms, kms):
        with pytest.raises(ClientError) as e:
            client.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
        assert error_code(e.value) == "AccessDeniedException"
        with pytest.raises(ClientError) as e:
            client.describe_key(KeyId=meta["KeyId"])
        assert error_code(e.value) == "AccessDeniedException"


def test_iam_user_needs_an_iam_policy_under_the_default_key_policy(server, kms, iam):
    meta = new_key(kms)
    name = unique("kmsuser")
    _, key = make_user(iam, name=name, inline=policy_doc(allow("s3:GetObject")))
    user_kms = server.client("kms", creds=key)
    with pytest.raises(ClientError) as e:
        user_kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
    assert error_code(e.value) == "AccessDeniedException"
    iam.put_user_policy(UserName=name, PolicyName="kms", PolicyDocument=policy_doc(allow("kms:Encrypt", meta["Arn"])))
    assert user_kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")["KeyId"] == meta["Arn"]
    with pytest.raises(ClientError) as e:
        user_kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"y")["CiphertextBlob"])
    assert error_code(e.value) == "AccessDeniedException"


def test_encryption_context_condition_keys_reach_the_key_policy(server, kms, iam):
    name = unique("ctxuser")
    user, key = make_user(iam, name=name, inline=policy_doc(allow("kms:*")))
    root = f"arn:aws:iam::{ADMIN_ACCOUNT}:root"
    policy = policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalArn": user["Arn"]}}},
        {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "a"}}},
    )
    meta = new_key(kms, Policy=policy)
    user_kms = server.client("kms", creds=key)
    assert user_kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x", EncryptionContext={"tenant": "a"})
    with pytest.raises(ClientError) as e:
        user_kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x", EncryptionContext={"tenant": "b"})
    assert error_code(e.value) == "AccessDeniedException"


def test_key_is_deleted_when_its_pending_window_ends(dev_server):
    kms = dev_server.client("kms")
    meta = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)
    dev_server.advance_clock(7 * 86400 + 1)
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=meta["KeyId"])
    assert error_code(e.value) == "NotFoundException"
    assert error_message(e.value) == f"Key '{meta['Arn']}' does not exist"
    assert meta["KeyId"] not in [k["KeyId"] for k in kms.list_keys()["Keys"]]


def test_a_key_policy_naming_a_user_allows_it_without_an_iam_policy(server, kms, iam):
    user, key = make_user(iam)  # no IAM policy at all
    root = f"arn:aws:iam::{ADMIN_ACCOUNT}:root"
    meta = new_key(kms, Policy=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"},
    ))
    user_kms = server.client("kms", creds=key)
    blob = user_kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"named")["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"named"
    with pytest.raises(ClientError) as e:
        user_kms.disable_key(KeyId=meta["KeyId"])
    assert error_code(e.value) == "AccessDeniedException"


def test_principal_tag_conditions_in_a_key_policy(server, kms, iam):
    root = f"arn:aws:iam::{ADMIN_ACCOUNT}:root"
    meta = new_key(kms, Policy=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalType": "Account"}}},
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "crypto"}}},
    ))
    for team, allowed in (("crypto", True), ("web", False)):
        name = unique(f"kt-{team}")
        iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": team}])
        iam.put_user_policy(UserName=name, PolicyName="kms", PolicyDocument=policy_doc(allow("kms:Encrypt")))
        user_kms = server.client("kms", creds=iam.create_access_key(UserName=name)["AccessKey"])
        if allowed:
            user_kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"t")
        else:
            with pytest.raises(ClientError) as e:
                user_kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"t")
            assert error_code(e.value) == "AccessDeniedException"


def test_kms_denials_and_uses_are_audited_without_plaintext(server, kms, iam):
    meta = new_key(kms)
    secret = b"do-not-log-" + uuid.uuid4().hex.encode()
    kms.encrypt(KeyId=meta["KeyId"], Plaintext=secret, EncryptionContext={"purpose": "audit"})
    _, key = make_user(iam)
    with pytest.raises(ClientError):
        server.client("kms", creds=key).encrypt(KeyId=meta["KeyId"], Plaintext=secret)
    ct = server.client("cloudtrail")
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}])["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    ours = [r for r in records if any(res.get("ARN") == meta["Arn"] for res in r.get("resources", []))]
    assert any(r.get("errorCode") == "AccessDeniedException" for r in ours)
    ok = [r for r in ours if "errorCode" not in r]
    assert ok and ok[0]["requestParameters"]["encryptionContext"] == {"purpose": "audit"}
    assert ok[0]["eventSource"] == "kms.amazonaws.com"
    everything = json.dumps(records) + server.stderr_text() + server.stdout_text()
    assert secret.decode() not in everything


def test_key_property_condition_keys_in_iam_policies(server, kms, iam):
    # kms:KeySpec / kms:KeyUsage / kms:MultiRegion describe the key of every operation.
    _, key = make_user(iam, inline=policy_doc(
        allow("kms:*"),
        deny("kms:Sign", Condition={"StringEquals": {"kms:KeySpec": "ECC_NIST_P256"}}),
        deny("kms:Encrypt", Condition={"Bool": {"kms:MultiRegion": "true"}}),
    ))
    p256 = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    p384 = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    mrk = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    single = kms.create_key()["KeyMetadata"]["KeyId"]
    user_kms = server.client("kms", creds=key)
    user_kms.sign(KeyId=p384, Message=b"m", SigningAlgorithm="ECDSA_SHA_384")
    with pytest.raises(ClientError) as e:
        user_kms.sign(KeyId=p256, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert error_code(e.value) == "AccessDeniedException"
    user_kms.encrypt(KeyId=single, Plaintext=b"x")
    with pytest.raises(ClientError) as e:
        user_kms.encrypt(KeyId=mrk, Plaintext=b"x")
    assert error_code(e.value) == "AccessDeniedException"
