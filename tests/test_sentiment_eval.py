"""Evaluation, lexicon baselines, metrics, language identification and the `sentiment` CLI.

Everything runs offline on tiny inputs: a random 2-layer BERT with the bundled tokenizer
stands in for a real model, the AFINN baseline gets an injected word list, and JSONL files
are written to a temp dir. The shared validation data is only used by the test marked as
needing it, which skips when ``../shared`` is absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sentiment.metrics import confusion, scores
from sentiment_helpers import tiny_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")


# ---------------------------------------------------------------- metrics


def test_scores_match_hand_computed_values():
    gold = [0, 0, 1, 1, 2, 2]
    pred = [0, 1, 1, 1, 2, 0]
    s = scores(gold, pred)
    assert s["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["macro_recall"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    f1 = [2 * 0.5 * 0.5 / 1.0, 2 * (2 / 3) * 1 / (2 / 3 + 1), 2 * 1 * 0.5 / 1.5]
    assert s["macro_f1"] == pytest.approx(sum(f1) / 3)


def test_scores_skip_classes_absent_from_gold():
    s = scores([0, 2, 2], [0, 2, 1])
    assert s["macro_recall"] == pytest.approx((1 + 0.5) / 2)


def test_confusion_rejects_length_mismatch():
    with pytest.raises(ValueError):
        confusion([0, 1], [0])


# ---------------------------------------------------------------- lexicons


def test_afinn_sums_words_phrases_and_negation():
    from sentiment.lexicon import AfinnBaseline

    afinn = AfinnBaseline("xx", words={"bagus": 3, "buruk": -3, "air mata": -2, "😡": -2}, negators=["tidak"])
    assert afinn.value("Bagus sekali") == 3
    assert afinn.value("tidak bagus") == -3
    assert afinn.value("ada air mata") == -2
    assert afinn.value("😡😡") == -4
    assert afinn.predict(["bagus", "biasa saja", "buruk", ""]) == [2, 1, 0, 1]


def test_vader_baseline_thresholds():
    pytest.importorskip("vaderSentiment")
    from sentiment.lexicon import VaderBaseline

    assert VaderBaseline().predict(["I love it, wonderful!", "The store opens at 9.", "Terrible, I hate it"]) == [2, 1, 0]


# ---------------------------------------------------------------- language identification


def test_detect_languages_on_short_posts():
    from sentiment.langid import detect_languages

    texts = [
        "The app keeps crashing and support never answers my emails",
        "El servicio al cliente es pésimo, nadie me responde desde ayer",
        "Pelayanannya buruk sekali, pulsa saya hilang terus tanpa alasan",
        "", "😡😡😡", "https://example.com/a/b?c=1", "@brisa_mobile", None,
    ]
    assert detect_languages(texts) == ["en", "es", "id", None, None, None, None, None]


def test_detect_languages_respects_the_candidate_set():
    from sentiment.langid import detect_languages

    assert detect_languages(["Pelayanannya buruk sekali, pulsa saya hilang"], languages=["en", "es"])[0] in ("en", "es", None)
    with pytest.raises(ValueError, match="zz"):
        detect_languages(["hello"], languages=["en", "zz"])


def test_detect_languages_long_text():
    from sentiment.langid import detect_languages

    assert detect_languages(["refund now please " * 600]) == ["en"]


# ---------------------------------------------------------------- evaluation with a tiny model


@pytest.fixture(scope="module")
def xlmr_like_model(tmp_path_factory) -> Path:
    """Same label shape as cardiffnlp/twitter-xlm-roberta-base-sentiment (LABEL_0..2)."""
    return tiny_model(tmp_path_factory.mktemp("xlmr"), {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [
    {"text": "I love it", "label": "positive", "lang": "en"},
    {"text": "awful, never again", "label": "negative", "lang": "en"},
    {"text": "opens at nine", "label": "neutral", "lang": "en"},
    {"text": "me encanta", "label": "positive", "lang": "es"},
    {"text": "pésimo servicio", "label": "negative", "lang": "es"},
]


@pytest.mark.slow
def test_evaluate_groups_by_language_and_reports_json(tmp_path, xlmr_like_model):
    from sentiment.evaluate import evaluate, format_report, load_groups
    from sentiment.lexicon import AfinnBaseline
    from sentiment.scorer import TransformerScorer

    groups = load_groups([_jsonl(tmp_path / "mixed.jsonl", ROWS)])
    assert [(g.name, len(g.rows)) for g in groups] == [("mixed[en]", 3), ("mixed[es]", 2)]
    scorer = TransformerScorer(str(xlmr_like_model))
    report = evaluate(groups, scorer, baselines=False)
    json.dumps(report)  # machine-readable as is
    en = report["groups"][0]["results"][str(xlmr_like_model)]
    assert sum(map(sum, en["confusion"])) == 3 and 0 <= en["macro_f1"] <= 1
    text = format_report(report)
    assert "mixed[en]" in text and "Confusion" in text
    # Baselines plug in per group.
    groups[0].results.clear()
    groups[0].results["afinn-en"] = scores([0], AfinnBaseline("en", words={"awful": -3}, negators=[]).predict(["awful"]))
    assert groups[0].results["afinn-en"]["accuracy"] == 1.0


def test_read_jsonl_rejects_unknown_labels(tmp_path):
    from sentiment.data import read_jsonl

    path = _jsonl(tmp_path / "bad.jsonl", [{"text": "x", "label": "angry", "lang": "en"}])
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        read_jsonl(path)


@pytest.mark.slow
def test_cli_evaluate_json_on_a_local_model(tmp_path, xlmr_like_model):
    from typer.testing import CliRunner

    from sentiment.cli import app

    data = _jsonl(tmp_path / "val.jsonl", ROWS)
    result = CliRunner().invoke(app, ["evaluate", str(data), "--model", str(xlmr_like_model), "--json", "--no-baselines"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] == str(xlmr_like_model)
    assert {g["name"] for g in report["groups"]} == {"val[en]", "val[es]"}
    assert set(report["groups"][0]["results"][str(xlmr_like_model)]) >= {"macro_f1", "macro_recall", "accuracy", "confusion"}


def test_cli_detect_language():
    from typer.testing import CliRunner

    from sentiment.cli import app

    result = CliRunner().invoke(app, ["detect-language", "Pelayanannya buruk sekali, pulsa saya hilang terus", "😡"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["id\tPelayanannya buruk sekali, pulsa saya hilang terus", "?\t😡"]


def test_cli_evaluate_without_data_fails_cleanly(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from sentiment.cli import app

    monkeypatch.setenv("EARSHOT_SHARED_DATA", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(app, ["evaluate"])
    assert result.exit_code == 2
    assert "EARSHOT_SHARED_DATA" in result.output
