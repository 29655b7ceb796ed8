"""ELBv2 operations beyond the core (attributes, rule changes, settings, security policies,
limits, capacity, IPAM pools, trust stores) through boto3 and the aws CLI, and what the
attributes do to the traffic: deletion protection, X-Forwarded-For modes, response headers,
access logs in the ALB format, and cleanup when a load balancer is deleted."""
import glob
import gzip
import json
import os
import shlex
import time

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, REGION, error_code, error_message, unique
from test_elbv2 import Upstream, private_root  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def elbv2(server):
    return server.client("elbv2")


@pytest.fixture(scope="module")
def upstream():
    u = Upstream()
    yield u
    u.close()


def make_alb(elbv2, upstream, **tg_kw):
    tg = elbv2.create_target_group(Name=unique("tg"), Protocol="HTTP", Port=upstream.port, VpcId="vpc-1",
                                   TargetType="ip", **tg_kw)["TargetGroups"][0]
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"],
                           Targets=[{"Id": "127.0.0.1", "Port": upstream.port}])
    lb = elbv2.create_load_balancer(Name=unique("alb"), Subnets=["subnet-0a1", "subnet-0b2"])["LoadBalancers"][0]
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])["Listeners"][0]
    return {"tg": tg, "lb": lb, "listener": listener, "url": f"http://{lb['DNSName']}"}


@pytest.fixture(scope="module")
def alb(elbv2, upstream):
    return make_alb(elbv2, upstream)


def attrs(items):
    return {a["Key"]: a["Value"] for a in items}


def test_load_balancer_attributes_defaults_modify_and_validation(elbv2, alb):
    arn = alb["lb"]["LoadBalancerArn"]
    got = attrs(elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"])
    assert got["idle_timeout.timeout_seconds"] == "60"
    assert got["deletion_protection.enabled"] == "false"
    assert got["routing.http.xff_header_processing.mode"] == "append"
    assert got["waf.fail_open.enabled"] == "false"
    assert got["load_balancing.cross_zone.enabled"] == "true"
    out = elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "idle_timeout.timeout_seconds", "Value": "120"}])["Attributes"]
    assert attrs(out)["idle_timeout.timeout_seconds"] == "120"
    for key, value, code in [
        ("no.such.key", "1", "ValidationError"),
        ("dns_record.client_routing_policy", "any_availability_zone", "ValidationError"),  # NLB only
        ("idle_timeout.timeout_seconds", "4001", "ValidationError"),
        ("routing.http.xff_header_processing.mode", "drop", "ValidationError"),
        ("load_balancing.cross_zone.enabled", "false", "InvalidConfigurationRequest"),
    ]:
        with pytest.raises(ClientError) as e:
            elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[{"Key": key, "Value": value}])
        assert error_code(e.value) == code, key
    with pytest.raises(ClientError) as e:
        elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[{"Key": "no.such.key", "Value": "1"}])
    assert error_message(e.value) == "Load balancer attribute key 'no.such.key' is not recognized"
    with pytest.raises(ClientError) as e:
        elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
            {"Key": "access_logs.s3.enabled", "Value": "true"}])
    assert error_code(e.value) == "InvalidConfigurationRequest"
    with pytest.raises(ClientError) as e:
        elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn[:-4] + "0000")
    assert error_code(e.value) == "LoadBalancerNotFound"


def test_target_group_and_listener_attributes(elbv2, alb):
    tg = alb["tg"]["TargetGroupArn"]
    got = attrs(elbv2.describe_target_group_attributes(TargetGroupArn=tg)["Attributes"])
    assert got["deregistration_delay.timeout_seconds"] == "300"
    assert got["load_balancing.algorithm.type"] == "round_robin"
    elbv2.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"}])
    with pytest.raises(ClientError) as e:
        elbv2.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
            {"Key": "proxy_protocol_v2.enabled", "Value": "true"}])
    assert error_message(e.value) == "Target group attribute key 'proxy_protocol_v2.enabled' is not recognized"
    with pytest.raises(ClientError) as e:
        elbv2.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "3601"}])
    assert error_code(e.value) == "ValidationError"
    larn = alb["listener"]["ListenerArn"]
    got = attrs(elbv2.describe_listener_attributes(ListenerArn=larn)["Attributes"])
    assert got["routing.http.response.server.enabled"] == "true"
    with pytest.raises(ClientError) as e:
        elbv2.modify_listener_attributes(ListenerArn=larn, Attributes=[
            {"Key": "tcp.idle_timeout.seconds", "Value": "100"}])
    assert error_code(e.value) == "ValidationError"


def test_listener_response_header_attributes_apply(elbv2, alb):
    larn = alb["listener"]["ListenerArn"]
    elbv2.modify_listener_attributes(ListenerArn=larn, Attributes=[
        {"Key": "routing.http.response.x_frame_options.header_value", "Value": "DENY"},
        {"Key": "routing.http.response.server.enabled", "Value": "false"}])
    r = requests.get(alb["url"] + "/hdr", timeout=10)
    assert r.status_code == 200
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "Server" not in r.headers
    elbv2.modify_listener_attributes(ListenerArn=larn, Attributes=[
        {"Key": "routing.http.response.x_frame_options.header_value", "Value": ""},
        {"Key": "routing.http.response.server.enabled", "Value": "true"}])


@pytest.mark.parametrize("mode,expected", [
    ("append", "10.0.0.1, 127.0.0.1"), ("preserve", "10.0.0.1"), ("remove", None)])
def test_xff_header_processing_modes(elbv2, alb, upstream, mode, expected):
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=alb["lb"]["LoadBalancerArn"], Attributes=[
        {"Key": "routing.http.xff_header_processing.mode", "Value": mode}])
    path = f"/xff-{mode}"
    assert requests.get(alb["url"] + path, headers={"X-Forwarded-For": "10.0.0.1"}, timeout=10).status_code == 200
    seen = {k.lower(): v for k, v in [s for s in upstream.seen if s["path"] == path][-1]["headers"].items()}
    assert seen.get("x-forwarded-for") == expected
    assert seen["x-amzn-trace-id"].startswith("Root=1-")


def test_drop_invalid_header_fields(elbv2, alb, upstream):
    arn = alb["lb"]["LoadBalancerArn"]
    requests.get(alb["url"] + "/inv-1", headers={"X_Bad": "1"}, timeout=10)
    assert "x_bad" in {k.lower() for k in [s for s in upstream.seen if s["path"] == "/inv-1"][-1]["headers"]}
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}])
    requests.get(alb["url"] + "/inv-2", headers={"X_Bad": "1", "X-Good": "2"}, timeout=10)
    h = {k.lower(): v for k, v in [s for s in upstream.seen if s["path"] == "/inv-2"][-1]["headers"].items()}
    assert "x_bad" not in h and h["x-good"] == "2"
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "false"}])


def test_deletion_protection_refuses_delete(elbv2, upstream):
    a = make_alb(elbv2, upstream)
    arn = a["lb"]["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "true"}])
    with pytest.raises(ClientError) as e:
        elbv2.delete_load_balancer(LoadBalancerArn=arn)
    assert error_code(e.value) == "OperationNotPermitted"
    assert error_message(e.value) == f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
    assert requests.get(a["url"] + "/still", timeout=10).status_code == 200
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "false"}])
    elbv2.delete_load_balancer(LoadBalancerArn=arn)
    with pytest.raises(requests.ConnectionError):
        requests.get(a["url"] + "/gone", timeout=5)


def test_modify_target_group_and_rules(elbv2, alb):
    tg = alb["tg"]["TargetGroupArn"]
    out = elbv2.modify_target_group(TargetGroupArn=tg, HealthCheckPath="/health", HealthCheckIntervalSeconds=10,
                                    Matcher={"HttpCode": "200-299"})["TargetGroups"][0]
    assert out["HealthCheckPath"] == "/health" and out["Matcher"]["HttpCode"] == "200-299"
    with pytest.raises(ClientError) as e:
        elbv2.modify_target_group(TargetGroupArn=tg, HealthCheckPath="no-slash")
    assert error_code(e.value) == "ValidationError"
    larn = alb["listener"]["ListenerArn"]
    fixed = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "one"}}]
    r1 = elbv2.create_rule(ListenerArn=larn, Priority=10, Actions=fixed,
                           Conditions=[{"Field": "path-pattern", "Values": ["/one"]}])["Rules"][0]
    r2 = elbv2.create_rule(ListenerArn=larn, Priority=20, Actions=fixed,
                           Conditions=[{"Field": "path-pattern", "Values": ["/two"]}])["Rules"][0]
    assert requests.get(alb["url"] + "/one", timeout=10).text == "one"
    elbv2.modify_rule(RuleArn=r1["RuleArn"], Actions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "202", "MessageBody": "changed"}}])
    r = requests.get(alb["url"] + "/one", timeout=10)
    assert (r.status_code, r.text) == (202, "changed")
    with pytest.raises(ClientError) as e:
        elbv2.set_rule_priorities(RulePriorities=[{"RuleArn": r1["RuleArn"], "Priority": 20}])
    assert error_code(e.value) == "PriorityInUse"
    out = elbv2.set_rule_priorities(RulePriorities=[{"RuleArn": r1["RuleArn"], "Priority": 20},
                                                    {"RuleArn": r2["RuleArn"], "Priority": 10}])["Rules"]
    assert {r["RuleArn"]: r["Priority"] for r in out} == {r1["RuleArn"]: "20", r2["RuleArn"]: "10"}
    default = [r for r in elbv2.describe_rules(ListenerArn=larn)["Rules"] if r["IsDefault"]][0]
    with pytest.raises(ClientError) as e:
        elbv2.set_rule_priorities(RulePriorities=[{"RuleArn": default["RuleArn"], "Priority": 5}])
    assert error_code(e.value) == "OperationNotPermitted"
    for r in (r1, r2):
        elbv2.delete_rule(RuleArn=r["RuleArn"])


def test_set_ip_address_type_security_groups_subnets(elbv2, alb):
    arn = alb["lb"]["LoadBalancerArn"]
    assert elbv2.set_ip_address_type(LoadBalancerArn=arn, IpAddressType="dualstack")["IpAddressType"] == "dualstack"
    assert elbv2.set_security_groups(LoadBalancerArn=arn, SecurityGroups=["sg-0123"])["SecurityGroupIds"] == ["sg-0123"]
    with pytest.raises(ClientError) as e:
        elbv2.set_security_groups(LoadBalancerArn=arn, SecurityGroups=["nope"])
    assert error_code(e.value) == "InvalidSecurityGroup"
    zones = elbv2.set_subnets(LoadBalancerArn=arn, Subnets=["subnet-1", "subnet-2", "subnet-3"])["AvailabilityZones"]
    assert [z["SubnetId"] for z in zones] == ["subnet-1", "subnet-2", "subnet-3"]
    with pytest.raises(ClientError) as e:
        elbv2.set_subnets(LoadBalancerArn=arn, Subnets=["bad"])
    assert error_code(e.value) == "SubnetNotFound"
    lb = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    assert lb["IpAddressType"] == "dualstack" and lb["SecurityGroups"] == ["sg-0123"]
    assert len(lb["AvailabilityZones"]) == 3
    elbv2.set_ip_address_type(LoadBalancerArn=arn, IpAddressType="ipv4")


def test_ssl_policies_account_limits_capacity_and_ip_pools(elbv2, alb):
    pols = elbv2.describe_ssl_policies()["SslPolicies"]
    names = [p["Name"] for p in pols]
    assert "ELBSecurityPolicy-2016-08" in names and "ELBSecurityPolicy-TLS13-1-2-2021-06" in names
    p = elbv2.describe_ssl_policies(Names=["ELBSecurityPolicy-TLS13-1-3-2021-06"])["SslPolicies"][0]
    assert p["SslProtocols"] == ["TLSv1.3"]
    assert [c["Name"] for c in p["Ciphers"]][0] == "TLS_AES_128_GCM_SHA256"
    with pytest.raises(ClientError) as e:
        elbv2.describe_ssl_policies(Names=["ELBSecurityPolicy-Nope"])
    assert error_code(e.value) == "SSLPolicyNotFound"
    limits = {l["Name"]: l["Max"] for l in elbv2.describe_account_limits()["Limits"]}
    assert limits["application-load-balancers"] == "50"
    assert limits["targets-per-application-load-balancer"] == "1000"
    arn = alb["lb"]["LoadBalancerArn"]
    assert "MinimumLoadBalancerCapacity" not in elbv2.describe_capacity_reservation(LoadBalancerArn=arn)
    out = elbv2.modify_capacity_reservation(LoadBalancerArn=arn, MinimumLoadBalancerCapacity={"CapacityUnits": 100})
    assert out["MinimumLoadBalancerCapacity"]["CapacityUnits"] == 100
    assert out["CapacityReservationState"][0]["State"]["Code"] == "provisioned"
    with pytest.raises(ClientError) as e:
        elbv2.modify_capacity_reservation(LoadBalancerArn=arn)
    assert error_code(e.value) == "InvalidConfigurationRequest"
    elbv2.modify_capacity_reservation(LoadBalancerArn=arn, ResetCapacityReservation=True)
    pools = elbv2.modify_ip_pools(LoadBalancerArn=arn, IpamPools={"Ipv4IpamPoolId": "ipam-pool-0abc"})["IpamPools"]
    assert pools["Ipv4IpamPoolId"] == "ipam-pool-0abc"
    assert "IpamPools" not in elbv2.modify_ip_pools(LoadBalancerArn=arn, RemoveIpamPools=["ipv4"])


def test_trust_stores_and_resource_policies_answer_aws_errors(elbv2, alb):
    with pytest.raises(ClientError) as e:
        elbv2.create_trust_store(Name="ts", CaCertificatesBundleS3Bucket="b", CaCertificatesBundleS3Key="k.pem")
    assert error_code(e.value) == "CaCertificatesBundleNotFound"
    assert elbv2.describe_trust_stores()["TrustStores"] == []
    ts = f"arn:aws:elasticloadbalancing:{REGION}:{ADMIN_ACCOUNT}:truststore/ts/0123456789abcdef"
    calls = [
        lambda: elbv2.describe_trust_stores(TrustStoreArns=[ts]),
        lambda: elbv2.modify_trust_store(TrustStoreArn=ts, CaCertificatesBundleS3Bucket="b", CaCertificatesBundleS3Key="k"),
        lambda: elbv2.delete_trust_store(TrustStoreArn=ts),
        lambda: elbv2.describe_trust_store_associations(TrustStoreArn=ts),
        lambda: elbv2.describe_trust_store_revocations(TrustStoreArn=ts),
        lambda: elbv2.add_trust_store_revocations(TrustStoreArn=ts),
        lambda: elbv2.remove_trust_store_revocations(TrustStoreArn=ts, RevocationIds=[1]),
        lambda: elbv2.get_trust_store_ca_certificates_bundle(TrustStoreArn=ts),
        lambda: elbv2.get_trust_store_revocation_content(TrustStoreArn=ts, RevocationId=1),
        lambda: elbv2.delete_shared_trust_store_association(TrustStoreArn=ts, ResourceArn=alb["lb"]["LoadBalancerArn"]),
    ]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e.value) == "TrustStoreNotFound"
    with pytest.raises(ClientError) as e:
        elbv2.get_resource_policy(ResourceArn=ts)
    assert error_code(e.value) == "ResourceNotFound"


def test_deregistration_delay_drains_then_forgets(dev_server, upstream):
    elbv2 = dev_server.client("elbv2")
    a = make_alb(elbv2, upstream)
    tg = a["tg"]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}])
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": upstream.port}])
    d = elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert [x["TargetHealth"]["State"] for x in d] == ["draining"]
    assert d[0]["TargetHealth"]["Reason"] == "Target.DeregistrationInProgress"
    assert requests.get(a["url"] + "/drain", timeout=10).status_code == 503
    dev_server.advance_clock(31)
    assert elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"] == []


def wait_for_log_lines(root, n, timeout=10):
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        lines = []
        for f in glob.glob(os.path.join(root, "**", "*.log.gz"), recursive=True):
            with gzip.open(f, "rt") as fh:
                lines.extend(l for l in fh.read().splitlines() if l)
        if len(lines) >= n:
            return lines
        time.sleep(0.2)
    return lines


def parse_line(line):
    return shlex.split(line, posix=True)


def test_access_logs_are_written_in_the_alb_format(server, elbv2, upstream):
    a = make_alb(elbv2, upstream)
    arn = a["lb"]["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "access_logs.s3.enabled", "Value": "true"},
        {"Key": "access_logs.s3.bucket", "Value": "my-logs"},
        {"Key": "access_logs.s3.prefix", "Value": "alb"}])
    r = requests.get(a["url"] + "/logged?q=1", headers={"User-Agent": "logtest/1.0"}, timeout=10)
    assert r.status_code == 200
    lb_id = arn.split(":loadbalancer/")[1]
    root = os.path.join(server.data_dir, "elb-logs", "my-logs", "alb", "AWSLogs", ADMIN_ACCOUNT,
                        "elasticloadbalancing", REGION)
    lines = wait_for_log_lines(root, 1)
    assert lines, "no access log written"
    files = glob.glob(os.path.join(root, "*", "*", "*", "*.log.gz"))
    name = os.path.basename(files[0])
    assert name.startswith(f"{ADMIN_ACCOUNT}_elasticloadbalancing_{REGION}_{lb_id.replace('/', '.')}_")
    f = parse_line([l for l in lines if "/logged?q=1" in l][-1])
    assert len(f) == 30
    assert f[0] == "http"
    assert f[1].endswith("Z") and "T" in f[1]
    assert f[2] == lb_id
    assert f[3].startswith("127.0.0.1:")
    assert f[4] == f"127.0.0.1:{upstream.port}"
    assert float(f[5]) >= 0 and float(f[6]) >= 0 and float(f[7]) >= 0
    assert f[8] == "200" and f[9] == "200"
    assert int(f[10]) > 0 and int(f[11]) > len("upstream ok /logged?q=1")
    port = a["lb"]["DNSName"].split(":")[1]
    assert f[12] == f"GET http://127.0.0.1:{port}/logged?q=1 HTTP/1.1"
    assert f[13] == "logtest/1.0"
    assert f[14] == "-" and f[15] == "-"
    assert f[16] == a["tg"]["TargetGroupArn"]
    assert f[17].startswith("Root=1-")
    assert f[18] == "-" and f[19] == "-"
    assert f[20] == "0"
    assert f[22] == "forward"
    assert f[25] == f"127.0.0.1:{upstream.port}" and f[26] == "200"
    assert f[29].startswith("TID_")


def test_access_log_records_waf_blocks(server, elbv2, upstream):
    wafv2 = server.client("wafv2")
    a = make_alb(elbv2, upstream)
    arn = a["lb"]["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "access_logs.s3.enabled", "Value": "true"},
        {"Key": "access_logs.s3.bucket", "Value": "waf-logs"}])
    acl = wafv2.create_web_acl(
        Name=unique("acl"), Scope="REGIONAL", DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"},
        Rules=[{"Name": "block-admin", "Priority": 1, "Action": {"Block": {}},
                "VisibilityConfig": {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False,
                                     "MetricName": "r"},
                "Statement": {"ByteMatchStatement": {"SearchString": "/admin", "FieldToMatch": {"UriPath": {}},
                                                     "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                                                     "PositionalConstraint": "STARTS_WITH"}}}],
    )["Summary"]
    wafv2.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=arn)
    assert requests.get(a["url"] + "/admin", timeout=10).status_code == 403
    assert requests.get(a["url"] + "/fine", timeout=10).status_code == 200
    root = os.path.join(server.data_dir, "elb-logs", "waf-logs")
    lines = wait_for_log_lines(root, 2)
    blocked = parse_line([l for l in lines if "/admin" in l][-1])
    assert blocked[8] == "403" and blocked[9] == "-" and blocked[4] == "-"
    assert blocked[22] == "waf"
    ok = parse_line([l for l in lines if "/fine" in l][-1])
    assert ok[22] == "waf,forward"
    # Deleting the load balancer removes its web ACL association.
    elbv2.delete_load_balancer(LoadBalancerArn=arn)
    assert arn not in wafv2.list_resources_for_web_acl(WebACLArn=acl["ARN"])["ResourceArns"]
    assert "WebACL" not in wafv2.get_web_acl_for_resource(ResourceArn=arn)


def test_cli_modify_and_describe_attributes(server, elbv2, alb):
    arn = alb["lb"]["LoadBalancerArn"]
    p = server.cli("elbv2", "modify-load-balancer-attributes", "--load-balancer-arn", arn,
                   "--attributes", "Key=routing.http.xff_client_port.enabled,Value=true")
    assert p.returncode == 0, p.stderr
    assert {"Key": "routing.http.xff_client_port.enabled", "Value": "true"} in json.loads(p.stdout)["Attributes"]
    p = server.cli("elbv2", "describe-account-limits")
    assert p.returncode == 0, p.stderr
    assert any(l["Name"] == "target-groups" and l["Max"] == "3000" for l in json.loads(p.stdout)["Limits"])
    p = server.cli("elbv2", "modify-load-balancer-attributes", "--load-balancer-arn", arn,
                   "--attributes", "Key=no.such.key,Value=1")
    assert p.returncode != 0 and "ValidationError" in p.stderr
    server.cli("elbv2", "modify-load-balancer-attributes", "--load-balancer-arn", arn,
               "--attributes", "Key=routing.http.xff_client_port.enabled,Value=false")


def _tls_version(port, maximum=None):
    """The TLS version negotiated with the load balancer's port, or None if the handshake fails."""
    import socket
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if maximum:
        ctx.maximum_version = maximum
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="app.example.test") as tls:
                return tls.version(), tls.cipher()[0]
    except (ssl.SSLError, ConnectionError, OSError):
        return None


def test_https_ssl_policy_tls_headers_and_in_use_by_cleanup(server, elbv2, upstream, private_root, tmp_path):
    import ssl
    acm = server.client("acm")
    cert = acm.request_certificate(DomainName="app.example.test",
                                   CertificateAuthorityArn=private_root["arn"])["CertificateArn"]
    a = make_alb(elbv2, upstream)
    lb = a["lb"]["LoadBalancerArn"]
    forward = [{"Type": "forward", "TargetGroupArn": a["tg"]["TargetGroupArn"]}]
    with pytest.raises(ClientError) as e:
        elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTPS", Port=443, Certificates=[{"CertificateArn": cert}],
                              DefaultActions=forward, SslPolicy="ELBSecurityPolicy-Nope")
    assert error_code(e.value) == "SSLPolicyNotFound"
    listener = elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTPS", Port=443,
                                     Certificates=[{"CertificateArn": cert}], DefaultActions=forward,
                                     SslPolicy="ELBSecurityPolicy-TLS13-1-3-2021-06")["Listeners"][0]
    assert listener["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-3-2021-06"
    default = elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTPS", Port=8443,
                                    Certificates=[{"CertificateArn": cert}], DefaultActions=forward)["Listeners"][0]
    assert default["SslPolicy"] == "ELBSecurityPolicy-2016-08"
    elbv2.delete_listener(ListenerArn=default["ListenerArn"])
    port = a["lb"]["DNSName"].split(":")[1]
    # TLS 1.3 only: a TLS 1.2 client is refused.
    assert _tls_version(port, ssl.TLSVersion.TLSv1_2) is None
    assert _tls_version(port)[0] == "TLSv1.3"
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=lb, Attributes=[
        {"Key": "routing.http.x_amzn_tls_version_and_cipher_suite.enabled", "Value": "true"},
        {"Key": "access_logs.s3.enabled", "Value": "true"},
        {"Key": "access_logs.s3.bucket", "Value": "tls-logs"}])
    ca = tmp_path / "ca.pem"
    ca.write_text(private_root["pem"])
    from test_elbv2 import _HostAdapter
    with requests.Session() as s:
        s.mount("https://", _HostAdapter("app.example.test", "127.0.0.1"))
        assert s.get(f"https://app.example.test:{port}/tls13", verify=str(ca), timeout=10).status_code == 200
    h = {k.lower(): v for k, v in [x for x in upstream.seen if x["path"] == "/tls13"][-1]["headers"].items()}
    assert h["x-amzn-tls-version"] == "TLSv1.3"
    assert h["x-amzn-tls-cipher-suite"].startswith("TLS_")
    entry = parse_line([l for l in wait_for_log_lines(os.path.join(server.data_dir, "elb-logs", "tls-logs"), 1)
                        if "/tls13" in l][-1])
    assert entry[0] == "https"
    assert entry[12] == f"GET https://app.example.test:{port}/tls13 HTTP/1.1"
    assert entry[14] == h["x-amzn-tls-cipher-suite"] and entry[15] == "TLSv1.3"
    assert entry[18] == "app.example.test" and entry[19] == cert
    # A TLS 1.2 forward-secrecy policy: TLS 1.2 with an ECDHE AES-GCM suite.
    elbv2.modify_listener(ListenerArn=listener["ListenerArn"], SslPolicy="ELBSecurityPolicy-FS-1-2-Res-2020-10")
    version, cipher = _tls_version(port)
    assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and "GCM" in cipher
    # InUseBy: released when the listener goes, and again when the load balancer goes.
    assert lb in acm.describe_certificate(CertificateArn=cert)["Certificate"]["InUseBy"]
    elbv2.delete_listener(ListenerArn=listener["ListenerArn"])
    assert lb not in acm.describe_certificate(CertificateArn=cert)["Certificate"].get("InUseBy", [])
    elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTPS", Port=443,
                          Certificates=[{"CertificateArn": cert}], DefaultActions=forward)
    assert lb in acm.describe_certificate(CertificateArn=cert)["Certificate"]["InUseBy"]
    elbv2.delete_load_balancer(LoadBalancerArn=lb)
    assert lb not in acm.describe_certificate(CertificateArn=cert)["Certificate"].get("InUseBy", [])
    acm.delete_certificate(CertificateArn=cert)


def test_quota_on_listeners_per_load_balancer(elbv2, upstream):
    a = make_alb(elbv2, upstream)
    forward = [{"Type": "forward", "TargetGroupArn": a["tg"]["TargetGroupArn"]}]
    for port in range(81, 81 + 49):
        elbv2.create_listener(LoadBalancerArn=a["lb"]["LoadBalancerArn"], Protocol="HTTP", Port=port,
                              DefaultActions=forward)
    with pytest.raises(ClientError) as e:
        elbv2.create_listener(LoadBalancerArn=a["lb"]["LoadBalancerArn"], Protocol="HTTP", Port=200,
                              DefaultActions=forward)
    assert error_code(e.value) == "TooManyListeners"
    elbv2.delete_load_balancer(LoadBalancerArn=a["lb"]["LoadBalancerArn"])


def test_second_node_serves_load_balancers_created_on_the_first(postgres_cluster, server_factory, upstream):
    import base64
    url = postgres_cluster.new_database()
    key = {"RAMPART_TEST_ROOT_KEY": base64.b64encode(os.urandom(32)).decode()}
    args = ["--root-key", "env:RAMPART_TEST_ROOT_KEY"]
    a = server_factory("elb-node-a", store=url, extra_args=args, extra_env=key)
    b = server_factory("elb-node-b", store=url, extra_args=args, extra_env=key)
    admin = dict(zip(("AccessKeyId", "SecretAccessKey"), a.profile()))
    alb = make_alb(a.client("elbv2"), upstream)
    assert requests.get(alb["url"] + "/via-a", timeout=10).status_code == 200
    # Node A goes away; node B binds the persisted port within a few seconds, without a restart.
    a.stop()
    deadline = time.time() + 15
    status = None
    while time.time() < deadline:
        try:
            status = requests.get(alb["url"] + "/via-b", timeout=2).status_code
            if status == 200:
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    assert status == 200
    # Deleted through node B: the port closes.
    b.client("elbv2", creds=admin).delete_load_balancer(LoadBalancerArn=alb["lb"]["LoadBalancerArn"])
    with pytest.raises(requests.ConnectionError):
        requests.get(alb["url"] + "/gone", timeout=3)


class SlowUpstream(Upstream):
    """An upstream whose /slow answers after a second."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import threading
        self.seen = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path != "/health":
                    seen.append({"path": self.path, "headers": dict(self.headers), "body": b""})
                if self.path == "/slow":
                    time.sleep(1.5)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_least_outstanding_requests_avoids_the_busy_target(elbv2):
    import threading
    ups = [SlowUpstream(), SlowUpstream()]
    try:
        tg = elbv2.create_target_group(Name=unique("lor"), Protocol="HTTP", Port=ups[0].port, VpcId="vpc-1",
                                       TargetType="ip")["TargetGroups"][0]
        arn = tg["TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1", "Port": u.port} for u in ups])
        elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"}])
        lb = elbv2.create_load_balancer(Name=unique("lor"), Subnets=["subnet-1"])["LoadBalancers"][0]
        elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}])
        url = f"http://{lb['DNSName']}"
        slow = threading.Thread(target=lambda: requests.get(url + "/slow", timeout=10))
        slow.start()
        time.sleep(0.4)
        busy = 0 if any(s["path"] == "/slow" for s in ups[0].seen) else 1
        for i in range(4):
            assert requests.get(url + f"/quick-{i}", timeout=10).status_code == 200
        slow.join()
        quick_on_busy = [s for s in ups[busy].seen if s["path"].startswith("/quick-")]
        assert quick_on_busy == []
        elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    finally:
        for u in ups:
            u.close()



def _wait_state(elbv2, tg, want, timeout=20):
    state = None
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        state = d[0]["TargetHealth"]["State"] if d else None
        if state == want:
            return state
        time.sleep(0.25)
    return state


def test_modify_target_group_health_checks_are_applied(elbv2, upstream):
    a = make_alb(elbv2, upstream, HealthCheckPath="/health", HealthCheckIntervalSeconds=5)
    tg = a["tg"]["TargetGroupArn"]
    assert _wait_state(elbv2, tg, "healthy") == "healthy"
    # The upstream answers 200: a matcher of 204 fails every check from now on.
    elbv2.modify_target_group(TargetGroupArn=tg, Matcher={"HttpCode": "204"}, UnhealthyThresholdCount=2,
                              HealthyThresholdCount=2)
    assert _wait_state(elbv2, tg, "unhealthy") == "unhealthy"
    elbv2.modify_target_group(TargetGroupArn=tg, Matcher={"HttpCode": "200"})
    assert _wait_state(elbv2, tg, "healthy") == "healthy"
    elbv2.delete_load_balancer(LoadBalancerArn=a["lb"]["LoadBalancerArn"])


def test_idle_timeout_answers_504_and_xff_client_port(elbv2):
    up = SlowUpstream()
    try:
        tg = elbv2.create_target_group(Name=unique("idle"), Protocol="HTTP", Port=up.port, VpcId="vpc-1",
                                       TargetType="ip")["TargetGroups"][0]
        elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "127.0.0.1", "Port": up.port}])
        lb = elbv2.create_load_balancer(Name=unique("idle"), Subnets=["subnet-1"])["LoadBalancers"][0]
        arn = lb["LoadBalancerArn"]
        elbv2.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
        url = f"http://{lb['DNSName']}"
        assert requests.get(url + "/slow", timeout=10).status_code == 200
        elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
            {"Key": "idle_timeout.timeout_seconds", "Value": "1"},
            {"Key": "routing.http.xff_client_port.enabled", "Value": "true"}])
        assert requests.get(url + "/slow", timeout=10).status_code == 504
        with requests.Session() as s:
            r = s.get(url + "/port", timeout=10)
            assert r.status_code == 200
        xff = {k.lower(): v for k, v in [x for x in up.seen if x["path"] == "/port"][-1]["headers"].items()}
        ip, port = xff["x-forwarded-for"].rsplit(":", 1)
        assert ip == "127.0.0.1" and int(port) > 0
        elbv2.delete_load_balancer(LoadBalancerArn=arn)
    finally:
        up.close()
