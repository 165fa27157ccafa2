"""One API request and its answer, as the JSON providers (Google, Microsoft) describe them: a
write is split into the call it sends and the reading of the answer, so the same rules apply to
a lone request and to a part of a batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
