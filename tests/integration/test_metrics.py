"""`/_rampart/metrics`: Prometheus text format 0.0.4, parsed with prometheus_client's own parser;
who may read it; the metrics-only listener; JSON log lines (RAMPART_LOG_FORMAT=json)."""

import json
import time

import pytest
import requests
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from conftest import _free_port, unique, wait_for

PATH = "/_rampart/metrics"


@pytest.fixture(scope="module")
def metrics_port():
    return _free_port()


@pytest.fixture(scope="module")
def fresh(server_factory, metrics_port):
    """A server of its own, so request counts are exactly the calls made here."""
    return server_factory("metrics", extra_args=["--metrics-listen", f"127.0.0.1:{metrics_port}"])


def token(server):
    return (server.data_dir / "metrics.token").read_text().strip()


def scrape(server):
    r = server.http("GET", PATH, headers={"Authorization": f"Bearer {token(server)}"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def sample(families, family, name, **labels):
    for s in families[family].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def requests_of(families, service, operation, status):
    return sample(families, "rampart_requests", "rampart_requests_total",
                  service=service, operation=operation, status=status)


def assert_histograms_are_monotone(families):
    histograms = [f for f in families.values() if f.type == "histogram"]
    assert {f.name for f in histograms} >= {
        "rampart_request_duration_seconds",
        "rampart_store_commit_duration_seconds",
        "rampart_scheduler_lag_seconds",
    }
    for f in histograms:
        series = {}
        for s in f.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(key, {"buckets": []})
            if s.name.endswith("_bucket"):
                series[key]["buckets"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                series[key]["count"] = s.value
        for key, data in series.items():
            buckets = sorted(data["buckets"])
            values = [v for _, v in buckets]
            assert values == sorted(values), f"{f.name}{key} buckets not monotone: {buckets}"
            assert buckets[-1][0] == float("inf")
            assert buckets[-1][1] == data["count"], f"{f.name}{key}: +Inf bucket != count"


def test_requests_are_counted_by_service_operation_and_status(fresh):
    sts = fresh.client("sts")
    kms = fresh.client("kms")
    for _ in range(3):
        sts.get_caller_identity()
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(2):
        kms.encrypt(KeyId=key, Plaintext=b"metrics")
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=b"\x03not a ciphertext blob at all, not even close")
    assert e.value.response["Error"]["Code"] == "InvalidCiphertextException"

    families = scrape(fresh)
    assert requests_of(families, "sts", "GetCallerIdentity", "200") == 3
    assert requests_of(families, "kms", "CreateKey", "200") == 1
    assert requests_of(families, "kms", "Encrypt", "200") == 2
    assert requests_of(families, "kms", "Decrypt", "400") == 1
    assert requests_of(families, "kms", "Decrypt", "200") is None
    assert sample(families, "rampart_request_duration_seconds",
                  "rampart_request_duration_seconds_count", service="kms") == 4
    assert sample(families, "rampart_request_duration_seconds",
                  "rampart_request_duration_seconds_count", service="sts") == 3
    assert sample(families, "rampart_store_commit_duration_seconds",
                  "rampart_store_commit_duration_seconds_count", backend="sqlite") >= 1
    for gauge in ("rampart_event_bus_backlog", "rampart_audit_queue_depth", "rampart_uptime_seconds"):
        assert families[gauge].type == "gauge"
        assert families[gauge].samples[0].value >= 0
    actions = {s.labels["action"] for s in families["rampart_waf_requests"].samples}
    assert actions == {"ALLOW", "BLOCK", "CAPTCHA", "CHALLENGE"}
    assert families["rampart_waf_log_records_dropped"].type == "counter"
    classes = {s.labels["class"] for s in families["rampart_proxy_responses"].samples}
    assert classes == {"1xx", "2xx", "3xx", "4xx", "5xx"}
    assert families["rampart_proxy_access_log_entries_dropped"].type == "counter"
    assert_histograms_are_monotone(families)


def test_scheduler_lag_is_observed(fresh):
    # The scheduler ticks every second; a job is observed from its second run on.
    def lagged():
        families = scrape(fresh)
        return sample(families, "rampart_scheduler_lag_seconds",
                      "rampart_scheduler_lag_seconds_count") >= 1

    assert wait_for(lagged, timeout=10)


def test_unauthenticated_scrape_on_the_api_port_is_refused(fresh):
    assert fresh.http("GET", PATH).status_code == 401
    bad = fresh.http("GET", PATH, headers={"Authorization": "Bearer " + "0" * 64})
    assert bad.status_code == 403
    assert "rampart_requests_total" not in bad.text


def test_admin_account_sigv4_may_scrape_and_other_accounts_may_not(fresh):
    ok = fresh.signed_request("sts", b"", method="GET", path=PATH)
    assert ok.status_code == 200, ok.text
    assert any(f.name == "rampart_requests" for f in text_string_to_metric_families(ok.text))
    other_id, other_secret = fresh.create_account("111122223333")
    denied = fresh.signed_request("sts", b"", method="GET", path=PATH,
                                  access_key=other_id, secret_key=other_secret)
    assert denied.status_code == 403
    forged = fresh.signed_request("sts", b"", method="GET", path=PATH,
                                  access_key=fresh.profile()[0], secret_key="wrong" * 8)
    assert forged.status_code == 403


def test_metrics_listener_serves_metrics_and_health_only(fresh, metrics_port):
    base = f"http://127.0.0.1:{metrics_port}"
    r = requests.get(base + PATH, timeout=10)
    assert r.status_code == 200
    families = {f.name for f in text_string_to_metric_families(r.text)}
    assert "rampart_requests" in families
    assert requests.get(base + "/_rampart/health", timeout=10).json()["status"] == "ok"
    assert requests.get(base + "/", timeout=10).status_code == 404
    assert requests.post(base + "/", data="Action=GetCallerIdentity", timeout=10).status_code == 404


def test_proxy_and_waf_counters_follow_real_traffic(fresh):
    """An ALB in front of a local upstream, with a web ACL blocking /admin."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        elbv2, wafv2 = fresh.client("elbv2"), fresh.client("wafv2")
        port = upstream.server_address[1]
        tg = elbv2.create_target_group(Name=unique("tg"), Protocol="HTTP", Port=port, VpcId="vpc-1",
                                       TargetType="ip")["TargetGroups"][0]
        elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "127.0.0.1", "Port": port}])
        lb = elbv2.create_load_balancer(Name=unique("alb"), Subnets=["subnet-0a1b2c3d", "subnet-0e1f2a3b"],
                                        Type="application")["LoadBalancers"][0]
        elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
        vis = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"}
        acl = wafv2.create_web_acl(
            Name=unique("acl"), Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=vis,
            Rules=[{"Name": "block-admin", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis,
                    "Statement": {"ByteMatchStatement": {
                        "SearchString": "/admin", "FieldToMatch": {"UriPath": {}},
                        "PositionalConstraint": "STARTS_WITH",
                        "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}}],
        )["Summary"]
        wafv2.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=lb["LoadBalancerArn"])
        url = f"http://{lb['DNSName']}"
        before = scrape(fresh)
        assert [requests.get(url + p, timeout=10).status_code for p in ("/a", "/b", "/admin")] == [200, 200, 403]
        after = scrape(fresh)

        def delta(family, name, **labels):
            return sample(after, family, name, **labels) - sample(before, family, name, **labels)

        assert delta("rampart_waf_requests", "rampart_waf_requests_total", action="ALLOW") == 2
        assert delta("rampart_waf_requests", "rampart_waf_requests_total", action="BLOCK") == 1
        assert delta("rampart_proxy_responses", "rampart_proxy_responses_total", **{"class": "2xx"}) == 2
        assert delta("rampart_proxy_responses", "rampart_proxy_responses_total", **{"class": "4xx"}) == 1
    finally:
        upstream.shutdown()


def test_json_log_lines_parse(server_factory):
    s = server_factory("jsonlogs", dev=True, extra_env={"RAMPART_LOG_FORMAT": "json", "RAMPART_LOG": "debug"})
    s.client("sts").get_caller_identity()
    time.sleep(0.2)
    s.stop()
    lines = [line for line in s.stderr_text().splitlines() if line.strip()]
    assert lines, "no log lines"
    records = [json.loads(line) for line in lines]
    for r in records:
        assert {"timestamp", "level", "fields"} <= set(r), r
    assert any(r["level"] == "WARN" and "DEV MODE" in r["fields"].get("message", "") for r in records)
    _, secret = s.profile()
    assert secret not in s.stderr_text()
