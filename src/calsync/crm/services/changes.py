"""A tiny observer so the CRM can say "activity X of user U changed" without knowing who listens
(the sync runner debounces and schedules a sync). Sync's own writes are not announced."""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[[int, int], None]  # (owner user id, activity id)
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def announce(owner_id: int, activity_id: int) -> None:
    for listener in list(_listeners):
        listener(owner_id, activity_id)
