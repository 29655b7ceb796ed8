"""Many stateless `rampart serve` nodes on one PostgreSQL database."""

import base64
import os

from conftest import unique


def test_two_nodes_on_one_database_share_identities_and_audit(postgres_cluster, server_factory):
    url = postgres_cluster.new_database()
    # Nodes share the root key (here through the environment) so each can open what another sealed.
    key = {"RAMPART_TEST_ROOT_KEY": base64.b64encode(os.urandom(32)).decode()}
    args = ["--root-key", "env:RAMPART_TEST_ROOT_KEY"]
    a = server_factory("node-a", store=url, extra_args=args, extra_env=key)
    b = server_factory("node-b", store=url, extra_args=args, extra_env=key)
    # Only the first node bootstraps the admin account; the second finds it in the database.
    assert a.credentials_path.exists()
    admin = dict(zip(("AccessKeyId", "SecretAccessKey"), a.profile()))
    iam_a = a.client("iam")
    user = unique("shared")
    iam_a.create_user(UserName=user)
    iam_a.put_user_policy(UserName=user, PolicyName="list", PolicyDocument=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}'))
    created = iam_a.create_access_key(UserName=user)["AccessKey"]
    # Node B authenticates the key node A issued, with the policy node A stored.
    iam_b = b.client("iam", creds=created)
    assert user in [u["UserName"] for u in iam_b.list_users()["Users"]]
    assert b.client("sts", creds=admin).get_caller_identity()["Account"] == "000000000000"
    # Node B sees the audit events node A wrote.
    ct = b.client("cloudtrail", creds=admin)
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}])["Events"]
    assert any(user in e["CloudTrailEvent"] for e in events)
