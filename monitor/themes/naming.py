"""A group's name: its most telling terms, by class-based TF-IDF against the brand's background.

Why c-TF-IDF: the words a complaint group uses most ("app", "terrible", the brand's own
name) are the words every complaint about the brand uses; what names *this* group is what
its posts share that the brand's posts usually do not. A term scores by the share of the
group's posts that use it times log(1 + background posts / background posts using it),
where the background is the brand's negative posts of the last days (decayed counts kept
with the usual themes, `monitor.themes.state`) plus the window's. Unigrams and bigrams both
compete, so "login fails" can beat "login" and "fails"; a term needs to be in at least a
fifth of the group's posts (and two), so one long rant cannot name a group, and to be at
least half again as common in the group as in the background (unless no term is).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["STOPWORDS", "ThemeName", "document_terms", "name_groups", "tokens"]

# Function words of the languages Earshot scores (en, es, id, pt, fr, de, it): never a theme's name.
STOPWORDS = frozenset("""
a an the and or but if of to in on at by for with from as is are was were be been being am do does did
done have has had having i me my we our you your he she it its they them their this that these those
there here what which who whom when where why how all any both each few more most other some such no not
nor only own same so than too very can will just should would could may might must shall s t don doesn
didn isn wasn aren weren won wouldn couldn shouldn ve ll re m d im ive id get got gets getting still
again also even now then into out up down over under about after before while because until since
again ever never always via rt amp http https www com co cannot can't don't doesn't didn't i'm it's
won't isn't i've that's please pls lol omg
el la los las un una unos unas y o pero si de del al a en con por para sin sobre es son fue ser estar esta
está están este esto ese eso esa lo le les se me mi mis te tu tus su sus nos que qué como cómo cuando
donde muy más mas ya no ni yo tú él ella ellos nosotros hay han ha he hemos
yang dan di ke dari ini itu untuk dengan tidak ada saya aku kamu kami kita dia mereka apa juga sudah
belum akan bisa pada karena atau jadi sih ya nya deh dong kok lagi tapi udah gak ga nggak enggak banget
o os as um uma uns umas e ou mas se do da dos das em no na nos nas com por para sem sobre é são foi
ser estar está estão esse essa isso este esta isto eu tu ele ela eles elas nós você vocês meu minha
seu sua não sim já muito mais
le la les un une des et ou mais si de du au aux en dans par pour sans sur est sont été être je tu il
elle nous vous ils elles mon ma mes ton ta tes son sa ses ce cette ces qui que quoi ne pas plus très
der die das ein eine einer eines und oder aber wenn von zu im in auf mit für ohne ist sind war waren
sein ich du er sie es wir ihr mein dein sich nicht kein keine noch schon sehr nur auch dass
il lo gli i uno una e o ma se di da in con su per tra fra è sono era essere io tu lui lei noi voi loro
mio tuo suo che chi non più molto anche già
""".split())

_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_CLAUSE = re.compile(r"[.,;:!?¡¿()\[\]\"“”…|/]+|\s-\s")
_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+", re.UNICODE)


@dataclass(frozen=True)
class ThemeName:
    label: str  # e.g. "login fails · update"
    terms: tuple[str, ...]  # the terms, most telling first


def tokens(text: str, exclude: frozenset[str] = frozenset()) -> list[str]:
    """Lower-cased words of a post, links and @handles removed; '#' dropped from hashtags."""
    text = unicodedata.normalize("NFKC", _NOISE.sub(" ", text or "")).casefold()
    return [w.strip("'’-") for w in _WORD.findall(text) if len(w.strip("'’-")) > 1 and w not in exclude]


def document_terms(text: str, exclude: frozenset[str] = frozenset()) -> set[str]:
    """The set of unigrams and bigrams (of adjacent content words, within a clause) a post uses."""
    terms: set[str] = set()
    for clause in _CLAUSE.split(_NOISE.sub(" ", text or "")):
        content = [w if w not in STOPWORDS else None for w in tokens(clause, exclude)]
        terms |= {w for w in content if w}
        terms |= {f"{a} {b}" for a, b in zip(content, content[1:], strict=False) if a and b and a != b}
    return terms


def name_groups(groups: Sequence[Sequence[str]], background: Mapping[str, float] | None = None,
                background_docs: float = 0.0, exclude: Iterable[str] = (), top: int = 3) -> list[ThemeName]:
    """One name per group of texts; `background` is document counts per term over `background_docs` posts."""
    skip = frozenset(w.casefold() for name in exclude for w in tokens(name))
    docs = [[document_terms(t, skip) for t in texts] for texts in groups]
    window = Counter(term for group in docs for terms in group for term in terms)
    total = background_docs + sum(len(g) for g in docs)
    bg = background or {}
    names = []
    for group in docs:
        n = len(group)
        if not n:
            names.append(ThemeName("", ()))
            continue
        counts = Counter(term for terms in group for term in terms)
        floor = max(2, math.ceil(0.2 * n)) if n > 2 else 1
        scored, common = [], []
        for term, k in counts.items():
            if k < floor:
                continue
            frequency = bg.get(term, 0.0) + window[term]
            weight = (k / n) * math.log(1.0 + total / max(frequency, 1.0))
            if " " in term:
                weight *= 1.15  # a phrase says more than its words when both are as common
            # Not half again as common in the group as around the brand: not telling, unless
            # nothing is (a usual theme growing is named by its usual words).
            (scored if (k / n) >= 1.5 * frequency / max(total, 1.0) else common).append((-weight, term))
        scored = scored or common
        chosen: list[str] = []
        for _, term in sorted(scored):
            parts = set(term.split())
            if any(term in c.split() or parts <= set(c.split()) for c in chosen):
                continue
            if " " in term and all(p in chosen for p in parts):
                continue
            chosen = [c for c in chosen if not (" " in term and c in parts)]
            chosen.append(term)
            if len(chosen) == top:
                break
        names.append(ThemeName(" · ".join(chosen), tuple(chosen)))
    return names
