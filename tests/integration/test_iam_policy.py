"""Identity-policy evaluation through the server: implicit deny, allow, explicit deny wins
(inline, group, managed), conditions, and auditing of denials."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ADMIN_ACCOUNT,
    allow,
    deny,
    error_code,
    error_message,
    http_status,
    lookup_events,
    make_user,
    policy_doc,
    unique,
    wait_for,
)

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
READONLY_POLICY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def assert_denied(exc_info, user_arn, action, explicit=False):
    e = exc_info.value
    assert error_code(e) == "AccessDenied", e.response
    assert http_status(e) == 403
    msg = error_message(e)
    assert msg.startswith(f"User: {user_arn} is not authorized to perform: {action}"), msg
    if explicit:
        assert "with an explicit deny" in msg, msg
    else:
        assert "explicit deny" not in msg, msg


def test_root_is_allowed_everything_in_its_account(iam):
    iam.list_users()
    name = unique("rootmade")
    iam.create_user(UserName=name)
    iam.delete_user(UserName=name)


def test_user_without_policy_is_denied(server, iam):
    user, key = make_user(iam)
    with pytest.raises(ClientError) as e:
        server.client("iam", creds=key).list_users()
    assert_denied(e, user["Arn"], "iam:ListUsers")
    # AWS: "... because no identity-based policy allows the iam:ListUsers action"
    assert "because no identity-based policy allows the iam:ListUsers action" in error_message(e.value)


def test_user_without_policy_can_still_get_caller_identity(server, iam):
    user, key = make_user(iam)
    ident = server.client("sts", creds=key).get_caller_identity()
    assert ident["Arn"] == user["Arn"]
    assert ident["UserId"] == user["UserId"]
    assert ident["Account"] == ADMIN_ACCOUNT


def test_denial_is_audited_with_error_code(server, iam):
    user, key = make_user(iam)
    with pytest.raises(ClientError):
        server.client("iam", creds=key).list_users()
    ct = server.client("cloudtrail")

    def find():
        evs = lookup_events(ct, "Username", user["UserName"])
        return [e for e in evs if e["EventName"] == "ListUsers"]

    events = wait_for(find)
    assert events, "no ListUsers event for the denied user"
    detail = json.loads(events[0]["CloudTrailEvent"])
    assert detail["errorCode"] == "AccessDenied"
    assert "not authorized to perform: iam:ListUsers" in detail["errorMessage"]
    assert detail["eventSource"] == "iam.amazonaws.com"
    assert detail["userIdentity"]["type"] == "IAMUser"
    assert detail["userIdentity"]["arn"] == user["Arn"]
    assert detail["userIdentity"]["accessKeyId"] == key["AccessKeyId"]
    assert detail["userIdentity"]["userName"] == user["UserName"]
    assert detail["recipientAccountId"] == ADMIN_ACCOUNT
    assert detail["readOnly"] is True


def test_put_user_policy_allows_the_action(server, iam):
    user, key = make_user(iam)
    user_iam = server.client("iam", creds=key)
    with pytest.raises(ClientError):
        user_iam.list_users()
    iam.put_user_policy(
        UserName=user["UserName"], PolicyName="list", PolicyDocument=policy_doc(allow("iam:ListUsers"))
    )
    names = [u["UserName"] for u in user_iam.list_users()["Users"]]
    assert user["UserName"] in names
    # Only that action: another one is still denied.
    with pytest.raises(ClientError) as e:
        user_iam.create_user(UserName=unique("nope"))
    assert_denied(e, user["Arn"], "iam:CreateUser")


def test_delete_user_policy_revokes_the_permission(server, iam):
    user, key = make_user(iam, inline=policy_doc(allow("iam:ListUsers")))
    user_iam = server.client("iam", creds=key)
    user_iam.list_users()
    iam.delete_user_policy(UserName=user["UserName"], PolicyName="inline")
    with pytest.raises(ClientError) as e:
        user_iam.list_users()
    assert_denied(e, user["Arn"], "iam:ListUsers")


def test_attached_aws_managed_policy_allows(server, iam):
    user, key = make_user(iam, managed=[READONLY_POLICY])
    user_iam = server.client("iam", creds=key)
    user_iam.list_users()
    with pytest.raises(ClientError) as e:
        user_iam.create_user(UserName=unique("nope"))
    assert_denied(e, user["Arn"], "iam:CreateUser")


def test_detach_user_policy_revokes(server, iam):
    user, key = make_user(iam, managed=[READONLY_POLICY])
    user_iam = server.client("iam", creds=key)
    user_iam.list_users()
    iam.detach_user_policy(UserName=user["UserName"], PolicyArn=READONLY_POLICY)
    with pytest.raises(ClientError):
        user_iam.list_users()


def test_explicit_inline_deny_wins_over_allow(server, iam):
    user, key = make_user(iam, inline=policy_doc(allow("iam:*"), deny("iam:ListUsers")))
    user_iam = server.client("iam", creds=key)
    with pytest.raises(ClientError) as e:
        user_iam.list_users()
    assert_denied(e, user["Arn"], "iam:ListUsers", explicit=True)
    # The Allow still applies to other actions.
    user_iam.get_user(UserName=user["UserName"])


def test_explicit_deny_in_group_policy_wins_over_user_allow(server, iam):
    user, key = make_user(iam, managed=[ADMIN_POLICY])
    group = unique("denygroup")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="deny", PolicyDocument=policy_doc(deny("iam:ListUsers")))
    user_iam = server.client("iam", creds=key)
    user_iam.list_users()
    iam.add_user_to_group(GroupName=group, UserName=user["UserName"])
    with pytest.raises(ClientError) as e:
        user_iam.list_users()
    assert_denied(e, user["Arn"], "iam:ListUsers", explicit=True)


def test_group_attached_managed_policy_allows(server, iam):
    user, key = make_user(iam)
    group = unique("readers")
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn=READONLY_POLICY)
    iam.add_user_to_group(GroupName=group, UserName=user["UserName"])
    server.client("iam", creds=key).list_users()


def test_explicit_deny_in_customer_managed_policy_wins_over_admin(server, iam):
    pol = iam.create_policy(
        PolicyName=unique("deny-list"), PolicyDocument=policy_doc(deny("iam:List*"))
    )["Policy"]
    assert pol["Arn"] == f"arn:aws:iam::{ADMIN_ACCOUNT}:policy/{pol['PolicyName']}"
    user, key = make_user(iam, managed=[ADMIN_POLICY, pol["Arn"]])
    user_iam = server.client("iam", creds=key)
    with pytest.raises(ClientError) as e:
        user_iam.list_users()
    assert_denied(e, user["Arn"], "iam:ListUsers", explicit=True)
    user_iam.get_user(UserName=user["UserName"])


def test_source_ip_condition_allows_matching_address(server, iam):
    cond = {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}
    user, key = make_user(iam, inline=policy_doc(allow("iam:ListUsers", Condition=cond)))
    server.client("iam", creds=key).list_users()


def test_source_ip_condition_denies_other_network(server, iam):
    cond = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    user, key = make_user(iam, inline=policy_doc(allow("iam:ListUsers", Condition=cond)))
    with pytest.raises(ClientError) as e:
        server.client("iam", creds=key).list_users()
    assert_denied(e, user["Arn"], "iam:ListUsers")


def test_not_ip_address_deny_condition(server, iam):
    cond = {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    user, key = make_user(iam, inline=policy_doc(allow("iam:ListUsers"), deny("iam:ListUsers", Condition=cond)))
    with pytest.raises(ClientError) as e:
        server.client("iam", creds=key).list_users()
    assert_denied(e, user["Arn"], "iam:ListUsers", explicit=True)


def test_resource_scoped_allow_applies_only_to_that_resource(server, iam):
    target = unique("target")
    iam.create_user(UserName=target)
    other = unique("other")
    iam.create_user(UserName=other)
    target_arn = f"arn:aws:iam::{ADMIN_ACCOUNT}:user/{target}"
    user, key = make_user(iam, inline=policy_doc(allow("iam:GetUser", resource=target_arn)))
    user_iam = server.client("iam", creds=key)
    assert user_iam.get_user(UserName=target)["User"]["Arn"] == target_arn
    with pytest.raises(ClientError) as e:
        user_iam.get_user(UserName=other)
    assert error_code(e.value) == "AccessDenied"
    assert f"on resource: arn:aws:iam::{ADMIN_ACCOUNT}:user/{other}" in error_message(e.value)


def test_inactive_access_key_is_refused(server, iam):
    user, key = make_user(iam, managed=[ADMIN_POLICY])
    server.client("sts", creds=key).get_caller_identity()
    iam.update_access_key(UserName=user["UserName"], AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as e:
        server.client("sts", creds=key).get_caller_identity()
    assert error_code(e.value) == "InvalidClientTokenId"


def test_deleted_access_key_is_refused(server, iam):
    user, key = make_user(iam, managed=[ADMIN_POLICY])
    server.client("iam", creds=key).list_users()
    iam.delete_access_key(UserName=user["UserName"], AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as e:
        server.client("iam", creds=key).list_users()
    assert error_code(e.value) == "InvalidClientTokenId"


def test_principal_tag_condition_matches_the_callers_tags(server, iam):
    doc = policy_doc(allow("iam:ListUsers", Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}}))
    for team, allowed in (("blue", True), ("red", False)):
        name = unique(f"tagged-{team}")
        iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": team}])
        iam.put_user_policy(UserName=name, PolicyName="by-tag", PolicyDocument=doc)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        client = server.client("iam", creds=key)
        if allowed:
            client.list_users()
        else:
            with pytest.raises(ClientError) as e:
                client.list_users()
            assert error_code(e.value) == "AccessDenied"


def test_username_policy_variable_scopes_a_user_to_itself(server, iam):
    doc = policy_doc(allow("iam:GetUser", "arn:aws:iam::000000000000:user/${aws:username}"))
    user, key = make_user(iam, inline=doc)
    other = unique("other")
    iam.create_user(UserName=other)
    client = server.client("iam", creds=key)
    assert client.get_user(UserName=user["UserName"])["User"]["Arn"] == user["Arn"]
    with pytest.raises(ClientError) as e:
        client.get_user(UserName=other)
    assert_denied(e, user["Arn"], "iam:GetUser")
