"""Each platform is sent the brand query in its own syntax, within its limits, and never narrower than it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from monitor.query import BrandQuery, Post, parse
from monitor.query.platforms import UnsearchableQuery, compile_query, pack
from monitor.query.text import fold
from tests.sources.fakes.reddit_api import FakeThing
from tests.sources.fakes.reddit_api import parse_query as reddit_parse
from tests.sources.fakes.x_api import FakeTweet
from tests.sources.fakes.x_api import parse_query as x_parse

DATA = Path(__file__).resolve().parent.parent / "data" / "query_match"


def searches(query: str, platform: str, **limits: int) -> list[str]:
    return compile_query(parse(query), platform, **limits).searches


# --- X --------------------------------------------------------------------------------------------------


def test_x_gets_its_own_operators():
    assert searches("Brisa AND (bill OR billing) NOT giveaway", "x") == ['"Brisa" ("bill" OR "billing") -"giveaway"']
    assert searches("#BrisaMobile OR @brisa_care", "x") == ["#brisamobile OR @brisa_care"]
    assert searches("brisa lang:es author:brisa_care has:link", "x") == ['"brisa" lang:es from:brisa_care has:links']
    assert searches("brisa NOT lang:en", "x") == ['"brisa" -lang:en']


def test_x_searches_a_phrase_also_as_its_hashtag_as_the_local_matcher_does():
    assert searches('"brisa mobile"', "x") == ['"brisa mobile" OR #brisamobile']
    assert BrandQuery.parse('"brisa mobile"').match("#BrisaMobile is down") == "brisa mobile"


def test_what_x_cannot_express_is_widened_or_said():
    # X has no wildcards: a word stem is searched as that word (and says so), a shorter one is left out
    compiled = compile_query(parse("telkomsel* OR tsel"), "x")
    assert compiled.searches == ['"telkomsel" OR "tsel"']
    assert "telkomsel* is searched as telkomsel" in compiled.notes[1]
    with pytest.raises(UnsearchableQuery, match="nothing x can search for"):
        compile_query(parse("br* lang:es"), "x")
    with pytest.raises(UnsearchableQuery, match="nothing x can search for"):
        compile_query(parse('("brisa bill"~3 OR b?lls) country:ES'), "x")
    compiled = compile_query(parse('"brisa bill"~3 NOT giveaway* country:ES'), "x")
    assert compiled.searches == ['"brisa" "bill"'] and not compiled.exact
    assert "looser" in compiled.notes[0]


def test_exclusions_x_cannot_send_are_dropped_one_by_one():
    assert searches("brisa NOT (hiring OR vacante* OR giveaway)", "x") == ['"brisa" -"hiring" -"giveaway"']


def test_source_filters_are_decided_per_platform():
    assert searches("brisa source:x", "x") == ['"brisa"']
    assert searches("brisa source:x", "reddit") == []
    assert searches("brisa OR (source:reddit AND bill)", "reddit") == ['"brisa" OR "bill"']
    assert searches("brisa -source:reddit", "x") == ['"brisa"']


def test_a_long_query_is_split_into_searches_that_each_fit_and_together_cover_it():
    terms = [f"brand term number {i:02d}" for i in range(60)]
    query = "(" + " OR ".join(f'"{t}"' for t in terms) + ") AND (bill OR outage) NOT (hiring OR giveaway)"
    compiled = compile_query(parse(query), "x", max_length=300)
    assert len(compiled.searches) > 2 and all(len(s) <= 300 for s in compiled.searches)
    assert all(any(f'"{t}"' in s for s in compiled.searches) for t in terms)
    assert all('("bill" OR "outage")' in s and '-("hiring" OR "giveaway")' in s for s in compiled.searches)
    assert len(compiled.searches) <= 2 * -(-sum(len(t) + 30 for t in terms) // 300)  # runs are packed, not halved
    for search in compiled.searches:
        x_parse(search)  # the fake parses X's grammar
    # every post the query matches is found by one of the searches
    for i in range(0, 60, 7):
        tweet = FakeTweet("1", f"{terms[i]} had an outage", "9", datetime.now(UTC))
        assert BrandQuery.parse(query).matches(Post(tweet.text))
        assert any(x_parse(s)(tweet) for s in compiled.searches)


def test_exclusions_are_dropped_only_when_nothing_else_fits_and_that_is_said():
    query = "acme NOT (" + " OR ".join(f'"excluded phrase {i}"' for i in range(40)) + ")"
    compiled = compile_query(parse(query), "x")
    assert compiled.searches == ['"acme"'] and not compiled.exact
    assert "exclusions not sent, to fit the length limit; the local matcher applies them" in compiled.notes


def test_a_single_term_too_long_for_x_is_an_error_not_a_truncated_search():
    with pytest.raises(UnsearchableQuery, match="512-character"):
        compile_query(parse('"' + "word " * 120 + '"'), "x")


def test_brands_are_packed_into_as_few_searches_as_fit_each_in_its_own_parentheses():
    assert pack(['"a" -"b"', '"c"'], 512, " -is:retweet") == ['(("a" -"b") OR "c") -is:retweet']
    assert pack(['"a" OR "b"'], 512, " -is:retweet") == ['("a" OR "b") -is:retweet']
    assert pack(["x" * 200, "y" * 200, "z" * 200], 450) == ["x" * 200 + " OR " + "y" * 200, "z" * 200]


# --- Reddit ----------------------------------------------------------------------------------------------


def test_reddit_gets_and_or_and_author_but_no_not():
    assert searches("Brisa AND (bill OR billing) NOT giveaway", "reddit") == ['"Brisa" AND ("bill" OR "billing")']
    assert searches("#brisa author:brisa_care", "reddit") == ['"brisa" AND author:brisa_care']
    search = searches("(brisa OR telefonica) AND (bill OR factura)", "reddit")[0]
    thing = FakeThing(kind="t3", id="a1", subreddit="x", author="u", created_utc=0.0, title="Telefonica factura")
    assert reddit_parse(search)(thing)


# --- Bluesky and Mastodon: no OR, one search per alternative ------------------------------------------------


def test_bluesky_gets_one_search_per_alternative():
    assert searches("(brisa OR telefonica) (bill OR factura) NOT hiring", "bluesky") == [
        "brisa bill", "brisa factura", "telefonica bill", "telefonica factura"]
    assert searches('"brisa mobile" lang:es author:brisa.bsky.social @brisa_care', "bluesky") == [
        '"brisa mobile" mentions:brisa_care lang:es from:brisa.bsky.social']


def test_mastodon_also_gets_exclusions():
    assert searches("brisa NOT (hiring OR giveaway) lang:es", "mastodon") == ["brisa language:es -hiring -giveaway"]


def test_too_many_alternatives_widen_an_and_before_failing():
    query = "(a1 OR a2 OR a3 OR a4 OR a5 OR a6 OR a7) AND (b1 OR b2 OR b3 OR b4 OR b5 OR b6 OR b7 OR b8)"
    found = searches(query, "bluesky", max_searches=10)
    assert found == ["a1", "a2", "a3", "a4", "a5", "a6", "a7"]  # the b's are left to the local matcher
    with pytest.raises(UnsearchableQuery, match="needs 12 separate bluesky searches"):
        searches(" OR ".join(f"t{i}" for i in range(12)), "bluesky", max_searches=10)


def test_generic_keyword_search_sends_plain_words():
    assert searches('"brisa mobile" OR brisamobile', "generic") == ["brisa mobile", "brisamobile"]


# --- never narrower than the query ---------------------------------------------------------------------------


def _labelled() -> list[tuple[BrandQuery, dict]]:
    queries = {k: BrandQuery.parse(v) for k, v in yaml.safe_load((DATA / "queries.yaml").read_text()).items()}
    texts = yaml.safe_load((DATA / "texts.yaml").read_text())
    return [(queries[t["q"]], t) for t in texts]


def test_every_labelled_post_the_query_keeps_is_found_by_a_compiled_x_search():
    """X's fake matches substrings and folds only case, so accented posts are left out of this check."""
    assert x_parse('-"hiring" brisa')(FakeTweet("1", "brisa rehiring", "9", datetime.now(UTC))) is False
    checked = 0
    for query, item in _labelled():
        post = Post(item["text"], lang=item.get("lang"), source="x", author=item.get("author"),
                    country=item.get("country"))
        if not query.matches(post) or fold(item["text"]) != item["text"].lower() or "author:" in query.text:
            continue
        # The fake's -"hiring" excludes "rehiring" and its phrases are substrings of the raw text ("brisa
        # mobile" misses "Brisa-Mobile"); X matches words. X has no wildcards: telkomsel* is sent as telkomsel.
        if item["case"] in ("negated_substring", "punctuation", "whitespace", "wildcard_suffix"):
            continue
        tweet = FakeTweet("1", item["text"], "9", datetime.now(UTC), lang=item.get("lang") or "und")
        compiled = compile_query(query.node, "x").searches
        assert any(x_parse(s)(tweet) for s in compiled), (query.text, item["text"], compiled)
        checked += 1
    assert checked > 100
