"""STS federation through boto3: AssumeRoleWithWebIdentity with ID tokens from a local OpenID
Connect provider (discovery document and JWKS over HTTPS, certificates from a throwaway CA).

The calls are unsigned, as botocore sends them (the model marks them `authtype: none`); the
token is the caller's only proof of identity.
"""

import base64
import datetime
import hashlib
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import lookup_events, unique, wait_for

CLIENT_ID = "rampart-app"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(directory, prefix, names):
    """A CA and a leaf for `names` (DNS names or IP addresses); returns the CA certificate."""
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{prefix} test CA"))
        .issuer_name(_name(f"{prefix} test CA"))
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
    sans = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    (directory / f"{prefix}-ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    # The server presents its chain, CA included, as thumbprint verification expects (AWS takes
    # the thumbprint of the top certificate the endpoint presents).
    (directory / f"{prefix}-leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM)
                                                   + ca.public_bytes(serialization.Encoding.PEM))
    (directory / f"{prefix}-leaf.key").write_bytes(leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca


class OidcProvider:
    """An OpenID Connect provider: serves its discovery document and JWKS over HTTPS and signs
    ID tokens with an RSA and an EC key."""

    def __init__(self, directory, prefix, host):
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.requests = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                provider.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": f"{provider.issuer}/keys"}
                elif self.path == "/keys":
                    body = provider.jwks()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                out = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(directory / f"{prefix}-leaf.pem", directory / f"{prefix}-leaf.key")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.host_path = f"{host}:{self.port}"
        self.issuer = f"https://{self.host_path}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def jwks(self):
        pub = self.rsa_key.public_key().public_numbers()
        ecpub = self.ec_key.public_key().public_numbers()
        return {"keys": [
            {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
             "n": b64url(_int_bytes(pub.n)), "e": b64url(_int_bytes(pub.e))},
            {"kty": "EC", "kid": "ec-1", "use": "sig", "crv": "P-256",
             "x": b64url(ecpub.x.to_bytes(32, "big")), "y": b64url(ecpub.y.to_bytes(32, "big"))},
        ]}

    def token(self, alg="RS256", key=None, **claims):
        now = int(time.time())
        body = {"iss": self.issuer, "aud": CLIENT_ID, "sub": "user-1", "iat": now, "exp": now + 600}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        kid = "rsa-1" if alg.startswith("RS") else "ec-1"
        header = {"alg": alg, "kid": kid, "typ": "JWT"}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(body).encode())}"
        if alg == "RS256":
            sig = (key or self.rsa_key).sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        else:
            der = (key or self.ec_key).sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{b64url(sig)}"

    def stop(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def fed(server_factory, tmp_path_factory):
    d = tmp_path_factory.mktemp("oidc")
    make_pki(d, "trusted", ["localhost"])
    pinned_ca = make_pki(d, "pinned", ["127.0.0.1"])
    trusted = OidcProvider(d, "trusted", "localhost")
    # Its CA is not given to Rampart: reachable only through the provider's thumbprint.
    pinned = OidcProvider(d, "pinned", "127.0.0.1")
    server = server_factory("stsfed", extra_env={"RAMPART_OIDC_CA_FILE": str(d / "trusted-ca.pem")})
    iam = server.client("iam")
    arn = iam.create_open_id_connect_provider(
        Url=trusted.issuer, ClientIDList=[CLIENT_ID])["OpenIDConnectProviderArn"]
    role = iam.create_role(RoleName=unique("web"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{trusted.host_path}:aud": CLIENT_ID,
                f"{trusted.host_path}:sub": "user-1",
            }},
        }],
    }))["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}],
    }))
    yield {"server": server, "iam": iam, "trusted": trusted, "pinned": pinned,
           "pinned_ca": pinned_ca, "provider_arn": arn, "role": role}
    trusted.stop()
    pinned.stop()


def assume(fed, token, role_arn=None, **kw):
    sts = fed["server"].client("sts")
    return sts.assume_role_with_web_identity(
        RoleArn=role_arn or fed["role"]["Arn"], RoleSessionName="app1", WebIdentityToken=token, **kw)


def error_of(fed, token, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        assume(fed, token, **kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_signed_id_token_gives_role_credentials_that_work(fed, alg):
    resp = assume(fed, fed["trusted"].token(alg=alg), DurationSeconds=900)
    assert resp["SubjectFromWebIdentityToken"] == "user-1"
    assert resp["Audience"] == CLIENT_ID
    assert resp["Provider"] == fed["provider_arn"]
    assert resp["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::000000000000:assumed-role/{fed['role']['RoleName']}/app1")
    assert resp["AssumedRoleUser"]["AssumedRoleId"] == f"{fed['role']['RoleId']}:app1"
    creds = resp["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    me = fed["server"].client("sts", creds=creds).get_caller_identity()
    assert me["Arn"] == resp["AssumedRoleUser"]["Arn"]
    # The session has the role's permissions, and only those.
    iam = fed["server"].client("iam", creds=creds)
    assert iam.get_role(RoleName=fed["role"]["RoleName"])["Role"]["Arn"] == fed["role"]["Arn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_users()
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "/keys" in fed["trusted"].requests


def test_a_token_signed_by_another_key_is_refused(fed):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    code, _ = error_of(fed, fed["trusted"].token(key=other))
    assert code == "InvalidIdentityToken"


def test_a_changed_payload_is_refused(fed):
    header, _, sig = fed["trusted"].token().split(".")
    now = int(time.time())
    forged = b64url(json.dumps({"iss": fed["trusted"].issuer, "aud": CLIENT_ID, "sub": "user-1",
                                "iat": now, "exp": now + 86400}).encode())
    code, _ = error_of(fed, f"{header}.{forged}.{sig}")
    assert code == "InvalidIdentityToken"


def test_an_audience_not_registered_is_refused(fed):
    code, msg = error_of(fed, fed["trusted"].token(aud="someone-else"))
    assert (code, msg) == ("InvalidIdentityToken", "Incorrect token audience")


def test_an_issuer_without_a_provider_is_refused(fed):
    code, msg = error_of(fed, fed["trusted"].token(iss="https://issuer.invalid"))
    assert code == "InvalidIdentityToken"
    assert "No OpenIDConnect provider found in your account for https://issuer.invalid" in msg


def test_an_expired_token_is_refused(fed):
    now = int(time.time())
    code, msg = error_of(fed, fed["trusted"].token(iat=now - 7200, exp=now - 3600))
    assert code == "ExpiredTokenException"
    assert msg.startswith("Token expired: current date/time")


def test_unsigned_and_hmac_tokens_are_refused(fed):
    body = b64url(json.dumps({"iss": fed["trusted"].issuer, "aud": CLIENT_ID, "sub": "user-1",
                              "exp": int(time.time()) + 600}).encode())
    for alg in ("none", "HS256"):
        header = b64url(json.dumps({"alg": alg}).encode())
        code, _ = error_of(fed, f"{header}.{body}.{b64url(b'x')}")
        assert code == "InvalidIdentityToken"


def test_the_trust_policy_conditions_decide(fed):
    code, msg = error_of(fed, fed["trusted"].token(sub="user-2"))
    assert (code, msg) == ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")


def test_a_role_that_does_not_trust_the_provider_is_refused(fed):
    iam = fed["iam"]
    role = iam.create_role(RoleName=unique("noweb"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                       "Action": "sts:AssumeRole"}],
    }))["Role"]
    code, _ = error_of(fed, fed["trusted"].token(), role_arn=role["Arn"])
    assert code == "AccessDenied"


def _pinned_role(fed, thumbprints):
    iam = fed["iam"]
    pinned = fed["pinned"]
    arn = f"arn:aws:iam::000000000000:oidc-provider/{pinned.host_path}"
    try:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    except botocore.exceptions.ClientError:
        pass
    iam.create_open_id_connect_provider(Url=pinned.issuer, ClientIDList=[CLIENT_ID],
                                        ThumbprintList=thumbprints)
    return iam.create_role(RoleName=unique("pinned"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Federated": arn},
                       "Action": "sts:AssumeRoleWithWebIdentity"}],
    }))["Role"]


def test_a_provider_whose_ca_is_not_trusted_is_unreachable_without_its_thumbprint(fed):
    role = _pinned_role(fed, ["0" * 40])
    code, _ = error_of(fed, fed["pinned"].token(), role_arn=role["Arn"])
    assert code == "IDPCommunicationError"


def test_the_thumbprint_of_the_providers_ca_establishes_trust(fed):
    ca_der = fed["pinned_ca"].public_bytes(serialization.Encoding.DER)
    role = _pinned_role(fed, [hashlib.sha1(ca_der).hexdigest()])
    resp = assume(fed, fed["pinned"].token(), role_arn=role["Arn"])
    assert resp["SubjectFromWebIdentityToken"] == "user-1"


def test_a_provider_that_does_not_answer_is_a_communication_error(fed):
    iam = fed["iam"]
    issuer = "https://localhost:1"
    arn = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=[CLIENT_ID])[
        "OpenIDConnectProviderArn"]
    role = iam.create_role(RoleName=unique("down"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Federated": arn},
                       "Action": "sts:AssumeRoleWithWebIdentity"}],
    }))["Role"]
    code, _ = error_of(fed, fed["trusted"].token(iss=issuer), role_arn=role["Arn"])
    assert code == "IDPCommunicationError"


def test_other_sts_calls_still_need_a_signature(fed):
    import requests

    r = requests.post(fed["server"].endpoint, data={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
                      timeout=10)
    assert r.status_code == 403
    assert "MissingAuthenticationToken" in r.text


def test_cloudtrail_records_the_call_without_the_token(fed):
    token = fed["trusted"].token()
    assume(fed, token)
    error_of(fed, fed["trusted"].token(aud="someone-else"))
    ct = fed["server"].client("cloudtrail")

    def events():
        evs = lookup_events(ct, "EventName", "AssumeRoleWithWebIdentity")
        return evs if any("errorCode" not in json.loads(e["CloudTrailEvent"]) for e in evs) and any(
            "errorCode" in json.loads(e["CloudTrailEvent"]) for e in evs) else None

    evs = wait_for(events, timeout=10)
    assert evs, "AssumeRoleWithWebIdentity events are in the role account's trail"
    ok = [json.loads(e["CloudTrailEvent"]) for e in evs]
    ok = [e for e in ok if "errorCode" not in e][0]
    assert ok["userIdentity"]["type"] == "WebIdentityUser"
    assert ok["userIdentity"]["userName"] == "user-1"
    assert ok["userIdentity"]["principalId"] == f"{fed['trusted'].host_path}:{CLIENT_ID}:user-1"
    assert ok["userIdentity"]["identityProvider"] == fed["trusted"].host_path
    assert ok["recipientAccountId"] == "000000000000"
    assert ok["requestParameters"]["webIdentityToken"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert ok["requestParameters"]["roleArn"] == fed["role"]["Arn"]
    assert token not in fed["server"].audit_text()
    assert token.split(".")[2] not in fed["server"].audit_text()


# ---------------------------------------------------------------------------------------------
# AssumeRoleWithSAML: a SAML 2.0 response signed here (enveloped signature, exclusive C14N,
# RSA-SHA256). The signed assertion is written directly in its canonical form; the response
# sent carries it re-serialised (other attribute order, self-closing tags, namespaces declared
# on the response), so Rampart must canonicalise it to check the digest.
# ---------------------------------------------------------------------------------------------

SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP_NS = "urn:oasis:names:tc:SAML:2.0:protocol"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
IDP_ENTITY = "https://idp.rampart.test/saml"


def _iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


class SamlIdp:
    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("idp.rampart.test"))
            .issuer_name(_name("idp.rampart.test"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(self.key, hashes.SHA256())
        )

    def metadata(self):
        cert_b64 = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        return (
            f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY}">'
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
            f'<ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data>'
            '</ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>'
        )

    def assertion_parts(self, roles, session_name="alice", name_id="alice@example.com",
                        audience="https://signin.aws.amazon.com/saml", lifetime=300, issued=None,
                        assertion_id="_a1"):
        """The canonical assertion (without signature) and the same assertion re-serialised,
        as two lists of (canonical, sent) fragments around the signature's place."""
        now = int(time.time()) if issued is None else issued
        until = _iso(now + lifetime)
        attrs_c = "".join(
            f'<saml:Attribute Name="{_esc(n)}">'
            + "".join(f"<saml:AttributeValue>{_esc(v)}</saml:AttributeValue>" for v in vals)
            + "</saml:Attribute>"
            for n, vals in [
                ("https://aws.amazon.com/SAML/Attributes/Role", roles),
                ("https://aws.amazon.com/SAML/Attributes/RoleSessionName", [session_name]),
            ]
        )
        head_c = (f'<saml:Assertion xmlns:saml="{SAML_NS}" ID="{assertion_id}" IssueInstant="{_iso(now)}" '
                  f'Version="2.0"><saml:Issuer>{IDP_ENTITY}</saml:Issuer>')
        body_c = (
            '<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">'
            f'{_esc(name_id)}</saml:NameID>'
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="https://signin.aws.amazon.com/saml">'
            '</saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject>'
            f'<saml:Conditions NotBefore="{_iso(now - 5)}" NotOnOrAfter="{until}"><saml:AudienceRestriction>'
            f'<saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>'
            f'<saml:AttributeStatement>{attrs_c}</saml:AttributeStatement></saml:Assertion>'
        )
        # Sent form: the namespace is declared on the Response, attributes reordered, single
        # quotes and self-closing tags, whitespace-free so the text content is unchanged.
        head_s = (f"<saml:Assertion Version='2.0' IssueInstant='{_iso(now)}' ID='{assertion_id}'>"
                  f"<saml:Issuer>{IDP_ENTITY}</saml:Issuer>")
        body_s = body_c.replace(
            '<saml:SubjectConfirmationData NotOnOrAfter="' + until
            + '" Recipient="https://signin.aws.amazon.com/saml"></saml:SubjectConfirmationData>',
            "<saml:SubjectConfirmationData Recipient='https://signin.aws.amazon.com/saml' NotOnOrAfter='"
            + until + "'/>")
        return head_c, body_c, head_s, body_s

    def signature(self, canonical_assertion, ref_id):
        digest = base64.b64encode(hashlib.sha256(canonical_assertion.encode()).digest()).decode()
        signed_info = (
            f'<ds:SignedInfo xmlns:ds="{DS_NS}">'
            '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:CanonicalizationMethod>'
            '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"></ds:SignatureMethod>'
            f'<ds:Reference URI="#{ref_id}"><ds:Transforms>'
            '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></ds:Transform>'
            '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:Transform>'
            '</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod>'
            f'<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>'
        )
        value = base64.b64encode(self.key.sign(signed_info.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
        # Sent with the ds prefix declared on Signature, not on SignedInfo.
        sent_info = signed_info.replace(f'<ds:SignedInfo xmlns:ds="{DS_NS}">', "<ds:SignedInfo>")
        return (f'<ds:Signature xmlns:ds="{DS_NS}">{sent_info}'
                f"<ds:SignatureValue>{value}</ds:SignatureValue></ds:Signature>")

    def response(self, roles, tamper=None, extra_assertion="", **kw):
        head_c, body_c, head_s, body_s = self.assertion_parts(roles, **kw)
        sig = self.signature(head_c + body_c, kw.get("assertion_id", "_a1"))
        sent_assertion = head_s + sig + body_s
        if tamper:
            sent_assertion = tamper(sent_assertion)
        doc = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<samlp:Response xmlns:samlp="{SAMLP_NS}" '
            f'xmlns:saml="{SAML_NS}" ID="_r1" Version="2.0" IssueInstant="{_iso(int(time.time()))}" '
            'Destination="https://signin.aws.amazon.com/saml">'
            f"<saml:Issuer>{IDP_ENTITY}</saml:Issuer>"
            '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
            f"{extra_assertion}{sent_assertion}</samlp:Response>"
        )
        return base64.b64encode(doc.encode()).decode()


@pytest.fixture(scope="module")
def saml(fed):
    iam = fed["iam"]
    idp = SamlIdp()
    provider = iam.create_saml_provider(Name=unique("idp"), SAMLMetadataDocument=idp.metadata())[
        "SAMLProviderArn"]
    role = iam.create_role(RoleName=unique("saml"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithSAML",
            "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
        }],
    }))["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}],
    }))
    return {"idp": idp, "provider": provider, "role": role, "roles": [f"{role['Arn']},{provider}"]}


def assume_saml(fed, saml, assertion, role_arn=None):
    return fed["server"].client("sts").assume_role_with_saml(
        RoleArn=role_arn or saml["role"]["Arn"], PrincipalArn=saml["provider"], SAMLAssertion=assertion)


def saml_error(fed, saml, assertion, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        assume_saml(fed, saml, assertion, **kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_a_signed_saml_assertion_gives_role_credentials_that_work(fed, saml):
    resp = assume_saml(fed, saml, saml["idp"].response(saml["roles"]))
    assert resp["Subject"] == "alice@example.com"
    assert resp["SubjectType"] == "persistent"
    assert resp["Issuer"] == IDP_ENTITY
    assert resp["Audience"] == "https://signin.aws.amazon.com/saml"
    name = saml["provider"].split("/")[-1]
    assert resp["NameQualifier"] == base64.b64encode(
        hashlib.sha1(f"{IDP_ENTITY}000000000000/{name}".encode()).digest()).decode()
    assert resp["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::000000000000:assumed-role/{saml['role']['RoleName']}/alice")
    creds = resp["Credentials"]
    me = fed["server"].client("sts", creds=creds).get_caller_identity()
    assert me["Arn"] == resp["AssumedRoleUser"]["Arn"]
    iam = fed["server"].client("iam", creds=creds)
    assert iam.get_role(RoleName=saml["role"]["RoleName"])["Role"]["RoleId"] == saml["role"]["RoleId"]


def test_the_role_attribute_may_name_the_provider_first(fed, saml):
    role_arn, provider = saml["roles"][0].split(",")
    resp = assume_saml(fed, saml, saml["idp"].response([f"{provider},{role_arn}"]))
    assert resp["Subject"] == "alice@example.com"


def test_a_tampered_assertion_is_refused(fed, saml):
    idp = saml["idp"]
    for tamper, why in (
        (lambda a: a.replace("alice@example.com", "admin@example.com"), "digest does not match"),
        (lambda a: a.replace(">alice<", ">mallory<"), "digest does not match"),
        (lambda a: a.replace("<ds:SignatureValue>", "<ds:SignatureValue>AAAA"), "not signed by a certificate"),
        (lambda a: a.replace("#_a1", "#_other"), "does not name the element"),
    ):
        code, msg = saml_error(fed, saml, idp.response(saml["roles"], tamper=tamper))
        assert code == "InvalidIdentityToken"
        assert why in msg


def test_an_assertion_signed_by_another_key_is_refused(fed, saml):
    other = SamlIdp()
    code, msg = saml_error(fed, saml, other.response(saml["roles"]))
    assert code == "InvalidIdentityToken"
    assert "not signed by a certificate" in msg


def test_a_wrapped_second_assertion_is_refused(fed, saml):
    # Signature wrapping: an unsigned assertion for another subject next to the signed one.
    idp = saml["idp"]
    _, body_c, head_s, _ = idp.assertion_parts(saml["roles"], name_id="admin@example.com",
                                              assertion_id="_evil")
    evil = head_s + body_c
    code, msg = saml_error(fed, saml, idp.response(saml["roles"], extra_assertion=evil))
    assert (code, msg) == ("InvalidIdentityToken", "The SAML response holds more than one assertion")


def test_a_doctype_is_refused(fed, saml):
    doc = base64.b64decode(saml["idp"].response(saml["roles"])).decode()
    doc = doc.replace('<?xml version="1.0" encoding="UTF-8"?>\n',
                      '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "alice">]>')
    code, msg = saml_error(fed, saml, base64.b64encode(doc.encode()).decode())
    assert code == "InvalidIdentityToken"
    assert "DOCTYPE" in msg


def test_an_expired_assertion_is_refused(fed, saml):
    old = int(time.time()) - 3600
    code, _ = saml_error(fed, saml, saml["idp"].response(saml["roles"], issued=old, lifetime=300))
    assert code == "ExpiredTokenException"


def test_an_assertion_for_another_audience_is_refused(fed, saml):
    code, _ = saml_error(fed, saml, saml["idp"].response(saml["roles"], audience="https://sp.example.com"))
    assert code == "InvalidIdentityToken"


def test_a_role_not_in_the_role_attribute_is_rejected(fed, saml):
    other = fed["role"]["Arn"]
    code, _ = saml_error(fed, saml, saml["idp"].response(saml["roles"]), role_arn=other)
    assert code == "IDPRejectedClaim"


def test_cloudtrail_records_saml_calls_without_the_assertion(fed, saml):
    assertion = saml["idp"].response(saml["roles"])
    assume_saml(fed, saml, assertion)
    ct = fed["server"].client("cloudtrail")

    def found():
        evs = [json.loads(e["CloudTrailEvent"]) for e in lookup_events(ct, "EventName", "AssumeRoleWithSAML")]
        return [e for e in evs if "errorCode" not in e]

    evs = wait_for(found, timeout=10)
    assert evs
    ev = evs[0]
    assert ev["userIdentity"]["type"] == "SAMLUser"
    assert ev["userIdentity"]["userName"] == "alice@example.com"
    assert ev["requestParameters"]["sAMLAssertion"] == "HIDDEN_DUE_TO_SECURITY_REASONS" or \
        ev["requestParameters"].get("samlAssertion") == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert ev["requestParameters"]["principalArn"] == saml["provider"]
    assert assertion not in fed["server"].audit_text()
