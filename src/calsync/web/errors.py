"""Every error leaves as JSON that says what is wrong and how to fix it; never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from calsync.crm.errors import CrmError

log = logging.getLogger("calsync.web")


def error_body(status: int, code: str, message: str, field: str | None = None) -> dict:
    body: dict = {"success": False, "error": message, "error_info": code}
    if field:
        body["field"] = field
    return body


def _field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CrmError)
    async def _crm(_request: Request, exc: CrmError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.code, exc.message, exc.field), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for item in exc.errors():
            name = _field_name(tuple(item.get("loc", ())))
            message = item.get("msg", "is not valid")
            if item.get("type") == "extra_forbidden":
                message = "is not a field of this object: remove it or check its spelling"
            elif item.get("type") == "json_invalid":
                name, message = "body", "the body is not valid JSON"
            problems.append({"field": name, "message": message})
        first = problems[0] if problems else {"field": "body", "message": "is not valid"}
        body = error_body(422, "invalid", f"{first['field']}: {first['message']}", first["field"])
        body["errors"] = problems
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "there is nothing at this address", 405: "this method is not allowed here"}
        if exc.detail == "There was an error parsing the body":  # FastAPI's words for unreadable JSON
            exc.detail = "the body could not be read (not JSON, or nested too deeply): send one JSON object"
        message = exc.detail if isinstance(exc.detail, str) and exc.detail not in ("Not Found", "Method Not Allowed") else messages.get(exc.status_code, str(exc.detail))
        return JSONResponse(error_body(exc.status_code, "http_error", message), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(
            error_body(500, "internal", "something went wrong on our side; it has been logged"), status_code=500
        )
