"""The AWS SDK for JavaScript v3 against Rampart: another SDK's serializers and parsers
(tests/js/suite.test.mjs), run with `node --test` against a real server.

Needs Node.js and `npm ci` in tests/js (.ci/run does both); without them the test skips, or fails
when RAMPART_REQUIRE_NODE=1."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO

JS_DIR = REPO / "tests" / "js"


def _missing():
    if not shutil.which("node"):
        return "node is not installed (apt-get install nodejs npm)"
    if not (JS_DIR / "node_modules" / "@aws-sdk" / "client-kms").is_dir():
        return "the JavaScript SDK is not installed (cd tests/js && npm ci)"
    return None


def test_the_javascript_sdk_smoke_suite_passes(server):
    why = _missing()
    if why:
        if os.environ.get("RAMPART_REQUIRE_NODE") == "1":
            pytest.fail(f"RAMPART_REQUIRE_NODE=1 but {why}")
        pytest.skip(why)
    access_key, secret_key = server.profile()
    env = dict(os.environ)
    env.update({
        "RAMPART_ENDPOINT": server.endpoint,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_REGION": "us-east-1",
    })
    r = subprocess.run(["node", "--test", "--test-reporter=tap", "suite.test.mjs"], cwd=JS_DIR, env=env,
                       capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-8000:]
    counts = {k: int(v) for k, v in re.findall(r"^# (pass|fail|todo|tests) (\d+)$", out, re.M)}
    assert counts.get("fail") == 0, out[-8000:]
    # Every flow ran: a test that silently vanished must not pass for a green run.
    assert counts.get("pass", 0) + counts.get("todo", 0) >= 9, out[-8000:]
