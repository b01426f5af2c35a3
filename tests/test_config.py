"""The config file: validated up front, errors name the key, secrets stay in the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor.config import ConfigError, demo_config_path, load_config, parse_config


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "earshot.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_the_bundled_demo_config_is_valid():
    config = load_config(demo_config_path())
    assert [b.name for b in config.brands] == ["Brisa Mobile"]
    assert config.sources["replay"].enabled
    assert config.sentiment.model == "bundled"


def test_a_minimal_config_gets_sensible_defaults(tmp_path):
    config = load_config(write(tmp_path, {"brands": [{"name": "Acme", "queries": ["acme"]}]}))
    assert config.store.backend == "sqlite"
    assert config.resolve(config.store.path) == tmp_path / "earshot.db"
    assert [c.type for c in config.alerts.channels] == ["console"]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"brands": [{"name": "Acme", "queries": ["acme"]}], "detection": {"window_minutes": 0}},
         "detection.window_minutes"),
        ({"brands": [{"name": "Acme", "queries": []}]}, "brands.0.queries"),
        ({"brands": [{"name": "Acme", "queries": ["a"]}], "sources": {"replay": {"sped": 2}}}, "sources.replay.sped"),
        ({"brands": [{"name": "Acme", "queries": ["a"]}],
          "alerts": {"channels": [{"type": "webhook", "url": "ftp://x"}]}}, "alerts.channels.0.webhook.url"),
        ({"brands": [{"name": "Acme", "queries": ["a"]}], "alerts": {"channels": [{"type": "pager"}]}},
         "alerts.channels.0"),
        ({"sources": {}}, "brands"),
    ],
)
def test_a_wrong_value_fails_with_a_message_naming_the_key(tmp_path, data, key):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, data))
    assert key in str(err.value)
    assert str(tmp_path / "earshot.yaml") in str(err.value)


def test_not_yaml_and_missing_files_are_reported_clearly(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "brands: [unclosed"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_config(["a list"])


def test_credentials_are_named_not_stored(monkeypatch):
    config = parse_config({"brands": [{"name": "Acme", "queries": ["a"]}],
                           "sources": {"replay": {"credentials_env": ["ACME_TOKEN"]}}})
    monkeypatch.delenv("ACME_TOKEN", raising=False)
    assert config.sources["replay"].missing_credentials() == ["ACME_TOKEN"]
    monkeypatch.setenv("ACME_TOKEN", "tok-8d1f-do-not-log")
    assert config.sources["replay"].missing_credentials() == []
    assert "tok-8d1f-do-not-log" not in config.model_dump_json()


def test_an_unknown_source_names_the_installed_plugins():
    with pytest.raises(ConfigError) as err:
        parse_config({"brands": [{"name": "Acme", "queries": ["a"]}], "sources": {"myspace": {}}})
    assert "sources.myspace: no source plugin named 'myspace' is installed (installed: " in str(err.value)
    assert "replay" in str(err.value)


def test_brand_matching_honours_queries_and_exclusions():
    brand = load_config(demo_config_path()).brands[0]
    assert brand.match("My BRISA MOBILE bill is wrong") == "brisa mobile"
    assert brand.match("Brisa Mobile is hiring in Madrid") is None
    assert brand.match("a nice brisa on the beach") is None
