"""IAM listings, group membership and user tags, as the IAM API Reference documents them."""

import pytest
from botocore.exceptions import ClientError

from conftest import allow, error_code, http_status, make_user, policy_doc, unique

TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}'


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def test_list_roles_filters_by_path_prefix_and_pages(iam):
    names = [unique("r") for _ in range(3)]
    for n in names:
        iam.create_role(RoleName=n, Path="/ci/", AssumeRolePolicyDocument=TRUST)
    page = iam.list_roles(PathPrefix="/ci/", MaxItems=2)
    assert page["IsTruncated"] is True and len(page["Roles"]) == 2
    rest = iam.list_roles(PathPrefix="/ci/", Marker=page["Marker"])
    listed = {r["RoleName"] for r in page["Roles"] + rest["Roles"]}
    assert set(names) <= listed
    assert all(r["Path"] == "/ci/" for r in page["Roles"] + rest["Roles"])


def test_list_role_policies_names_inline_policies(iam):
    role = unique("inl")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=role, PolicyName="p1", PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}')
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["p1"]


def test_list_policies_scope_local_lists_customer_policies_only(iam):
    name = unique("pol")
    arn = iam.create_policy(PolicyName=name, PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}')["Policy"]["Arn"]
    local = [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]]
    assert arn in local
    assert not any(a.startswith("arn:aws:iam::aws:") for a in local)
    aws = [p["Arn"] for p in iam.list_policies(Scope="AWS", MaxItems=1000)["Policies"]]
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in aws and arn not in aws


def test_group_membership_is_listed_both_ways_and_blocks_group_deletion(iam):
    group, user = unique("g"), unique("u")
    iam.create_group(GroupName=group)
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [user]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    assert group in [g["GroupName"] for g in iam.list_groups()["Groups"]]
    with pytest.raises(ClientError) as e:
        iam.delete_group(GroupName=group)
    assert error_code(e.value) == "DeleteConflict" and http_status(e.value) == 409
    iam.remove_user_from_group(GroupName=group, UserName=user)
    assert iam.get_group(GroupName=group)["Users"] == []
    iam.delete_group(GroupName=group)
    with pytest.raises(ClientError) as e:
        iam.get_group(GroupName=group)
    assert error_code(e.value) == "NoSuchEntity"


def test_tag_user_adds_and_replaces_and_untag_removes(iam):
    user = unique("t")
    iam.create_user(UserName=user, Tags=[{"Key": "team", "Value": "blue"}])
    iam.tag_user(UserName=user, Tags=[{"Key": "team", "Value": "red"}, {"Key": "env", "Value": "ci"}])
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user)["Tags"]}
    assert tags == {"team": "red", "env": "ci"}
    iam.untag_user(UserName=user, TagKeys=["team"])
    assert iam.list_user_tags(UserName=user)["Tags"] == [{"Key": "env", "Value": "ci"}]


def test_list_users_pages_through_a_path_with_markers(iam):
    path = f"/{unique('p')}/"
    names = sorted(unique("pg") for _ in range(5))
    for n in names:
        iam.create_user(UserName=n, Path=path)
    seen, marker = [], None
    while True:
        kw = {"PathPrefix": path, "MaxItems": 2}
        if marker:
            kw["Marker"] = marker
        page = iam.list_users(**kw)
        seen += [u["UserName"] for u in page["Users"]]
        assert len(page["Users"]) <= 2
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert sorted(seen) == names


# -- the members each operation returns (issue 12) ---------------------------------------------


def test_role_members_per_operation_are_those_aws_returns(iam, server):
    role = unique("members")
    tags = [{"Key": "team", "Value": "blue"}]
    created = iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST, MaxSessionDuration=7200,
                              Description="d", Tags=tags)["Role"]
    # CreateRole: no MaxSessionDuration (even when given) and no RoleLastUsed.
    assert "MaxSessionDuration" not in created and "RoleLastUsed" not in created
    assert created["Tags"] == tags and created["Description"] == "d"
    got = iam.get_role(RoleName=role)["Role"]
    # GetRole: MaxSessionDuration and RoleLastUsed (empty before the role is used) and tags.
    assert got["MaxSessionDuration"] == 7200
    assert got["RoleLastUsed"] == {}
    assert got["Tags"] == tags
    listed = [r for r in iam.list_roles()["Roles"] if r["RoleName"] == role]
    assert len(listed) == 1
    # ListRoles: MaxSessionDuration, but never Tags, RoleLastUsed or PermissionsBoundary.
    assert listed[0]["MaxSessionDuration"] == 7200
    assert not {"Tags", "RoleLastUsed", "PermissionsBoundary"} & set(listed[0])


def test_role_last_used_is_reported_after_the_role_is_assumed(server, iam):
    role = unique("used")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    _, key = make_user(iam, inline=policy_doc(allow("sts:AssumeRole")))
    server.client("sts", creds=key).assume_role(RoleArn=arn, RoleSessionName="s1")
    last = iam.get_role(RoleName=role)["Role"]["RoleLastUsed"]
    assert last["Region"] == "us-east-1" and "LastUsedDate" in last


def test_user_and_policy_members_per_operation(iam):
    user = unique("mu")
    tags = [{"Key": "k", "Value": "v"}]
    assert iam.create_user(UserName=user, Tags=tags)["User"]["Tags"] == tags
    assert iam.get_user(UserName=user)["User"]["Tags"] == tags
    listed = [u for u in iam.list_users()["Users"] if u["UserName"] == user]
    assert listed and "Tags" not in listed[0] and "PermissionsBoundary" not in listed[0]
    doc = policy_doc(allow("s3:GetObject"))
    name = unique("mp")
    created = iam.create_policy(PolicyName=name, PolicyDocument=doc, Description="why")["Policy"]
    # CreatePolicy reports PermissionsBoundaryUsageCount 0 (the aws CLI's create-policy example 2,
    # a 2023 output), GetPolicy none; ListPolicies counts the users and roles it bounds, and
    # leaves out the description.
    assert created["PermissionsBoundaryUsageCount"] == 0
    got = iam.get_policy(PolicyArn=created["Arn"])["Policy"]
    assert "PermissionsBoundaryUsageCount" not in got and got["Description"] == "why"
    listed = [p for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"] == name]
    assert listed[0]["PermissionsBoundaryUsageCount"] == 0
    assert "Description" not in listed[0]
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=created["Arn"])
    listed = [p for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"] == name]
    assert listed[0]["PermissionsBoundaryUsageCount"] == 1


@pytest.mark.parametrize("bad", ["not-an-arn-but-long-enough", "arn:aws:s3:::bucket/policy/x1",
                                 "arn:aws:iam:us-east-1:000000000000:policy/x"])
def test_a_malformed_policy_arn_is_a_validation_error(iam, bad):
    user = unique("bad")
    iam.create_user(UserName=user)
    for call, kw in ((iam.get_policy, {}), (iam.attach_user_policy, {"UserName": user}),
                     (iam.delete_policy, {})):
        with pytest.raises(ClientError) as e:
            call(PolicyArn=bad, **kw)
        assert error_code(e.value) == "ValidationError", call
        assert e.value.response["Error"]["Message"] == f"ARN {bad} is not valid."
