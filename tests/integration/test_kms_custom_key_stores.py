"""KMS custom key stores, driven with boto3 against a real server.

AWS_CLOUDHSM: a SoftHSM token initialised in a temp dir stands in for the CloudHSM cluster
(RAMPART_CLOUDHSM_CLUSTERS maps the cluster id to it); its user PIN is the kmsuser password.

EXTERNAL_KEY_STORE: an XKS proxy implemented here (HTTPS with a test CA, SigV4 verified with
hmac/hashlib, AES-GCM with `cryptography`), reached through RAMPART_XKS_CONNECT_TO.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import error_code, error_message, unique

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"
CLUSTER = "cluster-abcdefghijk"
OTHER_CLUSTER = "cluster-zyxwvutsrqp"
PIN = "kmsuser-Pw7x"
XKS_HOST = "xks.rampart.test"
XKS_PATH = "/kms/xks/v1"
XKS_AK = "AKIAXKSPROXYTESTABCDE"
XKS_SK = "c2VjcmV0LXNpZ25pbmcta2V5LWZvci14a3MtcHJveHktdGVzdA="


# ---------------------------------------------------------------------------------------------
# Test PKI
# ---------------------------------------------------------------------------------------------


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(directory):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Rampart test CA"))
        .issuer_name(_name("Rampart test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(XKS_HOST))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(XKS_HOST)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    (directory / "ca.pem").write_bytes(ca_pem)
    (directory / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (directory / "leaf.key").write_bytes(leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca_pem.decode()


# ---------------------------------------------------------------------------------------------
# A small XKS proxy (aws-kms-xksproxy-api-spec v1)
# ---------------------------------------------------------------------------------------------


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class XksProxy:
    def __init__(self, region):
        self.region = region
        self.access_key = XKS_AK
        self.secret = XKS_SK
        self.keys = {
            "xks-key-1": {"aes": AESGCM.generate_key(256), "spec": "AES_256",
                          "usage": ["ENCRYPT", "DECRYPT"], "status": "ENABLED"},
            "xks-key-2": {"aes": AESGCM.generate_key(256), "spec": "AES_256",
                          "usage": ["ENCRYPT", "DECRYPT"], "status": "ENABLED"},
            "xks-sign-only": {"aes": AESGCM.generate_key(256), "spec": "AES_256",
                              "usage": ["SIGN"], "status": "ENABLED"},
            "xks-disabled": {"aes": AESGCM.generate_key(256), "spec": "AES_256",
                             "usage": ["ENCRYPT", "DECRYPT"], "status": "DISABLED"},
        }
        self.fail_with = None  # (status, errorName) answered to every request
        self.calls = []
        self.bad_signatures = 0

    def verify(self, path, headers, body):
        auth = headers.get("Authorization", "")
        m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                         r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", auth)
        if not m:
            return False
        ak, date, region, service, signed, signature = m.groups()
        if ak != self.access_key or service != "kms-xks-proxy" or region != self.region:
            return False
        if not {"host", "x-amz-date"} <= set(signed.split(";")):
            return False
        canonical_headers = "".join(f"{h}:{headers.get(h, '').strip()}\n" for h in signed.split(";"))
        creq = "\n".join(["POST", path, "", canonical_headers, signed, hashlib.sha256(body).hexdigest()])
        sts = "\n".join(["AWS4-HMAC-SHA256", headers.get("x-amz-date", ""),
                         f"{date}/{region}/{service}/aws4_request",
                         hashlib.sha256(creq.encode()).hexdigest()])
        k = _hmac(("AWS4" + self.secret).encode(), date)
        for part in (region, service, "aws4_request"):
            k = _hmac(k, part)
        expected = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    @staticmethod
    def _aad(aad, meta):
        return len(aad).to_bytes(2, "big") + aad + len(meta).to_bytes(1, "big") + meta

    def handle(self, path, headers, body):
        """Returns (status, json)."""
        if not self.verify(path, headers, body):
            self.bad_signatures += 1
            return 401, {"errorName": "AuthenticationFailedException"}
        req = json.loads(body)
        self.calls.append((path, req))
        if self.fail_with:
            status, name = self.fail_with
            if name is None:
                return status, "this is not json"
            return status, {"errorName": name, "errorMessage": "injected by the test"}
        prefix = re.fullmatch(r"((?:/[A-Za-z0-9_-]+)*/kms/xks/v1)(/.*)", path)
        if not prefix:
            return 404, {"errorName": "InvalidUriPathException"}
        op = prefix.group(2)
        if op == "/health":
            return 200, {"xksProxyFleetSize": 1, "xksProxyVendor": "Rampart tests",
                         "xksProxyModel": "pytest", "ekmVendor": "cryptography",
                         "ekmFleetDetails": [{"id": "ekm-1", "model": "AESGCM", "healthStatus": "ACTIVE"}]}
        m = re.fullmatch(r"/keys/([A-Za-z0-9._-]+)/(metadata|encrypt|decrypt)", op)
        if not m:
            return 404, {"errorName": "InvalidUriPathException"}
        key = self.keys.get(m.group(1))
        if key is None:
            return 404, {"errorName": "KeyNotFoundException"}
        if m.group(2) == "metadata":
            return 200, {"keySpec": key["spec"], "keyUsage": key["usage"], "keyStatus": key["status"]}
        if key["status"] != "ENABLED":
            return 400, {"errorName": "InvalidStateException"}
        if req.get("encryptionAlgorithm") != "AES_GCM":
            return 400, {"errorName": "ValidationException"}
        aad = base64.b64decode(req.get("additionalAuthenticatedData", ""))
        if m.group(2) == "encrypt":
            plaintext = base64.b64decode(req["plaintext"])
            iv = os.urandom(12)
            meta = b"kv=1"
            out = AESGCM(key["aes"]).encrypt(iv, plaintext, self._aad(aad, meta))
            return 200, {"ciphertext": base64.b64encode(out[:-16]).decode(),
                         "authenticationTag": base64.b64encode(out[-16:]).decode(),
                         "initializationVector": base64.b64encode(iv).decode(),
                         "ciphertextMetadata": base64.b64encode(meta).decode()}
        ct = base64.b64decode(req["ciphertext"]) + base64.b64decode(req["authenticationTag"])
        iv = base64.b64decode(req["initializationVector"])
        meta = base64.b64decode(req.get("ciphertextMetadata", ""))
        try:
            plaintext = AESGCM(key["aes"]).decrypt(iv, ct, self._aad(aad, meta))
        except InvalidTag:
            return 400, {"errorName": "InvalidCiphertextException"}
        return 200, {"plaintext": base64.b64encode(plaintext).decode()}


def start_proxy(proxy, certdir):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            headers = {k.lower(): v for k, v in self.headers.items()}
            headers["Authorization"] = self.headers.get("Authorization", "")
            status, doc = proxy.handle(self.path, headers, body)
            out = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certdir / "leaf.pem", certdir / "leaf.key")
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


def _softhsm_available():
    if shutil.which("softhsm2-util") and os.path.exists(SOFTHSM_LIB):
        return True
    if os.environ.get("RAMPART_REQUIRE_SOFTHSM") == "1":
        pytest.fail("softhsm2 is required (RAMPART_REQUIRE_SOFTHSM=1) but not installed")
    return False


@pytest.fixture(scope="module")
def env(server_factory, tmp_path_factory):
    if not _softhsm_available():
        pytest.skip("SKIPPED: softhsm2 not installed")
    d = tmp_path_factory.mktemp("cks")
    tokens = d / "tokens"
    tokens.mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    hsm_env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    for label in ("cks-token", "cks-token-2"):
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN,
                        "--so-pin", "so-pin-1234"], check=True, capture_output=True, env=hsm_env)
    ca_pem = make_pki(d)
    proxy = XksProxy("us-east-1")
    httpd = start_proxy(proxy, d)
    port = httpd.server_address[1]
    server = server_factory("cks", dev=True, extra_env={
        "SOFTHSM2_CONF": str(conf),
        "RAMPART_CLOUDHSM_CLUSTERS": f"{CLUSTER}={SOFTHSM_LIB}:cks-token,{OTHER_CLUSTER}={SOFTHSM_LIB}:cks-token-2",
        "RAMPART_XKS_CA_FILE": str(d / "ca.pem"),
        "RAMPART_XKS_CONNECT_TO": f"{XKS_HOST}=127.0.0.1:{port}",
    })
    kms = server.client("kms")
    proxy.region = kms.meta.region_name
    yield {"server": server, "kms": kms, "proxy": proxy, "ca_pem": ca_pem, "tokens": tokens}
    httpd.shutdown()


def store_of(kms, store_id):
    return kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]


def create_hsm_store(kms, ca_pem, cluster=CLUSTER, password=PIN):
    return kms.create_custom_key_store(CustomKeyStoreName=unique("hsm"), CloudHsmClusterId=cluster,
                                       TrustAnchorCertificate=ca_pem,
                                       KeyStorePassword=password)["CustomKeyStoreId"]


def create_xks_store(kms, path=XKS_PATH, secret=XKS_SK):
    return kms.create_custom_key_store(
        CustomKeyStoreName=unique("xks"), CustomKeyStoreType="EXTERNAL_KEY_STORE",
        XksProxyConnectivity="PUBLIC_ENDPOINT", XksProxyUriEndpoint=f"https://{XKS_HOST}",
        XksProxyUriPath=path,
        XksProxyAuthenticationCredential={"AccessKeyId": XKS_AK, "RawSecretAccessKey": secret},
    )["CustomKeyStoreId"]


# ---------------------------------------------------------------------------------------------
# AWS_CLOUDHSM
# ---------------------------------------------------------------------------------------------


def test_cloudhsm_key_store_lifecycle(env):
    kms, ca_pem = env["kms"], env["ca_pem"]
    name = unique("hsm")
    store_id = kms.create_custom_key_store(CustomKeyStoreName=name, CloudHsmClusterId=CLUSTER,
                                           TrustAnchorCertificate=ca_pem,
                                           KeyStorePassword="wrong-password")["CustomKeyStoreId"]
    assert re.fullmatch(r"cks-[0-9a-f]{17}", store_id)
    s = store_of(kms, store_id)
    assert s["ConnectionState"] == "DISCONNECTED"
    assert s["CustomKeyStoreType"] == "AWS_CLOUDHSM"
    assert s["CloudHsmClusterId"] == CLUSTER
    assert s["TrustAnchorCertificate"] == ca_pem
    assert "KeyStorePassword" not in json.dumps(s, default=str)
    assert kms.describe_custom_key_stores(CustomKeyStoreName=name)["CustomKeyStores"][0]["CustomKeyStoreId"] == store_id

    # One key store per cluster; names unique.
    with pytest.raises(ClientError) as e:
        create_hsm_store(kms, ca_pem)
    assert error_code(e.value) == "CloudHsmClusterInUseException"
    with pytest.raises(ClientError) as e:
        kms.create_custom_key_store(CustomKeyStoreName=name, CloudHsmClusterId=OTHER_CLUSTER,
                                    TrustAnchorCertificate=ca_pem, KeyStorePassword=PIN)
    assert error_code(e.value) == "CustomKeyStoreNameInUseException"

    # Creating a key needs a connected store.
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)
    assert error_code(e.value) == "CustomKeyStoreInvalidStateException"

    # A wrong kmsuser password: FAILED with INVALID_CREDENTIALS.
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    s = store_of(kms, store_id)
    assert (s["ConnectionState"], s["ConnectionErrorCode"]) == ("FAILED", "INVALID_CREDENTIALS")
    with pytest.raises(ClientError) as e:
        kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(e.value) == "CustomKeyStoreInvalidStateException"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.update_custom_key_store(CustomKeyStoreId=store_id, KeyStorePassword=PIN)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    s = store_of(kms, store_id)
    assert s["ConnectionState"] == "CONNECTED"
    assert "ConnectionErrorCode" not in s

    # Updates need it disconnected.
    with pytest.raises(ClientError) as e:
        kms.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName=unique("n"))
    assert error_code(e.value) == "CustomKeyStoreInvalidStateException"

    # Keys: symmetric only, origin AWS_CLOUDHSM, material made in the token.
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id, KeySpec="RSA_2048",
                       KeyUsage="ENCRYPT_DECRYPT")
    assert error_code(e.value) == "UnsupportedOperationException"
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id, MultiRegion=True)
    assert error_code(e.value) == "UnsupportedOperationException"
    md = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)["KeyMetadata"]
    assert md["Origin"] == "AWS_CLOUDHSM"
    assert md["CustomKeyStoreId"] == store_id
    assert md["CloudHsmClusterId"] == CLUSTER
    assert md["KeyState"] == "Enabled"
    key = md["KeyId"]

    ct = kms.encrypt(KeyId=key, Plaintext=b"in the token", EncryptionContext={"a": "b"})["CiphertextBlob"]
    out = kms.decrypt(CiphertextBlob=ct, EncryptionContext={"a": "b"})
    assert out["Plaintext"] == b"in the token" and out["KeyId"].endswith(key)
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=ct, EncryptionContext={"a": "c"})
    assert error_code(e.value) == "InvalidCiphertextException"
    dk = kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    assert len(kms.generate_data_key_without_plaintext(KeyId=key, NumberOfBytes=16)["CiphertextBlob"]) > 16
    plain_key = kms.create_key()["KeyMetadata"]["KeyId"]
    re_ct = kms.re_encrypt(CiphertextBlob=ct, SourceEncryptionContext={"a": "b"},
                           DestinationKeyId=plain_key)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=re_ct)["Plaintext"] == b"in the token"
    back = kms.re_encrypt(CiphertextBlob=re_ct, DestinationKeyId=key)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=back)["Plaintext"] == b"in the token"
    with pytest.raises(ClientError) as e:
        kms.generate_data_key_pair(KeyId=key, KeyPairSpec="ECC_NIST_P256")
    assert error_code(e.value) == "UnsupportedOperationException"

    # Disconnected: the key is Unavailable and cryptography fails.
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert store_of(kms, store_id)["ConnectionState"] == "DISCONNECTED"
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Unavailable"
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert error_code(e.value) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=ct, EncryptionContext={"a": "b"})
    assert error_code(e.value) == "KMSInvalidStateException"

    # Deleting needs it disconnected and empty.
    with pytest.raises(ClientError) as e:
        kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(e.value) == "CustomKeyStoreHasCMKsException"

    # Reconnected: the same token key decrypts the old ciphertext.
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"a": "b"})["Plaintext"] == b"in the token"
    with pytest.raises(ClientError) as e:
        kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(e.value) == "CustomKeyStoreInvalidStateException"

    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    env["server"].advance_clock(8 * 86400)
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    with pytest.raises(ClientError) as e:
        kms.describe_custom_key_stores(CustomKeyStoreId=store_id)
    assert error_code(e.value) == "CustomKeyStoreNotFoundException"


def test_cloudhsm_backing_keys_are_non_extractable_token_objects(env):
    kms = env["kms"]
    # The other cluster's store: the key must appear in its token, never in the server's store.
    store_id = create_hsm_store(kms, env["ca_pem"], cluster=OTHER_CLUSTER)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    try:
        assert store_of(kms, store_id)["ConnectionState"] == "CONNECTED"
        key = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)["KeyMetadata"]
        material = key["CurrentKeyMaterialId"]
        conf = {**os.environ, "SOFTHSM2_CONF": str(env["tokens"].parent / "softhsm2.conf")}
        listing = subprocess.run(["pkcs11-tool", "--module", SOFTHSM_LIB, "--token-label", "cks-token-2",
                                  "--login", "--pin", PIN, "--list-objects", "--type", "secrkey"],
                                 capture_output=True, text=True, env=conf) if shutil.which("pkcs11-tool") else None
        if listing is not None and listing.returncode == 0:
            assert material in listing.stdout
            assert "never extractable" in listing.stdout
        ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"p"
        # Restarting the server drops the token session; the sealed password logs in again.
        env["server"].stop()
        env["server"].start()
        kms = env["server"].client("kms")
        env["kms"] = kms
        assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"p"
        assert PIN not in env["server"].stdout_text() + env["server"].stderr_text()
    finally:
        kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)


def test_cloudhsm_create_validates_inputs(env):
    kms = env["kms"]
    with pytest.raises(ClientError) as e:
        kms.create_custom_key_store(CustomKeyStoreName=unique("x"), CloudHsmClusterId="cluster-unknownclstr",
                                    TrustAnchorCertificate=env["ca_pem"], KeyStorePassword=PIN)
    assert error_code(e.value) == "CloudHsmClusterNotFoundException"
    with pytest.raises(ClientError) as e:
        kms.create_custom_key_store(CustomKeyStoreName=unique("x"), CloudHsmClusterId=OTHER_CLUSTER,
                                    TrustAnchorCertificate="not a certificate", KeyStorePassword=PIN)
    assert error_code(e.value) in ("IncorrectTrustAnchorException", "CloudHsmClusterInUseException")
    with pytest.raises(ClientError) as e:
        kms.describe_custom_key_stores(CustomKeyStoreName="no-such-store")
    assert error_code(e.value) == "CustomKeyStoreNotFoundException"
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId="cks-00000000000000000")
    assert error_code(e.value) == "CustomKeyStoreNotFoundException"


# ---------------------------------------------------------------------------------------------
# EXTERNAL_KEY_STORE
# ---------------------------------------------------------------------------------------------


def test_external_key_store_lifecycle(env):
    kms, proxy = env["kms"], env["proxy"]
    proxy.fail_with = None
    store_id = create_xks_store(kms)
    s = store_of(kms, store_id)
    assert s["CustomKeyStoreType"] == "EXTERNAL_KEY_STORE"
    assert s["ConnectionState"] == "DISCONNECTED"
    cfg = s["XksProxyConfiguration"]
    assert cfg == {"Connectivity": "PUBLIC_ENDPOINT", "AccessKeyId": XKS_AK,
                   "UriEndpoint": f"https://{XKS_HOST}", "UriPath": XKS_PATH}
    assert XKS_SK not in json.dumps(kms.describe_custom_key_stores()["CustomKeyStores"], default=str)
    assert proxy.calls[-1][0] == XKS_PATH + "/health"

    with pytest.raises(ClientError) as e:
        create_xks_store(kms)
    assert error_code(e.value) == "XksProxyUriInUseException"

    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert store_of(kms, store_id)["ConnectionState"] == "CONNECTED"

    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store_id, XksKeyId="missing-key")
    assert error_code(e.value) == "XksKeyNotFoundException"
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store_id, XksKeyId="xks-sign-only")
    assert error_code(e.value) == "XksKeyInvalidConfigurationException"
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store_id, XksKeyId="xks-disabled")
    assert error_code(e.value) == "XksKeyInvalidConfigurationException"

    md = kms.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store_id, XksKeyId="xks-key-1")["KeyMetadata"]
    assert md["Origin"] == "EXTERNAL_KEY_STORE"
    assert md["CustomKeyStoreId"] == store_id
    assert md["XksKeyConfiguration"] == {"Id": "xks-key-1"}
    key = md["KeyId"]
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["XksKeyConfiguration"] == {"Id": "xks-key-1"}
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store_id, XksKeyId="xks-key-1")
    assert error_code(e.value) == "XksKeyAlreadyInUseException"

    ct = kms.encrypt(KeyId=key, Plaintext=b"double", EncryptionContext={"k": "v"})["CiphertextBlob"]
    path, req = proxy.calls[-1]
    assert path == f"{XKS_PATH}/keys/xks-key-1/encrypt"
    assert req["requestMetadata"]["kmsOperation"] == "Encrypt"
    assert req["requestMetadata"]["kmsKeyArn"].endswith(key)
    # Double encryption: the proxy never sees the plaintext.
    assert base64.b64decode(req["plaintext"]) != b"double" and len(base64.b64decode(req["plaintext"])) > 6
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"k": "v"})["Plaintext"] == b"double"
    assert proxy.calls[-1][0] == f"{XKS_PATH}/keys/xks-key-1/decrypt"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=ct, EncryptionContext={"k": "other"})
    assert error_code(e.value) in ("KMSInvalidStateException", "InvalidCiphertextException")
    dk = kms.generate_data_key(KeyId=key, NumberOfBytes=32)
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    moved = kms.re_encrypt(CiphertextBlob=ct, SourceEncryptionContext={"k": "v"}, DestinationKeyId=other)
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["Plaintext"] == b"double"

    # Proxy errors map to AWS's exceptions and messages.
    proxy.fail_with = (500, "InternalException")
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert error_code(e.value) == "KMSInvalidStateException"
    assert "cannot communicate with the external key manager" in error_message(e.value)
    assert "injected by the test" not in error_message(e.value)
    proxy.fail_with = (400, None)
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=ct, EncryptionContext={"k": "v"})
    assert error_code(e.value) == "KMSInvalidStateException"
    assert "cannot interpret the response" in error_message(e.value)
    proxy.fail_with = None
    proxy.keys["xks-key-1"]["status"] = "DISABLED"
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert error_code(e.value) == "KMSInvalidStateException"
    assert "not enabled in the external key manager" in error_message(e.value)
    proxy.keys["xks-key-1"]["status"] = "ENABLED"

    # Disconnected: Unavailable, and cryptography fails without calling the proxy.
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Unavailable"
    n = len(proxy.calls)
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=ct, EncryptionContext={"k": "v"})
    assert error_code(e.value) == "KMSInvalidStateException"
    assert len(proxy.calls) == n

    # Wrong credentials: the proxy rejects the signature.
    kms.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName=unique("renamed"))
    with pytest.raises(ClientError) as e:
        kms.update_custom_key_store(
            CustomKeyStoreId=store_id,
            XksProxyAuthenticationCredential={"AccessKeyId": XKS_AK, "RawSecretAccessKey": "W" * 43})
    assert error_code(e.value) == "XksProxyIncorrectAuthenticationCredentialException"
    assert proxy.bad_signatures >= 1
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"k": "v"})["Plaintext"] == b"double"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    with pytest.raises(ClientError) as e:
        kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(e.value) == "CustomKeyStoreHasCMKsException"


def test_external_key_store_connect_failures_and_validation(env):
    kms, proxy = env["kms"], env["proxy"]
    proxy.fail_with = None
    # A different path prefix, so the URI is not in use.
    store_id = create_xks_store(kms, path="/tenant-b/kms/xks/v1")
    proxy.secret = "Z" * 43  # the proxy's credential changes under the key store
    try:
        kms.connect_custom_key_store(CustomKeyStoreId=store_id)
        s = store_of(kms, store_id)
        assert (s["ConnectionState"], s["ConnectionErrorCode"]) == ("FAILED", "XKS_PROXY_ACCESS_DENIED")
    finally:
        proxy.secret = XKS_SK
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    proxy.fail_with = (503, "DependencyTimeoutException")
    try:
        with pytest.raises(ClientError) as e:
            create_xks_store(kms, path="/tenant-c/kms/xks/v1")
        assert error_code(e.value) == "XksProxyUriUnreachableException"
    finally:
        proxy.fail_with = None
    with pytest.raises(ClientError) as e:
        kms.create_custom_key_store(
            CustomKeyStoreName=unique("vpc"), CustomKeyStoreType="EXTERNAL_KEY_STORE",
            XksProxyConnectivity="VPC_ENDPOINT_SERVICE", XksProxyUriEndpoint=f"https://{XKS_HOST}",
            XksProxyUriPath="/tenant-d/kms/xks/v1",
            XksProxyVpcEndpointServiceName="com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
            XksProxyAuthenticationCredential={"AccessKeyId": XKS_AK, "RawSecretAccessKey": XKS_SK})
    assert error_code(e.value) == "XksProxyVpcEndpointServiceNotFoundException"
    with pytest.raises(ClientError) as e:
        create_xks_store(kms, path="/no/xks/here")
    assert error_code(e.value) == "ValidationException"
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)


def test_describe_custom_key_stores_pages(env):
    kms = env["kms"]
    all_ids = [s["CustomKeyStoreId"] for s in kms.describe_custom_key_stores()["CustomKeyStores"]]
    assert len(all_ids) >= 2
    seen, marker = [], None
    while True:
        kw = {"Limit": 1}
        if marker:
            kw["Marker"] = marker
        page = kms.describe_custom_key_stores(**kw)
        seen += [s["CustomKeyStoreId"] for s in page["CustomKeyStores"]]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert seen == all_ids
    with pytest.raises(ClientError) as e:
        kms.describe_custom_key_stores(Marker="bogus")
    assert error_code(e.value) == "InvalidMarkerException"
