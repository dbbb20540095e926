"""Reference answers from `packaging.pylock` (PEP 751's installer selection) for our pylock reader.

Request on stdin: {"lock": PATH, "queries": [{"environment": {...}, "tags": ["cp312-cp312-…", …],
                    "extras": [...], "groups": [...] | null}, ...]}
Answer on stdout: [{"selected": [{"name", "version", "kind", "what"}]} | {"error": "..."} per query]

`kind` is how the package would be installed (wheel, sdist, vcs, directory, archive) and `what`
identifies it (the wheel or sdist file name, the commit, the directory path, the archive URL).
"""

import json
import sys
import tomllib

from packaging.pylock import (
    PackageArchive,
    PackageDirectory,
    PackageSdist,
    PackageVcs,
    PackageWheel,
    Pylock,
)
from packaging.tags import Tag


def describe(source):
    if isinstance(source, PackageWheel):
        return "wheel", source.filename
    if isinstance(source, PackageSdist):
        return "sdist", source.filename
    if isinstance(source, PackageVcs):
        return "vcs", source.commit_id
    if isinstance(source, PackageDirectory):
        return "directory", str(source.path)
    if isinstance(source, PackageArchive):
        return "archive", source.url
    return type(source).__name__, ""


def main() -> None:
    request = json.load(sys.stdin)
    with open(request["lock"], "rb") as f:
        lock = Pylock.from_dict(tomllib.load(f))
    answers = []
    for q in request["queries"]:
        tags = [Tag(*t.split("-")) for t in q["tags"]]
        try:
            selected = []
            for package, source in lock.select(
                environment=q["environment"],
                tags=tags,
                extras=q["extras"],
                dependency_groups=q["groups"],
            ):
                kind, what = describe(source)
                version = str(package.version) if package.version is not None else None
                selected.append({"name": str(package.name), "version": version, "kind": kind, "what": what})
            answers.append({"selected": sorted(selected, key=lambda s: s["name"])})
        except Exception as e:  # noqa: BLE001 - the kind of failure is what we compare
            answers.append({"error": f"{type(e).__name__}: {e}"})
    json.dump(answers, sys.stdout)


main()
