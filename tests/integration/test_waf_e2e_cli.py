"""Issue 6, end to end with the aws CLI only: a target group for a local upstream, an ALB with an
HTTPS listener using an ACM certificate issued by Rampart's private CA, a web ACL with a SQLi rule,
an IP set block, a geo rule and a rate-based rule, associated with the ALB; `curl` then shows the
benign request forwarded, each attack blocked (403 or the custom response), the rate limit kicking
in and expiring, and the WAF log records and sampled requests describing each decision.

Nothing here uses boto3: every control-plane call is `aws ...` and every request is `curl`."""
import glob
import json
import os
import subprocess
import time

import pytest

from conftest import _make_server, unique
from test_elbv2 import Upstream

ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1"
DOMAIN = "shop.example.test"
# Documentation ranges (RFC 5737): one is in the blocked IP set, one is "in France" per the
# country database this test builds, one is an ordinary client.
BLOCKED_NET = "198.51.100.0/24"
FRENCH_NET = "203.0.113.0/24"


def aws(server, *args, tmp=None):
    """Run the aws CLI; return parsed JSON (or None for empty output); fail with its stderr."""
    r = server.cli(*args)
    assert r.returncode == 0, f"aws {' '.join(args)} failed: {r.stderr}"
    return json.loads(r.stdout) if r.stdout.strip() else None


def write(tmp, name, content):
    p = tmp / name
    if isinstance(content, (bytes, bytearray)):
        p.write_bytes(content)
    else:
        p.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(p)


@pytest.fixture(scope="module")
def scenario(rampart_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("waf-e2e")
    # The country database: the operator builds it with `rampart geoip build` from a CSV.
    csv = write(tmp, "countries.csv", f"{FRENCH_NET},FR\n192.0.2.0/24,US\n")
    mmdb = str(tmp / "countries.mmdb")
    built = subprocess.run([rampart_bin, "geoip", "build", "--country-csv", csv, "--out", mmdb],
                           capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    server = _make_server(rampart_bin, tmp_path_factory, "waf-e2e", dev=True,
                          extra_env={"RAMPART_GEOIP_COUNTRY_DB": mmdb})
    upstream = Upstream()
    try:
        yield build(server, upstream, tmp)
    finally:
        upstream.close()
        server.stop()


def build(server, upstream, tmp):
    s = {"server": server, "upstream": upstream, "tmp": tmp}
    # Private CA: root CA, self-issued certificate, installed.
    ca = aws(server, "acm-pca", "create-certificate-authority", "--certificate-authority-type", "ROOT",
             "--certificate-authority-configuration", "file://" + write(tmp, "ca.json", {
                 "KeyAlgorithm": "RSA_2048", "SigningAlgorithm": "SHA256WITHRSA",
                 "Subject": {"CommonName": "E2E Root", "Organization": "Rampart tests"}}),
             "--idempotency-token", "e2e")["CertificateAuthorityArn"]
    csr = aws(server, "acm-pca", "get-certificate-authority-csr",
              "--certificate-authority-arn", ca)["Csr"]
    issued = aws(server, "acm-pca", "issue-certificate", "--certificate-authority-arn", ca,
                 "--csr", "fileb://" + write(tmp, "ca.csr", csr.encode()),
                 "--signing-algorithm", "SHA256WITHRSA", "--template-arn", ROOT_TEMPLATE,
                 "--validity", "Value=5,Type=YEARS")["CertificateArn"]
    ca_pem = aws(server, "acm-pca", "get-certificate", "--certificate-authority-arn", ca,
                 "--certificate-arn", issued)["Certificate"]
    aws(server, "acm-pca", "import-certificate-authority-certificate", "--certificate-authority-arn", ca,
        "--certificate", "fileb://" + write(tmp, "ca.pem", ca_pem.encode()))
    s["ca_pem"] = str(tmp / "ca.pem")

    # ACM certificate for the site, from that CA.
    cert = aws(server, "acm", "request-certificate", "--domain-name", DOMAIN,
               "--certificate-authority-arn", ca)["CertificateArn"]
    s["cert"] = cert

    # Target group, load balancer, HTTPS listener.
    tg = aws(server, "elbv2", "create-target-group", "--name", unique("e2e-tg"), "--protocol", "HTTP",
             "--port", str(upstream.port), "--vpc-id", "vpc-1", "--target-type", "ip",
             "--health-check-path", "/health")["TargetGroups"][0]["TargetGroupArn"]
    aws(server, "elbv2", "register-targets", "--target-group-arn", tg,
        "--targets", f"Id=127.0.0.1,Port={upstream.port}")
    lb = aws(server, "elbv2", "create-load-balancer", "--name", unique("e2e-alb"), "--type", "application",
             "--subnets", "subnet-0123abcd", "subnet-4567cdef")["LoadBalancers"][0]
    s["lb"] = lb["LoadBalancerArn"]
    s["port"] = lb["DNSName"].split(":")[1]
    aws(server, "elbv2", "create-listener", "--load-balancer-arn", s["lb"], "--protocol", "HTTPS",
        "--port", "443", "--certificates", f"CertificateArn={cert}",
        "--default-actions", f"Type=forward,TargetGroupArn={tg}")

    # IP set and web ACL.
    ipset = aws(server, "wafv2", "create-ip-set", "--name", "e2e-blocked", "--scope", "REGIONAL",
                "--ip-address-version", "IPV4", "--addresses", BLOCKED_NET)["Summary"]["ARN"]
    fwd = {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "NO_MATCH"}

    def vis(name):
        return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": name}

    rules = [
        {"Name": "block-ip-set", "Priority": 0, "Action": {"Block": {}}, "VisibilityConfig": vis("ipset"),
         "Statement": {"IPSetReferenceStatement": {
             "ARN": ipset, "IPSetForwardedIPConfig": dict(fwd, Position="FIRST")}}},
        {"Name": "geo-fr", "Priority": 1, "VisibilityConfig": vis("geo"),
         "Action": {"Block": {"CustomResponse": {
             "ResponseCode": 451, "CustomResponseBodyKey": "geo",
             "ResponseHeaders": [{"Name": "reason", "Value": "geo"}]}}},
         "Statement": {"GeoMatchStatement": {"CountryCodes": ["FR"], "ForwardedIPConfig": fwd}}},
        {"Name": "sqli", "Priority": 2, "Action": {"Block": {}}, "VisibilityConfig": vis("sqli"),
         "Statement": {"OrStatement": {"Statements": [
             {"SqliMatchStatement": {"FieldToMatch": {"QueryString": {}},
                                     "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}]}},
             {"SqliMatchStatement": {"FieldToMatch": {"Body": {"OversizeHandling": "MATCH"}},
                                     "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}]}}]}}},
        {"Name": "rate-limit", "Priority": 3, "VisibilityConfig": vis("rate"),
         "Action": {"Block": {"CustomResponse": {"ResponseCode": 429, "CustomResponseBodyKey": "slow"}}},
         "Statement": {"RateBasedStatement": {
             "Limit": 10, "EvaluationWindowSec": 60, "AggregateKeyType": "FORWARDED_IP",
             "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"}}}},
    ]
    bodies = {"geo": {"ContentType": "TEXT_PLAIN", "Content": "not available in your country"},
              "slow": {"ContentType": "APPLICATION_JSON", "Content": "{\"error\":\"too many requests\"}"}}
    acl = aws(server, "wafv2", "create-web-acl", "--name", "e2e-acl", "--scope", "REGIONAL",
              "--default-action", "Allow={}",
              "--visibility-config", "SampledRequestsEnabled=true,CloudWatchMetricsEnabled=true,MetricName=e2e-acl",
              "--rules", "file://" + write(tmp, "rules.json", rules),
              "--custom-response-bodies", "file://" + write(tmp, "bodies.json", bodies))["Summary"]
    s["acl"] = acl
    log_group = f"arn:aws:logs:us-east-1:{server_account(server)}:log-group:aws-waf-logs-e2e"
    aws(server, "wafv2", "put-logging-configuration", "--logging-configuration", "file://" + write(
        tmp, "logging.json", {"ResourceArn": acl["ARN"], "LogDestinationConfigs": [log_group],
                              "RedactedFields": [{"SingleHeader": {"Name": "authorization"}}]}))
    aws(server, "wafv2", "associate-web-acl", "--web-acl-arn", acl["ARN"], "--resource-arn", s["lb"])
    got = aws(server, "wafv2", "get-web-acl-for-resource", "--resource-arn", s["lb"])
    assert got["WebACL"]["ARN"] == acl["ARN"]
    return s


def server_account(server):
    return aws(server, "sts", "get-caller-identity")["Account"]


def curl(s, path, *extra, xff=None, data=None):
    """curl over HTTPS to the ALB, verifying its certificate against the private CA; returns
    (status, body, headers)."""
    out = s["tmp"] / "curl-body"
    hdr = s["tmp"] / "curl-headers"
    cmd = ["curl", "-sS", "--cacert", s["ca_pem"], "--resolve", f"{DOMAIN}:{s['port']}:127.0.0.1",
           "-o", str(out), "-D", str(hdr), "-w", "%{http_code}", f"https://{DOMAIN}:{s['port']}{path}"]
    if xff:
        cmd += ["-H", f"X-Forwarded-For: {xff}"]
    if data is not None:
        cmd += ["--data-binary", data, "-H", "Content-Type: application/x-www-form-urlencoded"]
    cmd += list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    headers = {}
    for line in hdr.read_text().splitlines()[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return int(r.stdout), out.read_text(), headers


def test_benign_request_is_forwarded_over_https(scenario):
    status, body, _ = curl(scenario, "/products?q=blue+shirts", "-H", "Authorization: Bearer s3cr3t-token",
                           xff="192.0.2.10")
    assert status == 200
    assert body == "upstream ok /products?q=blue+shirts"


def test_sqli_in_query_and_body_is_blocked_and_never_forwarded(scenario):
    before = len(scenario["upstream"].seen)
    status, body, _ = curl(scenario, "/products?id=1%27%20OR%20%271%27%3D%271", xff="192.0.2.11")
    assert status == 403
    status, _, _ = curl(scenario, "/login", xff="192.0.2.11",
                        data="user=admin&pass=x%27%20UNION%20SELECT%20password%20FROM%20users--")
    assert status == 403
    assert len(scenario["upstream"].seen) == before


def test_ip_set_blocks_the_forwarded_client(scenario):
    status, _, _ = curl(scenario, "/products", xff="198.51.100.23")
    assert status == 403


def test_geo_rule_answers_the_custom_response(scenario):
    status, body, headers = curl(scenario, "/products", xff="203.0.113.5")
    assert status == 451
    assert body == "not available in your country"
    assert headers.get("reason") == "geo"  # custom response headers are sent as named
    assert curl(scenario, "/products", xff="192.0.2.12")[0] == 200


def test_rate_limit_kicks_in_and_expires(scenario):
    server = scenario["server"]
    statuses = [curl(scenario, f"/r{i}", xff="192.0.2.99")[0] for i in range(14)]
    assert statuses[:10] == [200] * 10, statuses
    assert statuses[-1] == 429, statuses
    status, body, _ = curl(scenario, "/after", xff="192.0.2.99")
    assert status == 429 and json.loads(body) == {"error": "too many requests"}
    # Other clients are not limited.
    assert curl(scenario, "/other", xff="192.0.2.100")[0] == 200
    # The managed keys name the limited client.
    keys = aws(server, "wafv2", "get-rate-based-statement-managed-keys", "--scope", "REGIONAL",
               "--web-acl-name", "e2e-acl", "--web-acl-id", scenario["acl"]["Id"], "--rule-name", "rate-limit")
    assert "192.0.2.99/32" in keys["ManagedKeysIPV4"]["Addresses"]
    # Past the evaluation window the client is let through again.
    server.advance_clock(120)
    assert curl(scenario, "/later", xff="192.0.2.99")[0] == 200
    keys = aws(server, "wafv2", "get-rate-based-statement-managed-keys", "--scope", "REGIONAL",
               "--web-acl-name", "e2e-acl", "--web-acl-id", scenario["acl"]["Id"], "--rule-name", "rate-limit")
    assert "192.0.2.99/32" not in keys["ManagedKeysIPV4"]["Addresses"]


def log_records(scenario, want, timeout=10):
    """WAF log records written for the web ACL (newline-delimited JSON under the data dir)."""
    root = scenario["server"].data_dir / "waf-logs"
    deadline = time.time() + timeout
    while True:
        records = []
        for path in glob.glob(str(root / "**" / "*"), recursive=True):
            if os.path.isfile(path) and "aws-waf-logs-e2e" in path:
                with open(path, encoding="utf-8") as f:
                    records += [json.loads(line) for line in f if line.strip()]
        if len(records) >= want or time.time() > deadline:
            return records
        time.sleep(0.2)


def test_log_records_describe_each_decision(scenario):
    # Runs after the traffic tests above (pytest keeps file order).
    records = log_records(scenario, want=20)
    by_uri = {}
    for r in records:
        by_uri.setdefault(r["httpRequest"]["uri"], []).append(r)
    benign = by_uri["/products"]
    allowed = [r for r in benign if r["action"] == "ALLOW"]
    assert allowed and allowed[0]["terminatingRuleId"] == "Default_Action"
    assert allowed[0]["httpSourceName"] == "ALB"
    assert allowed[0]["webaclId"] == scenario["acl"]["ARN"]
    auth = [h for r in allowed for h in r["httpRequest"]["headers"] if h["name"].lower() == "authorization"]
    assert auth and all(h["value"] == "REDACTED" for h in auth)
    blocked = {r["terminatingRuleId"] for r in records if r["action"] == "BLOCK"}
    assert {"block-ip-set", "geo-fr", "sqli", "rate-limit"} <= blocked
    geo = next(r for r in records if r["terminatingRuleId"] == "geo-fr")
    assert geo["httpRequest"]["country"] == "FR" or geo["responseCodeSent"] == 451
    assert any(r["terminatingRuleId"] == "rate-limit" and r.get("rateBasedRuleList") for r in records)
    # No secret reaches the log.
    assert not any("s3cr3t-token" in json.dumps(r) for r in records)


def test_sampled_requests_describe_each_decision(scenario):
    server = scenario["server"]
    now = int(time.time())
    # The dev clock was advanced by the rate test; sample over a window around both clocks.
    window = f"StartTime={now - 3600},EndTime={now + 3600}"
    seen = {}
    for metric in ["ipset", "geo", "sqli", "rate", "e2e-acl"]:
        got = aws(server, "wafv2", "get-sampled-requests", "--web-acl-arn", scenario["acl"]["ARN"],
                  "--rule-metric-name", metric, "--scope", "REGIONAL", "--time-window", window,
                  "--max-items", "100")
        seen[metric] = got
    assert all(x["Action"] == "BLOCK" for x in seen["sqli"]["SampledRequests"])
    assert seen["sqli"]["PopulationSize"] >= 2
    assert {x["Request"]["URI"] for x in seen["sqli"]["SampledRequests"]} >= {"/products", "/login"}
    assert seen["ipset"]["SampledRequests"] and seen["geo"]["SampledRequests"]
    assert seen["rate"]["SampledRequests"][0]["Action"] == "BLOCK"
    allowed = seen["e2e-acl"]["SampledRequests"]
    assert allowed and all(x["Action"] == "ALLOW" for x in allowed)
