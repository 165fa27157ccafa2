"""HTTP for CalDAV: one httpx client per connection, Basic auth, a request counter, the shared
rate limit (providers/gate.py, asked before every request, redirects too; not for the built-in
calendar, which is this app itself), and the mapping of HTTP failures to the provider errors the
engine understands."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from calsync.providers import gate, retryafter, tls
from calsync.providers.caldav import davxml
from calsync.providers.caldav.guard import AddressRefused, guarded_transport
from calsync.sync.provider import AuthError, ProviderError, RateLimited

USER_AGENT = "calsync-caldav/0.1"
PROVIDER = "caldav"  # the name of its shared rate limit (providers/gate.py)
log = logging.getLogger("calsync.providers.caldav")
UNREACHABLE = "could not reach a CalDAV server at this address"


class AddressNotAllowed(ProviderError):
    """The server's address is one calendar connections may not reach (see guard.py)."""


@dataclass
class RequestCounter:
    """Counts the HTTP requests a connection makes (total and per method), so tests and the
    benchmark can assert "an idle sync is one request"."""

    total: int = 0
    by_method: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def hit(self, request: httpx.Request) -> None:
        with self._lock:
            self.total += 1
            self.by_method[request.method] += 1

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_method.clear()


class DavClient:
    """Thin CalDAV transport: PROPFIND, REPORT, GET, PUT, DELETE against one server."""

    def __init__(
        self,
        base_url: str,
        username: str | None,
        password: str | None,
        *,
        timeout: float = 30.0,
        counter: RequestCounter | None = None,
        guarded: bool = False,
        rate_limited: bool = True,
    ) -> None:
        """`guarded`: a server the user named, so every connection (redirects too) goes through
        guard.py's address check, and proxy variables are ignored (the check must see the target).
        `rate_limited`: every request first passes the shared CalDAV rate limit."""
        self.base_url = base_url
        self.counter = counter or RequestCounter()
        auth = httpx.BasicAuth(username, password or "") if username else None
        extra: dict[str, object] = {"transport": guarded_transport(), "trust_env": False} if guarded else {}
        self._http = httpx.Client(
            auth=auth,
            timeout=timeout,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
            event_hooks={"request": [_ask_gate, self.counter.hit] if rate_limited else [self.counter.hit]},
            verify=tls.client_context(),
            **extra,  # type: ignore[arg-type]
        )

    def close(self) -> None:
        self._http.close()

    def absolute(self, href: str, base: str | None = None) -> str:
        return urljoin(base or self.base_url, href)

    @staticmethod
    def path(url: str) -> str:
        return urlsplit(url).path

    def send(
        self,
        method: str,
        url: str,
        *,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/xml; charset=utf-8",
        any_status: bool = False,
    ) -> httpx.Response:
        """One request. Network trouble and 5xx become ProviderError, 401 AuthError, 429 RateLimited;
        every other status is returned for the caller to read (with `any_status`, 5xx too)."""
        all_headers = dict(headers or {})
        if body is not None:
            all_headers.setdefault("Content-Type", content_type)
        content = body.encode() if isinstance(body, str) else body
        try:
            response = self._http.request(method, self.absolute(url), content=content, headers=all_headers)
        except httpx.TimeoutException as exc:
            raise ProviderError(f"the calendar server did not answer in time ({method} {self.path(url)})") from exc
        except httpx.HTTPError as exc:
            if isinstance(exc.__cause__, AddressRefused):
                raise AddressNotAllowed(str(exc.__cause__)) from exc
            # The socket's own words (refused, reset, no route) stay in the server log: shown to
            # the user they would map someone else's network.
            log.info("CalDAV %s %s failed: %s", method, self.path(url), exc)
            raise ProviderError(f"{UNREACHABLE} (the connection failed)") from exc
        if response.status_code == 401:
            raise AuthError("the calendar server refused the user name or password")
        if response.status_code == 429:
            raise RateLimited("the calendar server asks to slow down", retry_after=_retry_after(response))
        if response.status_code >= 500 and not any_status:
            raise ProviderError(
                f"the calendar server failed ({response.status_code} on {method} {self.path(url)})",
                retry_after=_retry_after(response),
            )
        return response

    def propfind(self, url: str, *props: str, depth: str = "0") -> davxml.Multistatus:
        response = self.send("PROPFIND", url, body=davxml.propfind(*props), headers={"Depth": depth})
        return self.expect_multistatus(response, "PROPFIND", url)

    def report(self, url: str, body: str, *, depth: str = "1") -> httpx.Response:
        return self.send("REPORT", url, body=body, headers={"Depth": depth})

    def expect_multistatus(self, response: httpx.Response, method: str, url: str) -> davxml.Multistatus:
        if response.status_code != 207:
            raise ProviderError(f"{method} {self.path(url)} answered {response.status_code}, not a multistatus")
        try:
            return davxml.parse_multistatus(response.content)
        except Exception as exc:  # lxml raises several types for broken XML
            raise ProviderError(f"{method} {self.path(url)} answered with XML that cannot be read: {exc}") from exc


def _ask_gate(request: httpx.Request) -> None:
    gate.current().wait(PROVIDER)


def _retry_after(response: httpx.Response) -> float | None:
    return retryafter.seconds(response.headers.get("Retry-After"))
