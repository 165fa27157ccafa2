"""The identity platform client against the emulator's authorize and token endpoints: PKCE
code exchange, refresh-token rotation, and every way a grant ends (AADSTS codes) as an AuthError
that asks the user to reconnect."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from calsync.emulators.microsoft import EmulatorConfig
from calsync.emulators.microsoft.config import DEFAULT_REDIRECT_URI
from calsync.providers.microsoft.auth import OAuthClient
from calsync.sync.provider import AuthError
from calsync.web.oauth import new_pkce
from tests.support.microsoft_emulator import USERS, MicrosoftEmulator, microsoft_emulator


@pytest.fixture(scope="module")
def emu() -> Iterator[MicrosoftEmulator]:
    with microsoft_emulator(EmulatorConfig(users=list(USERS), retire_old_refresh_tokens=True)) as emulator:
        yield emulator


def granted(emu: MicrosoftEmulator, user: str = USERS[0]) -> tuple[OAuthClient, dict[str, object]]:
    config = emu.config
    client = OAuthClient(config.client_id, config.client_secret, emu.base, "common", redirect_uri=DEFAULT_REDIRECT_URI)
    state, verifier = new_pkce()
    answer = parse_qs(urlsplit(emu.consent(client.authorization_url(state, verifier), user)).query)
    assert answer["state"] == [state]
    return client, client.exchange(answer["code"][0], verifier)


def test_the_code_is_traded_with_its_verifier_and_refresh_tokens_rotate(emu: MicrosoftEmulator) -> None:
    client, creds = granted(emu)
    assert creds["access_token"] and creds["refresh_token"] and creds["expires_at"]
    renewed = client.refresh(str(creds["refresh_token"]))
    assert renewed["refresh_token"] != creds["refresh_token"]
    client.refresh(str(renewed["refresh_token"]))  # the newest one works
    with pytest.raises(AuthError, match="reconnect Microsoft 365"):
        client.refresh(str(creds["refresh_token"]))  # the retired one does not


def test_a_wrong_verifier_is_refused(emu: MicrosoftEmulator) -> None:
    config = emu.config
    client = OAuthClient(config.client_id, config.client_secret, emu.base, "common", redirect_uri=DEFAULT_REDIRECT_URI)
    state, verifier = new_pkce()
    code = parse_qs(urlsplit(emu.consent(client.authorization_url(state, verifier))).query)["code"][0]
    with pytest.raises(AuthError):
        client.exchange(code, new_pkce()[1])


@pytest.mark.parametrize("aadsts", [50173, 700082, 70008, 65001, 50076])
def test_every_ended_grant_asks_for_a_reconnect(emu: MicrosoftEmulator, aadsts: int) -> None:
    client, creds = granted(emu, USERS[1])
    emu.post("/revoke", {"user": USERS[1], "code": aadsts})
    with pytest.raises(AuthError, match="reconnect Microsoft 365 in Settings › Calendar sync"):
        client.refresh(str(creds["refresh_token"]))


def test_a_wrong_client_secret_names_the_settings(emu: MicrosoftEmulator) -> None:
    client, creds = granted(emu)
    wrong = OAuthClient(client.client_id, "not-the-secret", emu.base, "common", redirect_uri=DEFAULT_REDIRECT_URI)
    with pytest.raises(AuthError, match="CALSYNC_MICROSOFT_CLIENT_SECRET"):
        wrong.refresh(str(creds["refresh_token"]))
