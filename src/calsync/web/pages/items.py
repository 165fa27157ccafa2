"""Deals, people and organizations: list pages (search by name, filters, paging), a detail page
with the item's activities and their sync status, and create / edit forms.

Reads go through `crm.services.item_search` and `items.get_visible` (only what the viewer may
see, 404 otherwise), the activities through `activity_queries.linked_to` and `present` (the one
redaction every read path uses); writes through `crm.services.items`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from calsync.crm.errors import CrmError, NotFound
from calsync.crm.schemas import DealIn, DealUpdate, OrganizationIn, OrganizationUpdate, PersonIn, PersonUpdate
from calsync.crm.services import item_search
from calsync.crm.services import items as service
from calsync.crm.services.accounts import company_users
from calsync.crm.services.activity_queries import linked_to, present
from calsync.store.tables import Activity, Deal, Organization, Person, User
from calsync.web.api.params import ItemId
from calsync.web.deps import get_session
from calsync.web.i18n import N_
from calsync.web.pages.rendering import page_user, render, see_other
from calsync.web.pages.views import item_names, lookups

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
ACTIVITY_LIMIT = 100


@dataclass(frozen=True)
class Kind:
    """One kind of item as the pages name and handle it."""

    path: str  # URL segment: deals, persons, organizations
    kind: str  # the API's kind: deal, person, organization
    model: Any
    title: str  # page heading (English: templates translate it)
    noun: str
    create: type[BaseModel]
    update: type[BaseModel]
    label: str  # the name field: title or name
    link_column: Any
    columns: tuple[str, ...] = field(default=())


KINDS = {
    k.path: k for k in (
        Kind("deals", "deal", Deal, N_("Deals"), "deal", DealIn, DealUpdate, "title", Activity.deal_id,
             (N_("Value"), N_("Status"), N_("Person"), N_("Organization"))),
        Kind("persons", "person", Person, N_("People"), "person", PersonIn, PersonUpdate, "name", Activity.person_id,
             (N_("E-mail"), N_("Phone"), N_("Organization"))),
        Kind("organizations", "organization", Organization, N_("Organizations"), "organization", OrganizationIn,
             OrganizationUpdate, "name", Activity.org_id, (N_("Address"),)),
    )
}


@dataclass
class ItemQuery:
    """A list page's filters as they appear in its URL."""

    q: str = ""
    owner: str = ""  # "" everyone, "me" or a user id
    status: str = ""  # deals: open, won, lost
    start: int = 0

    def params(self, **changes: Any) -> str:
        values = {k: v for k, v in {**self.__dict__, **changes}.items() if v}
        return urlencode(values)


def _query(request: Request) -> ItemQuery:
    params = request.query_params
    start = params.get("start", "")
    return ItemQuery(q=params.get("q", "")[:300], owner=params.get("owner", ""),
                     status=params.get("status", "") if params.get("status") in ("open", "won", "lost") else "",
                     start=int(start) if start.isdigit() and int(start) < 10**9 else 0)


def _owner_id(user: User, owner: str) -> int | None:
    if owner == "me":
        return user.id
    return int(owner) if owner.isdigit() and int(owner) < 2**31 else None


def _related(session: Session, user: User, rows: list[Any]) -> dict[str, dict[int, str]]:
    """Names of the people and organizations the rows link to, only those the viewer may see."""
    return {
        "persons": item_names(session, user, Person, {r.person_id for r in rows if getattr(r, "person_id", None)}),
        "orgs": item_names(session, user, Organization, {r.org_id for r in rows if getattr(r, "org_id", None)}),
    }


def _table(session: Session, user: User, kind: Kind, q: ItemQuery) -> dict[str, Any]:
    error = None
    rows: list[Any] = []
    more = False
    try:
        filters = item_search.ItemFilters(text=q.q, owner_id=_owner_id(user, q.owner), status=q.status or None)
        rows, more = item_search.search(session, user, kind.model, filters, limit=PAGE_SIZE, start=q.start)
    except CrmError as exc:
        error = exc.message
    prev_link = q.params(start=max(0, q.start - PAGE_SIZE)) if q.start else None
    next_link = q.params(start=q.start + PAGE_SIZE) if more else None
    users = {u.id: u for u in company_users(session, user)}
    return dict(k=kind, rows=rows, q=q, error=error, prev_link=prev_link, next_link=next_link,
                related=_related(session, user, rows), users=users, label=service.label_of)


def _detail(request: Request, session: Session, user: User, kind: Kind, item_id: int, *, saved: bool = False) -> HTMLResponse:
    try:
        item = service.get_visible(session, user, kind.model, item_id)
    except CrmError as exc:
        return render(request, "not_found.html", user, message=exc.message, status_code=exc.status)
    views, more = linked_to(session, user, kind.link_column, item.id, limit=ACTIVITY_LIMIT, participants=kind.model is Person)
    activities = present(session, user, views)
    return render(
        request, "item_detail.html", user, k=kind, item=item, item_name=service.label_of(item), items=activities, more=more,
        look=lookups(session, user, activities), related=_related(session, user, [item]),
        owner=next((u for u in company_users(session, user) if u.id == item.owner_id), None),
        may_edit=item.owner_id == user.id or user.is_admin, saved=saved,
    )


def _blank(kind: Kind, owner_id: int) -> dict[str, Any]:
    return dict(name="", value="0", currency="EUR", status="open", person_id=None, org_id=None, emails="", phones="",
                address="", owner_id=owner_id, visibility="everyone")


def _values_of(kind: Kind, item: Any) -> dict[str, Any]:
    values = _blank(kind, item.owner_id)
    values.update(name=service.label_of(item), owner_id=item.owner_id, visibility=item.visibility)
    if kind.model is Deal:
        values.update(value=str(item.value), currency=item.currency, status=item.status, person_id=item.person_id, org_id=item.org_id)
    elif kind.model is Person:
        values.update(emails=", ".join(item.emails or []), phones=", ".join(item.phones or []), org_id=item.org_id)
    else:
        values.update(address=item.address)
    return values


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


async def _read_form(request: Request) -> dict[str, Any]:
    form = await request.form()
    get = lambda key: str(form.get(key) or "").strip()  # noqa: E731
    number = lambda key: int(get(key)) if get(key).isdigit() and int(get(key)) < 2**31 else None  # noqa: E731
    return dict(name=get("name"), value=get("value") or "0", currency=get("currency").upper() or "EUR", status=get("status") or "open",
                person_id=number("person_id"), org_id=number("org_id"), emails=get("emails"), phones=get("phones"),
                address=get("address"), owner_id=number("owner_id"), visibility=get("visibility") or "everyone")


def _payload(kind: Kind, values: dict[str, Any], user: User) -> dict[str, Any]:
    payload: dict[str, Any] = {kind.label: values["name"], "visibility": values["visibility"]}
    if kind.model is Deal:
        # A form sends text; the API's schema takes the value as an integer only (strict input).
        value = values["value"].strip() if isinstance(values["value"], str) else values["value"]
        payload.update(value=int(value) if isinstance(value, str) and value.isdigit() else value,
                       currency=values["currency"], status=values["status"],
                       person_id=values["person_id"], org_id=values["org_id"])
    elif kind.model is Person:
        payload.update(emails=_split(values["emails"]), phones=_split(values["phones"]), org_id=values["org_id"])
    else:
        payload.update(address=values["address"])
    if user.is_admin and values["owner_id"]:
        payload["owner_id"] = values["owner_id"]
    return payload


def _refusal(exc: ValidationError | CrmError, kind: Kind) -> tuple[str, str]:
    """The message and the field at fault, worded for the form."""
    if isinstance(exc, CrmError):
        return exc.message, exc.field or ""
    problem = exc.errors()[0]
    loc = [str(p) for p in problem.get("loc", ())]
    name = loc[0] if loc else "form"
    shown = {kind.label: "Name" if kind.label == "name" else "Title", "emails": "E-mail", "phones": "Phone",
             "value": "Value", "currency": "Currency"}.get(name, name)
    return f"{shown}: {problem.get('msg', 'is not valid')}", ("name" if name == kind.label else name)


def _form(request: Request, session: Session, user: User, kind: Kind, item: Any, values: dict[str, Any], *,
          error: str | None = None, error_field: str = "", status_code: int = 200) -> HTMLResponse:
    may_edit = item is None or item.owner_id == user.id or user.is_admin
    picked = {
        "person_id": item_names(session, user, Person, {values["person_id"]} if values.get("person_id") else set()),
        "org_id": item_names(session, user, Organization, {values["org_id"]} if values.get("org_id") else set()),
    }
    return render(request, "item_form.html", user, status_code=status_code, k=kind, item=item, v=values, error=error,
                  error_field=error_field, may_edit=may_edit, users=company_users(session, user), picked=picked)


async def _save(request: Request, session: Session, user: User, kind: Kind, item_id: int | None) -> Response:
    values = await _read_form(request)
    item = None
    try:
        if item_id is not None:
            item = service.get_visible(session, user, kind.model, item_id)
        data = (kind.create if item_id is None else kind.update)(**_payload(kind, values, user))
        saved = (service.create_item(session, user, kind.model, data) if item_id is None
                 else service.update_item(session, user, kind.model, item_id, data))
        session.commit()
    except NotFound as exc:
        session.rollback()
        return render(request, "not_found.html", user, message=exc.message, status_code=404)
    except (ValidationError, CrmError) as exc:
        session.rollback()
        message, field_name = _refusal(exc, kind)
        if item_id is not None:
            item = service.get_visible(session, user, kind.model, item_id)
        status = exc.status if isinstance(exc, CrmError) else 422
        return _form(request, session, user, kind, item, values, error=message, error_field=field_name, status_code=status)
    return see_other(f"/{kind.path}/{saved.id}?saved=1")


def _add_routes(kind: Kind) -> None:
    """The five routes of one kind: list, new (GET/POST), detail, edit (GET/POST)."""
    base = f"/{kind.path}"

    def list_page(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session)) -> Response:
        values = _table(session, user, kind, _query(request))
        partial = request.headers.get("hx-request") and request.headers.get("hx-target") == "item-table"
        return render(request, "_item_table.html" if partial else "items.html", user, **values)

    def new_form(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session)) -> Response:
        return _form(request, session, user, kind, None, _blank(kind, user.id))

    async def create(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session)) -> Response:
        return await _save(request, session, user, kind, None)

    def detail(request: Request, item_id: ItemId, user: User = Depends(page_user), session: Session = Depends(get_session)) -> Response:
        return _detail(request, session, user, kind, item_id, saved=request.query_params.get("saved") == "1")

    def edit_form(request: Request, item_id: ItemId, user: User = Depends(page_user), session: Session = Depends(get_session)) -> Response:
        try:
            item = service.get_visible(session, user, kind.model, item_id)
        except CrmError as exc:
            return render(request, "not_found.html", user, message=exc.message, status_code=exc.status)
        return _form(request, session, user, kind, item, _values_of(kind, item))

    async def save(request: Request, item_id: ItemId, user: User = Depends(page_user), session: Session = Depends(get_session)) -> Response:
        return await _save(request, session, user, kind, item_id)

    router.add_api_route(base, list_page, methods=["GET"])
    router.add_api_route(f"{base}/new", new_form, methods=["GET"])
    router.add_api_route(f"{base}/new", create, methods=["POST"])
    router.add_api_route(base + "/{item_id}", detail, methods=["GET"])
    router.add_api_route(base + "/{item_id}/edit", edit_form, methods=["GET"])
    router.add_api_route(base + "/{item_id}/edit", save, methods=["POST"])


for _kind in KINDS.values():
    _add_routes(_kind)
