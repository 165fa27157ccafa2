"""The calendar view: a page shell with FullCalendar, which reads its range from the 500-capped
`GET /api/v1/calendar` (redacted and with sync status there) and saves drags through
`PATCH /api/v1/activities/{id}`. The page itself only supplies types, users and the viewer."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from calsync.store.tables import User
from calsync.web.deps import get_session
from calsync.web.pages.rendering import page_user, render
from calsync.web.pages.views import lookups

router = APIRouter(include_in_schema=False)


@router.get("/calendar")
def calendar_page(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session)) -> HTMLResponse:
    look = lookups(session, user)
    config = {
        "me": user.id,
        "isAdmin": user.is_admin,
        "timezone": user.timezone,
        "types": {t.key: {"name": t.name, "color": t.color, "icon": t.icon} for t in look.types.values()},
        "users": {str(u.id): u.name for u in look.users.values()},
    }
    return render(request, "calendar.html", user, look=look, config=config)
