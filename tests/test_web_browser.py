"""The inbox in a real headless Chromium: what a care agent actually sees and clicks.

The app runs under uvicorn in a background thread on a loopback socket bound
before the server starts (no free-port race); the store is filled by the real
pipeline with a keyword test double instead of the sentiment model.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor import pipeline
from monitor.config import demo_config_path, load_config
from monitor.models import Sentiment, SentimentLabel
from monitor.store import SQLiteStore
from monitor.web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CRITICAL = "x:1991500000000000001:critical"


class KeywordScorer:
    """Labels by keywords so the test needs no model; "charged me twice" is negative, which makes the alert."""

    model_id = "keyword-test"
    negative = ("charged me twice", "crashing", "scam", "desastre", "jelek", "pésimo", "lambat", "no signal")
    positive = ("love", "encanta", "mantap", "friendly", "funciona bien", "bagus")

    def score(self, texts: list[str]) -> list[Sentiment]:
        def one(text: str) -> Sentiment:
            lowered = text.lower()
            if any(w in lowered for w in self.negative):
                return Sentiment(label=SentimentLabel.negative, score=-0.9, model=self.model_id)
            if any(w in lowered for w in self.positive):
                return Sentiment(label=SentimentLabel.positive, score=0.8, model=self.model_id)
            return Sentiment(label=SentimentLabel.neutral, score=0.0, model=self.model_id)

        return [one(t) for t in texts]


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    import uvicorn

    config = load_config(demo_config_path())
    config.base_dir = tmp_path
    store = SQLiteStore(tmp_path / "earshot.db")
    assert pipeline.run_once(config, store, scorer=KeywordScorer(), channels=[]).alerts

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(config, store), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
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


def test_inbox_in_a_real_browser(base_url, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(base_url + "/")
    assert "Inbox" in browser.title

    card = browser.find_element(By.CSS_SELECTOR, f'article[data-alert-id="{CRITICAL}"]')
    assert card.is_displayed()
    assert card.get_attribute("data-state") == "open"
    assert "charged me twice" in card.text
    assert "Critical" in card.text or "CRITICAL" in card.text
    assert "22.8/min" in card.text
    link = card.find_element(By.LINK_TEXT, "Open post ↗")
    assert link.get_attribute("href").startswith("https://x.com/")
    assert link.get_attribute("target") == "_blank"

    chart = browser.find_element(By.CSS_SELECTOR, "#chart-sentiment svg")
    assert chart.is_displayed()
    assert chart.size["width"] > 200 and chart.size["height"] > 80
    assert len(chart.find_elements(By.TAG_NAME, "rect")) > 5
    assert browser.find_element(By.CSS_SELECTOR, "#chart-sources svg").is_displayed()
    # The stylesheet really applied (not just linked): the critical badge is red on white.
    badge = card.find_element(By.CSS_SELECTOR, ".badge-critical")
    assert badge.value_of_css_property("background-color") in {"rgba(201, 42, 42, 1)", "rgb(201, 42, 42)"}

    _screenshot(browser, "inbox.png")

    card.find_element(By.XPATH, ".//button[normalize-space()='Acknowledge']").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f'#acknowledged-alerts article[data-alert-id="{CRITICAL}"]')))
    card = browser.find_element(By.CSS_SELECTOR, f'article[data-alert-id="{CRITICAL}"]')
    assert card.get_attribute("data-state") == "acknowledged"
    assert "Acknowledged" in card.text
    assert not card.find_elements(By.XPATH, ".//button[normalize-space()='Acknowledge']")
    assert browser.find_element(By.ID, "stat-open").text == "1"
    assert browser.current_url.rstrip("/") == base_url  # the 303 landed back on the inbox

    _screenshot(browser, "inbox-acknowledged.png")
