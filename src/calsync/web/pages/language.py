"""Your settings › Language (on /settings/profile): the pages' language a user chose, or "the browser's" (Accept-Language).

The choice is stored on the user (`users.language`, null = follow the browser), so it follows the
user to every browser and device they sign in on. Only the pages change language: the REST
API's messages stay English with stable `error_info` codes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from calsync.store.tables import User
from calsync.web import i18n
from calsync.web.deps import get_session
from calsync.web.pages.rendering import page_user, render, see_other

router = APIRouter(include_in_schema=False)
BROWSER = "browser"  # the picker's value for "no choice: follow the browser"


def _back(value: str | None) -> str:
    """Back to the page the picker was on (local paths only: no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/settings/profile"


@router.post("/settings/language", response_model=None)
def choose_language(request: Request, language: str = Form(...), next: str | None = Form(None),
                    user: User = Depends(page_user), session: Session = Depends(get_session)) -> HTMLResponse | RedirectResponse:
    if language != BROWSER and i18n.supported(language) != language:
        return render(request, "not_found.html", user, status_code=422,
                      message=i18n.gettext("Choose one of the languages offered."))
    row = session.get(User, user.id)
    assert row is not None
    row.language = None if language == BROWSER else language
    session.commit()
    return see_other(_back(next))
