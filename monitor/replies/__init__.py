"""Replying from the inbox: Earshot posts an agent's reply on the platform the post came from.

| module | what |
|---|---|
| settings.py | the `replies` config section: saved replies, per-platform settings (pydantic only) |
| base.py | the `Replier` protocol, `ReplyTarget`, `Posted`, `ReplyFailed` and its kinds |
| credentials.py | user credentials from environment variables or an Airflow connection |
| saved.py | saved replies for a post's language and topic, placeholders filled |
| desk.py | `ReplyDesk`: who can reply where (or why not), and posting once per alert and text |
| x.py, reddit.py, mastodon.py, bluesky.py, googleplay.py, appstore.py | one replier per platform |

A platform is a plugin of the `earshot.replies` entry-point group, named like its source
(a mention's `source` picks its replier). The descriptors below import pydantic only; the
factory imports the platform's SDK when a reply is posted.
"""

from __future__ import annotations

from monitor.plugins import REPLIES_GROUP, Plugin, lazy, load_plugin
from monitor.replies.settings import (
    AppStoreReplySettings,
    BlueskyReplySettings,
    GooglePlayReplySettings,
    MastodonReplySettings,
    RedditReplySettings,
    ReplySettings,
    XReplySettings,
)

__all__ = ["APPSTORE", "BLUESKY", "GOOGLEPLAY", "MASTODON", "REDDIT", "X", "reply_plugin"]

# factory(settings, credentials: dict[str, str], base_url: str) -> Replier
X = Plugin("x", XReplySettings, lazy("monitor.replies.x:XReplier"))
REDDIT = Plugin("reddit", RedditReplySettings, lazy("monitor.replies.reddit:RedditReplier"))
MASTODON = Plugin("mastodon", MastodonReplySettings, lazy("monitor.replies.mastodon:MastodonReplier"))
BLUESKY = Plugin("bluesky", BlueskyReplySettings, lazy("monitor.replies.bluesky:BlueskyReplier"))
GOOGLEPLAY = Plugin("googleplay", GooglePlayReplySettings, lazy("monitor.replies.googleplay:GooglePlayReplier"))
APPSTORE = Plugin("appstore", AppStoreReplySettings, lazy("monitor.replies.appstore:AppStoreReplier"))


def reply_plugin(name: str) -> Plugin[ReplySettings, object]:
    """The reply descriptor registered for source `name`; UnknownPlugin if there is none."""
    return load_plugin(REPLIES_GROUP, name)
