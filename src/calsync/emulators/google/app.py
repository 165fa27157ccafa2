"""The emulator as one Starlette app: Calendar v3, batch, OAuth and the test controls."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from calsync.emulators.google import batch, controls, oauth
from calsync.emulators.google.clock import Clock
from calsync.emulators.google.config import EmulatorConfig
from calsync.emulators.google.events_api import Api, Call, Reply
from calsync.emulators.google.requests_log import RequestLog
from calsync.emulators.google.store import Store
from calsync.emulators.google.watch import WatchHub

AUTH_PATH = "/o/oauth2/v2/auth"
TOKEN_PATH = "/token"
REVOKE_PATH = "/revoke"


class Emulator:
    """Everything one emulator instance holds."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        clock = Clock()
        self.store = Store(clock, config.users, config.time_zone)
        self.auth = oauth.Auth(config, clock, self.store.users)
        self.hub = WatchHub(clock, config.channel_default_ttl_seconds)
        self.store.listeners.append(self.hub.changed)
        self.api = Api(self.store, self.auth, config, self.hub)
        self.log = RequestLog()


def _headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def _reply(reply: Reply) -> Response:
    if reply.body is None:
        return Response(status_code=reply.status, headers=reply.headers)
    return Response(json.dumps(reply.body), status_code=reply.status, headers=reply.headers,
                    media_type="application/json; charset=UTF-8")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    emu = Emulator(config or EmulatorConfig())

    async def api(request: Request) -> Response:
        raw = await request.body()
        path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1").split("?", 1)[0]
        query = parse_qs(request.url.query, keep_blank_values=True)
        headers = _headers(request)
        reply = emu.api.handle(Call(request.method, path, query, headers, raw, _base(request)))
        emu.log.add(request.method, path, query, reply.status, headers, batch.decode_body(raw))
        return _reply(reply)

    async def batch_endpoint(request: Request) -> Response:
        raw = await request.body()
        headers = _headers(request)
        status, out_headers, body, done = batch.run(emu.api, headers.get("content-type", ""), raw, headers,
                                                    _base(request), emu.config.max_batch_parts)
        query = parse_qs(request.url.query, keep_blank_values=True)
        emu.log.add("POST", request.url.path, query, status, headers, raw.decode("utf-8", "replace"),
                    [batch.describe(p, r) for p, r in done])
        return Response(body, status_code=status, headers=out_headers)

    async def authorize(request: Request) -> Response:
        return oauth.consent_page(emu.auth, request)

    async def approve(request: Request) -> Response:
        return await oauth.approve(emu.auth, request)

    async def token(request: Request) -> Response:
        return await oauth.token_endpoint(emu.auth, request)

    async def revoke(request: Request) -> Response:
        return await oauth.revoke_endpoint(emu.auth, request)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        emu.hub.close()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(routes=[
        Route("/calendar/v3/{rest:path}", api, methods=methods),
        Route("/batch/calendar/v3", batch_endpoint, methods=["POST"]),
        Route(AUTH_PATH, authorize, methods=["GET"]),
        Route(AUTH_PATH + "/approve", approve, methods=["POST"]),
        Route(TOKEN_PATH, token, methods=["POST"]),
        Route(REVOKE_PATH, revoke, methods=["POST"]),
        Mount("/_emulator", routes=controls.routes(emu)),
    ], lifespan=lifespan)
    app.state.emulator = emu
    return app


def exports(config: EmulatorConfig, base_url: str) -> list[str]:
    """The `export NAME=value` lines that point calsync at this emulator."""
    values = {
        "CALSYNC_GOOGLE_CLIENT_ID": config.client_id,
        "CALSYNC_GOOGLE_CLIENT_SECRET": config.client_secret,
        "CALSYNC_GOOGLE_API_URL": base_url,
        "CALSYNC_GOOGLE_AUTH_URL": base_url + AUTH_PATH,
        "CALSYNC_GOOGLE_TOKEN_URL": base_url + TOKEN_PATH,
    }
    return [f"export {name}={value}" for name, value in values.items()]
