"""The gate every request to a provider passes first: the seam for a rate limit shared by all
workers.

Why a seam here: the providers' HTTP layers must ask before each request, but the shared limit
lives in Redis and is set up by the jobs when a worker starts; providers never import jobs
(DESIGN.md: dependencies point inward), so the jobs install a Gate here and the HTTP layers only
call `current()`. The default lets every request through at once (the embedded runner, the CLI,
tests), exactly as before the seam existed."""

from __future__ import annotations

from typing import Protocol


class Gate(Protocol):
    """Asked before every request to a provider ("google", "microsoft", "caldav")."""

    def wait(self, provider: str, cost: int = 1) -> None:
        """Returns when `cost` requests (a batch counts as its parts) may be sent now; raises
        RateLimited (with retry_after) when that would take longer than a request should wait."""

    def hold_back(self, provider: str, seconds: float) -> None:
        """The provider answered 429 with Retry-After `seconds`: no process sends before then."""


class Unlimited:
    """No limit: every request goes at once."""

    def wait(self, provider: str, cost: int = 1) -> None:
        return None

    def hold_back(self, provider: str, seconds: float) -> None:
        return None


_gate: Gate = Unlimited()


def set_gate(gate: Gate | None) -> None:
    """Installs the process-wide gate (None: back to no limit)."""
    global _gate
    _gate = gate if gate is not None else Unlimited()


def current() -> Gate:
    """The process-wide gate, read at each request (so one installed later applies at once)."""
    return _gate
