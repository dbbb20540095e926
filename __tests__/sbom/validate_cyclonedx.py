"""Validate CycloneDX documents against the official JSON schema, offline.

Usage: python3 validate_cyclonedx.py SCHEMA_DIR < documents.json

stdin holds one document or a JSON array of them. The schema is the one shipped in
@cyclonedx/cyclonedx-library (res/schema/bom-1.6.SNAPSHOT.schema.json); the files it refers to
(spdx, jsf) sit beside it and are registered under the URIs its relative $refs resolve to, so no
network is asked. Prints a JSON list of errors (empty when every document is valid).
"""
import json
import os
import sys

from jsonschema import Draft7Validator

schema_dir = sys.argv[1]
schemas = {}
for name in os.listdir(schema_dir):
    if not name.endswith(".schema.json"):
        continue
    with open(os.path.join(schema_dir, name), encoding="utf-8") as f:
        contents = json.load(f)
    # Under its $id and under the name the bom schema's relative $refs resolve to.
    for uri in {contents.get("$id"), "http://cyclonedx.org/schema/" + name}:
        if uri:
            schemas[uri] = contents

schema = schemas["http://cyclonedx.org/schema/bom-1.6.SNAPSHOT.schema.json"]
try:
    from referencing import Registry, Resource

    registry = Registry().with_resources((uri, Resource.from_contents(c)) for uri, c in schemas.items())
    validator = Draft7Validator(schema, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)
except ImportError:  # jsonschema before 4.18 (Debian bookworm's 4.10): the RefResolver store
    from jsonschema import RefResolver

    resolver = RefResolver.from_schema(schema, store=schemas)
    validator = Draft7Validator(schema, resolver=resolver, format_checker=Draft7Validator.FORMAT_CHECKER)

data = json.load(sys.stdin)
documents = data if isinstance(data, list) else [data]
errors = []
for i, doc in enumerate(documents):
    for e in validator.iter_errors(doc):
        errors.append({"document": i, "path": "/".join(str(p) for p in e.absolute_path), "message": e.message[:300]})
print(json.dumps({"documents": len(documents), "errors": errors}))
