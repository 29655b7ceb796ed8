#!/usr/bin/env python3
"""Writes fuzz/seeds/seclang_eval from the OWASP CRS regression tests (one request per attack
family, as raw HTTP/1.1 text) and fuzz/seeds/seclang_parse from a few CRS rule files' first
directives. Usage: scripts/fuzz-seeds-crs.py [CRS_DIR]"""
import os, sys, glob, urllib.parse
import yaml

crs = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("RAMPART_CRS_DIR", "/work/shared/crs/v4.28.0")
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "seeds")
out = os.path.join(root, "seclang_eval")
os.makedirs(out, exist_ok=True)
families = sorted(glob.glob(os.path.join(crs, "tests/regression/tests/REQUEST-*")))
n = 0
for fam in families:
    for path in sorted(glob.glob(os.path.join(fam, "*.yaml")))[:4]:
        doc = yaml.safe_load(open(path))
        for test in doc.get("tests", [])[:1]:
            inp = test["stages"][0]["input"]
            method = inp.get("method", "GET")
            uri = inp.get("uri", "/")
            headers = inp.get("headers", {}) or {}
            data = inp.get("data", "")
            if isinstance(data, list):
                data = "\r\n".join(data)
            if inp.get("encoded_request"):
                continue
            lines = [f"{method} {uri} {inp.get('version', 'HTTP/1.1')}"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + str(data).encode()
            name = os.path.basename(path)[:-5] + "-" + str(test.get("test_id", test.get("test_title", "")))
            open(os.path.join(out, name), "wb").write(raw)
            n += 1
print(f"{n} seclang_eval seeds")
out = os.path.join(root, "seclang_parse")
os.makedirs(out, exist_ok=True)
for f in ["REQUEST-901-INITIALIZATION.conf", "REQUEST-942-APPLICATION-ATTACK-SQLI.conf",
          "REQUEST-920-PROTOCOL-ENFORCEMENT.conf", "REQUEST-949-BLOCKING-EVALUATION.conf"]:
    text = open(os.path.join(crs, "rules", f)).read()
    # The first dozen directives keep a seed small; files they name (.data) are absent on purpose.
    chunks = text.split("\n\n")
    open(os.path.join(out, f[:-5]), "w").write("\n\n".join(chunks[:24]))
print("4 seclang_parse seeds")
