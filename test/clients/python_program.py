"""A Python app's calls through the generated client (clients/python/reqtrack_client).

Usage: PYTHONPATH=clients/python python3 python_program.py BASE_URL API_KEY [REQUEST_ID]
Prints a JSON summary; any answer the document does not describe raises ResponseMismatch
and ends the program with a traceback. With REQUEST_ID it only reads that request.
"""
import json
import sys

from reqtrack_client import (
    ApiError,
    Client,
    CreateRequestBody,
    RequestDetail,
    RequestStatus,
    TransitionRequestBody,
)

client = Client(sys.argv[1], sys.argv[2])
if len(sys.argv) > 3:
    print(json.dumps(client.get_request(sys.argv[3]).to_dict()))
    sys.exit(0)

created = client.create_request(
    CreateRequestBody(user_id="user-py", kind="py_client", initial_message="hello", tags=["py"])
)
started = client.transition_request(
    created.id, TransitionRequestBody(to=RequestStatus.RUNNING, worker_id="w-py")
)
client.change_stage(created.id, "render", "start")
client.log_event(created.id, {"type": "progress", "message": "half way", "stage": "render"})
client.record_cost(created.id, {"service": "openai", "amountUsd": 0.25, "usage": {"tokens": 12}})
client.change_stage(created.id, "render", "complete", body={"output": {"frames": 24}})
done = client.transition_request(created.id, {"to": "completed", "result": {"url": "v.mp4"}})
detail = client.get_request(created.id)
events = client.list_events(created.id)
page = client.list_requests(kind="py_client", status="completed", limit=10)
overview = client.stats_overview()

errors = {}
try:
    client.get_request("req_nope")
except ApiError as error:
    errors["missing"] = [error.status, error.code]
try:
    client.create_request({"kind": "py_client"})
except ApiError as error:
    errors["invalid"] = [error.status, error.code, error.field]

print(
    json.dumps(
        {
            "created": [created.status.value, created.tenant_id, created.kind],
            "started": [started.status.value, started.worker_id],
            "done": [done.status.value, done.result],
            "detail": [
                isinstance(detail, RequestDetail),
                detail.status.value,
                [(s.name, s.status.value, s.output) for s in detail.stages],
                [(c.service, c.amount_usd) for c in detail.costs],
                detail.cost_usd,
            ],
            "events": [e.type for e in events.items if e.type == "progress"],
            "listed": [r.id == created.id for r in page.items],
            "overview": [overview.total, overview.counts_by_status.completed],
            "errors": errors,
        }
    )
)
