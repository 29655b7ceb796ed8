"""IAM identity providers for federation: OpenID Connect providers (keyed by issuer URL) and
SAML providers (holding the IdP's metadata) — through boto3, with the answers and error codes
the IAM API Reference documents."""

import base64
import datetime
import re

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from conftest import allow, error_code, error_message, make_user, policy_doc, unique, wait_for

THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def failure(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return error_code(e.value), error_message(e.value)


def idp_certificate():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.com")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def metadata(entity_id="https://idp.example.com/saml", valid_until=None, use="signing", cert=None):
    until = f' validUntil="{valid_until}"' if valid_until else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}"{until}>
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="{use}">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{cert or idp_certificate()}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""


# --- OpenID Connect providers -------------------------------------------------------------


def test_oidc_provider_arn_is_built_from_the_url_and_get_reports_it_without_scheme(iam):
    host = f"{unique('oidc')}.example.com/id/ABC"
    arn = iam.create_open_id_connect_provider(
        Url=f"https://{host}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=[THUMB],
        Tags=[{"Key": "team", "Value": "a"}],
    )["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::000000000000:oidc-provider/{host}"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == host
    assert got["ClientIDList"] == ["sts.amazonaws.com"]
    assert got["ThumbprintList"] == [THUMB]
    assert got["Tags"] == [{"Key": "team", "Value": "a"}]
    assert isinstance(got["CreateDate"], datetime.datetime)
    assert arn in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]


def test_oidc_thumbprints_are_optional(iam):
    arn = iam.create_open_id_connect_provider(Url=f"https://{unique('nothumb')}.example.com")["OpenIDConnectProviderArn"]
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ThumbprintList"] == [] and got["ClientIDList"] == []


def test_oidc_url_must_be_https_and_unique(iam):
    code, _ = failure(iam.create_open_id_connect_provider, Url="http://plain.example.com", ThumbprintList=[THUMB])
    assert code == "ValidationError"
    url = f"https://{unique('dup')}.example.com"
    iam.create_open_id_connect_provider(Url=url, ThumbprintList=[THUMB])
    code, msg = failure(iam.create_open_id_connect_provider, Url=url, ThumbprintList=[THUMB])
    assert code == "EntityAlreadyExists" and msg == f"Provider with url {url} already exists."


def test_oidc_thumbprint_list_holds_at_most_five(iam):
    code, _ = failure(
        iam.create_open_id_connect_provider, Url=f"https://{unique('many')}.example.com", ThumbprintList=[THUMB] * 6
    )
    assert code == "InvalidInput"


def test_oidc_client_ids_add_and_remove_idempotently(iam):
    arn = iam.create_open_id_connect_provider(
        Url=f"https://{unique('cid')}.example.com", ClientIDList=["a"], ThumbprintList=[THUMB]
    )["OpenIDConnectProviderArn"]
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="b")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="b")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["a", "b"]
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="a")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="zzz")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["b"]


def test_oidc_thumbprint_update_replaces_the_list(iam):
    arn = iam.create_open_id_connect_provider(
        Url=f"https://{unique('thumb')}.example.com", ThumbprintList=[THUMB]
    )["OpenIDConnectProviderArn"]
    other = "A" * 40
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=[other, THUMB])
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ThumbprintList"] == ["A" * 40, THUMB]


def test_oidc_tags(iam):
    arn = iam.create_open_id_connect_provider(
        Url=f"https://{unique('tags')}.example.com", ThumbprintList=[THUMB]
    )["OpenIDConnectProviderArn"]
    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "k1", "Value": "v1"}, {"Key": "k2", "Value": "v2"}])
    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "k1", "Value": "new"}])
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["k2"])
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == [{"Key": "k1", "Value": "new"}]


def test_oidc_delete_then_not_found(iam):
    arn = iam.create_open_id_connect_provider(
        Url=f"https://{unique('del')}.example.com", ThumbprintList=[THUMB]
    )["OpenIDConnectProviderArn"]
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    code, msg = failure(iam.get_open_id_connect_provider, OpenIDConnectProviderArn=arn)
    assert code == "NoSuchEntity" and arn in msg
    assert failure(iam.delete_open_id_connect_provider, OpenIDConnectProviderArn=arn)[0] == "NoSuchEntity"
    assert arn not in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]


def test_oidc_provider_of_another_account_is_not_found(iam):
    arn = "arn:aws:iam::111122223333:oidc-provider/elsewhere.example.com"
    assert failure(iam.get_open_id_connect_provider, OpenIDConnectProviderArn=arn)[0] == "NoSuchEntity"


def test_oidc_calls_need_iam_permission(iam, server):
    _, key = make_user(iam, inline=policy_doc(allow("iam:GetOpenIDConnectProvider")))
    user_iam = server.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    assert wait_for(lambda: failure(user_iam.list_open_id_connect_providers)[0] == "AccessDenied")
    code, _ = failure(user_iam.create_open_id_connect_provider, Url=f"https://{unique('deny')}.example.com", ThumbprintList=[THUMB])
    assert code == "AccessDenied"


# --- SAML providers -----------------------------------------------------------------------


def test_saml_provider_keeps_its_metadata_and_valid_until(iam):
    name = unique("saml")
    doc = metadata(valid_until="2031-05-06T07:08:09Z")
    arn = iam.create_saml_provider(Name=name, SAMLMetadataDocument=doc, Tags=[{"Key": "k", "Value": "v"}])["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::000000000000:saml-provider/{name}"
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == doc
    assert got["ValidUntil"] == datetime.datetime(2031, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    assert isinstance(got["CreateDate"], datetime.datetime)
    assert re.fullmatch(r"[A-Z0-9]{22,64}", got["SAMLProviderUUID"])  # the model's privateKeyIdType
    assert got["Tags"] == [{"Key": "k", "Value": "v"}]
    listed = {p["Arn"]: p for p in iam.list_saml_providers()["SAMLProviderList"]}
    assert listed[arn]["ValidUntil"] == got["ValidUntil"]


def test_saml_malformed_metadata_is_refused(iam):
    padding = "<!--" + "x" * 1000 + "-->"
    code, msg = failure(iam.create_saml_provider, Name=unique("bad"), SAMLMetadataDocument=padding + "<notmetadata/>")
    assert (code, msg) == ("InvalidInput", "Could not parse metadata")
    code, _ = failure(iam.create_saml_provider, Name=unique("bad"), SAMLMetadataDocument="<md:EntityDescriptor " + "x" * 1000)
    assert code == "InvalidInput"
    # A document whose only key is for encryption gives IAM nothing to verify assertions with.
    code, _ = failure(iam.create_saml_provider, Name=unique("bad"), SAMLMetadataDocument=metadata(use="encryption"))
    assert code == "InvalidInput"
    code, _ = failure(iam.create_saml_provider, Name=unique("bad"), SAMLMetadataDocument=metadata(cert="bm90IGEgY2VydA==" * 80))
    assert code == "InvalidInput"


def test_saml_name_is_unique(iam):
    name = unique("samldup")
    iam.create_saml_provider(Name=name, SAMLMetadataDocument=metadata())
    assert failure(iam.create_saml_provider, Name=name, SAMLMetadataDocument=metadata())[0] == "EntityAlreadyExists"


def test_saml_update_replaces_the_metadata(iam):
    arn = iam.create_saml_provider(Name=unique("upd"), SAMLMetadataDocument=metadata())["SAMLProviderArn"]
    new = metadata(entity_id="https://other.example.com/idp", valid_until="2032-01-01T00:00:00Z")
    assert iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=new)["SAMLProviderArn"] == arn
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == new and got["ValidUntil"].year == 2032
    padding = "<!--" + "x" * 1000 + "-->"
    assert failure(iam.update_saml_provider, SAMLProviderArn=arn, SAMLMetadataDocument=padding + "<x/>")[0] == "InvalidInput"
    assert iam.get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"] == new


def test_saml_tags(iam):
    arn = iam.create_saml_provider(Name=unique("stag"), SAMLMetadataDocument=metadata())["SAMLProviderArn"]
    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["a"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]


def test_saml_delete_then_not_found(iam):
    arn = iam.create_saml_provider(Name=unique("sdel"), SAMLMetadataDocument=metadata())["SAMLProviderArn"]
    iam.delete_saml_provider(SAMLProviderArn=arn)
    code, msg = failure(iam.get_saml_provider, SAMLProviderArn=arn)
    assert code == "NoSuchEntity" and msg == f"Manifest not found for arn {arn}"
    assert failure(iam.delete_saml_provider, SAMLProviderArn=arn)[0] == "NoSuchEntity"
    assert arn not in [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]]


def test_roles_may_trust_identity_providers_as_federated_principals(iam):
    host = f"{unique('irsa')}.example.com/id/X"
    oidc = iam.create_open_id_connect_provider(Url=f"https://{host}", ClientIDList=["sts.amazonaws.com"])["OpenIDConnectProviderArn"]
    saml = iam.create_saml_provider(Name=unique("trust"), SAMLMetadataDocument=metadata())["SAMLProviderArn"]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Federated": oidc}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringEquals": {f"{host}:aud": "sts.amazonaws.com", f"{host}:sub": "system:serviceaccount:ns:app"}}},
        {"Effect": "Allow", "Principal": {"Federated": saml}, "Action": "sts:AssumeRoleWithSAML",
         "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}},
    ]}
    import json
    name = unique("fedrole")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    doc = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    assert [s["Principal"]["Federated"] for s in doc["Statement"]] == [oidc, saml]
