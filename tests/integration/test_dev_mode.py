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
