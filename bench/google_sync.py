"""Google Calendar and Microsoft Graph (emulators) against CalDAV (Radicale) on the same work, in one run: the first
import of N events made in the calendar, an idle sync, pushing M new activities, pushing M
changed activities, an idle sync after the writes; one table row per phase with both sides. Requests are counted at the server for Google and Microsoft (the emulators' request logs: a
batch is one request) and by the CalDAV client for Radicale; time is the engine run.

Run: `.venv/bin/python -m bench.google_sync [--events 5000] [--pushes 1000] [--sides google,microsoft,radicale]`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import update

import calsync.providers  # noqa: F401  (registers the built-in calendar providers)
from calsync.config import Settings
from calsync.store import migrate
from calsync.store.tables import SyncAccount
from calsync.sync.provider import CalendarProvider
from calsync.web.context import AppContext
from tests.sync.harness import Harness

UTC = dt.timezone.utc
EMAIL = "bench@example.com"


def start_of(n: int) -> dt.datetime:
    base = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    return base + dt.timedelta(hours=n % 4000, minutes=(n // 4000) * 7)


class Side:
    name = ""
    calendar_id = ""

    def populate(self, count: int) -> None:
        raise NotImplementedError

    def open(self) -> CalendarProvider:
        raise NotImplementedError

    def requests(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


class GoogleSide(Side):
    name = "Google (emulator)"

    def __init__(self) -> None:
        from tests.support.google_emulator import google_emulator

        self._cm = google_emulator()
        self.emu = self._cm.__enter__()
        self.emu.post("/quota", {"per_user_per_minute": 10_000_000, "per_project_per_minute": 10_000_000})
        self.calendar_id = self.emu.add_calendar("a@example.com", "Bench")
        self.credentials = self.emu.connect("a@example.com")

    def populate(self, count: int) -> None:
        """Events made in Google Calendar (sent as batches of 1000, not counted in the figures)."""
        from calsync.providers.google.batch import encode
        from calsync.providers.google.http import path
        from calsync.providers.google.writes import Call

        token = self.emu.token("a@example.com")
        for first in range(0, count, 1000):
            calls = [Call("POST", path("calendars", self.calendar_id, "events"), {}, {
                "summary": f"Event {n}", "start": {"dateTime": start_of(n).isoformat()},
                "end": {"dateTime": (start_of(n) + dt.timedelta(minutes=30)).isoformat()}})
                for n in range(first, min(count, first + 1000))]
            body = encode(calls, "benchbatch")
            reply = self.emu.control.post(self.emu.base + "/batch/calendar/v3", content=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "multipart/mixed; boundary=benchbatch"})
            reply.raise_for_status()

    def open(self) -> CalendarProvider:
        return self.emu.open(self.credentials)  # type: ignore[no-any-return]

    def requests(self) -> int:
        log = self.emu.requests()
        return int(log[-1]["seq"]) if log else 0

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


class MicrosoftSide(Side):
    name = "Microsoft (emulator)"

    def __init__(self) -> None:
        from tests.support.harness import MicrosoftHarness
        from tests.support.microsoft_emulator import microsoft_emulator

        self._cm = microsoft_emulator()
        self.emu = self._cm.__enter__()
        self.emu.post("/throttle", {"requests_per_ten_minutes": 10_000_000})
        self.side = MicrosoftHarness(self.emu)
        self.calendar_id = self.side.calendar_id

    def populate(self, count: int) -> None:
        """Events made in Outlook (sent as `$batch` requests of 20, not counted in the figures)."""
        from calsync.providers.microsoft.batch import encode
        from calsync.providers.microsoft.http import Call, path

        fmt = "%Y-%m-%dT%H:%M:%S"
        for first in range(0, count, 20):
            calls = [Call("POST", path("me", "calendars", self.calendar_id, "events"), {}, {
                "subject": f"Event {n}", "start": {"dateTime": start_of(n).strftime(fmt), "timeZone": "UTC"},
                "end": {"dateTime": (start_of(n) + dt.timedelta(minutes=30)).strftime(fmt), "timeZone": "UTC"}})
                for n in range(first, min(count, first + 20))]
            self.side.api.post("/$batch", json=encode(calls)).raise_for_status()

    def open(self) -> CalendarProvider:
        return self.side.factory.open(self.side.credentials)

    def requests(self) -> int:
        log = self.emu.requests()
        return int(log[-1]["seq"]) if log else 0

    def close(self) -> None:
        self.side.close()
        self._cm.__exit__(None, None, None)


class RadicaleSide(Side):
    name = "CalDAV (Radicale)"

    def __init__(self) -> None:
        from calsync.providers.caldav.http import RequestCounter
        from tests.support.radicale import radicale_server

        self._cm = radicale_server({"bench": "bench-pass-1"})
        self.server = self._cm.__enter__()
        self.calendar_id = self.server.make_calendar("bench", "bench")
        self.counter = RequestCounter()

    def populate(self, count: int) -> None:
        """One PUT of the whole collection (Radicale splits it into its events)."""
        stamp = dt.datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        fmt = "%Y%m%dT%H%M%SZ"
        events = "".join(
            f"BEGIN:VEVENT\r\nUID:{uuid.uuid4().hex}\r\nDTSTAMP:{stamp}\r\nDTSTART:{start_of(n).strftime(fmt)}\r\n"
            f"DTEND:{(start_of(n) + dt.timedelta(minutes=30)).strftime(fmt)}\r\nSUMMARY:Event {n}\r\nEND:VEVENT\r\n"
            for n in range(count))
        body = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n{events}END:VCALENDAR\r\n"
        reply = self.server.put("bench", self.calendar_id, body, timeout=900)  # a whole collection at once
        if reply.status_code not in (200, 201, 204):
            raise RuntimeError(f"Radicale refused the collection upload: {reply.status_code} {reply.text[:200]}")

    def open(self) -> CalendarProvider:
        from calsync.providers.caldav import CalDavProvider

        # a long timeout: on a loaded machine a 5,000-event REPORT can take longer than the
        # default 30 s, and a timed-out run would move the work into the next phase's figures
        return CalDavProvider(self.server.url, "bench", "bench-pass-1", counter=self.counter, timeout=600)

    def requests(self) -> int:
        return self.counter.total

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


def engine_for(side: Side, folder: str) -> Harness:
    url = f"sqlite:///{folder}/{side.name.split()[0].lower()}.db"
    migrate.upgrade(url)
    context = AppContext.build(Settings(var_dir=folder, database_url=url, secret_key="bench", embedded_dav=False,  # type: ignore[arg-type]
                                        runner="none"))
    h = Harness(context)
    h.user(EMAIL)
    account_id = h.connect(EMAIL)
    with h.session() as s:
        s.execute(update(SyncAccount).where(SyncAccount.id == account_id).values(calendar_id=side.calendar_id))
    h.engine.opener = lambda account: side.open()  # type: ignore[assignment]
    h.engine.run_budget = None  # each phase is one whole run (no time budget cutting it into several)
    return h


def phase(side: Side, h: Harness, label: str, rows: list[dict[str, Any]], work: Callable[[], None] | None = None) -> None:
    if work is not None:
        work()
    before = side.requests()
    started = time.perf_counter()
    summary = h.sync(EMAIL)
    elapsed = time.perf_counter() - started
    rows.append({"side": side.name, "phase": label, "seconds": round(elapsed, 2),
                 "requests": side.requests() - before, "status": summary.status, "summary": summary.line()})
    print(f"{side.name}, {label}: {elapsed:.2f} s, {rows[-1]['requests']} requests ({summary.line()})",
          file=sys.stderr, flush=True)


def run(side: Side, events: int, pushes: int, folder: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    side.populate(events)
    h = engine_for(side, folder)
    phase(side, h, f"first import of {events:,} events", rows)
    h.sync(EMAIL)
    phase(side, h, "idle sync", rows)
    created: list[int] = []

    def create() -> None:
        created.extend(h.create(EMAIL, f"Call {n}", start=start_of(n) + dt.timedelta(minutes=40)) for n in range(pushes))

    phase(side, h, f"push {pushes:,} new activities", rows, create)
    h.sync(EMAIL)

    def edit() -> None:
        for activity_id in created:
            h.edit(EMAIL, activity_id, subject=f"Call {activity_id} (moved)")

    phase(side, h, f"push {pushes:,} changed activities", rows, edit)
    h.sync(EMAIL)
    phase(side, h, "idle sync after the writes", rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--pushes", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--sides", default="google,radicale", help="which sides to run (google, microsoft, radicale)")
    args = parser.parse_args()
    os.environ.setdefault("CALSYNC_TEST_PROVIDERS", "1")
    folder = tempfile.mkdtemp(prefix="calsync-bench-google-")
    rows: list[dict[str, Any]] = []
    makers = {"google": GoogleSide, "microsoft": MicrosoftSide, "radicale": RadicaleSide}
    for name in args.sides.split(","):
        side = makers[name.strip()]()
        try:
            rows += run(side, args.events, args.pushes, folder)
        finally:
            side.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    sides = list(dict.fromkeys(r["side"] for r in rows))
    print("| phase | " + " | ".join(f"{side} time | {side} requests" for side in sides) + " |")
    print("| --- |" + " --- | --- |" * len(sides))
    for phase_name in dict.fromkeys(r["phase"] for r in rows):
        cells = []
        for side in sides:
            found = next((r for r in rows if r["phase"] == phase_name and r["side"] == side), None)
            cells += [f"{found['seconds']:.2f} s", str(found["requests"])] if found else ["", ""]
        print(f"| {phase_name} | " + " | ".join(cells) + " |")
    print()
    for r in rows:
        print(f"- {r['side']}, {r['phase']}: {r['summary']}")

if __name__ == "__main__":
    main()
