"""Calendar providers behind the Protocol in calsync.sync.provider, one module or package each.

Importing this package registers the built-in providers in calsync.sync.registry; the outer
layers (web app, CLI, runner) import it, sync itself never does."""

from calsync.providers import caldav, google, memory, microsoft

__all__ = ["caldav", "google", "memory", "microsoft"]
