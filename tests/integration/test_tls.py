"""TLS in flight: `rampart serve --tls` serves the API over HTTPS with a certificate from the
node's own CA (written to DATA_DIR/ca.pem), renews it on the scheduler before it expires, and
presents the renewed certificate to new handshakes without a restart."""

import socket
import ssl
import subprocess

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509

from conftest import allow, error_code, make_user, policy_doc


def presented_certificate(port, ca_bundle):
    ctx = ssl.create_default_context(cafile=ca_bundle)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


@pytest.fixture(scope="module")
def tls_server(server_factory):
    return server_factory("tls", dev=True, extra_args=["--tls"])


def test_aws_cli_talks_to_rampart_over_tls(tls_server):
    assert tls_server.endpoint.startswith("https://")
    r = tls_server.cli("kms", "list-keys")
    assert r.returncode == 0, r.stderr
    kms = tls_server.client("kms")
    kms.create_key(Description="over TLS")
    assert kms.list_keys()["Keys"]


def test_certificate_is_issued_by_the_ca_in_the_data_dir(tls_server):
    cert = presented_certificate(tls_server.port, tls_server.ca_bundle)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    ca = x509.load_pem_x509_certificate(open(tls_server.ca_bundle, "rb").read())
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    # The CA's private key is not in the data dir in clear.
    out = subprocess.run(["grep", "-rl", "PRIVATE KEY", str(tls_server.data_dir)], capture_output=True, text=True)
    assert out.stdout == ""


def test_plain_http_is_refused_on_the_tls_port(tls_server):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{tls_server.port}/_rampart/health", timeout=5)
    # An unverified client is refused by the client's own check: the CA is not a public one.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://127.0.0.1:{tls_server.port}/_rampart/health", timeout=5, verify=True)


def test_renewed_certificate_is_presented_without_restart(tls_server):
    before = presented_certificate(tls_server.port, tls_server.ca_bundle)
    # 61 days later the 90-day certificate has less than 30 days left: the scheduler renews it.
    tls_server.advance_clock(61 * 86400)
    after = presented_certificate(tls_server.port, tls_server.ca_bundle)
    assert after.serial_number != before.serial_number
    r = tls_server.cli("kms", "list-keys")
    assert r.returncode == 0, r.stderr


def test_http_listener_next_to_tls_and_secure_transport_condition(server_factory):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    free = probe.getsockname()[1]
    probe.close()
    srv = server_factory("tlsplain", extra_args=["--tls", "--http-listen", f"127.0.0.1:{free}"])
    assert requests.get(f"http://127.0.0.1:{free}/_rampart/health", timeout=5).status_code == 200
    # A user allowed KMS only over TLS (aws:SecureTransport) is allowed on the HTTPS listener
    # and refused on the plain one.
    _, key = make_user(
        srv.client("iam"),
        inline=policy_doc(allow("kms:*", Condition={"Bool": {"aws:SecureTransport": "true"}})),
    )
    over_tls = srv.client("kms", creds=key)
    over_tls.list_keys()
    plain = boto3.session.Session().client(
        "kms",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{free}",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as e:
        plain.list_keys()
    assert error_code(e.value) == "AccessDeniedException"
