"""All tables. CRM tables first, then the sync engine's (accounts, links, runs, outbox).

Times are stored as naive UTC datetimes (`UtcDateTime` converts), all-day spans as dates.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuid_mod
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (same on SQLite and PostgreSQL)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC instant is required")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


def _search_name_of(label: str) -> Any:
    """The default of `search_name`: the lower-cased `label` column of the row being inserted
    (ORM and Core inserts alike; the item service sets it again when the name changes)."""

    def default(context: Any) -> str:
        return str(context.get_current_parameters().get(label) or "").lower()

    return default


# `search_name` holds the name lower-cased (Python's Unicode lower, not SQL's ASCII-only one);
# prefix search is a range on (company_id, search_name), fast at any size. Byte order ("C")
# on PostgreSQL, as SQLite's BINARY: the range `q <= search_name < q + U+10FFFF` is a prefix.
SearchName = String(300).with_variant(String(300, collation="C"), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The pages' language ("en", "ja"); None follows the browser's Accept-Language.
    language: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    api_token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    api_token_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebSession(Base):
    """A signed-in browser session, kept server-side so it can be ended: the cookie holds only a
    random id whose digest is the key here. Deleting the row (sign-out) or changing the user's
    password (the stamp no longer matches) ends it; `last_seen_at` drives the idle expiry."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    password_stamp: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ActivityType(Base):
    __tablename__ = "activity_types"
    __table_args__ = (UniqueConstraint("company_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    icon: Mapped[str] = mapped_column(String(40), default="calendar")
    color: Mapped[str] = mapped_column(String(7), default="#4f6bed")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_custom: Mapped[bool] = mapped_column(Boolean, default=False)
    order_nr: Mapped[int] = mapped_column(Integer, default=0)


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (Index("ix_organizations_search", "company_id", "search_name", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(300))
    search_name: Mapped[str] = mapped_column(SearchName, default=_search_name_of("name"))
    address: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(10), default="everyone")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Person(Base):
    __tablename__ = "persons"
    __table_args__ = (Index("ix_persons_search", "company_id", "search_name", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(300))
    search_name: Mapped[str] = mapped_column(SearchName, default=_search_name_of("name"))
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    visibility: Mapped[str] = mapped_column(String(10), default="everyone")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class PersonEmail(Base):
    """A person's e-mail address, lowercased, one row each: attendee -> person matching is one
    indexed lookup. Kept in step with `Person.emails` by the person service (crm/services/items.py)."""

    __tablename__ = "person_emails"
    __table_args__ = (Index("ix_person_emails_lookup", "company_id", "email", "person_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (Index("ix_deals_search", "company_id", "search_name", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(300))
    search_name: Mapped[str] = mapped_column(SearchName, default=_search_name_of("title"))
    value: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    status: Mapped[str] = mapped_column(String(10), default="open")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    visibility: Mapped[str] = mapped_column(String(10), default="everyone")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


# `id` too: PostgreSQL indexes do not hold the primary key by themselves (SQLite's do), and
# without it a page of ids cannot be an index-only scan there.
_RANGE_COVER = ("span_end", "all_day", "visibility", "deal_id", "person_id", "org_id", "id")


class Activity(Base):
    """One CRM activity. Timing is either timed (UTC instants + IANA zone) or all-day (dates).

    `span_start`/`span_end` are derived UTC bounds used only for range queries: for all-day
    items they cover the dates in every zone (UTC+14 .. UTC-12), never the truth itself (range
    queries rely on those fixed offsets: span_start = start date - 14 h, span_end = end date + 12 h).
    `version` increases on every change; the sync engine compares it with what it last synced.
    """

    __tablename__ = "activities"
    __table_args__ = (
        # Range indexes carry every column the calendar's filters read (overlap and visibility),
        # so counting and ordering a week of activities never touches the table rows.
        Index("ix_activities_company_span", "company_id", "deleted", "span_start", *_RANGE_COVER, "owner_id"),
        Index("ix_activities_owner_span", "owner_id", "deleted", "span_start", *_RANGE_COVER, "company_id"),
        Index("ix_activities_company_long", "company_id", "is_long", "deleted", "span_start", *_RANGE_COVER, "owner_id"),
        Index("ix_activities_company_updated", "company_id", "updated_at"),
        Index("ix_activities_series", "owner_id", "series_uid"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    type_id: Mapped[int] = mapped_column(ForeignKey("activity_types.id"))
    subject: Mapped[str] = mapped_column(String(500))
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    start_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    end_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    timezone: Mapped[str | None] = mapped_column(String(64))
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    span_start: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    span_end: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    is_long: Mapped[bool] = mapped_column(Boolean, default=False)
    busy: Mapped[bool] = mapped_column(Boolean, default=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    location: Mapped[str] = mapped_column(Text, default="")
    public_description: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"), index=True)
    conference_url: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(10), default="everyone")
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    series_uid: Mapped[str | None] = mapped_column(String(1024))
    occurrence_id: Mapped[str | None] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(10), default="crm")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    deleted_reason: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    participants: Mapped[list["ActivityParticipant"]] = relationship(
        cascade="all, delete-orphan", order_by="ActivityParticipant.id", lazy="selectin"
    )
    attendees: Mapped[list["ActivityAttendee"]] = relationship(
        cascade="all, delete-orphan", order_by="ActivityAttendee.id", lazy="selectin"
    )


class ActivityParticipant(Base):
    __tablename__ = "activity_participants"
    __table_args__ = (UniqueConstraint("activity_id", "person_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    primary: Mapped[bool] = mapped_column(Boolean, default=False)


class ActivityAttendee(Base):
    __tablename__ = "activity_attendees"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(20), default="needs_action")
    is_organizer: Mapped[bool] = mapped_column(Boolean, default=False)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))


# ---------------------------------------------------------------- sync engine


class SyncAccount(Base):
    """One connected calendar account per user, its settings, state and cursor."""

    __tablename__ = "sync_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    account_name: Mapped[str] = mapped_column(String(320))
    credentials_encrypted: Mapped[str] = mapped_column(Text)
    calendar_id: Mapped[str | None] = mapped_column(Text)
    calendar_name: Mapped[str | None] = mapped_column(String(300))
    sync_type: Mapped[str] = mapped_column(String(10), default="two_way")
    external_event_visibility: Mapped[str] = mapped_column(String(10), default="everyone")
    private_events: Mapped[str] = mapped_column(String(12), default="busy_block")
    import_type_key: Mapped[str] = mapped_column(String(40), default="meeting")
    push_types: Mapped[list[str] | None] = mapped_column(JSON)  # None = every type
    include_details: Mapped[bool] = mapped_column(Boolean, default=False)
    send_invitations: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(24), default="active")
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    cursor: Mapped[str | None] = mapped_column(Text)
    horizon_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    pending_deletions: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    settings_version: Mapped[int] = mapped_column(Integer, default=1)
    # settings_version of the last run that weighed every link (a change re-weighs them all)
    evaluated_settings_version: Mapped[int] = mapped_column(Integer, default=0)
    # cross-process run lease: taken by an atomic UPDATE, renewed during long runs, cleared at the end
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class SyncLink(Base):
    """Pairs one activity with one provider event instance (calendar, event id, recurrence id)."""

    __tablename__ = "sync_links"
    __table_args__ = (
        UniqueConstraint("account_id", "calendar_id", "event_id", "recurrence_id", name="uq_sync_links_event"),
        Index("ix_sync_links_activity", "activity_id"),
        Index("ix_sync_links_account_activity", "account_id", "activity_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("sync_accounts.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"))
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    recurrence_id: Mapped[str] = mapped_column(String(64), default="")
    origin: Mapped[str] = mapped_column(String(10))  # "crm" or "calendar"
    etag: Mapped[str | None] = mapped_column(String(256))
    crm_hash: Mapped[str | None] = mapped_column(String(64))
    event_hash: Mapped[str | None] = mapped_column(String(64))
    synced_version: Mapped[int] = mapped_column(Integer, default=0)
    provider_updated: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    event_end: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)  # where the event ended when last synced
    event_private: Mapped[bool] = mapped_column(Boolean, default=False)  # provider privacy flag last seen
    # the calendar holds more of some field than the CRM keeps (a cut description, title, location or
    # attendee list): an update reads the event first so it never writes back the cut copy. Links
    # made before the flag existed count as cut until their next write (server default true).
    event_cut: Mapped[bool] = mapped_column(Boolean, default=False, server_default=true())
    status: Mapped[str] = mapped_column(String(12), default="linked")  # linked / deleting / detached / error
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class SyncOrigin(Base):
    """Which activity an imported calendar event became, per user and kept across disconnects, so a
    reconnect adopts it (no duplicate, type unchanged) and an event whose activity was deleted stays out."""

    __tablename__ = "sync_origins"
    __table_args__ = (
        UniqueConstraint("user_id", "calendar_id", "event_id", "recurrence_id", name="uq_sync_origins_event"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    recurrence_id: Mapped[str] = mapped_column(String(64), default="")
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"), index=True)


class SyncRun(Base):
    """One sync run of an account: counts and a log of every conflict, skip and error."""

    __tablename__ = "sync_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("sync_accounts.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(20), default="running")
    pulled: Mapped[int] = mapped_column(Integer, default=0)
    pushed: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    conflicts: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # how far a running run has got ({"phase", "done", "total"}), written as it goes (sync/progress.py)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SyncOutbox(Base):
    """Provider deletions decided and committed but not yet done; retried with backoff."""

    __tablename__ = "sync_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("sync_accounts.id", ondelete="CASCADE"), index=True)
    operation: Mapped[str] = mapped_column(String(10), default="delete")
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    etag: Mapped[str | None] = mapped_column(String(256))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)


class SyncRememberedSettings(Base):
    """A user's settings for one provider account, kept when they disconnect or switch to another
    account, so connecting that same account again restores them (sync type, types, privacy, ...)."""

    __tablename__ = "sync_remembered_settings"
    __table_args__ = (
        UniqueConstraint("user_id", "provider", "account_name", name="uq_sync_remembered_settings_account"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    account_name: Mapped[str] = mapped_column(String(320))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    saved_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class SyncKnownMember(Base):
    """One object the calendar's membership listing named at the last complete listing (a digest
    of calendar id and object id, so a long history costs 16 characters a row). An object absent
    from a windowed answer is read before deciding only when it is new since then, which keeps a
    full listing of a calendar with years of past events from reading all of them every time."""

    __tablename__ = "sync_known_members"
    __table_args__ = (UniqueConstraint("account_id", "digest", name="uq_sync_known_members_digest"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("sync_accounts.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(16))


class SyncSeriesOriginal(Base):
    """The provider's own copy (for CalDAV, the iCalendar object) of a recurring series last seen
    in the calendar, so cancelling pending deletions can put the series back as one object
    instead of one event per occurrence."""

    __tablename__ = "sync_series_originals"
    __table_args__ = (
        UniqueConstraint("account_id", "calendar_id", "event_id", name="uq_sync_series_originals_event"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("sync_accounts.id", ondelete="CASCADE"), index=True)
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    etag: Mapped[str | None] = mapped_column(String(256))
    original: Mapped[str] = mapped_column(Text)
    saved_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
