"""S3 security through boto3 and the aws CLI: SSE-S3, SSE-KMS (through KMS for the caller, with
and without S3 Bucket Keys), SSE-C, default bucket encryption, bucket policies evaluated with the
caller's IAM policies, Block Public Access, and object and bucket tags."""

import base64
import hashlib
import json
import os

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, lookup_events, unique, wait_for

OTHER_ACCOUNT = "222233334444"


def s3_client(server, creds=None, profile="rampart"):
    if creds is None:
        access, secret = server.profile(profile)
        token = None
    else:
        access, secret, token = creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken")
    return boto3.session.Session().client(
        "s3",
        region_name=REGION,
        endpoint_url=server.endpoint,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        aws_session_token=token,
        verify=server.ca_bundle if getattr(server, "scheme", "http") == "https" else None,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def code(exc):
    return exc.value.response["Error"]["Code"]


def status(exc):
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def bucket_name(prefix="sec"):
    return unique(prefix).lower().replace("_", "-")[:60]


@pytest.fixture(scope="module")
def client(server):
    return s3_client(server)


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms")


@pytest.fixture(scope="module")
def tls_server(server_factory):
    return server_factory("s3tls", extra_args=["--tls"])


@pytest.fixture(scope="module")
def tls_client(tls_server):
    return s3_client(tls_server)


@pytest.fixture(scope="module")
def other(server):
    """Credentials of the root user of a second account."""
    access, secret = server.create_account(OTHER_ACCOUNT)
    return {"AccessKeyId": access, "SecretAccessKey": secret}


def new_bucket(client, **kw):
    name = bucket_name()
    client.create_bucket(Bucket=name, **kw)
    return name


def new_user(server, policy=None, creds=None):
    """An IAM user (of the account `creds` belongs to) with an access key and an optional inline
    policy; returns (arn, credentials)."""
    iam = server.client("iam", creds=creds) if creds else server.client("iam")
    name = unique("s3user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


def kms_events(server, event_name, bucket):
    """CloudTrail events of KMS calls S3 made for objects of `bucket` (or the bucket itself)."""
    ct = server.client("cloudtrail")
    found = []
    for e in lookup_events(ct, "EventName", event_name, max_events=5000):
        d = json.loads(e["CloudTrailEvent"])
        ctx = (d.get("requestParameters") or {}).get("encryptionContext") or {}
        arn = ctx.get("aws:s3:arn", "")
        if arn == f"arn:aws:s3:::{bucket}" or arn.startswith(f"arn:aws:s3:::{bucket}/"):
            found.append(d)
    return found


# --- SSE-KMS ----------------------------------------------------------------------------------


def test_sse_kms_objects_are_encrypted_through_kms_for_the_caller(server, client, kms):
    bucket = new_bucket(client)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    data = os.urandom(1024 * 1024 + 99)
    put = client.put_object(Bucket=bucket, Key="k", Body=data, ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == key
    got = client.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == data
    assert got["ServerSideEncryption"] == "aws:kms" and got["SSEKMSKeyId"] == key
    head = client.head_object(Bucket=bucket, Key="k")
    assert head["SSEKMSKeyId"] == key and "BucketKeyEnabled" not in head
    # The KMS calls are KMS events made through S3, bound to the object's ARN.
    gen = wait_for(lambda: kms_events(server, "GenerateDataKey", bucket))
    assert gen and gen[0]["userAgent"] == "s3.amazonaws.com"
    assert gen[0]["requestParameters"]["encryptionContext"] == {"aws:s3:arn": f"arn:aws:s3:::{bucket}/k"}
    assert wait_for(lambda: kms_events(server, "Decrypt", bucket))


def test_sse_kms_without_a_key_uses_the_aws_managed_key(client, kms):
    bucket = new_bucket(client)
    put = client.put_object(Bucket=bucket, Key="k", Body=b"managed", ServerSideEncryption="aws:kms")
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert put["SSEKMSKeyId"] == managed["Arn"] and managed["KeyManager"] == "AWS"
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"managed"


def test_sse_kms_with_a_key_whose_policy_denies_the_caller_fails_with_access_denied_from_kms(server, client, kms):
    me = server.client("sts").get_caller_identity()
    account, caller = me["Account"], me["Arn"]
    allow_root = {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                  "Action": "kms:*", "Resource": "*"}
    deny = {"Sid": "deny", "Effect": "Deny", "Principal": {"AWS": caller},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"}
    denied_key = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [allow_root, deny]}),
                                BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["Arn"]
    bucket = new_bucket(client)
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=denied_key)
    assert code(e) == "AccessDenied" and status(e) == 403
    assert "kms:GenerateDataKey" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        client.head_object(Bucket=bucket, Key="k")  # nothing was stored

    # Reading: written while allowed, read after the key policy starts denying Decrypt.
    key = kms.create_key()["KeyMetadata"]["Arn"]
    client.put_object(Bucket=bucket, Key="r", Body=b"readable", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    kms.put_key_policy(KeyId=key, PolicyName="default", BypassPolicyLockoutSafetyCheck=True,
                       Policy=json.dumps({"Version": "2012-10-17", "Statement": [allow_root, deny]}))
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="r")
    assert code(e) == "AccessDenied" and "kms:Decrypt" in e.value.response["Error"]["Message"]

    # Both refusals are KMS events in CloudTrail, made through S3 for the caller.
    def refused(name):
        return [d for d in kms_events(server, name, bucket) if d.get("errorCode")]
    gen = wait_for(lambda: refused("GenerateDataKey"))
    dec = wait_for(lambda: refused("Decrypt"))
    assert gen and dec
    for d in gen + dec:
        assert d["eventSource"] == "kms.amazonaws.com" and d["userIdentity"]["arn"] == caller
        assert d["errorCode"] == "AccessDeniedException"


def test_bucket_keys_make_one_kms_call_per_period_instead_of_one_per_object(server, client, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    plain = new_bucket(client)
    keyed = new_bucket(client)
    for b in (plain, keyed):
        client.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
            "BucketKeyEnabled": b == keyed}]})
    for i in range(10):
        for b in (plain, keyed):
            put = client.put_object(Bucket=b, Key=f"o{i}", Body=b"obj %d" % i)
            assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == key
            assert put.get("BucketKeyEnabled", False) == (b == keyed)
    for i in range(10):
        for b in (plain, keyed):
            got = client.get_object(Bucket=b, Key=f"o{i}")
            assert got["Body"].read() == b"obj %d" % i
            assert got.get("BucketKeyEnabled", False) == (b == keyed)
    assert len(wait_for(lambda: len(kms_events(server, "GenerateDataKey", plain)) >= 10 and
                        kms_events(server, "GenerateDataKey", plain))) == 10
    keyed_gen = kms_events(server, "GenerateDataKey", keyed)
    # One bucket-level key, bound to the bucket's ARN rather than an object's.
    assert len(keyed_gen) == 1
    assert keyed_gen[0]["requestParameters"]["encryptionContext"] == {"aws:s3:arn": f"arn:aws:s3:::{keyed}"}
    assert len(kms_events(server, "Decrypt", plain)) == 10
    assert len(kms_events(server, "Decrypt", keyed)) <= 1


def test_default_bucket_encryption_is_configured_read_and_removed(client, kms):
    bucket = new_bucket(client)
    # Every bucket encrypts with SSE-S3 by default.
    rule = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}, "BucketKeyEnabled": True}]})
    rule = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    assert rule["BucketKeyEnabled"] is True
    assert client.put_object(Bucket=bucket, Key="a", Body=b"a")["ServerSideEncryption"] == "aws:kms"
    # A request's own header wins over the default.
    assert client.put_object(Bucket=bucket, Key="b", Body=b"b", ServerSideEncryption="AES256")["ServerSideEncryption"] == "AES256"
    client.delete_bucket_encryption(Bucket=bucket)
    assert client.put_object(Bucket=bucket, Key="c", Body=b"c")["ServerSideEncryption"] == "AES256"
    with pytest.raises(ClientError) as e:
        client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": key}}]})
    assert code(e) == "InvalidArgument"


def test_bad_encryption_headers_get_aws_errors(client, kms):
    bucket = new_bucket(client)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256", SSEKMSKeyId=key)
    assert code(e) == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                          SSEKMSKeyId="arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000")
    assert code(e).startswith("KMS.")
    kms.disable_key(KeyId=key)
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    assert code(e) == "KMS.DisabledException"


def test_the_aws_cli_encrypts_with_kms_and_reads_back(server, client, kms, tmp_path):
    bucket = new_bucket(client)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    src = tmp_path / "in.txt"
    src.write_bytes(b"through the cli " * 100)
    r = server.cli("s3", "cp", str(src), f"s3://{bucket}/cli.txt", "--sse", "aws:kms", "--sse-kms-key-id", key)
    assert r.returncode == 0, r.stderr
    r = server.cli("s3api", "head-object", "--bucket", bucket, "--key", "cli.txt")
    assert r.returncode == 0, r.stderr
    head = json.loads(r.stdout)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key
    out = tmp_path / "out.txt"
    r = server.cli("s3", "cp", f"s3://{bucket}/cli.txt", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == src.read_bytes()
    r = server.cli("s3api", "put-bucket-encryption", "--bucket", bucket, "--server-side-encryption-configuration",
                   json.dumps({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}))
    assert r.returncode == 0, r.stderr
    r = server.cli("s3api", "get-bucket-encryption", "--bucket", bucket)
    assert json.loads(r.stdout)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


# --- SSE-C ------------------------------------------------------------------------------------


def ssec(key, prefix="SSECustomer"):
    return {f"{prefix}Algorithm": "AES256", f"{prefix}Key": key}


def test_sse_c_needs_the_key_on_every_read_and_is_checked(tls_client):
    bucket = new_bucket(tls_client)
    key, wrong = os.urandom(32), os.urandom(32)
    data = os.urandom(2 * 1024 * 1024 + 1)
    put = tls_client.put_object(Bucket=bucket, Key="c", Body=data, **ssec(key))
    md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
    assert put["SSECustomerAlgorithm"] == "AES256" and put["SSECustomerKeyMD5"] == md5
    assert "ServerSideEncryption" not in put
    got = tls_client.get_object(Bucket=bucket, Key="c", **ssec(key))
    assert got["Body"].read() == data and got["SSECustomerKeyMD5"] == md5
    assert tls_client.head_object(Bucket=bucket, Key="c", **ssec(key))["SSECustomerKeyMD5"] == md5
    with pytest.raises(ClientError) as e:
        tls_client.get_object(Bucket=bucket, Key="c")
    assert code(e) == "InvalidRequest" and status(e) == 400
    with pytest.raises(ClientError) as e:
        tls_client.get_object(Bucket=bucket, Key="c", **ssec(wrong))
    assert code(e) == "AccessDenied" and status(e) == 403
    with pytest.raises(ClientError) as e:
        tls_client.head_object(Bucket=bucket, Key="c")
    assert status(e) == 400
    with pytest.raises(ClientError) as e:
        tls_client.head_object(Bucket=bucket, Key="c", **ssec(wrong))
    assert status(e) == 403
    # Copy: the source key is needed, the copy may use another key.
    with pytest.raises(ClientError) as e:
        tls_client.copy_object(Bucket=bucket, Key="d", CopySource={"Bucket": bucket, "Key": "c"})
    assert code(e) == "InvalidRequest"
    tls_client.copy_object(Bucket=bucket, Key="d", CopySource={"Bucket": bucket, "Key": "c"},
                           **ssec(key, "CopySourceSSECustomer"), **ssec(wrong))
    assert tls_client.get_object(Bucket=bucket, Key="d", **ssec(wrong))["Body"].read() == data
    tls_client.copy_object(Bucket=bucket, Key="plain", CopySource={"Bucket": bucket, "Key": "c"},
                           **ssec(key, "CopySourceSSECustomer"))
    assert tls_client.get_object(Bucket=bucket, Key="plain")["Body"].read() == data
    # The key of an object not encrypted with one is refused.
    with pytest.raises(ClientError) as e:
        tls_client.get_object(Bucket=bucket, Key="plain", **ssec(key))
    assert code(e) == "InvalidRequest"


def test_sse_c_bad_input_gets_aws_errors(tls_client, client):
    bucket = new_bucket(tls_client)
    key = os.urandom(32)
    b64 = base64.b64encode(key).decode()
    with pytest.raises(ClientError) as e:
        tls_client.put_object(Bucket=bucket, Key="k", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=b64,
                              SSECustomerKeyMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
    assert code(e) == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        tls_client.put_object(Bucket=bucket, Key="k", Body=b"x", **ssec(os.urandom(16)))
    assert code(e) == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        tls_client.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256", **ssec(key))
    assert code(e) == "InvalidArgument"
    # Over plain HTTP, as on AWS.
    plain_bucket = new_bucket(client)
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=plain_bucket, Key="k", Body=b"x", **ssec(key))
    assert code(e) == "InvalidRequest" and "secure connection" in e.value.response["Error"]["Message"]


def test_a_bucket_can_block_sse_c_writes(tls_client):
    bucket = new_bucket(tls_client)
    tls_client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]}}]})
    with pytest.raises(ClientError) as e:
        tls_client.put_object(Bucket=bucket, Key="k", Body=b"x", **ssec(os.urandom(32)))
    assert code(e) == "InvalidRequest"
    tls_client.put_object(Bucket=bucket, Key="k", Body=b"x")


def test_the_aws_cli_uses_sse_c(tls_server, tls_client, tmp_path):
    bucket = new_bucket(tls_client)
    key = os.urandom(32)
    keyfile = tmp_path / "key.bin"
    keyfile.write_bytes(key)
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(70000))
    r = tls_server.cli("s3", "cp", str(src), f"s3://{bucket}/c.bin", "--sse-c", "AES256", "--sse-c-key", f"fileb://{keyfile}")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out.bin"
    r = tls_server.cli("s3", "cp", f"s3://{bucket}/c.bin", str(out))
    assert r.returncode != 0
    r = tls_server.cli("s3", "cp", f"s3://{bucket}/c.bin", str(out), "--sse-c", "AES256", "--sse-c-key", f"fileb://{keyfile}")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == src.read_bytes()


# --- at rest ----------------------------------------------------------------------------------


def test_no_plaintext_of_any_object_encrypted_any_of_the_four_ways_is_on_disk(server, client, tls_server, tls_client, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    marker = b"PLAINTEXT-MARKER-" + os.urandom(8).hex().encode()
    body = marker * 2000
    kms_bucket = new_bucket(client)
    client.put_object(Bucket=kms_bucket, Key="sse-s3", Body=body, ServerSideEncryption="AES256")
    client.put_object(Bucket=kms_bucket, Key="sse-kms", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    client.put_object(Bucket=kms_bucket, Key="dsse-kms", Body=body, ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=key)
    client.put_object(Bucket=kms_bucket, Key="bucket-key", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key,
                      BucketKeyEnabled=True)
    customer_key = os.urandom(32)
    c_bucket = new_bucket(tls_client)
    tls_client.put_object(Bucket=c_bucket, Key="sse-c", Body=body, **ssec(customer_key))
    for s in (server, tls_server):
        s.stop()
        s.start()
    hex_key = customer_key.hex().encode()
    b64_key = base64.b64encode(customer_key)
    found = []
    for d in (server.data_dir, tls_server.data_dir, server.log_dir, tls_server.log_dir):
        for root, _, files in os.walk(d):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    content = fh.read()
                for needle, what in ((marker, "object"), (customer_key, "customer key"), (hex_key, "customer key (hex)"),
                                     (b64_key, "customer key (base64)")):
                    if needle in content:
                        found.append((what, os.path.join(root, f)))
    assert not found, found
    c1, c2 = s3_client(server), s3_client(tls_server)
    for k in ("sse-s3", "sse-kms", "dsse-kms", "bucket-key"):
        got = c1.get_object(Bucket=kms_bucket, Key=k)
        assert got["Body"].read() == body
    assert c1.head_object(Bucket=kms_bucket, Key="dsse-kms")["ServerSideEncryption"] == "aws:kms:dsse"
    assert c2.get_object(Bucket=c_bucket, Key="sse-c", **ssec(customer_key))["Body"].read() == body


# --- bucket policies --------------------------------------------------------------------------


def test_bucket_policies_are_stored_and_checked(client):
    bucket = new_bucket(client)
    with pytest.raises(ClientError) as e:
        client.get_bucket_policy(Bucket=bucket)
    assert code(e) == "NoSuchBucketPolicy"
    with pytest.raises(ClientError) as e:
        client.put_bucket_policy(Bucket=bucket, Policy="not json")
    assert code(e) == "MalformedPolicy"
    with pytest.raises(ClientError) as e:
        client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}))
    assert code(e) == "MalformedPolicy"
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                                                      "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    assert client.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    client.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        client.get_bucket_policy_status(Bucket=bucket)
    assert code(e) == "NoSuchBucketPolicy"


def test_a_bucket_policy_grants_a_user_of_the_account_without_iam_policies(server, client):
    bucket = new_bucket(client)
    client.put_object(Bucket=bucket, Key="shared/a", Body=b"a")
    client.put_object(Bucket=bucket, Key="private/b", Body=b"b")
    arn, creds = new_user(server)
    user = s3_client(server, creds)
    with pytest.raises(ClientError) as e:
        user.get_object(Bucket=bucket, Key="shared/a")
    assert code(e) == "AccessDenied" and status(e) == 403
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/shared/*"},
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": "shared/*"}}},
    ]}))
    assert user.get_object(Bucket=bucket, Key="shared/a")["Body"].read() == b"a"
    with pytest.raises(ClientError) as e:
        user.get_object(Bucket=bucket, Key="private/b")
    assert code(e) == "AccessDenied"
    assert [o["Key"] for o in user.list_objects_v2(Bucket=bucket, Prefix="shared/")["Contents"]] == ["shared/a"]
    with pytest.raises(ClientError) as e:
        user.list_objects_v2(Bucket=bucket, Prefix="private/")
    assert code(e) == "AccessDenied"


def test_an_explicit_deny_in_a_bucket_policy_wins_over_the_owner(client):
    bucket = new_bucket(client)
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "RequireKms", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
    ]}))
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert code(e) == "AccessDenied"
    assert "explicit deny" in e.value.response["Error"]["Message"]
    client.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    client.delete_bucket_policy(Bucket=bucket)


def test_policy_conditions_on_transport_source_ip_kms_key_and_existing_tags(server, client, kms):
    bucket = new_bucket(client)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    arn = f"arn:aws:s3:::{bucket}"
    client.put_object(Bucket=bucket, Key="tagged", Body=b"t", Tagging="class=public")
    client.put_object(Bucket=bucket, Key="untagged", Body=b"u")
    _, creds = new_user(server)
    user = s3_client(server, creds)
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{arn}/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "public"}, "IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"{arn}/*",
         "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": f"{arn}/*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}))
    assert user.get_object(Bucket=bucket, Key="tagged")["Body"].read() == b"t"
    with pytest.raises(ClientError) as e:
        user.get_object(Bucket=bucket, Key="untagged")
    assert code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=kms.create_key()["KeyMetadata"]["Arn"])
    assert code(e) == "AccessDenied"
    client.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    with pytest.raises(ClientError) as e:
        client.delete_object(Bucket=bucket, Key="k")  # plain HTTP
    assert code(e) == "AccessDenied"
    # Tags change what the policy allows.
    user_tag_free = client.put_object_tagging(Bucket=bucket, Key="tagged", Tagging={"TagSet": [{"Key": "class", "Value": "secret"}]})
    assert user_tag_free["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as e:
        user.get_object(Bucket=bucket, Key="tagged")
    assert code(e) == "AccessDenied"
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{arn}/*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}))
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="tagged")
    assert code(e) == "AccessDenied"
    client.delete_bucket_policy(Bucket=bucket)


def test_cross_account_access_needs_both_the_bucket_policy_and_the_callers_iam_policy(server, client, other):
    bucket = new_bucket(client)
    client.put_object(Bucket=bucket, Key="k", Body=b"cross")
    other_root = s3_client(server, other)
    with pytest.raises(ClientError) as e:
        other_root.get_object(Bucket=bucket, Key="k")
    assert code(e) == "AccessDenied"
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    assert other_root.get_object(Bucket=bucket, Key="k")["Body"].read() == b"cross"
    # A user of the other account needs its own IAM policy too.
    _, bare = new_user(server, creds=other)
    with pytest.raises(ClientError) as e:
        s3_client(server, bare).get_object(Bucket=bucket, Key="k")
    assert code(e) == "AccessDenied"
    _, allowed = new_user(server, creds=other, policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    assert s3_client(server, allowed).get_object(Bucket=bucket, Key="k")["Body"].read() == b"cross"
    # The other account can do nothing the policy does not name.
    with pytest.raises(ClientError) as e:
        other_root.put_object(Bucket=bucket, Key="k2", Body=b"x")
    assert code(e) == "AccessDenied"


# --- Block Public Access ----------------------------------------------------------------------


def public_policy(bucket):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})


def test_block_public_access_refuses_public_policies_and_restricts_public_buckets(server, client, other):
    bucket = new_bucket(client)
    with pytest.raises(ClientError) as e:
        client.get_public_access_block(Bucket=bucket)
    assert code(e) == "NoSuchPublicAccessBlockConfiguration"
    client.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": False})
    got = client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": False}
    with pytest.raises(ClientError) as e:
        client.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket))
    assert code(e) == "AccessDenied" and status(e) == 403
    client.delete_public_access_block(Bucket=bucket)
    client.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket))
    assert client.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    client.put_object(Bucket=bucket, Key="k", Body=b"public")
    stranger = s3_client(server, other)
    assert stranger.get_object(Bucket=bucket, Key="k")["Body"].read() == b"public"
    client.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
    with pytest.raises(ClientError) as e:
        stranger.get_object(Bucket=bucket, Key="k")
    assert code(e) == "AccessDenied"
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"public"


def test_the_aws_cli_manages_policies_and_public_access_blocks(server, client, tmp_path):
    bucket = new_bucket(client)
    doc = tmp_path / "policy.json"
    doc.write_text(public_policy(bucket))
    r = server.cli("s3api", "put-public-access-block", "--bucket", bucket, "--public-access-block-configuration",
                   "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true")
    assert r.returncode == 0, r.stderr
    r = server.cli("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", f"file://{doc}")
    assert r.returncode != 0 and "AccessDenied" in r.stderr
    r = server.cli("s3api", "delete-public-access-block", "--bucket", bucket)
    assert r.returncode == 0, r.stderr
    r = server.cli("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", f"file://{doc}")
    assert r.returncode == 0, r.stderr
    r = server.cli("s3api", "get-bucket-policy-status", "--bucket", bucket)
    assert json.loads(r.stdout)["PolicyStatus"]["IsPublic"] is True


# --- tags -------------------------------------------------------------------------------------


def test_object_tags_are_set_read_replaced_and_removed(client):
    bucket = new_bucket(client)
    client.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="project=blue%20sky&team=core")
    assert client.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [
        {"Key": "project", "Value": "blue sky"}, {"Key": "team", "Value": "core"}]
    assert client.get_object(Bucket=bucket, Key="k")["TagCount"] == 2
    client.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    assert client.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "a", "Value": "1"}]
    # A copy keeps them unless told to replace them.
    client.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k"})
    assert client.get_object_tagging(Bucket=bucket, Key="c")["TagSet"] == [{"Key": "a", "Value": "1"}]
    client.copy_object(Bucket=bucket, Key="r", CopySource={"Bucket": bucket, "Key": "k"}, TaggingDirective="REPLACE", Tagging="b=2")
    assert client.get_object_tagging(Bucket=bucket, Key="r")["TagSet"] == [{"Key": "b", "Value": "2"}]
    client.delete_object_tagging(Bucket=bucket, Key="k")
    assert client.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    # Overwriting the object drops its tags.
    client.put_object(Bucket=bucket, Key="r", Body=b"y")
    assert client.get_object_tagging(Bucket=bucket, Key="r")["TagSet"] == []
    with pytest.raises(ClientError) as e:
        client.get_object_tagging(Bucket=bucket, Key="missing")
    assert code(e) == "NoSuchKey"


def test_tag_limits_are_enforced_with_aws_errors(client):
    bucket = new_bucket(client)
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    eleven = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
    with pytest.raises(ClientError) as e:
        client.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": eleven})
    assert code(e) == "BadRequest"
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="k2", Body=b"x", Tagging="&".join(f"k{i}=v" for i in range(11)))
    assert code(e) == "BadRequest"
    for bad in ([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}], [{"Key": "k" * 129, "Value": ""}],
                [{"Key": "k", "Value": "v" * 257}], [{"Key": "aws:reserved", "Value": "v"}]):
        with pytest.raises(ClientError) as e:
            client.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": bad})
        assert code(e) == "InvalidTag"
    fifty = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    client.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": fifty})
    assert len(client.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50
    with pytest.raises(ClientError) as e:
        client.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": fifty + [{"Key": "x", "Value": "y"}]})
    assert code(e) == "InvalidTag"
    client.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        client.get_bucket_tagging(Bucket=bucket)
    assert code(e) == "NoSuchTagSet"


def test_the_aws_cli_tags_buckets_and_objects(server, client):
    bucket = new_bucket(client)
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = server.cli("s3api", "put-bucket-tagging", "--bucket", bucket, "--tagging", "TagSet=[{Key=env,Value=prod}]")
    assert r.returncode == 0, r.stderr
    r = server.cli("s3api", "get-bucket-tagging", "--bucket", bucket)
    assert json.loads(r.stdout)["TagSet"] == [{"Key": "env", "Value": "prod"}]
    r = server.cli("s3api", "put-object-tagging", "--bucket", bucket, "--key", "k", "--tagging", "TagSet=[{Key=a,Value=b}]")
    assert r.returncode == 0, r.stderr
    r = server.cli("s3api", "get-object-tagging", "--bucket", bucket, "--key", "k")
    assert json.loads(r.stdout)["TagSet"] == [{"Key": "a", "Value": "b"}]


# --- versioning -------------------------------------------------------------------------------


def versioned_bucket(client):
    bucket = new_bucket(client)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def test_versioning_keeps_every_version_and_adds_delete_markers(client):
    bucket = new_bucket(client)
    assert "Status" not in client.get_bucket_versioning(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = client.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = client.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2
    got = client.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"two" and got["VersionId"] == v2
    assert client.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert client.head_object(Bucket=bucket, Key="k", VersionId=v1)["ContentLength"] == 3
    listing = client.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [(v2, True), (v1, False)]
    deleted = client.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="k")
    assert code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="k", VersionId=marker)
    assert code(e) == "MethodNotAllowed" and status(e) == 405
    assert "Contents" not in client.list_objects_v2(Bucket=bucket)
    listing = client.list_object_versions(Bucket=bucket)
    assert [(m["VersionId"], m["IsLatest"]) for m in listing["DeleteMarkers"]] == [(marker, True)]
    assert [v["IsLatest"] for v in listing["Versions"]] == [False, False]
    # Removing the marker brings the newest version back; removing that, the one before.
    assert client.delete_object(Bucket=bucket, Key="k", VersionId=marker)["DeleteMarker"] is True
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    client.delete_object(Bucket=bucket, Key="k", VersionId=v2)
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="k", VersionId=v2)
    assert code(e) == "NoSuchVersion" and status(e) == 404
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="k", VersionId="not-a-version")
    assert code(e) == "InvalidArgument"
    with pytest.raises(ClientError):
        # AWS answers MalformedXML; Rampart's model validation answers first (see docs/s3.md).
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Off"})


def test_suspended_versioning_writes_the_null_version(client):
    bucket = versioned_bucket(client)
    kept = client.put_object(Bucket=bucket, Key="k", Body=b"kept")["VersionId"]
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    client.put_object(Bucket=bucket, Key="k", Body=b"null 1")
    client.put_object(Bucket=bucket, Key="k", Body=b"null 2")
    versions = client.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (kept, False)]
    assert client.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"null 2"
    deleted = client.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] == "null"
    listing = client.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listing["Versions"]] == [kept]
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == ["null"]
    assert client.get_object(Bucket=bucket, Key="k", VersionId=kept)["Body"].read() == b"kept"


def test_an_unversioned_bucket_lists_null_versions(client):
    bucket = new_bucket(client)
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    versions = client.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions] == [("k", "null", True)]
    assert client.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"x"
    # Enabling versioning keeps the null version as a noncurrent one.
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    new = client.put_object(Bucket=bucket, Key="k", Body=b"y")["VersionId"]
    versions = client.list_object_versions(Bucket=bucket)["Versions"]
    assert [v["VersionId"] for v in versions] == [new, "null"]


def test_version_listings_page_with_key_and_version_markers_and_group_by_delimiter(client):
    bucket = versioned_bucket(client)
    expected = []
    for key in ("a", "b", "dir/c"):
        ids = [client.put_object(Bucket=bucket, Key=key, Body=b"%d" % i)["VersionId"] for i in range(3)]
        expected += [(key, v) for v in reversed(ids)]
    seen, kw = [], {}
    while True:
        page = client.list_object_versions(Bucket=bucket, MaxKeys=2, **kw)
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kw = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert seen == expected
    paginated = [(v["Key"], v["VersionId"]) for p in client.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 4}) for v in p.get("Versions", [])]
    assert paginated == expected
    grouped = client.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir/"]
    assert {v["Key"] for v in grouped["Versions"]} == {"a", "b"}
    only = client.list_object_versions(Bucket=bucket, Prefix="dir/")
    assert [v["Key"] for v in only["Versions"]] == ["dir/c"] * 3


def test_versions_are_copied_deleted_in_batches_and_keep_the_bucket_from_being_deleted(client):
    bucket = versioned_bucket(client)
    v1 = client.put_object(Bucket=bucket, Key="k", Body=b"first")["VersionId"]
    v2 = client.put_object(Bucket=bucket, Key="k", Body=b"second")["VersionId"]
    copied = client.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1})
    assert copied["CopySourceVersionId"] == v1 and copied["VersionId"]
    assert client.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"first"
    client.delete_object(Bucket=bucket, Key="k")
    client.delete_object(Bucket=bucket, Key="copy")
    with pytest.raises(ClientError) as e:
        client.delete_bucket(Bucket=bucket)
    assert code(e) == "BucketNotEmpty"
    listing = client.list_object_versions(Bucket=bucket)
    everything = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                  for v in listing.get("Versions", []) + listing.get("DeleteMarkers", [])]
    assert len(everything) == 5
    out = client.delete_objects(Bucket=bucket, Delete={"Objects": everything})
    assert len(out["Deleted"]) == 5 and not out.get("Errors")
    assert {d["VersionId"] for d in out["Deleted"]} >= {v1, v2}
    client.delete_bucket(Bucket=bucket)


def test_the_aws_cli_enables_versioning_and_lists_versions(server, client):
    bucket = new_bucket(client)
    r = server.cli("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    assert r.returncode == 0, r.stderr
    r = server.cli("s3api", "get-bucket-versioning", "--bucket", bucket)
    assert json.loads(r.stdout)["Status"] == "Enabled"
    for body in (b"1", b"2"):
        client.put_object(Bucket=bucket, Key="k", Body=body)
    server.cli("s3", "rm", f"s3://{bucket}/k")
    r = server.cli("s3api", "list-object-versions", "--bucket", bucket)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out["Versions"]) == 2 and len(out["DeleteMarkers"]) == 1


def test_each_version_has_its_own_tags(client):
    bucket = versioned_bucket(client)
    v1 = client.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="gen=one")["VersionId"]
    v2 = client.put_object(Bucket=bucket, Key="k", Body=b"2", Tagging="gen=two")["VersionId"]
    assert client.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "gen", "Value": "two"}]
    got = client.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)
    assert got["TagSet"] == [{"Key": "gen", "Value": "one"}] and got["VersionId"] == v1
    put = client.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1, Tagging={"TagSet": [{"Key": "gen", "Value": "old"}]})
    assert put["VersionId"] == v1
    assert client.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)["TagSet"] == [{"Key": "gen", "Value": "old"}]
    assert client.get_object_tagging(Bucket=bucket, Key="k", VersionId=v2)["TagSet"] == [{"Key": "gen", "Value": "two"}]
    client.delete_object_tagging(Bucket=bucket, Key="k", VersionId=v1)
    assert client.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)["TagSet"] == []
    with pytest.raises(ClientError) as e:
        client.get_object_tagging(Bucket=bucket, Key="k", VersionId="0" * 32)
    assert code(e) == "NoSuchVersion"


# --- multipart uploads with encryption and versioning --------------------------------------------


def _multipart(client, bucket, key, parts, **create):
    up = client.create_multipart_upload(Bucket=bucket, Key=key, **create)
    extra = {k: v for k, v in create.items() if k.startswith("SSECustomer")}
    done = []
    for n, body in enumerate(parts, 1):
        r = client.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=body, **extra)
        done.append({"PartNumber": n, "ETag": r["ETag"]})
    out = client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"],
                                           MultipartUpload={"Parts": done}, **extra)
    return up, out


def test_multipart_upload_with_sse_kms_is_encrypted_under_the_key_made_at_creation(server, client, kms):
    bucket = new_bucket(client)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    parts = [os.urandom(5 * 1024 * 1024), b"tail" * 1000]
    up, out = _multipart(client, bucket, "mp", parts, ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    assert up["ServerSideEncryption"] == "aws:kms" and up["SSEKMSKeyId"] == key
    assert out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"] == key
    got = client.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"".join(parts)
    assert got["SSEKMSKeyId"] == key
    # The data key came from KMS for the caller, bound to the object's ARN.
    gen = wait_for(lambda: kms_events(server, "GenerateDataKey", bucket))
    assert gen[0]["requestParameters"]["encryptionContext"] == {"aws:s3:arn": f"arn:aws:s3:::{bucket}/mp"}


def test_multipart_upload_with_sse_c_needs_the_key_on_every_part_and_read(tls_client):
    client = tls_client
    bucket = new_bucket(client)
    secret = os.urandom(32)
    sse = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": secret}
    parts = [os.urandom(5 * 1024 * 1024), b"end"]
    up = client.create_multipart_upload(Bucket=bucket, Key="c", **sse)
    with pytest.raises(ClientError) as e:
        client.upload_part(Bucket=bucket, Key="c", UploadId=up["UploadId"], PartNumber=1, Body=parts[0])
    assert code(e) == "InvalidRequest"
    client.abort_multipart_upload(Bucket=bucket, Key="c", UploadId=up["UploadId"])
    _multipart(client, bucket, "c", parts, **sse)
    assert client.get_object(Bucket=bucket, Key="c", **sse)["Body"].read() == b"".join(parts)
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="c")
    assert code(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=os.urandom(32))
    assert status(e) == 403


def test_multipart_upload_in_a_versioned_bucket_keeps_the_replaced_version(client):
    bucket = new_bucket(client)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = client.put_object(Bucket=bucket, Key="v", Body=b"first")["VersionId"]
    _, out = _multipart(client, bucket, "v", [os.urandom(5 * 1024 * 1024), b"second"])
    assert out["VersionId"] and out["VersionId"] != first
    assert client.get_object(Bucket=bucket, Key="v", VersionId=first)["Body"].read() == b"first"
    versions = client.list_object_versions(Bucket=bucket, Prefix="v")["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted([first, out["VersionId"]])
    # A conditional write that must not find an object is refused, and loses nothing.
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="v", Body=b"third", IfNoneMatch="*")
    assert status(e) == 412
    assert len(client.list_object_versions(Bucket=bucket, Prefix="v")["Versions"]) == 2
