"""Graph's error JSON: `{"error": {"code", "message", "innerError": {"request-id", "date", ...}}}`."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any


class GraphError(Exception):
    """An API failure rendered the way Microsoft Graph renders it."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        return {"error": {"code": self.code, "message": self.message, "innerError": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": request_id, "client-request-id": request_id}}}


def bad_request(message: str, code: str = "ErrorInvalidRequest") -> GraphError:
    return GraphError(400, code, message)


def item_not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def unknown_property(name: str, type_name: str = "microsoft.graph.event") -> GraphError:
    return GraphError(400, "RequestBodyRead",
                      f"The property '{name}' does not exist on type '{type_name}'. Make sure to only use "
                      f"property names that are defined by the type or mark the type as open type.")


# Status -> (code, message) for faults injected without a code of their own.
FAULT_DEFAULTS = {
    400: ("BadRequest", "Bad request."),
    401: ("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    409: ("ErrorIrresolvableConflict", "The send or update operation could not be performed because the change "
                                       "key passed in the request does not match the current change key for the item."),
    412: ("ErrorIrresolvableConflict", "The send or update operation could not be performed because the change "
                                       "key passed in the request does not match the current change key for the item."),
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("ErrorInternalServerError", "An internal server error occurred. The operation failed."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Retry after the time given in Retry-After."),
    504: ("GatewayTimeout", "The gateway timed out."),
}
