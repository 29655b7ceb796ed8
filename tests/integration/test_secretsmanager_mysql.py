"""Secrets Manager rotation with the built-in MySQL/MariaDB rotators (`mysql-single-user`,
`mysql-alternating-users`) against a real MariaDB server, checked with the `mariadb` client."""
import json
import uuid

import pytest

from conftest import unique

ACCOUNT_LAMBDA = "arn:aws:lambda:us-east-1:000000000000:function:"
MY_SINGLE = ACCOUNT_LAMBDA + "mysql-single"
MY_ALT = ACCOUNT_LAMBDA + "mysql-alternating"


@pytest.fixture(scope="module")
def sm(server_factory):
    rotators = f"{MY_SINGLE}=mysql-single-user,{MY_ALT}=mysql-alternating-users"
    s = server_factory("rotation-mysql", dev=True, extra_env={"RAMPART_ROTATORS": rotators})
    return s.client("secretsmanager")


def stages_of(sm, name):
    return sm.describe_secret(SecretId=name)["VersionIdsToStages"]


def create_user(db, user, password, grants=()):
    r = db.sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
    assert r.returncode == 0, r.stderr
    for g in grants:
        r = db.sql(f"GRANT {g} TO '{user}'@'%'")
        assert r.returncode == 0, r.stderr


def secret_for(db, user, password, engine="mysql", **extra):
    return json.dumps({"engine": engine, "host": "127.0.0.1", "port": db.port, "username": user,
                       "password": password, **extra})


def current_of(sm, name):
    return json.loads(sm.get_secret_value(SecretId=name)["SecretString"])


def test_builtin_mysql_single_user_rotation_changes_the_real_password(sm, mariadb_server):
    db = mariadb_server
    user = "rot_" + uuid.uuid4().hex[:8]
    create_user(db, user, "initial-pw")
    assert db.logs_in(user, "initial-pw")
    assert not db.logs_in(user, "wrong")
    name = unique("mysql")
    v1 = sm.create_secret(Name=name, SecretString=secret_for(db, user, "initial-pw"))["VersionId"]
    new = sm.rotate_secret(SecretId=name, RotationLambdaARN=MY_SINGLE, RotateImmediately=True)["VersionId"]
    assert stages_of(sm, name) == {new: ["AWSCURRENT"], v1: ["AWSPREVIOUS"]}
    current = current_of(sm, name)
    assert current["username"] == user and current["password"] != "initial-pw"
    assert not db.logs_in(user, "initial-pw")
    assert db.logs_in(user, current["password"])
    previous = json.loads(sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"])
    assert previous["password"] == "initial-pw"
    # A second rotation starts from the rotated password.
    sm.rotate_secret(SecretId=name)
    latest = current_of(sm, name)
    assert latest["password"] != current["password"]
    assert not db.logs_in(user, current["password"])
    assert db.logs_in(user, latest["password"])


def test_builtin_mysql_rotation_with_wrong_credentials_fails_and_keeps_awscurrent(sm, mariadb_server):
    db = mariadb_server
    user = "rotbad_" + uuid.uuid4().hex[:8]
    create_user(db, user, "right-pw")
    name = unique("mysqlbad")
    v1 = sm.create_secret(Name=name, SecretString=secret_for(db, user, "not-the-password"))["VersionId"]
    pending = sm.rotate_secret(SecretId=name, RotationLambdaARN=MY_SINGLE)["VersionId"]
    assert stages_of(sm, name) == {v1: ["AWSCURRENT"], pending: ["AWSPENDING"]}
    assert current_of(sm, name)["password"] == "not-the-password"
    assert db.logs_in(user, "right-pw")
    pending_pw = json.loads(sm.get_secret_value(SecretId=name, VersionStage="AWSPENDING")["SecretString"])["password"]
    assert not db.logs_in(user, pending_pw)


def test_builtin_mysql_rotator_refuses_a_secret_of_another_engine(sm, mariadb_server):
    db = mariadb_server
    user = "rotpg_" + uuid.uuid4().hex[:8]
    create_user(db, user, "pg-pw")
    name = unique("mysqlpg")
    v1 = sm.create_secret(Name=name, SecretString=secret_for(db, user, "pg-pw", engine="postgres"))["VersionId"]
    sm.rotate_secret(SecretId=name, RotationLambdaARN=MY_SINGLE)
    assert [v for v, s in stages_of(sm, name).items() if "AWSCURRENT" in s] == [v1]
    assert db.logs_in(user, "pg-pw")


def test_builtin_mysql_alternating_users_rotation_clones_the_user_with_its_grants(sm, mariadb_server):
    db = mariadb_server
    suffix = uuid.uuid4().hex[:8]
    user, admin, schema = "alt_" + suffix, "admin_" + suffix, "app_" + suffix
    r = db.sql(f"CREATE DATABASE `{schema}`; CREATE TABLE `{schema}`.t (x INT); "
               f"INSERT INTO `{schema}`.t VALUES (7)")
    assert r.returncode == 0, r.stderr
    create_user(db, admin, "admin-pw")
    assert db.sql(f"GRANT ALL PRIVILEGES ON *.* TO '{admin}'@'%' WITH GRANT OPTION").returncode == 0
    create_user(db, user, "alt-pw", grants=[f"SELECT ON `{schema}`.*"])
    master = sm.create_secret(Name=unique("mysqlmaster"),
                              SecretString=secret_for(db, admin, "admin-pw", engine="mariadb"))["ARN"]
    name = unique("mysqlalt")
    sm.create_secret(Name=name, SecretString=secret_for(db, user, "alt-pw", engine="mariadb", masterarn=master,
                                                        dbname=schema))
    sm.rotate_secret(SecretId=name, RotationLambdaARN=MY_ALT)
    current = current_of(sm, name)
    clone = user + "_clone"
    assert current["username"] == clone
    assert db.logs_in(clone, current["password"])
    assert db.logs_in(user, "alt-pw")
    # The clone holds the grants of the original user: it reads the schema and nothing more.
    r = db.sql(f"SELECT x FROM `{schema}`.t", user=clone, password=current["password"])
    assert r.returncode == 0 and r.stdout.strip() == "7", r.stderr
    r = db.sql(f"INSERT INTO `{schema}`.t VALUES (8)", user=clone, password=current["password"])
    assert r.returncode != 0
    # The next rotation alternates back to the original user with a new password.
    sm.rotate_secret(SecretId=name)
    back = current_of(sm, name)
    assert back["username"] == user and back["password"] != "alt-pw"
    assert db.logs_in(user, back["password"])
    assert not db.logs_in(user, "alt-pw")
    assert db.logs_in(clone, current["password"])
    # And once more to the clone, whose password is now updated rather than the user recreated.
    sm.rotate_secret(SecretId=name)
    again = current_of(sm, name)
    assert again["username"] == clone and again["password"] != current["password"]
    assert db.logs_in(clone, again["password"])
    assert not db.logs_in(clone, current["password"])
