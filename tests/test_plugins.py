"""Plugins: found by name through their entry-point groups, described cheaply, built only when used.

A third-party package is simulated the way Python sees one: a `*.dist-info` directory with
an `entry_points.txt` and a module on `sys.path`, so the registry reads it through
`importlib.metadata` exactly as it reads Earshot's own plugins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from monitor import pipeline
from monitor.alerts import available_channels, deliver, find_channel
from monitor.config import ConfigError, parse_config
from monitor.detection import available_detectors, build_detectors, find_detector
from monitor.plugins import (
    CHANNELS_GROUP, DETECTORS_GROUP, SOURCES_GROUP, STORES_GROUP, Plugin, PluginError, UnknownPlugin,
    clear_plugin_cache, installed, lazy, load_plugin,
)
from monitor.sources import SourceError, available_sources, create_source, find_source
from monitor.store import SQLiteStore
from tests.fake_distribution import installed_distribution

BRANDS = {"brands": [{"name": "Acme", "queries": ["acme"]}]}
BUILT_IN = {
    SOURCES_GROUP: {"replay", "x", "reddit", "googleplay", "appstore", "bluesky", "mastodon", "rss"},
    CHANNELS_GROUP: {"console", "jsonl", "webhook", "slack", "teams", "email"},
    DETECTORS_GROUP: {"spread", "storm", "themes"},
}
SDKS = ("tweepy", "praw", "prawcore", "atproto", "atproto_client", "mastodon", "google_play_scraper", "feedparser",
        "httpx", "rich", "tenacity", "numpy", "torch", "transformers")

# A third-party package: one source, one channel, one detector, and an old-style source class.
PACKAGE = '''
from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from monitor.config import ChannelSettings, SourceSettings
from monitor.models import Alert, AlertKind, Mention, Severity
from monitor.plugins import Plugin, lazy
from monitor.sources import Batch


class AcmeForumSettings(SourceSettings):
    board: str = "general"


class AcmeForumSource:
    name = "acmeforum"

    def __init__(self, settings, brands):
        self.settings, self.brands = settings, brands

    @classmethod
    def from_settings(cls, settings, context):
        return cls(settings, [b.name for b in context.brands])

    def fetch(self, brands, cursor):
        mention = Mention(id="acmeforum:1", source="acmeforum", native_id="1", url="https://forum.example/1",
                          author_handle="ana", text="acme lost my parcel", created_at=datetime(2026, 1, 1),
                          brand=brands[0].name, query="acme")
        batch = Batch(cursor="1")
        batch.add(mention, datetime(2026, 1, 1, 0, 5))
        return batch

    def refresh(self, mentions):
        return []


class PagerSettings(ChannelSettings):
    service: str


class PagerChannel:
    def __init__(self, settings, context):
        self.name = self.label = f"pager:{settings.service}"
        self.route = context.route
        self.sent = []

    def send(self, alert, mention):
        self.sent.append(alert.id)


class QuietHoursSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: int = 1


class QuietHoursDetector:
    name = "quiet_hours"

    def __init__(self, settings, context):
        self.settings, self.brands = settings, context.brands

    def history_needed(self):
        return timedelta(0)

    def detect(self, store, since, now):
        return [Alert(id=f"quiet:{brand}:{self.settings.threshold}", kind=AlertKind.storm, mention_id=None,
                      brand=brand, severity=Severity.info, created_at=now, reason="quiet")
                for brand in self.brands]


class OldStyleSource:
    """The contract before descriptors: a class validating and building itself from the whole config."""

    name = "oldstyle"
    settings_model = AcmeForumSettings

    @classmethod
    def from_config(cls, config):
        source = AcmeForumSource(config.sources["oldstyle"], [b.name for b in config.brands])
        source.name = "oldstyle"
        return source


SOURCE = Plugin("acmeforum", AcmeForumSettings, lazy("fake_earshot_heavy:AcmeForumSource.from_settings"))
CHANNEL = Plugin("pager", PagerSettings, lazy("fake_earshot_heavy:PagerChannel"))
DETECTOR = Plugin("quiet_hours", QuietHoursSettings, lazy("fake_earshot_heavy:QuietHoursDetector"))
MISNAMED = Plugin("something_else", AcmeForumSettings, lazy("fake_earshot_heavy:AcmeForumSource.from_settings"))
'''

ENTRY_POINTS = """
[earshot.sources]
acmeforum = fake_earshot_plugin:SOURCE
oldstyle = fake_earshot_plugin:OldStyleSource
notaplugin = fake_earshot_plugin:AcmeForumSettings
misnamed = fake_earshot_plugin:MISNAMED

[earshot.channels]
pager = fake_earshot_plugin:CHANNEL

[earshot.detectors]
quiet_hours = fake_earshot_plugin:DETECTOR
"""


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package installed on sys.path with entry points in every plugin group."""
    # The descriptors' module, and the "heavy" module their factories import: the same classes.
    modules = {"fake_earshot_plugin": PACKAGE, "fake_earshot_heavy": "from fake_earshot_plugin import *  # noqa: F403\n"}
    with installed_distribution(tmp_path / "site", monkeypatch, "fake-earshot-plugin", ENTRY_POINTS, modules) as site:
        yield site


# -- the built-in plugins -----------------------------------------------------------------------


def test_every_built_in_plugin_is_an_entry_point_naming_a_descriptor():
    assert set(available_sources()) >= BUILT_IN[SOURCES_GROUP]
    assert set(available_channels()) >= BUILT_IN[CHANNELS_GROUP]
    assert set(available_detectors()) >= BUILT_IN[DETECTORS_GROUP]
    for group, names in BUILT_IN.items():
        for name in names:
            plugin = load_plugin(group, name)
            assert isinstance(plugin, Plugin) and plugin.name == name
    assert load_plugin(DETECTORS_GROUP, "spread") is find_detector("spread")  # cached: loaded once
    assert {"sqlite", "elasticsearch"} <= set(installed(STORES_GROUP))  # the stores' group, declared here too


def test_a_lazy_factory_imports_its_module_only_when_called():
    factory = lazy("json:dumps")
    assert factory([1]) == "[1]"
    with pytest.raises(ValueError, match="package.module:callable"):
        lazy("json.dumps")


# -- unknown names ------------------------------------------------------------------------------


def test_an_unknown_name_lists_the_installed_plugins_of_its_kind():
    with pytest.raises(UnknownPlugin) as err:
        find_source("myspace")
    assert str(err.value).startswith("no source plugin named 'myspace' is installed (installed: ")
    assert set(err.value.installed) >= BUILT_IN[SOURCES_GROUP]
    with pytest.raises(UnknownPlugin, match=r"no alert channel named 'pager' is installed \(installed: .*console"):
        find_channel("pager")
    with pytest.raises(UnknownPlugin, match=r"no detector named 'burst' is installed \(installed: spread, storm"):
        find_detector("burst")
    with pytest.raises(SourceError, match=r"^sources.myspace: no source plugin named 'myspace'"):
        create_source("myspace", parse_config(BRANDS))


@pytest.mark.parametrize(
    ("section", "where", "message"),
    [
        ({"sources": {"myspace": {}}}, "sources.myspace", "no source plugin named 'myspace' is installed"),
        ({"alerts": {"channels": [{"type": "console"}, {"type": "pager"}]}}, "alerts.channels.1",
         "no alert channel named 'pager' is installed (installed: console, email, jsonl, slack, teams, webhook"),
        ({"alerts": {"channels": [{"route": {}}]}}, "alerts.channels.0.type", "required; add it"),
        ({"detection": {"detectors": ["spread", "burst"]}}, "detection.detectors",
         "no detector named 'burst' is installed (installed: spread, storm"),
        ({"detection": {"burst": {"threshold": 2}}}, "detection.burst", "not a config key"),
    ],
)
def test_the_config_names_the_key_of_an_unknown_plugin(section, where, message):
    with pytest.raises(ConfigError) as err:
        parse_config({**BRANDS, **section})
    assert f"<config>: {where}: {message}" in str(err.value)


# -- a third-party package -----------------------------------------------------------------------


def test_a_third_party_source_channel_and_detector_are_configured_and_built(third_party, tmp_path):
    assert "fake_earshot_heavy" not in sys.modules
    config = parse_config({
        **BRANDS,
        "sources": {"acmeforum": {"board": "billing"}},
        "alerts": {"channels": [{"type": "pager", "service": "care", "route": {"min_severity": "info"}}]},
        "detection": {"detectors": ["spread", "quiet_hours"], "quiet_hours": {"threshold": 3}},
    })
    assert "fake_earshot_heavy" not in sys.modules, "validating the config imported a plugin's heavy module"
    assert config.sources["acmeforum"].board == "billing"
    assert config.alerts.channels[0].type == "pager"

    store = SQLiteStore(tmp_path / "earshot.db")
    try:
        stats = pipeline.ingest(config, store, "acmeforum")
        assert stats.new_mentions == 1 and store.get_cursor(pipeline.cursor_key("acmeforum")) == "1"
        detectors = build_detectors(config.detection, ["Acme"])
        assert [d.name for d in detectors] == ["spread", "quiet_hours"]
        assert detectors[1].settings.threshold == 3
        alerts = pipeline.detect(config, store)
        assert [a.id for a in alerts] == ["quiet:Acme:3"]
        [pager] = pipeline.alert_channels(config)
        assert deliver(store, [pager]).sent == {"pager:care": 1} and pager.sent == ["quiet:Acme:3"]
    finally:
        store.close()
    assert "fake_earshot_heavy" in sys.modules


def test_third_party_settings_are_validated_by_their_own_model(third_party):
    with pytest.raises(ConfigError) as err:
        parse_config({**BRANDS, "sources": {"acmeforum": {"bored": "x"}},
                      "alerts": {"channels": [{"type": "pager"}]},
                      "detection": {"detectors": ["quiet_hours"], "quiet_hours": {"threshold": "many"}}})
    message = str(err.value)
    assert "sources.acmeforum.bored: not a config key" in message
    assert "alerts.channels.0.pager.service: required; add it" in message
    assert "detection.quiet_hours.threshold:" in message


def test_an_old_style_source_class_still_works_through_the_adapter(third_party, tmp_path):
    config = parse_config({**BRANDS, "sources": {"oldstyle": {"board": "x"}}}, base_dir=tmp_path)
    plugin = find_source("oldstyle")
    assert plugin.name == "oldstyle" and plugin.settings_model.__name__ == "AcmeForumSettings"
    source = create_source("oldstyle", config)
    assert source.name == "oldstyle" and source.settings.board == "x" and source.brands == ["Acme"]


def test_an_entry_point_that_is_not_a_plugin_is_a_clear_packaging_error(third_party):
    with pytest.raises(PluginError, match="'notaplugin' is a ModelMetaclass: neither a monitor.plugins.Plugin"):
        find_source("notaplugin")
    with pytest.raises(PluginError, match="'misnamed' .* describes a plugin named 'something_else'"):
        find_source("misnamed")


def test_a_detector_reads_its_history_and_the_pipeline_runs_them_in_order(tmp_path):
    config = parse_config({**BRANDS, "detection": {"detectors": ["storm", "spread"]}})
    storm, spread = build_detectors(config.detection, ["Acme"])
    assert (storm.name, spread.name) == ("storm", "spread")
    assert spread.history_needed() == timedelta(hours=168 + 48 + 1)
    assert storm.history_needed() > timedelta(days=28)
    store = SQLiteStore(tmp_path / "earshot.db")
    try:
        assert pipeline.detect(config, store) == []  # nothing observed yet: no detector runs, no watermark
        assert store.get_cursor(pipeline.DETECT_WATERMARK) is None
    finally:
        store.close()


# -- no SDK at config validation or DAG parsing -------------------------------------------------


def test_validating_a_config_with_every_plugin_imports_no_sdk(tmp_path):
    """What the DAG processor does every few seconds: it must not pay for tweepy, atproto & co."""
    config = {
        **BRANDS,
        "sources": {"replay": {}, "x": {}, "reddit": {}, "bluesky": {}, "mastodon": {},
                    "googleplay": {"apps": [{"app_id": "com.acme", "brand": "Acme"}]},
                    "appstore": {"apps": [{"app_id": "123", "brand": "Acme"}]},
                    "rss": {"feeds": ["https://status.example.com/feed.rss"]}},
        "alerts": {"channels": [{"type": t} for t in ("console", "slack", "teams", "jsonl")]
                   + [{"type": "webhook", "url": "https://hooks.example.com/x"},
                      {"type": "email", "host": "smtp.example.com", "sender": "a@example.com", "to": ["b@example.com"]}]},
        "detection": {"detectors": ["spread", "storm"]},
    }
    path = tmp_path / "earshot.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    code = textwrap.dedent(f"""
        import json, sys
        from monitor.config import load_config
        config = load_config({str(path)!r})
        assert len(config.enabled_sources()) == 8 and len(config.alerts.channels) == 6
        print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({list(SDKS)!r}))))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == []


# -- callers go through the protocols ----------------------------------------------------------

# The modules that find, build and use plugin objects (sources, channels, detectors, stores,
# sentiment backends): what they need of a plugin is in its protocol, so none of them asks an
# object whether it happens to have an attribute.
PLUGIN_USERS = ("monitor/plugins.py", "monitor/pipeline.py", "monitor/orchestration.py", "monitor/detection.py",
                "monitor/sources/registry.py", "monitor/alerts/channels.py", "monitor/alerts/delivery.py",
                "monitor/store/registry.py", "monitor/indexing.py", "sentiment/backends.py", "sentiment/evaluate.py")


def test_no_code_that_uses_plugins_reaches_around_their_protocols():
    import ast

    root = Path(__file__).resolve().parent.parent
    found = []
    for path in PLUGIN_USERS:
        tree = ast.parse((root / path).read_text(encoding="utf-8"))
        found += [f"{path}:{node.lineno}" for node in ast.walk(tree) if isinstance(node, ast.Call)
                  and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")]
    assert found == []
