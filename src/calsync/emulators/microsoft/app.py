"""The Microsoft emulator as one Starlette app: Graph v1.0, `$batch`, the identity platform's
authorize and token endpoints, and the test controls."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from calsync.emulators.common.clock import Clock
from calsync.emulators.common.requests_log import RequestLog
from calsync.emulators.microsoft import batch, controls, oauth
from calsync.emulators.microsoft.config import EmulatorConfig
from calsync.emulators.microsoft.errors import GraphError
from calsync.emulators.microsoft.events_api import Api
from calsync.emulators.microsoft.store import Store
from calsync.emulators.microsoft.subscriptions import Hub
from calsync.emulators.microsoft.wire import Call, Reply

AUTHORIZE_PATH = "/{tenant}/oauth2/v2.0/authorize"
TOKEN_PATH = "/{tenant}/oauth2/v2.0/token"


class Emulator:
    """Everything one emulator instance holds."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        clock = Clock()
        self.store = Store(clock, config.users)
        self.auth = oauth.Auth(config, clock, self.store.users)
        self.hub = Hub(config, clock)
        self.store.listeners.append(self.hub.changed)
        self.api = Api(self.store, self.auth, config, self.hub)
        self.log = RequestLog()
        self.shuffle = random.Random(0)


def _headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def _response(reply: Reply) -> Response:
    if reply.body is None:
        return Response(status_code=reply.status, headers=reply.headers)
    return Response(json.dumps(reply.body), status_code=reply.status, headers=reply.headers,
                    media_type="application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")


def _body(raw: bytes) -> object:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    emu = Emulator(config or EmulatorConfig())

    async def serve(request: Request, run: object) -> tuple[Reply, bytes, dict[str, str]]:
        """Counts the request against its mailbox's concurrency limit while it is served."""
        raw = await request.body()
        headers = _headers(request)
        user = emu.api.peek_user(headers.get("authorization"))
        if user is not None:
            with emu.store.lock:
                try:
                    emu.api.limits.enter(user)
                except GraphError as exc:
                    return Reply(exc.status, exc.body(), dict(exc.headers)), raw, headers
        try:
            if emu.config.latency_ms:
                await asyncio.sleep(emu.config.latency_ms / 1000)
            reply = await run(raw, headers)  # type: ignore[operator]
        finally:
            if user is not None:
                with emu.store.lock:
                    emu.api.limits.leave(user)
        return reply, raw, headers

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def api(request: Request) -> Response:
        path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1").split("?", 1)[0]
        query = parse_qs(request.url.query, keep_blank_values=True)

        async def run(raw: bytes, headers: dict[str, str]) -> Reply:
            reply = emu.api.handle(Call(request.method, path, query, headers, raw, base(request)))
            return await reply.pending() if reply.pending is not None else reply

        reply, raw, headers = await serve(request, run)
        emu.log.add(request.method, path, query, reply.status, headers, _body(raw))
        return _response(reply)

    async def batch_endpoint(request: Request) -> Response:
        parts: list[dict[str, object]] = []

        async def run(raw: bytes, headers: dict[str, str]) -> Reply:
            status, body, done = await batch.run(emu.api, raw, headers, base(request), emu.config.max_batch_requests,
                                                 emu.shuffle)
            parts.extend(done)
            return Reply(status, body)

        reply, raw, headers = await serve(request, run)
        emu.log.add("POST", request.url.path, {}, reply.status, headers, _body(raw), parts)  # type: ignore[arg-type]
        return _response(reply)

    async def authorize(request: Request) -> Response:
        return oauth.consent_page(emu.auth, request)

    async def approve(request: Request) -> Response:
        return await oauth.approve(emu.auth, request)

    async def token(request: Request) -> Response:
        return await oauth.token_endpoint(emu.auth, request)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        emu.hub.close()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(routes=[
        Mount("/_emulator", routes=controls.routes(emu)),
        Route("/v1.0/$batch", batch_endpoint, methods=["POST"]),
        Route("/v1.0/{rest:path}", api, methods=methods),
        Route(AUTHORIZE_PATH, authorize, methods=["GET"]),
        Route(AUTHORIZE_PATH + "/approve", approve, methods=["POST"]),
        Route(TOKEN_PATH, token, methods=["POST"]),
    ], lifespan=lifespan)
    app.state.emulator = emu
    return app


def exports(config: EmulatorConfig, base_url: str) -> list[str]:
    """The `export NAME=value` lines that point calsync at this emulator (Graph root and login root)."""
    values = {
        "CALSYNC_MICROSOFT_CLIENT_ID": config.client_id,
        "CALSYNC_MICROSOFT_CLIENT_SECRET": config.client_secret,
        "CALSYNC_MICROSOFT_TENANT": config.tenant,
        "CALSYNC_MICROSOFT_GRAPH_URL": base_url,
        "CALSYNC_MICROSOFT_LOGIN_URL": base_url,
    }
    return [f"export {name}={value}" for name, value in values.items()]
