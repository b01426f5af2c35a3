"""The web UI's application factory.

`create_app` takes the config (and optionally an already-open store, a clock and an
environment, which is what tests and embedding callers pass) so the same app serves
the demo, a real deployment and a test's temporary database without global state.
The app's `state.auth` knows the credentials it accepts, and `login_url()` the address
to print, with the generated token when there was none configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from monitor.config import Config
from monitor.models import utcnow
from monitor.store import Store, open_store
from monitor.web import api, apidocs, forms, login, pages
from monitor.web.auth import Authenticator, AuthMiddleware
from monitor.web.templating import STATIC_DIR, build_templates, render

DESCRIPTION = (
    "The alert inbox, triage (acknowledge, assign, resolve, dismiss, notes, audit trail), care-team metrics "
    "and the sentiment/volume trend of Earshot, as pages and as a JSON API.\n\n"
    "Every call needs `Authorization: Bearer <token>`, the token from the environment variable named by "
    "`web.auth.token_env` (`EARSHOT_WEB_TOKEN` by default)."
)


def create_app(
    config: Config,
    store: Store | None = None,
    clock: Callable[[], datetime] | None = None,
    environ: Mapping[str, str] | None = None,
) -> FastAPI:
    """Build the app; a store opened here from the config is also closed here on shutdown."""
    owns_store = store is None
    active: Store = open_store(config) if store is None else store
    authenticator = Authenticator(config.web.auth, environ)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_store:
            active.close()

    app = FastAPI(title="Earshot", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # /docs is ours: Swagger UI would load scripts from a CDN
    app.state.config = config
    app.state.store = active
    app.state.templates = build_templates()
    app.state.auth = authenticator
    app.state.clock = clock or utcnow
    app.add_middleware(AuthMiddleware, authenticator=authenticator)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (login, api, apidocs, pages, forms):
        app.include_router(module.router)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Errors as a page for people (a browser asking for HTML), as JSON for everyone else."""
    assert isinstance(exc, StarletteHTTPException)
    browser = "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")
    if not browser or exc.status_code == 401:
        return await http_exception_handler(request, exc)
    titles = {403: "Not allowed", 404: "Not found"}
    return render(request, "error.html", {"title": titles.get(exc.status_code, "Something went wrong"),
                                          "message": str(exc.detail), "back": "/"}, status_code=exc.status_code)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The schema, with the bearer token declared once for every operation."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "The token from web.auth.token_env."}
        }
        schema["security"] = [{"bearer": []}]
        schema["paths"].get("/healthz", {}).get("get", {})["security"] = []
        app.openapi_schema = schema
    return app.openapi_schema
