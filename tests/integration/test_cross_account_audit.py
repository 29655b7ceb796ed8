"""Cross-account calls in CloudTrail (issue 12). AWS: "Cross-account operations on KMS keys are
logged in both the caller account and the KMS key owner account. However, cross-account AWS KMS
requests that are rejected because access is denied are logged only in the caller's account."
Each copy has its own eventID and recipientAccountId, and both share one sharedEventID. The
same holds for other resources used across accounts through a resource policy (a secret, a
private CA)."""
import json

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, error_code, policy_doc, unique, wait_for

OWNER = ADMIN_ACCOUNT
CALLER = "222200001111"


@pytest.fixture(scope="module")
def caller_keys(server):
    return server.create_account(CALLER)


@pytest.fixture(scope="module")
def owner(server):
    return {svc: server.client(svc) for svc in ("kms", "cloudtrail", "secretsmanager", "acm-pca")}


@pytest.fixture(scope="module")
def caller(server, caller_keys):
    ak, sk = caller_keys
    return {svc: server.client(svc, access_key=ak, secret_key=sk)
            for svc in ("kms", "cloudtrail", "secretsmanager", "acm-pca")}


def shared_key_policy(actions):
    return policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{CALLER}:root"}, "Action": actions, "Resource": "*"},
    )


def events_for(ct, request_id, event_name):
    """The CloudTrail records of the request `request_id` in the trail `ct` reads."""
    found = []
    token = None
    while True:
        kw = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": event_name}], "MaxResults": 50}
        if token:
            kw["NextToken"] = token
        page = ct.lookup_events(**kw)
        for e in page["Events"]:
            record = json.loads(e["CloudTrailEvent"])
            if record["requestID"] == request_id:
                found.append(record)
        token = page.get("NextToken")
        if not token:
            return found


def both_copies(owner_ct, caller_ct, request_id, event_name):
    mine, theirs = [], []

    def seen():
        mine[:] = events_for(caller_ct, request_id, event_name)
        theirs[:] = events_for(owner_ct, request_id, event_name)
        return mine and theirs

    assert wait_for(seen), (mine, theirs)
    assert len(mine) == 1 and len(theirs) == 1
    return mine[0], theirs[0]


def check_pair(mine, theirs, resource_arn):
    assert mine["recipientAccountId"] == CALLER
    assert theirs["recipientAccountId"] == OWNER
    assert mine["eventID"] != theirs["eventID"]
    assert mine["sharedEventID"] and mine["sharedEventID"] == theirs["sharedEventID"]
    for record in (mine, theirs):
        assert record["userIdentity"]["accountId"] == CALLER
        assert record["userIdentity"]["arn"] == f"arn:aws:iam::{CALLER}:root"
        assert {"ARN": resource_arn, "accountId": OWNER} in [
            {"ARN": r["ARN"], "accountId": r["accountId"]} for r in record.get("resources", [])]


def test_cross_account_kms_use_is_logged_in_both_accounts(owner, caller):
    key = owner["kms"].create_key(Policy=shared_key_policy(["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*",
                                                             "kms:GenerateDataKey"]))["KeyMetadata"]
    out = caller["kms"].encrypt(KeyId=key["Arn"], Plaintext=b"hello")
    mine, theirs = both_copies(owner["cloudtrail"], caller["cloudtrail"], out["ResponseMetadata"]["RequestId"],
                               "Encrypt")
    check_pair(mine, theirs, key["Arn"])

    out = caller["kms"].re_encrypt(CiphertextBlob=out["CiphertextBlob"], SourceKeyId=key["Arn"],
                                   DestinationKeyId=key["Arn"])
    mine, theirs = both_copies(owner["cloudtrail"], caller["cloudtrail"], out["ResponseMetadata"]["RequestId"],
                               "ReEncrypt")
    check_pair(mine, theirs, key["Arn"])

    out = caller["kms"].generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")
    mine, theirs = both_copies(owner["cloudtrail"], caller["cloudtrail"], out["ResponseMetadata"]["RequestId"],
                               "GenerateDataKey")
    check_pair(mine, theirs, key["Arn"])

    # A call that fails after access was allowed is still logged in both accounts.
    with pytest.raises(ClientError) as e:
        caller["kms"].decrypt(KeyId=key["Arn"], CiphertextBlob=out["CiphertextBlob"],
                              EncryptionContext={"wrong": "context"})
    assert error_code(e.value) == "InvalidCiphertextException"
    mine, theirs = both_copies(owner["cloudtrail"], caller["cloudtrail"],
                               e.value.response["ResponseMetadata"]["RequestId"], "Decrypt")
    check_pair(mine, theirs, key["Arn"])
    assert theirs["errorCode"] == "InvalidCiphertextException"


def test_cross_account_kms_use_denied_is_logged_only_in_the_callers_account(server, owner, caller):
    key = owner["kms"].create_key(Policy=shared_key_policy(["kms:Decrypt"]))["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        caller["kms"].encrypt(KeyId=key["Arn"], Plaintext=b"hello")
    assert error_code(e.value) == "AccessDeniedException"
    request_id = e.value.response["ResponseMetadata"]["RequestId"]
    assert wait_for(lambda: events_for(caller["cloudtrail"], request_id, "Encrypt"))
    mine = events_for(caller["cloudtrail"], request_id, "Encrypt")
    assert len(mine) == 1
    assert mine[0]["errorCode"] == "AccessDeniedException"
    assert "sharedEventID" not in mine[0]
    assert events_for(owner["cloudtrail"], request_id, "Encrypt") == []


def test_same_account_use_has_no_shared_event_id(owner):
    key = owner["kms"].create_key()["KeyMetadata"]
    out = owner["kms"].encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    found = []
    assert wait_for(lambda: found.extend(events_for(owner["cloudtrail"], out["ResponseMetadata"]["RequestId"],
                                                    "Encrypt")) or found)
    assert len(found) == 1
    assert "sharedEventID" not in found[0]
    assert found[0]["resources"][0]["accountId"] == OWNER


def test_cross_account_get_secret_value_is_logged_in_both_accounts(owner, caller):
    key = owner["kms"].create_key(Policy=shared_key_policy(["kms:Decrypt"]))["KeyMetadata"]
    name = unique("shared")
    arn = owner["secretsmanager"].create_secret(Name=name, SecretString="s3cr3t", KmsKeyId=key["Arn"])["ARN"]
    with pytest.raises(ClientError) as e:
        caller["secretsmanager"].get_secret_value(SecretId=arn)
    assert error_code(e.value) == "AccessDeniedException"
    denied_id = e.value.response["ResponseMetadata"]["RequestId"]

    owner["secretsmanager"].put_resource_policy(SecretId=name, ResourcePolicy=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{CALLER}:root"},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    out = caller["secretsmanager"].get_secret_value(SecretId=arn)
    assert out["SecretString"] == "s3cr3t"
    mine, theirs = both_copies(owner["cloudtrail"], caller["cloudtrail"], out["ResponseMetadata"]["RequestId"],
                               "GetSecretValue")
    check_pair(mine, theirs, arn)
    assert "s3cr3t" not in json.dumps(theirs)
    # Secrets Manager's Decrypt of the owner's key for the caller reaches the key owner too.
    decrypts = []

    def decrypt_seen():
        decrypts[:] = [
            json.loads(e["CloudTrailEvent"])
            for e in owner["cloudtrail"].lookup_events(
                LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}],
                MaxResults=50)["Events"]
            if e["EventName"] == "Decrypt"]
        return decrypts

    assert wait_for(decrypt_seen)
    record = decrypts[0]
    assert record["userIdentity"]["accountId"] == CALLER
    assert record["recipientAccountId"] == OWNER
    assert record["sharedEventID"]
    assert record["userAgent"] == "secretsmanager.amazonaws.com"

    assert events_for(caller["cloudtrail"], denied_id, "GetSecretValue")
    assert events_for(owner["cloudtrail"], denied_id, "GetSecretValue") == []


def test_cross_account_private_ca_use_is_logged_in_both_accounts(owner, caller):
    pca = owner["acm-pca"]
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA",
                                           "Subject": {"CommonName": "shared root"}},
        CertificateAuthorityType="ROOT")["CertificateAuthorityArn"]
    pca.put_policy(ResourceArn=arn, Policy=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{CALLER}:root"},
         "Action": ["acm-pca:DescribeCertificateAuthority", "acm-pca:GetCertificateAuthorityCsr"],
         "Resource": arn}))
    out = caller["acm-pca"].get_certificate_authority_csr(CertificateAuthorityArn=arn)
    assert "BEGIN CERTIFICATE REQUEST" in out["Csr"]
    mine, theirs = both_copies(owner["cloudtrail"], caller["cloudtrail"], out["ResponseMetadata"]["RequestId"],
                               "GetCertificateAuthorityCsr")
    check_pair(mine, theirs, arn)
