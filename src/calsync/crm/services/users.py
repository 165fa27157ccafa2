"""Managing users: one's own name, time zone and password, and what admins do on the users page
(add or invite, deactivate, admin rights, password resets). The API, the pages and the CLI all
come through here, so the rules hold once: only admins manage users, only in their own company,
and a company never loses its last admin."""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from calsync.crm.errors import Conflict, Forbidden, Invalid, NotFound
from calsync.crm.services import accounts
from calsync.crm.services.accounts import INVITED, RESET
from calsync.crm.timing import zone
from calsync.crypto import SecretBox, unusable_password_hash, verify_password
from calsync.store.tables import Company, User, WebSession

SET_PASSWORD_PATH = "/set-password/"
# How long a set-password link works: long enough for an invite sent on Friday, short for a reset.
LINK_LIFETIME = {INVITED: dt.timedelta(days=7), RESET: dt.timedelta(days=1)}
LINK_GONE = "this link is no longer valid (it was used, replaced by a newer one, or expired): ask your admin for a new one"


def status(user: User) -> str:
    """`active`, `invited` (no password set yet), `reset` (must set a new password) or `deactivated`."""
    if not user.active:
        return "deactivated"
    prefix = user.password_hash.split("$", 1)[0]
    return prefix if prefix in (INVITED, RESET) else "active"


# ---- one's own settings ------------------------------------------------------------------------

def update_profile(session: Session, user: User, *, name: str | None = None, timezone: str | None = None) -> User:
    """Saves the user's display name and time zone (an IANA name; anything else is a 422)."""
    if name is not None:
        name = name.strip()
        if not name:
            raise Invalid("name: type the name others should see", field="name")
        if len(name) > 200:
            raise Invalid("name: at most 200 characters", field="name")
        user.name = name
    if timezone is not None:
        zone(timezone.strip(), field="timezone")
        user.timezone = timezone.strip()
    session.flush()
    return user


def change_own_password(session: Session, user: User, current: str, new: str, *, keep: str | None = None) -> None:
    """Changes one's own password, proven by the current one. Every web session of the user ends
    but `keep` (the one that asked, which the web layer then binds to the new password)."""
    if not verify_password(current, user.password_hash):
        raise Invalid("current_password: that is not your current password", field="current_password")
    if new == current:
        raise Invalid("new_password: choose a password other than the current one", field="new_password")
    accounts.set_password(session, user, new, field="new_password")
    end_web_sessions(session, user.id, keep=keep)


def end_web_sessions(session: Session, user_id: int, *, keep: str | None = None) -> int:
    """Deletes the user's signed-in browser sessions (all, or all but the row `keep`)."""
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep is not None:
        query = query.where(WebSession.id != keep)
    return session.execute(query).rowcount or 0


# ---- admins ------------------------------------------------------------------------------------

def require_admin(viewer: User) -> None:
    if not viewer.is_admin:
        raise Forbidden("only an admin can manage users: ask an admin of your company")


def company_users(session: Session, admin: User) -> list[User]:
    """Every user of the admin's company, deactivated ones included (the users page)."""
    require_admin(admin)
    return accounts.company_users(session, admin)


def managed_user(session: Session, admin: User, user_id: int) -> User:
    """A user the admin may manage: same company only; other companies' users do not exist for them."""
    require_admin(admin)
    found = session.get(User, user_id)
    if found is None or found.company_id != admin.company_id:
        raise NotFound(f"there is no user {user_id} in your company")
    return found


@dataclass(frozen=True)
class Added:
    user: User
    api_token: str
    link_token: str | None  # the set-password link's token when the user was invited


def add_user(session: Session, box: SecretBox, admin: User, *, email: str, name: str | None = None,
             timezone: str = "UTC", is_admin: bool = False, password: str | None = None,
             now: dt.datetime) -> Added:
    """Adds a user to the admin's company, with an initial password or (password None) an invite link."""
    require_admin(admin)
    company = session.get(Company, admin.company_id)
    assert company is not None
    return add_to_company(session, box, company.name, email=email, name=name, timezone=timezone,
                          is_admin=is_admin, password=password, now=now)


def add_to_company(session: Session, box: SecretBox, company_name: str, *, email: str, name: str | None,
                   timezone: str, is_admin: bool, password: str | None, now: dt.datetime) -> Added:
    """Adds a user (the CLI names the company; admins add to their own)."""
    if name is not None and not name.strip():
        name = None
    if name is not None and len(name.strip()) > 200:
        raise Invalid("name: at most 200 characters", field="name")
    user, token = accounts.add_user(session, box, email=email, password=password or "", company_name=company_name,
                                    name=name.strip() if name else None, is_admin=is_admin, timezone=timezone,
                                    invite=password is None)
    link = password_link(box, user, now) if password is None else None
    return Added(user, token, link)


def _lock_company(session: Session, company_id: int) -> None:
    """Serialises admin changes within one company on PostgreSQL (SQLite has one writer anyway)."""
    session.execute(select(Company.id).where(Company.id == company_id).with_for_update())


def _another_admin_remains(user: User):  # type: ignore[no-untyped-def]
    """SQL: some other active admin of the user's company exists (checked in the UPDATE itself)."""
    others = (select(func.count(User.id))
              .where(User.company_id == user.company_id, User.is_admin.is_(True), User.active.is_(True),
                     User.id != user.id)
              .scalar_subquery())
    return others > 0


def _guarded(session: Session, user: User, what: str, **values: object) -> None:
    """Applies `values` to an active admin only if another active admin remains, or says why not."""
    _lock_company(session, user.company_id)
    done = session.execute(
        update(User).where(User.id == user.id, _another_admin_remains(user)).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(user)
    if not done:
        raise Conflict(f"{user.email} is the company's last admin and cannot be {what}: make another user admin first")


def set_admin(session: Session, user: User, is_admin: bool) -> User:
    """Gives or takes admin rights; the last active admin of a company keeps them."""
    if is_admin or not user.is_admin:
        user.is_admin = is_admin
        session.flush()
        return user
    if user.active:
        _guarded(session, user, "removed as admin", is_admin=False)
    else:
        user.is_admin = False
        session.flush()
    return user


def set_active(session: Session, user: User, active: bool, *, actor: User | None = None) -> User:
    """Deactivates (sign-in, API token and web sessions stop at once; the user's data stays) or
    reactivates a user. No one deactivates themselves, and the last admin stays."""
    if not active and actor is not None and actor.id == user.id:
        raise Conflict("you cannot deactivate yourself: ask another admin")
    if active or not user.active:
        user.active = active
        session.flush()
        return user
    if user.is_admin:
        _guarded(session, user, "deactivated", active=False)
    else:
        user.active = False
        session.flush()
    end_web_sessions(session, user.id)
    return user


def reset_password(session: Session, box: SecretBox, user: User, *, password: str | None,
                   now: dt.datetime) -> str | None:
    """An admin's reset: the old password stops working and the user's sessions end. With a new
    password it is set at once; without one the user gets a set-password link (returned)."""
    if not user.active:
        raise Conflict(f"{user.email} is deactivated: reactivate the user first")
    if password is not None:
        accounts.set_password(session, user, password)
        end_web_sessions(session, user.id)
        return None
    if status(user) != INVITED:  # an invited user keeps the invite state; the new link replaces the old
        user.password_hash = unusable_password_hash(RESET)
    else:
        user.password_hash = unusable_password_hash(INVITED)
    session.flush()
    end_web_sessions(session, user.id)
    return password_link(box, user, now)


# ---- set-password links ------------------------------------------------------------------------

def _link_message(user_id: int, expires: int, password_hash: str) -> str:
    return f"set-password:{user_id}:{expires}:{password_hash}"


def password_link(box: SecretBox, user: User, now: dt.datetime) -> str:
    """The token of a link with which the user sets a password. It names the user's current
    password state, so it works once (setting a password changes it) and a newer link replaces it."""
    kind = status(user)
    if kind not in LINK_LIFETIME:
        raise Conflict(f"{user.email} has a password: reset it to make a link")
    expires = int((now + LINK_LIFETIME[kind]).timestamp())
    return f"{user.id}.{expires}.{box.sign(_link_message(user.id, expires, user.password_hash))}"


def user_for_link(session: Session, box: SecretBox, token: str, now: dt.datetime) -> User:
    """The user a set-password link is for, or a 404 that says to ask for a new link."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(parts[0]) > 10:
        raise NotFound(LINK_GONE)
    user_id, expires = int(parts[0]), int(parts[1])
    user = session.get(User, user_id)
    if user is None or not user.active or status(user) not in LINK_LIFETIME:
        raise NotFound(LINK_GONE)
    expected = box.sign(_link_message(user_id, expires, user.password_hash))
    if not hmac.compare_digest(expected, parts[2]) or now.timestamp() >= expires:
        raise NotFound(LINK_GONE)
    return user


def set_password_by_link(session: Session, box: SecretBox, token: str, password: str, now: dt.datetime) -> User:
    user = user_for_link(session, box, token, now)
    accounts.set_password(session, user, password)
    end_web_sessions(session, user.id)
    return user


def link_path(token: str) -> str:
    return SET_PASSWORD_PATH + token
