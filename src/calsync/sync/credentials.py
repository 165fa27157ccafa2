"""Opening an account's provider with its stored credentials, and storing the credentials the
provider renews while it works (OAuth access tokens refreshed, refresh tokens rotated).

A provider factory that renews credentials says so with `renews_credentials = True` and takes
`open(credentials, on_update=...)`. Renewed credentials are stored encrypted at once, in a
transaction of their own: a rotated refresh token is the only one that still works, so it must
survive even if the run fails later. A renewal that arrives after the user reconnected (the
stored grant is no longer the one the provider started from) is not stored over the new one."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from calsync.crypto import SecretBox
from calsync.store.tables import SyncAccount
from calsync.sync import registry
from calsync.sync.provider import CalendarProvider

log = logging.getLogger("calsync.sync")

Opener = Callable[[SyncAccount], CalendarProvider]


def stored(box: SecretBox, account: SyncAccount) -> dict[str, Any]:
    return dict(json.loads(box.decrypt(account.credentials_encrypted)))


def _rewrite(box: SecretBox, sessions: sessionmaker[Session], account_id: int,
             change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> bool:
    """Reads the account's stored credentials, lets `change` return the new ones (None: keep
    them) and stores them encrypted, in a transaction of its own. False when nothing was stored."""
    session = sessions()
    try:
        account = session.get(SyncAccount, account_id)
        if account is None:
            return False
        updated = change(stored(box, account))
        if updated is None:
            return False
        account.credentials_encrypted = box.encrypt(json.dumps(updated))
        session.commit()
        return True
    finally:
        session.close()


def saver(box: SecretBox, sessions: sessionmaker[Session], account_id: int,
          started_from: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """`on_update` for one opened account: stores renewed credentials (see the module text)."""
    known = {started_from.get("refresh_token")}

    def save(renewed: dict[str, Any]) -> None:
        def merged(current: dict[str, Any]) -> dict[str, Any] | None:
            if current.get("refresh_token") not in known:
                log.info("account %s was reconnected meanwhile: renewed tokens not stored", account_id)
                return None
            return {**current, **renewed}

        try:
            if _rewrite(box, sessions, account_id, merged):
                known.add(renewed.get("refresh_token"))
        except Exception:  # storing must never break the run; the tokens still work in memory
            log.exception("storing renewed credentials of account %s failed", account_id)

    return save


def open_account(box: SecretBox, sessions: sessionmaker[Session] | None, account: SyncAccount) -> CalendarProvider:
    factory = registry.get(account.provider)
    credentials = stored(box, account)
    if sessions is not None and getattr(factory, "renews_credentials", False):
        return factory.open(credentials, on_update=saver(box, sessions, account.id, credentials))  # type: ignore[call-arg]
    return factory.open(credentials)


def opener_with_store(box: SecretBox, sessions: sessionmaker[Session]) -> Opener:
    """The engine's opener: registry factory, decrypted credentials, renewals stored."""
    return lambda account: open_account(box, sessions, account)


def merge_stored(box: SecretBox, sessions: sessionmaker[Session], account_id: int, changes: dict[str, Any]) -> None:
    """Stores `changes` into the account's credentials (keys set to None are removed)."""
    _rewrite(box, sessions, account_id,
             lambda current: {k: v for k, v in {**current, **changes}.items() if v is not None})
