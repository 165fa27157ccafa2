"""The Pipedrive-style response envelope: {"success": true, "data": ..., "additional_data": {...}}."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def ok(data: Any, **additional: Any) -> dict[str, Any]:
    if isinstance(data, BaseModel):
        data = data.model_dump()
    elif isinstance(data, list):
        data = [item.model_dump() if isinstance(item, BaseModel) else item for item in data]
    return {"success": True, "data": data, "additional_data": additional}
