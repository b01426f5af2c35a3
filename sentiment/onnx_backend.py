"""Run a BERT-family classifier through ONNX Runtime in int8: the fastest CPU path we measured.

Why: on 2 CPU cores the bundled 12-layer model scores ~1.5x more posts/s through ONNX
Runtime (fused attention, LayerNorm and GELU kernels + int8 per-channel weights, VNNI/AMX
where available) than through PyTorch dynamic int8, and several times more than float32
``transformers.pipeline``. PyTorch's dynamic int8 (per-tensor activation scales) lost up to
0.07 validation macro-F1.

Outliers stay float32: the few massive-activation channels in the inputs of the FFN (in and
out) and attention output projections are split off and multiplied in float32
(``sentiment.outliers``); the rest runs int8. Plain int8 cost French and German ~0.02
macro-F1; with the split every language Earshot targets is within 0.01 of float32 (model
card), for roughly 10-15% of the speed.

LayerNorm stays unfused: ONNX Runtime's fused ``SkipLayerNormalization`` CPU kernel took
~640 us where ``Add + Add + LayerNormalization`` took ~150 us (one 32x20x384 batch, 2
threads, onnxruntime 1.31), so it was a quarter of the model's time. The graph is built
without that fusion and the session is told not to redo it (``DISABLED_OPTIMIZERS``); on
the 2,000 benchmark posts the raw session went from 326-336 to 427-441 posts/s, with the
same distance from float32.

The int8 graph is too big to commit (~40 MB) and cheap to derive, so it is built on first use
from the unpacked model directory (export -> fuse -> quantize, ~30 s) and cached beside it
under an atomic rename, exactly like the unpacked weights. Needs ``onnxruntime`` and ``onnx``;
``available()`` says whether they import, and the scorer falls back to PyTorch otherwise.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["DISABLED_OPTIMIZERS", "ONNX_FILE", "available", "build_int8_onnx", "OnnxClassifier"]

# The name carries the recipe, so a cache built by an earlier recipe is not reused.
ONNX_FILE = "model.int8-outliers-layernorm.onnx"

# Session-time fusions that would make the graph slower (see the module docstring). ONNX
# Runtime ignores names it does not know, so a test checks that this one still takes effect.
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


def available() -> bool:
    """True when onnxruntime and onnx (needed to build the graph once) can be imported."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


def build_int8_onnx(model_dir: Path) -> Path:
    """Return ``model_dir/ONNX_FILE``, exporting, fusing and quantizing it first if missing."""
    final = Path(model_dir) / ONNX_FILE
    if final.is_file():
        return final
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    config = AutoConfig.from_pretrained(model_dir)
    # Eager attention exports as plain MatMul/Softmax, which ORT's optimizer fuses into one Attention op.
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager").eval()
    return export_int8(model, AutoTokenizer.from_pretrained(model_dir), config, "logits", final)


def export_int8(module: Any, tokenizer: Any, config: Any, output_name: str, final: Path) -> Path:
    """Export `module(input_ids, attention_mask)` to ONNX, fuse it, quantize it to int8 with its
    outlier channels kept in float32, and rename it into `final` atomically.

    One recipe for every BERT-family graph Earshot runs (the sentiment classifier, the themes
    encoder): it is what the module docstring measures.
    """
    import warnings

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    from sentiment.outliers import onnx_node_name, outlier_channels, split_outliers

    outliers = {onnx_node_name(name): found for name, found in outlier_channels(module, tokenizer).items()}
    tmp = Path(tempfile.mkdtemp(prefix=".onnx.", dir=final.parent))
    try:
        ids = torch.ones((2, 16), dtype=torch.long)
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, (ids, torch.ones_like(ids)), str(tmp / "fp32.onnx"),
                input_names=["input_ids", "attention_mask"], output_names=[output_name],
                dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                              output_name: {0: "batch"}},
                opset_version=17, dynamo=False,
            )
        fusions = FusionOptions("bert")
        fusions.enable_skip_layer_norm = fusions.enable_bias_skip_layer_norm = False
        fused = optimize_model(str(tmp / "fp32.onnx"), model_type="bert", num_heads=config.num_attention_heads,
                               hidden_size=config.hidden_size, optimization_options=fusions)
        keep_float = split_outliers(fused.model, outliers)
        fused.save_model_to_file(str(tmp / "fused.onnx"))
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantizer logs an unconditional "consider pre-processing" hint
        try:
            quantize_dynamic(str(tmp / "fused.onnx"), str(tmp / final.name), weight_type=QuantType.QInt8,
                             per_channel=True, nodes_to_exclude=keep_float,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        finally:
            root.setLevel(level)
        (tmp / final.name).chmod(0o644)
        try:
            os.rename(tmp / final.name, final)  # atomic: concurrent builders each install a complete file
        except OSError:
            if not final.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


class OnnxClassifier:
    """``logits(input_ids, attention_mask)`` on an int8 ONNX Runtime session."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        options.intra_op_num_threads = threads or cores
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Denormal floats take a slow microcode path on x86; flushing them to zero measured ~4%
        # more posts/s (341 vs 327 on the 2,000 benchmark posts) and cannot move a probability visibly.
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                            disabled_optimizers=list(DISABLED_OPTIMIZERS))

    def logits(self, input_ids: Sequence[Sequence[int]] | Any, attention_mask: Any) -> Any:
        """Numpy int64 arrays in, float32 logits (batch, labels) out."""
        return self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})[0]
