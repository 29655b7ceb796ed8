"""Issue 13, with the aws CLI only: the managed rule group Rampart/OWASPCoreRuleSet (the OWASP
Core Rule Set v4 loaded from --waf-crs-dir) in a web ACL associated with an ALB blocks an attack,
forwards a benign request, and the WAF log names the CRS rule ids that matched.

Control plane: `aws ...`; data plane: `curl`."""
import glob
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import _make_server, unique
from test_elbv2 import Upstream

CRS_DIR = os.environ.get("RAMPART_CRS_DIR", str(Path(__file__).resolve().parents[3] / "shared/crs/v4.28.0"))
if not Path(CRS_DIR, "rules").is_dir():
    CRS_DIR = "/work/shared/crs/v4.28.0"
HOST = "shop.example.test"
LOG_GROUP = "aws-waf-logs-crs"


def aws(server, *args):
    r = server.cli(*args)
    assert r.returncode == 0, f"aws {' '.join(args)} failed: {r.stderr}"
    return json.loads(r.stdout) if r.stdout.strip() else None


def write(tmp, name, content):
    p = tmp / name
    p.write_text(json.dumps(content))
    return "file://" + str(p)


def crs_rule(version="PL1", overrides=None, excluded=None):
    stmt = {"VendorName": "Rampart", "Name": "OWASPCoreRuleSet", "Version": version}
    if overrides:
        stmt["RuleActionOverrides"] = overrides
    if excluded:
        stmt["ExcludedRules"] = [{"Name": e} for e in excluded]
    return [{"Name": "crs", "Priority": 0, "OverrideAction": {"None": {}},
             "Statement": {"ManagedRuleGroupStatement": stmt},
             "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True,
                                  "MetricName": "crs"}}]


@pytest.fixture(scope="module")
def scenario(rampart_bin, tmp_path_factory):
    if not Path(CRS_DIR, "rules").is_dir():
        pytest.skip(f"no OWASP CRS at {CRS_DIR}")
    tmp = tmp_path_factory.mktemp("waf-crs")
    server = _make_server(rampart_bin, tmp_path_factory, "waf-crs", dev=True,
                          extra_args=["--waf-crs-dir", CRS_DIR])
    upstream = Upstream()
    try:
        s = {"server": server, "upstream": upstream, "tmp": tmp}
        tg = aws(server, "elbv2", "create-target-group", "--name", unique("crs-tg"), "--protocol", "HTTP",
                 "--port", str(upstream.port), "--vpc-id", "vpc-1", "--target-type", "ip",
                 "--health-check-path", "/health")["TargetGroups"][0]["TargetGroupArn"]
        aws(server, "elbv2", "register-targets", "--target-group-arn", tg,
            "--targets", f"Id=127.0.0.1,Port={upstream.port}")
        lb = aws(server, "elbv2", "create-load-balancer", "--name", unique("crs-alb"), "--type", "application",
                 "--subnets", "subnet-0123abcd", "subnet-4567cdef")["LoadBalancers"][0]
        s["lb"] = lb["LoadBalancerArn"]
        s["port"] = lb["DNSName"].split(":")[1]
        aws(server, "elbv2", "create-listener", "--load-balancer-arn", s["lb"], "--protocol", "HTTP",
            "--port", "80", "--default-actions", f"Type=forward,TargetGroupArn={tg}")
        acl = aws(server, "wafv2", "create-web-acl", "--name", "crs-acl", "--scope", "REGIONAL",
                  "--default-action", "Allow={}",
                  "--visibility-config", "SampledRequestsEnabled=true,CloudWatchMetricsEnabled=true,MetricName=crs-acl",
                  "--rules", write(tmp, "rules.json", crs_rule()))["Summary"]
        s["acl"] = acl
        account = aws(server, "sts", "get-caller-identity")["Account"]
        aws(server, "wafv2", "put-logging-configuration", "--logging-configuration", write(
            tmp, "logging.json", {"ResourceArn": acl["ARN"], "LogDestinationConfigs": [
                f"arn:aws:logs:us-east-1:{account}:log-group:{LOG_GROUP}"]}))
        aws(server, "wafv2", "associate-web-acl", "--web-acl-arn", acl["ARN"], "--resource-arn", s["lb"])
        yield s
    finally:
        upstream.close()
        server.stop()


def curl(s, path, *extra, data=None):
    cmd = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"Host: {HOST}",
           "-H", "Accept: text/html", f"http://127.0.0.1:{s['port']}{path}"]
    if data is not None:
        cmd += ["--data-binary", data, "-H", "Content-Type: application/x-www-form-urlencoded"]
    cmd += list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return int(r.stdout)


def log_records(s, want, timeout=15):
    root = s["server"].data_dir / "waf-logs"
    deadline = time.time() + timeout
    while True:
        records = []
        for path in glob.glob(str(root / "**" / "*"), recursive=True):
            if os.path.isfile(path) and LOG_GROUP in path:
                with open(path, encoding="utf-8") as f:
                    records += [json.loads(line) for line in f if line.strip()]
        if len(records) >= want or time.time() > deadline:
            return records
        time.sleep(0.2)


def test_the_group_is_listed_and_described(scenario):
    server = scenario["server"]
    groups = aws(server, "wafv2", "list-available-managed-rule-groups", "--scope", "REGIONAL")
    assert any(g["VendorName"] == "Rampart" and g["Name"] == "OWASPCoreRuleSet"
               for g in groups["ManagedRuleGroups"])
    d = aws(server, "wafv2", "describe-managed-rule-group", "--scope", "REGIONAL",
            "--vendor-name", "Rampart", "--name", "OWASPCoreRuleSet")
    names = {r["Name"] for r in d["Rules"]}
    assert {"942100", "949110", "941100", "930100"} <= names
    assert d["Capacity"] == len(d["Rules"])
    assert d["LabelNamespace"] == "awswaf:managed:rampart:crs:"
    assert d["VersionName"] == "PL1"
    versions = aws(server, "wafv2", "list-available-managed-rule-group-versions", "--scope", "REGIONAL",
                   "--vendor-name", "Rampart", "--name", "OWASPCoreRuleSet")
    assert versions["CurrentDefaultVersion"] == "PL1"
    assert [v["Name"] for v in versions["Versions"]] == ["PL1", "PL2", "PL3", "PL4"]


def test_benign_request_is_forwarded(scenario):
    assert curl(scenario, "/products?q=blue+shirts") == 200
    assert curl(scenario, "/login", data="user=alice&remember=on") == 200


def test_attacks_are_blocked_and_never_forwarded(scenario):
    before = len(scenario["upstream"].seen)
    assert curl(scenario, "/products?id=1%27%20UNION%20SELECT%20password%20FROM%20users--") == 403
    assert curl(scenario, "/search", data="q=<script>alert(document.cookie)</script>") == 403
    assert curl(scenario, "/files?name=../../../../etc/passwd") == 403
    assert len(scenario["upstream"].seen) == before


def test_log_names_the_matched_crs_rule_ids(scenario):
    records = log_records(scenario, want=5)
    blocked = [r for r in records if r["action"] == "BLOCK"]
    assert len(blocked) >= 3
    for r in blocked:
        assert r["terminatingRuleId"] == "crs"
        group = r["ruleGroupList"][0]
        assert group["terminatingRule"]["ruleId"] == "949110"
        assert group["terminatingRule"]["action"] == "BLOCK"
        ids = {m["ruleId"] for m in group["nonTerminatingMatchingRules"]}
        assert ids, r
        labels = {label["name"] for label in r.get("labels", [])}
        assert "awswaf:managed:rampart:crs:949110" in labels
        assert all(f"awswaf:managed:rampart:crs:{i}" in labels for i in ids)
    sqli = next(r for r in blocked if "UNION" in r["httpRequest"]["args"])
    ids = {m["ruleId"] for m in sqli["ruleGroupList"][0]["nonTerminatingMatchingRules"]}
    assert any(i.startswith("942") for i in ids), ids
    allowed = [r for r in records if r["action"] == "ALLOW"]
    assert allowed and all(r["terminatingRuleId"] == "Default_Action" for r in allowed)


def test_sampled_requests_name_the_group(scenario):
    now = int(time.time())
    got = aws(scenario["server"], "wafv2", "get-sampled-requests", "--web-acl-arn", scenario["acl"]["ARN"],
              "--rule-metric-name", "crs", "--scope", "REGIONAL",
              "--time-window", f"StartTime={now - 3600},EndTime={now + 3600}", "--max-items", "100")
    assert got["SampledRequests"] and all(x["Action"] == "BLOCK" for x in got["SampledRequests"])
    assert any("awswaf:managed:rampart:crs:949110" in {label["Name"] for label in x.get("Labels", [])}
               for x in got["SampledRequests"])


def test_count_override_on_949110_and_excluded_rules(scenario):
    server, tmp = scenario["server"], scenario["tmp"]

    def update(rules):
        acl = aws(server, "wafv2", "get-web-acl", "--scope", "REGIONAL", "--name", "crs-acl",
                  "--id", scenario["acl"]["Id"])
        aws(server, "wafv2", "update-web-acl", "--scope", "REGIONAL", "--name", "crs-acl",
            "--id", scenario["acl"]["Id"], "--lock-token", acl["LockToken"], "--default-action", "Allow={}",
            "--visibility-config", "SampledRequestsEnabled=true,CloudWatchMetricsEnabled=true,MetricName=crs-acl",
            "--rules", write(tmp, "rules2.json", rules))

    attack = "/files?name=../../../../etc/passwd"
    update(crs_rule(overrides=[{"Name": "949110", "ActionToUse": {"Count": {}}}]))
    assert curl(scenario, attack) == 200
    # Removing the rules that scored the attack lets it through too.
    update(crs_rule(excluded=["930100", "930110", "930120", "932160", "930130"]))
    assert curl(scenario, attack) == 200
    update(crs_rule())
    assert curl(scenario, attack) == 403


def refused(server, code, *args):
    r = server.cli(*args)
    assert r.returncode != 0, f"aws {' '.join(args)} was accepted: {r.stdout}"
    assert f"({code})" in r.stderr, r.stderr
    return r.stderr


def acl_names(server):
    return sorted(a["Name"] for a in aws(server, "wafv2", "list-web-acls", "--scope", "REGIONAL")["WebACLs"])


BAD_STATEMENTS = [
    # (what is wrong, rules, the error's field and parameter)
    ("version", crs_rule(version="PL5"), "MANAGED_RULE_SET_STATEMENT", "PL5"),
    ("version", crs_rule(version="Version_1.0"), "MANAGED_RULE_SET_STATEMENT", "Version_1.0"),
    ("excluded", crs_rule(excluded=["930100", "999999"]), "EXCLUDED_RULE", "999999"),
    ("excluded", crs_rule(excluded=["SQLi_BODY"]), "EXCLUDED_RULE", "SQLi_BODY"),
    ("override", crs_rule(overrides=[{"Name": "949199", "ActionToUse": {"Count": {}}}]), "RULE_ACTION", "949199"),
]


@pytest.mark.parametrize("what,rules,field,parameter", BAD_STATEMENTS)
def test_bad_version_excluded_rule_or_override_is_refused_and_nothing_is_stored(
        scenario, what, rules, field, parameter):
    server, tmp = scenario["server"], scenario["tmp"]
    before = acl_names(server)
    acl = aws(server, "wafv2", "get-web-acl", "--scope", "REGIONAL", "--name", "crs-acl",
              "--id", scenario["acl"]["Id"])
    rules_file = write(tmp, f"bad-{what}.json", rules)
    visibility = "SampledRequestsEnabled=true,CloudWatchMetricsEnabled=true,MetricName=bad"
    want = f"field: {field}, parameter: {parameter}"
    err = refused(server, "WAFInvalidParameterException", "wafv2", "create-web-acl",
                  "--name", unique("bad-crs"), "--scope", "REGIONAL", "--default-action", "Allow={}",
                  "--visibility-config", visibility, "--rules", rules_file)
    assert want in err, err
    err = refused(server, "WAFInvalidParameterException", "wafv2", "update-web-acl",
                  "--scope", "REGIONAL", "--name", "crs-acl", "--id", scenario["acl"]["Id"],
                  "--lock-token", acl["LockToken"], "--default-action", "Allow={}",
                  "--visibility-config", visibility, "--rules", rules_file)
    assert want in err, err
    err = refused(server, "WAFInvalidParameterException", "wafv2", "check-capacity",
                  "--scope", "REGIONAL", "--rules", rules_file)
    assert want in err, err
    assert acl_names(server) == before
    after = aws(server, "wafv2", "get-web-acl", "--scope", "REGIONAL", "--name", "crs-acl",
                "--id", scenario["acl"]["Id"])
    assert after["LockToken"] == acl["LockToken"] and after["WebACL"]["Rules"] == acl["WebACL"]["Rules"]


def test_valid_versions_exclusions_and_overrides_are_accepted(scenario):
    server, tmp = scenario["server"], scenario["tmp"]
    rules = crs_rule(version="PL4", excluded=["930100", "942100"],
                     overrides=[{"Name": "949110", "ActionToUse": {"Count": {}}},
                                {"Name": "941100", "ActionToUse": {"Block": {}}}])
    got = aws(server, "wafv2", "check-capacity", "--scope", "REGIONAL", "--rules", write(tmp, "good.json", rules))
    assert got["Capacity"] > 0


def test_without_a_crs_dir_the_group_does_not_exist(rampart_bin, tmp_path_factory):
    server = _make_server(rampart_bin, tmp_path_factory, "waf-no-crs", dev=True)
    try:
        tmp = tmp_path_factory.mktemp("waf-no-crs-rules")
        rules_file = write(tmp, "rules.json", crs_rule())
        refused(server, "WAFNonexistentItemException", "wafv2", "create-web-acl", "--name", "no-crs",
                "--scope", "REGIONAL", "--default-action", "Allow={}",
                "--visibility-config", "SampledRequestsEnabled=true,CloudWatchMetricsEnabled=true,MetricName=x",
                "--rules", rules_file)
        refused(server, "WAFNonexistentItemException", "wafv2", "check-capacity", "--scope", "REGIONAL",
                "--rules", rules_file)
        assert acl_names(server) == []
        groups = aws(server, "wafv2", "list-available-managed-rule-groups", "--scope", "REGIONAL")
        assert not any(g["Name"] == "OWASPCoreRuleSet" for g in groups["ManagedRuleGroups"])
    finally:
        server.stop()
