"""Sentiment backends are plugins: one protocol, found by `sentiment.backend` in the `earshot.sentiment` group.

Earshot's own backend, `transformer`, runs the bundled model (or a local checkpoint, or a
Hugging Face model id) through `sentiment.scorer.TransformerScorer`. A team that wants
another (a hosted API, a lexicon for a language no model covers) registers a
`monitor.plugins.Plugin` in `earshot.sentiment`: its settings model subclasses
`monitor.config.SentimentConfig` (so `batch_size`, which the pipeline chunks by, is always
there) and its factory `(settings) -> SentimentBackend` imports the heavy parts when it runs.

This module imports pydantic and the config only: the config validates `sentiment` through
it, and Airflow parses the DAG files with it; torch and transformers load in the factory,
inside the task that scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from monitor.config import SentimentConfig
from monitor.plugins import SENTIMENT_GROUP, Plugin, installed, lazy, load_plugin

if TYPE_CHECKING:
    from monitor.models import Sentiment

__all__ = ["TRANSFORMER", "SentimentBackend", "available_backends", "build_backend", "find_backend"]


@runtime_checkable
class SentimentBackend(Protocol):
    """What the pipeline needs from a sentiment model: its id (stored with every score) and batch scoring.

    `score` returns one `Sentiment` per text, in order, with score = P(positive) - P(negative).
    """

    model_id: str

    def score(self, texts: Sequence[str]) -> list[Sentiment]: ...


def available_backends() -> list[str]:
    return installed(SENTIMENT_GROUP)


def find_backend(name: str) -> Plugin[Any, SentimentBackend]:
    """The sentiment backend plugin `name`; UnknownPlugin (listing the installed ones) if there is none."""
    return load_plugin(SENTIMENT_GROUP, name, settings_base=SentimentConfig)


def build_backend(settings: SentimentConfig) -> SentimentBackend:
    """The backend the `sentiment` section names, built from that section (the model loads here)."""
    return find_backend(settings.backend).build(settings)


TRANSFORMER = Plugin("transformer", SentimentConfig, lazy("sentiment.scorer:scorer_from_settings"))
