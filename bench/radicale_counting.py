"""Radicale on 127.0.0.1 behind a WSGI middleware that counts requests by method, for the CalDAV
benchmark ("requests counted at the server"). GET /__count answers the counts as JSON and
POST /__count resets them; neither reaches Radicale nor is counted.

Run: python -m bench.radicale_counting --port P --storage DIR --htpasswd FILE
"""

from __future__ import annotations

import argparse
import json
import threading
from collections import Counter
from socketserver import ThreadingMixIn
from typing import Any, Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import radicale
import radicale.config


class Counting:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app, self.counts, self.lock = app, Counter(), threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/__count":
            with self.lock:
                if environ["REQUEST_METHOD"] == "POST":
                    self.counts.clear()
                body = json.dumps({"total": sum(self.counts.values()), **self.counts}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        with self.lock:
            self.counts[environ["REQUEST_METHOD"]] += 1
        return self.app(environ, start_response)


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--storage", required=True)
    parser.add_argument("--htpasswd", required=True)
    args = parser.parse_args()
    config = radicale.config.load()
    config.update({
        "storage": {"filesystem_folder": args.storage},
        "auth": {"type": "htpasswd", "htpasswd_filename": args.htpasswd, "htpasswd_encryption": "plain", "delay": 0},
        "rights": {"type": "owner_only"},
        "web": {"type": "none"},
        "logging": {"level": "warning"},
    }, "bench", privileged=True)
    app = Counting(radicale.Application(config))
    server = make_server("127.0.0.1", args.port, app, server_class=ThreadingServer, handler_class=QuietHandler)
    server.serve_forever()


if __name__ == "__main__":
    main()
