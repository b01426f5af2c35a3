"""Print the platforms × outcomes table: a reply through each platform's fake, in each situation.

    python -m tests.replies.table

Each cell is what the inbox records for the attempt: "posted" (and how many replies the fake
holds: one), or the failure kind the agent is shown with the platform's own words. The same scenarios are
asserted in tests/replies/test_reply_platforms.py; this prints them side by side.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

from tests.replies.conftest import make_scene
from tests.replies.platforms import FACTORIES, platform

TEXT = "Hi Ana, sorry about the double charge: we have refunded it."
SITUATIONS = ("success", "rate limit", "deleted original", "permission")


def outcome(name: str, situation: str) -> str:
    with platform(name) as p, tempfile.TemporaryDirectory() as tmp, contextmanager(make_scene)(Path(tmp), p) as scene:
        alert = scene.post()
        native = scene.store.get_mention(alert.mention_id).native_id
        if situation == "rate limit":
            p.rate_limit()
        elif situation == "deleted original":
            p.delete(native)
        elif situation == "permission":
            p.forbid(native)
        result = scene.desk.send(scene.store, alert.id, TEXT, "table", scene.clock)
        held = len(p.replies(native)) if situation != "deleted original" else 0
        if result.posted:
            return f"posted ({held} on platform)"
        return f"{result.failure.kind.value}: {result.failure.detail[:34]}"


def main() -> None:
    rows = [(name, [outcome(name, s) for s in SITUATIONS]) for name in sorted(FACTORIES)]
    widths = [max(len("platform"), *(len(n) for n, _ in rows))]
    widths += [max(len(s), *(len(r[i]) for _, r in rows)) for i, s in enumerate(SITUATIONS)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(["platform", *SITUATIONS]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for name, cells in rows:
        print(line([name, *cells]))


if __name__ == "__main__":
    main()
