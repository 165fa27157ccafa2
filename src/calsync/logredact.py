"""Secrets never reach a log line: API tokens (`?api_token=`), OAuth tokens and codes, passwords,
set-password links (`/set-password/<link>`) and any `Authorization` / `X-Api-Token` value are
replaced by "[redacted]".

Why at record creation (a log record factory) and not in one handler or formatter: Uvicorn's access
log, Radicale, httpx and our own modules log through different loggers and handlers (Uvicorn's
have `propagate` off), so a filter on any one of them misses the others. Every record made in
the process passes through the factory, whatever logger or handler it goes to."""

from __future__ import annotations

import logging
import re
from typing import Any

MARK = "[redacted]"
_QUERY_SECRET = re.compile(
    r"(?i)(?<![A-Za-z0-9_])((?:api_token|access_token|refresh_token|id_token|client_secret|password|code)=)[^&\s\"'#]+")
_HEADER_SECRET = re.compile(
    r"(?i)((?:proxy-)?authorization|x-api-token)(['\"]?\s*[:=,]\s*(?:b?['\"])?)"
    r"(?:(?:basic|bearer|digest|token)\s+)?[^\s\"',;)}\]]+")

# An invite or reset link signs whoever holds it in as its user until it is used.
_LINK_SECRET = re.compile(r"(/set-password/)[^\s\"'?#]+")


def redact(text: str) -> str:
    """`text` with every secret value that it spells out replaced by MARK."""
    if "/set-password/" in text:
        text = _LINK_SECRET.sub(lambda m: m.group(1) + MARK, text)
    if "=" not in text and ":" not in text and "," not in text:
        return text
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MARK, text)
    return _HEADER_SECRET.sub(lambda m: m.group(1) + m.group(2) + MARK, text)


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class _RedactedRecord(logging.LogRecord):
    def getMessage(self) -> str:  # noqa: N802  (logging's name)
        # Arguments of other types (a URL object, an exception) are redacted once formatted.
        return redact(super().getMessage())


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    record.__class__ = _RedactedRecord
    record.msg = _clean(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_clean(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _clean(v) for k, v in record.args.items()}
    return record


def install() -> None:
    """Makes every log record of this process redacted (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "calsync_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _redacted(current(*args, **kwargs))

    factory.calsync_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
