"""Signing in and out of the UI.

`/login` takes either the access token (with an optional name to appear under in the
audit trail, since a token is shared) or a configured user's username and password.
`/login?code=...` is the one-time link Earshot prints when no credential is
configured: the code works once, within minutes, and signs in; the page then moves on
with a same-site refresh, so the code leaves the address bar and the SameSite=Strict
cookie is sent on the next request.

Every failure counts towards a lockout (`monitor/web/lockout.py`): against the
client's address, and for a password also against the username. A locked key is
answered 429 with `Retry-After`, before any credential is even looked at.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.web.auth import LOGIN_LINK_MINUTES, Authenticator, FormActor, safe_next
from monitor.web.decoding import StrictRoute
from monitor.web.lockout import address_key, user_key
from monitor.web.templating import render

router = APIRouter(include_in_schema=False, route_class=StrictRoute)


def _auth(request: Request) -> Authenticator:
    return request.app.state.auth


def _form(request: Request, next_: str, error: str | None = None, code: int = 200, mode: str = "token",
          username: str = "", name: str = "", headers: dict[str, str] | None = None) -> Response:
    auth = _auth(request)
    nonce, cookie = auth.login_nonce()  # the form's CSRF token, vouched for by a signed cookie
    response = render(request, "login.html", {
        "next": safe_next(next_), "error": error, "accepts_passwords": auth.accepts_passwords,
        "accepts_token": auth.token is not None, "links_only": auth.links_only,
        "login_link_minutes": LOGIN_LINK_MINUTES, "mode": mode,
        "username": username, "name": name, "token_actor": auth.config.token_actor, "token_env": auth.config.token_env,
        "login_nonce": nonce,
    }, status_code=code, headers=headers)
    auth.set_login_cookie(response, cookie)
    response.headers["Referrer-Policy"] = "no-referrer"  # a ?code= must not leak to any other page
    return response


def _locked(request: Request, next_: str, retry_after: int, mode: str = "token", username: str = "",
            name: str = "") -> Response:
    minutes = -(-retry_after // 60)
    message = f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    return _form(request, next_, message, status.HTTP_429_TOO_MANY_REQUESTS, mode, username, name,
                 headers={"Retry-After": str(retry_after)})


def _keys(request: Request, username: str | None = None) -> list[str]:
    """What a failure counts against: always the client's address; for a password, the username too."""
    keys = [address_key(request.client.host if request.client else None)]
    return keys + [user_key(username)] if username is not None else keys


def _token_actor(auth: Authenticator, name: str) -> tuple[str, str]:
    """(name, audit actor) for a token sign-in: a shared token, so a given name is marked as such."""
    name = " ".join(name.split())[:80]
    if not name:
        return auth.config.token_actor, auth.config.token_actor
    return name, f"{name} (via {auth.config.token_actor})"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", code: str | None = None) -> Response:
    auth = _auth(request)
    if code is not None:
        keys, now = _keys(request), auth.now()
        if (wait := auth.lockout.retry_after(keys, now)) is not None:
            return _locked(request, next, wait)
        if not auth.redeem_login_code(code):
            if (wait := auth.lockout.failed(keys, now)) is not None:
                return _locked(request, next, wait)
            return _form(request, next, "That sign-in link has expired or was already used: each link works once, "
                                        f"within {LOGIN_LINK_MINUTES} minutes.", status.HTTP_401_UNAUTHORIZED)
        response = render(request, "signed_in.html", {"next": safe_next(next)})
        response.headers["Referrer-Policy"] = "no-referrer"
        name, actor = _token_actor(auth, "")
        auth.start_session(response, name, actor, "link")
        return response
    if getattr(request.state, "principal", None) is not None:
        return RedirectResponse(safe_next(next), status.HTTP_303_SEE_OTHER)
    return _form(request, next)


@router.post("/login")
def login(
    request: Request,
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    mode: Annotated[str, Form()] = "token",
    token: Annotated[str, Form(max_length=500)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    auth = _auth(request)
    if not auth.check_login_nonce(request, csrf_token):
        return _form(request, next, "The sign-in form expired. Please try again.", 403, mode, username, name)
    by_password = mode == "password"
    keys, now = _keys(request, username if by_password else None), auth.now()
    if (wait := auth.lockout.retry_after(keys, now)) is not None:
        return _locked(request, next, wait, mode, username, name)
    response = RedirectResponse(safe_next(next), status.HTTP_303_SEE_OTHER)
    if by_password:
        user = auth.check_password(username, password)
        if user is None:
            if (wait := auth.lockout.failed(keys, now)) is not None:
                return _locked(request, next, wait, mode, username)
            return _form(request, next, "Wrong username or password.", 401, mode, username)
        auth.lockout.succeeded(user_key(username))
        auth.start_session(response, user.actor, user.actor, "password", user.username.casefold())
    else:
        if not auth.check_token(token.strip()):
            if (wait := auth.lockout.failed(keys, now)) is not None:
                return _locked(request, next, wait, mode, name=name)
            return _form(request, next, "That token is not valid.", 401, mode, name=name)
        auth.start_session(response, *_token_actor(auth, name), "token")
    return response


@router.post("/logout")
def logout(request: Request, actor: FormActor) -> Response:
    if actor.via != "session":
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "nothing to sign out of: bearer tokens have no session")
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    _auth(request).end_session(request, response)
    return response
