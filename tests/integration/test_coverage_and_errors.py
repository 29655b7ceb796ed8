"""`rampart coverage`, NotImplemented / unknown operations, and model-driven validation errors."""

import json
import subprocess
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from conftest import MODELS_DIR, error_code, error_message, http_status, unique

EXPECTED_MODEL_COUNTS = {"sts": 12, "iam": 181, "kms": 56, "cloudtrail": 60}


def coverage_rows(rampart_bin):
    r = subprocess.run([rampart_bin, "coverage"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    header = lines[0].split()
    assert header[0] == "service" and "implemented" in header, lines[0]
    rows = {}
    for line in lines[1:]:
        parts = line.split()
        rows[parts[0]] = (int(parts[-2]), int(parts[-1]))
        if parts[0] == "total":
            break  # area rows (parts of a model) follow the total
    return rows


def test_coverage_shows_parameter_store_as_an_area(rampart_bin):
    r = subprocess.run([rampart_bin, "coverage"], capture_output=True, text=True, timeout=30)
    area = [l for l in r.stdout.splitlines() if l.startswith("ssm: Parameter Store")]
    assert area and area[0].split()[-2:] == ["10", "10"], r.stdout


def model_operation_count(service):
    with open(MODELS_DIR / f"{service}.json") as f:
        return len(json.load(f)["operations"])


@pytest.mark.parametrize("service", sorted(EXPECTED_MODEL_COUNTS))
def test_coverage_row_matches_model_operation_count(rampart_bin, service):
    rows = coverage_rows(rampart_bin)
    assert service in rows, rows
    implemented, in_model = rows[service]
    assert in_model == EXPECTED_MODEL_COUNTS[service]
    assert in_model == model_operation_count(service)
    assert 0 <= implemented <= in_model


def test_coverage_counts_implemented_operations(rampart_bin):
    rows = coverage_rows(rampart_bin)
    assert rows["sts"][0] >= 4  # GetCallerIdentity AssumeRole GetSessionToken GetAccessKeyInfo
    assert rows["iam"][0] >= 33
    assert rows["cloudtrail"][0] >= 1


def test_coverage_total_row_is_the_sum(rampart_bin):
    rows = coverage_rows(rampart_bin)
    total = rows.pop("total")
    assert total == (sum(r[0] for r in rows.values()), sum(r[1] for r in rows.values()))


def test_unimplemented_guardduty_list_detectors_is_501_not_implemented(server):
    with pytest.raises(ClientError) as e:
        server.client("guardduty").list_detectors()
    assert http_status(e.value) == 501
    assert error_code(e.value) == "NotImplemented"
    assert error_message(e.value) == "Rampart does not implement GuardDuty.ListDetectors yet"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid")


def test_unimplemented_iam_operation_is_501_not_implemented(server):
    # IAM's delegation requests (partner-initiated access) are not implemented.
    with pytest.raises(ClientError) as e:
        server.client("iam").get_delegation_request(DelegationRequestId="dr-0123456789abcdef")
    assert http_status(e.value) == 501
    assert error_code(e.value) == "NotImplemented"
    assert error_message(e.value) == "Rampart does not implement IAM.GetDelegationRequest yet"
    assert e.value.response["ResponseMetadata"]["RequestId"]


def test_unimplemented_operation_via_cli(server):
    r = server.cli("guardduty", "list-detectors")
    assert r.returncode != 0
    assert "NotImplemented" in r.stderr
    assert "Rampart does not implement GuardDuty.ListDetectors yet" in r.stderr


def test_unimplemented_operation_still_requires_authentication(server):
    with pytest.raises(ClientError) as e:
        client = server.client("guardduty", access_key="AKIAIOSFODNN7EXAMPLE", secret_key="x" * 40)
        client.list_detectors()
    assert error_code(e.value) == "UnrecognizedClientException"


def test_operation_not_in_model_is_invalid_action_for_query(server):
    resp = server.query_request("iam", {"Action": "NoSuchOperation", "Version": "2010-05-08"})
    assert resp.status_code == 400, resp.text
    root = ET.fromstring(resp.content)
    assert root.find(".//{*}Error/{*}Code").text == "InvalidAction"


def test_operation_not_in_model_is_unknown_operation_for_json(server):
    resp = server.json_request("kms", "TrentService.NoSuchOperation")
    assert resp.status_code == 400, resp.text
    assert resp.json()["__type"].split("#")[-1] == "UnknownOperationException"


def test_iam_create_user_name_too_long_is_validation_error(server):
    name = "a" * 200
    with pytest.raises(ClientError) as e:
        server.client("iam", validate=False).create_user(UserName=name)
    assert error_code(e.value) == "ValidationError"
    assert http_status(e.value) == 400
    assert error_message(e.value) == (
        f"1 validation error detected: Value '{name}' at 'userName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )


def test_iam_create_user_name_too_long_via_cli(server):
    name = "b" * 200
    r = server.cli("iam", "create-user", "--user-name", name)
    assert r.returncode != 0
    assert "ValidationError" in r.stderr
    assert "Member must have length less than or equal to 64" in r.stderr


def test_iam_missing_required_member_is_validation_error(server):
    resp = server.query_request("iam", {"Action": "CreateUser", "Version": "2010-05-08"})
    assert resp.status_code == 400, resp.text
    root = ET.fromstring(resp.content)
    assert root.find(".//{*}Error/{*}Code").text == "ValidationError"
    assert root.find(".//{*}Error/{*}Message").text == (
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"
    )


def test_iam_get_unknown_user_is_no_such_entity(server):
    name = unique("ghost")
    with pytest.raises(ClientError) as e:
        server.client("iam").get_user(UserName=name)
    assert error_code(e.value) == "NoSuchEntity"
    assert http_status(e.value) == 404
    assert error_message(e.value) == f"The user with name {name} cannot be found."


def test_iam_create_existing_user_is_entity_already_exists(server):
    name = unique("dup")
    iam = server.client("iam")
    iam.create_user(UserName=name)
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=name)
    assert error_code(e.value) == "EntityAlreadyExists"
    assert http_status(e.value) == 409
    assert error_message(e.value) == f"User with name {name} already exists."


def test_iam_get_unknown_aws_managed_policy_is_no_such_entity(server):
    with pytest.raises(ClientError) as e:
        server.client("iam").get_policy(PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicyAtAll")
    assert error_code(e.value) == "NoSuchEntity"


def test_iam_known_aws_managed_policies(server):
    iam = server.client("iam")
    for name in ("AdministratorAccess", "ReadOnlyAccess", "IAMFullAccess", "IAMReadOnlyAccess", "PowerUserAccess"):
        pol = iam.get_policy(PolicyArn=f"arn:aws:iam::aws:policy/{name}")["Policy"]
        assert pol["PolicyName"] == name
        assert pol["Arn"] == f"arn:aws:iam::aws:policy/{name}"
