"""Brand queries: Lucene/Boolean syntax, one local matcher, and each platform's search syntax.

| module | what it does |
|---|---|
| syntax.py | parses a query (luqum) into a small tree; errors carry their position; the old lists' query |
| text.py | folds case and accents and cuts texts into words, tags and handles |
| matcher.py | compiles the tree into one fast local check, and explains a miss |
| platforms.py | what X, Reddit, Bluesky and Mastodon are sent for a brand (each within its limits) |
| cli.py | `earshot query test` and `earshot query compile` |
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.query.matcher import Explanation, Matcher
from monitor.query.syntax import Node, QueryError, label, legacy_query, parse
from monitor.query.text import Post

__all__ = ["BrandQuery", "Explanation", "Post", "QueryError", "legacy_query", "parse"]


# The post last checked, with its folded text and words: sources check a post against each
# brand in turn with the same arguments, and this folds and cuts it once, not once per brand.
# One entry, a tuple replaced whole (one reference read or written: safe across threads).
_last: tuple[tuple, Post | None] = ((), None)


@dataclass
class BrandQuery:
    """One brand's query: the text as configured, its tree and its compiled matcher."""

    text: str
    node: Node
    matcher: Matcher

    @classmethod
    def parse(cls, text: str, name: str = "query") -> BrandQuery:
        node = parse(text)
        return cls(text, node, Matcher(node, name))

    @property
    def normalised(self) -> str:
        return label(self.node)

    def matches(self, post: Post) -> bool:
        return self.matcher.matches(post)

    def match(self, text: str, *, lang: str | None = None, source: str | None = None, author: str | None = None,
              country: str | None = None, links: bool | None = None) -> str | None:
        """What the post matched on (its first matching term, as written), or None if it does not match."""
        global _last
        key = (text, lang, source, author, country, links)
        seen, post = _last
        if post is None or seen != key:
            post = Post(text, lang=lang, source=source, author=author, country=country, links=links)
            _last = (key, post)
        if not self.matcher.matches(post):
            return None
        found = self.matcher.found(post)
        return found[0].written if found else self.text

    def explain(self, post: Post) -> Explanation:
        return self.matcher.explain(post)
