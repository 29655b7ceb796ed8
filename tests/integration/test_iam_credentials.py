"""IAM credentials beyond passwords and access keys — virtual MFA devices with real TOTP codes,
STS sessions authenticated with MFA (and the aws:MultiFactorAuth* condition keys), SSH public
keys, signing and server certificates, service-specific credentials, and STS's federation and
access-key lookups — through boto3, with the answers and error codes AWS documents."""

import base64
import hashlib
import hmac
import json
import struct
import time

import pytest
from botocore.exceptions import ClientError

from conftest import allow, error_code, error_message, make_user, policy_doc, unique


def totp(seed, step):
    """RFC 6238 (SHA-1, six digits) at a 30-second time step, from a base32 seed."""
    key = base64.b32decode(seed + "=" * (-len(seed) % 8))
    mac = hmac.new(key, struct.pack(">q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def now_step(offset_seconds=0):
    return int((time.time() + offset_seconds) // 30)


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam")


def code_of(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return error_code(e.value)


def user_with_mfa(iam, inline=None):
    """A user with an access key and an enabled virtual MFA device: (name, key, serial, seed),
    with the device's last accepted step one step before now."""
    name = unique("mfa")
    _, key = make_user(iam, name, inline=inline)
    dev = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    seed = dev["Base32StringSeed"].decode()
    t = now_step()
    iam.enable_mfa_device(UserName=name, SerialNumber=dev["SerialNumber"],
                          AuthenticationCode1=totp(seed, t - 2), AuthenticationCode2=totp(seed, t - 1))
    return name, key, dev["SerialNumber"], seed


def test_a_virtual_mfa_device_has_a_base32_seed_and_a_png_qr_code(iam, server):
    name = unique("dev")
    dev = iam.create_virtual_mfa_device(VirtualMFADeviceName=name, Path="/team/",
                                        Tags=[{"Key": "k", "Value": "v"}])["VirtualMFADevice"]
    assert dev["SerialNumber"] == f"arn:aws:iam::000000000000:mfa/team/{name}"
    seed = dev["Base32StringSeed"].decode()
    assert len(seed) == 64 and len(base64.b32decode(seed)) == 40
    png = dev["QRCodePNG"]
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR"
    assert code_of(iam.create_virtual_mfa_device, VirtualMFADeviceName=name) == "EntityAlreadyExists"
    listed = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    mine = [d for d in listed if d["SerialNumber"] == dev["SerialNumber"]]
    assert mine and "Base32StringSeed" not in mine[0] and "User" not in mine[0]
    assert iam.list_mfa_device_tags(SerialNumber=dev["SerialNumber"])["Tags"] == [{"Key": "k", "Value": "v"}]
    iam.tag_mfa_device(SerialNumber=dev["SerialNumber"], Tags=[{"Key": "k2", "Value": "v2"}])
    iam.untag_mfa_device(SerialNumber=dev["SerialNumber"], TagKeys=["k"])
    assert iam.list_mfa_device_tags(SerialNumber=dev["SerialNumber"])["Tags"] == [{"Key": "k2", "Value": "v2"}]
    iam.delete_virtual_mfa_device(SerialNumber=dev["SerialNumber"])
    assert code_of(iam.delete_virtual_mfa_device, SerialNumber=dev["SerialNumber"]) == "NoSuchEntity"


def test_enabling_needs_two_consecutive_codes(iam):
    name = unique("en")
    iam.create_user(UserName=name)
    dev = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    serial, seed = dev["SerialNumber"], dev["Base32StringSeed"].decode()
    t = now_step()
    for c1, c2 in [(totp(seed, t - 1), totp(seed, t - 3)), ("000000", "111111"),
                   (totp(seed, t - 1), totp(seed, t - 1))]:
        with pytest.raises(ClientError) as e:
            iam.enable_mfa_device(UserName=name, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
        assert error_code(e.value) == "InvalidAuthenticationCode"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    iam.enable_mfa_device(UserName=name, SerialNumber=serial,
                          AuthenticationCode1=totp(seed, t - 2), AuthenticationCode2=totp(seed, t - 1))
    devices = iam.list_mfa_devices(UserName=name)["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in devices] == [(name, serial)]
    assert iam.get_mfa_device(SerialNumber=serial, UserName=name)["UserName"] == name
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert [d["User"]["UserName"] for d in assigned if d["SerialNumber"] == serial] == [name]
    other = unique("en2")
    iam.create_user(UserName=other)
    assert code_of(iam.enable_mfa_device, UserName=other, SerialNumber=serial,
                   AuthenticationCode1=totp(seed, t), AuthenticationCode2=totp(seed, t + 1)) == "EntityAlreadyExists"
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["MFADevicesInUse"] >= 1 and summary["MFADevices"] >= summary["MFADevicesInUse"]
    # In use: neither the device nor the user can be deleted.
    assert code_of(iam.delete_virtual_mfa_device, SerialNumber=serial) == "DeleteConflict"
    assert code_of(iam.delete_user, UserName=name) == "DeleteConflict"
    # Resync with later codes; codes at or before the last accepted step are refused.
    assert code_of(iam.resync_mfa_device, UserName=name, SerialNumber=serial,
                   AuthenticationCode1=totp(seed, t - 2), AuthenticationCode2=totp(seed, t - 1)) == "InvalidAuthenticationCode"
    iam.resync_mfa_device(UserName=name, SerialNumber=serial,
                          AuthenticationCode1=totp(seed, t), AuthenticationCode2=totp(seed, t + 1))
    iam.deactivate_mfa_device(UserName=name, SerialNumber=serial)
    assert iam.list_mfa_devices(UserName=name)["MFADevices"] == []
    assert code_of(iam.deactivate_mfa_device, UserName=name, SerialNumber=serial) == "NoSuchEntity"
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    iam.delete_user(UserName=name)


def test_get_session_token_with_mfa_checks_the_code_once(iam, server):
    name, key, serial, seed = user_with_mfa(iam)
    sts = server.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    t = now_step()
    with pytest.raises(ClientError) as e:
        sts.get_session_token(SerialNumber=serial, TokenCode="123456" if totp(seed, t) != "123456" else "654321")
    assert error_code(e.value) == "AccessDenied"
    assert error_message(e.value).startswith("MultiFactorAuthentication failed, unable to validate MFA code.")
    creds = sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, t))["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    # The same code again is a replay.
    assert code_of(sts.get_session_token, SerialNumber=serial, TokenCode=totp(seed, t)) == "AccessDenied"
    # A serial number of a device that is not the caller's.
    assert code_of(sts.get_session_token, SerialNumber="arn:aws:iam::000000000000:mfa/nobody",
                   TokenCode=totp(seed, t + 1)) == "AccessDenied"
    # Credentials from GetSessionToken with MFA may call IAM; without MFA they may not.
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy_doc(allow("iam:GetUser")))
    mfa_iam = server.client("iam", access_key=creds["AccessKeyId"], secret_key=creds["SecretAccessKey"],
                            session_token=creds["SessionToken"])
    assert mfa_iam.get_user()["User"]["UserName"] == name
    plain = sts.get_session_token()["Credentials"]
    plain_iam = server.client("iam", access_key=plain["AccessKeyId"], secret_key=plain["SecretAccessKey"],
                              session_token=plain["SessionToken"])
    assert code_of(plain_iam.get_user) == "AccessDenied"


def test_multi_factor_auth_present_condition(iam, server):
    doc = policy_doc(
        {"Effect": "Allow", "Action": "iam:ListAccountAliases", "Resource": "*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
        {"Effect": "Allow", "Action": "iam:GetAccountSummary", "Resource": "*",
         "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}},
    )
    name, key, serial, seed = user_with_mfa(iam, inline=doc)
    sts = server.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    long_term = server.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    time.sleep(1)  # policies apply on the next request
    # Long-term keys carry no MFA: the key is absent, and Bool/Numeric conditions do not match.
    assert code_of(long_term.list_account_aliases) == "AccessDenied"
    assert code_of(long_term.get_account_summary) == "AccessDenied"
    creds = sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, now_step()))["Credentials"]
    with_mfa = server.client("iam", access_key=creds["AccessKeyId"], secret_key=creds["SecretAccessKey"],
                             session_token=creds["SessionToken"])
    assert "AccountAliases" in with_mfa.list_account_aliases()
    assert "SummaryMap" in with_mfa.get_account_summary()


def test_multi_factor_auth_age_grows_with_time(iam, dev_server):
    diam = dev_server.client("iam")
    doc = policy_doc({"Effect": "Allow", "Action": "iam:ListAccountAliases", "Resource": "*",
                      "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}})
    name, key, serial, seed = user_with_mfa(diam, inline=doc)
    sts = dev_server.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    offset = dev_server.advance_clock(0).json()["offset_seconds"]
    creds = sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, now_step(offset)))["Credentials"]
    session = dev_server.client("iam", access_key=creds["AccessKeyId"], secret_key=creds["SecretAccessKey"],
                                session_token=creds["SessionToken"])
    assert "AccountAliases" in session.list_account_aliases()
    dev_server.advance_clock(3700)
    assert code_of(session.list_account_aliases) == "AccessDenied"


def test_assume_role_with_mfa_satisfies_a_trust_policy_that_requires_it(iam, server):
    name, key, serial, seed = user_with_mfa(iam, inline=policy_doc(allow("sts:AssumeRole")))
    user_arn = iam.get_user(UserName=name)["User"]["Arn"]
    role = unique("mfarole")
    trust = policy_doc({"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole",
                        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}})
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=policy_doc(
        {"Effect": "Allow", "Action": "iam:ListAccountAliases", "Resource": "*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}))
    arn = f"arn:aws:iam::000000000000:role/{role}"
    sts = server.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    time.sleep(1)
    assert code_of(sts.assume_role, RoleArn=arn, RoleSessionName="sess") == "AccessDenied"
    t = now_step()
    assert code_of(sts.assume_role, RoleArn=arn, RoleSessionName="sess", SerialNumber=serial,
                   TokenCode="000000" if totp(seed, t) != "000000" else "111111") == "AccessDenied"
    creds = sts.assume_role(RoleArn=arn, RoleSessionName="sess", SerialNumber=serial,
                            TokenCode=totp(seed, t))["Credentials"]
    session = server.client("iam", access_key=creds["AccessKeyId"], secret_key=creds["SecretAccessKey"],
                            session_token=creds["SessionToken"])
    assert "AccountAliases" in session.list_account_aliases()


# ---- SSH public keys, signing and server certificates, service-specific credentials ----

def _rsa_key(bits=2048):
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _self_signed(key, cn="example.test", days=30):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode(), cert.not_valid_after_utc


def _key_pem(key):
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def test_ssh_public_keys_fingerprints_encodings_and_limits(iam):
    from cryptography.hazmat.primitives import serialization
    user = unique("ssh")
    iam.create_user(UserName=user)
    key = _rsa_key()
    openssh = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    blob = base64.b64decode(openssh.split()[1])
    want_fp = ":".join("%02x" % b for b in hashlib.md5(blob).digest())
    up = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh + " me@host")["SSHPublicKey"]
    assert up["Fingerprint"] == want_fp and up["Status"] == "Active" and up["SSHPublicKeyId"].startswith("APKA")
    kid = up["SSHPublicKeyId"]
    got = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=kid, Encoding="SSH")["SSHPublicKey"]
    assert got["SSHPublicKeyBody"] == openssh
    pem = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=kid, Encoding="PEM")["SSHPublicKey"]["SSHPublicKeyBody"]
    assert serialization.load_pem_public_key(pem.encode()).public_numbers() == key.public_key().public_numbers()
    assert code_of(iam.upload_ssh_public_key, UserName=user, SSHPublicKeyBody=openssh) == "DuplicateSSHPublicKey"
    assert code_of(iam.upload_ssh_public_key, UserName=user, SSHPublicKeyBody="ssh-rsa AAAAnotakey") == "InvalidPublicKey"
    # A PEM public key is accepted too.
    pem_body = _rsa_key().public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=pem_body)
    from cryptography.hazmat.primitives.asymmetric import ed25519
    for _ in range(3):
        body = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
        iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=body)
    assert code_of(iam.upload_ssh_public_key, UserName=user, SSHPublicKeyBody=ed25519.Ed25519PrivateKey.generate()
                   .public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
                   .decode()) == "LimitExceeded"
    iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=kid, Status="Inactive")
    listed = iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"]
    assert len(listed) == 5 and [k["Status"] for k in listed if k["SSHPublicKeyId"] == kid] == ["Inactive"]
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=user)
    assert error_code(e.value) == "DeleteConflict"
    for k in listed:
        iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=k["SSHPublicKeyId"])
    assert code_of(iam.get_ssh_public_key, UserName=user, SSHPublicKeyId=kid, Encoding="SSH") == "NoSuchEntity"
    iam.delete_user(UserName=user)


def test_signing_certificates(iam):
    user = unique("sign")
    iam.create_user(UserName=user)
    cert, _ = _self_signed(_rsa_key())
    up = iam.upload_signing_certificate(UserName=user, CertificateBody=cert)["Certificate"]
    assert up["Status"] == "Active" and up["UserName"] == user
    assert code_of(iam.upload_signing_certificate, UserName=user, CertificateBody=cert) == "DuplicateCertificate"
    assert code_of(iam.upload_signing_certificate, UserName=user, CertificateBody="-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") == "MalformedCertificate"
    iam.upload_signing_certificate(UserName=user, CertificateBody=_self_signed(_rsa_key())[0])
    assert code_of(iam.upload_signing_certificate, UserName=user,
                   CertificateBody=_self_signed(_rsa_key())[0]) == "LimitExceeded"
    iam.update_signing_certificate(UserName=user, CertificateId=up["CertificateId"], Status="Inactive")
    certs = iam.list_signing_certificates(UserName=user)["Certificates"]
    assert sorted(c["Status"] for c in certs) == ["Active", "Inactive"]
    assert code_of(iam.delete_user, UserName=user) == "DeleteConflict"
    for c in certs:
        iam.delete_signing_certificate(UserName=user, CertificateId=c["CertificateId"])
    assert iam.list_signing_certificates(UserName=user)["Certificates"] == []
    iam.delete_user(UserName=user)


def test_server_certificates_check_the_key_and_report_expiry(iam):
    name = unique("srv")
    key = _rsa_key()
    cert, not_after = _self_signed(key, days=90)
    chain, _ = _self_signed(_rsa_key(), cn="ca.test")
    assert code_of(iam.upload_server_certificate, ServerCertificateName=name, CertificateBody=cert,
                   PrivateKey=_key_pem(_rsa_key())) == "KeyPairMismatch"
    assert code_of(iam.upload_server_certificate, ServerCertificateName=name, CertificateBody="nope",
                   PrivateKey=_key_pem(key)) == "MalformedCertificate"
    meta = iam.upload_server_certificate(ServerCertificateName=name, CertificateBody=cert, CertificateChain=chain,
                                         PrivateKey=_key_pem(key), Path="/cloudfront/",
                                         Tags=[{"Key": "a", "Value": "b"}])["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::000000000000:server-certificate/cloudfront/{name}"
    assert meta["Expiration"].replace(tzinfo=None) == not_after.replace(tzinfo=None)
    assert code_of(iam.upload_server_certificate, ServerCertificateName=name, CertificateBody=cert,
                   PrivateKey=_key_pem(key)) == "EntityAlreadyExists"
    got = iam.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]
    assert got["CertificateBody"] == cert and got["CertificateChain"] == chain and "PrivateKey" not in got
    assert [m["ServerCertificateName"] for m in iam.list_server_certificates(PathPrefix="/cloudfront/")
            ["ServerCertificateMetadataList"]] == [name]
    iam.tag_server_certificate(ServerCertificateName=name, Tags=[{"Key": "c", "Value": "d"}])
    iam.untag_server_certificate(ServerCertificateName=name, TagKeys=["a"])
    assert iam.list_server_certificate_tags(ServerCertificateName=name)["Tags"] == [{"Key": "c", "Value": "d"}]
    new = unique("srv")
    iam.update_server_certificate(ServerCertificateName=name, NewServerCertificateName=new, NewPath="/x/")
    assert code_of(iam.get_server_certificate, ServerCertificateName=name) == "NoSuchEntity"
    assert iam.get_server_certificate(ServerCertificateName=new)["ServerCertificate"][
        "ServerCertificateMetadata"]["Path"] == "/x/"
    iam.delete_server_certificate(ServerCertificateName=new)
    assert code_of(iam.delete_server_certificate, ServerCertificateName=new) == "NoSuchEntity"


def test_service_specific_credentials(iam):
    user = unique("git")
    iam.create_user(UserName=user)
    c = iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredential"]
    assert c["ServiceUserName"] == f"{user}-at-000000000000" and len(c["ServicePassword"]) >= 40
    assert c["Status"] == "Active" and c["ServiceSpecificCredentialId"].startswith("ACCA")
    cid = c["ServiceSpecificCredentialId"]
    iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")
    assert code_of(iam.create_service_specific_credential, UserName=user,
                   ServiceName="codecommit.amazonaws.com") == "LimitExceeded"
    iam.create_service_specific_credential(UserName=user, ServiceName="cassandra.amazonaws.com")
    assert code_of(iam.create_service_specific_credential, UserName=user,
                   ServiceName="s3.amazonaws.com") == "NotSupportedService"
    listed = iam.list_service_specific_credentials(UserName=user, ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredentials"]
    assert len(listed) == 2 and all("ServicePassword" not in x for x in listed)
    reset = iam.reset_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid)[
        "ServiceSpecificCredential"]
    assert reset["ServicePassword"] != c["ServicePassword"]
    iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cid, Status="Inactive")
    assert code_of(iam.delete_user, UserName=user) == "DeleteConflict"
    for x in iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]:
        iam.delete_service_specific_credential(UserName=user, ServiceSpecificCredentialId=x["ServiceSpecificCredentialId"])
    assert code_of(iam.reset_service_specific_credential, UserName=user, ServiceSpecificCredentialId=cid) == "NoSuchEntity"
    iam.delete_user(UserName=user)


# ---- STS: federation tokens, authorization messages ----

def test_federated_users_get_the_intersection_of_user_and_session_policies(iam, server):
    name, key = None, None
    name = unique("fed")
    _, key = make_user(iam, name, inline=policy_doc(allow(["sts:GetFederationToken", "ssm:GetParameter",
                                                            "ssm:PutParameter"])))
    param = unique("/fed/p")
    server.client("ssm").put_parameter(Name=param, Value="v", Type="String")
    sts = server.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    time.sleep(1)
    out = sts.get_federation_token(Name="bob", Policy=policy_doc(allow(["ssm:GetParameter", "kms:ListKeys"])))
    assert out["FederatedUser"]["Arn"] == "arn:aws:sts::000000000000:federated-user/bob"
    assert out["FederatedUser"]["FederatedUserId"] == "000000000000:bob"
    c = out["Credentials"]
    kw = dict(access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"], session_token=c["SessionToken"])
    assert server.client("sts", **kw).get_caller_identity()["Arn"].endswith(":federated-user/bob")
    ssm = server.client("ssm", **kw)
    assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == "v"          # both allow
    assert code_of(ssm.put_parameter, Name=param, Value="w", Type="String", Overwrite=True) in (
        "AccessDeniedException", "AccessDenied")                                   # user only
    assert code_of(server.client("kms", **kw).list_keys) in ("AccessDeniedException", "AccessDenied")  # session only
    assert code_of(server.client("iam", **kw).list_users) == "AccessDenied"      # never IAM
    # Without a session policy a federated user has no permissions.
    bare = sts.get_federation_token(Name="carol")["Credentials"]
    bare_ssm = server.client("ssm", access_key=bare["AccessKeyId"], secret_key=bare["SecretAccessKey"],
                             session_token=bare["SessionToken"])
    assert code_of(bare_ssm.get_parameter, Name=param) in ("AccessDeniedException", "AccessDenied")
    # Session credentials cannot federate.
    assert code_of(server.client("sts", **kw).get_federation_token, Name="dave") == "AccessDenied"


def test_decode_authorization_message_refuses_what_it_did_not_encode(iam, server):
    sts = server.client("sts")
    with pytest.raises(ClientError) as e:
        sts.decode_authorization_message(EncodedMessage="bm90IGEgbWVzc2FnZQ==")
    assert error_code(e.value) == "InvalidAuthorizationMessageException"
    _, key = make_user(iam, unique("dec"))
    user_sts = server.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    assert code_of(user_sts.decode_authorization_message, EncodedMessage="bm90IGEgbWVzc2FnZQ==") == "AccessDenied"


def test_get_access_key_info_reads_the_account_from_any_key_id(iam, server):
    sts = server.client("sts")
    _, key = make_user(iam, unique("aki"))
    assert sts.get_access_key_info(AccessKeyId=key["AccessKeyId"])["Account"] == "000000000000"
    user_sts = server.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    temp = user_sts.get_session_token()["Credentials"]["AccessKeyId"]
    assert sts.get_access_key_info(AccessKeyId=temp)["Account"] == "000000000000"
    # A key id Rampart never issued, of another account, in AWS's encoding.
    raw = bytearray(10)
    raw[:6] = ((123456789012 << 7) | 0x55).to_bytes(6, "big")
    foreign = "AKIA" + base64.b32encode(bytes(raw)).decode()
    assert sts.get_access_key_info(AccessKeyId=foreign)["Account"] == "123456789012"
    # A published example of a real AWS temporary key id.
    assert sts.get_access_key_info(AccessKeyId="ASIAY34FZKBOKMUTVV7A")["Account"] == "609629065308"


def test_renaming_a_user_keeps_its_mfa_device_and_credentials(iam):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    name, _, serial, _ = user_with_mfa(iam)
    body = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=body)
    iam.create_service_specific_credential(UserName=name, ServiceName="codecommit.amazonaws.com")
    new = unique("renamed")
    iam.update_user(UserName=name, NewUserName=new)
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName=new)["MFADevices"]] == [serial]
    assert [k["UserName"] for k in iam.list_ssh_public_keys(UserName=new)["SSHPublicKeys"]] == [new]
    assert len(iam.list_service_specific_credentials(UserName=new)["ServiceSpecificCredentials"]) == 1
    assert code_of(iam.delete_user, UserName=new) == "DeleteConflict"
