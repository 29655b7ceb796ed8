"""IAM reports and service-linked roles through boto3: the credential report (AWS's columns and
placeholder values), access keys' last use from the audit trail, service-linked roles and the
rule that users cannot change them, and list operations that page with MaxItems/Marker."""

import csv
import io
import json

import pytest
from botocore.exceptions import ClientError

from conftest import allow, error_code, error_message, make_user, policy_doc, unique, wait_for

COLUMNS = [
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used",
    "password_last_changed", "password_next_rotation", "mfa_active",
    "access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
    "access_key_1_last_used_region", "access_key_1_last_used_service",
    "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
    "access_key_2_last_used_region", "access_key_2_last_used_service",
    "cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
]


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def code_of(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return error_code(e.value)


def report_rows(iam):
    r = iam.get_credential_report()
    assert r["ReportFormat"] == "text/csv"
    assert r["GeneratedTime"] is not None
    text = r["Content"].decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == COLUMNS
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def test_credential_report_lists_root_first_then_users_with_aws_placeholders(iam, server):
    # A fresh server has no report yet.
    assert code_of(iam.get_credential_report) == "ReportNotPresent"
    plain = unique("plain")
    iam.create_user(UserName=plain)
    with_pw, key = make_user(iam, unique("pw"), inline=policy_doc(allow("sts:GetCallerIdentity")))
    iam.create_login_profile(UserName=with_pw["UserName"], Password="Str0ng!Passw0rd-x")
    server.client("sts", creds=key).get_caller_identity()

    assert iam.generate_credential_report()["State"] == "STARTED"
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    rows = report_rows(iam)
    root = rows[0]
    assert root["user"] == "<root_account>"
    assert root["arn"].endswith(":root")
    assert root["password_enabled"] == "not_supported"
    assert root["password_last_changed"] == "not_supported"
    assert root["password_next_rotation"] == "not_supported"
    by_name = {r["user"]: r for r in rows[1:]}
    p = by_name[plain]
    assert p["password_enabled"] == "false" and p["password_last_used"] == "N/A"
    assert p["password_last_changed"] == "N/A" and p["mfa_active"] == "false"
    assert p["access_key_1_active"] == "false" and p["access_key_1_last_rotated"] == "N/A"
    assert p["access_key_1_last_used_date"] == "N/A" and p["cert_1_active"] == "false"
    assert p["cert_1_last_rotated"] == "N/A"
    w = by_name[with_pw["UserName"]]
    assert w["arn"] == with_pw["Arn"]
    assert w["password_enabled"] == "true"
    assert w["password_last_used"] == "no_information"
    assert w["password_last_changed"].endswith("+00:00")
    assert w["password_next_rotation"] == "N/A"
    assert w["access_key_1_active"] == "true"
    assert w["access_key_1_last_rotated"].endswith("+00:00")
    assert w["access_key_1_last_used_service"] in ("sts", "N/A")
    assert w["access_key_2_active"] == "false"


def test_credential_report_expires_after_four_hours(dev_server):
    iam = dev_server.client("iam")
    iam.generate_credential_report()
    dev_server.advance_clock(4 * 3600 + 60)
    assert code_of(iam.get_credential_report) == "ReportExpired"
    assert iam.generate_credential_report()["State"] == "STARTED"
    assert report_rows(iam)[0]["user"] == "<root_account>"


def test_access_key_last_used_comes_from_the_audit_trail(iam, server):
    user, key = make_user(iam, unique("lu"), inline=policy_doc(allow("sts:GetCallerIdentity")))
    never = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert never["UserName"] == user["UserName"]
    assert never["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    assert never["AccessKeyLastUsed"]["Region"] == "N/A"
    assert "LastUsedDate" not in never["AccessKeyLastUsed"]
    server.client("sts", creds=key).get_caller_identity()

    def used():
        last = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
        return last if last["ServiceName"] != "N/A" else None
    last = wait_for(used)
    assert last and last["ServiceName"] == "sts" and last["Region"] == "us-east-1"
    assert last["LastUsedDate"] is not None
    assert code_of(iam.get_access_key_last_used, AccessKeyId="AKIAEXAMPLENOTAKEY00") == "NoSuchEntity"


def test_service_linked_role_has_aws_name_path_trust_and_policy(iam):
    role = iam.create_service_linked_role(AWSServiceName="elasticloadbalancing.amazonaws.com")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForElasticLoadBalancing"
    assert role["Path"] == "/aws-service-role/elasticloadbalancing.amazonaws.com/"
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"]["Service"] == ["elasticloadbalancing.amazonaws.com"]
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [
        "arn:aws:iam::aws:policy/aws-service-role/AWSElasticLoadBalancingServiceRolePolicy"]
    with pytest.raises(ClientError) as e:
        iam.create_service_linked_role(AWSServiceName="elasticloadbalancing.amazonaws.com")
    assert error_code(e.value) == "InvalidInput"
    assert "has been taken in this account" in error_message(e.value)
    with pytest.raises(ClientError) as e:
        iam.create_service_linked_role(AWSServiceName="guardduty.amazonaws.com", CustomSuffix="x")
    assert error_message(e.value) == "Custom suffix is not allowed for guardduty.amazonaws.com"
    suffixed = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="web")
    assert suffixed["Role"]["RoleName"] == "AWSServiceRoleForAutoScaling_web"


def test_users_cannot_modify_a_service_linked_role(iam):
    name = iam.create_service_linked_role(AWSServiceName="shield.amazonaws.com")["Role"]["RoleName"]
    doc = policy_doc(allow("s3:GetObject"))
    calls = [
        (iam.update_assume_role_policy, {"PolicyDocument": doc}),
        (iam.put_role_policy, {"PolicyName": "x", "PolicyDocument": doc}),
        (iam.delete_role_policy, {"PolicyName": "x"}),
        (iam.attach_role_policy, {"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        (iam.detach_role_policy, {"PolicyArn": "arn:aws:iam::aws:policy/aws-service-role/AWSShieldServiceRolePolicy"}),
        (iam.delete_role, {}),
    ]
    for fn, kw in calls:
        with pytest.raises(ClientError) as e:
            fn(RoleName=name, **kw)
        assert error_code(e.value) == "UnmodifiableEntity", fn
        assert error_message(e.value) == (
            f"Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS")


def test_deleting_a_service_linked_role_is_a_task_that_succeeds(iam):
    name = iam.create_service_linked_role(AWSServiceName="inspector2.amazonaws.com")["Role"]["RoleName"]
    task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    assert task.startswith(f"task/aws-service-role/inspector2.amazonaws.com/{name}/")
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    assert code_of(iam.get_role, RoleName=name) == "NoSuchEntity"
    plain = unique("plainrole")
    iam.create_role(RoleName=plain, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    assert code_of(iam.delete_service_linked_role, RoleName=plain) == "InvalidInput"
    assert code_of(iam.get_service_linked_role_deletion_status,
                   DeletionTaskId="task/aws-service-role/inspector2.amazonaws.com/X/00000000-0000-4000-8000-000000000000") == "NoSuchEntity"


@pytest.mark.parametrize("op,setup,key", [
    ("list_user_policies", "inline", "PolicyNames"),
    ("list_attached_user_policies", "attached", "AttachedPolicies"),
    ("list_user_tags", "tags", "Tags"),
    ("list_groups_for_user", "groups", "Groups"),
])
def test_user_listings_page_with_max_items(iam, op, setup, key):
    user = unique("pg")
    iam.create_user(UserName=user)
    for i in range(3):
        if setup == "inline":
            iam.put_user_policy(UserName=user, PolicyName=f"p{i}", PolicyDocument=policy_doc(allow("s3:GetObject")))
        elif setup == "attached":
            arn = iam.create_policy(PolicyName=unique("pgp"), PolicyDocument=policy_doc(allow("s3:GetObject")))["Policy"]["Arn"]
            iam.attach_user_policy(UserName=user, PolicyArn=arn)
        elif setup == "tags":
            iam.tag_user(UserName=user, Tags=[{"Key": f"k{i}", "Value": "v"}])
        else:
            g = unique("pgg")
            iam.create_group(GroupName=g)
            iam.add_user_to_group(GroupName=g, UserName=user)
    first = getattr(iam, op)(UserName=user, MaxItems=2)
    assert len(first[key]) == 2 and first["IsTruncated"] is True
    rest = getattr(iam, op)(UserName=user, MaxItems=2, Marker=first["Marker"])
    assert len(rest[key]) == 1 and rest["IsTruncated"] is False
    assert code_of(getattr(iam, op), UserName=user, Marker="bogus") == "ValidationError"


def test_audit_records_hide_passwords_and_secret_keys(iam, server):
    name = unique("red")
    _, key = make_user(iam, name)
    password, new_password = "Red4cted!Pass-one", "Red4cted!Pass-two"
    iam.create_login_profile(UserName=name, Password=password)
    iam.update_login_profile(UserName=name, Password=new_password)
    sts = server.client("sts", creds=key)
    with pytest.raises(ClientError):
        sts.assume_role_with_web_identity(RoleArn="arn:aws:iam::000000000000:role/none",
                                          RoleSessionName="redact", WebIdentityToken="eyJ.secret-web-token.sig")
    ct = server.client("cloudtrail")

    def recorded():
        events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "UpdateLoginProfile"}])
        return events["Events"]
    events = wait_for(recorded)
    assert events and "HIDDEN_DUE_TO_SECURITY_REASONS" in events[0]["CloudTrailEvent"]
    text = server.audit_text()
    assert name in text
    for secret in (password, new_password, key["SecretAccessKey"], "secret-web-token"):
        assert secret not in text


def test_aws_managed_policies_carry_id_dates_and_usage_counts(iam):
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    before = iam.get_policy(PolicyArn=arn)["Policy"]
    assert before["PolicyId"].startswith("ANPA") and len(before["PolicyId"]) == 21
    assert before["CreateDate"] and before["UpdateDate"] and before["DefaultVersionId"] == "v1"
    user = unique("mp")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    after = iam.get_policy(PolicyArn=arn)["Policy"]
    assert after["PolicyId"] == before["PolicyId"]
    assert after["AttachmentCount"] == before["AttachmentCount"] + 1
    listed = {p["Arn"]: p for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert listed[arn]["PolicyId"] == before["PolicyId"]
    assert listed[arn]["PermissionsBoundaryUsageCount"] == 0
    assert "arn:aws:iam::aws:policy/aws-service-role/AmazonGuardDutyServiceRolePolicy" in listed


@pytest.mark.parametrize("op", [
    "enable_organizations_root_credentials_management", "disable_organizations_root_credentials_management",
    "enable_organizations_root_sessions", "disable_organizations_root_sessions", "list_organizations_features",
])
def test_organizations_features_answer_that_the_account_is_in_no_organization(iam, op):
    with pytest.raises(ClientError) as e:
        getattr(iam, op)()
    assert error_code(e.value) == "OrganizationNotFoundException"
    assert error_message(e.value) == "The request was rejected because no organization is associated with your account."


def test_account_authorization_details_lists_entities_with_their_policies(iam):
    from urllib.parse import unquote
    user, group, role = unique("ad"), unique("adg"), unique("adr")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="gi", PolicyDocument=policy_doc(allow("s3:GetObject")))
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="ui", PolicyDocument=policy_doc(allow("kms:Encrypt")))
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/SecretsManagerReadWrite")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    profile = unique("adp")
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    local = iam.create_policy(PolicyName=unique("adl"), PolicyDocument=policy_doc(allow("ssm:GetParameter")))["Policy"]["Arn"]

    full = iam.get_account_authorization_details()
    users = {u["UserName"]: u for u in full["UserDetailList"]}
    u = users[user]
    assert u["GroupList"] == [group]
    assert [p["PolicyName"] for p in u["UserPolicyList"]] == ["ui"]
    assert u["AttachedManagedPolicies"][0]["PolicyArn"] == "arn:aws:iam::aws:policy/SecretsManagerReadWrite"
    groups = {g["GroupName"]: g for g in full["GroupDetailList"]}
    assert [p["PolicyName"] for p in groups[group]["GroupPolicyList"]] == ["gi"]
    roles = {r["RoleName"]: r for r in full["RoleDetailList"]}
    assert [p["InstanceProfileName"] for p in roles[role]["InstanceProfileList"]] == [profile]
    policies = {p["Arn"]: p for p in full["Policies"]}
    assert "arn:aws:iam::aws:policy/SecretsManagerReadWrite" in policies
    assert "arn:aws:iam::aws:policy/ReadOnlyAccess" not in policies or policies[
        "arn:aws:iam::aws:policy/ReadOnlyAccess"]["AttachmentCount"] > 0
    version = policies[local]["PolicyVersionList"][0]
    assert version["IsDefaultVersion"] is True and version["VersionId"] == "v1"
    doc = version["Document"]
    doc = json.loads(unquote(doc)) if isinstance(doc, str) else doc
    assert doc["Statement"][0]["Action"] == "ssm:GetParameter"

    only_roles = iam.get_account_authorization_details(Filter=["Role"])
    assert only_roles["UserDetailList"] == [] and only_roles["Policies"] == [] and only_roles["RoleDetailList"]
    seen, marker = 0, None
    while True:
        kw = {"MaxItems": 2} | ({"Marker": marker} if marker else {})
        page = iam.get_account_authorization_details(**kw)
        n = sum(len(page[k]) for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"))
        assert n <= 2
        seen += n
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    total = sum(len(full[k]) for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"))
    assert seen == total
