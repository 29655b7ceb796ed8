"""Secrets Manager: secrets, versions and staging labels, KMS encryption, deletion and
restore, tags, listing, random passwords, resource policies and multi-Region replicas, through
boto3 and the aws CLI."""
import json
import random
import re
import string
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, REGION, allow, deny, error_code, error_message, make_user, policy_doc, unique

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


@pytest.fixture(scope="module")
def sm(dev_server):
    return dev_server.client("secretsmanager")


@pytest.fixture(scope="module")
def iam(dev_server):
    return dev_server.client("iam")


@pytest.fixture(scope="module")
def kms(dev_server):
    return dev_server.client("kms")


def token():
    return str(uuid.uuid4())


def test_create_secret_arn_has_the_random_six_character_suffix_and_names_may_hold_slashes(sm):
    name = f"/mydept/{unique('app')}/db"
    out = sm.create_secret(Name=name, SecretString="s3cr3t")
    assert re.fullmatch(rf"arn:aws:secretsmanager:{REGION}:{ADMIN_ACCOUNT}:secret:{re.escape(name)}-[A-Za-z0-9]{{6}}", out["ARN"])
    assert out["Name"] == name
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretString"] == "s3cr3t"
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert got["VersionId"] == out["VersionId"]
    # By full ARN and by partial ARN (without the suffix).
    assert sm.get_secret_value(SecretId=out["ARN"])["SecretString"] == "s3cr3t"
    assert sm.get_secret_value(SecretId=out["ARN"][:-7])["SecretString"] == "s3cr3t"


def test_secret_binary_round_trips(sm):
    name = unique("bin")
    sm.create_secret(Name=name, SecretBinary=b"\x00\x01\xffbinary")
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretBinary"] == b"\x00\x01\xffbinary"
    assert "SecretString" not in got


def test_create_secret_errors(sm):
    name = unique("dup")
    sm.create_secret(Name=name, SecretString="a")
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=name, SecretString="b")
    assert error_code(e.value) == "ResourceExistsException"
    assert name in error_message(e.value)
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=unique("both"), SecretString="a", SecretBinary=b"b")
    assert error_code(e.value) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name="bad name with spaces", SecretString="a")
    assert error_code(e.value) == "ValidationException"


def test_create_secret_is_idempotent_on_the_client_request_token(sm):
    name, t = unique("idem"), token()
    first = sm.create_secret(Name=name, SecretString="v", ClientRequestToken=t)
    again = sm.create_secret(Name=name, SecretString="v", ClientRequestToken=t)
    assert again["ARN"] == first["ARN"] and again["VersionId"] == t


def test_put_secret_value_moves_awscurrent_and_awsprevious_as_documented(sm):
    name = unique("stages")
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
    v3 = sm.put_secret_value(SecretId=name, SecretString="three")["VersionId"]
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {v3: ["AWSCURRENT"], v2: ["AWSPREVIOUS"]}
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "two"
    assert sm.get_secret_value(SecretId=name, VersionId=v1)["SecretString"] == "one"
    ids = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert {v["VersionId"] for v in ids} == {v2, v3}
    all_ids = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"] for v in all_ids} == {v1, v2, v3}
    assert all(v["KmsKeyIds"] for v in all_ids)
    # A deprecated version (no label left) has no VersionStages member at all, never `[]`
    # (awscli example list-secret-version-ids; the model's minimum is 1).
    by_id = {v["VersionId"]: v for v in all_ids}
    assert "VersionStages" not in by_id[v1]
    assert by_id[v2]["VersionStages"] == ["AWSPREVIOUS"]
    assert "VersionStages" not in sm.get_secret_value(SecretId=name, VersionId=v1)
    # A custom label goes to one version only; AWSPENDING does not touch AWSCURRENT.
    v4 = sm.put_secret_value(SecretId=name, SecretString="four", VersionStages=["AWSPENDING"])["VersionId"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "three"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPENDING")["VersionId"] == v4


def test_put_secret_value_token_idempotency(sm):
    name, t = unique("tok"), token()
    sm.create_secret(Name=name, SecretString="x")
    a = sm.put_secret_value(SecretId=name, SecretString="same", ClientRequestToken=t)
    b = sm.put_secret_value(SecretId=name, SecretString="same", ClientRequestToken=t)
    assert a["VersionId"] == b["VersionId"] == t
    with pytest.raises(ClientError) as e:
        sm.put_secret_value(SecretId=name, SecretString="different", ClientRequestToken=t)
    assert error_code(e.value) == "ResourceExistsException"
    assert "existing version" in error_message(e.value)


def test_get_secret_value_errors(sm):
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=unique("missing"))
    assert error_code(e.value) == "ResourceNotFoundException"
    assert error_message(e.value) == "Secrets Manager can't find the specified secret."
    name = unique("nostage")
    v1 = sm.create_secret(Name=name, SecretString="x")["VersionId"]
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert error_code(e.value) == "ResourceNotFoundException"
    assert error_message(e.value) == "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS"
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name, VersionId=v1, VersionStage="AWSPREVIOUS")
    assert error_code(e.value) == "InvalidRequestException"


def test_update_secret_version_stage_moves_labels(sm):
    name = unique("uvs")
    v1 = sm.create_secret(Name=name, SecretString="1")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="2", VersionStages=["STAGING"])["VersionId"]
    with pytest.raises(ClientError) as e:
        sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v2)
    assert error_code(e.value) == "InvalidParameterException"
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v2, RemoveFromVersionId=v1)
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert sorted(stages[v2]) == ["AWSCURRENT", "STAGING"]
    assert stages[v1] == ["AWSPREVIOUS"]
    sm.update_secret_version_stage(SecretId=name, VersionStage="STAGING", RemoveFromVersionId=v2)
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"][v2] == ["AWSCURRENT"]


def test_update_secret_changes_metadata_and_value(sm):
    name = unique("upd")
    sm.create_secret(Name=name, SecretString="a", Description="old")
    out = sm.update_secret(SecretId=name, Description="new", SecretString="b")
    assert out["VersionId"]
    d = sm.describe_secret(SecretId=name)
    assert d["Description"] == "new"
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "b"
    assert "VersionId" not in sm.update_secret(SecretId=name, Description="newer")


def test_delete_secret_recovery_window_restore_and_purge(dev_server, sm):
    name = unique("del")
    sm.create_secret(Name=name, SecretString="x")
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=3)
    assert error_code(e.value) == "InvalidParameterException"
    assert error_message(e.value) == "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=0, ForceDeleteWithoutRecovery=True)
    assert error_message(e.value) == "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert error_code(e.value) == "InvalidParameterException"
    out = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert out["DeletionDate"]
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name)
    assert error_code(e.value) == "InvalidRequestException"
    assert error_message(e.value) == "You can't perform this operation on the secret because it was marked for deletion."
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=name, SecretString="y")
    assert error_code(e.value) == "InvalidRequestException"
    assert "scheduled for deletion" in error_message(e.value)
    assert "DeletedDate" in sm.describe_secret(SecretId=name)
    names = [s["Name"] for s in sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]]
    assert names == []
    names = [s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True, Filters=[{"Key": "name", "Values": [name]}])["SecretList"]]
    assert names == [name]
    sm.restore_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "x"
    # Deleted again: the scheduler purges it when the window ends.
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    dev_server.advance_clock(6 * 86400)
    assert sm.describe_secret(SecretId=name)["Name"] == name
    dev_server.advance_clock(86400 + 120)
    with pytest.raises(ClientError) as e:
        sm.describe_secret(SecretId=name)
    assert error_code(e.value) == "ResourceNotFoundException"


def test_force_delete_without_recovery_frees_the_name(sm):
    name = unique("force")
    sm.create_secret(Name=name, SecretString="x")
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name)
    assert error_code(e.value) == "ResourceNotFoundException"
    sm.create_secret(Name=name, SecretString="again")


def test_tags(sm):
    name = unique("tags")
    sm.create_secret(Name=name, SecretString="x", Tags=[{"Key": "team", "Value": "a"}])
    sm.tag_resource(SecretId=name, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}])
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name)["Tags"]}
    assert tags == {"team": "b", "env": "dev"}
    sm.untag_resource(SecretId=name, TagKeys=["team"])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as e:
        sm.tag_resource(SecretId=unique("nope"), Tags=[{"Key": "a", "Value": "b"}])
    assert error_code(e.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        sm.untag_resource(SecretId=unique("nope"), TagKeys=["a"])
    assert error_code(e.value) == "ResourceNotFoundException"


def test_list_secrets_filters_and_paging(sm):
    prefix = unique("list")
    word = "".join(random.choice(string.ascii_lowercase) for _ in range(12))
    for i in range(5):
        sm.create_secret(Name=f"{prefix}/s{i}", SecretString="x", Description=f"desc {i} {word}",
                         Tags=[{"Key": "idx", "Value": str(i)}])
    seen, kw = [], {"Filters": [{"Key": "name", "Values": [prefix]}], "MaxResults": 2}
    while True:
        page = sm.list_secrets(**kw)
        assert len(page["SecretList"]) <= 2
        seen += [s["Name"] for s in page["SecretList"]]
        if "NextToken" not in page:
            break
        kw["NextToken"] = page["NextToken"]
    assert seen == [f"{prefix}/s{i}" for i in range(5)]
    out = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}, {"Key": "tag-value", "Values": ["3"]}])
    assert [s["Name"] for s in out["SecretList"]] == [f"{prefix}/s3"]
    out = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}, {"Key": "tag-value", "Values": ["!3"]}])
    assert len(out["SecretList"]) == 4
    upper = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix.upper()]}])["SecretList"]
    assert upper == []  # name: case-sensitive prefix
    described = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]},
                                         {"Key": "description", "Values": ["DESC 2"]}])["SecretList"]
    assert [s["Name"] for s in described] == [f"{prefix}/s2"]  # description: not case-sensitive
    found = sm.list_secrets(Filters=[{"Key": "all", "Values": [f"{word.upper()}_{word}."]}])["SecretList"]
    assert len(found) == 5  # all: words, not case-sensitive
    assert sm.list_secrets(Filters=[{"Key": "all", "Values": [word[::-1]]}])["SecretList"] == []
    desc = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}], SortOrder="desc")["SecretList"]
    assert desc[0]["Name"] == f"{prefix}/s4"
    with pytest.raises(ClientError) as e:
        sm.list_secrets(NextToken="garbage")
    assert error_code(e.value) == "InvalidNextTokenException"
    # The CLI paginates the same list.
    r = sm_cli(sm, "list-secrets", "--filters", f"Key=name,Values={prefix}")
    assert len(r["SecretList"]) == 5


def sm_cli(sm, *args):
    server = sm._rampart_server
    r = server.cli("secretsmanager", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if r.stdout.strip() else {}


@pytest.fixture(autouse=True)
def _attach_server(sm, dev_server):
    sm._rampart_server = dev_server


def test_cli_create_and_get(dev_server, sm):
    name = unique("cli")
    created = sm_cli(sm, "create-secret", "--name", name, "--secret-string", '{"user":"u","password":"p"}')
    assert created["Name"] == name
    got = sm_cli(sm, "get-secret-value", "--secret-id", name)
    assert json.loads(got["SecretString"]) == {"user": "u", "password": "p"}
    r = dev_server.cli("secretsmanager", "get-secret-value", "--secret-id", unique("none"))
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr


def test_get_random_password_options(sm):
    p = sm.get_random_password()["RandomPassword"]
    assert len(p) == 32
    assert any(c.islower() for c in p) and any(c.isupper() for c in p)
    assert any(c.isdigit() for c in p) and any(c in PUNCTUATION for c in p)
    p = sm.get_random_password(PasswordLength=100, ExcludePunctuation=True, ExcludeUppercase=True,
                               ExcludeCharacters="abc", IncludeSpace=True)["RandomPassword"]
    assert len(p) == 100 and " " in p
    assert all(c.islower() or c.isdigit() or c == " " for c in p) and not set("abc") & set(p)
    p = sm.get_random_password(PasswordLength=50, ExcludeNumbers=True, ExcludeLowercase=True,
                               RequireEachIncludedType=False)["RandomPassword"]
    assert not any(c.isdigit() or c.islower() for c in p)
    assert len({sm.get_random_password()["RandomPassword"] for _ in range(5)}) == 5
    with pytest.raises(ClientError) as e:
        sm.get_random_password(ExcludeNumbers=True, ExcludePunctuation=True, ExcludeUppercase=True,
                               ExcludeLowercase=True)
    assert error_code(e.value) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.get_random_password(PasswordLength=2)
    assert error_code(e.value) == "InvalidParameterException"


def test_batch_get_secret_value(sm):
    prefix = unique("batch")
    a = sm.create_secret(Name=f"{prefix}-a", SecretString="A")["ARN"]
    sm.create_secret(Name=f"{prefix}-b", SecretString="B")
    missing = unique("missing")
    out = sm.batch_get_secret_value(SecretIdList=[a, f"{prefix}-b", missing])
    assert sorted(v["SecretString"] for v in out["SecretValues"]) == ["A", "B"]
    assert [(x["SecretId"], x["ErrorCode"]) for x in out["Errors"]] == [(missing, "ResourceNotFoundException")]
    out = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [prefix]}])
    assert sorted(v["SecretString"] for v in out["SecretValues"]) == ["A", "B"]
    with pytest.raises(ClientError) as e:
        sm.batch_get_secret_value(SecretIdList=[a], Filters=[{"Key": "name", "Values": [prefix]}])
    assert error_code(e.value) == "InvalidParameterException"


def test_values_are_encrypted_with_the_secret_kms_key_and_kms_decrypt_is_required(dev_server, sm, iam, kms):
    key = kms.create_key()["KeyMetadata"]
    name = unique("cmk")
    arn = sm.create_secret(Name=name, SecretString="topsecret", KmsKeyId=key["Arn"])["ARN"]
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == key["Arn"]
    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert versions[0]["KmsKeyIds"] == [key["Arn"]]
    # A user allowed GetSecretValue but not kms:Decrypt on the key cannot read the value.
    _, creds = make_user(iam, inline=policy_doc(allow("secretsmanager:*"), deny("kms:Decrypt", key["Arn"])))
    user_sm = dev_server.client("secretsmanager", creds=creds)
    with pytest.raises(ClientError) as e:
        user_sm.get_secret_value(SecretId=arn)
    assert error_code(e.value) == "AccessDeniedException"
    assert "topsecret" not in str(e.value)
    # With kms:Decrypt through Secrets Manager it can.
    _, creds2 = make_user(iam, inline=policy_doc(allow("secretsmanager:*"), allow("kms:Decrypt", key["Arn"])))
    assert dev_server.client("secretsmanager", creds=creds2).get_secret_value(SecretId=arn)["SecretString"] == "topsecret"
    # The AWS managed key is created on first use.
    sm.create_secret(Name=unique("managed"), SecretString="x")
    aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert "alias/aws/secretsmanager" in aliases


def test_secret_values_never_appear_in_the_audit_log(dev_server, sm):
    marker = "never-log-" + uuid.uuid4().hex
    name = unique("audit")
    sm.create_secret(Name=name, SecretString=marker)
    sm.get_secret_value(SecretId=name)
    sm.put_secret_value(SecretId=name, SecretString=marker + "2")
    assert marker not in dev_server.audit_text()
    assert marker not in dev_server.logs_text()


def test_iam_deny_and_resource_policy(dev_server, sm, iam):
    name = unique("pol")
    arn = sm.create_secret(Name=name, SecretString="x")["ARN"]
    user, creds = make_user(iam, inline=policy_doc(allow("secretsmanager:*")))
    user_sm = dev_server.client("secretsmanager", creds=creds)
    assert user_sm.get_secret_value(SecretId=arn)["SecretString"] == "x"
    # An explicit deny in the secret's policy wins over the user's allow.
    sm.put_resource_policy(SecretId=name, ResourcePolicy=policy_doc(
        {"Effect": "Deny", "Principal": {"AWS": user["Arn"]}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    with pytest.raises(ClientError) as e:
        user_sm.get_secret_value(SecretId=arn)
    assert error_code(e.value) == "AccessDeniedException"
    got = sm.get_resource_policy(SecretId=name)
    assert json.loads(got["ResourcePolicy"])["Statement"][0]["Effect"] == "Deny"
    assert [p["PolicyName"] for p in sm.list_resource_policies(SecretId=name)["ResourcePolicies"]] == [got["PolicyName"]]
    sm.delete_resource_policy(SecretId=name)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)
    assert user_sm.get_secret_value(SecretId=arn)["SecretString"] == "x"
    # A user without any permission is refused, for existing and missing secrets alike.
    _, nothing = make_user(iam)
    none_sm = dev_server.client("secretsmanager", creds=nothing)
    for sid in (arn, unique("missing")):
        with pytest.raises(ClientError) as e:
            none_sm.describe_secret(SecretId=sid)
        assert error_code(e.value) == "AccessDeniedException"


def test_resource_policy_grants_another_account_with_a_customer_key(dev_server, sm, kms):
    other = "222233334444"
    ak, sk = dev_server.create_account(other)
    other_sm = dev_server.client("secretsmanager", access_key=ak, secret_key=sk)
    key_policy = policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ADMIN_ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:root"}, "Action": "kms:Decrypt", "Resource": "*"})
    key = kms.create_key(Policy=key_policy)["KeyMetadata"]["Arn"]
    grant = policy_doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
                        "Action": "secretsmanager:GetSecretValue", "Resource": "*"})
    name = unique("xacct")
    arn = sm.create_secret(Name=name, SecretString="shared", KmsKeyId=key)["ARN"]
    with pytest.raises(ClientError) as e:
        other_sm.get_secret_value(SecretId=arn)
    assert error_code(e.value) == "AccessDeniedException"
    sm.put_resource_policy(SecretId=name, ResourcePolicy=grant)
    assert other_sm.get_secret_value(SecretId=arn)["SecretString"] == "shared"
    # The AWS managed key cannot be used from another account, as in AWS.
    managed = unique("xacct-managed")
    managed_arn = sm.create_secret(Name=managed, SecretString="x")["ARN"]
    sm.put_resource_policy(SecretId=managed, ResourcePolicy=grant)
    with pytest.raises(ClientError) as e:
        other_sm.get_secret_value(SecretId=managed_arn)
    assert error_code(e.value) == "AccessDeniedException"


def test_block_public_policy_and_validation(sm):
    name = unique("public")
    sm.create_secret(Name=name, SecretString="x")
    public = policy_doc({"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"})
    with pytest.raises(ClientError) as e:
        sm.put_resource_policy(SecretId=name, ResourcePolicy=public, BlockPublicPolicy=True)
    assert error_code(e.value) == "PublicPolicyException"
    narrowed = policy_doc({"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
                           "Condition": {"StringEquals": {"aws:PrincipalAccount": ADMIN_ACCOUNT}}})
    sm.put_resource_policy(SecretId=name, ResourcePolicy=narrowed, BlockPublicPolicy=True)
    sm.put_resource_policy(SecretId=name, ResourcePolicy=public, BlockPublicPolicy=False)
    v = sm.validate_resource_policy(SecretId=name, ResourcePolicy=public)
    assert v["PolicyValidationPassed"] is False and v["ValidationErrors"]
    assert sm.validate_resource_policy(ResourcePolicy=narrowed)["PolicyValidationPassed"] is True
    with pytest.raises(ClientError) as e:
        sm.put_resource_policy(SecretId=name, ResourcePolicy="{not json")
    assert error_code(e.value) == "MalformedPolicyDocumentException"
    with pytest.raises(ClientError) as e:
        sm.validate_resource_policy(ResourcePolicy="{not json")
    assert error_code(e.value) == "MalformedPolicyDocumentException"
    for call in (sm.get_resource_policy, sm.delete_resource_policy, sm.list_resource_policies):
        with pytest.raises(ClientError) as e:
            call(SecretId=unique("missing"))
        assert error_code(e.value) == "ResourceNotFoundException"


# ------------------------------------------------------------------------------ replicas

REGIONS = ("us-west-2", "eu-west-1")


def test_replicated_secret_is_read_in_each_region_with_its_own_key_and_follows_the_primary(dev_server, sm):
    clients = {r: dev_server.client("secretsmanager", region=r) for r in REGIONS}
    kms_west = dev_server.client("kms", region="us-west-2")
    west_key = kms_west.create_key()["KeyMetadata"]["Arn"]
    name = unique("multi")
    out = sm.create_secret(Name=name, SecretString="v1",
                           AddReplicaRegions=[{"Region": "us-west-2", "KmsKeyId": west_key}])
    assert [(s["Region"], s["Status"]) for s in out["ReplicationStatus"]] == [("us-west-2", "InSync")]
    rep = sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": "eu-west-1"}])
    assert sorted((s["Region"], s["Status"]) for s in rep["ReplicationStatus"]) == [("eu-west-1", "InSync"), ("us-west-2", "InSync")]
    for region, c in clients.items():
        got = c.get_secret_value(SecretId=name)
        assert got["SecretString"] == "v1"
        assert f":{region}:" in got["ARN"]
        d = c.describe_secret(SecretId=name)
        assert d["PrimaryRegion"] == REGION
    west_versions = clients["us-west-2"].list_secret_version_ids(SecretId=name)["Versions"]
    assert west_versions[0]["KmsKeyIds"] == [west_key]
    eu_versions = clients["eu-west-1"].list_secret_version_ids(SecretId=name)["Versions"]
    assert eu_versions[0]["KmsKeyIds"] == ["DefaultEncryptionKey"]  # that region's aws/secretsmanager
    # Updating the primary updates the replicas, values and stages.
    v2 = sm.put_secret_value(SecretId=name, SecretString="v2")["VersionId"]
    for c in clients.values():
        got = c.get_secret_value(SecretId=name)
        assert (got["SecretString"], got["VersionId"]) == ("v2", v2)
        assert c.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v1"
    # Replicas are read-only.
    with pytest.raises(ClientError) as e:
        clients["us-west-2"].put_secret_value(SecretId=name, SecretString="nope")
    assert error_code(e.value) == "InvalidRequestException"
    d = sm.describe_secret(SecretId=name)
    assert sorted(s["Region"] for s in d["ReplicationStatus"]) == sorted(REGIONS)
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=name)
    assert error_code(e.value) == "InvalidRequestException"
    # Removing a region deletes its replica; stopping replication promotes a replica.
    sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=["eu-west-1"])
    with pytest.raises(ClientError) as e:
        clients["eu-west-1"].describe_secret(SecretId=name)
    assert error_code(e.value) == "ResourceNotFoundException"
    clients["us-west-2"].stop_replication_to_replica(SecretId=name)
    # A promoted replica is a standalone secret: no PrimaryRegion, as on any unreplicated secret.
    assert "PrimaryRegion" not in clients["us-west-2"].describe_secret(SecretId=name)
    clients["us-west-2"].put_secret_value(SecretId=name, SecretString="standalone")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v2"
    assert "ReplicationStatus" not in sm.describe_secret(SecretId=name)


def test_replication_errors(sm):
    name = unique("reperr")
    sm.create_secret(Name=name, SecretString="x")
    with pytest.raises(ClientError) as e:
        sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": REGION}])
    assert error_code(e.value) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=["us-west-2"])
    assert error_code(e.value) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.stop_replication_to_replica(SecretId=name)
    assert error_code(e.value) == "InvalidRequestException"
    with pytest.raises(ClientError) as e:
        sm.replicate_secret_to_regions(SecretId=unique("missing"), AddReplicaRegions=[{"Region": "us-west-2"}])
    assert error_code(e.value) == "ResourceNotFoundException"


# ------------------------------------------------------------------ cross-account replicas


def test_cross_account_replica_is_associated_receives_values_and_can_be_disassociated(dev_server, sm):
    other = "333344445555"
    ak, sk = dev_server.create_account(other)
    other_sm = dev_server.client("secretsmanager", access_key=ak, secret_key=sk)
    primary = sm.create_secret(Name=unique("xprimary"), SecretString="p1")["ARN"]
    replica_name = unique("xreplica")
    with pytest.raises(ClientError) as e:
        other_sm.create_secret(Name=replica_name, CrossAccountPrimaryARN=primary, SecretString="nope")
    assert error_code(e.value) == "InvalidParameterException"
    replica = other_sm.create_secret(Name=replica_name, CrossAccountPrimaryARN=primary)["ARN"]
    d = other_sm.describe_secret(SecretId=replica_name)
    assert d["CrossAccountPrimary"]["PrimarySecretARN"] == primary
    # The replica's owner must let the primary account accept replication.
    with pytest.raises(ClientError) as e:
        sm.associate_cross_account_replica(SecretId=primary, CrossAccountReplicaARN=replica)
    assert error_code(e.value) == "AccessDeniedException"
    other_sm.put_resource_policy(SecretId=replica_name, ResourcePolicy=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ADMIN_ACCOUNT}:root"},
         "Action": "secretsmanager:AcceptCrossAccountReplication", "Resource": "*"}))
    out = sm.associate_cross_account_replica(SecretId=primary, CrossAccountReplicaARN=replica)
    assert out["ReplicationStatus"] == "InSync"
    assert other_sm.get_secret_value(SecretId=replica_name)["SecretString"] == "p1"
    sm.put_secret_value(SecretId=primary, SecretString="p2")
    assert other_sm.get_secret_value(SecretId=replica_name)["SecretString"] == "p2"
    assert sm.describe_secret(SecretId=primary)["CrossAccountReplicas"][0]["ReplicaSecretARN"] == replica
    with pytest.raises(ClientError) as e:
        other_sm.put_secret_value(SecretId=replica_name, SecretString="local")
    assert error_code(e.value) == "InvalidRequestException"
    # A second replica is refused; disassociating makes the replica standalone.
    other2 = other_sm.create_secret(Name=unique("xreplica2"), CrossAccountPrimaryARN=primary)["ARN"]
    with pytest.raises(ClientError) as e:
        sm.associate_cross_account_replica(SecretId=primary, CrossAccountReplicaARN=other2)
    assert error_code(e.value) == "LimitExceededException"
    sm.disassociate_cross_account_replica(SecretId=primary, CrossAccountReplicaARN=replica)
    assert "CrossAccountReplicas" not in sm.describe_secret(SecretId=primary)
    other_sm.put_secret_value(SecretId=replica_name, SecretString="local")
    sm.put_secret_value(SecretId=primary, SecretString="p3")
    assert other_sm.get_secret_value(SecretId=replica_name)["SecretString"] == "local"
    with pytest.raises(ClientError) as e:
        sm.disassociate_cross_account_replica(SecretId=primary, CrossAccountReplicaARN=replica)
    assert error_code(e.value) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.associate_cross_account_replica(SecretId=unique("missing"), CrossAccountReplicaARN=replica)
    assert error_code(e.value) == "ResourceNotFoundException"


def test_coverage_counts_every_secretsmanager_operation(rampart_bin):
    import subprocess
    out = subprocess.run([rampart_bin, "coverage"], capture_output=True, text=True, timeout=30).stdout
    row = next(line for line in out.splitlines() if line.startswith("secretsmanager"))
    assert row.split()[1:3] == ["26", "26"]


def test_changing_the_kms_key_reencrypts_labelled_versions(sm, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    name = unique("rekey")
    sm.create_secret(Name=name, SecretString="one")
    sm.put_secret_value(SecretId=name, SecretString="two")
    sm.update_secret(SecretId=name, KmsKeyId=key)
    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert all(v["KmsKeyIds"] == [key] for v in versions)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "one"


def test_first_version_is_awscurrent_whatever_labels_are_asked(sm):
    name = unique("first")
    sm.create_secret(Name=name)
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name)
    assert error_code(e.value) == "ResourceNotFoundException"
    v = sm.put_secret_value(SecretId=name, SecretString="x", VersionStages=["CUSTOM"])
    assert sorted(v["VersionStages"]) == ["AWSCURRENT", "CUSTOM"]


def test_malformed_arns_are_not_found(sm):
    for sid in ("arn:aws:secretsmanager:us-east-1:000000000000:secret:é-abcdef",
                "arn:aws:secretsmanager:us-east-1:000000000000:secret:x",
                "arn:aws:kms:us-east-1:000000000000:key/abc"):
        with pytest.raises(ClientError) as e:
            sm.describe_secret(SecretId=sid)
        assert error_code(e.value) in ("ResourceNotFoundException", "ValidationException")


def test_batch_get_secret_value_needs_get_secret_value_on_each_secret(dev_server, sm, iam):
    prefix = unique("batchperm")
    a = sm.create_secret(Name=f"{prefix}-a", SecretString="A")["ARN"]
    b = sm.create_secret(Name=f"{prefix}-b", SecretString="B")["ARN"]
    _, creds = make_user(iam, inline=policy_doc(
        allow("secretsmanager:BatchGetSecretValue"), allow("secretsmanager:GetSecretValue", a)))
    user_sm = dev_server.client("secretsmanager", creds=creds)
    out = user_sm.batch_get_secret_value(SecretIdList=[a, b])
    assert [v["ARN"] for v in out["SecretValues"]] == [a]
    assert [(x["SecretId"], x["ErrorCode"]) for x in out["Errors"]] == [(b, "AccessDeniedException")]
    with pytest.raises(ClientError) as e:
        user_sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [prefix]}])
    assert error_code(e.value) == "AccessDeniedException"
