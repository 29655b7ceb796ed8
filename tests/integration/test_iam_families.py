"""IAM beyond users, roles and policies: renames, policy versions, boundaries, instance
profiles, the account alias and password policy, login profiles — through boto3, with the
answers and error codes the IAM API Reference documents."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import allow, error_code, http_status, make_user, policy_doc, unique, wait_for

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}]})
DOC = lambda action: policy_doc(allow(action))  # noqa: E731


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def code_of(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return error_code(e.value)


def test_renaming_a_user_keeps_its_keys_groups_and_policies(iam, server):
    old, new, group = unique("ren"), unique("ren"), unique("g")
    iam.create_group(GroupName=group)
    _, key = make_user(iam, old, inline=DOC("sts:GetCallerIdentity"))
    iam.add_user_to_group(GroupName=group, UserName=old)
    iam.update_user(UserName=old, NewUserName=new, NewPath="/moved/")
    assert code_of(iam.get_user, UserName=old) == "NoSuchEntity"
    user = iam.get_user(UserName=new)["User"]
    assert user["Path"] == "/moved/" and user["Arn"].endswith(f":user/moved/{new}")
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName=new)["AccessKeyMetadata"]] == [key["AccessKeyId"]]
    assert iam.list_user_policies(UserName=new)["PolicyNames"] == ["inline"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=new)["Groups"]] == [group]
    sts = server.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    assert wait_for(lambda: sts.get_caller_identity()["Arn"].endswith(f"/{new}"))
    other = unique("taken")
    iam.create_user(UserName=other)
    assert code_of(iam.update_user, UserName=new, NewUserName=other) == "EntityAlreadyExists"
    assert code_of(iam.update_user, UserName=new, NewPath="no-slashes") == "ValidationError"


def test_renaming_a_group_keeps_its_members(iam):
    old, new, user = unique("grp"), unique("grp"), unique("m")
    iam.create_group(GroupName=old)
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=old, UserName=user)
    iam.update_group(GroupName=old, NewGroupName=new)
    assert [u["UserName"] for u in iam.get_group(GroupName=new)["Users"]] == [user]
    assert code_of(iam.get_group, GroupName=old) == "NoSuchEntity"


def test_group_inline_and_attached_policies(iam):
    g = unique("gp")
    iam.create_group(GroupName=g)
    iam.put_group_policy(GroupName=g, PolicyName="a", PolicyDocument=DOC("s3:GetObject"))
    iam.put_group_policy(GroupName=g, PolicyName="b", PolicyDocument=DOC("s3:PutObject"))
    assert iam.list_group_policies(GroupName=g)["PolicyNames"] == ["a", "b"]
    page = iam.list_group_policies(GroupName=g, MaxItems=1)
    assert page["IsTruncated"] and page["PolicyNames"] == ["a"]
    assert iam.list_group_policies(GroupName=g, Marker=page["Marker"])["PolicyNames"] == ["b"]
    got = iam.get_group_policy(GroupName=g, PolicyName="a")
    assert got["PolicyDocument"]["Statement"][0]["Action"] == "s3:GetObject"
    iam.delete_group_policy(GroupName=g, PolicyName="a")
    assert code_of(iam.get_group_policy, GroupName=g, PolicyName="a") == "NoSuchEntity"
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    iam.attach_group_policy(GroupName=g, PolicyArn=arn)
    assert [p["PolicyArn"] for p in iam.list_attached_group_policies(GroupName=g)["AttachedPolicies"]] == [arn]
    iam.detach_group_policy(GroupName=g, PolicyArn=arn)
    assert iam.list_attached_group_policies(GroupName=g)["AttachedPolicies"] == []
    assert code_of(iam.detach_group_policy, GroupName=g, PolicyArn=arn) == "NoSuchEntity"


def test_update_role_and_role_tags(iam, server):
    r = unique("role")
    iam.create_role(RoleName=r, AssumeRolePolicyDocument=TRUST)
    iam.update_role(RoleName=r, Description="d1", MaxSessionDuration=7200)
    role = iam.get_role(RoleName=r)["Role"]
    assert role["Description"] == "d1" and role["MaxSessionDuration"] == 7200
    raw = server.query_request("iam", {"Action": "UpdateRole", "Version": "2010-05-08", "RoleName": r, "MaxSessionDuration": "60"})
    assert raw.status_code == 400 and b"ValidationError" in raw.content
    assert iam.update_role_description(RoleName=r, Description="d2")["Role"]["Description"] == "d2"
    iam.tag_role(RoleName=r, Tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "x"}])
    iam.tag_role(RoleName=r, Tags=[{"Key": "TEAM", "Value": "b"}])
    tags = iam.list_role_tags(RoleName=r)["Tags"]
    assert {t["Key"].lower(): t["Value"] for t in tags} == {"team": "b", "env": "x"}
    iam.untag_role(RoleName=r, TagKeys=["env"])
    assert [t["Value"] for t in iam.list_role_tags(RoleName=r)["Tags"]] == ["b"]


def test_policy_versions_change_what_is_allowed(iam, server):
    name = unique("ver")
    arn = iam.create_policy(PolicyName=name, PolicyDocument=DOC("iam:ListUsers"))["Policy"]["Arn"]
    user, key = make_user(iam, managed=[arn])
    me = server.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    assert wait_for(lambda: me.list_users() is not None)
    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=DOC("iam:ListGroups"), SetAsDefault=True)["PolicyVersion"]
    assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"] is True
    assert code_of(me.list_users) == "AccessDenied"
    me.list_groups()
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [("v2", True), ("v1", False)]
    assert code_of(iam.delete_policy_version, PolicyArn=arn, VersionId="v2") == "DeleteConflict"
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    me.list_users()
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=DOC("iam:GetUser"))
    assert code_of(iam.create_policy_version, PolicyArn=arn, PolicyDocument=DOC("iam:GetUser")) == "LimitExceeded"
    assert code_of(iam.create_policy_version, PolicyArn="arn:aws:iam::000000000000:nopolicy/x", PolicyDocument=DOC("iam:GetUser")) == "InvalidInput"


def test_policy_tags_and_entities(iam):
    name = unique("ent")
    arn = iam.create_policy(PolicyName=name, PolicyDocument=DOC("iam:GetUser"))["Policy"]["Arn"]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    iam.untag_policy(PolicyArn=arn, TagKeys=["k"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == []
    u, r, g = unique("u"), unique("r"), unique("g")
    iam.create_user(UserName=u)
    iam.create_role(RoleName=r, AssumeRolePolicyDocument=TRUST)
    iam.create_group(GroupName=g)
    iam.attach_user_policy(UserName=u, PolicyArn=arn)
    iam.attach_role_policy(RoleName=r, PolicyArn=arn)
    iam.attach_group_policy(GroupName=g, PolicyArn=arn)
    out = iam.list_entities_for_policy(PolicyArn=arn)
    assert [x["UserName"] for x in out["PolicyUsers"]] == [u]
    assert [x["RoleName"] for x in out["PolicyRoles"]] == [r]
    assert [x["GroupName"] for x in out["PolicyGroups"]] == [g]
    only_roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert only_roles["PolicyUsers"] == [] and len(only_roles["PolicyRoles"]) == 1


def test_a_permissions_boundary_denies_what_it_does_not_allow(iam, server):
    boundary = iam.create_policy(PolicyName=unique("bnd"), PolicyDocument=DOC("iam:ListGroups"))["Policy"]["Arn"]
    name = unique("bounded")
    _, key = make_user(iam, name, managed=["arn:aws:iam::aws:policy/AdministratorAccess"])
    me = server.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    assert wait_for(lambda: me.list_users() is not None)
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)
    assert iam.get_user(UserName=name)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert code_of(me.list_users) == "AccessDenied"
    me.list_groups()
    users = iam.list_entities_for_policy(PolicyArn=boundary, PolicyUsageFilter="PermissionsBoundary")["PolicyUsers"]
    assert [x["UserName"] for x in users] == [name]
    iam.delete_user_permissions_boundary(UserName=name)
    me.list_users()
    missing = boundary.replace(boundary.rsplit("/", 1)[1], "nope")
    assert code_of(iam.put_user_permissions_boundary, UserName=name, PermissionsBoundary=missing) == "NoSuchEntity"


def test_instance_profiles_hold_one_role_and_block_role_deletion(iam):
    p, r, r2 = unique("ip"), unique("r"), unique("r")
    created = iam.create_instance_profile(InstanceProfileName=p, Path="/app/", Tags=[{"Key": "a", "Value": "b"}])["InstanceProfile"]
    assert created["Arn"].endswith(f":instance-profile/app/{p}") and created["InstanceProfileId"].startswith("AIPA")
    assert created["Roles"] == []
    assert code_of(iam.create_instance_profile, InstanceProfileName=p) == "EntityAlreadyExists"
    iam.create_role(RoleName=r, AssumeRolePolicyDocument=TRUST)
    iam.create_role(RoleName=r2, AssumeRolePolicyDocument=TRUST)
    iam.add_role_to_instance_profile(InstanceProfileName=p, RoleName=r)
    assert code_of(iam.add_role_to_instance_profile, InstanceProfileName=p, RoleName=r2) == "LimitExceeded"
    got = iam.get_instance_profile(InstanceProfileName=p)["InstanceProfile"]
    assert [x["RoleName"] for x in got["Roles"]] == [r]
    assert [x["InstanceProfileName"] for x in iam.list_instance_profiles_for_role(RoleName=r)["InstanceProfiles"]] == [p]
    assert p in [x["InstanceProfileName"] for x in iam.list_instance_profiles(PathPrefix="/app/")["InstanceProfiles"]]
    assert code_of(iam.delete_role, RoleName=r) == "DeleteConflict"
    assert code_of(iam.delete_instance_profile, InstanceProfileName=p) == "DeleteConflict"
    iam.tag_instance_profile(InstanceProfileName=p, Tags=[{"Key": "c", "Value": "d"}])
    assert len(iam.list_instance_profile_tags(InstanceProfileName=p)["Tags"]) == 2
    iam.untag_instance_profile(InstanceProfileName=p, TagKeys=["a"])
    iam.remove_role_from_instance_profile(InstanceProfileName=p, RoleName=r)
    iam.delete_role(RoleName=r)
    iam.delete_instance_profile(InstanceProfileName=p)
    assert code_of(iam.get_instance_profile, InstanceProfileName=p) == "NoSuchEntity"


def test_account_alias_and_summary(iam, server):
    alias = unique("alias").lower().replace("_", "-")
    iam.create_account_alias(AccountAlias=alias)
    assert iam.list_account_aliases()["AccountAliases"] == [alias]
    assert code_of(iam.create_account_alias, AccountAlias="Bad_Alias") == "ValidationError"
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["Users"] >= 1 and summary["UsersQuota"] == 5000 and "Roles" in summary
    iam.delete_account_alias(AccountAlias=alias)
    assert iam.list_account_aliases()["AccountAliases"] == []
    assert code_of(iam.delete_account_alias, AccountAlias=alias) == "NoSuchEntity"


def test_password_policy_and_login_profiles(iam, server):
    assert code_of(iam.get_account_password_policy) == "NoSuchEntity"
    iam.update_account_password_policy(MinimumPasswordLength=12, RequireSymbols=True, AllowUsersToChangePassword=True, PasswordReusePrevention=2)
    pol = iam.get_account_password_policy()["PasswordPolicy"]
    assert pol["MinimumPasswordLength"] == 12 and pol["RequireSymbols"] is True and pol["AllowUsersToChangePassword"] is True
    name = unique("console")
    _, key = make_user(iam, name)
    assert code_of(iam.create_login_profile, UserName=name, Password="short!") == "PasswordPolicyViolation"
    prof = iam.create_login_profile(UserName=name, Password="long-enough-pw!", PasswordResetRequired=True)["LoginProfile"]
    assert prof["UserName"] == name and prof["PasswordResetRequired"] is True
    assert "Password" not in prof
    assert code_of(iam.create_login_profile, UserName=name, Password="long-enough-pw!") == "EntityAlreadyExists"
    assert code_of(iam.delete_user, UserName=name) == "DeleteConflict"
    me = server.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    sts = server.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    assert wait_for(lambda: sts.get_caller_identity() is not None)
    assert code_of(me.change_password, OldPassword="wrong-password!", NewPassword="another-long-pw!") == "AccessDenied"
    me.change_password(OldPassword="long-enough-pw!", NewPassword="another-long-pw!")
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is False
    assert code_of(me.change_password, OldPassword="another-long-pw!", NewPassword="long-enough-pw!") == "PasswordPolicyViolation"
    assert code_of(iam.change_password, OldPassword="x", NewPassword="y") == "InvalidUserType"
    iam.update_login_profile(UserName=name, PasswordResetRequired=True)
    iam.delete_login_profile(UserName=name)
    assert code_of(iam.get_login_profile, UserName=name) == "NoSuchEntity"
    iam.delete_account_password_policy()
    assert code_of(iam.delete_account_password_policy) == "NoSuchEntity"
    assert "long-enough-pw!" not in server.logs_text() and "long-enough-pw!" not in server.audit_text()
