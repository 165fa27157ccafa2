"""Checks emulator JSON against the Calendar v3 discovery document shipped in google-api-python-client."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import googleapiclient

DOCUMENT_PATH = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "calendar.v3.json"
DOC: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text())
SCHEMA_OF_KIND = {
    "calendar#event": "Event", "calendar#events": "Events", "calendar#calendarListEntry": "CalendarListEntry",
    "calendar#calendarList": "CalendarList", "calendar#calendar": "Calendar", "api#channel": "Channel",
}
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def enum_values(prop: dict[str, Any]) -> list[str] | None:
    """Calendar's enums live in descriptions ("Possible values are: - "x" - ..."), a few in `enum`."""
    if "enum" in prop:
        return list(prop["enum"])
    text = prop.get("description", "")
    marker = re.search(r"possible values are", text, re.IGNORECASE)
    if marker is None:
        return None
    return re.findall(r'^\s*-\s*"([^"]+)"', text[marker.end():], re.M)


def problems(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Every field must exist in the schema, have its type, and hold an allowed enum value."""
    if "$ref" in schema:
        schema = DOC["schemas"][schema["$ref"]]
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        found: list[str] = []
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                found += problems(item, props[key], f"{path}.{key}")
            elif "additionalProperties" in schema:
                found += problems(item, schema["additionalProperties"], f"{path}.{key}")
            else:
                found.append(f"{path}.{key}: not a field of the discovery schema")
        return found
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected an array"]
        return [p for i, item in enumerate(value) for p in problems(item, schema.get("items", {}), f"{path}[{i}]")]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        fmt = schema.get("format")
        if fmt == "date-time" and not _RFC3339.match(value):
            return [f"{path}: {value!r} is not an RFC 3339 date-time"]
        if fmt == "date":
            try:
                date.fromisoformat(value)
            except ValueError:
                return [f"{path}: {value!r} is not a date"]
        if fmt == "int64" and not value.lstrip("-").isdigit():
            return [f"{path}: {value!r} is not an int64 string"]
        allowed = enum_values(schema)
        if allowed and value not in allowed:
            return [f"{path}: {value!r} is not one of {allowed}"]
        return []
    return []


def check(body: Any) -> list[str]:
    """Problems of one response body that carries a known `kind` (others are not checked)."""
    if not isinstance(body, dict) or body.get("kind") not in SCHEMA_OF_KIND:
        return []
    name = SCHEMA_OF_KIND[body["kind"]]
    return problems(body, {"$ref": name}, name)


