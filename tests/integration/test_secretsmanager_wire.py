"""Secrets Manager wire fidelity (issue 12): error bodies, invalid names, idempotency tokens on
raw requests, forced deletion of a missing secret, the members DescribeSecret and
ListSecretVersionIds return, and ListSecrets' name/description/all filter rules as AWS
documents and answers them."""
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, REGION, error_code, error_message, unique

INVALID_NAME = (
    "Invalid name. Must be a valid name containing alphanumeric characters, or any of the "
    "following: -/_+=.@!"
)
MISSING_TOKEN = "You must provide a ClientRequestToken value. We recommend a UUID-type value."


@pytest.fixture(scope="module")
def sm(dev_server):
    return dev_server.client("secretsmanager")


def raw(server, op, payload):
    r = server.json_request("secretsmanager", f"secretsmanager.{op}", json.dumps(payload))
    return r.status_code, r.json()


def test_error_bodies_carry_the_top_level_message_member_as_aws_does(dev_server):
    # Secrets Manager's error shapes name their member `Message` (botocore reads either).
    status, body = raw(dev_server, "DescribeSecret", {"SecretId": unique("absent")})
    assert status == 400
    assert body["__type"] == "ResourceNotFoundException"
    assert body.get("Message") == "Secrets Manager can't find the specified secret."
    assert "message" not in body


def test_invalid_secret_ids_are_a_validation_exception_not_a_missing_secret(sm, dev_server):
    for op, extra in (("DescribeSecret", {}), ("GetSecretValue", {}), ("DeleteSecret", {}),
                      ("ListSecretVersionIds", {}), ("TagResource", {"Tags": []}),
                      ("PutSecretValue", {"SecretString": "x", "ClientRequestToken": str(uuid.uuid4())})):
        status, body = raw(dev_server, op, {"SecretId": "bad name#with spaces", **extra})
        # Not an error of Secrets Manager's model: AWS's front end writes `message`.
        assert (status, body["__type"], body.get("message")) == (400, "ValidationException", INVALID_NAME), op
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId="no~tilde")
    assert error_code(e.value) == "ValidationException"
    assert error_message(e.value) == INVALID_NAME


def test_raw_requests_that_create_a_version_need_a_client_request_token(sm, dev_server):
    name = unique("tok")
    status, body = raw(dev_server, "CreateSecret", {"Name": name, "SecretString": "v"})
    assert (status, body["__type"], body.get("Message")) == (400, "InvalidRequestException", MISSING_TOKEN)
    with pytest.raises(ClientError):
        sm.describe_secret(SecretId=name)  # nothing was created
    # Without a value there is no version, and no token is needed.
    status, body = raw(dev_server, "CreateSecret", {"Name": name})
    assert status == 200 and body["Name"] == name and "VersionId" not in body
    status, body = raw(dev_server, "PutSecretValue", {"SecretId": name, "SecretString": "v"})
    assert (status, body["__type"], body.get("Message")) == (400, "InvalidRequestException", MISSING_TOKEN)
    status, body = raw(dev_server, "UpdateSecret", {"SecretId": name, "SecretString": "v"})
    assert (status, body["__type"], body.get("Message")) == (400, "InvalidRequestException", MISSING_TOKEN)
    status, body = raw(dev_server, "UpdateSecret", {"SecretId": name, "Description": "d"})
    assert status == 200, body
    t = str(uuid.uuid4())
    status, body = raw(dev_server, "PutSecretValue", {"SecretId": name, "SecretString": "v", "ClientRequestToken": t})
    assert status == 200 and body["VersionId"] == t
    # The SDKs and the CLI fill the token themselves.
    assert sm.put_secret_value(SecretId=name, SecretString="w")["VersionId"] != t


def test_force_delete_of_a_missing_secret_succeeds(sm, dev_server):
    name = unique("gone")
    out = sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert out["Name"] == name
    assert out["ARN"].startswith(f"arn:aws:secretsmanager:{REGION}:{ADMIN_ACCOUNT}:secret:{name}-")
    assert "DeletionDate" in out
    # Twice, as a retry would: still no ResourceNotFoundException.
    sm.create_secret(Name=name, SecretString="x")
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    again = sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert again["Name"] == name
    # Without the force flag a missing secret is still not found.
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=name)
    assert error_code(e.value) == "ResourceNotFoundException"


def test_describe_secret_omits_what_aws_omits(sm):
    name = unique("plain")
    sm.create_secret(Name=name, SecretString="x")
    d = sm.describe_secret(SecretId=name)
    assert "PrimaryRegion" not in d  # never replicated
    assert "RotationEnabled" not in d  # never rotated
    assert {"ARN", "Name", "CreatedDate", "LastChangedDate", "VersionIdsToStages"} <= set(d)
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    assert len(listed) == 1
    assert "PrimaryRegion" not in listed[0] and "RotationEnabled" not in listed[0]


def test_list_secret_version_ids_reports_access_date_and_the_default_key(sm, kms):
    name = unique("versions")
    first = sm.create_secret(Name=name, SecretString="a")["VersionId"]
    sm.get_secret_value(SecretId=name)
    second = sm.put_secret_value(SecretId=name, SecretString="b")["VersionId"]
    sm.get_secret_value(SecretId=name)  # the same day as the first read
    versions = {v["VersionId"]: v for v in sm.list_secret_version_ids(SecretId=name)["Versions"]}
    for vid in (first, second):
        assert versions[vid]["KmsKeyIds"] == ["DefaultEncryptionKey"]
        assert "LastAccessedDate" in versions[vid], vid
    key = kms.create_key()["KeyMetadata"]["Arn"]
    custom = unique("custom")
    sm.create_secret(Name=custom, SecretString="c", KmsKeyId=key)
    (v,) = sm.list_secret_version_ids(SecretId=custom)["Versions"]
    assert v["KmsKeyIds"] == [key]
    assert "LastAccessedDate" not in v  # never read


@pytest.fixture(scope="module")
def kms(dev_server):
    return dev_server.client("kms")


def names(sm, key, *values, scope=None):
    filters = [{"Key": key, "Values": list(values)}]
    if scope:
        filters.append({"Key": "name", "Values": [scope]})
    return sorted(s["Name"] for s in sm.list_secrets(Filters=filters)["SecretList"])


def test_list_secrets_name_filter_is_a_case_sensitive_prefix_of_the_whole_name(sm):
    tag = unique("nf").replace("-", "")
    made = [f"/{tag}/two", f"{tag}/one", f"{tag}-Data", f"x{tag}"]
    for n in made:
        sm.create_secret(Name=n, SecretString="s")
    assert names(sm, "name", f"/{tag}") == [f"/{tag}/two"]
    assert names(sm, "name", tag) == sorted([f"{tag}/one", f"{tag}-Data"])
    assert names(sm, "name", f"{tag}-data") == []
    assert f"/{tag}/two" not in names(sm, "name", "!/")
    assert f"{tag}/one" in names(sm, "name", "!/")


def test_list_secrets_description_filter_matches_words_not_case_sensitive(sm):
    scope = unique("df")
    for suffix, desc in (("foo", "one two"), ("bar", "one and two"), ("baz", "one"), ("qux", "two"),
                         ("none", "unrelated")):
        sm.create_secret(Name=f"{scope}-{suffix}", SecretString="s", Description=desc)
    # Every word of the value starts a word of the description.
    assert names(sm, "description", "one two", scope=scope) == [f"{scope}-bar", f"{scope}-foo"]
    assert names(sm, "description", "O T", scope=scope) == [f"{scope}-bar", f"{scope}-foo"]
    assert names(sm, "description", "t", scope=scope) == [f"{scope}-bar", f"{scope}-foo", f"{scope}-qux"]
    # Not a prefix of the whole text: "two" is a word of "one two".
    assert f"{scope}-foo" in names(sm, "description", "two", scope=scope)
    assert names(sm, "description", "!o", scope=scope) == [f"{scope}-none", f"{scope}-qux"]


def test_list_secrets_all_filter_splits_words_as_aws_does(sm):
    u = uuid.uuid4().hex[:6]
    made = {
        "slash": f"prod/AppBeta/{u}", "under": f"prod_AppBeta_{u}", "plus": f"prod+AppBeta+{u}",
        "equal": f"prod=AppBeta={u}", "dot": f"prod.AppBeta.{u}", "at": f"prod@AppBeta@{u}",
        "dash": f"prod-AppBeta-{u}", "full": f"uat/COMPANY/{u}", "partial": f"uat/COMPANYthings/{u}",
    }
    for n in made.values():
        sm.create_secret(Name=n, SecretString="s")
    specials = sorted(made[k] for k in ("slash", "under", "plus", "equal", "dot", "at", "dash"))

    def all_(*values):
        found = names(sm, "all", *values)
        return sorted(n for n in found if n in made.values())

    assert all_("AppBeta") == specials
    assert all_("beta") == specials
    assert all_("AppBeta", "prod") == specials  # values: any
    assert all_("+") == []  # no word in it
    assert all_("company") == [made["full"]]  # COMPANYthings splits as COMPAN + Ythings
    assert all_("Ythings") == [made["partial"]]
    assert all_("things") == [] and all_("pany") == []
    # Every word of one value must match within one attribute.
    s1, s2 = f"SecretOne{u}", f"SecretTwo{u}"
    sm.create_secret(Name=s1, SecretString="s")
    sm.create_secret(Name=s2, SecretString="s", Description="DescTwo")
    assert s1 in names(sm, "all", "SecretOne") and s2 not in names(sm, "all", "SecretOne")
    assert s2 in names(sm, "all", "d t")
    assert s1 not in names(sm, "all", "ret")  # a word's start, not any substring
