"""Every paginator and waiter botocore defines for the services Rampart implements (DESIGN.md §5).

The cases are generated at run time from botocore's `paginators-1.json` and `waiters-2.json`.
A paginator is driven over several small pages (enough resources are created first), and the
pages' concatenation must equal what one unpaginated call answers; MaxItems must stop it early
with a resume token. A waiter is driven to success, and to its failure state where it has one
(where it has none, a waiter on something that never comes must give up after MaxAttempts).
Operations Rampart does not implement are skipped with the reason Rampart gives.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
import pytest
from botocore.exceptions import ClientError, WaiterError

from awscli_fixtures import self_signed
from conftest import ADMIN_ACCOUNT, REGION, unique

SERVICES = ["kms", "secretsmanager", "ssm", "acm", "acm-pca", "iam", "sts", "cloudtrail", "wafv2", "elbv2"]
_SESSION = botocore.session.get_session()
FAST = {"Delay": 1, "MaxAttempts": 4}
ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1"


# Rampart bugs these cases found, expected to fail until fixed (strict: a fix makes the case
# pass, and then the entry must go).
_IGNORES_LIMIT = "Rampart ignores the page size ({}) and answers every item in one page, without a {} token"
KNOWN_BUGS = {
    ("acm", "ListCertificateDomainValidations"): "Rampart answers an empty list for every certificate, also a "
                                                 "DNS-validated public one with three domains",
}


def _case(svc, name):
    marks = [pytest.mark.xfail(reason=KNOWN_BUGS[(svc, name)], strict=True, raises=AssertionError)] if (svc, name) in KNOWN_BUGS else []
    return pytest.param(svc, name, id=f"{svc}.{name}", marks=marks)


def _paginators():
    out = []
    for svc in SERVICES:
        try:
            model = _SESSION.get_paginator_model(svc)
        except Exception:  # no paginators-1.json for the service
            continue
        for name in sorted(model._paginator_config):
            out.append(_case(svc, name))
    return out


def _waiters():
    out = []
    for svc in SERVICES:
        try:
            model = _SESSION.get_waiter_model(svc)
        except Exception:
            continue
        for name in sorted(model.waiter_names):
            out.append(_case(svc, name))
    return out


def _not_in_scope(svc, op):
    if svc == "ssm" and "Parameter" not in op:
        return "SSM beyond Parameter Store (Rampart implements the parameter operations only)"
    if svc == "cloudtrail" and op != "LookupEvents":
        return "CloudTrail beyond LookupEvents (Rampart has no trails yet)"
    return None


def _skip_if_unimplemented(exc, op):
    code = exc.response["Error"]["Code"]
    if code == "NotImplemented":
        # The message names the operation: `op` itself, or one its setup needs.
        pytest.skip(f"{exc.response['Error'].get('Message', '')} (for {op})")
    if code in ("UnknownOperationException", "InvalidAction"):
        pytest.skip(f"{op} is newer than Rampart's copy of the model ({code})")


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def c(server):
    clients = {}

    def get(svc, **kw):
        key = (svc, tuple(sorted(kw.items())))
        if key not in clients:
            clients[key] = server.client(svc, **kw)
        return clients[key]
    return get


class Upstream:
    """A local HTTP target that answers 200, for target health checks."""

    def __init__(self):
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def upstream():
    u = Upstream()
    yield u
    u.close()


def _user(c, **policy):
    """A user with the given inline policy (or none) and its client factory."""
    iam = c("iam")
    name = unique("pw-user")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, key


def _rsa_cert(domain):
    from cryptography.hazmat.primitives.asymmetric import rsa
    return self_signed(domain, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _active_root_ca(pca):
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": "RSA_2048", "SigningAlgorithm": "SHA256WITHRSA",
                                           "Subject": {"CommonName": unique("ca")}},
        CertificateAuthorityType="ROOT")["CertificateAuthorityArn"]
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    cert_arn = pca.issue_certificate(CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm="SHA256WITHRSA",
                                     TemplateArn=ROOT_TEMPLATE, Validity={"Type": "YEARS", "Value": 5})["CertificateArn"]
    pca.get_waiter("certificate_issued").wait(CertificateAuthorityArn=arn, CertificateArn=cert_arn, WaiterConfig=FAST)
    pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)["Certificate"]
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=pem)
    return arn


def _alb(elb, listeners=1):
    lb = elb.create_load_balancer(Name=unique("pw")[:32], Subnets=["subnet-1", "subnet-2"])["LoadBalancers"][0]
    tg = elb.create_target_group(Name=unique("pw")[:32], Protocol="HTTP", Port=80, VpcId="vpc-1")["TargetGroups"][0]
    ls = [elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8000 + i, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])["Listeners"][0] for i in range(listeners)]
    return lb, tg, ls


# ------------------------------------------------------------------------------------------------
# Paginators: per operation, create more than two pages' worth and return the call's arguments
# (and how many pages to expect at least, when a resource cannot have three of a kind).
# ------------------------------------------------------------------------------------------------


def _kms_key_with(c, what):
    kms = c("kms")
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    if what == "grants":
        for _ in range(3):
            kms.create_grant(KeyId=kid, GranteePrincipal=f"arn:aws:iam::{ADMIN_ACCOUNT}:root", Operations=["Decrypt"])
    if what == "tags":
        kms.tag_resource(KeyId=kid, Tags=[{"TagKey": f"k{i}", "TagValue": "v"} for i in range(3)])
    if what == "rotations":
        for _ in range(3):
            kms.rotate_key_on_demand(KeyId=kid)
    return kid


def _kms_retirable(c):
    kms = c("kms")
    retirer = c("iam").create_user(UserName=unique("retirer"))["User"]["Arn"]
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(3):
        kms.create_grant(KeyId=kid, GranteePrincipal=retirer, RetiringPrincipal=retirer, Operations=["Decrypt"])
    return {"RetiringPrincipal": retirer}


def _kms_aliases(c):
    kms = c("kms")
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(3):
        kms.create_alias(AliasName="alias/" + unique("pw"), TargetKeyId=kid)
    return {}


def _many(n, fn):
    for i in range(n):
        fn(i)


def _sm_secrets(c):
    _many(3, lambda i: c("secretsmanager").create_secret(Name=unique("pw"), SecretString="v"))
    return {}


def _ssm_path(c):
    path = "/" + unique("pw")
    _many(3, lambda i: c("ssm").put_parameter(Name=f"{path}/p{i}", Value="v", Type="String"))
    return {"Path": path}


def _ssm_history(c):
    name = unique("pw")
    _many(3, lambda i: c("ssm").put_parameter(Name=name, Value=f"v{i}", Type="String", Overwrite=i > 0))
    return {"Name": name}


def _ssm_describe(c):
    _many(3, lambda i: c("ssm").put_parameter(Name=unique("pw"), Value="v", Type="String"))
    return {}


def _acm_certs(c):
    def one(i):
        cert, key = _rsa_cert(f"{unique('pw')}.example.com")
        c("acm").import_certificate(Certificate=cert, PrivateKey=key)
    _many(3, one)
    return {}


def _pca_cas(c):
    _many(3, lambda i: c("acm-pca").create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA",
                                           "Subject": {"CommonName": unique("pw")}},
        CertificateAuthorityType="ROOT"))
    return {}


def _pca_tags(c):
    arn = c("acm-pca").create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA",
                                           "Subject": {"CommonName": unique("pw")}},
        CertificateAuthorityType="ROOT", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(3)])["CertificateAuthorityArn"]
    return {"CertificateAuthorityArn": arn}


def _pca_permissions(c):
    pca = c("acm-pca")
    arn = _pca_tags(c)["CertificateAuthorityArn"]
    pca.create_permission(CertificateAuthorityArn=arn, Principal="acm.amazonaws.com",
                          Actions=["IssueCertificate", "GetCertificate", "ListPermissions"])
    return {"CertificateAuthorityArn": arn}, 1  # one permission per principal: one page


def _iam_user_with(c, what):
    iam = c("iam")
    user = unique("pw")
    iam.create_user(UserName=user)
    if what == "inline":
        _many(3, lambda i: iam.put_user_policy(UserName=user, PolicyName=f"p{i}", PolicyDocument=_doc()))
    elif what == "attached":
        _many(3, lambda i: iam.attach_user_policy(UserName=user, PolicyArn=_policy(c)))
    elif what == "groups":
        def one(i):
            g = unique("pw")
            iam.create_group(GroupName=g)
            iam.add_user_to_group(GroupName=g, UserName=user)
        _many(3, one)
    elif what == "tags":
        iam.tag_user(UserName=user, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(3)])
    elif what == "keys":
        _many(2, lambda i: iam.create_access_key(UserName=user))
    elif what == "mfa":
        pass
    return {"UserName": user}


def _iam_role_with(c, what):
    iam = c("iam")
    role = unique("pw")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ADMIN_ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}))
    if what == "inline":
        _many(3, lambda i: iam.put_role_policy(RoleName=role, PolicyName=f"p{i}", PolicyDocument=_doc()))
    elif what == "attached":
        _many(3, lambda i: iam.attach_role_policy(RoleName=role, PolicyArn=_policy(c)))
    elif what == "tags":
        iam.tag_role(RoleName=role, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(3)])
    elif what == "profiles":
        def one(i):
            p = unique("pw")
            iam.create_instance_profile(InstanceProfileName=p)
            iam.add_role_to_instance_profile(InstanceProfileName=p, RoleName=role)
        _many(3, one)
    return {"RoleName": role}


def _iam_group_with(c, what):
    iam = c("iam")
    group = unique("pw")
    iam.create_group(GroupName=group)
    if what == "inline":
        _many(3, lambda i: iam.put_group_policy(GroupName=group, PolicyName=f"p{i}", PolicyDocument=_doc()))
    elif what == "attached":
        _many(3, lambda i: iam.attach_group_policy(GroupName=group, PolicyArn=_policy(c)))
    elif what == "users":
        def one(i):
            u = unique("pw")
            iam.create_user(UserName=u)
            iam.add_user_to_group(GroupName=group, UserName=u)
        _many(3, one)
    return {"GroupName": group}


def _doc(action="s3:GetObject"):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def _policy(c, **kw):
    return c("iam").create_policy(PolicyName=unique("pw"), PolicyDocument=_doc(), **kw)["Policy"]["Arn"]


def _iam_policy_with(c, what):
    iam = c("iam")
    arn = _policy(c)
    if what == "versions":
        _many(2, lambda i: iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc(f"s3:Put{i}")))
    elif what == "entities":
        def one(i):
            u = unique("pw")
            iam.create_user(UserName=u)
            iam.attach_user_policy(UserName=u, PolicyArn=arn)
        _many(3, one)
    elif what == "tags":
        iam.tag_policy(PolicyArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(3)])
    return {"PolicyArn": arn}


def _iam_profiles(c):
    _many(3, lambda i: c("iam").create_instance_profile(InstanceProfileName=unique("pw")))
    return {}


def _iam_profile_tags(c):
    name = unique("pw")
    c("iam").create_instance_profile(InstanceProfileName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(3)])
    return {"InstanceProfileName": name}


def _iam_mfa_tags(c):
    name = unique("pw")
    serial = c("iam").create_virtual_mfa_device(
        VirtualMFADeviceName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(3)])["VirtualMFADevice"]["SerialNumber"]
    return {"SerialNumber": serial}


def _iam_oidc_tags(c):
    arn = c("iam").create_open_id_connect_provider(
        Url=f"https://{unique('pw')}.example.com", ClientIDList=["app"], ThumbprintList=["a" * 40],
        Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(3)])["OpenIDConnectProviderArn"]
    return {"OpenIDConnectProviderArn": arn}


def _iam_saml_tags(c):
    from test_iam_federation import metadata

    arn = c("iam").create_saml_provider(
        Name=unique("pw"), SAMLMetadataDocument=metadata(),
        Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(3)])["SAMLProviderArn"]
    return {"SAMLProviderArn": arn}


def _iam_server_certificate_tags(c):
    from test_iam_credentials import _key_pem, _rsa_key, _self_signed

    key = _rsa_key()
    cert, _ = _self_signed(key)
    name = unique("pw")
    c("iam").upload_server_certificate(
        ServerCertificateName=name, CertificateBody=cert, PrivateKey=_key_pem(key),
        Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(3)])
    return {"ServerCertificateName": name}


def _iam_simulate_principal(c):
    user = _iam_user_with(c, "inline")["UserName"]
    arn = c("iam").get_user(UserName=user)["User"]["Arn"]
    return {"PolicySourceArn": arn, "ActionNames": ["s3:GetObject", "s3:PutObject", "kms:Decrypt"]}


def _iam_simulate_custom(c):
    return {"PolicyInputList": [_doc()], "ActionNames": ["s3:GetObject", "s3:PutObject", "kms:Decrypt"]}


def _iam_alias(c):
    try:
        c("iam").create_account_alias(AccountAlias=unique("pw"))
    except ClientError as e:
        _skip_if_unimplemented(e, "CreateAccountAlias")
        raise
    return {}, 1  # an account has one alias


def _ct_lookup(c):
    _many(3, lambda i: c("kms").create_key())
    return {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateKey"}]}


def _elb_lbs(c):
    _many(3, lambda i: c("elbv2").create_load_balancer(Name=unique("pw")[:32], Subnets=["subnet-1"]))
    return {}


def _elb_tgs(c):
    _many(3, lambda i: c("elbv2").create_target_group(Name=unique("pw")[:32], Protocol="HTTP", Port=80, VpcId="vpc-1"))
    return {}


def _elb_listeners(c):
    lb, _, _ = _alb(c("elbv2"), listeners=3)
    return {"LoadBalancerArn": lb["LoadBalancerArn"]}


def _elb_rules(c):
    elb = c("elbv2")
    _, tg, (listener,) = _alb(elb)
    for i in range(3):
        elb.create_rule(ListenerArn=listener["ListenerArn"], Priority=10 + i, Conditions=[
            {"Field": "path-pattern", "Values": [f"/p{i}/*"]}], Actions=[
            {"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    return {"ListenerArn": listener["ListenerArn"]}


def _elb_listener_certs(c):
    elb, acm = c("elbv2"), c("acm")
    lb, tg, _ = _alb(elb, listeners=0)
    certs = []
    for i in range(3):
        cert, key = _rsa_cert(f"{unique('pw')}.example.com")
        certs.append(acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"])
    listener = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443,
                                   Certificates=[{"CertificateArn": certs[0]}],
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])["Listeners"][0]
    elb.add_listener_certificates(ListenerArn=listener["ListenerArn"], Certificates=[{"CertificateArn": a} for a in certs[1:]])
    return {"ListenerArn": listener["ListenerArn"]}


def _sm_policies(c):
    sm = c("secretsmanager")
    arn = sm.create_secret(Name=unique("pw"), SecretString="v")["ARN"]
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ADMIN_ACCOUNT}:root"},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}))
    return {"SecretId": arn}, 1  # a secret has one resource policy


def _acm_domain_validations(c):
    # Domain validations belong to public certificates: requested from pebble (see `acme`).
    acm = c.acme()[0]
    base = unique("pw")
    names = [f"{base}-{i}.example.com" for i in range(3)]
    arn = acm.request_certificate(DomainName=names[0], SubjectAlternativeNames=names,
                                  ValidationMethod="DNS")["CertificateArn"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        opts = acm.describe_certificate(CertificateArn=arn)["Certificate"].get("DomainValidationOptions", [])
        if len([o for o in opts if "ResourceRecord" in o]) == len(names):
            break
        time.sleep(0.2)
    return {"CertificateArn": arn, "_client": acm}


PAGINATOR_SETUP = {
    ("acm", "ListCertificateDomainValidations"): _acm_domain_validations,
    ("secretsmanager", "ListResourcePolicies"): _sm_policies,
    ("kms", "ListKeys"): lambda c: (_kms_key_with(c, None), _kms_key_with(c, None), _kms_key_with(c, None), {})[-1],
    ("kms", "ListAliases"): _kms_aliases,
    ("kms", "ListGrants"): lambda c: {"KeyId": _kms_key_with(c, "grants")},
    ("kms", "ListKeyPolicies"): lambda c: ({"KeyId": _kms_key_with(c, None)}, 1),  # a key has one policy
    ("kms", "ListResourceTags"): lambda c: {"KeyId": _kms_key_with(c, "tags")},
    ("kms", "ListRetirableGrants"): _kms_retirable,
    ("kms", "ListKeyRotations"): lambda c: {"KeyId": _kms_key_with(c, "rotations")},
    ("kms", "DescribeCustomKeyStores"): lambda c: ({}, 1),  # stores need a CloudHSM cluster or an XKS proxy
    ("secretsmanager", "ListSecrets"): _sm_secrets,
    ("ssm", "DescribeParameters"): _ssm_describe,
    ("ssm", "GetParametersByPath"): _ssm_path,
    ("ssm", "GetParameterHistory"): _ssm_history,
    ("acm", "ListCertificates"): _acm_certs,
    ("acm", "SearchCertificates"): _acm_certs,
    ("acm-pca", "ListCertificateAuthorities"): _pca_cas,
    ("acm-pca", "ListTags"): _pca_tags,
    ("acm-pca", "ListPermissions"): _pca_permissions,
    ("iam", "ListUsers"): lambda c: (_many(3, lambda i: c("iam").create_user(UserName=unique("pw"))), {})[1],
    ("iam", "ListRoles"): lambda c: (_many(3, lambda i: _iam_role_with(c, None)), {})[1],
    ("iam", "ListGroups"): lambda c: (_many(3, lambda i: c("iam").create_group(GroupName=unique("pw"))), {})[1],
    ("iam", "ListPolicies"): lambda c: (_many(3, lambda i: _policy(c)), {"Scope": "Local"})[1],
    ("iam", "ListAccessKeys"): lambda c: _iam_user_with(c, "keys"),
    ("iam", "ListUserPolicies"): lambda c: _iam_user_with(c, "inline"),
    ("iam", "ListAttachedUserPolicies"): lambda c: _iam_user_with(c, "attached"),
    ("iam", "ListGroupsForUser"): lambda c: _iam_user_with(c, "groups"),
    ("iam", "ListUserTags"): lambda c: _iam_user_with(c, "tags"),
    ("iam", "ListMFADevices"): lambda c: (_iam_user_with(c, "mfa"), 1),
    ("iam", "ListSigningCertificates"): lambda c: (_iam_user_with(c, None), 1),
    ("iam", "ListSSHPublicKeys"): lambda c: (_iam_user_with(c, None), 1),
    ("iam", "ListRolePolicies"): lambda c: _iam_role_with(c, "inline"),
    ("iam", "ListAttachedRolePolicies"): lambda c: _iam_role_with(c, "attached"),
    ("iam", "ListRoleTags"): lambda c: _iam_role_with(c, "tags"),
    ("iam", "ListInstanceProfilesForRole"): lambda c: _iam_role_with(c, "profiles"),
    ("iam", "ListGroupPolicies"): lambda c: _iam_group_with(c, "inline"),
    ("iam", "ListAttachedGroupPolicies"): lambda c: _iam_group_with(c, "attached"),
    ("iam", "GetGroup"): lambda c: _iam_group_with(c, "users"),
    ("iam", "ListPolicyVersions"): lambda c: _iam_policy_with(c, "versions"),
    ("iam", "ListEntitiesForPolicy"): lambda c: _iam_policy_with(c, "entities"),
    ("iam", "ListPolicyTags"): lambda c: _iam_policy_with(c, "tags"),
    ("iam", "ListInstanceProfiles"): _iam_profiles,
    ("iam", "ListInstanceProfileTags"): _iam_profile_tags,
    ("iam", "ListMFADeviceTags"): _iam_mfa_tags,
    ("iam", "ListOpenIDConnectProviderTags"): _iam_oidc_tags,
    ("iam", "ListSAMLProviderTags"): _iam_saml_tags,
    ("iam", "ListServerCertificateTags"): _iam_server_certificate_tags,
    ("iam", "ListAccountAliases"): _iam_alias,
    ("iam", "GetAccountAuthorizationDetails"): lambda c: (_many(3, lambda i: c("iam").create_user(UserName=unique("pw"))),
                                                          {"Filter": ["User"]})[1],
    ("iam", "SimulatePrincipalPolicy"): _iam_simulate_principal,
    ("iam", "SimulateCustomPolicy"): _iam_simulate_custom,
    ("iam", "ListServerCertificates"): lambda c: ({}, 1),
    ("iam", "ListVirtualMFADevices"): lambda c: ({}, 1),
    ("cloudtrail", "LookupEvents"): _ct_lookup,
    ("elbv2", "DescribeLoadBalancers"): _elb_lbs,
    ("elbv2", "DescribeTargetGroups"): _elb_tgs,
    ("elbv2", "DescribeListeners"): _elb_listeners,
    ("elbv2", "DescribeRules"): _elb_rules,
    ("elbv2", "DescribeListenerCertificates"): _elb_listener_certs,
    ("elbv2", "DescribeAccountLimits"): lambda c: {},
    ("elbv2", "DescribeSSLPolicies"): lambda c: {},
    ("elbv2", "DescribeTrustStores"): lambda c: ({}, 1),
}

# Operations whose required input names a resource Rampart cannot have.
PAGINATOR_NA = {
    ("elbv2", "DescribeTrustStoreAssociations"): "trust stores (mutual TLS): Rampart's ALBs have none",
    ("elbv2", "DescribeTrustStoreRevocations"): "trust stores (mutual TLS): Rampart's ALBs have none",
}



def _canon(v):
    return json.dumps(v, sort_keys=True, default=str)


@pytest.mark.parametrize("svc,name", _paginators())
def test_paginator(svc, name, c, request):
    reason = _not_in_scope(svc, name) or PAGINATOR_NA.get((svc, name))
    if reason:
        pytest.skip(reason)
    client = c(svc)
    op = botocore.xform_name(name)
    setup = PAGINATOR_SETUP.get((svc, name))
    if setup is None:
        # No setup: Rampart must not implement the operation (or the harness needs one).
        answer = "success"
        try:
            getattr(c(svc, validate=False), op)(**_dummy_input(svc, name))
        except ClientError as e:
            _skip_if_unimplemented(e, name)
            answer = e.response["Error"]["Code"]
        pytest.fail(f"{svc}.{name} is implemented (a probe answered {answer}) but the harness has no setup")
    c.acme = lambda: request.getfixturevalue("acme")
    try:
        got = setup(c)
    except ClientError as e:
        _skip_if_unimplemented(e, name)
        raise
    kwargs, min_pages = (got if isinstance(got, tuple) else (got, 2))
    client = kwargs.pop("_client", client)
    config = _SESSION.get_paginator_model(svc).get_paginator(name)
    result_keys = config["result_key"] if isinstance(config["result_key"], list) else [config["result_key"]]
    page_size = 1 if name == "ListAccessKeys" else 2
    try:
        pages = list(client.get_paginator(op).paginate(**kwargs, PaginationConfig={"PageSize": page_size}))
    except ClientError as e:
        _skip_if_unimplemented(e, name)
        raise
    assert len(pages) >= min_pages, f"{len(pages)} page(s) of {page_size}: {pages}"
    for page in pages[:-1]:
        # Every page but the last is full and carries the token to the next one.
        token = config["output_token"]
        tokens = token if isinstance(token, list) else [token]
        assert any(page.get(t) for t in tokens), f"page without {token}: {page}"
    joined = [sum((p.get(k, []) for p in pages), []) for k in result_keys]
    full = getattr(client, op)(**kwargs)
    for t in (config["output_token"] if isinstance(config["output_token"], list) else [config["output_token"]]):
        assert not full.get(t), f"the unpaginated call was truncated ({t}); create fewer resources"
    assert [_canon(x) for x in joined] == [_canon(full.get(k, [])) for k in result_keys]
    total = sum(len(x) for x in joined)
    # MaxItems counts the first result key only (botocore), so it is checked where there is one.
    if total >= 3 and len(result_keys) == 1:
        limited = client.get_paginator(op).paginate(
            **kwargs, PaginationConfig={"PageSize": page_size, "MaxItems": 2}).build_full_result()
        assert sum(len(limited.get(k, [])) for k in result_keys) == 2
        assert limited.get("NextToken"), f"MaxItems did not leave a resume token: {limited}"
        rest = client.get_paginator(op).paginate(
            **kwargs, PaginationConfig={"PageSize": page_size, "StartingToken": limited["NextToken"]}).build_full_result()
        resumed = [limited.get(k, []) + rest.get(k, []) for k in result_keys]
        assert [_canon(x) for x in resumed] == [_canon(x) for x in joined]


# Well-formed values for required members of operations probed only to learn whether Rampart
# implements them (validation answers before NotImplemented does, as on AWS).
_ACME = f"arn:aws:acm:{REGION}:{ADMIN_ACCOUNT}:acme-endpoint/example"
PROBE_VALUES = {
    "AcmeEndpointArn": _ACME,
    "AcmeDomainValidationArn": _ACME + "/acme-domain-validation/example",
    "CertificateArn": f"arn:aws:acm:{REGION}:{ADMIN_ACCOUNT}:certificate/00000000-0000-0000-0000-000000000000",
    "SerialNumber": f"arn:aws:iam::{ADMIN_ACCOUNT}:mfa/example",
    "OpenIDConnectProviderArn": f"arn:aws:iam::{ADMIN_ACCOUNT}:oidc-provider/example.com",
    "SAMLProviderArn": f"arn:aws:iam::{ADMIN_ACCOUNT}:saml-provider/example",
}


def _dummy_input(svc, name):
    shape = _SESSION.get_service_model(svc).operation_model(name).input_shape
    out = {}
    for m in (shape.required_members if shape else []):
        if m in PROBE_VALUES:
            out[m] = PROBE_VALUES[m]
            continue
        t = shape.members[m].type_name
        out[m] = {"string": "example", "integer": 1, "long": 1, "boolean": True, "list": ["example"],
                  "structure": {}, "map": {}, "timestamp": 0, "blob": b"x"}.get(t, "example")
    return out


# ------------------------------------------------------------------------------------------------
# Waiters: (success driver, failure driver); a driver returns the waiter's arguments. `None` for
# the failure driver: the waiter has no failure state; then it must time out on a missing thing.
# ------------------------------------------------------------------------------------------------


def _denied_client(c, svc):
    _, key = _user(c)  # a user without any policy: every call is AccessDenied
    return c(svc, access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])


def _pca_issued(c):
    pca = c("acm-pca")
    ca = _active_root_ca(pca)
    from awscli_fixtures import csr_pem
    arn = pca.issue_certificate(CertificateAuthorityArn=ca, Csr=csr_pem(), SigningAlgorithm="SHA256WITHRSA",
                                Validity={"Type": "DAYS", "Value": 30})["CertificateArn"]
    return {"CertificateAuthorityArn": ca, "CertificateArn": arn}


def _pca_report(c):
    pca = c("acm-pca")
    ca = _active_root_ca(pca)
    r = pca.create_certificate_authority_audit_report(CertificateAuthorityArn=ca, S3BucketName="audit-bucket",
                                                      AuditReportResponseFormat="JSON")
    return {"CertificateAuthorityArn": ca, "AuditReportId": r["AuditReportId"]}


def _pca_pending(c):
    return {"CertificateAuthorityArn": c("acm-pca").create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA",
                                           "Subject": {"CommonName": unique("pw")}},
        CertificateAuthorityType="ROOT")["CertificateAuthorityArn"]}



def _missing_acm(c):
    return {"CertificateArn": f"arn:aws:acm:{REGION}:{ADMIN_ACCOUNT}:certificate/00000000-0000-0000-0000-000000000000"}


def _elb_lb(c):
    lb, _, _ = _alb(c("elbv2"), listeners=0)
    return {"LoadBalancerArns": [lb["LoadBalancerArn"]]}


def _elb_missing_lb(c):
    return {"LoadBalancerArns": [f"arn:aws:elasticloadbalancing:{REGION}:{ADMIN_ACCOUNT}:loadbalancer/app/none/0123456789abcdef"]}


def _elb_deleted(c):
    args = _elb_lb(c)
    c("elbv2").delete_load_balancer(LoadBalancerArn=args["LoadBalancerArns"][0])
    return args


def _elb_target(c, upstream, register=True, deregister=False, port=None):
    elb = c("elbv2")
    lb = elb.create_load_balancer(Name=unique("pw")[:32], Subnets=["subnet-1"])["LoadBalancers"][0]
    tg = elb.create_target_group(Name=unique("pw")[:32], Protocol="HTTP", Port=upstream.port, VpcId="vpc-1",
                                 TargetType="ip", HealthCheckIntervalSeconds=5, HealthyThresholdCount=2)["TargetGroups"][0]
    # No connection draining: a deregistered target is unused at once instead of after 300 s.
    elb.modify_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"], Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "0"}])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    target = {"Id": "127.0.0.1", "Port": port or upstream.port}
    if register:
        elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[target])
    if deregister:
        elb.deregister_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[target])
    return {"TargetGroupArn": tg["TargetGroupArn"], "Targets": [target]}


def _iam_exists(kind):
    def make(c):
        iam = c("iam")
        name = unique("pw")
        if kind == "User":
            iam.create_user(UserName=name)
            return {"UserName": name}
        if kind == "Role":
            _iam_role_with(c, None)
            return {"RoleName": iam.list_roles()["Roles"][-1]["RoleName"]}
        if kind == "Policy":
            return {"PolicyArn": _policy(c)}
        iam.create_instance_profile(InstanceProfileName=name)
        return {"InstanceProfileName": name}
    return make


def _iam_missing(kind):
    name = "missing-" + kind.lower()
    return lambda c: {"UserName": {"UserName": name}, "RoleName": {"RoleName": name},
                      "PolicyArn": {"PolicyArn": f"arn:aws:iam::{ADMIN_ACCOUNT}:policy/{name}"},
                      "InstanceProfileName": {"InstanceProfileName": name}}[kind]


# (svc, waiter) -> (success driver, failure driver, client for the failure driver or None, timeout-only?)
WAITERS = {
    # A DNS-validated public certificate from pebble (an ACME CA): the right TXT record validates
    # it, a wrong one fails it. (A private certificate has no validation status, on AWS as here.)
    ("acm", "CertificateValidated"): ("acme-valid", ["acme-invalid", _missing_acm]),
    ("acm-pca", "CertificateIssued"): (_pca_issued, "denied"),
    ("acm-pca", "CertificateAuthorityCSRCreated"): (_pca_pending, "denied"),
    ("acm-pca", "AuditReportCreated"): (_pca_report, "denied"),
    ("iam", "UserExists"): (_iam_exists("User"), ("timeout", _iam_missing("UserName"))),
    ("iam", "RoleExists"): (_iam_exists("Role"), ("timeout", _iam_missing("RoleName"))),
    ("iam", "PolicyExists"): (_iam_exists("Policy"), ("timeout", _iam_missing("PolicyArn"))),
    ("iam", "InstanceProfileExists"): (_iam_exists("InstanceProfile"), ("timeout", _iam_missing("InstanceProfileName"))),
    ("elbv2", "LoadBalancerExists"): (_elb_lb, ("timeout", _elb_missing_lb)),
    ("elbv2", "LoadBalancerAvailable"): (_elb_lb, ("timeout", _elb_missing_lb)),
    ("elbv2", "LoadBalancersDeleted"): (_elb_deleted, ("timeout", _elb_lb)),
    ("elbv2", "TargetInService"): ("target-up", ("timeout", "target-down")),
    ("elbv2", "TargetDeregistered"): ("target-gone", ("timeout", "target-up")),
}


@pytest.fixture(scope="module")
def acme(server_factory, tmp_path_factory):
    """An ACM client of a server whose public CA is pebble, and the pebble controlling its DNS."""
    import shutil

    if not shutil.which("pebble"):
        pytest.skip("pebble is not installed: public certificates need an ACME CA")
    from test_acm_public import Pebble

    pebble = Pebble(tmp_path_factory.mktemp("pw-pebble"))
    pebble.start()
    srv = server_factory("pw-acme", extra_env={
        "RAMPART_ACME_DIRECTORY": pebble.directory, "RAMPART_ACME_CA_FILE": str(pebble.ca_file),
        "RAMPART_ACME_DNS_RESOLVER": f"127.0.0.1:{pebble.dns_port}",
        "RAMPART_ACME_HTTP01_LISTEN": f"127.0.0.1:{pebble.http01_port}"})
    yield srv.client("acm"), pebble
    pebble.stop()


def _acme_cert(acme, valid):
    acm, pebble = acme
    arn = acm.request_certificate(DomainName=f"{unique('pw')}.example.com", ValidationMethod="DNS")["CertificateArn"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        opts = acm.describe_certificate(CertificateArn=arn)["Certificate"].get("DomainValidationOptions", [])
        records = [o["ResourceRecord"] for o in opts if "ResourceRecord" in o]
        if records:
            break
        time.sleep(0.2)
    assert records, pebble.log()
    for rr in records:
        pebble.set_txt(rr["Name"], rr["Value"] if valid else "not-the-key-authorization-digest")
    return {"CertificateArn": arn}


def _drive(driver, c, upstream, request=None):
    if driver in ("acme-valid", "acme-invalid"):
        return _acme_cert(request.getfixturevalue("acme"), driver == "acme-valid")
    if driver == "target-up":
        return _elb_target(c, upstream)
    if driver == "target-down":
        return _elb_target(c, upstream, port=1)  # nothing listens on port 1: never healthy
    if driver == "target-gone":
        return _elb_target(c, upstream, deregister=True)
    return driver(c)


@pytest.mark.parametrize("svc,name", _waiters())
def test_waiter(svc, name, c, upstream, request):
    model = _SESSION.get_waiter_model(svc).get_waiter(name)
    reason = _not_in_scope(svc, model.operation)
    if reason:
        pytest.skip(reason)
    if (svc, name) not in WAITERS:
        answer = "success"
        try:
            getattr(c(svc, validate=False), botocore.xform_name(model.operation))(**_dummy_input(svc, model.operation))
        except ClientError as e:
            _skip_if_unimplemented(e, model.operation)
            answer = e.response["Error"]["Code"]
        pytest.fail(f"{svc} waiter {name}: {model.operation} is implemented (a probe answered {answer}) "
                    "but the harness has no driver")
    success, failure = WAITERS[(svc, name)]
    waiter_name = botocore.xform_name(name)
    args = {}
    if success is not None:
        try:
            args = _drive(success, c, upstream, request)
        except ClientError as e:
            _skip_if_unimplemented(e, model.operation)
            raise
        slow = success in ("target-up", "acme-valid")
        client = request.getfixturevalue("acme")[0] if success == "acme-valid" else c(svc)
        client.get_waiter(waiter_name).wait(**args, WaiterConfig=dict(FAST, MaxAttempts=30) if slow else FAST)

    has_failure = any(a["state"] == "failure" for a in model._config["acceptors"])
    if failure == "denied":
        denied = _denied_client(c, svc)
        with pytest.raises(WaiterError) as e:
            denied.get_waiter(waiter_name).wait(**args, WaiterConfig=FAST)
        assert "terminal failure state" in str(e.value), str(e.value)
        assert e.value.last_response["Error"]["Code"] == "AccessDeniedException"
    elif isinstance(failure, tuple):
        assert not has_failure or failure[0] == "timeout"
        fargs = _drive(failure[1], c, upstream, request)
        started = time.monotonic()
        with pytest.raises(WaiterError) as e:
            c(svc).get_waiter(waiter_name).wait(**fargs, WaiterConfig={"Delay": 1, "MaxAttempts": 2})
        assert "Max attempts exceeded" in str(e.value), str(e.value)
        assert time.monotonic() - started < 30
    else:
        for driver in failure if isinstance(failure, list) else [failure]:
            fargs = _drive(driver, c, upstream, request)
            client = request.getfixturevalue("acme")[0] if driver == "acme-invalid" else c(svc)
            with pytest.raises(WaiterError) as e:
                client.get_waiter(waiter_name).wait(**fargs, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
            assert "terminal failure state" in str(e.value), str(e.value)
