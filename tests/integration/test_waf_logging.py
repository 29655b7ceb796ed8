"""WAF observability fed by real traffic through the ALB: GetSampledRequests,
GetRateBasedStatementManagedKeys from the live rate counters, and AWS WAF log records written to
the logging configuration's destination (log group file, S3 key layout, Firehose as events)."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, REGION, error_code, unique

SCOPE = "REGIONAL"


class Upstream:
    """A local target answering 200 to everything."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                out = b"upstream ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


class Hook:
    """A webhook target recording the EventBridge events Rampart delivers."""

    def __init__(self):
        events = self.events = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                events.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/events"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def hook():
    h = Hook()
    yield h
    h.httpd.shutdown()


@pytest.fixture(scope="module")
def srv(server_factory, hook):
    return server_factory("waflog", dev=True, extra_env={"RAMPART_EVENT_WEBHOOKS": hook.url})


@pytest.fixture(scope="module")
def wafv2(srv):
    return srv.client("wafv2")


def vis(name, sampled=True):
    return {"SampledRequestsEnabled": sampled, "CloudWatchMetricsEnabled": False, "MetricName": name}


def starts_with(path):
    return {"ByteMatchStatement": {
        "SearchString": path, "FieldToMatch": {"UriPath": {}}, "PositionalConstraint": "STARTS_WITH",
        "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}


@pytest.fixture(scope="module")
def setup(srv, wafv2):
    """An ALB in front of a local upstream, with a web ACL: a blocking rule, a counting rule that
    labels, a rate-based rule (limit 10 per 60 s), a rate-based rule inside a rule group, a
    CONSTANT rate-based rule, and a counting rule whose sampling is off."""
    elbv2 = srv.client("elbv2")
    up = Upstream()
    tg = elbv2.create_target_group(Name=unique("tg"), Protocol="HTTP", Port=up.port, VpcId="vpc-1",
                                   TargetType="ip")["TargetGroups"][0]
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "127.0.0.1", "Port": up.port}])
    lb = elbv2.create_load_balancer(Name=unique("alb"), Subnets=["subnet-0a1b2c3d", "subnet-0e1f2a3b"],
                                    Type="application")["LoadBalancers"][0]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    group = wafv2.create_rule_group(
        Name=unique("grp"), Scope=SCOPE, Capacity=100, VisibilityConfig=vis("grp"),
        Rules=[{"Name": "grp-rate", "Priority": 0, "Action": {"Block": {}}, "VisibilityConfig": vis("grp-rate"),
                "Statement": {"RateBasedStatement": {
                    "Limit": 10, "EvaluationWindowSec": 60, "AggregateKeyType": "IP",
                    "ScopeDownStatement": starts_with("/grl")}}}],
    )["Summary"]
    name = unique("acl")
    acl = wafv2.create_web_acl(
        Name=name, Scope=SCOPE, DefaultAction={"Allow": {}}, VisibilityConfig=vis("acl-default"),
        Rules=[
            {"Name": "block-admin", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis("block-admin"),
             "Statement": starts_with("/admin")},
            {"Name": "count-bots", "Priority": 2, "Action": {"Count": {}}, "VisibilityConfig": vis("count-bots"),
             "RuleLabels": [{"Name": "bot"}],
             "Statement": {"ByteMatchStatement": {
                 "SearchString": "bot", "FieldToMatch": {"SingleHeader": {"Name": "user-agent"}},
                 "PositionalConstraint": "CONTAINS",
                 "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}]}}},
            {"Name": "rate", "Priority": 3, "Action": {"Block": {}}, "VisibilityConfig": vis("rate"),
             "Statement": {"RateBasedStatement": {
                 "Limit": 10, "EvaluationWindowSec": 60, "AggregateKeyType": "IP",
                 "ScopeDownStatement": starts_with("/rl")}}},
            {"Name": "quiet", "Priority": 4, "Action": {"Count": {}}, "VisibilityConfig": vis("quiet", sampled=False),
             "Statement": starts_with("/quiet")},
            {"Name": "use-group", "Priority": 5, "OverrideAction": {"None": {}}, "VisibilityConfig": vis("use-group"),
             "Statement": {"RuleGroupReferenceStatement": {"ARN": group["ARN"]}}},
            {"Name": "rate-const", "Priority": 6, "Action": {"Block": {}}, "VisibilityConfig": vis("rate-const"),
             "Statement": {"RateBasedStatement": {
                 "Limit": 10, "EvaluationWindowSec": 60, "AggregateKeyType": "CONSTANT",
                 "ScopeDownStatement": starts_with("/never")}}},
        ],
    )["Summary"]
    wafv2.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=lb["LoadBalancerArn"])
    url = f"http://{lb['DNSName']}"
    yield {"acl": acl, "name": name, "lb": lb, "url": url,
           "label": f"awswaf:{ADMIN_ACCOUNT}:webacl:{name}:bot"}
    up.httpd.shutdown()


def window(minutes_back=5):
    now = time.time()
    return {"StartTime": now - minutes_back * 60, "EndTime": now + 60}


def sampled(wafv2, setup, metric, max_items=100):
    return wafv2.get_sampled_requests(WebAclArn=setup["acl"]["ARN"], RuleMetricName=metric, Scope=SCOPE,
                                      TimeWindow=window(), MaxItems=max_items)


def test_sampled_requests_describe_the_real_requests_per_rule(srv, wafv2, setup):
    url = setup["url"]
    for _ in range(3):
        assert requests.get(url + "/ok", timeout=10).status_code == 200
    assert requests.get(url + "/admin/panel?x=1", timeout=10).status_code == 403
    assert requests.get(url + "/crawl", headers={"User-Agent": "EvilBot/1.0"}, timeout=10).status_code == 200
    assert requests.get(url + "/quiet", timeout=10).status_code == 200

    blocked = sampled(wafv2, setup, "block-admin")
    assert blocked["PopulationSize"] == 1
    [s] = blocked["SampledRequests"]
    assert s["Action"] == "BLOCK"
    assert s["Weight"] == 1
    assert s["ResponseCodeSent"] == 403
    req = s["Request"]
    assert req["URI"] == "/admin/panel"
    assert req["Method"] == "GET"
    assert req["ClientIP"] == "127.0.0.1"
    assert req["HTTPVersion"] == "HTTP/1.1"
    assert any(h["Name"].lower() == "user-agent" for h in req["Headers"])
    assert abs(s["Timestamp"].timestamp() - time.time()) < 120

    counted = sampled(wafv2, setup, "count-bots")
    assert counted["PopulationSize"] == 1
    [c] = counted["SampledRequests"]
    assert c["Action"] == "COUNT" and c["Request"]["URI"] == "/crawl"
    assert {"Name": setup["label"]} in c["Labels"]

    # The web ACL's own metric name samples the requests that reached the default action.
    default = sampled(wafv2, setup, "acl-default")
    assert default["PopulationSize"] == 5
    assert {x["Action"] for x in default["SampledRequests"]} == {"ALLOW"}
    assert sorted(x["Request"]["URI"] for x in default["SampledRequests"]) == \
        ["/crawl", "/ok", "/ok", "/ok", "/quiet"]
    assert len(sampled(wafv2, setup, "acl-default", max_items=2)["SampledRequests"]) == 2

    # A rule with SampledRequestsEnabled false is not sampled.
    quiet = sampled(wafv2, setup, "quiet")
    assert quiet["PopulationSize"] == 0 and quiet["SampledRequests"] == []

    # The aws CLI sees the same.
    now = int(time.time())
    r = srv.cli("wafv2", "get-sampled-requests", "--web-acl-arn", setup["acl"]["ARN"],
                "--rule-metric-name", "block-admin", "--scope", SCOPE, "--max-items", "10",
                "--time-window", f"StartTime={now - 300},EndTime={now + 60}")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["PopulationSize"] == 1
    assert out["SampledRequests"][0]["Request"]["URI"] == "/admin/panel"


def test_sampled_requests_errors(wafv2, setup):
    with pytest.raises(ClientError) as e:
        sampled(wafv2, setup, "no-such-metric")
    assert error_code(e.value) == "WAFNonexistentItemException"
    now = time.time()
    for tw in ({"StartTime": now - 4 * 3600, "EndTime": now},
               {"StartTime": now - 60, "EndTime": now - 120}):
        with pytest.raises(ClientError) as e:
            wafv2.get_sampled_requests(WebAclArn=setup["acl"]["ARN"], RuleMetricName="block-admin",
                                       Scope=SCOPE, TimeWindow=tw, MaxItems=10)
        assert error_code(e.value) == "WAFInvalidParameterException"
    missing = setup["acl"]["ARN"].rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    with pytest.raises(ClientError) as e:
        wafv2.get_sampled_requests(WebAclArn=missing, RuleMetricName="block-admin", Scope=SCOPE,
                                   TimeWindow=window(), MaxItems=10)
    assert error_code(e.value) == "WAFNonexistentItemException"


def managed_keys(wafv2, setup, rule, group=None):
    kw = {"RuleGroupRuleName": group} if group else {}
    return wafv2.get_rate_based_statement_managed_keys(
        Scope=SCOPE, WebACLName=setup["name"], WebACLId=setup["acl"]["Id"], RuleName=rule, **kw)


def test_rate_based_managed_keys_follow_the_live_counters_and_expire(srv, wafv2, setup):
    url = setup["url"]
    empty = managed_keys(wafv2, setup, "rate")
    assert empty["ManagedKeysIPV4"] == {"IPAddressVersion": "IPV4", "Addresses": []}
    codes = [requests.get(url + "/rl/x", timeout=10).status_code for _ in range(12)]
    assert codes[:10] == [200] * 10 and codes[10:] == [403, 403]
    got = managed_keys(wafv2, setup, "rate")
    assert got["ManagedKeysIPV4"] == {"IPAddressVersion": "IPV4", "Addresses": ["127.0.0.1/32"]}
    assert got["ManagedKeysIPV6"] == {"IPAddressVersion": "IPV6", "Addresses": []}
    rate = sampled(wafv2, setup, "rate")
    assert [x["Action"] for x in rate["SampledRequests"]] == ["BLOCK", "BLOCK"]

    # A rate-based rule inside a rule group, named through the group's reference statement.
    codes = [requests.get(url + "/grl", timeout=10).status_code for _ in range(11)]
    assert codes[-1] == 403
    got = managed_keys(wafv2, setup, "grp-rate", group="use-group")
    assert got["ManagedKeysIPV4"]["Addresses"] == ["127.0.0.1/32"]
    grp = sampled(wafv2, setup, "use-group")
    assert grp["SampledRequests"][0]["RuleNameWithinRuleGroup"] == "grp-rate"
    assert grp["SampledRequests"][0]["Action"] == "BLOCK"

    with pytest.raises(ClientError) as e:
        managed_keys(wafv2, setup, "rate-const")
    assert error_code(e.value) == "WAFUnsupportedAggregateKeyTypeException"
    with pytest.raises(ClientError) as e:
        managed_keys(wafv2, setup, "no-such-rule")
    assert error_code(e.value) == "WAFNonexistentItemException"

    # The rate windows follow the business clock: 61 s later the key has left the window.
    srv.advance_clock(61)
    assert managed_keys(wafv2, setup, "rate")["ManagedKeysIPV4"]["Addresses"] == []
    assert managed_keys(wafv2, setup, "grp-rate", group="use-group")["ManagedKeysIPV4"]["Addresses"] == []
    assert requests.get(url + "/rl/x", timeout=10).status_code == 200


def read_records(path, want, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists():
            lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            if want(lines):
                return lines
        time.sleep(0.1)
    raise AssertionError(f"log records not found in {path}")


def test_log_group_destination_writes_filtered_redacted_records(srv, wafv2, setup):
    acl_arn = setup["acl"]["ARN"]
    group = f"arn:aws:logs:{REGION}:{ADMIN_ACCOUNT}:log-group:aws-waf-logs-tel"
    wafv2.put_logging_configuration(LoggingConfiguration={
        "ResourceArn": acl_arn,
        "LogDestinationConfigs": [group],
        "RedactedFields": [{"SingleHeader": {"Name": "authorization"}}, {"QueryString": {}}],
        "LoggingFilter": {"DefaultBehavior": "DROP", "Filters": [
            {"Behavior": "KEEP", "Requirement": "MEETS_ANY", "Conditions": [
                {"ActionCondition": {"Action": "BLOCK"}},
                {"LabelNameCondition": {"LabelName": setup["label"]}}]}]},
    })
    cfg = wafv2.get_logging_configuration(ResourceArn=acl_arn)["LoggingConfiguration"]
    assert cfg["ManagedByFirewallManager"] is False
    assert cfg["LogType"] == "WAF_LOGS" and cfg["LogScope"] == "CUSTOMER"
    r = srv.cli("wafv2", "get-logging-configuration", "--resource-arn", acl_arn)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["LoggingConfiguration"]["LogDestinationConfigs"] == [group]

    url = setup["url"]
    auth = {"Authorization": "Bearer s3cr3t"}
    assert requests.get(url + "/plain?secret=1", headers=auth, timeout=10).status_code == 200
    assert requests.get(url + "/admin/y?token=abc", headers=auth, timeout=10).status_code == 403
    assert requests.get(url + "/bots", headers={"User-Agent": "somebot"}, timeout=10).status_code == 200

    path = srv.data_dir / "waf-logs" / "aws-waf-logs-tel.log"
    lines = read_records(path, lambda ls: {x["httpRequest"]["uri"] for x in ls} >= {"/admin/y", "/bots"})
    uris = [x["httpRequest"]["uri"] for x in lines]
    # The filter drops records that neither blocked nor carry the label.
    assert "/plain" not in uris
    block = next(x for x in lines if x["httpRequest"]["uri"] == "/admin/y")
    assert block["formatVersion"] == 1
    assert block["webaclId"] == acl_arn
    assert block["action"] == "BLOCK"
    assert block["terminatingRuleId"] == "block-admin"
    assert block["terminatingRuleType"] == "REGULAR"
    assert block["httpSourceName"] == "ALB"
    lb_tail = setup["lb"]["LoadBalancerArn"].split(":loadbalancer/")[1]
    assert block["httpSourceId"] == f"{ADMIN_ACCOUNT}-{lb_tail}"
    req = block["httpRequest"]
    assert req["clientIp"] == "127.0.0.1"
    assert req["args"] == "REDACTED"
    assert req["httpMethod"] == "GET"
    assert req["httpVersion"] == "HTTP/1.1"
    headers = {h["name"].lower(): h["value"] for h in req["headers"]}
    assert headers["authorization"] == "REDACTED"
    assert "s3cr3t" not in path.read_text()
    assert req["requestId"]
    assert abs(block["timestamp"] / 1000 - time.time()) < 600
    bot = next(x for x in lines if x["httpRequest"]["uri"] == "/bots")
    assert bot["action"] == "ALLOW"
    assert bot["terminatingRuleId"] == "Default_Action"
    assert bot["nonTerminatingMatchingRules"] == [{"ruleId": "count-bots", "action": "COUNT", "ruleMatchDetails": []}]
    assert {"name": setup["label"]} in bot["labels"]


def test_s3_destination_uses_aws_key_layout(srv, wafv2, setup):
    acl_arn = setup["acl"]["ARN"]
    wafv2.put_logging_configuration(LoggingConfiguration={
        "ResourceArn": acl_arn, "LogDestinationConfigs": ["arn:aws:s3:::aws-waf-logs-tel-bucket"],
        "RedactedFields": [{"UriPath": {}}, {"Method": {}}]})
    assert requests.get(setup["url"] + "/to-s3?a=b", timeout=10).status_code == 200
    base = (srv.data_dir / "waf-logs" / "s3" / "aws-waf-logs-tel-bucket" / "AWSLogs" / ADMIN_ACCOUNT
            / "WAFLogs" / REGION / setup["name"])
    deadline = time.time() + 10
    found = []
    while time.time() < deadline and not found:
        found = [p for p in base.glob("*/*/*/*/*/*.log")
                 if '"args":"a=b"' in p.read_text()]
        time.sleep(0.1)
    assert found, f"no S3 log object under {base}"
    rel = found[0].relative_to(base).parts
    assert [len(p) for p in rel[:5]] == [4, 2, 2, 2, 2]
    assert int(rel[4]) % 5 == 0
    assert rel[5].startswith(f"{ADMIN_ACCOUNT}_waflogs_{REGION}_{setup['name']}_")
    rec = [json.loads(x) for x in found[0].read_text().splitlines() if '"args":"a=b"' in x][0]
    assert rec["httpRequest"]["uri"] == "REDACTED"
    assert rec["httpRequest"]["httpMethod"] == "REDACTED"


def test_firehose_destination_publishes_events(srv, wafv2, setup, hook):
    acl_arn = setup["acl"]["ARN"]
    stream = f"arn:aws:firehose:{REGION}:{ADMIN_ACCOUNT}:deliverystream/aws-waf-logs-tel-stream"
    wafv2.put_logging_configuration(LoggingConfiguration={
        "ResourceArn": acl_arn, "LogDestinationConfigs": [stream]})
    assert requests.get(setup["url"] + "/admin/fh", timeout=10).status_code == 403

    def mine():
        return [e for e in hook.events if e.get("detail-type") == "AWS WAF Log Record"
                and e["detail"]["record"]["httpRequest"]["uri"] == "/admin/fh"]

    deadline = time.time() + 15
    while time.time() < deadline and not mine():
        srv.advance_clock(1)
        time.sleep(0.2)
    [e] = mine()
    assert e["source"] == "aws.wafv2"
    assert e["detail"]["deliveryStreamArn"] == stream
    assert e["detail"]["deliveryStreamName"] == "aws-waf-logs-tel-stream"
    assert e["detail"]["record"]["action"] == "BLOCK"
    assert acl_arn in e["resources"]

    # Without a logging configuration nothing more is published.
    wafv2.delete_logging_configuration(ResourceArn=acl_arn)
    assert requests.get(setup["url"] + "/admin/fh", timeout=10).status_code == 403
    for _ in range(3):
        srv.advance_clock(1)
        time.sleep(0.2)
    assert len(mine()) == 1


def test_logging_configuration_refuses_fields_aws_cannot_redact(wafv2, setup):
    acl_arn = setup["acl"]["ARN"]
    group = f"arn:aws:logs:{REGION}:{ADMIN_ACCOUNT}:log-group:aws-waf-logs-tel"
    for bad in ([{"Body": {}}], [{"SingleHeader": {"Name": "a"}, "UriPath": {}}]):
        with pytest.raises(ClientError) as e:
            wafv2.put_logging_configuration(LoggingConfiguration={
                "ResourceArn": acl_arn, "LogDestinationConfigs": [group], "RedactedFields": bad})
        assert error_code(e.value) == "WAFInvalidParameterException"
    with pytest.raises(ClientError) as e:
        wafv2.put_logging_configuration(LoggingConfiguration={
            "ResourceArn": acl_arn, "LogDestinationConfigs": [group],
            "LoggingFilter": {"DefaultBehavior": "KEEP", "Filters": [
                {"Behavior": "DROP", "Requirement": "MEETS_ALL", "Conditions": [{}]}]}})
    assert error_code(e.value) == "WAFInvalidParameterException"
