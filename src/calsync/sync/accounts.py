"""Connections and settings per user: connect, change settings (saved at once), start, stop,
confirm or cancel pending deletions, disconnect. Credentials are stored encrypted."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from calsync.crm.errors import Conflict, Invalid, NotFound
from calsync.crm.services.activity_types import type_by_key, type_for_import
from calsync.crypto import SecretBox
from calsync.store.tables import SyncAccount, SyncLink, SyncRememberedSettings, User
from calsync.sync import registry
from calsync.sync import repository as repo
from calsync.sync.provider import ConnectError, ProviderError

NOT_CALENDAR = "not supported: calendar sync needs a Google, Microsoft 365 or CalDAV calendar"
_MAIL_WORDS = ("imap", "pop", "pop3", "smtp", "email", "e-mail", "mail")


class SyncSettingsIn(BaseModel):
    """Any subset of the settings; each is saved as soon as it is sent."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    calendar_id: str | None = Field(default=None, min_length=1, max_length=1024)
    sync_type: Literal["two_way", "one_way"] | None = None
    external_event_visibility: Literal["everyone", "owner"] | None = None
    private_events: Literal["everyone", "busy_block", "skip"] | None = None
    import_type: str | None = Field(default=None, min_length=1, max_length=40)
    push_types: list[str] | None = Field(default=None, max_length=200)
    include_details: StrictBool | None = None  # JSON true/false only, not "yes" or 1
    send_invitations: StrictBool | None = None


# The settings that belong to one provider account and come back when it is connected again.
REMEMBERED = ("sync_type", "external_event_visibility", "private_events", "import_type_key", "push_types",
              "include_details", "send_invitations", "calendar_id", "calendar_name")


def _is_mail(provider: str, params: dict[str, Any]) -> bool:
    name = provider.strip().lower()
    if "@" in name or name in _MAIL_WORDS or name.startswith(("imap", "pop", "smtp")):
        return True
    return any(str(key).lower().startswith(("imap", "pop", "smtp")) for key in params)


def get_account(session: Session, user: User) -> SyncAccount:
    account = repo.account_of_user(session, user.id)
    if account is None:
        raise NotFound("you have no calendar connected: POST /api/v1/calendar-sync/connect first")
    return account


def credentials(box: SecretBox, account: SyncAccount) -> dict[str, Any]:
    return json.loads(box.decrypt(account.credentials_encrypted))


def list_calendars(box: SecretBox, account: SyncAccount) -> list[dict[str, Any]]:
    try:
        provider = registry.get(account.provider).open(credentials(box, account))
    except ProviderError as exc:  # stored credentials that no longer open (reconnect)
        raise Conflict(f"the calendar provider could not list calendars: {exc.message}") from None
    try:
        return [
            {"id": c.id, "name": c.name, "writable": c.writable, "primary": c.primary, "color": c.color}
            for c in provider.list_calendars()
        ]
    except ProviderError as exc:
        raise Conflict(f"the calendar provider could not list calendars: {exc.message}") from None
    finally:
        provider.close()


# When a connect lands without a calendar, for the user to pick one first (state "choose_calendar"):
# "always" (OAuth: the grant says nothing of which calendar), "if_several" (the user typed
# credentials: asked only when the account has more than one writable calendar), "never".
Choose = Literal["always", "if_several", "never"]


def connect(session: Session, box: SecretBox, user: User, provider: str, params: dict[str, Any],
            *, choose: Choose = "never") -> SyncAccount:
    """Validates with the provider, stores encrypted credentials, picks a calendar (or leaves the
    choice to the user, see `Choose`). A user who is already connected is switched over: links
    are dropped, earlier imports are adopted again."""
    if _is_mail(provider, params):
        raise Invalid(NOT_CALENDAR, field="provider")
    try:
        factory = registry.get(provider)
    except KeyError:
        raise Invalid(f"unknown provider '{provider}': use one of {', '.join(registry.names())}", field="provider") from None
    try:
        name, creds = factory.connect(dict(params))
        # the user's own address, for providers that must name an organizer and learn none from the server
        creds.setdefault("owner_email", user.email)
    except ConnectError as exc:
        raise Invalid(exc.message, field=exc.field or "provider") from None
    except ProviderError as exc:
        raise Invalid(f"could not reach the calendar: {exc.message}", field="provider") from None
    opened = factory.open(creds)
    try:
        calendars = opened.list_calendars()
    except ProviderError as exc:
        raise Invalid(f"connected, but listing calendars failed: {exc.message}", field="provider") from None
    finally:
        opened.close()
    if params.get("choose_calendar"):
        choose = "always"
    # A calendar named at connect (CalDAV's "calendar": a name or an address) was found by the
    # factory, which keeps its id in the credentials: it counts as chosen, nothing to ask.
    wanted = params.get("calendar_id") or (creds.get("calendar_id") if params.get("calendar") else None)
    return store_connection(session, box, user, provider, name, creds, calendars, wanted=wanted,
                            explicit=bool(wanted or params.get("calendar")), choose=choose)


def store_connection(session: Session, box: SecretBox, user: User, provider: str, name: str,
                     creds: dict[str, Any], calendars: list[Any], *, wanted: str | None = None,
                     explicit: bool = False, choose: Choose = "never") -> SyncAccount:
    """Stores a connection whose credentials were already checked (`connect`, or the built-in
    calendar, which needs no check): the one place that switches accounts and picks the calendar."""
    choice = next((c for c in calendars if c.id == wanted), None) if wanted else None
    if wanted and choice is None:
        raise Invalid(f"there is no calendar '{wanted}' in this account", field="calendar_id")
    writable = [c for c in calendars if c.writable]
    choice = choice or next((c for c in writable if c.primary), None) or next(iter(writable), None)
    account = repo.account_of_user(session, user.id)
    if account is not None:
        repo.lock_account(session, account)  # a running sync notices the switch (settings_version) before it commits
    same = account is not None and account.provider == provider and account.account_name == name and (
        not wanted or wanted == account.calendar_id)
    if account is None:
        account = SyncAccount(user_id=user.id, company_id=user.company_id)
        session.add(account)
    elif not same:
        remember(session, account)  # switching away: the old account's settings wait for its return
    account.credentials_encrypted = box.encrypt(json.dumps(creds))
    account.enabled, account.last_error = True, None
    if same and account.calendar_id:
        # the same account again (a renewed grant): keep links, cursor and settings
        if account.state in ("auth_error", "provider_error", "paused", "syncing"):
            account.state = "active"
        session.flush()
        return account
    if account.id is not None:
        repo.delete_links(session, account.id)
    account.provider, account.account_name = provider, name
    # Without a calendar named, the user may have to pick one (PATCH calendar_id) before the
    # first sync starts; a calendar remembered from an earlier connection is taken back.
    asked = not wanted and (choose == "always" or (choose == "if_several" and len(writable) > 1))
    account.calendar_id = choice.id if choice and not asked else None
    account.calendar_name = choice.name if choice and not asked else None
    _restore(session, account, user, calendars if not explicit else [])
    account.state = "choose_calendar" if asked and not account.calendar_id else "active"
    account.cursor = account.horizon_until = None
    account.pending_deletions = None
    account.settings_version = (account.settings_version or 1) + 1
    session.flush()
    return account


def remember(session: Session, account: SyncAccount) -> None:
    """Keeps this account's settings for the user, for when the same account is connected again."""
    if not account.provider or not account.account_name or account.user_id is None:
        return
    values = {key: getattr(account, key) for key in REMEMBERED}
    row = session.scalar(select(SyncRememberedSettings).where(
        SyncRememberedSettings.user_id == account.user_id, SyncRememberedSettings.provider == account.provider,
        SyncRememberedSettings.account_name == account.account_name))
    if row is None:
        session.add(SyncRememberedSettings(user_id=account.user_id, provider=account.provider,
                                           account_name=account.account_name, settings=values))
    else:
        row.settings = values
    session.flush()


def _restore(session: Session, account: SyncAccount, user: User, calendars: list[Any]) -> None:
    """Puts back the settings this user had for this provider account. Types deleted since then
    fall back to the defaults; the calendar comes back only when it is still there and writable and
    the user did not name another one (`calendars` is empty then)."""
    row = session.scalar(select(SyncRememberedSettings).where(
        SyncRememberedSettings.user_id == user.id, SyncRememberedSettings.provider == account.provider,
        SyncRememberedSettings.account_name == account.account_name))
    if row is None:
        return
    saved = dict(row.settings or {})
    for key in ("sync_type", "external_event_visibility", "private_events", "include_details", "send_invitations"):
        if key in saved and saved[key] is not None:
            setattr(account, key, saved[key])
    if saved.get("import_type_key"):
        try:
            type_by_key(session, user.company_id, saved["import_type_key"], field="import_type", active_only=False)
            account.import_type_key = saved["import_type_key"]
        except Invalid:
            pass
    if "push_types" in saved:
        keys = saved["push_types"]
        if keys is not None:
            kept = []
            for key in keys:
                try:
                    type_by_key(session, user.company_id, key, field="push_types", active_only=False)
                    kept.append(key)
                except Invalid:
                    continue
            keys = sorted(set(kept))
        account.push_types = keys
    calendar = next((c for c in calendars if c.id == saved.get("calendar_id") and c.writable), None)
    if calendar is not None:
        account.calendar_id, account.calendar_name = calendar.id, calendar.name


def update_settings(session: Session, box: SecretBox, user: User, body: dict[str, Any]) -> SyncAccount:
    try:
        data = SyncSettingsIn.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "body"
        message = "is not a setting: remove it" if first.get("type") == "extra_forbidden" else first.get("msg", "is not valid")
        raise Invalid(f"{field}: {message}", field=field.split(".")[0]) from None
    account = get_account(session, user)
    values = data.model_dump(exclude_unset=True)
    for key, value in values.items():
        if value is None and key != "push_types":
            raise Invalid(f"{key} cannot be null", field=key)
    resync = False
    chosen: dict[str, Any] | None = None
    if "calendar_id" in values and values["calendar_id"] != account.calendar_id:
        calendars = {c["id"]: c for c in list_calendars(box, account)}
        chosen = calendars.get(values["calendar_id"])
        if chosen is None:
            raise Invalid(f"there is no calendar '{values['calendar_id']}' in this account: see GET /api/v1/calendar-sync/calendars", field="calendar_id")
        if not chosen["writable"]:
            raise Invalid(f"the calendar '{chosen['name']}' is read-only: pick one you can write to", field="calendar_id")
    # From here until the commit the account row is held: a running sync either committed before
    # (its links are dropped below) or sees settings_version move and commits nothing.
    repo.lock_account(session, account)
    if chosen is not None and chosen["id"] != account.calendar_id:
        repo.delete_links(session, account.id)
        account.calendar_id, account.calendar_name = chosen["id"], chosen["name"]
        if account.state == "choose_calendar":
            account.state = "active"  # the calendar is chosen: the first sync can start
        resync = True
    if "import_type" in values:
        type_by_key(session, user.company_id, values["import_type"], field="import_type")
        account.import_type_key = values["import_type"]
    if "push_types" in values:
        keys = values["push_types"]
        if keys is not None:
            for key in keys:
                type_by_key(session, user.company_id, key, field="push_types", active_only=False)
            keys = sorted(set(keys))
        account.push_types = keys
    for key in ("sync_type", "private_events"):
        if key in values and values[key] != getattr(account, key):
            setattr(account, key, values[key])
            resync = True
            if key == "private_events":
                # events born in the calendar are read again under the new rule
                session.execute(
                    update(SyncLink).where(SyncLink.account_id == account.id, SyncLink.origin == "calendar").values(etag=None, event_hash=None)
                )
    if "external_event_visibility" in values:
        account.external_event_visibility = values["external_event_visibility"]
    if "send_invitations" in values:
        account.send_invitations = values["send_invitations"]
    if "include_details" in values and values["include_details"] != account.include_details:
        account.include_details = values["include_details"]
        # every event's description changes: mark every pair as changed on the CRM side
        session.execute(update(SyncLink).where(SyncLink.account_id == account.id).values(crm_hash=None, synced_version=0))
    if resync:
        account.cursor = None
    account.settings_version += 1
    session.flush()
    return account


# the states a stop turns into "paused" (the others need the user: reconnect, confirm deletions)
STOPPED_FROM = ("active", "syncing", "provider_error")


def set_enabled(session: Session, user: User, enabled: bool) -> SyncAccount:
    """Stop or start. Holds the account row like the other settings changes, so a run's final
    state write and this never interleave: whoever comes second sees the other's commit."""
    account = get_account(session, user)
    repo.lock_account(session, account)
    account.enabled = enabled
    if enabled and account.state == "paused":
        account.state = "active"
    if not enabled and account.state in STOPPED_FROM:
        account.state = "paused"
    session.flush()
    return account


def decide_deletions(session: Session, user: User, decision: Literal["confirmed", "cancelled"]) -> SyncAccount:
    account = get_account(session, user)
    if account.state != "needs_confirmation":
        raise Conflict("there are no deletions waiting for confirmation")
    account.pending_deletions = {**(account.pending_deletions or {}), "decision": decision}
    account.state = "active"
    session.flush()
    return account


def disconnect(session: Session, user: User) -> None:
    """Removes the connection, its links and log. Activities stay; earlier imports are remembered
    so a later reconnect adopts them instead of duplicating."""
    account = get_account(session, user)
    remember(session, account)
    session.delete(account)
    session.flush()


def import_type_state(session: Session, account: SyncAccount) -> dict[str, str | None]:
    """Which type imported events really get, and a plain-words notice when that is not the one
    the user chose (it was deactivated), so the fallback is never silent."""
    chosen = _type_named(session, account.company_id, account.import_type_key)
    used = type_for_import(session, account.company_id, account.import_type_key)
    notice = None
    chosen_name = chosen.name if chosen is not None else account.import_type_key
    if used is None:
        notice = (f"The activity type “{chosen_name}” chosen for events from your calendar is deactivated and no other "
                  "type is active: new events cannot be imported until an admin activates a type.")
    elif used.key != account.import_type_key:
        notice = (f"The activity type “{chosen_name}” chosen for events from your calendar is deactivated: new events "
                  f"are imported as “{used.name}” until it is active again or you choose another type.")
    return {"import_type_in_use": used.key if used is not None else None, "import_type_notice": notice}


def _type_named(session: Session, company_id: int, key: str) -> Any:
    """The type with this key, active or not (None if there is none)."""
    try:
        return type_by_key(session, company_id, key, active_only=False)
    except Invalid:
        return None


def view(account: SyncAccount) -> dict[str, Any]:
    """What GET /api/v1/calendar-sync returns: connection, settings, state. No credentials."""
    pending = account.pending_deletions or {}
    return {
        "id": account.id,
        "provider": account.provider,
        "account": account.account_name,
        "calendar_id": account.calendar_id,
        "calendar_name": account.calendar_name,
        "sync_type": account.sync_type,
        "external_event_visibility": account.external_event_visibility,
        "private_events": account.private_events,
        "import_type": account.import_type_key,
        "push_types": account.push_types,
        "include_details": account.include_details,
        "send_invitations": account.send_invitations,
        "enabled": account.enabled,
        "state": account.state,
        "last_success_at": account.last_success_at.isoformat() if account.last_success_at else None,
        "last_error": account.last_error,
        "last_error_at": account.last_error_at.isoformat() if account.last_error_at else None,
        "pending_deletions": pending.get("count") if account.state == "needs_confirmation" else None,
        "pending_message": pending.get("message") if account.state == "needs_confirmation" else None,
    }
