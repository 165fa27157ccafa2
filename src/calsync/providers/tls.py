"""One TLS client context for every provider connection (Google, Graph, CalDAV).

Building a context loads the CA bundle, tens of milliseconds of CPU; every sync run opens its
provider, and so its HTTP client, anew, so on an idle account that load was about half of the
run. The context is built once per process (honouring SSL_CERT_FILE / SSL_CERT_DIR as httpx does)
and shared: an `ssl.SSLContext` may be used by many threads at once."""

from __future__ import annotations

import ssl
from functools import lru_cache

import httpx


@lru_cache(maxsize=1)
def client_context() -> ssl.SSLContext:
    """The verifying context every provider client uses (certificates checked, as by default)."""
    return httpx.create_ssl_context()
