"""CalDAV sync, calsync against vdirsyncer, on the same Radicale collections (1,000 and 5,000
events, 10% of them weekly series), in one run.

For each collection size, both tools sync the collection: calsync into its CRM (the sync engine
importing events as activities in SQLite), vdirsyncer into a filesystem storage. Phases:

1. initial sync (empty CRM / empty folder);
2. idle sync (nothing changed);
3. 1% of the events changed on the server (edited by a third client), then each tool syncs;
4. 1% changed on the tool's own side (calsync: activities edited in the CRM; vdirsyncer: .ics
   files edited in its folder), then each tool syncs and uploads.

Each sync runs as its own process; we report the process's wall time, its peak memory (ru_maxrss
from wait4), and the HTTP requests Radicale received during it, counted at the server by a WSGI
middleware (bench/radicale_counting.py). For calsync we also report the time of the engine's run
inside the process (what the long-running server pays per sync; the process adds interpreter start
and imports). vdirsyncer is a command-line tool, so its process time is what it costs.

Collections are loaded by writing the .ics files into Radicale's storage folder (not one PUT per
item); Radicale indexes them on the first listing, which happens before any measurement.

Run: python -m bench.caldav_vs_vdirsyncer [--sizes 1000 5000] [--no-write]
"""

from __future__ import annotations

import os

# The benchmark's Radicale runs on 127.0.0.1: a private address, refused unless allowed.
os.environ.setdefault("CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS", "true")

import argparse
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import calsync.providers  # noqa: F401  (registers the built-in calendar providers)

HEADING = "CalDAV sync vs vdirsyncer"
USER, PASSWORD = "bench", "bench-pass-1"
UTC = dt.timezone.utc
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------- server and data


@dataclass
class Server:
    url: str
    storage: Path
    process: subprocess.Popen[bytes]

    def count(self, reset: bool = False) -> dict[str, int]:
        response = httpx.post(self.url + "__count") if reset else httpx.get(self.url + "__count")
        return response.json()


def start_server(work: Path) -> Server:
    from tests.support.ports import free_port, wait_for_port

    storage = work / "radicale"
    (work / "htpasswd").write_text(f"{USER}:{PASSWORD}\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.radicale_counting", "--port", str(port), "--storage", str(storage),
         "--htpasswd", str(work / "htpasswd")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(work / "radicale.log", "wb"),
    )
    wait_for_port(port)
    return Server(f"http://127.0.0.1:{port}/", storage, process)


def _ics(uid: str, start: dt.datetime, summary: str, recurring: bool, n: int) -> str:
    stamp = "20260101T000000Z"
    fmt = "%Y%m%dT%H%M%SZ"
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//EN", "BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{stamp}",
        f"DTSTART:{start.strftime(fmt)}", f"DTEND:{(start + dt.timedelta(minutes=45)).strftime(fmt)}",
        f"SUMMARY:{summary}", f"LOCATION:Room {n % 17}", f"DESCRIPTION:Agenda item {n}: discuss the plan",
    ]
    if recurring:
        lines.append("RRULE:FREQ=WEEKLY;COUNT=8")
    if n % 7 == 0:
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder", "TRIGGER:-PT15M", "END:VALARM"]
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


def load_collection(server: Server, name: str, size: int, seed: int) -> tuple[str, list[str]]:
    """Writes `size` objects (10% weekly series) straight into Radicale's storage; returns the
    collection URL and the hrefs of the single events. 80% upcoming, 20% in the past month."""
    rng = random.Random(seed)
    principal = server.storage / "collection-root" / USER
    folder = principal / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR", "D:displayname": name}))
    now = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    singles: list[str] = []
    for n in range(size):
        uid = str(uuid.UUID(int=rng.getrandbits(128)))
        recurring = n % 10 == 0
        offset = dt.timedelta(hours=rng.randint(-30 * 24, 300 * 24)) if n % 5 else dt.timedelta(hours=-rng.randint(48, 30 * 24))
        (folder / f"{uid}.ics").write_text(_ics(uid, now + offset, f"Event {n}", recurring, n), newline="")
        if not recurring:
            singles.append(f"/{USER}/{name}/{uid}.ics")
    url = f"{server.url}{USER}/{name}/"
    # Let Radicale index the new files now, so no measured sync pays for it.
    httpx.request("PROPFIND", url, auth=(USER, PASSWORD), headers={"Depth": "1"}, timeout=600)
    return url, singles


def edit_on_server(server: Server, hrefs: list[str], tag: str) -> None:
    with httpx.Client(auth=(USER, PASSWORD), timeout=60) as client:
        for href in hrefs:
            text = client.get(server.url.rstrip("/") + href).text
            text = text.replace("SUMMARY:", f"SUMMARY:[{tag}] ", 1)
            client.put(server.url.rstrip("/") + href, content=text.encode(), headers={"Content-Type": "text/calendar"})


# ---------------------------------------------------------------------------- measuring processes


@dataclass
class Measure:
    seconds: float
    peak_mib: float
    requests: int
    by_method: dict[str, int] = field(default_factory=dict)
    inner_seconds: float | None = None
    note: str = ""


# A child's ru_maxrss starts from the RSS of the process it was forked from (Linux keeps the
# high-water mark across exec), so measured commands are started by a tiny spawner process
# (a bare interpreter of a few MiB) rather than by this one, which holds the test data.
_SPAWN = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def measured(server: Server, args: list[str], env: dict[str, str] | None = None) -> tuple[Measure, str]:
    server.count(reset=True)
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        started = time.perf_counter()
        process = subprocess.run([sys.executable, "-S", "-c", _SPAWN, rss.name, *args], cwd=ROOT,
                                 capture_output=True, env={**os.environ, **(env or {})})
        elapsed = time.perf_counter() - started
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:5])} failed ({process.returncode}): {process.stderr.decode()[-3000:]}")
        peak = int(open(rss.name).read() or 0) / 1024
    counts = server.count()
    return Measure(elapsed, peak, counts.pop("total"), counts), process.stdout.decode()


# ---------------------------------------------------------------------------- vdirsyncer


class Vdirsyncer:
    def __init__(self, work: Path, collection_url: str) -> None:
        self.base = work
        self.local = work / "local"
        self.local.mkdir(parents=True, exist_ok=True)
        self.config = work / "config"
        self.config.write_text(f"""[general]
status_path = "{work / 'status'}/"

[pair bench]
a = "bench_remote"
b = "bench_local"
collections = null
conflict_resolution = "a wins"

[storage bench_remote]
type = "caldav"
url = "{collection_url}"
username = "{USER}"
password = "{PASSWORD}"

[storage bench_local]
type = "filesystem"
path = "{self.local}/"
fileext = ".ics"
""")
        self.binary = str(Path(sys.executable).with_name("vdirsyncer"))
        self.env = {"VDIRSYNCER_CONFIG": str(self.config)}

    def discover(self) -> None:
        subprocess.run([self.binary, "discover"], env={**os.environ, **self.env}, check=True,
                       capture_output=True, input=b"y\n" * 4)

    def sync(self, server: Server) -> Measure:
        measure, _ = measured(server, [self.binary, "sync"], self.env)
        return measure

    def edit_local(self, count: int, tag: str) -> None:
        files = sorted(p for p in self.local.glob("*.ics") if "RRULE" not in p.read_text())[:count]
        for path in files:
            text = path.read_text()
            path.write_text(text.replace("SUMMARY:", f"SUMMARY:[{tag}] ", 1))

    def startup_seconds(self) -> float:
        started = time.perf_counter()
        subprocess.run([self.binary, "--version"], check=True, capture_output=True)
        return time.perf_counter() - started


# ---------------------------------------------------------------------------- calsync


class Calsync:
    """A CRM in SQLite with one user connected two-way to the collection."""

    def __init__(self, work: Path, collection_url: str) -> None:
        from calsync.crm.services import accounts as crm_accounts
        from calsync.store import migrate
        from calsync.store.db import make_engine, make_session_factory, session_scope
        from calsync.sync import accounts as sync_accounts
        from calsync.crypto import SecretBox

        work.mkdir(parents=True, exist_ok=True)
        self.db = f"sqlite:///{work / 'calsync.db'}"
        self.secret = "bench-secret"
        migrate.upgrade(self.db)
        self.engine = make_engine(self.db)
        self.sessions = make_session_factory(self.engine)
        box = SecretBox(self.secret)
        with session_scope(self.sessions) as s:
            user, _ = crm_accounts.add_user(s, box, email="bench@example.com", password="password-123",
                                            company_name="Bench")
            account = sync_accounts.connect(s, box, user, "caldav", {
                "url": collection_url, "username": USER, "password": PASSWORD, "calendar": collection_url})
            self.user_id, self.account_id = user.id, account.id

    def sync(self, server: Server) -> Measure:
        measure, out = measured(server, [sys.executable, "-m", "bench.caldav_vs_vdirsyncer", "step",
                                         "--db", self.db, "--secret", self.secret, "--account", str(self.account_id)])
        result = json.loads(out.strip().splitlines()[-1])
        if result["status"] != "ok":
            raise RuntimeError(f"calsync sync failed: {result}")
        measure.inner_seconds = result["seconds"]
        measure.note = f"pulled {result['pulled']}, pushed {result['pushed']}"
        return measure

    def edit_in_crm(self, count: int, tag: str) -> None:
        from sqlalchemy import select

        from calsync.crm.schemas import ActivityUpdate
        from calsync.crm.services import activities
        from calsync.store.db import session_scope
        from calsync.store.tables import Activity, User

        with session_scope(self.sessions) as s:
            user = s.get(User, self.user_id)
            rows = list(s.scalars(select(Activity).where(Activity.owner_id == self.user_id, Activity.deleted.is_(False),
                                                         Activity.read_only.is_(False)).order_by(Activity.id).limit(count)))
            for row in rows:
                activities.update_activity(s, user, row.id, ActivityUpdate(subject=f"[{tag}] {row.subject}"))

    def activity_count(self) -> int:
        from sqlalchemy import func, select

        from calsync.store.tables import Activity

        with self.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(Activity).where(Activity.deleted.is_(False))) or 0)


def step(db: str, secret: str, account_id: int) -> None:
    """One calsync sync run in this process; prints its summary as JSON."""
    from calsync.crypto import SecretBox
    from calsync.store.db import make_engine, make_session_factory
    from calsync.sync.engine import SyncEngine, open_with_registry

    sessions = make_session_factory(make_engine(db))
    engine = SyncEngine(sessions, open_with_registry(SecretBox(secret)))
    # Warm up as a running server is: modules imported, a database connection open.
    from sqlalchemy import select

    import calsync.sync.apply  # noqa: F401
    from calsync.sync import registry
    from calsync.store.tables import SyncAccount

    registry.get("caldav")
    with sessions() as session:
        session.scalar(select(SyncAccount).where(SyncAccount.id == account_id))
    started = time.perf_counter()
    summary = engine.run(account_id, trigger="bench")
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "status": summary.status, "pulled": summary.pulled,
                      "pushed": summary.pushed, "message": summary.message}))


# ---------------------------------------------------------------------------- the run


def run_size(server: Server, work: Path, size: int) -> dict[str, Any]:
    name = f"cal{size}"
    url, singles = load_collection(server, name, size, seed=size)
    changed = max(1, size // 100)
    vdir = Vdirsyncer(work / f"vdir-{size}", url)
    vdir.discover()
    cal = Calsync(work / f"calsync-{size}", url)
    rows: dict[str, dict[str, Measure]] = {}

    rows["initial sync"] = {"calsync": cal.sync(server), "vdirsyncer": vdir.sync(server)}
    rows["idle sync"] = {"calsync": cal.sync(server), "vdirsyncer": vdir.sync(server)}
    # a settling run for calsync may be needed if the initial run wrote back; measure idle again if so
    if rows["idle sync"]["calsync"].requests > 1:
        rows["idle sync"]["calsync"] = cal.sync(server)
    rng = random.Random(size + 1)
    edit_on_server(server, rng.sample(singles, changed), "server")
    rows["1% changed on the server"] = {"calsync": cal.sync(server), "vdirsyncer": vdir.sync(server)}
    # Each tool's own-side change becomes a server change for the other: let each absorb it unmeasured.
    vdir.edit_local(changed, "local")
    vdir_local = vdir.sync(server)
    cal.sync(server)
    cal.edit_in_crm(changed, "crm")
    cal_local = cal.sync(server)
    vdir.sync(server)
    rows["1% changed on the tool's side"] = {"calsync": cal_local, "vdirsyncer": vdir_local}
    return {"size": size, "rows": rows, "activities": cal.activity_count(),
            "files": len(list(vdir.local.glob("*.ics"))), "vdir_startup": vdir.startup_seconds(), "changed": changed}


def report(results: list[dict[str, Any]], command: str) -> str:
    lines = [
        f"Command: `{command}` (one run; same Radicale process and collections for both tools; "
        f"{dt.date.today().isoformat()}, 2-core machine).",
        "",
        "Collections: 10% weekly series (8 occurrences each), 80% of the events upcoming and 20% in the past "
        "month; one in seven has a VALARM. calsync syncs into its CRM (SQLite; its first import takes only "
        "upcoming items and expands series into read-only activities); vdirsyncer 0.21 syncs the collection "
        "into a filesystem storage. Requests are counted at the server. calsync time is the engine run inside "
        "its process after loading modules and opening the database, as a running server has them (what "
        "the server pays per sync), with the whole process in brackets; vdirsyncer time is "
        "its process (a CLI; its bare start-up is given below each table). Peak memory is the process's "
        "ru_maxrss.",
        "",
    ]
    for result in results:
        lines += [
            f"**{result['size']:,} events** (1% = {result['changed']} events; after the run the CRM holds "
            f"{result['activities']:,} activities, vdirsyncer's folder {result['files']:,} files)",
            "",
            "| phase | calsync time | vdirsyncer time | ratio | calsync requests | vdirsyncer requests "
            "| calsync peak MiB | vdirsyncer peak MiB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for phase, pair in result["rows"].items():
            c, v = pair["calsync"], pair["vdirsyncer"]
            inner = c.inner_seconds if c.inner_seconds is not None else c.seconds
            methods = ", ".join(f"{k} {n}" for k, n in sorted(c.by_method.items()))
            vmethods = ", ".join(f"{k} {n}" for k, n in sorted(v.by_method.items()))
            lines.append(
                f"| {phase} | {inner:.2f} s ({c.seconds:.2f} s) | {v.seconds:.2f} s | {inner / v.seconds:.2f}× "
                f"| {c.requests} ({methods}) | {v.requests} ({vmethods}) | {c.peak_mib:.0f} | {v.peak_mib:.0f} |"
            )
        lines += ["", f"vdirsyncer start-up alone (`vdirsyncer --version`): {result['vdir_startup']:.2f} s.", ""]
        lines += targets(result)
    load = results[0].get("load", (0.0, 0.0))
    lines += [f"Machine load average (1 min) at the start and end of the run: {load[0]:.1f} / {load[1]:.1f} "
              "(2 cores; other work shares the machine, so absolute times vary between runs).", ""]
    return "\n".join(lines)


def targets(result: dict[str, Any]) -> list[str]:
    """The issue's targets, checked against this run's figures."""
    rows = result["rows"]

    def ratio(phase: str) -> float:
        c, v = rows[phase]["calsync"], rows[phase]["vdirsyncer"]
        return (c.inner_seconds if c.inner_seconds is not None else c.seconds) / v.seconds

    checks = [
        ("idle sync: 1 request", rows["idle sync"]["calsync"].requests == 1, f"{rows['idle sync']['calsync'].requests}"),
        ("idle sync: ≤ 0.25× vdirsyncer's time", ratio("idle sync") <= 0.25, f"{ratio('idle sync'):.2f}×"),
        ("1% server change: ≤ 2 requests", rows["1% changed on the server"]["calsync"].requests <= 2,
         f"{rows['1% changed on the server']['calsync'].requests}"),
        ("1% server change: ≤ 0.4× vdirsyncer's time", ratio("1% changed on the server") <= 0.4,
         f"{ratio('1% changed on the server'):.2f}×"),
        ("initial import: ≤ 1.0× vdirsyncer's time", ratio("initial sync") <= 1.0, f"{ratio('initial sync'):.2f}×"),
        ("initial import: ≤ 150 MiB", rows["initial sync"]["calsync"].peak_mib <= 150,
         f"{rows['initial sync']['calsync'].peak_mib:.0f} MiB"),
    ]
    out = [f"Targets at {result['size']:,} events:", "", "| target | this run | met |", "| --- | --- | --- |"]
    out += [f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, ok, value in checks]
    return out + [""]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "step":
        parser = argparse.ArgumentParser()
        parser.add_argument("--db")
        parser.add_argument("--secret")
        parser.add_argument("--account", type=int)
        args = parser.parse_args(argv[1:])
        step(args.db, args.secret, args.account)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--no-write", action="store_true", help="print, do not write docs/benchmarks.md")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="calsync-bench-caldav-"))
    server = start_server(work)
    try:
        load_start = os.getloadavg()[0]
        results = [run_size(server, work, size) for size in args.sizes]
        results[0]["load"] = (load_start, os.getloadavg()[0])
    finally:
        server.process.terminate()
        server.process.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    command = "python -m bench.caldav_vs_vdirsyncer" + (
        "" if args.sizes == [1000, 5000] else " --sizes " + " ".join(map(str, args.sizes)))
    section = f"## {HEADING}\n\n" + report(results, command)
    print(section)
    if not args.no_write:
        from bench.calendar_bench import write_section

        write_section(ROOT / "docs" / "benchmarks.md", HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
