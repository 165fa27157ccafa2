"""The Pipedrive-style response envelope: {"success": true, "data": ..., "additional_data": {...}}."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel
from pydantic_core import to_json


def ok(data: Any, **additional: Any) -> dict[str, Any]:
    if isinstance(data, BaseModel):
        data = data.model_dump()
    elif isinstance(data, list):
        data = [item.model_dump() if isinstance(item, BaseModel) else item for item in data]
    return {"success": True, "data": data, "additional_data": additional}


def respond(data: Any, *, status_code: int = 200, **additional: Any) -> Response:
    """The envelope serialized in one pass by pydantic-core (fast for 500-activity pages)."""
    body = {"success": True, "data": data, "additional_data": additional}
    return Response(content=to_json(body), status_code=status_code, media_type="application/json")
