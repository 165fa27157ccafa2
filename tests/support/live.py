"""The app served by a real Uvicorn on 127.0.0.1 in a background thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from tests.support.ports import free_port, wait_for_port


@contextmanager
def serve(app: FastAPI, port: int | None = None, *, access_log: bool = False) -> Iterator[str]:
    """The app under Uvicorn on 127.0.0.1; `access_log` turns on Uvicorn's request lines, sent
    through the root logger (log_config=None) so that pytest's caplog sees them."""
    port = port or free_port()
    extra = dict(log_level="info", log_config=None, access_log=True) if access_log else dict(log_level="warning")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", **extra)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
