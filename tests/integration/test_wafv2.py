"""WAFv2 (AWSWAF_20190729): web ACLs, rule groups, IP sets, regex pattern sets, lock tokens,
capacity, associations with load balancers, tags, logging configurations and Rampart's managed
rule groups, through boto3 and the aws CLI."""
import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, REGION, error_code, error_message, unique

VIS = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}
LB = f"arn:aws:elasticloadbalancing:{REGION}:{ADMIN_ACCOUNT}:loadbalancer/app/my-alb/50dc6c495c0c9188"


@pytest.fixture(scope="module")
def waf(server):
    return server.client("wafv2")


def geo_rule(name="geo", priority=1):
    return {"Name": name, "Priority": priority, "Action": {"Block": {}}, "VisibilityConfig": VIS,
            "Statement": {"GeoMatchStatement": {"CountryCodes": ["FR"]}}}


def sqli_rule(name="sqli", priority=2):
    return {"Name": name, "Priority": priority, "Action": {"Block": {}}, "VisibilityConfig": VIS,
            "Statement": {"SqliMatchStatement": {"FieldToMatch": {"QueryString": {}},
                                                 "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}]}}}


def new_acl(waf, rules=(), name=None, **kw):
    name = name or unique("acl")
    s = waf.create_web_acl(Name=name, Scope="REGIONAL", DefaultAction={"Allow": {}}, Rules=list(rules),
                           VisibilityConfig=VIS, **kw)["Summary"]
    return s


def test_web_acl_crud_with_arn_capacity_and_lock_tokens(waf):
    s = new_acl(waf, [geo_rule(), sqli_rule()], Description="first acl")
    assert s["ARN"] == f"arn:aws:wafv2:{REGION}:{ADMIN_ACCOUNT}:regional/webacl/{s['Name']}/{s['Id']}"
    got = waf.get_web_acl(Name=s["Name"], Scope="REGIONAL", Id=s["Id"])
    acl = got["WebACL"]
    assert got["LockToken"] == s["LockToken"]
    assert acl["Capacity"] == 1 + 30
    assert [r["Name"] for r in acl["Rules"]] == ["geo", "sqli"]
    assert acl["LabelNamespace"] == f"awswaf:{ADMIN_ACCOUNT}:webacl:{s['Name']}:"
    assert waf.get_web_acl(ARN=s["ARN"])["WebACL"]["Id"] == s["Id"]
    assert s["Name"] in [a["Name"] for a in waf.list_web_acls(Scope="REGIONAL")["WebACLs"]]

    nxt = waf.update_web_acl(Name=s["Name"], Scope="REGIONAL", Id=s["Id"], LockToken=s["LockToken"],
                             DefaultAction={"Block": {}}, Rules=[geo_rule()], VisibilityConfig=VIS)["NextLockToken"]
    assert nxt != s["LockToken"]
    acl = waf.get_web_acl(Name=s["Name"], Scope="REGIONAL", Id=s["Id"])["WebACL"]
    assert acl["Capacity"] == 1 and "Block" in acl["DefaultAction"]

    with pytest.raises(ClientError) as e:
        waf.update_web_acl(Name=s["Name"], Scope="REGIONAL", Id=s["Id"], LockToken=s["LockToken"],
                           DefaultAction={"Allow": {}}, VisibilityConfig=VIS)
    assert error_code(e.value) == "WAFOptimisticLockException"
    with pytest.raises(ClientError) as e:
        waf.delete_web_acl(Name=s["Name"], Scope="REGIONAL", Id=s["Id"], LockToken=s["LockToken"])
    assert error_code(e.value) == "WAFOptimisticLockException"
    waf.delete_web_acl(Name=s["Name"], Scope="REGIONAL", Id=s["Id"], LockToken=nxt)
    with pytest.raises(ClientError) as e:
        waf.get_web_acl(Name=s["Name"], Scope="REGIONAL", Id=s["Id"])
    assert error_code(e.value) == "WAFNonexistentItemException"
    assert "doesn" in error_message(e.value)


def test_duplicate_names_and_cloudfront_scope_outside_us_east_1(waf, server):
    s = new_acl(waf)
    with pytest.raises(ClientError) as e:
        new_acl(waf, name=s["Name"])
    assert error_code(e.value) == "WAFDuplicateItemException"
    west = server.client("wafv2", region="eu-west-1")
    with pytest.raises(ClientError) as e:
        west.list_web_acls(Scope="CLOUDFRONT")
    assert error_code(e.value) == "WAFInvalidParameterException"
    assert "field: SCOPE_VALUE" in error_message(e.value)
    g = waf.create_web_acl(Name=unique("cf"), Scope="CLOUDFRONT", DefaultAction={"Allow": {}},
                           VisibilityConfig=VIS)["Summary"]
    assert ":global/webacl/" in g["ARN"]


def test_rules_are_validated(waf):
    with pytest.raises(ClientError) as e:
        new_acl(waf, [geo_rule("a", 1), geo_rule("a", 2)])
    assert error_code(e.value) == "WAFDuplicateItemException"
    bad = geo_rule()
    bad["Statement"] = {"RegexMatchStatement": {"RegexString": "(unclosed", "FieldToMatch": {"UriPath": {}},
                                                "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}
    with pytest.raises(ClientError) as e:
        new_acl(waf, [bad])
    assert error_code(e.value) == "WAFInvalidParameterException"
    missing = geo_rule()
    missing["Statement"] = {"IPSetReferenceStatement": {
        "ARN": f"arn:aws:wafv2:{REGION}:{ADMIN_ACCOUNT}:regional/ipset/nope/00000000-0000-0000-0000-000000000000"}}
    with pytest.raises(ClientError) as e:
        new_acl(waf, [missing])
    assert error_code(e.value) == "WAFNonexistentItemException"


def test_ip_set_crud_and_cidr_validation(waf):
    name = unique("ips")
    s = waf.create_ip_set(Name=name, Scope="REGIONAL", IPAddressVersion="IPV4",
                          Addresses=["10.0.0.0/8", "192.0.2.44/32"])["Summary"]
    got = waf.get_ip_set(Name=name, Scope="REGIONAL", Id=s["Id"])
    assert got["IPSet"]["Addresses"] == ["10.0.0.0/8", "192.0.2.44/32"]
    assert got["IPSet"]["ARN"].endswith(f":regional/ipset/{name}/{s['Id']}")
    for bad in ["10.0.0.1", "10.0.0.0/33", "2001:db8::/32"]:
        with pytest.raises(ClientError) as e:
            waf.update_ip_set(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=got["LockToken"], Addresses=[bad])
        assert error_code(e.value) == "WAFInvalidParameterException"
        assert "field: IP_ADDRESS" in error_message(e.value) and bad in error_message(e.value)
    nxt = waf.update_ip_set(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=got["LockToken"],
                            Addresses=["198.51.100.0/24"])["NextLockToken"]
    assert waf.get_ip_set(Name=name, Scope="REGIONAL", Id=s["Id"])["IPSet"]["Addresses"] == ["198.51.100.0/24"]
    with pytest.raises(ClientError) as e:
        waf.create_ip_set(Name=unique("big"), Scope="REGIONAL", IPAddressVersion="IPV4",
                          Addresses=[f"10.{i // 256}.{i % 256}.0/24" for i in range(10_001)])
    assert error_code(e.value) == "WAFLimitsExceededException"
    v6 = waf.create_ip_set(Name=unique("v6"), Scope="REGIONAL", IPAddressVersion="IPV6",
                           Addresses=["2001:db8::/32"])["Summary"]
    assert v6["Name"] in [x["Name"] for x in waf.list_ip_sets(Scope="REGIONAL")["IPSets"]]

    # Referenced by a web ACL: cannot be deleted.
    ref = geo_rule("ipref")
    ref["Statement"] = {"IPSetReferenceStatement": {"ARN": s["ARN"]}}
    acl = new_acl(waf, [ref])
    with pytest.raises(ClientError) as e:
        waf.delete_ip_set(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=nxt)
    assert error_code(e.value) == "WAFAssociatedItemException"
    waf.delete_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"], LockToken=acl["LockToken"])
    waf.delete_ip_set(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=nxt)


def test_regex_pattern_set_crud_and_regex_validation(waf):
    name = unique("rps")
    s = waf.create_regex_pattern_set(Name=name, Scope="REGIONAL",
                                     RegularExpressionList=[{"RegexString": "^/admin"}])["Summary"]
    got = waf.get_regex_pattern_set(Name=name, Scope="REGIONAL", Id=s["Id"])
    assert got["RegexPatternSet"]["RegularExpressionList"] == [{"RegexString": "^/admin"}]
    for bad in ["(a", "(?=x)", "a" * 201]:
        with pytest.raises(ClientError) as e:
            waf.update_regex_pattern_set(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=got["LockToken"],
                                         RegularExpressionList=[{"RegexString": bad}])
        assert error_code(e.value) == "WAFInvalidParameterException"
    with pytest.raises(ClientError) as e:
        waf.update_regex_pattern_set(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=got["LockToken"],
                                     RegularExpressionList=[{"RegexString": f"x{i}"} for i in range(11)])
    assert error_code(e.value) == "WAFLimitsExceededException"
    nxt = waf.update_regex_pattern_set(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=got["LockToken"],
                                       RegularExpressionList=[{"RegexString": "b+"}])["NextLockToken"]
    assert name in [x["Name"] for x in waf.list_regex_pattern_sets(Scope="REGIONAL")["RegexPatternSets"]]
    waf.delete_regex_pattern_set(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=nxt)


def test_rule_group_capacity_is_fixed_and_checked(waf):
    name = unique("rg")
    with pytest.raises(ClientError) as e:
        waf.create_rule_group(Name=name, Scope="REGIONAL", Capacity=10, Rules=[sqli_rule()], VisibilityConfig=VIS)
    assert error_code(e.value) == "WAFInvalidParameterException"
    s = waf.create_rule_group(Name=name, Scope="REGIONAL", Capacity=50, Rules=[geo_rule()],
                              VisibilityConfig=VIS)["Summary"]
    got = waf.get_rule_group(Name=name, Scope="REGIONAL", Id=s["Id"])
    assert got["RuleGroup"]["Capacity"] == 50
    nxt = waf.update_rule_group(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=got["LockToken"],
                                Rules=[geo_rule(), sqli_rule()], VisibilityConfig=VIS)["NextLockToken"]
    with pytest.raises(ClientError) as e:
        waf.update_rule_group(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=nxt,
                              Rules=[geo_rule(), sqli_rule(), sqli_rule("s2", 3)], VisibilityConfig=VIS)
    assert error_code(e.value) == "WAFInvalidParameterException"
    # A web ACL using the group pays the group's capacity.
    use = {"Name": "grp", "Priority": 1, "OverrideAction": {"None": {}}, "VisibilityConfig": VIS,
           "Statement": {"RuleGroupReferenceStatement": {"ARN": s["ARN"]}}}
    assert waf.check_capacity(Scope="REGIONAL", Rules=[use])["Capacity"] == 50
    acl = new_acl(waf, [use])
    with pytest.raises(ClientError) as e:
        waf.delete_rule_group(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=nxt)
    assert error_code(e.value) == "WAFAssociatedItemException"
    waf.delete_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"], LockToken=acl["LockToken"])
    waf.delete_rule_group(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=nxt)
    assert name not in [x["Name"] for x in waf.list_rule_groups(Scope="REGIONAL")["RuleGroups"]]


def test_check_capacity_uses_aws_costs(waf):
    bm = {"Name": "bm", "Priority": 3, "Action": {"Count": {}}, "VisibilityConfig": VIS,
          "Statement": {"ByteMatchStatement": {"SearchString": "x", "PositionalConstraint": "CONTAINS",
                                              "FieldToMatch": {"AllQueryArguments": {}},
                                              "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}]}}}
    assert waf.check_capacity(Scope="REGIONAL", Rules=[geo_rule(), sqli_rule(), bm])["Capacity"] == 1 + 30 + 30


def test_association_lifecycle(waf):
    a = new_acl(waf)
    b = new_acl(waf)
    waf.associate_web_acl(WebACLArn=a["ARN"], ResourceArn=LB)
    assert waf.get_web_acl_for_resource(ResourceArn=LB)["WebACL"]["ARN"] == a["ARN"]
    assert waf.list_resources_for_web_acl(WebACLArn=a["ARN"])["ResourceArns"] == [LB]
    with pytest.raises(ClientError) as e:
        waf.delete_web_acl(Name=a["Name"], Scope="REGIONAL", Id=a["Id"], LockToken=a["LockToken"])
    assert error_code(e.value) == "WAFAssociatedItemException"
    waf.associate_web_acl(WebACLArn=b["ARN"], ResourceArn=LB)
    assert waf.list_resources_for_web_acl(WebACLArn=a["ARN"])["ResourceArns"] == []
    assert waf.get_web_acl_for_resource(ResourceArn=LB)["WebACL"]["ARN"] == b["ARN"]
    waf.disassociate_web_acl(ResourceArn=LB)
    assert "WebACL" not in waf.get_web_acl_for_resource(ResourceArn=LB)
    waf.delete_web_acl(Name=a["Name"], Scope="REGIONAL", Id=a["Id"], LockToken=a["LockToken"])
    with pytest.raises(ClientError) as e:
        waf.associate_web_acl(WebACLArn=b["ARN"], ResourceArn=LB.replace("app/", "net/"))
    assert error_code(e.value) == "WAFInvalidParameterException"
    assert "field: RESOURCE_ARN" in error_message(e.value)


def test_tags(waf):
    s = waf.create_ip_set(Name=unique("t"), Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=[],
                          Tags=[{"Key": "team", "Value": "a"}])["Summary"]
    waf.tag_resource(ResourceARN=s["ARN"], Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "b"}])
    info = waf.list_tags_for_resource(ResourceARN=s["ARN"])["TagInfoForResource"]
    assert info["ResourceARN"] == s["ARN"]
    assert {t["Key"]: t["Value"] for t in info["TagList"]} == {"team": "b", "env": "prod"}
    waf.untag_resource(ResourceARN=s["ARN"], TagKeys=["team"])
    assert waf.list_tags_for_resource(ResourceARN=s["ARN"])["TagInfoForResource"]["TagList"] == [
        {"Key": "env", "Value": "prod"}]
    with pytest.raises(ClientError) as e:
        waf.list_tags_for_resource(ResourceARN=s["ARN"].replace(s["Id"], "00000000-0000-0000-0000-000000000000"))
    assert error_code(e.value) == "WAFNonexistentItemException"


def test_logging_configuration(waf):
    a = new_acl(waf)
    dest = f"arn:aws:firehose:{REGION}:{ADMIN_ACCOUNT}:deliverystream/aws-waf-logs-test"
    with pytest.raises(ClientError) as e:
        waf.get_logging_configuration(ResourceArn=a["ARN"])
    assert error_code(e.value) == "WAFNonexistentItemException"
    with pytest.raises(ClientError) as e:
        waf.put_logging_configuration(LoggingConfiguration={
            "ResourceArn": a["ARN"], "LogDestinationConfigs": [f"arn:aws:s3:::not-waf-logs"]})
    assert error_code(e.value) == "WAFInvalidParameterException"
    assert "field: LOG_DESTINATION" in error_message(e.value)
    put = waf.put_logging_configuration(LoggingConfiguration={
        "ResourceArn": a["ARN"], "LogDestinationConfigs": [dest],
        "RedactedFields": [{"SingleHeader": {"Name": "authorization"}}]})["LoggingConfiguration"]
    assert put["LogType"] == "WAF_LOGS" and put["LogScope"] == "CUSTOMER"
    got = waf.get_logging_configuration(ResourceArn=a["ARN"])["LoggingConfiguration"]
    assert got["LogDestinationConfigs"] == [dest]
    assert got["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}]
    assert a["ARN"] in [c["ResourceArn"] for c in waf.list_logging_configurations(Scope="REGIONAL")["LoggingConfigurations"]]
    waf.delete_logging_configuration(ResourceArn=a["ARN"])
    with pytest.raises(ClientError) as e:
        waf.get_logging_configuration(ResourceArn=a["ARN"])
    assert error_code(e.value) == "WAFNonexistentItemException"


def test_rampart_managed_rule_groups(waf):
    groups = waf.list_available_managed_rule_groups(Scope="REGIONAL")["ManagedRuleGroups"]
    names = {g["Name"] for g in groups}
    assert {"RampartCommonRuleSet", "RampartSQLiRuleSet", "RampartKnownBadInputsRuleSet",
            "RampartIpReputationList", "RampartAnonymousIpList"} <= names
    assert {g["VendorName"] for g in groups} == {"Rampart"}
    d = waf.describe_managed_rule_group(VendorName="Rampart", Name="RampartSQLiRuleSet", Scope="REGIONAL")
    assert d["VersionName"] == "Version_1.1" and d["Capacity"] > 0 and d["Rules"]
    v = waf.list_available_managed_rule_group_versions(VendorName="Rampart", Name="RampartSQLiRuleSet", Scope="REGIONAL")
    assert v["CurrentDefaultVersion"] == "Version_1.1"
    with pytest.raises(ClientError) as e:
        waf.describe_managed_rule_group(VendorName="AWS", Name="AWSManagedRulesCommonRuleSet", Scope="REGIONAL")
    assert error_code(e.value) == "WAFNonexistentItemException"
    use = {"Name": "m", "Priority": 1, "OverrideAction": {"None": {}}, "VisibilityConfig": VIS,
           "Statement": {"ManagedRuleGroupStatement": {"VendorName": "Rampart", "Name": "RampartSQLiRuleSet"}}}
    assert waf.check_capacity(Scope="REGIONAL", Rules=[use])["Capacity"] == d["Capacity"]


def test_sampled_requests_and_rate_based_keys_are_empty_until_traffic(waf):
    rate = {"Name": "rate", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": VIS,
            "Statement": {"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "IP"}}}
    a = new_acl(waf, [rate])
    now = datetime.datetime.now(datetime.timezone.utc)
    r = waf.get_sampled_requests(WebAclArn=a["ARN"], RuleMetricName="m", Scope="REGIONAL", MaxItems=10,
                                 TimeWindow={"StartTime": now - datetime.timedelta(hours=1), "EndTime": now})
    assert r["SampledRequests"] == [] and r["PopulationSize"] == 0
    k = waf.get_rate_based_statement_managed_keys(Scope="REGIONAL", WebACLName=a["Name"], WebACLId=a["Id"],
                                                  RuleName="rate")
    assert k["ManagedKeysIPV4"] == {"IPAddressVersion": "IPV4", "Addresses": []}
    with pytest.raises(ClientError) as e:
        waf.get_rate_based_statement_managed_keys(Scope="REGIONAL", WebACLName=a["Name"], WebACLId=a["Id"],
                                                  RuleName="nope")
    assert error_code(e.value) == "WAFNonexistentItemException"


def test_cli_creates_lists_and_deletes_an_ip_set(server):
    name = unique("cli")
    out = server.cli("wafv2", "create-ip-set", "--name", name, "--scope", "REGIONAL",
                     "--ip-address-version", "IPV4", "--addresses", "203.0.113.0/24")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)["Summary"]
    out = server.cli("wafv2", "list-ip-sets", "--scope", "REGIONAL")
    assert name in [x["Name"] for x in json.loads(out.stdout)["IPSets"]]
    out = server.cli("wafv2", "delete-ip-set", "--name", name, "--scope", "REGIONAL", "--id", summary["Id"],
                     "--lock-token", "00000000-0000-0000-0000-000000000000")
    assert out.returncode != 0 and "WAFOptimisticLockException" in out.stderr
    out = server.cli("wafv2", "delete-ip-set", "--name", name, "--scope", "REGIONAL", "--id", summary["Id"],
                     "--lock-token", summary["LockToken"])
    assert out.returncode == 0, out.stderr
