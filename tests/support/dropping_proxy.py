"""A small HTTP proxy on 127.0.0.1 in front of a real CalDAV server that can cut the server's
answer to time-range queries: the REPORT calendar-query reply loses the objects named in `drop`,
as a server with a broken index does, while every other request (sync-collection, multiget,
PUT, ...) passes through untouched."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import httpx

DAV = "DAV:"
ET.register_namespace("D", DAV)
ET.register_namespace("C", "urn:ietf:params:xml:ns:caldav")
ET.register_namespace("CS", "http://calendarserver.org/ns/")
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


@dataclass
class DroppingProxy:
    url: str  # the proxy's root, with a trailing slash
    drop: set[str] = field(default_factory=set)  # object paths to leave out of time-range replies
    dropped: list[str] = field(default_factory=list)  # what was left out, for the test to check


def _cut(body: bytes, proxy: DroppingProxy) -> bytes:
    root = ET.fromstring(body)
    for response in list(root.findall(f"{{{DAV}}}response")):
        href = response.findtext(f"{{{DAV}}}href") or ""
        path = unquote(urlsplit(href).path)
        if path in proxy.drop:
            root.remove(response)
            proxy.dropped.append(path)
    return ET.tostring(root, xml_declaration=True, encoding="utf-8")


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
