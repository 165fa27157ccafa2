"""A strict CalDAV server for tests: a small HTTP proxy in front of a real Radicale or Xandikos
that passes every request through, except the PUTs its `refuse` rule turns down (as strict
servers do, for example with zero-length events: DTEND equal to DTSTART, which RFC 5545 allows
but some servers answer with 403)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

# (status, body) to answer instead of passing the PUT on, or None to pass it on
Rule = Callable[[str], "tuple[int, str] | None"]
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


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
    upstream: str  # the real server's root URL, with a trailing slash
    refuse: Rule
    url: str = ""  # this proxy's root URL, with a trailing slash
    refused: list[str] = field(default_factory=list)  # paths of the PUTs turned down

    def base(self, upstream_url: str) -> str:
        """`upstream_url` (a calendar's URL on the real server) as seen through the proxy."""
        return self.url + upstream_url[len(self.upstream):]


def _handler(proxy: RefusingProxy, client: httpx.Client) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            return

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.command == "PUT":
                answer = proxy.refuse(body.decode("utf-8", "replace"))
                if answer is not None:
                    proxy.refused.append(self.path)
                    self._reply(answer[0], answer[1].encode(), {"Content-Type": "text/plain; charset=utf-8"})
                    return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            response = client.request(self.command, proxy.upstream.rstrip("/") + self.path, content=body, headers=headers)
            self._reply(response.status_code, response.content,
                        {k: v for k, v in response.headers.items() if k.lower() not in _HOP})

        def _reply(self, status: int, content: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_OPTIONS = do_MKCALENDAR = do_PROPPATCH = do_HEAD = _any

    return Handler


@contextmanager
def refusing_proxy(upstream: str, refuse: Rule) -> Iterator[RefusingProxy]:
    """Runs the proxy on a free loopback port for the duration of the block."""
    proxy = RefusingProxy(upstream, refuse)
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
