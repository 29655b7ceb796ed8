"""Issue 13, end to end: every OWASP CRS v4 regression test (go-ftw YAML under
`<crs>/tests/regression/tests`) replayed over raw sockets through a Rampart application load
balancer whose web ACL runs `Rampart/OWASPCoreRuleSet` at paranoia level 1 in blocking mode, and
through nginx + ModSecurity v3 loading the same CRS files, in the same run.

Set-up is through the AWS API only (boto3): target group, ALB, listener, web ACL with the CRS
group (version PL1, 403 on 949110/959100), WAF logging to a CloudWatch Logs ARN, association,
and the documented response-inspection tag `rampart:inspect-responses=true`. The target is
go-ftw's `albedo` backend: `/reflect` answers with the status, headers and body named in the
request's JSON; any other path answers 200 with an empty text/plain body.

Each request comes from its own loopback address (127.1.x.y), so the rule ids each proxy logged
for it are found by client address: for Rampart the labels `awswaf:managed:rampart:crs:<id>` of
its WAF log records, for ModSecurity the `[id "..."]` of its nginx error log lines.

Scoring (a test is scored once, on its stages):
- attack: a stage expects (`expect_ids`) a rule that runs at paranoia level 1 and adds to the
  anomaly score; it passes when the proxy answers 403 ("detected"). The response-side rules
  (95x) are scored by their log entries too, since a web server that has sent the response
  headers cannot change the status (nginx's ModSecurity module).
- benign: a stage lists `no_expect_ids` (and expects no PL1 scoring rule); it passes when none of
  those rules is in the proxy's log for it.
- the rest expect only rules above paranoia level 1 (nothing to detect at PL1), or no log
  entries at all (a status only): counted as "not scored" and listed by reason.

Asserted: Rampart detects >= 95% of the PL1 attacks, and its benign pass rate is not below
ModSecurity's (nginx + libnginx-mod-http-modsecurity; skipped when they are missing unless
RAMPART_REQUIRE_MODSEC=1)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import crs_ftw
from conftest import _free_port, _make_server, unique

CRS_DIR = os.environ.get("RAMPART_CRS_DIR", str(Path(__file__).resolve().parents[3] / "shared/crs/v4.28.0"))
if not Path(CRS_DIR, "rules").is_dir():
    CRS_DIR = "/work/shared/crs/v4.28.0"
LOG_GROUP = "aws-waf-logs-crs-replay"
LABEL = "awswaf:managed:rampart:crs:"
ATTACK_FLOOR = 0.95
MODSEC_MODULE = "/usr/lib/nginx/modules/ngx_http_modsecurity_module.so"
WORKERS = 8


class Albedo:
    """go-ftw's backend: `/reflect` reflects the JSON it is sent; anything else is a 200."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, out = 200, {"Content-Type": "text/plain"}, b""
                if self.path.startswith("/reflect"):
                    try:
                        spec = json.loads(body)
                    except ValueError:
                        spec = None
                    if isinstance(spec, dict):
                        status = int(spec.get("status") or 200)
                        for k, v in (spec.get("headers") or {}).items():
                            headers = {n: x for n, x in headers.items() if n.lower() != k.lower()}
                            headers[k] = v if isinstance(v, str) else json.dumps(v)
                        if isinstance(spec.get("body"), str):
                            out = spec["body"].encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def __getattr__(self, name):
                # Every method go-ftw sends (including invented ones) is answered the same way.
                if name.startswith("do_"):
                    return self._answer
                raise AttributeError(name)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


# ------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------


def classify(test, rules):
    """('attack' | 'benign' | 'skip', reason) for a test at paranoia level 1."""
    scoring = []
    for st in test.stages:
        for rid in st.expect:
            r = rules.get(rid)
            if r and (r.paranoia or 1) <= 1 and (r.inbound or r.outbound):
                scoring.append(rid)
    if scoring:
        return "attack", ""
    if any(st.no_expect for st in test.stages):
        return "benign", ""
    if any(st.expect for st in test.stages):
        return "skip", "expects only rules above paranoia level 1 or rules that do not score"
    if any(st.expect_error for st in test.stages):
        return "skip", "expects the web server to refuse the request (expect_error)"
    return "skip", "checks only the HTTP status or log text, no rule id"


def score(tests, rules, answers):
    """answers: stage index -> (status, set of logged ids). Returns per-test verdicts."""
    verdicts = {}
    i = 0
    for t in tests:
        kind, reason = classify(t, rules)
        ok = True
        statuses = []
        for st in t.stages:
            status, ids = answers.get(i, (0, set()))
            statuses.append(status)
            i += 1
            if kind == "attack":
                scored = [r for r in st.expect if r in rules and (rules[r].paranoia or 1) <= 1
                          and (rules[r].inbound or rules[r].outbound)]
                if scored:
                    if t.family == "95x":
                        # The response rule itself must have fired (a 403 from the request
                        # side means the response was never seen).
                        ok &= all(r in ids for r in scored)
                    else:
                        ok &= status == 403
            elif kind == "benign":
                ok &= not any(r in ids for r in st.no_expect)
        verdicts[t.key] = (kind, ok, reason, statuses)
    return verdicts


def table(tests, verdicts):
    rows = defaultdict(lambda: [0, 0, 0, 0, 0])
    for t in tests:
        kind, ok = verdicts[t.key][:2]
        for fam in (t.family, "all"):
            r = rows[fam]
            if kind == "attack":
                r[0] += ok
                r[1] += 1
            elif kind == "benign":
                r[2] += ok
                r[3] += 1
            else:
                r[4] += 1
    return rows


def rate(p, t):
    return p / t if t else 1.0


def render(name, rows):
    lines = [f"{name}: family   attacks detected       benign passed     not scored"]
    for fam in sorted(rows, key=lambda f: (f == "all", f)):
        a, at, b, bt, s = rows[fam]
        lines.append(f"  {fam:<6} {a:>5}/{at:<5} {100 * rate(a, at):6.2f}%   "
                     f"{b:>5}/{bt:<5} {100 * rate(b, bt):6.2f}%   {s}")
    return "\n".join(lines)


def replay(port, tests):
    """Sends every stage (each from its own address); answers index -> (status, source)."""
    jobs = []
    for t in tests:
        for st in t.stages:
            jobs.append((len(jobs), st.raw))

    def one(job):
        n, raw = job
        src = crs_ftw.client_ip(n)
        try:
            return n, crs_ftw.send(port, raw, src), src
        except OSError:
            return n, 0, src

    with ThreadPoolExecutor(WORKERS) as ex:
        return {n: (status, src) for n, status, src in ex.map(one, jobs)}


def stable(read, want_min, timeout=60):
    """Polls read() until it returns at least want_min items and stops growing."""
    deadline = time.time() + timeout
    last, same = None, 0
    while True:
        got = read()
        if last is not None and len(got) == len(last):
            same += 1
        else:
            same = 0
        last = got
        if (len(got) >= want_min and same >= 3) or time.time() > deadline:
            return got
        time.sleep(0.5)


# ------------------------------------------------------------------------------------------
# Rampart
# ------------------------------------------------------------------------------------------


def rampart_run(rampart_bin, tmp_path_factory, tests, upstream):
    server = _make_server(rampart_bin, tmp_path_factory, "crs-replay", dev=True,
                          extra_args=["--waf-crs-dir", CRS_DIR])
    try:
        elb, waf = server.client("elbv2"), server.client("wafv2")
        account = server.client("sts").get_caller_identity()["Account"]
        tg = elb.create_target_group(Name=unique("ftw-tg"), Protocol="HTTP", Port=upstream.port,
                                     VpcId="vpc-1", TargetType="ip",
                                     HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": upstream.port}])
        lb = elb.create_load_balancer(Name=unique("ftw-alb"), Type="application",
                                      Subnets=["subnet-0123abcd", "subnet-4567cdef"])["LoadBalancers"][0]
        port = int(lb["DNSName"].split(":")[1])
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        vis = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "crs"}
        acl = waf.create_web_acl(
            Name="crs-replay", Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=vis,
            Rules=[{"Name": "crs", "Priority": 0, "OverrideAction": {"None": {}}, "VisibilityConfig": vis,
                    "Statement": {"ManagedRuleGroupStatement": {
                        "VendorName": "Rampart", "Name": "OWASPCoreRuleSet", "Version": "PL1"}}}],
            Tags=[{"Key": "rampart:inspect-responses", "Value": "true"}])["Summary"]
        waf.put_logging_configuration(LoggingConfiguration={
            "ResourceArn": acl["ARN"],
            "LogDestinationConfigs": [f"arn:aws:logs:us-east-1:{account}:log-group:{LOG_GROUP}"]})
        waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=lb["LoadBalancerArn"])
        started = time.time()
        answers = replay(port, tests)
        took = time.time() - started
        logged = sum(1 for s, _ in answers.values() if s not in (0, 400))

        def read():
            out = []
            for path in (server.data_dir / "waf-logs").rglob("*"):
                if path.is_file() and LOG_GROUP in str(path):
                    with open(path, encoding="utf-8") as f:
                        out += [json.loads(line) for line in f if line.strip()]
            return out

        by_ip = defaultdict(set)
        for rec in stable(read, logged):
            ip = rec["httpRequest"]["clientIp"]
            for label in rec.get("labels") or []:
                if label["name"].startswith(LABEL):
                    by_ip[ip].add(int(label["name"][len(LABEL):]))
        return {n: (status, by_ip.get(src, set())) for n, (status, src) in answers.items()}, took
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------
# nginx + ModSecurity v3
# ------------------------------------------------------------------------------------------


def modsec_available():
    return shutil.which("nginx") is not None and os.path.exists(MODSEC_MODULE)


def modsec_config(tmp, crs_dir):
    """ModSecurity configured as Rampart's engine is (and as ModSecurity's recommended
    configuration does): engine on, request and response bodies inspected, XML and JSON body
    processors chosen by Content-Type, then CRS's example setup and every rule file."""
    conf = tmp / "modsec.conf"
    conf.write_text("\n".join([
        "SecRuleEngine On",
        "SecRequestBodyAccess On",
        "SecRequestBodyLimit 13107200",
        "SecRequestBodyNoFilesLimit 1048576",
        "SecRequestBodyLimitAction ProcessPartial",
        "SecArgumentsLimit 1000",
        "SecResponseBodyAccess On",
        "SecResponseBodyMimeType text/plain text/html text/xml",
        "SecResponseBodyLimit 1048576",
        "SecResponseBodyLimitAction ProcessPartial",
        "SecAuditEngine Off",
        "SecTmpDir " + str(tmp),
        "SecDataDir " + str(tmp),
        'SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\\+|/)|text/)xml" '
        '"id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"',
        'SecRule REQUEST_HEADERS:Content-Type "^application/json" '
        '"id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"',
        f"Include {crs_dir}/crs-setup.conf.example",
        f"Include {crs_dir}/rules/*.conf",
        "",
    ]))
    return conf


def modsec_run(tests, upstream):
    tmp = Path(tempfile.mkdtemp(prefix="rampart-modsec-"))
    port = _free_port()
    rules = modsec_config(tmp, CRS_DIR)
    (tmp / "nginx.conf").write_text(f"""
load_module {MODSEC_MODULE};
worker_processes 1;
user root;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  client_max_body_size 0;
  large_client_header_buffers 4 64k;
  modsecurity on;
  modsecurity_rules_file {rules};
  upstream albedo {{ server 127.0.0.1:{upstream.port}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{port} default_server;
    server_name _;
    location / {{
      proxy_pass http://albedo;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }}
  }}
}}
""")
    check = subprocess.run(["nginx", "-t", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                           capture_output=True, text=True, timeout=300)
    if check.returncode != 0:
        raise AssertionError(f"nginx + ModSecurity does not load CRS from {CRS_DIR}:\n{check.stderr[-3000:]}")
    proc = subprocess.Popen(["nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while True:
            try:
                crs_ftw.send(port, b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                             "127.0.0.1", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise AssertionError(f"nginx did not start: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.3)
        started = time.time()
        answers = replay(port, tests)
        took = time.time() - started
        line_re = re.compile(r"client: (\d+\.\d+\.\d+\.\d+)")
        id_re = re.compile(r'\[id "(\d+)"\]')

        def read():
            with open(tmp / "error.log", encoding="utf-8", errors="replace") as f:
                return [line for line in f if "ModSecurity" in line]

        by_ip = defaultdict(set)
        for line in stable(read, 1, timeout=10):
            m = line_re.search(line)
            if m:
                by_ip[m.group(1)].update(int(x) for x in id_re.findall(line))
        return {n: (status, by_ip.get(src, set())) for n, (status, src) in answers.items()}, took
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------
# The test
# ------------------------------------------------------------------------------------------


def test_crs_regression_tests_through_the_proxy_and_modsecurity(rampart_bin, tmp_path_factory):
    if not Path(CRS_DIR, "tests/regression/tests").is_dir():
        pytest.skip(f"no OWASP CRS regression tests at {CRS_DIR}")
    tests = crs_ftw.load_tests(CRS_DIR)
    rules = crs_ftw.load_rules(CRS_DIR)
    assert len(tests) > 4000, len(tests)
    upstream = Albedo()
    try:
        r_answers, r_took = rampart_run(rampart_bin, tmp_path_factory, tests, upstream)
        r_verdicts = score(tests, rules, r_answers)
        r_rows = table(tests, r_verdicts)
        out = [render("Rampart (Rampart/OWASPCoreRuleSet, PL1, 403 mode)", r_rows),
               f"  replay took {r_took:.1f} s"]
        m_rows = None
        if modsec_available():
            m_answers, m_took = modsec_run(tests, upstream)
            m_verdicts = score(tests, rules, m_answers)
            m_rows = table(tests, m_verdicts)
            out += [render("nginx + ModSecurity v3 (same CRS files)", m_rows), f"  replay took {m_took:.1f} s"]
            worse = [k for k in r_verdicts if not r_verdicts[k][1] and m_verdicts[k][1]
                     and r_verdicts[k][0] != "skip"]
            m_failed = [f"{k}({kind[0]}:{'/'.join(map(str, st))})" for k, (kind, ok, _, st) in m_verdicts.items()
                        if kind != "skip" and not ok]
            out.append(f"  ModSecurity fails ({len(m_failed)}): " + " ".join(m_failed))
            out.append(f"  scored tests Rampart fails and ModSecurity passes ({len(worse)}): "
                       + " ".join(worse[:80]))
        elif os.environ.get("RAMPART_REQUIRE_MODSEC") == "1":
            pytest.fail(f"nginx or {MODSEC_MODULE} is missing (RAMPART_REQUIRE_MODSEC=1)")
        else:
            out.append("SKIPPED the ModSecurity comparison: nginx or libnginx-mod-http-modsecurity is not installed")
        failed = [f"{k}({kind[0]}:{'/'.join(map(str, st))})" for k, (kind, ok, _, st) in r_verdicts.items()
                  if kind != "skip" and not ok]
        out.append(f"Rampart fails ({len(failed)}; a: attack, b: benign, with the statuses answered): "
                   + " ".join(failed))
        refused = [k for k, (kind, ok, _, st) in r_verdicts.items()
                   if kind == "attack" and not ok and st and all(x == 400 for x in st)]
        out.append(f"  of which attacks refused with 400 by the HTTP parser (never forwarded, not scored "
                   f"as detected): {len(refused)}; counted as stopped, detection would be "
                   f"{100 * rate(r_rows['all'][0] + len(refused), r_rows['all'][1]):.2f}%")
        reasons = defaultdict(list)
        for k, (kind, _, why, _) in r_verdicts.items():
            if kind == "skip":
                reasons[why].append(k)
        for why, keys in sorted(reasons.items()):
            out.append(f"not scored, {why} ({len(keys)}): " + " ".join(keys))
        report = "\n".join(out)
        sys.stderr.write("\n" + report + "\n")
        a, at, b, bt, _ = r_rows["all"]
        assert at > 2000 and bt > 300, report
        assert rate(a, at) >= ATTACK_FLOOR, f"PL1 attack detection {rate(a, at):.4f} < {ATTACK_FLOOR}\n{report}"
        if m_rows is not None:
            _, _, mb, mbt, _ = m_rows["all"]
            assert rate(b, bt) >= rate(mb, mbt), \
                f"benign pass rate {rate(b, bt):.4f} below ModSecurity's {rate(mb, mbt):.4f}\n{report}"
    finally:
        upstream.close()


# ------------------------------------------------------------------------------------------
# Response inspection (CRS 95x on what the target answers)
# ------------------------------------------------------------------------------------------

SQL_ERROR = (b"<html><body>Warning: mysql_fetch_array() expects parameter 1 to be resource. "
             b"You have an error in your SQL syntax; check the manual that corresponds to your MySQL "
             b"server version for the right syntax to use near '' at line 1</body></html>")
PHP_SOURCE = b"<?php\n$db = mysqli_connect('db', 'app', $password);\nif (isset($_GET['id'])) { echo 1; }\n?>"


class Leaky:
    """A target whose pages leak: an SQL error, PHP source, and the SQL error before or after
    the first 64 KiB of a large page."""

    PAGES = {
        "/ok": b"<html><body>Hello, world</body></html>",
        "/sql": SQL_ERROR,
        "/php": PHP_SOURCE,
        "/leak-early": SQL_ERROR + b"<p>" + b"x" * (1 << 20) + b"</p>",
        "/leak-late": b"<p>" + b"x" * (80 * 1024) + b"</p>" + SQL_ERROR,
    }

    def __init__(self):
        pages = self.PAGES

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                out = pages.get(self.path.split("?")[0], b"")
                self.send_response(200 if out else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def get(port, path):
    """(status, body) of a browser-like GET through the load balancer."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request("GET", path, headers={"Host": "shop.example.test", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64)",
                                        "Accept": "text/html,application/xhtml+xml"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_response_rules_block_leaks_when_the_web_acl_inspects_responses(rampart_bin, tmp_path_factory):
    if not Path(CRS_DIR, "rules").is_dir():
        pytest.skip(f"no OWASP CRS at {CRS_DIR}")
    upstream = Leaky()
    server = _make_server(rampart_bin, tmp_path_factory, "crs-responses", dev=True,
                          extra_args=["--waf-crs-dir", CRS_DIR])
    try:
        elb, waf = server.client("elbv2"), server.client("wafv2")
        account = server.client("sts").get_caller_identity()["Account"]
        tg = elb.create_target_group(Name=unique("leak-tg"), Protocol="HTTP", Port=upstream.port,
                                     VpcId="vpc-1", TargetType="ip",
                                     HealthCheckPath="/ok")["TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": upstream.port}])
        lb = elb.create_load_balancer(Name=unique("leak-alb"), Type="application",
                                      Subnets=["subnet-0123abcd", "subnet-4567cdef"])["LoadBalancers"][0]
        port = int(lb["DNSName"].split(":")[1])
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        vis = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "crs"}
        acl = waf.create_web_acl(
            Name="crs-responses", Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=vis,
            Rules=[{"Name": "crs", "Priority": 0, "OverrideAction": {"None": {}}, "VisibilityConfig": vis,
                    "Statement": {"ManagedRuleGroupStatement": {
                        "VendorName": "Rampart", "Name": "OWASPCoreRuleSet"}}}])["Summary"]
        waf.put_logging_configuration(LoggingConfiguration={
            "ResourceArn": acl["ARN"],
            "LogDestinationConfigs": [f"arn:aws:logs:us-east-1:{account}:log-group:{LOG_GROUP}"]})
        waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=lb["LoadBalancerArn"])

        # Without the tag, responses are not inspected (as on AWS).
        assert get(port, "/sql") == (200, SQL_ERROR)

        waf.tag_resource(ResourceARN=acl["ARN"], Tags=[{"Key": "rampart:inspect-responses", "Value": "true"}])
        assert get(port, "/ok") == (200, Leaky.PAGES["/ok"])
        assert get(port, "/sql")[0] == 403
        assert get(port, "/php")[0] == 403
        assert get(port, "/leak-early")[0] == 403
        # Past the first 64 KiB the body streams unchecked, whole.
        assert get(port, "/leak-late") == (200, Leaky.PAGES["/leak-late"])

        def read():
            out = []
            for path in (server.data_dir / "waf-logs").rglob("*"):
                if path.is_file() and LOG_GROUP in str(path):
                    with open(path, encoding="utf-8") as f:
                        out += [json.loads(line) for line in f if line.strip()]
            return out

        records = stable(read, 9, timeout=20)
        blocked = {}
        for r in records:
            if r["action"] == "BLOCK":
                blocked[r["httpRequest"]["uri"]] = r
        assert set(blocked) == {"/sql", "/php", "/leak-early"}, [(r["httpRequest"]["uri"], r["action"]) for r in records]
        for uri, r in blocked.items():
            labels = {x["name"] for x in r.get("labels") or []}
            assert LABEL + "959100" in labels, (uri, labels)
            group = r["ruleGroupList"][0]
            assert group["terminatingRule"]["ruleId"] == "959100"
            leak_ids = {m["ruleId"] for m in group["nonTerminatingMatchingRules"]}
            family = "953" if uri == "/php" else "951"
            assert any(i.startswith(family) for i in leak_ids), (uri, leak_ids)
            assert all(LABEL + i in labels for i in leak_ids)

        # Excluding the leak rules lets the page through again.
        waf_acl = waf.get_web_acl(Name="crs-responses", Scope="REGIONAL", Id=acl["Id"])
        leak = sorted({m["ruleId"] for m in blocked["/sql"]["ruleGroupList"][0]["nonTerminatingMatchingRules"]})
        waf.update_web_acl(
            Name="crs-responses", Scope="REGIONAL", Id=acl["Id"], LockToken=waf_acl["LockToken"],
            DefaultAction={"Allow": {}}, VisibilityConfig=vis,
            Rules=[{"Name": "crs", "Priority": 0, "OverrideAction": {"None": {}}, "VisibilityConfig": vis,
                    "Statement": {"ManagedRuleGroupStatement": {
                        "VendorName": "Rampart", "Name": "OWASPCoreRuleSet",
                        "ExcludedRules": [{"Name": i} for i in leak]}}}])
        assert get(port, "/sql") == (200, SQL_ERROR)
        # And a Count override action only logs.
        waf_acl = waf.get_web_acl(Name="crs-responses", Scope="REGIONAL", Id=acl["Id"])
        waf.update_web_acl(
            Name="crs-responses", Scope="REGIONAL", Id=acl["Id"], LockToken=waf_acl["LockToken"],
            DefaultAction={"Allow": {}}, VisibilityConfig=vis,
            Rules=[{"Name": "crs", "Priority": 0, "OverrideAction": {"Count": {}}, "VisibilityConfig": vis,
                    "Statement": {"ManagedRuleGroupStatement": {
                        "VendorName": "Rampart", "Name": "OWASPCoreRuleSet"}}}])
        assert get(port, "/php") == (200, PHP_SOURCE)
        waf.untag_resource(ResourceARN=acl["ARN"], TagKeys=["rampart:inspect-responses"])
    finally:
        server.stop()
        upstream.close()
