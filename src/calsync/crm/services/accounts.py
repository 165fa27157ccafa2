"""Companies, users, sign-in and API tokens."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from calsync.crm.errors import Conflict, Invalid, NotFound, Unauthorized
from calsync.crm.services.activity_types import seed_default_types
from calsync.crm.timing import zone
from calsync.crypto import (SecretBox, hash_password, new_api_token, token_digest, unusable_password_hash,
                            verify_password)
from calsync.store.tables import Company, User

# The states of a user who has no password to sign in with (the prefix of the stored hash).
INVITED = "invited"  # added with an invite link, has not set a password yet
RESET = "reset"  # an admin reset the password with a link, not used yet


def get_or_create_company(session: Session, name: str) -> Company:
    company = session.scalar(select(Company).where(Company.name == name))
    if company is None:
        company = Company(name=name)
        session.add(company)
        session.flush()
        seed_default_types(session, company.id)
    return company


def add_user(
    session: Session,
    box: SecretBox,
    *,
    email: str,
    password: str,
    company_name: str = "Default",
    name: str | None = None,
    is_admin: bool = False,
    timezone: str = "UTC",
    invite: bool = False,
) -> tuple[User, str]:
    """Create a user (and the company if new); returns the user and the clear API token.
    With `invite` the user has no password yet: they set one through a set-password link."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise Invalid(f"'{email}' is not an e-mail address", field="email")
    if not invite:
        check_password(password)
    zone(timezone)
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise Conflict(f"a user with the e-mail {email} exists already")
    company = get_or_create_company(session, company_name)
    token = new_api_token()
    user = User(
        company_id=company.id,
        email=email,
        name=name or email.split("@")[0].capitalize(),
        password_hash=unusable_password_hash(INVITED) if invite else hash_password(password),
        timezone=timezone,
        is_admin=is_admin,
        api_token_digest=token_digest(token),
        api_token_encrypted=box.encrypt(token),
    )
    session.add(user)
    session.flush()
    return user, token


def check_password(password: str, field: str = "password") -> None:
    """The one password rule (every way of setting one goes through it)."""
    if len(password) < 8:
        raise Invalid(f"{field}: the password needs at least 8 characters", field=field)
    if len(password) > 200:
        raise Invalid(f"{field}: the password may have at most 200 characters", field=field)


def set_password(session: Session, user: User, password: str, field: str = "password") -> None:
    """Changes the sign-in password. Every web session signed in under the old one ends with it
    (a session is bound to a stamp of the password hash)."""
    check_password(password, field)
    user.password_hash = hash_password(password)
    session.flush()


def deactivate_user(session: Session, user: User) -> None:
    """Removes a user's access: sign-in, API token, web sessions and the built-in calendar all
    check `active` on every request."""
    user.active = False
    session.flush()


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with the e-mail {email}")
    return user


def api_token(box: SecretBox, user: User) -> str:
    return box.decrypt(user.api_token_encrypted)


def rotate_api_token(session: Session, box: SecretBox, user: User) -> str:
    token = new_api_token()
    user.api_token_digest = token_digest(token)
    user.api_token_encrypted = box.encrypt(token)
    session.flush()
    return token


def user_by_token(session: Session, token: str) -> User:
    user = session.scalar(select(User).where(User.api_token_digest == token_digest(token)))
    if user is None or not user.active:
        raise Unauthorized("the API token is not valid: get yours with `calsync user token EMAIL`")
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.active or not verify_password(password, user.password_hash):
        raise Unauthorized("wrong e-mail or password")
    return user


def company_users(session: Session, viewer: User) -> list[User]:
    return list(session.scalars(select(User).where(User.company_id == viewer.company_id).order_by(User.name)))


def user_in_company(session: Session, viewer: User, user_id: int, field: str = "owner_id") -> User:
    user = session.get(User, user_id)
    if user is None or user.company_id != viewer.company_id:
        raise Invalid(f"there is no user {user_id} in your company", field=field)
    return user
