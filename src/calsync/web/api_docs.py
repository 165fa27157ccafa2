"""/docs: Swagger UI for the REST API, served from this machine. Its files come from the
swagger-ui-py package (which ships Swagger UI's release files with their Apache-2.0 licence),
so the page works without internet, and its start-up script is one of our static files so the
Content-Security-Policy (our own scripts only) holds here too. ReDoc, which only loads from a
CDN, is not offered."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from calsync import __version__
from calsync.web.context import AppContext

ASSETS = "/docs-assets"

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>calsync API</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
  <link rel="icon" href="{assets}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{openapi}"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script src="/static/js/swagger-init.js?v={version}"></script>
</body>
</html>
"""


def swagger_ui_folder() -> Path:
    """Where the installed swagger-ui-py keeps Swagger UI's files."""
    return Path(str(files("swagger_ui") / "static"))


def install(app: FastAPI, context: AppContext) -> None:
    """Adds /docs and its assets (the app is built with FastAPI's CDN pages turned off)."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_folder())), name="docs-assets")
    page = PAGE.format(assets=ASSETS, openapi=app.openapi_url or "/openapi.json", version=__version__)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page)
