"""Many writes in few requests: Graph's JSON batching (`POST /v1.0/$batch`).

At most 20 requests per batch (Graph's limit); each carries its own `Prefer` (only the outer
`Authorization` is inherited) and a `Content-Type` when it has a body. Answers come in any
order and are matched by `id`. Each request is throttled on its own: requests answered 429 (or
5xx) inside the 200 are sent again in the next round, after the longest `Retry-After` they
carried; the others are read by the same rules as single writes (writes.py), so each Outcome
holds exactly what the single call would have returned or raised. Batches go out up to 4 at a
time (the mailbox's concurrency limit, enforced by GraphHttp's semaphore)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from calsync.providers.microsoft.auth import RECONNECT
from calsync.providers.httpretry import MAX_WAIT
from calsync.providers.microsoft.http import MAX_CONCURRENT, PREFER, GraphHttp, retry_after
from calsync.providers.calls import call_for
from calsync.providers.microsoft.writes import Answer, Call, Writer
from calsync.sync.model import Event
from calsync.sync.provider import AuthError, Outcome, ProviderError, RateLimited, Write

MAX_REQUESTS = 20
ROUNDS = 4


def encode(calls: list[Call]) -> dict[str, object]:
    """The `$batch` body: request ids are the calls' indexes; URLs relative to `/v1.0`."""
    requests = []
    for index, call in enumerate(calls):
        url = call.url.removeprefix("/v1.0") + ("?" + urlencode(call.params) if call.params else "")
        headers = {"Prefer": PREFER, **call.headers}
        request: dict[str, object] = {"id": str(index), "method": call.method, "url": url}
        if call.json is not None:
            headers["Content-Type"] = "application/json"
            request["body"] = call.json
        request["headers"] = headers
        requests.append(request)
    return {"requests": requests}


def decode(body: object, count: int) -> list[Answer | None]:
    answers: list[Answer | None] = [None] * count
    for response in (body or {}).get("responses") or [] if isinstance(body, dict) else []:
        try:
            index = int(response["id"])
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= index < count:
            answers[index] = Answer(int(response.get("status") or 0), response.get("body"),
                                    dict(response.get("headers") or {}))
    return answers


def send_batch(http: GraphHttp, calls: list[Call]) -> list[Answer | None]:
    """One `$batch` request; one Answer (or None when Graph left it out) per call."""
    response = http.send("POST", "/v1.0/$batch", json=encode(calls), cost=len(calls))
    if response.status_code != 200:
        raise ProviderError(f"Microsoft Graph refused the batch request (HTTP {response.status_code}): "
                            f"{response.text[:200]}")
    return decode(response.json(), len(calls))


def _retryable(answer: Answer | None) -> bool:
    return answer is None or answer.status in (401, 429) or answer.status >= 500


class Batcher:
    """`write_many` for the Microsoft provider."""

    def __init__(self, http: GraphHttp, writer: Writer, *, max_requests: int = MAX_REQUESTS) -> None:
        self.http = http
        self.writer = writer
        self.max_requests = max_requests
        self.batches = 0

    def _read(self, write: Write, answer: Answer) -> Event | None:
        if write.kind == "create":
            assert write.event is not None
            return self.writer.created(write.event, answer)
        if write.kind == "update":
            assert write.event is not None
            return self.writer.updated(write.event, answer)
        self.writer.deleted(write.calendar_id, write.event_id, answer)
        return None

    def send(self, calls: list[Call]) -> list[Answer | None]:
        self.batches += 1
        return send_batch(self.http, calls)

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
            chunks = [pending[s:s + self.max_requests] for s in range(0, len(pending), self.max_requests)]
            token = self.http.tokens.bearer()
            with ThreadPoolExecutor(max_workers=MAX_CONCURRENT) as pool:
                results = list(pool.map(lambda chunk: self.send([calls[i] for i in chunk]), chunks))
            again: list[int] = []
            wait = None
            for chunk, answers in zip(chunks, results):
                if any(a is not None and a.status == 401 for a in answers):
                    self.http.tokens.refresh_after_401(token)
                for index, answer in zip(chunk, answers):
                    if _retryable(answer):
                        again.append(index)
                        last[index] = answer
                        after = retry_after(answer.headers) if answer is not None else None
                        if after is not None:
                            wait = max(wait or 0.0, min(after, MAX_WAIT))
                        continue
                    assert answer is not None
                    self._settle(outcomes[index], lambda w=writes[index], a=answer: self._read(w, a))
            pending = again
        for index in pending:
            answer = last.get(index)
            if answer is not None and answer.status == 401:
                outcomes[index].error = AuthError(RECONNECT)
            elif answer is not None and answer.status >= 500:
                outcomes[index].error = ProviderError(f"Microsoft Graph failed this write (HTTP {answer.status}): "
                                                      f"{answer.message()}")
            else:
                after = retry_after(answer.headers) if answer is not None else None
                outcomes[index].error = RateLimited("Microsoft Graph's rate limit held this write back: it is "
                                                    "retried on the next sync", retry_after=after or 60.0)
        return outcomes

    @staticmethod
    def _settle(outcome: Outcome, read: Callable[[], Event | None]) -> None:
        try:
            outcome.event = read()
        except ProviderError as exc:
            outcome.error = exc
