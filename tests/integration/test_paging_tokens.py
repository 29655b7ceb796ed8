"""Paging tokens are opaque and tamper-evident in every service (the kit's one pager): a token
resumes its own listing, while an edited token, or one handed out by another listing, is refused
with the error each service's model names for it."""

import base64
import datetime

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from conftest import error_code, unique


def edited(token):
    """The same token with its last-key part replaced: the MAC no longer matches."""
    _, mac = token.split(".", 1)
    forged = base64.urlsafe_b64encode(b"zzzz").decode().rstrip("=")
    return f"{forged}.{mac}"


def refused(call, code, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    assert error_code(e.value) == code, e.value.response
    return e.value


def self_signed(name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def test_acm_list_and_search_tokens_resume_and_refuse_edits(dev_server):
    acm = dev_server.client("acm")
    for i in range(3):
        cert, key = self_signed(f"paging{i}.example.com")
        acm.import_certificate(Certificate=cert, PrivateKey=key)
    first = acm.list_certificates(MaxItems=1)
    token = first["NextToken"]
    second = acm.list_certificates(MaxItems=1, NextToken=token)
    assert second["CertificateSummaryList"] != first["CertificateSummaryList"]
    refused(acm.list_certificates, "InvalidArgsException", MaxItems=1, NextToken=edited(token))
    refused(acm.list_certificates, "InvalidArgsException", NextToken="not-a-token")
    search = acm.search_certificates(MaxResults=1)
    assert len(search["Results"]) == 1
    refused(acm.search_certificates, "ValidationException", MaxResults=1, NextToken=edited(search["NextToken"]))
    # A token of ListCertificates does not page SearchCertificates, nor the other way round.
    refused(acm.search_certificates, "ValidationException", MaxResults=1, NextToken=token)
    refused(acm.list_certificates, "InvalidArgsException", MaxItems=1, NextToken=search["NextToken"])


def test_kms_markers_resume_and_refuse_edits(dev_server):
    kms = dev_server.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_key()
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": f"k{i}", "TagValue": "v"} for i in range(3)])
    for i in range(2):
        kms.create_alias(AliasName=f"alias/{unique('paging')}", TargetKeyId=key)
    keys = kms.list_keys(Limit=1)
    assert keys["Truncated"]
    rest = kms.list_keys(Limit=1, Marker=keys["NextMarker"])
    assert rest["Keys"] != keys["Keys"]
    refused(kms.list_keys, "InvalidMarkerException", Limit=1, Marker=edited(keys["NextMarker"]))
    aliases = kms.list_aliases(Limit=1)
    refused(kms.list_aliases, "InvalidMarkerException", Limit=1, Marker=edited(aliases["NextMarker"]))
    refused(kms.list_aliases, "InvalidMarkerException", Limit=1, Marker=keys["NextMarker"])
    tags = kms.list_resource_tags(KeyId=key, Limit=2)
    assert len(tags["Tags"]) == 2 and tags["Truncated"]
    last = kms.list_resource_tags(KeyId=key, Limit=2, Marker=tags["NextMarker"])
    assert [t["TagKey"] for t in last["Tags"]] == ["k2"] and not last["Truncated"]
    refused(kms.list_resource_tags, "InvalidMarkerException", KeyId=key, Marker="2")


def test_secrets_manager_tokens_are_bound_to_their_listing(dev_server):
    sm = dev_server.client("secretsmanager")
    name = unique("paging")
    for i in range(2):
        sm.create_secret(Name=f"{name}-{i}", SecretString="x")
    page = sm.list_secrets(MaxResults=1)
    token = page["NextToken"]
    assert sm.list_secrets(MaxResults=1, NextToken=token)["SecretList"] != page["SecretList"]
    refused(sm.list_secrets, "InvalidNextTokenException", NextToken=edited(token))
    refused(sm.list_secret_version_ids, "InvalidNextTokenException", SecretId=f"{name}-0", NextToken=token)


def test_ssm_tokens_are_bound_to_their_listing(dev_server):
    ssm = dev_server.client("ssm")
    base = "/" + unique("paging")
    for i in range(3):
        ssm.put_parameter(Name=f"{base}/p{i}", Value="v", Type="String")
    by_path = ssm.get_parameters_by_path(Path=base, MaxResults=1)
    token = by_path["NextToken"]
    second = ssm.get_parameters_by_path(Path=base, MaxResults=1, NextToken=token)
    assert second["Parameters"][0]["Name"] == f"{base}/p1"
    refused(ssm.get_parameters_by_path, "InvalidNextToken", Path=base, NextToken=edited(token))
    refused(ssm.describe_parameters, "InvalidNextToken", NextToken=token)
    refused(ssm.get_parameters_by_path, "InvalidNextToken", Path="/aws/service", NextToken=token)


def test_cloudtrail_lookup_token_refuses_edits(dev_server):
    ct = dev_server.client("cloudtrail")
    dev_server.client("kms").list_keys()
    dev_server.client("kms").list_aliases()
    page = ct.lookup_events(MaxResults=1)
    token = page["NextToken"]
    assert ct.lookup_events(MaxResults=1, NextToken=token)["Events"] != page["Events"]
    refused(ct.lookup_events, "InvalidNextTokenException", NextToken=edited(token))
    refused(ct.lookup_events, "InvalidNextTokenException", NextToken=base64.b64encode(b"5").decode())


def test_elbv2_markers_are_bound_to_their_operation(dev_server):
    elb = dev_server.client("elbv2")
    policies = elb.describe_ssl_policies(PageSize=1)
    marker = policies["NextMarker"]
    assert elb.describe_ssl_policies(PageSize=1, Marker=marker)["SslPolicies"] != policies["SslPolicies"]
    refused(elb.describe_ssl_policies, "ValidationError", PageSize=1, Marker=edited(marker))
    refused(elb.describe_account_limits, "ValidationError", PageSize=1, Marker=marker)
    refused(elb.describe_account_limits, "ValidationError", Marker="1")


def test_s3_continuation_tokens_are_bound_to_their_bucket(dev_server):
    access, secret = dev_server.profile()
    import boto3
    s3 = boto3.session.Session().client(
        "s3", region_name="us-east-1", endpoint_url=dev_server.endpoint,
        aws_access_key_id=access, aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    buckets = [unique("paging").lower().replace("_", "-")[:50] for _ in range(2)]
    for b in buckets:
        s3.create_bucket(Bucket=b)
        for k in ("a", "b", "c"):
            s3.put_object(Bucket=b, Key=k, Body=b"x")
    page = s3.list_objects_v2(Bucket=buckets[0], MaxKeys=1)
    token = page["NextContinuationToken"]
    rest = s3.list_objects_v2(Bucket=buckets[0], MaxKeys=5, ContinuationToken=token)
    assert [o["Key"] for o in rest["Contents"]] == ["b", "c"]
    refused(s3.list_objects_v2, "InvalidArgument", Bucket=buckets[0], ContinuationToken=edited(token))
    refused(s3.list_objects_v2, "InvalidArgument", Bucket=buckets[1], ContinuationToken=token)
