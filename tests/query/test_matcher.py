"""The one local matcher: whole words, Unicode case and accent folding, hashtags and handles, filters."""

from __future__ import annotations

import pytest

from monitor.query import BrandQuery, Post


def matches(query: str, text: str, **fields: object) -> bool:
    return BrandQuery.parse(query).matches(Post(text, **fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(("query", "text", "expected"), [
    # word boundaries: a brand inside another word is not the brand
    ("apple", "I love pineapple pizza", False),
    ("apple", "Apple support hung up", True),
    ("apple", "apples are cheap", False),
    ("apple", "apple's support", True),
    ("orange", "Orangetheory class", False),
    # case folding (Unicode) and accent folding, both ways
    ("telefonica", "TELEFÓNICA sin servicio", True),
    ("Telefónica", "telefonica no contesta", True),
    ("telefonica", "Telefo\u0301nica, decomposed", True),
    ("strasse", "Die Straße ist gesperrt", True),
    ("istanbul", "İstanbul", True),
    ("cafe", "CAFÉ", True),
    ("senal", "Sin señal", True),
    # hashtags and handles: a plain word finds them, #/@ asks for one
    ("brisa", "#Brisa down", True),
    ("brisa", "@brisa help", True),
    ("#brisa", "brisa down", False),
    ("#brisa", "#BRISA down", True),
    ("@brisa", "#brisa down", False),
    ("@brisa", "@Brisa help", True),
    ("@brisa", "mail cs@brisa.example", False),  # an e-mail address is no handle
    ("@brisa", "@brisa.bsky.social help", True),
    ("@brisa.bsky.social", "@brisa.bsky.social help", True),
    # emoji and punctuation around words
    ("brisa", "Brisa🔥🔥", True),
    ("brisa", "😡brisa😡", True),
    ("brisa", "¿Brisa?", True),
])
def test_words_match_whole_words_ignoring_case_and_accents(query: str, text: str, expected: bool):
    assert matches(query, text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Brisa Mobile down", True),
    ("brisa-mobile down", True),
    ("Brisa,  Mobile", True),  # punctuation between words does not break a phrase
    ("#BrisaMobile down", True),  # the phrase written as one tag or handle
    ("@brisamobile help", True),
    ("brisamobile is one word", False),
    ("mobile brisa", False),
    ("Brisa the Mobile", False),
    ("brisa mobiles", False),
])
def test_a_phrase_needs_its_words_side_by_side_in_order(text: str, expected: bool):
    assert matches('"brisa mobile"', text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("brisa signal", True),
    ("Brisa has no signal", True),  # two words between
    ("signal from Brisa", True),  # any order
    ("Brisa has had zero signal", False),  # three words between, more than ~2
    ("brisa", False),
])
def test_proximity_allows_that_many_words_between_in_any_order(text: str, expected: bool):
    assert matches('"brisa signal"~2', text) is expected


@pytest.mark.parametrize(("query", "text", "expected"), [
    ("bill*", "billing error", True),
    ("bill*", "billed twice", True),
    ("bill*", "rebilled", False),
    ("*bill", "rebill", True),
    ("b?ll", "ball", True),
    ("b?ll", "bill", True),
    ("b?ll", "bell-bottoms", True),
    ("b?ll", "bll", False),
    ("telkomsel*", "telkomselnya lemot", True),
    ('"brisa fact*"', "Brisa facturación mal", True),
    ("#brisa*", "#BrisaMobile", True),
    ("#brisa*", "brisamobile", False),
])
def test_wildcards_stand_for_letters_inside_one_word(query: str, text: str, expected: bool):
    assert matches(query, text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Brisa billed me twice", False),  # billed is not bill
    ("My Brisa bill is wrong", True),
    ("brisa billing", True),
    ("Brisa bill giveaway", False),
    ("Brisa bill #giveaway", False),  # the excluded word as a hashtag is excluded too
    ("Brisa bill giveaways", True),  # ... but not another word
    ("bill giveaway", False),
])
def test_and_or_not(text: str, expected: bool):
    assert matches("Brisa AND (bill OR billing) NOT giveaway", text) is expected


def test_field_filters_use_what_the_source_knows_of_the_post():
    assert matches("brisa lang:es", "brisa", lang="es")
    assert matches("brisa lang:es", "brisa", lang="es-MX")
    assert matches("brisa lang:es", "brisa", lang="ES")
    assert not matches("brisa lang:es", "brisa", lang="en")
    assert not matches("brisa lang:es", "brisa")  # unknown language: the filter does not hold...
    assert matches("brisa NOT lang:es", "brisa")  # ... and its negation does
    assert matches("brisa source:x", "brisa", source="x")
    assert not matches("brisa source:x", "brisa", source="reddit")
    assert matches("brisa -source:rss", "brisa", source="x")
    assert matches("brisa author:brisa_care", "brisa", author="@Brisa_Care")
    assert not matches("brisa NOT author:brisamobile", "brisa", author="BrisaMobile")
    assert matches("brisa country:ID", "brisa", country="id")
    assert not matches("brisa country:ID", "brisa", country="ES")
    assert not matches("brisa country:ID", "brisa")


@pytest.mark.parametrize(("text", "links", "expected"), [
    ("brisa free data https://scam.example", None, True),
    ("brisa free data HTTP://SCAM.EXAMPLE", None, True),
    ("brisa free data www.scam.example", None, True),
    ("brisa free data, link in bio", None, False),
    ("brisa free data scam.example", None, False),  # a bare domain is not a link
    ("brisa free data", True, True),  # a source that knows of a link card says so
    ("brisa free https://x.example", False, False),
])
def test_has_link(text: str, links: bool | None, expected: bool):
    assert matches("brisa has:link", text, links=links) is expected


def test_a_match_names_the_first_term_it_matched_as_written():
    query = BrandQuery.parse('("Brisa Mobile" OR brisamobile) AND (Factura OR bill) NOT hiring')
    assert query.match("brisamobile bill") == "brisamobile"
    assert query.match("BRISA MOBILE factura") == "Brisa Mobile"
    assert query.match("brisa mobile hiring bill") is None
    assert BrandQuery.parse("lang:es AND NOT brisa").match("hola", lang="es") == "lang:es AND NOT brisa"


def test_explain_says_why_a_post_does_not_match():
    query = BrandQuery.parse("Brisa AND (bill OR billing) AND lang:es NOT (giveaway OR sorteo)")
    missing = query.explain(Post("Brisa billed me twice", lang="es"))
    assert not missing.matched and missing.reasons == ["none of bill, billing"] and missing.found == ["brisa"]
    excluded = query.explain(Post("Brisa bill sorteo", lang="es"))
    assert excluded.reasons == ["excluded by NOT (giveaway OR sorteo) (the post has sorteo)"]
    language = query.explain(Post("Brisa bill", lang="en"))
    assert language.reasons == ["lang:es but the post's lang is en"]
    unknown = query.explain(Post("Brisa bill"))
    assert unknown.reasons == ["lang:es but the post's lang is unknown"]
    several = query.explain(Post("hello", lang="en"))
    assert several.reasons == ["no brisa", "none of bill, billing", "lang:es but the post's lang is en"]
    assert query.explain(Post("Brisa bill", lang="es")).matched


def test_explain_and_matches_always_agree():
    queries = ["Brisa AND (bill OR billing) NOT giveaway", '"brisa mobile"~1 OR #brisa', "brisa* lang:es",
               "(a OR b) AND NOT (c AND d)", '@care OR "x y z"']
    texts = ["Brisa bill", "brisa mobile", "#brisa giveaway", "brisas", "a c d", "b c", "@care x y z", "x z y",
             "mobile a brisa", ""]
    for q in queries:
        compiled = BrandQuery.parse(q)
        for text in texts:
            for lang in ("es", None):
                post = Post(text, lang=lang)
                assert compiled.explain(post).matched == compiled.matches(post), (q, text, lang)
