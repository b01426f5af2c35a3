"""Who is asking: bearer tokens for the API, server-side sessions for the UI, CSRF for forms.

Default deny: `AuthMiddleware` turns away every request that is not signed in, except
the few public paths (`/healthz`, `/login`, static assets), so a route added later is
protected without anyone remembering to protect it.

* API clients send `Authorization: Bearer <token>` (the token from `web.auth.token_env`).
* People sign in on `/login` with the token or a username and password (from
  environment variables) and get a session: a row in `SessionStore` (see
  `monitor/web/sessions.py` for why it is kept on the server), named by an
  HMAC-signed, HttpOnly, SameSite=Strict cookie, expiring after `session_hours`.
  Signing out deletes the row; a changed token or password ends the sessions it opened.
* With no token and no usable user configured, nobody has a credential: Earshot prints
  a one-time sign-in link instead (`login_url`), carrying a code that works once,
  within `LOGIN_LINK_MINUTES`, and is never an API token.
* Failed sign-ins are counted per username and per client address, and too many
  lock them out for a while (`monitor/web/lockout.py`).
* Every form carries the session's CSRF token in a hidden field, checked on every
  POST (the login form too, with a pre-session cookie); JSON writes with a session
  cookie instead of a bearer token need the CSRF token in `X-CSRF-Token`.

Times (session and link expiry, lockouts) come from the app's clock, so tests set them.
Secrets are compared in constant time and never logged; the uvicorn access log
redacts secret query values (`monitor/web/accesslog.py`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, Form, Header, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import JSONResponse, RedirectResponse, Response

from monitor.config import WebAuthConfig, WebUser
from monitor.models import utcnow
from monitor.web.accesslog import RedactTokens, redact_access_log
from monitor.web.lockout import Lockout
from monitor.web.sessions import SessionStore
from monitor.web.urls import safe_next

__all__ = [  # the names other modules (and the CLI) import from here
    "LOGIN_COOKIE", "SESSION_COOKIE", "ApiActor", "AuthMiddleware", "Authenticator", "FormActor", "Principal",
    "PrincipalDep", "RedactTokens", "redact_access_log", "safe_next",
]

log = logging.getLogger(__name__)

SESSION_COOKIE = "earshot_session"
LOGIN_COOKIE = "earshot_login"  # the login form's pre-session CSRF nonce
LOGIN_FORM_MINUTES = 30
LOGIN_LINK_MINUTES = 15  # how long a printed one-time sign-in link works (once)
PUBLIC_PATHS = frozenset({"/healthz", "/login", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # No script at all, nothing from elsewhere; inline style attributes only for chart swatches.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@dataclass(frozen=True)
class Principal:
    """Who made a request: `actor` goes into the audit trail, `name` is who "me" is."""

    name: str
    actor: str
    via: Literal["bearer", "session"]
    csrf: str | None = None  # the session's CSRF token; None for bearer requests (no cookie, no CSRF)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _same(a: str, b: str) -> bool:
    """Constant-time string comparison (both sides encoded, so non-ASCII input cannot raise)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class Authenticator:
    """The credentials this app accepts, its sessions, and the signing of its cookies."""

    def __init__(self, config: WebAuthConfig, environ: Mapping[str, str] | None = None,
                 sessions: SessionStore | None = None, clock: Callable[[], datetime] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.config = config
        self.token: str | None = env.get(config.token_env) or None
        self.users: dict[str, tuple[WebUser, str]] = {}
        for user in config.users:
            password = env.get(user.password_env)
            if password:
                self.users[user.username.casefold()] = (user, password)
            else:  # names the variable, never a value
                log.warning("web.auth: user %s cannot sign in: %s is not set", user.username, user.password_env)
        # No credential configured: the only way in is a one-time link printed at start.
        self.links_only = self.token is None and not self.users
        self.sessions = sessions or SessionStore(None)
        self.lockout = Lockout(self.sessions)
        self._clock = clock or utcnow
        secret = env.get(config.secret_key_env) if config.secret_key_env else None
        if config.secret_key_env and not secret:
            log.warning("web.auth: %s is not set; sessions end when Earshot restarts", config.secret_key_env)
        base = secret.encode("utf-8") if secret else secrets.token_bytes(32)
        self._key = hmac.new(base, b"earshot-session", hashlib.sha256).digest()
        self._credential_key = hmac.new(base, b"earshot-credential", hashlib.sha256).digest()
        # Compared against for unknown usernames, so the time taken does not tell which names exist.
        self._decoy = secrets.token_urlsafe(24)

    def now(self) -> float:
        """The app's clock as POSIX seconds: every expiry and lockout is measured on it."""
        return self._clock().timestamp()

    # -- credentials --------------------------------------------------------------

    def check_token(self, candidate: str | None) -> bool:
        return bool(candidate) and self.token is not None and _same(candidate, self.token)

    def check_password(self, username: str, password: str) -> WebUser | None:
        found = self.users.get(username.strip().casefold())
        expected = found[1] if found else self._decoy
        ok = _same(password, expected)
        return found[0] if found and ok else None

    @property
    def accepts_passwords(self) -> bool:
        return bool(self.users)

    def login_url(self, host: str, port: int) -> str:
        """The address to print at start: with no credentials configured, a fresh one-time sign-in link.

        Each call issues a new code, valid once for `LOGIN_LINK_MINUTES`; with a token or
        users configured there is nothing to hand out, and the plain address is returned.
        """
        shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
        base = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}"
        if self.links_only:
            now = self.now()
            return f"{base}/login?code={self.sessions.issue_code(now, now + LOGIN_LINK_MINUTES * 60)}"
        return base + "/"

    def redeem_login_code(self, code: str) -> bool:
        """True once for a code `login_url` issued in the last `LOGIN_LINK_MINUTES`; spent either way."""
        return self.sessions.redeem_code(code, self.now())

    def _fingerprint(self, kind: str, subject: str) -> str | None:
        """A keyed digest of the credential behind a session; None once that credential is gone.

        Stored with the session and compared on every use: a new token or password (read
        at start) no longer matches, so the sessions it opened end, and only those.
        """
        if kind == "token":
            secret = self.token
        elif kind == "password":
            found = self.users.get(subject)
            secret = found[1] if found else None
        elif kind == "link":  # link sessions belong to the no-credentials mode, and end with it
            secret = "" if self.links_only else None
        else:
            secret = None
        if secret is None:
            return None
        material = "\0".join((kind, subject, secret)).encode("utf-8")
        return hmac.new(self._credential_key, material, hashlib.sha256).hexdigest()

    # -- signed values ----------------------------------------------------------------

    def sign(self, payload: dict[str, object]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        mac = hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def unsign(self, value: str | None) -> dict[str, object] | None:
        """The payload if the signature is right and it has not expired; else None."""
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        expected = _b64(hmac.new(self._key, body.encode("ascii", "replace"), hashlib.sha256).digest())
        if not _same(mac, expected):
            return None
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("x"), int | float) or payload["x"] < self.now():
            return None
        return payload

    # -- sessions -----------------------------------------------------------------------

    def _session_id(self, cookie: str | None) -> str | None:
        payload = self.unsign(cookie)
        session_id = payload.get("s") if payload else None
        return session_id if isinstance(session_id, str) else None

    def session(self, cookie: str | None) -> Principal | None:
        """The signed-in person a session cookie names, if its session is live and its credential unchanged."""
        session_id = self._session_id(cookie)
        record = self.sessions.get(session_id, self.now()) if session_id else None
        if record is None or session_id is None:
            return None
        current = self._fingerprint(record.kind, record.subject)
        if current is None or not _same(current, record.fingerprint):
            self.sessions.end(session_id)
            return None
        return Principal(record.name, record.actor, "session", record.csrf)

    def principal(self, request: Request) -> Principal | None | Literal[False]:
        """Who is asking; None if nobody signed in; False for a wrong bearer token (never fall back)."""
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, credential = header.partition(" ")
            if scheme.casefold() == "bearer" and self.check_token(credential.strip()):
                name = self.config.token_actor
                return Principal(name, name, "bearer")
            return False
        return self.session(request.cookies.get(SESSION_COOKIE))

    def start_session(self, response: Response, name: str, actor: str,
                      kind: Literal["token", "password", "link"], subject: str = "") -> None:
        """Open a session for a sign-in just checked, and hand the browser its cookie."""
        fingerprint = self._fingerprint(kind, subject)
        if fingerprint is None:  # the caller checked the credential a moment ago
            raise ValueError(f"no {kind} credential to open a session with")
        now, seconds = self.now(), int(self.config.session_hours * 3600)
        session_id, _ = self.sessions.create(name=name, actor=actor, kind=kind, subject=subject,
                                             fingerprint=fingerprint, now=now, expires=now + seconds)
        self.set_cookie(response, SESSION_COOKIE, self.sign({"s": session_id, "x": int(now + seconds)}), seconds)
        self.set_cookie(response, LOGIN_COOKIE, "", 0)  # the login form's nonce is spent

    def end_session(self, request: Request, response: Response) -> None:
        """Sign out: the session row goes, so the cookie is dead even if a copy of it survives."""
        session_id = self._session_id(request.cookies.get(SESSION_COOKIE))
        if session_id:
            self.sessions.end(session_id)
        self.set_cookie(response, SESSION_COOKIE, "", 0)

    # -- cookies ------------------------------------------------------------------------

    def set_cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                            secure=self.config.secure_cookies, path="/")

    def login_nonce(self) -> tuple[str, str]:
        """A fresh CSRF nonce for the login form, and the signed cookie value that vouches for it."""
        nonce = secrets.token_urlsafe(24)
        return nonce, self.sign({"l": nonce, "x": int(self.now() + LOGIN_FORM_MINUTES * 60)})

    def set_login_cookie(self, response: Response, value: str) -> None:
        self.set_cookie(response, LOGIN_COOKIE, value, LOGIN_FORM_MINUTES * 60)

    def check_login_nonce(self, request: Request, submitted: str) -> bool:
        payload = self.unsign(request.cookies.get(LOGIN_COOKIE))
        return payload is not None and isinstance(payload.get("l"), str) and _same(str(payload["l"]), submitted)


# -- middleware and dependencies ------------------------------------------------------------


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path == "/openapi.json":
        return False
    return request.method in SAFE_METHODS and "text/html" in request.headers.get("accept", "text/html")


class AuthMiddleware(BaseHTTPMiddleware):
    """Default deny: everything but the public paths needs a signed-in principal."""

    def __init__(self, app, authenticator: Authenticator) -> None:  # noqa: ANN001 - an ASGI app
        super().__init__(app)
        self.auth = authenticator

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        principal = await run_in_threadpool(self.auth.principal, request)  # a session is a (quick) SQLite read
        request.state.principal = principal or None
        public = is_public(request.url.path)
        if principal is False and not public:  # a wrong token is refused, not treated as "no token"
            response: Response = _unauthorized("invalid bearer token")
        elif not principal and not public:
            if wants_html(request):
                # The path as sent (still percent-encoded), so alert ids with slashes survive the round trip.
                path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
                target = path + (f"?{request.url.query}" if request.url.query else "")
                response = RedirectResponse(f"/login?next={quote(target, safe='')}", status.HTTP_303_SEE_OTHER)
            else:
                response = _unauthorized("sign in: send Authorization: Bearer <token>")
        else:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not public or request.url.path == "/login":
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _unauthorized(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status.HTTP_401_UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


def current_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:  # the middleware lets nobody through unsigned; this is belt and braces
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not signed in", headers={"WWW-Authenticate": "Bearer"})
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def form_csrf(principal: PrincipalDep, csrf_token: Annotated[str, Form()] = "") -> Principal:
    """For form POSTs: the hidden `csrf_token` must be this session's (bearer calls need none)."""
    if principal.via == "session" and not (principal.csrf and csrf_token and _same(csrf_token, principal.csrf)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form is stale or was not sent from Earshot: reload the page")
    return principal


def api_csrf(principal: PrincipalDep, x_csrf_token: Annotated[str | None, Header()] = None) -> Principal:
    """For JSON writes: a bearer token, or a session cookie plus its CSRF token in `X-CSRF-Token`."""
    if principal.via == "session" and not (principal.csrf and x_csrf_token and _same(x_csrf_token, principal.csrf)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "send Authorization: Bearer <token> (or X-CSRF-Token with a session)")
    return principal


FormActor = Annotated[Principal, Depends(form_csrf)]
ApiActor = Annotated[Principal, Depends(api_csrf)]
