"""Provider factories by name: the one place the product looks up how to connect to "caldav",
"memory", "google"... Providers register themselves; the engine and the API only call `get()`."""

from __future__ import annotations

import importlib
import os
import threading

from calsync.sync.provider import ProviderFactory

_factories: dict[str, ProviderFactory] = {}
_lock = threading.Lock()

# Modules imported lazily the first time the registry is read, so each registers its factory
# without the registry importing provider code up front. A module that is missing (a provider
# not built yet) is simply absent from `names()`.
_BUILTIN_MODULES = ("calsync.providers.memory", "calsync.providers.caldav")
_loaded = False

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


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise


def get(name: str) -> ProviderFactory:
    """The factory for `name`; KeyError when no such provider is registered (or it is a test
    provider and test providers are not allowed here)."""
    _load_builtins()
    if not _offered(name):
        raise KeyError(name)
    with _lock:
        return _factories[name]


def names() -> list[str]:
    """Registered provider names offered to users, sorted."""
    _load_builtins()
    with _lock:
        return sorted(name for name in _factories if _offered(name))
