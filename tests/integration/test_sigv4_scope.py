"""The SigV4 credential scope must name the service serving the request and a region (issue 12),
and an awsJson X-Amz-Target may name the service by its model's target prefix (what botocore
sends) or by the bare service shape name (what the Smithy-generated SDKs, e.g. the AWS SDK for
JavaScript v3, send)."""
import json

import cbor2
import pytest

MODELS = __import__("conftest").MODELS_DIR

# A read-only call with valid input for every awsJson service Rampart's models hold.
CALLS = {
    "kms": ("ListKeys", {}),
    "ssm": ("DescribeParameters", {}),
    "secretsmanager": ("ListSecrets", {}),
    "acm": ("ListCertificates", {}),
    "acm-pca": ("ListCertificateAuthorities", {}),
    "wafv2": ("ListWebACLs", {"Scope": "REGIONAL"}),
    "shield": ("ListProtections", {}),
    "fms": ("ListPolicies", {}),
    "cloudtrail": ("LookupEvents", {}),
}


def json_models():
    out = []
    for path in sorted(MODELS.glob("*.json")):
        meta = json.loads(path.read_text())["metadata"]
        if "json" in meta.get("protocols", [meta["protocol"]]) and meta.get("targetPrefix"):
            out.append((path.stem, meta))
    return out


def test_every_aws_json_service_has_a_call_here():
    assert sorted(name for name, _ in json_models()) == sorted(CALLS)


def content_type(meta):
    return f"application/x-amz-json-{meta.get('jsonVersion', '1.1')}"


@pytest.mark.parametrize("name,meta", json_models(), ids=lambda v: v if isinstance(v, str) else "")
def test_the_target_may_name_the_service_shape_alone(server, name, meta):
    op, payload = CALLS[name]
    signing = meta.get("signingName", meta["endpointPrefix"])
    answers = []
    prefix = meta["targetPrefix"]
    for target_prefix in (prefix, prefix.rsplit(".", 1)[-1]):
        r = server.signed_request(signing, json.dumps(payload),
                                  headers={"Content-Type": content_type(meta),
                                           "X-Amz-Target": f"{target_prefix}.{op}"})
        answers.append((r.status_code, r.headers.get("x-amzn-query-error"), r.json().get("__type")))
        assert "UnknownOperation" not in r.text, (target_prefix, r.text)
    assert answers[0] == answers[1]


def test_the_javascript_sdk_target_for_cloudtrail_lookup_events(server):
    r = server.json_request("cloudtrail", "CloudTrail_20131101.LookupEvents",
                            json.dumps({"MaxResults": 1}))
    assert r.status_code == 200, r.text
    assert "Events" in r.json()


@pytest.mark.parametrize("name,meta", json_models(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_scope_for_another_service_is_refused(server, name, meta):
    op, payload = CALLS[name]
    signing = meta.get("signingName", meta["endpointPrefix"])
    wrong = "sts" if signing != "sts" else "kms"
    r = server.signed_request(wrong, json.dumps(payload),
                              headers={"Content-Type": content_type(meta),
                                       "X-Amz-Target": f"{meta['targetPrefix']}.{op}"})
    assert r.status_code == 400, r.text
    assert r.json()["__type"].endswith("InvalidSignatureException")
    assert r.json()["message"] == f"Credential should be scoped to correct service: '{signing}'. "


def test_a_kms_call_signed_for_sts_is_refused(server):
    r = server.json_request("sts", "TrentService.ListKeys")
    assert r.status_code == 400
    assert r.json() == {"__type": "InvalidSignatureException",
                        "message": "Credential should be scoped to correct service: 'kms'. "}
    r = server.json_request("kms", "TrentService.ListKeys")
    assert r.status_code == 200, r.text


def test_a_scope_must_name_a_valid_region(server):
    for region in ("moon", "us-east", "US-EAST-1"):
        r = server.json_request("kms", "TrentService.ListKeys", region=region)
        assert r.status_code == 400, r.text
        assert r.json() == {"__type": "InvalidSignatureException",
                            "message": f"Credential should be scoped to a valid region, not '{region}'. "}
    # awsQuery words it as SignatureDoesNotMatch.
    r = server.query_request("sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"}, region="moon")
    assert r.status_code == 403, r.text
    assert "<Code>SignatureDoesNotMatch</Code>" in r.text
    assert "Credential should be scoped to a valid region, not &apos;moon&apos;. " in r.text \
        or "Credential should be scoped to a valid region, not 'moon'. " in r.text


def test_a_wrongly_scoped_call_is_refused_in_dev_mode_too(dev_server):
    r = dev_server.json_request("sts", "TrentService.ListKeys", access_key="AKIAANYTHINGATALL123",
                                secret_key="whatever")
    assert r.status_code == 400
    assert r.json()["message"] == "Credential should be scoped to correct service: 'kms'. "


def test_a_cbor_call_signed_for_another_service_is_refused(server):
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"}
    r = server.signed_request("kms", cbor2.dumps({}), headers=headers,
                              path="/service/ACMPrivateCA/operation/ListCertificateAuthorities")
    assert r.status_code == 400
    body = cbor2.loads(r.content)
    assert body["__type"].endswith("InvalidSignatureException")
    assert body["message"] == "Credential should be scoped to correct service: 'acm-pca'. "
    r = server.signed_request("acm-pca", cbor2.dumps({}), headers=headers,
                              path="/service/ACMPrivateCA/operation/ListCertificateAuthorities")
    assert r.status_code == 200


def test_the_scope_selects_among_rest_services(server):
    # GuardDuty's ListDetectors is GET /detector; the same request signed for another
    # restJson service is not GuardDuty's.
    # (Rampart does not implement GuardDuty yet: its answer names the operation it routed to.)
    r = server.signed_request("guardduty", None, method="GET", path="/detector")
    assert "GuardDuty.ListDetectors" in r.text, r.text
    r = server.signed_request("macie2", None, method="GET", path="/detector")
    assert "GuardDuty" not in r.text, r.text


def test_a_wrongly_scoped_call_is_audited_as_failed(server):
    r = server.json_request("sts", "TrentService.ListKeys")
    request_id = r.headers["x-amzn-RequestId"]
    ct = server.client("cloudtrail")
    from conftest import wait_for

    def found():
        for e in ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ListKeys"}],
                                  MaxResults=50)["Events"]:
            record = json.loads(e["CloudTrailEvent"])
            if record["requestID"] == request_id:
                return record
        return None

    record = wait_for(found)
    assert record and record["errorCode"] == "InvalidSignatureException"
