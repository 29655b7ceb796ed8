"""ACM public certificates on a --dev server without an ACME directory (issue 12): a built-in
development CA issues them after a simulated validation. The certificate is PENDING_VALIDATION
with AWS-shaped DomainValidationOptions (the `_<hash>.<domain>.` CNAME pointing into
acm-validations.aws, or the five validation addresses for EMAIL), becomes ISSUED after
RAMPART_ACM_DEV_VALIDATION_SECONDS of the business clock, and boto3's certificate_validated
waiter works. The CA's key is sealed in the store and survives a restart."""
import base64
import re
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import error_code

NAME = re.compile(r"_[0-9a-f]{32}\.(?P<domain>[a-z0-9.-]+)\.")
VALUE = re.compile(r"_[0-9a-f]{32}\.[a-z]{10}\.acm-validations\.aws\.")


def openssl(*args, input=None):
    r = subprocess.run(["openssl", *args], capture_output=True, input=input, timeout=60)
    assert r.returncode == 0, f"openssl {args} failed: {r.stdout!r} {r.stderr!r}"
    return r.stdout


def dev(server_factory, name, seconds):
    return server_factory(name, dev=True, extra_env={"RAMPART_ACM_DEV_VALIDATION_SECONDS": str(seconds)})


def test_dns_validated_certificate_is_pending_then_issued_and_the_waiter_sees_it(server_factory, tmp_path):
    srv = dev(server_factory, "acmdev-dns", 2)
    acm = srv.client("acm")
    arn = acm.request_certificate(DomainName="dev.example.com", SubjectAlternativeNames=["*.dev.example.com"],
                                  ValidationMethod="DNS", Options={"Export": "ENABLED"})["CertificateArn"]
    d = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert d["Status"] == "PENDING_VALIDATION" and d["Type"] == "AMAZON_ISSUED"
    assert d["KeyAlgorithm"] == "RSA-2048" and d["Options"]["Export"] == "ENABLED"
    dvo = {o["DomainName"]: o for o in d["DomainValidationOptions"]}
    assert set(dvo) == {"dev.example.com", "*.dev.example.com"}
    rr = dvo["dev.example.com"]["ResourceRecord"]
    assert rr["Type"] == "CNAME"
    assert NAME.fullmatch(rr["Name"]) and NAME.fullmatch(rr["Name"])["domain"] == "dev.example.com"
    assert VALUE.fullmatch(rr["Value"]), rr
    # AWS asks for one record for a wildcard and its base name.
    assert dvo["*.dev.example.com"]["ResourceRecord"] == rr
    assert dvo["dev.example.com"]["ValidationStatus"] == "PENDING_VALIDATION"
    with pytest.raises(ClientError) as e:
        acm.get_certificate(CertificateArn=arn)
    assert error_code(e.value) == "RequestInProgressException"
    # The same account and domain get the same record on a second certificate.
    again = acm.request_certificate(DomainName="dev.example.com", ValidationMethod="DNS")["CertificateArn"]
    d2 = acm.describe_certificate(CertificateArn=again)["Certificate"]
    assert d2["DomainValidationOptions"][0]["ResourceRecord"] == rr
    assert d2["Options"]["Export"] == "DISABLED"

    acm.get_waiter("certificate_validated").wait(CertificateArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    d = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert d["Status"] == "ISSUED"
    assert {o["ValidationStatus"] for o in d["DomainValidationOptions"]} == {"SUCCESS"}
    assert "Rampart Development CA" in d["Issuer"]
    assert {u["Name"] for u in d["ExtendedKeyUsages"]} >= {"TLS_WEB_SERVER_AUTHENTICATION"}
    got = acm.get_certificate(CertificateArn=arn)
    (tmp_path / "ca.pem").write_text(got["CertificateChain"])
    (tmp_path / "leaf.pem").write_text(got["Certificate"])
    assert openssl("verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "leaf.pem")).decode().strip() \
        .endswith(": OK")
    text = openssl("x509", "-noout", "-text", "-in", str(tmp_path / "leaf.pem")).decode()
    assert "DNS:dev.example.com" in text and "DNS:*.dev.example.com" in text
    listed = acm.list_certificates(CertificateStatuses=["ISSUED"])["CertificateSummaryList"]
    assert [c["KeyAlgorithm"] for c in listed if c["CertificateArn"] == arn] == ["RSA-2048"]


def test_validation_follows_the_dev_clock_and_the_ca_survives_restart(server_factory):
    srv = dev(server_factory, "acmdev-clock", 3600)
    acm = srv.client("acm")
    arn = acm.request_certificate(DomainName="clock.example.com", ValidationMethod="DNS",
                                  KeyAlgorithm="EC_prime256v1")["CertificateArn"]
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "PENDING_VALIDATION"
    srv.advance_clock(3601)
    d = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert d["Status"] == "ISSUED" and d["KeyAlgorithm"] == "EC-prime256v1"
    ca_before = acm.get_certificate(CertificateArn=arn)["CertificateChain"]
    srv.restart()
    acm = srv.client("acm")
    second = acm.request_certificate(DomainName="after.example.com", ValidationMethod="DNS")["CertificateArn"]
    srv.advance_clock(3601)
    assert acm.describe_certificate(CertificateArn=second)["Certificate"]["Status"] == "ISSUED"
    assert acm.get_certificate(CertificateArn=second)["CertificateChain"] == ca_before
    # The CA's key is sealed: no PKCS#8 RSA key header anywhere in the data directory.
    marker = bytes.fromhex("020100300d06092a864886f70d01010105000482")
    needles = [b"PRIVATE KEY", marker]
    for shift in range(3):  # the marker base64-encoded at each alignment
        enc = base64.b64encode(b"\0" * shift + marker)
        needles.append(enc[-(-shift * 4 // 3):(shift + len(marker)) * 4 // 3])
    for p in [p for p in srv.data_dir.rglob("*") if p.is_file()]:
        data = p.read_bytes()
        for n in needles:
            assert n not in data, f"{p} holds a private key in clear"


def test_zero_delay_issues_at_once_and_email_validation_is_simulated(server_factory):
    srv = dev(server_factory, "acmdev-zero", 0)
    acm = srv.client("acm")
    arn = acm.request_certificate(DomainName="mail.example.com")["CertificateArn"]  # EMAIL, AWS's default
    d = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert d["Status"] == "ISSUED"
    o = d["DomainValidationOptions"][0]
    assert o["ValidationMethod"] == "EMAIL" and "ResourceRecord" not in o
    assert sorted(o["ValidationEmails"]) == sorted(f"{u}@mail.example.com" for u in
                                                   ("admin", "administrator", "hostmaster", "postmaster", "webmaster"))
    with pytest.raises(ClientError) as e:
        acm.request_certificate(DomainName="http.example.com", ValidationMethod="HTTP")
    assert error_code(e.value) == "InvalidParameterException"


def test_without_dev_mode_public_requests_stay_not_implemented(server):
    with pytest.raises(ClientError) as e:
        server.client("acm").request_certificate(DomainName="x.example.com", ValidationMethod="DNS")
    assert error_code(e.value) == "NotImplemented"
