"""Push channels: each synced account whose provider can push (Google's `events.watch`, Graph's
subscriptions) and can reach this app keeps one channel open. It is opened after the account's
first successful run, renewed a day before it expires by the runner's regular pass over all
accounts (`renew_due`, whether the account's runs succeed or not; Graph's subscription keeps its
id and gets a later expiry when the provider has `renew_watch`, else a new channel is opened),
and stopped at once when the user chooses another calendar (`drop_stale`), connects another
account, or disconnects. Lifecycle messages (`lifecycle`) reauthorize or recreate it. The
receiver (web/webhooks.py) only requests a sync; polling stays the backstop (notifications can
be lost), and is all there is where the provider cannot reach this app.

The channel (id, resource id or clientState, secret token, expiry, calendar) is kept with the account's
credentials, encrypted."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from calsync.store.tables import SyncAccount
from calsync.sync import registry
from calsync.sync.credentials import merge_stored, open_account, stored
from calsync.sync.provider import ProviderError
from calsync.web.context import AppContext

log = logging.getLogger("calsync.jobs")
RENEW_BEFORE = dt.timedelta(days=1)
WEBHOOK_PATH = "/webhooks/calendar/{account_id}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Channels:
    def __init__(self, context: AppContext, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.context = context
        self.clock = clock

    def address(self, account_id: int) -> str:
        return self.context.settings.resolved_public_url() + WEBHOOK_PATH.format(account_id=account_id)

    def _account(self, account_id: int) -> SyncAccount | None:
        session = self.context.sessions()
        try:
            account = session.get(SyncAccount, account_id)
            if account is not None:
                session.expunge(account)
            return account
        finally:
            session.close()

    def reachable(self, account: SyncAccount) -> bool:
        """Whether the account's provider can push to this app (else polling covers it)."""
        try:
            factory = registry.get(account.provider)
        except KeyError:
            return False
        reaches = getattr(factory, "push_reaches", None)
        return bool(reaches and reaches(self.address(account.id)))

    def ensure(self, account_id: int) -> dict[str, Any] | None:
        """The account's open channel, opened or renewed when needed; None without push."""
        account = self._account(account_id)
        if account is None or not account.enabled or not account.calendar_id or not self.reachable(account):
            return None
        box, sessions = self.context.box, self.context.sessions
        channel = stored(box, account).get("channel")
        expires = dt.datetime.fromtimestamp(int(channel["expiration"]) / 1000, dt.timezone.utc) if channel else None
        if channel and channel.get("calendar_id") == account.calendar_id and expires and expires - RENEW_BEFORE > self.clock():
            return dict(channel)
        provider = open_account(box, sessions, account)
        try:
            if not hasattr(provider, "watch"):
                return None
            renewable = channel and channel.get("calendar_id") == account.calendar_id and expires and expires > self.clock()
            if renewable and hasattr(provider, "renew_watch"):
                try:  # the same subscription, its expiry moved out (Graph)
                    renewed = provider.renew_watch(channel)
                    merge_stored(box, sessions, account_id, {"channel": renewed})
                    return dict(renewed)
                except ProviderError as exc:
                    log.info("renewing the channel of account %s failed, opening a new one: %s", account_id, exc.message)
            opened = provider.watch(account.calendar_id, self.address(account_id), secrets.token_urlsafe(32))  # type: ignore[attr-defined]
            merge_stored(box, sessions, account_id, {"channel": opened})
            if channel:
                try:
                    provider.unwatch(channel)  # type: ignore[attr-defined]
                except ProviderError as exc:
                    log.info("stopping the old channel of account %s failed: %s", account_id, exc.message)
            return dict(opened)
        finally:
            provider.close()

    def renew_due(self) -> int:
        """Renews every open channel that expires within RENEW_BEFORE (or whose calendar is no
        longer the chosen one), whatever became of the account's runs: an account whose runs
        fail keeps receiving notifications. Per-account failures are logged; returns how many
        channels were opened."""
        session = self.context.sessions()
        try:
            ids = list(session.scalars(select(SyncAccount.id).where(
                SyncAccount.enabled.is_(True), SyncAccount.state != "auth_error")))
        finally:
            session.close()
        opened = 0
        for account_id in ids:
            account = self._account(account_id)
            if account is None:
                continue
            try:
                channel = stored(self.context.box, account).get("channel")
                if not channel:
                    continue  # the first channel comes with the first successful run
                current = self.ensure(account_id)
                opened += bool(current and current.get("id") != channel.get("id"))
            except Exception as exc:  # one account's failure never stops the others' renewals
                log.info("renewing the channel of account %s failed: %s", account_id, getattr(exc, "message", exc))
        return opened

    def lifecycle(self, account_id: int, verdict: str) -> None:
        """What the provider asked for on the channel: "reauthorize" (Graph pauses a subscription
        until it is reauthorized; a failure opens a new one) or "recreate" (the subscription was
        removed: open a new one). A sync is requested too, as changes may have been missed."""
        account = self._account(account_id)
        if account is None or not account.enabled:
            return
        channel = stored(self.context.box, account).get("channel")
        if not channel:
            return
        if verdict == "reauthorize":
            provider = open_account(self.context.box, self.context.sessions, account)
            try:
                provider.reauthorize_watch(channel)  # type: ignore[attr-defined]
                return
            except (ProviderError, AttributeError) as exc:
                log.info("reauthorizing the channel of account %s failed: %s", account_id, exc)
            finally:
                provider.close()
        merge_stored(self.context.box, self.context.sessions, account_id, {"channel": None})
        self.ensure(account_id)

    def drop_stale(self, account_id: int) -> None:
        """Stops the account's channel at once when it no longer matches the settings (another
        calendar chosen, sync stopped, no calendar): its notifications would ask for nothing
        useful. The next successful run opens one for the new calendar."""
        account = self._account(account_id)
        if account is None:
            return
        channel = stored(self.context.box, account).get("channel")
        if channel and (channel.get("calendar_id") != account.calendar_id or not account.enabled):
            self.stop(account_id)

    def stop(self, account_id: int) -> None:
        """Stops the account's channel (on disconnect); failures are logged, never raised."""
        account = self._account(account_id)
        if account is None:
            return
        channel = stored(self.context.box, account).get("channel")
        if not channel:
            return
        try:
            provider = open_account(self.context.box, self.context.sessions, account)
        except Exception:
            log.exception("cannot open account %s to stop its channel", account_id)
            return
        try:
            provider.unwatch(channel)  # type: ignore[attr-defined]
            merge_stored(self.context.box, self.context.sessions, account_id, {"channel": None})
        except (ProviderError, AttributeError) as exc:
            log.info("stopping the channel of account %s failed: %s", account_id, exc)
        finally:
            provider.close()
