"""The hand-labelled set of benchmarks/query_match.py: every label holds, and the set is what it claims."""

from __future__ import annotations

from benchmarks.query_match import load, main, post_of


def test_the_set_has_300_texts_in_english_spanish_and_indonesian_with_tricky_cases():
    queries, texts = load()
    assert len(texts) >= 300 and len(queries) >= 8
    langs = {(t.get("lang") or "").split("-")[0].lower() for t in texts}
    assert {"en", "es", "id"} <= langs
    assert sum(1 for t in texts if (t.get("lang") or "").lower().startswith(("en", "es", "id"))) >= 300
    cases = {t["case"] for t in texts}
    assert {"substring", "accent", "hashtag", "handle", "emoji", "negation", "other_brand", "other_meaning",
            "wildcard", "proximity", "lang", "source", "author", "country"} <= cases
    assert all(t["q"] in queries for t in texts)


def test_every_label_holds(tmp_path):
    queries, texts = load()
    wrong = [(t["q"], t["text"]) for t in texts if queries[t["q"]].matches(post_of(t)) != t["match"]]
    assert wrong == []


def test_the_benchmark_prints_and_writes_its_figures(tmp_path, capsys):
    out = tmp_path / "query_match.json"
    result = main(["--seconds", "0.05", "--json", str(out)])
    assert result["precision"] == 1.0 and result["recall"] == 1.0 and result["texts_per_s"] > 0
    printed = capsys.readouterr().out
    assert "precision  1.000" in printed and "recall     1.000" in printed and "texts_per_s" in printed
    assert {"precision", "recall", "texts_per_s"} <= set(__import__("json").loads(out.read_text()))
