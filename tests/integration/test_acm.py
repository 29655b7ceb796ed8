"""ACM (CertificateManager): private certificates issued at once by Rampart's private CA, imported
certificates with key and chain checks, export with an encrypted PKCS#8 key, tags, options and
the account configuration, through boto3 and the openssl CLI."""
import re
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, REGION, error_code, http_status

ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1"


@pytest.fixture(scope="module")
def acm(dev_server):
    return dev_server.client("acm")


@pytest.fixture(scope="module")
def pca(dev_server):
    return dev_server.client("acm-pca")


def openssl(*args, input=None):
    r = subprocess.run(["openssl", *args], capture_output=True, input=input, timeout=60)
    assert r.returncode == 0, f"openssl {args} failed: {r.stdout!r} {r.stderr!r}"
    return r.stdout


def make_root(pca, cn, key="RSA_2048", signing="SHA256WITHRSA"):
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": key, "SigningAlgorithm": signing,
                                           "Subject": {"CommonName": cn}},
        CertificateAuthorityType="ROOT",
    )["CertificateAuthorityArn"]
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm=signing, TemplateArn=ROOT_TEMPLATE,
        Validity={"Type": "YEARS", "Value": 5},
    )["CertificateArn"]
    pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)["Certificate"]
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=pem)
    return {"arn": arn, "pem": pem}


@pytest.fixture(scope="module")
def root(pca):
    """An active RSA root CA (ACM's default RSA_2048 requests match its key family)."""
    return make_root(pca, "ACM Test Root")


@pytest.fixture(scope="module")
def ec_root(pca):
    return make_root(pca, "ACM Test EC Root", "EC_prime256v1", "SHA256WITHECDSA")


def test_private_certificate_is_issued_at_once_by_the_private_ca(acm, root, tmp_path):
    arn = acm.request_certificate(
        DomainName="app.example.com", SubjectAlternativeNames=["www.example.com"],
        CertificateAuthorityArn=root["arn"], Tags=[{"Key": "env", "Value": "test"}],
    )["CertificateArn"]
    assert re.fullmatch(rf"arn:aws:acm:{REGION}:{ADMIN_ACCOUNT}:certificate/[0-9a-f-]{{36}}", arn)
    d = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert d["Status"] == "ISSUED" and d["Type"] == "PRIVATE"
    assert d["CertificateAuthorityArn"] == root["arn"]
    assert d["DomainName"] == "app.example.com"
    assert d["SubjectAlternativeNames"] == ["app.example.com", "www.example.com"]
    assert d["KeyAlgorithm"] == "RSA-2048"  # the wire's spelling, not the model's RSA_2048
    assert d["RenewalEligibility"] == "ELIGIBLE"
    assert {u["Name"] for u in d["ExtendedKeyUsages"]} == {"TLS_WEB_SERVER_AUTHENTICATION",
                                                         "TLS_WEB_CLIENT_AUTHENTICATION"}
    got = acm.get_certificate(CertificateArn=arn)
    (tmp_path / "root.pem").write_text(root["pem"])
    (tmp_path / "leaf.pem").write_text(got["Certificate"])
    assert got["CertificateChain"].strip() == root["pem"].strip()
    out = openssl("verify", "-CAfile", str(tmp_path / "root.pem"), str(tmp_path / "leaf.pem")).decode()
    assert out.strip().endswith(": OK")
    assert acm.list_tags_for_certificate(CertificateArn=arn)["Tags"] == [{"Key": "env", "Value": "test"}]
    listed = acm.list_certificates()["CertificateSummaryList"]
    assert arn in [c["CertificateArn"] for c in listed]


def test_export_gives_the_key_encrypted_with_the_passphrase(acm, ec_root, tmp_path):
    arn = acm.request_certificate(DomainName="export.example.com", CertificateAuthorityArn=ec_root["arn"],
                                  KeyAlgorithm="EC_prime256v1")["CertificateArn"]
    out = acm.export_certificate(CertificateArn=arn, Passphrase=b"correct horse")
    assert "BEGIN ENCRYPTED PRIVATE KEY" in out["PrivateKey"]
    key_file = tmp_path / "key.pem"
    key_file.write_text(out["PrivateKey"])
    r = subprocess.run(["openssl", "pkey", "-in", str(key_file), "-passin", "pass:wrong", "-noout"],
                       capture_output=True, timeout=30)
    assert r.returncode != 0
    clear = openssl("pkey", "-in", str(key_file), "-passin", "pass:correct horse")
    pub_from_key = openssl("pkey", "-pubout", input=clear)
    pub_from_cert = openssl("x509", "-pubkey", "-noout", input=out["Certificate"].encode())
    assert pub_from_key == pub_from_cert
    listed = acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})["CertificateSummaryList"]
    assert [c["Exported"] for c in listed if c["CertificateArn"] == arn] == [True]
    # Default listing shows RSA_1024/RSA_2048 certificates only.
    assert arn not in [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]]
    assert arn in [c["CertificateArn"] for c in
                   acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})["CertificateSummaryList"]]


def self_signed(tmp_path, name, key_args=("-newkey", "rsa:2048")):
    key, cert = tmp_path / f"{name}.key", tmp_path / f"{name}.pem"
    openssl("req", "-x509", *key_args, "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "30",
            "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}")
    return key.read_bytes(), cert.read_bytes()


def test_import_checks_key_and_chain_and_reimport_keeps_the_arn(acm, tmp_path):
    key, cert = self_signed(tmp_path, "imported.example.com")
    arn = acm.import_certificate(Certificate=cert, PrivateKey=key, Tags=[{"Key": "k", "Value": "v"}])["CertificateArn"]
    d = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert d["Type"] == "IMPORTED" and d["Status"] == "ISSUED" and "ImportedAt" in d
    assert d["DomainName"] == "imported.example.com"
    other_key, other_cert = self_signed(tmp_path, "other.example.com")
    with pytest.raises(ClientError) as e:
        acm.import_certificate(Certificate=cert, PrivateKey=other_key)
    assert error_code(e.value) == "ValidationException"
    with pytest.raises(ClientError) as e:
        acm.import_certificate(Certificate=cert, PrivateKey=key, CertificateChain=other_cert)
    assert error_code(e.value) == "ValidationException"
    with pytest.raises(ClientError) as e:
        acm.import_certificate(Certificate=b"garbage", PrivateKey=key)
    assert error_code(e.value) == "ValidationException"
    key2, cert2 = self_signed(tmp_path, "imported.example.com")
    assert acm.import_certificate(CertificateArn=arn, Certificate=cert2, PrivateKey=key2)["CertificateArn"] == arn
    assert acm.get_certificate(CertificateArn=arn)["Certificate"].strip() == cert2.decode().strip()
    with pytest.raises(ClientError) as e:
        acm.export_certificate(CertificateArn=arn, Passphrase=b"abcd")
    assert error_code(e.value) == "ValidationException"
    acm.delete_certificate(CertificateArn=arn)
    with pytest.raises(ClientError) as e:
        acm.describe_certificate(CertificateArn=arn)
    assert error_code(e.value) == "ResourceNotFoundException"


def test_tags_options_and_account_configuration(acm, root):
    arn = acm.request_certificate(DomainName="tags.example.com", CertificateAuthorityArn=root["arn"])["CertificateArn"]
    acm.add_tags_to_certificate(CertificateArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    acm.remove_tags_from_certificate(CertificateArn=arn, Tags=[{"Key": "a"}])
    assert acm.list_tags_for_certificate(CertificateArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as e:
        acm.add_tags_to_certificate(CertificateArn=arn, Tags=[{"Key": "aws:x", "Value": "1"}])
    assert error_code(e.value) == "InvalidTagException"
    acm.update_certificate_options(CertificateArn=arn,
                                   Options={"CertificateTransparencyLoggingPreference": "DISABLED"})
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Options"][
        "CertificateTransparencyLoggingPreference"] == "DISABLED"
    assert acm.get_account_configuration()["ExpiryEvents"]["DaysBeforeExpiry"] == 45
    acm.put_account_configuration(ExpiryEvents={"DaysBeforeExpiry": 30}, IdempotencyToken="t1")
    assert acm.get_account_configuration()["ExpiryEvents"]["DaysBeforeExpiry"] == 30


def test_errors_for_unknown_and_bad_arns_and_public_certificates(acm, pca):
    missing = f"arn:aws:acm:{REGION}:{ADMIN_ACCOUNT}:certificate/{uuid.uuid4()}"
    with pytest.raises(ClientError) as e:
        acm.describe_certificate(CertificateArn=missing)
    assert error_code(e.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        acm.get_certificate(CertificateArn=f"arn:aws:acm:{REGION}:{ADMIN_ACCOUNT}:certificate/nope")
    assert error_code(e.value) in ("InvalidArnException", "ValidationException")
    ca = f"arn:aws:acm-pca:{REGION}:{ADMIN_ACCOUNT}:certificate-authority/{uuid.uuid4()}"
    with pytest.raises(ClientError) as e:
        acm.request_certificate(DomainName="x.example.com", CertificateAuthorityArn=ca)
    assert error_code(e.value) == "InvalidArnException"  # RequestCertificate declares no ResourceNotFound
    pending = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA",
                                           "Subject": {"CommonName": "pending"}},
        CertificateAuthorityType="ROOT")["CertificateAuthorityArn"]
    with pytest.raises(ClientError) as e:
        acm.request_certificate(DomainName="x.example.com", CertificateAuthorityArn=pending,
                                KeyAlgorithm="EC_prime256v1")
    assert error_code(e.value) == "InvalidParameterException"


def test_requested_key_must_match_the_ca_key_family_and_acm_algorithms(acm, root, ec_root):
    with pytest.raises(ClientError) as e:
        acm.request_certificate(DomainName="fam.example.com", CertificateAuthorityArn=ec_root["arn"])
    assert error_code(e.value) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        acm.request_certificate(DomainName="fam.example.com", CertificateAuthorityArn=root["arn"],
                                KeyAlgorithm="RSA_4096")
    assert error_code(e.value) == "InvalidParameterException"


def test_renew_reissues_a_private_certificate_under_the_same_arn(acm, root, dev_server):
    arn = acm.request_certificate(DomainName="renew.example.com", CertificateAuthorityArn=root["arn"])["CertificateArn"]
    before = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert "RenewalSummary" not in before
    dev_server.advance_clock(3600)
    acm.renew_certificate(CertificateArn=arn)
    after = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert after["Serial"] != before["Serial"]
    assert after["NotAfter"] > before["NotAfter"]
    assert after["RenewalSummary"]["RenewalStatus"] == "SUCCESS"
    pub = lambda pem: openssl("x509", "-pubkey", "-noout", input=pem.encode())  # noqa: E731
    assert pub(acm.get_certificate(CertificateArn=arn)["Certificate"]) == pub(
        acm.export_certificate(CertificateArn=arn, Passphrase=b"pass")["Certificate"])


def test_revoke_a_private_certificate_through_its_ca(acm, pca, root):
    arn = acm.request_certificate(DomainName="revoke.example.com", CertificateAuthorityArn=root["arn"])["CertificateArn"]
    assert acm.revoke_certificate(CertificateArn=arn, RevocationReason="KEY_COMPROMISE")["CertificateArn"] == arn
    d = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert d["Status"] == "REVOKED" and d["RevocationReason"] == "KEY_COMPROMISE" and "RevokedAt" in d
    with pytest.raises(ClientError) as e:
        acm.revoke_certificate(CertificateArn=arn, RevocationReason="KEY_COMPROMISE")
    assert error_code(e.value) == "ConflictException"
    with pytest.raises(ClientError) as e:
        acm.renew_certificate(CertificateArn=arn)
    assert error_code(e.value) == "ValidationException"
    assert acm.list_certificates(CertificateStatuses=["REVOKED"])["CertificateSummaryList"][0]["CertificateArn"] == arn


def test_validation_operations_on_a_private_certificate(acm, root):
    arn = acm.request_certificate(DomainName="val.example.com", CertificateAuthorityArn=root["arn"])["CertificateArn"]
    with pytest.raises(ClientError) as e:
        acm.resend_validation_email(CertificateArn=arn, Domain="val.example.com", ValidationDomain="example.com")
    assert error_code(e.value) == "InvalidStateException"
    assert acm.list_certificate_domain_validations(CertificateArn=arn)["DomainValidationSummaryList"] == []


def test_search_certificates_with_filter_statements(acm, ec_root, tmp_path):
    ec = acm.request_certificate(DomainName="search-ec.example.com", CertificateAuthorityArn=ec_root["arn"],
                                 KeyAlgorithm="EC_secp384r1")["CertificateArn"]
    key, cert = self_signed(tmp_path, "search-imported.example.com")
    imported = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]

    def search(stmt, **kw):
        return [r["CertificateArn"] for r in acm.search_certificates(FilterStatement=stmt, **kw)["Results"]]

    assert search({"Filter": {"X509AttributeFilter": {"KeyAlgorithm": "EC_secp384r1"}}}) == [ec]
    assert search({"Filter": {"CertificateArn": imported}}) == [imported]
    found = search({"And": [
        {"Filter": {"AcmCertificateMetadataFilter": {"Type": "IMPORTED"}}},
        {"Filter": {"X509AttributeFilter": {"SubjectAlternativeName": {
            "DnsName": {"Value": "search-imported", "ComparisonOperator": "CONTAINS"}}}}},
    ]})
    assert found == [imported]
    not_imported = search({"Not": {"Filter": {"AcmCertificateMetadataFilter": {"Type": "IMPORTED"}}}})
    assert ec in not_imported and imported not in not_imported
    either = search({"Or": [{"Filter": {"CertificateArn": ec}}, {"Filter": {"CertificateArn": imported}}]},
                    SortBy="CERTIFICATE_ARN", SortOrder="ASCENDING")
    assert either == sorted([ec, imported])
    page = acm.search_certificates(FilterStatement={"Filter": {"AcmCertificateMetadataFilter": {"Status": "ISSUED"}}},
                                   MaxResults=1)
    assert len(page["Results"]) == 1 and page["NextToken"]


def test_resource_tagging_operations_on_certificates(acm, root):
    arn = acm.request_certificate(DomainName="rtags.example.com", CertificateAuthorityArn=root["arn"])["CertificateArn"]
    acm.tag_resource(ResourceArn=arn, Tags=[{"Key": "x", "Value": "1"}, {"Key": "y", "Value": "2"}])
    acm.untag_resource(ResourceArn=arn, TagKeys=["x"])
    assert acm.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "y", "Value": "2"}]
    with pytest.raises(ClientError) as e:
        acm.list_tags_for_resource(ResourceArn=f"arn:aws:acm:{REGION}:{ADMIN_ACCOUNT}:acme-endpoint/{uuid.uuid4()}")
    assert error_code(e.value) == "ResourceNotFoundException"


class _Hook:
    """A webhook target that records the EventBridge events Rampart POSTs to it."""

    def __init__(self):
        import http.server
        import json as _json
        import threading

        events = self.events = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                events.append(_json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/events"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def types(self):
        return [e["detail-type"] for e in self.events]


def test_managed_renewal_and_expiry_events_on_the_clock(server_factory, tmp_path):
    hook = _Hook()
    srv = server_factory("acm-renewal", dev=True, extra_env={"RAMPART_EVENT_WEBHOOKS": hook.url})
    pca, acm = srv.client("acm-pca"), srv.client("acm")

    allowed, denied = make_root(pca, "renewing")["arn"], make_root(pca, "no permission")["arn"]
    pca.create_permission(CertificateAuthorityArn=allowed, Principal="acm.amazonaws.com",
                          Actions=["IssueCertificate", "GetCertificate", "ListPermissions"])
    ok = acm.request_certificate(DomainName="renews.example.com", CertificateAuthorityArn=allowed)["CertificateArn"]
    bad = acm.request_certificate(DomainName="fails.example.com", CertificateAuthorityArn=denied)["CertificateArn"]
    key, cert = self_signed(tmp_path, "soon.example.com")
    soon = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]

    srv.advance_clock(3600)  # the ACM housekeeping job runs hourly
    srv.advance_clock(5)  # events are delivered on the next tick
    assert wait_until(lambda: "ACM Certificate Approaching Expiration" in hook.types()), (hook.events, srv.stderr_tail())
    ev = [e for e in hook.events if e["detail-type"] == "ACM Certificate Approaching Expiration"][0]
    assert ev["source"] == "aws.acm" and ev["resources"] == [soon] and ev["detail"]["DaysToExpiry"] in (29, 30)
    assert "RenewalSummary" not in acm.describe_certificate(CertificateArn=ok)["Certificate"]

    before = acm.describe_certificate(CertificateArn=ok)["Certificate"]
    srv.advance_clock(340 * 86400)
    srv.advance_clock(5)
    after = acm.describe_certificate(CertificateArn=ok)["Certificate"]
    assert after["RenewalSummary"]["RenewalStatus"] == "SUCCESS"
    assert after["Serial"] != before["Serial"] and after["NotAfter"] > before["NotAfter"]
    failed = acm.describe_certificate(CertificateArn=bad)["Certificate"]
    assert failed["RenewalSummary"]["RenewalStatus"] == "FAILED"
    assert failed["RenewalSummary"]["RenewalStatusReason"] == "PCA_ACCESS_DENIED"
    assert acm.describe_certificate(CertificateArn=soon)["Certificate"]["Status"] == "EXPIRED"
    assert wait_until(lambda: {"ACM Certificate Available", "ACM Certificate Renewal Action Required"}
                      <= set(hook.types()))
    available = [e for e in hook.events if e["detail-type"] == "ACM Certificate Available"][0]
    assert available["resources"] == [ok] and available["detail"]["Action"] == "RENEWAL"
    hook.httpd.shutdown()


def wait_until(pred, timeout=10.0):
    import time
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def test_private_keys_are_never_stored_in_clear(acm, root, dev_server, tmp_path):
    import base64
    acm.request_certificate(DomainName="clear.example.com", CertificateAuthorityArn=root["arn"])
    key, cert = self_signed(tmp_path, "clear-imported.example.com")
    acm.import_certificate(Certificate=cert, PrivateKey=key)
    der = base64.b64decode(b"".join(l for l in key.splitlines() if not l.startswith(b"-----")))
    needles = [b"PRIVATE KEY", der[26:90], base64.b64encode(der[3:45])]
    markers = [bytes.fromhex("020100300d06092a864886f70d01010105000482")]
    for m in markers:
        needles.append(m)
        for shift in range(3):
            enc = base64.b64encode(b"\0" * shift + m)
            needles.append(enc[-(-shift * 4 // 3):(shift + len(m)) * 4 // 3])
    files = [p for p in dev_server.data_dir.rglob("*") if p.is_file()]
    assert files
    for p in files:
        data = p.read_bytes()
        for n in needles:
            assert n not in data, f"{p} holds a private key in clear"


def test_calls_are_audited_without_secrets(acm, ec_root, dev_server):
    import json

    from conftest import lookup_events

    arn = acm.request_certificate(DomainName="audit.example.com", CertificateAuthorityArn=ec_root["arn"],
                                  KeyAlgorithm="EC_prime256v1")["CertificateArn"]
    acm.export_certificate(CertificateArn=arn, Passphrase=b"audit-passphrase")
    ct = dev_server.client("cloudtrail")
    events = lookup_events(ct, "EventName", "ExportCertificate")
    assert events
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["eventSource"] == "acm.amazonaws.com"
    assert "audit-passphrase" not in events[0]["CloudTrailEvent"]
    assert "YXVkaXQtcGFzc3BocmFzZQ" not in events[0]["CloudTrailEvent"]
    assert "PRIVATE KEY" not in events[0]["CloudTrailEvent"]


# Issue 12: chains are verified for every signature algorithm ACM accepts on import (RSA PKCS#1
# v1.5 with SHA-256/384/512, RSA-PSS, ECDSA on P-256/P-384/P-521) and every key size of its
# prerequisites page (RSA 1024-4096), each checked by `openssl verify` first.
CA_KEYS = {
    "rsa1024": ("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"),
    "rsa2048": ("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"),
    "rsa3072": ("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"),
    "rsa4096": ("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"),
    "p256": ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"),
    "p384": ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"),
    "p521": ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"),
}
PSS = ("-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest")
CHAIN_CASES = (
    # (CA key, digest of the CA's own signature, digest of the leaf's signature, PSS)
    [("rsa2048", "sha512", "sha256", False)]  # the case reported in the issue
    + [(k, d, d, False) for k in CA_KEYS for d in ("sha256", "sha384", "sha512")
       if not (k == "rsa1024" and d == "sha384")]  # aws-lc-rs has no 1024-bit RSA with SHA-384
    + [(k, d, d, True) for k in ("rsa2048", "rsa3072", "rsa4096") for d in ("sha256", "sha384", "sha512")]
)


def signed_leaf(tmp_path, ca_key, ca_digest, leaf_digest, pss):
    d = tmp_path
    openssl("genpkey", *CA_KEYS[ca_key], "-out", str(d / "ca.key"))
    sig = PSS if pss else ()
    openssl("req", "-x509", "-key", str(d / "ca.key"), f"-{ca_digest}", *sig, "-days", "30",
            "-subj", f"/CN=Matrix CA {ca_key} {ca_digest}", "-out", str(d / "ca.pem"),
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "leaf.key"),
            "-subj", "/CN=matrix.example.com", "-out", str(d / "leaf.csr"))
    (d / "ext.cnf").write_text("subjectAltName=DNS:matrix.example.com\nbasicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", str(d / "leaf.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
            "-set_serial", str(uuid.uuid4().int >> 64), "-days", "10", f"-{leaf_digest}", *sig,
            "-extfile", str(d / "ext.cnf"), "-out", str(d / "leaf.pem"))
    out = openssl("verify", "-CAfile", str(d / "ca.pem"), str(d / "leaf.pem")).decode()
    assert out.strip().endswith(": OK")
    return (d / "leaf.pem").read_bytes(), (d / "leaf.key").read_bytes(), (d / "ca.pem").read_bytes()


@pytest.mark.parametrize("ca_key,ca_digest,leaf_digest,pss", CHAIN_CASES,
                         ids=[f"{k}-{c}-{l}{'-pss' if p else ''}" for k, c, l, p in CHAIN_CASES])
def test_import_accepts_a_chain_openssl_verifies(acm, tmp_path, ca_key, ca_digest, leaf_digest, pss):
    cert, key, ca = signed_leaf(tmp_path, ca_key, ca_digest, leaf_digest, pss)
    arn = acm.import_certificate(Certificate=cert, PrivateKey=key, CertificateChain=ca)["CertificateArn"]
    got = acm.get_certificate(CertificateArn=arn)
    assert got["CertificateChain"].strip() == ca.decode().strip()
    acm.delete_certificate(CertificateArn=arn)


def test_import_refuses_a_chain_of_another_ca_with_the_same_name(acm, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cert, key, _ = signed_leaf(tmp_path / "a", "p384", "sha384", "sha384", False)
    _, _, other_ca = signed_leaf(tmp_path / "b", "p384", "sha384", "sha384", False)
    with pytest.raises(ClientError) as e:
        acm.import_certificate(Certificate=cert, PrivateKey=key, CertificateChain=other_ca)
    assert error_code(e.value) == "ValidationException"


def test_key_algorithm_is_spelled_as_on_the_wire_in_responses_and_as_in_the_model_in_requests(acm, ec_root):
    """Issue 12: AWS answers "RSA-2048"/"EC-prime256v1" (awscli's describe-certificate example)
    where the model says RSA_2048/EC_prime256v1; requests keep the model's spelling."""
    arn = acm.request_certificate(DomainName="wire.example.com", CertificateAuthorityArn=ec_root["arn"],
                                  KeyAlgorithm="EC_prime256v1")["CertificateArn"]
    d = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert d["KeyAlgorithm"] == "EC-prime256v1"
    assert "Export" not in d["Options"]  # reported for public certificates only
    listed = acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})["CertificateSummaryList"]
    summary = [c for c in listed if c["CertificateArn"] == arn]
    assert summary and summary[0]["KeyAlgorithm"] == "EC-prime256v1"
    assert not [c for c in acm.list_certificates(Includes={"keyTypes": ["RSA_2048"]})["CertificateSummaryList"]
                if c["CertificateArn"] == arn]
    with pytest.raises(ClientError) as e:
        acm.list_certificates(Includes={"keyTypes": ["EC-prime256v1"]})
    assert error_code(e.value) == "ValidationException"
