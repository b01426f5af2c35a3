"""Replies on Bluesky: a post with reply refs, through atproto's `Client.send_post(reply_to=...)`.

A Bluesky reply names its parent and its thread's root, each by URI and CID (a strong ref), so
the post replied to is read first (`app.bsky.feed.getPosts`): its CID, and the root of its
thread when it is itself a reply. That read is also how a deleted original shows: the PDS
would accept a reply to a post that no longer exists, and leave it dangling. The account logs
in with an app password (401 once revoked); 429 is Bluesky's rate limit.
"""

from __future__ import annotations

import re

from atproto import Client, models
from atproto_client import exceptions as atx
from atproto_client.request import Request

from monitor.replies.base import FailureKind, Posted, ReplyFailed, ReplyTarget
from monitor.replies.settings import BlueskyReplySettings

_POST_URL = re.compile(r"/profile/([^/]+)/post/([^/?#]+)")


def _failure(exc: Exception) -> ReplyFailed:
    detail = str(exc)[:300] or type(exc).__name__
    if isinstance(exc, atx.RateLimitExceededError):
        return ReplyFailed(FailureKind.rate_limited, detail)
    if isinstance(exc, atx.UnauthorizedError):
        return ReplyFailed(FailureKind.forbidden, f"login or session refused: {detail}")
    if isinstance(exc, atx.BadRequestError):
        code = getattr(getattr(getattr(exc, "response", None), "content", None), "error", "")
        if code in ("ExpiredToken", "InvalidToken", "AccountTakedown", "AccountDeactivated", "AuthRequired"):
            return ReplyFailed(FailureKind.forbidden, detail)
        return ReplyFailed(FailureKind.rejected, detail)
    if isinstance(exc, atx.RequestException) and getattr(getattr(exc, "response", None), "status_code", 0) == 403:
        return ReplyFailed(FailureKind.forbidden, detail)
    return ReplyFailed(FailureKind.unknown, type(exc).__name__)


class BlueskyReplier:
    platform = "Bluesky"
    max_chars = BlueskyReplySettings.max_chars

    def __init__(self, settings: BlueskyReplySettings, credentials: dict[str, str], base_url: str) -> None:
        self.settings, self.base_url = settings, base_url
        self._handle, self._password = credentials["handle"], credentials["app_password"]
        self._client: Client | None = None
        self._repo = self._handle

    def _session(self) -> Client:
        if self._client is None:  # logged in at the first reply, so a refused login is that reply's failure
            client = Client(base_url=self.base_url, request=Request(timeout=self.settings.timeout_seconds))
            client.login(self._handle, self._password, fetch_bsky_profile=False)
            # The repo to write to: the session's DID (atproto keeps it on the session it made;
            # the handle, which the PDS also accepts, if that ever moves).
            self._repo = str(getattr(getattr(client, "_session", None), "did", "") or self._handle)
            self._client = client
        return self._client

    def post(self, target: ReplyTarget, text: str, idempotency_key: str = "") -> Posted:
        match = _POST_URL.search(target.url)
        if not match:
            raise ReplyFailed(FailureKind.rejected, f"cannot tell the post's author from {target.url!r}")
        author, rkey = match.group(1), match.group(2) or target.native_id
        try:
            client = self._session()
            if not author.startswith("did:"):
                author = client.resolve_handle(author).did
            uri = f"at://{author}/app.bsky.feed.post/{rkey}"
            found = client.app.bsky.feed.get_posts(models.AppBskyFeedGetPosts.Params(uris=[uri])).posts
            if not found:
                raise ReplyFailed(FailureKind.deleted, f"{uri} is not on Bluesky any more")
            parent = models.create_strong_ref(found[0])
            reply = getattr(found[0].record, "reply", None)
            root = models.ComAtprotoRepoStrongRef.Main(uri=reply.root.uri, cid=reply.root.cid) if reply else parent
            created = client.send_post(text, profile_identify=self._repo,
                                       reply_to=models.AppBskyFeedPost.ReplyRef(parent=parent, root=root))
        except ReplyFailed:
            raise
        except atx.AtProtocolError as exc:
            if isinstance(exc, atx.UnauthorizedError | atx.BadRequestError):
                self._client = None  # log in afresh next time
            raise _failure(exc) from None
        new_rkey = created.uri.rsplit("/", 1)[-1]
        return Posted(created.uri, f"https://bsky.app/profile/{self._repo}/post/{new_rkey}")
