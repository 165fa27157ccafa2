"""REST API under /api/v1 (Pipedrive-style envelope): activities, calendar, activity types,
deals, persons, organizations, users. Each resource lives in its own module; this one mounts them."""

from __future__ import annotations

from fastapi import FastAPI

from calsync.web.api import activities, activity_types, calendar, items, users
from calsync.web.context import AppContext


def install(app: FastAPI, context: AppContext) -> None:
    """Adds the CRM API routes to the app."""
    app.include_router(activities.router)
    app.include_router(calendar.router)
    app.include_router(activity_types.router)
    for router in items.routers:
        app.include_router(router)
    app.include_router(users.router)
