"""Signing in and out of the UI.

`/login` takes either the access token (with an optional name to appear under in the
audit trail, since a token is shared) or a configured user's username and password.
`/login?token=...` is the link the CLI prints when it generated the token: it signs
in and then moves on with a same-site refresh, so the token leaves the address bar and
the SameSite=Strict cookie is sent on the next request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.web.auth import SESSION_COOKIE, Authenticator, FormActor, safe_next
from monitor.web.templating import render

router = APIRouter(include_in_schema=False)


def _auth(request: Request) -> Authenticator:
    return request.app.state.auth


def _form(request: Request, next_: str, error: str | None = None, code: int = 200, mode: str = "token",
          username: str = "", name: str = "") -> Response:
    auth = _auth(request)
    nonce, cookie = auth.login_nonce()  # the form's CSRF token, vouched for by a signed cookie
    response = render(request, "login.html", {
        "next": safe_next(next_), "error": error, "accepts_passwords": auth.accepts_passwords,
        "accepts_token": auth.token is not None, "generated": auth.generated, "mode": mode,
        "username": username, "name": name, "token_actor": auth.config.token_actor, "login_nonce": nonce,
    }, status_code=code)
    auth.set_login_cookie(response, cookie)
    response.headers["Referrer-Policy"] = "no-referrer"  # a ?token= must not leak to any other page
    return response


def _token_actor(auth: Authenticator, name: str) -> tuple[str, str]:
    """(name, audit actor) for a token sign-in: a shared token, so a given name is marked as such."""
    name = " ".join(name.split())[:80]
    if not name:
        return auth.config.token_actor, auth.config.token_actor
    return name, f"{name} (via {auth.config.token_actor})"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", token: str | None = None) -> Response:
    auth = _auth(request)
    if token is not None:
        if not auth.check_token(token):
            return _form(request, next, "That sign-in link is not valid (the token changes at every start).", 401)
        response = render(request, "signed_in.html", {"next": safe_next(next)})
        response.headers["Referrer-Policy"] = "no-referrer"
        name, actor = _token_actor(auth, "")
        auth.start_session(response, name, actor)
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
    if mode == "password":
        user = auth.check_password(username, password)
        if user is None:
            return _form(request, next, "Wrong username or password.", 401, mode, username)
        who = (user.actor, user.actor)
    else:
        if not auth.check_token(token.strip()):
            return _form(request, next, "That token is not valid.", 401, mode, name=name)
        who = _token_actor(auth, name)
    response = RedirectResponse(safe_next(next), status.HTTP_303_SEE_OTHER)
    auth.start_session(response, *who)
    return response


@router.post("/logout")
def logout(request: Request, actor: FormActor) -> Response:
    if actor.via != "session":
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "nothing to sign out of: bearer tokens have no session")
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    _auth(request).set_cookie(response, SESSION_COOKIE, "", 0)
    return response
