"""Durability on both store backends: every acknowledged write survives kill -9 and restart."""

import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, error_code, lookup_events, unique

N_USERS = 50


def all_user_names(iam):
    names = set()
    for page in iam.get_paginator("list_users").paginate():
        names.update(u["UserName"] for u in page["Users"])
    return names


def test_backend_smoke(backend_server):
    s = backend_server
    health = s.health()
    assert health.status_code == 200
    assert health.json()["store"]["backend"] == s.backend
    assert health.json()["store"]["status"] == "ok"
    assert f"store: {s.backend}" in s.listening_line
    assert s.client("sts").get_caller_identity()["Account"] == ADMIN_ACCOUNT
    iam = s.client("iam")
    name = unique("smoke")
    iam.create_user(UserName=name)
    assert iam.get_user(UserName=name)["User"]["UserName"] == name
    iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=name)
    assert error_code(e.value) == "NoSuchEntity"


def test_acknowledged_users_survive_kill9(backend_server):
    s = backend_server
    iam = s.client("iam")
    names = [f"durable-{i:03d}" for i in range(N_USERS)]
    for n in names:
        iam.create_user(UserName=n)
    s.kill9_and_restart()
    iam = s.client("iam")
    assert set(names) <= all_user_names(iam)
    for n in names[::7]:
        assert iam.get_user(UserName=n)["User"]["UserName"] == n


def test_plain_restart_keeps_credentials_working(backend_server):
    s = backend_server
    root_key = s.profile()
    iam = s.client("iam")
    name = unique("keyholder")
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    s.restart()
    assert s.profile() == root_key  # the credentials file is not rewritten on restart
    assert s.client("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{ADMIN_ACCOUNT}:root"
    user_iam = s.client("iam", creds=key)
    assert name in {u["UserName"] for u in user_iam.list_users()["Users"]}
    with pytest.raises(ClientError) as e:
        user_iam.create_user(UserName=unique("nope"))
    assert error_code(e.value) == "AccessDenied"
    r = s.cli("sts", "get-caller-identity")
    assert r.returncode == 0, r.stderr


def test_created_account_survives_kill9(backend_server):
    s = backend_server
    s.create_account("222222222222")
    name = unique("acct2")
    s.client("iam", profile="rampart-222222222222").create_user(UserName=name)
    s.kill9_and_restart()
    other = s.client("iam", profile="rampart-222222222222")
    assert other.get_user(UserName=name)["User"]["Arn"] == f"arn:aws:iam::222222222222:user/{name}"


def test_kill9_mid_stream_keeps_every_acknowledged_user(backend_server):
    s = backend_server
    iam = s.client("iam")
    acked = []
    errors = []
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            name = f"stream-{i:05d}"
            i += 1
            try:
                iam.create_user(UserName=name)
            except Exception as e:  # connection refused/reset once the server is killed
                errors.append(e)
                return
            acked.append(name)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    time.sleep(1.0)
    s.kill9()
    t.join(timeout=15)
    stop.set()
    assert not t.is_alive()
    assert len(acked) > 5, f"only {len(acked)} users acknowledged in 1 s"
    s.start()
    present = all_user_names(s.client("iam"))
    missing = [n for n in acked if n not in present]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged users lost, e.g. {missing[:5]}"


def test_audit_events_of_acknowledged_calls_survive_kill9(backend_server):
    # "Every API call, allowed or denied, becomes a CloudTrail-shaped event": an acknowledged call's
    # event must not be lost when the server dies right after answering.
    s = backend_server
    iam = s.client("iam")
    names = [unique("audited") for _ in range(20)]
    for n in names:
        iam.create_user(UserName=n)
    s.kill9_and_restart()
    events = lookup_events(s.client("cloudtrail"), "EventName", "CreateUser")
    audited = {json.loads(e["CloudTrailEvent"])["requestParameters"]["userName"] for e in events}
    missing = [n for n in names if n not in audited]
    in_files = [n for n in missing if n in s.audit_text()]
    assert not missing, (
        f"{len(missing)} of {len(names)} acknowledged CreateUser calls have no LookupEvents event after kill -9: "
        f"missing indexes {[names.index(n) for n in missing]}, of which {len(in_files)} are in the audit JSON lines"
    )
