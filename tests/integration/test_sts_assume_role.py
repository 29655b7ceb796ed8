"""STS: cross-account AssumeRole (trust policy AND identity policy), temporary credentials,
expiry through the dev clock, GetSessionToken."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ADMIN_ACCOUNT,
    allow,
    error_code,
    error_message,
    http_status,
    make_user,
    policy_doc,
    unique,
)

OTHER = "111111111111"


def trust_doc(principal_arn):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole"}],
        }
    )


@pytest.fixture(scope="module")
def other_account(server):
    server.create_account(OTHER)
    return server


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


@pytest.fixture(scope="module")
def other_iam(other_account):
    return other_account.client("iam", profile=f"rampart-{OTHER}")


def make_role(other_iam, trusted_principal, inline=None):
    name = unique("role")
    role = other_iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_doc(trusted_principal))["Role"]
    if inline:
        other_iam.put_role_policy(RoleName=name, PolicyName="perm", PolicyDocument=inline)
    return role


def test_create_account_adds_profile_and_root_works(other_account):
    ident = other_account.client("sts", profile=f"rampart-{OTHER}").get_caller_identity()
    assert ident["Account"] == OTHER
    assert ident["Arn"] == f"arn:aws:iam::{OTHER}:root"
    r = other_account.cli("sts", "get-caller-identity", profile=f"rampart-{OTHER}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Account"] == OTHER


def test_root_cannot_assume_roles(server, iam):
    role_name = unique("rootrole")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust_doc(f"arn:aws:iam::{ADMIN_ACCOUNT}:root"))["Role"]
    with pytest.raises(ClientError) as e:
        server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="sess")
    assert error_code(e.value) == "AccessDenied"
    assert error_message(e.value) == "Roles may not be assumed by root accounts."


def test_cross_account_assume_role_fails_when_trust_policy_does_not_allow(server, iam, other_iam):
    # Trust names a different principal; the caller's identity policy allows the role.
    role = make_role(other_iam, f"arn:aws:iam::{OTHER}:root")
    user, key = make_user(iam, inline=policy_doc(allow("sts:AssumeRole", resource=role["Arn"])))
    with pytest.raises(ClientError) as e:
        server.client("sts", creds=key).assume_role(RoleArn=role["Arn"], RoleSessionName="sess")
    assert error_code(e.value) == "AccessDenied"
    assert http_status(e.value) == 403
    assert error_message(e.value).startswith(
        f"User: {user['Arn']} is not authorized to perform: sts:AssumeRole on resource: {role['Arn']}"
    ), error_message(e.value)


def test_cross_account_assume_role_fails_when_identity_policy_missing(server, iam, other_iam):
    user, key = make_user(iam)
    role = make_role(other_iam, user["Arn"])
    with pytest.raises(ClientError) as e:
        server.client("sts", creds=key).assume_role(RoleArn=role["Arn"], RoleSessionName="sess")
    assert error_code(e.value) == "AccessDenied"
    assert error_message(e.value).startswith(
        f"User: {user['Arn']} is not authorized to perform: sts:AssumeRole on resource: {role['Arn']}"
    ), error_message(e.value)


def test_cross_account_assume_role_fails_when_identity_policy_names_another_role(server, iam, other_iam):
    user, key = make_user(iam)
    role = make_role(other_iam, user["Arn"])
    iam.put_user_policy(
        UserName=user["UserName"],
        PolicyName="other",
        PolicyDocument=policy_doc(allow("sts:AssumeRole", resource=f"arn:aws:iam::{OTHER}:role/someone-else")),
    )
    with pytest.raises(ClientError) as e:
        server.client("sts", creds=key).assume_role(RoleArn=role["Arn"], RoleSessionName="sess")
    assert error_code(e.value) == "AccessDenied"


def test_cross_account_assume_role_fails_when_neither_allows(server, iam, other_iam):
    user, key = make_user(iam)
    role = make_role(other_iam, f"arn:aws:iam::{OTHER}:root")
    with pytest.raises(ClientError) as e:
        server.client("sts", creds=key).assume_role(RoleArn=role["Arn"], RoleSessionName="sess")
    assert error_code(e.value) == "AccessDenied"


@pytest.fixture(scope="module")
def assumed(server, iam, other_iam):
    """A role in 111111111111 trusting a user of 000000000000 that may assume it; the role may
    list IAM users in its own account."""
    user, key = make_user(iam)
    role = make_role(other_iam, user["Arn"], inline=policy_doc(allow("iam:ListUsers")))
    iam.put_user_policy(
        UserName=user["UserName"], PolicyName="assume", PolicyDocument=policy_doc(allow("sts:AssumeRole", resource=role["Arn"]))
    )
    resp = server.client("sts", creds=key).assume_role(RoleArn=role["Arn"], RoleSessionName="itest-session")
    return dict(user=user, key=key, role=role, resp=resp)


def test_cross_account_assume_role_works_when_trust_and_identity_allow(assumed):
    resp = assumed["resp"]
    creds = resp["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["SecretAccessKey"] and creds["SessionToken"]
    assert creds["Expiration"]
    aru = resp["AssumedRoleUser"]
    role = assumed["role"]
    assert aru["Arn"] == f"arn:aws:sts::{OTHER}:assumed-role/{role['RoleName']}/itest-session"
    assert aru["AssumedRoleId"] == f"{role['RoleId']}:itest-session"


def test_cross_account_assume_role_trusting_account_root(server, iam, other_iam):
    # Trusting the whole account delegates to the caller account's identity policies.
    role = make_role(other_iam, f"arn:aws:iam::{ADMIN_ACCOUNT}:root")
    user, key = make_user(iam, inline=policy_doc(allow("sts:AssumeRole", resource=role["Arn"])))
    resp = server.client("sts", creds=key).assume_role(RoleArn=role["Arn"], RoleSessionName="acct")
    assert resp["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{role['RoleName']}/acct")


def test_assumed_role_credentials_identify_the_session(server, assumed):
    ident = server.client("sts", creds=assumed["resp"]["Credentials"]).get_caller_identity()
    role = assumed["role"]
    assert ident["Account"] == OTHER
    assert ident["Arn"] == f"arn:aws:sts::{OTHER}:assumed-role/{role['RoleName']}/itest-session"
    assert ident["UserId"] == f"{role['RoleId']}:itest-session"


def test_assumed_role_credentials_carry_the_role_permissions(server, assumed, other_iam):
    marker = unique("in-other")
    other_iam.create_user(UserName=marker)
    role_iam = server.client("iam", creds=assumed["resp"]["Credentials"])
    names = [u["UserName"] for u in role_iam.list_users()["Users"]]
    assert marker in names  # lists 111111111111's users, not 000000000000's
    assert assumed["user"]["UserName"] not in names
    with pytest.raises(ClientError) as e:
        role_iam.create_user(UserName=unique("nope"))
    assert error_code(e.value) == "AccessDenied"
    role = assumed["role"]
    assert error_message(e.value).startswith(
        f"User: arn:aws:sts::{OTHER}:assumed-role/{role['RoleName']}/itest-session is not authorized to perform: iam:CreateUser"
    ), error_message(e.value)


def test_assumed_role_credentials_without_session_token_are_refused(server, assumed):
    c = assumed["resp"]["Credentials"]
    with pytest.raises(ClientError) as e:
        server.client("sts", access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"]).get_caller_identity()
    assert error_code(e.value) == "InvalidClientTokenId"


def test_assumed_role_credentials_with_tampered_session_token_are_refused(server, assumed):
    c = dict(assumed["resp"]["Credentials"])
    tok = c["SessionToken"]
    c["SessionToken"] = tok[:-4] + ("AAAA" if not tok.endswith("AAAA") else "BBBB")
    with pytest.raises(ClientError) as e:
        server.client("sts", creds=c).get_caller_identity()
    assert error_code(e.value) in ("InvalidClientTokenId", "SignatureDoesNotMatch")
    assert tok not in str(e.value.response)


def test_update_assume_role_policy_takes_effect(server, iam, other_iam):
    user, key = make_user(iam)
    role = make_role(other_iam, f"arn:aws:iam::{OTHER}:root")
    iam.put_user_policy(
        UserName=user["UserName"], PolicyName="assume", PolicyDocument=policy_doc(allow("sts:AssumeRole", resource=role["Arn"]))
    )
    sts = server.client("sts", creds=key)
    with pytest.raises(ClientError):
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="sess")
    other_iam.update_assume_role_policy(RoleName=role["RoleName"], PolicyDocument=trust_doc(user["Arn"]))
    sts.assume_role(RoleArn=role["Arn"], RoleSessionName="sess")


def test_get_session_token_credentials_work_for_get_caller_identity(server, iam):
    user, key = make_user(iam, managed=["arn:aws:iam::aws:policy/AdministratorAccess"])
    resp = server.client("sts", creds=key).get_session_token()
    creds = resp["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    ident = server.client("sts", creds=creds).get_caller_identity()
    assert ident["Arn"] == user["Arn"]
    assert ident["Account"] == ADMIN_ACCOUNT


def test_get_session_token_credentials_are_refused_for_iam(server, iam):
    # AWS: IAM API calls with GetSessionToken credentials need MFA in the session.
    user, key = make_user(iam, managed=["arn:aws:iam::aws:policy/AdministratorAccess"])
    server.client("iam", creds=key).list_users()  # the user itself may
    creds = server.client("sts", creds=key).get_session_token()["Credentials"]
    with pytest.raises(ClientError) as e:
        server.client("iam", creds=creds).list_users()
    assert http_status(e.value) == 403
    assert error_code(e.value) in ("InvalidClientTokenId", "AccessDenied"), e.value.response


def test_get_access_key_info_returns_account(server, iam, other_iam):
    _, key = make_user(other_iam)
    resp = server.client("sts").get_access_key_info(AccessKeyId=key["AccessKeyId"])
    assert resp["Account"] == OTHER


def test_assume_role_duration_900_expires_after_clock_advance(server_factory):
    # The clock route exists only in dev mode; IAM keys and session tokens are still verified for real.
    s = server_factory("expiry", dev=True)
    iam = s.client("iam")
    user, key = make_user(iam)
    role = iam.create_role(RoleName=unique("short"), AssumeRolePolicyDocument=trust_doc(user["Arn"]))["Role"]
    iam.put_user_policy(
        UserName=user["UserName"], PolicyName="assume", PolicyDocument=policy_doc(allow("sts:AssumeRole", resource=role["Arn"]))
    )
    creds = s.client("sts", creds=key).assume_role(RoleArn=role["Arn"], RoleSessionName="short", DurationSeconds=900)[
        "Credentials"
    ]
    temp = s.client("sts", creds=creds)
    assert temp.get_caller_identity()["Arn"].endswith(f":assumed-role/{role['RoleName']}/short")
    s.advance_clock(899)
    temp.get_caller_identity()
    s.advance_clock(2)
    with pytest.raises(ClientError) as e:
        temp.get_caller_identity()
    assert error_code(e.value) == "ExpiredToken"
    assert http_status(e.value) in (400, 403)
    assert error_message(e.value) == "The security token included in the request is expired"
    # The long-term key of the user is unaffected by the clock.
    assert s.client("sts", creds=key).get_caller_identity()["Arn"] == user["Arn"]


def test_assume_role_duration_below_900_is_validation_error(server, assumed):
    with pytest.raises(ClientError) as e:
        server.client("sts", creds=assumed["key"], validate=False).assume_role(
            RoleArn=assumed["role"]["Arn"], RoleSessionName="sess", DurationSeconds=899
        )
    assert error_code(e.value) == "ValidationError"
    assert error_message(e.value) == (
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 900"
    )


def _assume_with(server, iam, other_iam, role_inline, **assume_kw):
    user, key = make_user(iam)
    name = unique("role")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]})
    role = other_iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]
    other_iam.put_role_policy(RoleName=name, PolicyName="perm", PolicyDocument=role_inline)
    iam.put_user_policy(UserName=user["UserName"], PolicyName="assume",
                        PolicyDocument=policy_doc(allow(["sts:AssumeRole", "sts:TagSession"], resource=role["Arn"])))
    resp = server.client("sts", creds=key).assume_role(RoleArn=role["Arn"], RoleSessionName="scoped", **assume_kw)
    return server.client("iam", creds=resp["Credentials"]), resp


def test_inline_session_policy_narrows_the_role_permissions(server, iam, other_iam):
    role_perms = policy_doc(allow(["iam:ListUsers", "iam:ListRoles"]))
    client, resp = _assume_with(server, iam, other_iam, role_perms, Policy=policy_doc(allow("iam:ListRoles")))
    assert resp["PackedPolicySize"] >= 1
    client.list_roles()
    with pytest.raises(ClientError) as e:
        client.list_users()
    assert error_code(e.value) == "AccessDenied"


def test_managed_session_policy_arns_narrow_the_role_permissions(server, iam, other_iam):
    role_perms = policy_doc(allow(["iam:ListUsers", "iam:GetUser"]))
    client, _ = _assume_with(server, iam, other_iam, role_perms,
                             PolicyArns=[{"arn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}])
    client.list_users()  # in both the role policy and IAMReadOnlyAccess
    with pytest.raises(ClientError) as e:
        client.create_user(UserName=unique("x"))
    assert error_code(e.value) == "AccessDenied"


def test_a_session_policy_cannot_grant_more_than_the_role(server, iam, other_iam):
    client, _ = _assume_with(server, iam, other_iam, policy_doc(allow("iam:ListRoles")),
                             Policy=policy_doc(allow("iam:*")))
    with pytest.raises(ClientError) as e:
        client.list_users()
    assert error_code(e.value) == "AccessDenied"


def test_session_tags_become_principal_tags(server, iam, other_iam):
    cond = {"StringEquals": {"aws:PrincipalTag/project": "apollo"}}
    role_perms = policy_doc(allow("iam:ListUsers", Condition=cond))
    tagged, _ = _assume_with(server, iam, other_iam, role_perms, Tags=[{"Key": "project", "Value": "apollo"}])
    tagged.list_users()
    untagged, _ = _assume_with(server, iam, other_iam, role_perms, Tags=[{"Key": "project", "Value": "gemini"}])
    with pytest.raises(ClientError) as e:
        untagged.list_users()
    assert error_code(e.value) == "AccessDenied"


def test_an_unknown_session_policy_arn_is_refused(server, iam, other_iam):
    with pytest.raises(ClientError) as e:
        _assume_with(server, iam, other_iam, policy_doc(allow("iam:ListUsers")),
                     PolicyArns=[{"arn": "arn:aws:iam::aws:policy/NoSuchPolicy"}])
    assert error_code(e.value) == "MalformedPolicyDocument"


def test_session_tags_need_sts_tag_session_in_the_trust_policy(server, iam, other_iam):
    user, key = make_user(iam)
    role = make_role(other_iam, user["Arn"], inline=policy_doc(allow("iam:ListUsers")))
    iam.put_user_policy(UserName=user["UserName"], PolicyName="assume",
                        PolicyDocument=policy_doc(allow(["sts:AssumeRole", "sts:TagSession"], resource=role["Arn"])))
    with pytest.raises(ClientError) as e:
        server.client("sts", creds=key).assume_role(RoleArn=role["Arn"], RoleSessionName="tagged",
                                                     Tags=[{"Key": "k", "Value": "v"}])
    assert error_code(e.value) == "AccessDenied"
    assert "sts:TagSession" in error_message(e.value)
