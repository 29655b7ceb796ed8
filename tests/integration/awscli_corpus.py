"""The awscli documentation examples as a conformance corpus.

The awscli distribution ships `awscli/examples/<service>/<command>.rst`: AWS's own example commands,
each followed by the output AWS printed. This module reads them at run time (nothing is copied into
the repository), turns each into an argv for the aws CLI and an expected outcome, and compares the
SHAPE of what Rampart answers with the documented output: keys present, JSON types, ARN and id
formats, enum values (checked against the botocore model), and error codes where the example shows
an error. The values themselves (ids, dates, key material) differ by nature and are not compared.
"""

import contextlib
import io
import json
import os
import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path

import awscli
import botocore.session

EXAMPLES_DIR = Path(awscli.__file__).resolve().parent / "examples"

# Which example files belong to the services Rampart implements. None: every file of the service.
SCOPE = {
    "kms": None,
    "secretsmanager": None,
    "ssm": {
        "get-parameter", "get-parameters", "put-parameter", "delete-parameter", "delete-parameters",
        "get-parameters-by-path", "get-parameter-history", "label-parameter-version",
        "unlabel-parameter-version", "describe-parameters", "add-tags-to-resource",
        "remove-tags-from-resource", "list-tags-for-resource",
    },
    "acm": None,
    "acm-pca": None,
    "sts": None,
    "iam": None,
    "cloudtrail": {"lookup-events"},
    "wafv2": None,
    "elbv2": None,
}

# Where an example's value depends on what the example's caller chose to send, or on state the
# example's account had (another page, a deletion date, a description): such members are allowed
# to be absent from Rampart's answer. A member AWS always returns is not in this list.
OPTIONAL_MEMBERS = {
    "NextToken", "Marker", "NextMarker", "IsTruncated", "Truncated", "NextPageToken",
    "Description", "Tags", "TagList", "DeletionDate", "ValidTo", "PendingWindowInDays",
    "LastAccessedDate", "LastChangedDate", "LastRotatedDate", "NextRotationDate", "RotationRules",
    "RotationLambdaARN", "RotationEnabled", "KmsKeyId", "OwningService", "PrimaryRegion",
    "ReplicationStatus", "RoleLastUsed", "PermissionsBoundary", "PasswordLastUsed",
    "AllowedPattern", "Policies", "Labels", "LastModifiedUser", "DataType", "Selector",
    "SourceResult", "CustomKeyStoreId", "CloudHsmClusterId", "ExpirationModel",
    "MultiRegionConfiguration", "XksKeyConfiguration", "CurrentKeyMaterialId",
    "SslPolicy", "Certificates", "RedactedFields", "ValidationEmails", "ValidationDomain",
    "VpcEndpointServiceName", "VpcEndpointServiceOwner",
}


@dataclass
class Example:
    service: str
    command: str
    source: str  # "<command>.rst#<n>"
    title: str
    argv: list  # after "aws": [service, command, --opt, value, ...], without --query/--output
    query: str = None
    output_text: bool = False
    expected: object = None  # parsed documented JSON output, or None
    expected_raw: str = None
    expected_error: str = None  # error code the example shows
    input_json: str = None  # the JSON document shown before the command (for --cli-input-json)
    parse_note: str = None  # why the command could not be read

    @property
    def id(self):
        return f"{self.service}/{self.source}"

    def opts(self):
        """{--option: [values]} of the argv."""
        out, cur = {}, None
        for tok in self.argv[2:]:
            if tok.startswith("--"):
                cur = tok
                out[cur] = []
            elif cur is not None:
                out[cur].append(tok)
        return out


def literal_blocks(text):
    """(intro paragraph, dedented body) of every reStructuredText literal block (`::`)."""
    lines = text.splitlines()
    out, i, para = [], 0, []
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            para = []
        else:
            para.append(line)
        if line.rstrip().endswith("::") and not line.startswith((" ", "\t")):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            body = []
            while j < len(lines) and (not lines[j].strip() or lines[j].startswith((" ", "\t"))):
                body.append(lines[j])
                j += 1
            while body and not body[-1].strip():
                body.pop()
            out.append((" ".join(para), textwrap.dedent("\n".join(body))))
            para, i = [], j
            continue
        i += 1
    return out


_TITLE = re.compile(r"^\*\*(.+?)\*\*\s*$", re.M)
_ERROR = re.compile(r"An error occurred \((\w+)\)")


def _command_line(body, service):
    """The first `aws <service> ...` command of a block, continuation lines joined."""
    lines = body.replace("^\n", "\\\n").splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(f"aws {service} "):
            cmd = line.strip()
            j = i + 1
            while cmd.endswith("\\") or (j < len(lines) and lines[j].strip().startswith("--")):
                cmd = cmd.rstrip("\\").rstrip()
                if j >= len(lines):
                    break
                cmd += " " + lines[j].strip()
                j += 1
            return cmd
    return None


def _split(cmd):
    lex = shlex.shlex(cmd, posix=True, punctuation_chars="|><;&")
    lex.whitespace_split = True
    toks = []
    for tok in lex:
        if tok and set(tok) <= set("|><;&"):
            break
        toks.append(tok)
    return toks


def lenient_json(text):
    """The documented output as JSON where it nearly is: unquoted timestamps, `...` elisions,
    trailing commas and comments are tolerated. None when it is not JSON at all."""
    t = text.strip()
    if not t.startswith(("{", "[")):
        return None
    try:
        return json.loads(t)
    except ValueError:
        pass
    t = re.sub(r"(:\s*)(\d{4}-\d\d-\d\d[T ][0-9:.]+(?:Z|[+-]\d\d:?\d\d)?)", r'\1"\2"', t)
    t = re.sub(r"^\s*(//|#).*$", "", t, flags=re.M)
    t = re.sub(r"^\s*\.\.\.\s*,?\s*$", "", t, flags=re.M)
    t = re.sub(r",(\s*[}\]])", r"\1", t)
    t = re.sub(r'(["\d\]}el])[ \t]*\n(\s*")', r"\1,\n\2", t)  # a missing comma between members
    try:
        return json.loads(t)
    except ValueError:
        return None


def parse_file(service, path):
    text = path.read_text()
    command = path.stem
    examples = []
    titles = [(m.start(), m.group(1)) for m in _TITLE.finditer(text)]
    pos = 0
    last_json = None
    for intro, body in literal_blocks(text):
        pos = text.find(body.splitlines()[0].strip(), pos) if body.strip() else pos
        line = _command_line(body, service)
        if line is not None:
            title = ""
            for start, t in titles:
                if start <= pos:
                    title = t
            toks = _split(line)[1:]  # drop "aws"
            ex = Example(service, command, f"{command}.rst#{len(examples) + 1}", title, [])
            if len(toks) < 2:
                ex.parse_note = "no command in the block"
            elif toks[1] != command and toks[1] != "wait":
                ex.command = toks[1]  # a file may show a neighbouring command (get-* after put-*)
            argv, i = [], 0
            while i < len(toks):
                if toks[i] == "--query" and i + 1 < len(toks):
                    ex.query = toks[i + 1]
                    i += 2
                elif toks[i] == "--output" and i + 1 < len(toks):
                    ex.output_text = toks[i + 1] != "json"
                    i += 2
                elif toks[i] in ("--region", "--profile", "--endpoint-url") and i + 1 < len(toks):
                    i += 2
                else:
                    argv.append(toks[i])
                    i += 1
            ex.argv = argv
            ex.input_json = last_json
            examples.append(ex)
            continue
        if "output" not in intro.lower() and body.lstrip().startswith("{"):
            last_json = body
        if examples and "output" in intro.lower() and examples[-1].expected_raw is None:
            ex = examples[-1]
            ex.expected_raw = body
            m = _ERROR.search(body)
            if m:
                ex.expected_error = m.group(1)
            else:
                ex.expected = lenient_json(body)
    return examples


def load_examples(service):
    d = EXAMPLES_DIR / service
    files = sorted(d.glob("*.rst")) + sorted((d / "wait").glob("*.rst"))
    scope = SCOPE[service]
    out = []
    for f in files:
        if f.parent.name == "wait":
            if scope is not None:
                continue
            for ex in parse_file(service, f):
                ex.command = "wait " + f.stem
                ex.source = "wait/" + ex.source
                out.append(ex)
            continue
        if scope is not None and f.stem not in scope:
            continue
        out.extend(parse_file(service, f))
    return out


# ------------------------------------------------------------------------------------------------
# Running the aws CLI in-process (a process per example would cost a second each)
# ------------------------------------------------------------------------------------------------


def run_cli(argv, endpoint, region, cwd, access_key="AKIAEXAMPLEDEVMODE01", secret_key="x" * 40):
    from awscli.clidriver import create_clidriver

    config = Path(cwd) / ".aws-config"
    # Without this, awscli v1 fetches any http(s):// parameter value (an XKS proxy endpoint).
    config.write_text("[default]\ncli_follow_urlparam = false\n")
    env = {
        "AWS_CONFIG_FILE": str(config),
        "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key, "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard",
    }
    saved = {k: os.environ.get(k) for k in env}
    old_cwd = os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.update(env)
        os.chdir(cwd)
        driver = create_clidriver()
        full = list(argv) + ["--endpoint-url", endpoint, "--region", region, "--output", "json",
                             "--cli-read-timeout", "30", "--cli-connect-timeout", "5"]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = driver.main(full)
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else 2
    finally:
        os.chdir(old_cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return rc, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------------------------------------
# Shape comparison
# ------------------------------------------------------------------------------------------------

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Loose on purpose: some examples print malformed times ("2021-09-02T016:15:21-09:00").
_TS = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d+:\d\d")


def _arn_kind(s):
    parts = s.split(":", 5)
    if len(parts) < 6:
        return None
    resource = parts[5]
    rtype = re.split(r"[/:]", resource, 1)[0] if ("/" in resource or ":" in resource) else ""
    return parts[2], rtype


def _str_class(s):
    if s.startswith("arn:aws:"):
        return ("arn",) + (_arn_kind(s) or ("?", "?"))
    if _UUID.match(s):
        return ("uuid",)
    if _TS.match(s):
        return ("timestamp",)
    return None


def _is_policy_document(shape):
    return shape is not None and shape.type_name == "string" and "policydocument" in shape.name.lower()


def _is_number_text(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def compare_shape(doc, actual, shape=None, path="$", problems=None):
    """Differences in shape between the documented value and Rampart's, as strings. `shape` is the
    botocore shape of the value where known: a map's keys are data, not members."""
    if problems is None:
        problems = []
    if _is_policy_document(shape):
        return problems  # the document is the caller's input; awscli v1 prints it decoded
    if isinstance(doc, dict):
        if not isinstance(actual, dict):
            problems.append(f"{path}: expected an object, got {type(actual).__name__}")
            return problems
        if shape is not None and shape.type_name == "map":
            if doc and actual:
                compare_shape(next(iter(doc.values())), next(iter(actual.values())), shape.value,
                              f"{path}.*", problems)
            return problems
        members = shape.members if shape is not None and shape.type_name == "structure" else {}
        # botocore does not always mark unions: a one-member object answered by another single
        # member of a structure with no required members is taken as one.
        union = shape is not None and (shape.metadata.get("union") or (
            shape.type_name == "structure" and not shape.required_members and len(doc) == 1 and len(actual) == 1))
        for k, v in doc.items():
            if k not in actual:
                # A union (a WAF statement, an action) holds whichever member the caller chose.
                if k not in OPTIONAL_MEMBERS and not union:
                    problems.append(f"{path}.{k}: missing")
                continue
            compare_shape(v, actual[k], members.get(k), f"{path}.{k}", problems)
    elif isinstance(doc, list):
        if not isinstance(actual, list):
            problems.append(f"{path}: expected a list, got {type(actual).__name__}")
            return problems
        if doc and actual:
            # The documented list's first element is the template for Rampart's first one.
            member = shape.member if shape is not None and shape.type_name == "list" else None
            compare_shape(doc[0], actual[0], member, f"{path}[0]", problems)
    elif isinstance(doc, bool):
        if not isinstance(actual, bool):
            problems.append(f"{path}: expected a boolean, got {actual!r}")
    elif isinstance(doc, (int, float)):
        # Old examples print timestamps as epoch numbers; awscli v1 prints what the wire carried.
        if isinstance(actual, str) and _TS.match(actual):
            return problems
        if not isinstance(actual, (int, float)) or isinstance(actual, bool):
            problems.append(f"{path}: expected a number, got {actual!r}")
    elif isinstance(doc, str):
        if isinstance(actual, (int, float)) and not isinstance(actual, bool) and (
                _TS.match(doc) or _is_number_text(doc) or (shape is not None and shape.type_name == "timestamp")):
            return problems
        if not isinstance(actual, str):
            problems.append(f"{path}: expected a string, got {actual!r}")
            return problems
        want = _str_class(doc)
        if want is None:
            return problems
        got = _str_class(actual)
        if want[0] == "arn" and got and got[0] == "arn":
            # AWS writes the same ARN kinds differently in places (role vs assumed-role): compare
            # the service, and the resource type where the example names one.
            if want[1] != got[1] or (want[2] and want[2] != got[2] and want[1] not in ("sts", "iam")):
                problems.append(f"{path}: expected an ARN like {doc!r}, got {actual!r}")
        elif want != got and not (want[0] == "uuid" and actual.startswith("mrk-")):
            problems.append(f"{path}: expected a {want[0]} like {doc!r}, got {actual!r}")
    return problems


_SESSION = botocore.session.get_session()


def output_shape(service, command):
    """The botocore output shape of a CLI command, or None."""
    model = _SESSION.get_service_model(service)
    for name in model.operation_names:
        if _cli_name(name) == command:
            return model.operation_model(name).output_shape
    return None


def _cli_name(op):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", op).lower()


# Where AWS's wire answers differ from its own model and AWS's examples show the wire form (the
# same list as docs/services/acm.md "wire vs model" and the response validator's exemptions):
# ACM reports key algorithms with hyphens (`RSA-2048`, `EC-prime256v1`), the model spells `RSA_2048`.
WIRE_NOT_MODEL = {
    "KeyAlgorithm": {"RSA-1024", "RSA-2048", "RSA-3072", "RSA-4096", "EC-prime256v1", "EC-secp384r1", "EC-secp521r1"},
    # IAM's simulator labels policies of the request's PolicyInputList `IAM Policy`, a value the
    # model's enum lacks (other SDKs added it after meeting it on AWS: soto-project/soto#230).
    "PolicySourceType": {"IAM Policy"},
}


def check_against_model(shape, value, path="$", problems=None):
    """Types and enum values of the CLI's JSON output against the botocore output shape."""
    if problems is None:
        problems = []
    if shape is None or value is None:
        return problems
    if _is_policy_document(shape) and isinstance(value, (dict, list)):
        return problems  # awscli v1 URL-decodes and parses IAM policy documents for display
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: not an object")
            return problems
        for k, v in value.items():
            if k in shape.members:
                check_against_model(shape.members[k], v, f"{path}.{k}", problems)
            elif k not in ("ResponseMetadata", "NextToken") or path != "$":
                # NextToken at the top: the CLI's own paging token after --max-items.
                problems.append(f"{path}.{k}: not a member of {shape.name} in the model")
    elif t == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: not a list")
            return problems
        for i, v in enumerate(value):
            check_against_model(shape.member, v, f"{path}[{i}]", problems)
    elif t == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: not a map")
            return problems
        for k, v in value.items():
            check_against_model(shape.value, v, f"{path}.{k}", problems)
    elif t == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: not a string: {value!r}")
        elif shape.enum and value not in shape.enum and value not in WIRE_NOT_MODEL.get(shape.name, ()):
            problems.append(f"{path}: {value!r} is not one of the model's {shape.name} values")
    elif t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: not an integer: {value!r}")
    elif t in ("float", "double"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: not a number: {value!r}")
    elif t == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: not a boolean: {value!r}")
    elif t == "timestamp":
        if not (isinstance(value, (int, float)) or (isinstance(value, str) and _TS.match(value))):
            problems.append(f"{path}: not a timestamp: {value!r}")
    elif t == "blob":
        if not isinstance(value, str):
            problems.append(f"{path}: not base64 text: {value!r}")
    return problems


def error_code_of(stderr):
    m = _ERROR.search(stderr)
    return m.group(1) if m else None
