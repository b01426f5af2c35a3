"""The behaviour every alert channel must have, run against every channel's harness.

Why one suite: a care team trusts alerts because of a few promises that hold whatever the
destination: each alert arrives once and readable (a post's alert and a storm's alike), the
route decides what a channel gets, a destination that is down keeps its alerts for the next
run instead of losing them, a missing secret is named before anything is sent, and secrets
never reach a log line, an error, or a channel's name. Each channel proves them against its
own destination on loopback through `tests/channels/harness_<type>.py` (see
`tests/channels/harness.py`); `earshot new-channel` generates one for a new channel.

Every case builds the channel the way `earshot run` does: an `alerts.channels` item,
validated by the plugin's settings model and built through the `earshot.channels` registry.

Capabilities a harness may declare (attribute, default in brackets):

* `can_fail` [required]: False for a destination with no outage to simulate (the terminal).
* `stdout` [None]: a buffer; for a channel that prints, standard output points there while
  the suite delivers (pytest owns it otherwise).
"""

from __future__ import annotations

import importlib
import io
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import nullcontext, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from monitor.alerts import (
    AlertChannel, ChannelConfigError, DeliveryReport, available_channels, build_channels, deliver, find_channel,
)
from monitor.config import ChannelSettings, parse_config
from monitor.models import Alert
from monitor.plugins import LazyFactory
from monitor.store import SQLiteStore
from tests.channels.harness import ChannelHarness
from tests.test_alert_support import MENTION, SPREAD, STORM, WARNING

HERE = Path(__file__).resolve().parent
HARNESSES = sorted(p.stem.removeprefix("harness_") for p in HERE.glob("harness_*.py"))
BRAND = {"name": "Brisa Mobile", "queries": ["brisa mobile"]}
INBOX = "https://earshot.example.com"


def load_harness(name: str) -> ChannelHarness:
    """Import lazily, so one channel's broken harness fails its own cases, not the collection."""
    return importlib.import_module(f"tests.channels.harness_{name}").make_harness()


def words(text: str) -> str:
    """Text with its white space folded: a terminal or a mail body may wrap a long line."""
    return " ".join(text.split())


@dataclass
class Rig:
    harness: ChannelHarness
    store: SQLiteStore
    tmp_path: Path

    @property
    def name(self) -> str:
        return self.harness.name

    def build(self, route: dict[str, Any] | None = None) -> list[AlertChannel]:
        item = {**self.harness.settings(), **({"route": route} if route else {})}
        config = parse_config({"brands": [BRAND], "alerts": {"inbox_url": INBOX, "channels": [item]}},
                              source="contract", base_dir=self.tmp_path)
        # Its own section, as every stage gets it; retries without waiting.
        return build_channels(config.alerts, [BRAND["name"]], self.tmp_path, sleep=lambda seconds: None)

    def deliver(self, route: dict[str, Any] | None = None) -> DeliveryReport:
        stdout: io.StringIO | None = getattr(self.harness, "stdout", None)  # a harness capability, see above
        with redirect_stdout(stdout) if stdout is not None else nullcontext():
            return deliver(self.store, self.build(route))

    def alert(self, alert: Alert) -> None:
        assert self.store.add_alert(alert)


@pytest.fixture(params=HARNESSES)
def rig(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    harness = load_harness(request.param)
    assert harness.name == request.param, f"harness_{request.param}.py builds a harness named {harness.name!r}"
    harness.start(tmp_path)
    for variable, value in harness.env().items():
        monkeypatch.setenv(variable, value)
    store = SQLiteStore(tmp_path / "alerts.db")
    store.ingest([MENTION], [])
    try:
        yield Rig(harness, store, tmp_path)
    finally:
        store.close()
        harness.stop()


def needs_failures(rig: Rig) -> None:
    if not rig.harness.can_fail:
        pytest.skip(f"{rig.name} declares no failures to simulate (can_fail = False)")


# --- what a channel is -------------------------------------------------------------------------


def test_the_plugin_is_a_light_descriptor_whose_settings_name_it(rig: Rig) -> None:
    plugin = find_channel(rig.name)
    assert plugin.name == rig.name and issubclass(plugin.settings_model, ChannelSettings)
    settings = plugin.settings(rig.harness.settings())
    assert settings.type == rig.name
    assert set(settings.secret_env_names()) == set(rig.harness.env()), "secret_env_names() must list every secret"
    if isinstance(plugin.factory, LazyFactory):
        # Validating the config must not import the channel itself (its HTTP client, smtplib, rich).
        module = plugin.factory.target.partition(":")[0]
        code = textwrap.dedent(f"""
            import sys
            from monitor.alerts.channels import find_channel
            find_channel({rig.name!r}).settings({rig.harness.settings()!r})
            assert {module!r} not in sys.modules, "validating the settings imported the channel"
        """)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]


def test_it_is_built_from_its_config_item_with_a_stable_name(rig: Rig) -> None:
    [channel] = rig.build()
    [again] = rig.build()
    assert isinstance(channel.name, str) and channel.name.startswith(rig.name)
    assert channel.name == again.name, "the outbox is kept per name: it must not change from one run to the next"
    assert isinstance(channel.label, str) and channel.label
    assert channel.route.accepts(SPREAD)


# --- delivering --------------------------------------------------------------------------------


def test_one_alert_arrives_once_saying_what_happened(rig: Rig) -> None:
    rig.alert(SPREAD)
    first = rig.deliver()
    assert first.failed == {} and sum(first.sent.values()) == 1
    [text] = rig.harness.received()
    assert SPREAD.brand in text
    assert words(SPREAD.reason) in words(text), "the alert's reason is the one sentence a responder needs"

    second = rig.deliver()
    assert sum(second.sent.values()) == 0 and len(rig.harness.received()) == 1, "a second run sent it again"


def test_a_storm_alert_without_a_post_arrives_too(rig: Rig) -> None:
    rig.alert(STORM)
    report = rig.deliver()
    assert report.failed == {} and sum(report.sent.values()) == 1
    [text] = rig.harness.received()
    assert words(STORM.reason) in words(text)


def test_the_route_decides_which_alerts_it_gets(rig: Rig) -> None:
    rig.alert(WARNING)
    rig.alert(SPREAD)
    report = rig.deliver(route={"min_severity": "critical"})
    assert sum(report.sent.values()) == 1 and sum(report.skipped.values()) == 1
    [text] = rig.harness.received()
    assert words(SPREAD.reason) in words(text) and words(WARNING.reason) not in words(text)


# --- failures ----------------------------------------------------------------------------------


def test_a_missing_secret_is_named_before_anything_is_sent(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    if not rig.harness.env():
        pytest.skip(f"{rig.name} takes no secret")
    for variable in rig.harness.env():
        with monkeypatch.context() as m:
            m.delenv(variable)
            with pytest.raises(ChannelConfigError) as raised:
                rig.build()
            assert variable in str(raised.value) and "alerts.channels.0" in str(raised.value)


def test_a_destination_that_is_down_keeps_the_alert_for_the_next_run(rig: Rig) -> None:
    needs_failures(rig)
    rig.alert(SPREAD)
    rig.harness.go_down()
    down = rig.deliver()
    assert list(down.failed) == [rig.build()[0].name] and sum(down.sent.values()) == 0
    assert rig.harness.received() == []

    rig.harness.recover()
    assert sum(rig.deliver().sent.values()) == 1
    assert sum(rig.deliver().sent.values()) == 0
    assert len(rig.harness.received()) == 1, "the kept alert arrived more than once"


def test_secrets_never_reach_logs_errors_or_names(rig: Rig, caplog: pytest.LogCaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = rig.harness.secrets()
    if not secrets:
        pytest.skip(f"{rig.name} takes no secret")
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    [channel] = rig.build()
    texts += [channel.name, channel.label, repr(channel)]
    rig.alert(SPREAD)
    if rig.harness.can_fail:
        rig.harness.go_down()
        texts += rig.deliver().failed.values()
        rig.harness.recover()
    texts += rig.deliver().failed.values()
    for variable in rig.harness.env():
        with monkeypatch.context() as m:
            m.delenv(variable)
            try:
                rig.build()
            except ChannelConfigError as exc:
                texts.append(str(exc))
    for secret in secrets:
        assert secret not in caplog.text, f"{rig.name}: a secret was logged"
        leaked = [t for t in texts if secret in t]
        assert not leaked, f"{rig.name}: a secret appears in {leaked}"


# --- every channel is held to the contract ----------------------------------------------------


@pytest.mark.parametrize("name", available_channels())
def test_every_registered_channel_has_a_harness(name: str) -> None:
    assert (HERE / f"harness_{name}.py").is_file(), (
        f"alert channel {name!r} is registered (earshot.channels) but has no tests/channels/harness_{name}.py; "
        f"`earshot new-channel` generates one, see docs/adding-a-channel.md"
    )


@pytest.mark.parametrize("name", HARNESSES)
def test_every_harness_is_a_registered_channel(name: str) -> None:
    assert name in available_channels(), (
        f"tests/channels/harness_{name}.py exists but no alert channel {name!r} is installed: "
        f"add it to [project.entry-points.\"earshot.channels\"] and run `pip install -e .`"
    )
