"""Reading many activities: the calendar range, the filtered list, the trash.

Every query here applies the visibility rule in SQL (`visible_activities_sql`) and hands rows to
`present`, which redacts through `activity_for_viewer` and adds sync status in batch.

Range queries are shaped for the indexes on `activities` (see `store/tables.py`). An item that
overlaps [A, B) either starts in [A - 7 days, B) ("near": a bounded range scan of
(company_id|owner_id, deleted, span_start, ...)), or starts earlier and is then necessarily long
(span over 7 days; "far": a scan of the few long items on (company_id, is_long, deleted,
span_start, ...)). The two halves are disjoint. The exact test is written on the span columns only
(timed items: instants; all-day items: their dates against the range's dates in the viewer's
zone, through the fixed offsets that `Timing.span` used), and the indexes carry every column
the filters read, so counting a week of 10,000 activities reads the index alone. Pages are
fetched in two steps: the ids in order from the index, then the rows of those ids.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from calsync.crm.errors import Invalid, NotFound
from calsync.crm.permissions import busy_block, visible_activities_sql, visible_items_sql
from calsync.crm.redaction import BUSY_TYPE, activity_for_viewer, activity_row_for_viewer
from calsync.crm.schemas import ActivityOut
from calsync.crm.services.activities import TRASH_DAYS
from calsync.crm.services.sync_status import sync_infos
from calsync.crm.timing import LONG_SPAN, UTC, parse_date, parse_instant, zone

_DAY_START_OFFSET = dt.timedelta(hours=14)  # as in Timing.span
_DAY_END_OFFSET = dt.timedelta(hours=12)
from calsync.store.tables import Activity, ActivityAttendee, ActivityParticipant, ActivityType, Person, User, utcnow

CALENDAR_LIMIT = 500
MAX_RANGE = dt.timedelta(days=400)
SortKey = Literal["start", "updated", "deleted"]


# ---------------------------------------------------------------- ranges


@dataclass(frozen=True)
class Range:
    """[start, end) as instants, plus the dates that all-day items are compared with."""

    start: dt.datetime
    end: dt.datetime
    first_date: dt.date  # an all-day item overlaps when end_date > first_date ...
    end_date: dt.date  # ... and start_date < end_date
    timezone: str


def _bound(value: str, zone_name: str, field: str) -> dt.datetime:
    text = value.strip()
    if len(text) == 10:
        day = parse_date(text, field)
        return dt.datetime.combine(day, dt.time(), zone(zone_name)).astimezone(UTC)
    return parse_instant(text, zone_name, field).astimezone(UTC)


def resolve_range(start: str, end: str, zone_name: str, *, max_span: dt.timedelta | None = MAX_RANGE) -> Range:
    """Reads `start`/`end` (dates = local midnights in `zone_name`, or ISO date-times)."""
    tz = zone(zone_name, field="timezone")
    begin = _bound(start, zone_name, "start")
    finish = _bound(end, zone_name, "end")
    if finish <= begin:
        raise Invalid("end must be after start (the range is [start, end), end exclusive)", field="end")
    if max_span is not None and finish - begin > max_span:
        raise Invalid(f"the range is longer than {max_span.days} days: ask for a shorter one", field="end")
    local_end = finish.astimezone(tz).replace(tzinfo=None)
    end_date = local_end.date() if local_end.time() == dt.time() else local_end.date() + dt.timedelta(days=1)
    return Range(
        start=begin,
        end=finish,
        first_date=begin.astimezone(tz).date(),
        end_date=end_date,
        timezone=zone_name,
    )


def _exact_overlap(rng: Range) -> ColumnElement[bool]:
    """Overlap with [A, B) on span columns: `Timing.span` put an all-day item's dates at
    span_start = start date 00:00 UTC - 14 h and span_end = end date 00:00 UTC + 12 h."""
    first_day = dt.datetime.combine(rng.first_date, dt.time(), UTC) + _DAY_END_OFFSET
    end_day = dt.datetime.combine(rng.end_date, dt.time(), UTC) - _DAY_START_OFFSET
    return or_(
        and_(
            Activity.all_day == false(),
            Activity.span_start < rng.end,
            or_(Activity.span_end > rng.start, Activity.span_start >= rng.start),
        ),
        and_(Activity.all_day == true(), Activity.span_start < end_day, Activity.span_end > first_day),
    )


def _near(rng: Range) -> list[ColumnElement[bool]]:
    """Items starting within 7 days before the range, or in it (whatever their length)."""
    return [
        Activity.span_start >= rng.start - LONG_SPAN,
        Activity.span_start < rng.end,
        Activity.span_end >= rng.start,
        _exact_overlap(rng),
    ]


def _far(rng: Range) -> list[ColumnElement[bool]]:
    """Items starting earlier that still overlap: only long ones can."""
    return [
        Activity.is_long == true(),
        Activity.span_start < rng.start - LONG_SPAN,
        Activity.span_end >= rng.start,
        _exact_overlap(rng),
    ]


# ---------------------------------------------------------------- cursors


def encode_cursor(sort: SortKey, activity: Activity | ActivityView) -> str:
    value = {"start": activity.span_start, "updated": activity.updated_at, "deleted": activity.deleted_at}[sort]
    assert value is not None
    raw = json.dumps([sort, value.isoformat(), activity.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: SortKey) -> tuple[dt.datetime, int]:
    """The (sort value, id) a page starts after; a 422 for anything that is not our cursor."""
    bad = Invalid("cursor is not valid: pass the next_cursor of the previous page unchanged", field="cursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, value, last_id = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        instant = dt.datetime.fromisoformat(value)
    except (ValueError, TypeError, binascii.Error, UnicodeError, json.JSONDecodeError):
        raise bad from None
    if kind != sort:
        raise Invalid("cursor belongs to another kind of listing: start again without a cursor", field="cursor")
    if not isinstance(last_id, int) or instant.tzinfo is None or not 0 <= last_id < 2**31:
        raise bad
    return instant, last_id


def _after(column: Any, value: dt.datetime, last_id: int, descending: bool = False) -> ColumnElement[bool]:
    if descending:
        return or_(column < value, and_(column == value, Activity.id < last_id))
    return or_(column > value, and_(column == value, Activity.id > last_id))


# ---------------------------------------------------------------- loading


class ActivityView(dict[str, Any]):
    """A read-only activity loaded with SQLAlchemy Core: the column values that reading needs
    (`_COLUMNS`) plus `participants` and `attendees`, as a dict that also answers attribute
    access like `Activity`. No ORM identity-map bookkeeping, which costs several times the query
    itself for a 500-activity page. Read paths hand these to the redaction module."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


# What presenting, sync status and cursors read; not the range-index bookkeeping (span_end,
# is_long, deleted) nor audit columns, which would only cost type conversions on every row.
_COLUMNS = [
    Activity.__table__.c[name]
    for name in (
        "id", "uuid", "owner_id", "type_id", "subject", "all_day", "start_at", "end_at", "timezone", "start_date",
        "end_date", "span_start", "busy", "done", "location", "public_description", "note", "deal_id", "person_id",
        "org_id", "conference_url", "visibility", "private", "read_only", "series_uid", "occurrence_id", "origin",
        "version", "deleted_at", "deleted_reason", "updated_by_id", "created_at", "updated_at",
    )
]


def _views(result: Any) -> list[ActivityView]:
    keys = list(result.keys())
    return [ActivityView(zip(keys, row)) for row in result]


def page_ids(
    session: Session, conditions: Sequence[ColumnElement[bool]], key: Any, limit: int, *, descending: bool = False
) -> list[Any]:
    """(id, sort key) of the first `limit` matches by (key, id), read from an index where one covers the filters."""
    order = (key.desc(), Activity.id.desc()) if descending else (key, Activity.id)
    return list(session.execute(select(Activity.id, key).where(*conditions).order_by(*order).limit(limit)))


def page_rows(
    session: Session, conditions: Sequence[ColumnElement[bool]], key: Any, limit: int
) -> list[ActivityView]:
    """The first `limit` matches by (key, id), whole: the index gives the order and checks the
    filters, and only the rows returned are read from the table (one query, no id list)."""
    return _views(session.execute(select(*_COLUMNS).where(*conditions).order_by(key, Activity.id).limit(limit)))


def load_views(session: Session, ids: Sequence[int]) -> list[ActivityView]:
    """The rows of these ids, in this order."""
    if not ids:
        return []
    views = {view["id"]: view for view in _views(session.execute(select(*_COLUMNS).where(Activity.id.in_(list(ids)))))}
    return [views[i] for i in ids if i in views]


def count(session: Session, conditions: Sequence[ColumnElement[bool]]) -> int:
    return int(session.scalar(select(func.count()).select_from(Activity).where(*conditions)) or 0)


def attach_people(session: Session, views: Sequence[ActivityView]) -> None:
    """Fills participants and attendees of a page: one query each."""
    by_id = {view["id"]: view for view in views}
    for view in views:
        view["participants"], view["attendees"] = [], []
    if not by_id:
        return
    ids = list(by_id)
    for row in session.execute(
        select(*ActivityParticipant.__table__.columns).where(ActivityParticipant.activity_id.in_(ids)).order_by(ActivityParticipant.id)
    ):
        by_id[row.activity_id]["participants"].append(row)
    for row in session.execute(
        select(*ActivityAttendee.__table__.columns).where(ActivityAttendee.activity_id.in_(ids)).order_by(ActivityAttendee.id)
    ):
        by_id[row.activity_id]["attendees"].append(row)


# ---------------------------------------------------------------- presenting


def type_keys(session: Session, company_id: int) -> dict[int, str]:
    rows = session.execute(select(ActivityType.id, ActivityType.key).where(ActivityType.company_id == company_id))
    return {type_id: key for type_id, key in rows}


def attendee_persons_visible(
    session: Session, viewer: User, activities: Sequence[Activity | ActivityView]
) -> frozenset[int]:
    """The persons matched to the page's attendees that the viewer may see (one query, none when
    no attendee is matched): the redaction shows an attendee's link only to them."""
    ids = {
        a.person_id
        for activity in activities
        if not busy_block(viewer, private=activity.private, owner_id=activity.owner_id)
        for a in activity.attendees
        if a.person_id is not None
    }
    if not ids:
        return frozenset()
    rows = session.scalars(select(Person.id).where(Person.id.in_(sorted(ids)), visible_items_sql(Person, viewer)))
    return frozenset(rows)


def present(session: Session, viewer: User, activities: Sequence[Activity | ActivityView]) -> list[ActivityOut]:
    """What the viewer may read of each activity, with sync status (up to three queries per page)."""
    keys = type_keys(session, viewer.company_id)
    infos = sync_infos(session, activities, keys)
    persons = attendee_persons_visible(session, viewer, activities)
    return [
        activity_for_viewer(viewer, a, keys.get(a.type_id, ""), infos.get(a.id), visible_persons=persons)  # type: ignore[arg-type]
        for a in activities
    ]


def present_rows(session: Session, viewer: User, activities: Sequence[ActivityView]) -> list[dict[str, Any]]:
    """`present` as plain dicts (same redaction, `activity_row_for_viewer`), for API pages of up
    to 500 activities: building 500 pydantic objects only to serialise them cost more than the query."""
    keys = type_keys(session, viewer.company_id)
    infos = sync_infos(session, activities, keys)  # type: ignore[arg-type]
    persons = attendee_persons_visible(session, viewer, activities)
    return [
        activity_row_for_viewer(viewer, a, keys.get(a["type_id"], ""), infos.get(a["id"]), visible_persons=persons)
        for a in activities
    ]


# ---------------------------------------------------------------- calendar


@dataclass
class CalendarPage:
    activities: list[ActivityView]
    total: int
    more_available: bool
    range: Range


def _scope(viewer: User, owner: User | None, *, deleted: bool, by_owner_index: bool = False) -> list[ColumnElement[bool]]:
    """Company, trash state, visibility and owner. `by_owner_index` drops the company term (the owner
    pins the company already; `owner_filter` checked it) so SQLite scans the owner's index."""
    if owner is not None and by_owner_index:
        assert owner.company_id == viewer.company_id
        return [
            Activity.owner_id == owner.id,
            Activity.deleted == (true() if deleted else false()),
            visible_activities_sql(viewer, company=False),
        ]
    conditions: list[ColumnElement[bool]] = [
        Activity.company_id == viewer.company_id,
        Activity.deleted == (true() if deleted else false()),
        visible_activities_sql(viewer),
    ]
    if owner is not None:
        conditions.insert(0, Activity.owner_id == owner.id)
    return conditions


def owner_filter(session: Session, viewer: User, owner_id: int | None) -> User | None:
    """The user whose activities are asked for; None for everyone. 404 outside the company."""
    if owner_id is None:
        return None
    owner = session.get(User, owner_id)
    if owner is None or owner.company_id != viewer.company_id:
        raise NotFound(f"there is no user {owner_id} in your company: use an id from GET /api/v1/users", field="owner_id")
    return owner


def calendar(
    session: Session, viewer: User, rng: Range, *, owner: User | None = None, limit: int = CALENDAR_LIMIT
) -> CalendarPage:
    """The first `limit` visible activities overlapping the range (by start), and how many there are."""
    scope = _scope(viewer, owner, deleted=False)
    near_scope = _scope(viewer, owner, deleted=False, by_owner_index=True)
    near = page_rows(session, [*near_scope, *_near(rng)], Activity.span_start, limit + 1)
    far = page_rows(session, [*scope, *_far(rng)], Activity.span_start, limit + 1)
    merged = sorted(far + near, key=lambda row: (row["span_start"], row["id"])) if far else near
    if len(near) <= limit and len(merged) <= limit:
        total = len(merged)
    else:
        total = count(session, [*near_scope, *_near(rng)]) + count(session, [*scope, *_far(rng)])
    page = merged[:limit]
    attach_people(session, page)
    return CalendarPage(activities=page, total=total, more_available=total > limit, range=rng)


# ---------------------------------------------------------------- list


@dataclass
class ListFilters:
    owner: User | None = None
    type_ids: list[int] | None = None
    done: bool | None = None
    range: Range | None = None
    updated_since: dt.datetime | None = None


@dataclass
class ListPage:
    activities: list[ActivityView]
    next_cursor: str | None
    sort: SortKey


def _filter_conditions(session: Session, viewer: User, filters: ListFilters) -> list[ColumnElement[bool]]:
    """The filters as SQL, each read on what the viewer sees of a row: a busy block (another
    user's private activity) is matched on its shown values (type "busy", not done), never on
    its hidden ones, so a filter cannot tell its real type or state. Times, the busy flag and
    the update and deletion times are shown, so filters and sort orders on them stay as they are."""
    conditions: list[ColumnElement[bool]] = []
    hidden = and_(Activity.private == true(), Activity.owner_id != viewer.id)
    shown = or_(Activity.private == false(), Activity.owner_id == viewer.id)
    if filters.type_ids is not None:
        real = and_(shown, Activity.type_id.in_(filters.type_ids))
        conditions.append(or_(real, hidden) if _asks_for_busy(session, filters.type_ids) else real)
    if filters.done is not None:
        conditions.append(and_(shown, Activity.done == true()) if filters.done else or_(hidden, Activity.done == false()))
    if filters.updated_since is not None:
        conditions.append(Activity.updated_at >= filters.updated_since)
    return conditions


def _asks_for_busy(session: Session, type_ids: Sequence[int]) -> bool:
    """Whether a type filter names a type keyed like the busy block's shown type."""
    if not type_ids:
        return False
    return session.scalar(
        select(func.count()).select_from(ActivityType).where(ActivityType.id.in_(list(type_ids)), ActivityType.key == BUSY_TYPE)
    ) != 0


def list_activities(
    session: Session, viewer: User, filters: ListFilters, *, limit: int = 100, cursor: str | None = None
) -> ListPage:
    """One page of visible activities: by start time, or by update time when `updated_since` is set."""
    sort: SortKey = "updated" if filters.updated_since is not None else "start"
    column = Activity.updated_at if sort == "updated" else Activity.span_start
    extra = _filter_conditions(session, viewer, filters)
    if cursor:
        value, last_id = decode_cursor(cursor, sort)
        extra.append(_after(column, value, last_id))
    conditions = _scope(viewer, filters.owner, deleted=False) + extra
    owner_scan = _scope(viewer, filters.owner, deleted=False, by_owner_index=sort == "start") + extra
    if filters.range is not None and sort == "start":
        # The same two disjoint halves as the calendar, merged in order.
        rows = page_rows(session, [*owner_scan, *_near(filters.range)], column, limit + 1)
        rows += page_rows(session, [*conditions, *_far(filters.range)], column, limit + 1)
        rows.sort(key=lambda row: (row["span_start"], row["id"]))
    else:
        if filters.range is not None:
            owner_scan += [Activity.span_start < filters.range.end, Activity.span_end >= filters.range.start,
                           _exact_overlap(filters.range)]
        rows = page_rows(session, owner_scan, column, limit + 1)
    page = rows[:limit]
    attach_people(session, page)
    next_cursor = encode_cursor(sort, page[-1]) if len(rows) > limit and page else None
    return ListPage(activities=page, next_cursor=next_cursor, sort=sort)


# ---------------------------------------------------------------- trash


def trash(
    session: Session, viewer: User, *, owner: User | None = None, limit: int = 100, cursor: str | None = None,
    now: dt.datetime | None = None,
) -> ListPage:
    """Trashed activities the viewer may see that can still be restored, newest deletion first."""
    cutoff = (now or utcnow()) - dt.timedelta(days=TRASH_DAYS)
    conditions = _scope(viewer, owner, deleted=True) + [Activity.deleted_at >= cutoff]
    if cursor:
        value, last_id = decode_cursor(cursor, "deleted")
        conditions.append(_after(Activity.deleted_at, value, last_id, descending=True))
    rows = page_ids(session, conditions, Activity.deleted_at, limit + 1, descending=True)
    page = load_views(session, [row[0] for row in rows[:limit]])
    attach_people(session, page)
    next_cursor = encode_cursor("deleted", page[-1]) if len(rows) > limit and page else None
    return ListPage(activities=page, next_cursor=next_cursor, sort="deleted")


# ---------------------------------------------------------------- activities of an item


def linked_to(
    session: Session, viewer: User, column: Any, item_id: int, *, limit: int = 100,
    participants: bool = False,
) -> tuple[list[ActivityView], bool]:
    """The live activities the viewer may see that link to one deal, person or organization
    (`column` is Activity.deal_id, person_id or org_id; `participants` adds those where a
    person takes part), by start; and whether there are more. Present them with `present`."""
    linked = column == item_id
    if participants:
        linked = or_(linked, Activity.id.in_(
            select(ActivityParticipant.activity_id).where(ActivityParticipant.person_id == item_id)))
    rows = page_rows(session, [*_scope(viewer, None, deleted=False), linked], Activity.span_start, limit + 1)
    page = rows[:limit]
    attach_people(session, page)
    return page, len(rows) > limit
