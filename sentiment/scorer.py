"""Score texts with any Hugging Face sequence-classification sentiment model.

One class covers the bundled MiniLM, a local checkpoint and any hub model id, because
they all load through ``AutoTokenizer`` + ``AutoModelForSequenceClassification`` and
differ only in how they name their labels (see ``sentiment.labels``). The output is
always ``monitor.models.Sentiment`` with score = P(positive) - P(negative), so the
rest of Earshot never cares which model ran.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from monitor.models import Sentiment, SentimentLabel
from sentiment.bundled import BUNDLED_MODEL_ID, bundled_model_dir
from sentiment.labels import canonical_labels

__all__ = ["SentimentBackend", "TransformerScorer", "load_scorer"]

_ORDER = (SentimentLabel.negative, SentimentLabel.neutral, SentimentLabel.positive)


@runtime_checkable
class SentimentBackend(Protocol):
    """What the pipeline needs from a sentiment model; lets tests and lexicon fallbacks stand in."""

    model_id: str

    def score(self, texts: Sequence[str]) -> list[Sentiment]: ...


class TransformerScorer:
    """A sentiment classifier run locally on the CPU (or wherever torch puts it).

    ``model`` is ``"bundled"`` (the shipped default), a local directory, or a hub id that
    ``from_pretrained`` can resolve. Texts are scored in batches of similar length, which
    keeps padding (wasted compute) low on real feeds where lengths vary a lot.
    """

    def __init__(self, model: str = "bundled", batch_size: int = 32, max_length: int = 128) -> None:
        if batch_size < 1 or max_length < 8:
            raise ValueError("batch_size must be >= 1 and max_length >= 8")
        if model == "bundled":
            source: str | Path = bundled_model_dir()
            self.model_id = BUNDLED_MODEL_ID
        else:
            source = model
            self.model_id = model
        self.batch_size = batch_size
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.model = AutoModelForSequenceClassification.from_pretrained(source)
        self.model.eval()
        mapping = canonical_labels(self.model.config.id2label, model=self.model_id)
        # collapse[i, j] = 1 when output i belongs to canonical label j (neg, neu, pos).
        collapse = torch.zeros(len(mapping), len(_ORDER))
        for index, label in mapping.items():
            collapse[index, _ORDER.index(label)] = 1.0
        self._collapse = collapse

    def __repr__(self) -> str:
        return f"TransformerScorer(model_id={self.model_id!r}, batch_size={self.batch_size})"

    def probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        """Return an (n, 3) tensor of P(negative), P(neutral), P(positive) in input order.

        Blank texts (empty or whitespace) are certainly neutral without asking the model:
        a model fed only [CLS][SEP] returns an arbitrary lean that must not feed alerts.
        """
        texts = [t if isinstance(t, str) else "" for t in texts]
        out = torch.zeros(len(texts), len(_ORDER))
        out[:, _ORDER.index(SentimentLabel.neutral)] = 1.0
        # Sorting by length makes each batch pad to roughly its own length; the index
        # list lets us write results back in the caller's order.
        order = sorted((i for i, t in enumerate(texts) if t.strip()), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                enc = {k: v.to(self.model.device) for k, v in enc.items()}
                logits = self.model(**enc).logits.float().cpu()
                out[idx] = torch.softmax(logits, dim=-1) @ self._collapse
        return out

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """Score many texts at once; emoji-only or huge texts are fine (truncated), blank ones are neutral."""
        if not texts:
            return []
        probs = self.probabilities(texts)
        results = []
        for neg, neu, pos in probs.tolist():
            value = max(-1.0, min(1.0, pos - neg))
            label = _ORDER[max(range(3), key=lambda j: (neg, neu, pos)[j])]
            results.append(Sentiment(label=label, score=value, model=self.model_id))
        return results

    def score_one(self, text: str) -> Sentiment:
        """Convenience for a single text (batches are much faster for many)."""
        return self.score([text])[0]


_CACHE: dict[tuple[str, tuple[tuple[str, Any], ...]], TransformerScorer] = {}
_LOCK = threading.Lock()


def load_scorer(model: str = "bundled", **kw: Any) -> TransformerScorer:
    """Return a process-wide shared scorer, so a worker loads each model once, not per task."""
    key = (model, tuple(sorted(kw.items())))
    with _LOCK:
        scorer = _CACHE.get(key)
        if scorer is None:
            scorer = _CACHE[key] = TransformerScorer(model, **kw)
        return scorer
