"""Secrets Manager rotation: the four-step contract run by registered rotators (an HTTP
webhook that calls back into Rampart as a Lambda rotation function does, and the built-in
PostgreSQL rotators against a real PostgreSQL), schedules, failures and cancellation."""
import json
import os
import socket
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, unique

ACCOUNT_LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:"
HOOK = ACCOUNT_LAMBDA + "webhook-rotator"
BROKEN = ACCOUNT_LAMBDA + "broken-rotator"
PG_SINGLE = ACCOUNT_LAMBDA + "pg-single"
PG_ALT = ACCOUNT_LAMBDA + "pg-alternating"
UNREGISTERED = ACCOUNT_LAMBDA + "nobody"


class Hooks:
    """A rotation function over HTTP (the steps of AWS's sample Lambda function), a failing one,
    and an event target collecting what the event bus delivers."""

    def __init__(self):
        self.sm = None
        self.steps = []
        self.events = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                if self.path == "/events":
                    hooks.events.append(body)
                    status = 200
                elif self.path == "/broken":
                    hooks.steps.append(("broken", body["Step"]))
                    status = 500 if body["Step"] == "setSecret" else 200
                    if body["Step"] == "createSecret":
                        status = hooks.create(body)
                else:
                    hooks.steps.append(("hook", body["Step"]))
                    status = hooks.step(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def create(self, event):
        sid, token = event["SecretId"], event["ClientRequestToken"]
        meta = self.sm.describe_secret(SecretId=sid)
        if "AWSPENDING" not in meta["VersionIdsToStages"].get(token, []):
            return 400
        try:
            self.sm.get_secret_value(SecretId=sid, VersionId=token, VersionStage="AWSPENDING")
        except ClientError as e:
            if error_code(e) != "ResourceNotFoundException":
                return 500
            current = json.loads(self.sm.get_secret_value(SecretId=sid, VersionStage="AWSCURRENT")["SecretString"])
            current["password"] = self.sm.get_random_password(ExcludeCharacters="/@\"'\\")["RandomPassword"]
            self.sm.put_secret_value(SecretId=sid, ClientRequestToken=token, SecretString=json.dumps(current),
                                     VersionStages=["AWSPENDING"])
        return 200

    def step(self, event):
        sid, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
        if step == "createSecret":
            return self.create(event)
        if step in ("setSecret", "testSecret"):
            pending = self.sm.get_secret_value(SecretId=sid, VersionId=token, VersionStage="AWSPENDING")
            return 200 if json.loads(pending["SecretString"])["password"] else 500
        if step == "finishSecret":
            meta = self.sm.describe_secret(SecretId=sid)
            current = next(v for v, s in meta["VersionIdsToStages"].items() if "AWSCURRENT" in s)
            if current != token:
                self.sm.update_secret_version_stage(SecretId=sid, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                                    RemoveFromVersionId=current)
            return 200
        return 400


@pytest.fixture(scope="module")
def hooks():
    h = Hooks()
    yield h
    h.httpd.shutdown()


@pytest.fixture(scope="module")
def rot_server(server_factory, hooks):
    rotators = ",".join([
        f"{HOOK}=webhook:http://127.0.0.1:{hooks.port}/rotate",
        f"{BROKEN}=webhook:http://127.0.0.1:{hooks.port}/broken",
        f"{PG_SINGLE}=postgresql-single-user",
        f"{PG_ALT}=postgresql-alternating-users",
    ])
    s = server_factory("rotation", dev=True, extra_env={
        "RAMPART_ROTATORS": rotators,
        "RAMPART_EVENT_WEBHOOKS": f"http://127.0.0.1:{hooks.port}/events",
    })
    hooks.sm = s.client("secretsmanager")
    return s


@pytest.fixture(scope="module")
def sm(rot_server):
    return rot_server.client("secretsmanager")


def stages_of(sm, name):
    return sm.describe_secret(SecretId=name)["VersionIdsToStages"]


def test_webhook_rotator_runs_the_four_steps_and_moves_awscurrent(sm, hooks):
    name = unique("hook")
    v1 = sm.create_secret(Name=name, SecretString=json.dumps({"username": "u", "password": "old"}))["VersionId"]
    hooks.steps.clear()
    out = sm.rotate_secret(SecretId=name, RotationLambdaARN=HOOK, RotationRules={"AutomaticallyAfterDays": 30})
    new = out["VersionId"]
    assert hooks.steps == [("hook", s) for s in ("createSecret", "setSecret", "testSecret", "finishSecret")]
    assert stages_of(sm, name) == {new: ["AWSCURRENT"], v1: ["AWSPREVIOUS"]}
    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["password"] != "old"
    d = sm.describe_secret(SecretId=name)
    assert d["RotationEnabled"] is True and d["RotationLambdaARN"] == HOOK
    assert d["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert "LastRotatedDate" in d and "NextRotationDate" in d


def test_a_failed_rotation_leaves_awscurrent_and_awspending_and_reports_the_failure(rot_server, sm, hooks):
    name = unique("broken")
    v1 = sm.create_secret(Name=name, SecretString=json.dumps({"password": "keep"}))["VersionId"]
    out = sm.rotate_secret(SecretId=name, RotationLambdaARN=BROKEN)
    pending = out["VersionId"]
    assert ("broken", "setSecret") in hooks.steps and ("broken", "testSecret") not in hooks.steps
    assert stages_of(sm, name) == {v1: ["AWSCURRENT"], pending: ["AWSPENDING"]}
    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"]) == {"password": "keep"}
    # The failure is published on the event bus (delivered by the scheduler).
    rot_server.advance_clock(2)
    names = [(e["detail"].get("eventName"), e["resources"]) for e in hooks.events]
    arn = sm.describe_secret(SecretId=name)["ARN"]
    assert ("RotationStarted", [arn]) in names
    assert ("RotationFailed", [arn]) in names
    assert "keep" not in json.dumps(hooks.events)
    # Rotating again retries the same pending version.
    assert sm.rotate_secret(SecretId=name)["VersionId"] == pending
    # CancelRotateSecret turns rotation off and names the unfinished version.
    c = sm.cancel_rotate_secret(SecretId=name)
    assert c["VersionId"] == pending
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is False


def test_scheduled_rotation_runs_on_the_scheduler(rot_server, sm, hooks):
    name = unique("sched")
    v1 = sm.create_secret(Name=name, SecretString=json.dumps({"password": "p0"}))["VersionId"]
    out = sm.rotate_secret(SecretId=name, RotationLambdaARN=HOOK, RotateImmediately=False,
                           RotationRules={"ScheduleExpression": "rate(10 days)", "Duration": "2h"})
    assert "VersionId" not in out
    assert list(stages_of(sm, name)) == [v1]
    rot_server.advance_clock(9 * 86400)
    assert list(stages_of(sm, name)) == [v1]
    rot_server.advance_clock(86400 + 120)
    st = stages_of(sm, name)
    assert st[v1] == ["AWSPREVIOUS"] and len(st) == 2
    d = sm.describe_secret(SecretId=name)
    assert d["RotationRules"]["ScheduleExpression"] == "rate(10 days)"


def test_rotate_secret_errors(sm):
    name = unique("roterr")
    sm.create_secret(Name=name, SecretString="x")
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId=name)
    assert error_code(e.value) == "InvalidRequestException"
    assert "No Lambda rotation function ARN" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId=name, RotationLambdaARN=UNREGISTERED)
    assert error_code(e.value) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId=name, RotationLambdaARN=HOOK,
                         RotationRules={"AutomaticallyAfterDays": 3, "ScheduleExpression": "rate(3 days)"})
    assert error_code(e.value) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId=name, RotationLambdaARN=HOOK, RotationRules={"ScheduleExpression": "every day"})
    assert error_code(e.value) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.cancel_rotate_secret(SecretId=name)
    assert error_code(e.value) == "InvalidRequestException"
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId=unique("missing"), RotationLambdaARN=HOOK)
    assert error_code(e.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        sm.cancel_rotate_secret(SecretId=unique("missing"))
    assert error_code(e.value) == "ResourceNotFoundException"


# --------------------------------------------------------------------------- PostgreSQL


def psql(cluster, sql, user="postgres", password=None):
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    return subprocess.run(
        [cluster.psql, "-h", "127.0.0.1", "-p", str(cluster.port), "-U", user, "-d", "postgres",
         "-v", "ON_ERROR_STOP=1", "-tAc", sql],
        capture_output=True, text=True, env=env, timeout=30)


def require_password(cluster, *users):
    """Make these users log in with a password (the throwaway cluster trusts everyone else)."""
    hba = os.path.join(cluster.datadir, "pg_hba.conf")
    with open(hba) as f:
        text = f.read()
    lines = "".join(f"host all {u} 127.0.0.1/32 scram-sha-256\n" for u in users)
    with open(hba, "w") as f:
        f.write(lines + text)
    subprocess.run(cluster.prefix + [cluster.pg_ctl, "-D", cluster.datadir, "reload"], check=True,
                   capture_output=True)


def logs_in(cluster, user, password):
    return psql(cluster, "SELECT 1", user=user, password=password).returncode == 0


def test_builtin_postgresql_single_user_rotation_changes_the_real_password(rot_server, sm, postgres_cluster):
    user = "rot_" + uuid.uuid4().hex[:8]
    require_password(postgres_cluster, user)
    r = psql(postgres_cluster, f"CREATE ROLE {user} WITH LOGIN PASSWORD 'initial-pw'")
    assert r.returncode == 0, r.stderr
    assert logs_in(postgres_cluster, user, "initial-pw")
    assert not logs_in(postgres_cluster, user, "wrong")
    secret = {"engine": "postgres", "host": "127.0.0.1", "port": postgres_cluster.port,
              "username": user, "password": "initial-pw", "dbname": "postgres"}
    name = unique("pg")
    v1 = sm.create_secret(Name=name, SecretString=json.dumps(secret))["VersionId"]
    new = sm.rotate_secret(SecretId=name, RotationLambdaARN=PG_SINGLE, RotateImmediately=True)["VersionId"]
    assert stages_of(sm, name) == {new: ["AWSCURRENT"], v1: ["AWSPREVIOUS"]}
    current = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert current["username"] == user and current["password"] != "initial-pw"
    assert not logs_in(postgres_cluster, user, "initial-pw")
    assert logs_in(postgres_cluster, user, current["password"])
    # Again on the schedule (dev clock): the password changes once more.
    sm.rotate_secret(SecretId=name, RotationLambdaARN=PG_SINGLE, RotateImmediately=False,
                     RotationRules={"AutomaticallyAfterDays": 1})
    rot_server.advance_clock(86400 + 120)
    latest = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert latest["password"] != current["password"]
    assert not logs_in(postgres_cluster, user, current["password"])
    assert logs_in(postgres_cluster, user, latest["password"])


def test_builtin_postgresql_rotation_with_wrong_credentials_fails_and_keeps_awscurrent(sm, postgres_cluster):
    user = "rotbad_" + uuid.uuid4().hex[:8]
    require_password(postgres_cluster, user)
    assert psql(postgres_cluster, f"CREATE ROLE {user} WITH LOGIN PASSWORD 'right-pw'").returncode == 0
    secret = {"engine": "postgres", "host": "127.0.0.1", "port": postgres_cluster.port,
              "username": user, "password": "not-the-password", "dbname": "postgres"}
    name = unique("pgbad")
    v1 = sm.create_secret(Name=name, SecretString=json.dumps(secret))["VersionId"]
    pending = sm.rotate_secret(SecretId=name, RotationLambdaARN=PG_SINGLE)["VersionId"]
    assert stages_of(sm, name) == {v1: ["AWSCURRENT"], pending: ["AWSPENDING"]}
    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["password"] == "not-the-password"
    assert logs_in(postgres_cluster, user, "right-pw")


def test_builtin_postgresql_alternating_users_rotation_clones_the_user(sm, postgres_cluster):
    user = "alt_" + uuid.uuid4().hex[:8]
    require_password(postgres_cluster, user, user + "_clone")
    assert psql(postgres_cluster, f"CREATE ROLE {user} WITH LOGIN PASSWORD 'alt-pw'").returncode == 0
    master = sm.create_secret(Name=unique("pgmaster"), SecretString=json.dumps({
        "engine": "postgres", "host": "127.0.0.1", "port": postgres_cluster.port,
        "username": "postgres", "password": "trusted", "dbname": "postgres"}))["ARN"]
    name = unique("pgalt")
    sm.create_secret(Name=name, SecretString=json.dumps({
        "engine": "postgres", "host": "127.0.0.1", "port": postgres_cluster.port, "username": user,
        "password": "alt-pw", "dbname": "postgres", "masterarn": master}))
    sm.rotate_secret(SecretId=name, RotationLambdaARN=PG_ALT)
    current = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert current["username"] == user + "_clone"
    assert logs_in(postgres_cluster, current["username"], current["password"])
    assert logs_in(postgres_cluster, user, "alt-pw")
    sm.rotate_secret(SecretId=name)
    back = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert back["username"] == user and back["password"] != "alt-pw"
    assert logs_in(postgres_cluster, user, back["password"])
    assert not logs_in(postgres_cluster, user, "alt-pw")


def test_rotation_outcomes_are_audited_as_cloudtrail_events(rot_server, sm):
    from conftest import lookup_events

    ok = unique("audited")
    sm.create_secret(Name=ok, SecretString=json.dumps({"password": "a"}))
    sm.rotate_secret(SecretId=ok, RotationLambdaARN=HOOK)
    bad = unique("audited-bad")
    sm.create_secret(Name=bad, SecretString=json.dumps({"password": "secret-value-zz"}))
    sm.rotate_secret(SecretId=bad, RotationLambdaARN=BROKEN)
    ct = rot_server.client("cloudtrail")
    for name, event in ((ok, "RotationSucceeded"), (ok, "RotationStarted"), (bad, "RotationFailed")):
        arn = sm.describe_secret(SecretId=name)["ARN"]
        found = [e for e in lookup_events(ct, "EventName", event)
                 if arn in json.dumps(e.get("Resources", [])) or arn in e["CloudTrailEvent"]]
        assert found, (name, event)
        assert json.loads(found[0]["CloudTrailEvent"])["eventSource"] == "secretsmanager.amazonaws.com"
    assert "secret-value-zz" not in rot_server.audit_text()
