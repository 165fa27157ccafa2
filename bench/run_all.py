"""`make bench`: runs every benchmark in BENCHES, each writing its own section of docs/benchmarks.md.

To add one: put a module in bench/ with `main(argv: list[str]) -> int` and add its name below.
`python -m bench.run_all NAME ...` runs only the named ones.
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHES: list[str] = [
    "calendar_bench",
    "caldav_vs_vdirsyncer",
]


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or BENCHES
    unknown = [name for name in names if name not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        started = time.perf_counter()
        print(f"== bench.{name}", file=sys.stderr, flush=True)
        module = importlib.import_module(f"bench.{name}")
        code = module.main([])
        print(f"== bench.{name}: exit {code} after {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        if code:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
