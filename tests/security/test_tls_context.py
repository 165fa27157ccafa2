"""Every provider client verifies certificates with one shared TLS context: a sync run opens its
provider anew, and loading the CA bundle for each run was about half of an idle account's sync
(bench.idle_throughput). Opening providers many times loads the bundle at most once, and the
shared context still checks certificates and host names."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from calsync.config import Settings
from calsync.providers import tls
from calsync.providers.caldav import CalDavProvider
from calsync.providers.google.factory import GoogleFactory
from calsync.providers.microsoft.factory import MicrosoftFactory

CREDENTIALS = {"access_token": "t", "expires_at": "2999-01-01T00:00:00+00:00"}


def opens() -> list[Any]:
    settings = Settings(google_client_id="id", google_client_secret="secret", microsoft_client_id="id",
                        microsoft_client_secret="secret")
    return [
        lambda: GoogleFactory(lambda: settings).open(dict(CREDENTIALS)),
        lambda: MicrosoftFactory(lambda: settings).open(dict(CREDENTIALS)),
        lambda: CalDavProvider("https://dav.example.com/", "u", "p"),
        lambda: CalDavProvider("https://dav.example.com/", "u", "p", guarded=True),
    ]


def test_opening_providers_for_many_runs_loads_the_ca_bundle_once(monkeypatch: pytest.MonkeyPatch) -> None:
    tls.client_context.cache_clear()
    loads = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    for _ in range(10):
        for open_provider in opens():
            open_provider().close()
    assert len(loads) <= 1


def test_the_shared_context_verifies_certificates_and_host_names() -> None:
    context = tls.client_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0
