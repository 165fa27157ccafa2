"""(being written)"""

from fastapi import FastAPI

from calsync.web.context import AppContext


def install(app: FastAPI, context: AppContext) -> None:
    """Adds this part's routes to the app."""
