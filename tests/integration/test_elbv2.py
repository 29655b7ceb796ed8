"""ELBv2 (application load balancers) through boto3 and the aws CLI: the control plane, the
reverse proxy on the load balancer's port, listener rules, and the WAFv2 web ACL associated with
the load balancer enforced on the traffic."""
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, REGION, allow, deny, error_code, make_user, policy_doc, unique


class Upstream:
    """A local HTTP server standing for the load balancer's target; it records what reaches it."""

    def __init__(self):
        self.seen = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path != "/health":
                    seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
                out = b"upstream ok " + self.path.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def paths(self):
        return [s["path"] for s in self.seen]

    def close(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def elbv2(server):
    return server.client("elbv2")


@pytest.fixture(scope="module")
def wafv2(server):
    return server.client("wafv2")


@pytest.fixture(scope="module")
def upstream():
    u = Upstream()
    yield u
    u.close()


@pytest.fixture(scope="module")
def alb(elbv2, upstream):
    """A target group with the upstream registered, an ALB and an HTTP listener forwarding to it."""
    tg = elbv2.create_target_group(
        Name=unique("tg"), Protocol="HTTP", Port=upstream.port, VpcId="vpc-1", TargetType="ip",
        HealthCheckPath="/health", HealthCheckIntervalSeconds=5,
    )["TargetGroups"][0]
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"],
                           Targets=[{"Id": "127.0.0.1", "Port": upstream.port}])
    lb = elbv2.create_load_balancer(Name=unique("alb"), Subnets=["subnet-a", "subnet-b"],
                                    Type="application")["LoadBalancers"][0]
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )["Listeners"][0]
    return {"tg": tg, "lb": lb, "listener": listener, "url": f"http://{lb['DNSName']}"}


def test_create_load_balancer_returns_aws_arn_and_a_local_port_dns_name(alb):
    lb = alb["lb"]
    name = lb["LoadBalancerName"]
    assert lb["LoadBalancerArn"].startswith(
        f"arn:aws:elasticloadbalancing:{REGION}:{ADMIN_ACCOUNT}:loadbalancer/app/{name}/")
    assert len(lb["LoadBalancerArn"].rsplit("/", 1)[1]) == 16
    host, port = lb["DNSName"].split(":")
    assert host == "127.0.0.1" and 20000 <= int(port) <= 20999
    assert lb["Type"] == "application"
    assert lb["State"]["Code"] == "active"
    assert alb["listener"]["ListenerArn"].startswith(
        f"arn:aws:elasticloadbalancing:{REGION}:{ADMIN_ACCOUNT}:listener/app/{name}/")


def test_describe_load_balancers_by_name_and_not_found(elbv2, alb):
    got = elbv2.describe_load_balancers(Names=[alb["lb"]["LoadBalancerName"]])["LoadBalancers"]
    assert [g["LoadBalancerArn"] for g in got] == [alb["lb"]["LoadBalancerArn"]]
    with pytest.raises(ClientError) as e:
        elbv2.describe_load_balancers(Names=["no-such-alb"])
    assert error_code(e.value) == "LoadBalancerNotFound"


def test_request_through_the_alb_reaches_the_upstream_with_forwarded_headers(alb, upstream):
    r = requests.get(alb["url"] + "/hello?x=1", timeout=10)
    assert r.status_code == 200
    assert r.text == "upstream ok /hello?x=1"
    seen = [s for s in upstream.seen if s["path"] == "/hello?x=1"][-1]
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == alb["lb"]["DNSName"].split(":")[1]


def test_post_body_is_forwarded_intact(alb, upstream):
    body = b"a" * 100_000
    r = requests.post(alb["url"] + "/upload", data=body, timeout=10)
    assert r.status_code == 200
    assert [s for s in upstream.seen if s["path"] == "/upload"][-1]["body"] == body


def test_target_health_becomes_healthy_after_active_checks(elbv2, alb, upstream):
    arn = alb["tg"]["TargetGroupArn"]
    state = None
    for _ in range(40):
        d = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        state = d[0]["TargetHealth"]["State"]
        if state == "healthy":
            break
        time.sleep(0.25)
    assert state == "healthy"
    assert d[0]["Target"] == {"Id": "127.0.0.1", "Port": upstream.port}


def test_fixed_response_rule_answers_without_the_upstream(elbv2, alb, upstream):
    rule = elbv2.create_rule(
        ListenerArn=alb["listener"]["ListenerArn"], Priority=10,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/maintenance/*"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "503", "ContentType": "text/plain", "MessageBody": "down for maintenance"}}],
    )["Rules"][0]
    assert rule["Priority"] == "10"
    r = requests.get(alb["url"] + "/maintenance/page", timeout=10)
    assert r.status_code == 503 and r.text == "down for maintenance"
    assert "/maintenance/page" not in upstream.paths()
    rules = elbv2.describe_rules(ListenerArn=alb["listener"]["ListenerArn"])["Rules"]
    assert [x["Priority"] for x in rules] == ["10", "default"]
    with pytest.raises(ClientError) as e:
        elbv2.create_rule(
            ListenerArn=alb["listener"]["ListenerArn"], Priority=10,
            Conditions=[{"Field": "path-pattern", "Values": ["/x"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": alb["tg"]["TargetGroupArn"]}])
    assert error_code(e.value) == "PriorityInUse"
    elbv2.delete_rule(RuleArn=rule["RuleArn"])
    assert requests.get(alb["url"] + "/maintenance/page", timeout=10).status_code == 200


def test_target_group_errors(elbv2, alb):
    with pytest.raises(ClientError) as e:
        elbv2.create_target_group(Name=alb["tg"]["TargetGroupName"], Protocol="HTTP", Port=80,
                                  VpcId="vpc-1")
    assert error_code(e.value) == "DuplicateTargetGroupName"
    with pytest.raises(ClientError) as e:
        elbv2.delete_target_group(TargetGroupArn=alb["tg"]["TargetGroupArn"])
    assert error_code(e.value) == "ResourceInUse"
    missing = alb["tg"]["TargetGroupArn"].rsplit("/", 1)[0] + "/0000000000000000"
    with pytest.raises(ClientError) as e:
        elbv2.describe_target_health(TargetGroupArn=missing)
    assert error_code(e.value) == "TargetGroupNotFound"


def test_tags_add_describe_remove(elbv2, alb):
    arn = alb["lb"]["LoadBalancerArn"]
    elbv2.add_tags(ResourceArns=[arn], Tags=[{"Key": "env", "Value": "test"}, {"Key": "a", "Value": "b"}])
    tags = elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"env": "test", "a": "b"}
    elbv2.remove_tags(ResourceArns=[arn], TagKeys=["a"])
    tags = elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    assert tags == [{"Key": "env", "Value": "test"}]


ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1"


@pytest.fixture(scope="module")
def private_root(server):
    """An active ACM-PCA root CA."""
    pca = server.client("acm-pca")
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": "RSA_2048", "SigningAlgorithm": "SHA256WITHRSA",
                                           "Subject": {"CommonName": "ELB Test Root"}},
        CertificateAuthorityType="ROOT",
    )["CertificateAuthorityArn"]
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm="SHA256WITHRSA", TemplateArn=ROOT_TEMPLATE,
        Validity={"Type": "YEARS", "Value": 5},
    )["CertificateArn"]
    pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)["Certificate"]
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=pem)
    return {"arn": arn, "pem": pem}


def test_https_listener_serves_the_acm_private_certificate(server, elbv2, upstream, private_root, tmp_path):
    acm = server.client("acm")
    cert = acm.request_certificate(DomainName="app.example.test",
                                   CertificateAuthorityArn=private_root["arn"])["CertificateArn"]
    tg = elbv2.create_target_group(Name=unique("tls-tg"), Protocol="HTTP", Port=upstream.port,
                                   VpcId="vpc-1", TargetType="ip")["TargetGroups"][0]
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"],
                           Targets=[{"Id": "127.0.0.1", "Port": upstream.port}])
    lb = elbv2.create_load_balancer(Name=unique("tls-alb"), Subnets=["subnet-a"])["LoadBalancers"][0]
    forward = [{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
    with pytest.raises(ClientError) as e:
        elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443,
                              Certificates=[{"CertificateArn": cert[:-4] + "0000"}], DefaultActions=forward)
    assert error_code(e.value) == "CertificateNotFound"
    listener = elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443,
                                     Certificates=[{"CertificateArn": cert}], DefaultActions=forward,
                                     SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06")["Listeners"][0]
    assert listener["Protocol"] == "HTTPS"
    assert lb["LoadBalancerArn"] in acm.describe_certificate(CertificateArn=cert)["Certificate"]["InUseBy"]
    with pytest.raises(ClientError) as e:
        acm.delete_certificate(CertificateArn=cert)
    assert error_code(e.value) == "ResourceInUseException"

    ca = tmp_path / "ca.pem"
    ca.write_text(private_root["pem"])
    port = lb["DNSName"].split(":")[1]
    with requests.Session() as s:
        s.mount("https://", _HostAdapter("app.example.test", "127.0.0.1"))
        r = s.get(f"https://app.example.test:{port}/secure", verify=str(ca), timeout=10)
    assert r.status_code == 200 and r.text == "upstream ok /secure"
    seen = [x for x in upstream.seen if x["path"] == "/secure"][-1]
    assert {k.lower(): v for k, v in seen["headers"].items()}["x-forwarded-proto"] == "https"
    # SNI: an extra certificate is presented to clients asking for its name.
    other = acm.request_certificate(DomainName="other.example.test",
                                    CertificateAuthorityArn=private_root["arn"])["CertificateArn"]
    added = elbv2.add_listener_certificates(ListenerArn=listener["ListenerArn"],
                                            Certificates=[{"CertificateArn": other}])["Certificates"]
    assert added == [{"CertificateArn": other, "IsDefault": False}]
    listed = elbv2.describe_listener_certificates(ListenerArn=listener["ListenerArn"])["Certificates"]
    assert listed == [{"CertificateArn": cert, "IsDefault": True}, {"CertificateArn": other, "IsDefault": False}]
    for name in ("other.example.test", "app.example.test"):
        with requests.Session() as s:
            s.mount("https://", _HostAdapter(name, "127.0.0.1"))
            r = s.get(f"https://{name}:{port}/sni", verify=str(ca), timeout=10)
        assert r.status_code == 200, name
    with pytest.raises(ClientError) as e:
        elbv2.remove_listener_certificates(ListenerArn=listener["ListenerArn"],
                                           Certificates=[{"CertificateArn": cert}])
    assert error_code(e.value) == "OperationNotPermitted"
    elbv2.remove_listener_certificates(ListenerArn=listener["ListenerArn"],
                                       Certificates=[{"CertificateArn": other}])
    with requests.Session() as s:
        s.mount("https://", _HostAdapter("other.example.test", "127.0.0.1"))
        with pytest.raises(requests.exceptions.SSLError):
            s.get(f"https://other.example.test:{port}/sni", verify=str(ca), timeout=10)
    # A renewed certificate is served on the next connection, without a restart.
    def served_serial():
        import socket
        import ssl
        ctx = ssl.create_default_context(cafile=str(ca))
        with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="app.example.test") as tls:
                der = tls.getpeercert(binary_form=True)
        import hashlib
        return hashlib.sha256(der).hexdigest()

    before = served_serial()
    acm.renew_certificate(CertificateArn=cert)
    assert served_serial() != before
    # The same port has no HTTP listener for this load balancer.
    assert requests.get(f"http://{lb['DNSName']}/", timeout=5).status_code == 503
    # A client that does not trust the private CA refuses the connection.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://127.0.0.1:{port}/secure", timeout=5)


class _HostAdapter(requests.adapters.HTTPAdapter):
    """Connects to `ip` for `host` (TLS still verifies `host`), like curl --resolve."""

    def __init__(self, host, ip):
        self.host, self.ip = host, ip
        super().__init__()

    def send(self, request, **kw):
        from urllib.parse import urlparse
        u = urlparse(request.url)
        if u.hostname == self.host:
            request.url = request.url.replace(f"//{self.host}", f"//{self.ip}", 1)
            request.headers["Host"] = u.netloc
            self.poolmanager.connection_pool_kw["server_hostname"] = self.host
            self.poolmanager.connection_pool_kw["assert_hostname"] = self.host
        return super().send(request, **kw)


def test_web_acl_on_the_alb_blocks_sqli_and_ip_set_and_forwards_benign(elbv2, wafv2, alb, upstream):
    ip_set = wafv2.create_ip_set(Name=unique("bad-ips"), Scope="REGIONAL", IPAddressVersion="IPV4",
                                 Addresses=["203.0.113.0/24"])["Summary"]
    vis = lambda n: {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": False, "MetricName": n}
    acl = wafv2.create_web_acl(
        Name=unique("acl"), Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=vis("acl"),
        Rules=[
            {"Name": "sqli", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis("sqli"),
             "Statement": {"SqliMatchStatement": {
                 "FieldToMatch": {"QueryString": {}},
                 "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}]}}},
            {"Name": "bad-ips", "Priority": 2, "Action": {"Block": {}}, "VisibilityConfig": vis("ips"),
             "Statement": {"IPSetReferenceStatement": {
                 "ARN": ip_set["ARN"],
                 "IPSetForwardedIPConfig": {"HeaderName": "X-Forwarded-For",
                                            "FallbackBehavior": "NO_MATCH", "Position": "FIRST"}}}},
            {"Name": "sqli-body", "Priority": 3, "Action": {"Block": {}}, "VisibilityConfig": vis("body"),
             "Statement": {"SqliMatchStatement": {
                 "FieldToMatch": {"Body": {"OversizeHandling": "CONTINUE"}},
                 "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}]}}},
        ],
    )["Summary"]
    wafv2.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=alb["lb"]["LoadBalancerArn"])

    r = requests.get(alb["url"] + "/item?id=42", timeout=10)
    assert r.status_code == 200 and r.text == "upstream ok /item?id=42"

    attack = "/item?id=1' OR '1'='1"
    r = requests.get(alb["url"] + "/item", params={"id": "1' OR '1'='1"}, timeout=10)
    assert r.status_code == 403
    assert not any(p.startswith("/item?id=1") for p in upstream.paths()), attack

    r = requests.post(alb["url"] + "/form", data="id=1' OR '1'='1", timeout=10)
    assert r.status_code == 403
    assert "/form" not in upstream.paths()
    big = b"b" * 200_000  # far beyond the 8 KB inspected: the rest still streams to the target
    r = requests.post(alb["url"] + "/big-form", data=big, timeout=10)
    assert r.status_code == 200
    assert [x for x in upstream.seen if x["path"] == "/big-form"][-1]["body"] == big

    r = requests.get(alb["url"] + "/from-bad-ip", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10)
    assert r.status_code == 403
    assert "/from-bad-ip" not in upstream.paths()
    r = requests.get(alb["url"] + "/from-good-ip", headers={"X-Forwarded-For": "198.51.100.1"}, timeout=10)
    assert r.status_code == 200

    # A change to the IP set reaches the proxy without re-associating the web ACL.
    got = wafv2.get_ip_set(Name=ip_set["Name"], Scope="REGIONAL", Id=ip_set["Id"])
    wafv2.update_ip_set(Name=ip_set["Name"], Scope="REGIONAL", Id=ip_set["Id"],
                        Addresses=["198.51.100.0/24"], LockToken=got["LockToken"])
    time.sleep(1.2)
    r = requests.get(alb["url"] + "/from-good-ip", headers={"X-Forwarded-For": "198.51.100.1"}, timeout=10)
    assert r.status_code == 403

    wafv2.disassociate_web_acl(ResourceArn=alb["lb"]["LoadBalancerArn"])
    r = requests.get(alb["url"] + "/item", params={"id": "1' OR '1'='1"}, timeout=10)
    assert r.status_code == 200


def test_cli_creates_and_deletes_a_load_balancer_which_frees_its_port(server):
    name = unique("cli-alb")
    out = server.cli("elbv2", "create-load-balancer", "--name", name, "--subnets", "subnet-a", "subnet-b")
    assert out.returncode == 0, out.stderr
    lb = json.loads(out.stdout)["LoadBalancers"][0]
    url = f"http://{lb['DNSName']}/"
    assert requests.get(url, timeout=5).status_code == 503  # no listener yet
    out = server.cli("elbv2", "delete-load-balancer", "--load-balancer-arn", lb["LoadBalancerArn"])
    assert out.returncode == 0, out.stderr
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, timeout=5)
    out = server.cli("elbv2", "describe-load-balancers", "--names", name)
    assert out.returncode != 0 and "LoadBalancerNotFound" in out.stderr


def test_every_operation_of_the_model_answers(elbv2):
    # No operation answers 501 any more (test_elbv2_api.py covers each one).
    assert elbv2.describe_ssl_policies()["SslPolicies"]


def test_host_header_rule_and_modify_listener_default_action(elbv2, alb, upstream):
    rule = elbv2.create_rule(
        ListenerArn=alb["listener"]["ListenerArn"], Priority=20,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["*.blocked.test"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "MessageBody": "no"}}],
    )["Rules"][0]
    r = requests.get(alb["url"] + "/h", headers={"Host": "a.BLOCKED.test"}, timeout=10)
    assert r.status_code == 404 and r.text == "no"
    assert requests.get(alb["url"] + "/h", headers={"Host": "ok.test"}, timeout=10).status_code == 200
    elbv2.delete_rule(RuleArn=rule["RuleArn"])

    fixed = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "fixed"}}]
    out = elbv2.modify_listener(ListenerArn=alb["listener"]["ListenerArn"], DefaultActions=fixed)["Listeners"][0]
    assert out["DefaultActions"][0]["Type"] == "fixed-response"
    assert requests.get(alb["url"] + "/any", timeout=10).text == "fixed"
    forward = [{"Type": "forward", "TargetGroupArn": alb["tg"]["TargetGroupArn"]}]
    elbv2.modify_listener(ListenerArn=alb["listener"]["ListenerArn"], DefaultActions=forward)
    assert requests.get(alb["url"] + "/any", timeout=10).text == "upstream ok /any"


def test_http2_clients_and_oversized_headers(alb):
    out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                          alb["url"] + "/h2"], capture_output=True, text=True, timeout=20)
    assert out.stdout == "2 200", out
    r = requests.get(alb["url"] + "/big", headers={"X-Big": "a" * 100_000}, timeout=10)
    assert r.status_code == 431


def test_load_balancer_survives_kill9_on_the_same_port(server_factory, upstream):
    srv = server_factory("elb-restart", extra_env={"RAMPART_ELB_PORTS": "21500-21599"})
    elbv2 = srv.client("elbv2")
    tg = elbv2.create_target_group(Name=unique("rtg"), Protocol="HTTP", Port=upstream.port, VpcId="vpc-1",
                                   TargetType="ip")["TargetGroups"][0]
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "127.0.0.1"}])
    lb = elbv2.create_load_balancer(Name=unique("ralb"), Subnets=["subnet-a"])["LoadBalancers"][0]
    assert 21500 <= int(lb["DNSName"].split(":")[1]) <= 21599
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    srv.kill9_and_restart()
    elbv2 = srv.client("elbv2")
    again = elbv2.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][0]
    assert again["DNSName"] == lb["DNSName"]
    r = requests.get(f"http://{lb['DNSName']}/after-restart", timeout=10)
    assert r.status_code == 200 and r.text == "upstream ok /after-restart"


def test_custom_block_response_and_inserted_headers(elbv2, wafv2, alb, upstream):
    vis = lambda n: {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": n}
    acl = wafv2.create_web_acl(
        Name=unique("custom"), Scope="REGIONAL", VisibilityConfig=vis("acl"),
        DefaultAction={"Allow": {"CustomRequestHandling": {"InsertHeaders": [{"Name": "checked", "Value": "yes"}]}}},
        CustomResponseBodies={"slow": {"ContentType": "TEXT_PLAIN", "Content": "slow down"}},
        Rules=[{"Name": "admin", "Priority": 1, "VisibilityConfig": vis("admin"),
                "Action": {"Block": {"CustomResponse": {
                    "ResponseCode": 429, "CustomResponseBodyKey": "slow",
                    "ResponseHeaders": [{"Name": "reason", "Value": "admin"}]}}},
                "Statement": {"ByteMatchStatement": {
                    "SearchString": "/admin", "FieldToMatch": {"UriPath": {}},
                    "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
                    "PositionalConstraint": "STARTS_WITH"}}}],
    )["Summary"]
    wafv2.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=alb["lb"]["LoadBalancerArn"])
    try:
        r = requests.get(alb["url"] + "/ADMIN/panel", timeout=10)
        assert r.status_code == 429 and r.text == "slow down"
        assert r.headers["reason"] == "admin"  # response headers are sent as named, unlike inserted ones
        assert "/ADMIN/panel" not in upstream.paths()
        r = requests.get(alb["url"] + "/public", timeout=10)
        assert r.status_code == 200
        seen = [x for x in upstream.seen if x["path"] == "/public"][-1]
        assert {k.lower(): v for k, v in seen["headers"].items()}["x-amzn-waf-checked"] == "yes"
    finally:
        wafv2.disassociate_web_acl(ResourceArn=alb["lb"]["LoadBalancerArn"])


def test_iam_policies_govern_elasticloadbalancing_actions(server, alb):
    iam = server.client("iam")
    _, key = make_user(iam, inline=policy_doc(allow("elasticloadbalancing:Describe*"),
                                              deny("elasticloadbalancing:DeleteLoadBalancer")))
    for _ in range(50):
        try:
            elb = server.client("elbv2", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
            elb.describe_load_balancers()
            break
        except ClientError:
            time.sleep(0.1)
    names = [x["LoadBalancerName"] for x in elb.describe_load_balancers()["LoadBalancers"]]
    assert alb["lb"]["LoadBalancerName"] in names
    with pytest.raises(ClientError) as e:
        elb.delete_load_balancer(LoadBalancerArn=alb["lb"]["LoadBalancerArn"])
    assert error_code(e.value) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        elb.create_target_group(Name=unique("x"), Protocol="HTTP", Port=80, VpcId="vpc-1")
    assert error_code(e.value) == "AccessDenied"


def test_malformed_requests_and_dead_targets_get_http_errors(elbv2, alb):
    import socket
    host, port = alb["lb"]["DNSName"].split(":")
    for junk in (b"\x00\x01garbage\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                 b"\x16\x03\x01\x00\x05hello"):
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(junk)
            try:
                reply = s.recv(200)
            except (ConnectionResetError, socket.timeout):
                reply = b""
        assert reply == b"" or reply.startswith(b"HTTP/1.1 4"), reply
    dead = elbv2.create_target_group(Name=unique("dead"), Protocol="HTTP", Port=9, VpcId="vpc-1",
                                     TargetType="ip")["TargetGroups"][0]
    elbv2.register_targets(TargetGroupArn=dead["TargetGroupArn"], Targets=[{"Id": "127.0.0.1", "Port": 1}])
    rule = elbv2.create_rule(
        ListenerArn=alb["listener"]["ListenerArn"], Priority=30,
        Conditions=[{"Field": "path-pattern", "Values": ["/dead/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": dead["TargetGroupArn"]}])["Rules"][0]
    try:
        assert requests.get(alb["url"] + "/dead/x", timeout=10).status_code == 502
        assert requests.get(alb["url"] + "/alive", timeout=10).status_code == 200
    finally:
        elbv2.delete_rule(RuleArn=rule["RuleArn"])


def test_describe_calls_paginate_with_page_size_and_marker(elbv2, alb):
    elbv2.create_target_group(Name=unique("pg"), Protocol="HTTP", Port=80, VpcId="vpc-1")
    everything = [t["TargetGroupArn"] for t in elbv2.describe_target_groups()["TargetGroups"]]
    assert len(everything) >= 2
    first = elbv2.describe_target_groups(PageSize=1)
    assert len(first["TargetGroups"]) == 1 and first["NextMarker"]
    pages = elbv2.get_paginator("describe_target_groups").paginate(PaginationConfig={"PageSize": 1})
    assert [t["TargetGroupArn"] for p in pages for t in p["TargetGroups"]] == everything
    with pytest.raises(ClientError) as e:
        elbv2.describe_target_groups(Marker="not-a-marker")
    assert error_code(e.value) == "ValidationError"


def test_managed_core_rule_set_on_the_alb_blocks_path_traversal(elbv2, wafv2, alb, upstream):
    vis = lambda n: {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": False, "MetricName": n}
    acl = wafv2.create_web_acl(
        Name=unique("crs"), Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=vis("acl"),
        Rules=[{"Name": "core", "Priority": 0, "OverrideAction": {"None": {}}, "VisibilityConfig": vis("core"),
                "Statement": {"ManagedRuleGroupStatement": {
                    "VendorName": "Rampart", "Name": "RampartCommonRuleSet"}}}],
    )["Summary"]
    wafv2.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=alb["lb"]["LoadBalancerArn"])
    try:
        r = requests.get(alb["url"] + "/docs", params={"file": "guides/intro.md"}, timeout=10)
        assert r.status_code == 200, r.text
        r = requests.get(alb["url"] + "/download", params={"file": "../../../../etc/passwd"}, timeout=10)
        assert r.status_code == 403
        r = requests.get(alb["url"] + "/static/..%2f..%2f..%2fetc%2fpasswd", timeout=10)
        assert r.status_code == 403
        assert not any(p.startswith(("/download", "/static")) for p in upstream.paths())
    finally:
        wafv2.disassociate_web_acl(ResourceArn=alb["lb"]["LoadBalancerArn"])
