"""Query and path parameters read by hand where FastAPI's own parsing would give vague errors
(ids that may be "everyone", booleans written 0/1, ids too large for the database)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from calsync.crm.errors import Invalid
from calsync.crm.schemas import MAX_ID

ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="the object's id")]

_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no"}


def parse_owner(value: str | None) -> int | None:
    """`owner_id`: a user id, or absent / `everyone` for every user the viewer may see."""
    if value is None or value.strip().lower() in ("", "everyone", "all"):
        return None
    return parse_id(value, "owner_id")


def parse_id(value: str, field: str) -> int:
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise Invalid(f"{field} must be a positive integer id (got '{value[:40]}')", field=field)
    return int(text)


def parse_bool(value: str | None, field: str) -> bool | None:
    if value is None or value == "":
        return None
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Invalid(f"{field} must be 1/true or 0/false (got '{value[:40]}')", field=field)


def parse_limit(value: str | None, default: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise Invalid(f"limit must be a whole number from 1 to {maximum} (got '{value[:40]}')", field="limit")
    return int(text)


def parse_start(value: str | None) -> int:
    if value is None or value == "":
        return 0
    text = value.strip()
    if not text.isdigit() or int(text) > MAX_ID:
        raise Invalid(f"start must be a whole number of items to skip (got '{value[:40]}')", field="start")
    return int(text)


def clean_text(value: str | None, field: str, max_length: int = 200) -> str | None:
    """Refuses NUL characters and absurd lengths in free-text query parameters."""
    if value is None:
        return None
    if "\x00" in value or len(value) > max_length:
        raise Invalid(f"{field} is not valid: at most {max_length} characters, no NUL", field=field)
    return value
