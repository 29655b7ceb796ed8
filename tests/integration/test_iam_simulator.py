"""The IAM policy simulator against real enforcement: for a table of (policy, request) cases,
SimulatePrincipalPolicy must reach the decision the server reaches when the same user makes the
same call — one engine decides both."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, unique, wait_for

ACCOUNT = "000000000000"


def stmt(effect="Allow", action="*", resource="*", condition=None, not_action=None):
    s = {"Effect": effect, "Resource": resource}
    if not_action:
        s["NotAction"] = not_action
    else:
        s["Action"] = action
    if condition:
        s["Condition"] = condition
    return s


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# name -> function(user name) -> policy document
VARIANTS = {
    "exact-list-users": lambda u: doc(stmt(action="iam:ListUsers")),
    "list-wildcard": lambda u: doc(stmt(action="iam:List*")),
    "allow-all": lambda u: doc(stmt()),
    "not-action-getuser": lambda u: doc(stmt(not_action="iam:GetUser")),
    "deny-overrides": lambda u: doc(stmt(), stmt("Deny", action="iam:ListGroups")),
    "user-resources": lambda u: doc(stmt(resource="arn:aws:iam::*:user/*")),
    "group-resources": lambda u: doc(stmt(resource="arn:aws:iam::*:group/*")),
    "username-self": lambda u: doc(stmt(condition={"StringEquals": {"aws:username": u}})),
    "username-other": lambda u: doc(stmt(condition={"StringEquals": {"aws:username": "someone-else"}})),
    "ip-loopback": lambda u: doc(stmt(condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})),
    "ip-private": lambda u: doc(stmt(condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
    "tls-required": lambda u: doc(stmt(condition={"Bool": {"aws:SecureTransport": "true"}})),
    "deny-plain-http": lambda u: doc(stmt(), stmt("Deny", condition={"Bool": {"aws:SecureTransport": "false"}})),
    "tag-blue": lambda u: doc(stmt(condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}})),
    "tag-red": lambda u: doc(stmt(condition={"StringEquals": {"aws:PrincipalTag/team": "red"}})),
    "after-2000": lambda u: doc(stmt(condition={"DateGreaterThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}})),
    "before-2001": lambda u: doc(stmt(condition={"DateLessThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}})),
    "deny-not-listgroups": lambda u: doc(stmt(), stmt("Deny", not_action="iam:ListGroups")),
}

# action -> (call on the user's client, resource ARN as enforcement names it)
ACTIONS = {
    "iam:ListUsers": (lambda c, u: c.list_users(), lambda u: f"arn:aws:iam::{ACCOUNT}:user/"),
    "iam:ListGroups": (lambda c, u: c.list_groups(), lambda u: f"arn:aws:iam::{ACCOUNT}:group/"),
    "iam:GetUser": (lambda c, u: c.get_user(UserName=u), lambda u: f"arn:aws:iam::{ACCOUNT}:user/{u}"),
}

CONTEXT = [
    {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["127.0.0.1"], "ContextKeyType": "ip"},
    {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["false"], "ContextKeyType": "boolean"},
]


@pytest.fixture(scope="module")
def users(server):
    iam = server.client("iam")
    made = {}
    for name, make in VARIANTS.items():
        u = unique("sim")
        iam.create_user(UserName=u, Tags=[{"Key": "team", "Value": "blue"}])
        iam.put_user_policy(UserName=u, PolicyName="p", PolicyDocument=make(u))
        key = iam.create_access_key(UserName=u)["AccessKey"]
        client = server.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
        sts = server.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
        assert wait_for(lambda: sts.get_caller_identity() is not None)
        made[name] = (u, client)
    return iam, made


CASES = [(v, a) for v in VARIANTS for a in ACTIONS]


def test_the_table_has_at_least_fifty_cases():
    assert len(CASES) >= 50


@pytest.mark.parametrize("variant,action", CASES)
def test_simulator_agrees_with_enforcement(users, variant, action):
    iam, made = users
    user, client = made[variant]
    call, resource = ACTIONS[action]
    try:
        call(client, user)
        enforced = "allowed"
    except ClientError as e:
        assert error_code(e) == "AccessDenied", e
        enforced = "denied"
    sim = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/{user}",
        ActionNames=[action],
        ResourceArns=[resource(user)],
        ContextEntries=CONTEXT,
    )["EvaluationResults"]
    assert len(sim) == 1 and sim[0]["EvalActionName"] == action
    simulated = "allowed" if sim[0]["EvalDecision"] == "allowed" else "denied"
    assert simulated == enforced, (variant, action, sim[0])


def test_custom_policy_reports_matched_statements_and_missing_context(server):
    iam = server.client("iam")
    policy = doc(stmt(action="s3:GetObject", resource="arn:aws:s3:::b/*"),
                 stmt("Deny", action="s3:GetObject", resource="arn:aws:s3:::b/secret/*"),
                 stmt(action="s3:PutObject", condition={"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}))
    out = iam.simulate_custom_policy(
        PolicyInputList=[policy],
        ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::b/public/x", "arn:aws:s3:::b/secret/y"],
    )["EvaluationResults"]
    got = {(r["EvalActionName"], r["EvalResourceName"]): r for r in out}
    assert got[("s3:GetObject", "arn:aws:s3:::b/public/x")]["EvalDecision"] == "allowed"
    deny = got[("s3:GetObject", "arn:aws:s3:::b/secret/y")]
    assert deny["EvalDecision"] == "explicitDeny"
    assert {m["SourcePolicyId"] for m in deny["MatchedStatements"]} == {"PolicyInputList.1"}
    assert all(m["StartPosition"]["Line"] == 1 for m in deny["MatchedStatements"])
    put = got[("s3:PutObject", "arn:aws:s3:::b/public/x")]
    assert put["EvalDecision"] == "implicitDeny"
    assert "s3:x-amz-server-side-encryption" in put["MissingContextValues"]
    keys = iam.get_context_keys_for_custom_policy(PolicyInputList=[policy])["ContextKeyNames"]
    assert keys == ["s3:x-amz-server-side-encryption"]


def test_simulation_honours_boundaries_and_exclusions(server):
    iam = server.client("iam")
    u = unique("simb")
    iam.create_user(UserName=u)
    iam.put_user_policy(UserName=u, PolicyName="all", PolicyDocument=doc(stmt()))
    arn = f"arn:aws:iam::{ACCOUNT}:user/{u}"
    boundary = doc(stmt(action="iam:ListGroups"))
    out = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["iam:ListUsers", "iam:ListGroups"],
                                        PermissionsBoundaryPolicyInputList=[boundary])["EvaluationResults"]
    decisions = {r["EvalActionName"]: r for r in out}
    assert decisions["iam:ListUsers"]["EvalDecision"] == "implicitDeny"
    assert decisions["iam:ListUsers"]["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"] is False
    assert decisions["iam:ListGroups"]["EvalDecision"] == "allowed"
    with pytest.raises(ClientError) as e:
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/nobody-{u}", ActionNames=["iam:ListUsers"])
    assert error_code(e.value) == "NoSuchEntity"
    keys = iam.get_context_keys_for_principal_policy(
        PolicySourceArn=arn, PolicyInputList=[doc(stmt(condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}))])
    assert keys["ContextKeyNames"] == ["aws:RequestedRegion"]
