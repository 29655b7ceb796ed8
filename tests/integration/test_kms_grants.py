"""KMS grants: CreateGrant, ListGrants, ListRetirableGrants, RevokeGrant, RetireGrant, and
grants allowing exactly their operations when key policy and IAM do not, through boto3."""
import json
import re

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, allow, deny, error_code, make_user, policy_doc


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms")


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def new_key(kms, **kw):
    return kms.create_key(**kw)["KeyMetadata"]


def denied(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    assert error_code(e.value) == "AccessDeniedException"


def test_a_grant_allows_exactly_its_operations(server, kms, iam):
    meta = new_key(kms)
    user, key = make_user(iam)  # no IAM policy; the default key policy delegates to IAM
    ukms = server.client("kms", creds=key)
    denied(ukms.encrypt, KeyId=meta["KeyId"], Plaintext=b"x")
    grant = kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=user["Arn"], Operations=["Encrypt"])
    assert re.fullmatch(r"[0-9a-f]{64}", grant["GrantId"])
    assert grant["GrantToken"]
    blob = ukms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x", GrantTokens=[grant["GrantToken"]])["CiphertextBlob"]
    denied(ukms.decrypt, CiphertextBlob=blob)
    with pytest.raises(ClientError) as e:
        ukms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x", GrantTokens=["not-a-grant-token"])
    assert error_code(e.value) == "InvalidGrantTokenException"
    denied(ukms.describe_key, KeyId=meta["KeyId"])
    denied(ukms.create_grant, KeyId=meta["KeyId"], GranteePrincipal=user["Arn"], Operations=["Encrypt"])
    kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=user["Arn"], Operations=["Decrypt"])
    assert ukms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_an_explicit_deny_wins_over_a_grant(server, kms, iam):
    meta = new_key(kms)
    user, key = make_user(iam, inline=policy_doc(deny("kms:Encrypt")))
    kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=user["Arn"], Operations=["Encrypt"])
    denied(server.client("kms", creds=key).encrypt, KeyId=meta["KeyId"], Plaintext=b"x")


def test_encryption_context_constraints_are_enforced(server, kms, iam):
    meta = new_key(kms)
    sub_user, sub_key = make_user(iam)
    eq_user, eq_key = make_user(iam)
    kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=sub_user["Arn"], Operations=["Encrypt"],
                     Constraints={"EncryptionContextSubset": {"app": "a"}})
    kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=eq_user["Arn"], Operations=["Encrypt"],
                     Constraints={"EncryptionContextEquals": {"app": "a"}})
    sub = server.client("kms", creds=sub_key)
    sub.encrypt(KeyId=meta["KeyId"], Plaintext=b"x", EncryptionContext={"app": "a"})
    sub.encrypt(KeyId=meta["KeyId"], Plaintext=b"x", EncryptionContext={"app": "a", "more": "1"})
    denied(sub.encrypt, KeyId=meta["KeyId"], Plaintext=b"x", EncryptionContext={"app": "b"})
    denied(sub.encrypt, KeyId=meta["KeyId"], Plaintext=b"x")
    eq = server.client("kms", creds=eq_key)
    eq.encrypt(KeyId=meta["KeyId"], Plaintext=b"x", EncryptionContext={"app": "a"})
    denied(eq.encrypt, KeyId=meta["KeyId"], Plaintext=b"x", EncryptionContext={"app": "a", "more": "1"})
    denied(eq.encrypt, KeyId=meta["KeyId"], Plaintext=b"x")


def test_revoke_grant_removes_access(server, kms, iam):
    meta = new_key(kms)
    user, key = make_user(iam)
    ukms = server.client("kms", creds=key)
    g = kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=user["Arn"], Operations=["Encrypt"])
    ukms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
    kms.revoke_grant(KeyId=meta["KeyId"], GrantId=g["GrantId"])
    denied(ukms.encrypt, KeyId=meta["KeyId"], Plaintext=b"x")
    assert kms.list_grants(KeyId=meta["KeyId"])["Grants"] == []


def test_retire_grant_by_token_and_by_retiring_principal(server, kms, iam):
    meta = new_key(kms)
    user, key = make_user(iam)
    retirer, retirer_key = make_user(iam)
    ukms = server.client("kms", creds=key)
    rkms = server.client("kms", creds=retirer_key)
    g1 = kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=user["Arn"], Operations=["Encrypt", "RetireGrant"])
    ukms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
    ukms.retire_grant(GrantToken=g1["GrantToken"])
    denied(ukms.encrypt, KeyId=meta["KeyId"], Plaintext=b"x")

    g2 = kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=user["Arn"], Operations=["Encrypt"],
                          RetiringPrincipal=retirer["Arn"])
    ukms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
    denied(ukms.retire_grant, KeyId=meta["Arn"], GrantId=g2["GrantId"])  # grantee without RetireGrant
    rkms.retire_grant(KeyId=meta["Arn"], GrantId=g2["GrantId"])
    denied(ukms.encrypt, KeyId=meta["KeyId"], Plaintext=b"x")
    with pytest.raises(ClientError) as e:
        rkms.retire_grant(GrantToken="not-a-token")
    assert error_code(e.value) == "InvalidGrantTokenException"


def test_list_grants_and_list_retirable_grants(server, kms, iam):
    meta = new_key(kms)
    a, _ = make_user(iam)
    b, _ = make_user(iam)
    retirer, retirer_key = make_user(iam, inline=policy_doc(allow("kms:ListRetirableGrants")))
    ga = kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=a["Arn"], Operations=["Encrypt", "Decrypt"],
                          Name="alpha", RetiringPrincipal=retirer["Arn"],
                          Constraints={"EncryptionContextSubset": {"k": "v"}})
    again = kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=a["Arn"], Operations=["Decrypt", "Encrypt"],
                             Name="alpha", RetiringPrincipal=retirer["Arn"],
                             Constraints={"EncryptionContextSubset": {"k": "v"}})
    assert again["GrantId"] == ga["GrantId"]
    gb = kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=b["Arn"], Operations=["DescribeKey"])
    grants = kms.list_grants(KeyId=meta["KeyId"])["Grants"]
    assert sorted(g["GrantId"] for g in grants) == sorted([ga["GrantId"], gb["GrantId"]])
    entry = next(g for g in grants if g["GrantId"] == ga["GrantId"])
    assert entry["KeyId"] == meta["Arn"]
    assert entry["GranteePrincipal"] == a["Arn"]
    assert entry["RetiringPrincipal"] == retirer["Arn"]
    assert sorted(entry["Operations"]) == ["Decrypt", "Encrypt"]
    assert entry["Name"] == "alpha"
    assert entry["Constraints"] == {"EncryptionContextSubset": {"k": "v"}}
    assert entry["IssuingAccount"] == f"arn:aws:iam::{ADMIN_ACCOUNT}:root"
    only_b = kms.list_grants(KeyId=meta["KeyId"], GranteePrincipal=b["Arn"])["Grants"]
    assert [g["GrantId"] for g in only_b] == [gb["GrantId"]]
    # A grant created without a name is listed with `"Name": ""`, as AWS answers (awscli example
    # list-retirable-grants) although GrantNameType's minimum length is 1.
    assert only_b[0]["Name"] == ""
    by_id = kms.list_grants(KeyId=meta["KeyId"], GrantId=ga["GrantId"])["Grants"]
    assert [g["GrantId"] for g in by_id] == [ga["GrantId"]]
    first = kms.list_grants(KeyId=meta["KeyId"], Limit=1)
    assert first["Truncated"] is True and len(first["Grants"]) == 1
    second = kms.list_grants(KeyId=meta["KeyId"], Limit=1, Marker=first["NextMarker"])
    assert second["Truncated"] is False
    assert {first["Grants"][0]["GrantId"], second["Grants"][0]["GrantId"]} == {ga["GrantId"], gb["GrantId"]}
    rkms = server.client("kms", creds=retirer_key)
    retirable = rkms.list_retirable_grants(RetiringPrincipal=retirer["Arn"])["Grants"]
    assert [g["GrantId"] for g in retirable] == [ga["GrantId"]]
    denied(rkms.list_grants, KeyId=meta["KeyId"])


def test_create_grant_needs_kms_create_grant(server, kms, iam):
    meta = new_key(kms)
    grantee, _ = make_user(iam)
    _, key = make_user(iam, inline=policy_doc(allow("kms:DescribeKey")))
    denied(server.client("kms", creds=key).create_grant,
           KeyId=meta["KeyId"], GranteePrincipal=grantee["Arn"], Operations=["Encrypt"])
    _, key2 = make_user(iam, inline=policy_doc(allow("kms:CreateGrant", Condition={
        "ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt"]}})))
    limited = server.client("kms", creds=key2)
    limited.create_grant(KeyId=meta["KeyId"], GranteePrincipal=grantee["Arn"], Operations=["Decrypt"])
    denied(limited.create_grant, KeyId=meta["KeyId"], GranteePrincipal=grantee["Arn"], Operations=["Encrypt"])


def test_grant_based_denials_are_audited(server, kms, iam):
    meta = new_key(kms)
    user, key = make_user(iam)
    kms.create_grant(KeyId=meta["KeyId"], GranteePrincipal=user["Arn"], Operations=["Decrypt"])
    ukms = server.client("kms", creds=key)
    denied(ukms.generate_data_key, KeyId=meta["KeyId"], KeySpec="AES_256")
    ct = server.client("cloudtrail")
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GenerateDataKey"}])["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    ours = [r for r in records if any(res.get("ARN") == meta["Arn"] for res in r.get("resources", []))]
    assert any(r.get("errorCode") == "AccessDeniedException"
               and r["userIdentity"].get("arn") == user["Arn"] for r in ours)
