"""Black-box integration fixtures for Rampart.

Every test talks to a real `rampart serve` process on an ephemeral port, through the official
AWS clients (boto3 and the aws CLI) or raw SigV4-signed HTTP.

Environment:
  RAMPART_BIN               path to the `rampart` binary (default: $CARGO_TARGET_DIR/debug/rampart,
                            /var/tmp/rampart-target/debug/rampart, <repo>/target/debug/rampart)
  RAMPART_REQUIRE_POSTGRES  "1": fail (instead of skip) the PostgreSQL-backed tests when PostgreSQL
                            is not installed
  RAMPART_VALIDATE_RESPONSES "1" (or a file path): every server the suite starts checks each of its
                            answers against the model (test-only `serve --validate-responses`) and
                            appends departures to one file; the run fails at the end if any was
                            recorded, listing them. scripts/test (and so CI) sets it; "0" or unset:
                            off
"""

import configparser
import datetime
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from unittest import mock

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO / "models"
REGION = "us-east-1"
ADMIN_ACCOUNT = "000000000000"
START_TIMEOUT = 20.0

# Keep the developer's own AWS configuration out of every client and CLI run.
for _var in (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
):
    os.environ.pop(_var, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

# Response validation: one file for every server of the run, passed down through the environment
# so that servers started by the tests themselves inherit it too.
VIOLATIONS_FILE = None
if os.environ.get("RAMPART_VALIDATE_RESPONSES", "0") != "0":
    VIOLATIONS_FILE = os.environ["RAMPART_VALIDATE_RESPONSES"]
    if VIOLATIONS_FILE == "1":
        VIOLATIONS_FILE = os.path.join(tempfile.mkdtemp(prefix="rampart-violations-"), "violations.jsonl")
    os.environ["RAMPART_VALIDATE_RESPONSES"] = VIOLATIONS_FILE
    if os.path.exists(VIOLATIONS_FILE):
        os.unlink(VIOLATIONS_FILE)

BOTO_CONFIG = Config(
    region_name=REGION,
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --------------------------------------------------------------------------------------------
# Binary
# --------------------------------------------------------------------------------------------


def find_rampart_bin():
    if os.environ.get("RAMPART_BIN"):
        return os.environ["RAMPART_BIN"]
    candidates = []
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "rampart")
    candidates.append(Path("/var/tmp/rampart-target/debug/rampart"))
    candidates.append(REPO / "target" / "debug" / "rampart")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    return None


@pytest.fixture(scope="session")
def rampart_bin():
    path = find_rampart_bin()
    if not path:
        pytest.fail(
            "rampart binary not found; build it with "
            "`CARGO_TARGET_DIR=/var/tmp/rampart-target cargo build -p rampart-server` "
            "or set RAMPART_BIN"
        )
    return path


# --------------------------------------------------------------------------------------------
# Throwaway PostgreSQL cluster
# --------------------------------------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _find_pg_bin(name):
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


class PostgresCluster:
    def __init__(self):
        self.initdb = _find_pg_bin("initdb")
        self.pg_ctl = _find_pg_bin("pg_ctl")
        self.psql = _find_pg_bin("psql")
        if not (self.initdb and self.pg_ctl and self.psql):
            raise FileNotFoundError("initdb/pg_ctl/psql not found on PATH or in /usr/lib/postgresql/*/bin")
        self.tmp = tempfile.mkdtemp(prefix="rampart-pg-")
        os.chmod(self.tmp, 0o755)
        self.datadir = os.path.join(self.tmp, "data")
        self.port = _free_port()
        self.prefix = []
        if os.geteuid() == 0:
            # initdb refuses to run as root.
            shutil.chown(self.tmp, user="postgres", group=None)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._dbs = 0
        self.started = False

    def _run(self, args, **kw):
        return subprocess.run(self.prefix + args, check=True, capture_output=True, text=True, **kw)

    def start(self):
        self._run([self.initdb, "-D", self.datadir, "-A", "trust", "-U", "postgres", "-E", "UTF8"])
        self._run(
            [
                self.pg_ctl,
                "-D",
                self.datadir,
                "-l",
                os.path.join(self.tmp, "postgres.log"),
                "-w",
                "-t",
                "30",
                "-o",
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.tmp} -c fsync=on",
                "start",
            ]
        )
        self.started = True

    def new_database(self):
        self._dbs += 1
        name = f"rampart_{self._dbs}_{uuid.uuid4().hex[:6]}"
        subprocess.run(
            [self.psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-v", "ON_ERROR_STOP=1",
             "-c", f"CREATE DATABASE {name}"],
            check=True,
            capture_output=True,
            text=True,
        )
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self):
        if self.started:
            subprocess.run(self.prefix + [self.pg_ctl, "-D", self.datadir, "-m", "immediate", "-w", "stop"],
                           capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


_LOUD_NOTES = []


def pytest_terminal_summary(terminalreporter):
    for note in _LOUD_NOTES:
        terminalreporter.section("RAMPART INTEGRATION WARNING", sep="!", red=True, bold=True)
        terminalreporter.write_line(note, red=True, bold=True)


def _violation_summary(path):
    """Departures recorded by the servers, one line per (operation, member, problem) with a count."""
    import json
    import re

    counts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                v = json.loads(line)
            except ValueError:
                continue
            member = re.sub(r"\[\d+\]", "[]", v.get("path", ""))
            key = (v.get("service"), v.get("operation"), member, v.get("problem"))
            counts[key] = counts.get(key, 0) + 1
    return [f"{svc} {op} {member}: {problem} (x{n})" for (svc, op, member, problem), n in sorted(counts.items())]


def pytest_sessionfinish(session, exitstatus):
    if not VIOLATIONS_FILE or not os.path.exists(VIOLATIONS_FILE):
        return
    lines = _violation_summary(VIOLATIONS_FILE)
    if lines:
        _LOUD_NOTES.append(
            f"{len(lines)} kinds of answers depart from the models (all recorded in {VIOLATIONS_FILE}):\n"
            + "\n".join(lines)
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(items):
    # Crash/restart tests are the slowest: run them last so `-x` reports the fast ones first.
    items.sort(key=lambda item: "test_durability" in item.nodeid)


@pytest.fixture(scope="session")
def postgres_cluster():
    try:
        cluster = PostgresCluster()
    except FileNotFoundError as e:
        msg = f"PostgreSQL NOT INSTALLED: {e}. PostgreSQL-backed Rampart tests are SKIPPED."
        if os.environ.get("RAMPART_REQUIRE_POSTGRES") == "1":
            pytest.fail(msg + " (RAMPART_REQUIRE_POSTGRES=1)")
        if msg not in _LOUD_NOTES:
            _LOUD_NOTES.append(msg)
        sys.stderr.write("\n" + "!" * 80 + "\n" + msg + "\n" + "!" * 80 + "\n")
        pytest.skip(msg)
    try:
        cluster.start()
    except subprocess.CalledProcessError as e:
        cluster.stop()
        pytest.fail(f"could not start the throwaway PostgreSQL cluster: {e.stderr}")
    yield cluster
    cluster.stop()


# --------------------------------------------------------------------------------------------
# Throwaway MariaDB server
# --------------------------------------------------------------------------------------------


def _find_sbin(*names):
    for name in names:
        found = shutil.which(name)
        if found:
            return found
        for d in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
            p = os.path.join(d, name)
            if os.access(p, os.X_OK):
                return p
    return None


class MariaDBServer:
    """A mariadbd of its own (datadir, socket, port) in a temp dir; root logs in on the socket
    without a password."""

    def __init__(self):
        self.install_db = _find_sbin("mariadb-install-db", "mysql_install_db")
        self.mariadbd = _find_sbin("mariadbd", "mysqld")
        self.client = _find_sbin("mariadb", "mysql")
        if not (self.install_db and self.mariadbd and self.client):
            raise FileNotFoundError("mariadb-install-db/mariadbd/mariadb not found on PATH or in /usr/sbin")
        self.tmp = tempfile.mkdtemp(prefix="rampart-mariadb-")
        os.chmod(self.tmp, 0o755)
        self.datadir = os.path.join(self.tmp, "data")
        self.socket = os.path.join(self.tmp, "mariadb.sock")
        self.log = os.path.join(self.tmp, "mariadb.log")
        self.port = _free_port()
        self.prefix = []
        if os.geteuid() == 0:
            # mariadbd refuses to run as root.
            shutil.chown(self.tmp, user="mysql", group=None)
            self.prefix = ["runuser", "-u", "mysql", "--"]
        self.proc = None

    def start(self):
        subprocess.run(
            self.prefix + [self.install_db, "--no-defaults", f"--datadir={self.datadir}",
                           "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, capture_output=True, text=True, timeout=120)
        self.proc = subprocess.Popen(
            self.prefix + [self.mariadbd, "--no-defaults", f"--datadir={self.datadir}",
                           f"--socket={self.socket}", f"--port={self.port}", "--bind-address=127.0.0.1",
                           "--skip-name-resolve", f"--pid-file={os.path.join(self.tmp, 'mariadb.pid')}",
                           f"--log-error={self.log}", "--innodb-buffer-pool-size=16M"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {self._log_tail()}")
            if self.sql("SELECT 1").returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"mariadbd did not start: {self._log_tail()}")

    def _log_tail(self):
        try:
            with open(self.log) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def sql(self, sql, user=None, password=None):
        """Run `sql` as root on the socket, or as `user` with `password` over TCP."""
        env = dict(os.environ)
        if user is None:
            args = ["-S", self.socket, "-u", "root"]
        else:
            env["MYSQL_PWD"] = password
            args = ["-h", "127.0.0.1", "-P", str(self.port), "--protocol=TCP", "-u", user]
        return subprocess.run([self.client, "--no-defaults", *args, "-N", "-B", "-e", sql],
                               capture_output=True, text=True, env=env, timeout=30)

    def logs_in(self, user, password):
        return self.sql("SELECT 1", user=user, password=password).returncode == 0

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb_server():
    try:
        server = MariaDBServer()
    except FileNotFoundError as e:
        msg = f"MariaDB NOT INSTALLED: {e}. MySQL rotator tests are SKIPPED."
        if os.environ.get("RAMPART_REQUIRE_MYSQL") == "1":
            pytest.fail(msg + " (RAMPART_REQUIRE_MYSQL=1)")
        if msg not in _LOUD_NOTES:
            _LOUD_NOTES.append(msg)
        sys.stderr.write("\n" + "!" * 80 + "\n" + msg + "\n" + "!" * 80 + "\n")
        pytest.skip(msg)
    try:
        server.start()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, RuntimeError) as e:
        server.stop()
        pytest.fail(f"could not start the throwaway MariaDB server: {getattr(e, 'stderr', None) or e}")
    yield server
    server.stop()


# --------------------------------------------------------------------------------------------
# Rampart server
# --------------------------------------------------------------------------------------------


class RampartServer:
    def __init__(self, binary, workdir, store=None, dev=False, dev_account=None, admin_account=None,
                 extra_args=None, extra_env=None):
        self.binary = binary
        self.extra_args = list(extra_args or [])
        self.extra_env = dict(extra_env or {})
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.log_dir = self.workdir / "logs"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.dev = dev
        self.dev_account = dev_account
        self.admin_account = admin_account or ADMIN_ACCOUNT
        self.proc = None
        self.port = None
        self.starts = 0
        self.stdout_path = self.log_dir / "stdout.log"
        self.stderr_path = self.log_dir / "stderr.log"

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def backend(self):
        return "postgres" if self.store and self.store.startswith("postgres") else "sqlite"

    @property
    def endpoint(self):
        return f"{getattr(self, 'scheme', 'http')}://127.0.0.1:{self.port}"

    @property
    def ca_bundle(self):
        """With --tls: the CA certificate the server wrote for its clients."""
        return str(self.data_dir / "ca.pem")

    @property
    def credentials_path(self):
        return self.data_dir / "credentials"

    @property
    def audit_dir(self):
        return self.data_dir / "audit"

    def _store_args(self):
        return ["--store", self.store] if self.store else []

    def start(self):
        port = self.port or 0
        for attempt in range(2):
            try:
                self._start_on(port)
                return self
            except RuntimeError:
                if port == 0 or attempt:
                    raise
                port = 0  # previous port taken meanwhile: take any
        return self

    def _start_on(self, port):
        args = [self.binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(self.data_dir)]
        args += self._store_args()
        if self.dev:
            args.append("--dev")
        if self.dev_account:
            args += ["--dev-account", self.dev_account]
        if self.admin_account != ADMIN_ACCOUNT:
            args += ["--admin-account", self.admin_account]
        args += self.extra_args
        self.starts += 1
        out_offset = self.stdout_path.stat().st_size if self.stdout_path.exists() else 0
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("RAMPART_") and k not in ("RAMPART_LOG",):
                env.pop(k)
        # Tests create keys faster than AWS's KMS quotas allow (CreateKey: 5/s) and the test
        # clients do not retry; test_kms_quotas.py turns the quotas on where they are the subject.
        env["RAMPART_KMS_QUOTAS"] = "off"
        if VIOLATIONS_FILE:
            env["RAMPART_VALIDATE_RESPONSES"] = VIOLATIONS_FILE
        env.update(self.extra_env)
        self.proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        out.close()
        err.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with open(self.stdout_path, "rb") as f:
                f.seek(out_offset)
                text = f.read().decode("utf-8", "replace")
            for line in text.splitlines():
                for scheme in ("http", "https"):
                    marker = f"rampart listening on {scheme}://"
                    if marker in line:
                        self.scheme = scheme
                        self.port = int(line.split(marker, 1)[1].split()[0].rsplit(":", 1)[1])
                        self.listening_line = line
                        return
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"rampart exited with {self.proc.returncode} before listening: {self.stderr_tail()}"
                )
            time.sleep(0.02)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError(f"rampart did not print its listening line within {START_TIMEOUT}s: {self.stderr_tail()}")

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def kill9_and_restart(self):
        self.kill9()
        return self.start()

    # -- logs -------------------------------------------------------------------------------

    def stdout_text(self):
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def stderr_text(self):
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def logs_text(self):
        return self.stdout_text() + self.stderr_text()

    def stderr_tail(self, n=3000):
        return self.stderr_text()[-n:]

    def audit_text(self):
        parts = []
        if self.audit_dir.exists():
            for p in sorted(self.audit_dir.rglob("*")):
                if p.is_file():
                    parts.append(p.read_text(errors="replace"))
        return "".join(parts)

    # -- credentials ------------------------------------------------------------------------

    def profile(self, name="rampart"):
        cp = configparser.RawConfigParser()
        cp.read(self.credentials_path)
        sec = cp[name]
        return sec["aws_access_key_id"], sec["aws_secret_access_key"]

    def create_account(self, account_id):
        r = subprocess.run(
            [self.binary, "create-account", account_id, "--data-dir", str(self.data_dir)] + self._store_args(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert r.returncode == 0, f"create-account failed ({r.returncode}): {r.stdout} {r.stderr}"
        return self.profile(f"rampart-{account_id}")

    # -- clients ----------------------------------------------------------------------------

    def client(self, service, profile="rampart", access_key=None, secret_key=None, session_token=None,
               creds=None, region=REGION, validate=True):
        """boto3 client against this server. `creds` may be a dict as returned by AssumeRole /
        GetSessionToken / CreateAccessKey (AccessKeyId, SecretAccessKey[, SessionToken]).
        validate=False turns off botocore's client-side parameter validation, so the server's
        own model validation is what answers."""
        if creds is not None:
            access_key = creds["AccessKeyId"]
            secret_key = creds["SecretAccessKey"]
            session_token = creds.get("SessionToken")
        if access_key is None:
            access_key, secret_key = self.profile(profile)
        return boto3.session.Session().client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            verify=self.ca_bundle if getattr(self, "scheme", "http") == "https" else None,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=session_token,
            config=BOTO_CONFIG if validate else BOTO_CONFIG.merge(Config(parameter_validation=False)),
        )

    def cli(self, *args, profile="rampart", env=None, timeout=60):
        """Run the aws CLI against this server. With env containing AWS_ACCESS_KEY_ID, no --profile."""
        full_env = dict(os.environ)
        full_env["AWS_SHARED_CREDENTIALS_FILE"] = str(self.credentials_path)
        full_env["AWS_CONFIG_FILE"] = os.devnull
        full_env["AWS_PAGER"] = ""
        if env:
            full_env.update(env)
        cmd = ["aws", "--endpoint-url", self.endpoint, "--region", REGION, "--output", "json"]
        if getattr(self, "scheme", "http") == "https":
            cmd += ["--ca-bundle", self.ca_bundle]
        if profile and not (env and "AWS_ACCESS_KEY_ID" in env):
            cmd += ["--profile", profile]
        cmd += list(args)
        return subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout)

    def http(self, method, path, **kw):
        kw.setdefault("timeout", 10)
        if getattr(self, "scheme", "http") == "https":
            kw.setdefault("verify", self.ca_bundle)
        return requests.request(method, self.endpoint + path, **kw)

    def health(self):
        return self.http("GET", "/_rampart/health")

    def signed_request(self, service, body, headers=None, access_key=None, secret_key=None,
                       session_token=None, when=None, region=REGION, method="POST", path="/"):
        """Build a request, sign it with botocore's SigV4Auth (as of `when`, a UTC datetime, default
        now), send it with requests, return the requests.Response."""
        if access_key is None:
            access_key, secret_key = self.profile()
        url = self.endpoint + path
        req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        creds = botocore.credentials.Credentials(access_key, secret_key, session_token)
        signer = botocore.auth.SigV4Auth(creds, service, region)
        if when is None:
            signer.add_auth(req)
        else:
            with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
                signer.add_auth(req)
        prepared = req.prepare()
        return requests.request(prepared.method, prepared.url, headers=dict(prepared.headers),
                                data=prepared.body, timeout=10)

    def query_request(self, service, params, **kw):
        from urllib.parse import urlencode

        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        return self.signed_request(service, urlencode(params), headers=headers, **kw)

    def json_request(self, service, target, payload="{}", **kw):
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        return self.signed_request(service, payload, headers=headers, **kw)

    def advance_clock(self, seconds):
        r = self.http("POST", f"/_rampart/clock/advance/{seconds}")
        assert r.status_code == 200, f"clock advance failed: {r.status_code} {r.text}"
        return r

    def reset(self, path="/_rampart/reset"):
        return self.http("POST", path)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _make_server(rampart_bin, tmp_path_factory, name, **kw):
    workdir = tmp_path_factory.mktemp(name)
    server = RampartServer(rampart_bin, workdir, **kw)
    server.start()
    return server


@pytest.fixture(scope="session")
def server_factory(rampart_bin, tmp_path_factory):
    """Start extra servers on demand: server_factory(name, store=..., dev=..., ...)."""
    servers = []

    def make(name="rampart", **kw):
        s = _make_server(rampart_bin, tmp_path_factory, name, **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def server(rampart_bin, tmp_path_factory):
    """One shared non-dev SQLite server per test module."""
    s = _make_server(rampart_bin, tmp_path_factory, "server")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def dev_server(rampart_bin, tmp_path_factory):
    """One shared --dev SQLite server per test module."""
    s = _make_server(rampart_bin, tmp_path_factory, "devserver", dev=True)
    yield s
    s.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend_server(request, rampart_bin, tmp_path_factory):
    """A fresh server per test on each store backend (for durability / restart tests)."""
    store = None
    if request.param == "postgres":
        cluster = request.getfixturevalue("postgres_cluster")
        store = cluster.new_database()
    s = _make_server(rampart_bin, tmp_path_factory, f"server-{request.param}", store=store)
    yield s
    s.stop()


# --------------------------------------------------------------------------------------------
# Helpers shared by tests
# --------------------------------------------------------------------------------------------


def error_code(exc):
    return exc.response["Error"]["Code"]


def error_message(exc):
    return exc.response["Error"].get("Message", "")


def http_status(exc):
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]


def policy_doc(*statements):
    import json

    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra):
    st = {"Effect": "Allow", "Action": action, "Resource": resource}
    st.update(extra)
    return st


def deny(action, resource="*", **extra):
    st = {"Effect": "Deny", "Action": action, "Resource": resource}
    st.update(extra)
    return st


def make_user(iam, name=None, inline=None, managed=()):
    """Create a user with an access key; returns (user_arn, key dict)."""
    name = name or unique("user")
    user = iam.create_user(UserName=name)["User"]
    if inline:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=inline)
    for arn in managed:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return user, key


def lookup_events(ct, attribute_key=None, attribute_value=None, max_events=500, **kw):
    events = []
    args = dict(kw)
    if attribute_key:
        args["LookupAttributes"] = [{"AttributeKey": attribute_key, "AttributeValue": attribute_value}]
    args.setdefault("MaxResults", 50)
    while True:
        resp = ct.lookup_events(**args)
        events.extend(resp.get("Events", []))
        token = resp.get("NextToken")
        if not token or len(events) >= max_events:
            return events
        args["NextToken"] = token


def wait_for(predicate, timeout=5.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
