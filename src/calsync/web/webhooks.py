"""`POST /webhooks/calendar/{account_id}`: push notifications from calendar providers.

A notification is accepted only when the provider's factory recognises it as coming on the
channel stored for that account (Google: channel id, resource id and secret token all match;
Microsoft Graph: subscription id and secret clientState match); anything else is answered 403
and changes nothing. An accepted change only requests a sync of the account (the runner
coalesces requests); it never carries data itself. Providers that check the address before
they send (Graph's `?validationToken=`, factory `validation`) get their token echoed as
text/plain at once. Lifecycle verdicts ("reauthorize", "recreate") are handled by the push
channels (jobs/push.py) after the answer, so the provider never waits on them."""

from __future__ import annotations

import json
import logging
import threading

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from calsync.store.tables import SyncAccount
from calsync.sync import registry
from calsync.web.context import AppContext

log = logging.getLogger("calsync.web")
router = APIRouter(include_in_schema=False)
MAX_BODY = 1_000_000


def _request_sync(context: AppContext, account_id: int) -> None:
    runner = context.extras.get("runner")
    if runner is None and context.settings.broker_url:  # scaled out: never a run in a web process
        from calsync.jobs.queue import QueuedScheduler

        runner = context.extras["runner"] = QueuedScheduler.from_url(context.settings.broker_url)
    if runner is not None:
        runner.request_sync(account_id, "push")
    else:
        from calsync.jobs.runner import engine_for

        threading.Thread(target=engine_for(context).run, args=(account_id,), kwargs={"trigger": "push"},
                         daemon=True).start()


def _lifecycle(context: AppContext, account_id: int, verdict: str) -> None:
    from calsync.jobs.push import Channels

    def act() -> None:
        try:
            Channels(context).lifecycle(account_id, verdict)
        except Exception:  # logged: the next regular pass renews or recreates it anyway
            log.exception("handling %s for account %s failed", verdict, account_id)
    threading.Thread(target=act, daemon=True).start()


@router.post("/webhooks/calendar/{account_id}")
async def notification(account_id: int, request: Request) -> Response:
    context: AppContext = request.app.state.context
    session = context.sessions()
    try:
        account = session.get(SyncAccount, account_id)
        if account is None:
            return Response("no such calendar connection", status_code=404, media_type="text/plain")
        channel = json.loads(context.box.decrypt(account.credentials_encrypted)).get("channel")
        provider_name, enabled = account.provider, account.enabled
    finally:
        session.close()
    try:
        factory = registry.get(provider_name)
    except KeyError:
        factory = None
    validation = getattr(factory, "validation", None)
    token = validation(request.query_params) if validation else None
    if token is not None:  # the provider checks this address before it subscribes
        return Response(token, status_code=200, media_type="text/plain")
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response("notification too large", status_code=413, media_type="text/plain")
    recognise = getattr(factory, "notification", None)
    verdict = recognise(dict(request.headers), channel, body) if recognise and channel else None
    if verdict is None:
        return Response("not a notification of this connection's channel", status_code=403, media_type="text/plain")
    if verdict == "changed" and enabled:
        _request_sync(context, account_id)
    elif verdict in ("reauthorize", "recreate") and enabled:
        _lifecycle(context, account_id, verdict)
        _request_sync(context, account_id)  # changes may have gone unnoticed meanwhile
    return Response(status_code=200)


def install(app: FastAPI, context: AppContext) -> None:
    app.include_router(router)
