"""Propagation latency with Google push, Microsoft push and CalDAV polling, both ways, on the app
as shipped (`calsync serve` defaults: 1 s debounce, 5-minute schedule, CalDAV polled every
`CALSYNC_CALDAV_POLL_SECONDS`), embedded (SQLite, in-process runner) or on Celery (PostgreSQL,
Redis, `calsync worker` + `calsync scheduler`; `--celery`).

* calendar → CRM: an event created in the calendar as the user (Google Calendar API and Graph on
  their emulators, a PUT to Radicale); measured from that write's response until
  `GET /api/v1/activities` lists it. Google and Microsoft tell the app by push (the emulators
  POST to /webhooks/calendar/{id}); Radicale cannot, so the app polls it. Before each CalDAV write
  the bench waits a random share of the poll period, so writes land anywhere in it, as a user's do.
* CRM → calendar: `POST /api/v1/activities`; measured from its response until the calendar's API
  lists the event.

The reading side polls every 20 ms; one change in flight at a time, each after `--settle` seconds
of quiet (else a sync still pending from the previous change, such as the one an import's own
CRM write asks for, would carry the next change early and flatter the figure). For CalDAV the bench then
counts Radicale's requests (at the server) over `--idle-polls` polls of the idle account (from the
second poll after the last change on). Prints one table row per provider and direction (p50, p95, max).

Run: `.venv/bin/python -m bench.push_latency [--sides google,microsoft,caldav] [--changes 30]
[--caldav-changes 12] [--poll-seconds 60] [--idle-polls 2] [--idle-skip 2] [--celery [--workers 1]]`."""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.latency_stack import (
    UTC, Deployment, Emulator, Radicale, cleanup, connect_oauth, deployment, emulator, radicale, row,
    stored_channel, until, workdir,
)
from tests.support.ports import free_port

EMAIL, PASSWORD = "ann@example.com", "bench-password-1"
DAV_USER, DAV_PASSWORD = "ann", "ann-dav-pass-1"
REPORT_QUERY = ('<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
                '<D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter>'
                '</C:calendar-query>')


def ics(uid: str, summary: str, start: dt.datetime) -> str:
    fmt = "%Y%m%dT%H%M%SZ"
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
            f"DTSTAMP:20260101T000000Z\r\nDTSTART:{start.strftime(fmt)}\r\n"
            f"DTEND:{(start + dt.timedelta(minutes=30)).strftime(fmt)}\r\nSUMMARY:{summary}\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")


class Side:
    """One provider as a user sees it: writes an event in the calendar, reads whether one is there."""

    name = ""
    pushes = True

    def connect(self, app: Deployment, api: httpx.Client) -> None:
        raise NotImplementedError

    def write(self, summary: str, start: dt.datetime) -> None:
        raise NotImplementedError

    def lists(self, summary: str) -> bool:
        raise NotImplementedError


class GoogleSide(Side):
    name = "Google push (emulator)"

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.calendar = EMAIL  # the primary calendar's id is the address
        self.api = emu.client.client(EMAIL)

    def connect(self, app: Deployment, api: httpx.Client) -> None:
        connect_oauth(app.base, self.emu, EMAIL, PASSWORD, EMAIL)
        reply = api.patch("/api/v1/calendar-sync", json={"calendar_id": self.calendar})
        assert reply.status_code == 200, reply.text

    def write(self, summary: str, start: dt.datetime) -> None:
        made = self.api.post(f"/calendars/{self.calendar}/events", json={
            "summary": summary, "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + dt.timedelta(minutes=30)).isoformat()}})
        assert made.status_code == 200, made.text

    def lists(self, summary: str) -> bool:
        return summary in self.api.get(f"/calendars/{self.calendar}/events", params={"maxResults": 2500}).text


class MicrosoftSide(Side):
    name = "Microsoft push (emulator)"

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.calendar = ""
        self.api = emu.client.client(EMAIL)

    def connect(self, app: Deployment, api: httpx.Client) -> None:
        connect_oauth(app.base, self.emu, EMAIL, PASSWORD, EMAIL)
        with httpx.Client(base_url=app.base, headers=dict(api.headers), timeout=60) as client:
            self.calendar = client.get("/api/v1/calendar-sync/calendars").json()["data"][0]["id"]
        reply = api.patch("/api/v1/calendar-sync", json={"calendar_id": self.calendar})
        assert reply.status_code == 200, reply.text

    def write(self, summary: str, start: dt.datetime) -> None:
        fmt = "%Y-%m-%dT%H:%M:%S"
        made = self.api.post(f"/me/calendars/{self.calendar}/events", json={
            "subject": summary, "start": {"dateTime": start.strftime(fmt), "timeZone": "UTC"},
            "end": {"dateTime": (start + dt.timedelta(minutes=30)).strftime(fmt), "timeZone": "UTC"}})
        assert made.status_code == 201, made.text

    def lists(self, summary: str) -> bool:
        return summary in self.api.get(f"/me/calendars/{self.calendar}/events", params={"$top": 1000}).text


class CalDavSide(Side):
    name = "CalDAV polling (Radicale)"
    pushes = False

    def __init__(self, server: Radicale) -> None:
        self.server = server
        self.calendar = server.make_calendar(DAV_USER, "work")
        self.dav = httpx.Client(auth=(DAV_USER, DAV_PASSWORD), timeout=60)

    def connect(self, app: Deployment, api: httpx.Client) -> None:
        reply = api.post("/api/v1/calendar-sync/connect", json={
            "provider": "caldav", "url": self.server.url, "username": DAV_USER, "password": DAV_PASSWORD,
            "calendar": "work"})
        assert reply.status_code == 201, reply.text

    def write(self, summary: str, start: dt.datetime) -> None:
        put = self.dav.put(f"{self.calendar}{uuid.uuid4().hex}.ics", content=ics(uuid.uuid4().hex, summary, start).encode(),
                           headers={"Content-Type": "text/calendar; charset=utf-8"})
        assert put.status_code == 201, put.text

    def lists(self, summary: str) -> bool:
        return summary in self.dav.request("REPORT", self.calendar, content=REPORT_QUERY,
                                           headers={"Depth": "1", "Content-Type": "application/xml"}).text


def only_account(app: Deployment) -> int:
    from calsync.store.db import session_scope
    from calsync.store.tables import SyncAccount

    with session_scope(app.context.sessions) as session:
        return int(session.scalar(select(SyncAccount.id)))  # type: ignore[arg-type]


def last_run(app: Deployment) -> int:
    """The id of the latest finished run."""
    from calsync.store.db import session_scope
    from calsync.store.tables import SyncRun

    with session_scope(app.context.sessions) as session:
        return int(session.scalar(select(func.max(SyncRun.id)).where(SyncRun.finished_at.is_not(None))) or 0)


def running(app: Deployment) -> bool:
    """Whether a run has started and not finished (its requests belong to no finished run yet)."""
    from calsync.store.db import session_scope
    from calsync.store.tables import SyncRun

    with session_scope(app.context.sessions) as session:
        return bool(session.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.finished_at.is_(None))))


def finished_since(app: Deployment, run_id: int) -> int:
    from calsync.store.db import session_scope
    from calsync.store.tables import SyncRun

    with session_scope(app.context.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(SyncRun).where(
            SyncRun.id > run_id, SyncRun.finished_at.is_not(None))) or 0)


def measure(side: Side, app: Deployment, token: str, changes: int, poll: float, idle_polls: int,
            settle: float, settle_polls: int = 2) -> dict[str, Any]:
    """Connects the side, waits for the first sync (and the push channel), then `changes` writes
    each way; for a polled side, the idle polls' request count."""
    api = httpx.Client(base_url=app.base, headers={"X-Api-Token": token}, timeout=60)
    side.connect(app, api)
    until(lambda: api.get("/api/v1/calendar-sync").json()["data"]["last_success_at"] is not None, timeout=300)
    account_id = only_account(app)
    if side.pushes:
        until(lambda: stored_channel(app.context, account_id) is not None, timeout=120)
    day = dt.datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    window = {"start_date": str(day.date()), "end_date": str((day + dt.timedelta(days=3)).date())}

    def subjects() -> str:
        return api.get("/api/v1/activities", params=window).text

    inbound: list[float] = []
    outbound: list[float] = []
    rng = random.Random(7)
    for n in range(changes):
        start = day + dt.timedelta(minutes=15 * n)
        time.sleep(settle)  # the previous change's follow-up syncs are over: each figure is a whole path
        if not side.pushes:
            time.sleep(rng.uniform(0, poll))  # the write lands anywhere in the poll period
        summary = f"Calendar event {n} {uuid.uuid4().hex[:6]}"
        side.write(summary, start)
        inbound.append(until(lambda: summary in subjects(), timeout=poll * 3 + 60))
        subject = f"CRM meeting {n} {uuid.uuid4().hex[:6]}"
        time.sleep(settle)
        made = api.post("/api/v1/activities", json={"subject": subject, "type": "meeting",
                                                    "start": (start + dt.timedelta(days=1)).isoformat()})
        assert made.status_code == 201, made.text
        outbound.append(until(lambda: side.lists(subject), timeout=120))
        print(f"{side.name} #{n}: in {inbound[-1]:.2f} s, out {outbound[-1]:.2f} s", file=sys.stderr, flush=True)
    found: dict[str, Any] = {"inbound": inbound, "outbound": outbound}
    if isinstance(side, CalDavSide) and idle_polls:
        # from the end of a run (none running) until `idle_polls` more have finished and none is
        # running: every request Radicale counts belongs to a run counted here. The first poll
        # after calsync's own write is left out (`settle_polls`): it sees that write in the
        # sync-collection once and makes a second REPORT, which is not an idle poll
        last = last_run(app)
        until(lambda: finished_since(app, last) >= settle_polls and not running(app), timeout=poll * 3 + 60,
              every=0.005)
        side.server.count(reset=True)
        first = last_run(app)
        until(lambda: finished_since(app, first) >= idle_polls and not running(app),
              timeout=poll * (idle_polls + 2) + 60, every=0.2)
        found["idle"] = {"runs": finished_since(app, first), "requests": side.server.count(),
                         "seconds": poll * idle_polls}
    api.close()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sides", default="google,microsoft,caldav")
    parser.add_argument("--changes", type=int, default=30, help="changes each way with push")
    parser.add_argument("--caldav-changes", type=int, default=12, help="changes each way with CalDAV polling")
    parser.add_argument("--poll-seconds", type=float, default=60.0, help="CALSYNC_CALDAV_POLL_SECONDS")
    parser.add_argument("--idle-polls", type=int, default=2, help="idle CalDAV polls to count requests over")
    parser.add_argument("--idle-skip", type=int, default=2,
                        help="runs to let finish after the last change before counting (0 takes in the first poll "
                             "after calsync's own write)")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds of quiet before each write, so no sync from the last change is pending")
    parser.add_argument("--celery", action="store_true", help="PostgreSQL + Redis + `calsync worker`/`scheduler`")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    mode = "celery" if args.celery else "embedded"
    lines: list[str] = []
    notes: list[str] = []
    for kind in [s.strip() for s in args.sides.split(",") if s.strip()]:
        work = workdir(f"latency-{kind}")
        port = free_port()
        with ExitStack() as stack:
            env = {"CALSYNC_CALDAV_POLL_SECONDS": str(int(args.poll_seconds))}
            if kind in ("google", "microsoft"):
                emu = stack.enter_context(emulator(kind, [EMAIL], f"http://127.0.0.1:{port}/oauth/{kind}/callback", work))
                env.update(emu.env())
                side: Side = GoogleSide(emu) if kind == "google" else MicrosoftSide(emu)
            elif kind == "caldav":
                side = CalDavSide(stack.enter_context(radicale({DAV_USER: DAV_PASSWORD}, work)))
            else:
                print(f"unknown side {kind!r}: google, microsoft or caldav", file=sys.stderr)
                return 2
            app = stack.enter_context(deployment(work, port, mode=mode, env=env, workers=args.workers))
            from calsync.crm.services import accounts as crm_accounts
            from calsync.store.db import session_scope

            with session_scope(app.context.sessions) as session:
                _, token = crm_accounts.add_user(session, app.context.box, email=EMAIL, password=PASSWORD,
                                                 company_name="Acme", name="Ann")
            found = measure(side, app, token, args.changes if side.pushes else args.caldav_changes,
                            args.poll_seconds, args.idle_polls, args.settle, args.idle_skip)
        cleanup(work)  # kept (with the processes' logs) only when the bench failed
        label = side.name + (f", every {int(args.poll_seconds)} s" if not side.pushes else "")
        lines.append(row(f"{label}: calendar → CRM", found["inbound"]))
        lines.append(row(f"{label}: CRM → calendar", found["outbound"]))
        if "idle" in found:
            idle = found["idle"]
            per = idle["requests"].get("total", 0) / max(1, idle["runs"])
            methods = ", ".join(f"{k} {v}" for k, v in idle["requests"].items() if k != "total")
            notes.append(f"- CalDAV idle polls: {idle['runs']} runs, "
                         f"{idle['requests'].get('total', 0)} requests at Radicale ({methods}): {per:.1f} per poll")
    print(f"mode: {mode}" + (f", {args.workers} worker(s)" if args.celery else ""))
    print("| provider: direction | changes | p50 | p95 | max |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(lines))
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
