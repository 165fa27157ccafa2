"""VEVENT <-> neutral Event.

Reading maps one VEVENT component (a single event, or one occurrence produced by recurrence
expansion) to an Event. Writing never builds an object from scratch when one exists: it parses
the text the server gave us (`Event.raw`), changes only the properties we map and only when their
mapped value differs, and serialises the rest untouched (VALARM, other clients' X- properties,
attendee parameters the server added)."""

from __future__ import annotations

import datetime as dt
import uuid as uuid_mod
import zoneinfo

import icalendar

from calsync.sync.model import Event, EventAttendee

ACTIVITY_PROP = "X-CALSYNC-ACTIVITY-ID"
# Marks the ORGANIZER line naming the account itself, which we add when we write attendees (RFC
# 5545 wants an ORGANIZER on every event with attendees); it is not read back as an attendee.
OWN_ORGANIZER_PARAM = "X-CALSYNC-ACCOUNT"
# Zero-length timed items (calls, tasks, deadlines) are written as DTSTART + DURATION:PT1M with
# this marker: some servers refuse DTEND == DTSTART (RFC 5545 allows it). Read back, a marked
# event still lasting exactly ZERO_PAD is zero-length again; one given another length by the
# user in their calendar app keeps that length (the marker is then dropped on our next write).
ZERO_PROP = "X-CALSYNC-REAL-DURATION"
ZERO_PAD = dt.timedelta(minutes=1)
PRODID = "-//calsync//calsync CalDAV provider//EN"
MAX_TEXT = 100_000  # characters in SUMMARY/DESCRIPTION/LOCATION before we refuse an item
MAX_OBJECT = 2_000_000  # bytes of one calendar object before we refuse it

_CLASS_TO_PRIVACY = {"PUBLIC": "public", "PRIVATE": "private", "CONFIDENTIAL": "confidential"}
_STATUS = {"CONFIRMED": "confirmed", "TENTATIVE": "tentative", "CANCELLED": "cancelled"}
_PARTSTAT = {"NEEDS-ACTION": "needs_action", "ACCEPTED": "accepted", "DECLINED": "declined",
             "TENTATIVE": "tentative"}
_PARTSTAT_OUT = {v: k for k, v in _PARTSTAT.items()}


class Unmappable(Exception):
    """An item we cannot turn into an event; `reason` is written to the run log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------ parsing


def parse(text: str) -> icalendar.Calendar:
    if len(text.encode()) > MAX_OBJECT:
        raise Unmappable(f"the calendar object is {len(text.encode()):,} bytes (limit {MAX_OBJECT:,})")
    try:
        return icalendar.Calendar.from_ical(text)
    except Exception as exc:  # icalendar raises ValueError and friends for broken data
        raise Unmappable(f"not valid iCalendar data ({type(exc).__name__})") from exc


def vevents(cal: icalendar.Calendar) -> list[icalendar.cal.Component]:
    events = [c for c in cal.subcomponents if c.name == "VEVENT"]
    if not events:
        kinds = sorted({c.name for c in cal.subcomponents if c.name != "VTIMEZONE"})
        if "VTODO" in kinds or "VJOURNAL" in kinds:
            raise Unmappable(f"a {'/'.join(kinds)} item (task or journal entry), not an event")
        raise Unmappable("the calendar object holds no event (VEVENT)")
    return events


def is_recurring(events: list[icalendar.cal.Component]) -> bool:
    return any("RRULE" in c or "RDATE" in c or "RECURRENCE-ID" in c for c in events)


def check(component: icalendar.cal.Component) -> None:
    """Refuses components whose dates or sizes we cannot map, with the reason."""
    if "DTSTART" not in component:
        raise Unmappable("the event has no start (DTSTART)")
    for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
        if name not in component:
            continue
        prop = component[name]
        try:
            value = prop.dt
        except Exception:  # icalendar keeps unparsable values as vBroken, raising on access
            value = None
        if not isinstance(value, dt.date):
            raise Unmappable(f"{name} is not a valid date or date-time: {str(component.get(name))[:60]!r}")
        tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
        if tzid and isinstance(value, dt.datetime) and value.tzinfo is None:
            raise Unmappable(f"{name} uses the unknown time zone {tzid!r}")
    for name in ("SUMMARY", "DESCRIPTION", "LOCATION"):
        value = component.get(name)
        if value is not None and len(str(value)) > MAX_TEXT:
            raise Unmappable(f"{name} is {len(str(value)):,} characters long (limit {MAX_TEXT:,})")


# ------------------------------------------------------------------ reading


def zone_name(value: dt.datetime) -> str:
    tz = value.tzinfo
    key = getattr(tz, "key", None)
    if key:
        return "UTC" if key in ("Etc/UTC", "UTC", "Etc/GMT") else str(key)
    if tz is None or value.utcoffset() == dt.timedelta(0):
        return "UTC"
    return "UTC"


def _aware(value: dt.datetime) -> dt.datetime:
    """Floating times (no zone) are labelled UTC here; the Event says `floating`, and the engine
    places the wall-clock time in the owner's zone (the provider does not know the owner)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def occurrence_id(value: dt.date) -> str:
    """Stable text for a recurrence id (iCalendar basic format): the UTC instant
    (20261201T090000Z), or the date of an all-day occurrence (20261201)."""
    if isinstance(value, dt.datetime):
        return _aware(value).astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _text(component: icalendar.cal.Component, name: str) -> str:
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0]
    return str(value)


def _email(value: object) -> str:
    text = str(value)
    return text[7:] if text.lower().startswith("mailto:") else text


def attendees_of(component: icalendar.cal.Component) -> list[EventAttendee]:
    """ATTENDEEs in order; the ORGANIZER is flagged on its attendee entry or put first."""
    raw = component.get("ATTENDEE")
    items = raw if isinstance(raw, list) else ([raw] if raw is not None else [])
    result: list[EventAttendee] = []
    for item in items:
        params = getattr(item, "params", {})
        result.append(EventAttendee(
            email=_email(item).lower(),
            name=str(params.get("CN", "")),
            status=_PARTSTAT.get(str(params.get("PARTSTAT", "NEEDS-ACTION")).upper(), "needs_action"),
        ))
    organizer = component.get("ORGANIZER")
    if organizer is not None and not _is_own_organizer(organizer):  # ours names the account: no CRM data
        email = _email(organizer).lower()
        for attendee in result:
            if attendee.email == email:
                attendee.organizer = True
                break
        else:
            name = str(getattr(organizer, "params", {}).get("CN", ""))
            result.insert(0, EventAttendee(email=email, name=name, organizer=True))
    return result


def _is_own_organizer(line: object) -> bool:
    return str(getattr(line, "params", {}).get(OWN_ORGANIZER_PARAM, "")).upper() == "TRUE"


def conference_of(component: icalendar.cal.Component) -> str:
    for name in ("CONFERENCE", "X-GOOGLE-CONFERENCE", "URL"):
        value = _text(component, name)
        if value:
            return value
    return ""


def to_event(
    component: icalendar.cal.Component,
    *,
    calendar_id: str,
    href: str,
    etag: str | None,
    raw: str,
    series_id: str | None = None,
) -> Event:
    """One VEVENT (a single event or an expanded occurrence) as a neutral Event."""
    check(component)
    start = component["DTSTART"].dt
    event = Event(calendar_id=calendar_id, event_id=href, etag=etag, raw=raw)
    event.uid = _text(component, "UID") or None
    event.activity_uuid = _text(component, ACTIVITY_PROP) or None
    event.summary = _text(component, "SUMMARY")
    event.description = _text(component, "DESCRIPTION")
    event.location = _text(component, "LOCATION")
    if isinstance(start, dt.datetime):
        end = component.end if ("DTEND" in component or "DURATION" in component) else start
        if not isinstance(end, dt.datetime):
            raise Unmappable("the event mixes a date-time start with an all-day end")
        if ZERO_PROP in component and end - start == ZERO_PAD:
            end = start  # our padding of a zero-length item (see ZERO_PROP)
        event.timezone = zone_name(start)
        event.floating = start.tzinfo is None  # local time: the engine reads it in the owner's zone
        event.start, event.end = _aware(start), _aware(end)
        if event.end < event.start:
            raise Unmappable("the event ends before it starts")
    else:
        end = component.end if ("DTEND" in component or "DURATION" in component) else start + dt.timedelta(days=1)
        if isinstance(end, dt.datetime):
            raise Unmappable("the event mixes an all-day start with a date-time end")
        event.all_day = True
        event.start_date, event.end_date = start, max(end, start + dt.timedelta(days=1))
    event.privacy = _CLASS_TO_PRIVACY.get(_text(component, "CLASS").upper(), "private" if _text(component, "CLASS") else "public")  # type: ignore[assignment]
    event.busy = _text(component, "TRANSP").upper() != "TRANSPARENT"
    event.status = _STATUS.get(_text(component, "STATUS").upper(), "confirmed")  # type: ignore[assignment]
    event.attendees = attendees_of(component)
    event.conference_url = conference_of(component)
    for name in ("LAST-MODIFIED", "DTSTAMP"):
        if name in component and isinstance(component[name].dt, dt.datetime):
            event.updated = _aware(component[name].dt).astimezone(dt.timezone.utc)
            break
    if series_id is not None:
        event.series_id = series_id
        recurrence = component.get("RECURRENCE-ID")
        event.recurrence_id = occurrence_id(recurrence.dt if recurrence is not None else start)
    return event


# ------------------------------------------------------------------ writing


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _zone(name: str | None) -> dt.tzinfo:
    if not name or name.upper() in ("UTC", "ETC/UTC", "Z"):
        return dt.timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.timezone.utc


def _times(event: Event) -> tuple[dt.date, dt.date]:
    if event.all_day:
        assert event.start_date is not None
        end_date = event.end_date or event.start_date + dt.timedelta(days=1)
        return event.start_date, end_date
    assert event.start is not None
    tz = _zone(event.timezone)
    start = event.start.astimezone(tz)
    end = (event.end or event.start).astimezone(tz)
    return start, end


def _same_times(component: icalendar.cal.Component, event: Event) -> bool:
    try:
        current = to_event(component, calendar_id="", href="", etag=None, raw="")
    except Unmappable:
        return False
    if current.all_day != event.all_day:
        return False
    if event.all_day:
        return (current.start_date, current.end_date) == _times(event)
    return (current.start, current.end, current.timezone) == (event.start, event.end or event.start,
                                                             _zone_label(event.timezone))


def _zone_label(name: str | None) -> str:
    tz = _zone(name)
    return getattr(tz, "key", None) or "UTC"


def _set_text(component: icalendar.cal.Component, name: str, value: str) -> None:
    if _text(component, name) == value:
        return
    component.pop(name, None)
    if value:
        component.add(name, value)


def _set_enum(component: icalendar.cal.Component, name: str, value: str, default: str) -> None:
    current = _text(component, name).upper()
    if current == value or (not current and value == default):
        return
    component.pop(name, None)
    component.add(name, value)


def _attendee_key(items: list[EventAttendee]) -> list[tuple[str, str, str, bool]]:
    return [(a.email.lower(), a.name, a.status, a.organizer) for a in items]


def _set_attendees(component: icalendar.cal.Component, event: Event, send_invitations: bool,
                   own_address: str | None) -> None:
    """Writes the attendee list when it differs. Lines that still say the same are kept as they
    were (parameters other clients or the server put there included); only the lines written here
    get SCHEDULE-AGENT=CLIENT (RFC 6638 7.1: the client handles scheduling, the server sends no
    mail), so a meeting the user organised in their own app keeps its scheduling. With attendees
    and no organizer among them, the account itself is written as ORGANIZER (RFC 5545 3.8.4.3)."""
    if sorted(_attendee_key(attendees_of(component))) == sorted(_attendee_key(event.attendees)):
        return
    old_lines = component.get("ATTENDEE")
    kept_attendees = {_email(line).lower(): line
                      for line in (old_lines if isinstance(old_lines, list) else ([old_lines] if old_lines is not None else []))}
    # the lines still wanted keep their place; new ones follow
    position = {email: n for n, email in enumerate(kept_attendees)}
    wanted = sorted(event.attendees, key=lambda a: position.get(a.email.lower(), len(position)))
    old_organizer = component.get("ORGANIZER")
    component.pop("ATTENDEE", None)
    component.pop("ORGANIZER", None)
    if not event.attendees:
        return

    def written(email: str, params: dict[str, str]) -> icalendar.vCalAddress:
        address = icalendar.vCalAddress(f"mailto:{email}")
        address.params.update(params)
        if not send_invitations:
            address.params["SCHEDULE-AGENT"] = "CLIENT"
        return address

    chair = next((a for a in event.attendees if a.organizer), None)
    organizer_email = chair.email.lower() if chair else (own_address or "").strip().lower()
    organizer_only = False
    if organizer_email:
        organizer_name = chair.name if chair else ""
        if old_organizer is not None and _email(old_organizer).lower() == organizer_email and (
                chair is None) == _is_own_organizer(old_organizer) and (
                chair is None or str(old_organizer.params.get("CN", "")) == organizer_name):
            component.add("ORGANIZER", old_organizer)
            organizer_only = organizer_email not in kept_attendees
        else:
            params = {"CN": organizer_name} if organizer_name else {}
            if chair is None:
                params[OWN_ORGANIZER_PARAM] = "TRUE"
            component.add("ORGANIZER", written(organizer_email, params))
    for attendee in wanted:
        email = attendee.email.lower()
        line = kept_attendees.get(email)
        if line is not None and _attendee_key(attendees_of(_holding(line))) == _attendee_key(
                [EventAttendee(email, attendee.name, attendee.status)]):
            component.add("ATTENDEE", line)
            continue
        if attendee.organizer and organizer_only and (attendee.name, attendee.status) == (
                str(old_organizer.params.get("CN", "")), "needs_action"):
            continue  # the organizer line alone already says this
        params = {"PARTSTAT": _PARTSTAT_OUT.get(attendee.status, "NEEDS-ACTION")}
        if attendee.name:
            params["CN"] = attendee.name
        if attendee.organizer:
            params["ROLE"] = "CHAIR"
        component.add("ATTENDEE", written(email, params))


def _holding(line: object) -> icalendar.cal.Component:
    """A scratch component with one ATTENDEE line, to read it the way attendees_of does."""
    scratch = icalendar.Event()
    scratch.add("ATTENDEE", line)
    return scratch


def apply(component: icalendar.cal.Component, event: Event, *, send_invitations: bool,
          own_address: str | None = None) -> None:
    """Writes the mapped fields of `event` into `component`, touching only what differs."""
    _set_text(component, "SUMMARY", event.summary)
    _set_text(component, "DESCRIPTION", event.description)
    _set_text(component, "LOCATION", event.location)
    if not _same_times(component, event):
        for name in ("DTSTART", "DTEND", "DURATION", ZERO_PROP):
            component.pop(name, None)
        start, end = _times(event)
        component.add("DTSTART", start)
        if not event.all_day and end == start:
            component.add("DURATION", ZERO_PAD)
            component.add(ZERO_PROP, "PT0S")
        else:
            component.add("DTEND", end)
        sequence = int(component.get("SEQUENCE", 0) or 0)
        component.pop("SEQUENCE", None)
        component.add("SEQUENCE", sequence + 1)
    _set_enum(component, "CLASS", event.privacy.upper(), "PUBLIC")
    _set_enum(component, "TRANSP", "OPAQUE" if event.busy else "TRANSPARENT", "OPAQUE")
    _set_enum(component, "STATUS", event.status.upper(), "CONFIRMED")
    if event.activity_uuid:
        _set_text(component, ACTIVITY_PROP, event.activity_uuid)
    if conference_of(component) != event.conference_url:
        target = next((n for n in ("CONFERENCE", "X-GOOGLE-CONFERENCE", "URL") if n in component), "URL")
        _set_text(component, target, event.conference_url)
    _set_attendees(component, event, send_invitations, own_address)
    now = _now()
    for name in ("DTSTAMP", "LAST-MODIFIED"):
        component.pop(name, None)
        component.add(name, now)


def _serialize(cal: icalendar.Calendar, around: dt.date | None = None) -> str:
    """Adds a VTIMEZONE for every TZID used (covering a few years around the event, to keep
    objects small) and serialises."""
    day = around or dt.date.today()
    if isinstance(day, dt.datetime):
        day = day.date()
    try:
        cal.add_missing_timezones(first_date=day - dt.timedelta(days=366), last_date=day + dt.timedelta(days=3 * 366))
    except Exception:  # a zone icalendar cannot describe: servers accept IANA TZIDs anyway
        pass
    return cal.to_ical().decode()


def new_object(event: Event, uid: str, *, send_invitations: bool, own_address: str | None = None) -> str:
    """A fresh VCALENDAR holding one VEVENT for `event` (a CRM-born activity)."""
    cal = icalendar.Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    component = icalendar.Event()
    component.add("UID", uid)
    component.add("CREATED", _now())
    component.add("SEQUENCE", 0)
    cal.add_component(component)
    apply(component, event, send_invitations=send_invitations, own_address=own_address)
    component.pop("SEQUENCE", None)
    component.add("SEQUENCE", 0)
    return _serialize(cal, _times(event)[0])


def patched_object(raw: str, event: Event, *, send_invitations: bool, own_address: str | None = None) -> str:
    """`raw` with the mapped fields of `event` written into the right VEVENT (the master, or the
    override of `event.recurrence_id`, created from the master when missing)."""
    cal = parse(raw)
    events = vevents(cal)
    masters = [c for c in events if "RECURRENCE-ID" not in c]
    target = masters[0] if masters else events[0]
    if event.recurrence_id:
        for component in events:
            rid = component.get("RECURRENCE-ID")
            if rid is not None and occurrence_id(rid.dt) == event.recurrence_id:
                target = component
                break
        else:
            target = _new_override(cal, target, event.recurrence_id)
    apply(target, event, send_invitations=send_invitations, own_address=own_address)
    return _serialize(cal, _times(event)[0])


def _new_override(cal: icalendar.Calendar, master: icalendar.cal.Component, recurrence_id: str) -> icalendar.cal.Component:
    override = icalendar.Event()
    for name, value in master.property_items(recursive=False):
        if name in ("BEGIN", "END", "RRULE", "RDATE", "EXDATE"):
            continue
        override.add(name, value)
    start = master["DTSTART"].dt
    if isinstance(start, dt.datetime):
        instant = dt.datetime.strptime(recurrence_id, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        override.add("RECURRENCE-ID", instant.astimezone(start.tzinfo or dt.timezone.utc))
    else:
        override.add("RECURRENCE-ID", dt.datetime.strptime(recurrence_id, "%Y%m%d").date())
    cal.add_component(override)
    return override


def new_uid() -> str:
    return str(uuid_mod.uuid4())
