"""Brand queries are read as Lucene/Boolean syntax; a query that cannot be used says where it goes wrong."""

from __future__ import annotations

import pytest

from monitor.query import QueryError, legacy_query, parse
from monitor.query.syntax import And, Filter, Not, Or, Words, label


def test_and_or_not_and_parentheses_build_the_tree_the_query_means():
    node = parse("Brisa AND (bill OR billing) NOT giveaway")
    assert node == And((Words(("brisa",), "Brisa", position=0),
                        Or((Words(("bill",), "bill", position=11), Words(("billing",), "billing", position=19))),
                        Not(Words(("giveaway",), "giveaway", position=32))))


@pytest.mark.parametrize(("query", "reads_as"), [
    ("a b OR c", "a AND (b OR c)"),  # words side by side are ANDed, and bind loosest
    ("a OR b AND c", "a OR (b AND c)"),
    ("a -b +c", "a AND NOT b AND c"),
    ("a AND NOT (b OR c)", "a AND NOT (b OR c)"),
    ('"Brisa   Mobile"', '"brisa mobile"'),
    ('"brisa bill"~3', '"brisa bill"~3'),
    ("top-up", '"top up"'),  # cut into words like a post's text is
    ("Telefónica", "telefonica"),
    ("#BrisaMobile OR @brisa_care OR @brisa.bsky.social", "#brisamobile OR @brisa_care OR @brisa.bsky.social"),
    ("bill* OR b?ll", "bill* OR b?ll"),
    ("lang:(es OR id) brisa", "(lang:es OR lang:id) AND brisa"),
    ("brisa has:links country:es author:@Brisa_Care source:X", "brisa AND has:link AND country:ES AND "
                                                               "author:brisa_care AND source:x"),
    ("brisa lang:pt-BR", "brisa AND lang:pt"),
])
def test_queries_read_as_written(query: str, reads_as: str):
    assert label(parse(query)) == reads_as


@pytest.mark.parametrize(("query", "message", "position"), [
    ("brisa AND", "ends too early", 9),
    ("(brisa OR bill", "ends too early", 14),
    ("brisa AND OR bill", "OR needs something on both sides", 10),
    ("brisa) bill", "')' closes nothing", 5),
    ('brisa "bill', "never closed", 6),
    ("brisa foo:bar", "unknown field 'foo'", 6),
    ("brisa has:media", "has:media is not a filter", 10),
    ("brisa lang:spanish1", "not a language code", 11),
    ("brisa country:ESP", "two-letter country code", 14),
    ("brisa^2", "boosts", 0),
    ("brisa~2", "fuzzy", 0),
    ("brisa [a TO b]", "ranges", 6),
    ("brisa 🔥", "no letters or digits", 6),
    ("brisa *", "wildcard needs at least one letter", 6),
])
def test_a_query_that_cannot_be_used_names_the_problem_and_its_position(query: str, message: str, position: int):
    with pytest.raises(QueryError) as caught:
        parse(query)
    assert message in caught.value.reason
    assert caught.value.position == position
    shown = str(caught.value)
    assert "»" in shown and ("at the end" in shown if position == len(query) else f"character {position + 1}" in shown)


@pytest.mark.parametrize("query", ["", "   ", "NOT brisa", "-brisa -bill"])
def test_a_query_with_nothing_to_look_for_is_refused(query: str):
    with pytest.raises(QueryError, match="empty|only excludes"):
        parse(query)


def test_the_old_lists_become_the_query_they_meant():
    query = legacy_query(["brisa mobile", "BrisaMobile", "BRISA MOBILE", 'say "hi"'], ["hiring", "job opening"])
    assert query == '("brisa mobile" OR "BrisaMobile" OR "say hi") NOT ("hiring" OR "job opening")'
    assert label(parse(query)) == '("brisa mobile" OR brisamobile OR "say hi") AND NOT (hiring OR "job opening")'
    assert legacy_query(["acme"], []) == '"acme"'


def test_filters_keep_their_field_and_value():
    assert parse("author:@BrisaCare") == Filter("author", "brisacare", 7)  # the position of the value


def test_a_query_too_long_or_too_deep_is_refused_not_crashed_on():
    with pytest.raises(QueryError, match="longer than 4096"):
        parse("brisa OR " * 600 + "bill")
    deep = "".join(f"(a{i} AND (b{i} OR " for i in range(60)) + "c" + "))" * 60
    with pytest.raises(QueryError, match="nests groups more than 40 deep"):
        parse(deep)
    assert label(parse("(" * 30 + "a" + ")" * 30)) == "a"  # parentheses alone add no depth
    with pytest.raises(QueryError, match="nests groups"):
        parse("(" * 1500 + "a" + ")" * 1500)
