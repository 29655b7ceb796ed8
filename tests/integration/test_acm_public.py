"""ACM public certificates through ACME, against Debian's pebble test CA: DNS validation (the
TXT record DescribeCertificate shows is published in pebble-challtestsrv's mock DNS), HTTP
validation (pebble fetches the token from Rampart's own http-01 responder), the
certificate_validated waiter, the chain verified with openssl against pebble's root, export
refused, managed renewal on the clock with its event, and failed validation.

Pebble runs with real validation (PEBBLE_VA_ALWAYS_VALID unset) and resolves every name through
pebble-challtestsrv (default A record 127.0.0.1), whose DNS Rampart also asks before it answers
a dns-01 challenge."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import error_code

if shutil.which("pebble") is None and os.environ.get("RAMPART_REQUIRE_PEBBLE") == "1":
    raise RuntimeError("RAMPART_REQUIRE_PEBBLE=1 but pebble is not installed (Debian package pebble)")
pytestmark = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble is not installed")


def free_ports(n):
    """n distinct free ports: every socket stays bound until all are chosen, so no two match."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_port(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"port {port} never opened")


def wait_until(pred, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return pred()


def openssl(*args):
    r = subprocess.run(["openssl", *args], capture_output=True, timeout=60)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


class Pebble:
    def __init__(self, tmp):
        self.tmp = tmp
        # The TLS certificate of pebble's ACME listener, from a throwaway CA.
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(tmp / "ca.key"), "-out", str(tmp / "ca.pem"), "-days", "2",
                "-subj", "/CN=pebble test CA")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "tls.csr"), "-subj", "/CN=localhost")
        (tmp / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", str(tmp / "tls.csr"), "-CA", str(tmp / "ca.pem"), "-CAkey",
                str(tmp / "ca.key"), "-CAcreateserial", "-out", str(tmp / "cert.pem"), "-days", "2",
                "-extfile", str(tmp / "ext.cnf"))
        self.ca_file = tmp / "ca.pem"
        self.procs = []

    def start(self):
        """Starts challtestsrv and pebble; a port taken between choosing and binding (another
        process's ephemeral connection) makes one of them exit, so that is retried on new ports."""
        last = None
        for _ in range(3):
            try:
                return self._start_once()
            except AssertionError as e:
                last = e
                self.stop()
                self.procs = []
        raise AssertionError(f"{last}\npebble log:\n{self.log()}\nchalltestsrv log:\n"
                             f"{(self.tmp / 'challtestsrv.log').read_text(errors='replace')[-2000:]}")

    def _start_once(self):
        (self.dns_port, self.dns_mgmt, self.acme_port, self.mgmt_port, self.http01_port,
         tls_port) = free_ports(6)
        tmp = self.tmp
        self.procs.append(subprocess.Popen(
            ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{self.dns_port}", "-management",
             f"127.0.0.1:{self.dns_mgmt}", "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
            stdout=open(tmp / "challtestsrv.log", "wb"), stderr=subprocess.STDOUT))
        config = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.acme_port}",
            "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
            "certificate": str(tmp / "cert.pem"), "privateKey": str(tmp / "key.pem"),
            "httpPort": self.http01_port, "tlsPort": tls_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": False,
            # 90 days, as public ACME CAs issue: renewal at a third of the lifetime left.
            "certificateValidityPeriod": 90 * 86400,
        }}
        (tmp / "pebble.json").write_text(json.dumps(config))
        env = {"PATH": "/usr/bin:/bin", "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0",
               "PEBBLE_AUTHZREUSE": "0"}
        self.procs.append(subprocess.Popen(
            ["pebble", "-config", str(tmp / "pebble.json"), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
            env=env, stdout=open(tmp / "pebble.log", "wb"), stderr=subprocess.STDOUT))
        wait_port(self.acme_port)
        wait_port(self.mgmt_port)
        wait_port(self.dns_mgmt)

    def log(self):
        return (self.tmp / "pebble.log").read_text(errors="replace")[-3000:]

    @property
    def directory(self):
        return f"https://localhost:{self.acme_port}/dir"

    def root_pem(self):
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(f"https://localhost:{self.mgmt_port}/roots/0", context=ctx) as r:
            return r.read()

    def set_txt(self, host, value):
        req = urllib.request.Request(f"http://127.0.0.1:{self.dns_mgmt}/set-txt",
                                     data=json.dumps({"host": host, "value": value}).encode(), method="POST")
        urllib.request.urlopen(req).read()

    def clear_txt(self, host):
        req = urllib.request.Request(f"http://127.0.0.1:{self.dns_mgmt}/clear-txt",
                                     data=json.dumps({"host": host}).encode(), method="POST")
        urllib.request.urlopen(req).read()

    def stop(self):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


class _Hook:
    """A webhook target that records the EventBridge events Rampart POSTs to it."""

    def __init__(self):
        import http.server
        import threading

        events = self.events = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                events.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/events"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def types(self):
        return [e["detail-type"] for e in self.events]


@pytest.fixture(scope="module")
def pebble(tmp_path_factory):
    p = Pebble(tmp_path_factory.mktemp("pebble"))
    p.start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def hook():
    h = _Hook()
    yield h
    h.httpd.shutdown()


@pytest.fixture(scope="module")
def srv(server_factory, pebble, hook):
    return server_factory("acm-public", dev=True, extra_env={
        "RAMPART_ACME_DIRECTORY": pebble.directory,
        "RAMPART_ACME_CA_FILE": str(pebble.ca_file),
        "RAMPART_ACME_DNS_RESOLVER": f"127.0.0.1:{pebble.dns_port}",
        "RAMPART_ACME_HTTP01_LISTEN": f"127.0.0.1:{pebble.http01_port}",
        "RAMPART_EVENT_WEBHOOKS": hook.url,
    })


@pytest.fixture(scope="module")
def acm(srv):
    return srv.client("acm")


def dvos(acm, arn):
    return acm.describe_certificate(CertificateArn=arn)["Certificate"].get("DomainValidationOptions", [])


def wait_status(acm, arn, status, timeout=40):
    got = wait_until(lambda: acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == status,
                     timeout)
    assert got, acm.describe_certificate(CertificateArn=arn)["Certificate"]


def test_dns_validated_certificate_is_issued_and_verifies(acm, pebble, tmp_path):
    names = ["www.example.com", "api.example.com"]
    arn = acm.request_certificate(DomainName=names[0], SubjectAlternativeNames=names,
                                  ValidationMethod="DNS")["CertificateArn"]
    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert cert["Type"] == "AMAZON_ISSUED" and cert["Status"] == "PENDING_VALIDATION"
    with pytest.raises(ClientError) as e:
        acm.get_certificate(CertificateArn=arn)
    assert error_code(e.value) == "RequestInProgressException"
    records = wait_until(lambda: all("ResourceRecord" in d for d in dvos(acm, arn)) and dvos(acm, arn))
    assert records, pebble.log()
    assert [d["DomainName"] for d in records] == names
    for d in records:
        assert d["ValidationMethod"] == "DNS" and d["ValidationStatus"] == "PENDING_VALIDATION"
        rr = d["ResourceRecord"]
        assert rr["Name"] == f"_acme-challenge.{d['DomainName']}." and rr["Type"] == "TXT"
        assert len(rr["Value"]) == 43
    # Nothing is answered before the records exist.
    time.sleep(2)
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "PENDING_VALIDATION"
    for d in records:
        pebble.set_txt(d["ResourceRecord"]["Name"], d["ResourceRecord"]["Value"])
    acm.get_waiter("certificate_validated").wait(CertificateArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    wait_status(acm, arn, "ISSUED")
    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert set(cert["SubjectAlternativeNames"]) == set(names) and cert["RenewalEligibility"] == "ELIGIBLE"
    got = acm.get_certificate(CertificateArn=arn)
    (tmp_path / "leaf.pem").write_text(got["Certificate"])
    (tmp_path / "chain.pem").write_text(got["CertificateChain"])
    (tmp_path / "root.pem").write_bytes(pebble.root_pem())
    out = openssl("verify", "-CAfile", str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "chain.pem"),
                  str(tmp_path / "leaf.pem"))
    assert b"OK" in out
    text = openssl("x509", "-in", str(tmp_path / "leaf.pem"), "-noout", "-text").decode()
    assert "DNS:www.example.com" in text and "DNS:api.example.com" in text
    with pytest.raises(ClientError) as e:
        acm.export_certificate(CertificateArn=arn, Passphrase=b"secret-pass")
    assert error_code(e.value) == "ValidationException"
    assert "not a private certificate" in e.value.response["Error"]["Message"]


def test_http_validated_certificate_and_renewal_on_the_clock(acm, srv, pebble, hook):
    arn = acm.request_certificate(DomainName="web.example.org", ValidationMethod="HTTP",
                                  KeyAlgorithm="EC_prime256v1")["CertificateArn"]
    redirect = wait_until(lambda: [d for d in dvos(acm, arn) if "HttpRedirect" in d])
    assert redirect, pebble.log()
    token = redirect[0]["HttpRedirect"]["RedirectFrom"].rsplit("/", 1)[1]
    assert redirect[0]["HttpRedirect"]["RedirectFrom"] == f"http://web.example.org/.well-known/acme-challenge/{token}"
    assert redirect[0]["HttpRedirect"]["RedirectTo"].endswith(f":{pebble.http01_port}/.well-known/acme-challenge/{token}")
    acm.get_waiter("certificate_validated").wait(CertificateArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    wait_status(acm, arn, "ISSUED")
    before = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert before["KeyAlgorithm"] == "EC-prime256v1"  # the wire spelling (issue 12)
    assert (before["NotAfter"] - before["NotBefore"]).days in (89, 90)
    assert "RenewalSummary" not in before

    # 90-day certificates renew when a third of their life is left: not yet at 55 days ...
    srv.advance_clock(55 * 86400)
    srv.advance_clock(3600)
    assert "RenewalSummary" not in acm.describe_certificate(CertificateArn=arn)["Certificate"]
    # ... but at 61 days.
    srv.advance_clock(6 * 86400)
    srv.advance_clock(3600)
    renewed = wait_until(lambda: acm.describe_certificate(CertificateArn=arn)["Certificate"]
                         .get("RenewalSummary", {}).get("RenewalStatus") == "SUCCESS")
    after = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert renewed, (after, pebble.log())
    assert after["Serial"] != before["Serial"] and after["Status"] == "ISSUED"
    assert after["CertificateArn"] == arn
    assert wait_until(lambda: "ACM Certificate Available" in hook.types(), 15), hook.events
    ev = [e for e in hook.events if e["detail-type"] == "ACM Certificate Available"][0]
    assert ev["source"] == "aws.acm" and ev["resources"] == [arn]
    assert ev["detail"]["Action"] == "RENEWAL" and ev["detail"]["CertificateType"] == "AMAZON_ISSUED"


def test_failed_validation_ends_failed(acm, pebble):
    arn = acm.request_certificate(DomainName="wrong.example.net", ValidationMethod="DNS")["CertificateArn"]
    rr = wait_until(lambda: [d["ResourceRecord"] for d in dvos(acm, arn) if "ResourceRecord" in d])
    assert rr, pebble.log()
    pebble.set_txt(rr[0]["Name"], "not-the-key-authorization-digest")
    with pytest.raises(Exception) as e:
        acm.get_waiter("certificate_validated").wait(CertificateArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert "FAILED" in str(e.value) or "failure" in str(e.value).lower()
    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert cert["Status"] == "FAILED" and cert["FailureReason"] == "OTHER"
    assert cert["DomainValidationOptions"][0]["ValidationStatus"] == "FAILED"


def test_validation_times_out_after_72_hours(acm, srv):
    arn = acm.request_certificate(DomainName="never.example.net", ValidationMethod="DNS")["CertificateArn"]
    assert wait_until(lambda: [d for d in dvos(acm, arn) if "ResourceRecord" in d])
    srv.advance_clock(73 * 3600)
    wait_status(acm, arn, "VALIDATION_TIMED_OUT")


def test_email_validation_is_refused(acm):
    with pytest.raises(ClientError) as e:
        acm.request_certificate(DomainName="mail.example.com", ValidationMethod="EMAIL")
    assert error_code(e.value) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        acm.request_certificate(DomainName="mail.example.com")
    assert error_code(e.value) == "InvalidParameterException"


def test_without_a_directory_public_requests_are_not_implemented(server):
    with pytest.raises(ClientError) as e:
        server.client("acm").request_certificate(DomainName="x.example.com", ValidationMethod="DNS")
    assert error_code(e.value) == "NotImplemented"


def presented_serial(port, root_file, name):
    ctx = ssl.create_default_context(cafile=str(root_file))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as tls:
            return tls.getpeercert()["serialNumber"].upper()


def test_tls_listener_presents_an_acm_certificate_and_its_renewal(server_factory, pebble, tmp_path):
    import boto3
    import urllib3
    from conftest import BOTO_CONFIG, REGION
    urllib3.disable_warnings()
    env = {
        "RAMPART_ACME_DIRECTORY": pebble.directory,
        "RAMPART_ACME_CA_FILE": str(pebble.ca_file),
        "RAMPART_ACME_DNS_RESOLVER": f"127.0.0.1:{pebble.dns_port}",
    }
    # DNS validation: the module's first server holds pebble's http-01 port.
    srv = server_factory("acm-tls", dev=True, extra_env=env)
    acm = srv.client("acm")
    arn = acm.request_certificate(DomainName="tls.example.org", ValidationMethod="DNS")["CertificateArn"]
    rr = wait_until(lambda: [d["ResourceRecord"] for d in dvos(acm, arn) if "ResourceRecord" in d])
    assert rr, pebble.log()
    pebble.set_txt(rr[0]["Name"], rr[0]["Value"])
    acm.get_waiter("certificate_validated").wait(CertificateArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    wait_status(acm, arn, "ISSUED")
    first = acm.describe_certificate(CertificateArn=arn)["Certificate"]["Serial"].replace(":", "").upper()

    srv.extra_env.update({"RAMPART_TLS": "true", "RAMPART_TLS_CERTIFICATE_ARN": arn})
    srv.restart()
    assert srv.scheme == "https"
    root = tmp_path / "root.pem"
    root.write_bytes(pebble.root_pem())
    assert presented_serial(srv.port, root, "tls.example.org").lstrip("0") == first.lstrip("0")
    key, secret = srv.profile("rampart")
    acm = boto3.session.Session().client("acm", region_name=REGION, endpoint_url=srv.endpoint, verify=False,
                                         aws_access_key_id=key, aws_secret_access_key=secret, config=BOTO_CONFIG)
    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert cert["InUseBy"] and cert["InUseBy"][0].endswith(":listener/api")
    with pytest.raises(ClientError) as e:
        acm.delete_certificate(CertificateArn=arn)
    assert error_code(e.value) == "ResourceInUseException"

    # Each ACME order has its own dns-01 value: the renewal shows the new record to publish.
    pebble.clear_txt(rr[0]["Name"])
    for seconds in (61 * 86400, 3600):
        assert srv.http("POST", f"/_rampart/clock/advance/{seconds}", verify=False).status_code == 200

    def renewal_record():
        summary = acm.describe_certificate(CertificateArn=arn)["Certificate"].get("RenewalSummary", {})
        return [d["ResourceRecord"] for d in summary.get("DomainValidationOptions", []) if "ResourceRecord" in d]
    new_rr = wait_until(renewal_record)
    assert new_rr and new_rr[0]["Name"] == rr[0]["Name"] and new_rr[0]["Value"] != rr[0]["Value"]
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["RenewalSummary"]["RenewalStatus"] \
        == "PENDING_AUTO_RENEWAL"
    pebble.set_txt(new_rr[0]["Name"], new_rr[0]["Value"])
    assert wait_until(lambda: acm.describe_certificate(CertificateArn=arn)["Certificate"]
                      .get("RenewalSummary", {}).get("RenewalStatus") == "SUCCESS", 40), pebble.log()
    renewed = acm.describe_certificate(CertificateArn=arn)["Certificate"]["Serial"].replace(":", "").upper()
    assert renewed != first
    # A new handshake presents the renewed certificate, without a restart.
    assert wait_until(lambda: presented_serial(srv.port, root, "tls.example.org").lstrip("0") == renewed.lstrip("0"), 30)
