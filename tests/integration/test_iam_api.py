"""IAM listings, group membership and user tags, as the IAM API Reference documents them."""

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status, unique

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
