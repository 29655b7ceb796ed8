"""S3 through boto3 and the aws CLI: buckets, objects streamed in and out, sealed at rest."""

import base64
import hashlib
import json
import os
import socket

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, unique


def s3(server, style="path", **kw):
    access, secret = server.profile()
    return boto3.session.Session().client(
        "s3",
        region_name=REGION,
        endpoint_url=server.endpoint,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": style}, retries={"max_attempts": 1}, **kw),
    )


def code(exc):
    return exc.value.response["Error"]["Code"]


def bucket_name(prefix="b"):
    return unique(prefix).lower().replace("_", "-")[:60]


@pytest.fixture(scope="module")
def client(server):
    return s3(server)


def test_buckets_are_created_listed_headed_and_deleted(client):
    name = bucket_name()
    client.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in client.list_buckets()["Buckets"]]
    client.head_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        client.create_bucket(Bucket=name)
    assert code(e) == "BucketAlreadyOwnedByYou"
    client.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        client.delete_bucket(Bucket=name)
    assert code(e) == "BucketNotEmpty"
    client.delete_object(Bucket=name, Key="k")
    client.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        client.head_bucket(Bucket=name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        client.list_objects_v2(Bucket=name)
    assert code(e) == "NoSuchBucket"


def test_bucket_names_and_location_constraints_follow_the_rules(client):
    with pytest.raises(ClientError) as e:
        client.create_bucket(Bucket="Bad_Name")
    assert code(e) == "InvalidBucketName"
    with pytest.raises(ClientError) as e:
        client.create_bucket(Bucket=bucket_name(), CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert code(e) == "IllegalLocationConstraintException"


def test_objects_keep_their_metadata_etag_and_encryption(client):
    name = bucket_name()
    client.create_bucket(Bucket=name)
    data = os.urandom(3 * 1024 * 1024 + 17)
    put = client.put_object(Bucket=name, Key="dir/obj.bin", Body=data, ContentType="application/x-test",
                            Metadata={"Color": "blue"}, CacheControl="no-cache")
    assert put["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
    assert put["ServerSideEncryption"] == "AES256"
    got = client.get_object(Bucket=name, Key="dir/obj.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"color": "blue"}
    assert got["CacheControl"] == "no-cache"
    assert got["ContentLength"] == len(data)
    assert got["ServerSideEncryption"] == "AES256"
    # botocore's default checksum (CRC32, sent as a trailer) is stored and returned.
    assert "ChecksumCRC32" in got
    head = client.head_object(Bucket=name, Key="dir/obj.bin")
    assert head["ContentLength"] == len(data) and head["ETag"] == put["ETag"]


# CRC32C and CRC64NVME need botocore[crt] on the client side; the server's side of them is
# covered by crates/sigv4's checksum tests and by the default below.
@pytest.mark.parametrize("algorithm", ["CRC32", "SHA1", "SHA256"])
def test_each_checksum_algorithm_is_stored_and_returned(client, algorithm):
    name = bucket_name()
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="c", Body=b"hello world", ChecksumAlgorithm=algorithm)
    got = client.head_object(Bucket=name, Key="c", ChecksumMode="ENABLED")
    assert got.get("Checksum" + algorithm)


def test_an_upload_without_checksum_gets_crc64nvme(server):
    c = s3(server, request_checksum_calculation="when_required", response_checksum_validation="when_required")
    name = bucket_name()
    c.create_bucket(Bucket=name)
    c.put_object(Bucket=name, Key="c", Body=b"hello world")
    assert c.head_object(Bucket=name, Key="c", ChecksumMode="ENABLED").get("ChecksumCRC64NVME")


def test_ranges_read_only_what_is_asked(client):
    name = bucket_name()
    client.create_bucket(Bucket=name)
    data = os.urandom(2 * 1024 * 1024 + 5)
    client.put_object(Bucket=name, Key="r", Body=data)
    start, end = 1024 * 1024 - 3, 1024 * 1024 + 10
    got = client.get_object(Bucket=name, Key="r", Range=f"bytes={start}-{end}")
    assert got["Body"].read() == data[start:end + 1]
    assert got["ContentRange"] == f"bytes {start}-{end}/{len(data)}"
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert client.get_object(Bucket=name, Key="r", Range="bytes=-4")["Body"].read() == data[-4:]
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=name, Key="r", Range=f"bytes={len(data)}-")
    assert code(e) == "InvalidRange"


def test_conditional_gets_answer_304_and_412(client):
    name = bucket_name()
    client.create_bucket(Bucket=name)
    etag = client.put_object(Bucket=name, Key="c", Body=b"abc")["ETag"]
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=name, Key="c", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=name, Key="c", IfMatch='"0000"')
    assert code(e) == "PreconditionFailed"
    assert client.get_object(Bucket=name, Key="c", IfMatch=etag)["Body"].read() == b"abc"
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=name, Key="missing")
    assert code(e) == "NoSuchKey"


def test_content_md5_is_checked(client):
    name = bucket_name()
    client.create_bucket(Bucket=name)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=name, Key="m", Body=b"data", ContentMD5=wrong)
    assert code(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=name, Key="m", Body=b"data", ContentMD5="notbase64!")
    assert code(e) == "InvalidDigest"
    with pytest.raises(ClientError):
        client.head_object(Bucket=name, Key="m")


def test_listings_page_and_group_by_delimiter(client):
    name = bucket_name()
    client.create_bucket(Bucket=name)
    keys = ["a/1", "a/2", "b/1", "c", "d e", "ü/x"]
    for k in keys:
        client.put_object(Bucket=name, Key=k, Body=k.encode())
    got = client.list_objects_v2(Bucket=name, Delimiter="/")
    assert [p["Prefix"] for p in got["CommonPrefixes"]] == ["a/", "b/", "ü/"]
    assert [o["Key"] for o in got["Contents"]] == ["c", "d e"]
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=name, PaginationConfig={"PageSize": 2})
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == keys
    assert [o["Key"] for o in client.list_objects_v2(Bucket=name, Prefix="a/")["Contents"]] == ["a/1", "a/2"]
    assert [o["Key"] for o in client.list_objects_v2(Bucket=name, StartAfter="b/1")["Contents"]] == ["c", "d e", "ü/x"]
    v1 = client.get_paginator("list_objects").paginate(Bucket=name, PaginationConfig={"PageSize": 4})
    assert [o["Key"] for p in v1 for o in p.get("Contents", [])] == keys


def test_delete_objects_and_copy_with_metadata_directives(client):
    name = bucket_name()
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="src", Body=b"payload", Metadata={"a": "1"}, ContentType="text/plain")
    client.copy_object(Bucket=name, Key="copy", CopySource={"Bucket": name, "Key": "src"})
    got = client.get_object(Bucket=name, Key="copy")
    assert got["Body"].read() == b"payload" and got["Metadata"] == {"a": "1"}
    client.copy_object(Bucket=name, Key="replaced", CopySource=f"{name}/src", MetadataDirective="REPLACE",
                       Metadata={"b": "2"})
    assert client.head_object(Bucket=name, Key="replaced")["Metadata"] == {"b": "2"}
    with pytest.raises(ClientError) as e:
        client.copy_object(Bucket=name, Key="src", CopySource=f"{name}/src")
    assert code(e) == "InvalidRequest"
    out = client.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "src"}, {"Key": "copy"}, {"Key": "nope"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["copy", "nope", "src"]
    assert [o["Key"] for o in client.list_objects_v2(Bucket=name)["Contents"]] == ["replaced"]


def test_hostile_key_names_stay_out_of_the_filesystem(server, client):
    name = bucket_name()
    client.create_bucket(Bucket=name)
    keys = ["../../escape", "..", "a/../../b", "ключ/日本語 ✓ 🎉", "nul\u0001byte"]
    for k in keys:
        client.put_object(Bucket=name, Key=k, Body=k.encode())
        assert client.get_object(Bucket=name, Key=k)["Body"].read() == k.encode()
    assert sorted(o["Key"] for o in client.list_objects_v2(Bucket=name)["Contents"]) == sorted(keys)
    for root, dirs, files in os.walk(server.workdir):
        for f in files + dirs:
            assert "escape" not in f and "ключ" not in f
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=name, Key="k" * 1025, Body=b"x")
    assert code(e) == "KeyTooLongError"


def test_no_plaintext_of_an_object_is_on_disk(server, client):
    name = bucket_name()
    client.create_bucket(Bucket=name)
    marker = b"PLAINTEXT-MARKER-" + os.urandom(8).hex().encode()
    client.put_object(Bucket=name, Key="secret.txt", Body=marker * 1000)
    server.stop()
    server.start()
    found = []
    for root, _, files in os.walk(server.data_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                if marker in fh.read():
                    found.append(f)
    assert not found, found
    c = s3(server)
    assert c.get_object(Bucket=name, Key="secret.txt")["Body"].read() == marker * 1000


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_a_large_upload_streams_without_growing_memory(server):
    c = s3(server)
    name = bucket_name()
    c.create_bucket(Bucket=name)
    c.put_object(Bucket=name, Key="warm", Body=os.urandom(1024 * 1024))
    before = _rss_kib(server.proc.pid)
    size = 20 * 1024 * 1024
    data = os.urandom(size)
    c.put_object(Bucket=name, Key="big", Body=data)
    after_put = _rss_kib(server.proc.pid)
    got = c.get_object(Bucket=name, Key="big")
    h = hashlib.sha256()
    for piece in got["Body"].iter_chunks(1024 * 1024):
        h.update(piece)
    assert h.digest() == hashlib.sha256(data).digest()
    after_get = _rss_kib(server.proc.pid)
    # Whole-body buffering would add at least the object's size (20 MiB).
    assert after_put - before < 12 * 1024, (before, after_put)
    assert after_get - before < 12 * 1024, (before, after_get)


def test_an_acknowledged_put_survives_kill_9(server):
    c = s3(server)
    name = bucket_name()
    c.create_bucket(Bucket=name)
    data = os.urandom(1024 * 1024 + 3)
    c.put_object(Bucket=name, Key="durable", Body=data)
    server.kill9_and_restart()
    c = s3(server)
    assert c.get_object(Bucket=name, Key="durable")["Body"].read() == data


def test_signed_payloads_are_verified_as_they_stream(server):
    # Without TLS botocore signs the payload's SHA-256 when told to.
    access, secret = server.profile()
    signed = boto3.session.Session().client(
        "s3", region_name=REGION, endpoint_url=server.endpoint,
        aws_access_key_id=access, aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path", "payload_signing_enabled": True},
                      request_checksum_calculation="when_required"))
    name = bucket_name()
    signed.create_bucket(Bucket=name)
    signed.put_object(Bucket=name, Key="s", Body=b"signed body")
    assert signed.get_object(Bucket=name, Key="s")["Body"].read() == b"signed body"


def test_virtual_host_addressing(server, monkeypatch):
    # `*.localhost` names the loopback (RFC 6761), whether or not the resolver knows it.
    real = socket.getaddrinfo

    def resolve(host, *args, **kw):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    access, secret = server.profile()
    c = boto3.session.Session().client(
        "s3", region_name=REGION, endpoint_url=f"http://s3.localhost:{server.port}",
        aws_access_key_id=access, aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "virtual"}))
    name = bucket_name()
    c.create_bucket(Bucket=name)
    c.put_object(Bucket=name, Key="v/k", Body=b"virtual")
    assert c.get_object(Bucket=name, Key="v/k")["Body"].read() == b"virtual"
    assert [o["Key"] for o in c.list_objects_v2(Bucket=name)["Contents"]] == ["v/k"]


def test_the_aws_cli_copies_lists_and_removes(server, tmp_path):
    name = bucket_name()
    r = server.cli("s3api", "create-bucket", "--bucket", name)
    assert r.returncode == 0, r.stderr
    src = tmp_path / "f.txt"
    src.write_bytes(b"from the cli\n" * 1000)
    r = server.cli("s3", "cp", str(src), f"s3://{name}/dir/f.txt")
    assert r.returncode == 0, r.stderr
    r = server.cli("s3", "ls", f"s3://{name}/dir/")
    assert r.returncode == 0 and "f.txt" in r.stdout, r.stderr
    dst = tmp_path / "back.txt"
    r = server.cli("s3", "cp", f"s3://{name}/dir/f.txt", str(dst))
    assert r.returncode == 0, r.stderr
    assert dst.read_bytes() == src.read_bytes()
    r = server.cli("s3api", "head-object", "--bucket", name, "--key", "dir/f.txt")
    assert r.returncode == 0 and json.loads(r.stdout)["ServerSideEncryption"] == "AES256"
    r = server.cli("s3", "rm", f"s3://{name}/dir/f.txt")
    assert r.returncode == 0, r.stderr
    r = server.cli("s3api", "list-objects-v2", "--bucket", name)
    assert r.returncode == 0 and "f.txt" not in r.stdout
