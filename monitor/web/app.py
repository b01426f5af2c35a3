"""The web UI's application factory.

`create_app` takes the config (and optionally an already-open store, which is what
tests and embedding callers pass) so the same app serves the demo, a real deployment
and a test's temporary database without global state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from monitor.config import Config
from monitor.store import Store, open_store
from monitor.web import api, pages
from monitor.web.templating import STATIC_DIR, build_templates

DESCRIPTION = "The alert inbox and the sentiment/volume trend of Earshot, as pages and as a JSON API."


def create_app(config: Config, store: Store | None = None) -> FastAPI:
    """Build the app; a store opened here from the config is also closed here on shutdown."""
    owns_store = store is None
    active: Store = open_store(config) if store is None else store

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_store:
            active.close()

    app = FastAPI(title="Earshot", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.config = config
    app.state.store = active
    app.state.templates = build_templates()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    return app
