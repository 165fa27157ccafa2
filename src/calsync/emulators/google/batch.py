"""`POST /batch/calendar/v3`: multipart/mixed in, one application/http part per call out, in order.

Outer headers (Authorization above all) apply to every part unless the part sets its own;
`Content-*` outer headers do not. Each part may fail on its own inside a 200 batch.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from calsync.emulators.google.errors import ApiError, bad_request
from calsync.emulators.google.events_api import Api, Call, Reply

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


@dataclass
class Part:
    content_id: str | None
    call: Call


def _split_head(blob: bytes) -> tuple[list[bytes], bytes]:
    """Header lines and the rest, accepting CRLF or bare LF line ends."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        head, found, rest = blob.partition(sep)
        if found:
            return head.replace(b"\r\n", b"\n").split(b"\n"), rest
    return blob.replace(b"\r\n", b"\n").split(b"\n"), b""


def _headers(lines: list[bytes]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


def parse(content_type: str, body: bytes, outer: dict[str, str], base_url: str) -> list[Part]:
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/mixed") or not match:
        raise bad_request("A batch request must be multipart/mixed with a boundary.", location_type="header",
                          location="Content-Type")
    delimiter = b"--" + match.group(1).encode()
    chunks = body.split(delimiter)
    parts: list[Part] = []
    inherited = {k: v for k, v in outer.items() if not k.startswith("content-") and k not in ("host",)}
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.lstrip(b"\r\n")
        mime_lines, http_blob = _split_head(chunk)
        mime = _headers(mime_lines)
        request_lines, payload = _split_head(http_blob.lstrip(b"\r\n"))
        if not request_lines or not request_lines[0].strip():
            raise bad_request("A batch part holds no HTTP request.", location_type="other")
        words = request_lines[0].decode("latin-1").split()
        if len(words) < 2:
            raise bad_request("A batch part must start with a request line such as "
                              "'GET /calendar/v3/calendars/primary/events HTTP/1.1'.", location_type="other")
        method, target = words[0], words[1]
        url = urlsplit(target)
        headers = {**inherited, **_headers(request_lines[1:])}
        payload = payload.rstrip(b"\r\n")
        query = parse_qs(url.query, keep_blank_values=True)
        parts.append(Part(mime.get("content-id"), Call(method.upper(), url.path, query, headers, payload, base_url)))
    return parts


def _response_part(part: Part, reply: Reply) -> bytes:
    reason = HTTPStatus(reply.status).phrase if reply.status in HTTPStatus._value2member_map_ else ""
    lines = [f"HTTP/1.1 {reply.status} {reason}"]
    payload = b""
    if reply.body is not None:
        payload = json.dumps(reply.body).encode()
        lines.append("Content-Type: application/json; charset=UTF-8")
    for name, value in reply.headers.items():
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(payload)}")
    head = ["Content-Type: application/http"]
    if part.content_id:
        cid = part.content_id.strip("<>")
        head.append(f"Content-ID: <response-{cid}>")
    return ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode() + payload + b"\r\n"


def run(api: Api, content_type: str, body: bytes, outer: dict[str, str], base_url: str,
        max_parts: int) -> tuple[int, dict[str, str], bytes, list[tuple[Part, Reply]]]:
    """(status, headers, body, [(part, reply)]) for one batch request."""
    try:
        parts = parse(content_type, body, outer, base_url)
        if not parts:
            raise bad_request("A batch request needs at least one part.", location_type="other")
        if len(parts) > max_parts:
            raise bad_request(f"A batch request may hold at most {max_parts} calls; this one holds {len(parts)}.",
                              location_type="other")
    except ApiError as exc:
        return exc.code, {"Content-Type": "application/json; charset=UTF-8"}, json.dumps(exc.body()).encode(), []
    done = [(part, api.handle(part.call)) for part in parts]
    boundary = "batch_" + secrets.token_hex(12)
    out = b"".join(b"--" + boundary.encode() + b"\r\n" + _response_part(p, r) for p, r in done)
    out += b"--" + boundary.encode() + b"--\r\n"
    return 200, {"Content-Type": f"multipart/mixed; boundary={boundary}"}, out, done


def describe(part: Part, reply: Reply) -> dict[str, Any]:
    """A part in the requests log: the same shape as a top-level entry."""
    return {"content_id": part.content_id, "method": part.call.method, "path": part.call.path,
            "query": part.call.query, "status": reply.status, "headers": part.call.headers,
            "body": decode_body(part.call.body)}


def decode_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
