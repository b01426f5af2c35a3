"""A removed post in the inbox and the mention list (issue 17): shown as removed, nothing of it left."""

from __future__ import annotations

import html

from monitor.removals import apply_removals
from monitor.sources.base import Removal
from tests.test_web import CRITICAL, NOW, VIRAL, _card, app, client, clock, config, store  # noqa: F401 - fixtures


def test_the_inbox_shows_a_removed_post_as_removed_and_keeps_its_case(client, store):
    text = store.get_mention(VIRAL).text
    apply_removals(store, [Removal(VIRAL, "deleted")], NOW)
    card = _card(client.get("/").text, CRITICAL)
    assert "Removed" in card and 'data-removed="deleted"' in card
    assert html.escape(text) not in card and "@dana_reyes" not in card and "Open post" not in card
    assert 'value="resolved">Resolve</button>' in card  # the case can still be handled


def test_the_mention_list_shows_a_removed_post_without_its_text(client, store):
    apply_removals(store, [Removal(VIRAL, "suspended")], NOW)
    page = client.get("/mentions").text
    assert 'data-removed="suspended"' in page and "@dana_reyes" not in page.split('data-removed="suspended"')[1][:400]
