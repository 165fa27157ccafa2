"""`POST /v1.0/$batch`: JSON batching (at most 20 requests), each answered on its own.

Requests run in order unless `dependsOn` says otherwise; one whose dependency failed answers 424.
Answers come back in an order of their own (shuffled, as Graph runs requests in parallel), matched
by `id`. Only the outer Authorization header is inherited. A write request without a
Content-Type header fails the whole batch, as Graph does.
"""

from __future__ import annotations

import json
import random
from typing import Any
from urllib.parse import parse_qs, urlsplit

from calsync.emulators.microsoft.errors import GraphError
from calsync.emulators.microsoft.events_api import Api
from calsync.emulators.microsoft.wire import Call, Reply

METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def parse(raw: bytes, max_requests: int) -> list[dict[str, Any]]:
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        raise _bad("Invalid batch payload format: the body must be JSON {\"requests\": [...]}.") from None
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list) or not body["requests"]:
        raise _bad("Invalid batch payload format: the body must be JSON {\"requests\": [...]} with at least one "
                   "request.")
    requests = body["requests"]
    if len(requests) > max_requests:
        raise _bad(f"The number of batch requests ({len(requests)}) exceeds the maximum of {max_requests}.")
    seen: set[str] = set()
    for req in requests:
        if not isinstance(req, dict) or not isinstance(req.get("id"), str) or not req["id"]:
            raise _bad("Each batch request needs a string id.")
        if req["id"] in seen:
            raise _bad(f"Batch request id '{req['id']}' is used more than once.")
        seen.add(req["id"])
        if str(req.get("method", "")).upper() not in METHODS:
            raise _bad(f"Batch request id : {req['id']} has an invalid method {req.get('method')!r}.")
        url = req.get("url")
        if not isinstance(url, str) or not url or "://" in url:
            raise _bad(f"Batch request id : {req['id']} needs a relative url such as /me/events.")
        headers = req.get("headers") or {}
        if not isinstance(headers, dict):
            raise _bad(f"Batch request id : {req['id']} has headers that are not an object.")
        has_type = any(k.lower() == "content-type" for k in headers)
        if req.get("body") is not None and not has_type:
            raise _bad(f"Write request id : {req['id']} does not contain Content-Type header or body.")
        depends = req.get("dependsOn") or []
        if not isinstance(depends, list) or any(d not in {r.get("id") for r in requests} for d in depends):
            raise _bad(f"Batch request id : {req['id']} depends on an id that is not in the batch.")
    return requests


def _call(req: dict[str, Any], outer: dict[str, str], base: str) -> Call:
    url = urlsplit(req["url"] if req["url"].startswith("/") else "/" + req["url"])
    path = url.path if url.path.startswith("/v1.0/") else "/v1.0" + url.path
    headers = {k.lower(): str(v) for k, v in (req.get("headers") or {}).items()}
    if "authorization" in outer:
        headers.setdefault("authorization", outer["authorization"])
    body = req.get("body")
    raw = json.dumps(body).encode() if body is not None and not isinstance(body, str) else (body or "").encode()
    return Call(str(req["method"]).upper(), path, parse_qs(url.query, keep_blank_values=True), headers, raw, base)


async def run(api: Api, raw: bytes, outer: dict[str, str], base: str, max_requests: int,
              shuffle: random.Random | None) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    """(status, body, log parts) for one batch."""
    try:
        requests = parse(raw, max_requests)
    except GraphError as exc:
        return exc.status, exc.body(), []
    done: dict[str, tuple[Call, Reply]] = {}
    todo = list(requests)
    while todo:
        ready = [r for r in todo if all(d in done for d in (r.get("dependsOn") or []))]
        if not ready:   # a dependency cycle: fail what is left
            for req in todo:
                error = GraphError(424, "FailedDependency", "The request has a dependency cycle.")
                done[req["id"]] = (_call(req, outer, base), Reply(424, error.body()))
            break
        req = ready[0]
        todo.remove(req)
        call = _call(req, outer, base)
        if any(done[d][1].status >= 400 for d in (req.get("dependsOn") or [])):
            error = GraphError(424, "FailedDependency", "Dependency failed: a request this one depends on failed.")
            done[req["id"]] = (call, Reply(424, error.body()))
            continue
        reply = api.handle(call)
        if reply.pending is not None:
            reply = await reply.pending()
        done[req["id"]] = (call, reply)
    responses = []
    parts = []
    for req in requests:
        call, reply = done[req["id"]]
        headers = dict(reply.headers)
        if reply.body is not None:
            headers.setdefault("Content-Type", "application/json; odata.metadata=minimal; charset=utf-8")
        entry: dict[str, Any] = {"id": req["id"], "status": reply.status, "headers": headers}
        if reply.body is not None:
            entry["body"] = reply.body
        responses.append(entry)
        parts.append({"id": req["id"], "method": call.method, "path": call.path, "query": call.query,
                      "status": reply.status, "headers": call.headers, "body": req.get("body")})
    if shuffle is not None:
        shuffle.shuffle(responses)
    return 200, {"responses": responses}, parts
