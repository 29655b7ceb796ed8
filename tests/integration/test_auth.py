"""Authentication: the printed admin profile, SigV4 failures, clock skew, unsigned requests, health."""

import datetime
import json
import stat
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, error_code, error_message, http_status, utcnow

STS_BODY = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
INVALID_TOKEN_MSG = "The security token included in the request is invalid."
SIG_MISMATCH_MSG = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


def xml_error(resp):
    """(Code, Message) from an awsQuery ErrorResponse body."""
    root = ET.fromstring(resp.content)
    code = root.find(".//{*}Error/{*}Code")
    msg = root.find(".//{*}Error/{*}Message")
    return (code.text if code is not None else None, msg.text if msg is not None else None)


def test_sts_get_caller_identity_with_printed_profile(server):
    r = server.cli("sts", "get-caller-identity", profile="rampart")
    assert r.returncode == 0, r.stderr
    ident = json.loads(r.stdout)
    assert ident["Account"] == ADMIN_ACCOUNT
    assert ident["Arn"] == f"arn:aws:iam::{ADMIN_ACCOUNT}:root"
    assert ident["UserId"] == ADMIN_ACCOUNT
    assert stat.S_IMODE(server.credentials_path.stat().st_mode) == 0o600
    _, secret = server.profile("rampart")
    assert secret not in server.logs_text(), "admin secret printed by the server"


def test_listening_line_names_store_and_dev_flag(server):
    assert server.listening_line.startswith(f"rampart listening on http://127.0.0.1:{server.port}")
    assert "store: sqlite" in server.listening_line
    assert "dev: false" in server.listening_line


def test_credentials_file_is_mode_0600_and_profile_format(server):
    mode = stat.S_IMODE(server.credentials_path.stat().st_mode)
    assert mode == 0o600, oct(mode)
    key_id, secret = server.profile("rampart")
    assert key_id.startswith("AKIA") and len(key_id) == 20
    assert len(secret) == 40


def test_admin_secret_never_in_server_output(server):
    # Make a few calls first so request logging (if any) has happened.
    server.client("sts").get_caller_identity()
    server.client("iam").list_users()
    _, secret = server.profile("rampart")
    logs = server.logs_text()
    assert secret not in logs
    assert secret not in server.audit_text()


def test_wrong_secret_is_signature_does_not_match(server):
    key_id, secret = server.profile()
    wrong = ("x" if secret[0] != "x" else "y") + secret[1:]
    sts = server.client("sts", access_key=key_id, secret_key=wrong)
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert error_code(e.value) == "SignatureDoesNotMatch"
    assert http_status(e.value) == 403
    assert error_message(e.value) == SIG_MISMATCH_MSG
    assert secret not in str(e.value.response) and wrong not in str(e.value.response)


def test_wrong_secret_on_json_service_is_invalid_signature_exception(server):
    key_id, secret = server.profile()
    wrong = ("x" if secret[0] != "x" else "y") + secret[1:]
    kms = server.client("kms", access_key=key_id, secret_key=wrong)
    with pytest.raises(ClientError) as e:
        kms.list_keys()
    assert error_code(e.value) == "InvalidSignatureException"
    assert http_status(e.value) == 400


def test_unknown_key_is_invalid_client_token_id_for_sts(server):
    sts = server.client("sts", access_key="AKIAIOSFODNN7EXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert error_code(e.value) == "InvalidClientTokenId"
    assert http_status(e.value) == 403
    assert error_message(e.value) == INVALID_TOKEN_MSG


def test_unknown_key_is_invalid_client_token_id_for_iam(server):
    iam = server.client("iam", access_key="AKIAIOSFODNN7EXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    with pytest.raises(ClientError) as e:
        iam.list_users()
    assert error_code(e.value) == "InvalidClientTokenId"
    assert http_status(e.value) == 403


def test_unknown_key_is_unrecognized_client_exception_for_json_service(server):
    kms = server.client("kms", access_key="AKIAIOSFODNN7EXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    with pytest.raises(ClientError) as e:
        kms.list_keys()
    assert error_code(e.value) == "UnrecognizedClientException"
    assert http_status(e.value) == 400
    assert error_message(e.value) == INVALID_TOKEN_MSG


def test_unknown_key_via_cli_for_kms_list_keys(server):
    r = server.cli(
        "kms",
        "list-keys",
        env={"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
    )
    assert r.returncode != 0
    assert "UnrecognizedClientException" in r.stderr


def test_request_signed_20_minutes_ago_is_refused_as_signature_expired(server):
    when = utcnow() - datetime.timedelta(minutes=20)
    resp = server.query_request("sts", STS_BODY, when=when)
    assert resp.status_code == 403, resp.text
    code, msg = xml_error(resp)
    assert code == "SignatureDoesNotMatch"
    assert msg.startswith("Signature expired"), msg
    # AWS: "Signature expired: 20240101T000000Z is now earlier than 20240101T000500Z (20240101T002000Z - 15 min.)"
    assert when.strftime("%Y%m%dT%H%M%SZ") in msg


def test_request_signed_20_minutes_in_the_future_is_refused(server):
    when = utcnow() + datetime.timedelta(minutes=20)
    resp = server.query_request("sts", STS_BODY, when=when)
    assert resp.status_code == 403, resp.text
    code, msg = xml_error(resp)
    assert code == "SignatureDoesNotMatch"
    assert msg.startswith("Signature not yet current"), msg


def test_request_signed_14_minutes_ago_is_accepted(server):
    when = utcnow() - datetime.timedelta(minutes=14)
    resp = server.query_request("sts", STS_BODY, when=when)
    assert resp.status_code == 200, resp.text
    assert f"arn:aws:iam::{ADMIN_ACCOUNT}:root" in resp.text


def test_request_signed_now_with_raw_sigv4_is_accepted(server):
    resp = server.query_request("sts", STS_BODY)
    assert resp.status_code == 200, resp.text
    assert "<GetCallerIdentityResponse" in resp.text
    assert resp.headers.get("x-amzn-RequestId")


def test_unsigned_query_request_is_missing_authentication_token(server):
    resp = server.http(
        "POST",
        "/",
        data="Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert resp.status_code == 403, resp.text
    code, _ = xml_error(resp)
    assert code == "MissingAuthenticationToken"


def test_unsigned_json_request_is_missing_authentication_token_exception(server):
    resp = server.http(
        "POST",
        "/",
        data="{}",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"},
    )
    assert resp.status_code in (400, 403), resp.text
    body = resp.json()
    assert body["__type"].split("#")[-1] == "MissingAuthenticationTokenException"


def test_health_endpoint_returns_200_with_store_backend(server):
    resp = server.health()
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["store"]["backend"] == "sqlite"
    assert body["store"]["status"] == "ok"
    assert body["dev"] is False
    assert body["version"]


def test_region_from_the_credential_scope_chooses_the_partition(server):
    china = server.client("sts", region="cn-north-1")
    assert china.get_caller_identity()["Arn"] == "arn:aws-cn:iam::000000000000:root"
    assert server.client("sts", region="eu-west-3").get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"


def test_rest_json_services_answer_not_implemented_in_their_protocol(server):
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as e:
        server.client("guardduty").list_detectors()
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
