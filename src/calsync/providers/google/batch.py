"""Many writes in few requests: Google's multipart batch (`POST /batch/calendar/v3`).

Each part is an `application/http` request with a path-only URL; the answer holds one
`application/http` response per part, in order. A batch counts against the quota as its parts,
and each part may fail on its own inside a 200 answer. Parts that hit a rate limit (403
`rateLimitExceeded`/`userRateLimitExceeded`, 429) or a 5xx are sent again in the next round,
after the longest `Retry-After` they carry (capped at MAX_WAIT; a 429's also holds back every
worker, providers/gate.py), else a back-off; the others are read by the same rules as single
writes (writes.py), so an item's Outcome holds exactly what the single call would have returned
or raised.

MAX_PARTS is 50 per request (Google allows 1000; smaller batches keep one slow or throttled
batch from holding back many writes)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

from calsync.providers import gate, retryafter
from calsync.providers.google.http import PROVIDER, GoogleHttp, RATE_REASONS
from calsync.providers.httpretry import MAX_WAIT
from calsync.providers.calls import call_for
from calsync.providers.google.writes import Answer, Call, Writer
from calsync.sync.model import Event
from calsync.providers.google.auth import RECONNECT
from calsync.sync.provider import AuthError, Outcome, ProviderError, RateLimited, Write

MAX_PARTS = 50
READ_PARTS = 1000  # reads (prefetch) go in Google's largest batches: they change nothing
ROUNDS = 3
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def encode(calls: list[Call], boundary: str) -> bytes:
    """The multipart/mixed body for `calls` (Content-ID = the item's index)."""
    from urllib.parse import urlencode

    out: list[bytes] = []
    for index, call in enumerate(calls):
        target = call.url + ("?" + urlencode(call.params) if call.params else "")
        lines = [f"{call.method} {target} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in call.headers.items()]
        payload = b""
        if call.json is not None:
            payload = json.dumps(call.json).encode()
            lines.append("Content-Type: application/json; charset=UTF-8")
        part = (f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{index}>\r\n\r\n"
                + "\r\n".join(lines) + "\r\n\r\n").encode() + payload + b"\r\n"
        out.append(part)
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def _split_head(blob: bytes) -> tuple[list[str], bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        head, found, rest = blob.partition(sep)
        if found:
            return head.decode("latin-1").replace("\r\n", "\n").split("\n"), rest
    return blob.decode("latin-1").replace("\r\n", "\n").split("\n"), b""


def decode(content_type: str, body: bytes, count: int) -> list[Answer | None]:
    """One Answer per part, placed by Content-ID (`response-item<N>`), else by order."""
    match = _BOUNDARY.search(content_type)
    if not match:
        raise ProviderError("Google's batch answer is not multipart/mixed")
    answers: list[Answer | None] = [None] * count
    chunks = body.split(b"--" + match.group(1).encode())
    position = 0
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        mime, http_blob = _split_head(chunk.lstrip(b"\r\n"))
        lines, payload = _split_head(http_blob.lstrip(b"\r\n"))
        words = lines[0].split() if lines else []
        status = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
        payload = payload.strip()
        try:
            parsed: Any = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode("utf-8", "replace")
        index = position
        for line in mime:
            found = re.search(r"content-id:\s*<?response-item(\d+)>?", line, re.IGNORECASE)
            if found:
                index = int(found.group(1))
        if 0 <= index < count:
            headers = {name.strip(): value.strip() for name, _, value in (h.partition(":") for h in lines[1:] if ":" in h)}
            answers[index] = Answer(status, parsed, headers)
        position += 1
    return answers


def _retryable(answer: Answer | None) -> bool:
    if answer is None or answer.status >= 500 or answer.status in (401, 429):
        return True
    if answer.status == 403 and isinstance(answer.body, dict):
        errors = (answer.body.get("error") or {}).get("errors") or []
        return any(e.get("reason") in RATE_REASONS for e in errors if isinstance(e, dict))
    return False


class Batcher:
    """`write_many` for the Google provider."""

    def __init__(self, http: GoogleHttp, writer: Writer, *, max_parts: int = MAX_PARTS) -> None:
        self.http = http
        self.writer = writer
        self.max_parts = max_parts
        self.batches = 0

    def _read(self, write: Write, answer: Answer) -> Event | None:
        if write.kind == "create":
            assert write.event is not None
            return self.writer.created(write.event, answer, write.send_invitations)
        if write.kind == "update":
            assert write.event is not None
            return self.writer.updated(write.event, answer)
        self.writer.deleted(write.calendar_id, write.event_id, answer)
        return None

    def send(self, calls: list[Call]) -> list[Answer | None]:
        boundary = "calsync_" + secrets.token_hex(12)
        response = self.http.send("POST", "/batch/calendar/v3", content=encode(calls, boundary),
                                  headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
                                  cost=len(calls))
        self.batches += 1
        if response.status_code != 200:
            raise ProviderError(f"Google refused the batch request (HTTP {response.status_code}): "
                                f"{response.text[:200]}")
        return decode(response.headers.get("content-type", ""), response.content, len(calls))

    def write_many(self, writes: list[Write]) -> list[Outcome]:
        outcomes = [Outcome() for _ in writes]
        calls: dict[int, Call] = {}
        for index, write in enumerate(writes):
            try:
                calls[index] = call_for(self.writer, write)
            except (ProviderError, ValueError) as exc:
                outcomes[index].error = exc if isinstance(exc, ProviderError) else ProviderError(str(exc))
        pending = sorted(calls)
        last: dict[int, Answer | None] = {}
        wait: float | None = None
        for round_number in range(ROUNDS):
            if not pending:
                break
            if round_number:
                self.http.sleep(self.http.backoff(round_number - 1, wait))
            again: list[int] = []
            wait = None
            for start in range(0, len(pending), self.max_parts):
                chunk = pending[start:start + self.max_parts]
                token = self.http.tokens.bearer()
                answers = self.send([calls[i] for i in chunk])
                if any(a is not None and a.status == 401 for a in answers):
                    self.http.tokens.refresh_after_401(token)
                for index, answer in zip(chunk, answers):
                    if _retryable(answer):
                        again.append(index)
                        last[index] = answer
                        after = retryafter.from_headers(answer.headers) if answer is not None else None
                        if after is not None:
                            wait = max(wait or 0.0, min(after, MAX_WAIT))
                            if answer is not None and answer.status == 429:
                                gate.current().hold_back(PROVIDER, after)
                        continue
                    assert answer is not None
                    self._settle(outcomes[index], lambda w=writes[index], a=answer: self._read(w, a))
            pending = again
        for index in pending:
            answer = last.get(index)
            if answer is not None and answer.status == 401:
                outcomes[index].error = AuthError(RECONNECT)
            elif answer is not None and answer.status >= 500:
                outcomes[index].error = ProviderError(f"Google Calendar failed this write (HTTP {answer.status}): "
                                                      f"{answer.message()}")
            else:
                after = retryafter.from_headers(answer.headers) if answer is not None else None
                outcomes[index].error = RateLimited("Google Calendar's rate limit held this write back: it is "
                                                    "retried on the next sync", retry_after=after or 60.0)
        return outcomes

    def get_many(self, calendar_id: str, event_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The current resources of many events, in batches of up to READ_PARTS GETs. Events that
        are missing or whose part failed are left out (a later single GET reads them)."""
        from calsync.providers.google.http import path

        found: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(event_ids))
        for start in range(0, len(ids), READ_PARTS):
            chunk = ids[start:start + READ_PARTS]
            answers = self.send([Call("GET", path("calendars", calendar_id, "events", e)) for e in chunk])
            for event_id, answer in zip(chunk, answers):
                if answer is not None and answer.status == 200 and isinstance(answer.body, dict):
                    found[event_id] = answer.body
        return found

    @staticmethod
    def _settle(outcome: Outcome, read: Callable[[], Event | None]) -> None:
        try:
            outcome.event = read()
        except ProviderError as exc:
            outcome.error = exc
