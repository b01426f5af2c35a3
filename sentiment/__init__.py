"""Sentiment scoring for mentions.

Kept import-light on purpose: Airflow parses DAG files that import the project every few
seconds, and torch + transformers take seconds to import. The heavy names below load on
first attribute access only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentiment.backends import SentimentBackend
    from sentiment.scorer import TransformerScorer, load_scorer

__all__ = ["SentimentBackend", "TransformerScorer", "load_scorer"]


def __getattr__(name: str) -> Any:
    if name == "SentimentBackend":  # the protocol is light: sentiment/backends.py
        from sentiment.backends import SentimentBackend

        return SentimentBackend
    if name in __all__:
        from sentiment import scorer

        return getattr(scorer, name)
    raise AttributeError(f"module 'sentiment' has no attribute {name!r}")
