"""Bounds applied before parsing, and presigned (query-string) SigV4."""

import json

import requests


def test_a_body_over_the_limit_is_refused_before_parsing(server):
    r = server.json_request("kms", "TrentService.ListKeys", payload="x" * (2 * 1024 * 1024 + 1))
    assert r.status_code == 413
    assert r.json()["__type"] == "RequestEntityTooLarge"


def test_json_nested_too_deeply_is_a_serialization_error(server):
    deep = '{"Tags":' + "[" * 40 + "]" * 40 + "}"
    r = server.json_request("kms", "TrentService.CreateKey", payload=deep)
    assert r.status_code == 400
    assert r.json()["__type"] == "SerializationException"


def test_too_many_headers_are_refused(server):
    headers = {f"x-filler-{i}": "1" for i in range(120)}
    r = requests.post(server.endpoint + "/", headers=headers, data=b"Action=GetCallerIdentity", timeout=10)
    assert r.status_code == 431


def test_malformed_json_is_a_serialization_error(server):
    r = server.json_request("kms", "TrentService.ListKeys", payload='{"Limit": ')
    assert r.status_code == 400
    assert r.json()["__type"] == "SerializationException"


def test_presigned_get_caller_identity_url_works_and_tampering_fails(server):
    sts = server.client("sts")
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    ok = requests.get(url, timeout=10)
    assert ok.status_code == 200, ok.text
    assert "<Account>000000000000</Account>" in ok.text
    bad = requests.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=10)
    assert bad.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in bad.text or "<Code>IncompleteSignature</Code>" in bad.text
