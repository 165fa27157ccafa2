"""Type-ahead search over 100,000 deals (SQLite): `crm.services.item_search.search`, the query
behind GET /api/v1/items/search, the list pages and the editor's pickers.

Loads 100,000 deals of 20 users (15 % visible to their owner only) with a bulk insert, then
times searches as a user types them (limit 20, the picker's page), in one process (no HTTP):

* one letter ("g"): thousands match, the first 20 visible ones are read in name order;
* three letters ("glo"), a whole word ("globex "), a word and a letter ("globex r");
* no match ("zzz");
* for contrast, the same one-letter search written as a scan (`lower(title) LIKE 'g%'` with no
  usable index), which is what a search without the search_name index costs.

Run: `python -m bench.item_search [--items N] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from calsync.crm.services import accounts, item_search
from calsync.crypto import SecretBox
from calsync.store import migrate
from calsync.store.db import make_engine, make_session_factory, session_scope
from calsync.store.tables import Deal, User

HEADING = "Type-ahead search (100,000 deals)"
USERS = 20
WORDS = [
    "acme", "apex", "atlas", "beacon", "blue", "cedar", "delta", "echo", "falcon", "globex", "granite", "harbor",
    "initech", "iris", "juniper", "krypton", "lumen", "maple", "nova", "orbit", "pioneer", "quartz", "redwood",
    "sierra", "summit", "titan", "umbrella", "vertex", "willow", "zenith",
]
QUERIES = ["g", "glo", "globex ", "globex r", "zzz"]


def _load(url: str, count: int) -> tuple[int, list[int]]:
    """Users and `count` deals; returns the company id and the user ids."""
    engine = make_engine(url)
    box = SecretBox("bench-secret-key")
    with session_scope(make_session_factory(engine)) as session:
        ids = []
        for n in range(USERS):
            user, _ = accounts.add_user(session, box, email=f"user{n:02d}@bench.example", password="bench-password",
                                        company_name="Bench")
            ids.append(user.id)
        company = user.company_id
    rng = random.Random(7)
    rows = []
    for n in range(count):
        title = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {n}"
        rows.append(dict(company_id=company, owner_id=ids[n % USERS], title=title,
                         visibility="owner" if rng.random() < 0.15 else "everyone"))
    with engine.begin() as connection:
        for start in range(0, count, 10_000):
            connection.execute(insert(Deal), rows[start:start + 10_000])
    engine.dispose()
    return company, ids


def _time(action, repeat: int) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """p50 and p95 in milliseconds over `repeat` calls, and what the last call returned."""
    times, found = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        found = action()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        started = time.perf_counter()
        _, ids = _load(url, args.items)
        print(f"loaded {args.items:,} deals in {time.perf_counter() - started:.1f} s")
        engine = make_engine(url)
        factory = make_session_factory(engine)
        print(f"| search (limit 20) | matches visible to the viewer | p50 | p95 |")
        print("| --- | ---: | ---: | ---: |")
        with session_scope(factory) as session:
            viewer = session.get(User, ids[1])
            assert viewer is not None
            for query in QUERIES:
                filters = item_search.ItemFilters(text=query)

                def run() -> int:
                    session.expunge_all()
                    return len(item_search.search(session, viewer, Deal, filters, limit=20)[0])

                p50, p95, found = _time(run, args.repeat)
                prefix = item_search.normalise(query)
                total = session.scalar(select(func.count()).select_from(Deal).where(
                    Deal.search_name >= prefix, Deal.search_name < prefix + item_search.TOP,
                    (Deal.owner_id == viewer.id) | (Deal.visibility == "everyone"))) if prefix else 0
                print(f"| `{query}` | {total:,} (first {found} shown) | {p50:.2f} ms | {p95:.2f} ms |")

            def scan() -> int:
                rows = session.execute(select(Deal.id).where(
                    Deal.company_id == viewer.company_id, func.lower(Deal.title).like("%zzz%")).limit(20)).all()
                return len(rows)

            p50, p95, _ = _time(scan, max(10, args.repeat // 10))
            print(f"| contrast: `lower(title) LIKE '%zzz%'` (no index can help: reads every row) | 0 | {p50:.2f} ms | {p95:.2f} ms |")
        engine.dispose()
    print(f"(SQLite, {args.items:,} deals, {USERS} users, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
