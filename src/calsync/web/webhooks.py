"""`POST /webhooks/calendar/{account_id}`: push notifications from calendar providers.

A notification is accepted only when the provider's factory recognises it as coming on the
channel stored for that account (Google: channel id, resource id and secret token all match);
anything else is answered 403 and changes nothing. An accepted change only requests a sync of
the account (the runner coalesces requests); it never carries data itself."""

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


@router.post("/webhooks/calendar/{account_id}")
def notification(account_id: int, request: Request) -> Response:
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
        recognise = getattr(registry.get(provider_name), "notification", None)
    except KeyError:
        recognise = None
    verdict = recognise(dict(request.headers), channel) if recognise and channel else None
    if verdict is None:
        return Response("not a notification of this connection's channel", status_code=403, media_type="text/plain")
    if verdict == "changed" and enabled:
        runner = context.extras.get("runner")
        if runner is not None:
            runner.request_sync(account_id, "push")
        else:
            from calsync.jobs.runner import engine_for

            threading.Thread(target=engine_for(context).run, args=(account_id,), kwargs={"trigger": "push"},
                             daemon=True).start()
    return Response(status_code=200)


def install(app: FastAPI, context: AppContext) -> None:
    app.include_router(router)
