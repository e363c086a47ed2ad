#!/usr/bin/env python3
"""Validate docs/openapi.json with openapi-spec-validator, then each live
reply recorded by tests/openapi_live.rs against it: the status must be
documented for the operation, and a JSON body must match its schema
(OpenAPI 3.0 semantics: nullable, formats, enums).

Usage: validate.py SPEC CASES.json; exits 1 listing every problem."""

import json
import sys

from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import OpenAPIV30SpecValidator


def main():
    spec = json.load(open(sys.argv[1]))
    cases = json.load(open(sys.argv[2]))
    problems = []
    for e in OpenAPIV30SpecValidator(spec).iter_errors():
        problems.append(f"spec: {'/'.join(map(str, e.path))}: {e.message}")
    checked = set()
    for case in cases:
        where = f"{case['method']} {case['path']} -> {case['status']}"
        op = spec["paths"].get(case["template"], {}).get(case["method"].lower())
        if op is None:
            problems.append(f"{where}: {case['method']} {case['template']} is not documented")
            continue
        responses = op["responses"]
        response = responses.get(str(case["status"]), responses.get("default"))
        if response is None:
            problems.append(f"{where}: status not documented (has {sorted(responses)})")
            continue
        content = response.get("content", {})
        media = case["content_type"].split(";")[0].strip()
        if media not in content:
            problems.append(f"{where}: content type {media!r} not documented (has {sorted(content)})")
            continue
        checked.add((case["method"], case["template"]))
        schema = content[media].get("schema")
        if media != "application/json" or schema is None:
            continue
        try:
            body = json.loads(case["body"])
        except ValueError as e:
            problems.append(f"{where}: not JSON: {e}")
            continue
        wrapped = {"allOf": [schema], "components": spec["components"]}
        for e in OAS30Validator(wrapped).iter_errors(body):
            at = "/".join(map(str, e.absolute_path)) or "(body)"
            problems.append(f"{where}: {at}: {e.message[:300]}")
    for path, ops in spec["paths"].items():
        for method in ops:
            if (method.upper(), path) not in checked:
                problems.append(f"{method.upper()} {path}: no live reply checked")
    for p in problems:
        print(p)
    print(f"{len(cases)} replies checked, {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


main()
