"""Process-level tuning for a long-running server (`calsync serve`), kept out of `create_app` so
tests that build many apps in one process are not affected."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Moves what start-up allocated (modules, the app, its routes) out of the cyclic garbage
    collector's sight. Its full collections then scan only what requests allocate: on a 500-activity
    calendar page they otherwise add ~40 ms pauses to one request in ten (measured, see
    docs/benchmarks.md). Nothing is cached; objects allocated later are collected as usual."""
    gc.collect()
    gc.freeze()
