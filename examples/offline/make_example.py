#!/usr/bin/env python3
"""Writes this example's wheels and its base image, byte for byte the same on every run.

    python3 examples/offline/make_example.py

The example builds with no network at all, so what a real project gets from PyPI and Docker Hub
is here on disk:
  wheels/   three small pure wheels (greeting, tinycolor, checkit), pinned in uv.lock by sha256
  base/     an OCI image layout, tag `bookworm-slim-stub`: amd64 and arm64 images of a tiny rootfs
            (no Python: it stands in for python:3.12-slim so the build runs anywhere; the images
            fast-build makes on it are complete but do not run)
Rerun it after changing a wheel, then update the hashes in uv.lock (it prints them).
"""
import gzip
import hashlib
import io
import json
import os
import tarfile
import zipfile
import base64

HERE = os.path.dirname(os.path.abspath(__file__))
DATE = (2024, 1, 1, 0, 0, 0)

WHEELS = {
    ("greeting", "1.2.0"): {
        "greeting/__init__.py": 'def hello(name: str) -> str:\n    return f"hello, {name}"\n',
    },
    ("tinycolor", "0.4.1"): {
        "tinycolor/__init__.py": (
            "CODES = {'red': 31, 'green': 32, 'blue': 34}\n\n"
            "def paint(text: str, color: str) -> str:\n"
            "    return f'\\x1b[{CODES[color]}m{text}\\x1b[0m'\n"
        ),
        "tinycolor/cli.py": "import sys\nfrom . import paint\n\ndef main():\n    print(paint(' '.join(sys.argv[1:]), 'green'))\n",
    },
    ("checkit", "0.9.0"): {
        "checkit/__init__.py": "def check(value, expected):\n    assert value == expected, (value, expected)\n",
    },
}
ENTRY_POINTS = {"tinycolor": "[console_scripts]\ntinycolor = tinycolor.cli:main\n"}


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel(name: str, version: str, files: dict) -> str:
    info = f"{name}-{version}.dist-info"
    files = dict(files)
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: make_example.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    if name in ENTRY_POINTS:
        files[f"{info}/entry_points.txt"] = ENTRY_POINTS[name]
    record = "".join(f"{p},{record_hash(t.encode())},{len(t.encode())}\n" for p, t in files.items())
    files[f"{info}/RECORD"] = record + f"{info}/RECORD,,\n"
    path = os.path.join(HERE, "wheels", f"{name}-{version}-py3-none-any.whl")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for p, text in files.items():
            zi = zipfile.ZipInfo(p, DATE)
            zi.external_attr = 0o100644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, text)
    return path


def blob(layout: str, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def base_image(layout: str) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("etc", "tmp", "usr", "usr/local", "usr/local/bin", "usr/local/lib"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
            t.addfile(ti)
        text = b'PRETTY_NAME="fast-build example base (a stand-in for python:3.12-slim; no Python)"\n'
        ti = tarfile.TarInfo("etc/os-release")
        ti.size, ti.mode, ti.mtime = len(text), 0o644, 0
        t.addfile(ti, io.BytesIO(text))
    tar = raw.getvalue()
    layer = blob(layout, gzip.compress(tar, mtime=0))
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    manifests = []
    for arch in ("amd64", "arm64"):
        config = {
            "architecture": arch,
            "os": "linux",
            **({"variant": "v8"} if arch == "arm64" else {}),
            "created": "2024-01-01T00:00:00Z",
            "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "make_example.py"}],
        }
        c = blob(layout, dumps(config))
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **c},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
        }
        m = blob(layout, dumps(manifest))
        platform = {"architecture": arch, "os": "linux", **({"variant": "v8"} if arch == "arm64" else {})}
        manifests.append({"mediaType": manifest["mediaType"], **m, "platform": platform})
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    i = blob(layout, dumps(index))
    top = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": index["mediaType"],
                **i,
                "annotations": {"org.opencontainers.image.ref.name": "bookworm-slim-stub"},
            }
        ],
    }
    with open(os.path.join(layout, "index.json"), "wb") as f:
        f.write(dumps(top))
    with open(os.path.join(layout, "oci-layout"), "wb") as f:
        f.write(b'{"imageLayoutVersion":"1.0.0"}')


def main() -> None:
    for (name, version), files in WHEELS.items():
        path = wheel(name, version, files)
        data = open(path, "rb").read()
        print(f"{os.path.relpath(path, HERE)}  sha256:{hashlib.sha256(data).hexdigest()}  size = {len(data)}")
    base_image(os.path.join(HERE, "base"))


if __name__ == "__main__":
    main()
