"""Activity <-> event mapping, and every normalisation that keeps it a fixed point.

`fields_of(activity)` and `to_crm(event)` both produce `SyncedFields`, normalised the same way
(text whitespace, HTML to text, time-zone spellings, seconds precision, attendee order, the
generated deal/contact block stripped). `to_event(fields)` writes them out. The law, tested by
Hypothesis: `to_crm(to_event(fields_of(a))) == fields_of(a)`, so a round trip never writes again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
from dataclasses import dataclass, field, fields as dataclass_fields, replace
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import email_validator

from calsync.sync.model import Event, EventAttendee, Privacy

UTC = dt.timezone.utc
PrivateMode = Literal["everyone", "busy_block", "skip"]
NO_TITLE = "(no title)"
SUBJECT_MAX, LOCATION_MAX, DESCRIPTION_MAX, URL_MAX, NAME_MAX = 500, 2000, 20000, 2000, 300
ATTENDEES_MAX = 500  # the CRM keeps at most this many attendees per activity
BLOCK_START = "---- calsync: deal and contact info (generated; edits here are not synced) ----"
BLOCK_END = "---- end of calsync info ----"
_BLOCK_RE = re.compile(r"\s*" + re.escape(BLOCK_START) + r".*?(" + re.escape(BLOCK_END) + r"|\Z)", re.S)
_TAG_RE = re.compile(
    r"</?(p|br|div|span|a|b|i|u|strong|em|ul|ol|li|html|body|head|table|tr|td|th|h[1-6]|font|hr)\b[^>]*>", re.I
)
_BREAK_RE = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6])\s*/?>", re.I)
_EMAIL_RE = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")
ATTENDEE_STATUSES = ("needs_action", "accepted", "declined", "tentative")

# Spellings of zones that are not IANA names (Windows names used by Graph, offsets, aliases).
ZONE_ALIASES = {
    "utc": "UTC", "etc/utc": "UTC", "gmt": "UTC", "etc/gmt": "UTC", "z": "UTC", "zulu": "UTC",
    "universal": "UTC", "etc/universal": "UTC", "greenwich": "UTC", "utc+00:00": "UTC",
    "w. europe standard time": "Europe/Berlin", "romance standard time": "Europe/Paris",
    "gmt standard time": "Europe/London", "central europe standard time": "Europe/Budapest",
    "eastern standard time": "America/New_York", "central standard time": "America/Chicago",
    "mountain standard time": "America/Denver", "pacific standard time": "America/Los_Angeles",
    "tokyo standard time": "Asia/Tokyo", "india standard time": "Asia/Kolkata",
    "aus eastern standard time": "Australia/Sydney", "china standard time": "Asia/Shanghai",
}


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str = ""
    status: str = "needs_action"
    organizer: bool = False


@dataclass(frozen=True)
class SyncedFields:
    """What sync carries between an activity and its event, in normal form."""

    subject: str
    all_day: bool
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    timezone: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    location: str = ""
    description: str = ""
    busy: bool = True
    private: bool = False
    attendees: tuple[Attendee, ...] = field(default_factory=tuple)
    conference_url: str = ""

    def ends_before(self, now: dt.datetime) -> bool:
        if self.all_day:
            assert self.end_date is not None
            return dt.datetime.combine(self.end_date, dt.time(), UTC) + dt.timedelta(hours=12) <= now
        assert self.end_at is not None
        return self.end_at <= now

    def end_instant(self) -> dt.datetime:
        """The latest instant the item can still be running anywhere (for window checks)."""
        if self.all_day:
            assert self.end_date is not None
            return dt.datetime.combine(self.end_date, dt.time(), UTC) + dt.timedelta(hours=12)
        assert self.end_at is not None
        return self.end_at


# ------------------------------------------------------------------ normalisation


def norm_text(value: str | None, limit: int) -> str:
    """CRLF to LF, no trailing spaces per line, no leading/trailing blank space, NULs removed."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip()
    return text[:limit].rstrip()


def norm_line(value: str | None, limit: int) -> str:
    """One line: any whitespace run becomes one space; NULs (which PostgreSQL refuses) go."""
    return " ".join((value or "").replace("\x00", "").split())[:limit].strip()


def html_to_text(value: str) -> str:
    """Descriptions some providers send as HTML become plain text (line breaks kept)."""
    text = value
    while _TAG_RE.search(text):  # repeated until stable, so normalising twice changes nothing
        text = html.unescape(_TAG_RE.sub("", _BREAK_RE.sub("\n", text)))
    return text


def strip_block(description: str) -> str:
    """Removes the generated deal/contact block: it is written, never read back."""
    return _BLOCK_RE.sub("", description)


def norm_description(value: str | None) -> str:
    return norm_text(strip_block(html_to_text(value or "")), DESCRIPTION_MAX)


def norm_zone(name: str | None) -> str:
    """An IANA name for any spelling we know; unknown spellings fall back to UTC."""
    if not name:
        return "UTC"
    alias = ZONE_ALIASES.get(name.strip().lower())
    if alias:
        return alias
    try:
        ZoneInfo(name.strip())
        return name.strip()
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"


def norm_instant(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def valid_email(value: str) -> bool:
    """Accepted by the CRM's attendee schema too (special-use domains such as .test are not)."""
    if not _EMAIL_RE.match(value) or len(value) > 320:
        return False
    try:
        checked = email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError:
        return False
    return checked.normalized.lower() == value


def _unique_attendees(items: list[Attendee]) -> list[Attendee]:
    """Lower-case e-mails, one entry per address, invalid addresses dropped (no cap)."""
    seen: dict[str, Attendee] = {}
    for item in items:
        email = item.email.strip().lower()
        if not valid_email(email) or email in seen:
            continue
        status = item.status if item.status in ATTENDEE_STATUSES else "needs_action"
        seen[email] = Attendee(email, norm_line(item.name, NAME_MAX), status, bool(item.organizer))
    return list(seen.values())


def norm_attendees(items: list[Attendee]) -> tuple[Attendee, ...]:
    """Unique valid attendees sorted by e-mail, at most ATTENDEES_MAX (what the CRM keeps): the
    organizer first, then by e-mail, so the cut is the same on every run."""
    unique = _unique_attendees(items)
    if len(unique) > ATTENDEES_MAX:
        unique = sorted(unique, key=lambda a: (not a.organizer, a.email))[:ATTENDEES_MAX]
    return tuple(sorted(unique, key=lambda a: a.email))


def normalise(fields: SyncedFields) -> SyncedFields:
    """The one normal form both sides are compared in."""
    if fields.all_day:
        assert fields.start_date is not None
        end = fields.end_date if fields.end_date and fields.end_date > fields.start_date else fields.start_date + dt.timedelta(days=1)
        timing: dict[str, Any] = dict(start_at=None, end_at=None, timezone=None, start_date=fields.start_date, end_date=end)
    else:
        assert fields.start_at is not None
        start = norm_instant(fields.start_at)
        end = norm_instant(fields.end_at) if fields.end_at else start
        timing = dict(start_at=start, end_at=max(start, end), timezone=norm_zone(fields.timezone), start_date=None, end_date=None)
    return replace(
        fields,
        subject=norm_line(fields.subject, SUBJECT_MAX) or NO_TITLE,
        location=norm_line(fields.location, LOCATION_MAX),
        description=norm_description(fields.description),
        conference_url=norm_line(fields.conference_url, URL_MAX),
        busy=bool(fields.busy),
        private=bool(fields.private),
        attendees=norm_attendees(list(fields.attendees)),
        **timing,
    )


_FIELD_NAMES = tuple(f.name for f in dataclass_fields(SyncedFields))
_ATTENDEE_NAMES = tuple(f.name for f in dataclass_fields(Attendee))


def _plain(fields: SyncedFields) -> dict[str, Any]:
    """The fields as a dict, as `dataclasses.asdict` would give (same digest), without its deep
    copies: hashing runs twice per linked item on a first import, and asdict was half its cost."""
    data = {name: getattr(fields, name) for name in _FIELD_NAMES}
    data["attendees"] = [{name: getattr(a, name) for name in _ATTENDEE_NAMES} for a in fields.attendees]
    return data


def content_hash(fields: SyncedFields) -> str:
    """A stable digest of normalised fields: what the link stores per side."""
    data = _plain(normalise(fields))
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


_DETAILS_MARK = ":"  # at this position, a CRM-side hash that covers the deal/contact block


def mapped(fields: SyncedFields, unmapped: frozenset[str]) -> SyncedFields:
    """`fields` without those a provider cannot carry (its `unmapped_fields`, e.g. Google's
    conference link, which Google makes itself): they are left out of that provider's hashes, so
    a value the calendar cannot hold is neither a change nor a difference."""
    if not unmapped:
        return fields
    blank = SyncedFields(subject="", all_day=False)
    return replace(fields, **{name: getattr(blank, name) for name in unmapped if name in _FIELD_NAMES})


def keep_unmapped(incoming: SyncedFields, current: SyncedFields, unmapped: frozenset[str]) -> SyncedFields:
    """What an update from the calendar writes to an activity: the event's fields, except those
    the provider cannot carry, which keep the activity's values (a pulled edit never clears them)."""
    if not unmapped:
        return incoming
    return replace(incoming, **{name: getattr(current, name) for name in unmapped if name in _FIELD_NAMES})


def crm_side_hash(fields: SyncedFields, details: str | None) -> str:
    """What a link stores for the CRM side: the fields' digest, or, when the account writes the
    generated deal/contact block (`details` is its digest, see `details_digest`), half of each,
    so a change to a linked deal, person or organization counts as a change of the activity.
    64 characters either way (the column's width)."""
    base = content_hash(fields)
    if details is None:
        return base
    return base[:31] + _DETAILS_MARK + details[:32]


def details_part(crm_hash: str | None) -> str | None:
    """The block's half of a hash made by `crm_side_hash` with a block, else None."""
    if crm_hash is None or len(crm_hash) != 64 or crm_hash[31] != _DETAILS_MARK:
        return None
    return crm_hash[32:]


def with_details_part(fields: SyncedFields, part: str) -> str:
    """The hash of `fields` that keeps the block half of an earlier hash (the event still holds that block)."""
    return content_hash(fields)[:31] + _DETAILS_MARK + part


def details_digest(details: str) -> str:
    """A digest of the generated block's text (as `crm_side_hash` takes it)."""
    return hashlib.sha256(details.encode()).hexdigest()[:32]


# ------------------------------------------------------------------ the two directions


def fields_of(activity: Any) -> SyncedFields:
    """The synced fields of a CRM activity (an `Activity` row or anything shaped like one)."""
    return normalise(
        SyncedFields(
            subject=activity.subject,
            all_day=bool(activity.all_day),
            start_at=activity.start_at,
            end_at=activity.end_at,
            timezone=activity.timezone,
            start_date=activity.start_date,
            end_date=activity.end_date,
            location=activity.location or "",
            description=activity.public_description or "",
            busy=activity.busy,
            private=activity.private,
            attendees=tuple(
                Attendee(a.email, a.name or "", a.status or "needs_action", bool(a.is_organizer)) for a in activity.attendees
            ),
            conference_url=activity.conference_url or "",
        )
    )


def to_crm(event: Event, private_mode: PrivateMode = "busy_block") -> SyncedFields:
    """The synced fields an event stands for. In "everyone" mode private events are ordinary."""
    return normalise(
        SyncedFields(
            subject=event.summary,
            all_day=event.all_day,
            start_at=event.start,
            end_at=event.end,
            timezone=event.timezone,
            start_date=event.start_date,
            end_date=event.end_date,
            location=event.location,
            description=event.description,
            busy=event.busy,
            private=event.is_private and private_mode != "everyone",
            attendees=tuple(Attendee(a.email, a.name, a.status, a.organizer) for a in event.attendees),
            conference_url=event.conference_url,
        )
    )


def to_event(
    fields: SyncedFields,
    *,
    calendar_id: str,
    activity_uuid: str,
    event_id: str = "",
    details: str = "",
    keep_private: bool = False,
    base: Event | None = None,
) -> Event:
    """An event carrying `fields`. `details` is the generated block (appended, delimited);
    `keep_private` keeps a calendar's private flag that the CRM does not model (mode "everyone").
    `base` is the event as the calendar holds it now: its unmapped data is kept, and so is its
    whole text or attendee list where the CRM holds only the cut copy it made (see `uncut`)."""
    fields = normalise(fields)
    description = fields.description
    if details:
        description = (description + "\n\n" if description else "") + f"{BLOCK_START}\n{details.strip()}\n{BLOCK_END}"
    privacy: Privacy = "private" if fields.private or keep_private else "public"
    event = base if base is not None else Event(calendar_id=calendar_id)
    event = replace(
        event,
        calendar_id=calendar_id,
        event_id=event_id or event.event_id,
        activity_uuid=activity_uuid,
        floating=False,
        summary=fields.subject,
        description=description,
        location=fields.location,
        all_day=fields.all_day,
        start=fields.start_at,
        end=fields.end_at,
        timezone=fields.timezone,
        start_date=fields.start_date,
        end_date=fields.end_date,
        busy=fields.busy,
        privacy=privacy,
        attendees=[EventAttendee(a.email, a.name, a.status, a.organizer) for a in fields.attendees],
        conference_url=fields.conference_url,
    )
    if base is not None:
        event = replace(event, **uncut(fields, base, details))
    return event


def _full_text(value: str) -> str:
    return norm_text(strip_block(html_to_text(value or "")), 10**9)


def uncut(fields: SyncedFields, current: Event, details: str = "") -> dict[str, Any]:
    """Never write back less than the calendar holds: where the CRM's value is exactly the cut copy
    the CRM made of the calendar's longer value (description, subject, location, attendees), the
    user did not change that field in the CRM, so the calendar's whole value is written back."""
    keep: dict[str, Any] = {}
    if len(_full_text(current.description)) > DESCRIPTION_MAX and norm_description(current.description) == fields.description:
        text = strip_block(current.description).rstrip()
        keep["description"] = text + (f"\n\n{BLOCK_START}\n{details.strip()}\n{BLOCK_END}" if details else "")
    for name, attr, limit in (("subject", "summary", SUBJECT_MAX), ("location", "location", LOCATION_MAX)):
        theirs = getattr(current, attr) or ""
        if len(norm_line(theirs, 10**9)) > limit and norm_line(theirs, limit) == getattr(fields, name):
            keep[attr] = theirs
    attendees = [Attendee(a.email, a.name, a.status, a.organizer) for a in current.attendees]
    if len(_unique_attendees(attendees)) > ATTENDEES_MAX and norm_attendees(attendees) == fields.attendees:
        keep["attendees"] = [replace(a) for a in current.attendees]
    return keep


def cut_notes(event: Event) -> list[str]:
    """What the CRM keeps less of than the calendar holds, in words for the run log (never the
    text itself). The calendar's copy stays whole (see `uncut`)."""
    notes = []
    description = len(_full_text(event.description))
    if description > DESCRIPTION_MAX:
        notes.append(f"the description has {description:,} characters: the CRM keeps the first {DESCRIPTION_MAX:,}, the calendar keeps all")
    for label, value, limit in (("title", event.summary, SUBJECT_MAX), ("location", event.location, LOCATION_MAX)):
        length = len(norm_line(value, 10**9))
        if length > limit:
            notes.append(f"the {label} has {length:,} characters: the CRM keeps the first {limit:,}, the calendar keeps all")
    attendees = len(_unique_attendees([Attendee(a.email, a.name, a.status, a.organizer) for a in event.attendees]))
    if attendees > ATTENDEES_MAX:
        notes.append(f"the event has {attendees:,} attendees: the CRM keeps {ATTENDEES_MAX:,} (the organizer first), the calendar keeps all")
    return notes


def read_floating(event: Event, zone: str | None) -> Event:
    """A floating time (no zone, no Z) is local time (RFC 5545 section 3.3.5): the wall-clock time
    the provider read is placed in the owner's zone."""
    if not event.floating or event.start is None:
        return event
    tz = ZoneInfo(norm_zone(zone))
    local = lambda value: value.replace(tzinfo=None).replace(tzinfo=tz).astimezone(UTC) if value else value  # noqa: E731
    return replace(event, start=local(event.start), end=local(event.end), timezone=norm_zone(zone), floating=False)


def crm_values(fields: SyncedFields) -> dict[str, Any]:
    """Keyword values for the CRM's ActivityCreate / ActivityUpdate schemas."""
    fields = normalise(fields)
    if fields.all_day:
        assert fields.start_date and fields.end_date
        start, end, zone = fields.start_date.isoformat(), fields.end_date.isoformat(), None
    else:
        assert fields.start_at and fields.end_at and fields.timezone
        tz = ZoneInfo(fields.timezone)
        start, end, zone = fields.start_at.astimezone(tz).isoformat(), fields.end_at.astimezone(tz).isoformat(), fields.timezone
    return dict(
        subject=fields.subject,
        start=start,
        end=end,
        all_day=fields.all_day,
        timezone=zone,
        busy=fields.busy,
        location=fields.location,
        public_description=fields.description,
        conference_meeting_url=fields.conference_url,
        private=fields.private,
        attendees=[
            dict(email=a.email, name=a.name, status=a.status, is_organizer=a.organizer) for a in fields.attendees
        ],
    )


def details_text(deal: str | None, person: tuple[str, list[str], list[str]] | None, org: str | None, link: str) -> str:
    """The body of the generated block: deal, person (name, e-mail, phone), organization, link."""
    lines = []
    if deal:
        lines.append(f"Deal: {deal}")
    if person:
        name, emails, phones = person
        extra = ", ".join([*emails[:1], *phones[:1]])
        lines.append(f"Contact: {name}" + (f" ({extra})" if extra else ""))
    if org:
        lines.append(f"Organization: {org}")
    lines.append(f"Open in CRM: {link}")
    return "\n".join(lines)
