"""/api/v1/calendar: the activities of a range, at most 500, with the total and whether more exist."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from calsync.crm.services import activity_queries as queries
from calsync.crm.services.items import names_for
from calsync.store.tables import User
from calsync.web.api.envelope import respond
from calsync.web.api.params import clean_text, parse_owner
from calsync.web.deps import current_user, get_session

router = APIRouter(prefix="/api/v1", tags=["calendar"])


@router.get("/calendar", summary="Activities in a range, for the calendar view")
def calendar(
    start: str = Query(..., description="a date (midnight in `timezone`) or an ISO date-time"),
    end: str = Query(..., description="exclusive; a date or an ISO date-time"),
    owner_id: str | None = Query(None, description="a user id, or `everyone` (default)"),
    timezone: str | None = Query(None, description="IANA zone for dates and all-day items; default the viewer's"),
    session: Session = Depends(get_session),
    viewer: User = Depends(current_user),
) -> Response:
    zone_name = clean_text(timezone, "timezone") or viewer.timezone
    rng = queries.resolve_range(clean_text(start, "start") or "", clean_text(end, "end") or "", zone_name)
    owner = queries.owner_filter(session, viewer, parse_owner(owner_id))
    page = queries.calendar(session, viewer, rng, owner=owner)
    rows = queries.present_rows(session, viewer, page.activities)
    return respond(
        rows,
        names=names_for(session, viewer, rows),
        total=page.total,
        more_available=page.more_available,
        limit=queries.CALENDAR_LIMIT,
        start=rng.start.isoformat(),
        end=rng.end.isoformat(),
        timezone=rng.timezone,
    )
