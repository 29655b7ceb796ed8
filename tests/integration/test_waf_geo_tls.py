"""GeoMatch / AsnMatch from MaxMind-format databases built with `rampart geoip build`, and JA3
fingerprints of TLS clients, enforced by a web ACL on a load balancer.

The JA3 value the rule matches is computed here, by a small parser of the ClientHello that
Python's ssl module sends (captured on a plain TCP socket), independently of Rampart's code."""
import hashlib
import socket
import ssl
import struct
import subprocess
import threading
import time

import maxminddb
import pytest
import requests

from conftest import unique
from test_elbv2 import ROOT_TEMPLATE, Upstream

COUNTRY_CSV = """network,iso_code
# documentation ranges standing for real countries
203.0.113.0/24,FR
198.51.100.0/25,DE
2001:db8:f::/48,FR
"""
ASN_CSV = """network,asn,org
192.0.2.0/24,AS64496,Example Transit "One"
2001:db8:a::/48,64497,Example Two
"""
XFF = "X-Forwarded-For"


def build_db(rampart_bin, tmp_path, kind, text, name):
    src = tmp_path / f"{name}.csv"
    src.write_text(text)
    out = tmp_path / f"{name}.mmdb"
    run = subprocess.run([rampart_bin, "geoip", "build", f"--{kind}-csv", str(src), "--out", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return out


@pytest.fixture(scope="module")
def dbs(rampart_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("geoip")
    return {"dir": d,
            "country": build_db(rampart_bin, d, "country", COUNTRY_CSV, "country"),
            "asn": build_db(rampart_bin, d, "asn", ASN_CSV, "asn")}


@pytest.fixture(scope="module")
def geo_server(server_factory, dbs):
    return server_factory("geo", extra_env={"RAMPART_GEOIP_COUNTRY_DB": str(dbs["country"]),
                                            "RAMPART_GEOIP_ASN_DB": str(dbs["asn"]),
                                            "RAMPART_ELB_PORTS": "22600-22699"})


@pytest.fixture(scope="module")
def upstream():
    u = Upstream()
    yield u
    u.close()


@pytest.fixture(scope="module")
def ca_pem(geo_server, tmp_path_factory):
    pca = geo_server.client("acm-pca")
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": "RSA_2048", "SigningAlgorithm": "SHA256WITHRSA",
                                           "Subject": {"CommonName": "Geo Test Root"}},
        CertificateAuthorityType="ROOT")["CertificateAuthorityArn"]
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    cert_arn = pca.issue_certificate(CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm="SHA256WITHRSA",
                                     TemplateArn=ROOT_TEMPLATE, Validity={"Type": "YEARS", "Value": 5},
                                     )["CertificateArn"]
    pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)["Certificate"]
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=pem)
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_text(pem)
    return {"arn": arn, "path": str(path)}


@pytest.fixture(scope="module")
def alb(geo_server, upstream, ca_pem):
    """An ALB with an HTTP and an HTTPS listener (ACM private certificate) on its one port."""
    elbv2 = geo_server.client("elbv2")
    acm = geo_server.client("acm")
    cert = acm.request_certificate(DomainName="app.example.test",
                                   CertificateAuthorityArn=ca_pem["arn"])["CertificateArn"]
    tg = elbv2.create_target_group(Name=unique("geo-tg"), Protocol="HTTP", Port=upstream.port,
                                   VpcId="vpc-1", TargetType="ip")["TargetGroups"][0]
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"],
                           Targets=[{"Id": "127.0.0.1", "Port": upstream.port}])
    lb = elbv2.create_load_balancer(Name=unique("geo-alb"), Subnets=["subnet-a"])["LoadBalancers"][0]
    forward = [{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                          DefaultActions=forward)
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443,
                          Certificates=[{"CertificateArn": cert}], DefaultActions=forward)
    return {"lb": lb, "url": f"http://{lb['DNSName']}", "port": int(lb["DNSName"].split(":")[1])}


def vis(name):
    return {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": name}


def associate(geo_server, alb, rules, default=None):
    waf = geo_server.client("wafv2")
    acl = waf.create_web_acl(Name=unique("acl"), Scope="REGIONAL", DefaultAction=default or {"Allow": {}},
                             VisibilityConfig=vis("acl"), Rules=rules)["Summary"]
    waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=alb["lb"]["LoadBalancerArn"])
    return acl


def disassociate(geo_server, alb):
    geo_server.client("wafv2").disassociate_web_acl(ResourceArn=alb["lb"]["LoadBalancerArn"])


def test_databases_built_by_rampart_read_with_the_maxminddb_package(dbs):
    with maxminddb.open_database(str(dbs["country"])) as r:
        assert r.metadata().database_type == "GeoLite2-Country"
        assert r.metadata().ip_version == 6
        assert r.get("203.0.113.7") == {"country": {"iso_code": "FR"}}
        assert r.get("198.51.100.1") == {"country": {"iso_code": "DE"}}
        assert r.get("198.51.100.200") is None
        assert r.get("2001:db8:f::1") == {"country": {"iso_code": "FR"}}
        assert r.get("8.8.8.8") is None
    with maxminddb.open_database(str(dbs["asn"])) as r:
        assert r.get("192.0.2.55") == {"autonomous_system_number": 64496,
                                       "autonomous_system_organization": 'Example Transit "One"'}
        assert r.get("2001:db8:a::9") == {"autonomous_system_number": 64497,
                                          "autonomous_system_organization": "Example Two"}
        assert r.get("192.0.3.1") is None


def test_geoip_build_rejects_bad_csv(rampart_bin, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("203.0.113.0/24,FR\n203.0.113.0/33,DE\n")
    run = subprocess.run([rampart_bin, "geoip", "build", "--country-csv", str(bad), "--out",
                          str(tmp_path / "x.mmdb")], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "line 2: bad network" in run.stderr
    assert not (tmp_path / "x.mmdb").exists()


def test_unreadable_database_is_a_clear_startup_error(rampart_bin, tmp_path):
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"this is not a MaxMind database")
    for path, expect in ((tmp_path / "missing.mmdb", "cannot read the GeoIP database"),
                         (junk, "is not a usable MaxMind DB country database")):
        run = subprocess.run(
            [rampart_bin, "serve", "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0",
             "--geoip-country-db", str(path)],
            capture_output=True, text=True, timeout=120)
        assert run.returncode != 0
        assert expect in run.stderr and str(path) in run.stderr, run.stderr


def test_geo_and_asn_rules_on_forwarded_ips(geo_server, alb, upstream):
    rules = [
        {"Name": "geo-fr", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis("fr"),
         "Statement": {"GeoMatchStatement": {"CountryCodes": ["FR"], "ForwardedIPConfig": {
             "HeaderName": XFF, "FallbackBehavior": "NO_MATCH"}}}},
        {"Name": "geo-label", "Priority": 2, "Action": {"Count": {}}, "VisibilityConfig": vis("jp"),
         "Statement": {"GeoMatchStatement": {"CountryCodes": ["JP"], "ForwardedIPConfig": {
             "HeaderName": XFF, "FallbackBehavior": "NO_MATCH"}}}},
        {"Name": "de-by-label", "Priority": 3, "VisibilityConfig": vis("de"),
         "Action": {"Block": {"CustomResponse": {"ResponseCode": 451}}},
         "Statement": {"LabelMatchStatement": {"Scope": "LABEL",
                                               "Key": "awswaf:forwardedip:geo:country:DE"}}},
        {"Name": "asn", "Priority": 4, "Action": {"Block": {"CustomResponse": {"ResponseCode": 429}}},
         "VisibilityConfig": vis("asn"),
         "Statement": {"AsnMatchStatement": {"AsnList": [64496, 64497], "ForwardedIPConfig": {
             "HeaderName": XFF, "FallbackBehavior": "MATCH"}}}},
    ]
    associate(geo_server, alb, rules)
    try:
        def get(path, xff):
            headers = {XFF: xff} if xff is not None else {}
            return requests.get(alb["url"] + path, headers=headers, timeout=10).status_code

        assert get("/fr", "203.0.113.7") == 403
        assert get("/fr6", "2001:db8:f::7, 10.0.0.1") == 403
        assert get("/de", "198.51.100.9") == 451
        assert get("/as1", "192.0.2.1") == 429
        assert get("/as2", "2001:db8:a::1") == 429
        assert get("/other", "198.51.100.200") == 200
        assert get("/other2", "8.8.4.4") == 200
        # ASN rule: an unusable header falls back to MATCH; the geo rules' NO_MATCH does not fire.
        assert get("/junk", "not-an-ip") == 429
        assert "/other" in upstream.paths() and "/other2" in upstream.paths()
        assert not {"/fr", "/fr6", "/de", "/as1", "/as2", "/junk"} & set(upstream.paths())
    finally:
        disassociate(geo_server, alb)


def test_geo_rule_without_forwarded_config_uses_the_peer_and_unknown_country_never_matches(
        geo_server, alb):
    # The peer is 127.0.0.1, in no database: GeoMatch does not match, whatever the header says.
    associate(geo_server, alb, [
        {"Name": "geo", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis("geo"),
         "Statement": {"GeoMatchStatement": {"CountryCodes": ["FR", "DE", "US"]}}}])
    try:
        r = requests.get(alb["url"] + "/peer", headers={XFF: "203.0.113.7"}, timeout=10)
        assert r.status_code == 200
    finally:
        disassociate(geo_server, alb)


def test_asn_0_matches_addresses_whose_asn_is_unknown(geo_server, alb):
    # AWS assigns ASN 0 to a valid address it cannot map to an ASN.
    associate(geo_server, alb, [
        {"Name": "asn0", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis("asn0"),
         "Statement": {"AsnMatchStatement": {"AsnList": [0], "ForwardedIPConfig": {
             "HeaderName": XFF, "FallbackBehavior": "NO_MATCH"}}}}])
    try:
        get = lambda xff: requests.get(alb["url"] + "/asn0", headers={XFF: xff}, timeout=10).status_code
        assert get("8.8.4.4") == 403
        assert get("192.0.2.1") == 200
    finally:
        disassociate(geo_server, alb)


def test_rate_limit_per_asn_of_the_forwarded_address(geo_server, alb):
    associate(geo_server, alb, [
        {"Name": "per-asn", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis("rate"),
         "Statement": {"RateBasedStatement": {
             "Limit": 10, "EvaluationWindowSec": 60, "AggregateKeyType": "CUSTOM_KEYS",
             "CustomKeys": [{"ASN": {}}],
             "ForwardedIPConfig": {"HeaderName": XFF, "FallbackBehavior": "NO_MATCH"}}}}])
    try:
        get = lambda xff: requests.get(alb["url"] + "/rate", headers={XFF: xff}, timeout=10).status_code
        # Different addresses of AS64496 share one counter.
        codes = [get(f"192.0.2.{i}") for i in range(1, 16)]
        assert codes[:10] == [200] * 10 and 403 in codes[10:], codes
        assert get("2001:db8:a::1") == 200  # AS64497 has its own counter
        assert get("8.8.4.4") == 200  # ASN 0 too
    finally:
        disassociate(geo_server, alb)


def test_updated_database_is_picked_up_without_restart(rampart_bin, geo_server, alb, dbs):
    associate(geo_server, alb, [
        {"Name": "geo-es", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis("es"),
         "Statement": {"GeoMatchStatement": {"CountryCodes": ["ES"], "ForwardedIPConfig": {
             "HeaderName": XFF, "FallbackBehavior": "NO_MATCH"}}}}])
    try:
        def status():
            return requests.get(alb["url"] + "/es", headers={XFF: "203.0.113.50"}, timeout=10).status_code

        assert status() == 200
        build_db(rampart_bin, dbs["dir"], "country", COUNTRY_CSV.replace(",FR", ",ES"), "country")
        deadline = time.time() + 20
        while status() != 403:
            assert time.time() < deadline, "the rebuilt database was not picked up"
            time.sleep(0.5)
    finally:
        build_db(rampart_bin, dbs["dir"], "country", COUNTRY_CSV, "country")
        disassociate(geo_server, alb)


# --- JA3 -----------------------------------------------------------------------------------

def is_grease(v):
    return v & 0x0F0F == 0x0A0A and v >> 8 == v & 0xFF


def ja3_of_client_hello(msg):
    """JA3 text of a ClientHello handshake message (type, length, body)."""
    assert msg[0] == 1
    body = msg[4:4 + int.from_bytes(msg[1:4], "big")]
    version = int.from_bytes(body[0:2], "big")
    i = 2 + 32
    i += 1 + body[i]
    n = int.from_bytes(body[i:i + 2], "big")
    ciphers = [int.from_bytes(body[j:j + 2], "big") for j in range(i + 2, i + 2 + n, 2)]
    i += 2 + n
    i += 1 + body[i]
    exts, curves, formats = [], [], []
    end = i + 2 + int.from_bytes(body[i:i + 2], "big")
    i += 2
    while i < end:
        kind, length = struct.unpack(">HH", body[i:i + 4])
        data = body[i + 4:i + 4 + length]
        exts.append(kind)
        if kind == 10:
            k = int.from_bytes(data[0:2], "big")
            curves = [int.from_bytes(data[j:j + 2], "big") for j in range(2, 2 + k, 2)]
        elif kind == 11:
            formats = list(data[1:1 + data[0]])
        i += 4 + length
    clean = lambda xs: "-".join(str(x) for x in xs if not is_grease(x))
    return f"{version},{clean(ciphers)},{clean(exts)},{clean(curves)},{'-'.join(map(str, formats))}"


def ja4_of_client_hello(msg):
    """FoxIO JA4 (TLS over TCP) of a ClientHello handshake message."""
    body = msg[4:4 + int.from_bytes(msg[1:4], "big")]
    version = int.from_bytes(body[0:2], "big")
    i = 2 + 32
    i += 1 + body[i]
    n = int.from_bytes(body[i:i + 2], "big")
    ciphers = [c for c in (int.from_bytes(body[j:j + 2], "big") for j in range(i + 2, i + 2 + n, 2))
               if not is_grease(c)]
    i += 2 + n
    i += 1 + body[i]
    end = i + 2 + int.from_bytes(body[i:i + 2], "big")
    i += 2
    exts, sigs, versions, alpn = [], [], [], b""
    while i < end:
        kind, length = struct.unpack(">HH", body[i:i + 4])
        data = body[i + 4:i + 4 + length]
        if not is_grease(kind):
            exts.append(kind)
        if kind == 13:
            sigs = [int.from_bytes(data[j:j + 2], "big") for j in range(2, 2 + int.from_bytes(data[:2], "big"), 2)]
        elif kind == 43:
            versions = [int.from_bytes(data[j:j + 2], "big") for j in range(1, 1 + data[0], 2)]
        elif kind == 16:
            alpn = data[3:3 + data[2]]
        i += 4 + length
    versions = [v for v in versions if not is_grease(v)]
    top = max(versions) if versions else version
    ver = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10"}.get(top, "00")
    first_last = alpn[:1] + alpn[-1:] if alpn else b"00"
    assert first_last.isalnum(), "this parser handles alphanumeric ALPN values only"
    alpn_part = first_last.decode()
    a = f"t{ver}{'d' if 0 in exts else 'i'}{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{alpn_part}"
    h = lambda text: hashlib.sha256(text.encode()).hexdigest()[:12]
    b = h(",".join(f"{c:04x}" for c in sorted(ciphers)))
    rest = sorted(e for e in exts if e not in (0, 0x10))
    c_text = ",".join(f"{e:04x}" for e in rest)
    if sigs:
        c_text += "_" + ",".join(f"{x:04x}" for x in sigs)
    return f"{a}_{b}_{h(c_text)}"


def capture_client_hello(make_ctx):
    """The ClientHello `make_ctx()`'s context sends, read on a plain TCP socket."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def client():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with make_ctx().wrap_socket(raw, server_hostname="app.example.test"):
                    pass
        except (OSError, ssl.SSLError):
            pass

    t = threading.Thread(target=client, daemon=True)
    t.start()
    conn, _ = listener.accept()
    conn.settimeout(5)
    buf = b""

    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = conn.recv(65536)
            assert chunk, "connection closed before the ClientHello was complete"
            buf += chunk

    msg, pos = b"", 0
    while len(msg) < 4 or len(msg) < 4 + int.from_bytes(msg[1:4], "big"):
        need(pos + 5)
        assert buf[pos] == 0x16
        length = int.from_bytes(buf[pos + 3:pos + 5], "big")
        need(pos + 5 + length)
        msg += buf[pos + 5:pos + 5 + length]
        pos += 5 + length
    conn.close()
    listener.close()
    t.join(5)
    return msg


def default_ctx(ca):
    return lambda: ssl.create_default_context(cafile=ca)


def tls12_ctx(ca):
    def make():
        ctx = ssl.create_default_context(cafile=ca)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
        return ctx
    return make


def https_get(make_ctx, port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with make_ctx().wrap_socket(raw, server_hostname="app.example.test") as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: app.example.test\r\nConnection: close\r\n\r\n".encode())
            reply = b""
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                reply += chunk
    return int(reply.split(b" ", 2)[1])


def test_ja3_byte_match_blocks_exactly_the_fingerprinted_client(geo_server, alb, ca_pem, upstream):
    ca = ca_pem["path"]
    text = ja3_of_client_hello(capture_client_hello(default_ctx(ca)))
    ja3 = hashlib.md5(text.encode()).hexdigest()
    other = hashlib.md5(ja3_of_client_hello(capture_client_hello(tls12_ctx(ca))).encode()).hexdigest()
    assert other != ja3
    # The same client configuration sends the same fingerprint every time.
    assert ja3_of_client_hello(capture_client_hello(default_ctx(ca))) == text

    port = alb["port"]
    assert https_get(default_ctx(ca), port, "/before") == 200
    associate(geo_server, alb, [
        {"Name": "ja3", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis("ja3"),
         "Statement": {"ByteMatchStatement": {
             "SearchString": ja3, "PositionalConstraint": "EXACTLY",
             "FieldToMatch": {"JA3Fingerprint": {"FallbackBehavior": "NO_MATCH"}},
             "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}}])
    try:
        assert https_get(default_ctx(ca), port, "/same-client") == 403
        assert https_get(tls12_ctx(ca), port, "/other-client") == 200
        # Plain HTTP has no fingerprint: FallbackBehavior NO_MATCH lets it through.
        assert requests.get(alb["url"] + "/plain", timeout=10).status_code == 200
        assert "/same-client" not in upstream.paths()
        assert "/other-client" in upstream.paths()
    finally:
        disassociate(geo_server, alb)


def test_ja3_and_ja4_fallback_match_applies_without_tls(geo_server, alb, ca_pem):
    for field in ("JA3Fingerprint", "JA4Fingerprint"):
        associate(geo_server, alb, [
            {"Name": "fp", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis("fp"),
             "Statement": {"ByteMatchStatement": {
                 "SearchString": "never-a-fingerprint", "PositionalConstraint": "EXACTLY",
                 "FieldToMatch": {field: {"FallbackBehavior": "MATCH"}},
                 "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}}])
        try:
            assert requests.get(alb["url"] + "/plain", timeout=10).status_code == 403, field
            # Over TLS there is a fingerprint, so the fallback does not apply and it differs.
            assert https_get(default_ctx(ca_pem["path"]), alb["port"], "/tls") == 200, field
        finally:
            disassociate(geo_server, alb)


def test_ja4_byte_match_on_the_fingerprint_computed_here(geo_server, alb, ca_pem):
    ca = ca_pem["path"]
    ja4 = ja4_of_client_hello(capture_client_hello(default_ctx(ca)))
    assert ja4.startswith("t13d") and ja4 != ja4_of_client_hello(capture_client_hello(tls12_ctx(ca)))
    associate(geo_server, alb, [
        {"Name": "ja4", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis("ja4"),
         "Statement": {"ByteMatchStatement": {
             "SearchString": ja4, "PositionalConstraint": "EXACTLY",
             "FieldToMatch": {"JA4Fingerprint": {"FallbackBehavior": "NO_MATCH"}},
             "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}}])
    try:
        assert https_get(default_ctx(ca), alb["port"], "/ja4-same") == 403
        assert https_get(tls12_ctx(ca), alb["port"], "/ja4-other") == 200
    finally:
        disassociate(geo_server, alb)


def test_ja4_rule_matches_the_tls_version_and_alpn_prefix(geo_server, alb, ca_pem):
    # JA4's first part is readable: TLS 1.3 with SNI and no ALPN from Python's default context.
    associate(geo_server, alb, [
        {"Name": "ja4", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis("ja4"),
         "Statement": {"ByteMatchStatement": {
             "SearchString": "t13d", "PositionalConstraint": "STARTS_WITH",
             "FieldToMatch": {"JA4Fingerprint": {"FallbackBehavior": "NO_MATCH"}},
             "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}}])
    try:
        assert https_get(default_ctx(ca_pem["path"]), alb["port"], "/tls13") == 403
        assert https_get(tls12_ctx(ca_pem["path"]), alb["port"], "/tls12") == 200
    finally:
        disassociate(geo_server, alb)
