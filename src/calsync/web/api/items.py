"""/api/v1/deals, /persons, /organizations: the same CRUD for the three kinds of linked items."""


from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from calsync.crm.schemas import (
    DealIn,
    DealOut,
    DealUpdate,
    OrganizationIn,
    OrganizationOut,
    OrganizationUpdate,
    PersonIn,
    PersonOut,
    PersonUpdate,
)
from calsync.crm.services import item_search
from calsync.crm.services import items as service
from calsync.store.tables import Deal, Organization, Person, User
from calsync.web.api.envelope import respond
from calsync.web.api.params import ItemId, parse_limit, parse_start
from calsync.web.deps import current_user, get_session

ITEM_LIMIT = 500


def _router(path: str, model: Any, create: type[BaseModel], update: type[BaseModel], out: type[BaseModel], tag: str) -> APIRouter:
    """Builds list/create/get/patch/delete routes for one item kind (typed bodies for OpenAPI)."""
    router = APIRouter(prefix=f"/api/v1/{path}", tags=[tag])
    noun = service.NAMES[model]

    def dump(item: Any) -> dict[str, Any]:
        return out.model_validate(item, from_attributes=True).model_dump()

    @router.get("", summary=f"List {path} you can see")
    def list_items(
        start: str | None = Query(None, description="items to skip"),
        limit: str | None = Query(None, description=f"1..{ITEM_LIMIT}, default 100"),
        session: Session = Depends(get_session),
        viewer: User = Depends(current_user),
    ) -> Response:
        skip, size = parse_start(start), parse_limit(limit, 100, ITEM_LIMIT)
        rows, more = service.list_visible(session, viewer, model, limit=size, start=skip)
        pagination = {"start": skip, "limit": size, "more_items_in_collection": more, "next_start": skip + size if more else None}
        return respond([dump(r) for r in rows], pagination=pagination)

    @router.post("", status_code=201, summary=f"Create a {noun}")
    def create_item(data: create, session: Session = Depends(get_session), viewer: User = Depends(current_user)) -> Response:  # type: ignore[valid-type]
        item = service.create_item(session, viewer, model, data)
        session.commit()
        return respond(dump(item), status_code=201)

    @router.get("/{item_id}", summary=f"One {noun}")
    def get_item(item_id: ItemId, session: Session = Depends(get_session), viewer: User = Depends(current_user)) -> Response:
        return respond(dump(service.get_visible(session, viewer, model, item_id)))

    @router.patch("/{item_id}", summary=f"Change a {noun} (only the fields sent)")
    @router.put("/{item_id}", summary="Same as PATCH (Pipedrive v1 clients send PUT)")
    def update_item(
        item_id: ItemId, data: update, session: Session = Depends(get_session), viewer: User = Depends(current_user)  # type: ignore[valid-type]
    ) -> Response:
        item = service.update_item(session, viewer, model, item_id, data)
        session.commit()
        return respond(dump(item))

    @router.delete("/{item_id}", summary=f"Delete a {noun} (activities keep existing, unlinked)")
    def delete_item(item_id: ItemId, session: Session = Depends(get_session), viewer: User = Depends(current_user)) -> Response:
        service.delete_item(session, viewer, model, item_id)
        session.commit()
        return respond({"id": item_id})

    return router


SEARCH_LIMIT = 50

search_router = APIRouter(prefix="/api/v1/items", tags=["items"])


@search_router.get("/search", summary="Deals, persons or organizations you can see whose name starts with q")
def search_items(
    kind: str = Query(..., description="deal, person or organization"),
    q: str = Query("", description="the start of the name (case does not matter); empty lists from A"),
    limit: str | None = Query(None, description=f"1..{SEARCH_LIMIT}, default 20"),
    session: Session = Depends(get_session),
    viewer: User = Depends(current_user),
) -> Response:
    """For type-ahead pickers: an indexed prefix search, fast at any number of items."""
    model = item_search.model_for(kind)
    size = parse_limit(limit, 20, SEARCH_LIMIT)
    rows, more = item_search.search(session, viewer, model, item_search.ItemFilters(text=q), limit=size)
    found = [{"id": r.id, "kind": kind, "name": service.label_of(r), "owner_id": r.owner_id, "visibility": r.visibility} for r in rows]
    return respond(found, pagination={"start": 0, "limit": size, "more_items_in_collection": more, "next_start": None})


routers = [
    search_router,
    _router("deals", Deal, DealIn, DealUpdate, DealOut, "deals"),
    _router("persons", Person, PersonIn, PersonUpdate, PersonOut, "persons"),
    _router("organizations", Organization, OrganizationIn, OrganizationUpdate, OrganizationOut, "organizations"),
]
