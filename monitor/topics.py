"""Topic tagging: what a negative post is about, and which team owns that topic.

`pipeline.score` tags each negative mention right after its sentiment, so when
`detect` raises an alert the alert can carry the mention's topic and team
(`tag_alerts`): the inbox filters on them, channels route on them, and the owning
team is suggested for assignment.

The default classifier matches the configured keywords (`topics.taxonomy` in the
config): offline, instant and explainable ("matched: charged, refund"). Anything else,
a zero-shot model for instance, plugs in as a `TopicClassifier`.

Keyword matching ignores case and accents (`cobró` = `cobro`, `señal` = `senal`) and
respects word boundaries (`bill` does not match `billion`); a trailing `*` matches word
prefixes (`refund*`). A post written in a language the taxonomy has keywords for is
matched against that language's keywords (plus `any`), so a word that means something
else in another language (Spanish `red`, network) cannot mislabel it; a post whose
language is unknown or not in the taxonomy is matched against every language. Each
matched keyword scores its number of words, so a specific phrase ("charged me twice")
outweighs a lone generic word; ties go to the topic listed first.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from monitor.config import TopicConfig, TopicsConfig
from monitor.models import Alert, Mention

ANY_LANGUAGE = "any"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class TopicMatch:
    topic: str
    team: str | None
    score: float  # keyword backend: words matched; other backends: their confidence
    evidence: tuple[str, ...] = ()  # what made the match (the keywords), for people to check


class TextPost(Protocol):
    """What a classifier reads of a post: a `Mention`, or the `UnscoredPost` scoring reads."""

    @property
    def id(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def lang(self) -> str | None: ...


class TopicClassifier(Protocol):
    """Assigns at most one topic to each post (None: no topic fits)."""

    def classify(self, mentions: Sequence[TextPost]) -> list[TopicMatch | None]: ...


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


@lru_cache(maxsize=4096)
def _normalize_run(run: str) -> str:
    decomposed = unicodedata.normalize("NFKD", run)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped.casefold())


def normalize(text: str) -> str:
    """Casefolded, accents removed: what keywords and posts are compared as.

    ASCII folds to itself but for case, and a mark or a composition never joins an ASCII
    character to its neighbour once marks are dropped, so only the runs of other characters
    are decomposed, each once (they are few and repeat: "ñ", "é", emoji), instead of every
    character of every negative post one by one."""
    if text.isascii():  # most posts: nothing to decompose, and casefold is lower
        return text.lower()
    return _NON_ASCII.sub(lambda run: _normalize_run(run.group()), text.lower())


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """A keyword or phrase as a whole-word pattern over normalized text; `word*` matches prefixes."""
    words = normalize(keyword.strip()).split()
    prefix = words[-1].endswith("*")
    if prefix:
        words[-1] = words[-1].rstrip("*")
    body = r"\s+".join(re.escape(w) for w in words) + (r"\w*" if prefix else "")
    return re.compile(rf"(?<!\w){body}(?!\w)")


def primary_language(lang: str | None) -> str | None:
    """`es-MX` -> `es`; None stays None."""
    return lang.replace("_", "-").split("-")[0].casefold() if lang else None


@dataclass(frozen=True)
class _Keyword:
    text: str
    pattern: re.Pattern[str]
    weight: int


class KeywordClassifier:
    """The offline default: the topic whose configured keywords the post matches best."""

    def __init__(self, taxonomy: Sequence[TopicConfig]) -> None:
        self.taxonomy = list(taxonomy)
        self._keywords: list[dict[str, list[_Keyword]]] = [
            {
                lang.casefold(): [_Keyword(k, keyword_pattern(k), len(k.split())) for k in dict.fromkeys(words)]
                for lang, words in topic.keywords.items()
            }
            for topic in self.taxonomy
        ]
        self.languages = {lang for per_lang in self._keywords for lang in per_lang} - {ANY_LANGUAGE}
        # Which keywords could match a post, from its words: each keyword is filed under its first
        # word (exactly, or as a prefix for a one-word `word*`), per language, so a post is searched
        # only for the keywords whose first word it contains. Most posts contain none (a third of a
        # 100 k-post run's time once went to 3.2 M separate searches, one per keyword and post).
        self._first: dict[str, dict[str, list[tuple[int, _Keyword]]]] = {}
        self._prefixes: dict[str, list[tuple[str, int, _Keyword]]] = {}
        self._always: dict[str, list[tuple[int, _Keyword]]] = {}
        for index, per_lang in enumerate(self._keywords):
            for lang, keywords in per_lang.items():
                for k in keywords:
                    text = normalize(k.text.strip())
                    words = _WORD.findall(text)
                    if not words or not text.startswith(words[0]):
                        self._always.setdefault(lang, []).append((index, k))
                    elif text.endswith("*") and text.rstrip("*") == words[0]:
                        self._prefixes.setdefault(lang, []).append((words[0], index, k))
                    else:
                        self._first.setdefault(lang, {}).setdefault(words[0], []).append((index, k))

    def _candidates(self, per_lang: Mapping[str, list[_Keyword]], lang: str | None) -> Iterable[_Keyword]:
        if lang in self.languages:
            return [*per_lang.get(lang, []), *per_lang.get(ANY_LANGUAGE, [])]
        return [k for words in per_lang.values() for k in words]

    def classify_text(self, text: str, lang: str | None = None) -> TopicMatch | None:
        normalized = normalize(text)
        lang = primary_language(lang)
        codes = [lang, ANY_LANGUAGE] if lang in self.languages else [*self.languages, ANY_LANGUAGE]
        words = set(_WORD.findall(normalized))
        ordered_words: list[str] | None = None  # sorted, for prefixes: one bisection each, not a scan
        candidates: dict[int, list[_Keyword]] = {}
        for code in codes:
            first = self._first.get(code, {})
            for word in words & first.keys():
                for index, k in first[word]:
                    candidates.setdefault(index, []).append(k)
            for prefix, index, k in self._prefixes.get(code, ()):
                if ordered_words is None:
                    ordered_words = sorted(words)
                at = bisect_left(ordered_words, prefix)  # the first word >= prefix starts with it, if any does
                if at < len(ordered_words) and ordered_words[at].startswith(prefix):
                    candidates.setdefault(index, []).append(k)
            for index, k in self._always.get(code, ()):
                candidates.setdefault(index, []).append(k)
        best: TopicMatch | None = None
        for index in sorted(candidates):  # taxonomy order: ties go to the topic listed first
            topic = self.taxonomy[index]
            chosen = {id(k) for k in candidates[index]}
            ordered = [k for k in self._candidates(self._keywords[index], lang) if id(k) in chosen]
            hits = {k.text: k.weight for k in ordered if k.pattern.search(normalized)}
            score = sum(hits.values())
            if score and (best is None or score > best.score):
                best = TopicMatch(topic.name, topic.team, score, tuple(hits))
        return best

    def classify(self, mentions: Sequence[TextPost]) -> list[TopicMatch | None]:
        return [self.classify_text(mention_text(m), m.lang) for m in mentions]


def mention_text(mention: TextPost) -> str:
    return f"{mention.title}. {mention.text}" if mention.title else mention.text


def build_classifier(config: TopicsConfig) -> TopicClassifier | None:
    """The configured classifier, or None when there is no taxonomy (nothing to tag)."""
    if not config.taxonomy:
        return None
    if config.backend == "keywords":
        return KeywordClassifier(config.taxonomy)
    raise ValueError(f"topics.backend: unknown backend {config.backend!r}")  # pragma: no cover - config forbids it


def tag_negative(classifier: TopicClassifier, mentions: Sequence[Mention]) -> list[tuple[str, str, str | None]]:
    """(mention_id, topic, team) for the negative mentions a topic fits: what `Store.set_topics` takes.

    Only negative posts are tagged: topics exist to route complaints, and tagging every
    neutral or happy post would only cost time.
    """
    return tag(classifier, [m for m in mentions if m.is_negative])


def tag(classifier: TopicClassifier, posts: Sequence[TextPost]) -> list[tuple[str, str, str | None]]:
    """(post id, topic, team) for each of these posts a topic fits (scoring passes the negative ones)."""
    if not posts:
        return []
    return [(p.id, match.topic, match.team) for p, match in zip(posts, classifier.classify(posts), strict=True)
            if match is not None]


def tag_alerts(alerts: Iterable[Alert], mentions: Mapping[str, Mention]) -> list[Alert]:
    """Copy each post's topic and team onto its alerts (an alert's own topic, if set, wins)."""
    tagged: list[Alert] = []
    for alert in alerts:
        mention = mentions.get(alert.mention_id) if alert.mention_id else None
        if mention is not None and alert.topic is None and mention.topic is not None:
            alert = alert.model_copy(update={"topic": mention.topic, "team": alert.team or mention.team})
        tagged.append(alert)
    return tagged
