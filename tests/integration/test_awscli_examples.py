"""AWS's own CLI documentation examples, run against Rampart (DESIGN.md §5: corpora written by others).

Every example of the implemented services in the installed awscli package (`awscli/examples/...`)
is parsed at run time, given the resources it refers to (awscli_fixtures.py), run with the aws CLI
against a fresh dev-mode server (reset between examples), and its answer compared in shape with
the documented output (awscli_corpus.py).

Outcomes: pass; bug (Rampart answered wrongly, or an example is not yet triaged); n.a. (the example
cannot apply to Rampart: an operation Rampart does not implement, another AWS service, real
accounts); harness (the harness cannot build what the example needs). The per-service pass counts
may not fall below awscli_examples_floor.json, so fixes ratchet the floor up: after a fix, run with
RAMPART_CONFORMANCE_WRITE=1 to rewrite the floor and docs/conformance.md.
"""

import json
import os
import re
import shutil
import time
from pathlib import Path

import jmespath
import jmespath.exceptions
import pytest
from botocore.exceptions import ClientError

from awscli_corpus import SCOPE, check_against_model, compare_shape, error_code_of, load_examples, output_shape, run_cli
from awscli_fixtures import HarnessLimit, NotApplicable, fixture_for
from conftest import REPO

FLOOR_FILE = Path(__file__).with_name("awscli_examples_floor.json")
REPORT_FILE = REPO / "docs" / "conformance.md"
WRITE = os.environ.get("RAMPART_CONFORMANCE_WRITE") == "1"

# Examples that fail for a reason outside Rampart's control, after triage: id -> (category, reason).
# Category "n.a.": the example cannot apply to Rampart (or to AWS as documented); "harness": the
# harness cannot build what it needs. Everything failing and not listed here counts as a bug.
_NLB = "network/gateway load balancers, TCP/TLS/UDP/GENEVE and Lambda targets: Rampart's ELBv2 is ALB only"
TRIAGED = {
    "kms/create-custom-key-store.rst#3": ("n.a.", "XKS proxy connectivity through a VPC endpoint service needs "
                                                  "Amazon VPC"),
    "kms/update-custom-key-store.rst#5": ("n.a.", "XKS proxy connectivity through a VPC endpoint service needs "
                                                  "Amazon VPC"),
    "kms/import-key-material.rst#1": ("n.a.", "the example shows a bare key id; the API reference documents "
                                              "ImportKeyMaterialResponse.KeyId as the key ARN, which Rampart answers"),
    "kms/delete-imported-key-material.rst#1": ("n.a.", "the example shows a bare key id; the API reference documents "
                                                       "DeleteImportedKeyMaterialResponse.KeyId as the key ARN, which "
                                                       "Rampart answers"),
    "secretsmanager/rotate-secret.rst#3": ("n.a.", "the secret's rotation is a Lambda function: Rampart has no Lambda"),
    "secretsmanager/cancel-rotate-secret.rst#1": ("n.a.", "rotation configured through a Lambda function"),
    "ssm/get-parameters.rst#3": ("n.a.", "the documented output belongs to get-parameters, the command is get-parameter"),
    "sts/assume-role-with-saml.rst#1": ("n.a.", "the example's SAMLAssertion is a placeholder, not a signed SAML "
                                                "response: Rampart answers InvalidIdentityToken, as AWS would"),
    "sts/assume-role-with-web-identity.rst#1": ("n.a.", "the documented --policy-arns value fails the CLI's own "
                                                        "parameter validation"),
    "sts/decode-authorization-message.rst#1": ("n.a.", "the example's message was encoded by AWS, under AWS's key; "
                                                       "only messages Rampart encodes decode here, and no Rampart "
                                                       "service answers a denial with one (AWS's EC2 does)"),
    "iam/update-login-profile.rst#1": ("n.a.", "the documented command has --password without a value"),
    **{f"iam/list-service-specific-credential.rst#{i}": (
        "n.a.", "the documented output shows one ServiceSpecificCredential object; the operation answers the "
                "list ServiceSpecificCredentials (API reference and model)") for i in (1, 2)},
    **{f"iam/{cmd}.rst#1": ("n.a.", "the example's account manages an AWS Organization: Rampart has none, and IAM "
                                   "answers OrganizationNotFoundException as for an account in no organization")
       for cmd in ("enable-organizations-root-credentials-management", "disable-organizations-root-credentials-management",
                   "enable-organizations-root-sessions", "disable-organizations-root-sessions",
                   "list-organizations-features")},
    **{f"iam/{cmd}.rst#1": ("n.a.", "Amazon Lex is not a Rampart service: it has no service-linked role here")
       for cmd in ("create-service-linked-role", "delete-service-linked-role", "get-service-linked-role-deletion-status")},
    "elbv2/create-listener.rst#4": ("n.a.", _NLB),
    "elbv2/create-load-balancer.rst#3": ("n.a.", _NLB),
    "elbv2/create-load-balancer.rst#4": ("n.a.", _NLB),
    "elbv2/create-target-group.rst#2": ("n.a.", _NLB),
    "elbv2/create-target-group.rst#3": ("n.a.", _NLB),
    "elbv2/create-target-group.rst#4": ("n.a.", _NLB),
    "elbv2/describe-ssl-policies.rst#3": ("n.a.", "the documented output is flat; the --query yields a list of lists"),
    "elbv2/modify-listener.rst#2": ("n.a.", "the documented --default-actions shorthand does not parse (a space after a comma)"),
    "elbv2/modify-target-group.rst#1": ("n.a.", "the documented --matcher HttpCode=200,299 is parsed by the CLI as a list"),
    "wafv2/describe-managed-rule-group.rst#1": ("n.a.", "AWS's own managed rule groups (vendor AWS) are AWS's "
                                                        "proprietary rules; Rampart ships its own vendor's groups"),
    "acm/request-certificate.rst#7": ("n.a.", "email validation: ACME (Rampart's public CA path) has no email "
                                              "challenge; Rampart answers InvalidParameterException"),
}

RESULTS = {}


@pytest.fixture(scope="module")
def corpus_server(server_factory, tmp_path_factory):
    # Dev mode (any credentials) in the documentation's usual account, so ARNs keep their account.
    # With pebble installed (CI installs it), public ACM certificates are requested from it.
    env, pebble = {}, None
    if shutil.which("pebble"):
        from test_acm_public import Pebble

        pebble = Pebble(tmp_path_factory.mktemp("corpus-pebble"))
        pebble.start()
        env = {"RAMPART_ACME_DIRECTORY": pebble.directory, "RAMPART_ACME_CA_FILE": str(pebble.ca_file),
               "RAMPART_ACME_DNS_RESOLVER": f"127.0.0.1:{pebble.dns_port}",
               "RAMPART_ACME_HTTP01_LISTEN": f"127.0.0.1:{pebble.http01_port}"}
    # With SoftHSM installed (CI installs it), KMS custom key stores: a SoftHSM token stands in for
    # the CloudHSM cluster and an XKS proxy runs here, as in test_kms_custom_key_stores.py.
    cks, xks_httpd = None, None
    if shutil.which("softhsm2-util") and os.path.exists("/usr/lib/softhsm/libsofthsm2.so"):
        import subprocess

        import test_kms_custom_key_stores as t

        d = tmp_path_factory.mktemp("corpus-cks")
        (d / "tokens").mkdir()
        conf = d / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\n")
        for label in ("cks-token", "cks-token-2"):
            subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", t.PIN,
                            "--so-pin", "so-pin-1234"], check=True, capture_output=True,
                           env={**os.environ, "SOFTHSM2_CONF": str(conf)})
        ca_pem = t.make_pki(d)
        proxy = t.XksProxy("us-east-1")
        xks_httpd = t.start_proxy(proxy, d)
        env.update({
            "SOFTHSM2_CONF": str(conf),
            "RAMPART_CLOUDHSM_CLUSTERS": f"{t.CLUSTER}={t.SOFTHSM_LIB}:cks-token,"
                                         f"{t.OTHER_CLUSTER}={t.SOFTHSM_LIB}:cks-token-2",
            "RAMPART_XKS_CA_FILE": str(d / "ca.pem"),
            "RAMPART_XKS_CONNECT_TO": f"{t.XKS_HOST}=127.0.0.1:{xks_httpd.server_address[1]}",
        })
        cks = {"ca_pem": ca_pem, "cluster": t.CLUSTER, "other_cluster": t.OTHER_CLUSTER, "pin": t.PIN,
               "xks_host": t.XKS_HOST, "xks_path": t.XKS_PATH, "xks_ak": t.XKS_AK, "xks_sk": t.XKS_SK}
    server = server_factory("corpus", dev=True, dev_account="123456789012", extra_env=env)
    server.cks = cks
    yield server
    if pebble:
        pebble.stop()
    if xks_httpd:
        xks_httpd.shutdown()


def _region_of(argv):
    for tok in argv:
        m = re.search(r"arn:aws:[a-z0-9-]+:([a-z]{2}-[a-z]+-\d):", tok)
        if m:
            return m.group(1)
    return "us-east-1"


def run_example(server, ex, workdir):
    """(outcome, detail) of one example."""
    if ex.parse_note:
        return "harness", ex.parse_note
    if "--generate-cli-skeleton" in ex.argv:
        return "n.a.", "--generate-cli-skeleton prints a template; no request reaches the server"
    if ex.id in TRIAGED:
        pre = TRIAGED[ex.id]
        if pre[0] == "skip":
            return pre[1], pre[2]
    r = server.reset()
    assert r.status_code == 200, r.text
    region = _region_of(ex.argv)
    fixture = fixture_for(ex.service)(server, ex, workdir, region)
    try:
        argv = fixture.prepare()
    except NotApplicable as e:
        return "n.a.", str(e)
    except HarnessLimit as e:
        return "harness", str(e)
    except ClientError as e:
        if e.response["Error"]["Code"] == "NotImplemented":
            return "n.a.", e.response["Error"].get("Message", "") + " (the example's setup needs it)"
        return "harness", f"fixture setup failed: {str(e)[:300]}"
    except Exception as e:  # a fixture call Rampart refused is worth seeing, not a crash
        return "harness", f"fixture setup failed: {type(e).__name__}: {str(e)[:300]}"
    rc, out, err = run_cli(argv, server.endpoint, fixture.cli_region or region, workdir, *fixture.cli_credentials)
    if ex.output_text:
        out = ""  # the example printed text; only success is compared
    if rc != 0:
        code = error_code_of(err)
        if ex.expected_error and code == ex.expected_error:
            return "pass", f"error {code} as documented"
        if code == "NotImplemented" and "ACME directory" in err:
            return "harness", "public certificates need an ACME CA; the corpus server runs without pebble"
        if code == "NotImplemented":
            return "n.a.", "Rampart does not implement " + (re.search(r"implement (\S+)", err).group(1)
                                                           if re.search(r"implement (\S+)", err) else ex.command)
        return "bug", f"`aws {' '.join(argv)}` failed (rc {rc}): {err.strip()[:400]}"
    if ex.expected_error:
        return "bug", f"expected error {ex.expected_error}, the command succeeded"
    actual = None
    if out.strip():
        try:
            actual = json.loads(out)
        except ValueError:
            return "bug", f"output is not JSON: {out[:200]!r}"
    problems = []
    shape = None if ex.command.startswith("wait ") else output_shape(ex.service, ex.command)
    if actual is not None:
        problems += check_against_model(shape, actual)
    if ex.expected is not None and not ex.output_text:
        try:
            got = jmespath.search(ex.query, actual) if ex.query else actual
        except jmespath.exceptions.JMESPathError as e:
            # The shell strips the quotes a JMESPath literal needs: the example fails as printed.
            return "n.a.", f"the example's --query is not valid JMESPath once the shell strips its quotes: {e}"
        problems += compare_shape(ex.expected, got, None if ex.query else shape)
    if problems:
        return "bug", "; ".join(problems[:8])
    return "pass", ""


def _classify(ex, outcome, detail):
    if outcome == "bug" and ex.id in TRIAGED and TRIAGED[ex.id][0] != "skip":
        return TRIAGED[ex.id][0], TRIAGED[ex.id][1] + f" ({detail[:200]})"
    return outcome, detail


@pytest.mark.parametrize("service", list(SCOPE))
def test_awscli_examples(service, corpus_server, tmp_path):
    examples = load_examples(service)
    assert examples, f"no awscli examples found for {service}"
    started = time.monotonic()
    results = []
    for i, ex in enumerate(examples):
        workdir = tmp_path / f"ex{i}"
        workdir.mkdir()
        outcome, detail = _classify(ex, *run_example(corpus_server, ex, workdir))
        results.append((ex, outcome, detail))
    RESULTS[service] = results
    counts = _counts(results)
    print(f"\n{service}: {counts} in {time.monotonic() - started:.1f}s")
    for ex, outcome, detail in results:
        if outcome != "pass":
            print(f"  [{outcome}] {ex.id}: {detail}")
    floor = json.loads(FLOOR_FILE.read_text()) if FLOOR_FILE.exists() else {}
    key = service
    # CI installs pebble and SoftHSM; without them fewer examples can run.
    if service == "acm" and not shutil.which("pebble"):
        key = "acm-without-pebble"  # public certificates need an ACME CA
    if service == "kms" and not getattr(corpus_server, "cks", None):
        key = "kms-without-softhsm"  # custom key stores need a CloudHSM stand-in
    if WRITE:
        floor[key] = counts["pass"]
        FLOOR_FILE.write_text(json.dumps(dict(sorted(floor.items())), indent=2) + "\n")
        _write_report()
    assert counts["pass"] >= floor.get(key, 0), (
        f"{service}: {counts['pass']} awscli examples pass, the floor ({key}) is {floor.get(key)}")


def _counts(results):
    c = {"total": len(results), "pass": 0, "bug": 0, "n.a.": 0, "harness": 0}
    for _, outcome, _ in results:
        c[outcome] += 1
    return c


def _write_report():
    lines = [
        "# Conformance against the awscli documentation examples",
        "",
        "Generated by `tests/integration/test_awscli_examples.py` (`RAMPART_CONFORMANCE_WRITE=1`) from the",
        "examples in the installed awscli package; each example's answer is compared in shape (members,",
        "JSON types, ARN and id formats, model enums, documented error codes) with AWS's documented output.",
        "botocore's paginators and waiters are driven by `tests/integration/test_paginators_waiters.py`.",
        "",
        "| service | examples | pass | bug | n.a. | harness |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for service in SCOPE:
        if service in RESULTS:
            c = _counts(RESULTS[service])
            lines.append(f"| {service} | {c['total']} | {c['pass']} | {c['bug']} | {c['n.a.']} | {c['harness']} |")
    lines += ["", "## Examples that do not pass", ""]
    for service in SCOPE:
        for ex, outcome, detail in RESULTS.get(service, []):
            if outcome != "pass":
                detail = detail.replace("|", "\\|").replace("\n", " ")
                lines.append(f"- **{outcome}** `{ex.id}`: {detail}")
    REPORT_FILE.write_text("\n".join(lines) + "\n")
