"""Score texts with any Hugging Face sequence-classification sentiment model, fast on a CPU.

One class covers the bundled model, a local checkpoint and any hub model id, because they
all load through ``AutoTokenizer`` + ``AutoModelForSequenceClassification`` and differ only
in how they name their labels (see ``sentiment.labels``). The output is always
``monitor.models.Sentiment`` with score = P(positive) - P(negative), so the rest of Earshot
never cares which model ran.

Why it is several times faster than ``transformers.pipeline`` on the same model (measured
by ``benchmarks/sentiment_throughput.py``):
- Texts are tokenized once, sorted by token count and cut into batches under a token
  budget, so a batch pads only to its own length. Small batches (<= 1,024 padded tokens)
  measured fastest on 2 cores: 390 posts/s vs 310 at 4,096 and 200 at 8,192 (they stay in cache;
  plain int8 graph, before outlier splitting). 640 tokens ran no faster than 1,024 through
  the scorer (2,000 benchmark posts, 4 interleaved runs each, graph with fused LayerNorm:
  326-341 vs 314-334 posts/s).
- int8: the bundled model runs through ONNX Runtime with fused attention and GELU kernels
  (LayerNorm deliberately unfused), int8 per-channel weights and outlier activation channels
  split off in float32 (``sentiment.onnx_backend``, ``sentiment.outliers``); its validation
  macro-F1 moves by at most 0.015 (model card). PyTorch
  dynamic int8 (per-tensor activations) lost up to 0.07 on the same splits, so without
  onnxruntime the bundled model runs in float32. Other models run in float32 unless
  ``quantize=True`` (PyTorch dynamic int8), because their accuracy in int8 is unmeasured.
- ``torch.inference_mode``, no per-text Python work beyond building one array per batch, and
  no torch op between ONNX Runtime calls (it would wake a second thread pool; see
  ``_label_probabilities``).
- The ONNX path imports neither torch nor transformers: the tokenizer transformers builds is
  saved once beside the model and run by ``tokenizers`` (the Rust library transformers' fast
  tokenizers wrap, so the same ids; a test compares them on the validation texts), and the
  labels come from ``config.json``. transformers' config module imports torch, which cost
  ~1.6 s and ~230 MB in every process that scores (each mapped Airflow scoring task): loading
  went from ~1.9 s to ~0.25 s and the loaded scorer's resident memory from ~385 MB to ~155 MB.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.models import Sentiment, SentimentLabel
from sentiment.backends import SentimentBackend
from sentiment.bundled import BUNDLED_MODEL_ID, bundled_model_dir
from sentiment.labels import canonical_labels

if TYPE_CHECKING:
    import torch

    from monitor.config import SentimentConfig

__all__ = ["SentimentBackend", "TransformerScorer", "load_scorer", "scorer_from_settings"]

_ORDER = (SentimentLabel.negative, SentimentLabel.neutral, SentimentLabel.positive)


def _quantize(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization of every Linear layer (weights int8 per channel, activations per batch)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice points to torchao; this API still works
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def pad_batch(ids: Sequence[Sequence[int]], pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Token id lists -> (input_ids, attention_mask) int64 arrays padded to the longest; shared with training."""
    width = max(len(x) for x in ids)
    input_ids = np.full((len(ids), width), pad, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, x in enumerate(ids):
        input_ids[row, : len(x)] = x
        mask[row, : len(x)] = 1
    return input_ids, mask


class TransformerScorer:
    """A sentiment classifier run locally on the CPU.

    ``model`` is ``"bundled"`` (the shipped default), a local directory, or a hub id that
    ``from_pretrained`` can resolve. ``batch_size`` caps texts per forward pass and
    ``max_batch_tokens`` caps padded tokens per pass (long texts go in smaller batches).
    ``quantize=None`` means: int8 (ONNX Runtime) for the bundled model, float32 for anything else.
    ``backend``: ``"onnx"`` (ONNX Runtime int8, the bundled model's default when onnxruntime
    is installed) or ``"torch"``. ``threads`` sets intra-op threads (default: one per core).
    """

    def __init__(
        self,
        model: str = "bundled",
        batch_size: int = 32,
        max_length: int = 128,
        *,
        quantize: bool | None = None,
        backend: str | None = None,
        max_batch_tokens: int = 1024,
        threads: int | None = None,
    ) -> None:
        if batch_size < 1 or max_length < 8 or max_batch_tokens < max_length:
            raise ValueError("batch_size must be >= 1, max_length >= 8 and max_batch_tokens >= max_length")
        if model == "bundled":
            source: str | Path = bundled_model_dir()
            self.model_id = BUNDLED_MODEL_ID
        else:
            source = model
            self.model_id = model
        self.batch_size = batch_size
        self.max_length = max_length
        self.max_batch_tokens = max_batch_tokens
        if quantize is None and backend is None:
            # int8 only where it is measured to keep macro-F1 (ONNX Runtime, per-channel weights):
            # PyTorch dynamic int8 costs the bundled model up to 0.07 macro-F1, so without
            # onnxruntime it runs in float32.
            from sentiment import onnx_backend

            quantize = model == "bundled" and onnx_backend.available()
        self.quantized = bool(quantize)
        if backend is None:
            backend = "onnx" if self.quantized and model == "bundled" else "torch"
        if backend not in ("onnx", "torch"):
            raise ValueError(f"backend must be 'onnx' or 'torch', not {backend!r}")
        if backend == "onnx" and not self.quantized:
            raise ValueError("the onnx backend runs int8 only; use backend='torch' for float32")
        self.backend = backend
        self.model: torch.nn.Module | None = None
        self._onnx = None
        if backend == "onnx":
            from sentiment.onnx_backend import OnnxClassifier, build_int8_onnx

            if not Path(source).is_dir():
                raise ValueError("the onnx backend needs a local model directory")
            onnx_file = build_int8_onnx(Path(source))  # builds it on first use (that one time with torch)
            self._encode, self._pad = _directory_tokenizer(Path(source), max_length)
            id2label = _labels(Path(source))
            self._onnx = OnnxClassifier(onnx_file, threads=threads)
        else:
            import torch
            from transformers import AutoModelForSequenceClassification

            if threads:
                torch.set_num_threads(threads)
            self._encode, self._pad = _hf_tokenizer(source, max_length)
            net = AutoModelForSequenceClassification.from_pretrained(source)
            net.eval()
            id2label = net.config.id2label
            self.model = _quantize(net) if self.quantized else net
        mapping = canonical_labels(id2label, model=self.model_id)
        # The model outputs that make up each canonical label (neg, neu, pos), summed after softmax.
        self._groups = [[i for i, label in mapping.items() if label is canonical] for canonical in _ORDER]
        self._lock = threading.Lock()  # quantized modules are not documented as thread-safe

    def __repr__(self) -> str:
        return f"TransformerScorer(model_id={self.model_id!r}, backend={self.backend!r}, quantized={self.quantized})"

    def _batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Indices sorted by token count, cut when a batch would exceed ``batch_size`` or the token budget."""
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            # Sorted ascending, so this text is the longest in the batch: width = its length.
            if current and (len(current) >= self.batch_size or (len(current) + 1) * lengths[i] > self.max_batch_tokens):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        """Return an (n, 3) tensor of P(negative), P(neutral), P(positive) in input order.

        Blank texts (empty or whitespace) are certainly neutral without asking the model:
        a model fed only its special tokens returns an arbitrary lean that must not feed alerts.
        """
        import torch

        return torch.from_numpy(self._probabilities(texts))

    def _probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """`probabilities` as a numpy array: what `score` reads, so the ONNX path never needs torch."""
        texts = [t if isinstance(t, str) else "" for t in texts]
        out = np.zeros((len(texts), len(_ORDER)), dtype=np.float32)
        out[:, _ORDER.index(SentimentLabel.neutral)] = 1.0
        live = [i for i, t in enumerate(texts) if t.strip()]
        if not live:
            return out
        ids = self._encode([texts[i] for i in live])
        with self._lock:
            for batch in self._batches([len(x) for x in ids]):
                input_ids, mask = pad_batch([ids[j] for j in batch], self._pad)
                out[[live[j] for j in batch]] = self._label_probabilities(self._logits(input_ids, mask))
        return out

    def _logits(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.logits(input_ids, mask)
        import torch

        assert self.model is not None
        with torch.inference_mode():
            logits = self.model(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(mask)).logits
        return logits.float().numpy()

    def _label_probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Softmax, then the outputs of each canonical label summed: (batch, 3).

        In numpy, not torch: on the ONNX path a torch op between two session runs wakes
        torch's own thread pool, whose spinning threads then compete with ONNX Runtime's for
        the same cores (the benchmark's scorer ran 289-306 posts/s with torch's pool, 332-338
        with it held to one thread).
        """
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
        return np.stack([p[:, group].sum(axis=-1) for group in self._groups], axis=-1)

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """Score many texts at once; emoji-only or huge texts are fine (truncated), blank ones are neutral."""
        if not texts:
            return []
        results = []
        for neg, neu, pos in self._probabilities(texts).tolist():
            value = max(-1.0, min(1.0, pos - neg))
            label = _ORDER[max(range(3), key=lambda j: (neg, neu, pos)[j])]
            results.append(Sentiment(label=label, score=value, model=self.model_id))
        return results

    def score_one(self, text: str) -> Sentiment:
        """Convenience for a single text (batches are much faster for many)."""
        return self.score([text])[0]


Encode = Callable[[list[str]], list[list[int]]]  # texts -> token ids, truncated, special tokens added, unpadded


def _hf_tokenizer(source: str | Path, max_length: int) -> tuple[Encode, int]:
    """Any model's tokenizer, through transformers (which imports torch)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)

    def encode(texts: list[str]) -> list[list[int]]:
        return tokenizer(texts, truncation=True, max_length=max_length, padding=False)["input_ids"]

    return encode, tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def _directory_tokenizer(model_dir: Path, max_length: int) -> tuple[Encode, int]:
    """A local model's tokenizer as transformers runs it, without importing transformers.

    transformers does not run a model's `tokenizer.json` as written: it rebuilds some tokenizers
    from their class (XLM-R's splits on every whitespace and drops trailing spaces, which the
    file does not), so the model was trained and measured on transformers' pipeline. That
    pipeline is saved once beside the model, named by the installed transformers version (an
    upgrade writes it afresh), and read here by `tokenizers`: the same Rust tokenizer with the
    same settings as `_hf_tokenizer` (truncation on the right at `max_length`, special tokens
    added, no padding). A directory that cannot be written goes through transformers."""
    from importlib.metadata import version

    from tokenizers import Tokenizer

    path = model_dir / f"tokenizer.transformers-{version('transformers')}.json"
    if not path.is_file():
        from transformers import AutoTokenizer

        hf = AutoTokenizer.from_pretrained(model_dir)
        if not hf.is_fast:
            return _hf_tokenizer(model_dir, max_length)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(hf.backend_tokenizer.to_str(), encoding="utf-8")
            tmp.replace(path)  # atomic: a concurrent process reads the whole file or none
        except OSError:  # a read-only model directory
            tmp.unlink(missing_ok=True)
            return _hf_tokenizer(model_dir, max_length)
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)

    def encode(texts: list[str]) -> list[list[int]]:
        return [e.ids for e in tokenizer.encode_batch(texts)]

    return encode, _pad_id(model_dir, tokenizer)


def _pad_id(model_dir: Path, tokenizer: Any) -> int:
    """The pad token's id, from the tokenizer settings saved with the model (0 when none is named):
    transformers keeps it there, not in the tokenizer pipeline it saves."""
    settings_file = model_dir / "tokenizer_config.json"
    settings = json.loads(settings_file.read_text(encoding="utf-8")) if settings_file.is_file() else {}
    token = settings.get("pad_token")
    if isinstance(token, dict):  # saved as an AddedToken
        token = token.get("content")
    found = tokenizer.token_to_id(token) if isinstance(token, str) else None
    return found if found is not None else 0


def _labels(model_dir: Path) -> dict[int, str]:
    """The model's output labels from its `config.json` (what `AutoConfig(...).id2label` gives)."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    raw = config.get("id2label") or {str(i): f"LABEL_{i}" for i in range(int(config.get("num_labels", 2)))}
    return {int(k): v for k, v in raw.items()}


_CACHE: dict[tuple[str, tuple[tuple[str, Any], ...]], TransformerScorer] = {}
_LOCK = threading.Lock()


def scorer_from_settings(settings: SentimentConfig) -> TransformerScorer:
    """The `transformer` backend's factory (sentiment/backends.py): the shared scorer for the `sentiment` section."""
    return load_scorer(settings.model, batch_size=settings.batch_size, max_length=settings.max_length)


def load_scorer(model: str = "bundled", **kw: Any) -> TransformerScorer:
    """Return a process-wide shared scorer, so a worker loads each model once, not per task."""
    key = (model, tuple(sorted(kw.items())))
    with _LOCK:
        scorer = _CACHE.get(key)
        if scorer is None:
            scorer = _CACHE[key] = TransformerScorer(model, **kw)
        return scorer
