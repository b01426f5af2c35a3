"""Saved replies: the ones that fit a post (its language and topic), with their placeholders filled.

A care team answers the same complaint many times; a saved reply per language and topic keeps
the tone and the facts consistent, and the placeholders ({author}, {brand}...) make it personal.
The agent always sees and may edit the filled text before it is posted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.replies.settings import SavedReply


@dataclass(frozen=True)
class FilledReply:
    name: str
    text: str
    lang: str
    topic: str


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:  # validated names only reach here when a value is None
        return ""


def _lang(code: str | None) -> str:
    return (code or "").split("-")[0].casefold()


def saved_replies_for(saved: Sequence[SavedReply], *, lang: str | None, topic: str | None,
                      values: dict[str, str | None]) -> list[FilledReply]:
    """The saved replies for a post in `lang` about `topic`, most specific first, placeholders filled.

    A reply for the post's language and topic comes before one for its language only, then its
    topic only, then one for any post; a reply for another language or topic is not offered.
    """
    post_lang, post_topic = _lang(lang), (topic or "").casefold()
    fitting = []
    for order, reply in enumerate(saved):
        want_lang, want_topic = _lang(reply.lang), reply.topic.casefold()
        if (want_lang and want_lang != post_lang) or (want_topic and want_topic != post_topic):
            continue
        fitting.append(((not want_lang, not want_topic, order), reply))
    filled = _Blank({k: v for k, v in values.items() if v})
    return [FilledReply(r.name, r.text.format_map(filled), r.lang, r.topic) for _, r in sorted(fitting)]
