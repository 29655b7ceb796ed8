#!/usr/bin/env python3
"""Refresh models/ from a botocore wheel: keep the contract, drop the prose.

Usage: python3 codegen/fetch_models.py [BOTOCORE_VERSION]
Downloads botocore with pip (no dependencies), takes the newest API version of each
service Rampart serves, removes every `documentation`-like key and writes
models/<service>.json with sorted keys, so a refresh diff shows only contract changes.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import zipfile

SERVICES = [
    "sts", "iam", "kms", "ssm", "secretsmanager", "acm", "acm-pca", "cloudtrail",
    "wafv2", "shield", "fms", "guardduty", "inspector2", "macie2", "elbv2", "s3", "ec2",
]
DROP = {"documentation", "documentationUrl", "examples", "deprecatedMessage", "externalDocs"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in DROP}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def main():
    version = sys.argv[1] if len(sys.argv) > 1 else None
    spec = f"botocore=={version}" if version else "botocore"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", spec, "-d", tmp], check=True)
        wheel = next(f for f in os.listdir(tmp) if f.endswith(".whl"))
        with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
            names = z.namelist()
            for svc in SERVICES:
                prefix = f"botocore/data/{svc}/"
                candidates = sorted(n for n in names if n.startswith(prefix) and "/service-2.json" in n)
                if not candidates:
                    raise SystemExit(f"no model for {svc}")
                name = candidates[-1]
                raw = z.read(name)
                if name.endswith(".gz"):
                    raw = gzip.decompress(raw)
                model = strip(json.loads(raw))
                out = os.path.join(ROOT, "models", f"{svc}.json")
                with open(out, "w") as f:
                    json.dump(model, f, indent=1, sort_keys=True)
                    f.write("\n")
                print(f"{svc}: {name} ({len(model['operations'])} operations)")
        with open(os.path.join(ROOT, "models", "VERSION"), "w") as f:
            f.write(wheel.split("-")[1] + "\n")


if __name__ == "__main__":
    main()
