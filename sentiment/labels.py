"""Map a classifier's own label names onto Earshot's negative / neutral / positive.

Every sentiment model on the Hugging Face hub names its classes differently: cardiffnlp's
twitter-roberta says "negative", its XLM-R sibling says "LABEL_0", finiteautomata says "NEG",
nlptown says "1 star" .. "5 stars". The scorer needs one answer to "which output indices
are negative, which positive", so a model can be swapped by changing a string in config
rather than code. Anything we cannot map with confidence is refused loudly: a silently
wrong mapping would flip every alert.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from monitor.models import SentimentLabel

__all__ = ["canonical_labels", "normalise_name"]

_NAMED: dict[str, SentimentLabel] = {
    "negative": SentimentLabel.negative,
    "neg": SentimentLabel.negative,
    "very negative": SentimentLabel.negative,
    "neutral": SentimentLabel.neutral,
    "neu": SentimentLabel.neutral,
    "neut": SentimentLabel.neutral,
    "positive": SentimentLabel.positive,
    "pos": SentimentLabel.positive,
    "very positive": SentimentLabel.positive,
}

_GENERIC = re.compile(r"^label (\d+)$")
_STARS = re.compile(r"^([1-5]) stars?$")

# Generic LABEL_n names carry no meaning of their own; these are the conventions the
# popular checkpoints follow (cardiffnlp XLM-T for 3 classes, SST-2 style for 2).
_GENERIC_ORDER: dict[int, tuple[SentimentLabel, ...]] = {
    2: (SentimentLabel.negative, SentimentLabel.positive),
    3: (SentimentLabel.negative, SentimentLabel.neutral, SentimentLabel.positive),
}


def normalise_name(name: str) -> str:
    """Lower-case and unify separators, so "LABEL_0", "Very-Negative" and "1_star" compare."""
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower())


def _star_label(stars: int) -> SentimentLabel:
    """Review stars: 1-2 is a complaint, 3 is lukewarm, 4-5 is praise."""
    if stars <= 2:
        return SentimentLabel.negative
    if stars == 3:
        return SentimentLabel.neutral
    return SentimentLabel.positive


def canonical_labels(
    id2label: Mapping[int, str] | Mapping[str, str], model: str = "<unknown model>"
) -> dict[int, SentimentLabel]:
    """Return output index -> canonical label for a model config's ``id2label``.

    Several indices may share a canonical label (5-star models); the scorer sums their
    probabilities. Raises ``ValueError`` naming the model and its labels when the set is
    not one we recognise, or lacks a negative or a positive class (without both there is
    no meaningful P(positive) - P(negative) score).
    """
    if not id2label:
        raise ValueError(f"Model {model!r} has no id2label in its config; cannot map its outputs")
    try:
        by_index = {int(i): normalise_name(name) for i, name in id2label.items()}
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Model {model!r} has non-integer label ids: {dict(id2label)!r}") from exc
    shown = [str(name) for _, name in sorted((int(i), name) for i, name in id2label.items())]

    def fail(why: str) -> ValueError:
        return ValueError(
            f"Cannot map the labels of model {model!r} to negative/neutral/positive ({why}); "
            f"its id2label is {shown!r}"
        )

    mapping: dict[int, SentimentLabel]
    names = list(by_index.values())
    if all(_GENERIC.match(n) for n in names):
        order = _GENERIC_ORDER.get(len(names))
        if order is None:
            raise fail(f"{len(names)} generic LABEL_n classes have no known meaning")
        numbers = {i: int(_GENERIC.match(n).group(1)) for i, n in by_index.items()}  # type: ignore[union-attr]
        if sorted(numbers.values()) != list(range(len(names))):
            raise fail("generic labels are not LABEL_0..LABEL_n-1")
        mapping = {i: order[k] for i, k in numbers.items()}
    elif all(_STARS.match(n) for n in names):
        stars = {i: int(_STARS.match(n).group(1)) for i, n in by_index.items()}  # type: ignore[union-attr]
        if sorted(stars.values()) != [1, 2, 3, 4, 5]:
            raise fail("a star-rating model needs exactly 1..5 stars")
        mapping = {i: _star_label(s) for i, s in stars.items()}
    else:
        unknown = [n for n in names if n not in _NAMED]
        if unknown:
            raise fail(f"unrecognised label name(s) {unknown!r}")
        mapping = {i: _NAMED[n] for i, n in by_index.items()}

    present = set(mapping.values())
    if not {SentimentLabel.negative, SentimentLabel.positive} <= present:
        raise fail("it needs at least a negative and a positive class")
    return mapping
