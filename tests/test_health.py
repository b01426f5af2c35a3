"""Pipeline-health alerts: a failing, silent or erroring source and a stuck channel are heard about once.

The checks are read as rules (pure functions); the monitor is exercised over a real
SQLite store with an injected clock; the embedded run and Airflow (`dag.test()`) are
exercised against the fake X API on loopback, with a bad token and with a silent feed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from monitor.alerts.routing import Route
from monitor.config import demo_config_path, load_config
from monitor.health.checks import Check, Run, error_rate, failing, outbox, silence, usual_gap
from monitor.health.monitor import PIPELINE, HealthMonitor
from monitor.health.runner import supervised_pass
from monitor.health.settings import HealthConfig
from monitor.models import Alert, AlertKind, Severity
from monitor.store import SQLiteStore
from tests.conftest import KeywordScorer
from tests.sources.fakes.x_api import FakeX, snowflake

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SETTINGS = HealthConfig()
BRAND = "Brisa Mobile"
GOOD_TOKEN = "the-right-token"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# -- the rules ---------------------------------------------------------------------------


def every(minutes: float, count: int, end: datetime) -> list[datetime]:
    return [end - timedelta(minutes=minutes * i) for i in range(count)]


def test_a_source_is_silent_after_k_times_its_usual_gap_and_not_before():
    posts = every(10, 20, T0)  # one post every 10 min until T0
    assert usual_gap(posts) == 600
    assert silence("x", posts, T0 + timedelta(minutes=99), SETTINGS) is None  # 10 x 10 min not reached
    found = silence("x", posts, T0 + timedelta(minutes=101), SETTINGS)
    assert found is not None and found.check == Check.source_silent and found.subject == "x"
    assert "usually brings one every 10 min" in found.reason


def test_a_slow_source_is_judged_by_its_own_history():
    daily = every(24 * 60, 20, T0)  # app-store reviews: one a day
    assert silence("appstore", daily, T0 + timedelta(days=3), SETTINGS) is None
    assert silence("appstore", daily, T0 + timedelta(days=11), SETTINGS) is not None


def test_silence_needs_history_and_respects_the_floors():
    assert silence("x", every(1, 5, T0), T0 + timedelta(days=1), SETTINGS) is None  # too few posts to know
    busy = every(1, 50, T0)  # a post a minute: 10 x 1 min would be 10 min, the floor is 60 min
    assert silence("x", busy, T0 + timedelta(minutes=30), SETTINGS) is None
    assert silence("x", busy, T0 + timedelta(minutes=61), SETTINGS) is not None
    assert silence("x", busy, T0 + timedelta(minutes=61), SETTINGS, poll_seconds=3600) is None  # two polls


def runs(pattern: str) -> list[Run]:
    return [Run(T0 + timedelta(minutes=i), ch == ".", "" if ch == "." else "HTTP 503") for i, ch in enumerate(pattern)]


def test_failing_means_the_last_runs_all_failed():
    assert failing("x", runs("...xx"), SETTINGS) is None
    found = failing("x", runs("..xxx"), SETTINGS)
    assert found is not None and found.severity == Severity.critical and "HTTP 503" in found.reason


def test_an_error_rate_alerts_when_it_climbs_above_its_past():
    assert error_rate("x", runs("." * 20 + ".x..x....."), SETTINGS) is None  # 2 of 10: below the bar
    climbing = error_rate("x", runs("." * 20 + ".x.x.x.x.."), SETTINGS)
    assert climbing is not None and "4 of its last 10 runs failed (40%, 0% before)" in climbing.reason
    # A source that always failed this often is not "climbing".
    assert error_rate("x", runs(".x.x.x.x.." * 3), SETTINGS) is None


def test_an_outbox_alerts_when_it_keeps_growing_past_the_minimum():
    assert outbox("slack", [12, 15, 15], SETTINGS) is None  # stalled, not growing
    assert outbox("slack", [2, 4, 6], SETTINGS) is None  # growing, still small
    found = outbox("slack", [11, 14, 19], SETTINGS)
    assert found is not None and "11 -> 14 -> 19" in found.reason


# -- the monitor: state in the store, one alert per episode --------------------------------


@pytest.fixture
def live_config(tmp_path: Path):
    data = yaml.safe_load(demo_config_path().read_text(encoding="utf-8"))
    data["sources"] = {"x": {"api_base_url": "http://127.0.0.1:9", "poll_seconds": 60}}
    data["store"]["path"] = str(tmp_path / "earshot.db")
    data["alerts"]["channels"] = [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}]
    path = tmp_path / "earshot.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path)


def test_a_failing_source_raises_one_alert_per_episode(live_config, tmp_path):
    clock = Clock(T0)
    store = SQLiteStore(tmp_path / "earshot.db")
    monitor = HealthMonitor(live_config, store, clock)
    raised = []
    for _ in range(6):  # six failed polls: one alert, at the third
        clock.now += timedelta(minutes=1)
        raised += monitor.record_run("x", False, "sources.x: X is failing (HTTP 503)")
    assert [a.topic for a in raised] == ["source_failed"]  # too few runs yet for an error rate
    failed = [a for a in raised if a.topic == "source_failed"]
    assert len(failed) == 1 and failed[0].kind == AlertKind.health and failed[0].brand == PIPELINE
    assert store.get_alert(failed[0].id) is not None
    # Recovery closes the episode; failing again later is a new incident, a new alert.
    monitor.record_run("x", True)
    again = []
    for _ in range(3):
        clock.now += timedelta(minutes=1)
        again += monitor.record_run("x", False, "HTTP 503")
    assert [a.topic for a in again if a.topic == "source_failed"] == ["source_failed"]
    assert again[0].id != failed[0].id
    store.close()


def test_a_silent_source_alerts_once_until_it_speaks_again(live_config, tmp_path, scorer):
    from monitor.models import Mention

    store = SQLiteStore(tmp_path / "earshot.db")
    posts = [Mention(id=f"x:{i}", source="x", native_id=str(i), url=f"https://x.com/i/{i}", author_handle="a",
                     text="brisa mobile", created_at=T0 - timedelta(minutes=5 * i), brand=BRAND,
                     query="brisa mobile") for i in range(20)]
    store.ingest(posts, [])
    clock = Clock(T0 + timedelta(minutes=30))
    monitor = HealthMonitor(live_config, store, clock)
    assert monitor.check_sources() == []
    clock.now = T0 + timedelta(hours=2)
    first = monitor.check_sources()
    assert [a.topic for a in first] == ["source_silent"] and first[0].severity == Severity.warning
    clock.now += timedelta(hours=1)
    assert monitor.check_sources() == []  # the same silence: no repeat
    store.ingest([posts[0].model_copy(update={"id": "x:new", "native_id": "new", "created_at": clock.now})], [])
    assert monitor.check_sources() == []  # spoke again: the episode closes
    assert monitor.open_episodes() == {}
    store.close()


def test_a_growing_outbox_alerts_once(live_config, tmp_path):
    from monitor.alerts.jsonl import JsonlChannel

    store = SQLiteStore(tmp_path / "earshot.db")
    channel = JsonlChannel(tmp_path / "alerts.jsonl")
    monitor = HealthMonitor(live_config, store, Clock(T0))
    raised = []
    for round_ in range(5):
        for i in range(6):
            store.add_alert(Alert(id=f"m{round_}-{i}:info", mention_id=None, brand=BRAND, severity=Severity.info,
                                  created_at=T0, reason="r"))
        raised += monitor.check_outboxes([channel])
    assert [a.topic for a in raised] == ["outbox_growing"]
    assert "18 alert(s) wait" in raised[0].reason
    store.close()


def test_health_alerts_have_their_own_route():
    health = Alert(id="health:source_failed:x:1", kind=AlertKind.health, mention_id=None, brand=PIPELINE,
                   severity=Severity.warning, created_at=T0, reason="r", topic="source_silent")
    assert Route.of(brands=["Brisa Mobile"], topics=["billing"]).accepts(health)  # brands/topics do not apply
    assert not Route.of(health="off").accepts(health)
    assert not Route.of(health="critical").accepts(health)
    assert Route.of(min_severity="critical", health="warning").accepts(health)


def test_the_route_health_key_is_validated(live_config, tmp_path):
    from monitor.alerts import build_channels
    from monitor.config import ConfigError, parse_config

    data = yaml.safe_load(demo_config_path().read_text(encoding="utf-8"))
    data["alerts"]["channels"] = [{"type": "console", "route": {"health": "critical"}}]
    channel = build_channels(*_channel_args(parse_config(data)))[0]
    assert channel.route.health == Severity.critical
    data["alerts"]["channels"] = [{"type": "console", "route": {"health": "loud"}}]
    with pytest.raises(ConfigError, match="alerts.channels.0.console.route.health"):
        parse_config(data)


# -- the embedded run, against the fake X ---------------------------------------------------


@pytest.fixture
def fake_x():
    fake = FakeX(token=GOOD_TOKEN)
    fake.add_user("201", "k_tanaka", "Kenji Tanaka", followers=180)
    now = datetime.now(UTC)
    # A source that posted every 5 minutes, then went quiet three hours ago.
    for i in range(15):
        at = now - timedelta(hours=3, minutes=5 * i)
        fake.publish(snowflake(at, i), f"Brisa Mobile post number {i}", at, author_id="201", lang="en")
    fake.start()
    yield fake
    fake.stop()


def x_config(tmp_path: Path, url: str) -> Path:
    data = yaml.safe_load(demo_config_path().read_text(encoding="utf-8"))
    data["sources"] = {"x": {"api_base_url": url, "poll_seconds": 60, "lookback_minutes": 600,
                             "server_error_retries": 0}}
    data["store"]["path"] = str(tmp_path / "earshot.db")
    data["alerts"]["channels"] = [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}]
    path = tmp_path / "earshot.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def health_lines(tmp_path: Path) -> list[dict]:
    log = tmp_path / "alerts.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [line for line in lines if line["kind"] == "health"]


def test_embedded_run_bad_token_is_one_alert_and_the_source_stops(fake_x, tmp_path, monkeypatch):
    from monitor.alerts import build_channels

    monkeypatch.setenv("EARSHOT_X_BEARER_TOKEN", "an-expired-token")
    config = load_config(x_config(tmp_path, fake_x.base_url))
    store = SQLiteStore(config.resolve(config.store.path))
    channels = build_channels(config.alerts, [b.name for b in config.brands], config.base_dir)
    first = supervised_pass(config, store, ["x"], channels, scorer=KeywordScorer())
    assert list(first.stopped) == ["x"] and "HTTP 401" in first.stopped["x"]
    assert len(fake_x.searches()) == 1  # failed at once: no retry with backoff
    second = supervised_pass(config, store, ["x"], channels, scorer=KeywordScorer())
    assert second.health == []
    lines = health_lines(tmp_path)
    assert [(line["topic"], line["severity"]) for line in lines] == [("source_failed", "critical")]
    assert "EARSHOT_X_BEARER_TOKEN" in lines[0]["reason"] and "an-expired-token" not in lines[0]["reason"]
    store.close()


def test_embedded_run_silent_source_is_one_alert(fake_x, tmp_path, monkeypatch):
    from monitor.alerts import build_channels

    monkeypatch.setenv("EARSHOT_X_BEARER_TOKEN", GOOD_TOKEN)
    config = load_config(x_config(tmp_path, fake_x.base_url))
    store = SQLiteStore(config.resolve(config.store.path))
    channels = build_channels(config.alerts, [b.name for b in config.brands], config.base_dir)
    first = supervised_pass(config, store, ["x"], channels, scorer=KeywordScorer())
    assert first.summary.ingested[0].new_mentions == 15
    assert [a.topic for a in first.health] == ["source_silent"]
    supervised_pass(config, store, ["x"], channels, scorer=KeywordScorer())
    lines = health_lines(tmp_path)
    assert [line["topic"] for line in lines] == ["source_silent"]
    assert "silent for 3.0 h" in lines[0]["reason"]
    store.close()


def test_cli_run_once_says_what_to_fix_and_exits_1(fake_x, tmp_path):
    from typer.testing import CliRunner

    from monitor.cli import app

    path = x_config(tmp_path, fake_x.base_url)
    result = CliRunner().invoke(app, ["run", "--once", "-c", str(path)],
                                env={"EARSHOT_X_BEARER_TOKEN": "an-expired-token", "COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    assert "Source x stopped; retrying cannot fix this" in result.stderr
    assert "HTTP 401" in result.stderr
    assert len(fake_x.searches()) == 1


# -- Airflow: dag.test() with the same two failures --------------------------------------

RUN = """
    import json, runpy, sys
    dag_id, dag_file = sys.argv[1], sys.argv[2]
    dag = runpy.run_path(dag_file)[dag_id]
    run = dag.test()
    print("RESULT:" + json.dumps({"state": str(run.state)}))
"""


@pytest.mark.slow
def test_airflow_bad_token_and_silence_each_raise_one_alert(fake_x, tmp_path):
    from tests.test_dags import DAGS, airflow_env

    config = x_config(tmp_path, fake_x.base_url)
    env = airflow_env(tmp_path, config)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=300)

    def dag_test(dag_id: str, dag_file: str, token: str) -> str:
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(RUN), dag_id, str(DAGS / dag_file)],
                              env={**env, "EARSHOT_X_BEARER_TOKEN": token}, cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT:")]
        assert lines, proc.stdout[-4000:] + proc.stderr[-4000:]
        return json.loads(lines[-1][7:])["state"]

    # A bad token: the task fails at once (AirflowFailException, no retries), one critical alert.
    assert dag_test("earshot_ingest_x", "earshot_ingest.py", "an-expired-token") == "failed"
    assert len(fake_x.searches()) == 1
    assert [(a["topic"], a["severity"]) for a in health_lines(tmp_path)] == [("source_failed", "critical")]

    # The right token: the posts arrive, the source is seen to be silent for 3 h: one warning.
    assert dag_test("earshot_ingest_x", "earshot_ingest.py", GOOD_TOKEN) == "success"
    assert dag_test("earshot_health", "earshot_health.py", GOOD_TOKEN) == "success"  # no repeat
    topics = [a["topic"] for a in health_lines(tmp_path)]
    assert topics == ["source_failed", "source_silent"]


def test_a_health_alert_shows_in_the_inbox_and_the_api(live_config, tmp_path):
    from fastapi.testclient import TestClient

    from monitor.web import create_app

    store = SQLiteStore(tmp_path / "earshot.db")
    clock = Clock(T0)
    HealthMonitor(live_config, store, clock).source_failed("x", "sources.x: X rejected the token (HTTP 401)")
    app = create_app(live_config, store, clock=clock, environ={"EARSHOT_WEB_TOKEN": "t" * 32})
    api = TestClient(app, headers={"Authorization": f"Bearer {'t' * 32}"})
    listed = api.get("/api/alerts").json()
    assert [(a["kind"], a["brand"], a["topic"]) for a in listed] == [("health", PIPELINE, "source_failed")]
    page = api.get("/")
    assert page.status_code == 200 and "HTTP 401" in page.text
    store.close()


def _channel_args(config):
    """build_channels' arguments for a whole config: the alerts section, the brands' names, its folder."""
    return config.alerts, [b.name for b in config.brands], config.base_dir
