"""The CalDAV calendar built into the product: Radicale, run in-process under /dav/, storing in
`settings.var_dir/dav`, signing in calsync users.

Sign-in (why a plugin, not an htpasswd file): Radicale asks `EmbeddedAuth`, which checks the
calsync User table, so a password change or a deactivated user takes effect at once and no second
copy of the password hashes lives on disk. It also accepts a per-user *app password* derived from
the app secret (HMAC); the sync engine's connection to the embedded calendar stores that one, so
the demo sync keeps working when the user changes the sign-in password. The user row is read on
every request; only the scrypt comparison (deliberately slow, and calendar apps send credentials
with every request) is cached for a few minutes, keyed on the stored hash.

Every user has a calendar here. It is made when first needed, not by a sweep over all users: when
the user (or a calendar app of theirs) first signs in at /dav/ (`_Checker`, once per process and
user), and when they press "Use the built-in calendar" (`connect_builtin`). So users that existed
before, users added by any path (CLI, admin page, API) and users of a restored database all have
one the moment they look, and a server with many users starts no slower.

Connecting it (why no HTTP): `connect_builtin` creates the collection through Radicale's storage
API directly and stores the SyncAccount with the URL the server has (or will have: `calsync demo`
runs while no server is up; the first sync runs once `calsync serve` starts). It holds one
calendar, so there is nothing to choose and no password to type: the engine signs in with an app
password derived from the app secret. Stored embedded connections are re-pointed at serve startup
if the base URL changed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import radicale
import radicale.auth
import radicale.config
import radicale.storage
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from calsync.crypto import SecretBox, verify_password
from calsync.store.tables import SyncAccount, User
from calsync.sync import accounts
from calsync.sync.model import CalendarInfo

MOUNT = "/dav"
CALENDAR_NAME = "calendar"
_CACHE_SECONDS = 300


def app_password(secret_key: str, email: str) -> str:
    """The password the sync engine uses for a user's embedded calendar (never shown to users)."""
    digest = hmac.new(secret_key.encode(), f"calsync-embedded-dav:{email.lower()}".encode(), hashlib.sha256)
    return "app-" + digest.hexdigest()[:40]


def storage_folder(var_dir: Path) -> Path:
    return (var_dir / "dav" / "collections").resolve()


class _Checker:
    """Checks a login against calsync's users (or the app password). The user row is read on
    every request (deactivation and password changes apply at once); only the slow scrypt
    comparison is cached, keyed on the stored hash. The first good login of a user in this
    process makes sure their calendar exists (`var_dir` given)."""

    def __init__(self, sessions: sessionmaker[Session], secret_key: str, var_dir: Path | None = None) -> None:
        self.sessions, self.secret_key, self.var_dir = sessions, secret_key, var_dir
        self._ok: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._has_calendar: set[str] = set()

    def __call__(self, login: str, password: str) -> str:
        email, name = self._check(login, password)
        if email and self.var_dir is not None and email not in self._has_calendar:
            ensure_calendar(self.var_dir, email, calendar_display_name(name))
            with self._lock:
                self._has_calendar.add(email)
        return email

    def _check(self, login: str, password: str) -> tuple[str, str]:
        """(e-mail, name) of the user these credentials sign in, or ("", "")."""
        email = login.strip().lower()
        if not email or not password:
            return "", ""
        with self.sessions() as session:
            user = session.scalar(select(User).where(func.lower(User.email) == email))
            if user is None or not user.active:
                return "", ""
            stored, name = user.password_hash, user.name
        if hmac.compare_digest(password, app_password(self.secret_key, email)):
            return email, name
        key = hashlib.sha256(f"{email}\0{password}".encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            expiry, hashed = self._ok.get(key, (0.0, ""))
            if expiry > now and hashed == stored:
                return email, name
        if not verify_password(password, stored):
            return "", ""
        with self._lock:
            self._ok = {k: v for k, v in self._ok.items() if v[0] > now}
            self._ok[key] = (now + _CACHE_SECONDS, stored)
        return email, name


def auth_type(check: Callable[[str, str], str]) -> Callable[[radicale.config.Configuration], radicale.auth.BaseAuth]:
    """A Radicale auth "type" (Radicale accepts a callable) bound to `check`."""

    class EmbeddedAuth(radicale.auth.BaseAuth):
        def _login(self, login: str, password: str) -> str:
            return check(login, password)

    return EmbeddedAuth


def configuration(var_dir: Path, check: Callable[[str, str], str] | None = None) -> radicale.config.Configuration:
    """Radicale's configuration for the embedded calendar (no config file is read)."""
    folder = storage_folder(var_dir)
    folder.mkdir(parents=True, exist_ok=True)
    config = radicale.config.load()
    values: dict[str, dict[str, Any]] = {
        "storage": {"filesystem_folder": str(folder)},
        "rights": {"type": "owner_only"},
        "web": {"type": "none"},
        "auth": {"type": auth_type(check) if check else "denyall", "delay": 1 if check else 0},
        "logging": {"level": "warning", "mask_passwords": True},
    }
    config.update(values, "calsync", privileged=True)
    return config


def make_app(var_dir: Path, sessions: sessionmaker[Session], secret_key: str) -> radicale.Application:
    return radicale.Application(configuration(var_dir, _Checker(sessions, secret_key, var_dir)))


def calendar_display_name(user_name: str) -> str:
    return f"{user_name}'s calendar"


def account_name(email: str) -> str:
    """The connection's account name: the same for every connect of this user, so settings
    remembered from an earlier connection come back."""
    return f"{email.lower()} on this calsync (built-in calendar)"


def calendar_path(email: str) -> str:
    return f"/{email.lower()}/{CALENDAR_NAME}/"


def ensure_calendar(var_dir: Path, email: str, display_name: str) -> None:
    """Creates the user's principal and calendar collections in the storage (idempotent)."""
    storage = radicale.storage.load(configuration(var_dir))
    principal = f"/{email.lower()}/"
    with storage.acquire_lock("w"):
        if not list(storage.discover(principal, depth="0")):
            storage.create_collection(principal)
        if not list(storage.discover(calendar_path(email), depth="0")):
            storage.create_collection(calendar_path(email), props={
                "tag": "VCALENDAR",
                "D:displayname": display_name,
                "C:supported-calendar-component-set": "VEVENT",
            })


def credentials_for(base_url: str, secret_key: str, email: str, display_name: str) -> dict[str, Any]:
    """Stored credentials; URLs spelled as Radicale spells them in its answers ("@" as %40), so
    the calendar id equals the one discovery finds."""
    root = base_url.rstrip("/") + MOUNT + "/"
    home = f"{root}{quote(email.lower(), safe='')}/"
    return {
        "url": root,
        "home_url": home,
        "username": email.lower(),
        "password": app_password(secret_key, email),
        "calendar_id": f"{home}{CALENDAR_NAME}/",
        "calendar_name": display_name,
        "embedded": True,
    }


def connect_builtin(session: Session, box: SecretBox, settings: Any, user: User) -> SyncAccount:
    """Connects `user` two-way to their own calendar in the embedded server (made if missing),
    through the one connect path (`sync.accounts.store_connection`): switching from another
    account remembers its settings, as any switch does. One calendar: nothing to choose."""
    display = calendar_display_name(user.name)
    ensure_calendar(settings.var_dir, user.email, display)
    creds = credentials_for(settings.resolved_base_url(), settings.resolved_secret_key(), user.email, display)
    calendar = CalendarInfo(id=creds["calendar_id"], name=display, writable=True, primary=True)
    return accounts.store_connection(session, box, user, "caldav", account_name(user.email), creds, [calendar],
                                     wanted=calendar.id, explicit=True)


def connect_demo_calendar(session: Session, box: SecretBox, settings: Any, user: User) -> SyncAccount:
    """The demo's connection of `user` to the built-in calendar. Leaves an existing connection
    of the user as it is."""
    existing = session.scalar(select(SyncAccount).where(SyncAccount.user_id == user.id))
    if existing is not None:
        return existing
    return connect_builtin(session, box, settings, user)


def repoint_embedded_accounts(sessions: sessionmaker[Session], box: SecretBox, base_url: str, secret_key: str) -> int:
    """After the base URL changed (another port), moves embedded connections to it. Returns how many."""
    moved = 0
    with sessions() as session:
        for account in session.scalars(select(SyncAccount).where(SyncAccount.provider == "caldav")):
            creds = json.loads(box.decrypt(account.credentials_encrypted))
            if not creds.get("embedded"):
                continue
            fresh = credentials_for(base_url, secret_key, creds["username"], creds.get("calendar_name") or "")
            if fresh["calendar_id"] == creds.get("calendar_id"):
                continue
            if account.calendar_id != creds.get("calendar_id"):
                continue  # the user picked another calendar: leave it
            account.credentials_encrypted = box.encrypt(json.dumps(fresh))
            account.calendar_id = fresh["calendar_id"]
            account.cursor = None
            moved += 1
        session.commit()
    return moved
