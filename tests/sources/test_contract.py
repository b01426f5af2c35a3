"""The behaviour every source must have, run against every source's harness.

Why one suite: each platform fails in its own way, but the pipeline relies on the same few
promises from all of them: stable mention ids, a cursor that neither loses nor repeats
posts, outages that raise instead of half-storing, broken payloads that are reported
instead of crashing, and secrets that never leak. Each source proves them against its own
fake server through `tests/sources/harness_<name>.py` (see `tests/sources/harness.py`).

Every ingest here builds a fresh source instance, as each Airflow task run does, so only
the stored cursor can carry state from one run to the next.

Capabilities a harness may declare (attribute, default in brackets), so a source that
cannot have a behaviour skips its case instead of faking it badly:

* `network_failures` [True]: False for a source that makes no network calls (a recording);
  the 429 and 5xx cases are skipped.
* `engagement` ["refresh"]: how engagement changes reach Earshot: "refresh" (the source's
  `refresh()` returns snapshots), "fetch" (later fetches carry snapshots, as the replay's
  recorded snapshot events do) or "none" (the platform has no engagement counts, e.g. RSS).
* `secret` falsy: the source takes no credential; the leak check is skipped.
* `native_id_for(native_id) -> str`: the id the source reports for a post published as
  `native_id`, where the platform's ids are URIs (Atom entry ids, AT-URIs) [the same id].

Optional harness methods for the platform behaviours of issue 17 (absent: the case is skipped,
naming the method, so a new source sees what it could support):

* `remove(native_id)`: the post is deleted / removed / taken down on the platform.
* `hide_engagement(native_id)`: the platform stops saying the post's counts (no
  `public_metrics`, a hidden score).
* `edit(native_id, text)`: the author edits the post.
* `repost(native_id)`: someone reposts (retweets, boosts) the post.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor import pipeline
from monitor.config import Config, parse_config
from monitor.models import Mention
from monitor.removals import apply_removals
from monitor.sources import Problem, SourceError, available_sources
from monitor.sources.base import removals_of
from monitor.store import SQLiteStore
from tests.sources.harness import BRAND, SourceHarness

HERE = Path(__file__).resolve().parent
HARNESSES = sorted(p.stem.removeprefix("harness_") for p in HERE.glob("harness_*.py"))
OUTAGE_TIMES = 1000  # "persistent": more failures than any sane retry policy makes attempts
SLOW_S = 20.0  # a case slower than this means the harness did not shorten waits


def load_harness(name: str) -> SourceHarness:
    """Import lazily, so one source's broken harness fails its own cases, not the collection."""
    module = importlib.import_module(f"tests.sources.harness_{name}")
    return module.make_harness()


def capability(harness: SourceHarness, attr: str, default: Any) -> Any:
    return getattr(harness, attr, default)


@dataclass
class Rig:
    """One harness started against a fresh SQLite store, plus the posts published so far."""

    harness: SourceHarness
    store: SQLiteStore
    config: Config
    clock: datetime
    published: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    next_native: int = 1000

    @property
    def name(self) -> str:
        return self.harness.name

    def publish(self, likes: int = 0, *, author_missing: bool = False, text: str | None = None) -> str:
        """A post mentioning the brand, one minute after the previous one, with a rising numeric id."""
        self.next_native += 1
        self.clock += timedelta(minutes=1)
        native = str(self.next_native)
        text = (text or "Acme support never answered ticket {native}, still waiting").format(native=native)
        self.harness.publish(native, text, self.clock, likes, author_missing=author_missing)
        self.published[native] = (text, self.clock)
        return native

    def native_id(self, published: str) -> str:
        convert = getattr(self.harness, "native_id_for", None)
        return convert(published) if convert else published

    def mention_id(self, native: str) -> str:
        return Mention.make_id(self.name, self.native_id(native))

    def ingest(self) -> pipeline.IngestStats:
        return pipeline.ingest(self.config, self.store, self.name, source=self.harness.source())

    def cursor(self) -> str | None:
        return self.store.get_cursor(pipeline.cursor_key(self.name))

    def stored(self, natives: list[str]) -> dict[str, Mention]:
        return self.store.get_mentions([self.mention_id(n) for n in natives])


@pytest.fixture(params=HARNESSES)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    harness = load_harness(request.param)
    assert harness.name == request.param, f"harness_{request.param}.py builds a harness named {harness.name!r}"
    fake_dir = tmp_path / "fake"
    fake_dir.mkdir()
    harness.start(fake_dir)
    store = SQLiteStore(tmp_path / "earshot.db")
    config = parse_config({"brands": [BRAND.model_dump()]}, source="contract")
    # Whole seconds, recent: every platform's timestamps can represent them, and none rejects them as too old.
    clock = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    try:
        yield Rig(harness, store, config, clock)
    finally:
        store.close()
        harness.stop()


def needs_network(rig: Rig) -> None:
    if not capability(rig.harness, "network_failures", True):
        pytest.skip(f"{rig.name} declares no network failures (network_failures = False)")


def timed(rig: Rig, what: str, action: Callable[[], Any]) -> Any:
    start = time.monotonic()
    result = action()
    elapsed = time.monotonic() - start
    assert elapsed < SLOW_S, f"{rig.name}: {what} took {elapsed:.1f} s; make the harness's waits short"
    return result


# --- what a source returns -------------------------------------------------------------------


def test_published_posts_become_mentions(rig: Rig) -> None:
    natives = [rig.publish(likes=i) for i in range(3)]
    stats = rig.ingest()
    assert stats.problems == []
    mentions = rig.stored(natives)
    assert set(mentions) == {rig.mention_id(n) for n in natives}
    for native in natives:
        m = mentions[rig.mention_id(native)]
        text, created = rig.published[native]
        assert (m.source, m.native_id) == (rig.name, rig.native_id(native))
        assert m.brand == BRAND.name and m.query, "brand and the query that matched must be filled"
        assert f"ticket {native}" in f"{m.title or ''} {m.text}", f"{m.id}: the post's text is missing: {m.text!r}"
        assert m.url.startswith(("http://", "https://")), f"{m.id}: url {m.url!r} is not a link"
        assert isinstance(m.author_handle, str)
        assert m.created_at.tzinfo is not None and m.created_at.utcoffset() is not None
        assert abs(m.created_at - created) <= timedelta(seconds=2), f"{m.id}: created_at {m.created_at} != {created}"


def test_more_posts_than_a_page_are_all_fetched(rig: Rig) -> None:
    natives = [rig.publish() for _ in range(rig.harness.page_size * 2 + 1)]
    rig.ingest()
    assert set(rig.stored(natives)) == {rig.mention_id(n) for n in natives}


def test_ingesting_again_adds_nothing_and_a_later_post_arrives_next_run(rig: Rig) -> None:
    natives = [rig.publish() for _ in range(3)]
    rig.ingest()
    assert rig.store.count_mentions() == 3
    assert rig.cursor() is not None, "the source returned no cursor: the next run would start over"

    again = rig.ingest()
    assert again.new_mentions == 0 and rig.store.count_mentions() == 3

    later = rig.publish()
    rig.ingest()
    assert rig.store.count_mentions() == 4
    assert set(rig.stored([*natives, later])) == {rig.mention_id(n) for n in [*natives, later]}


def test_engagement_changes_are_observed(rig: Rig) -> None:
    mode = capability(rig.harness, "engagement", "refresh")
    assert mode in ("refresh", "fetch", "none"), f"unknown engagement capability {mode!r}"
    changed, unchanged = rig.publish(likes=1), rig.publish(likes=2)
    rig.ingest()
    mentions = list(rig.stored([changed, unchanged]).values())
    assert len(mentions) == 2
    rig.harness.set_likes(changed, 42)

    if mode == "none":
        assert rig.harness.source().refresh(mentions) == []
        return
    if mode == "fetch":
        rig.ingest()
        latest = rig.store.snapshots_for(rig.mention_id(changed))[-1]
        assert 42 in latest.engagement.model_dump().values()
        return

    snapshots = rig.harness.source().refresh(mentions)
    asked = {m.id for m in mentions}
    assert {s.mention_id for s in snapshots} <= asked, "refresh returned snapshots for mentions it was not asked about"
    by_id = {s.mention_id: s for s in snapshots}
    assert set(by_id) == asked, f"refresh skipped {asked - set(by_id)}"
    assert 42 in by_id[rig.mention_id(changed)].engagement.model_dump().values()
    assert all(s.observed_at.tzinfo is not None for s in snapshots)


def test_a_post_whose_author_is_gone_is_still_a_mention(rig: Rig) -> None:
    orphan, normal = rig.publish(author_missing=True), rig.publish()
    rig.ingest()
    assert set(rig.stored([orphan, normal])) == {rig.mention_id(orphan), rig.mention_id(normal)}


# --- what platforms really send (issue 17) -----------------------------------------------------

# HTML-special characters, Chinese, right-to-left Arabic and Hebrew, emoji with a skin tone and a
# ZWJ sequence, and more than X's 280 characters, with the brand term at the very end.
WRITTEN = ("Tom & Jerry's <billing> \"help\" — 退款还没到 · الدعم لا يرد · התמיכה לא עונה 😡👍🏽👩‍💻 ticket {native}. "
           + "Waited on hold for hours again and again, " * 8 + "thanks for nothing, Acme")


def _optional(rig: Rig, method: str) -> Callable[..., Any]:
    found = getattr(rig.harness, method, None)
    if found is None:
        pytest.skip(f"{rig.name}: the harness has no `{method}` (the platform or its fake cannot do it)")
    return found


def test_what_the_user_wrote_is_stored_exactly_once_unescaped(rig: Rig) -> None:
    native = rig.publish(text=WRITTEN)
    stats = rig.ingest()
    assert stats.problems == []
    m = rig.stored([native]).get(rig.mention_id(native))
    assert m is not None, f"{rig.name}: a long post with the brand at its end was not a mention"
    expected = WRITTEN.format(native=native)
    assert expected in f"{m.title or ''} {m.text}".replace("\n", " "), (
        f"{rig.name}: stored text differs from what was written: {m.text!r}")
    assert m.url.isascii(), f"{rig.name}: url {m.url!r} must be percent-encoded"


def test_a_post_removed_on_the_platform_becomes_a_tombstone(rig: Rig) -> None:
    remove = _optional(rig, "remove")
    gone, kept = rig.publish(likes=3), rig.publish()
    rig.ingest()
    remove(gone)
    rig.ingest()  # a listing may show it gone (Reddit's [removed]) ...
    source = rig.harness.source()  # ... else the refresh learns it, as pipeline.refresh does
    source.refresh(list(rig.stored([gone, kept]).values()))
    apply_removals(rig.store, removals_of(source), datetime.now(UTC))
    stored = rig.stored([gone, kept])
    tomb = stored[rig.mention_id(gone)]
    assert tomb.removed and tomb.removed_at is not None
    assert (tomb.text, tomb.url) == ("", "") and f"ticket {gone}" not in (tomb.title or "")
    assert rig.store.count_mentions() == 2, "a tombstone keeps the count"
    assert stored[rig.mention_id(kept)].removed is None
    rig.ingest()
    assert rig.stored([gone])[rig.mention_id(gone)].removed, "a later run brought the removed post back"


def test_unknown_engagement_is_not_zero_and_makes_no_snapshot(rig: Rig) -> None:
    hide = _optional(rig, "hide_engagement")
    native = rig.publish(likes=5)
    hide(native)
    rig.ingest()
    m = rig.stored([native])[rig.mention_id(native)]
    assert m.engagement_known is False
    assert rig.store.snapshots_for(m.id) == [], "an unknown count became a point of the engagement curve"


def test_an_edit_updates_the_mention_in_place(rig: Rig) -> None:
    edit = _optional(rig, "edit")
    native = rig.publish()
    rig.ingest()
    edit(native, f"Acme support answered ticket {native} after all (edited)")
    rig.ingest()
    assert rig.store.count_mentions() == 1, "an edit became a second mention"
    assert "(edited)" in rig.stored([native])[rig.mention_id(native)].text


def test_a_repost_is_not_a_new_mention(rig: Rig) -> None:
    repost = _optional(rig, "repost")
    native = rig.publish()
    repost(native)
    rig.ingest()
    assert rig.store.count_mentions() == 1, "a repost became a mention of its own"


# --- failures ----------------------------------------------------------------------------------


def test_a_rate_limit_is_waited_out_and_the_fetch_resumes(rig: Rig) -> None:
    needs_network(rig)
    natives = [rig.publish() for _ in range(2)]
    rig.harness.fail_next(429)
    timed(rig, "waiting out a 429", rig.ingest)
    assert set(rig.stored(natives)) == {rig.mention_id(n) for n in natives}


@pytest.mark.parametrize("status", [500, 503])
def test_a_persistent_outage_raises_and_stores_nothing(rig: Rig, status: int) -> None:
    needs_network(rig)
    rig.publish()
    rig.ingest()
    before, cursor = rig.store.count_mentions(), rig.cursor()

    for _ in range(rig.harness.page_size + 1):  # more than one page, so a half-stored fetch would show
        rig.publish()
    rig.harness.fail_next(status, times=OUTAGE_TIMES)
    with pytest.raises(SourceError) as raised:
        timed(rig, f"giving up on {status}s", rig.ingest)

    assert rig.store.count_mentions() == before, "part of the failed fetch was stored"
    assert rig.cursor() == cursor, "the cursor moved although the fetch failed"
    message = str(raised.value)
    squashed = "".join(ch for ch in message.lower() if ch.isalnum())
    assert rig.name in squashed, f"the error does not say which source failed: {message!r}"
    assert str(status) in message, f"the error does not say what happened (HTTP {status}): {message!r}"


def test_a_broken_payload_is_reported_never_a_crash(rig: Rig) -> None:
    kept = [rig.publish() for _ in range(2)]
    rig.ingest()
    cursor_before = rig.cursor()

    rig.publish()
    rig.harness.break_next_payload()
    problems: list[Problem] = []
    error: SourceError | None = None
    try:
        problems = rig.ingest().problems
    except SourceError as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 - the point of the case is to name what escaped
        pytest.fail(f"a broken payload escaped as {type(exc).__name__}: {exc}")

    assert problems or error, "a broken payload was neither reported as a Problem nor raised as SourceError"
    assert all(isinstance(p, Problem) and p.where and p.message for p in problems)
    if error is not None:
        assert rig.cursor() == cursor_before
    assert set(rig.stored(kept)) == {rig.mention_id(n) for n in kept}, "a broken payload lost stored mentions"

    rig.ingest()  # the next run goes on normally
    assert set(rig.stored(kept)) == {rig.mention_id(n) for n in kept}


def _messages(exc: BaseException | None) -> list[str]:
    """The exception's message, repr and those of its whole chain: all of it may end up in a log."""
    out: list[str] = []
    while exc is not None:
        out += [str(exc), repr(exc)]
        exc = exc.__cause__ or exc.__context__
    return out


def test_the_secret_never_reaches_logs_or_errors(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    secret = rig.harness.secret
    if not secret:
        pytest.skip(f"{rig.name} takes no credential")
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    def attempt(action: Callable[[], Any]) -> None:
        try:
            result = action()
        except Exception as exc:  # noqa: BLE001 - every failure's text is checked, whatever its type
            texts.extend(_messages(exc))
        else:
            if isinstance(result, pipeline.IngestStats):
                texts.extend(str(p) for p in result.problems)

    natives = [rig.publish() for _ in range(2)]
    attempt(rig.ingest)
    texts.append(repr(rig.harness.source()))
    attempt(lambda: rig.harness.source().refresh(list(rig.stored(natives).values())))
    rig.publish()
    rig.harness.break_next_payload()
    attempt(rig.ingest)
    if capability(rig.harness, "network_failures", True):
        rig.publish()
        rig.harness.fail_next(429)
        attempt(rig.ingest)
        rig.harness.fail_next(503, times=OUTAGE_TIMES)
        attempt(rig.ingest)

    assert secret not in caplog.text, "the secret was logged"
    for record in caplog.records:
        assert secret not in record.getMessage() and secret not in str(record.exc_text or "")
    leaked = [t for t in texts if secret in t]
    assert not leaked, f"the secret appears in error messages: {leaked}"


# --- every source is held to the contract ------------------------------------------------------


@pytest.mark.parametrize("name", available_sources())
def test_every_registered_source_has_a_harness(name: str) -> None:
    assert (HERE / f"harness_{name}.py").is_file(), (
        f"source plugin {name!r} is registered (earshot.sources) but has no tests/sources/harness_{name}.py; "
        f"`earshot new-source` generates one, see docs/adding-a-source.md"
    )


@pytest.mark.parametrize("name", HARNESSES)
def test_every_harness_is_a_registered_source(name: str) -> None:
    assert name in available_sources(), (
        f"tests/sources/harness_{name}.py exists but no source plugin {name!r} is installed: "
        f"add it to [project.entry-points.\"earshot.sources\"] and run `pip install -e .`"
    )
