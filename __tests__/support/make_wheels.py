#!/usr/bin/env python3
"""Fixture wheels and zip files for the wheel installer tests, built offline with zipfile only.

    make_wheels.py wheels OUTDIR [--heavy-mb N]   -> JSON list of wheels on stdout
    make_wheels.py simple OUTDIR < spec.json      -> JSON list of wheels on stdout
    make_wheels.py zips OUTDIR                    -> JSON {case: path} on stdout
    make_wheels.py reference < request.json       -> answers from pip/distlib, importlib, email, csv

Wheels are laid out as bdist_wheel writes them (package files, then .data, then .dist-info with
RECORD last, sha256 urlsafe-base64 hashes). The C extension is compiled here with gcc against the
running Python's headers. Broken wheels are made wrong on purpose, one fault each.

`simple` makes many small pure wheels for the full-path tests: spec.json is a list of {"project",
"version", "modules" (default 3), "kb" (random bytes per module, default 4), "script" (optional
console script name)}. Module `<project>/__init__.py` holds VERSION = "<version>", so a test can
check which version an image imports. The random bytes are seeded by project and version: the
same spec gives the same wheels, byte for byte.
"""
import base64
import hashlib
import io
import json
import os
import platform
import random
import stat
import struct
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

DATE = (2020, 2, 2, 0, 0, 0)
REG = stat.S_IFREG


def b64(digest):
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def record_hash(data):
    return "sha256=" + b64(hashlib.sha256(data).digest())


def zinfo(name, mode=0o644, compress=zipfile.ZIP_DEFLATED, filetype=REG):
    zi = zipfile.ZipInfo(name, date_time=DATE)
    zi.external_attr = ((filetype | mode) & 0xFFFF) << 16
    zi.compress_type = compress
    zi.create_system = 3
    return zi


class File:
    def __init__(self, name, data, mode=0o644, compress=zipfile.ZIP_DEFLATED, filetype=REG, in_record=True):
        self.name = name
        self.data = data.encode("utf-8") if isinstance(data, str) else data
        self.mode = mode
        self.compress = compress
        self.filetype = filetype
        self.in_record = in_record


def build_wheel(
    outdir,
    project,
    version,
    tag,
    files,
    *,
    purelib=True,
    entry_points=None,
    wheel_version="1.0",
    record=True,
    tamper_record=None,
    dirs=(),
    filename_project=None,
):
    """files: list of File (package files and .data files). Returns the wheel path."""
    dist = project  # as written in the dist-info/data directory names
    info = f"{dist}-{version}.dist-info"
    meta = [
        File(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n\nA fixture.\n"),
        File(
            f"{info}/WHEEL",
            f"Wheel-Version: {wheel_version}\nGenerator: make_wheels.py\n"
            f"Root-Is-Purelib: {'true' if purelib else 'false'}\nTag: {tag}\n",
        ),
    ]
    if entry_points is not None:
        meta.append(File(f"{info}/entry_points.txt", entry_points))
    tops = sorted({f.name.split("/", 1)[0] for f in files if not f.name.split("/", 1)[0].endswith(".data")})
    meta.append(File(f"{info}/top_level.txt", "".join(t + "\n" for t in tops if not t.endswith(".py"))))
    all_files = list(files) + meta
    rows = []
    for f in all_files:
        if f.in_record:
            rows.append([f.name, record_hash(f.data), str(len(f.data))])
    if tamper_record:
        rows = [tamper_record(r) for r in rows]
    rows.append([f"{info}/RECORD", "", ""])
    out = io.StringIO()
    import csv

    csv.writer(out, lineterminator="\n").writerows(rows)
    fname = f"{filename_project or project}-{version}-{tag}.whl"
    path = os.path.join(outdir, fname)
    with zipfile.ZipFile(path, "w") as zf:
        for d in dirs:
            zi = zipfile.ZipInfo(d, date_time=DATE)
            zi.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
            zf.writestr(zi, b"")
        for f in all_files:
            zf.writestr(zinfo(f.name, f.mode, f.compress, f.filetype), f.data)
        if record:
            zf.writestr(zinfo(f"{info}/RECORD"), out.getvalue())
    return path


def py_tag():
    return f"cp{sys.version_info[0]}{sys.version_info[1]}"


def compile_extension(tmp):
    src = os.path.join(tmp, "_speedups.c")
    with open(src, "w") as fh:
        fh.write(
            """#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "Add two integers."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
"""
        )
    so = os.path.join(tmp, "_speedups" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-I", sysconfig.get_paths()["include"], "-o", so, src],
        check=True,
    )
    with open(so, "rb") as fh:
        return os.path.basename(so), fh.read()


def good_wheels(outdir, heavy_mb):
    out = []

    def add(path, project, version, exercises, **extra):
        out.append(dict(path=path, project=project, version=version, exercises=exercises, **extra))

    # A pure package: nested packages, a UTF-8 name, an executable file, an empty and a stored file,
    # directory entries, a mode without S_IFREG (not executable for pip) and a symlink-mode entry
    # (pip writes it as a regular file).
    files = [
        File("fbpure/__init__.py", "__version__ = '1.0.0'\n"),
        File("fbpure/sub/__init__.py", ""),
        File("fbpure/sub/mod.py", "def answer():\n    return 42\n" * 50),
        File("fbpure/data/config.json", json.dumps({"a": list(range(100))})),
        File("fbpure/donn\u00e9es_\u65e5\u672c.txt", "caf\u00e9\n"),
        File("fbpure/run.sh", "#!/bin/sh\necho fbpure\n", mode=0o755),
        File("fbpure/empty.txt", b""),
        File("fbpure/stored.bin", bytes(range(256)) * 40, compress=zipfile.ZIP_STORED),
        File("fbpure/noreg.sh", "#!/bin/sh\n", mode=0o755, filetype=0),
        File("fbpure/link", "run.sh", mode=0o777, filetype=stat.S_IFLNK),
        File("fbpure/py.typed", ""),
    ]
    add(
        build_wheel(outdir, "fbpure", "1.0.0", "py3-none-any", files, dirs=["fbpure/", "fbpure/data/"]),
        "fbpure",
        "1.0.0",
        "pure package: UTF-8 names, x bits, empty/stored files, dir entries, non-regular modes",
    )

    # A C extension compiled here, platlib (Root-Is-Purelib: false).
    with tempfile.TemporaryDirectory() as tmp:
        so_name, so = compile_extension(tmp)
    tag = f"{py_tag()}-{py_tag()}-manylinux_2_17_{platform.machine()}"
    files = [
        File("fbext/__init__.py", "from ._speedups import add\n"),
        File(f"fbext/{so_name}", so, mode=0o755),
    ]
    add(
        build_wheel(outdir, "fbext", "1.0.0", tag, files, purelib=False),
        "fbext",
        "1.0.0",
        "C extension, platlib",
        module="fbext",
    )

    # Entry points: console and gui scripts, a dotted callable, extras flags, odd spacing,
    # comments, another group, and setuptools-made wrappers in .data/scripts that pip leaves out.
    eps = """# comment
[console_scripts]
fbs-cli = fbscripts.cli:main
fbs-method=fbscripts.cli:App.run
fbs_extra = fbscripts.cli:main [extra1, extra2]
fbs.dotted   =   fbscripts.cli:main

[gui_scripts]
fbs-gui = fbscripts.cli:gui

[fbscripts.plugins]
thing = fbscripts.cli:main
"""
    files = [
        File("fbscripts/__init__.py", ""),
        File(
            "fbscripts/cli.py",
            "def main():\n    print('fbs')\n    return 0\n\n"
            "def gui():\n    return 0\n\n"
            "class App:\n    @staticmethod\n    def run():\n        return 0\n",
        ),
        File("fbscripts-1.0.0.data/scripts/fbs-cli", "#!python\n# setuptools wrapper\n", mode=0o755),
        File("fbscripts-1.0.0.data/scripts/fbs-cli-script.py", "#!python\n# wrapper\n", mode=0o755),
        File("fbscripts-1.0.0.data/scripts/fbs-helper", "#!/bin/sh\necho helper\n", mode=0o755),
    ]
    add(
        build_wheel(outdir, "fbscripts", "1.0.0", "py3-none-any", files, entry_points=eps),
        "fbscripts",
        "1.0.0",
        "console_scripts and gui_scripts entry points, wrappers in .data/scripts left out",
        scripts=["fbs-cli", "fbs-method", "fbs_extra", "fbs.dotted", "fbs-gui"],
    )

    # .data: scripts (#!python rewritten, with args and CRLF, a non-executable one, a sh one),
    # data, headers, purelib and platlib. The project name has capitals and "_" (headers dir).
    d = "FB_data-1.0.0.data"
    files = [
        File("fb_data/__init__.py", ""),
        File(f"{d}/scripts/fbdata-run", "#!python\nprint('run')\n", mode=0o755),
        File(f"{d}/scripts/fbdata-args", "#!python3.11 -u\r\nprint('args')\n", mode=0o755),
        File(f"{d}/scripts/fbdata-noexec", "#!python\nprint('noexec')\n", mode=0o644),
        File(f"{d}/scripts/fbdata-sh", "#!/bin/sh\necho sh\n", mode=0o755),
        File(f"{d}/scripts/fbdata-oneline", "#!python", mode=0o755),
        File(f"{d}/data/share/fbdata/readme.txt", "readme\n"),
        File(f"{d}/data/etc/fbdata/fbdata.conf", "[fbdata]\n"),
        File(f"{d}/headers/fbdata.h", "#define FBDATA 1\n"),
        File(f"{d}/purelib/fb_data_extra/__init__.py", "EXTRA = 1\n"),
        File(f"{d}/platlib/fb_data_plat/__init__.py", "PLAT = 1\n"),
    ]
    add(
        build_wheel(outdir, "FB_data", "1.0.0", "py3-none-any", files),
        "FB_data",
        "1.0.0",
        ".data scripts (#!python), data, headers, purelib, platlib",
    )

    # A namespace package split over two wheels (no fbns/__init__.py).
    for part in ("a", "b"):
        files = [File(f"fbns/{part}/__init__.py", f"PART = {part!r}\n")]
        add(
            build_wheel(outdir, f"fbns_{part}", "1.0.0", "py3-none-any", files),
            f"fbns_{part}",
            "1.0.0",
            "namespace package shared by two wheels",
            namespace="fbns",
        )

    # Heavy: incompressible data (deflated, as build backends do), and many small files.
    rnd = os.urandom(heavy_mb * 1024 * 1024)
    files = [File("fbheavy/__init__.py", "")]
    files += [File(f"fbheavy/small/m{i:04d}.py", f"X = {i}\n" * 20) for i in range(400)]
    files.append(File("fbheavy/blob.bin", rnd))
    add(
        build_wheel(outdir, "fbheavy", "1.0.0", "py3-none-any", files),
        "fbheavy",
        "1.0.0",
        f"heavy: {heavy_mb} MiB of incompressible data and 400 small files",
    )
    return out


def broken_wheels(outdir, good):
    out = []

    def add(path, project, fault, entry=None):
        out.append(dict(path=path, project=project, version="1.0.0", exercises=fault, broken=fault, entry=entry))

    def tamper(row):
        if row[0] == "fbbadhash/__init__.py":
            return [row[0], record_hash(b"something else"), row[2]]
        return row

    files = [File("fbbadhash/__init__.py", "X = 1\n")]
    add(
        build_wheel(outdir, "fbbadhash", "1.0.0", "py3-none-any", files, tamper_record=tamper),
        "fbbadhash",
        "record-hash",
        "fbbadhash/__init__.py",
    )
    files = [File("fbevil/__init__.py", ""), File("../../evil", "evil\n")]
    add(build_wheel(outdir, "fbevil", "1.0.0", "py3-none-any", files), "fbevil", "escape", "../../evil")
    files = [File("fbabs/__init__.py", ""), File("/tmp/fbabs-evil", "evil\n")]
    add(build_wheel(outdir, "fbabs", "1.0.0", "py3-none-any", files), "fbabs", "absolute", "/tmp/fbabs-evil")
    files = [File("fbbackslash/__init__.py", ""), File("fbbackslash\\..\\..\\evil.py", "evil\n")]
    add(
        build_wheel(outdir, "fbbackslash", "1.0.0", "py3-none-any", files),
        "fbbackslash",
        "backslash",
        "fbbackslash\\..\\..\\evil.py",
    )
    files = [File("fbdotdot/__init__.py", ""), File("fbdotdot-1.0.0.data/data/../../../evil", "evil\n")]
    add(
        build_wheel(outdir, "fbdotdot", "1.0.0", "py3-none-any", files),
        "fbdotdot",
        "escape",
        "fbdotdot-1.0.0.data/data/../../../evil",
    )
    files = [File("fbwheelv2/__init__.py", "")]
    add(
        build_wheel(outdir, "fbwheelv2", "1.0.0", "py3-none-any", files, wheel_version="2.0"),
        "fbwheelv2",
        "wheel-version",
        "fbwheelv2-1.0.0.dist-info/WHEEL",
    )
    files = [File("fbscheme/__init__.py", ""), File("fbscheme-1.0.0.data/lib/x.txt", "x\n")]
    add(
        build_wheel(outdir, "fbscheme", "1.0.0", "py3-none-any", files),
        "fbscheme",
        "scheme",
        "fbscheme-1.0.0.data/lib/x.txt",
    )
    files = [File("fbnocall/__init__.py", "def main(): pass\n")]
    add(
        build_wheel(
            outdir, "fbnocall", "1.0.0", "py3-none-any", files, entry_points="[console_scripts]\nfbnc = fbnocall\n"
        ),
        "fbnocall",
        "entry-point",
        "fbnocall-1.0.0.dist-info/entry_points.txt",
    )
    files = [File("fbnorecord/__init__.py", "")]
    add(
        build_wheel(outdir, "fbnorecord", "1.0.0", "py3-none-any", files, record=False),
        "fbnorecord",
        "no-record",
        "fbnorecord-1.0.0.dist-info/RECORD",
    )

    # Truncated: the first 60% of the pure wheel.
    src = next(w for w in good if w["project"] == "fbpure")["path"]
    data = open(src, "rb").read()
    path = os.path.join(outdir, "fbtrunc-1.0.0-py3-none-any.whl")
    with open(path, "wb") as fh:
        fh.write(data[: len(data) * 6 // 10])
    add(path, "fbtrunc", "truncated")

    # CRC mismatch: one byte of a stored entry changed (RECORD would catch it too, later).
    files = [File("fbcrc/__init__.py", ""), File("fbcrc/data.bin", b"A" * 1000, compress=zipfile.ZIP_STORED)]
    path = build_wheel(outdir, "fbcrc", "1.0.0", "py3-none-any", files)
    raw = bytearray(open(path, "rb").read())
    at = raw.index(b"A" * 1000)
    raw[at + 500] = ord("B")
    open(path, "wb").write(bytes(raw))
    add(path, "fbcrc", "crc", "fbcrc/data.bin")
    return out


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# -------------------------------------------------------------------------------------------------
# Zip edge cases


def rezip64(src, dst):
    """Rewrite an archive's central directory with every size/offset in ZIP64 extra fields and a
    ZIP64 end record + locator (what writers do for >4 GiB archives), keeping the entries' data."""
    with zipfile.ZipFile(src) as zf:
        infos = zf.infolist()
        end_data = zf.start_dir  # the entries' data ends where the old central directory starts
    data = open(src, "rb").read()
    out = bytearray(data[:end_data])
    cd = bytearray()
    for i in infos:
        name = i.filename.encode("utf-8")
        flags = i.flag_bits | (0x800 if not i.filename.isascii() else 0)
        extra = struct.pack("<HHQQQ", 1, 24, i.file_size, i.compress_size, i.header_offset)
        cd += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            (3 << 8) | 45,
            45,
            flags,
            i.compress_type,
            0,
            0x5042,
            i.CRC,
            0xFFFFFFFF,
            0xFFFFFFFF,
            len(name),
            len(extra),
            0,
            0,
            0,
            i.external_attr,
            0xFFFFFFFF,
        )
        cd += name + extra
    cd_offset = len(out)
    out += cd
    z64_offset = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(infos), len(infos), len(cd), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64_offset, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    open(dst, "wb").write(bytes(out))


def zips(outdir):
    cases = {}

    def path(name):
        p = os.path.join(outdir, name)
        cases[name.rsplit(".", 1)[0]] = p
        return p

    text = ("hello zip " * 500).encode()
    # stored + deflated + empty + directory entry, an archive comment
    with zipfile.ZipFile(path("mixed.zip"), "w") as zf:
        zf.writestr(zinfo("dir/", 0o755, zipfile.ZIP_STORED, stat.S_IFDIR), b"")
        zf.writestr(zinfo("stored.txt", 0o644, zipfile.ZIP_STORED), text)
        zf.writestr(zinfo("deflated.txt", 0o755, zipfile.ZIP_DEFLATED), text)
        zf.writestr(zinfo("empty.txt", 0o644, zipfile.ZIP_DEFLATED), b"")
        zf.writestr(zinfo("dir/caf\u00e9.txt", 0o644), "utf-8 name")
        zf.comment = b"an archive comment"
    # zip64: entries written with force_zip64 (ZIP64 local extras), then the central directory
    # rewritten with ZIP64 extra fields and a ZIP64 end record.
    tmp = os.path.join(outdir, "zip64-src.zip")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, data, method in [("a.txt", text, zipfile.ZIP_DEFLATED), ("b.bin", os.urandom(5000), zipfile.ZIP_STORED)]:
            with zf.open(zinfo(name, 0o644, method), "w", force_zip64=True) as fh:
                fh.write(data)
    rezip64(tmp, path("zip64.zip"))
    os.remove(tmp)
    # more than 65535 entries: Python writes a ZIP64 end record on its own
    with zipfile.ZipFile(path("many.zip"), "w", zipfile.ZIP_STORED) as zf:
        for i in range(70000):
            zf.writestr(zipfile.ZipInfo(f"f/{i}", date_time=DATE), str(i))
    # CP437 names: no UTF-8 flag, high bytes (0x82 is é, 0x94 is ö in CP437)
    with zipfile.ZipFile(path("cp437.zip"), "w") as zf:
        zf.writestr(zinfo("cafe-1.txt"), b"cp437")
        zf.writestr(zinfo("koln-2.txt"), b"cp437")
    raw = open(cases["cp437"], "rb").read()
    raw = raw.replace(b"cafe-1.txt", b"caf\x82-1.txt").replace(b"koln-2.txt", b"k\x94ln-2.txt")
    open(cases["cp437"], "wb").write(raw)
    # data descriptors (bit 3): written to an unseekable stream
    class Unseekable(io.RawIOBase):
        def __init__(self, fh):
            self.fh = fh

        def writable(self):
            return True

        def write(self, b):
            return self.fh.write(b)

        def seekable(self):
            return False

    with open(path("descriptor.zip"), "wb") as raw_fh:
        with zipfile.ZipFile(Unseekable(raw_fh), "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(zinfo("one.txt"), text)
            zf.writestr(zinfo("two.txt"), b"two")
    # large, compressible entry (for the streaming path) and a large stored one
    big = (b"0123456789abcdef" * 65536) * 3  # 3 MiB
    with zipfile.ZipFile(path("big.zip"), "w") as zf:
        zf.writestr(zinfo("big.txt"), big)
        zf.writestr(zinfo("big.bin", 0o644, zipfile.ZIP_STORED), os.urandom(3 * 1024 * 1024))
        zf.writestr(zinfo("small.txt"), b"small")
    # damaged copies of mixed.zip
    good = open(cases["mixed"], "rb").read()
    open(path("truncated.zip"), "wb").write(good[: len(good) // 2])
    open(path("empty.zip"), "wb").write(b"")
    open(path("notzip.zip"), "wb").write(b"this is not a zip file at all, just text\n" * 10)
    open(path("prepended.zip"), "wb").write(b"#!/bin/sh\nexit 0\n" + good)
    crc = bytearray(good)
    at = crc.index(text)  # the stored copy
    crc[at + 10] ^= 0xFF
    open(path("crc.zip"), "wb").write(bytes(crc))
    with zipfile.ZipFile(cases["mixed"]) as zf:
        info = zf.getinfo("deflated.txt")
    with open(cases["mixed"], "rb") as fh:
        fh.seek(info.header_offset + 26)
        n, m = struct.unpack("<HH", fh.read(4))
        data_start = info.header_offset + 30 + n + m
    bad = bytearray(good)
    for k in range(data_start, data_start + info.compress_size):
        bad[k] = 0xFF
    open(path("deflate-corrupt.zip"), "wb").write(bytes(bad))
    return cases


# -------------------------------------------------------------------------------------------------
# Reference answers from pip (its vendored distlib), importlib.metadata, email and csv


def reference(request):
    """Answers for the installer's pure parts, computed by the code pip runs."""
    import csv
    import email.parser
    from importlib.metadata import EntryPoints

    from pip._internal.operations.install import wheel as pip_wheel
    from pip._vendor.distlib import scripts as distlib_scripts
    from pip._vendor.distlib.util import get_export_entry

    out = {"entries": [], "scripts": [], "console_specs": [], "entry_points": [], "headers": [], "records": []}
    for spec in request.get("entries", []):
        try:
            e = get_export_entry(spec)
            out["entries"].append(
                None if e is None else {"name": e.name, "prefix": e.prefix, "suffix": e.suffix, "flags": e.flags}
            )
        except Exception:
            out["entries"].append("invalid")
    for exe, spec in request.get("scripts", []):
        # pip's ScriptMaker as pip configures it, with distlib's executable lookup pointed at `exe`.
        distlib_scripts.get_executable = lambda exe=exe: exe
        with tempfile.TemporaryDirectory() as d:
            maker = pip_wheel.PipScriptMaker(None, d)
            maker.clobber = True
            maker.variants = {""}
            maker.set_mode = True
            try:
                made = maker.make(spec)
                files = {}
                for path in made:
                    with open(path, "rb") as fh:
                        files[os.path.basename(path)] = [fh.read().decode("utf-8"), os.stat(path).st_mode & 0o777]
                out["scripts"].append(files)
            except Exception as e:  # noqa: BLE001
                out["scripts"].append({"error": type(e).__name__})
    for console in request.get("console_specs", []):
        os.environ.pop("ENSUREPIP_OPTIONS", None)
        out["console_specs"].append(pip_wheel.get_console_script_specs(dict(console)))
    for text in request.get("entry_points", []):
        try:
            out["entry_points"].append([[e.group, e.name, e.value] for e in EntryPoints._from_text(text)])
        except Exception as e:  # noqa: BLE001
            out["entry_points"].append({"error": type(e).__name__})
    for text, name in request.get("headers", []):
        out["headers"].append(email.parser.Parser().parsestr(text).get(name))
    for rows in request.get("records", []):
        buf = io.StringIO()
        csv.writer(buf).writerows(pip_wheel._normalized_outrows([tuple(r) for r in rows]))
        out["records"].append(buf.getvalue())
    out["python"] = list(sys.version_info[:2])
    return out


def simple_wheels(outdir, specs):
    out = []
    for spec in specs:
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
        path = build_wheel(outdir, mod, version, "py3-none-any", files, entry_points=eps)
        out.append(dict(project=project, version=version, module=mod, path=path))
    return out


def main():
    if sys.argv[1] == "reference":
        json.dump(reference(json.load(sys.stdin)), sys.stdout)
        return
    mode, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    if mode == "wheels":
        heavy_mb = int(sys.argv[sys.argv.index("--heavy-mb") + 1]) if "--heavy-mb" in sys.argv else 70
        good = good_wheels(outdir, heavy_mb)
        broken = broken_wheels(outdir, good)
        result = []
        for w in good + broken:
            w["filename"] = os.path.basename(w["path"])
            w["sha256"] = sha256_file(w["path"])
            w["size"] = os.path.getsize(w["path"])
            result.append(w)
        json.dump(result, sys.stdout, indent=1)
    elif mode == "simple":
        result = simple_wheels(outdir, json.load(sys.stdin))
        for w in result:
            w["filename"] = os.path.basename(w["path"])
            w["sha256"] = sha256_file(w["path"])
            w["size"] = os.path.getsize(w["path"])
        json.dump(result, sys.stdout, indent=1)
    elif mode == "zips":
        json.dump(zips(outdir), sys.stdout, indent=1)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
