#!/usr/bin/env python3
"""Regenerates docs/api.md from the route table in server/http/routes.c.
Run from the repository root: python3 docs/gen-api.py > docs/api.md"""
import re

src = open('server/http/routes.c').read()
rows = re.findall(r'\{"(\w+)",\s*"([^"]+)",\s*([\w| ]+),\s*"(\w+)",\s*(\w+),\s*([\w| ]+)\}', src)
out = ["# REST API", "",
       "Every operation below is served on one HTTP port and must be SigV4-signed with a fleetd access key",
       "(service `iot`; Debian's aws CLI v2 signs as `execute-api`, which is accepted too). Paths, methods,",
       "field names and errors follow AWS IoT's service model; this table mirrors `server/http/routes.c`",
       "(a unit test checks that they agree; regenerate with `python3 docs/gen-api.py > docs/api.md`).",
       "\"Read\" marks operations a read-only access key may call.", "",
       "| operation | method and path | read |", "|---|---|---|"]
for method, path, plane, op, handler, flags in rows:
    out.append(f"| {op} | `{method} {path}` | {'yes' if 'RF_READ' in flags else ''} |")
data = [op for method, path, plane, op, handler, flags in rows if 'PLANE_DATA' in plane]
if data:
    out += ["", "Signed for service `iotdata` (the iot-data plane, `boto3.client(\"iot-data\")`): " +
            ", ".join(data) + ". Publish takes the raw payload as the body (at most 128 KB) and the topic as",
            "one percent-encoded path segment."]
out += ["", "Errors are AWS REST-JSON errors: the status from the service model, an `x-amzn-ErrorType` header and",
        "a `{\"__type\", \"message\"}` body; see [errors.md](errors.md). Timestamps are epoch seconds (JSON numbers).", ""]
print("\n".join(out))
