"""ACM Private CA (ACMPrivateCA): certificate authorities and their life cycle, certificates issued
from CSRs with AWS's templates, revocation with CRLs served over HTTP, permissions, policies, tags
and audit reports, through boto3, the aws CLI and the openssl CLI."""
import base64
import json
import re
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, REGION, allow, deny, error_code, make_user, policy_doc

ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1"
SUB_TEMPLATE = "arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1"
SERVER_TEMPLATE = "arn:aws:acm-pca:::template/EndEntityServerAuthCertificate/V1"


@pytest.fixture(scope="module")
def pca(dev_server):
    return dev_server.client("acm-pca")


def openssl(*args, input=None):
    r = subprocess.run(["openssl", *args], capture_output=True, input=input, timeout=60)
    assert r.returncode == 0, f"openssl {args} failed: {r.stdout!r} {r.stderr!r}"
    return r.stdout


def new_ca(pca, ca_type="ROOT", key="RSA_2048", signing="SHA256WITHRSA", cn="Rampart Root", **kw):
    return pca.create_certificate_authority(
        CertificateAuthorityConfiguration={
            "KeyAlgorithm": key,
            "SigningAlgorithm": signing,
            "Subject": {"Country": "US", "Organization": "Rampart", "CommonName": cn},
        },
        CertificateAuthorityType=ca_type,
        **kw,
    )["CertificateAuthorityArn"]


def activate_root(pca, arn, signing="SHA256WITHRSA"):
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm=signing, TemplateArn=ROOT_TEMPLATE,
        Validity={"Type": "YEARS", "Value": 10},
    )["CertificateArn"]
    cert = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)
    assert "CertificateChain" not in cert
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=cert["Certificate"])
    return cert["Certificate"]


def activate_sub(pca, root_arn, sub_arn, root_signing="SHA256WITHRSA"):
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=sub_arn)["Csr"]
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=root_arn, Csr=csr, SigningAlgorithm=root_signing, TemplateArn=SUB_TEMPLATE,
        Validity={"Type": "YEARS", "Value": 5},
    )["CertificateArn"]
    got = pca.get_certificate(CertificateAuthorityArn=root_arn, CertificateArn=cert_arn)
    pca.import_certificate_authority_certificate(
        CertificateAuthorityArn=sub_arn, Certificate=got["Certificate"], CertificateChain=got["CertificateChain"],
    )
    return got["Certificate"]


def tpl(name, partition="aws"):
    return f"arn:{partition}:acm-pca:::template/{name}/V1"


def leaf_csr(tmp_path, cn="leaf.example.com"):
    key = tmp_path / f"{cn}.key"
    out = openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
        "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
    )
    return out


@pytest.fixture(scope="module")
def chain(pca, dev_server):
    """An active RSA root CA and an active EC subordinate CA that publishes CRLs. The test server
    listens on an ephemeral port, so the CRL host is given as the CA's CustomCname."""
    root = new_ca(pca)
    root_pem = activate_root(pca, root)
    cname = f"127.0.0.1:{dev_server.port}"
    sub = new_ca(
        pca, "SUBORDINATE", "EC_prime256v1", "SHA256WITHECDSA", cn="Rampart Issuing",
        RevocationConfiguration={"CrlConfiguration": {"Enabled": True, "ExpirationInDays": 7,
                                                      "CustomCname": cname}},
    )
    sub_pem = activate_sub(pca, root, sub)
    return {"root": root, "root_pem": root_pem, "sub": sub, "sub_pem": sub_pem}


def test_create_certificate_authority_starts_pending_certificate(pca):
    arn = new_ca(pca, key="EC_secp384r1", signing="SHA384WITHECDSA", Tags=[{"Key": "team", "Value": "pki"}])
    assert re.fullmatch(rf"arn:aws:acm-pca:{REGION}:{ADMIN_ACCOUNT}:certificate-authority/[0-9a-f-]{{36}}", arn)
    ca = pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]
    assert ca["Status"] == "PENDING_CERTIFICATE"
    assert ca["Type"] == "ROOT"
    assert ca["OwnerAccount"] == ADMIN_ACCOUNT
    assert ca["CertificateAuthorityConfiguration"]["KeyAlgorithm"] == "EC_secp384r1"
    assert ca["KeyStorageSecurityStandard"] == "FIPS_140_2_LEVEL_3_OR_HIGHER"
    assert ca["UsageMode"] == "GENERAL_PURPOSE"
    assert arn in [c["Arn"] for c in pca.list_certificate_authorities()["CertificateAuthorities"]]
    assert pca.list_tags(CertificateAuthorityArn=arn)["Tags"] == [{"Key": "team", "Value": "pki"}]
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    text = openssl("req", "-noout", "-text", "-verify", input=csr.encode()).decode()
    assert "CN=Rampart Root" in text.replace(" = ", "=")


def test_idempotency_token_returns_the_same_ca(pca):
    token = uuid.uuid4().hex[:30]
    a = new_ca(pca, key="EC_prime256v1", signing="SHA256WITHECDSA", IdempotencyToken=token)
    b = new_ca(pca, key="EC_prime256v1", signing="SHA256WITHECDSA", IdempotencyToken=token)
    assert a == b


@pytest.mark.parametrize("key,signing", [("RSA_3072", "SHA384WITHRSA"), ("RSA_4096", "SHA512WITHRSA"),
                                         ("EC_prime256v1", "SHA256WITHECDSA"), ("EC_secp384r1", "SHA384WITHECDSA")])
def test_each_key_algorithm_makes_a_self_signed_root(pca, key, signing):
    arn = new_ca(pca, key=key, signing=signing)
    pem = activate_root(pca, arn, signing)
    text = openssl("x509", "-noout", "-text", input=pem.encode()).decode()
    assert "CA:TRUE" in text
    assert pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["Status"] == "ACTIVE"


def test_root_subordinate_leaf_chain_verifies_with_openssl(pca, chain, tmp_path):
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=chain["sub"], Csr=leaf_csr(tmp_path), SigningAlgorithm="SHA256WITHECDSA",
        TemplateArn=SERVER_TEMPLATE, Validity={"Type": "DAYS", "Value": 30}, IdempotencyToken="leaf1",
    )["CertificateArn"]
    assert cert_arn.startswith(chain["sub"] + "/certificate/")
    got = pca.get_certificate(CertificateAuthorityArn=chain["sub"], CertificateArn=cert_arn)
    assert got["CertificateChain"].startswith(chain["sub_pem"].strip())
    assert chain["root_pem"].strip() in got["CertificateChain"]
    (tmp_path / "root.pem").write_text(chain["root_pem"])
    (tmp_path / "sub.pem").write_text(chain["sub_pem"])
    (tmp_path / "leaf.pem").write_text(got["Certificate"])
    out = openssl("verify", "-CAfile", str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "sub.pem"),
                  str(tmp_path / "leaf.pem")).decode()
    assert out.strip().endswith(": OK")
    text = openssl("x509", "-noout", "-text", "-in", str(tmp_path / "leaf.pem")).decode()
    assert "DNS:leaf.example.com" in text
    assert "TLS Web Server Authentication" in text
    assert "CA:FALSE" in text
    # The subordinate's path length is 0.
    sub_text = openssl("x509", "-noout", "-text", input=chain["sub_pem"].encode()).decode()
    assert "pathlen:0" in sub_text
    ca = pca.describe_certificate_authority(CertificateAuthorityArn=chain["sub"])["CertificateAuthority"]
    assert ca["Status"] == "ACTIVE" and ca["Type"] == "SUBORDINATE" and "NotAfter" in ca


def test_idempotent_issue_returns_the_same_certificate(pca, chain, tmp_path):
    csr = leaf_csr(tmp_path, "idem.example.com")
    args = dict(CertificateAuthorityArn=chain["sub"], Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
                Validity={"Type": "DAYS", "Value": 3}, IdempotencyToken="same-token")
    assert pca.issue_certificate(**args)["CertificateArn"] == pca.issue_certificate(**args)["CertificateArn"]


def test_revoked_certificate_appears_in_the_crl_served_over_http(pca, chain, dev_server, tmp_path):
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=chain["sub"], Csr=leaf_csr(tmp_path, "revoked.example.com"),
        SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 10},
    )["CertificateArn"]
    pem = pca.get_certificate(CertificateAuthorityArn=chain["sub"], CertificateArn=cert_arn)["Certificate"]
    text = openssl("x509", "-noout", "-text", input=pem.encode()).decode()
    url = re.search(r"URI:(http://\S+\.crl)", text).group(1)
    assert url == f"http://127.0.0.1:{dev_server.port}/_rampart/pca/crl/{chain['sub'].split('/')[-1]}.crl"
    serial = openssl("x509", "-noout", "-serial", input=pem.encode()).decode().strip().split("=")[1]
    colon_serial = ":".join(serial[i:i + 2] for i in range(0, len(serial), 2)).lower()
    pca.revoke_certificate(CertificateAuthorityArn=chain["sub"], CertificateSerial=colon_serial,
                           RevocationReason="KEY_COMPROMISE")
    import requests
    r = requests.get(url, timeout=10)
    assert r.status_code == 200
    crl_text = openssl("crl", "-inform", "DER", "-noout", "-text", input=r.content).decode()
    assert serial.upper() in crl_text.upper().replace(":", "")
    assert "Key Compromise" in crl_text
    # The CRL is signed by the subordinate CA.
    (tmp_path / "crl.der").write_bytes(r.content)
    (tmp_path / "sub.pem").write_text(chain["sub_pem"])
    openssl("crl", "-inform", "DER", "-in", str(tmp_path / "crl.der"), "-noout", "-CAfile", str(tmp_path / "sub.pem"))
    # openssl verify with CRL checking refuses the revoked certificate.
    (tmp_path / "crl.pem").write_bytes(openssl("crl", "-inform", "DER", "-in", str(tmp_path / "crl.der")))
    (tmp_path / "root.pem").write_text(chain["root_pem"])
    (tmp_path / "revoked.pem").write_text(pem)
    r = subprocess.run(["openssl", "verify", "-crl_check", "-CRLfile", str(tmp_path / "crl.pem"),
                        "-CAfile", str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "sub.pem"),
                        str(tmp_path / "revoked.pem")], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "revoked" in (r.stdout + r.stderr), r.stdout + r.stderr
    with pytest.raises(ClientError) as e:
        pca.revoke_certificate(CertificateAuthorityArn=chain["sub"], CertificateSerial=colon_serial,
                               RevocationReason="KEY_COMPROMISE")
    assert error_code(e.value) == "RequestAlreadyProcessedException"


def test_unknown_ca_is_resource_not_found(pca):
    arn = f"arn:aws:acm-pca:{REGION}:{ADMIN_ACCOUNT}:certificate-authority/{uuid.uuid4()}"
    with pytest.raises(ClientError) as e:
        pca.describe_certificate_authority(CertificateAuthorityArn=arn)
    assert error_code(e.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        pca.describe_certificate_authority(
            CertificateAuthorityArn=f"arn:aws:acm-pca:{REGION}:{ADMIN_ACCOUNT}:certificate-authority/nope")
    assert error_code(e.value) == "InvalidArnException"


def test_wrong_state_and_bad_input_errors(pca, chain, tmp_path):
    pending = new_ca(pca, "SUBORDINATE", "EC_prime256v1", "SHA256WITHECDSA", cn="pending")
    csr = leaf_csr(tmp_path, "x.example.com")
    with pytest.raises(ClientError) as e:
        pca.issue_certificate(CertificateAuthorityArn=pending, Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
                              Validity={"Type": "DAYS", "Value": 1})
    assert error_code(e.value) == "InvalidStateException"
    with pytest.raises(ClientError) as e:
        pca.get_certificate_authority_certificate(CertificateAuthorityArn=pending)
    assert error_code(e.value) == "InvalidStateException"
    with pytest.raises(ClientError) as e:
        pca.issue_certificate(CertificateAuthorityArn=chain["sub"], Csr=b"not a csr",
                              SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 1})
    assert error_code(e.value) == "MalformedCSRException"
    with pytest.raises(ClientError) as e:
        pca.issue_certificate(CertificateAuthorityArn=chain["sub"], Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
                              Validity={"Type": "ABSOLUTE", "Value": 1000000000})
    assert error_code(e.value) == "InvalidArgsException"
    with pytest.raises(ClientError) as e:
        pca.issue_certificate(CertificateAuthorityArn=chain["sub"], Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
                              Validity={"Type": "YEARS", "Value": 50})
    assert error_code(e.value) == "InvalidArgsException"
    with pytest.raises(ClientError) as e:
        pca.issue_certificate(CertificateAuthorityArn=chain["sub"], Csr=csr, SigningAlgorithm="SHA256WITHRSA",
                              Validity={"Type": "DAYS", "Value": 1})
    assert error_code(e.value) == "InvalidArgsException"
    # A subordinate with path length 0 cannot issue CA certificates.
    with pytest.raises(ClientError) as e:
        pca.issue_certificate(CertificateAuthorityArn=chain["sub"], Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
                              TemplateArn=SUB_TEMPLATE, Validity={"Type": "DAYS", "Value": 1})
    assert error_code(e.value) == "InvalidArgsException"
    # A certificate over another key does not import.
    with pytest.raises(ClientError) as e:
        pca.import_certificate_authority_certificate(CertificateAuthorityArn=pending, Certificate=chain["sub_pem"],
                                                     CertificateChain=chain["root_pem"])
    assert error_code(e.value) == "CertificateMismatchException"
    with pytest.raises(ClientError) as e:
        pca.import_certificate_authority_certificate(CertificateAuthorityArn=pending, Certificate=b"garbage")
    assert error_code(e.value) == "MalformedCertificateException"
    with pytest.raises(ClientError) as e:
        pca.delete_certificate_authority(CertificateAuthorityArn=chain["sub"])
    assert error_code(e.value) == "InvalidStateException"
    with pytest.raises(ClientError) as e:
        new_ca(pca, key="EC_prime256v1", signing="SHA256WITHRSA")
    assert error_code(e.value) == "InvalidArgsException"


def test_subordinate_import_needs_a_chain_that_verifies(pca, chain):
    sub = new_ca(pca, "SUBORDINATE", "EC_prime256v1", "SHA256WITHECDSA", cn="needs chain")
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=sub)["Csr"]
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=chain["root"], Csr=csr, SigningAlgorithm="SHA256WITHRSA", TemplateArn=SUB_TEMPLATE,
        Validity={"Type": "YEARS", "Value": 1},
    )["CertificateArn"]
    pem = pca.get_certificate(CertificateAuthorityArn=chain["root"], CertificateArn=cert_arn)["Certificate"]
    with pytest.raises(ClientError) as e:
        pca.import_certificate_authority_certificate(CertificateAuthorityArn=sub, Certificate=pem)
    assert error_code(e.value) == "InvalidRequestException"
    with pytest.raises(ClientError) as e:  # the chain of another root
        other = new_ca(pca, cn="Other Root")
        other_pem = activate_root(pca, other)
        pca.import_certificate_authority_certificate(CertificateAuthorityArn=sub, Certificate=pem,
                                                     CertificateChain=other_pem)
    assert error_code(e.value) == "InvalidRequestException"
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=sub, Certificate=pem,
                                                 CertificateChain=chain["root_pem"])
    got = pca.get_certificate_authority_certificate(CertificateAuthorityArn=sub)
    assert got["Certificate"].strip() == pem.strip()
    assert got["CertificateChain"].strip() == chain["root_pem"].strip()


def test_disable_delete_restore_and_permanent_deletion(pca, dev_server):
    arn = new_ca(pca, key="EC_prime256v1", signing="SHA256WITHECDSA", cn="short lived")
    activate_root(pca, arn, "SHA256WITHECDSA")
    pca.update_certificate_authority(CertificateAuthorityArn=arn, Status="DISABLED")
    assert pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["Status"] == "DISABLED"
    pca.delete_certificate_authority(CertificateAuthorityArn=arn, PermanentDeletionTimeInDays=7)
    ca = pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]
    assert ca["Status"] == "DELETED" and "RestorableUntil" in ca
    with pytest.raises(ClientError) as e:
        pca.update_certificate_authority(CertificateAuthorityArn=arn, Status="ACTIVE")
    assert error_code(e.value) == "InvalidStateException"
    pca.restore_certificate_authority(CertificateAuthorityArn=arn)
    assert pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["Status"] == "DISABLED"
    with pytest.raises(ClientError) as e:
        pca.restore_certificate_authority(CertificateAuthorityArn=arn)
    assert error_code(e.value) == "InvalidStateException"
    pca.update_certificate_authority(CertificateAuthorityArn=arn, Status="ACTIVE")
    pca.update_certificate_authority(CertificateAuthorityArn=arn, Status="DISABLED")
    pca.delete_certificate_authority(CertificateAuthorityArn=arn, PermanentDeletionTimeInDays=7)
    dev_server.advance_clock(6 * 86400)
    assert pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["Status"] == "DELETED"
    dev_server.advance_clock(2 * 86400)
    with pytest.raises(ClientError) as e:
        pca.describe_certificate_authority(CertificateAuthorityArn=arn)
    assert error_code(e.value) == "ResourceNotFoundException"


def test_tags_permissions_and_policies(pca, dev_server):
    arn = new_ca(pca, key="EC_prime256v1", signing="SHA256WITHECDSA", cn="admin")
    pca.tag_certificate_authority(CertificateAuthorityArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b"}])
    pca.untag_certificate_authority(CertificateAuthorityArn=arn, Tags=[{"Key": "b"}])
    assert pca.list_tags(CertificateAuthorityArn=arn)["Tags"] == [{"Key": "a", "Value": "1"}]
    pca.create_permission(CertificateAuthorityArn=arn, Principal="acm.amazonaws.com",
                          Actions=["IssueCertificate", "GetCertificate", "ListPermissions"])
    with pytest.raises(ClientError) as e:
        pca.create_permission(CertificateAuthorityArn=arn, Principal="acm.amazonaws.com", Actions=["GetCertificate"])
    assert error_code(e.value) == "PermissionAlreadyExistsException"
    perms = pca.list_permissions(CertificateAuthorityArn=arn)["Permissions"]
    assert len(perms) == 1 and perms[0]["Principal"] == "acm.amazonaws.com"
    assert sorted(perms[0]["Actions"]) == ["GetCertificate", "IssueCertificate", "ListPermissions"]
    pca.delete_permission(CertificateAuthorityArn=arn, Principal="acm.amazonaws.com")
    assert pca.list_permissions(CertificateAuthorityArn=arn)["Permissions"] == []
    with pytest.raises(ClientError) as e:
        pca.get_policy(ResourceArn=arn)
    assert error_code(e.value) == "ResourceNotFoundException"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": ["acm-pca:IssueCertificate", "acm-pca:GetCertificate"], "Resource": arn}]})
    pca.put_policy(ResourceArn=arn, Policy=policy)
    assert json.loads(pca.get_policy(ResourceArn=arn)["Policy"]) == json.loads(policy)
    with pytest.raises(ClientError) as e:
        pca.put_policy(ResourceArn=arn, Policy="{not json")
    assert error_code(e.value) == "InvalidPolicyException"
    pca.delete_policy(ResourceArn=arn)
    with pytest.raises(ClientError) as e:
        pca.delete_policy(ResourceArn=arn)
    assert error_code(e.value) == "ResourceNotFoundException"


def test_audit_report_is_written_to_the_data_dir(pca, chain, dev_server):
    for fmt, ext in (("JSON", "json"), ("CSV", "csv")):
        out = pca.create_certificate_authority_audit_report(
            CertificateAuthorityArn=chain["sub"], S3BucketName="audit-bucket", AuditReportResponseFormat=fmt)
        assert out["S3Key"].endswith(f"{out['AuditReportId']}.{ext}")
        rep = pca.describe_certificate_authority_audit_report(
            CertificateAuthorityArn=chain["sub"], AuditReportId=out["AuditReportId"])
        assert rep["AuditReportStatus"] == "SUCCESS"
        assert rep["S3BucketName"] == "audit-bucket" and rep["S3Key"] == out["S3Key"]
        path = dev_server.data_dir / "acm-pca-audit-reports" / "audit-bucket" / out["S3Key"]
        body = path.read_text()
        if fmt == "JSON":
            rows = json.loads(body)
            assert rows and all(r["certificateArn"].startswith(chain["sub"]) for r in rows)
        else:
            assert body.startswith("awsAccountId,")


def test_a_ca_expires_with_its_certificate(pca, dev_server, tmp_path):
    arn = new_ca(pca, key="EC_prime256v1", signing="SHA256WITHECDSA", cn="expiring")
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm="SHA256WITHECDSA", TemplateArn=ROOT_TEMPLATE,
        Validity={"Type": "DAYS", "Value": 2},
    )["CertificateArn"]
    pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)["Certificate"]
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=pem)
    # A certificate may not outlive its CA.
    with pytest.raises(ClientError) as e:
        pca.issue_certificate(CertificateAuthorityArn=arn, Csr=leaf_csr(tmp_path, "late.example.com"),
                              SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 3})
    assert error_code(e.value) == "InvalidArgsException"
    dev_server.advance_clock(3 * 86400)
    assert pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["Status"] == "EXPIRED"
    with pytest.raises(ClientError) as e:
        pca.issue_certificate(CertificateAuthorityArn=arn, Csr=leaf_csr(tmp_path, "late.example.com"),
                              SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 1})
    assert error_code(e.value) == "InvalidStateException"


def test_iam_policies_and_the_ca_policy_decide_access(server):
    admin = server.client("acm-pca")
    arn = new_ca(admin, key="EC_prime256v1", signing="SHA256WITHECDSA", cn="guarded")
    iam = server.client("iam")
    _, key = make_user(iam, inline=policy_doc(allow("acm-pca:DescribeCertificateAuthority"),
                                              deny("acm-pca:ListTags", arn)))
    user = server.client("acm-pca", creds=key)
    assert user.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["Arn"] == arn
    with pytest.raises(ClientError) as e:
        user.get_certificate_authority_csr(CertificateAuthorityArn=arn)
    assert error_code(e.value) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        user.list_tags(CertificateAuthorityArn=arn)
    assert error_code(e.value) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        user.create_certificate_authority(
            CertificateAuthorityConfiguration={"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA",
                                               "Subject": {"CommonName": "x"}},
            CertificateAuthorityType="ROOT")
    assert error_code(e.value) == "AccessDeniedException"


def test_the_aws_cli_describes_and_lists(dev_server, chain):
    r = dev_server.cli("acm-pca", "describe-certificate-authority", "--certificate-authority-arn", chain["root"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["CertificateAuthority"]["Status"] == "ACTIVE"
    r = dev_server.cli("acm-pca", "get-certificate-authority-certificate", "--certificate-authority-arn", chain["sub"])
    assert r.returncode == 0, r.stderr
    assert "BEGIN CERTIFICATE" in json.loads(r.stdout)["Certificate"]


def test_ca_private_keys_are_never_stored_in_clear(pca, chain, dev_server):
    # PKCS#8 RSA private keys start with the first DER prefix (version 0, rsaEncryption, then
    # an OCTET STRING, where a public key has a BIT STRING); EC P-256 ones with the second
    # (prime256v1, then the ECPrivateKey). Look for them raw and base64-encoded at each
    # alignment, and for PEM.
    markers = [bytes.fromhex("020100300d06092a864886f70d01010105000482"),
               bytes.fromhex("020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420")]
    needles = [b"PRIVATE KEY"]
    for m in markers:
        needles.append(m)
        for shift in range(3):
            enc = base64.b64encode(b"\0" * shift + m)
            start = -(-shift * 4 // 3)
            end = (shift + len(m)) * 4 // 3
            needles.append(enc[start:end])
    files = [p for p in dev_server.data_dir.rglob("*") if p.is_file()]
    assert files
    for p in files:
        data = p.read_bytes()
        for n in needles:
            assert n not in data, f"{p} holds a private key in clear"


def test_aws_json_1_1_requests_work_as_well_as_cbor(dev_server, chain):
    # boto3 and the aws CLI speak smithy-rpc-v2-cbor to ACM-PCA; older SDKs send awsJson1.1.
    r = dev_server.json_request("acm-pca", "ACMPrivateCA.DescribeCertificateAuthority",
                                json.dumps({"CertificateAuthorityArn": chain["sub"]}))
    assert r.status_code == 200, r.text
    assert r.json()["CertificateAuthority"]["Type"] == "SUBORDINATE"
    r = dev_server.json_request("acm-pca", "ACMPrivateCA.DescribeCertificateAuthority",
                                json.dumps({"CertificateAuthorityArn": chain["sub"] + "0"}))
    assert r.status_code == 400
    assert r.json()["__type"].split("#")[-1] in ("InvalidArnException", "ValidationException")


def test_api_passthrough_subject_sans_and_custom_extensions(pca, chain, tmp_path):
    passthrough = {
        "Subject": {"CommonName": "override.example.com", "Organization": "Passthrough"},
        "Extensions": {
            "SubjectAlternativeNames": [{"DnsName": "extra.example.com"}, {"IpAddress": "10.0.0.1"}],
            "CustomExtensions": [{"ObjectIdentifier": "1.3.6.1.4.1.55555.1", "Value": "DAVoZWxsbw==",
                                  "Critical": False}],
        },
    }
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=chain["sub"], Csr=leaf_csr(tmp_path, "pt.example.com"),
        SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 5}, ApiPassthrough=passthrough,
        TemplateArn=tpl("EndEntityCertificate_APIPassthrough"),
    )["CertificateArn"]
    pem = pca.get_certificate(CertificateAuthorityArn=chain["sub"], CertificateArn=cert_arn)["Certificate"]
    text = openssl("x509", "-noout", "-text", input=pem.encode()).decode()
    assert "CN=override.example.com" in text.replace(" = ", "=")
    assert "DNS:pt.example.com" in text and "DNS:extra.example.com" in text and "IP Address:10.0.0.1" in text
    assert "1.3.6.1.4.1.55555.1" in text and "hello" in text
    for bad in ({"CustomExtensions": [{"ObjectIdentifier": "2.5.29.19", "Value": "MAA="}]},
                {"ExtendedKeyUsage": [{"ExtendedKeyUsageType": "CODE_SIGNING"}]},
                {"KeyUsage": {"DigitalSignature": True}}):
        with pytest.raises(ClientError) as e:
            pca.issue_certificate(
                CertificateAuthorityArn=chain["sub"], Csr=leaf_csr(tmp_path, "pt2.example.com"),
                SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 5},
                ApiPassthrough={"Extensions": bad}, TemplateArn=tpl("EndEntityCertificate_APIPassthrough"))
        assert error_code(e.value) == "InvalidArgsException", bad


def test_update_revocation_configuration_turns_crls_on(pca, dev_server, tmp_path):
    arn = new_ca(pca, key="EC_prime256v1", signing="SHA256WITHECDSA", cn="crl later")
    activate_root(pca, arn, "SHA256WITHECDSA")

    def leaf_text(name):
        c = pca.issue_certificate(CertificateAuthorityArn=arn, Csr=leaf_csr(tmp_path, name),
                                  SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 2})
        pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=c["CertificateArn"])["Certificate"]
        return openssl("x509", "-noout", "-text", input=pem.encode()).decode()

    assert "CRL Distribution Points" not in leaf_text("before.example.com")
    with pytest.raises(ClientError) as e:
        pca.update_certificate_authority(CertificateAuthorityArn=arn, RevocationConfiguration={
            "OcspConfiguration": {"Enabled": True}})
    assert error_code(e.value) == "InvalidArgsException"
    cname = f"127.0.0.1:{dev_server.port}"
    pca.update_certificate_authority(CertificateAuthorityArn=arn, RevocationConfiguration={
        "CrlConfiguration": {"Enabled": True, "ExpirationInDays": 3, "CustomCname": cname}})
    ca = pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]
    assert ca["RevocationConfiguration"]["CrlConfiguration"]["Enabled"] is True
    assert f"URI:http://{cname}/_rampart/pca/crl/" in leaf_text("after.example.com")
    r = dev_server.http("GET", f"/_rampart/pca/crl/{arn.split('/')[-1]}.crl")
    assert r.status_code == 200
    assert "Next Update" in openssl("crl", "-inform", "DER", "-noout", "-text", input=r.content).decode()
    assert dev_server.http("GET", f"/_rampart/pca/crl/{uuid.uuid4()}.crl").status_code == 404


def test_pca_calls_are_cloudtrail_events(dev_server, chain):
    from conftest import lookup_events

    events = lookup_events(dev_server.client("cloudtrail"), "EventName", "IssueCertificate")
    assert events
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["eventSource"] == "acm-pca.amazonaws.com"
    assert any(chain["sub"] in e["CloudTrailEvent"] or chain["root"] in e["CloudTrailEvent"] for e in events)


# Issue 12: AWS's template ARNs, exactly as AWS documents them ("Understanding certificate
# templates": upper-case V1, every variety), and each template's semantics.
def issue_text(pca, ca, csr, template, signing="SHA256WITHECDSA", **kw):
    arn = pca.issue_certificate(CertificateAuthorityArn=ca, Csr=csr, SigningAlgorithm=signing, TemplateArn=template,
                                Validity={"Type": "DAYS", "Value": 3}, **kw)["CertificateArn"]
    pem = pca.get_certificate(CertificateAuthorityArn=ca, CertificateArn=arn)["Certificate"]
    return openssl("x509", "-noout", "-text", input=pem.encode()).decode()


def ext_block(text, name):
    """The lines of extension `name` in openssl's -text output (header and value)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(f"X509v3 {name}:"):
            return line.strip() + " | " + lines[i + 1].strip()
    return None


def test_root_ca_certificate_is_issued_with_the_documented_template_arn(pca):
    arn = new_ca(pca, key="EC_prime256v1", signing="SHA256WITHECDSA", cn="Doc Root")
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
        TemplateArn="arn:aws:acm-pca:::template/RootCACertificate/V1", Validity={"Type": "YEARS", "Value": 2},
    )["CertificateArn"]
    pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)["Certificate"]
    text = openssl("x509", "-noout", "-text", input=pem.encode()).decode()
    assert ext_block(text, "Basic Constraints") == "X509v3 Basic Constraints: critical | CA:TRUE"
    assert ext_block(text, "Key Usage") == \
        "X509v3 Key Usage: critical | Digital Signature, Certificate Sign, CRL Sign"
    assert ext_block(text, "Extended Key Usage") is None


def test_template_arns_other_than_aws_spellings_are_refused(pca, chain, tmp_path):
    csr = leaf_csr(tmp_path, "spell.example.com")
    for bad in ("arn:aws:acm-pca:::template/EndEntityCertificate/v1",
                "arn:aws:acm-pca:::template/EndEntityCertificate/V2",
                "arn:aws:acm-pca:::template/endentitycertificate/V1",
                "arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen4/V1",
                "arn:aws:acm-pca:::template/RootCACertificate_CSRPassthrough/V1",
                "arn:aws-iso:acm-pca:::template/EndEntityCertificate/V1"):
        with pytest.raises(ClientError) as e:
            pca.issue_certificate(CertificateAuthorityArn=chain["sub"], Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
                                  TemplateArn=bad, Validity={"Type": "DAYS", "Value": 1})
        assert error_code(e.value) == "InvalidArgsException", bad
    for partition in ("aws-cn", "aws-us-gov"):
        text = issue_text(pca, chain["sub"], csr, tpl("EndEntityServerAuthCertificate", partition))
        assert "TLS Web Server Authentication" in text


def test_end_entity_templates_set_their_documented_key_usages(pca, chain, tmp_path):
    csr = leaf_csr(tmp_path, "usage.example.com")
    cases = {
        "EndEntityCertificate": ("critical | Digital Signature, Key Encipherment",
                                 " | TLS Web Server Authentication, TLS Web Client Authentication"),
        "EndEntityClientAuthCertificate": ("critical | Digital Signature, Key Encipherment",
                                           " | TLS Web Client Authentication"),
        "EndEntityServerAuthCertificate_CSRPassthrough": ("critical | Digital Signature, Key Encipherment",
                                                         " | TLS Web Server Authentication"),
        "CodeSigningCertificate": ("critical | Digital Signature", " critical | Code Signing"),
        "OCSPSigningCertificate_APICSRPassthrough": ("critical | Digital Signature", " critical | OCSP Signing"),
    }
    for name, (ku, eku) in cases.items():
        text = issue_text(pca, chain["sub"], csr, tpl(name))
        assert ext_block(text, "Key Usage") == f"X509v3 Key Usage: {ku}", name
        assert ext_block(text, "Extended Key Usage") == f"X509v3 Extended Key Usage:{eku}", name
        assert ext_block(text, "Basic Constraints") == "X509v3 Basic Constraints: | CA:FALSE", name
        assert "DNS:usage.example.com" in text, name


def test_passthrough_applies_only_with_passthrough_templates(pca, chain, tmp_path):
    key = tmp_path / "csrpt.key"
    csr = openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", str(key), "-subj", "/CN=csrpt.example.com",
                  "-addext", "subjectAltName=DNS:csrpt.example.com",
                  "-addext", "1.3.6.1.4.1.55555.7=DER:0C:03:61:62:63",
                  "-addext", "extendedKeyUsage=codeSigning")
    api = {"Subject": {"CommonName": "api.example.com"}}
    base = issue_text(pca, chain["sub"], csr, tpl("EndEntityCertificate"), ApiPassthrough=api)
    assert "1.3.6.1.4.1.55555.7" not in base and "CN=csrpt.example.com" in base.replace(" = ", "=")
    csr_pt = issue_text(pca, chain["sub"], csr, tpl("EndEntityCertificate_CSRPassthrough"), ApiPassthrough=api)
    assert "1.3.6.1.4.1.55555.7" in csr_pt and "CN=csrpt.example.com" in csr_pt.replace(" = ", "=")
    # The template's extended key usage wins over the CSR's.
    assert "Code Signing" not in csr_pt and "TLS Web Server Authentication" in csr_pt
    both = issue_text(pca, chain["sub"], csr, tpl("EndEntityCertificate_APICSRPassthrough"), ApiPassthrough=api)
    assert "1.3.6.1.4.1.55555.7" in both and "CN=api.example.com" in both.replace(" = ", "=")
    # A blank template takes the CSR's extended key usage.
    blank = issue_text(pca, chain["sub"], csr, tpl("BlankEndEntityCertificate_CSRPassthrough"))
    assert ext_block(blank, "Extended Key Usage") == "X509v3 Extended Key Usage: | Code Signing"
    assert ext_block(blank, "Key Usage") is None


def test_blank_templates_take_key_usage_from_the_api(pca, chain, tmp_path):
    csr = leaf_csr(tmp_path, "smartcard.example.com")
    text = issue_text(pca, chain["sub"], csr, tpl("BlankEndEntityCertificate_CriticalBasicConstraints_APIPassthrough"),
                      ApiPassthrough={"Extensions": {
                          "KeyUsage": {"DigitalSignature": True, "NonRepudiation": True, "KeyEncipherment": True},
                          "ExtendedKeyUsage": [{"ExtendedKeyUsageType": "CLIENT_AUTH"},
                                               {"ExtendedKeyUsageType": "SMART_CARD_LOGIN"}]}})
    assert ext_block(text, "Basic Constraints") == "X509v3 Basic Constraints: critical | CA:FALSE"
    assert ext_block(text, "Key Usage") == \
        "X509v3 Key Usage: critical | Digital Signature, Non Repudiation, Key Encipherment"
    assert "TLS Web Client Authentication" in text and "Microsoft Smartcard Login" in text
    with pytest.raises(ClientError) as e:
        issue_text(pca, chain["sub"], csr, tpl("EndEntityCertificate_APIPassthrough"),
                   ApiPassthrough={"Extensions": {"KeyUsage": {"DigitalSignature": True}}})
    assert error_code(e.value) == "InvalidArgsException"


def test_subordinate_and_blank_root_templates_set_path_length(pca, tmp_path):
    root = new_ca(pca, cn="Blank Root")
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=root)["Csr"]
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=root, Csr=csr, SigningAlgorithm="SHA256WITHRSA",
        TemplateArn=tpl("BlankRootCACertificate_PathLen1_APIPassthrough"), Validity={"Type": "YEARS", "Value": 3},
        ApiPassthrough={"Extensions": {"KeyUsage": {"KeyCertSign": True, "CRLSign": True}}},
    )["CertificateArn"]
    got = pca.get_certificate(CertificateAuthorityArn=root, CertificateArn=cert_arn)
    assert "CertificateChain" not in got
    text = openssl("x509", "-noout", "-text", input=got["Certificate"].encode()).decode()
    assert ext_block(text, "Basic Constraints") == "X509v3 Basic Constraints: critical | CA:TRUE, pathlen:1"
    assert ext_block(text, "Key Usage") == "X509v3 Key Usage: critical | Certificate Sign, CRL Sign"
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=root, Certificate=got["Certificate"])
    sub = new_ca(pca, ca_type="SUBORDINATE", cn="PathLen Sub")
    sub_csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=sub)["Csr"]
    # The root's path length 1 leaves room for a subordinate of path length 0 only.
    with pytest.raises(ClientError) as e:
        issue_text(pca, root, sub_csr, tpl("SubordinateCACertificate_PathLen1_APICSRPassthrough"),
                   signing="SHA256WITHRSA")
    assert error_code(e.value) == "InvalidArgsException"
    text = issue_text(pca, root, sub_csr, tpl("BlankSubordinateCACertificate_PathLen0_APIPassthrough"),
                      signing="SHA256WITHRSA",
                      ApiPassthrough={"Extensions": {"CustomExtensions": [
                          {"ObjectIdentifier": "2.5.29.15", "Value": "AwIBBg==", "Critical": True}]}})
    assert ext_block(text, "Basic Constraints") == "X509v3 Basic Constraints: critical | CA:TRUE, pathlen:0"
    assert ext_block(text, "Key Usage") == "X509v3 Key Usage: critical | Certificate Sign, CRL Sign"


def test_list_tags_permissions_and_cas_page_with_tamper_evident_tokens(pca):
    arn = new_ca(pca, key="EC_prime256v1", signing="SHA256WITHECDSA", cn="paging")
    tags = [{"Key": f"k{i}", "Value": str(i)} for i in range(3)]
    pca.tag_certificate_authority(CertificateAuthorityArn=arn, Tags=tags)
    first = pca.list_tags(CertificateAuthorityArn=arn, MaxResults=2)
    assert len(first["Tags"]) == 2 and first["NextToken"]
    second = pca.list_tags(CertificateAuthorityArn=arn, MaxResults=2, NextToken=first["NextToken"])
    assert "NextToken" not in second
    assert sorted(first["Tags"] + second["Tags"], key=lambda t: t["Key"]) == tags
    # An edited token, or one from another listing, is refused.
    with pytest.raises(ClientError) as e:
        pca.list_tags(CertificateAuthorityArn=arn, MaxResults=2, NextToken=first["NextToken"][:-2] + "AA")
    assert error_code(e.value) == "InvalidNextTokenException"

    for account in ("111122223333", "444455556666", "777788889999"):
        pca.create_permission(CertificateAuthorityArn=arn, Principal="acm.amazonaws.com",
                              SourceAccount=account, Actions=["IssueCertificate", "GetCertificate"])
    page = pca.list_permissions(CertificateAuthorityArn=arn, MaxResults=2)
    assert len(page["Permissions"]) == 2 and page["NextToken"]
    rest = pca.list_permissions(CertificateAuthorityArn=arn, MaxResults=2, NextToken=page["NextToken"])
    assert "NextToken" not in rest
    assert sorted(p["SourceAccount"] for p in page["Permissions"] + rest["Permissions"]) == [
        "111122223333", "444455556666", "777788889999"]
    with pytest.raises(ClientError) as e:
        pca.list_permissions(CertificateAuthorityArn=arn, NextToken=first["NextToken"])
    assert error_code(e.value) == "InvalidNextTokenException"

    new_ca(pca, key="EC_prime256v1", signing="SHA256WITHECDSA", cn="paging 2")
    cas = pca.list_certificate_authorities(MaxResults=1)
    assert len(cas["CertificateAuthorities"]) == 1 and cas["NextToken"]
    with pytest.raises(ClientError) as e:
        pca.list_certificate_authorities(MaxResults=1, NextToken=cas["NextToken"][:-2] + "AA")
    assert error_code(e.value) == "InvalidNextTokenException"
