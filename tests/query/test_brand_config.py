"""`brands[].query` in the config, and the older `queries`/`exclude` lists translated into one."""

from __future__ import annotations

import pytest

from monitor.config import BrandConfig, ConfigError, parse_config


def config_error(brand: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config({"brands": [brand]})
    return str(caught.value)


def test_a_brand_has_a_query():
    brand = BrandConfig(name="Brisa", query="brisa AND (bill OR billing)")
    assert brand.query_text == "brisa AND (bill OR billing)"
    assert brand.match("my Brisa bill") == "brisa" and brand.match("pineapple brisas bill") is None


def test_the_older_lists_keep_working_with_whole_word_matching():
    brand = BrandConfig(name="Brisa", queries=["brisa mobile", "BrisaMobile"], exclude=["hiring"])
    assert brand.query_text == '("brisa mobile" OR "BrisaMobile") NOT "hiring"'
    assert brand.match("Brisa Mobile is down") == "brisa mobile"
    assert brand.match("#BrisaMobile down") == "brisa mobile"
    assert brand.match("Brisa Mobile is hiring") is None
    assert brand.match("Brisa Mobile rehiring") == "brisa mobile"  # exclusions are whole words too


def test_match_takes_what_the_source_knows_for_filters():
    brand = BrandConfig(name="Brisa", query="brisa lang:es -author:brisamobile")
    assert brand.match("brisa", lang="es", author="ana") == "brisa"
    assert brand.match("brisa", lang="es", author="BrisaMobile") is None
    assert brand.match("brisa", lang="en") is None


def test_a_query_error_names_the_key_and_the_position():
    message = config_error({"name": "B", "query": "brisa AND (bill OR"})
    assert message.startswith("<config>: brands.0.query: the query ends too early")
    assert "(at the end: brisa AND (bill OR»)" in message
    assert "brands.0.query: unknown field 'lnag'" in config_error({"name": "B", "query": "brisa lnag:es"})


@pytest.mark.parametrize(("brand", "message"), [
    ({"name": "B"}, "brands.0: give the brand a query"),
    ({"name": "B", "query": "a", "queries": ["b"]}, "brands.0: give either query or the older queries list"),
    ({"name": "B", "query": "a", "exclude": ["b"]}, "brands.0: with query, write exclusions in it"),
    ({"name": "B", "queries": []}, "brands.0.queries"),
    ({"name": "B", "queries": ["🔥"]}, "brands.0: '\"🔥\"' has no letters or digits"),
])
def test_a_brand_without_one_usable_query_is_a_config_error(brand: dict, message: str):
    assert message in config_error(brand)
