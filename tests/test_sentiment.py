"""Tests for the sentiment package.

Label mapping is tested without any model. Scorer behaviour is tested on tiny random BERTs
built in a temp dir with the config shapes of cardiffnlp's checkpoints (named labels as in
twitter-roberta-base-sentiment-latest, LABEL_n as in twitter-xlm-roberta-base-sentiment), so
no network and no shared data are needed. Slow tests check the bundled model on obvious
English, Spanish and Indonesian, and that it loads with neither network nor shared data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sentiment_helpers import tiny_model

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
        "import sys, sentiment, sentiment.labels, sentiment.bundled, sentiment.langid, sentiment.cli, "
        "sentiment.evaluate, sentiment.lexicon, sentiment.packing; "
        "print('torch' in sys.modules or 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- tiny local models


def _tiny_model(path: Path, id2label: dict[int, str]) -> Path:
    """A random 2-layer BERT with the bundled (XLM-R style) tokenizer and the given label names."""
    return tiny_model(path, id2label)


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
def test_star_rating_model_sums_its_stars_into_three_labels(tmp_path):
    """A 5-output model (nlptown-style stars): P(negative) is P(1 star) + P(2 stars), and so on."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from sentiment.scorer import TransformerScorer

    stars = {i: f"{i + 1} star" + ("s" if i else "") for i in range(5)}
    path = _tiny_model(tmp_path / "stars", stars)
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModelForSequenceClassification.from_pretrained(path)
    with torch.inference_mode():
        p = torch.softmax(model(**tokenizer(TEXTS[:4], padding=True, return_tensors="pt")).logits, dim=-1)
    expected = torch.stack([p[:, 0] + p[:, 1], p[:, 2], p[:, 3] + p[:, 4]], dim=-1)
    got = TransformerScorer(str(path)).probabilities(TEXTS[:4])
    assert got.tolist() == [pytest.approx(row, abs=1e-5) for row in expected.tolist()]


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
@pytest.mark.parametrize(
    "negative, positive",
    [
        ("This is the worst service ever, they charged me twice and nobody helps",
         "Absolutely love this, the staff were wonderful and it works perfectly. Thank you!"),
        ("El servicio es pésimo, me cobraron dos veces y nadie responde",
         "¡Me encanta! La atención fue excelente y todo funciona perfecto, gracias"),
        ("Pelayanannya buruk sekali, pulsa saya dipotong dua kali dan tidak ada yang membantu",
         "Mantap sekali, pelayanannya ramah dan sinyalnya kencang, terima kasih!"),
    ],
)
def test_bundled_model_on_obvious_posts(bundled_scorer, negative, positive):
    neg, pos = bundled_scorer.score([negative, positive])
    assert bundled_scorer.model_id == "earshot-e5-sentiment-v3"
    assert neg.label == NEG and neg.score < -0.3
    assert pos.label == POS and pos.score > 0.3
    assert neg.model == "earshot-e5-sentiment-v3"


@pytest.mark.slow
def test_bundled_int8_agrees_with_float32(bundled_scorer):
    """The scorer serves the bundled model in int8; it must tell the same story as float32."""
    from sentiment.scorer import TransformerScorer

    texts = TEXTS + ["Sinyal hilang lagi", "Gracias por la ayuda", "meh", "Mi factura llegó duplicada"]
    fp32 = TransformerScorer(quantize=False)
    assert bundled_scorer.quantized and not fp32.quantized
    a, b = bundled_scorer.probabilities(texts), fp32.probabilities(texts)
    assert float((a - b).abs().max()) < 0.15
    for pa, pb in zip(a.tolist(), b.tolist()):
        top = sorted(pb, reverse=True)
        if top[0] - top[1] > 0.1:  # a near-tie may flip; a clear answer must not
            assert pa.index(max(pa)) == pb.index(max(pb))


@pytest.mark.slow
def test_bundled_dir_loads_with_plain_transformers(bundled_scorer):
    """The unpacked cache directory is an ordinary checkpoint: Auto* classes and pipeline() load it."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from sentiment.bundled import bundled_model_dir

    path = bundled_model_dir()
    model = AutoModelForSequenceClassification.from_pretrained(path)
    assert model.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    assert AutoTokenizer.from_pretrained(path)("hola")["input_ids"][0] == 0
    out = pipeline("sentiment-analysis", model=str(path))(["I hate this", "I love this"])
    assert [o["label"] for o in out] == ["negative", "positive"]


@pytest.mark.slow
def test_bundled_model_loads_offline_without_shared_data(tmp_path, bundled_scorer):
    """A fresh process with no network access allowed and no ../shared can score with the committed model.

    It reuses the module's cache (unpacked weights + int8 graph, built offline by the fixture)
    to keep the suite fast; the fixture itself started from an empty cache.
    """
    code = (
        "import sys; from sentiment.scorer import TransformerScorer; "
        "print(TransformerScorer().score(['terrible, I want a refund'])[0].label.value, "
        "'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               EARSHOT_SHARED_DATA=str(tmp_path / "no-shared-data"), HF_HOME=str(tmp_path / "hf"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         cwd=str(Path(__file__).resolve().parent.parent))
    # Scored through ONNX Runtime without importing torch or transformers (seconds and hundreds
    # of megabytes in every scoring process; their graph was built once, by the fixture).
    assert out.stdout.strip().splitlines()[-1] == "negative False False"


@pytest.mark.slow
def test_the_onnx_path_tokenizes_exactly_as_transformers_does(bundled_scorer):
    """The ONNX path runs the tokenizer with `tokenizers` instead of AutoTokenizer: the ids must be
    transformers' own (the model was trained and measured on them), truncation and special
    tokens included, in every language, trailing and repeated spaces too."""
    from sentiment.bundled import bundled_model_dir
    from sentiment.data import read_jsonl, shared_sentiment_dir
    from sentiment.scorer import _directory_tokenizer, _hf_tokenizer

    texts = [t for t in TEXTS if t.strip()] + [
        "¡Pésimo servicio! Llevo 3 días sin internet @Movistar_ES #fail",
        "Kecewa banget sama layanannya, udah 2 minggu paket belum sampai 😤😤",
        "RT @someone: the app crashes on login https://t.co/abc123 ...",
        "Ça ne marche pas — encore une panne ‼️", "中文测试 服务太差了", "x" * 5000, "a b " * 400,
        "trailing spaces   ", "  tabs\tand\nnew lines  ", "double  spaces  inside",
    ]
    shared = shared_sentiment_dir()
    if shared is not None:  # and the real mix, when the shared data is here
        for path in sorted(shared.glob("*_val.jsonl")):
            texts += [e.text for e in read_jsonl(path)[:200]]
    model_dir = bundled_model_dir()
    ours, our_pad = _directory_tokenizer(model_dir, 128)
    theirs, their_pad = _hf_tokenizer(model_dir, 128)
    assert our_pad == their_pad
    assert ours(texts) == theirs(texts)
    assert max(len(ids) for ids in ours(texts)) == 128


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
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in first.iterdir()}
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


@pytest.fixture(scope="module")
def model_with_outlier(tmp_path_factory) -> Path:
    """The tiny model with one planted massive activation: channel 5 of layer 0's GELU output."""
    import torch
    from transformers import AutoModelForSequenceClassification

    path = tiny_model(tmp_path_factory.mktemp("outlier"), {0: "negative", 1: "neutral", 2: "positive"})
    model = AutoModelForSequenceClassification.from_pretrained(path)
    with torch.no_grad():
        model.bert.encoder.layer[0].intermediate.dense.bias[5] = 60.0
    model.save_pretrained(path)
    return path


def test_outlier_channels_finds_a_planted_massive_activation(model_with_outlier):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from sentiment.outliers import outlier_channels

    model = AutoModelForSequenceClassification.from_pretrained(model_with_outlier).eval()
    found = outlier_channels(model, AutoTokenizer.from_pretrained(model_with_outlier))
    assert found.get("bert.encoder.layer.0.output.dense") == [5]
    assert all(5 not in channels for name, channels in found.items() if ".layer.0." not in name)


def test_onnx_node_names_follow_the_module_path():
    from sentiment.outliers import onnx_node_name

    assert onnx_node_name("bert.encoder.layer.4.output.dense") == "/bert/encoder/layer.4/output/dense/MatMul"
    assert onnx_node_name("roberta.encoder.layer.11.output.dense") == "/roberta/encoder/layer.11/output/dense/MatMul"


def test_splitting_outliers_off_gives_the_same_product():
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from sentiment.outliers import split_outliers

    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="/l/output/dense/MatMul")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, 3])],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    keep = split_outliers(model, {"/l/output/dense/MatMul": [1, 4]})
    assert keep == ["/l/output/dense/MatMul/outlier_matmul"]
    x = rng.normal(size=(2, 3, 6)).astype(np.float32)
    x[..., 4] *= 100
    y = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(["y"], {"x": x})[0]
    assert np.allclose(y, x @ w, rtol=1e-5, atol=1e-3)


@pytest.fixture(scope="module")
def int8_model_dir(model_with_outlier, tmp_path_factory) -> Path:
    """A copy of the outlier model with its int8 graph built beside it, as the scorer builds it."""
    from sentiment.onnx_backend import build_int8_onnx

    work = tmp_path_factory.mktemp("int8") / "model"
    shutil.copytree(model_with_outlier, work)
    build_int8_onnx(work)
    return work


def test_onnx_session_keeps_layernorm_unfused(int8_model_dir, tmp_path):
    """ONNX Runtime's fused SkipLayerNormalization is ~4x slower on CPU, and it silently ignores
    disabled optimizer names it does not know: check the fusion really stays off in the session."""
    import onnx
    import onnxruntime as ort

    from sentiment.onnx_backend import DISABLED_OPTIMIZERS, ONNX_FILE

    built = int8_model_dir / ONNX_FILE

    def session_ops(disabled: list[str]) -> set[str]:
        options = ort.SessionOptions()
        options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
        ort.InferenceSession(str(built), options, providers=["CPUExecutionProvider"], disabled_optimizers=disabled)
        return {n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node}

    assert "SkipLayerNormalization" in session_ops([])  # what ONNX Runtime would do by default
    assert "SkipLayerNormalization" not in session_ops(list(DISABLED_OPTIMIZERS))


def test_int8_graph_keeps_outliers_in_float32_and_matches_torch(int8_model_dir):
    import onnx

    from sentiment.onnx_backend import ONNX_FILE, build_int8_onnx
    from sentiment.scorer import TransformerScorer

    work = int8_model_dir
    graph = onnx.load(str(build_int8_onnx(work))).graph
    float_matmuls = [n.name for n in graph.node if n.op_type == "MatMul"]
    assert "/bert/encoder/layer.0/output/dense/MatMul/outlier_matmul" in float_matmuls
    assert all(name.endswith("/outlier_matmul") for name in float_matmuls)
    assert sum(n.op_type in ("MatMulInteger", "DynamicQuantizeMatMul") for n in graph.node) >= 4
    assert (work / ONNX_FILE).is_file()
    assert "LayerNormalization" in {n.op_type for n in graph.node}
    assert "SkipLayerNormalization" not in {n.op_type for n in graph.node}
    int8 = TransformerScorer(str(work), quantize=True, backend="onnx").probabilities(TEXTS)
    fp32 = TransformerScorer(str(work), quantize=False, backend="torch").probabilities(TEXTS)
    assert float((int8 - fp32).abs().max()) < 0.1



@pytest.mark.slow
def test_a_model_directory_it_cannot_write_tokenizes_through_transformers(tmp_path, bundled_scorer, monkeypatch):
    """Nowhere to save the tokenizer (a read-only mount): the ids come from transformers itself,
    and no half-written file is left behind."""
    import pathlib
    import shutil

    from sentiment.bundled import bundled_model_dir
    from sentiment.scorer import _directory_tokenizer, _hf_tokenizer

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (bundled_model_dir() / name).is_file():
            shutil.copy(bundled_model_dir() / name, model_dir / name)
    before = sorted(p.name for p in model_dir.iterdir())
    real_replace = pathlib.Path.replace

    def read_only(self, target):
        if pathlib.Path(target).parent == model_dir:
            raise PermissionError(13, "Read-only file system", str(target))
        return real_replace(self, target)

    monkeypatch.setattr(pathlib.Path, "replace", read_only)
    encode, pad = _directory_tokenizer(model_dir, 32)
    theirs, their_pad = _hf_tokenizer(model_dir, 32)
    texts = ["trailing spaces   ", "hola " * 50, "  tabs\tand\nnew lines  "]
    assert encode(texts) == theirs(texts)
    assert max(len(ids) for ids in encode(texts)) == 32
    assert pad == their_pad
    assert sorted(p.name for p in model_dir.iterdir()) == before
