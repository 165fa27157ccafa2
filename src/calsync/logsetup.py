"""What `calsync serve` logs, by level (`--log-level`, `CALSYNC_LOG_LEVEL`; default `info`).

At `info` a person reading the log sees one line per request from a client (browser, API,
calendar app: Uvicorn's access log) and one summary line per sync run. What the product does by
itself stays out: the built-in Radicale server's start-up configuration dump and its per-request
lines, httpx's line per request the sync engine makes, Alembic's migration-check lines. The
engine's own requests to the built-in calendar are dropped from the access log by
`calsync.web.accesslog`. `debug` shows all of it again."""

from __future__ import annotations

import logging

LEVELS = ("debug", "info", "warning", "error")
# Loggers of libraries that speak for the product's own work, not for a client's request.
_QUIET = ("radicale", "httpx", "httpcore", "alembic")
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def check_level(level: str) -> str:
    """The level in lower case; ValueError that names the choices for anything else."""
    name = (level or "").strip().lower()
    if name not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)} (got {level!r})")
    return name


def configure(level: str) -> None:
    """Sets the root level and keeps the product's own chatter below it (see the module doc)."""
    name = check_level(level)
    numeric = getattr(logging, name.upper())
    logging.basicConfig(level=numeric, format=FORMAT, force=True)
    for logger in _QUIET:
        logging.getLogger(logger).setLevel(numeric if numeric == logging.DEBUG else max(numeric, logging.WARNING))
