"""One API request and its answer, as the JSON providers (Google, Microsoft) describe them: a
write is split into the call it sends and the reading of the answer, so the same rules apply to
a lone request and to a part of a batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from calsync.sync.provider import Event, Write


@dataclass
class Call:
    """One API request: method, path below the API root, query, JSON body, headers."""

    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Answer:
    """An API answer, from a single request or from a batch part (headers where the batch has them)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def message(self) -> str:
        """The error message of a Google or Graph error body (`error.message`), else the start of the body."""
        try:
            return str(self.body["error"]["message"])
        except (KeyError, TypeError):
            return str(self.body)[:200] if self.body else ""


class CallWriter(Protocol):
    """What a provider's writer offers a batch: the request each kind of write sends."""

    def create_call(self, event: Event, send_invitations: bool) -> Call: ...

    def update_call(self, event: Event, etag: str | None, send_invitations: bool) -> Call: ...

    def delete_call(self, calendar_id: str, event_id: str, etag: str | None) -> Call: ...


def call_for(writer: CallWriter, write: Write) -> Call:
    """The request one `Write` sends, the same for a lone request and a batch part."""
    if write.kind == "create":
        assert write.event is not None
        return writer.create_call(write.event, write.send_invitations)
    if write.kind == "update":
        assert write.event is not None
        return writer.update_call(write.event, write.etag, write.send_invitations)
    if write.kind == "delete":
        return writer.delete_call(write.calendar_id, write.event_id, write.etag)
    raise ValueError(f"unknown write kind {write.kind!r}")
