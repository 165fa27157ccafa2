"""No secret in the logs (issue point 8): an API token sent as `?api_token=` (or in the
X-Api-Token header) and any Authorization value never appear in clear in what calsync logs,
Uvicorn's access log included. The app runs under a real Uvicorn with its access log on."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from calsync.config import Settings
from tests.conftest import People
from tests.support.live import serve


@pytest.fixture
def logged_url(settings: Settings) -> Iterator[str]:
    """The app under Uvicorn with the access log on; records reach pytest's caplog."""
    from calsync.web.app import create_app

    with serve(create_app(settings), access_log=True) as url:
        yield url


def test_tokens_and_authorization_values_never_reach_the_logs(logged_url: str, people: People,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    people.add("ann@example.com")
    token = people.tokens["ann@example.com"]
    caplog.set_level(logging.INFO)
    with httpx.Client(base_url=logged_url, timeout=30) as client:
        assert client.get("/api/v1/users/me", params={"api_token": token}).status_code == 200
        assert client.get(f"/api/v1/activities?limit=5&api_token={token}").status_code == 200
        assert client.get("/api/v1/users/me", params={"api_token": "a-wrong-token-value"}).status_code == 401
        assert client.get("/api/v1/users/me", headers={"Authorization": "Bearer bearer-secret-value"}).status_code == 401
    # A module that logs a header or an OAuth URL as it is: redacted as well.
    logging.getLogger("calsync.providers").warning("refresh failed, sent Authorization: Bearer oauth-secret-value")
    logging.getLogger("calsync.providers").info("GET %s", "https://example.test/cb?code=oauth-code-value&state=1")
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(access) >= 4, access  # the access log did run
    assert any("api_token=[redacted]" in line for line in access), access
    everything = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    for secret in (token, "a-wrong-token-value", "bearer-secret-value", "oauth-secret-value", "oauth-code-value"):
        assert secret not in everything, secret
    assert "limit=5" in everything  # the rest of the line stays readable
