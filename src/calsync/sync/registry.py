"""Provider factories by name: the one place the product looks up how to connect to "caldav",
"memory", "google"... Providers register themselves when `calsync.providers` is imported (the
app, the CLI and the runner do that); the engine and the API only call `get()`. It lives in
sync/ so that sync never imports provider code."""

from __future__ import annotations

import os
import threading

from calsync.sync.provider import ProviderFactory

_factories: dict[str, ProviderFactory] = {}
_lock = threading.Lock()

# Providers for tests and demos only (the in-memory calendar): never offered to real users, nor
# usable through connect or sync, unless CALSYNC_TEST_PROVIDERS=1 is set (the test suite sets it).
TEST_ONLY = frozenset({"memory"})


def test_providers_allowed() -> bool:
    return os.environ.get("CALSYNC_TEST_PROVIDERS", "") == "1"


def _offered(name: str) -> bool:
    return name not in TEST_ONLY or test_providers_allowed()


def register(factory: ProviderFactory) -> ProviderFactory:
    """Adds (or replaces) the factory under `factory.name`; returns it so it can decorate."""
    with _lock:
        _factories[factory.name] = factory
    return factory


def unregister(name: str) -> None:
    """Removes a factory (tests that register a temporary one)."""
    with _lock:
        _factories.pop(name, None)


def get(name: str) -> ProviderFactory:
    """The factory for `name`; KeyError when no such provider is registered (or it is a test
    provider and test providers are not allowed here)."""
    if not _offered(name):
        raise KeyError(name)
    with _lock:
        return _factories[name]


def names() -> list[str]:
    """Registered provider names offered to users, sorted."""
    with _lock:
        return sorted(name for name in _factories if _offered(name))
