"""SSM Parameter Store: the ten parameter operations and tags on parameters, SecureString
through KMS for the caller, selectors, tiers, labels and history, parameter policies run by
the scheduler, change events at a webhook target, through boto3 and the aws CLI."""
import base64
import datetime
import http.server
import json
import threading

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, REGION, allow, deny, error_code, error_message, make_user, policy_doc, unique, wait_for


@pytest.fixture(scope="module")
def ssm(server):
    return server.client("ssm")


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms")


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def arn_of(name):
    return f"arn:aws:ssm:{REGION}:{ADMIN_ACCOUNT}:parameter/{name.lstrip('/')}"


def fails(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return e.value


# -- the canonical hierarchy (Done when, item 2) ------------------------------------------------


def test_canonical_hierarchy_by_path_with_the_cli(server, ssm, kms):
    root = unique("/mydept").replace("_", "-")
    key = kms.create_key(Description="app secrets")["KeyMetadata"]["Arn"]
    params = {
        f"{root}/my-app/dev/db-url": ("String", "dev.example.com:5432"),
        f"{root}/my-app/dev/dbpassword": ("SecureString", "dev-pass"),
        f"{root}/my-app/prod/db-url": ("String", "prod.example.com:5432"),
        f"{root}/my-app/prod/dbpassword": ("SecureString", "prod-pass"),
        f"{root}/other-app/dev/db-url": ("String", "other.example.com"),
        f"{root}x/otherdept/db-url": ("String", "elsewhere"),
    }
    for name, (ty, value) in params.items():
        extra = {"KeyId": key} if name.endswith("prod/dbpassword") else {}
        out = ssm.put_parameter(Name=name, Type=ty, Value=value, **extra)
        assert out["Version"] == 1 and out["Tier"] == "Standard"
    r = server.cli("ssm", "get-parameters-by-path", "--path", f"{root}/my-app", "--recursive", "--with-decryption")
    assert r.returncode == 0, r.stderr
    got = {p["Name"]: p for p in json.loads(r.stdout)["Parameters"]}
    assert set(got) == {n for n in params if "/my-app/" in n}
    for name, p in got.items():
        assert p["Value"] == params[name][1]
        assert p["Type"] == params[name][0]
        assert p["ARN"] == arn_of(name)
        assert p["Version"] == 1 and p["DataType"] == "text"
    # Without decryption the SecureString values are KMS ciphertext.
    r = server.cli("ssm", "get-parameters-by-path", "--path", f"{root}/my-app", "--recursive")
    enc = {p["Name"]: p["Value"] for p in json.loads(r.stdout)["Parameters"]}
    assert enc[f"{root}/my-app/dev/dbpassword"] != "dev-pass"
    assert base64.b64decode(enc[f"{root}/my-app/dev/dbpassword"])
    # One level only without --recursive.
    assert ssm.get_parameters_by_path(Path=f"{root}/my-app")["Parameters"] == []
    one = ssm.get_parameters_by_path(Path=f"{root}/my-app/dev/")["Parameters"]
    assert sorted(p["Name"] for p in one) == [f"{root}/my-app/dev/db-url", f"{root}/my-app/dev/dbpassword"]
    # Filters and paging.
    secure = ssm.get_parameters_by_path(
        Path=root, Recursive=True, ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}]
    )["Parameters"]
    assert len(secure) == 2
    by_key = ssm.get_parameters_by_path(
        Path=root, Recursive=True, ParameterFilters=[{"Key": "KeyId", "Values": [key]}]
    )["Parameters"]
    assert [p["Name"] for p in by_key] == [f"{root}/my-app/prod/dbpassword"]
    names, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = ssm.get_parameters_by_path(Path=root, Recursive=True, MaxResults=2, **kw)
        assert len(page["Parameters"]) <= 2
        names += [p["Name"] for p in page["Parameters"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(names) == sorted(n for n in params if n.startswith(root + "/"))


def test_path_root_lists_top_level_and_recursive_everything(ssm):
    top = unique("/toplevel")
    ssm.put_parameter(Name=top, Type="String", Value="t")
    ssm.put_parameter(Name=f"{top}/child", Type="String", Value="c")
    names, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = ssm.get_parameters_by_path(Path="/", MaxResults=10, **kw)
        names += [p["Name"] for p in page["Parameters"]]
        token = page.get("NextToken")
        if not token:
            break
    # A single-level name given with a leading slash is stored without it, as AWS does.
    assert top.lstrip("/") in names and f"{top}/child" not in names
    paginator = ssm.get_paginator("get_parameters_by_path")
    every = [p["Name"] for page in paginator.paginate(Path="/", Recursive=True) for p in page["Parameters"]]
    assert top.lstrip("/") in every and f"{top}/child" in every
    p = ssm.get_parameter(Name=top)["Parameter"]
    assert p["Name"] == top.lstrip("/") and p["ARN"] == arn_of(top)
    assert ssm.get_parameter(Name=top.lstrip("/"))["Parameter"]["Value"] == "t"


def test_user_denied_kms_decrypt_is_refused_the_decrypted_value(server, ssm, kms, iam):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    name = unique("/mydept/my-app/prod/dbpassword")
    ssm.put_parameter(Name=name, Type="SecureString", Value="s3cret-value", KeyId=key)
    _, denied_key = make_user(iam, inline=policy_doc(allow("ssm:*"), allow("kms:*"), deny("kms:Decrypt", key)))
    _, allowed_key = make_user(iam, inline=policy_doc(allow("ssm:*"), allow("kms:Decrypt", key)))
    denied = server.client("ssm", access_key=denied_key["AccessKeyId"], secret_key=denied_key["SecretAccessKey"])
    allowed = server.client("ssm", access_key=allowed_key["AccessKeyId"], secret_key=allowed_key["SecretAccessKey"])
    # The encrypted value is readable, the decrypted one is not.
    enc = denied.get_parameter(Name=name)["Parameter"]["Value"]
    assert enc != "s3cret-value"
    e = fails(denied.get_parameter, Name=name, WithDecryption=True)
    assert error_code(e) == "AccessDeniedException"
    assert "kms:Decrypt" in error_message(e) and "s3cret-value" not in error_message(e)
    assert error_code(fails(denied.get_parameters, Names=[name], WithDecryption=True)) == "AccessDeniedException"
    assert error_code(fails(denied.get_parameter_history, Name=name, WithDecryption=True)) == "AccessDeniedException"
    env = {"AWS_ACCESS_KEY_ID": denied_key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": denied_key["SecretAccessKey"]}
    path = name.rsplit("/", 1)[0]
    r = server.cli("ssm", "get-parameters-by-path", "--path", path, "--recursive", "--with-decryption", env=env)
    assert r.returncode != 0 and "AccessDeniedException" in r.stderr
    assert allowed.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "s3cret-value"


def test_ssm_actions_are_authorized_per_parameter(server, ssm, iam):
    name = unique("/authz/p")
    ssm.put_parameter(Name=name, Type="String", Value="v")
    _, k = make_user(iam, inline=policy_doc(allow("ssm:GetParameter", arn_of("/authz/*"))))
    c = server.client("ssm", access_key=k["AccessKeyId"], secret_key=k["SecretAccessKey"])
    assert c.get_parameter(Name=name)["Parameter"]["Value"] == "v"
    assert error_code(fails(c.put_parameter, Name=name, Type="String", Value="x", Overwrite=True)) == "AccessDeniedException"
    assert error_code(fails(c.delete_parameter, Name=name)) == "AccessDeniedException"
    region = "/aws/service/global-infrastructure/regions/us-east-1"
    assert error_code(fails(c.get_parameter, Name=region)) == "AccessDeniedException"


def test_secure_string_uses_the_aws_managed_key_and_parameter_arn_context(ssm, kms):
    name = unique("/secure/default")
    ssm.put_parameter(Name=name, Type="SecureString", Value="hello")
    meta = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]
    assert meta["KeyId"] == "alias/aws/ssm"
    assert "alias/aws/ssm" in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    # The AWS managed key is usable only through Parameter Store, not directly.
    blob = base64.b64decode(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    e = fails(kms.decrypt, CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": arn_of(name)})
    assert error_code(e) == "AccessDeniedException"
    # With a customer key the ciphertext is bound to the parameter's ARN.
    key = kms.create_key()["KeyMetadata"]["Arn"]
    custom = unique("/secure/custom")
    ssm.put_parameter(Name=custom, Type="SecureString", Value="bound", KeyId=key)
    blob = base64.b64decode(ssm.get_parameter(Name=custom)["Parameter"]["Value"])
    out = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": arn_of(custom)})
    assert out["Plaintext"] == b"bound" and out["KeyId"] == key
    assert error_code(fails(kms.decrypt, CiphertextBlob=blob)) == "InvalidCiphertextException"


# -- versions, selectors, labels, history ----------------------------------------------------------


def test_overwrite_versions_and_selectors(ssm):
    name = unique("/versions/p")
    ssm.put_parameter(Name=name, Type="String", Value="one", Description="d1")
    e = fails(ssm.put_parameter, Name=name, Type="String", Value="two")
    assert error_code(e) == "ParameterAlreadyExists"
    assert error_message(e) == "The parameter already exists. To overwrite this request value, set the overwrite option in the request to true."
    assert ssm.put_parameter(Name=name, Value="two", Overwrite=True)["Version"] == 2
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "two"
    p = ssm.get_parameter(Name=f"{name}:1")["Parameter"]
    assert (p["Value"], p["Version"], p["Selector"], p["Name"]) == ("one", 1, ":1", name)
    e = fails(ssm.get_parameter, Name=f"{name}:9")
    assert error_code(e) == "ParameterVersionNotFound"
    assert error_message(e) == f"Systems Manager could not find version 9 of {name}. Verify the version and try again."
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["stable"])
    p = ssm.get_parameter(Name=f"{name}:stable")["Parameter"]
    assert (p["Value"], p["Selector"]) == ("one", ":stable")
    # A label moves to the version it is applied to.
    assert ssm.label_parameter_version(Name=name, Labels=["stable"])["ParameterVersion"] == 2
    assert ssm.get_parameter(Name=f"{name}:stable")["Parameter"]["Version"] == 2
    assert error_code(fails(ssm.get_parameter, Name=f"{name}:nolabel")) == "ParameterNotFound"
    out = ssm.get_parameters(Names=[name, f"{name}:1", f"{name}:7", unique("/missing/x")])
    assert sorted(p.get("Selector", "") for p in out["Parameters"]) == ["", ":1"]
    assert len(out["InvalidParameters"]) == 2
    hist = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [(h["Version"], h["Value"], h["Labels"]) for h in hist] == [(1, "one", []), (2, "two", ["stable"])]
    assert hist[1]["Description"] == "d1"


def test_label_rules_and_limits(ssm):
    name = unique("/labels/p")
    ssm.put_parameter(Name=name, Type="String", Value="v")
    out = ssm.label_parameter_version(Name=name, Labels=["ok-label", "1bad", "awsbad", "has space"])
    assert sorted(out["InvalidLabels"]) == ["1bad", "awsbad", "has space"]
    e = fails(ssm.label_parameter_version, Name=name, Labels=[f"l{i}" for i in range(10)])
    assert error_code(e) == "ParameterVersionLabelLimitExceeded"
    e = fails(ssm.label_parameter_version, Name=name, ParameterVersion=5, Labels=["x"])
    assert error_code(e) == "ParameterVersionNotFound"
    out = ssm.unlabel_parameter_version(Name=name, ParameterVersion=1, Labels=["ok-label", "never"])
    assert out["RemovedLabels"] == ["ok-label"] and out["InvalidLabels"] == ["never"]
    assert error_code(fails(ssm.label_parameter_version, Name=unique("/labels/none"), Labels=["a"])) == "ParameterNotFound"


def test_history_keeps_100_versions_and_refuses_to_drop_a_labelled_oldest(ssm):
    name = unique("/history/p")
    ssm.put_parameter(Name=name, Type="String", Value="v1")
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["first"])
    for i in range(2, 101):
        ssm.put_parameter(Name=name, Value=f"v{i}", Overwrite=True)
    e = fails(ssm.put_parameter, Name=name, Value="v101", Overwrite=True)
    assert error_code(e) == "ParameterMaxVersionLimitExceeded"
    assert "Version 1, the oldest version, can't be deleted because it has a label" in error_message(e)
    ssm.unlabel_parameter_version(Name=name, ParameterVersion=1, Labels=["first"])
    assert ssm.put_parameter(Name=name, Value="v101", Overwrite=True)["Version"] == 101
    versions = [h["Version"] for page in ssm.get_paginator("get_parameter_history").paginate(Name=name) for h in page["Parameters"]]
    assert versions == list(range(2, 102))
    page = ssm.get_parameter_history(Name=name, MaxResults=50)
    assert len(page["Parameters"]) == 50 and page["NextToken"]
    assert error_code(fails(ssm.get_parameter, Name=f"{name}:1")) == "ParameterVersionNotFound"


# -- names, sizes, types, tiers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,code",
    [
        ("/has space/x", "ValidationException"),
        ("/bad$char", "ValidationException"),
        ("relative/path", "ValidationException"),
        ("/aws/mine", "ValidationException"),
        ("ssm-thing", "ValidationException"),
        ("/a//b", "ValidationException"),
        ("/" + "/".join(f"l{i}" for i in range(16)), "HierarchyLevelLimitExceededException"),
    ],
)
def test_parameter_names_follow_aws_rules(ssm, name, code):
    e = fails(ssm.put_parameter, Name=name, Type="String", Value="v")
    assert error_code(e) == code


def test_name_error_messages(ssm):
    e = fails(ssm.put_parameter, Name="/bad name", Type="String", Value="v")
    assert error_message(e).startswith('Parameter name: can\'t be prefixed with "ssm" (case-insensitive).')
    deep = "/" + "/".join(f"l{i}" for i in range(16))
    assert "maximum of 15 levels" in error_message(fails(ssm.put_parameter, Name=deep, Type="String", Value="v"))
    ok15 = unique("/d") + "".join(f"/l{i}" for i in range(14))
    assert ssm.put_parameter(Name=ok15, Type="String", Value="v")["Version"] == 1
    for path in ("no-slash", "//", "/a//b", "/bad path"):
        assert error_code(fails(ssm.get_parameters_by_path, Path=path)) == "ValidationException"
    assert error_code(fails(ssm.describe_parameters, ParameterFilters=[{"Key": "Path", "Values": ["//"]}])) == "InvalidFilterValue"


def test_sizes_and_tiers(ssm):
    name = unique("/tiers/p")
    e = fails(ssm.put_parameter, Name=name, Type="String", Value="x" * 4097)
    assert error_code(e) == "ValidationException" and "4096" in error_message(e)
    assert ssm.put_parameter(Name=name, Type="String", Value="x" * 4096)["Tier"] == "Standard"
    out = ssm.put_parameter(Name=name, Value="x" * 8000, Tier="Advanced", Overwrite=True)
    assert out["Tier"] == "Advanced"
    e = fails(ssm.put_parameter, Name=name, Value="y", Tier="Standard", Overwrite=True)
    assert error_code(e) == "ValidationException" and "downgrade" in error_message(e)
    assert error_code(fails(ssm.put_parameter, Name=unique("/tiers/big"), Type="String", Value="x" * 8193, Tier="Advanced")) == "ValidationException"
    it = unique("/tiers/intelligent")
    assert ssm.put_parameter(Name=it, Type="String", Value="small", Tier="Intelligent-Tiering")["Tier"] == "Standard"
    assert ssm.put_parameter(Name=it, Value="z" * 5000, Tier="Intelligent-Tiering", Overwrite=True)["Tier"] == "Advanced"
    meta = ssm.describe_parameters(ParameterFilters=[{"Key": "Tier", "Values": ["Advanced"]}, {"Key": "Name", "Values": [it]}])["Parameters"]
    assert [m["Name"] for m in meta] == [it]


def test_types_patterns_and_data_types(ssm):
    e = fails(ssm.put_parameter, Name=unique("/types/none"), Value="v")
    assert error_code(e) == "ValidationException"
    lst = unique("/types/list")
    ssm.put_parameter(Name=lst, Type="StringList", Value="a,b,c")
    assert ssm.get_parameter(Name=lst)["Parameter"]["Type"] == "StringList"
    pat = unique("/types/pattern")
    e = fails(ssm.put_parameter, Name=pat, Type="String", Value="abc", AllowedPattern=r"^\d+$")
    assert error_code(e) == "ParameterPatternMismatchException"
    assert error_message(e) == r"Parameter value, cannot be validated against allowedPattern: ^\d+$"
    ssm.put_parameter(Name=pat, Type="String", Value="123", AllowedPattern=r"^\d+$")
    # The pattern stays with the parameter.
    assert error_code(fails(ssm.put_parameter, Name=pat, Value="x1", Overwrite=True)) == "ParameterPatternMismatchException"
    ami = unique("/types/ami")
    e = fails(ssm.put_parameter, Name=ami, Type="String", Value="not-an-ami", DataType="aws:ec2:image")
    assert error_code(e) == "ValidationException"
    ssm.put_parameter(Name=ami, Type="String", Value="ami-0123456789abcdef0", DataType="aws:ec2:image")
    assert ssm.get_parameter(Name=ami)["Parameter"]["DataType"] == "aws:ec2:image"
    e = fails(ssm.put_parameter, Name=unique("/types/dt"), Type="String", Value="v", DataType="integer")
    assert error_code(e) == "ValidationException"
    e = fails(ssm.put_parameter, Name=unique("/types/key"), Type="String", Value="v", KeyId="alias/aws/ssm")
    assert error_code(e) == "ValidationException"
    e = fails(ssm.put_parameter, Name=unique("/types/badkey"), Type="SecureString", Value="v", KeyId="alias/does-not-exist")
    assert error_code(e) == "InvalidKeyId"


def test_tags_and_overwrite_cannot_be_combined(ssm):
    name = unique("/tags/p")
    ssm.put_parameter(Name=name, Type="String", Value="v", Tags=[{"Key": "team", "Value": "a"}])
    e = fails(ssm.put_parameter, Name=name, Value="w", Overwrite=True, Tags=[{"Key": "x", "Value": "y"}])
    assert error_code(e) == "ValidationException" and "tags and overwrite can't be used together" in error_message(e)
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "b")]
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["team"])
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"] == [{"Key": "env", "Value": "dev"}]
    found = ssm.describe_parameters(ParameterFilters=[{"Key": "tag:env", "Values": ["dev"]}, {"Key": "Name", "Values": [name]}])["Parameters"]
    assert [p["Name"] for p in found] == [name]
    assert error_code(fails(ssm.list_tags_for_resource, ResourceType="Document", ResourceId="doc")) == "InvalidResourceType"
    assert error_code(fails(ssm.add_tags_to_resource, ResourceType="Parameter", ResourceId=unique("/tags/none"), Tags=[{"Key": "a", "Value": "b"}])) == "InvalidResourceId"


def test_describe_parameters_filters_and_paging(ssm):
    base = unique("/describe")
    for i in range(5):
        ssm.put_parameter(Name=f"{base}/p{i}", Type="String" if i % 2 else "SecureString", Value="v")
    ssm.put_parameter(Name=f"{base}/deep/q", Type="String", Value="v")
    one = ssm.describe_parameters(ParameterFilters=[{"Key": "Path", "Values": [base]}])["Parameters"]
    assert len(one) == 5
    rec = ssm.describe_parameters(ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [base]}])["Parameters"]
    assert len(rec) == 6
    secure = ssm.describe_parameters(ParameterFilters=[{"Key": "Path", "Values": [base]}, {"Key": "Type", "Values": ["SecureString"]}])["Parameters"]
    assert len(secure) == 3 and all(p["KeyId"] == "alias/aws/ssm" for p in secure)
    begins = ssm.describe_parameters(Filters=[{"Key": "Name", "Values": [f"{base}/p"]}])["Parameters"]
    assert len(begins) == 5
    pages = list(ssm.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [base]}], PaginationConfig={"PageSize": 2}))
    assert sum(len(p["Parameters"]) for p in pages) == 6 and len(pages) >= 3
    assert error_code(fails(ssm.describe_parameters, Filters=[{"Key": "Name", "Values": ["a"]}], ParameterFilters=[{"Key": "Name", "Values": ["a"]}])) == "ValidationException"
    assert error_code(fails(ssm.describe_parameters, ParameterFilters=[{"Key": "Name", "Option": "Recursive", "Values": ["a"]}])) == "InvalidFilterOption"
    assert error_code(fails(ssm.get_parameters_by_path, Path=base, ParameterFilters=[{"Key": "Name", "Values": ["a"]}])) == "InvalidFilterKey"
    meta = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [f"{base}/p1"]}])["Parameters"][0]
    assert meta["Version"] == 1 and meta["Tier"] == "Standard" and meta["LastModifiedUser"].startswith("arn:aws:iam::")


def test_delete_parameter_and_parameters(ssm):
    a, b = unique("/delete/a"), unique("/delete/b")
    for n in (a, b):
        ssm.put_parameter(Name=n, Type="String", Value="v")
    ssm.delete_parameter(Name=a)
    assert error_code(fails(ssm.get_parameter, Name=a)) == "ParameterNotFound"
    assert error_code(fails(ssm.delete_parameter, Name=a)) == "ParameterNotFound"
    out = ssm.delete_parameters(Names=[b, a])
    assert out["DeletedParameters"] == [b] and out["InvalidParameters"] == [a]
    # A re-created parameter starts at version 1.
    assert ssm.put_parameter(Name=a, Type="String", Value="again")["Version"] == 1
    # When every name was deleted AWS still answers the empty list (the awscli example of
    # delete-parameters shows `"InvalidParameters": []`).
    out = ssm.delete_parameters(Names=[a])
    assert out == {"DeletedParameters": [a], "InvalidParameters": [], "ResponseMetadata": out["ResponseMetadata"]}


def test_public_parameters_and_secrets_manager_references(ssm):
    p = ssm.get_parameter(Name="/aws/service/global-infrastructure/regions/us-east-1")["Parameter"]
    assert p["Value"] == "us-east-1" and p["Type"] == "String"
    long = ssm.get_parameter(Name="/aws/service/global-infrastructure/regions/eu-west-1/longName")["Parameter"]
    assert long["Value"] == "Europe (Ireland)"
    regions = [p["Value"] for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/aws/service/global-infrastructure/regions") for p in page["Parameters"]]
    assert "us-west-2" in regions and "eu-central-1" in regions
    e = fails(ssm.get_parameter, Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
    assert error_code(e) == "ParameterNotFound"
    e = fails(ssm.get_parameter, Name="/aws/reference/secretsmanager/mysecret")
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "WithDecryption flag must be True for retrieving a Secret Manager secret."
    e = fails(ssm.get_parameter, Name="/aws/reference/secretsmanager/mysecret", WithDecryption=True)
    assert error_code(e) == "ParameterNotFound"


def test_secrets_manager_reference_returns_the_secret(server, ssm):
    sm = server.client("secretsmanager")
    name = unique("ref/db")
    arn = sm.create_secret(Name=name, SecretString='{"password":"p1"}')["ARN"]
    p = ssm.get_parameter(Name=f"/aws/reference/secretsmanager/{name}", WithDecryption=True)["Parameter"]
    assert p["Value"] == '{"password":"p1"}'
    assert p["Type"] == "SecureString"
    assert p["SourceResult"] and arn in p["SourceResult"]
    sm.put_secret_value(SecretId=name, SecretString='{"password":"p2"}')
    prev = ssm.get_parameter(Name=f"/aws/reference/secretsmanager/{name}:AWSPREVIOUS", WithDecryption=True)
    assert prev["Parameter"]["Value"] == '{"password":"p1"}'


def test_policies_need_the_advanced_tier_and_valid_documents(ssm):
    exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    doc = json.dumps([{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": exp}}])
    e = fails(ssm.put_parameter, Name=unique("/pol/std"), Type="String", Value="v", Policies=doc)
    assert error_code(e) == "ValidationException"
    name = unique("/pol/it")
    assert ssm.put_parameter(Name=name, Type="String", Value="v", Policies=doc, Tier="Intelligent-Tiering")["Tier"] == "Advanced"
    meta = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]
    assert meta["Policies"][0]["PolicyType"] == "Expiration" and meta["Policies"][0]["PolicyStatus"] == "Pending"
    bad = json.dumps([{"Type": "Explode", "Version": "1.0", "Attributes": {}}])
    assert error_code(fails(ssm.put_parameter, Name=unique("/pol/bad"), Type="String", Value="v", Policies=bad, Tier="Advanced")) == "InvalidPolicyTypeException"
    past = json.dumps([{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": "2001-01-01T00:00:00.000Z"}}])
    assert error_code(fails(ssm.put_parameter, Name=unique("/pol/past"), Type="String", Value="v", Policies=past, Tier="Advanced")) == "InvalidPolicyAttributeException"


def test_acknowledged_put_parameter_survives_kill_9(server_factory):
    s = server_factory("ssm-durable")
    c = s.client("ssm")
    name = unique("/durable/p")
    c.put_parameter(Name=name, Type="SecureString", Value="kept")
    c.put_parameter(Name=name, Value="kept-2", Overwrite=True)
    s.kill9_and_restart()
    c = s.client("ssm")
    p = c.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert (p["Value"], p["Version"]) == ("kept-2", 2)


# -- policies and events at a webhook target (Done when, item 3) --------------------------------------


class _Sink(http.server.BaseHTTPRequestHandler):
    events = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            type(self).events.append(json.loads(body))
        except ValueError:
            pass
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def webhook():
    handler = type("Sink", (_Sink,), {"events": []})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield handler, f"http://127.0.0.1:{srv.server_address[1]}/events"
    srv.shutdown()


def _events(handler, detail_type, name):
    return [e for e in handler.events if e["detail-type"] == detail_type and
            name in (e["detail"].get("name"), e["detail"].get("parameter-name"))]


def test_expiration_policy_deletes_the_parameter_and_notifications_reach_a_webhook(server_factory, webhook):
    handler, url = webhook
    s = server_factory("ssm-policies", dev=True, extra_env={"RAMPART_EVENT_WEBHOOKS": url})
    c = s.client("ssm")
    name = unique("/policies/expiring")
    exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    policies = json.dumps([
        {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": exp}},
        {"Type": "ExpirationNotification", "Version": "1.0", "Attributes": {"Before": "1", "Unit": "Hours"}},
    ])
    c.put_parameter(Name=name, Type="String", Value="temporary", Tier="Advanced", Policies=policies)
    idle = unique("/policies/idle")
    c.put_parameter(Name=idle, Type="String", Value="v", Tier="Advanced", Policies=json.dumps(
        [{"Type": "NoChangeNotification", "Version": "1.0", "Attributes": {"After": "1", "Unit": "Hours"}}]))
    s.advance_clock(1)
    assert wait_for(lambda: _events(handler, "Parameter Store Change", name))
    created = _events(handler, "Parameter Store Change", name)[0]
    assert created["source"] == "aws.ssm" and created["detail"]["operation"] == "Create"
    assert created["resources"] == [arn_of(name).replace(REGION + ":" + ADMIN_ACCOUNT, REGION + ":" + created["account"])]
    assert not _events(handler, "Parameter Store Policy Action", name)
    # 65 minutes later: within an hour of expiry, and the idle parameter unchanged for an hour.
    s.advance_clock(65 * 60)
    s.advance_clock(2)
    assert wait_for(lambda: _events(handler, "Parameter Store Policy Action", name))
    note = _events(handler, "Parameter Store Policy Action", name)[0]
    assert note["detail"]["policy-type"] == "ExpirationNotification"
    assert note["detail"]["parameter-type"] == "String"
    assert c.get_parameter(Name=name)["Parameter"]["Value"] == "temporary"
    assert wait_for(lambda: _events(handler, "Parameter Store Policy Action", idle))
    assert _events(handler, "Parameter Store Policy Action", idle)[0]["detail"]["policy-type"] == "NoChangeNotification"
    # Past the expiration: the scheduler deletes it.
    s.advance_clock(60 * 60)
    s.advance_clock(2)
    assert error_code(fails(c.get_parameter, Name=name)) == "ParameterNotFound"
    assert wait_for(lambda: any(e["detail"]["policy-type"] == "Expiration" for e in _events(handler, "Parameter Store Policy Action", name)))
    assert wait_for(lambda: any(e["detail"]["operation"] == "Delete" for e in _events(handler, "Parameter Store Change", name)))
    # Notifications are sent once.
    assert len([e for e in _events(handler, "Parameter Store Policy Action", name) if e["detail"]["policy-type"] == "ExpirationNotification"]) == 1


def test_every_change_emits_a_parameter_store_change_event(server_factory, webhook):
    handler, url = webhook
    s = server_factory("ssm-events", dev=True, extra_env={"RAMPART_EVENT_WEBHOOKS": url})
    c = s.client("ssm")
    name = unique("/events/p")
    c.put_parameter(Name=name, Type="SecureString", Value="secret-v1", Description="desc")
    c.put_parameter(Name=name, Value="secret-v2", Overwrite=True)
    c.label_parameter_version(Name=name, Labels=["current"])
    c.delete_parameter(Name=name)
    s.advance_clock(1)
    assert wait_for(lambda: len(_events(handler, "Parameter Store Change", name)) >= 4)
    ops = [e["detail"]["operation"] for e in _events(handler, "Parameter Store Change", name)]
    assert ops == ["Create", "Update", "LabelParameterVersion", "Delete"]
    first = _events(handler, "Parameter Store Change", name)[0]
    assert first["detail"]["type"] == "SecureString" and first["detail"]["description"] == "desc"
    assert "secret-v1" not in json.dumps(handler.events)


def test_parameters_can_be_read_by_arn(ssm):
    name = unique("/byarn/p")
    ssm.put_parameter(Name=name, Type="String", Value="v1")
    ssm.put_parameter(Name=name, Value="v2", Overwrite=True)
    assert ssm.get_parameter(Name=arn_of(name))["Parameter"]["Value"] == "v2"
    assert ssm.get_parameter(Name=arn_of(name) + ":1")["Parameter"]["Value"] == "v1"
    plain = unique("plain")
    ssm.put_parameter(Name=plain, Type="String", Value="p")
    assert ssm.get_parameter(Name=arn_of(plain))["Parameter"]["Name"] == plain
    other = f"arn:aws:ssm:{REGION}:999999999999:parameter/x"
    assert error_code(fails(ssm.get_parameter, Name=other)) == "ParameterNotFound"


def test_names_longer_than_1011_characters_are_refused(ssm):
    e = fails(ssm.put_parameter, Name="/" + "n" * 1011, Type="String", Value="v")
    assert error_code(e) == "ValidationException"


def test_audit_records_calls_and_kms_use_without_the_value(server, ssm):
    from conftest import lookup_events

    name = unique("/audit/p")
    ssm.put_parameter(Name=name, Type="SecureString", Value="audit-secret-value-123")
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "audit-secret-value-123"
    ct = server.client("cloudtrail")
    puts = lookup_events(ct, "EventName", "PutParameter")
    assert any(name in e["CloudTrailEvent"] for e in puts)
    decrypts = [json.loads(e["CloudTrailEvent"]) for e in lookup_events(ct, "EventName", "Decrypt")]
    assert any(d.get("userAgent") == "ssm.amazonaws.com" and d["requestParameters"]["encryptionContext"] == {"PARAMETER_ARN": arn_of(name)}
               for d in decrypts)
    assert "audit-secret-value-123" not in server.audit_text()
    assert "audit-secret-value-123" not in server.logs_text()


def test_advanced_secure_string_values_up_to_8_kb_round_trip(ssm, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    for extra in ({}, {"KeyId": key}):
        name = unique("/bigsecure/p")
        value = "s" * 8192
        assert ssm.put_parameter(Name=name, Type="SecureString", Value=value, Tier="Advanced", **extra)["Tier"] == "Advanced"
        assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == value
        assert ssm.get_parameter(Name=name)["Parameter"]["Value"] != value


def test_parameters_persist_across_restart_on_each_backend(backend_server):
    c = backend_server.client("ssm")
    base = unique("/backend")
    for i in range(12):
        c.put_parameter(Name=f"{base}/p{i:02d}", Type="SecureString" if i % 3 == 0 else "String", Value=f"v{i}")
    c.label_parameter_version(Name=f"{base}/p00", Labels=["prod"])
    backend_server.restart()
    c = backend_server.client("ssm")
    got = [p for page in c.get_paginator("get_parameters_by_path").paginate(Path=base, WithDecryption=True) for p in page["Parameters"]]
    assert [p["Value"] for p in got] == [f"v{i}" for i in range(12)]
    assert c.get_parameter(Name=f"{base}/p00:prod", WithDecryption=True)["Parameter"]["Value"] == "v0"


# -- names as AWS reads them (issue 12) --------------------------------------------------------

BAD_NAME = ("Parameter name: can't be prefixed with \"ssm\" (case-insensitive). If formed as a path, it can "
            "consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, "
            "numbers and the following 3 symbols .-_")


def test_a_hierarchical_name_without_its_leading_slash_is_a_validation_error(ssm):
    base = unique("/rel")
    ssm.put_parameter(Name=f"{base}/leaf", Type="String", Value="v")
    relative = f"{base.lstrip('/')}/leaf"  # the same parameter, written without the slash
    e = fails(ssm.put_parameter, Name=relative, Type="String", Value="v", Overwrite=True)
    assert (error_code(e), error_message(e)) == ("ValidationException", "Parameter name must be a fully qualified name.")
    # Reads answer AWS's name-rules message, not ParameterNotFound.
    for fn, kw in ((ssm.get_parameter, {"Name": relative}),
                   (ssm.get_parameter, {"Name": f"{relative}:1"}),
                   (ssm.get_parameter_history, {"Name": relative}),
                   (ssm.delete_parameter, {"Name": relative}),
                   (ssm.label_parameter_version, {"Name": relative, "Labels": ["l1"]})):
        e = fails(fn, **kw)
        assert (error_code(e), error_message(e)) == ("ValidationException", BAD_NAME), (fn, kw)
    # Batches list such a name, as the caller wrote it, among the invalid ones.
    out = ssm.get_parameters(Names=[f"{base}/leaf", relative, f"{relative}:1"])
    assert [p["Name"] for p in out["Parameters"]] == [f"{base}/leaf"]
    assert sorted(out["InvalidParameters"]) == sorted([relative, f"{relative}:1"])
    out = ssm.delete_parameters(Names=[relative])
    assert out["InvalidParameters"] == [relative] and out["DeletedParameters"] == []
    assert ssm.get_parameter(Name=f"{base}/leaf")["Parameter"]["Value"] == "v"


def test_names_in_answers_are_echoed_as_the_caller_wrote_them(ssm):
    single = unique("/single")
    ssm.put_parameter(Name=single, Type="String", Value="v")
    # Selectors and unknown names come back in InvalidParameters exactly as written.
    missing = unique("/nope") + "/x"
    out = ssm.get_parameters(Names=[f"{single}:9", missing, f"{single}:1"])
    assert sorted(out["InvalidParameters"]) == sorted([f"{single}:9", missing])
    (p,) = out["Parameters"]
    assert p["Selector"] == ":1" and p["Name"] == single.lstrip("/")
    # A version that is not there is named in the error as the caller wrote the name.
    e = fails(ssm.get_parameter, Name=f"{single}:9")
    assert error_code(e) == "ParameterVersionNotFound"
    assert error_message(e) == f"Systems Manager could not find version 9 of {single}. Verify the version and try again."
