"""A real Radicale server on 127.0.0.1: its own temporary storage and an htpasswd file (plain
passwords), started as a separate process and stopped afterwards."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.ports import free_port, wait_for_port


@dataclass
class DavServer:
    """What a test needs to talk to a running CalDAV server."""

    kind: str  # "radicale" or "xandikos"
    url: str  # server root, with a trailing slash
    storage: Path
    users: dict[str, str] = field(default_factory=dict)
    log: Path | None = None

    def auth(self, user: str) -> tuple[str, str] | None:
        return (user, self.users[user]) if self.users else None

    def home_url(self, user: str) -> str:
        if self.kind == "xandikos":
            return self.url + "user/calendars/"
        return self.url + user + "/"

    def make_calendar(self, user: str, name: str, *, display: str | None = None,
                      components: tuple[str, ...] = ("VEVENT",)) -> str:
        """Creates a calendar collection with MKCALENDAR and returns its absolute URL."""
        url = self.home_url(user) + name + "/"
        comps = "".join(f'<C:comp name="{c}"/>' for c in components)
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
            f"<D:displayname>{display or name}</D:displayname>"
            f"<C:supported-calendar-component-set>{comps}</C:supported-calendar-component-set>"
            "</D:prop></D:set></C:mkcalendar>"
        )
        response = httpx.request("MKCALENDAR", url, content=body, auth=self.auth(user),
                                 headers={"Content-Type": "application/xml"}, timeout=30)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"MKCALENDAR {url} gave {response.status_code}: {response.text[:300]}")
        return url

    def put(self, user: str, url: str, ics: str, *, timeout: float = 30) -> httpx.Response:
        """Writes one object as another client would (no preconditions)."""
        return httpx.put(url, content=ics.encode(), auth=self.auth(user),
                         headers={"Content-Type": "text/calendar; charset=utf-8"}, timeout=timeout)

    def get(self, user: str, url: str) -> httpx.Response:
        return httpx.get(url, auth=self.auth(user), timeout=30)

    def delete(self, user: str, url: str) -> httpx.Response:
        return httpx.delete(url, auth=self.auth(user), timeout=30)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def radicale_server(
    users: dict[str, str] | None = None, *, sync_token_age: int | None = None, rights: str | None = None
) -> Iterator[DavServer]:
    """Radicale with htpasswd (plain) auth, on a free loopback port. Rights are owner-only, or the
    rules in `rights` (Radicale's rights-file format) when given."""
    users = users or {"alice": "alice-pass-1", "bob": "bob-pass-1"}
    base = Path(tempfile.mkdtemp(prefix="calsync-radicale-"))
    storage = base / "collections"
    htpasswd = base / "htpasswd"
    htpasswd.write_text("".join(f"{user}:{password}\n" for user, password in users.items()))
    port = free_port()
    args = [
        sys.executable, "-m", "radicale", "--config", "",
        "--server-hosts", f"127.0.0.1:{port}",
        "--storage-filesystem-folder", str(storage),
        "--auth-type", "htpasswd", "--auth-htpasswd-filename", str(htpasswd),
        "--auth-htpasswd-encryption", "plain", "--auth-delay", "0",
        "--logging-level", "warning",
    ]
    if rights is None:
        args += ["--rights-type", "owner_only"]
    else:
        (base / "rights").write_text(rights)
        args += ["--rights-type", "from_file", "--rights-file", str(base / "rights")]
    if sync_token_age is not None:
        args += ["--storage-max-sync-token-age", str(sync_token_age)]
    log = base / "server.log"
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    try:
        wait_for_port(port)
        yield DavServer("radicale", f"http://127.0.0.1:{port}/", storage, dict(users), log)
    finally:
        _stop(process)
        shutil.rmtree(base, ignore_errors=True)
