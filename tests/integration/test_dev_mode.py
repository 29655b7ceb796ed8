"""--dev mode: any well-formed credentials, account selection, reset routes (and their absence
outside dev mode)."""

import pytest
from botocore.exceptions import ClientError

from conftest import ADMIN_ACCOUNT, error_code, unique

FOO = dict(access_key="FOOBARKEY", secret_key="FOOBARSECRET")


def test_dev_listening_line_and_health_say_dev(dev_server):
    assert "dev: true" in dev_server.listening_line
    assert dev_server.health().json()["dev"] is True


def test_dev_mode_says_so_loudly_at_start(dev_server):
    assert "dev" in dev_server.stderr_text().lower()


def test_dev_mode_accepts_any_well_formed_credentials(dev_server):
    ident = dev_server.client("sts", **FOO).get_caller_identity()
    assert ident["Account"] == ADMIN_ACCOUNT


def test_dev_mode_any_credentials_can_use_iam(dev_server):
    name = unique("devuser")
    iam = dev_server.client("iam", **FOO)
    iam.create_user(UserName=name)
    assert iam.get_user(UserName=name)["User"]["Arn"] == f"arn:aws:iam::{ADMIN_ACCOUNT}:user/{name}"


def test_dev_mode_twelve_digit_key_id_selects_account(dev_server):
    ident = dev_server.client("sts", access_key="111122223333", secret_key="whatever").get_caller_identity()
    assert ident["Account"] == "111122223333"


def test_dev_mode_accounts_are_isolated(dev_server):
    name = unique("isolated")
    dev_server.client("iam", access_key="222233334444", secret_key="x").create_user(UserName=name)
    other = dev_server.client("iam", access_key="333344445555", secret_key="x")
    with pytest.raises(ClientError) as e:
        other.get_user(UserName=name)
    assert error_code(e.value) == "NoSuchEntity"


def test_dev_mode_known_keys_are_verified_for_real(dev_server):
    key_id, secret = dev_server.profile()
    wrong = ("x" if secret[0] != "x" else "y") + secret[1:]
    with pytest.raises(ClientError) as e:
        dev_server.client("sts", access_key=key_id, secret_key=wrong).get_caller_identity()
    assert error_code(e.value) == "SignatureDoesNotMatch"


def test_dev_mode_known_iam_user_key_is_not_root(dev_server):
    iam = dev_server.client("iam")
    name = unique("devkeyuser")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user_iam = dev_server.client("iam", creds=key)
    with pytest.raises(ClientError) as e:
        user_iam.list_users()
    assert error_code(e.value) == "AccessDenied"


def test_dev_account_option_changes_default_account(server_factory):
    s = server_factory("devacct", dev=True, dev_account="123456789012")
    ident = s.client("sts", **FOO).get_caller_identity()
    assert ident["Account"] == "123456789012"
    # 12-digit key ids still select their own account.
    assert s.client("sts", access_key="444455556666", secret_key="x").get_caller_identity()["Account"] == "444455556666"


@pytest.mark.parametrize("path", ["/moto-api/reset", "/_rampart/reset"])
def test_dev_reset_route_wipes_iam_users(dev_server, path):
    iam = dev_server.client("iam", **FOO)
    name = unique("wiped")
    iam.create_user(UserName=name)
    r = dev_server.reset(path)
    assert r.status_code == 200, r.text
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=name)
    assert error_code(e.value) == "NoSuchEntity"
    assert iam.list_users()["Users"] == []


def test_dev_reset_keeps_admin_credentials_file_working(dev_server):
    assert dev_server.reset("/_rampart/reset").status_code == 200
    key_id, secret = dev_server.profile()
    # A wrong secret for the admin key is still refused: the key is still known after the reset.
    wrong = ("x" if secret[0] != "x" else "y") + secret[1:]
    ident = dev_server.client("sts").get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ADMIN_ACCOUNT}:root"
    with pytest.raises(ClientError) as e:
        dev_server.client("sts", access_key=key_id, secret_key=wrong).get_caller_identity()
    assert error_code(e.value) == "SignatureDoesNotMatch"
    r = dev_server.cli("sts", "get-caller-identity")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("path", ["/moto-api/reset", "/_rampart/reset", "/_rampart/clock/advance/100000"])
def test_dev_routes_do_not_exist_outside_dev_mode(server, path):
    iam = server.client("iam")
    name = unique("survivor")
    iam.create_user(UserName=name)
    r = server.http("POST", path)
    assert r.status_code != 200, r.text
    assert 400 <= r.status_code < 500
    assert iam.get_user(UserName=name)["User"]["UserName"] == name
    # Admin credentials and the clock are untouched.
    assert server.client("sts").get_caller_identity()["Account"] == ADMIN_ACCOUNT


def test_any_credentials_refused_outside_dev_mode(server):
    with pytest.raises(ClientError) as e:
        server.client("sts", **FOO).get_caller_identity()
    assert error_code(e.value) == "InvalidClientTokenId"


# -- emulator-style suites: dummy keys and AssumeRole into any role (issue 12) -----------------

import json  # noqa: E402

from conftest import allow, make_user, policy_doc  # noqa: E402

TEST_KEYS = dict(access_key="test", secret_key="test")
SERVICE_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def test_dev_mode_dummy_keys_act_as_the_account_root(dev_server):
    for keys in (TEST_KEYS, dict(access_key="AKIAIOSFODNN7EXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")):
        ident = dev_server.client("sts", **keys).get_caller_identity()
        assert ident["Arn"] == f"arn:aws:iam::{ADMIN_ACCOUNT}:root"
        sm = dev_server.client("secretsmanager", **keys)
        name = unique("dummy")
        assert sm.create_secret(Name=name, SecretString="v")["Name"] == name


def test_dev_mode_dummy_keys_assume_any_role_arn_without_creating_it(dev_server):
    role = unique("ghost")
    arn = f"arn:aws:iam::{ADMIN_ACCOUNT}:role/app/{role}"
    sts = dev_server.client("sts", **TEST_KEYS)
    out = sts.assume_role(RoleArn=arn, RoleSessionName="suite")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ADMIN_ACCOUNT}:assumed-role/{role}/suite"
    assert out["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    creds = out["Credentials"]
    ident = dev_server.client("sts", creds=creds).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ADMIN_ACCOUNT}:assumed-role/{role}/suite"
    # The credentials are usable: the session acts with the account's full permissions, as the
    # dev principal that asked for it does.
    sm = dev_server.client("secretsmanager", creds=creds)
    name = unique("fromghost")
    sm.create_secret(Name=name, SecretString="v")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"
    # Nothing was created.
    with pytest.raises(ClientError) as e:
        dev_server.client("iam").get_role(RoleName=role)
    assert error_code(e.value) == "NoSuchEntity"
    # Another account's role: the session belongs to that account.
    other = sts.assume_role(RoleArn=f"arn:aws:iam::111111111111:role/{role}", RoleSessionName="x1")
    ident = dev_server.client("sts", creds=other["Credentials"]).get_caller_identity()
    assert ident["Account"] == "111111111111"


def test_dev_mode_dummy_keys_assume_existing_roles_whatever_their_trust_policy(dev_server):
    role = unique("svcrole")
    iam = dev_server.client("iam")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=SERVICE_TRUST)
    iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=policy_doc(allow("sts:GetCallerIdentity")))
    creds = dev_server.client("sts", **TEST_KEYS).assume_role(
        RoleArn=f"arn:aws:iam::{ADMIN_ACCOUNT}:role/{role}", RoleSessionName="s1")["Credentials"]
    # An existing role's session has that role's permissions, not more.
    with pytest.raises(ClientError) as e:
        dev_server.client("secretsmanager", creds=creds).list_secrets()
    assert error_code(e.value) == "AccessDeniedException"


def test_dev_mode_known_keys_keep_aws_rules_for_assume_role(dev_server):
    iam = dev_server.client("iam")
    _, key = make_user(iam, inline=policy_doc(allow("sts:AssumeRole")))
    sts = dev_server.client("sts", creds=key)
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=f"arn:aws:iam::{ADMIN_ACCOUNT}:role/{unique('ghost')}", RoleSessionName="s1")
    assert error_code(e.value) == "AccessDenied"
    role = unique("svcrole")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=SERVICE_TRUST)
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=f"arn:aws:iam::{ADMIN_ACCOUNT}:role/{role}", RoleSessionName="s1")
    assert error_code(e.value) == "AccessDenied"
    # The admin's real root key is still root: AWS does not let root assume roles.
    with pytest.raises(ClientError) as e:
        dev_server.client("sts").assume_role(RoleArn=f"arn:aws:iam::{ADMIN_ACCOUNT}:role/{role}", RoleSessionName="s1")
    assert error_code(e.value) == "AccessDenied"


def test_strict_mode_refuses_dummy_keys_and_ghost_roles(server):
    for keys in (TEST_KEYS, dict(access_key="AKIAIOSFODNN7EXAMPLE", secret_key="x")):
        with pytest.raises(ClientError) as e:
            server.client("sts", **keys).get_caller_identity()
        assert error_code(e.value) == "InvalidClientTokenId"
        with pytest.raises(ClientError) as e:
            server.client("secretsmanager", **keys).list_secrets()
        assert error_code(e.value) == "UnrecognizedClientException"
    iam = server.client("iam")
    _, key = make_user(iam, inline=policy_doc(allow("sts:AssumeRole")))
    with pytest.raises(ClientError) as e:
        server.client("sts", creds=key).assume_role(
            RoleArn=f"arn:aws:iam::{ADMIN_ACCOUNT}:role/{unique('ghost')}", RoleSessionName="s1")
    assert error_code(e.value) == "AccessDenied"
