"""Helpers for the API tests: envelope checks and quick object creation over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import People


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The `data` of a successful envelope (fails with the server's message otherwise)."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = response.json()
    assert body["success"] is True
    return body["data"]


def refused(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """An error envelope with the status and a message naming what to fix."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert isinstance(body["error"], str) and len(body["error"]) > 10
    said = f"{body['error']} (field: {body.get('field')})"
    for word in words:
        assert word.lower() in said.lower(), said
    return body


class Client:
    """An API client acting as one user."""

    def __init__(self, api: httpx.Client, people: People, email: str) -> None:
        self.api, self.headers = api, people.headers(email)
        self.id = people.ids[email]

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.api.get(path, params=params, headers=self.headers)

    def post(self, path: str, json: Any = None) -> httpx.Response:
        return self.api.post(path, json=json, headers=self.headers)

    def patch(self, path: str, json: Any) -> httpx.Response:
        return self.api.patch(path, json=json, headers=self.headers)

    def delete(self, path: str) -> httpx.Response:
        return self.api.delete(path, headers=self.headers)

    def activity(self, **fields: Any) -> dict[str, Any]:
        body = {"subject": "Call", "start": "2026-12-01T10:00:00+00:00", "end": "2026-12-01T11:00:00+00:00"}
        body.update(fields)
        return ok(self.post("/api/v1/activities", body), 201)


@pytest.fixture
def as_user(api: httpx.Client, people: People):  # type: ignore[no-untyped-def]
    """as_user(email) -> Client; the user must have been added with `people.add`."""
    return lambda email: Client(api, people, email)
