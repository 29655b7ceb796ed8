"""Set up the Rampart side of `BENCH_ONLY=waf scripts/bench` through the AWS API (boto3).

Creates a target group for the upstream and three application load balancers with an HTTP
listener forwarding to it: (a) without a web ACL, (b) with a 20-rule web ACL mixing the
statement types a real deployment uses, (c) with Rampart's managed core rule set and SQL
database group. Prints one line per load balancer: `LABEL HOST:PORT`.

Usage: python bench-waf-setup.py ENDPOINT CREDENTIALS_FILE UPSTREAM_PORT
"""

import configparser
import sys

import boto3

endpoint, credentials_file, upstream_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
profile = configparser.ConfigParser()
profile.read(credentials_file)
session = boto3.Session(
    aws_access_key_id=profile["rampart"]["aws_access_key_id"],
    aws_secret_access_key=profile["rampart"]["aws_secret_access_key"],
    region_name="us-east-1",
)
elbv2 = session.client("elbv2", endpoint_url=endpoint)
wafv2 = session.client("wafv2", endpoint_url=endpoint)


def vis(name):
    return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": False, "MetricName": name}


tg = elbv2.create_target_group(
    Name="bench-upstream", Protocol="HTTP", Port=upstream_port, VpcId="vpc-bench", TargetType="ip",
    HealthCheckPath="/health", HealthCheckIntervalSeconds=30,
)["TargetGroups"][0]
elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"],
                       Targets=[{"Id": "127.0.0.1", "Port": upstream_port}])


def alb(name):
    lb = elbv2.create_load_balancer(Name=name, Subnets=["subnet-a", "subnet-b"],
                                    Type="application")["LoadBalancers"][0]
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )
    return lb


# 64 blocked networks (documentation and reserved ranges, spread out) and an office range.
blocked = [f"198.18.{i}.0/24" for i in range(60)] + ["203.0.113.0/24", "192.0.2.0/24",
                                                      "100.64.0.0/10", "2001:db8::/32"]
bad_ips = wafv2.create_ip_set(Name="bench-blocked", Scope="REGIONAL", IPAddressVersion="IPV4",
                              Addresses=[a for a in blocked if ":" not in a])["Summary"]
office = wafv2.create_ip_set(Name="bench-office", Scope="REGIONAL", IPAddressVersion="IPV4",
                             Addresses=["10.20.0.0/16"])["Summary"]
patterns = wafv2.create_regex_pattern_set(
    Name="bench-scanners", Scope="REGIONAL",
    RegularExpressionList=[{"RegexString": r"(?i)(nikto|sqlmap|nmap|masscan|zgrab)"},
                           {"RegexString": r"(?i)\bw00tw00t\b"},
                           {"RegexString": r"(?i)(acunetix|netsparker|wpscan)"}],
)["Summary"]

url = [{"Priority": 0, "Type": "URL_DECODE"}]
url_html = [{"Priority": 0, "Type": "URL_DECODE"}, {"Priority": 1, "Type": "HTML_ENTITY_DECODE"}]
lower = [{"Priority": 0, "Type": "LOWERCASE"}]
none = [{"Priority": 0, "Type": "NONE"}]
block = {"Block": {}}


def rule(name, priority, statement, action=block, labels=None):
    r = {"Name": name, "Priority": priority, "Action": action, "VisibilityConfig": vis(name),
         "Statement": statement}
    if labels:
        r["RuleLabels"] = [{"Name": n} for n in labels]
    return r


def byte(field, search, position, transforms):
    return {"ByteMatchStatement": {"FieldToMatch": field, "SearchString": search,
                                   "PositionalConstraint": position,
                                   "TextTransformations": transforms}}


header = lambda n: {"SingleHeader": {"Name": n}}
body = {"Body": {"OversizeHandling": "CONTINUE"}}
json_values = {"JsonBody": {"MatchPattern": {"All": {}}, "MatchScope": "VALUE",
                            "InvalidFallbackBehavior": "EVALUATE_AS_STRING",
                            "OversizeHandling": "CONTINUE"}}
rules20 = [
    rule("blocked-ips", 0, {"IPSetReferenceStatement": {"ARN": bad_ips["ARN"]}}),
    rule("blocked-forwarded", 1, {"IPSetReferenceStatement": {
        "ARN": bad_ips["ARN"], "IPSetForwardedIPConfig": {
            "HeaderName": "X-Forwarded-For", "FallbackBehavior": "NO_MATCH", "Position": "ANY"}}}),
    rule("geo", 2, {"GeoMatchStatement": {"CountryCodes": ["KP", "IR", "SY", "CU"]}}),
    rule("bad-agents", 3, {"RegexPatternSetReferenceStatement": {
        "ARN": patterns["ARN"], "FieldToMatch": header("user-agent"), "TextTransformations": none}}),
    rule("wp-admin", 4, byte({"UriPath": {}}, "/wp-", "STARTS_WITH", lower)),
    rule("internal-host", 5, byte(header("host"), "internal.example.com", "EXACTLY", lower)),
    rule("script-ext", 6, {"RegexMatchStatement": {
        "RegexString": r"\.(php|asp|aspx|jsp|cgi)$", "FieldToMatch": {"UriPath": {}},
        "TextTransformations": lower}}),
    rule("dotfiles", 7, byte({"UriPath": {}}, "/.", "CONTAINS", url)),
    rule("body-size", 8, {"SizeConstraintStatement": {
        "FieldToMatch": body, "ComparisonOperator": "GT", "Size": 8192, "TextTransformations": none}}),
    rule("query-size", 9, {"SizeConstraintStatement": {
        "FieldToMatch": {"QueryString": {}}, "ComparisonOperator": "GT", "Size": 2048,
        "TextTransformations": none}}),
    rule("sqli-query", 10, {"SqliMatchStatement": {"FieldToMatch": {"QueryString": {}},
                                                   "TextTransformations": url}}),
    # SQLi in URL-encoded form bodies; JSON bodies are inspected value by value (rule 19), as
    # the raw JSON text itself ("a","b") reads like SQL to a SQLi detector.
    rule("sqli-form", 11, {"AndStatement": {"Statements": [
        byte(header("content-type"), "application/x-www-form-urlencoded", "STARTS_WITH", lower),
        {"SqliMatchStatement": {"FieldToMatch": body, "TextTransformations": url}}]}}),
    rule("xss-query", 12, {"XssMatchStatement": {"FieldToMatch": {"QueryString": {}},
                                                 "TextTransformations": url_html}}),
    rule("xss-body", 13, {"XssMatchStatement": {"FieldToMatch": body, "TextTransformations": url_html}}),
    rule("sqli-cookies", 14, {"SqliMatchStatement": {
        "FieldToMatch": {"Cookies": {"MatchPattern": {"All": {}}, "MatchScope": "VALUE",
                                     "OversizeHandling": "CONTINUE"}},
        "TextTransformations": url}}),
    rule("rate", 15, {"RateBasedStatement": {"Limit": 2_000_000_000, "AggregateKeyType": "IP",
                                             "EvaluationWindowSec": 300}}),
    rule("admin-path", 16, byte({"UriPath": {}}, "/admin", "STARTS_WITH", lower),
         action={"Count": {}}, labels=["admin-path"]),
    rule("admin-outside-office", 17, {"AndStatement": {"Statements": [
        {"LabelMatchStatement": {"Scope": "LABEL", "Key": "admin-path"}},
        {"NotStatement": {"Statement": {"IPSetReferenceStatement": {"ARN": office["ARN"]}}}}]}}),
    rule("methods", 18, {"NotStatement": {"Statement": {"OrStatement": {"Statements": [
        byte({"Method": {}}, m, "EXACTLY", none) for m in ("GET", "POST", "HEAD", "PUT", "DELETE")]}}}}),
    rule("injection-json", 19, {"OrStatement": {"Statements": [
        {kind: {"FieldToMatch": json_values, "TextTransformations": none}}
        for kind in ("SqliMatchStatement", "XssMatchStatement")]}}),
]
assert len(rules20) == 20

managed = [
    {"Name": "core", "Priority": 0, "OverrideAction": {"None": {}}, "VisibilityConfig": vis("core"),
     "Statement": {"ManagedRuleGroupStatement": {"VendorName": "Rampart", "Name": "RampartCommonRuleSet"}}},
    {"Name": "sql", "Priority": 1, "OverrideAction": {"None": {}}, "VisibilityConfig": vis("sql"),
     "Statement": {"ManagedRuleGroupStatement": {"VendorName": "Rampart", "Name": "RampartSQLiRuleSet"}}},
]

plain = alb("bench-a-plain")
print("a", plain["DNSName"], flush=True)
for label, name, rules in (("b", "bench-b-20-rules", rules20), ("c", "bench-c-managed", managed)):
    lb = alb(f"bench-{label}")
    acl = wafv2.create_web_acl(Name=name, Scope="REGIONAL", DefaultAction={"Allow": {}},
                               VisibilityConfig=vis(name), Rules=rules)["Summary"]
    wafv2.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=lb["LoadBalancerArn"])
    print(label, lb["DNSName"], flush=True)
