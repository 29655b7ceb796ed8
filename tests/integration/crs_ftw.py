"""The OWASP CRS regression tests (go-ftw YAML) as raw HTTP requests, for replaying them through a
proxy (tests/integration/test_crs_replay.py).

What go-ftw sends is rebuilt here from its documented behaviour (the same reading as the
in-process runner, crates/seclang/tests/ftw/mod.rs): headers written in sorted order, then, when
`autocomplete_headers` is not false, `Content-Type: application/x-www-form-urlencoded` for a
body without one, form data escaped as Go's url.QueryEscape unless it already holds `%` or `+`,
`Connection: close`, and `Content-Length` for a body or a body method; a multi-line `data` is
joined with CRLF; `encoded_request` is sent byte for byte.

Rule facts (paranoia level, severity, whether the rule adds to the inbound or outbound anomaly
score) are read from the CRS rule files themselves."""
import base64
import re
import socket
import urllib.parse
from pathlib import Path

import yaml


def family(directory):
    """`REQUEST-942-APPLICATION-ATTACK-SQLI` -> `942`; the response-side families -> `95x`."""
    parts = directory.split("-")
    num = parts[1] if len(parts) > 1 else ""
    if num.isdigit() and 950 <= int(num) <= 959:
        return "95x"
    return num


class Rule:
    def __init__(self, rid):
        self.id = rid
        self.paranoia = None
        self.severity = None
        self.inbound = False
        self.outbound = False


def load_rules(crs_dir):
    """Every rule with an id in `rules/*.conf`: id -> Rule."""
    rules = {}
    for path in sorted(Path(crs_dir, "rules").glob("*.conf")):
        text = path.read_text(encoding="utf-8", errors="replace")
        text = re.sub(r"\\\r?\n", " ", text)
        current = None
        for line in text.splitlines():
            line = line.strip()
            if not (line.startswith("SecRule") or line.startswith("SecAction")):
                continue
            m = re.search(r"\bid:'?(\d+)", line)
            if m:
                current = rules.setdefault(int(m.group(1)), Rule(int(m.group(1))))
            if current is None:
                continue
            pl = re.search(r"paranoia-level/(\d)", line)
            if pl:
                current.paranoia = int(pl.group(1))
            sev = re.search(r"severity:'?([A-Z]+)", line)
            if sev:
                current.severity = sev.group(1)
            if re.search(r"setvar:'?tx\.inbound_anomaly_score_pl\d=\+", line):
                current.inbound = True
            if re.search(r"setvar:'?tx\.outbound_anomaly_score_pl\d=\+", line):
                current.outbound = True
    return rules


def _scalar(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _query_escape(b):
    return urllib.parse.quote_plus(b, safe="-_.~").encode() if b else b""


def _go_form_encode(data):
    data = data[:-1] if data.endswith(b"&") else data
    out = []
    for tok in data.split(b"&"):
        if b"=" in tok:
            k, v = tok.split(b"=", 1)
            out.append(_query_escape(k) + b"=" + _query_escape(v))
        else:
            out.append(_query_escape(tok))
    return b"&".join(out)


def raw_request(inp):
    """The bytes go-ftw puts on the wire for a stage's `input`."""
    if inp.get("encoded_request"):
        return base64.b64decode("".join(str(inp["encoded_request"]).split()))
    method = _scalar(inp.get("method")) or "GET"
    uri = _scalar(inp.get("uri")) or "/"
    version = _scalar(inp.get("version")) or "HTTP/1.1"
    headers = {}
    for k, v in (inp.get("headers") or {}).items():
        headers[_scalar(k)] = _scalar(v)
    data = inp.get("data")
    if isinstance(data, list):
        body = "\r\n".join(_scalar(x) for x in data).encode("utf-8", "surrogateescape")
    elif data is None:
        body = b""
    else:
        body = _scalar(data).encode("utf-8", "surrogateescape")
    auto = inp.get("autocomplete_headers", True) is not False

    def add(k, v):
        if not headers.get(k):
            headers[k] = v

    if body and auto:
        add("Content-Type", "application/x-www-form-urlencoded")
        if headers.get("Content-Type") == "application/x-www-form-urlencoded" and b"%" not in body and b"+" not in body:
            body = _go_form_encode(body)
    if headers.get("Content-Type", "").startswith("multipart/form-data;"):
        body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if auto:
        add("Connection", "close")
        body_method = method.startswith("POST") or "PUT" in method or "PATCH" in method or method.endswith("DELETE")
        if body or body_method:
            add("Content-Length", str(len(body)))
    head = f"{method} {uri} {version}\r\n".encode("utf-8", "surrogateescape")
    for k in sorted(headers):
        head += f"{k}: {headers[k]}\r\n".encode("utf-8", "surrogateescape")
    return head + b"\r\n" + body


def _ids(container, key):
    v = container.get(key) if isinstance(container, dict) else None
    if v is None:
        return []
    if isinstance(v, list):
        return [int(x) for x in v if str(x).isdigit()]
    return [int(v)] if str(v).isdigit() else []


class Stage:
    def __init__(self, raw, expect, no_expect, status, expect_error):
        self.raw = raw
        self.expect = expect
        self.no_expect = no_expect
        self.status = status
        self.expect_error = expect_error


class Test:
    def __init__(self, rule_id, test_id, fam, stages):
        self.rule_id = rule_id
        self.test_id = test_id
        self.family = fam
        self.stages = stages

    @property
    def key(self):
        return f"{self.rule_id}/{self.test_id}"


def load_tests(crs_dir):
    """Every test of `tests/regression/tests/**/*.yaml`, in file order."""
    out = []
    root = Path(crs_dir, "tests/regression/tests")
    for path in sorted(root.rglob("*.yaml")):
        fam = family(path.parent.name)
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if not isinstance(doc, dict):
            continue
        rule_id = int(doc.get("rule_id") or 0)
        for t in doc.get("tests") or []:
            stages = []
            for st in t.get("stages") or []:
                st = st.get("stage", st)
                inp = st.get("input") or {}
                output = st.get("output") or {}
                log = output.get("log") or {}
                expect = _ids(log, "expect_ids") + _ids(output, "expect_ids")
                no_expect = _ids(log, "no_expect_ids") + _ids(output, "no_expect_ids")
                stages.append(Stage(raw_request(inp), expect, no_expect, output.get("status"),
                                    bool(output.get("expect_error"))))
            out.append(Test(rule_id, int(t.get("test_id") or 0), fam, stages))
    return out


def client_ip(n):
    """A distinct loopback source address per request (127.1.0.1, 127.1.0.2, ...), so the WAF
    logs of both proxies can be joined to the request that caused them."""
    n += 1
    return f"127.{1 + n // 65025}.{(n // 255) % 255}.{n % 255 + 1}"


def send(port, raw, source, timeout=30.0):
    """Sends `raw` from `source` to 127.0.0.1:`port`; answers the response status (0 when the
    connection closed without a status line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as s:
        try:
            s.sendall(raw)
        except OSError:
            pass
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except OSError:
            pass
        m = re.match(rb"HTTP/\d(?:\.\d)? (\d{3})", buf)
        if not m:
            return 0
        status = int(m.group(1))
        head, _, rest = buf.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        chunked = re.search(rb"(?im)^transfer-encoding:\s*chunked", head)
        try:
            if length:
                need = int(length.group(1))
                while len(rest) < need:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
            elif chunked:
                while not rest.endswith(b"0\r\n\r\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
        except OSError:
            pass
        return status
