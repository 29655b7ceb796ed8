"""What each awscli documentation example needs before it can run against Rampart.

An example names resources of the account AWS ran it in (a key id, a secret ARN, a role name).
A service's fixture finds those references in the example's argv, creates matching resources in a
freshly reset Rampart (a key of the kind the command needs, a secret with that name, ...), and
rewrites the argv to point at them. Files the example reads (`file://policy.json`,
`fileb://ExampleEncryptedFile`) are written with content that fits the option they feed.
"""

import base64
import datetime
import json
import re
import time

from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

ACCOUNT = "123456789012"
HELLO = b"Hello World\n"


class NotApplicable(Exception):
    """The example cannot apply to Rampart (another service, AWS Organizations, real accounts)."""


class HarnessLimit(Exception):
    """The harness cannot build what the example needs."""


def trust_policy(account=ACCOUNT):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]})


def allow_all_policy(action="*"):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": "*"}]})


def self_signed(cn="www.example.com", ca=False, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=365)))
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
    cert = b.sign(key, hashes.SHA256())
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def csr_pem(cn="www.example.com"):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])).sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM)


_ARN_ACCOUNT = re.compile(r"(arn:aws:[a-z0-9-]+:[a-z0-9-]*:)(\d{12})(:)")


class Fixture:
    """Per example: rewrite the argv and create what it refers to. Subclasses add `rewrite_token`
    patterns, `on_<option>` handlers (values -> values), `file_<option>` handlers (-> bytes) and
    `before_<command>` hooks."""

    service = None
    cli_credentials = ()  # (access key, secret key) to run the example as, default the dev root
    cli_region = None

    def __init__(self, server, ex, workdir, region):
        self.server = server
        self.ex = ex
        self.workdir = workdir
        self.region = region
        self.memo = {}
        self.opts = ex.opts()
        self._clients = {}

    # -- helpers ---------------------------------------------------------------------------------

    def client(self, service, region=None):
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self.server.client(service, access_key="AKIAEXAMPLEDEVMODE01",
                                                    secret_key="x" * 40, region=key[1])
        return self._clients[key]

    def opt(self, name, default=None):
        v = self.opts.get(name)
        return v[0] if v else default

    def once(self, key, make):
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]

    @property
    def creating(self):
        """The resource kind a create-/put-/request- command creates (not to be made beforehand)."""
        m = re.match(r"(create|put|request|import|register|add)-(.+)", self.ex.command)
        return m.group(2) if m else None

    # -- the pipeline ----------------------------------------------------------------------------

    def prepare(self):
        hook = getattr(self, "before_" + self.ex.command.replace("-", "_").replace(" ", "_"), None)
        if hook:
            hook()
        argv = [_ARN_ACCOUNT.sub(lambda m: m.group(1) + ACCOUNT + m.group(3), t) for t in self.ex.argv]
        argv = [argv[0], argv[1]] + [self.rewrite_token(t) if not t.startswith("--") else t for t in argv[2:]]
        # Option handlers see (and may replace) their values.
        out, i = argv[:2], 2
        files = []
        while i < len(argv):
            tok = argv[i]
            out.append(tok)
            i += 1
            if not tok.startswith("--"):
                continue
            vals = []
            while i < len(argv) and not argv[i].startswith("--"):
                vals.append(argv[i])
                i += 1
            name = tok[2:].replace("-", "_")
            handler = getattr(self, "on_" + name, None)
            if handler:
                vals = handler(vals)
            for v in vals:
                if v.startswith(("file://", "fileb://")):
                    files.append((name, v))
            if name in self.blob_options() and vals and not vals[0].startswith(("file://", "fileb://")):
                # awscli v1 sends a blob option's text as is; the examples (written for v2) give
                # base64: hand the CLI the decoded bytes in a file, as v1 expects.
                path = f"blob-{name}.bin"
                try:
                    raw = base64.b64decode(vals[0], validate=True)
                except ValueError:
                    raw = vals[0].encode()
                (self.workdir / path).write_bytes(raw)
                vals = [f"fileb://{path}"] + vals[1:]
            out.extend(vals)
        for name, v in files:
            path = v.split("://", 1)[1]
            make = getattr(self, "file_" + name, None)
            if make is None:
                raise HarnessLimit(f"no content for {v} (--{name.replace('_', '-')})")
            data = make()
            target = self.workdir / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data if isinstance(data, bytes) else data.encode())
        return out

    def rewrite_token(self, tok):
        return tok

    def blob_options(self):
        from awscli_corpus import _SESSION, _cli_name
        model = _SESSION.get_service_model(self.ex.argv[0])
        for op in model.operation_names:
            if _cli_name(op) == self.ex.command:
                shape = model.operation_model(op).input_shape
                if shape is None:
                    return set()
                return {_cli_name(k).replace("-", "_") for k, m in shape.members.items() if m.type_name == "blob"}
        return set()

    # IAM principals named in any service's example exist in Rampart's IAM.
    def ensure_principal(self, arn):
        m = re.match(r"arn:aws:iam::(\d{12}):(user|role)/(?:.*/)?([\w+=,.@-]+)$", arn)
        if not m or m.group(1) != ACCOUNT:
            return arn
        kind, name = m.group(2), m.group(3)
        iam = self.client("iam")
        try:
            if kind == "user":
                return iam.create_user(UserName=name)["User"]["Arn"]
            return iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy())["Role"]["Arn"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
        return arn

    def caller_arn(self):
        return self.once("caller", lambda: self.client("sts").get_caller_identity()["Arn"])


# ================================================================================================
# KMS
# ================================================================================================

_KMS_KEY_ARN = re.compile(r"arn:aws:kms:([a-z0-9-]+):\d{12}:key/((?:mrk-)?[0-9a-f-]+)")
_KMS_ALIAS_ARN = re.compile(r"arn:aws:kms:([a-z0-9-]+):\d{12}:(alias/[\w/.-]+)")
_KMS_ID = re.compile(r"^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")

_SIGN_SPEC = {"RSASSA": "RSA_2048", "ECDSA_SHA_256": "ECC_NIST_P256", "ECDSA_SHA_384": "ECC_NIST_P384",
              "ECDSA_SHA_512": "ECC_NIST_P521", "ML_DSA": "ML_DSA_65", "SM2DSA": "SM2"}


class KmsFixture(Fixture):
    service = "kms"

    def key_kwargs(self, ident):
        """create_key arguments for the key an example refers to as `ident`."""
        ex, cmd = self.ex, self.ex.command
        kw = {}
        doc = ex.expected if isinstance(ex.expected, dict) else {}
        meta = doc.get("KeyMetadata") if isinstance(doc.get("KeyMetadata"), dict) else {}
        alg = self.opt("--signing-algorithm")
        enc = self.opt("--encryption-algorithm") or self.opt("--source-encryption-algorithm")
        if cmd in ("sign", "verify") or (cmd == "get-public-key" and not meta):
            spec = next((v for k, v in _SIGN_SPEC.items() if alg and alg.startswith(k)), "RSA_2048")
            kw = {"KeySpec": spec, "KeyUsage": "SIGN_VERIFY"}
            spec = doc.get("KeySpec") or doc.get("CustomerMasterKeySpec")
            if cmd == "get-public-key" and isinstance(spec, str):
                kw = {"KeySpec": spec, "KeyUsage": doc.get("KeyUsage", "SIGN_VERIFY")}
        elif enc and enc.startswith("RSAES") and ident == self._source_ident():
            kw = {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}
        elif cmd in ("generate-mac", "verify-mac"):
            mac = self.opt("--mac-algorithm", "HMAC_SHA_256")
            kw = {"KeySpec": "HMAC_" + mac.rsplit("_", 1)[-1], "KeyUsage": "GENERATE_VERIFY_MAC"}
        elif cmd == "derive-shared-secret":
            kw = {"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"}
        elif cmd in ("get-parameters-for-import", "import-key-material", "delete-imported-key-material"):
            kw = {"Origin": "EXTERNAL"}
        elif meta:
            for k in ("KeySpec", "KeyUsage", "Origin", "MultiRegion"):
                if k in meta:
                    kw[k] = meta[k]
            if "KeySpec" not in kw and meta.get("CustomerMasterKeySpec"):
                kw["KeySpec"] = meta["CustomerMasterKeySpec"]
            if kw.get("Origin") not in (None, "AWS_KMS", "EXTERNAL"):
                raise HarnessLimit(f"a key of origin {kw['Origin']} in a custom key store is not set up")
        if ident.startswith("mrk-") or cmd in ("replicate-key", "update-primary-region"):
            kw["MultiRegion"] = True
        return kw

    def _source_ident(self):
        v = self.opt("--key-id") or self.opt("--source-key-id") or ""
        m = _KMS_KEY_ARN.search(v)
        return m.group(2) if m else v

    def key(self, ident, region=None):
        region = region or self.region

        def make():
            kms = self.client("kms", region)
            meta = kms.create_key(**self.key_kwargs(ident))["KeyMetadata"]
            self.after_create(kms, meta, ident)
            return meta
        return self.once(("key", ident, region), make)

    def after_create(self, kms, meta, ident):
        cmd = self.ex.command
        kid = meta["KeyId"]
        if cmd == "cancel-key-deletion":
            kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
        elif cmd == "enable-key" or (cmd == "describe-key" and (self.ex.expected or {}).get(
                "KeyMetadata", {}).get("Enabled") is False):
            kms.disable_key(KeyId=kid)
        elif cmd == "delete-imported-key-material" or (cmd == "describe-key" and meta["Origin"] == "EXTERNAL"):
            self.import_material(kms, kid)
        elif cmd in ("disable-key-rotation", "list-key-rotations", "get-key-rotation-status") and meta["KeySpec"] == "SYMMETRIC_DEFAULT":
            kms.enable_key_rotation(KeyId=kid)
            if cmd == "list-key-rotations":
                kms.rotate_key_on_demand(KeyId=kid)
        elif cmd in ("untag-resource", "list-resource-tags"):
            kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "Purpose", "TagValue": "Test"}])
        elif cmd == "list-grants":
            kms.create_grant(KeyId=kid, GranteePrincipal=self.caller_arn(), Operations=["Decrypt", "Encrypt"],
                             RetiringPrincipal=self.caller_arn(), Name="8276b9a6-6cf0-46f1-b2f0-7993a7f8c89a",
                             Constraints={"EncryptionContextSubset": {"Department": "IT"}})
        elif cmd == "update-primary-region":
            kms.replicate_key(KeyId=kid, ReplicaRegion=self.opt("--primary-region", "us-west-2"))

    def import_material(self, kms, kid):
        params = kms.get_parameters_for_import(KeyId=kid, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                               WrappingKeySpec="RSA_2048")
        pub = serialization.load_der_public_key(params["PublicKey"])
        wrapped = pub.encrypt(b"\x01" * 32, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                         algorithm=hashes.SHA256(), label=None))
        kms.import_key_material(KeyId=kid, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped,
                                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")

    def rewrite_token(self, tok):
        def arn(m):
            return self.key(m.group(2), m.group(1))["Arn"]

        def alias_arn(m):
            self.alias(m.group(2), m.group(1))
            return f"arn:aws:kms:{m.group(1)}:{ACCOUNT}:{m.group(2)}"
        tok = _KMS_KEY_ARN.sub(arn, tok)
        tok = _KMS_ALIAS_ARN.sub(alias_arn, tok)
        if _KMS_ID.match(tok):
            return self.key(tok)["KeyId"]
        return tok

    def alias(self, name, region=None):
        if name.startswith("alias/aws/"):
            return name
        if self.ex.command == "create-alias" and self.opt("--alias-name") == name:
            return name

        def make():
            ident = name
            self.client("kms", region).create_alias(AliasName=name, TargetKeyId=self.key(ident, region)["KeyId"])
            return name
        return self.once(("alias", name, region), make)

    def on_key_id(self, vals):
        return [self.alias(v) if v.startswith("alias/") else v for v in vals]

    def on_alias_name(self, vals):
        if self.ex.command in ("delete-alias", "update-alias"):
            for v in vals:
                self.alias(v)
        return vals

    def on_target_key_id(self, vals):
        return vals

    # -- custom key stores (a SoftHSM token as the CloudHSM cluster, an XKS proxy in the test) ----

    @property
    def cks(self):
        cks = getattr(self.server, "cks", None)
        if not cks:
            raise HarnessLimit("custom key stores need SoftHSM (softhsm2) for the CloudHSM cluster")
        return cks

    def _xks_wanted(self):
        doc = self.ex.expected if isinstance(self.ex.expected, dict) else {}
        stores = doc.get("CustomKeyStores") or [{}]
        return (any(o.startswith("--xks") for o in self.opts) or self.opt("--origin") == "EXTERNAL_KEY_STORE"
                or stores[0].get("CustomKeyStoreType") == "EXTERNAL_KEY_STORE")

    def store(self, name="ExampleKeyStore"):
        def make():
            kms, cks = self.client("kms"), self.cks
            if self._xks_wanted():
                sid = kms.create_custom_key_store(
                    CustomKeyStoreName=name, CustomKeyStoreType="EXTERNAL_KEY_STORE",
                    XksProxyConnectivity="PUBLIC_ENDPOINT", XksProxyUriEndpoint=f"https://{cks['xks_host']}",
                    XksProxyUriPath=cks["xks_path"],
                    XksProxyAuthenticationCredential={"AccessKeyId": cks["xks_ak"],
                                                      "RawSecretAccessKey": cks["xks_sk"]})["CustomKeyStoreId"]
            else:
                sid = kms.create_custom_key_store(CustomKeyStoreName=name, CloudHsmClusterId=cks["cluster"],
                                                  TrustAnchorCertificate=cks["ca_pem"],
                                                  KeyStorePassword=cks["pin"])["CustomKeyStoreId"]
            if self.ex.command in ("create-key", "disconnect-custom-key-store") or (
                    self.ex.command == "describe-custom-key-stores"):
                kms.connect_custom_key_store(CustomKeyStoreId=sid)
            return sid
        return self.once(("store", name), make)

    def on_custom_key_store_id(self, vals):
        return [self.store() for _ in vals]

    def on_custom_key_store_name(self, vals):
        if self.ex.command != "create-custom-key-store":
            for v in vals:
                self.store(v)
        return vals

    def on_cloud_hsm_cluster_id(self, vals):
        # The examples' cluster id breaks the model's pattern; ours maps to a SoftHSM token. (An
        # update may only name a cluster related to the store's own: the same one is.)
        return [self.cks["cluster"]]

    def on_key_store_password(self, vals):
        return [self.cks["pin"]]

    def on_xks_proxy_uri_endpoint(self, vals):
        return [f"https://{self.cks['xks_host']}"]

    def on_xks_proxy_uri_path(self, vals):
        return [self.cks["xks_path"]]

    def on_xks_proxy_authentication_credential(self, vals):
        # The examples' access key id breaks the model's pattern; the proxy here checks ours.
        return [f"AccessKeyId={self.cks['xks_ak']},RawSecretAccessKey={self.cks['xks_sk']}"]

    def on_xks_key_id(self, vals):
        return ["xks-key-1"]

    def on_grantee_principal(self, vals):
        return [self.ensure_principal(v) for v in vals]

    on_retiring_principal = on_grantee_principal

    def on_grant_id(self, vals):
        kms = self.client("kms")
        kid = self.opt("--key-id")
        key = self.rewrite_token(kid) if kid else self.key("grant-key")["KeyId"]
        g = kms.create_grant(KeyId=key, GranteePrincipal=self.caller_arn(), RetiringPrincipal=self.caller_arn(),
                             Operations=["Decrypt"])
        return [g["GrantId"]]

    def on_public_key(self, vals):
        pub = ec.generate_private_key(ec.SECP256R1()).public_key()
        return [base64.b64encode(pub.public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)).decode()]

    def on_replica_region(self, vals):
        return vals

    def on_valid_to(self, vals):
        later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
        return [later.strftime("%Y-%m-%dT%H:%M:%SZ")]

    def _key_for(self, *names):
        for n in names:
            v = self.opt(n)
            if v:
                v = self.rewrite_token(v)
                if v.startswith("alias/"):
                    v = self.alias(v)
                return v
        return self.key("ciphertext-key")["KeyId"]

    def file_plaintext(self):
        return HELLO

    file_message = file_plaintext

    def file_ciphertext_blob(self):
        kms = self.client("kms")
        key = self._key_for("--key-id", "--source-key-id")
        alg = self.opt("--encryption-algorithm") or self.opt("--source-encryption-algorithm") or "SYMMETRIC_DEFAULT"
        return kms.encrypt(KeyId=key, Plaintext=HELLO, EncryptionAlgorithm=alg)["CiphertextBlob"]

    def file_signature(self):
        kms = self.client("kms")
        return kms.sign(KeyId=self._key_for("--key-id"), Message=HELLO,
                        MessageType=self.opt("--message-type", "RAW"),
                        SigningAlgorithm=self.opt("--signing-algorithm"))["Signature"]

    def file_mac(self):
        return self.client("kms").generate_mac(KeyId=self._key_for("--key-id"), Message=HELLO,
                                               MacAlgorithm=self.opt("--mac-algorithm"))["Mac"]

    def file_policy(self):
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "Enable IAM policies", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*", "Resource": "*"}]})

    def _import_params(self):
        def make():
            kms = self.client("kms")
            kid = self._key_for("--key-id")
            params = kms.get_parameters_for_import(KeyId=kid, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                                   WrappingKeySpec="RSA_2048")
            pub = serialization.load_der_public_key(params["PublicKey"])
            wrapped = pub.encrypt(b"\x02" * 32, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                             algorithm=hashes.SHA256(), label=None))
            return params["ImportToken"], wrapped
        return self.once("import", make)

    def file_encrypted_key_material(self):
        return self._import_params()[1]

    def file_import_token(self):
        return self._import_params()[0]

    def file_trust_anchor_certificate(self):
        return self.cks["ca_pem"]


# ================================================================================================
# Secrets Manager
# ================================================================================================

_SECRET_ARN = re.compile(r"arn:aws:secretsmanager:([a-z0-9-]+):\d{12}:secret:([\w/+=.@-]+?)(-[A-Za-z0-9]{6})?$")


class SecretsManagerFixture(Fixture):
    service = "secretsmanager"

    def secret(self, name):
        def make():
            sm = self.client("secretsmanager")
            if self.ex.command == "stop-replication-to-replica":
                # The command runs in the replica's Region: the primary lives in another one.
                primary = self.client("secretsmanager", "us-west-2")
                p = primary.create_secret(Name=name, SecretString="x")
                primary.replicate_secret_to_regions(SecretId=p["ARN"], AddReplicaRegions=[{"Region": self.region}])
                return {"ARN": p["ARN"].replace(":us-west-2:", f":{self.region}:")}
            r = sm.create_secret(Name=name, SecretString=json.dumps({"user": "diegor", "password": "EXAMPLE-PASSWORD"}))
            cmd = self.ex.command
            if cmd == "restore-secret":
                sm.delete_secret(SecretId=r["ARN"], RecoveryWindowInDays=7)
            if self.opt("--version-stage") == "AWSPREVIOUS" or cmd in ("list-secret-version-ids", "update-secret-version-stage"):
                sm.put_secret_value(SecretId=r["ARN"], SecretString='{"user":"diegor","password":"NEW-PASSWORD"}')
            if cmd in ("get-resource-policy", "delete-resource-policy"):
                sm.put_resource_policy(SecretId=r["ARN"], ResourcePolicy=self.resource_policy())
            if cmd in ("untag-resource",):
                sm.tag_resource(SecretId=r["ARN"], Tags=[{"Key": "ENV", "Value": "test"}])
            if cmd == "update-secret-version-stage" and self.opt("--remove-from-version-id"):
                v1 = sm.list_secret_version_ids(SecretId=r["ARN"])["Versions"][0]["VersionId"]
                sm.update_secret_version_stage(SecretId=r["ARN"], VersionStage=self.opt("--version-stage"),
                                               MoveToVersionId=v1)
            if cmd in ("remove-regions-from-replication",):
                sm.replicate_secret_to_regions(SecretId=r["ARN"], AddReplicaRegions=[{"Region": "eu-west-3"}])
            if cmd == "cancel-rotate-secret":
                raise NotApplicable("a secret with rotation configured: its rotation function is a Lambda")
            return r
        return self.once(("secret", name), make)

    def resource_policy(self):
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})

    def on_secret_id(self, vals):
        out = []
        for v in vals:
            m = _SECRET_ARN.match(v)
            name = m.group(2) if m else v
            out.append(self.secret(name)["ARN"] if m else (self.secret(name), name)[1])
        return out

    def on_secret_id_list(self, vals):
        return self.on_secret_id(vals)

    def on_name(self, vals):
        return vals

    def on_filters(self, vals):
        if self.ex.command == "batch-get-secret-value":
            for v in vals:
                m = re.search(r"Values=\"?([\w-]+)", v)
                if m:
                    self.secret(m.group(1) + "-example")
        return vals

    def on_version_id(self, vals):
        sm = self.client("secretsmanager")
        sid = self.on_secret_id([self.opt("--secret-id")])[0] if self.opt("--secret-id") else None
        if sid is None:
            return vals
        versions = sm.list_secret_version_ids(SecretId=sid)["Versions"]
        return [versions[0]["VersionId"]]

    on_move_to_version_id = on_version_id

    def on_remove_from_version_id(self, vals):
        return self.on_version_id(vals)

    def on_kms_key_id(self, vals):
        kms = self.client("kms")
        out = []
        for v in vals:
            meta = self.once(("key", v), lambda: kms.create_key()["KeyMetadata"])
            if v.startswith("alias/") or ":alias/" in v:
                name = v[v.index("alias/"):]
                self.once(("alias", name), lambda: kms.create_alias(AliasName=name, TargetKeyId=meta["KeyId"]))
                out.append(v)
            elif v.startswith("arn:"):
                out.append(meta["Arn"])
            else:
                out.append(meta["KeyId"])
        return out

    def on_rotation_lambda_arn(self, vals):
        raise NotApplicable("rotation through a Lambda function: Rampart has no Lambda")

    def file_secret_string(self):
        return json.dumps({"username": "diegor", "password": "EXAMPLE-PASSWORD"})

    def file_resource_policy(self):
        return self.resource_policy()

    def file_secret_binary(self):
        return b"\x00\x01binary"


# ================================================================================================
# SSM Parameter Store
# ================================================================================================


class SsmFixture(Fixture):
    service = "ssm"

    def parameter(self, name, versions=1):
        def make():
            ssm = self.client("ssm")
            doc = self.ex.expected if isinstance(self.ex.expected, dict) else {}
            typ = "String"
            for p in [doc.get("Parameter")] + list(doc.get("Parameters") or []):
                if isinstance(p, dict) and p.get("Name") == name and p.get("Type"):
                    typ = p["Type"]
            if self.ex.command == "get-parameter" and "Secure" in name:
                typ = "SecureString"
            value = "a,b,c" if typ == "StringList" else "Veni"
            for i in range(versions):
                ssm.put_parameter(Name=name, Value=value + str(i) * (i > 0), Type=typ, Overwrite=i > 0)
            return name
        return self.once(("param", name), make)

    def on_name(self, vals):
        cmd = self.ex.command
        if cmd == "put-parameter" and "--overwrite" not in self.opts:
            return vals
        n = 3 if cmd in ("get-parameter-history", "label-parameter-version", "unlabel-parameter-version") else 1
        for v in vals:
            if ":" in v and v.split(":")[1].isdigit():
                n = max(n, int(v.split(":")[1]))
            base = v.split(":")[0]
            self.parameter(base, n)
            if cmd == "unlabel-parameter-version":
                self.client("ssm").label_parameter_version(Name=base, ParameterVersion=int(self.opt("--parameter-version", "1")),
                                                           Labels=self.opts.get("--labels") or ["Label"])
        if cmd == "get-parameter":
            for v in vals:
                if ":" in v and not v.split(":")[1].isdigit():
                    self.client("ssm").label_parameter_version(Name=v.split(":")[0], ParameterVersion=1,
                                                               Labels=[v.split(":")[1]])
        return vals

    def on_names(self, vals):
        for v in vals:
            self.parameter(v.split(":")[0])
        return vals

    def on_resource_id(self, vals):
        if self.opt("--resource-type") != "Parameter":
            raise NotApplicable(f"tags on {self.opt('--resource-type')} resources: Rampart's SSM is Parameter Store only")
        for v in vals:
            self.parameter(v)
            if self.ex.command == "remove-tags-from-resource" or self.ex.command == "list-tags-for-resource":
                self.client("ssm").add_tags_to_resource(ResourceType="Parameter", ResourceId=v,
                                                        Tags=[{"Key": "Region", "Value": "East"}])
        return vals

    def on_path(self, vals):
        for v in vals:
            base = v.rstrip("/")
            self.parameter(base + "/Param1")
            self.parameter(base + "/Sub/Param2")
        return vals

    def on_parameter_filters(self, vals):
        for v in vals:
            m = re.search(r"Key=(\w+),(?:Option=\w+,)?Values=([\w/.-]+)", v)
            if m and m.group(1) == "Name":
                self.parameter(m.group(2) if m.group(2).startswith("/") else "/" + m.group(2) + "Param")
        return vals

    def on_key_id(self, vals):
        kms = self.client("kms")
        meta = self.once("key", lambda: kms.create_key()["KeyMetadata"])
        out = []
        for v in vals:
            if v.startswith("alias/") and not v.startswith("alias/aws/"):
                self.once(("alias", v), lambda: kms.create_alias(AliasName=v, TargetKeyId=meta["KeyId"]))
                out.append(v)
            elif v.startswith("arn:"):
                out.append(meta["Arn"])
            elif v.startswith("alias/"):
                out.append(v)
            else:
                out.append(meta["KeyId"])
        return out

    def on_policies(self, vals):
        # The examples' expiration dates have passed; AWS refuses a past one as Rampart does.
        return [re.sub(r"\b20[0-2]\d-(\d\d-\d\dT)", r"2099-\1", v) for v in vals]

    def file_value(self):
        return "Veni"


# ================================================================================================
# STS
# ================================================================================================


class StsFixture(Fixture):
    service = "sts"

    def prepare(self):
        # AWS refuses AssumeRole to a root caller: run as an administrator user, as one would.
        iam = self.client("iam")
        iam.create_user(UserName="example-admin")
        iam.put_user_policy(UserName="example-admin", PolicyName="admin", PolicyDocument=allow_all_policy())
        key = iam.create_access_key(UserName="example-admin")["AccessKey"]
        self.cli_credentials = (key["AccessKeyId"], key["SecretAccessKey"])
        return super().prepare()

    def on_role_arn(self, vals):
        return [self.ensure_principal(v) for v in vals]

    def on_policy_arns(self, vals):
        iam = self.client("iam")
        out = []
        for v in vals:
            m = re.search(r"arn=(arn:aws:iam::\d{12}:policy/([\w+=,.@-]+))", v)
            if m:
                iam.create_policy(PolicyName=m.group(2), PolicyDocument=allow_all_policy())
            out.append(v)
        return out

    def on_serial_number(self, vals):
        raise NotApplicable("MFA devices: Rampart's IAM has no virtual MFA devices yet to produce a token code")

    def on_access_key_id(self, vals):
        return vals

    def file_policy(self):
        return allow_all_policy("s3:*")


# ================================================================================================
# IAM
# ================================================================================================


class IamFixture(Fixture):
    service = "iam"

    def ensure(self, kind, name, make):
        """Create `name` of `kind` unless this command creates it."""
        if (self.creating or "") == kind:
            return name
        return self.once((kind, name), make)

    def _ok(self, fn, *a, **kw):
        try:
            return fn(*a, **kw)
        except ClientError as e:
            if e.response["Error"]["Code"] not in ("EntityAlreadyExists", "NotImplemented"):
                raise
            return None

    def before_get_credential_report(self):
        self.client("iam").generate_credential_report()

    # -- acting as an IAM user, where AWS refuses the account's root ------------------------------

    def admin_user(self, name, password=None):
        """An administrator IAM user and its access key (memoized)."""
        def make():
            iam = self.client("iam")
            self._ok(iam.create_user, UserName=name)
            iam.put_user_policy(UserName=name, PolicyName="admin", PolicyDocument=allow_all_policy())
            if password:
                self._ok(iam.create_login_profile, UserName=name, Password=password)
            key = iam.create_access_key(UserName=name)["AccessKey"]
            return key["AccessKeyId"], key["SecretAccessKey"]
        return self.once(("admin-user", name), make)

    def act_as(self, name, password=None):
        """Run the example as IAM user `name` (commands that act on the caller's own user)."""
        self.cli_credentials = self.admin_user(name, password)
        return name

    def user_client(self, service, name):
        ak, sk = self.admin_user(name)
        return self.server.client(service, access_key=ak, secret_key=sk, region=self.region)

    def target_user(self):
        """The user a per-user credential command names, or (without --user-name) the caller."""
        user = self.opt("--user-name")
        if user:
            self._ok(self.client("iam").create_user, UserName=user)
            return user
        return self.act_as("sofia")

    # -- the account's password policy ------------------------------------------------------------

    def _password_policy(self):
        self.client("iam").update_account_password_policy(
            MinimumPasswordLength=8, RequireSymbols=True, RequireNumbers=True,
            RequireUppercaseCharacters=False, RequireLowercaseCharacters=False, AllowUsersToChangePassword=False)

    before_get_account_password_policy = _password_policy
    before_delete_account_password_policy = _password_policy

    def before_change_password(self):
        # Only an IAM user changes its own password (root: InvalidUserType): the example's user,
        # signed in with the old password the example's JSON shows.
        doc = json.loads(self.ex.input_json) if self.ex.input_json else {}
        self.act_as("example-user", password=doc.get("OldPassword", "Example-Passw0rd!"))

    def before_list_service_specific_credentials(self):
        user = self.target_user()
        self.client("iam").create_service_specific_credential(
            UserName=user, ServiceName=self.opt("--service-name", "codecommit.amazonaws.com"))

    # -- identity providers ------------------------------------------------------------------------

    _EXAMPLE_TAGS = [{"Key": "DeptID", "Value": "123456"}, {"Key": "Department", "Value": "Accounting"}]

    def _wants_tags(self):
        cmd = self.ex.command
        return cmd.startswith(("list-", "untag-", "get-"))

    def on_open_id_connect_provider_arn(self, vals):
        iam = self.client("iam")
        for v in vals:
            m = re.match(r"arn:aws:iam::\d{12}:oidc-provider/(.+)$", v)
            if not m or self.ex.command == "create-open-id-connect-provider":
                continue

            def make(v=v, host=m.group(1)):
                clients = ["example-application-ID"]
                if self.opt("--client-id") and self.ex.command.startswith("remove-"):
                    clients.append(self.opt("--client-id"))
                self._ok(iam.create_open_id_connect_provider, Url=f"https://{host}", ClientIDList=clients,
                         ThumbprintList=["12345abcdefabcdef67890abcdefabcdef987654"])
                if self._wants_tags():
                    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=v, Tags=self._EXAMPLE_TAGS)
            self.once(("oidc", v), make)
        return vals

    def on_saml_provider_arn(self, vals):
        iam = self.client("iam")
        for v in vals:
            m = re.match(r"arn:aws:iam::\d{12}:saml-provider/(.+)$", v)
            if not m or self.ex.command == "create-saml-provider":
                continue

            def make(v=v, name=m.group(1)):
                self._ok(iam.create_saml_provider, Name=name, SAMLMetadataDocument=self.file_saml_metadata_document())
                if self._wants_tags():
                    iam.tag_saml_provider(SAMLProviderArn=v, Tags=self._EXAMPLE_TAGS)
            self.once(("saml", v), make)
        return vals

    def on_server_certificate_name(self, vals):
        iam = self.client("iam")
        for v in vals:
            if self.ex.command == "upload-server-certificate":
                continue

            def make(v=v):
                body, key = self_signed(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
                self._ok(iam.upload_server_certificate, ServerCertificateName=v,
                         CertificateBody=body.decode() if isinstance(body, bytes) else body,
                         PrivateKey=key.decode() if isinstance(key, bytes) else key)
                if self._wants_tags():
                    iam.tag_server_certificate(ServerCertificateName=v, Tags=self._EXAMPLE_TAGS)
            self.once(("server-cert", v), make)
        return vals

    # -- per-user credentials (ids are the server's: the example's are replaced) -------------------

    def on_service_specific_credential_id(self, vals):
        user = self.target_user()
        cred = self.client("iam").create_service_specific_credential(
            UserName=user, ServiceName="codecommit.amazonaws.com")["ServiceSpecificCredential"]
        return [cred["ServiceSpecificCredentialId"]]

    def on_certificate_id(self, vals):
        user = self.target_user()
        body = self.once("cert", lambda: self_signed(key=rsa.generate_private_key(public_exponent=65537,
                                                                                   key_size=2048)))[0]
        cert = self.client("iam").upload_signing_certificate(
            UserName=user, CertificateBody=body.decode() if isinstance(body, bytes) else body)["Certificate"]
        return [cert["CertificateId"]]

    def on_ssh_public_key_id(self, vals):
        user = self.target_user()
        key = self.client("iam").upload_ssh_public_key(
            UserName=user, SSHPublicKeyBody=self.file_ssh_public_key_body().decode())["SSHPublicKey"]
        return [key["SSHPublicKeyId"]]

    def on_permissions_boundary(self, vals):
        return [self.policy_arn(v) if v.startswith("arn:") else v for v in vals]

    # -- the simulator's principals ----------------------------------------------------------------

    _DATED_POLICY = json.dumps({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Action": "dynamodb:*",
        "Resource": "arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2015-08-16T12:00:00Z"}}}})

    def on_policy_source_arn(self, vals):
        iam = self.client("iam")
        out = []
        for v in vals:
            out.append(self.ensure_principal(v))
            m = re.match(r"arn:aws:iam::\d{12}:user/(?:.*/)?([\w+=,.@-]+)$", v)
            if not m:
                continue
            # The policies the examples describe the user as having.
            iam.put_user_policy(UserName=m.group(1), PolicyName="Grant-Access-To-CodeCommit-ListRepo",
                                PolicyDocument=allow_all_policy("codecommit:ListRepositories"))
            iam.put_user_policy(UserName=m.group(1), PolicyName="DynamoDB-After-Date",
                                PolicyDocument=self._DATED_POLICY.replace("2015-08-16", "2018-08-16"))
        return out

    def on_user_name(self, vals):
        iam = self.client("iam")
        cmd = self.ex.command
        for v in vals:
            if cmd == "create-user":
                continue
            self.ensure("user", v, lambda: self._ok(iam.create_user, UserName=v))
            if cmd in ("get-login-profile", "update-login-profile", "delete-login-profile"):
                self._ok(iam.create_login_profile, UserName=v, Password="Example-Passw0rd!")
            if cmd in ("remove-user-from-group",):
                self._ok(iam.create_group, GroupName=self.opt("--group-name"))
                self._ok(iam.add_user_to_group, UserName=v, GroupName=self.opt("--group-name"))
            if cmd in ("list-groups-for-user",):
                self._ok(iam.create_group, GroupName="Admins")
                self._ok(iam.add_user_to_group, UserName=v, GroupName="Admins")
            if cmd in ("untag-user", "list-user-tags"):
                iam.tag_user(UserName=v, Tags=[{"Key": "Dept", "Value": "Accounting"}])
            if cmd in ("list-user-policies", "get-user-policy", "delete-user-policy"):
                iam.put_user_policy(UserName=v, PolicyName=self.opt("--policy-name", "ExamplePolicy"),
                                    PolicyDocument=allow_all_policy("s3:*"))
            if cmd in ("list-attached-user-policies", "detach-user-policy"):
                iam.attach_user_policy(UserName=v, PolicyArn=self.policy_arn(
                    self.opt("--policy-arn", f"arn:aws:iam::{ACCOUNT}:policy/ExamplePolicy")))
            if cmd in ("list-access-keys",):
                iam.create_access_key(UserName=v)
        return vals

    def on_group_name(self, vals):
        iam = self.client("iam")
        cmd = self.ex.command
        for v in vals:
            if cmd == "create-group":
                continue
            self.ensure("group", v, lambda: self._ok(iam.create_group, GroupName=v))
            if cmd in ("get-group",):
                self._ok(iam.create_user, UserName="Bob")
                self._ok(iam.add_user_to_group, UserName="Bob", GroupName=v)
            if cmd in ("list-group-policies", "get-group-policy", "delete-group-policy"):
                iam.put_group_policy(GroupName=v, PolicyName=self.opt("--policy-name", "ExamplePolicy"),
                                     PolicyDocument=allow_all_policy("s3:*"))
            if cmd in ("list-attached-group-policies", "detach-group-policy"):
                iam.attach_group_policy(GroupName=v, PolicyArn=self.policy_arn(
                    self.opt("--policy-arn", f"arn:aws:iam::{ACCOUNT}:policy/ExamplePolicy")))
        return vals

    def on_role_name(self, vals):
        iam = self.client("iam")
        cmd = self.ex.command
        for v in vals:
            if cmd in ("create-role", "create-service-linked-role"):
                continue
            self.ensure("role", v, lambda: self._ok(iam.create_role, RoleName=v, AssumeRolePolicyDocument=trust_policy()))
            if cmd in ("list-role-policies", "get-role-policy", "delete-role-policy"):
                iam.put_role_policy(RoleName=v, PolicyName=self.opt("--policy-name", "ExamplePolicy"),
                                    PolicyDocument=allow_all_policy("s3:*"))
            if cmd in ("list-attached-role-policies", "detach-role-policy"):
                iam.attach_role_policy(RoleName=v, PolicyArn=self.policy_arn(
                    self.opt("--policy-arn", f"arn:aws:iam::{ACCOUNT}:policy/ExamplePolicy")))
            if cmd in ("untag-role", "list-role-tags"):
                iam.tag_role(RoleName=v, Tags=[{"Key": "Dept", "Value": "Accounting"}])
            if cmd == "get-role":
                # The example's role has been used: an administrator assumed it.
                arn = iam.get_role(RoleName=v)["Role"]["Arn"]
                self.user_client("sts", "example-admin").assume_role(RoleArn=arn, RoleSessionName="example")
            if cmd == "remove-role-from-instance-profile":
                self._ok(iam.create_instance_profile, InstanceProfileName=self.opt("--instance-profile-name"))
                self._ok(iam.add_role_to_instance_profile, InstanceProfileName=self.opt("--instance-profile-name"),
                         RoleName=v)
        return vals

    def policy_arn(self, arn):
        m = re.match(r"arn:aws:iam::(\d{12}):policy/(?:(.*)/)?([\w+=,.@-]+)$", arn)
        if not m:
            return arn
        if self.ex.command == "create-policy":
            return arn
        iam = self.client("iam")

        def make():
            path = f"/{m.group(2)}/" if m.group(2) else "/"
            p = self._ok(iam.create_policy, PolicyName=m.group(3), Path=path, PolicyDocument=allow_all_policy("s3:*"))
            if p and self.ex.command in ("list-policy-versions", "get-policy-version", "delete-policy-version",
                                         "set-default-policy-version"):
                iam.create_policy_version(PolicyArn=p["Policy"]["Arn"], PolicyDocument=allow_all_policy("ec2:*"))
                iam.create_policy_version(PolicyArn=p["Policy"]["Arn"], PolicyDocument=allow_all_policy("iam:*"))
            if p and self.ex.command in ("untag-policy", "list-policy-tags"):
                iam.tag_policy(PolicyArn=p["Policy"]["Arn"], Tags=[{"Key": "Dept", "Value": "Accounting"}])
            return arn
        return self.once(("policy", arn), make)

    def on_policy_arn(self, vals):
        return [self.policy_arn(v) for v in vals]

    def on_access_key_id(self, vals):
        iam = self.client("iam")
        user = self.opt("--user-name")
        if not user:
            user = "example-user"
            self._ok(iam.create_user, UserName=user)
        self.on_user_name([user]) if ("user", user) not in self.memo else None
        key = iam.create_access_key(UserName=user)["AccessKey"]
        if self.ex.command == "get-access-key-last-used":
            # The example's key has been used (by its user, allowed to).
            iam.put_user_policy(UserName=user, PolicyName="admin", PolicyDocument=allow_all_policy())
            self.server.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"],
                               region=self.region).get_user()
        if self.ex.command in ("update-access-key",) and self.opt("--status") == "Active":
            iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
        return [key["AccessKeyId"]]

    def on_instance_profile_name(self, vals):
        iam = self.client("iam")
        for v in vals:
            if self.ex.command != "create-instance-profile":
                self._ok(iam.create_instance_profile, InstanceProfileName=v)
        return vals

    def on_account_alias(self, vals):
        if self.ex.command == "delete-account-alias":
            for v in vals:
                self._ok(self.client("iam").create_account_alias, AccountAlias=v)
        return vals

    def on_version_id(self, vals):
        return vals

    def on_serial_number(self, vals):
        raise NotApplicable("MFA devices: a TOTP code from a real device")

    def file_policy_document(self):
        if self.ex.command == "update-assume-role-policy":
            return trust_policy()
        return allow_all_policy("s3:*")

    def on_outfile(self, vals):
        return ["QRCode.png"]

    def file_certificate_body(self):
        return self.once("cert", lambda: self_signed(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)))[0]

    def file_private_key(self):
        return self.once("cert", lambda: self_signed(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)))[1]

    def file_cli_input_json(self):
        if not self.ex.input_json:
            raise HarnessLimit("the example does not show its --cli-input-json file")
        doc = json.loads(self.ex.input_json)
        if self.ex.command != "create-user" and isinstance(doc.get("UserName"), str):
            self.on_user_name([doc["UserName"]])
        return self.ex.input_json

    def file_saml_metadata_document(self):
        cert = base64.b64encode(x509.load_pem_x509_certificate(self.file_certificate_body()).public_bytes(
            serialization.Encoding.DER)).decode()
        return (
            '<?xml version="1.0"?><EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" '
            'entityID="https://idp.example.com/saml"><IDPSSODescriptor protocolSupportEnumeration='
            '"urn:oasis:names:tc:SAML:2.0:protocol"><KeyDescriptor use="signing"><KeyInfo '
            'xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>' + cert +
            '</X509Certificate></X509Data></KeyInfo></KeyDescriptor><SingleSignOnService Binding='
            '"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>'
            '</IDPSSODescriptor></EntityDescriptor>')

    def file_certificate_chain(self):
        return self.file_certificate_body()

    def file_ssh_public_key_body(self):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)

    def file_assume_role_policy_document(self):
        return trust_policy()

    def file_policy_input_list(self):
        # The command takes a JSON list of policy strings; the example shows its file.
        if self.ex.input_json:
            try:
                if isinstance(json.loads(self.ex.input_json), list):
                    return self.ex.input_json
            except ValueError:
                pass
        return json.dumps([self._DATED_POLICY])

    def file_permissions_boundary(self):
        return allow_all_policy("s3:*")


# ================================================================================================
# ACM Private CA and ACM
# ================================================================================================

ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1"
_PCA_CA_ARN = re.compile(r"arn:aws:acm-pca:([a-z0-9-]+):[\w]+:certificate-authority/([0-9a-f-]+)")
_PCA_CERT_ARN = re.compile(r"arn:aws:acm-pca:([a-z0-9-]+):\w+:certificate-authority/[0-9a-f-]+/certificate/[0-9a-f]+")


def pca_root(fixture, region=None, activate=True, ca_type="ROOT"):
    """A CA (a ROOT one, active, unless asked otherwise) and its certificate PEM."""
    def make():
        pca = fixture.client("acm-pca", region)
        arn = pca.create_certificate_authority(
            CertificateAuthorityConfiguration={"KeyAlgorithm": "RSA_2048", "SigningAlgorithm": "SHA256WITHRSA",
                                               "Subject": {"Country": "US", "Organization": "Example Corp",
                                                           "CommonName": "www.example.com"}},
            CertificateAuthorityType=ca_type)["CertificateAuthorityArn"]
        pem = None
        if activate:
            csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
            cert_arn = pca.issue_certificate(CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm="SHA256WITHRSA",
                                             TemplateArn=ROOT_TEMPLATE, Validity={"Type": "YEARS", "Value": 10})["CertificateArn"]
            pca.get_waiter("certificate_issued").wait(CertificateAuthorityArn=arn, CertificateArn=cert_arn,
                                                      WaiterConfig={"Delay": 1, "MaxAttempts": 10})
            pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)["Certificate"]
            pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=pem)
        return arn, pem
    return fixture.once(("pca-root", region, activate, ca_type), make)


class AcmPcaFixture(Fixture):
    service = "acm-pca"

    def rewrite_token(self, tok):
        cmd = self.ex.command
        if _PCA_CERT_ARN.match(tok):
            return self.leaf()[1]
        m = _PCA_CA_ARN.match(tok)
        if m:
            if cmd == "import-certificate-authority-certificate":
                return self.pending_ca()
            ca = pca_root(self)[0]
            pca = self.client("acm-pca")
            if cmd == "update-certificate-authority" and self.opt("--status") == "ACTIVE":
                pca.update_certificate_authority(CertificateAuthorityArn=ca, Status="DISABLED")
            if cmd == "delete-certificate-authority":
                # AWS deletes a CA only once it is disabled (or still pending its certificate).
                pca.update_certificate_authority(CertificateAuthorityArn=ca, Status="DISABLED")
            if cmd == "untag-certificate-authority" or cmd == "list-tags":
                pca.tag_certificate_authority(CertificateAuthorityArn=ca, Tags=[{"Key": "Purpose", "Value": "Website"}])
            return ca
        return tok

    def pending_ca(self):
        return self.once("pending", lambda: pca_root(self, activate=False, ca_type="SUBORDINATE")[0])

    def leaf(self):
        def make():
            pca = self.client("acm-pca")
            ca = pca_root(self)[0]
            arn = pca.issue_certificate(CertificateAuthorityArn=ca, Csr=csr_pem(), SigningAlgorithm="SHA256WITHRSA",
                                        Validity={"Type": "DAYS", "Value": 365})["CertificateArn"]
            pca.get_waiter("certificate_issued").wait(CertificateAuthorityArn=ca, CertificateArn=arn,
                                                      WaiterConfig={"Delay": 1, "MaxAttempts": 10})
            return ca, arn
        return self.once("leaf", make)

    def on_certificate_serial(self, vals):
        pca = self.client("acm-pca")
        ca, arn = self.leaf()
        pem = pca.get_certificate(CertificateAuthorityArn=ca, CertificateArn=arn)["Certificate"]
        serial = x509.load_pem_x509_certificate(pem.encode()).serial_number
        h = format(serial, "x")
        h = ("0" * (len(h) % 2)) + h
        return [":".join(h[i:i + 2] for i in range(0, len(h), 2))]

    def on_s3_bucket_name(self, vals):
        return vals

    def on_audit_report_id(self, vals):
        pca = self.client("acm-pca")
        r = pca.create_certificate_authority_audit_report(CertificateAuthorityArn=pca_root(self)[0],
                                                          S3BucketName="your-bucket-name", AuditReportResponseFormat="JSON")
        return [r["AuditReportId"]]

    def file_csr(self):
        return csr_pem()

    def file_certificate(self):
        pca = self.client("acm-pca")
        ca = self.pending_ca()
        root_arn, _ = pca_root(self)
        csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=ca)["Csr"]
        arn = pca.issue_certificate(CertificateAuthorityArn=root_arn, Csr=csr, SigningAlgorithm="SHA256WITHRSA",
                                    TemplateArn="arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1",
                                    Validity={"Type": "YEARS", "Value": 5})["CertificateArn"]
        pca.get_waiter("certificate_issued").wait(CertificateAuthorityArn=root_arn, CertificateArn=arn,
                                                  WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        got = pca.get_certificate(CertificateAuthorityArn=root_arn, CertificateArn=arn)
        self.memo["chain"] = got["CertificateChain"]
        return got["Certificate"]

    def file_certificate_chain(self):
        return self.memo["chain"]

    def file_certificate_authority_configuration(self):
        return json.dumps({"KeyAlgorithm": "RSA_2048", "SigningAlgorithm": "SHA256WITHRSA",
                           "Subject": {"Country": "US", "Organization": "Example Corp", "CommonName": "www.example.com"}})

    def file_revocation_configuration(self):
        return json.dumps({"CrlConfiguration": {"Enabled": False}})


_ACM_CERT_ARN = re.compile(r"arn:aws:acm:[\w-]+:\w+:certificate/[0-9a-f-]+")


class AcmFixture(Fixture):
    service = "acm"

    def certificate(self):
        def make():
            acm = self.client("acm")
            cmd = self.ex.command
            if cmd in ("export-certificate", "describe-certificate"):
                # A private certificate: exportable, and with the issued-certificate members.
                ca = pca_root(self)[0]
                arn = acm.request_certificate(DomainName="www.example.com", CertificateAuthorityArn=ca)["CertificateArn"]
                for _ in range(50):
                    if acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED":
                        break
                    time.sleep(0.1)
                return arn
            if cmd in ("resend-validation-email",):
                raise NotApplicable("email validation: ACME (Rampart's public CA path) has no email challenge")
                return acm.request_certificate(DomainName="www.example.com", ValidationMethod="EMAIL",
                                               DomainValidationOptions=[{"DomainName": "www.example.com",
                                                                         "ValidationDomain": "example.com"}])["CertificateArn"]
            cert, key = self_signed("www.example.com", key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
            arn = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
            if cmd in ("remove-tags-from-certificate", "list-tags-for-certificate"):
                acm.add_tags_to_certificate(CertificateArn=arn, Tags=[{"Key": "Admin", "Value": "Alice"},
                                                                      {"Key": "Purpose", "Value": "Website"}])
            return arn
        return self.once("cert", make)

    def rewrite_token(self, tok):
        if _ACM_CERT_ARN.match(tok):
            return self.certificate()
        return tok

    def on_next_token(self, vals):
        acm = self.client("acm")
        for i in range(3):
            # RSA: ListCertificates lists only RSA_2048 certificates unless asked otherwise.
            cert, key = self_signed(f"www{i}.example.com", key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
            acm.import_certificate(Certificate=cert, PrivateKey=key)
        return [acm.list_certificates(MaxItems=2)["NextToken"]]

    def file_passphrase(self):
        return "passphrase-for-export"

    def _imported(self):
        def make():
            ca_key = ec.generate_private_key(ec.SECP256R1())
            ca_pem, _ = self_signed("Example CA", ca=True, key=ca_key)
            leaf_key = ec.generate_private_key(ec.SECP256R1())
            now = datetime.datetime.now(datetime.timezone.utc)
            leaf = (x509.CertificateBuilder()
                    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com")]))
                    .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example CA")]))
                    .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=90))
                    .add_extension(x509.SubjectAlternativeName([x509.DNSName("www.example.com")]), critical=False)
                    .sign(ca_key, hashes.SHA256()))
            key_pem = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
            return leaf.public_bytes(serialization.Encoding.PEM), key_pem, ca_pem
        return self.once("import", make)

    def file_certificate(self):
        return self._imported()[0]

    def file_private_key(self):
        return self._imported()[1]

    def file_certificate_chain(self):
        return self._imported()[2]


class CloudTrailFixture(Fixture):
    service = "cloudtrail"


# ================================================================================================
# ELBv2 (application load balancers)
# ================================================================================================

_ELB = r"arn:aws:elasticloadbalancing:([a-z0-9-]+):\d{12}:"
_ELB_RULE = re.compile(_ELB + r"listener-rule/(app|net|gwy)/([\w-]+)/\w+/\w+/\w+")
_ELB_LISTENER = re.compile(_ELB + r"listener/(app|net|gwy)/([\w-]+)/\w+/\w+")
_ELB_LB = re.compile(_ELB + r"loadbalancer/(app|net|gwy)/([\w-]+)/\w+")
_ELB_TG = re.compile(_ELB + r"targetgroup/([\w-]+)/\w+")
_ACM_ANY = re.compile(r"arn:aws:acm:([a-z0-9-]+):\d{12}:certificate/[\w-]+")


def _no_other_lb_types(kind):
    if kind != "app":
        raise NotApplicable("network and gateway load balancers: Rampart's ELBv2 is application load balancers")


def elb_certificate(fixture, name="cert"):
    def make():
        cert, key = self_signed("www.example.com")
        return fixture.client("acm").import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    return fixture.once(("acm-cert", name), make)


def elb_load_balancer(fixture, name):
    return fixture.once(("lb", name), lambda: fixture.client("elbv2").create_load_balancer(
        Name=name, Subnets=["subnet-b7d581c0", "subnet-8360a9e7"])["LoadBalancers"][0]["LoadBalancerArn"])


class Elbv2Fixture(Fixture):
    service = "elbv2"

    @property
    def elb(self):
        return self.client("elbv2")

    def lb(self, name):
        return elb_load_balancer(self, name)

    def tg(self, name):
        return self.once(("tg", name), lambda: self.elb.create_target_group(
            Name=name, Protocol="HTTP", Port=80, VpcId="vpc-3ac0fb5f")["TargetGroups"][0]["TargetGroupArn"])

    def listener(self, lb_name):
        def make():
            cmd = self.ex.command
            tls = "listener-certificates" in cmd or (cmd == "modify-listener" and "--certificates" in self.opts)
            kw = {"Protocol": "HTTPS", "Port": 443, "Certificates": [{"CertificateArn": elb_certificate(self, "default")}]} \
                if tls else {"Protocol": "HTTP", "Port": 80}
            arn = self.elb.create_listener(LoadBalancerArn=self.lb(lb_name), DefaultActions=[
                {"Type": "forward", "TargetGroupArn": self.tg("default-targets")}], **kw)["Listeners"][0]["ListenerArn"]
            if cmd == "remove-listener-certificates":
                self.elb.add_listener_certificates(ListenerArn=arn, Certificates=[{"CertificateArn": elb_certificate(self)}])
            return arn
        return self.once(("listener", lb_name), make)

    def rule(self, lb_name, ident):
        def make():
            n = len([k for k in self.memo if k[0] == "rule"]) + 1
            return self.elb.create_rule(ListenerArn=self.listener(lb_name), Priority=100 + n, Conditions=[
                {"Field": "path-pattern", "Values": [f"/example{n}/*"]}], Actions=[
                {"Type": "forward", "TargetGroupArn": self.tg("default-targets")}])["Rules"][0]["RuleArn"]
        return self.once(("rule", ident), make)

    def rewrite_token(self, tok):
        def rule(m):
            _no_other_lb_types(m.group(2))
            return self.rule(m.group(3), m.group(0))

        def listener(m):
            _no_other_lb_types(m.group(2))
            return self.listener(m.group(3))

        def lb(m):
            _no_other_lb_types(m.group(2))
            if self.ex.command == "delete-load-balancer":
                self.listener(m.group(3))
            return self.lb(m.group(3))

        def tg(m):
            arn = self.tg(m.group(2))
            cmd = self.ex.command
            if cmd in ("deregister-targets", "describe-target-health") and ("targets", arn) not in self.memo:
                self.memo[("targets", arn)] = True
                targets = []
                for v in self.opts.get("--targets") or ["Id=i-1234567890abcdef0"]:
                    t = dict(kv.split("=", 1) for kv in v.split(","))
                    targets.append({"Id": t["Id"], **({"Port": int(t["Port"])} if "Port" in t else {})})
                self.elb.register_targets(TargetGroupArn=arn, Targets=targets)
            if cmd == "describe-target-groups" or cmd == "describe-target-health":
                self.listener("my-load-balancer")
            return arn

        tok = _ELB_RULE.sub(rule, tok)
        tok = _ELB_LISTENER.sub(listener, tok)
        tok = _ELB_LB.sub(lb, tok)
        tok = _ELB_TG.sub(tg, tok)
        tok = _ACM_ANY.sub(lambda m: elb_certificate(self), tok)
        if "arn:aws:iam::" in tok and ":server-certificate/" in tok:
            raise NotApplicable("IAM server certificates: Rampart's listeners take ACM certificates")
        return tok

    def on_load_balancer_arn(self, vals):
        if self.ex.command in ("describe-listeners",):
            for v in vals:
                m = re.search(r"loadbalancer/app/([\w-]+)/", v)
                self.listener(m.group(1) if m else "my-load-balancer")
        return vals

    def on_listener_arn(self, vals):
        if self.ex.command == "describe-rules":
            self.rule("my-load-balancer", "extra")
        return vals

    def on_resource_arns(self, vals):
        if self.ex.command in ("remove-tags", "describe-tags"):
            for v in vals:
                self.elb.add_tags(ResourceArns=[v], Tags=[{"Key": "project", "Value": "lima"},
                                                          {"Key": "department", "Value": "digital-media"}])
        return vals

    def on_subnet_mappings(self, vals):
        return vals

    def file_conditions(self):
        return json.dumps([{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/images/*"]}}])

    def file_actions(self):
        return json.dumps([{"Type": "fixed-response", "FixedResponseConfig": {
            "MessageBody": "Hello world", "StatusCode": "200", "ContentType": "text/plain"}}])


# ================================================================================================
# WAFv2
# ================================================================================================

_WAF_ARN = re.compile(r"arn:aws:wafv2:([a-z0-9-]+):\d{12}:(regional|global)/(webacl|ipset|rulegroup|regexpatternset)/([\w-]+)/[\w-]+")
_VIS = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "example"}
_KIND = {"ip-set": "ipset", "regex-pattern-set": "regexpatternset", "rule-group": "rulegroup", "web-acl": "webacl"}


def waf_rule(name="basic-rule", priority=0):
    return {"Name": name, "Priority": priority, "Action": {"Allow": {}}, "VisibilityConfig": _VIS,
            "Statement": {"ByteMatchStatement": {"SearchString": "example.com", "FieldToMatch": {"SingleHeader": {"Name": "host"}},
                                                 "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
                                                 "PositionalConstraint": "EXACTLY"}}}


class Wafv2Fixture(Fixture):
    service = "wafv2"

    @property
    def waf(self):
        return self.client("wafv2")

    def resource(self, kind, name):
        """Summary (Name, Id, ARN, LockToken) of a new resource of `kind`."""
        def make():
            waf = self.waf
            if kind == "webacl":
                vis = dict(_VIS, MetricName=self.opt("--rule-metric-name", "example"))
                rules = [{"Name": "ratebasedtest", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": vis,
                          "Statement": {"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "IP"}}}]
                r = waf.create_web_acl(Name=name, Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=_VIS,
                                       Rules=rules)
            elif kind == "ipset":
                r = waf.create_ip_set(Name=name, Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=["192.0.2.0/24"])
            elif kind == "regexpatternset":
                r = waf.create_regex_pattern_set(Name=name, Scope="REGIONAL", RegularExpressionList=[{"RegexString": "^a"}])
            else:
                r = waf.create_rule_group(Name=name, Scope="REGIONAL", Capacity=250, VisibilityConfig=_VIS, Rules=[waf_rule()])
            return r["Summary"]
        return self.once((kind, name), make)

    def rewrite_token(self, tok):
        def arn(m):
            s = self.resource(m.group(3), m.group(4))
            if self.ex.command in ("delete-logging-configuration", "get-logging-configuration"):
                self.waf.put_logging_configuration(LoggingConfiguration={
                    "ResourceArn": s["ARN"], "LogDestinationConfigs": [
                        f"arn:aws:firehose:{self.region}:{ACCOUNT}:deliverystream/aws-waf-logs-example"]})
            if self.ex.command == "untag-resource":
                self.waf.tag_resource(ResourceARN=s["ARN"], Tags=[{"Key": "KeyName", "Value": "v"}])
            return s["ARN"]

        tok = _WAF_ARN.sub(arn, tok)

        def lb(m):
            _no_other_lb_types(m.group(2))
            lb_arn = elb_load_balancer(self, m.group(3))
            if self.ex.command in ("disassociate-web-acl", "get-web-acl-for-resource"):
                self.once("assoc", lambda: self.waf.associate_web_acl(
                    WebACLArn=self.resource("webacl", "test-cli")["ARN"], ResourceArn=lb_arn))
            return lb_arn
        return _ELB_LB.sub(lb, tok)

    def _command_kind(self):
        for suffix, kind in _KIND.items():
            if self.ex.command.endswith(suffix):
                return kind
        return None

    def _summary(self):
        kind = self._command_kind()
        if kind is None or self.ex.command.startswith("create-"):
            return None
        return self.resource(kind, self.opt("--name"))

    def on_id(self, vals):
        s = self._summary()
        return [s["Id"]] if s else vals

    def on_lock_token(self, vals):
        s = self._summary()
        if s is None:
            return vals
        kind = self._command_kind()
        getter = {"ipset": self.waf.get_ip_set, "regexpatternset": self.waf.get_regex_pattern_set,
                  "rulegroup": self.waf.get_rule_group, "webacl": self.waf.get_web_acl}[kind]
        return [getter(Name=s["Name"], Scope="REGIONAL", Id=s["Id"])["LockToken"]]

    def on_web_acl_id(self, vals):
        return [self.resource("webacl", self.opt("--web-acl-name"))["Id"]]

    def on_time_window(self, vals):
        now = datetime.datetime.now(datetime.timezone.utc)
        start = (now - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return [f"StartTime={start},EndTime={now.strftime('%Y-%m-%dT%H:%M:%SZ')}"]

    def file_rules(self):
        return json.dumps([waf_rule()])


FIXTURES = {
    "kms": KmsFixture,
    "secretsmanager": SecretsManagerFixture,
    "ssm": SsmFixture,
    "sts": StsFixture,
    "iam": IamFixture,
    "acm": AcmFixture,
    "acm-pca": AcmPcaFixture,
    "cloudtrail": CloudTrailFixture,
    "elbv2": Elbv2Fixture,
    "wafv2": Wafv2Fixture,
}


def fixture_for(service):
    return FIXTURES.get(service, Fixture)
