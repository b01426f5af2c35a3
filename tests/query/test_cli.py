"""`earshot query test|compile` and `earshot check-config` on brand queries."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import demo_config_path

runner = CliRunner()


def write_config(tmp_path: Path, brands: list[dict], sources: dict | None = None) -> Path:
    path = tmp_path / "earshot.yaml"
    path.write_text(yaml.safe_dump({"brands": brands, "sources": sources or {"replay": {}},
                                    "store": {"path": str(tmp_path / "e.db")}}))
    return path


BRISA = {"name": "Brisa Mobile", "query": 'Brisa AND (bill OR billing) NOT giveaway lang:(es OR en)'}


def test_query_test_says_per_text_whether_it_matches_and_why_not(tmp_path: Path):
    config = write_config(tmp_path, [BRISA, {"name": "Other", "queries": ["other"]}])
    result = runner.invoke(app, ["query", "test", "--config", str(config), "--brand", "brisa mobile", "--lang", "es",
                                 "My Brisa bill is wrong", "Brisa billed me twice", "brisa bill #giveaway"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Brisa Mobile: brisa AND (bill OR billing) AND NOT giveaway")
    assert "✓ match" in lines[1] and "found brisa, bill" in lines[1]
    assert "✗ no match" in lines[2] and "why: none of bill, billing" in lines[3]
    assert "why: excluded by NOT giveaway (the post has giveaway)" in result.output
    assert lines[-1] == "1 of 3 match"


def test_query_test_json(tmp_path: Path):
    config = write_config(tmp_path, [BRISA])
    result = runner.invoke(app, ["query", "test", "-c", str(config), "--json", "Brisa bill", "Brisa bill"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["brand"] == "Brisa Mobile" and body["query"] == BRISA["query"]
    first = body["results"][0]
    assert (first["text"], first["matched"], first["found"]) == ("Brisa bill", False, ["brisa", "bill"])
    assert first["why_not"] == ["none of the alternatives: lang:es but the post's lang is unknown; "
                                             "or lang:en but the post's lang is unknown"]


def test_query_test_reads_texts_from_stdin_and_tries_an_unsaved_query():
    result = runner.invoke(app, ["query", "test", "--query", '"brisa mobile"'], input="#BrisaMobile down\nbrisas\n")
    assert result.exit_code == 0, result.output
    assert "✓ match     #BrisaMobile down" in result.output and "✗ no match  brisas" in result.output


def test_an_unsaved_query_with_an_error_names_its_position():
    result = runner.invoke(app, ["query", "test", "--query", "brisa AND OR bill", "x"])
    assert result.exit_code == 2
    assert "--query: OR needs something on both sides (or after NOT) (at character 11: brisa AND »OR bill)" in \
        result.output


def test_an_unknown_brand_lists_the_brands(tmp_path: Path):
    config = write_config(tmp_path, [BRISA])
    result = runner.invoke(app, ["query", "test", "-c", str(config), "--brand", "Nope", "x"])
    assert result.exit_code == 2 and "no brand 'Nope' in the config; its brands are: Brisa Mobile" in result.output


def test_query_compile_prints_what_each_platform_is_sent(tmp_path: Path):
    config = write_config(tmp_path, [BRISA], {"replay": {}, "x": {"languages": ["es"]}})
    result = runner.invoke(app, ["query", "compile", "-c", str(config), "--brand", "Brisa Mobile", "--json"])
    assert result.exit_code == 0, result.output
    platforms = json.loads(result.output)["platforms"]
    assert platforms["x"]["searches"] == ['("Brisa" ("bill" OR "billing") -"giveaway" (lang:es OR lang:en)) '
                                          '-is:retweet lang:es']
    assert platforms["x"]["configured"] is True and platforms["reddit"]["configured"] is False
    assert platforms["reddit"]["searches"] == ['"Brisa" AND ("bill" OR "billing")']
    assert platforms["bluesky"]["searches"] == ["Brisa bill lang:es", "Brisa bill lang:en", "Brisa billing lang:es",
                                                "Brisa billing lang:en"]
    assert platforms["mastodon"]["searches"][0] == "Brisa bill language:es -giveaway"
    text = runner.invoke(app, ["query", "compile", "-c", str(config), "--brand", "Brisa Mobile"])
    assert "x (configured): 1 search" in text.output and "bluesky: 4 searches" in text.output


def test_query_compile_says_when_a_platform_cannot_be_searched():
    result = runner.invoke(app, ["query", "compile", "--query", "br* lang:es"])
    assert result.exit_code == 0
    assert "x: cannot be searched:" in result.output and "nothing x can search for" in result.output


def test_check_config_shows_each_brands_query_and_the_position_of_an_error(tmp_path: Path):
    ok = runner.invoke(app, ["check-config", str(write_config(tmp_path, [BRISA, {"name": "Old", "queries": ["a b"],
                                                                                 "exclude": ["c"]}]))])
    assert ok.exit_code == 0, ok.output
    assert "brand Brisa Mobile: query brisa AND (bill OR billing) AND NOT giveaway AND (lang:es OR lang:en)" in ok.output
    assert 'brand Old: queries/exclude, read as "a b" AND NOT c' in ok.output
    bad = runner.invoke(app, ["check-config", str(write_config(tmp_path, [{"name": "B", "query": "brisa AND (bill"}]))])
    assert bad.exit_code == 2
    assert "brands.0.query: the query ends too early" in bad.output and "(at the end: brisa AND (bill»)" in bad.output


def test_check_config_fails_a_query_an_enabled_source_cannot_search(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("EARSHOT_X_BEARER_TOKEN", "t")
    config = write_config(tmp_path, [{"name": "B", "query": "br* lang:es"}], {"x": {}})
    result = runner.invoke(app, ["check-config", str(config)])
    assert result.exit_code == 2
    assert "brands.0.query: sources.x cannot search for it: nothing x can search for" in result.output


def test_the_demo_config_uses_the_query_form():
    demo = yaml.safe_load(demo_config_path().read_text())
    assert "query" in demo["brands"][0] and "queries" not in demo["brands"][0]
    result = runner.invoke(app, ["query", "test", "--brand", "Brisa Mobile", "Brisa Mobile is hiring",
                                 "#BrisaMobile sin señal"])
    assert result.exit_code == 0 and "1 of 2 match" in result.output


def test_check_config_fails_a_source_filter_naming_no_installed_source(tmp_path: Path):
    result = runner.invoke(app, ["check-config", str(write_config(tmp_path, [{"name": "B", "query": "b -source:twiter"}]))])
    assert result.exit_code == 2
    assert "brands.0.query: source:twiter names no installed source (appstore, bluesky" in result.output
