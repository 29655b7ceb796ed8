"""KMS request quotas: token buckets per account, Region and quota, answering
ThrottlingException as AWS does, configurable with RAMPART_KMS_QUOTAS and off in dev mode."""

import pytest

from conftest import error_code, error_message


def test_quotas_throttle_per_quota_account_and_region(server_factory):
    # aws*0.2: CreateKey allows 1 request per second (5 × 0.2), the symmetric pool plenty.
    srv = server_factory("quotas", extra_env={"RAMPART_KMS_QUOTAS": "aws*0.2"})
    kms = srv.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(Exception) as e:
        kms.create_key()
    assert error_code(e.value) == "ThrottlingException"
    assert error_message(e.value) == "Rate exceeded"
    # Other quotas are separate buckets: cryptographic operations still run.
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    # Another Region has its own bucket.
    srv.client("kms", region="eu-west-1").create_key()


def test_invalid_quota_setting_refuses_to_start(server_factory):
    with pytest.raises(Exception):
        server_factory("badquotas", extra_env={"RAMPART_KMS_QUOTAS": "sometimes"})


def test_dev_mode_has_no_quotas_by_default(server_factory):
    # An empty setting is the default (the fixtures otherwise turn quotas off).
    srv = server_factory("devquotas", dev=True, extra_env={"RAMPART_KMS_QUOTAS": ""})
    kms = srv.client("kms")
    for _ in range(12):  # CreateKey's AWS quota is 5 per second
        kms.create_key()


def test_aws_quotas_apply_by_default_outside_dev_mode(server_factory):
    srv = server_factory("defaultquotas", extra_env={"RAMPART_KMS_QUOTAS": ""})
    kms = srv.client("kms")
    codes = []
    for _ in range(12):
        try:
            kms.create_key()
            codes.append("ok")
        except Exception as e:  # noqa: BLE001
            codes.append(error_code(e))
    assert codes.count("ok") >= 5
    assert "ThrottlingException" in codes
