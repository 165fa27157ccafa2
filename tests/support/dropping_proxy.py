"""A small HTTP proxy on 127.0.0.1 in front of a real CalDAV server that can cut the server's
answer to time-range queries: the REPORT calendar-query reply loses the objects named in `drop`,
as a server with a broken index does, while every other request (sync-collection, multiget,
PUT, ...) passes through untouched."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import httpx

# One <response> element of a multistatus, whatever prefix the server gives the DAV: namespace.
# Text surgery on purpose: xml.etree's namespace registry is process-wide, and the embedded
# Radicale of other tests serialises with it.
_RESPONSE = re.compile(rb"<(?P<p>[\w.-]+:)?response\b[^>]*>.*?</(?P=p)?response\s*>", re.S)
_HREF = re.compile(rb"<(?P<p>[\w.-]+:)?href\b[^>]*>(?P<href>.*?)</(?P=p)?href\s*>", re.S)
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


@dataclass
class DroppingProxy:
    url: str  # the proxy's root, with a trailing slash
    drop: set[str] = field(default_factory=set)  # object paths to leave out of time-range replies
    dropped: list[str] = field(default_factory=list)  # what was left out, for the test to check


def _cut(body: bytes, proxy: DroppingProxy) -> bytes:
    def keep_or_drop(match: re.Match[bytes]) -> bytes:
        found = _HREF.search(match.group(0))
        path = unquote(urlsplit(found.group("href").decode().strip()).path) if found else ""
        if path in proxy.drop:
            proxy.dropped.append(path)
            return b""
        return match.group(0)

    return _RESPONSE.sub(keep_or_drop, body)


@contextmanager
def dropping_proxy(upstream: str) -> Iterator[DroppingProxy]:
    """Serves on a free loopback port until the block ends."""
    client = httpx.Client(base_url=upstream, timeout=30)
    state = DroppingProxy(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            reply = client.request(self.command, self.path, content=body, headers=headers)
            content = reply.content
            time_range = self.command == "REPORT" and b"calendar-query" in body and b"time-range" in body
            if time_range and reply.status_code == 207 and state.drop:
                content = _cut(content, state)
            self.send_response(reply.status_code)
            for name, value in reply.headers.items():
                if name.lower() not in _HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        do_GET = do_PUT = do_DELETE = do_REPORT = do_PROPFIND = do_OPTIONS = do_MKCALENDAR = do_HEAD = _forward
        do_POST = do_PROPPATCH = _forward

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        client.close()
