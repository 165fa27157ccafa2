"""Admin › Activity types: the six built-in types plus custom ones (add, rename, colour, icon,
deactivate). Changes go through `crm.services.activity_types`, which checks the admin right."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from calsync.crm.errors import CrmError
from calsync.crm.schemas import ActivityTypeIn, ActivityTypeUpdate
from calsync.crm.services import activity_types
from calsync.store.tables import User
from calsync.web.api.params import ItemId
from calsync.web.deps import get_session
from calsync.web.pages.rendering import ICONS, page_user, render, see_other

router = APIRouter(include_in_schema=False)


def _first_error(exc: ValidationError) -> str:
    item = exc.errors()[0]
    name = ".".join(str(p) for p in item.get("loc", ())) or "value"
    return f"{name}: {item.get('msg', 'is not valid')}"


@router.get("/admin/activity-types")
def types_page(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session)) -> HTMLResponse:
    return render(request, "admin_types.html", user, types=activity_types.list_types(session, user), error=None, form={})


@router.post("/admin/activity-types")
def add_type(
    request: Request,
    key: str = Form(""),
    name: str = Form(""),
    color: str = Form("#4f6bed"),
    icon: str = Form("calendar"),
    user: User = Depends(page_user),
    session: Session = Depends(get_session),
) -> Response:
    form = {"key": key, "name": name, "color": color, "icon": icon}
    try:
        data = ActivityTypeIn(key=key.strip().lower(), name=name, color=color, icon=icon if icon in ICONS else "calendar")
        activity_types.add_type(session, user, data)
        session.commit()
    except ValidationError as exc:
        error = _first_error(exc)
    except CrmError as exc:
        error = exc.message
    else:
        return see_other("/admin/activity-types")
    session.rollback()
    return render(request, "admin_types.html", user, types=activity_types.list_types(session, user), error=error, form=form, status_code=422)


@router.post("/admin/activity-types/{type_id}")
def change_type(
    request: Request,
    type_id: ItemId,
    name: str | None = Form(None),
    color: str | None = Form(None),
    icon: str | None = Form(None),
    active: str | None = Form(None),
    user: User = Depends(page_user),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    """Saves one row on change (htmx) and answers with the row and its "Saved" mark."""
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = name
    if color is not None:
        values["color"] = color
    if icon is not None and icon in ICONS:
        values["icon"] = icon
    values["active"] = active == "on"
    error = None
    try:
        activity_types.update_type(session, user, type_id, ActivityTypeUpdate(**values))
        session.commit()
    except ValidationError as exc:
        session.rollback()
        error = _first_error(exc)
    except CrmError as exc:
        session.rollback()
        error = exc.message
    found = activity_types.get_type(session, user, type_id)
    return render(request, "_type_row.html", user, t=found, row_saved=error is None, row_error=error)
