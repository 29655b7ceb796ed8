"""Secrets at rest: sealed under the root key, from each root-key provider."""

import base64
import os
import shutil
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import unique


def _store_bytes(server):
    data = b""
    for name in os.listdir(server.data_dir):
        if name.startswith("rampart.db"):
            with open(server.data_dir / name, "rb") as f:
                data += f.read()
    return data


def test_secret_access_keys_never_reach_the_store_in_plaintext(server):
    iam = server.client("iam")
    user = unique("sealed")
    iam.create_user(UserName=user)
    secret = iam.create_access_key(UserName=user)["AccessKey"]["SecretAccessKey"]
    _, admin_secret = server.profile()
    stored = _store_bytes(server)
    assert stored, "no store file found"
    assert secret.encode() not in stored
    assert admin_secret.encode() not in stored


def test_root_key_file_is_private_and_reused(server):
    key = server.data_dir / "root.key"
    assert key.exists()
    assert (key.stat().st_mode & 0o077) == 0
    assert (server.credentials_path.stat().st_mode & 0o077) == 0


def test_env_root_key_provider_seals_and_a_wrong_key_cannot_open(server_factory):
    key = base64.b64encode(os.urandom(32)).decode()
    s = server_factory("envkey", extra_args=["--root-key", "env:RAMPART_TEST_ROOT_KEY"],
                       extra_env={"RAMPART_TEST_ROOT_KEY": key})
    assert s.client("sts").get_caller_identity()["Account"] == "000000000000"
    assert not (s.data_dir / "root.key").exists()
    s.stop()
    # Same key: the sealed admin secret opens again after a restart.
    s.start()
    assert s.client("sts").get_caller_identity()["Account"] == "000000000000"
    s.stop()
    # Another key: nothing sealed under the first one can be opened, and no secret leaks.
    s.extra_env["RAMPART_TEST_ROOT_KEY"] = base64.b64encode(os.urandom(32)).decode()
    s.start()
    with pytest.raises(ClientError) as e:
        s.client("sts").get_caller_identity()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 500
    _, secret = s.profile()
    assert secret not in s.stdout_text() + s.stderr_text()


def test_a_missing_env_root_key_stops_the_server_without_echoing_anything(rampart_bin, tmp_path):
    r = subprocess.run([rampart_bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
                        "--root-key", "env:RAMPART_TEST_ABSENT_KEY"], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "root key" in r.stderr


SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"


def test_pkcs11_root_key_from_softhsm(server_factory, tmp_path):
    if not (shutil.which("softhsm2-util") and os.path.exists(SOFTHSM_LIB)):
        if os.environ.get("RAMPART_REQUIRE_SOFTHSM") == "1":
            pytest.fail("softhsm2 is required (RAMPART_REQUIRE_SOFTHSM=1) but not installed")
        pytest.skip("SKIPPED: softhsm2 not installed")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    env = {"SOFTHSM2_CONF": str(conf), "RAMPART_PKCS11_PIN": "hsm-pin-7Qx9"}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "rampart", "--pin", "hsm-pin-7Qx9", "--so-pin", "5678"],
                   check=True, capture_output=True, env={**os.environ, **env})
    spec = f"pkcs11:module={SOFTHSM_LIB};token=rampart;pin-env=RAMPART_PKCS11_PIN;key=rampart-root"
    s = server_factory("pkcs11", extra_args=["--root-key", spec], extra_env=env)
    iam = s.client("iam")
    iam.create_user(UserName="hsm-user")
    s.stop()
    s.start()
    # The data key unwrapped inside the HSM opens what was sealed before the restart.
    assert s.client("sts").get_caller_identity()["Account"] == "000000000000"
    assert s.client("iam").get_user(UserName="hsm-user")["User"]["UserName"] == "hsm-user"
    assert "hsm-pin-7Qx9" not in s.stdout_text() + s.stderr_text()
