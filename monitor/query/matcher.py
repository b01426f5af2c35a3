"""The one local check of a brand query, compiled once into plain Python for speed.

Every source re-checks what its platform returned with this matcher, because no two
platforms match words alike (X ignores what Earshot calls a word boundary, Reddit
searches titles, Bluesky finds a word in a link card): what reaches the store matched
*this* definition. A query becomes one generated function of set look-ups, and a
cheap substring pre-check skips the tokenising of texts that cannot match at all.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.query.syntax import And, Filter, Node, Not, Or, Words, filters, label, terms
from monitor.query.text import _PLAIN_WORD, Post, Words as PostWords, fold, has_link

_PLAIN = re.compile(r"[^*?]+")


def _wildcard_regex(token: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in token) + r"\Z")


def _in_sequence(sequence: list[str], checks: tuple[Callable[[str], bool], ...]) -> bool:
    n = len(checks)
    first = checks[0]
    for i in range(len(sequence) - n + 1):
        if first(sequence[i]) and all(checks[k](sequence[i + k]) for k in range(1, n)):
            return True
    return False


def _near(sequence: list[str], tokens: tuple[str, ...], slop: int) -> bool:
    """All of `tokens` at distinct positions with at most `slop` other words in their span."""
    lists = [[i for i, word in enumerate(sequence) if word == t] for t in tokens]
    if any(not p for p in lists):
        return False
    allowed = len(tokens) - 1 + slop
    for combo in itertools.islice(itertools.product(*lists), 20000):
        if len(set(combo)) == len(combo) and max(combo) - min(combo) <= allowed:
            return True
    return False


def _lang(post: Post) -> str | None:
    return post.lang.lower().split("-")[0].split("_")[0] if post.lang else None


def _author(post: Post) -> str | None:
    return fold(post.author.lstrip("@")) if post.author else None


def _country(post: Post) -> str | None:
    return post.country.upper() if post.country else None


def _link(post: Post) -> bool:
    return post.links if post.links is not None else has_link(post.text)


def cover(node: Node) -> tuple[str, ...] | None:
    """Substrings one of which every matching text contains (folded), or None if there are none.

    A word inside a text contains the word as a substring, so a text with none of these
    cannot match and is rejected before it is cut into words.
    """
    if isinstance(node, Words):
        chunks = [c for t in node.tokens for c in _PLAIN.findall(t)]
        return (max(chunks, key=len),) if chunks else None
    if isinstance(node, (Filter, Not)):
        return None
    parts = [cover(c) for c in node.children]
    if isinstance(node, Or):
        if any(p is None for p in parts):
            return None
        return tuple(dict.fromkeys(s for p in parts for s in p))
    known = [p for p in parts if p is not None]
    return min(known, key=len) if known else None


@dataclass
class Explanation:
    """Whether a post matches and, if not, why: what is missing, which exclusion hit, which filter failed."""

    matched: bool
    found: list[str] = field(default_factory=list)  # the query's terms the post contains
    reasons: list[str] = field(default_factory=list)


class Matcher:
    """A parsed query compiled to `matches(post)`; build one per query and reuse it."""

    def __init__(self, node: Node, name: str = "query") -> None:
        self.node = node
        self._ns: dict[str, object] = {
            "_near": _near, "_seq": _in_sequence, "_lang": _lang, "_author": _author, "_country": _country,
            "_link": _link,
        }
        self._counter = 0
        self._cover = cover(node)
        self.matches: Callable[[Post], bool] = self._compile(node, name)
        self._leaves: dict[int, Callable[..., bool]] = {}
        self._terms: list[tuple[Words, Callable[..., bool]]] | None = None

    # -- code generation

    def _compile(self, node: Node, name: str) -> Callable[[Post], bool]:
        """One function from a post to True/False: fold, pre-check the cover, cut into words, check.

        Everything is inlined into one generated function because the per-call overhead of
        Python function calls is most of the cost of checking a short post.
        """
        self._ns.update({"_fold": fold, "_plain": _PLAIN_WORD.findall, "_words": PostWords.of, "_E": frozenset()})
        lines = ["def _match(p):", "    f = p.folded", "    if f is None:", "        t = p.text",
                 "        f = p.folded = t.lower() if t.isascii() else _fold(t)"]
        found = self._cover
        if found is not None:
            if len(found) > 12:
                pattern = self._name(re.compile("|".join(re.escape(c) for c in sorted(found, key=len, reverse=True))))
                lines.append(f"    if {pattern}.search(f) is None: return False")
            else:
                lines.append("    if not (" + " or ".join(f"{c!r} in f" for c in found) + "): return False")
        lines += [
            "    c = p.cut",
            "    if c is not None:",
            "        s, b, tg, hd = c",
            "    elif '#' in f or '@' in f:",
            "        w = _words(p.text, f)",
            "        s, b, tg, hd = p.cut = w.sequence, w.bare, w.tags, w.handles",
            "    else:",
            "        s = _plain(f)",
            "        b = set(s)",
            "        tg = hd = _E",
            "        p.cut = s, b, tg, hd",
            f"    return {self._expr(node)}",
        ]
        scope: dict[str, object] = {}
        exec(compile("\n".join(lines) + "\n", f"<{name}>", "exec"), self._ns, scope)  # noqa: S102 - from the tree
        return scope["_match"]  # type: ignore[return-value]

    def _function(self, body: str, name: str) -> Callable[..., bool]:
        source = f"def _check(b, tg, hd, s, p):\n    return {body}\n"
        scope: dict[str, object] = {}
        exec(compile(source, f"<{name}>", "exec"), self._ns, scope)  # noqa: S102 - generated from the parsed tree
        return scope["_check"]  # type: ignore[return-value]

    def _name(self, value: object) -> str:
        self._counter += 1
        key = f"_h{self._counter}"
        self._ns[key] = value
        return key

    def _expr(self, node: Node) -> str:
        if isinstance(node, Words):
            return self._words(node)
        if isinstance(node, Filter):
            return self._filter(node)
        if isinstance(node, Not):
            return f"(not {self._expr(node.child)})"
        joiner = " and " if isinstance(node, And) else " or "
        return "(" + joiner.join(self._expr(c) for c in node.children) + ")"

    def _words(self, node: Words) -> str:
        pool = {"": "b", "#": "tg", "@": "hd"}[node.mark]
        if not node.phrase:
            token = node.tokens[0]
            if not node.wildcard:
                return f"({token!r} in {pool})"
            regex = self._name(_wildcard_regex(token))
            return f"any({regex}.match(x) for x in {pool})"
        if node.slop:
            plain = [t for t in node.tokens if "*" not in t and "?" not in t]
            if len(plain) == len(node.tokens):
                need = " and ".join(f"{t!r} in b" for t in node.tokens)
                return f"({need} and _near(s, {node.tokens!r}, {node.slop}))"
        checks = []
        for token in node.tokens:
            if "*" in token or "?" in token:
                checks.append(_wildcard_regex(token).match)
            else:
                checks.append(token.__eq__)
        seq = self._name(tuple(checks))
        plain = [t for t in node.tokens if "*" not in t and "?" not in t]
        need = "".join(f"{t!r} in b and " for t in dict.fromkeys(plain))
        expr = f"({need}_seq(s, {seq}))"
        if not node.wildcard:  # "brisa mobile" is also #BrisaMobile and @brisamobile
            joined = "".join(node.tokens)
            expr = f"({expr} or {joined!r} in tg or {joined!r} in hd)"
        return expr

    def _filter(self, node: Filter) -> str:
        if node.name == "lang":
            return f"(_lang(p) == {node.value!r})"
        if node.name == "country":
            return f"(_country(p) == {node.value!r})"
        if node.name == "author":
            return f"(_author(p) == {node.value!r})"
        if node.name == "has":
            return "_link(p)"
        return f"(p.source == {node.value!r})"

    # -- matching

    def _leaf_function(self, node: Node) -> Callable[..., bool]:
        fn = self._leaves.get(id(node))
        if fn is None:
            fn = self._leaves[id(node)] = self._function(self._expr(node), "leaf")
        return fn

    def _leaf(self, node: Node) -> Callable[[PostWords, Post], bool]:
        check = self._leaf_function(node)
        return lambda w, p: check(w.bare, w.tags, w.handles, w.sequence, p)

    def found(self, post: Post) -> list[Words]:
        """The query's terms (outside any NOT) that the post contains, in the query's order.

        Runs on every post that matched (to say what it matched on), so it reuses the words
        `matches` already cut and the compiled checks of each term, built once.
        """
        if self._terms is None:
            self._terms = [(t, self._leaf_function(t)) for t in terms(self.node)]
        cut = post.cut
        if cut is None:
            words = PostWords.of(post.text)
            cut = words.sequence, words.bare, words.tags, words.handles
        s, b, tg, hd = cut
        return [t for t, check in self._terms if check(b, tg, hd, s, post)]

    def explain(self, post: Post) -> Explanation:
        """The slow, wordy twin of `matches`, for `earshot query test`: same verdict, with reasons."""
        words = PostWords.of(post.text)
        ok, reasons = self._why(self.node, words, post)
        found = [t.label() for t in terms(self.node) if self._leaf(t)(words, post)]
        return Explanation(ok, found, [] if ok else reasons)

    def _why(self, node: Node, words: PostWords, post: Post) -> tuple[bool, list[str]]:
        if isinstance(node, (Words, Filter)):
            if self._leaf(node)(words, post):
                return True, []
            return False, [self._missing(node, post)]
        if isinstance(node, Not):
            if not self._leaf(node.child)(words, post):
                return True, []
            hits = [t.label() for t in terms(node.child) if self._leaf(t)(words, post)]
            hits += [f.label() for f in filters(node.child) if self._leaf(f)(words, post)]
            shown = ", ".join(dict.fromkeys(hits)) or label(node.child)
            return False, [f"excluded by NOT {_short(node.child)} (the post has {shown})"]
        results = [self._why(c, words, post) for c in node.children]
        if isinstance(node, And):
            reasons = [r for ok, rs in results if not ok for r in rs]
            return not reasons, reasons
        if any(ok for ok, _ in results):
            return True, []
        if all(isinstance(c, Words) for c in node.children):
            return False, [f"none of {', '.join(c.label() for c in node.children)}"]
        return False, ["none of the alternatives: " + "; or ".join(
            " and ".join(rs) for _, rs in results)]

    @staticmethod
    def _missing(node: Words | Filter, post: Post) -> str:
        if isinstance(node, Words):
            return f"no {node.label()}"
        if node.name == "has":
            return "no link"
        value = {"lang": _lang(post), "country": _country(post), "author": _author(post),
                 "source": post.source}[node.name]
        if value is None:
            return f"{node.label()} but the post's {node.name} is unknown"
        return f"{node.label()} but the post's {node.name} is {value}"


def _short(node: Node) -> str:
    text = label(node)
    text = f"({text})" if isinstance(node, (And, Or)) else text
    return text if len(text) <= 60 else text[:57] + "..."
