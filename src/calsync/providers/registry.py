"""Provider factories by name: the one place the product looks up how to connect to "caldav",
"memory", "google"... Providers register themselves; the engine and the API only call `get()`."""

from __future__ import annotations

import importlib
import threading

from calsync.sync.provider import ProviderFactory

_factories: dict[str, ProviderFactory] = {}
_lock = threading.Lock()

# Modules imported lazily the first time the registry is read, so each registers its factory
# without the registry importing provider code up front. A module that is missing (a provider
# not built yet) is simply absent from `names()`.
_BUILTIN_MODULES = ("calsync.providers.memory", "calsync.providers.caldav")
_loaded = False


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
    """The factory for `name`; KeyError when no such provider is registered."""
    _load_builtins()
    with _lock:
        return _factories[name]


def names() -> list[str]:
    """Registered provider names, sorted."""
    _load_builtins()
    with _lock:
        return sorted(_factories)
