"""What the Google and Microsoft emulators' OAuth endpoints share: the book of grants, codes and
tokens handed out, PKCE S256, and the consent page's forms.

Why shared: both providers run the same authorization-code flow (a consent page with one form
per user, a code bound to its redirect URI and PKCE challenge, refresh tokens tied to a grant);
what differs (token formats, scopes, error bodies, how a grant ends) stays in each emulator's
oauth.py."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse

from calsync.emulators.common.clock import Clock

CODE_SECONDS = 600  # an authorization code is good for ten minutes


@dataclass
class Grant:
    """One user's consent to one client; each emulator adds how the grant ends."""

    id: str
    user: str
    scopes: list[str]
    offline: bool
    pkce: bool
    refresh_tokens: set[str] = field(default_factory=set)


class Expiring(Protocol):
    expires_at: datetime


G = TypeVar("G", bound=Grant)
T = TypeVar("T", bound=Expiring)


@dataclass
class Code(Generic[G]):
    """An authorization code: one use, bound to its redirect URI and PKCE challenge."""

    grant: G
    redirect_uri: str
    challenge: str | None
    expires_at: datetime
    used: bool = False


class Tokens(Generic[G, T]):
    """The grants, codes, access tokens and refresh tokens an emulator has handed out."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.grants: dict[str, G] = {}
        self.codes: dict[str, Code[G]] = {}
        self.access: dict[str, T] = {}
        self.refresh: dict[str, G] = {}

    def new_code(self, grant: G, redirect_uri: str, challenge: str | None, prefix: str, nbytes: int) -> str:
        """Records `grant` and hands out a code for it (`prefix` and length as the provider's)."""
        self.grants[grant.id] = grant
        code = prefix + secrets.token_urlsafe(nbytes)
        self.codes[code] = Code(grant, redirect_uri, challenge, self.clock.now() + timedelta(seconds=CODE_SECONDS))
        return code

    def new_refresh(self, grant: G, prefix: str, nbytes: int) -> str:
        token = prefix + secrets.token_urlsafe(nbytes)
        grant.refresh_tokens.add(token)
        self.refresh[token] = grant
        return token

    def retire_refresh(self, grant: G, token: str) -> None:
        """A refresh token used once and rolled over: it no longer works."""
        grant.refresh_tokens.discard(token)
        self.refresh.pop(token, None)

    def forget_access(self, matches: Callable[[T], bool]) -> None:
        for token in [t for t, a in self.access.items() if matches(a)]:
            del self.access[token]

    def expire_access_tokens(self) -> None:
        for token in self.access.values():
            token.expires_at = self.clock.now()


def pkce_challenge(verifier: str) -> str:
    """The S256 `code_challenge` of a `code_verifier` (RFC 7636)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


async def read_form(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


def redirect_back(redirect_uri: str, query: dict[str, str]) -> RedirectResponse:
    """302 to the client's redirect URI with `query` added to any query it has."""
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{sep}{urlencode(query)}", status_code=302)


def consent_lists(request: Request, params: dict[str, str], forwarded: Sequence[str],
                  users: Iterable[str]) -> tuple[str, str]:
    """The consent page's two lists: the scopes asked for (`<li>`s), and one form per user
    (Allow/Deny, posting to `<this path>/approve`) that carries the `forwarded` parameters on."""
    hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(params[k])}">'
                     for k in forwarded if k in params)
    rows = "".join(
        f'<li><form method="post" action="{request.url.path}/approve">{hidden}'
        f'<input type="hidden" name="user" value="{html.escape(u)}"><span class="user">{html.escape(u)}</span> '
        f'<button type="submit" name="decision" value="allow">Allow</button> '
        f'<button type="submit" name="decision" value="deny">Deny</button></form></li>'
        for u in users)
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in params["scope"].split())
    return scopes, rows
