"""S3 CORS: bucket configuration through boto3, browser preflights (unsigned OPTIONS) and the
Access-Control headers of actual requests from an allowed origin."""

import pytest
import requests
from botocore.exceptions import ClientError

from test_s3 import bucket_name, code, s3

ORIGIN = "https://app.example.com"
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

RULES = [
    {
        "ID": "uploads",
        "AllowedOrigins": ["https://*.example.com"],
        "AllowedMethods": ["PUT", "POST"],
        "AllowedHeaders": ["content-*", "x-amz-*"],
        "ExposeHeaders": ["ETag", "x-amz-request-id"],
        "MaxAgeSeconds": 3000,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
]


@pytest.fixture(scope="module")
def client(server):
    return s3(server)


@pytest.fixture
def bucket(client):
    name = bucket_name("cors")
    client.create_bucket(Bucket=name)
    return name


def preflight(server, bucket, method, origin=ORIGIN, headers=None, key="k.txt"):
    h = {"Access-Control-Request-Method": method}
    if origin is not None:
        h["Origin"] = origin
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(f"{server.endpoint}/{bucket}/{key}", headers=h, timeout=10)


def test_a_configuration_is_put_read_back_and_deleted(client, bucket):
    with pytest.raises(ClientError) as e:
        client.get_bucket_cors(Bucket=bucket)
    assert code(e) == "NoSuchCORSConfiguration"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    got = client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert got == RULES
    client.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        client.get_bucket_cors(Bucket=bucket)
    assert code(e) == "NoSuchCORSConfiguration"


@pytest.mark.parametrize(
    "rule, error",
    [
        ({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}, "InvalidRequest"),
        ({"AllowedOrigins": ["http://*.*.com"], "AllowedMethods": ["GET"]}, "InvalidRequest"),
        (
            {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-*"]},
            "InvalidRequest",
        ),
    ],
)
def test_bad_configurations_are_refused(client, bucket, rule, error):
    with pytest.raises(ClientError) as e:
        client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    assert code(e) == error
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_more_than_a_hundred_rules_are_refused(client, bucket):
    rules = [{"AllowedOrigins": [f"https://{i}.example"], "AllowedMethods": ["GET"]} for i in range(101)]
    with pytest.raises(ClientError) as e:
        client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert code(e) == "MalformedXML"
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules[:100]})
    assert len(client.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 100


def test_cors_operations_on_a_missing_bucket_say_so(client):
    with pytest.raises(ClientError) as e:
        client.get_bucket_cors(Bucket=bucket_name("nope"))
    assert code(e) == "NoSuchBucket"


def test_a_preflight_is_answered_from_the_first_matching_rule(server, client, bucket):
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    r = preflight(server, bucket, "PUT", headers="Content-Type, X-Amz-Date")
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Access-Control-Allow-Methods"] == "PUT, POST"
    assert r.headers["Access-Control-Allow-Headers"] == "content-type, x-amz-date"
    assert r.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
    assert r.headers["Access-Control-Max-Age"] == "3000"
    assert r.headers["Vary"] == VARY
    # GET from anywhere matches the second rule, whose origin is the wildcard.
    r = preflight(server, bucket, "GET", origin="http://elsewhere.test")
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert "Access-Control-Allow-Credentials" not in r.headers
    assert "Access-Control-Max-Age" not in r.headers


@pytest.mark.parametrize(
    "method, origin, headers",
    [
        ("DELETE", ORIGIN, None),  # no rule allows DELETE
        ("PUT", "https://example.org", None),  # origin allowed only for GET/HEAD
        ("PUT", ORIGIN, "Authorization"),  # a header the rule does not allow
        ("GET", ORIGIN, "x-custom"),  # the GET rule allows no headers
    ],
)
def test_a_preflight_no_rule_allows_is_forbidden(server, client, bucket, method, origin, headers):
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    r = preflight(server, bucket, method, origin=origin, headers=headers)
    assert r.status_code == 403
    assert "<Code>AccessForbidden</Code>" in r.text
    assert "CORSResponse: This CORS request is not allowed" in r.text
    assert "Access-Control-Allow-Origin" not in r.headers


def test_a_preflight_without_configuration_or_bucket_or_origin_is_refused(server, client, bucket):
    r = preflight(server, bucket, "GET")
    assert r.status_code == 403
    assert "<Code>AccessForbidden</Code>" in r.text
    assert "CORSResponse" in r.text
    r = preflight(server, bucket_name("nope"), "GET")
    assert r.status_code == 404
    assert "<Code>NoSuchBucket</Code>" in r.text
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    r = preflight(server, bucket, "GET", origin=None)
    assert r.status_code == 400
    assert "Origin request header needed" in r.text
    r = preflight(server, bucket, "PATCH")
    assert r.status_code == 400


def test_actual_requests_from_an_allowed_origin_get_cors_headers(server, client, bucket):
    presigner = s3(server, signature_version="s3v4")
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    put_url = presigner.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "k.txt"}, ExpiresIn=300
    )
    r = requests.put(put_url, data=b"hello", headers={"Origin": ORIGIN}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert r.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
    assert r.headers["Vary"] == VARY
    get_url = presigner.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k.txt"}, ExpiresIn=300
    )
    r = requests.get(get_url, headers={"Origin": "http://elsewhere.test"}, timeout=10)
    assert r.status_code == 200
    assert r.content == b"hello"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    # Without an Origin, or from an origin no rule allows for the method: no CORS headers.
    r = requests.get(get_url, timeout=10)
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers
    delete_url = presigner.generate_presigned_url(
        "delete_object", Params={"Bucket": bucket, "Key": "k.txt"}, ExpiresIn=300
    )
    r = requests.delete(delete_url, headers={"Origin": ORIGIN}, timeout=10)
    assert r.status_code == 204
    assert "Access-Control-Allow-Origin" not in r.headers
    # The listing (bucket-level, through the SDK path) also answers an allowed origin.
    r = requests.get(
        presigner.generate_presigned_url("list_objects_v2", Params={"Bucket": bucket}, ExpiresIn=300),
        headers={"Origin": ORIGIN},
        timeout=10,
    )
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_a_preflight_names_its_bucket_by_virtual_host(server, client, bucket):
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    h = {
        "Host": f"{bucket}.s3.localhost:{server.port}",
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
    }
    r = requests.options(f"{server.endpoint}/some/key", headers=h, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    h["Access-Control-Request-Method"] = "DELETE"
    r = requests.options(f"{server.endpoint}/some/key", headers=h, timeout=10)
    assert r.status_code == 403


def test_a_browser_post_upload_from_an_allowed_origin_gets_cors_headers(server, client, bucket):
    from test_s3_transfer import post_form

    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    conditions = [{"bucket": bucket}, ["starts-with", "$key", "up/"]]
    status, head, body = post_form(server, bucket, "up/a.txt", conditions, origin=ORIGIN)
    assert status == 204, body
    assert f"access-control-allow-origin: {ORIGIN}" in head.lower()
    status, head, body = post_form(server, bucket, "up/b.txt", conditions, origin="https://example.org")
    assert status == 204, body
    assert "access-control-allow-origin" not in head.lower()
