"""Propagation latency of the built-in calendar, both ways, on the app as shipped (Radicale
mounted at /dav/, 1 s debounce, 5-minute schedule): embedded (SQLite, the in-process runner) or
on Celery (`--celery`: PostgreSQL, Redis, `calsync worker` + `calsync scheduler`, the workers
reaching /dav/ over HTTP at CALSYNC_BASE_URL).

* calendar → CRM: a calendar app PUTs a new event into bob's built-in calendar (his own
  password, over HTTP); measured from the PUT's response until `GET /api/v1/activities` lists it.
* CRM → calendar: `POST /api/v1/activities`; measured from its response until a calendar app's
  REPORT of bob's calendar holds the event.

The reading side polls every 20 ms. Changes are sequential (one in flight), each after
`--settle` seconds of quiet, so each measures a whole debounce + sync run (a sync still pending
from the previous change would carry the next one early). Prints p50, p95 and max per direction.

Run: `.venv/bin/python -m bench.builtin_latency [--changes 50] [--celery [--workers 1]]`."""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid

import httpx

from bench.latency_stack import cleanup, deployment, row, until, workdir
from calsync.crm.services import accounts as crm_accounts
from calsync.store.db import session_scope
from tests.support.ports import free_port

UTC = dt.timezone.utc
EMAIL, PASSWORD = "bob@example.com", "bench-password-1"
QUERY = ('<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
         '<D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>')


def ics(uid: str, summary: str, start: dt.datetime) -> bytes:
    fmt = "%Y%m%dT%H%M%SZ"
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
            f"DTSTAMP:20260101T000000Z\r\nDTSTART:{start.strftime(fmt)}\r\n"
            f"DTEND:{(start + dt.timedelta(minutes=30)).strftime(fmt)}\r\nSUMMARY:{summary}\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n").encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds of quiet before each write")
    parser.add_argument("--celery", action="store_true", help="PostgreSQL + Redis + `calsync worker`/`scheduler`")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    work = workdir("builtin")
    port = free_port()
    with deployment(work, port, mode="celery" if args.celery else "embedded", workers=args.workers) as app:
        base = app.base
        context = app.context
        with session_scope(context.sessions) as session:
            _, token = crm_accounts.add_user(session, context.box, email=EMAIL, password=PASSWORD, company_name="Acme",
                                             name="Bob")
        api = httpx.Client(base_url=base, headers={"X-Api-Token": token}, timeout=60)
        dav = httpx.Client(auth=(EMAIL, PASSWORD), timeout=60)
        calendar = f"{base}/dav/{EMAIL}/calendar/"
        assert api.post("/api/v1/calendar-sync/connect", json={"provider": "builtin"}).status_code == 201
        until(lambda: api.get("/api/v1/calendar-sync").json()["data"]["last_success_at"] is not None)
        day = dt.datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
        window = {"start_date": str(day.date()), "end_date": str((day + dt.timedelta(days=2)).date())}

        def subjects() -> list[str]:
            return [a["subject"] for a in api.get("/api/v1/activities", params=window).json()["data"]]

        def in_calendar() -> str:
            return dav.request("REPORT", calendar, content=QUERY, headers={"Depth": "1", "Content-Type": "application/xml"}).text

        inbound: list[float] = []
        outbound: list[float] = []
        for n in range(args.changes):
            start = day + dt.timedelta(minutes=15 * n)
            summary = f"Phone call {n} {uuid.uuid4().hex[:6]}"
            time.sleep(args.settle)
            put = dav.put(f"{calendar}bench-{n}.ics", content=ics(f"bench-{n}@bench", summary, start),
                          headers={"Content-Type": "text/calendar; charset=utf-8"})
            assert put.status_code == 201, put.text
            inbound.append(until(lambda: summary in subjects()))

            subject = f"CRM meeting {n} {uuid.uuid4().hex[:6]}"
            time.sleep(args.settle)
            made = api.post("/api/v1/activities", json={"subject": subject, "type": "meeting",
                                                        "start": (start + dt.timedelta(days=1)).isoformat()})
            assert made.status_code == 201, made.text
            outbound.append(until(lambda: subject in in_calendar()))
        api.close()
        dav.close()
    cleanup(work)  # kept (with the processes' logs) only when the bench failed
    print(f"mode: {'celery, ' + str(args.workers) + ' worker(s)' if args.celery else 'embedded'}")
    print("| direction | changes | p50 | p95 | max |")
    print("| --- | --- | --- | --- | --- |")
    print(row("calendar app → CRM (PUT to /dav/ → GET /api/v1/activities)", inbound))
    print(row("CRM → calendar app (POST /api/v1/activities → REPORT of /dav/)", outbound))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
