"""Idle-account syncs per minute: N accounts (half on the Google emulator, half on the Microsoft
emulator, each emulator its own process), every one already in step and with its push channel
open, all asked for a sync at once (as the scheduler's round does); measured from the requests
until every account has one more finished run. Embedded (the in-process runner of one
`calsync serve`, SQLite) or on Celery (PostgreSQL, Redis, `--workers` × `calsync worker` and
`calsync scheduler`). Provider requests are counted at the emulators (their request logs).

Run: `.venv/bin/python -m bench.idle_throughput [--accounts 1000] [--rounds 3] [--celery --workers 1,2]`."""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from contextlib import ExitStack
from typing import Any

from sqlalchemy import func, select

from bench.latency_stack import (
    Deployment, Emulator, cleanup, cpu_between, cpu_by_role, deployment, emulator, workdir,
)
from tests.support.ports import free_port

PROVIDERS = ("google", "microsoft")


def users_of(kind: str, count: int) -> list[str]:
    return [f"{kind[0]}{n}@example.com" for n in range(count)]


def add_accounts(app: Deployment, emus: dict[str, Emulator], counts: dict[str, int]) -> list[int]:
    """One CRM user per emulator user, connected with a token the emulator issued (no consent
    page per user), its primary calendar chosen."""
    from calsync.crm.services import accounts as crm_accounts
    from calsync.store.db import session_scope
    from calsync.sync import accounts as sync_accounts
    from calsync.sync import registry

    expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=6)).isoformat()
    ids: list[int] = []
    for kind, emu in emus.items():
        factory = registry.get(kind)
        for email in users_of(kind, counts[kind]):
            credentials = {"access_token": emu.client.token(email), "expires_at": expires, "email": email,
                           "owner_email": email}
            provider = factory.open(credentials)
            try:
                calendars = provider.list_calendars()
            finally:
                provider.close()
            primary = next(c for c in calendars if c.primary)
            with session_scope(app.context.sessions) as session:
                user, _ = crm_accounts.add_user(session, app.context.box, email=email, password="", invite=True,
                                                company_name="Acme")
                account = sync_accounts.store_connection(session, app.context.box, user, kind, email, credentials,
                                                         calendars, wanted=primary.id, explicit=True)
                ids.append(account.id)
    return ids


def finished_runs(app: Deployment, since_id: int) -> tuple[int, int]:
    """(finished runs, runs with a status other than ok) with an id above `since_id`."""
    from calsync.store.db import session_scope
    from calsync.store.tables import SyncRun

    with session_scope(app.context.sessions) as session:
        done = session.scalar(select(func.count()).select_from(SyncRun).where(
            SyncRun.id > since_id, SyncRun.finished_at.is_not(None))) or 0
        bad = session.scalar(select(func.count()).select_from(SyncRun).where(
            SyncRun.id > since_id, SyncRun.finished_at.is_not(None), SyncRun.status != "ok")) or 0
        return int(done), int(bad)


def last_run_id(app: Deployment) -> int:
    from calsync.store.db import session_scope
    from calsync.store.tables import SyncRun

    with session_scope(app.context.sessions) as session:
        return int(session.scalar(select(func.max(SyncRun.id))) or 0)


def in_step(app: Deployment) -> int:
    """Accounts with a successful run and a push channel."""
    import json

    from calsync.store.db import session_scope
    from calsync.store.tables import SyncAccount

    with session_scope(app.context.sessions) as session:
        accounts = list(session.scalars(select(SyncAccount).where(SyncAccount.last_success_at.is_not(None))))
        return sum(1 for a in accounts if json.loads(app.context.box.decrypt(a.credentials_encrypted)).get("channel"))


def request_all(app: Deployment, ids: list[int], reason: str) -> None:
    runner = app.context.extras["runner"]
    for account_id in ids:
        runner.request_sync(account_id, reason)


def wait_runs(app: Deployment, since_id: int, count: int, timeout: float) -> tuple[float, int, int]:
    began = time.perf_counter()
    while True:
        done, bad = finished_runs(app, since_id)
        if done >= count:
            return time.perf_counter() - began, done, bad
        if time.perf_counter() - began > timeout:
            raise TimeoutError(f"only {done} of {count} runs finished in {timeout:.0f} s")
        time.sleep(0.05)


def measure(app: Deployment, emus: dict[str, Emulator], ids: list[int], rounds: int) -> list[dict[str, Any]]:
    """Warms up (first syncs, channels), then `rounds` idle passes over every account."""
    request_all(app, ids, "manual")
    deadline = time.perf_counter() + 1800
    while in_step(app) < len(ids):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"only {in_step(app)} of {len(ids)} accounts got in step")
        time.sleep(0.5)
    time.sleep(3.0)  # follow-ups of the first runs (a channel's first notification) are over
    results = []
    for n in range(rounds):
        before = {kind: emu.requests() for kind, emu in emus.items()}
        since = last_run_id(app)
        cpu = cpu_by_role()
        request_all(app, ids, "schedule")
        seconds, done, bad = wait_runs(app, since, len(ids), timeout=1800)
        cpu = cpu_between(cpu, cpu_by_role())
        requests = {kind: emu.requests() - before[kind] for kind, emu in emus.items()}
        per_minute = done / seconds * 60
        results.append({"seconds": seconds, "runs": done, "not_ok": bad, "per_minute": per_minute, "requests": requests,
                        "cpu": cpu})
        shares = ", ".join(f"{role} {used / seconds:.2f}" for role, used in sorted(cpu.items(), key=lambda i: -i[1]) if used > 0.01)
        print(f"round {n + 1}: {done} runs in {seconds:.1f} s = {per_minute:,.0f}/min, not ok {bad}, "
              f"requests {requests}; cores busy: {shares}", file=sys.stderr, flush=True)
        time.sleep(2.0)
    return results


def run(mode: str, accounts: int, rounds: int, workers: int, concurrency: int | None) -> list[dict[str, Any]]:
    counts = {"google": accounts - accounts // 2, "microsoft": accounts // 2}
    work = workdir(f"throughput-{mode}-{workers}")
    port = free_port()
    with ExitStack() as stack:
        env: dict[str, str] = {}
        emus: dict[str, Emulator] = {}
        for kind in PROVIDERS:
            emus[kind] = stack.enter_context(emulator(kind, users_of(kind, counts[kind]),
                                                      f"http://127.0.0.1:{port}/oauth/{kind}/callback", work))
            env.update(emus[kind].env())
        app = stack.enter_context(deployment(work, port, mode=mode, env=env, workers=workers, concurrency=concurrency))
        started = time.perf_counter()
        ids = add_accounts(app, emus, counts)
        print(f"{len(ids)} accounts added in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        results = measure(app, emus, ids, rounds)
    cleanup(work)  # kept (with the processes' logs) only when the bench failed
    return results


def cores(results: list[dict[str, Any]]) -> str:
    """Average cores each role kept busy over all rounds ("workers 0.9, PostgreSQL 0.3, ...")."""
    seconds = sum(r["seconds"] for r in results)
    spent: dict[str, float] = {}
    for r in results:
        for role, used in r["cpu"].items():
            spent[role] = spent.get(role, 0.0) + used
    return ", ".join(f"{role} {used / seconds:.2f}" for role, used in sorted(spent.items(), key=lambda i: -i[1])
                     if used / seconds >= 0.01)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--celery", action="store_true", help="PostgreSQL + Redis + `calsync worker`/`scheduler`")
    parser.add_argument("--workers", default="1", help="worker processes, or a list to compare (1,2)")
    parser.add_argument("--concurrency", type=int, default=None, help="`calsync worker --concurrency`")
    args = parser.parse_args(argv)
    mode = "celery" if args.celery else "embedded"
    lines = []
    for workers in [int(w) for w in args.workers.split(",")] if args.celery else [1]:
        results = run(mode, args.accounts, args.rounds, workers, args.concurrency)
        rates = [r["per_minute"] for r in results]
        requests = [sum(r["requests"].values()) / r["runs"] for r in results]
        label = f"Celery, {workers} × `calsync worker`" if args.celery else "embedded (`calsync serve`)"
        lines.append(f"| {label} | {args.accounts:,} | {len(results)} | {statistics.median(rates):,.0f} "
                     f"| {min(rates):,.0f}–{max(rates):,.0f} | {statistics.median(requests):.2f} "
                     f"| {sum(r['not_ok'] for r in results)} | {cores(results)} |")
    print("| runner | idle accounts | rounds | syncs/min (median) | range | provider requests per sync | runs not ok "
          "| cores busy during the rounds (of 2) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
