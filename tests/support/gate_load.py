"""A worker-like process that sends Google Calendar requests as fast as it may, for the shared
rate limit tests: `python -m tests.support.gate_load <api_url> <token> <redis_url or -> <rates> <seconds>`.

With a Redis URL it installs the shared gate (calsync.jobs.ratelimit.install, as `calsync worker`
does at start); with `-` it sends unlimited. It prints `ready`, waits for a line on stdin (so every
process starts together), sends calendarList reads through the provider's HTTP layer for
`seconds`, then prints a JSON list of the wall-clock times at which each request was let go."""

from __future__ import annotations

import json
import sys
import time

from calsync.config import Settings
from calsync.jobs import ratelimit
from calsync.providers.google.http import GoogleHttp, path


class StaticToken:
    """An access token the emulator issued; enough for a few seconds of reads."""

    def __init__(self, token: str) -> None:
        self.token = token

    def bearer(self) -> str:
        return self.token

    def refresh_after_401(self, token: str) -> None:
        raise RuntimeError("the emulator refused a fresh token")


def main(api_url: str, token: str, redis_url: str, rates: str, seconds: float) -> None:
    if redis_url != "-":
        ratelimit.install(Settings(broker_url=redis_url, provider_rate_limits=rates))
    http = GoogleHttp(api_url, StaticToken(token))  # type: ignore[arg-type]
    sent: list[float] = []
    http.client.event_hooks["request"].append(lambda request: sent.append(time.time()))  # past the gate
    print("ready", flush=True)
    sys.stdin.readline()
    end = time.time() + seconds
    while time.time() < end:
        response = http.send("GET", path("users", "me", "calendarList"))
        assert response.status_code == 200, response.text
    http.close()
    print(json.dumps(sent), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
