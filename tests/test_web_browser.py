"""The inbox in a real headless Chromium: what a care agent actually sees and clicks.

The app runs under uvicorn in a background thread on a loopback socket bound
before the server starts (no free-port race); the store is filled by the real
pipeline with a keyword test double instead of the sentiment model. The agent signs
in, triages the demo's escalated complaint (acknowledge, assign, note, resolve), finds it
again by searching every mention and opens its case from the results. In a second session an
agent searches, opens the result and replies to the post through the fake X (a rate limit
first, then a retry on request), and sees the reply on the alert and in the metrics. The
screenshots land in test-artifacts/.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor import pipeline
from monitor.config import demo_config_path, load_config
from monitor.sources import SourceContext
from monitor.sources.replay import ReplaySource
from monitor.replies.settings import SavedReply
from monitor.store import SQLiteStore
from monitor.web import create_app
from tests.conftest import KeywordScorer, set_aside_scam
from tests.sources.fakes.x_api import FakeX

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CRITICAL = "x:1991500000000000001:critical"
WARNING = "x:1991500000000000001:warning"
INFO = "x:1991500000000000001:info"
TOKEN = "browser-test-token-8f3a1c"


# Not today: the test must pass on any day it runs, so the app's clock is its own.
START = datetime(2031, 3, 9, 9, 30, tzinfo=UTC)


class SteadyClock:
    """A clock that starts at a fixed date and advances with real elapsed time, so actions stay ordered."""

    def __init__(self, start: datetime) -> None:
        self.start, self.t0 = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


@dataclass(frozen=True)
class Site:
    url: str
    store: SQLiteStore
    x: FakeX  # the X the demo's posts are on, taking the brand account's replies


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    fake = FakeX()
    fake.start()
    fake.publish(CRITICAL.split(":")[1], "Brisa Mobile charged me twice", START)
    yield fake
    fake.stop()


@pytest.fixture
def site(tmp_path: Path, fake_x: FakeX) -> Iterator[Site]:
    import uvicorn

    config = load_config(demo_config_path())
    config.base_dir = tmp_path
    config.replies.platforms["x"] = {"api_base_url": fake_x.base_url}
    config.replies.saved = [SavedReply(name="Double charge", lang="en", topic="billing",
                                       text="Hi {author}, sorry for the double charge: {brand} has refunded it.")]
    environ = {"EARSHOT_WEB_TOKEN": TOKEN, "EARSHOT_X_CONSUMER_KEY": fake_x.consumer_key,
               "EARSHOT_X_CONSUMER_SECRET": fake_x.consumer_secret, "EARSHOT_X_ACCESS_TOKEN": fake_x.access_token,
               "EARSHOT_X_ACCESS_TOKEN_SECRET": fake_x.access_token_secret}
    assert config.sources["replay"].shift_to_now  # the demo as a user sees it: dated as if it just happened
    clock = SteadyClock(START)
    store = SQLiteStore(tmp_path / "earshot.db")
    pipeline.ingest(config, store, "replay", source=ReplaySource.from_settings(config.sources["replay"], SourceContext.of(config), now=clock))
    raised = pipeline.run_once(config, store, sources=[], scorer=KeywordScorer(), channels=[]).alerts
    assert raised
    set_aside_scam(store, max(a.created_at for a in raised))

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(config, store, clock=clock, environ=environ)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Site(f"http://127.0.0.1:{port}", store, fake_x)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        store.close()


@pytest.fixture
def browser() -> Iterator[object]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"needs Chromium and chromedriver (apt-get install chromium chromium-driver); missing: {missing}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="earshot-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1360,1000", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    # An explicit Service path means selenium-manager never tries to download a driver.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _screenshot(driver, name: str) -> Path:
    """A full-page screenshot: the viewport is set to the page's height, then restored."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    metrics = {"width": 1360, "height": min(max(height, 800), 4000), "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    path = ARTIFACTS / name
    try:
        assert driver.save_screenshot(str(path))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


def test_sign_in_and_triage_in_a_real_browser(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    base_url = site.url
    wait = page_wait(browser)

    # Nothing without signing in: the inbox sends the browser to the login form.
    browser.get(base_url + "/")
    assert "/login?next=" in browser.current_url
    assert "Sign in" in browser.title
    browser.find_element(By.ID, "token").send_keys("wrong")
    browser.find_element(By.CSS_SELECTOR, "#token-login button[type=submit]").click()
    error = wait.until(ec.presence_of_element_located((By.ID, "login-error")))  # the form, answered again
    assert "That token is not valid." in error.text
    _screenshot(browser, "login.png")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "name").send_keys("Dana Reyes")
    browser.find_element(By.CSS_SELECTOR, "#token-login button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.ID, "inbox")))
    assert browser.current_url.rstrip("/") == base_url
    assert "Inbox" in browser.title
    assert browser.find_element(By.CSS_SELECTOR, ".user-name").text == "Dana Reyes"
    session = browser.get_cookie("earshot_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"

    # One card for the escalated post, with its history, topic and owner.
    cards = browser.find_elements(By.CSS_SELECTOR, "#open-alerts article")
    assert [c.get_attribute("data-alert-id") for c in cards] == [CRITICAL]
    card = cards[0]
    assert card.get_attribute("data-state") == "open"
    assert "charged me twice" in card.text
    assert "CRITICAL" in card.text.upper() and "Warning" in card.find_element(By.CSS_SELECTOR, ".escalation").text
    assert card.find_element(By.CSS_SELECTOR, ".chip-topic").text.lower() == "billing"
    assert "Unassigned" in card.text and "owner: Billing care" in card.text
    link = card.find_element(By.LINK_TEXT, "Open post ↗")
    assert link.get_attribute("href").startswith("https://x.com/")
    assert link.get_attribute("target") == "_blank"
    chart = browser.find_element(By.CSS_SELECTOR, "#chart-sentiment svg")
    assert chart.is_displayed() and chart.size["width"] > 200 and chart.size["height"] > 80
    assert len(chart.find_elements(By.TAG_NAME, "rect")) > 5
    assert browser.find_element(By.ID, "metrics").is_displayed()
    # The stylesheet really applied (not just linked): the critical badge is red on white.
    badge = card.find_element(By.CSS_SELECTOR, ".badge-critical")
    assert badge.value_of_css_property("background-color") in {"rgba(201, 42, 42, 1)", "rgb(201, 42, 42)"}
    _screenshot(browser, "inbox.png")

    # Acknowledge: the card moves to the acknowledged group.
    card.find_element(By.XPATH, ".//button[normalize-space()='Acknowledge']").click()
    wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f'#acknowledged-alerts article[data-alert-id="{CRITICAL}"]')))
    assert browser.find_element(By.ID, "stat-open").text == "0"
    card = browser.find_element(By.CSS_SELECTOR, f'article[data-alert-id="{CRITICAL}"]')
    assert not card.find_elements(By.XPATH, ".//button[normalize-space()='Acknowledge']")

    # Assign: the popover form, with the owning team suggested.
    card.find_element(By.XPATH, ".//summary[normalize-space()='Assign']").click()
    panel = card.find_element(By.CSS_SELECTOR, "details[open] .popover-panel")
    assert panel.is_displayed()
    _screenshot(browser, "inbox-assign.png")
    panel.find_element(By.XPATH, ".//button[normalize-space()='Assign to Billing care']").click()
    wait.until(lambda d: "Billing care" in d.find_element(
        By.CSS_SELECTOR, f'article[data-alert-id="{CRITICAL}"] .assignee').text)

    # The detail page: note, then resolve with a comment.
    browser.find_element(By.CSS_SELECTOR, f'article[data-alert-id="{CRITICAL}"] .details-link').click()
    wait.until(ec.presence_of_element_located((By.ID, "audit-trail")))
    browser.find_element(By.ID, "note-text").send_keys("Called Dana back: both charges will be refunded today.")
    browser.find_element(By.XPATH, "//button[normalize-space()='Add note']").click()
    wait.until(lambda d: "both charges will be refunded" in d.find_element(By.ID, "audit-trail").text)
    browser.find_element(By.ID, "state-comment").send_keys("Refund issued, customer confirmed")
    browser.find_element(By.XPATH, "//button[normalize-space()='Resolve']").click()
    wait.until(lambda d: d.find_element(By.ID, "case").get_attribute("data-state") == "resolved")
    trail = browser.find_element(By.ID, "audit-trail").text
    for line in ("Dana Reyes (via token) acknowledged", "assigned to Billing care", "added a note", "resolved",
                 "Refund issued, customer confirmed"):
        assert line in trail, line
    assert "Resolved" in browser.find_element(By.ID, "fact-state").text
    assert browser.find_element(By.XPATH, "//button[normalize-space()='Reopen']").is_displayed()
    _screenshot(browser, "alert-resolved.png")

    browser.get(base_url + "/")
    assert "No open alerts." in browser.find_element(By.ID, "inbox").text
    assert browser.find_element(By.ID, "kpi-resolution-rate").text.startswith("100%")
    assert site.store.get_alert(WARNING).state.value == "resolved"  # the card acted on the whole post
    trail = site.store.alert_events([CRITICAL])
    assert len(trail) == 4 and {e.actor for e in trail} == {"Dana Reyes (via token)"}

    # Explore every mention: search from the top bar's page, filter, open a result's case.
    browser.find_element(By.LINK_TEXT, "Mentions").click()
    wait.until(ec.presence_of_element_located((By.ID, "search-form")))
    browser.find_element(By.ID, "search-q").send_keys("CHARGED twice")
    Select(browser.find_element(By.NAME, "lang")).select_by_value("en")
    Select(browser.find_element(By.NAME, "duplicate")).select_by_value("false")  # the 7 copies of it: hidden
    browser.find_element(By.ID, "search-submit").click()
    wait.until(lambda d: "q=CHARGED+twice" in d.current_url and "lang=en" in d.current_url)  # the search is its URL
    results = browser.find_elements(By.CSS_SELECTOR, "#results .mention")
    assert [r.get_attribute("data-mention-id") for r in results] == [CRITICAL.rsplit(":", 1)[0]]
    assert "charged me twice" in results[0].text and "@dana_reyes" in results[0].text
    assert browser.find_element(By.ID, "search-q").get_attribute("value") == "CHARGED twice"
    assert "q=CHARGED+twice" in browser.find_element(By.ID, "export-csv").get_attribute("href")
    _screenshot(browser, "mentions-search.png")
    saved = browser.current_url
    results[0].find_element(By.CSS_SELECTOR, ".alert-link").click()
    wait.until(lambda d: d.find_element(By.ID, "case").get_attribute("data-state") == "resolved")
    browser.get(saved)  # a saved search opens again from its address
    assert len(browser.find_elements(By.CSS_SELECTOR, "#results .mention")) == 1

    # The API reference is a page of Earshot's own (Swagger UI would fetch scripts from a CDN).
    browser.get(base_url + "/docs")
    assert browser.find_elements(By.CSS_SELECTOR, ".api-op") and not browser.find_elements(By.TAG_NAME, "script")
    _screenshot(browser, "api-docs.png")


def _sign_in(browser, wait, base_url: str, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    browser.get(base_url + "/")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.CSS_SELECTOR, "#token-login button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.ID, "inbox")))



def page_wait(browser: Any) -> Any:
    """A 15 s wait that keeps polling while a condition reads a page being replaced (each action
    reloads it): Selenium's stale element, and Chromium's "does not belong to the document", which it
    reports as an unknown error."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    class PageWait(WebDriverWait):
        def until(self, method: Any, message: str = "") -> Any:
            def attempt(driver: Any) -> Any:
                try:
                    return method(driver)
                except WebDriverException as exc:
                    if "does not belong to the document" not in str(exc):
                        raise
                    return False

            return super().until(attempt, message)

    return PageWait(browser, 15, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))


def test_search_open_and_reply_through_x_in_a_real_browser(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    wait = page_wait(browser)
    native = CRITICAL.split(":")[1]
    _sign_in(browser, wait, site.url, "Ana Lima")
    # Only the demo's scam has been handled (set aside by the fixture); the complaint waits (checked on its page).
    assert browser.find_element(By.CSS_SELECTOR, "#kpi-first-response .kpi-value").text != "—"

    # Search every mention, open the result's case.
    browser.find_element(By.LINK_TEXT, "Mentions").click()
    wait.until(ec.presence_of_element_located((By.ID, "search-form")))
    browser.find_element(By.ID, "search-q").send_keys("charged twice")
    Select(browser.find_element(By.NAME, "duplicate")).select_by_value("false")  # the 7 copies of it: hidden
    browser.find_element(By.ID, "search-submit").click()
    wait.until(lambda d: "q=charged+twice" in d.current_url)
    results = browser.find_elements(By.CSS_SELECTOR, "#results .mention")
    assert [r.get_attribute("data-mention-id") for r in results] == [CRITICAL.rsplit(":", 1)[0]]
    results[0].find_element(By.CSS_SELECTOR, ".alert-link").click()
    wait.until(ec.presence_of_element_located((By.ID, "replies")))
    assert browser.find_element(By.ID, "case").get_attribute("data-state") == "open"
    assert "Reply on X" in browser.find_element(By.ID, "replies-title").text
    assert "waiting" in browser.find_element(By.ID, "fact-first-response").text

    # Start from the saved reply for an English billing complaint, placeholders filled; edit; post.
    browser.find_element(By.LINK_TEXT, "Double charge").click()
    wait.until(lambda d: "dana_reyes" in d.find_element(By.ID, "reply-text").get_attribute("value"))
    box = browser.find_element(By.ID, "reply-text")
    assert box.get_attribute("value") == "Hi dana_reyes, sorry for the double charge: Brisa Mobile has refunded it."
    box.send_keys(" DM us if anything else is wrong.")
    text = box.get_attribute("value")
    site.x.fail_next(429)  # X is rate limiting the brand account right now
    browser.find_element(By.ID, "reply-send").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '#replies [data-status="failed"]')))
    failed = browser.find_element(By.CSS_SELECTOR, '#replies [data-status="failed"]')
    assert "rate limited by the platform" in failed.find_element(By.CSS_SELECTOR, ".reply-error").text
    assert site.x.replies_to(native) == []  # nothing posted, and nothing retried behind the agent's back
    assert "waiting" in browser.find_element(By.ID, "fact-first-response").text
    _screenshot(browser, "reply-failed.png")

    # The agent asks for a retry: posted once, linked on the alert and in the audit trail.
    browser.find_element(By.ID, "reply-retry").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '#replies [data-status="posted"]')))
    assert [t.text for t in site.x.replies_to(native)] == [text]
    link = browser.find_element(By.CSS_SELECTOR, '#replies [data-status="posted"] .reply-link')
    reply_id = site.x.replies_to(native)[0].id
    assert link.get_attribute("href") == f"https://x.com/i/web/status/{reply_id}"
    trail = browser.find_element(By.ID, "audit-trail")
    assert "Ana Lima (via token) reply posted" in trail.text
    assert trail.find_element(By.CSS_SELECTOR, ".tl-reply-link").get_attribute("href").endswith(reply_id)
    assert "reply failed" in trail.text and "rate limited" in trail.text
    assert "waiting" not in browser.find_element(By.ID, "fact-first-response").text
    assert browser.find_element(By.ID, "case").get_attribute("data-state") == "acknowledged"
    _screenshot(browser, "reply-posted.png")

    # The metrics count the reply as the alerts' first response.
    browser.find_element(By.LINK_TEXT, "← Inbox").click()
    wait.until(ec.presence_of_element_located((By.ID, "metrics")))
    assert browser.find_element(By.CSS_SELECTOR, "#kpi-first-response .kpi-value").text != "—"
    handled = browser.find_element(By.CSS_SELECTOR, "#kpi-alerts .kpi-label").text
    alerts = len(site.store.alerts())
    assert f"{alerts} handled" in handled
    assert all(a.first_response_at is not None for a in site.store.alerts())
