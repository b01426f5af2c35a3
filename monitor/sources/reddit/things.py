"""Submissions and comments as Reddit sends them (through praw), validated for Earshot.

What Reddit really sends, beyond the happy path: comments without `permalink` (inbox, user
and older listings), `[removed]`/`[deleted]` where the text was, `score_hidden`/`hide_score`,
`over_18`, and permalinks whose slug keeps the title's non-ASCII letters.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from praw.models import Comment, Redditor, Submission
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.models import Engagement

PUBLIC_URL = "https://www.reddit.com"  # where a permalink opens in a browser


REMOVED_BODIES = {"[removed]": "removed", "[deleted]": "deleted"}  # what Reddit puts where the text was
_FULLNAME = r"^t[13]_[0-9a-z]+$"


class Thing(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(pattern=_FULLNAME)
    id: str | None = None
    created_utc: float
    # Absent from comments in inbox, user and older listings: built from link_id, id and subreddit.
    permalink: str | None = Field(None, pattern=r"^/")
    subreddit: str | None = None
    author: str | None = None
    score: int = 0
    over_18: bool = False

    def link(self) -> str:
        """The public URL, percent-encoded: slugs carry the title's non-ASCII letters as they are."""
        return PUBLIC_URL + quote(self.path(), safe="/%:@!$&'()*+,;=-._~")

    def path(self) -> str:
        if self.permalink:
            return self.permalink
        raise ValueError("permalink: missing, and nothing to build it from")

    def gone(self) -> str | None:
        """Why the item is no longer public (removed by moderators, deleted by its author), or None."""
        return None

    def score_known(self) -> bool:
        return True


class RedditSubmission(Thing):
    title: str
    selftext: str = ""
    num_comments: int = Field(0, ge=0)
    hide_score: bool = False
    removed_by_category: str | None = None

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.selftext}" if self.selftext else self.title

    def engagement(self) -> Engagement:
        return Engagement(score=self.score, replies=self.num_comments)

    def gone(self) -> str | None:
        if self.removed_by_category:  # "moderator", "deleted", "author", "reddit", "copyright_takedown", ...
            return "deleted" if self.removed_by_category in ("deleted", "author") else "removed"
        return REMOVED_BODIES.get(self.selftext.strip())

    def score_known(self) -> bool:
        return not self.hide_score


class RedditComment(Thing):
    body: str
    link_id: str | None = Field(None, pattern=r"^t3_[0-9a-z]+$")
    context: str | None = None  # inbox comments: the comment's path with `?context=3`
    score_hidden: bool = False

    @property
    def text(self) -> str:
        return self.body

    def engagement(self) -> Engagement:
        return Engagement(score=self.score)

    def path(self) -> str:
        """`permalink`; else built from `link_id`, `id` and `subreddit`; else the inbox's `context`
        (`/r/sub/comments/<link>/<slug>/<id>/?context=3`: inbox comments carry no `link_id`)."""
        if self.permalink:
            return self.permalink
        comment_id = self.id or self.name.removeprefix("t1_")
        if self.link_id and self.subreddit:
            return f"/r/{self.subreddit}/comments/{self.link_id.removeprefix('t3_')}/_/{comment_id}/"
        if self.context and self.context.startswith("/r/"):
            return self.context.split("?", 1)[0]
        raise ValueError("permalink: missing, and neither link_id with subreddit nor context to build it from")

    def gone(self) -> str | None:
        return REMOVED_BODIES.get(self.body.strip())

    def score_known(self) -> bool:
        return not self.score_hidden


def _fields(item: object) -> dict[str, Any]:
    """The JSON fields praw stored on the object, read without triggering praw's lazy fetch."""
    data = {k: v for k, v in vars(item).items() if not k.startswith("_")}
    author = data.get("author")
    if isinstance(author, Redditor):
        data["author"] = vars(author).get("name")
    subreddit = data.get("subreddit")
    if subreddit is not None and not isinstance(subreddit, str):
        data["subreddit"] = vars(subreddit).get("display_name")
    return data


def parse_thing(item: object) -> RedditSubmission | RedditComment:
    """A submission or comment as Earshot needs it; ValueError says what is wrong with it."""
    if isinstance(item, Submission):
        thing: RedditSubmission | RedditComment = RedditSubmission.model_validate(_fields(item))
    elif isinstance(item, Comment):
        thing = RedditComment.model_validate(_fields(item))
    else:
        raise ValueError(f"not a submission or comment but {type(item).__name__}")
    if thing.gone() is None:
        thing.path()  # a live item must have somewhere to link to
    return thing


def describe(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "item"
        more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
        return f"{key}: {first['msg']}{more}"
    return str(error)


def fullname(item: object) -> str | None:
    name = vars(item).get("name") if hasattr(item, "__dict__") else None
    return name if isinstance(name, str) and re.match(_FULLNAME, name) else None
