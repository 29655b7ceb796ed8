"""Audit: CloudTrail LookupEvents through the aws CLI and boto3, JSON-lines audit files, and no
secret (secret access keys, session tokens) in events, audit files, logs or error messages."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, allow, lookup_events, make_user, policy_doc, unique, utcnow

OTHER = "111111111111"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


def trust_doc(principal_arn):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole"}],
        }
    )


@pytest.fixture(scope="module")
def activity(server):
    """Drive a mix of allowed and denied calls that hand out secrets; remember every secret."""
    server.create_account(OTHER)
    iam = server.client("iam")
    other_iam = server.client("iam", profile=f"rampart-{OTHER}")
    secrets = [server.profile("rampart")[1], server.profile(f"rampart-{OTHER}")[1]]

    # A user with no policy, denied.
    denied_user, denied_key = make_user(iam, name=unique("denied"))
    secrets.append(denied_key["SecretAccessKey"])
    denied_iam = server.client("iam", creds=denied_key)
    with pytest.raises(ClientError):
        denied_iam.list_users()
    with pytest.raises(ClientError):
        denied_iam.create_user(UserName=unique("nope"))

    # A user that may assume a role in the other account.
    role = other_iam.create_role(
        RoleName=unique("audited"), AssumeRolePolicyDocument=trust_doc(f"arn:aws:iam::{ADMIN_ACCOUNT}:root")
    )["Role"]
    other_iam.put_role_policy(RoleName=role["RoleName"], PolicyName="p", PolicyDocument=policy_doc(allow("iam:ListUsers")))
    assumer, assumer_key = make_user(
        iam, name=unique("assumer"), inline=policy_doc(allow("sts:AssumeRole", resource=role["Arn"]), allow("iam:ListUsers"))
    )
    secrets.append(assumer_key["SecretAccessKey"])
    assumed = server.client("sts", creds=assumer_key).assume_role(RoleArn=role["Arn"], RoleSessionName="audit-session")
    secrets += [assumed["Credentials"]["SecretAccessKey"], assumed["Credentials"]["SessionToken"]]
    role_iam = server.client("iam", creds=assumed["Credentials"])
    role_iam.list_users()
    with pytest.raises(ClientError):
        role_iam.create_user(UserName=unique("nope"))

    # Session tokens.
    st = server.client("sts", creds=assumer_key).get_session_token()["Credentials"]
    secrets += [st["SecretAccessKey"], st["SessionToken"]]
    server.client("sts", creds=st).get_caller_identity()
    with pytest.raises(ClientError):
        server.client("iam", creds=st).list_users()

    # A second key created via the CLI (its secret goes through CLI output only).
    r = server.cli("iam", "create-access-key", "--user-name", assumer["UserName"])
    assert r.returncode == 0, r.stderr
    cli_key = json.loads(r.stdout)["AccessKey"]
    secrets.append(cli_key["SecretAccessKey"])

    # Failed authentications with wrong secrets (the right secret must not be echoed either).
    errors = []
    for svc, call in (("sts", "get_caller_identity"), ("iam", "list_users"), ("kms", "list_keys")):
        wrong = dict(denied_key)
        # A first character other than the real one (a secret starting with "Z" made this flaky).
        first = "Z" if denied_key["SecretAccessKey"][0] != "Z" else "Y"
        wrong["SecretAccessKey"] = first + denied_key["SecretAccessKey"][1:]
        secrets.append(wrong["SecretAccessKey"])
        with pytest.raises(ClientError) as e:
            getattr(server.client(svc, creds=wrong), call)()
        errors.append(e.value.response)
    # Tampered session token.
    bad = dict(assumed["Credentials"])
    bad["SessionToken"] = bad["SessionToken"][:-6] + "AAAAAA"
    with pytest.raises(ClientError) as e:
        server.client("sts", creds=bad).get_caller_identity()
    errors.append(e.value.response)
    # A password passed in a sensitive member: the console password of a login profile.
    password = "Pw-" + unique("sensitive") + "-Aa1!"
    secrets.append(password)
    iam.create_login_profile(UserName=assumer["UserName"], Password=password)
    return dict(
        secrets=[s for s in secrets if s],
        errors=errors,
        denied_user=denied_user,
        denied_key=denied_key,
        assumer=assumer,
        role=role,
        assumed=assumed,
        start=utcnow() - datetime.timedelta(minutes=5),
    )


def test_cli_lookup_events_lists_calls_newest_first(server, activity):
    r = server.cli("cloudtrail", "lookup-events", "--max-results", "50")
    assert r.returncode == 0, r.stderr
    events = json.loads(r.stdout)["Events"]
    assert events
    names = {e["EventName"] for e in events}
    assert {"CreateUser", "CreateAccessKey", "AssumeRole"} <= names, names
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)
    for e in events:
        detail = json.loads(e["CloudTrailEvent"])
        assert detail["recipientAccountId"] == ADMIN_ACCOUNT
        assert detail["eventID"] == e["EventId"]
        assert detail["eventName"] == e["EventName"]


def test_cli_lookup_events_shows_denied_calls_with_error_code(server, activity):
    user = activity["denied_user"]["UserName"]
    r = server.cli(
        "cloudtrail", "lookup-events", "--lookup-attributes", f"AttributeKey=Username,AttributeValue={user}"
    )
    assert r.returncode == 0, r.stderr
    events = json.loads(r.stdout)["Events"]
    by_name = {e["EventName"]: json.loads(e["CloudTrailEvent"]) for e in events}
    assert {"ListUsers", "CreateUser"} <= set(by_name), set(by_name)
    for name in ("ListUsers", "CreateUser"):
        d = by_name[name]
        assert d["errorCode"] == "AccessDenied"
        assert f"is not authorized to perform: iam:{name}" in d["errorMessage"]
        assert d["userIdentity"]["userName"] == user
    assert by_name["ListUsers"]["readOnly"] is True
    assert by_name["CreateUser"]["readOnly"] is False


def test_lookup_events_event_fields(server, activity):
    ct = server.client("cloudtrail")
    events = lookup_events(ct, "EventName", "AssumeRole")
    assert events
    d = json.loads(events[0]["CloudTrailEvent"])
    for field in ("userIdentity", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "userAgent",
                  "requestParameters", "requestID", "eventID", "readOnly", "recipientAccountId", "eventTime"):
        assert field in d, field
    assert d["eventSource"] == "sts.amazonaws.com"
    assert d["awsRegion"] == "us-east-1"
    assert d["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in d["userAgent"] or "botocore" in d["userAgent"]
    assert d["requestParameters"]["roleArn"] == activity["role"]["Arn"]
    assert d["requestParameters"]["roleSessionName"] == "audit-session"
    assert d["userIdentity"]["arn"] == activity["assumer"]["Arn"]


def test_lookup_events_by_access_key_id(server, activity):
    key_id = activity["denied_key"]["AccessKeyId"]
    events = lookup_events(server.client("cloudtrail"), "AccessKeyId", key_id)
    assert events
    assert all(e["AccessKeyId"] == key_id for e in events)


def test_lookup_events_read_only_filter(server, activity):
    ct = server.client("cloudtrail")
    ro = lookup_events(ct, "ReadOnly", "true")
    rw = lookup_events(ct, "ReadOnly", "false")
    assert ro and rw
    assert all(json.loads(e["CloudTrailEvent"])["readOnly"] is True for e in ro)
    assert all(json.loads(e["CloudTrailEvent"])["readOnly"] is False for e in rw)


def test_lookup_events_event_source_filter(server, activity):
    events = lookup_events(server.client("cloudtrail"), "EventSource", "sts.amazonaws.com")
    assert events
    assert {e["EventSource"] for e in events} == {"sts.amazonaws.com"}


def test_lookup_events_pagination(server, activity):
    ct = server.client("cloudtrail")
    first = ct.lookup_events(MaxResults=3)
    assert len(first["Events"]) == 3
    assert first.get("NextToken")
    second = ct.lookup_events(MaxResults=3, NextToken=first["NextToken"])
    ids1 = {e["EventId"] for e in first["Events"]}
    ids2 = {e["EventId"] for e in second["Events"]}
    assert ids2 and not (ids1 & ids2)


def test_lookup_events_time_window(server, activity):
    ct = server.client("cloudtrail")
    future = utcnow() + datetime.timedelta(hours=1)
    assert ct.lookup_events(StartTime=future, EndTime=future + datetime.timedelta(hours=1))["Events"] == []
    assert ct.lookup_events(StartTime=activity["start"], EndTime=future, MaxResults=5)["Events"]


def test_lookup_events_is_per_account(server, activity):
    other_ct = server.client("cloudtrail", profile=f"rampart-{OTHER}")
    events = lookup_events(other_ct)
    assert events
    for e in events:
        assert json.loads(e["CloudTrailEvent"])["recipientAccountId"] == OTHER
    # The assumed-role session's calls land in the role's account.
    sessions = [
        json.loads(e["CloudTrailEvent"])
        for e in events
        if json.loads(e["CloudTrailEvent"])["userIdentity"].get("type") == "AssumedRole"
    ]
    assert sessions, "no AssumedRole events in the role's account"
    assert any(s.get("errorCode") == "AccessDenied" and s["eventName"] == "CreateUser" for s in sessions)


def test_sensitive_request_parameters_are_hidden(server, activity):
    events = lookup_events(server.client("cloudtrail"), "EventName", "CreateLoginProfile")
    assert events
    d = json.loads(events[0]["CloudTrailEvent"])
    assert d["requestParameters"]["password"] == HIDDEN
    assert d["requestParameters"]["userName"] == activity["assumer"]["UserName"]


def test_lookup_events_by_resource_name(server, activity):
    ct = server.client("cloudtrail")
    created = [e for e in lookup_events(ct, "EventName", "CreateUser") if e.get("Resources")]
    assert created, "no CreateUser event carries Resources"
    name = created[0]["Resources"][0]["ResourceName"]
    found = lookup_events(ct, "ResourceName", name)
    assert created[0]["EventId"] in {e["EventId"] for e in found}
    assert all(any(r["ResourceName"] == name for r in e.get("Resources", [])) for e in found)


def test_max_results_over_50_is_rejected(server, activity):
    with pytest.raises(ClientError) as e:
        server.client("cloudtrail").lookup_events(MaxResults=51)
    assert e.value.response["Error"]["Code"] in ("InvalidMaxResultsException", "ValidationException")


def test_audit_json_lines_files_exist_and_parse(server, activity):
    files = sorted(server.audit_dir.glob("events-*.jsonl"))
    assert files, list(server.audit_dir.iterdir())
    today = utcnow().strftime("%Y-%m-%d")
    assert any(f.name == f"events-{today}.jsonl" for f in files), [f.name for f in files]
    n = 0
    names = set()
    for f in files:
        for line in f.read_text().splitlines():
            if line.strip():
                ev = json.loads(line)
                names.add(ev["eventName"])
                n += 1
    assert n > 10
    assert {"AssumeRole", "CreateAccessKey", "ListUsers"} <= names


def test_no_secret_in_lookup_events(server, activity):
    blobs = []
    for profile in ("rampart", f"rampart-{OTHER}"):
        for e in lookup_events(server.client("cloudtrail", profile=profile), max_events=5000):
            blobs.append(json.dumps(e, default=str))
    text = "\n".join(blobs)
    assert len(blobs) > 10
    leaked = [s[:6] + "..." for s in activity["secrets"] if s in text]
    assert not leaked, f"secrets found in LookupEvents: {leaked}"


def test_no_secret_in_audit_files(server, activity):
    text = server.audit_text()
    assert text
    leaked = [s[:6] + "..." for s in activity["secrets"] if s in text]
    assert not leaked, f"secrets found in audit JSON lines: {leaked}"


def test_no_secret_in_server_logs(server, activity):
    text = server.logs_text()
    leaked = [s[:6] + "..." for s in activity["secrets"] if s in text]
    assert not leaked, f"secrets found in server stdout/stderr: {leaked}"


def test_no_secret_in_error_messages(server, activity):
    text = json.dumps(activity["errors"], default=str)
    leaked = [s[:6] + "..." for s in activity["secrets"] if s in text]
    assert not leaked, f"secrets found in error responses: {leaked}"


def test_event_history_is_per_region(server):
    # A KMS key created in eu-west-2 is in that Region's event history, not in us-east-1's.
    key = server.client("kms", region="eu-west-2").create_key()["KeyMetadata"]["Arn"]
    here = lookup_events(server.client("cloudtrail", region="eu-west-2"), "EventName", "CreateKey")
    assert any(key in e["CloudTrailEvent"] for e in here)
    assert all(json.loads(e["CloudTrailEvent"])["awsRegion"] == "eu-west-2" for e in here)
    there = lookup_events(server.client("cloudtrail", region="us-east-1"), "EventName", "CreateKey")
    assert not any(key in e["CloudTrailEvent"] for e in there)
