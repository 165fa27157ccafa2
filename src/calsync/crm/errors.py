"""Errors the CRM raises for bad input or missing rights; the web layer turns them into 4xx JSON."""

from __future__ import annotations


class CrmError(Exception):
    """Base: carries an HTTP-like status, a message saying what to fix, and the field at fault."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(CrmError):
    status = 404
    code = "not_found"


class Forbidden(CrmError):
    status = 403
    code = "forbidden"


class Conflict(CrmError):
    status = 409
    code = "conflict"


class Invalid(CrmError):
    status = 422
    code = "invalid"


class Unauthorized(CrmError):
    status = 401
    code = "unauthorized"
