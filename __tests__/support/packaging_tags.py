"""Reference answers from Python's `packaging` for src/wheels/ (tags, wheel names, wheel choice).

Reads one JSON request on stdin, writes one JSON answer on stdout:

  request  {"targets":  [{"python": [3, 11], "arch": "x86_64", "libc": ["glibc", 2, 36]}, ...],
            "parse":    ["foo-1.0-py3-none-any.whl", ...],
            "choose":   [{"target": 0, "files": ["a.whl", "a.tar.gz", ...]}, ...]}
  answer   {"packaging": "26.2",
            "host":     {"python": [3, 11], "arch": ..., "libc": [...] | null, "sys_tags": [...]},
            "tags":     [[tag, ...] per target],
            "parse":    [{"name", "build", "tags"} | {"error"} per file name],
            "choose":   [{"file", "rank"} | null per file list]}

packaging answers for the machine it runs on. To ask it about a *target* instead, this script
replaces, after recording the host's own `sys_tags()`:

- `_manylinux._get_glibc_version`, which reads the running glibc (os.confstr / ctypes). It is
  looked up by name both in `platform_tags` (the newest glibc to list) and in `_is_compatible`
  (which drops versions newer than the running glibc), so one replacement answers both for the
  target. For musl targets it returns (-1, -1), as packaging does on a machine without glibc.
- `_musllinux._get_musl_version`, which runs the ELF interpreter of sys.executable; it returns
  the target's musl version, or None for glibc targets.
- `sys.modules["_manylinux"] = None`, so `import _manylinux` in `_is_compatible` fails as on a
  normal Python install; a distributor's override module on this host must not decide for the
  target.
- `sysconfig.get_platform`, which `_linux_platforms` reads for the architecture; it returns
  `linux-<arch>` of the target. `is_32bit=False` is passed explicitly (64-bit interpreters).
- `tags._get_config_var`, which `_cpython_abis` reads for Py_DEBUG, Py_GIL_DISABLED,
  WITH_PYMALLOC and Py_UNICODE_SIZE; it answers as a default release build of CPython
  (not debug, GIL, pymalloc, wide unicode) does, whatever this host's interpreter is.

The target's tag list is then composed as `sys_tags()` composes it for CPython:
`cpython_tags(version, platforms)` followed by `compatible_tags(version, "cpXY", platforms)`.
"""

from __future__ import annotations

import json
import platform as _platform
import sys
import sysconfig

import packaging
from packaging import _manylinux, _musllinux, tags, utils


def host_report() -> dict:
    """The host as it is, before any patching: what the TypeScript side should reproduce."""
    glibc = _manylinux._get_glibc_version()
    musl = _musllinux._get_musl_version(sys.executable)
    libc = None
    if glibc.major >= 0:
        libc = ["glibc", glibc.major, glibc.minor]
    elif musl is not None:
        libc = ["musl", musl.major, musl.minor]
    try:
        import _manylinux as override  # noqa: F401

        has_override = True
    except ImportError:
        has_override = False
    return {
        "python": list(sys.version_info[:2]),
        "implementation": sys.implementation.name,
        "system": _platform.system(),
        "platform": sysconfig.get_platform(),
        "debug": bool(sysconfig.get_config_var("Py_DEBUG")),
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "manylinux_override": has_override,
        "libc": libc,
        "sys_tags": [str(t) for t in tags.sys_tags()],
    }


RELEASE_BUILD_CONFIG = {"Py_DEBUG": 0, "Py_GIL_DISABLED": 0, "WITH_PYMALLOC": 1, "Py_UNICODE_SIZE": 4}


def patch_for(target: dict) -> None:
    family, major, minor = target["libc"]
    if family == "glibc":
        glibc = _manylinux._GLibCVersion(major, minor)
        musl = None
    else:
        glibc = _manylinux._GLibCVersion(-1, -1)
        musl = _musllinux._MuslVersion(major, minor)
    _manylinux._get_glibc_version = lambda: glibc
    _musllinux._get_musl_version = lambda _executable: musl
    arch = target["arch"]
    tags.sysconfig.get_platform = lambda: f"linux-{arch}"


def target_tags(target: dict) -> list[tags.Tag]:
    patch_for(target)
    version = tuple(target["python"])
    platforms = list(tags._linux_platforms(is_32bit=False))
    interpreter = "cp" + tags._version_nodot(version)
    return [
        *tags.cpython_tags(version, platforms=platforms),
        *tags.compatible_tags(version, interpreter=interpreter, platforms=platforms),
    ]


def parse(filename: str) -> dict:
    try:
        name, _version, build, tagset = utils.parse_wheel_filename(filename)
    except utils.InvalidWheelFilename as e:
        return {"error": str(e)}
    return {"name": name, "build": list(build) if build else None, "tags": sorted(str(t) for t in tagset)}


def choose(files: list[str], ranks: dict[tags.Tag, int]) -> dict | None:
    """The minimum rank over a wheel's supported tags, as in `create_compatible_tags_selector`;
    ties by the larger build tag (pip's sort key), then the smaller file name."""
    best = None
    for f in files:
        if not f.endswith(".whl"):
            continue
        try:
            _name, _version, build, tagset = utils.parse_wheel_filename(f)
        except utils.InvalidWheelFilename:
            continue
        supported = [ranks[t] for t in tagset if t in ranks]
        if not supported:
            continue
        cand = (min(supported), build, f)
        if (
            best is None
            or cand[0] < best[0]
            or (cand[0] == best[0] and (cand[1] > best[1] or (cand[1] == best[1] and cand[2] < best[2])))
        ):
            best = cand
    return None if best is None else {"file": best[2], "rank": best[0]}


def main() -> None:
    request = json.load(sys.stdin)
    answer: dict = {"packaging": packaging.__version__, "host": host_report()}

    sys.modules["_manylinux"] = None  # type: ignore[assignment]
    tags._get_config_var = lambda name, warn=False: RELEASE_BUILD_CONFIG.get(name)

    tag_lists = [target_tags(t) for t in request.get("targets", [])]
    answer["tags"] = [[str(t) for t in ts] for ts in tag_lists]
    answer["parse"] = [parse(f) for f in request.get("parse", [])]

    rank_maps: dict[int, dict[tags.Tag, int]] = {}
    chosen = []
    for item in request.get("choose", []):
        i = item["target"]
        if i not in rank_maps:
            ranks: dict[tags.Tag, int] = {}
            for rank, t in enumerate(tag_lists[i]):
                ranks.setdefault(t, rank)
            rank_maps[i] = ranks
        chosen.append(choose(item["files"], rank_maps[i]))
    answer["choose"] = chosen

    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
