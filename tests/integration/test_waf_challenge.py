"""CAPTCHA and Challenge rule actions on the load balancer: the 202 interstitial with its proof of
work, the 405 puzzle, the aws-waf-token cookie (MAC'd, bound to the host, expiring with the
immunity time on the dev clock), and Rampart's verify endpoints under /.rampart-waf/."""
import hashlib
import json
import re
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import unique

VERIFY = "/.rampart-waf/challenge/verify"
CAPTCHA_VERIFY = "/.rampart-waf/captcha/verify"


class Upstream:
    """A local target that records the paths reaching it."""

    def __init__(self):
        self.paths = []
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if self.path != "/health":
                    paths.append(self.path)
                out = b"upstream ok " + self.path.encode()
                self.send_response(200)
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


def vis(name):
    return {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": name}


def prefix_rule(name, priority, prefix, action, **extra):
    return {"Name": name, "Priority": priority, "Action": action, "VisibilityConfig": vis(name),
            "Statement": {"ByteMatchStatement": {
                "SearchString": prefix.encode(), "FieldToMatch": {"UriPath": {}},
                "PositionalConstraint": "STARTS_WITH",
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}, **extra}


@pytest.fixture(scope="module")
def site(dev_server):
    elbv2 = dev_server.client("elbv2")
    waf = dev_server.client("wafv2")
    up = Upstream()
    tg = elbv2.create_target_group(Name=unique("tg"), Protocol="HTTP", Port=up.port, VpcId="vpc-1",
                                   TargetType="ip", HealthCheckPath="/health")["TargetGroups"][0]
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "127.0.0.1", "Port": up.port}])
    lb = elbv2.create_load_balancer(Name=unique("alb"), Subnets=["subnet-a", "subnet-b"],
                                    Type="application")["LoadBalancers"][0]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    acl = waf.create_web_acl(
        Name=unique("acl"), Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=vis("acl"),
        ChallengeConfig={"ImmunityTimeProperty": {"ImmunityTime": 300}},
        Rules=[prefix_rule("challenge-app", 1, "/app", {"Challenge": {}}),
               prefix_rule("captcha-buy", 2, "/buy", {"Captcha": {}})],
    )["Summary"]
    waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=lb["LoadBalancerArn"])
    yield {"url": f"http://{lb['DNSName']}", "upstream": up, "server": dev_server, "waf": waf,
           "lb": lb, "acl": acl}
    up.httpd.shutdown()


def challenge_of(page):
    m = re.search(r'data-challenge="([^"]+)" data-difficulty="(\d+)" data-verify="([^"]+)"', page)
    assert m, page[:500]
    return m.group(1), int(m.group(2)), m.group(3)


def solve(challenge, bits):
    for nonce in range(1 << 26):
        d = int.from_bytes(hashlib.sha256(f"{challenge}:{nonce}".encode()).digest(), "big")
        if d >> (256 - bits) == 0:
            return str(nonce)
    raise AssertionError("no nonce")


def get_token(site, path="/app/x"):
    r = requests.get(site["url"] + path, timeout=10)
    assert r.status_code == 202
    c, bits, verify = challenge_of(r.text)
    r = requests.post(site["url"] + verify, json={"challenge": c, "nonce": solve(c, bits)}, timeout=10)
    assert r.status_code == 200, r.text
    return r.cookies["aws-waf-token"]


def test_challenge_answers_202_and_solved_work_lets_the_request_through(site):
    up = site["upstream"]
    r = requests.get(site["url"] + "/app/page?q=1", timeout=10)
    assert r.status_code == 202
    assert r.headers["x-amzn-waf-action"] == "challenge"
    assert "text/html" in r.headers["content-type"]
    assert "/app/page?q=1" not in up.paths
    c, bits, verify = challenge_of(r.text)
    assert verify == VERIFY and bits >= 8

    # A browser-like session: solve the work, post it, the cookie comes back, the page reloads.
    s = requests.Session()
    r = s.post(site["url"] + verify, json={"challenge": c, "nonce": solve(c, bits)}, timeout=10)
    assert r.status_code == 200
    assert "aws-waf-token" in r.headers["set-cookie"]
    r = s.get(site["url"] + "/app/page?q=1", timeout=10)
    assert r.status_code == 200 and r.text == "upstream ok /app/page?q=1"
    assert "/app/page?q=1" in up.paths
    # Other paths are not affected either way.
    assert requests.get(site["url"] + "/open", timeout=10).status_code == 200


def test_wrong_or_foreign_work_is_refused(site):
    r = requests.get(site["url"] + "/app/x", timeout=10)
    c, bits, verify = challenge_of(r.text)
    nonce = solve(c, bits)
    bad = next(str(n) for n in range(1000)
               if int.from_bytes(hashlib.sha256(f"{c}:{n}".encode()).digest(), "big") >> (256 - bits) != 0)
    r = requests.post(site["url"] + verify, json={"challenge": c, "nonce": bad}, timeout=10)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    # A challenge whose payload was altered no longer carries its MAC.
    body, tag = c.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + tag
    r = requests.post(site["url"] + verify, json={"challenge": forged, "nonce": solve(forged, bits)}, timeout=10)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    # The work is bound to the host the challenge was issued for.
    r = requests.post(site["url"] + verify, json={"challenge": c, "nonce": nonce},
                      headers={"Host": "elsewhere.example"}, timeout=10)
    assert r.status_code == 403
    r = requests.post(site["url"] + verify, data="not json", timeout=10)
    assert r.status_code == 400


def test_forged_cookie_is_challenged_again(site):
    token = get_token(site)
    assert requests.get(site["url"] + "/app/ok", cookies={"aws-waf-token": token}, timeout=10).status_code == 200
    body, tag = token.split(".")
    for forged in (body + "." + tag[:-2] + ("AA" if tag[-2:] != "AA" else "BB"),
                   body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + tag,
                   "garbage", ""):
        r = requests.get(site["url"] + "/app/ok", cookies={"aws-waf-token": forged}, timeout=10)
        assert r.status_code == 202, forged
    # The token is bound to its domain: on another host it proves nothing.
    r = requests.get(site["url"] + "/app/ok", cookies={"aws-waf-token": token},
                     headers={"Host": "other.example"}, timeout=10)
    assert r.status_code == 202


def test_token_expires_with_the_immunity_time_on_the_dev_clock(site):
    token = get_token(site)
    jar = {"aws-waf-token": token}
    assert requests.get(site["url"] + "/app/t", cookies=jar, timeout=10).status_code == 200
    site["server"].advance_clock(200)
    assert requests.get(site["url"] + "/app/t", cookies=jar, timeout=10).status_code == 200
    site["server"].advance_clock(150)
    r = requests.get(site["url"] + "/app/t", cookies=jar, timeout=10)
    assert r.status_code == 202 and r.headers["x-amzn-waf-action"] == "challenge"
    # A fresh solution works again.
    fresh = get_token(site)
    assert requests.get(site["url"] + "/app/t", cookies={"aws-waf-token": fresh}, timeout=10).status_code == 200


def test_captcha_answers_405_with_a_puzzle_and_refuses_wrong_answers(site):
    up = site["upstream"]
    r = requests.get(site["url"] + "/buy/item?id=3", timeout=10)
    assert r.status_code == 405
    assert r.headers["x-amzn-waf-action"] == "captcha"
    assert "<svg" in r.text and "<text" not in r.text
    assert "/buy/item?id=3" not in up.paths
    puzzle = re.search(r'name="puzzle" value="([^"]+)"', r.text).group(1)
    back = re.search(r'name="return" value="([^"]+)"', r.text).group(1)
    assert back == "/buy/item?id=3"
    for answer in ("AAAAA", "", "x" * 5):
        r = requests.post(site["url"] + CAPTCHA_VERIFY, data={"puzzle": puzzle, "answer": answer, "return": back},
                          allow_redirects=False, timeout=10)
        assert r.status_code == 405 and "set-cookie" not in r.headers
        assert r.headers["x-amzn-waf-action"] == "captcha"
    # A challenge token does not satisfy a CAPTCHA rule.
    token = get_token(site)
    r = requests.get(site["url"] + "/buy/item?id=3", cookies={"aws-waf-token": token}, timeout=10)
    assert r.status_code == 405
    assert "/buy/item?id=3" not in up.paths


def test_the_pages_javascript_solves_the_challenge(site):
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed")
    r = requests.get(site["url"] + "/app/js", timeout=10)
    c, bits, verify = challenge_of(r.text)
    script = re.search(r"<script>(.*)</script>", r.text, re.S).group(1)
    prog = script + f"\nconsole.log(module.exports.solve({json.dumps(c)}, {bits}));"
    out = subprocess.run([node, "-e", prog], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    r = requests.post(site["url"] + verify, json={"challenge": c, "nonce": out.stdout.strip()}, timeout=10)
    assert r.status_code == 200


def test_endpoints_exist_only_with_a_web_acl(site):
    r = requests.get(site["url"] + VERIFY, timeout=10)
    assert r.status_code == 404
    site["waf"].disassociate_web_acl(ResourceArn=site["lb"]["LoadBalancerArn"])
    time.sleep(1.2)  # the proxy re-reads the association after at most a second
    try:
        r = requests.post(site["url"] + VERIFY, json={}, timeout=10)
        assert r.status_code == 404
    finally:
        site["waf"].associate_web_acl(WebACLArn=site["acl"]["ARN"], ResourceArn=site["lb"]["LoadBalancerArn"])
