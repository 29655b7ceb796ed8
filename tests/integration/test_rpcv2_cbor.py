"""smithy-rpc-v2-cbor framing (what aws-sdk-fms sends): requests decoded, answers and errors in CBOR."""

import cbor2
import requests

CBOR_HEADERS = {
    "smithy-protocol": "rpc-v2-cbor",
    "Content-Type": "application/cbor",
    "Accept": "application/cbor",
}


def cbor_call(server, operation, body, service="AWSFMS_20180101", signing="fms", **kw):
    return server.signed_request(signing, body, headers=CBOR_HEADERS,
                                 path=f"/service/{service}/operation/{operation}", **kw)


def test_an_unimplemented_cbor_operation_answers_not_implemented_in_cbor(server):
    r = cbor_call(server, "ListPolicies", cbor2.dumps({"MaxResults": 10}))
    assert r.status_code == 501
    assert r.headers["Content-Type"] == "application/cbor"
    assert r.headers["smithy-protocol"] == "rpc-v2-cbor"
    body = cbor2.loads(r.content)
    assert body["__type"] == "com.amazonaws.fms#NotImplemented"
    assert body["message"] == "Rampart does not implement FMS.ListPolicies yet"


def test_malformed_cbor_is_a_serialization_error(server):
    r = cbor_call(server, "ListPolicies", b"\xa1\x61")
    assert r.status_code == 400
    assert cbor2.loads(r.content)["__type"].endswith("#SerializationException")


def test_model_validation_applies_to_cbor_inputs(server):
    r = cbor_call(server, "ListPolicies", cbor2.dumps({"MaxResults": 0}))
    assert r.status_code == 400
    body = cbor2.loads(r.content)
    assert body["__type"].endswith("#ValidationException")
    assert "at 'maxResults'" in body["message"]


def test_an_operation_outside_the_model_is_unknown(server):
    r = cbor_call(server, "NoSuchOperation", cbor2.dumps({}))
    assert r.status_code == 400
    assert cbor2.loads(r.content)["__type"].endswith("#UnknownOperationException")


def test_an_unsigned_cbor_request_is_refused_in_cbor(server):
    r = requests.post(server.endpoint + "/service/AWSFMS_20180101/operation/ListPolicies",
                      headers=CBOR_HEADERS, data=cbor2.dumps({}), timeout=10)
    assert r.status_code in (400, 403)
    assert r.headers["Content-Type"] == "application/cbor"
    assert cbor2.loads(r.content)["__type"].endswith("#MissingAuthenticationTokenException")
