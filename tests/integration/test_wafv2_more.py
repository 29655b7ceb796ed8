"""WAFv2 operations beyond the core: API keys for the CAPTCHA integration, rule group sharing
with permission policies (enforced across accounts), DeleteFirewallManagerRuleGroups, managed
products, managed rule sets (none: no account is a seller), mobile SDK releases (none shipped),
and the Bot Control / monetization operations Rampart answers as not supported."""
import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, REGION, error_code, error_message, unique

VIS = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}
OTHER = "210987654321"
STRANGER = "310987654321"


@pytest.fixture(scope="module")
def waf(server):
    return server.client("wafv2")


@pytest.fixture(scope="module")
def other(server):
    ak, sk = server.create_account(OTHER)
    return server.client("wafv2", access_key=ak, secret_key=sk)


@pytest.fixture(scope="module")
def stranger(server):
    ak, sk = server.create_account(STRANGER)
    return server.client("wafv2", access_key=ak, secret_key=sk)


def share_policy(*accounts, get=False):
    actions = ["wafv2:CreateWebACL", "wafv2:UpdateWebACL", "wafv2:PutFirewallManagerRuleGroups"]
    if get:
        actions.append("wafv2:GetRuleGroup")
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
        "Action": actions}]})


def new_rule_group(waf, name=None):
    name = name or unique("rg")
    rule = {"Name": "r", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": VIS,
            "Statement": {"ByteMatchStatement": {"SearchString": b"evil", "FieldToMatch": {"UriPath": {}},
                                                 "PositionalConstraint": "CONTAINS",
                                                 "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}}
    return waf.create_rule_group(Name=name, Scope="REGIONAL", Capacity=10, Rules=[rule],
                                 VisibilityConfig=VIS)["Summary"]


def group_rule(arn):
    return {"Name": "shared", "Priority": 1, "OverrideAction": {"None": {}}, "VisibilityConfig": VIS,
            "Statement": {"RuleGroupReferenceStatement": {"ARN": arn}}}


# -- API keys ---------------------------------------------------------------------------------

def test_api_keys_create_list_decrypt_delete(waf):
    key = waf.create_api_key(Scope="REGIONAL", TokenDomains=["example.com", "shop.example.com"])["APIKey"]
    assert len(key) > 40 and "example.com" not in key
    got = waf.get_decrypted_api_key(Scope="REGIONAL", APIKey=key)
    assert got["TokenDomains"] == ["example.com", "shop.example.com"]
    assert abs(got["CreationTimestamp"].timestamp() - datetime.datetime.now().timestamp()) < 120
    listed = waf.list_api_keys(Scope="REGIONAL")["APIKeySummaries"]
    mine = [k for k in listed if k["APIKey"] == key]
    assert mine and mine[0]["TokenDomains"] == ["example.com", "shop.example.com"] and mine[0]["Version"] == 1

    waf.delete_api_key(Scope="REGIONAL", APIKey=key)
    assert key not in [k["APIKey"] for k in waf.list_api_keys(Scope="REGIONAL")["APIKeySummaries"]]
    with pytest.raises(ClientError) as e:
        waf.get_decrypted_api_key(Scope="REGIONAL", APIKey=key)
    assert error_code(e.value) == "WAFNonexistentItemException"
    with pytest.raises(ClientError) as e:
        waf.delete_api_key(Scope="REGIONAL", APIKey=key)
    assert error_code(e.value) == "WAFNonexistentItemException"


def test_api_keys_are_authenticated_and_bound_to_account_and_scope(waf, other):
    key = waf.create_api_key(Scope="REGIONAL", TokenDomains=["bound.example.com"])["APIKey"]
    body, tag = key.split(".")
    # Flip one character of the MAC: a forged key does not exist.
    forged = body + "." + ("A" if tag[0] != "A" else "B") + tag[1:]
    with pytest.raises(ClientError) as e:
        waf.get_decrypted_api_key(Scope="REGIONAL", APIKey=forged)
    assert error_code(e.value) == "WAFNonexistentItemException"
    with pytest.raises(ClientError) as e:
        waf.get_decrypted_api_key(Scope="REGIONAL", APIKey="not-a-key")
    assert error_code(e.value) == "WAFInvalidParameterException"
    # Another account, or the other scope, does not see it.
    with pytest.raises(ClientError) as e:
        other.get_decrypted_api_key(Scope="REGIONAL", APIKey=key)
    assert error_code(e.value) == "WAFNonexistentItemException"
    with pytest.raises(ClientError) as e:
        waf.get_decrypted_api_key(Scope="CLOUDFRONT", APIKey=key)
    assert error_code(e.value) == "WAFNonexistentItemException"


def test_api_key_token_domain_limits(waf):
    with pytest.raises(ClientError) as e:
        waf.create_api_key(Scope="REGIONAL", TokenDomains=[f"d{i}.example.com" for i in range(6)])
    assert error_code(e.value) == "WAFInvalidParameterException"
    with pytest.raises(ClientError) as e:
        waf.create_api_key(Scope="REGIONAL", TokenDomains=["co.uk"])
    assert error_code(e.value) == "WAFInvalidParameterException"
    assert "TOKEN_DOMAIN" in error_message(e.value)


def test_api_keys_through_the_cli(server):
    r = server.cli("wafv2", "create-api-key", "--scope", "REGIONAL", "--token-domains", "cli.example.com")
    assert r.returncode == 0, r.stderr
    key = json.loads(r.stdout)["APIKey"]
    r = server.cli("wafv2", "get-decrypted-api-key", "--scope", "REGIONAL", "--api-key", key)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["TokenDomains"] == ["cli.example.com"]
    r = server.cli("wafv2", "delete-api-key", "--scope", "REGIONAL", "--api-key", key)
    assert r.returncode == 0, r.stderr


# -- permission policies ----------------------------------------------------------------------

def test_permission_policy_put_get_delete(waf):
    rg = new_rule_group(waf)
    with pytest.raises(ClientError) as e:
        waf.get_permission_policy(ResourceArn=rg["ARN"])
    assert error_code(e.value) == "WAFNonexistentItemException"
    pol = share_policy(OTHER)
    waf.put_permission_policy(ResourceArn=rg["ARN"], Policy=pol)
    assert json.loads(waf.get_permission_policy(ResourceArn=rg["ARN"])["Policy"]) == json.loads(pol)
    waf.delete_permission_policy(ResourceArn=rg["ARN"])
    with pytest.raises(ClientError) as e:
        waf.get_permission_policy(ResourceArn=rg["ARN"])
    assert error_code(e.value) == "WAFNonexistentItemException"


@pytest.mark.parametrize("statement", [
    {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": ["wafv2:*"]},
    {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": ["wafv2:CreateWebACL", "wafv2:UpdateWebACL"]},
    {"Effect": "Allow", "Principal": {"AWS": OTHER},
     "Action": ["wafv2:CreateWebACL", "wafv2:UpdateWebACL", "wafv2:PutFirewallManagerRuleGroups",
                "wafv2:DeleteRuleGroup"]},
    {"Effect": "Deny", "Principal": {"AWS": OTHER},
     "Action": ["wafv2:CreateWebACL", "wafv2:UpdateWebACL", "wafv2:PutFirewallManagerRuleGroups"]},
    {"Effect": "Allow", "Principal": "*",
     "Action": ["wafv2:CreateWebACL", "wafv2:UpdateWebACL", "wafv2:PutFirewallManagerRuleGroups"]},
    {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Resource": "*",
     "Action": ["wafv2:CreateWebACL", "wafv2:UpdateWebACL", "wafv2:PutFirewallManagerRuleGroups"]},
])
def test_permission_policy_restrictions(waf, statement):
    rg = new_rule_group(waf)
    doc = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    with pytest.raises(ClientError) as e:
        waf.put_permission_policy(ResourceArn=rg["ARN"], Policy=doc)
    assert error_code(e.value) == "WAFInvalidPermissionPolicyException"


def test_permission_policy_needs_own_existing_rule_group(waf, other):
    rg = new_rule_group(waf)
    with pytest.raises(ClientError) as e:
        other.put_permission_policy(ResourceArn=rg["ARN"], Policy=share_policy(OTHER))
    assert error_code(e.value) == "WAFNonexistentItemException"
    waf.delete_rule_group(Name=rg["Name"], Scope="REGIONAL", Id=rg["Id"], LockToken=rg["LockToken"])
    with pytest.raises(ClientError) as e:
        waf.put_permission_policy(ResourceArn=rg["ARN"], Policy=share_policy(OTHER))
    assert error_code(e.value) == "WAFNonexistentItemException"


def test_shared_rule_group_is_usable_only_by_the_accounts_the_policy_names(waf, other, stranger):
    rg = new_rule_group(waf)
    name = unique("xacl")
    # Not shared yet: another account cannot reference it.
    with pytest.raises(ClientError) as e:
        other.create_web_acl(Name=name, Scope="REGIONAL", DefaultAction={"Allow": {}},
                             Rules=[group_rule(rg["ARN"])], VisibilityConfig=VIS)
    assert error_code(e.value) == "WAFNonexistentItemException"

    waf.put_permission_policy(ResourceArn=rg["ARN"], Policy=share_policy(OTHER))
    s = other.create_web_acl(Name=name, Scope="REGIONAL", DefaultAction={"Allow": {}},
                             Rules=[group_rule(rg["ARN"])], VisibilityConfig=VIS)["Summary"]
    acl = other.get_web_acl(ARN=s["ARN"])["WebACL"]
    assert acl["Capacity"] == 10
    assert acl["Rules"][0]["Statement"]["RuleGroupReferenceStatement"]["ARN"] == rg["ARN"]
    # GetRuleGroup was not granted.
    with pytest.raises(ClientError) as e:
        other.get_rule_group(ARN=rg["ARN"])
    assert error_code(e.value) in ("AccessDeniedException", "WAFNonexistentItemException")

    # A third account the policy does not name is refused.
    with pytest.raises(ClientError) as e:
        stranger.create_web_acl(Name=unique("sacl"), Scope="REGIONAL", DefaultAction={"Allow": {}},
                                Rules=[group_rule(rg["ARN"])], VisibilityConfig=VIS)
    assert error_code(e.value) == "AccessDeniedException"

    # With wafv2:GetRuleGroup the other account can read it by ARN.
    waf.put_permission_policy(ResourceArn=rg["ARN"], Policy=share_policy(OTHER, get=True))
    got = other.get_rule_group(ARN=rg["ARN"])["RuleGroup"]
    assert got["Name"] == rg["Name"]

    # Once the policy is deleted, UpdateWebACL can no longer reference it.
    waf.delete_permission_policy(ResourceArn=rg["ARN"])
    with pytest.raises(ClientError) as e:
        other.update_web_acl(Name=name, Scope="REGIONAL", Id=s["Id"], LockToken=s["LockToken"],
                             DefaultAction={"Allow": {}}, Rules=[group_rule(rg["ARN"])], VisibilityConfig=VIS)
    assert error_code(e.value) == "WAFNonexistentItemException"


# -- Firewall Manager rule groups -------------------------------------------------------------

def test_delete_firewall_manager_rule_groups_checks_the_lock_token(waf):
    s = waf.create_web_acl(Name=unique("fms"), Scope="REGIONAL", DefaultAction={"Allow": {}},
                           Rules=[], VisibilityConfig=VIS)["Summary"]
    nxt = waf.delete_firewall_manager_rule_groups(WebACLArn=s["ARN"], WebACLLockToken=s["LockToken"])
    assert nxt["NextWebACLLockToken"]
    with pytest.raises(ClientError) as e:
        waf.delete_firewall_manager_rule_groups(WebACLArn=s["ARN"],
                                                WebACLLockToken="00000000-0000-0000-0000-000000000000")
    assert error_code(e.value) == "WAFOptimisticLockException"
    missing = s["ARN"].replace(s["Id"], "11111111-1111-1111-1111-111111111111")
    with pytest.raises(ClientError) as e:
        waf.delete_firewall_manager_rule_groups(WebACLArn=missing, WebACLLockToken=s["LockToken"])
    assert error_code(e.value) == "WAFNonexistentItemException"


# -- managed products and rule sets -----------------------------------------------------------

def test_managed_products_describe_rampart_groups(waf):
    products = waf.describe_all_managed_products(Scope="REGIONAL")["ManagedProducts"]
    names = {p["ManagedRuleSetName"] for p in products}
    assert {"RampartCommonRuleSet", "RampartSQLiRuleSet", "RampartKnownBadInputsRuleSet"} <= names
    assert all(p["VendorName"] == "Rampart" and p["IsVersioningSupported"] for p in products)
    by_vendor = waf.describe_managed_products_by_vendor(Scope="REGIONAL", VendorName="Rampart")["ManagedProducts"]
    assert {p["ManagedRuleSetName"] for p in by_vendor} == names
    assert waf.describe_managed_products_by_vendor(Scope="REGIONAL", VendorName="AWS")["ManagedProducts"] == []


def test_managed_rule_sets_none_for_a_non_seller(waf):
    assert waf.list_managed_rule_sets(Scope="REGIONAL")["ManagedRuleSets"] == []
    with pytest.raises(ClientError) as e:
        waf.get_managed_rule_set(Name="mine", Scope="REGIONAL", Id="11111111-1111-1111-1111-111111111111")
    assert error_code(e.value) == "WAFNonexistentItemException"
    with pytest.raises(ClientError) as e:
        waf.put_managed_rule_set_versions(Name="mine", Scope="REGIONAL", Id="11111111-1111-1111-1111-111111111111",
                                          LockToken="11111111-1111-1111-1111-111111111111",
                                          RecommendedVersion="v1",
                                          VersionsToPublish={"v1": {"AssociatedRuleGroupArn":
                                              f"arn:aws:wafv2:{REGION}:{ADMIN_ACCOUNT}:regional/rulegroup/x/1",
                                              "ForecastedLifetime": 30}})
    assert error_code(e.value) == "WAFNonexistentItemException"
    with pytest.raises(ClientError) as e:
        waf.update_managed_rule_set_version_expiry_date(
            Name="mine", Scope="REGIONAL", Id="11111111-1111-1111-1111-111111111111",
            LockToken="11111111-1111-1111-1111-111111111111", VersionToExpire="v1",
            ExpiryTimestamp=datetime.datetime(2030, 1, 1))
    assert error_code(e.value) == "WAFNonexistentItemException"


def test_managed_products_through_the_cli(server):
    r = server.cli("wafv2", "describe-all-managed-products", "--scope", "REGIONAL")
    assert r.returncode == 0, r.stderr
    assert "RampartCommonRuleSet" in [p["ManagedRuleSetName"] for p in json.loads(r.stdout)["ManagedProducts"]]


# -- mobile SDK -------------------------------------------------------------------------------

def test_no_mobile_sdk_releases(waf):
    assert waf.list_mobile_sdk_releases(Platform="ANDROID")["ReleaseSummaries"] == []
    for call in (waf.get_mobile_sdk_release, waf.generate_mobile_sdk_release_url):
        with pytest.raises(ClientError) as e:
            call(Platform="IOS", ReleaseVersion="1.0.0")
        assert error_code(e.value) == "WAFNonexistentItemException"


# -- not supported ----------------------------------------------------------------------------

def test_bot_control_and_monetization_operations_are_not_supported(waf):
    acl = waf.create_web_acl(Name=unique("bot"), Scope="REGIONAL", DefaultAction={"Allow": {}},
                             Rules=[], VisibilityConfig=VIS)["Summary"]
    now = datetime.datetime.now(datetime.timezone.utc)
    window = {"StartTime": now - datetime.timedelta(hours=1), "EndTime": now}
    calls = [
        lambda: waf.get_top_path_statistics_by_traffic(Scope="REGIONAL", WebAclArn=acl["ARN"], TimeWindow=window,
                                                       Limit=10, NumberOfTopTrafficBotsPerPath=1),
        lambda: waf.list_events(Scope="REGIONAL"),
        lambda: waf.list_events_by_web_acl(Scope="REGIONAL", WebAclArn=acl["ARN"]),
        lambda: waf.get_event(Scope="REGIONAL", WebAclArn=acl["ARN"], EventId="11111111-2222-3333-4444-555555555555"),
        lambda: waf.list_event_actors(Scope="REGIONAL", TimeWindow=window),
        lambda: waf.get_event_actor(Scope="REGIONAL", EventActorId="11111111-2222-3333-4444-555555555555"),
        lambda: waf.get_revenue_statistics(Scope="REGIONAL", Currency="USDC", StatisticType="TOP_PATHS_BY_REVENUE",
                                           TimeWindow=window),
        lambda: waf.get_revenue_statistics_summary(Scope="REGIONAL", Currency="USDC", TimeWindow=window),
        lambda: waf.get_revenue_statistics_time_series(Scope="REGIONAL", Currency="USDC",
                                                       StatisticType="DATE_HISTOGRAM", Interval="DAILY", TimeWindow=window),
        lambda: waf.list_settlement_records(Scope="REGIONAL", Currency="USDC", TimeWindow=window),
    ]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e.value) == "WAFInvalidOperationException", e.value
        assert "not supported by Rampart" in error_message(e.value)


def test_mobile_sdk_and_rule_sets_through_the_cli(server):
    r = server.cli("wafv2", "list-mobile-sdk-releases", "--platform", "ANDROID")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ReleaseSummaries"] == []
    r = server.cli("wafv2", "get-mobile-sdk-release", "--platform", "IOS", "--release-version", "1.0.0")
    assert r.returncode != 0 and "WAFNonexistentItemException" in r.stderr
    r = server.cli("wafv2", "list-managed-rule-sets", "--scope", "REGIONAL")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ManagedRuleSets"] == []
