"""Reference answers from Python's `packaging` for the marker differential test.

Reads one JSON request on stdin, writes one JSON answer on stdout:

  request = {
    "environments": [{"name": str, "vars": {11 marker variables}, "extras": [str], "groups": [str]}],
    "markerSets": [{"markers": [str], "envs": [int]}],  # markers evaluated in those environments
    "requirements": {"texts": [str], "envs": [int]},
    "versions": [str], "specifiers": [str], "contains": [[spec, version]],
    "comparisons": [[version, version]]
  }

Markers are evaluated with `Marker.evaluate(env, context="lock_file")`, `extras` and
`dependency_groups` given as sets. `extra` (one string in packaging) is the one active extra,
or "" when none is active. With several active extras, each comparison on `extra` is
packaging's own `_eval_op` applied to every active extra, combined with any() (all() for `!=`
and `not in`); the rest of the evaluation is packaging's, untouched.

Each result is "T", "F" or "E" (packaging raised), one character per environment.
"""

import json
import sys

import packaging
from packaging import markers as _markers
from packaging.markers import Marker
from packaging._tokenizer import ParserSyntaxError
from packaging.requirements import Requirement
from packaging.specifiers import Specifier
from packaging.utils import canonicalize_name
from packaging.version import Version

SENTINEL = "fastbuildactiveextrasentinel"
_active = [None]
_orig_eval_op = _markers._eval_op


def _eval_op_with_extra_set(lhs, op, rhs, *, key):
    active = _active[0]
    if key == "extra" and active is not None and SENTINEL in (lhs, rhs):
        results = [
            _orig_eval_op(e if lhs == SENTINEL else lhs, op, e if rhs == SENTINEL else rhs, key=key)
            for e in active
        ]
        return all(results) if op.serialize() in ("!=", "not in") else any(results)
    return _orig_eval_op(lhs, op, rhs, key=key)


_markers._eval_op = _eval_op_with_extra_set


def environment(env):
    base = dict(env["vars"])
    base["extras"] = frozenset(env["extras"])
    base["dependency_groups"] = frozenset(env["groups"])
    extras = env["extras"]
    if len(extras) <= 1:
        base["extra"] = extras[0] if extras else ""
        return base, None
    base["extra"] = SENTINEL
    return base, list(extras)


def evaluate(marker, prepared):
    base, active = prepared
    _active[0] = active
    try:
        return "T" if marker.evaluate(base, "lock_file") else "F"
    except Exception:
        return "E"
    finally:
        _active[0] = None


def failure(e):
    """The error's type and, for packaging's own syntax errors, the 1-based column of its caret."""
    cause = e.__cause__
    column = cause.span[1] + 1 if isinstance(cause, ParserSyntaxError) else None
    return {"ok": False, "error": type(e).__name__, "column": column}


def literal_values(markers):
    """The quoted strings of a parsed marker, decoded, in the order written."""
    out = []
    for item in markers:
        if isinstance(item, list):
            out.extend(literal_values(item))
        elif isinstance(item, tuple):
            out.extend(n.value for n in (item[0], item[2]) if isinstance(n, _markers.Value))
    return out


def marker_results(text, envs):
    try:
        marker = Marker(text)
    except Exception as e:
        return failure(e)
    return {
        "ok": True,
        "results": "".join(evaluate(marker, p) for p in envs),
        "values": literal_values(marker._markers),
    }


def requirement_result(text, envs):
    try:
        req = Requirement(text)
    except Exception as e:
        return failure(e)
    return {
        "ok": True,
        "name": canonicalize_name(req.name),
        "displayName": req.name,
        "extras": sorted({canonicalize_name(e) for e in req.extras}),
        "specifiers": sorted(str(s) for s in req.specifier),
        "url": req.url,
        "results": None if req.marker is None else "".join(evaluate(req.marker, p) for p in envs),
    }


def version_result(text):
    try:
        return str(Version(text))
    except packaging.version.InvalidVersion:
        return None
    except Exception:
        return "E"


def specifier_result(text):
    try:
        s = Specifier(text)
    except packaging.specifiers.InvalidSpecifier:
        return None
    return [s.operator, s.version]


def contains_result(spec, version):
    try:
        s = Specifier(spec)
    except packaging.specifiers.InvalidSpecifier:
        return "I"
    try:
        return "T" if s.contains(version, prereleases=True) else "F"
    except Exception:
        return "E"


def comparison_result(a, b):
    try:
        va, vb = Version(a), Version(b)
    except packaging.version.InvalidVersion:
        return None
    return (va > vb) - (va < vb)


def main():
    request = json.load(sys.stdin)
    prepared = [environment(e) for e in request["environments"]]
    answer = {
        "packaging": packaging.__version__,
        "markerSets": [
            [marker_results(m, [prepared[i] for i in s["envs"]]) for m in s["markers"]]
            for s in request["markerSets"]
        ],
        "requirements": [
            requirement_result(r, [prepared[i] for i in request["requirements"]["envs"]])
            for r in request["requirements"]["texts"]
        ],
        "versions": [version_result(v) for v in request["versions"]],
        "specifiers": [specifier_result(s) for s in request["specifiers"]],
        "contains": [contains_result(s, v) for s, v in request["contains"]],
        "comparisons": [comparison_result(a, b) for a, b in request["comparisons"]],
    }
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
