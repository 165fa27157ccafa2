"""Checks emulator JSON against the msgraph-sdk (Kiota) models: every field a Graph v1.0 model knows.

Kiota puts every property a model does not define into `additional_data`; only `@odata.*`
annotations (and `@removed` in delta pages) may land there.
"""

from __future__ import annotations

import json
from typing import Any

from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph.generated.models.calendar import Calendar
from msgraph.generated.models.event import Event
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.models.user import User

ALLOWED = ("@odata.", "@removed")


def parse(payload: dict[str, Any], model: type) -> Any:
    node = JsonParseNodeFactory().get_root_parse_node("application/json", json.dumps(payload).encode())
    return node.get_object_value(model)


def stray(obj: Any, path: str = "") -> list[str]:
    """Keys that landed in `additional_data` anywhere in a parsed model, other than annotations."""
    found: list[str] = []
    extra = getattr(obj, "additional_data", None)
    if isinstance(extra, dict):
        found += [f"{path}.{k}" for k in extra if not k.startswith(ALLOWED)]
    if hasattr(obj, "get_field_deserializers"):
        for name, value in vars(obj).items():
            if name == "additional_data" or name == "backing_store":
                continue
            found += stray(value, f"{path}.{name}")
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            found += stray(item, f"{path}[{i}]")
    return found


def _model(payload: dict[str, Any]) -> type | None:
    context = str(payload.get("@odata.context", ""))
    if "error" in payload and len(payload) == 1:
        return ODataError
    if "#subscriptions" in context:
        return Subscription
    if "Collection(event)" in context or "/events" in context or "/calendarView" in context or "iCalUId" in payload:
        return Event
    if "/calendars" in context:
        return Calendar
    if "#users/$entity" in context:
        return User
    return None


def check(payload: Any) -> list[str]:
    """Problems in one Graph JSON body (an entity, a collection, an error or a $batch answer)."""
    if not isinstance(payload, dict):
        return []
    if "responses" in payload:
        return [p for r in payload["responses"] for p in check(r.get("body"))]
    model = _model(payload)
    if model is None:
        return []
    items = payload["value"] if isinstance(payload.get("value"), list) else [payload]
    found: list[str] = []
    for i, item in enumerate(items):
        parsed = parse(item, model)
        found += [f"[{i}]{p}" for p in stray(parsed)]
    return found
