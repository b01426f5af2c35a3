"""The web UI's defences, as a client trying to get around them sees them.

Each section is one promise: request bodies are bounded and bad input is a 4xx that
never repeats the input; a printed sign-in link works once, briefly; sessions live on
the server, so signing out or changing a password ends them; guessing passwords gets
a client and a username locked out; redirects stay on the site; a post's address is
a link only if it is a web page; secrets in query strings never reach the access log.

Everything runs against the real app (FastAPI's TestClient, the raw ASGI interface
where a test must see how much of a body was read, and a real uvicorn server for the
access log), over a real SQLite store the real pipeline filled. Time is the app's
injected clock: no test waits or depends on the wall clock.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import shutil
import socket
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from monitor import pipeline
from monitor.config import WebUser
from monitor.store import SQLiteStore
from monitor.web import create_app, login_link
from monitor.web.accesslog import RedactTokens, redact_access_log
from monitor.web.auth import SESSION_COOKIE
from monitor.web.sessions import sessions_path
from monitor.web.templating import url_id
from monitor.web.urls import safe_next, web_link
from tests.conftest import KeywordScorer, demo_config, set_aside_scam

CRITICAL = "x:1991500000000000001:critical"
TOKEN = "security-test-token-5b1e0c9d"
SECRET_KEY = "security-test-session-key-3f9a"
ANA_PASSWORD = "correct horse battery"
LUIS_PASSWORD = "tr0ub4dor&3"
ENV = {"EARSHOT_WEB_TOKEN": TOKEN, "PW_ANA": ANA_PASSWORD, "PW_LUIS": LUIS_PASSWORD, "SESSION_KEY": SECRET_KEY}
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
MARKER = "ECHO-MARKER-7c1f"  # put into bad input: must never come back in an answer


class Clock:
    """The app's clock, moved only by the test."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module")
def filled_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo, run through the real pipeline once; each test gets a copy."""
    base = tmp_path_factory.mktemp("filled")
    store = SQLiteStore(base / "earshot.db")
    summary = pipeline.run_once(demo_config(base), store, scorer=KeywordScorer(), channels=[])
    set_aside_scam(store, max(a.created_at for a in summary.alerts))
    store.close()
    return base / "earshot.db"


@pytest.fixture
def config(tmp_path: Path):
    cfg = demo_config(tmp_path)
    cfg.web.auth.users = [WebUser(username="ana", password_env="PW_ANA", display_name="Ana García"),
                          WebUser(username="luis", password_env="PW_LUIS")]
    cfg.web.auth.secret_key_env = "SESSION_KEY"
    return cfg


@pytest.fixture
def store(filled_db: Path, config) -> Iterator[SQLiteStore]:
    path = config.resolve(config.store.path)
    shutil.copy(filled_db, path)
    s = SQLiteStore(path)
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(config, store, clock):
    return create_app(config, store, clock=clock, environ=ENV)


@pytest.fixture
def api(app) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}, raise_server_exceptions=False)


def browser(app, ip: str = "203.0.113.10") -> TestClient:
    """A browser at client address `ip` (lockouts count per address)."""
    return TestClient(app, client=(ip, 50000), raise_server_exceptions=False)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client: TestClient, *, username: str | None = None, password: str = "", token: str = "",
            next: str = "/") -> httpx.Response:
    """Post the login form as a person does (fetching it first for its CSRF nonce)."""
    nonce = csrf_of(client.get("/login").text)
    data = {"csrf_token": nonce, "next": next}
    if username is not None:
        data |= {"mode": "password", "username": username, "password": password}
    else:
        data |= {"mode": "token", "token": token}
    return client.post("/login", data=data, follow_redirects=False)


def signed_in(app, cookie: str) -> bool:
    return TestClient(app, cookies={SESSION_COOKIE: cookie}).get("/api/stats").status_code == 200


def one_time_code(app) -> str:
    return login_link(app, "127.0.0.1", 8000).split("code=", 1)[1]


@pytest.fixture
def links_app(config, store, clock):
    """An Earshot with no credential configured: the printed link is the only way in."""
    config.web.auth.users = []
    return create_app(config, store, clock=clock, environ={})


# -- request bodies and bad input ---------------------------------------------------------


def asgi_post(app, path: str, chunks: Iterable[bytes], headers: dict[str, str]) -> tuple[int, bytes, int]:
    """POST through the app's ASGI interface, feeding `chunks` as the body as the app asks for them.

    Returns (status, response body, bytes of request body the app pulled): what a
    TestClient cannot show, since it hands over the whole body at once.
    """
    pulled = 0
    source = iter(chunks)
    pending = next(source, None)
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled, pending
        if pending is None:
            return {"type": "http.disconnect"}
        chunk, pending = pending, next(source, None)
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pending is not None}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.10", 50000), "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, pulled


def test_a_body_declared_larger_than_the_limit_is_refused_before_a_byte_is_read(app, store):
    declared = 20_000_000
    chunks = (b"x" * 65536 for _ in range(declared // 65536))
    status, body, pulled = asgi_post(app, f"/api/alerts/{CRITICAL}/notes", chunks, {
        "authorization": f"Bearer {TOKEN}", "content-type": "application/json", "content-length": str(declared)})
    assert status == 413 and pulled == 0
    assert json.loads(body) == {"detail": "the request body is too large: at most 1,000,000 bytes"}
    assert store.alert_events([CRITICAL]) == []


def test_a_streamed_body_is_read_only_until_it_passes_the_limit(app, store):
    chunk = 65536
    note = json.dumps({"text": "x" * 20_000_000}).encode()  # 20 MB, chunked: no Content-Length to go by
    chunks = (note[i:i + chunk] for i in range(0, len(note), chunk))
    status, body, pulled = asgi_post(app, f"/api/alerts/{CRITICAL}/notes", chunks, {
        "authorization": f"Bearer {TOKEN}", "content-type": "application/json", "transfer-encoding": "chunked"})
    assert status == 413 and b"too large" in body and len(body) < 200
    assert 1_000_000 < pulled <= 1_000_000 + chunk  # it stopped at the first chunk over the limit
    assert store.alert_events([CRITICAL]) == []


def test_the_body_limit_is_configurable_and_browsers_get_a_page(config, store, clock):
    config.web.max_body_bytes = 2048
    app = create_app(config, store, clock=clock, environ=ENV)
    person = browser(app)
    assert sign_in(person, token=TOKEN).status_code == 303
    csrf = csrf_of(person.get("/").text)
    page = person.post(f"/alerts/{url_id(CRITICAL)}/notes", data={"csrf_token": csrf, "text": "y" * 3000},
                       headers={"accept": "text/html"})
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert "2,048 bytes" in page.text and "yyyy" not in page.text
    ok = person.post(f"/alerts/{url_id(CRITICAL)}/notes", data={"csrf_token": csrf, "text": "on it"},
                     follow_redirects=False)
    assert ok.status_code == 303  # small bodies are untouched
    assert [e.text for e in store.alert_events([CRITICAL])] == ["on it"]


def test_validation_errors_say_where_and_what_but_never_repeat_the_input(api, app):
    too_long = api.post(f"/api/alerts/{CRITICAL}/notes", json={"text": MARKER * 1000})  # over max_length 4000
    assert too_long.status_code == 422
    assert too_long.json() == {"detail": [{"loc": ["body", "text"], "msg": "String should have at most 4000 characters",
                                           "type": "string_too_long"}]}
    wrong_type = api.get("/api/alerts", params={"limit": MARKER, "severity": MARKER})
    assert wrong_type.status_code == 422 and MARKER not in wrong_type.text
    assert {tuple(e["loc"]) for e in wrong_type.json()["detail"]} == {("query", "limit"), ("query", "severity")}
    unknown_key = api.post(f"/api/alerts/{CRITICAL}/notes", json={"text": "ok", MARKER * 50: 1})
    assert unknown_key.status_code == 422 and MARKER * 5 not in unknown_key.text  # a long key is cut short
    # A form posted by a browser: a page listing the problem, without the value.
    person = browser(app)
    sign_in(person, token=TOKEN)
    page = person.post(f"/alerts/{url_id(CRITICAL)}/state", data={"csrf_token": csrf_of(person.get("/").text),
                                                                   "state": MARKER}, headers={"accept": "text/html"})
    assert page.status_code == 422 and "text/html" in page.headers["content-type"]
    assert "state: Input should be" in page.text and MARKER not in page.text


@pytest.mark.parametrize("body", [
    b'{"text": "\\ud800"}',  # a lone high surrogate, as a JSON escape
    b'{"text": "ok \\udc00 ok"}',  # a lone low surrogate
    b'{"\\ud83d": "ok"}',  # in a key
    b'{"text": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 (invalid UTF-8)
    b'{"text": "\xff\xfe"}',  # not UTF-8 at all
    '{"text": "hi"}'.encode("utf-16"),  # UTF-16: not what JSON over HTTP is
    b'{"text": NaN}',  # not JSON
    b'{"text": "unfinished',
    b"[" * 100_000,  # nested past any recursion limit
    b"\xef\xbb\xbf{\"text\": \"bom\"}",  # a byte-order mark
], ids=["high-surrogate", "low-surrogate", "surrogate-key", "utf8-surrogate", "not-utf8", "utf16", "nan",
        "truncated", "deep", "bom"])
def test_undecodable_json_is_a_client_error_never_a_500(api, store, body):
    response = api.post(f"/api/alerts/{CRITICAL}/notes", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert store.alert_events([CRITICAL]) == []
    assert len(response.content) < 500  # a short reason, not the body back


def test_a_state_change_with_a_lone_surrogate_reason_is_refused(api, store):
    body = b'{"state": "dismissed", "reason": "\\udc00"}'
    response = api.post(f"/api/alerts/{CRITICAL}/state", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "json_invalid"
    assert store.get_alert(CRITICAL).state.value == "open"


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"text=%ED%A0%80", "application/x-www-form-urlencoded", 400),  # an encoded surrogate
    (b"text=%FF%FE", "application/x-www-form-urlencoded", 400),  # escapes that are not UTF-8
    (b"text=\xff\xfe", "application/x-www-form-urlencoded", 400),  # raw bytes: browsers never send them
    (b"%ED%A0%80=1&text=ok", "application/x-www-form-urlencoded", 400),  # in a field name
    (b'--B\r\nContent-Disposition: form-data; name="text"\r\n\r\n\xed\xa0\x80\r\n--B--\r\n',
     "multipart/form-data; boundary=B", 415),  # Earshot's forms are never multipart
    (b"garbage", "multipart/form-data", 415),
], ids=["surrogate", "not-utf8", "raw-bytes", "bad-name", "multipart", "multipart-no-boundary"])
def test_badly_encoded_forms_are_client_errors(app, store, body, content_type, status):
    person = browser(app)
    sign_in(person, token=TOKEN)
    if content_type == "application/x-www-form-urlencoded":  # a genuine form but for its encoding
        body = f"csrf_token={csrf_of(person.get('/').text)}&".encode() + body
    response = person.post(f"/alerts/{url_id(CRITICAL)}/notes", content=body, headers={"content-type": content_type},
                           follow_redirects=False)
    assert response.status_code == status
    assert store.alert_events([CRITICAL]) == []


# -- the one-time sign-in link --------------------------------------------------------------


def test_a_sign_in_link_works_once(links_app):
    code = one_time_code(links_app)
    first = browser(links_app)
    assert first.get(f"/login?code={code}").status_code == 200
    assert first.get("/api/stats").status_code == 200
    again = browser(links_app, "203.0.113.11")
    response = again.get(f"/login?code={code}")
    assert response.status_code == 401 and "expired or was already used" in response.text
    assert 'id="links-only"' in response.text  # and says where a new one comes from
    assert again.get("/api/stats").status_code == 401
    assert first.get("/api/stats").status_code == 200  # the session it opened goes on


def test_a_sign_in_link_expires_after_15_minutes(links_app, clock):
    stale, fresh = one_time_code(links_app), one_time_code(links_app)
    clock.advance(minutes=14, seconds=59)
    assert browser(links_app).get(f"/login?code={fresh}").status_code == 200
    clock.advance(seconds=2)
    assert browser(links_app).get(f"/login?code={stale}").status_code == 401


def test_a_sign_in_code_is_not_an_api_token_and_the_token_is_not_a_link(app, links_app):
    code = one_time_code(links_app)
    assert TestClient(links_app, headers={"Authorization": f"Bearer {code}"}).get("/api/stats").status_code == 401
    assert browser(links_app).get(f"/login?code={code}").status_code == 200  # the failed bearer did not spend it
    # With a token configured, a link carrying the token signs nobody in (it would sit in histories and logs).
    person = browser(app)
    assert person.get(f"/login?token={TOKEN}").status_code == 200  # just the form
    assert SESSION_COOKIE not in person.cookies and person.get("/api/stats").status_code == 401
    assert browser(app).get(f"/login?code={TOKEN}").status_code == 401
    assert login_link(app, "0.0.0.0", 8000) == "http://127.0.0.1:8000/"  # nothing to hand out


# -- sessions on the server ----------------------------------------------------------------


def test_signing_out_ends_the_session_even_for_a_copy_of_its_cookie(app):
    laptop, phone = browser(app), browser(app)
    sign_in(laptop, username="ana", password=ANA_PASSWORD)
    sign_in(phone, username="ana", password=ANA_PASSWORD)
    copied = laptop.cookies[SESSION_COOKIE]
    assert laptop.post("/logout", data={"csrf_token": csrf_of(laptop.get("/").text)},
                       follow_redirects=False).status_code == 303
    assert not signed_in(app, copied)
    assert phone.get("/api/stats").status_code == 200  # only that session ended


def test_sessions_end_on_the_apps_clock(app, clock, config):
    person = browser(app)
    sign_in(person, token=TOKEN)
    clock.advance(hours=config.web.auth.session_hours, minutes=-1)
    assert person.get("/api/stats").status_code == 200
    clock.advance(minutes=2)
    assert person.get("/api/stats").status_code == 401


def test_sessions_survive_a_restart_with_a_stable_key(app, config, store, clock):
    person = browser(app)
    sign_in(person, username="luis", password=LUIS_PASSWORD)
    restarted = create_app(config, store, clock=clock, environ=ENV)
    assert signed_in(restarted, person.cookies[SESSION_COOKIE])


def test_a_changed_password_ends_that_users_sessions_and_no_one_elses(app, config, store, clock):
    cookies = {}
    for who, kwargs in {"ana": {"username": "ana", "password": ANA_PASSWORD},
                        "luis": {"username": "luis", "password": LUIS_PASSWORD}, "token": {"token": TOKEN}}.items():
        person = browser(app)
        assert sign_in(person, **kwargs).status_code == 303
        cookies[who] = person.cookies[SESSION_COOKIE]

    def still_signed_in(restarted) -> dict[str, bool]:
        return {who: signed_in(restarted, cookie) for who, cookie in cookies.items()}

    new_password = create_app(config, store, clock=clock, environ={**ENV, "PW_ANA": "a new password"})
    assert still_signed_in(new_password) == {"ana": False, "luis": True, "token": True}
    new_token = create_app(config, store, clock=clock, environ={**ENV, "EARSHOT_WEB_TOKEN": "a-new-token-0451"})
    assert still_signed_in(new_token) == {"ana": False, "luis": True, "token": False}
    assert not signed_in(app, cookies["ana"])  # ended for good: the old password does not bring it back


def test_the_sessions_file_signs_nobody_in(links_app, config):
    code = one_time_code(links_app)
    person = browser(links_app)
    person.get(f"/login?code={code}")
    payload = person.cookies[SESSION_COOKIE].split(".")[0]
    session_id = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["s"]
    path = sessions_path(config)
    assert path.parent == config.resolve(config.store.path).parent
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert stored and session_id.encode() not in stored and code.encode() not in stored


# -- lockout after failed sign-ins ----------------------------------------------------------


def test_five_wrong_passwords_lock_the_username_from_anywhere(app, clock):
    statuses = [sign_in(browser(app, f"198.51.100.{i}"), username="ana", password="guess").status_code
                for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    locked = sign_in(browser(app, "192.0.2.99"), username="Ana", password=ANA_PASSWORD)  # right, but locked
    assert locked.status_code == 429 and locked.headers["retry-after"] == "900"
    assert "Too many failed sign-ins. Try again in 15 minutes." in locked.text
    assert SESSION_COOKIE not in locked.headers.get("set-cookie", "")
    assert sign_in(browser(app, "192.0.2.99"), username="luis", password=LUIS_PASSWORD).status_code == 303
    clock.advance(minutes=14)
    assert sign_in(browser(app, "192.0.2.99"), username="ana", password=ANA_PASSWORD).headers["retry-after"] == "60"
    clock.advance(minutes=1)
    assert sign_in(browser(app, "192.0.2.99"), username="ana", password=ANA_PASSWORD).status_code == 303


def test_five_failures_from_one_address_lock_that_address_out(app):
    attacker = "198.51.100.66"
    for username in ("ana", "luis", "root", "admin"):
        assert sign_in(browser(app, attacker), username=username, password="guess").status_code == 401
    assert sign_in(browser(app, attacker), token="not-the-token").status_code == 429  # a wrong token counts too
    assert sign_in(browser(app, attacker), token=TOKEN).status_code == 429
    assert sign_in(browser(app, "192.0.2.1"), username="ana", password=ANA_PASSWORD).status_code == 303


def test_failures_further_apart_than_15_minutes_do_not_add_up(app, clock):
    for _ in range(4):
        assert sign_in(browser(app), username="ana", password="guess").status_code == 401
    clock.advance(minutes=15, seconds=1)
    for _ in range(4):
        assert sign_in(browser(app), username="ana", password="guess").status_code == 401
    assert sign_in(browser(app), username="ana", password=ANA_PASSWORD).status_code == 303


def test_bad_sign_in_links_count_against_the_address(links_app):
    good = one_time_code(links_app)
    person = browser(links_app)
    assert [person.get(f"/login?code=guess-{i}").status_code for i in range(5)] == [401] * 4 + [429]
    locked = person.get(f"/login?code={good}")
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) == 900
    assert browser(links_app, "192.0.2.1").get(f"/login?code={good}").status_code == 200  # not spent by the refusal


# -- redirects stay on the site ---------------------------------------------------------------

OFF_SITE = [  # `next` as the app receives it (the query or form already decoded once)
    "/\t/evil.example",  # from next=/%09/evil.example: browsers drop the tab, leaving //evil.example
    "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example", " //evil.example", "/\x00/evil.example",
    "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "/%5Cevil.example",
    "/%2F/evil.example", "/%09/evil.example", "/%252F%252Fevil.example",
    "https://evil.example", "HTTPS://evil.example", "http:evil.example", "evil.example",
    "javascript:alert(1)", "/\u2028/evil.example", "",
]
ON_SITE = ["/", "/?topic=billing&days=30", f"/alerts/{url_id(CRITICAL)}",
           f"/alerts/{url_id('bluesky:at://did:plc:abc/app.bsky.feed.post/3l:warning')}"]


@pytest.mark.parametrize("value", OFF_SITE)
def test_next_off_the_site_becomes_the_inbox(value):
    assert safe_next(value) == "/"


@pytest.mark.parametrize("value", ON_SITE)
def test_next_on_the_site_is_kept(value):
    assert safe_next(value) == value


def test_sign_in_never_redirects_off_the_site(app, links_app):
    raw = browser(links_app).get(f"/login?code={one_time_code(links_app)}&next=/%09/evil.example")
    assert '<meta http-equiv="refresh" content="0;url=/">' in raw.text
    for value in OFF_SITE:
        response = sign_in(browser(app), token=TOKEN, next=value)
        assert response.headers["location"] == "/", repr(value)
        page = browser(links_app).get("/login", params={"code": one_time_code(links_app), "next": value})
        assert '<meta http-equiv="refresh" content="0;url=/">' in page.text, repr(value)
    assert sign_in(browser(app), token=TOKEN, next=ON_SITE[1]).headers["location"] == ON_SITE[1]


def test_actions_never_redirect_off_the_site(app):
    person = browser(app)
    sign_in(person, token=TOKEN)
    csrf = csrf_of(person.get("/").text)
    for value in ("/\t/evil.example", "//evil.example", "/\\evil.example"):
        response = person.post(f"/alerts/{url_id(CRITICAL)}/notes", data={"csrf_token": csrf, "text": "x",
                                                                          "next": value}, follow_redirects=False)
        assert response.headers["location"] == "/"


# -- a post's address is a link only if it is a web page ------------------------------------------

NOT_WEB = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "\tjavascript:alert(1)",
           "java\tscript:alert(1)", "\njavascript:alert(1)", "\x00javascript:alert(1)", "javascript&colon;alert(1)",
           "data:text/html,<script>alert(1)</script>", "DATA:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox(1)",
           " VBScript:msgbox(1)", "file:///etc/passwd", "//evil.example/x", "/relative", "https://", ""]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v or "" for k, v in attrs if k == "href"]


def _hrefs(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    return parser.hrefs


def _set_post_url(store: SQLiteStore, url: str) -> None:
    mention = store.get_mention(store.get_alert(CRITICAL).mention_id)
    store.ingest([mention.model_copy(update={"url": url})], [])


@pytest.mark.parametrize("url", NOT_WEB)
def test_a_post_address_that_is_not_a_web_page_is_shown_as_text(app, store, url):
    _set_post_url(store, url)
    person = browser(app)
    sign_in(person, token=TOKEN)
    for page in (person.get("/").text, person.get(f"/alerts/{url_id(CRITICAL)}").text):
        assert all((h.startswith("/") and not h.startswith("//")) or re.match(r"https?://", h) for h in _hrefs(page))
        assert ">Open post" not in page
        assert 'class="post-address"' in page
    assert web_link(url) is None


@pytest.mark.parametrize("url", ["https://x.com/dana_reyes/status/1991500000000000001", "http://example.com/a?b=c",
                                 "HTTPS://Example.com/review#1"])
def test_a_web_address_stays_a_link(app, store, url):
    _set_post_url(store, url)
    person = browser(app)
    sign_in(person, token=TOKEN)
    page = person.get(f"/alerts/{url_id(CRITICAL)}").text
    assert url in _hrefs(page)
    assert web_link(url) == url


# -- secrets never reach the access log --------------------------------------------------------------


def _access_line(target: str) -> str:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", target, "1.1", 200), None)
    RedactTokens().filter(record)
    return record.getMessage()


@pytest.mark.parametrize("target", [
    "/login?token=S3CR3T&next=/", "/login?tok%65n=S3CR3T&next=/", "/login?TOKEN=S3CR3T&next=/",
    "/login?code=S3CR3T&next=/", "/login?Code=S3CR3T&next=/", "/login?%63ode=S3CR3T&next=/",
    "/login?next=/&password=S3CR3T", "/login?next=/&pass%77ord=S3CR3T", "/api/stats?api_key=S3CR3T&next=/",
    "/api/stats?api%5Fkey=S3CR3T&next=/", "/api/stats?apiKey=S3CR3T&next=/", "/login?secret=S3CR3T&next=/",
    "/login?tok%2565n=S3CR3T&next=/", "/login?+token=S3CR3T&next=/", "/login?token[]=S3CR3T&next=/",
    "/login?next=/;token=S3CR3T", "/login?token=S3C%26R3T&next=/",
])
def test_the_access_log_redacts_secret_query_values_however_the_name_is_written(target):
    line = _access_line(target)
    assert "S3C" not in line and "R3T" not in line, line
    assert "[redacted]" in line and "next=/" in line


def test_a_real_server_logs_no_secret_from_a_query_string(app):
    import uvicorn

    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    access = logging.getLogger("uvicorn.access")
    handler, level = Collect(), access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    redact_access_log()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=True, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(400):  # not a clock: a bounded number of polls for the server to start
            if server.started:
                break
            thread.join(0.05)
        assert server.started
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with httpx.Client(base_url=base) as client:
            client.get("/login?tok%65n=S3CR3T-1&next=/")
            client.get("/login?code=S3CR3T-2&next=/")
            client.get("/healthz?api%5Fkey=S3CR3T-3")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        access.removeHandler(handler)
        access.setLevel(level)
    lines = [line for line in records if "/login" in line or "/healthz" in line]
    assert len(lines) == 3, records
    assert not any("S3CR3T" in line for line in lines)
    assert any("tok%65n=[redacted]&next=/" in line for line in lines)


def test_sign_in_pages_never_leak_the_code_as_a_referrer(links_app):
    page = browser(links_app).get(f"/login?code={one_time_code(links_app)}")
    assert page.headers["referrer-policy"] == "no-referrer"
