"""Calls reqtrack's API from its OpenAPI document, with the standard library only.

No Python client generator is installable here, so this is not generated code: it reads the
live document (/docs/json), finds each operation by its operationId, fills the path template
and checks the answer's status against the statuses the document declares.
Usage: python3 openapi_client.py BASE_URL API_KEY
"""
import json
import sys
import urllib.error
import urllib.request

base, key = sys.argv[1], sys.argv[2]
with urllib.request.urlopen(base + "/docs/json") as answer:
    doc = json.load(answer)
operations = {
    op["operationId"]: (method.upper(), path, op)
    for path, item in doc["paths"].items()
    for method, op in item.items()
}


def call(operation_id, path_params=None, body=None):
    method, path, op = operations[operation_id]
    for name, value in (path_params or {}).items():
        path = path.replace("{" + name + "}", urllib.request.quote(value, safe=""))
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("authorization", "Bearer " + key)
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request) as answer:
            status, text = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    if str(status) not in op["responses"]:
        raise SystemExit(f"{operation_id}: status {status} is not in the document")
    return status, (json.loads(text) if text else None)


status, created = call("createRequest", body={"userId": "user-py", "kind": "py_client"})
call("transitionRequest", {"id": created["id"]}, {"to": "running", "workerId": "w-py"})
_, got = call("getRequest", {"id": created["id"]})
missing_status, missing = call("getRequest", {"id": "req_nope"})
print(json.dumps({
    "status": status,
    "tenantId": created["tenantId"],
    "running": got["status"],
    "missing": [missing_status, missing["code"]],
}))
