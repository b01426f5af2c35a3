"""Sentiment backends are plugins: `sentiment.backend` names one in `earshot.sentiment`, and the pipeline scores with it.

A third-party backend is installed the way Python sees one (a `*.dist-info` with
`entry_points.txt` and a module on `sys.path`), so the registry finds it exactly as it
finds Earshot's own `transformer` backend.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import pipeline
from monitor.config import ConfigError, SentimentConfig, parse_config
from monitor.models import Mention, SentimentLabel
from monitor.plugins import SENTIMENT_GROUP, Plugin, PluginError, load_plugin
from monitor.store import SQLiteStore
from sentiment.backends import SentimentBackend, available_backends, build_backend, find_backend
from tests.fake_distribution import installed_distribution

BRANDS = {"brands": [{"name": "Acme", "queries": ["acme"]}]}

PACKAGE = '''
from monitor.config import SentimentConfig
from monitor.models import Sentiment, SentimentLabel
from monitor.plugins import Plugin, lazy
from pydantic import BaseModel


class WordsSettings(SentimentConfig):
    negative_words: list[str] = ["broken", "never"]


class WordsBackend:
    """A word list: enough to show a backend is found, configured and used."""

    model_id = "words-v1"

    def __init__(self, settings):
        self.words = [w.lower() for w in settings.negative_words]

    def score(self, texts):
        out = []
        for text in texts:
            negative = any(w in text.lower() for w in self.words)
            label = SentimentLabel.negative if negative else SentimentLabel.neutral
            out.append(Sentiment(label=label, score=-0.8 if negative else 0.0, model=self.model_id))
        return out


class NotSentiment(BaseModel):
    batch_size: int = 8


BACKEND = Plugin("words", WordsSettings, lazy("fake_sentiment_heavy:WordsBackend"))
WRONG = Plugin("wrong", NotSentiment, lazy("fake_sentiment_heavy:WordsBackend"))
'''

ENTRY_POINTS = """
[earshot.sentiment]
words = fake_sentiment_plugin:BACKEND
wrong = fake_sentiment_plugin:WRONG
"""


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    modules = {"fake_sentiment_plugin": PACKAGE,
               "fake_sentiment_heavy": "from fake_sentiment_plugin import *  # noqa: F403\n"}
    with installed_distribution(tmp_path / "site", monkeypatch, "fake-sentiment-plugin", ENTRY_POINTS,
                                modules) as site:
        yield site


def mention(native: str, text: str) -> Mention:
    return Mention(id=Mention.make_id("x", native), source="x", native_id=native, url=f"https://x.com/a/status/{native}",
                   author_handle="ana", text=text, lang="en", created_at=datetime(2026, 1, 1, tzinfo=UTC),
                   brand="Acme", query="acme")


def test_the_transformer_backend_is_a_light_descriptor_in_its_group() -> None:
    assert "transformer" in available_backends()
    plugin = load_plugin(SENTIMENT_GROUP, "transformer")
    assert isinstance(plugin, Plugin) and plugin is find_backend("transformer")
    assert plugin.settings_model is SentimentConfig
    assert parse_config(BRANDS).sentiment.backend == "transformer"
    # Validating the config (as every DAG parse does) finds the backend without loading torch or the model.
    code = textwrap.dedent("""
        import sys
        from monitor.config import load_config, demo_config_path
        from sentiment.backends import find_backend
        config = load_config(demo_config_path())
        find_backend(config.sentiment.backend)
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "onnxruntime")
                       or m == "sentiment.scorer")
        assert heavy == [], heavy
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a_third_party_backend_named_in_the_config_scores_the_pipeline(third_party: Path, tmp_path: Path) -> None:
    config = parse_config({**BRANDS, "sentiment": {"backend": "words", "negative_words": ["refund"],
                                                   "batch_size": 2}})
    assert config.sentiment.backend == "words" and config.sentiment.negative_words == ["refund"]
    assert "fake_sentiment_heavy" not in sys.modules, "validating the settings built the backend"
    store = SQLiteStore(tmp_path / "earshot.db")
    try:
        posts = [mention("1", "acme, where is my refund"), mention("2", "acme app is fine"),
                 mention("3", "acme refund still pending")]
        store.ingest(posts, [])
        assert pipeline.score(config, store) == 3
        scored = store.get_mentions([m.id for m in posts])
        assert {m.native_id: m.sentiment.label for m in scored.values()} == {
            "1": SentimentLabel.negative, "2": SentimentLabel.neutral, "3": SentimentLabel.negative}
        assert {m.sentiment.model for m in scored.values()} == {"words-v1"}
    finally:
        store.close()
    assert isinstance(build_backend(config.sentiment), SentimentBackend)


def test_a_backends_own_keys_are_validated_by_its_settings_model(third_party: Path) -> None:
    with pytest.raises(ConfigError, match=r"sentiment\.negative_wordz: not a config key"):
        parse_config({**BRANDS, "sentiment": {"backend": "words", "negative_wordz": ["x"]}})
    with pytest.raises(ConfigError, match=r"sentiment\.negative_words"):
        parse_config({**BRANDS, "sentiment": {"backend": "transformer", "negative_words": ["x"]}})


def test_an_unknown_backend_lists_the_installed_ones(third_party: Path) -> None:
    with pytest.raises(ConfigError, match=r"sentiment: no sentiment backend named 'gpt' is installed "
                                          r"\(installed: transformer, words, wrong\)"):
        parse_config({**BRANDS, "sentiment": {"backend": "gpt"}})


def test_a_backend_whose_settings_are_not_a_sentiment_section_is_a_packaging_error(third_party: Path) -> None:
    with pytest.raises(PluginError, match="must subclass monitor.config.SentimentConfig"):
        find_backend("wrong")
