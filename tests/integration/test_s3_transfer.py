"""S3 transfers through unchanged clients: multipart uploads (aws s3 cp, boto3 upload_file with
default checksums), ranged and part reads (download_file), conditional reads and writes,
presigned URLs, and browser POST-policy uploads with curl."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import subprocess
import time
import zlib

import boto3
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, unique

MIB = 1024 * 1024


def s3(server, **kw):
    access, secret = server.profile()
    return boto3.session.Session().client(
        "s3",
        region_name=REGION,
        endpoint_url=server.endpoint,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **kw),
    )


def code(exc):
    return exc.value.response["Error"]["Code"]


def status(exc):
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def new_bucket(client):
    name = unique("xfer").lower().replace("_", "-")[:60]
    client.create_bucket(Bucket=name)
    return name


def multipart_etag(parts):
    return '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest(), len(parts))


@pytest.fixture(scope="module")
def client(server):
    return s3(server)


# -- multipart through the managed transfers -----------------------------------------------


def test_aws_s3_cp_sync_ls_rm_move_a_20_mib_file_through_multipart(server, client, tmp_path):
    bucket = new_bucket(client)
    data = os.urandom(20 * MIB + 333)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    r = server.cli("s3", "cp", str(src), f"s3://{bucket}/dir/big.bin", timeout=180)
    assert r.returncode == 0, r.stderr
    head = client.head_object(Bucket=bucket, Key="dir/big.bin")
    assert head["ContentLength"] == len(data)
    # The CLI uploads 8 MiB parts: the ETag is AWS's multipart ETag over three parts.
    parts = [data[i:i + 8 * MIB] for i in range(0, len(data), 8 * MIB)]
    assert head["ETag"] == multipart_etag(parts)
    r = server.cli("s3", "ls", f"s3://{bucket}/dir/")
    assert r.returncode == 0 and "big.bin" in r.stdout and str(len(data)) in r.stdout
    dst = tmp_path / "back.bin"
    r = server.cli("s3", "cp", f"s3://{bucket}/dir/big.bin", str(dst), timeout=180)
    assert r.returncode == 0, r.stderr
    assert dst.read_bytes() == data
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha")
    (tree / "sub" / "b.txt").write_text("beta")
    r = server.cli("s3", "sync", str(tree), f"s3://{bucket}/tree/")
    assert r.returncode == 0, r.stderr
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="tree/")["Contents"])
    assert keys == ["tree/a.txt", "tree/sub/b.txt"]
    r = server.cli("s3", "rm", f"s3://{bucket}/", "--recursive")
    assert r.returncode == 0, r.stderr
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_boto3_upload_file_with_default_checksums_and_download_file(server, client, tmp_path):
    bucket = new_bucket(client)
    data = os.urandom(17 * MIB + 5)
    src = tmp_path / "up.bin"
    src.write_bytes(data)
    cfg = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB)
    client.upload_file(str(src), bucket, "up.bin", Config=cfg)
    head = client.head_object(Bucket=bucket, Key="up.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    # botocore asks for CRC32 by default: a multipart CRC32 is COMPOSITE, "<crc of crcs>-3".
    parts = [data[i:i + 8 * MIB] for i in range(0, len(data), 8 * MIB)]
    crcs = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    want = base64.b64encode(zlib.crc32(crcs).to_bytes(4, "big")).decode() + "-3"
    assert head["ChecksumCRC32"] == want
    assert head["ChecksumType"] == "COMPOSITE"
    dst = tmp_path / "down.bin"
    client.download_file(bucket, "up.bin", str(dst), Config=TransferConfig(multipart_threshold=4 * MIB,
                                                                            multipart_chunksize=4 * MIB))
    assert dst.read_bytes() == data
    # A whole GET with checksum mode: botocore skips composite checksums, and the body is right.
    got = client.get_object(Bucket=bucket, Key="up.bin", ChecksumMode="ENABLED")
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(data).digest()


# -- multipart, operation by operation ------------------------------------------------------


def test_multipart_upload_lists_completes_and_reads_by_part(client):
    bucket = new_bucket(client)
    up = client.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="text/x-test",
                                        Metadata={"origin": "test"})
    uid = up["UploadId"]
    p1, p2 = os.urandom(5 * MIB), os.urandom(1234)
    e1 = client.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e2 = client.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    assert e1 == '"%s"' % hashlib.md5(p1).hexdigest()
    listed = client.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed["Parts"]] == [(1, len(p1), e1), (2, len(p2), e2)]
    paged = client.list_parts(Bucket=bucket, Key="mp", UploadId=uid, MaxParts=1)
    assert paged["IsTruncated"] and paged["NextPartNumberMarker"] == 1
    rest = client.list_parts(Bucket=bucket, Key="mp", UploadId=uid, PartNumberMarker=1)
    assert [p["PartNumber"] for p in rest["Parts"]] == [2]
    uploads = client.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp", uid)]
    # Not visible before Complete.
    with pytest.raises(ClientError) as e:
        client.head_object(Bucket=bucket, Key="mp")
    assert status(e) == 404
    done = client.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert done["ETag"] == multipart_etag([p1, p2])
    obj = client.get_object(Bucket=bucket, Key="mp")
    assert obj["Body"].read() == p1 + p2
    assert obj["ContentType"] == "text/x-test" and obj["Metadata"] == {"origin": "test"}
    part2 = client.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert part2["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part2["PartsCount"] == 2 and part2["Body"].read() == p2
    assert part2["ContentRange"] == f"bytes {len(p1)}-{len(p1) + len(p2) - 1}/{len(p1) + len(p2)}"
    assert client.head_object(Bucket=bucket, Key="mp", PartNumber=1)["ContentLength"] == len(p1)
    with pytest.raises(ClientError) as e:
        client.head_object(Bucket=bucket, Key="mp", PartNumber=3)
    assert status(e) == 416
    # The upload is gone once completed.
    with pytest.raises(ClientError) as e:
        client.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
    assert code(e) == "NoSuchUpload"
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_complete_refuses_small_missing_misordered_and_mismatched_parts(server, client):
    bucket = new_bucket(client)
    uid = client.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    small = os.urandom(1000)
    e1 = client.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=small)["ETag"]
    e2 = client.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2, Body=small)["ETag"]

    def complete(parts):
        with pytest.raises(ClientError) as e:
            client.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                             MultipartUpload={"Parts": parts})
        return code(e)

    assert complete([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]) == "EntityTooSmall"
    assert complete([{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]) == "InvalidPartOrder"
    assert complete([{"PartNumber": 3, "ETag": e1}]) == "InvalidPart"
    assert complete([{"PartNumber": 1, "ETag": '"0123456789abcdef0123456789abcdef"'}]) == "InvalidPart"
    # Malformed XML, signed and sent as is.
    r = server.signed_request("s3", b"<CompleteMultipartUpload><Part>", method="POST",
                              path=f"/{bucket}/k?uploadId={uid}", headers={"Content-Type": "application/xml"})
    assert r.status_code == 400 and "<Code>MalformedXML</Code>" in r.text, r.text
    # A single small part is fine: the last part has no minimum.
    client.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                     MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}]})
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == small
    with pytest.raises(ClientError) as e:
        client.upload_part(Bucket=bucket, Key="k", UploadId="nope", PartNumber=1, Body=b"x")
    assert code(e) == "NoSuchUpload"


def test_abort_removes_the_upload_and_its_part_files(server, client):
    bucket = new_bucket(client)
    objects_dir = server.data_dir / "s3" / "objects"

    def files():
        return sorted(p.name for p in objects_dir.rglob("*") if p.is_file()) if objects_dir.exists() else []

    before = files()
    uid = client.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    client.upload_part(Bucket=bucket, Key="gone", UploadId=uid, PartNumber=1, Body=b"secret part bytes")
    assert len(files()) == len(before) + 1
    client.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=uid)
    assert files() == before
    with pytest.raises(ClientError) as e:
        client.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=uid)
    assert code(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        client.list_parts(Bucket=bucket, Key="gone", UploadId=uid)
    assert code(e) == "NoSuchUpload"


def test_list_multipart_uploads_pages_by_key_and_upload_id(client):
    bucket = new_bucket(client)
    ids = {}
    for key in ["a/1", "a/2", "b", "b", "c"]:
        ids.setdefault(key, []).append(client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"])
    seen = []
    kw = {}
    while True:
        page = client.list_multipart_uploads(Bucket=bucket, MaxUploads=2, **kw)
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        kw = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    want = [(k, i) for k in ["a/1", "a/2", "b", "c"] for i in ids[k]]
    assert seen == want
    grouped = client.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/"]
    assert [u["Key"] for u in grouped["Uploads"]] == ["b", "b", "c"]
    assert [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket, Prefix="a/")["Uploads"]] == ["a/1", "a/2"]


def test_upload_part_copy_copies_ranges(client):
    bucket = new_bucket(client)
    src = os.urandom(6 * MIB + 100)
    client.put_object(Bucket=bucket, Key="src", Body=src)
    uid = client.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    c1 = client.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1,
                                 CopySource={"Bucket": bucket, "Key": "src"},
                                 CopySourceRange=f"bytes=0-{5 * MIB - 1}")
    c2 = client.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=2,
                                 CopySource=f"{bucket}/src", CopySourceRange="bytes=10-19")
    assert c2["CopyPartResult"]["ETag"] == '"%s"' % hashlib.md5(src[10:20]).hexdigest()
    with pytest.raises(ClientError) as e:
        client.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=3,
                                CopySource=f"{bucket}/src", CopySourceRange=f"bytes=0-{len(src)}")
    assert code(e) == "InvalidRange"
    client.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": c1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": c2["CopyPartResult"]["ETag"]}]})
    assert client.get_object(Bucket=bucket, Key="dst")["Body"].read() == src[:5 * MIB] + src[10:20]


def test_full_object_crc32_multipart_checksum_is_the_crc_of_the_whole_object(client):
    bucket = new_bucket(client)
    up = client.create_multipart_upload(Bucket=bucket, Key="full", ChecksumAlgorithm="CRC32",
                                        ChecksumType="FULL_OBJECT")
    assert up["ChecksumType"] == "FULL_OBJECT"
    uid = up["UploadId"]
    p1, p2 = os.urandom(5 * MIB), os.urandom(77)
    r1 = client.upload_part(Bucket=bucket, Key="full", UploadId=uid, PartNumber=1, Body=p1, ChecksumAlgorithm="CRC32")
    r2 = client.upload_part(Bucket=bucket, Key="full", UploadId=uid, PartNumber=2, Body=p2, ChecksumAlgorithm="CRC32")
    whole = base64.b64encode(zlib.crc32(p1 + p2).to_bytes(4, "big")).decode()
    with pytest.raises(ClientError) as e:
        client.complete_multipart_upload(
            Bucket=bucket, Key="full", UploadId=uid, ChecksumCRC32="AAAAAA==", ChecksumType="FULL_OBJECT",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r1["ETag"], "ChecksumCRC32": r1["ChecksumCRC32"]},
                                       {"PartNumber": 2, "ETag": r2["ETag"], "ChecksumCRC32": r2["ChecksumCRC32"]}]})
    assert code(e) == "BadDigest"
    done = client.complete_multipart_upload(
        Bucket=bucket, Key="full", UploadId=uid, ChecksumCRC32=whole, ChecksumType="FULL_OBJECT",
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r1["ETag"], "ChecksumCRC32": r1["ChecksumCRC32"]},
                                   {"PartNumber": 2, "ETag": r2["ETag"], "ChecksumCRC32": r2["ChecksumCRC32"]}]})
    assert done["ChecksumCRC32"] == whole and done["ChecksumType"] == "FULL_OBJECT"
    got = client.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == whole and got["Body"].read() == p1 + p2


# -- ranges and conditions ------------------------------------------------------------------


def test_ranges_answer_206_and_unsatisfiable_ones_416(client):
    bucket = new_bucket(client)
    data = bytes(range(256)) * 40
    client.put_object(Bucket=bucket, Key="r", Body=data)
    for rng, want in [("bytes=0-9", data[:10]), ("bytes=10000-", data[10000:]), ("bytes=-7", data[-7:])]:
        got = client.get_object(Bucket=bucket, Key="r", Range=rng)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["Body"].read() == want
    assert client.get_object(Bucket=bucket, Key="r", Range="bytes=0-9")["ContentRange"] == f"bytes 0-9/{len(data)}"
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="r", Range=f"bytes={len(data)}-")
    assert code(e) == "InvalidRange" and status(e) == 416


def test_conditional_reads_follow_aws_precedence(client):
    bucket = new_bucket(client)
    etag = client.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    assert client.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="c", IfMatch='"nope"')
    assert status(e) == 412 and code(e) == "PreconditionFailed"
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert status(e) == 304
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="c", IfModifiedSince=future)
    assert status(e) == 304
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert status(e) == 412
    # If-Match true and If-Unmodified-Since false: 200, as AWS documents.
    assert client.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=past)["ETag"] == etag
    # If-None-Match false and If-Modified-Since true: 304.
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag, IfModifiedSince=past)
    assert status(e) == 304


def test_conditional_writes_refuse_to_overwrite_or_write_over_a_changed_object(client):
    bucket = new_bucket(client)
    first = client.put_object(Bucket=bucket, Key="w", Body=b"one", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="w", Body=b"two", IfNoneMatch="*")
    assert status(e) == 412 and code(e) == "PreconditionFailed"
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="w", Body=b"two", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert status(e) == 412
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="absent", Body=b"two", IfMatch=first)
    assert code(e) == "NoSuchKey"
    client.put_object(Bucket=bucket, Key="w", Body=b"two", IfMatch=first)
    assert client.get_object(Bucket=bucket, Key="w")["Body"].read() == b"two"
    # CompleteMultipartUpload with If-None-Match: * over an existing key.
    uid = client.create_multipart_upload(Bucket=bucket, Key="w")["UploadId"]
    etag = client.upload_part(Bucket=bucket, Key="w", UploadId=uid, PartNumber=1, Body=b"three")["ETag"]
    with pytest.raises(ClientError) as e:
        client.complete_multipart_upload(Bucket=bucket, Key="w", UploadId=uid, IfNoneMatch="*",
                                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert status(e) == 412
    with pytest.raises(ClientError) as e:
        client.complete_multipart_upload(Bucket=bucket, Key="w", UploadId=uid, IfMatch=first,
                                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert status(e) == 412
    current = client.head_object(Bucket=bucket, Key="w")["ETag"]
    client.complete_multipart_upload(Bucket=bucket, Key="w", UploadId=uid, IfMatch=current,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert client.get_object(Bucket=bucket, Key="w")["Body"].read() == b"three"


# -- presigned URLs -------------------------------------------------------------------------


def test_presigned_get_and_put_urls_work_until_they_expire(server, client, tmp_path):
    bucket = new_bucket(client)
    # SigV4 query authentication (botocore presigns with SigV2 in us-east-1 unless told).
    client = s3(server, signature_version="s3v4")
    put_url = client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=60)
    r = requests.put(put_url, data=b"presigned body", timeout=10)
    assert r.status_code == 200, r.text
    get_url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=60)
    r = requests.get(get_url, timeout=10)
    assert r.status_code == 200 and r.content == b"presigned body"
    r = requests.get(get_url, headers={"Range": "bytes=0-8"}, timeout=10)
    assert r.status_code == 206 and r.content == b"presigned"
    # The aws CLI's presign.
    config = tmp_path / "config"
    config.write_text("[profile rampart]\ns3 =\n    signature_version = s3v4\n")
    cli = server.cli("s3", "presign", f"s3://{bucket}/p", "--expires-in", "60",
                     env={"AWS_CONFIG_FILE": str(config)})
    assert cli.returncode == 0, cli.stderr
    r = requests.get(cli.stdout.strip(), timeout=10)
    assert r.status_code == 200 and r.content == b"presigned body"
    # A tampered signature and an expired URL are refused.
    bad = get_url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert requests.get(bad, timeout=10).status_code == 403
    short = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=1)
    time.sleep(2.2)
    r = requests.get(short, timeout=10)
    assert r.status_code == 403 and "AccessDenied" in r.text, r.text


# -- browser POST uploads, sent with curl ---------------------------------------------------


def post_form(server, bucket, key, conditions, extra=None, expires_in=300, secret=None, file_bytes=b"form body",
              origin=None):
    """A POST policy form signed as a web page would sign it, sent by curl; answers
    (status, headers text, body text)."""
    access, real_secret = server.profile()
    now = datetime.datetime.now(datetime.timezone.utc)
    date = now.strftime("%Y%m%d")
    credential = f"{access}/{date}/{REGION}/s3/aws4_request"
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    policy = {
        "expiration": (now + datetime.timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "conditions": conditions + [
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-credential": credential}, {"x-amz-date": amz_date}],
    }
    policy_b64 = base64.b64encode(json.dumps(policy).encode()).decode()

    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    key_bytes = h(h(h(h(("AWS4" + (secret or real_secret)).encode(), date), REGION), "s3"), "aws4_request")
    signature = hmac.new(key_bytes, policy_b64.encode(), hashlib.sha256).hexdigest()
    fields = [("key", key), *(extra or []), ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
              ("x-amz-credential", credential), ("x-amz-date", amz_date), ("policy", policy_b64),
              ("x-amz-signature", signature)]
    path = f"/tmp/{unique('form')}.txt"
    with open(path, "wb") as f:
        f.write(file_bytes)
    cmd = ["curl", "-s", "-D", "-", "-o", "-"] + (["-H", f"Origin: {origin}"] if origin else [])
    for k, v in fields:
        cmd += ["--form-string", f"{k}={v}"]
    cmd += ["-F", f"file=@{path};type=text/plain", f"{server.endpoint}/{bucket}"]
    out = subprocess.run(cmd, capture_output=True, timeout=60).stdout.decode(errors="replace")
    os.unlink(path)
    head, _, body = out.replace("HTTP/1.1 100 Continue\r\n\r\n", "").partition("\r\n\r\n")
    return int(head.split()[1]), head, body


def test_browser_post_policy_uploads_with_curl(server, client):
    bucket = new_bucket(client)
    base = [{"bucket": bucket}, ["starts-with", "$key", "uploads/"], ["content-length-range", 1, 1000]]
    status_code, _, body = post_form(server, bucket, "uploads/${filename}", base)
    assert status_code == 204, body
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("uploads/form")
    assert client.get_object(Bucket=bucket, Key=keys[0])["Body"].read() == b"form body"
    # 201 answers a PostResponse document; metadata and content type come from the fields.
    status_code, _, body = post_form(
        server, bucket, "uploads/meta.txt",
        base + [["eq", "$success_action_status", "201"], ["starts-with", "$Content-Type", "text/"],
                {"x-amz-meta-owner": "form"}],
        extra=[("success_action_status", "201"), ("Content-Type", "text/csv"), ("x-amz-meta-owner", "form")])
    assert status_code == 201 and "<Key>uploads/meta.txt</Key>" in body, body
    head = client.head_object(Bucket=bucket, Key="uploads/meta.txt")
    assert head["ContentType"] == "text/csv" and head["Metadata"] == {"owner": "form"}
    # A redirect names the object.
    status_code, headers, _ = post_form(
        server, bucket, "uploads/r.txt", base + [["starts-with", "$success_action_redirect", "https://example.com/"]],
        extra=[("success_action_redirect", "https://example.com/done")])
    assert status_code == 303 and "https://example.com/done?bucket=" in headers, headers
    # Refusals: a key outside the policy, an extra field, a file too large, an expired policy,
    # a wrong signature.
    status_code, _, body = post_form(server, bucket, "elsewhere/x", base)
    assert status_code == 403 and "Policy Condition failed" in body, body
    status_code, _, body = post_form(server, bucket, "uploads/x", base, extra=[("acl", "public-read")])
    assert status_code == 403 and "Extra input fields: acl" in body, body
    status_code, _, body = post_form(server, bucket, "uploads/big", base, file_bytes=b"x" * 1001)
    assert status_code == 400 and "EntityTooLarge" in body, body
    status_code, _, body = post_form(server, bucket, "uploads/late", base, expires_in=-5)
    assert status_code == 403 and "Policy expired" in body, body
    status_code, _, body = post_form(server, bucket, "uploads/forged", base, secret="not-the-secret")
    assert status_code == 403 and "SignatureDoesNotMatch" in body, body
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert not keys & {"elsewhere/x", "uploads/x", "uploads/big", "uploads/late", "uploads/forged"}
