"""REST for the caller's own calendar sync: connection, settings, state, run now, log."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from calsync.crm.errors import Invalid
from calsync.crm.services import sync_health
from calsync.jobs.freshness import changes_arrive
from calsync.jobs.queue import STICKY, QueuedScheduler
from calsync.jobs.queued import latest_run, queued, wait_for_run
from calsync.jobs.runner import engine_for
from calsync.store.tables import User
from calsync.sync import accounts
from calsync.sync import repository as repo
from calsync.web.api.envelope import ok
from calsync.web.context import AppContext
from calsync.web.deps import current_user, get_context, get_session

router = APIRouter(prefix="/api/v1/calendar-sync", tags=["calendar sync"])


BUILTIN = "builtin"
BUILTIN_OFF = "the built-in calendar is off on this server (CALSYNC_EMBEDDED_DAV=false): connect another calendar"


def _providers(context: AppContext) -> list[dict[str, str]]:
    from calsync.sync import registry

    listed = [{"name": name, "label": registry.get(name).label} for name in registry.names()]
    if builtin_available(context):
        listed.insert(0, {"name": BUILTIN, "label": "Built-in calendar (on this server, nothing to enter)"})
    return listed


def builtin_available(context: AppContext) -> bool:
    """The built-in calendar can be connected when this app serves it at /dav/."""
    return "dav_app" in context.extras


def _request_sync(context: AppContext, account_id: int, reason: str) -> None:
    """Queues a run on the app's runner (the shared queue when scaled out), or runs it in a
    thread when there is no runner (never with a broker: web processes then run no syncs)."""
    runner = context.extras.get("runner")
    if runner is None and queued(context):
        runner = context.extras["runner"] = QueuedScheduler.from_url(context.settings.broker_url)
    if runner is not None:
        runner.request_sync(account_id, reason)
        return
    engine = engine_for(context)
    threading.Thread(target=engine.run, args=(account_id,), kwargs={"trigger": reason}, daemon=True).start()


def _view(context: AppContext, account: Any) -> dict[str, Any]:
    """The account as the API shows it, with how soon calendar changes arrive (settings page)."""
    return {**accounts.view(account), "changes_arrive": changes_arrive(context, account)}


def _body(payload: Any) -> dict[str, Any]:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise Invalid("the body must be a JSON object", field="body")
    return payload


@router.get("")
def get_sync(user: User = Depends(current_user), session: Session = Depends(get_session),
             context: AppContext = Depends(get_context)) -> dict[str, Any]:
    account = repo.account_of_user(session, user.id)
    data = {"connected": False} if account is None else {
        "connected": True, **_view(context, account), **accounts.import_type_state(session, account),
        "problems": [p.as_dict() for p in sync_health.problems(session, account, is_admin=user.is_admin)]}
    return ok(data, providers=_providers(context))


@router.patch("")
def patch_sync(payload: Any = Body(None), user: User = Depends(current_user), session: Session = Depends(get_session),
               context: AppContext = Depends(get_context)) -> dict[str, Any]:
    account = accounts.update_settings(session, context.box, user, _body(payload))
    data = {"connected": True, **_view(context, account), **accounts.import_type_state(session, account)}
    session.commit()
    from calsync.jobs.push import Channels

    Channels(context).drop_stale(account.id)  # another calendar: the old channel stops at once
    if account.enabled:
        _request_sync(context, account.id, "settings")
    return ok(data)


def _stop_channel(session: Session, context: AppContext, user: User) -> None:
    """Connecting replaces the stored credentials (and the push channel kept with them): the
    channel of the connection being replaced is stopped first."""
    from calsync.jobs.push import Channels

    account = repo.account_of_user(session, user.id)
    if account is not None:
        Channels(context).stop(account.id)


@router.delete("")
def delete_sync(user: User = Depends(current_user), session: Session = Depends(get_session),
                context: AppContext = Depends(get_context)) -> dict[str, Any]:
    from calsync.jobs.push import Channels

    account = repo.account_of_user(session, user.id)
    if account is not None:
        Channels(context).stop(account.id)  # no more notifications for a connection that is gone
    accounts.disconnect(session, user)
    session.commit()  # before the answer: a request right after it must find no connection
    return ok({"connected": False})


@router.post("/connect")
def connect(payload: Any = Body(None), user: User = Depends(current_user), session: Session = Depends(get_session),
            context: AppContext = Depends(get_context)) -> JSONResponse:
    """Connects the caller's calendar account. `{"provider": "builtin"}` is the user's own calendar
    on this server (nothing else to send). Credentials typed for an account with several writable
    calendars land in state `choose_calendar` unless `calendar`/`calendar_id` names one: the first
    sync starts once the user picks it (PATCH calendar_id), so nothing is written to a calendar
    the user did not choose."""
    body = dict(_body(payload))
    provider = body.pop("provider", None)
    if not isinstance(provider, str) or not provider.strip():
        raise Invalid("provider is required: one of " + ", ".join(p["name"] for p in _providers(context)), field="provider")
    provider = provider.strip()
    settings = {k: body.pop(k) for k in list(body) if k in accounts.SyncSettingsIn.model_fields and k != "calendar_id"}
    if provider == BUILTIN:
        if not builtin_available(context):
            raise Invalid(BUILTIN_OFF, field="provider")
        if body:
            raise Invalid(f"the built-in calendar takes no {', '.join(sorted(body))}: send only the provider", field=sorted(body)[0])
        from calsync.providers.caldav import embedded

        _stop_channel(session, context, user)
        account = embedded.connect_builtin(session, context.box, context.settings, user)
    else:
        _stop_channel(session, context, user)
        account = accounts.connect(session, context.box, user, provider, body, choose="if_several")
    if settings:
        account = accounts.update_settings(session, context.box, user, settings)
    data = {"connected": True, **_view(context, account)}
    session.commit()
    if account.calendar_id:
        _request_sync(context, account.id, "connect")
    return JSONResponse(ok(data), status_code=201)


@router.get("/calendars")
def calendars(user: User = Depends(current_user), session: Session = Depends(get_session),
              context: AppContext = Depends(get_context)) -> dict[str, Any]:
    account = accounts.get_account(session, user)
    return ok(accounts.list_calendars(context.box, account), selected=account.calendar_id)


@router.post("/sync")
def sync_now(wait: bool = Query(False), full: bool = Query(False), user: User = Depends(current_user),
             session: Session = Depends(get_session), context: AppContext = Depends(get_context)) -> JSONResponse:
    account = accounts.get_account(session, user)
    account_id = account.id
    session.rollback()  # hold no transaction while the run writes
    if queued(context):  # scaled out: a worker runs it; wait=true waits for that run
        return _queued_run(context, account_id, STICKY if full else "manual", wait, 120.0)
    if not wait:
        if full:
            threading.Thread(target=engine_for(context).run, args=(account_id,), kwargs={"trigger": "manual", "full": True}, daemon=True).start()
        else:
            _request_sync(context, account_id, "manual")
        return JSONResponse(ok({"queued": True}), status_code=202)
    summary = engine_for(context).run(account_id, trigger="manual", full=full, wait=120.0)
    return JSONResponse(ok(summary.as_dict()))


RESYNC_WAIT = 120.0


def _queued_run(context: AppContext, account_id: int, reason: str, wait: bool, timeout: float) -> JSONResponse:
    """Scale-out: the run is requested on the shared queue; with wait, the worker's run is awaited."""
    after = latest_run(context, account_id)
    _request_sync(context, account_id, reason)
    if not wait:
        return JSONResponse(ok({"queued": True}), status_code=202)
    return JSONResponse(ok(wait_for_run(context, account_id, after, timeout).as_dict()))


@router.post("/resync")
def resync(wait: bool = Query(False), user: User = Depends(current_user), session: Session = Depends(get_session),
           context: AppContext = Depends(get_context)) -> JSONResponse:
    """Sync everything again: the whole calendar is listed anew (not only the changes since the
    last cursor) and every linked pair is weighed again, so whatever a change feed missed is
    caught; nothing is duplicated (events are matched by our ids). A run already going is waited
    for, never skipped. The run log names it "resync"."""
    account = accounts.get_account(session, user)
    account_id = account.id
    session.rollback()  # hold no transaction while the run writes
    if queued(context):
        return _queued_run(context, account_id, STICKY, wait, RESYNC_WAIT)
    engine = engine_for(context)
    if not wait:
        threading.Thread(target=engine.run, args=(account_id,),
                         kwargs={"trigger": "resync", "full": True, "wait": RESYNC_WAIT}, daemon=True).start()
        return JSONResponse(ok({"queued": True}), status_code=202)
    summary = engine.run(account_id, trigger="resync", full=True, wait=RESYNC_WAIT)
    return JSONResponse(ok(summary.as_dict()))


@router.post("/start")
def start(user: User = Depends(current_user), session: Session = Depends(get_session),
          context: AppContext = Depends(get_context)) -> dict[str, Any]:
    account = accounts.set_enabled(session, user, True)
    data = {"connected": True, **_view(context, account)}
    session.commit()
    _request_sync(context, account.id, "start")
    return ok(data)


@router.post("/stop")
def stop(user: User = Depends(current_user), session: Session = Depends(get_session),
         context: AppContext = Depends(get_context)) -> dict[str, Any]:
    account = accounts.set_enabled(session, user, False)
    return ok({"connected": True, **_view(context, account)})


def _decide(decision: str, user: User, session: Session, context: AppContext) -> dict[str, Any]:
    account = accounts.decide_deletions(session, user, decision)  # type: ignore[arg-type]
    data = {"connected": True, **_view(context, account)}
    session.commit()
    _request_sync(context, account.id, decision)
    return ok(data)


@router.post("/confirm-deletions")
def confirm_deletions(user: User = Depends(current_user), session: Session = Depends(get_session),
                      context: AppContext = Depends(get_context)) -> dict[str, Any]:
    return _decide("confirmed", user, session, context)


@router.post("/cancel-deletions")
def cancel_deletions(user: User = Depends(current_user), session: Session = Depends(get_session),
                     context: AppContext = Depends(get_context)) -> dict[str, Any]:
    return _decide("cancelled", user, session, context)


@router.get("/progress", summary="How far the running sync has got (small, for polling)")
def run_progress(user: User = Depends(current_user), session: Session = Depends(get_session)) -> dict[str, Any]:
    """`running` and, while a run goes on, its `phase` (reading / importing / writing), `done` and
    `total` (null until known); `latest_run_id` changes whenever a run starts, so a page that
    polls knows when to reload its log."""
    account = repo.account_of_user(session, user.id)
    if account is None:
        return ok({"connected": False, "running": False, "latest_run_id": None})
    run = repo.running_run(session, account.id)
    data: dict[str, Any] = {"connected": True, "running": run is not None, "latest_run_id": repo.latest_run_id(session, account.id)}
    if run is not None:
        progress = run.progress or {}
        data.update(run_id=run.id, trigger=run.trigger, started_at=run.started_at.isoformat(),
                    phase=progress.get("phase", "starting"), done=progress.get("done", 0), total=progress.get("total"))
    return ok(data)


@router.get("/log")
def run_log(limit: int = Query(20, ge=1, le=200), user: User = Depends(current_user),
            session: Session = Depends(get_session)) -> dict[str, Any]:
    account = accounts.get_account(session, user)
    runs = [
        {
            "id": run.id, "trigger": run.trigger, "status": run.status,
            "started_at": run.started_at.isoformat(), "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "pulled": run.pulled, "pushed": run.pushed, "deleted": run.deleted, "conflicts": run.conflicts,
            "skipped": run.skipped, "error": run.error, "entries": run.entries or [],
        }
        for run in repo.recent_runs(session, account.id, limit)
    ]
    return ok(runs)


def install(app: FastAPI, context: AppContext) -> None:
    """Adds the calendar-sync routes."""
    app.include_router(router)
