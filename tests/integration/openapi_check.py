#!/usr/bin/env python3
"""The OpenAPI checks of test-http-openapi.sh (python3's standard library only).

openapi_check.py routes SPEC HTTP_C
    every route of agent/http.c's table is a documented path and method, and the
    reverse (the spec's {parameters} match the table's "*" and "%" segments).
openapi_check.py validate SPEC METHOD TEMPLATE STATUS BODYFILE
    STATUS is a documented answer of TEMPLATE's METHOD and BODYFILE validates against
    its schema (application/json), or is non-empty text of the documented type.

The validator covers the subset of JSON Schema the spec uses: $ref, type (object,
array, string, integer, boolean, number), properties, required, additionalProperties
(false or a schema), items, enum. Exit 1 with every problem found, each with its place.
"""
import json
import re
import sys


def resolve(spec, s):
    while "$ref" in s:
        name = s["$ref"].split("/")[-1]
        s = spec["components"]["schemas"][name]
    return s


def check(spec, s, v, where, errs):
    s = resolve(spec, s)
    t = s.get("type")
    ok = {
        "object": lambda x: isinstance(x, dict),
        "array": lambda x: isinstance(x, list),
        "string": lambda x: isinstance(x, str),
        "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
        "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
        "boolean": lambda x: isinstance(x, bool),
    }
    if t and not ok[t](v):
        errs.append(f"{where}: expected {t}, got {json.dumps(v)[:80]}")
        return
    if "enum" in s and v not in s["enum"]:
        errs.append(f"{where}: {json.dumps(v)} is not one of {s['enum']}")
    if t == "object":
        props = s.get("properties", {})
        for r in s.get("required", []):
            if r not in v:
                errs.append(f"{where}: required member '{r}' missing")
        for k, x in v.items():
            if k in props:
                check(spec, props[k], x, f"{where}.{k}", errs)
            elif s.get("additionalProperties") is False:
                errs.append(f"{where}: member '{k}' not in the schema")
            elif isinstance(s.get("additionalProperties"), dict):
                check(spec, s["additionalProperties"], x, f"{where}.{k}", errs)
    if t == "array":
        for i, x in enumerate(v):
            check(spec, s.get("items", {}), x, f"{where}[{i}]", errs)


def routes(spec, http_c):
    src = open(http_c).read()
    table = src[src.index("} routes[] = {"):]
    table = table[: table.index("};")]
    got = set()
    for m, p in re.findall(r'\{"(GET|POST)", "([^"]+)"', table):
        p = p.replace("%", "{namespace}/{kind}/{name}")
        got.add((m.lower(), re.sub(r"\{[^}]+\}|\*", "*", p)))
    doc = set()
    for p, ops in spec["paths"].items():
        for m in ops:
            doc.add((m, re.sub(r"\{[^}]+\}", "*", p)))
    errs = [f"{m.upper()} {p}: served, not documented" for m, p in sorted(got - doc)]
    errs += [f"{m.upper()} {p}: documented, not served" for m, p in sorted(doc - got)]
    return errs


def main():
    spec = json.load(open(sys.argv[2]))
    if sys.argv[1] == "routes":
        errs = routes(spec, sys.argv[3])
    else:
        method, template, status, body = sys.argv[3].lower(), sys.argv[4], sys.argv[5], sys.argv[6]
        errs = []
        op = spec["paths"].get(template, {}).get(method)
        if op is None:
            errs.append(f"{method.upper()} {template}: not documented")
        elif status not in op["responses"]:
            errs.append(f"{method.upper()} {template}: status {status} not documented")
        else:
            content = op["responses"][status].get("content", {})
            text = open(body, "rb").read().decode("utf-8")
            if "application/json" in content:
                try:
                    v = json.loads(text)
                except ValueError as e:
                    errs.append(f"{method.upper()} {template} {status}: not JSON: {e}")
                else:
                    check(spec, content["application/json"]["schema"], v, "body", errs)
            elif not text:
                errs.append(f"{method.upper()} {template} {status}: empty body")
    for e in errs:
        print(e)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
