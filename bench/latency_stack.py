"""What the latency and throughput benches run against, each started by the bench itself on
127.0.0.1 and stopped afterwards: the Google and Microsoft emulators (`calsync emulate`, each its
own process, as Google and Microsoft are other machines), Radicale behind a request counter
(bench/radicale_counting.py), and the app under Uvicorn with the shipped defaults.

Shared by bench/push_latency.py, bench/builtin_latency.py and bench/idle_throughput.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.ports import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
UTC = dt.timezone.utc


def calsync_command(*args: str) -> list[str]:
    """`calsync ARGS` with this interpreter (so the bench's source tree is the one that runs)."""
    return [sys.executable, "-c", "from calsync.cli import app; app(prog_name='calsync')", *args]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra or {})
    return env


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# ------------------------------------------------------------------------------------------ timing

def until(check: Callable[[], bool], timeout: float = 120.0, every: float = 0.02) -> float:
    """Seconds until `check` holds (polled every 20 ms); raises after `timeout`."""
    began = time.perf_counter()
    while not check():
        if time.perf_counter() - began > timeout:
            raise TimeoutError("the change never arrived")
        time.sleep(every)
    return time.perf_counter() - began


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (p95 of 20 values is the 19th smallest)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def row(name: str, values: list[float]) -> str:
    return (f"| {name} | {len(values)} | {statistics.median(values):.2f} s | {percentile(values, 0.95):.2f} s "
            f"| {max(values):.2f} s |")


# --------------------------------------------------------------------------------------- emulators

@dataclass
class Emulator:
    kind: str  # "google" or "microsoft"
    client: Any  # tests.support.{google,microsoft}_emulator.{Google,Microsoft}Emulator
    process: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return str(self.client.base)

    def settings(self) -> dict[str, Any]:
        """The calsync settings that point at this emulator (what `calsync emulate` prints)."""
        config = self.client.config
        if self.kind == "google":
            return {"google_client_id": config.client_id, "google_client_secret": config.client_secret,
                    "google_api_url": self.base, "google_auth_url": self.base + "/o/oauth2/v2/auth",
                    "google_token_url": self.base + "/token"}
        return {"microsoft_client_id": config.client_id, "microsoft_client_secret": config.client_secret,
                "microsoft_tenant": config.tenant, "microsoft_graph_url": self.base, "microsoft_login_url": self.base}

    def env(self) -> dict[str, str]:
        return {f"CALSYNC_{key.upper()}": str(value) for key, value in self.settings().items()}

    def requests(self) -> int:
        """How many API requests the emulator has answered so far (its request log; a batch is
        one; OAuth and control calls are not logged)."""
        entries = self.client.requests(since=self._seen)
        if entries:
            self._seen = int(entries[-1]["seq"])
        return self._seen

    _seen: int = 0


@contextmanager
def emulator(kind: str, users: list[str], redirect_uri: str, work: Path) -> Iterator[Emulator]:
    """`calsync emulate KIND` in its own process, with quotas raised far above what a bench asks."""
    port = free_port()
    if kind == "google":
        from calsync.emulators.google import EmulatorConfig as GoogleConfig
        from tests.support.google_emulator import GoogleEmulator

        config: Any = GoogleConfig(users=users, redirect_uris=[redirect_uri])
        extra = ["--client-id", config.client_id, "--client-secret", config.client_secret]
    else:
        from calsync.emulators.microsoft import EmulatorConfig as MicrosoftConfig
        from tests.support.microsoft_emulator import MicrosoftEmulator

        config = MicrosoftConfig(users=users, redirect_uris=[redirect_uri])
        extra = ["--client-id", config.client_id, "--client-secret", config.client_secret, "--tenant", config.tenant]
    process = subprocess.Popen(
        calsync_command("emulate", kind, "--port", str(port), "--users", ",".join(users), "--redirect-uri", redirect_uri, *extra),
        cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=open(work / f"{kind}-emulator.log", "wb"))
    try:
        wait_for_port(port, timeout=60)
        base = f"http://127.0.0.1:{port}"
        client = GoogleEmulator(base, config, []) if kind == "google" else MicrosoftEmulator(base, config, [])
        if kind == "google":
            client.post("/quota", {"per_user_per_minute": 10_000_000, "per_project_per_minute": 10_000_000})
        else:
            client.post("/throttle", {"requests_per_ten_minutes": 10_000_000})
        found = Emulator(kind, client, process)
        try:
            yield found
        finally:
            client.close()
    finally:
        stop(process)


# ------------------------------------------------------------------------------------------ Radicale

@dataclass
class Radicale:
    url: str
    users: dict[str, str]
    process: subprocess.Popen[bytes]

    def make_calendar(self, user: str, name: str) -> str:
        from tests.support.radicale import DavServer

        return DavServer("radicale", self.url, Path("."), self.users).make_calendar(user, name)

    def count(self, reset: bool = False) -> dict[str, int]:
        reply = httpx.post(self.url + "__count") if reset else httpx.get(self.url + "__count")
        return dict(reply.json())


@contextmanager
def radicale(users: dict[str, str], work: Path) -> Iterator[Radicale]:
    """Radicale behind the request-counting middleware, in its own process."""
    (work / "htpasswd").write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.radicale_counting", "--port", str(port), "--storage", str(work / "radicale"),
         "--htpasswd", str(work / "htpasswd")],
        cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=open(work / "radicale.log", "wb"))
    try:
        wait_for_port(port, timeout=60)
        yield Radicale(f"http://127.0.0.1:{port}/", users, process)
    finally:
        stop(process)


# ----------------------------------------------------------------------------- PostgreSQL and Redis

@contextmanager
def scaleout_servers() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database (migrated) and a Redis server, as the test fixtures start them."""
    from calsync.store import migrate
    from tests.support.postgres import create_database, postgres_server
    from tests.support.redis import redis_server

    with postgres_server() as admin, redis_server() as redis_url:
        url = create_database(admin, "bench")
        migrate.upgrade(url)
        yield url, redis_url


# --------------------------------------------------------------------------------------- connecting

def browser(base: str, email: str, password: str) -> httpx.Client:
    """A signed-in client that keeps its cookies, as a browser does."""
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    signed = client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/calendar"})
    if signed.status_code != 303:
        raise RuntimeError(f"sign-in failed: {signed.status_code} {signed.text[:200]}")
    return client


def connect_oauth(base: str, emu: Emulator, email: str, password: str, user: str) -> None:
    """Connect → the emulator's consent page → Allow → callback, as a browser follows it."""
    client = browser(base, email, password)
    try:
        start = client.get(f"/oauth/{emu.kind}/start")
        if start.status_code != 302:
            raise RuntimeError(f"/oauth/{emu.kind}/start gave {start.status_code}: {start.text[:200]}")
        location = emu.client.consent(start.headers["location"], user)
        done = client.get(location)
        if done.status_code != 303:
            raise RuntimeError(f"the OAuth callback gave {done.status_code}: {done.text[:200]}")
    finally:
        client.close()


def stored_channel(context: Any, account_id: int) -> dict[str, Any] | None:
    """The push channel kept with the account's (encrypted) credentials, if one is open."""
    from calsync.store.db import session_scope
    from calsync.store.tables import SyncAccount

    with session_scope(context.sessions) as session:
        account = session.get(SyncAccount, account_id)
        if account is None or account.credentials_encrypted is None:
            return None
        return json.loads(context.box.decrypt(account.credentials_encrypted)).get("channel")  # type: ignore[no-any-return]


def workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"calsync-bench-{prefix}-"))


def cleanup(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)


# -------------------------------------------------------------------------------------- the app

@dataclass
class Deployment:
    """The app as served (and, on Celery, its workers and scheduler): where it answers, its
    context (for reading the database directly) and how it was started."""

    base: str
    context: Any
    mode: str  # "embedded" or "celery"
    env: dict[str, str]
    work: Path
    cluster: Any = None  # tests.support.scaleout.ScaleOut on Celery

    def start_workers(self, count: int, concurrency: int | None = None) -> list[Any]:
        """`calsync worker` processes (Celery only), each ready to take tasks when this returns."""
        from calsync.config import Settings

        threads = concurrency or Settings().runner_threads
        return [self.cluster.worker(concurrency=threads, timeout=120) for _ in range(count)]


@contextmanager
def deployment(work: Path, port: int, *, mode: str = "embedded", env: dict[str, str] | None = None,
               workers: int = 1, concurrency: int | None = None) -> Iterator[Deployment]:
    """The app under Uvicorn in this process with the shipped defaults, plus `env` (CALSYNC_*
    names, also given to the workers). Embedded: SQLite and the in-process runner. Celery: a fresh
    PostgreSQL database and Redis, the web process only enqueues, and `workers` × `calsync worker`
    plus one `calsync scheduler` (tests/support/scaleout.py) run the syncs."""
    from contextlib import ExitStack

    from calsync.config import Settings, get_settings
    from calsync.store import migrate
    from tests.support.live import serve

    base = f"http://127.0.0.1:{port}"
    values = {"CALSYNC_SECRET_KEY": "bench-secret", "CALSYNC_VAR_DIR": str(work / "var"), "CALSYNC_PORT": str(port),
              "CALSYNC_BASE_URL": base, "CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS": "1",
              "CALSYNC_EMBEDDED_DAV": "true",
              **(env or {})}
    with ExitStack() as stack:
        if mode == "celery":
            database, broker = stack.enter_context(scaleout_servers())
            values.update(CALSYNC_DATABASE_URL=database, CALSYNC_BROKER_URL=broker)
        else:
            database = f"sqlite:///{work / 'calsync.db'}"
            migrate.upgrade(database)
            values.update(CALSYNC_DATABASE_URL=database)
        os.environ.update(values)
        get_settings.cache_clear()
        from calsync.web.app import create_app

        app = create_app(Settings())
        stack.enter_context(serve(app, port=port))
        found = Deployment(base, app.state.context, mode, values, work)
        if mode == "celery":
            from tests.support.scaleout import ScaleOut

            found.cluster = stack.enter_context(ScaleOut(database, broker, secret_key=values["CALSYNC_SECRET_KEY"],
                                                         env=values, log_dir=work / "processes"))
            found.start_workers(workers, concurrency)
            found.cluster.scheduler(timeout=120)
        yield found


# ------------------------------------------------------------------------------------ CPU accounting

ROLES = (("emulate google", "Google emulator"), ("emulate microsoft", "Microsoft emulator"), ("worker", "workers"),
         ("scheduler", "scheduler"), ("postgres", "PostgreSQL"), ("redis-server", "Redis"),
         ("radicale", "Radicale"))


def _stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of a process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def cpu_by_role() -> dict[str, float]:
    """CPU seconds used so far by this process ("web app + bench") and each of its descendants,
    summed by role (emulators, workers, PostgreSQL, ...), and by the whole machine ("machine")."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _stat(entry)
            if found:
                parents[int(entry)], used[int(entry)] = found
    me = os.getpid()
    totals: dict[str, float] = {"web app + bench": used.get(me, 0.0)}
    for pid in used:
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, me):
            ancestor = parents.get(ancestor)  # type: ignore[arg-type]
        if ancestor != me or pid == me:
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        role = next((name for needle, name in ROLES if needle in command), "other")
        totals[role] = totals.get(role, 0.0) + used[pid]
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(v) for v in fields) - int(fields[3]) - int(fields[4])  # all but idle and iowait
    totals["machine"] = busy / os.sysconf("SC_CLK_TCK")
    return totals


def cpu_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each role used between two snapshots; "others" is the rest of the machine
    (other people's work on the same cores)."""
    spent = {role: after.get(role, 0.0) - before.get(role, 0.0) for role in after}
    ours = sum(v for k, v in spent.items() if k != "machine")
    spent["others on the machine"] = max(0.0, spent.pop("machine") - ours)
    return spent
