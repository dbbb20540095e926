#!/usr/bin/env python3
"""Many small pure wheels for full-path tests, built offline with make_wheels.build_wheel.

    make_simple_wheels.py OUTDIR < spec.json   -> JSON list of wheels on stdout

spec.json is a list of {"project", "version", "modules" (default 3), "kb" (random bytes per
module, default 4), "script" (optional console script name)}. Module `<project>/__init__.py` holds
VERSION = "<version>", so a test can check which version an image imports. The random bytes are
seeded by project and version: the same spec gives the same wheels, byte for byte.
"""
import hashlib
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_wheels import File, build_wheel  # noqa: E402


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    out = []
    for spec in json.load(sys.stdin):
        project, version = spec["project"], spec["version"]
        mod = project.lower().replace("-", "_").replace(".", "_")
        rnd = random.Random(f"{project}=={version}")
        files = [File(f"{mod}/__init__.py", f'VERSION = "{version}"\n')]
        for i in range(spec.get("modules", 3)):
            blob = bytes(rnd.getrandbits(8) for _ in range(spec.get("kb", 4) * 1024))
            files.append(File(f"{mod}/m{i}.py", f"DATA = {blob.hex()!r}\n"))
        eps = None
        if spec.get("script"):
            files.append(File(f"{mod}/cli.py", f"def main():\n    print('{project} {version}')\n"))
            eps = f"[console_scripts]\n{spec['script']} = {mod}.cli:main\n"
        dist = mod
        path = build_wheel(outdir, dist, version, "py3-none-any", files, entry_points=eps)
        with open(path, "rb") as fh:
            data = fh.read()
        out.append(
            dict(
                project=project,
                version=version,
                module=mod,
                path=path,
                filename=os.path.basename(path),
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
            )
        )
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
