"""Google's error JSON: `{"error": {"errors": [...], "code": N, "message": ...}}`."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An API failure rendered exactly as Calendar v3 renders it."""

    def __init__(self, code: int, reason: str, message: str, *, domain: str = "global",
                 location: str | None = None, location_type: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"domain": self.domain, "reason": self.reason, "message": self.message}
        if self.location is not None:
            item["locationType"] = self.location_type or "parameter"
            item["location"] = self.location
        return {"error": {"errors": [item], "code": self.code, "message": self.message}}


def bad_request(message: str, *, location: str | None = None, reason: str = "invalid",
                location_type: str = "parameter") -> ApiError:
    return ApiError(400, reason, message, location=location, location_type=location_type)


def not_found() -> ApiError:
    return ApiError(404, "notFound", "Not Found")
