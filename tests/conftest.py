"""Shared fixtures: a demo config rooted in a temp dir, a real SQLite store, a keyword scorer double."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

# Tests must never reach for a model hub: this machine has no internet, and CI neither.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from monitor.config import Config, demo_config_path, load_config  # noqa: E402
from monitor.models import Sentiment, SentimentLabel  # noqa: E402
from monitor.store import SQLiteStore  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
VIRAL = "x:1991500000000000001"  # the demo's complaint that takes off
SCAM = "x:1991500000000000200"  # the demo's refund scam riding on it, flagged as spam (tests/test_web_noise.py)


def set_aside_scam(store, at) -> None:
    """Dismiss the demo's scam alerts, for tests that read the inbox as one case: the complaint."""
    from monitor.models import AlertState
    from monitor.triage import set_state

    for severity in ("info", "warning", "critical"):
        set_state(store, f"{SCAM}:{severity}", AlertState.dismissed, at)

NEGATIVE_WORDS = (
    "charged", "crash", "lentísimo", "jelek", "scam", "pésimo", "lambat", "terrible", "logs me out",
    "cobró", "disaster", "worst",
)
POSITIVE_WORDS = ("love", "encanta", "terima kasih", "shout out", "funciona bien", "bagus")


class KeywordScorer:
    """A stand-in for the transformer where a test is about the pipeline, not the model."""

    model_id = "keyword-test"

    def __init__(self) -> None:
        self.calls = 0

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        self.calls += 1
        out = []
        for text in texts:
            lowered = text.lower()
            if any(w in lowered for w in NEGATIVE_WORDS):
                out.append(Sentiment(label=SentimentLabel.negative, score=-0.9, model=self.model_id))
            elif any(w in lowered for w in POSITIVE_WORDS):
                out.append(Sentiment(label=SentimentLabel.positive, score=0.8, model=self.model_id))
            else:
                out.append(Sentiment(label=SentimentLabel.neutral, score=0.0, model=self.model_id))
        return out


@pytest.fixture
def scorer() -> KeywordScorer:
    return KeywordScorer()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The demo config with its data (database, alert log) in a temp dir, at the recording's own dates."""
    return demo_config(tmp_path)


def demo_config(base_dir: Path) -> Config:
    """The demo config rooted in `base_dir`, replaying the demo on its recorded dates (2026-11-20).

    The product dates the demo as if it had just happened (`shift_to_now`); tests that name
    the demo's times switch that off, so no test depends on the day it runs.
    """
    cfg = load_config(demo_config_path())
    cfg.base_dir = base_dir
    cfg.sources["replay"].shift_to_now = False
    return cfg


@pytest.fixture
def store(config: Config):
    s = SQLiteStore(config.resolve(config.store.path))
    yield s
    s.close()
