"""The list view: filters (owner incl. everyone, type, done, date range), cursor paging, a done
checkbox per row and bulk "mark done". Reads go through `activity_queries` (visibility in SQL,
redaction and sync status in `present`); writes through `crm.services.activities`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from calsync.crm.errors import CrmError
from calsync.crm.schemas import ActivityOut, ActivityUpdate
from calsync.crm.services import activities as activity_service
from calsync.crm.services.activity_queries import ListFilters, list_activities, owner_filter, present, resolve_range
from calsync.crm.services.activity_types import type_by_key
from calsync.store.tables import User
from calsync.web.api.params import ItemId
from calsync.web.deps import get_session
from calsync.web.i18n import _ln, gettext, lazy
from calsync.web.pages.rendering import page_user, render
from calsync.web.pages.formatting import local_day
from calsync.web.pages.views import ids, lookups

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@dataclass
class ListQuery:
    """The list view's filters as they appear in its URL."""

    owner: str = "me"  # "me", "everyone" or a user id
    type: str = ""
    done: str = ""  # "", "open", "done"
    start: str = ""  # YYYY-MM-DD
    end: str = ""  # YYYY-MM-DD, inclusive in the form
    cursor: str = ""
    back: str = ""  # the cursors of the pages before, comma-separated

    def params(self, **changes: str) -> str:
        values = {k: v for k, v in {**self.__dict__, **changes}.items() if v}
        return urlencode(values)


def _filters(session: Session, user: User, q: ListQuery) -> tuple[ListFilters, str | None]:
    """The service's filters, or an error message for the page (bad date, unknown user...)."""
    filters = ListFilters()
    try:
        if q.owner == "me" or not q.owner:
            filters.owner = user
        elif q.owner != "everyone":
            filters.owner = owner_filter(session, user, int(q.owner) if q.owner.isdigit() else -1)
        if q.type:
            filters.type_ids = [type_by_key(session, user.company_id, q.type, active_only=False).id]
        if q.done in ("open", "done"):
            filters.done = q.done == "done"
        if q.start or q.end:
            start = q.start or "1970-01-01"
            end = (dt.date.fromisoformat(q.end) + dt.timedelta(days=1)).isoformat() if q.end else "2999-01-01"
            filters.range = resolve_range(start, end, user.timezone, max_span=None)
    except CrmError as exc:
        return filters, exc.message
    except ValueError:
        return filters, "dates must look like 2026-12-01"
    return filters, None


def by_local_day(items: list[ActivityOut], zone: str) -> list[tuple[dt.date, list[ActivityOut]]]:
    """The page's rows under the date the viewer reads them on (their profile zone; all-day
    items on their own date), all-day first within a day, then by start."""
    def key(item: ActivityOut) -> tuple[dt.date, int, str]:
        start = "" if item.all_day else dt.datetime.fromisoformat(item.start).astimezone(dt.timezone.utc).isoformat()
        return (local_day(item, zone), 0 if item.all_day else 1, start)

    groups: list[tuple[dt.date, list[ActivityOut]]] = []
    for item in sorted(items, key=key):
        day = local_day(item, zone)
        if not groups or groups[-1][0] != day:
            groups.append((day, []))
        groups[-1][1].append(item)
    return groups


def _table(user: User, session: Session, q: ListQuery, message: object = None) -> dict[str, object]:
    """The values of the table partial: one page of rows, the pager links, messages."""
    filters, error = _filters(session, user, q)
    items, next_cursor = [], None
    if error is None:
        try:
            page = list_activities(session, user, filters, limit=PAGE_SIZE, cursor=q.cursor or None)
        except CrmError as exc:
            error = exc.message
        else:
            items, next_cursor = present(session, user, page.activities), page.next_cursor
    look = lookups(session, user, items)
    back = [c for c in q.back.split(",") if c] if q.back else []
    prev_link = None
    if q.cursor:
        prev_link = q.params(cursor=back[-1] if back else "", back=",".join(back[:-1]))
    next_link = q.params(cursor=next_cursor, back=",".join(back + [q.cursor or "-"])) if next_cursor else None
    return dict(
        items=items, groups=by_local_day(items, user.timezone), look=look, q=q, error=error, message=message,
        prev_link=prev_link, next_link=next_link, page_number=len(back) + 1,
    )


def _query(request: Request) -> ListQuery:
    params = request.query_params
    q = ListQuery(**{k: params.get(k, "") for k in ListQuery.__dataclass_fields__})
    if q.cursor == "-":  # the first page, as the "back" list spells it
        q.cursor = ""
    if not q.owner:
        q.owner = "me"
    return q


@router.get("/activities")
def list_page(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session)) -> HTMLResponse:
    q = _query(request)
    values = _table(user, session, q)
    template = "_activity_table.html" if request.headers.get("hx-request") and request.headers.get("hx-target") == "activity-table" else "activities.html"
    return render(request, template, user, **values)


@router.post("/activities/bulk-done")
def bulk_done(
    request: Request,
    selected: list[str] = Form(default_factory=list),
    user: User = Depends(page_user),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    """Marks the selected activities done; read-only or foreign ones are reported, not hidden."""
    done, refused = 0, []
    for activity_id in ids(selected):
        # No SAVEPOINT: with the plain SQLite driver one opened before any write commits on
        # release. update_activity checks (visible, may edit, not read-only) before it changes
        # anything, so a refused item leaves nothing half-written.
        try:
            activity_service.update_activity(session, user, activity_id, ActivityUpdate(done=True), source="ui")
            done += 1
        except CrmError as exc:
            refused.append(f"#{activity_id}: {exc.message}")
    session.commit()
    marked = _ln("%(n)s marked done.", "%(n)s marked done.", done)
    message = lazy(lambda: str(marked) + (" " + gettext("Not changed: %(list)s") % {"list": "; ".join(refused)} if refused else ""))
    q = _query(request)
    return render(request, "_activity_table.html", user, **_table(user, session, q, message=message))


@router.post("/activities/{activity_id}/done")
def toggle_done(
    request: Request,
    activity_id: ItemId,
    done: str | None = Form(None),
    user: User = Depends(page_user),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    """The done checkbox of one row (htmx): saves and answers with the row."""
    error = None
    try:
        activity_service.update_activity(session, user, activity_id, ActivityUpdate(done=done == "on"), source="ui")
        session.commit()
    except CrmError as exc:
        session.rollback()
        error = exc.message
    activity = activity_service.get_activity(session, user, activity_id)
    items = present(session, user, [activity])
    look = lookups(session, user, items)
    return render(request, "_activity_row.html", user, a=items[0], look=look, row_error=error)
