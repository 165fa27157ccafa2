"""One small HTTP proxy on 127.0.0.1 in front of a real CalDAV server (Radicale, Xandikos), with a
filter hook that sees every request and may answer it itself or change the server's answer. Two
filters are here: a server whose time-range index drops objects (`dropping_proxy`: the REPORT
calendar-query reply loses the objects named in `drop`) and a strict server (`refusing_proxy`:
PUTs its `refuse` rule turns down, for example zero-length events, DTEND equal to DTSTART, which
RFC 5545 allows but some servers answer with 403)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import httpx

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


@dataclass
class Request:
    method: str
    path: str  # with the query, as the client sent it
    body: bytes
    headers: dict[str, str]


@dataclass
class Reply:
    status: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)


# A filter gets the request and `forward()` (which asks the real server); it returns the reply the
# client sees: forward()'s, a changed copy of it, or one of its own without asking the server.
Filter = Callable[[Request, Callable[[], Reply]], Reply]


def pass_through(request: Request, forward: Callable[[], Reply]) -> Reply:
    return forward()


@dataclass
class DavProxy:
    upstream: str  # the real server's root URL, with a trailing slash
    filter: Filter = pass_through
    url: str = ""  # this proxy's root URL, with a trailing slash

    def base(self, upstream_url: str) -> str:
        """`upstream_url` (a calendar's URL on the real server) as seen through the proxy."""
        return self.url + upstream_url[len(self.upstream):]


def _handler(proxy: DavProxy, client: httpx.Client) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            return

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(self.command, self.path, self.rfile.read(length) if length else b"",
                              {k: v for k, v in self.headers.items() if k.lower() not in _HOP})

            def forward() -> Reply:
                answer = client.request(request.method, proxy.upstream.rstrip("/") + request.path,
                                        content=request.body, headers=request.headers)
                return Reply(answer.status_code, answer.content,
                             {k: v for k, v in answer.headers.items() if k.lower() not in _HOP})

            reply = proxy.filter(request, forward)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.content)

        do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_OPTIONS = do_MKCALENDAR = _any
        do_PROPPATCH = do_HEAD = do_POST = _any

    return Handler


@contextmanager
def dav_proxy(upstream: str, filter: Filter = pass_through) -> Iterator[DavProxy]:
    """Serves on a free loopback port until the block ends."""
    proxy = DavProxy(upstream if upstream.endswith("/") else upstream + "/", filter)
    client = httpx.Client(timeout=30)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy, client))
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        client.close()


# ---------------------------------------------------------------- a server that drops query results

# One <response> element of a multistatus, whatever prefix the server gives the DAV: namespace.
# Text surgery on purpose: xml.etree's namespace registry is process-wide, and the embedded
# Radicale of other tests serialises with it.
_RESPONSE = re.compile(rb"<(?P<p>[\w.-]+:)?response\b[^>]*>.*?</(?P=p)?response\s*>", re.S)
_HREF = re.compile(rb"<(?P<p>[\w.-]+:)?href\b[^>]*>(?P<href>.*?)</(?P=p)?href\s*>", re.S)


@dataclass
class DroppingProxy:
    """Time-range answers (REPORT calendar-query) lose the objects in `drop`; every other request
    (sync-collection, multiget, PUT, ...) passes through untouched."""

    proxy: DavProxy
    drop: set[str] = field(default_factory=set)  # object paths to leave out of time-range replies
    dropped: list[str] = field(default_factory=list)  # what was left out, for the test to check

    @property
    def url(self) -> str:
        return self.proxy.url

    def filter(self, request: Request, forward: Callable[[], Reply]) -> Reply:
        reply = forward()
        time_range = request.method == "REPORT" and b"calendar-query" in request.body and b"time-range" in request.body
        if time_range and reply.status == 207 and self.drop:
            reply.content = _RESPONSE.sub(self._keep_or_drop, reply.content)
        return reply

    def _keep_or_drop(self, match: re.Match[bytes]) -> bytes:
        found = _HREF.search(match.group(0))
        path = unquote(urlsplit(found.group("href").decode().strip()).path) if found else ""
        if path in self.drop:
            self.dropped.append(path)
            return b""
        return match.group(0)


@contextmanager
def dropping_proxy(upstream: str) -> Iterator[DroppingProxy]:
    with dav_proxy(upstream) as proxy:
        state = DroppingProxy(proxy)
        proxy.filter = state.filter
        yield state


# ---------------------------------------------------------------- a strict server that refuses PUTs

# (status, body) to answer instead of passing the PUT on, or None to pass it on
Rule = Callable[[str], "tuple[int, str] | None"]


def zero_length(body: str) -> tuple[int, str] | None:
    """Refuses a VEVENT whose DTEND equals its DTSTART, in the words of a strict server."""
    for block in re.findall(r"BEGIN:VEVENT(.*?)END:VEVENT", body.replace("\r\n ", ""), flags=re.S):
        start = re.search(r"^DTSTART[^:\r\n]*:(\S+)", block, flags=re.M)
        end = re.search(r"^DTEND[^:\r\n]*:(\S+)", block, flags=re.M)
        if start and end and start.group(1) == end.group(1):
            return 403, "Event rejected: DTEND must be later than DTSTART"
    return None


@dataclass
class RefusingProxy:
    """Passes every request through, except the PUTs `refuse` turns down (answered here)."""

    proxy: DavProxy
    refuse: Rule
    refused: list[str] = field(default_factory=list)  # paths of the PUTs turned down

    @property
    def url(self) -> str:
        return self.proxy.url

    def base(self, upstream_url: str) -> str:
        return self.proxy.base(upstream_url)

    def filter(self, request: Request, forward: Callable[[], Reply]) -> Reply:
        if request.method == "PUT":
            answer = self.refuse(request.body.decode("utf-8", "replace"))
            if answer is not None:
                self.refused.append(request.path)
                return Reply(answer[0], answer[1].encode(), {"Content-Type": "text/plain; charset=utf-8"})
        return forward()


@contextmanager
def refusing_proxy(upstream: str, refuse: Rule) -> Iterator[RefusingProxy]:
    with dav_proxy(upstream) as proxy:
        state = RefusingProxy(proxy, refuse)
        proxy.filter = state.filter
        yield state
