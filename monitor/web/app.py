"""The web UI's application factory.

`create_app` takes the config (and optionally an already-open store, a clock and an
environment, which is what tests and embedding callers pass) so the same app serves
the demo, a real deployment and a test's temporary database without global state.
The app's `state.auth` knows the credentials it accepts and keeps its sessions (in a
SQLite file beside the store's, `monitor/web/sessions.py`); `login_link()` is the address
to print at start, a one-time sign-in link when no credential is configured.

Bad input is the client's error, never a 500: bodies over `web.max_body_bytes` are refused
(413, `bodylimit.py`), JSON or form bodies that are not valid UTF-8 text are 422/400
(`decoding.py`), and validation errors name fields without repeating their values (`errors.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor.config import Config
from monitor.models import utcnow
from monitor.store import Store, open_store
from monitor.replies.desk import ReplyDesk
from monitor.web import api, apidocs, forms, login, mentions, noise, pages, replies
from monitor.web.auth import Authenticator, AuthMiddleware
from monitor.web.bodylimit import BodyLimit
from monitor.web.errors import http_error, validation_error
from monitor.web.sessions import SessionStore, sessions_path
from monitor.web.templating import STATIC_DIR, build_templates

DESCRIPTION = (
    "The alert inbox, triage (acknowledge, assign, resolve, dismiss, notes, audit trail), care-team metrics, "
    "the sentiment/volume trend and the search of every mention (with CSV / JSON Lines export) of Earshot, "
    "as pages and as a JSON API.\n\n"
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
    now = clock or utcnow
    authenticator = Authenticator(config.web.auth, environ, SessionStore(sessions_path(config)), now)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        authenticator.sessions.close()
        if owns_store:
            active.close()

    app = FastAPI(title="Earshot", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # /docs is ours: Swagger UI would load scripts from a CDN
    app.state.config = config
    app.state.store = active
    app.state.templates = build_templates()
    app.state.auth = authenticator
    app.state.clock = now
    app.state.replies = ReplyDesk(config, environ)  # posting replies: credentials from `environ` too
    app.add_middleware(AuthMiddleware, authenticator=authenticator)
    app.add_middleware(BodyLimit, max_bytes=config.web.max_body_bytes)  # added last: the outermost
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (login, api, mentions, apidocs, pages, forms, noise, replies):
        app.include_router(module.router)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def login_link(app: FastAPI, host: str, port: int) -> str:
    """The address to print at start (the CLI's "Earshot UI: ..." line).

    With no credential configured, a fresh one-time sign-in link (valid once, for
    `auth.LOGIN_LINK_MINUTES`); otherwise the plain address, since a configured token is never printed.
    """
    auth: Authenticator = app.state.auth
    return auth.login_url(host, port)


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
