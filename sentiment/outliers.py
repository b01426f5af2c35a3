"""Keep int8 accurate where BERT's activations have outliers: split them off in float32.

Why: in trained BERTs one or a few channels of a projection's input carry "massive
activations" (in the bundled model up to 70 where the others stay under 6: the GELU output
feeding each FFN output projection, the LayerNorm output feeding each FFN input). ONNX
Runtime's dynamic int8 gives a whole activation tensor one scale, so that one channel
squeezes every other channel into a few int8 steps; quantized as is, the bundled model lost
~0.02 macro-F1 in French and German.

The fix is the decomposition of LLM.int8() (Dettmers et al., 2022): ``x @ W`` becomes
``(x * mask) @ W`` in int8, with the outlier channels zeroed, plus ``x[..., outliers] @
W[outliers]`` in float32, a few columns wide. The outliers sit in the same channels for
every input (Sun et al., 2024, "Massive activations"), so a handful of built-in sentences
finds them; no data set is needed at build time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["CALIBRATION_TEXTS", "OUTLIER_RATIO", "MAX_OUTLIERS", "split_modules", "outlier_channels",
           "split_outliers"]

# A channel is an outlier when its largest |activation| exceeds this many times that of the
# layer's largest ordinary channel (the one ranked just below the MAX_OUTLIERS candidates).
OUTLIER_RATIO = 2.0
MAX_OUTLIERS = 4  # per layer: the decomposition pays only while the float32 part stays narrow

CALIBRATION_TEXTS = (
    "This is the worst service ever, they charged me twice and nobody helps",
    "Absolutely love the new update, thank you so much!",
    "My order arrived today. Tracking number in the app.",
    "@support is the app down? can't log in since 9am #outage",
    "El servicio es pésimo, me cobraron dos veces y nadie responde",
    "¡Me encanta! La atención fue excelente, gracias",
    "Pelayanannya buruk sekali, pulsa saya dipotong dua kali",
    "Mantap, sinyalnya kencang dan harganya murah. Terima kasih!",
    "Le colis est arrivé en retard et abîmé, très déçu.",
    "Danke für die schnelle Hilfe, alles funktioniert wieder.",
    "O aplicativo trava toda hora, que raiva",
    "meh 😐 https://example.com/p/123",
)


def split_modules(model: Any) -> dict[str, Any]:
    """``{name: module}`` of the projections whose input can be split: FFN in and out, attention output.

    Query/key/value are left out: ONNX Runtime fuses them and their input into one Attention op.
    Splitting only the FFN output projections was faster (321-323 vs 282-314 posts/s, same
    hour, same machine) but twice as far from float32 (mean probability difference 0.010 vs
    0.005 on training texts).
    """
    suffixes = (".intermediate.dense", ".output.dense")
    return {name: module for name, module in model.named_modules() if name.endswith(suffixes)}


def outlier_channels(model: Any, tokenizer: Any, texts: Sequence[str] = CALIBRATION_TEXTS,
                     ratio: float = OUTLIER_RATIO, limit: int = MAX_OUTLIERS) -> dict[str, list[int]]:
    """Outlier input channels of each splittable projection, by module name (those without any are left out)."""
    import torch

    peaks: dict[str, torch.Tensor] = {}

    def record(name: str) -> Any:
        def hook(_module: Any, inputs: tuple[torch.Tensor, ...]) -> None:
            x = inputs[0].detach().abs().flatten(0, -2).amax(dim=0)
            peaks[name] = torch.maximum(peaks[name], x) if name in peaks else x
        return hook

    handles = [m.register_forward_pre_hook(record(n)) for n, m in split_modules(model).items()]
    try:
        with torch.inference_mode():
            encoded = tokenizer(list(texts), padding=True, truncation=True, max_length=128, return_tensors="pt")
            model(**encoded)
    finally:
        for h in handles:
            h.remove()
    found = {}
    for name, peak in peaks.items():
        values, index = peak.sort(descending=True)
        if len(values) <= limit:
            continue
        typical = float(values[limit])
        channels = [int(i) for v, i in zip(values[:limit].tolist(), index[:limit].tolist()) if v > ratio * typical]
        if channels:
            found[name] = sorted(channels)
    return found


def onnx_node_name(module_name: str) -> str:
    """The MatMul torch.onnx.export makes of a Linear.

    ``a.b.layer.4.output.dense`` -> ``/a/b/layer.4/output/dense/MatMul``.
    """
    parts = module_name.split(".")
    joined: list[str] = []
    for part in parts:
        if part.isdigit() and joined:
            joined[-1] += "." + part  # "layer", "4" -> "layer.4"
        else:
            joined.append(part)
    return "/" + "/".join(joined) + "/MatMul"


def split_outliers(graph_model: Any, channels: dict[str, list[int]]) -> list[str]:
    """Rewrite each MatMul named in ``channels`` (ONNX node name -> input channels) in place.

    ``y = x @ W`` becomes ``(x * mask) @ W + gather(x, outliers) @ W[outliers]``: same result in
    float32. Returns the names of the narrow outlier MatMuls, to be kept out of quantization;
    the wide one keeps the original node name.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    weights = {init.name: init for init in graph_model.graph.initializer}
    rewritten, keep_float = [], []
    for node in graph_model.graph.node:
        picked = channels.get(node.name)
        if node.op_type != "MatMul" or not picked or node.input[1] not in weights:
            rewritten.append(node)
            continue
        x, w_name = node.input
        w = numpy_helper.to_array(weights[w_name])
        base = node.name
        mask = np.ones(w.shape[0], dtype=w.dtype)
        mask[picked] = 0
        graph_model.graph.initializer.extend([
            numpy_helper.from_array(np.asarray(picked, dtype=np.int64), base + "/outlier_index"),
            numpy_helper.from_array(mask, base + "/inlier_mask"),
            numpy_helper.from_array(np.ascontiguousarray(w[picked]), base + "/outlier_weight"),
        ])
        rewritten += [
            helper.make_node("Mul", [x, base + "/inlier_mask"], [base + "/inliers"], name=base + "/mask"),
            helper.make_node("MatMul", [base + "/inliers", w_name], [base + "/inlier_out"], name=base),
            helper.make_node("Gather", [x, base + "/outlier_index"], [base + "/outliers"], name=base + "/gather",
                             axis=-1),
            helper.make_node("MatMul", [base + "/outliers", base + "/outlier_weight"], [base + "/outlier_out"],
                             name=base + "/outlier_matmul"),
            helper.make_node("Add", [base + "/inlier_out", base + "/outlier_out"], list(node.output),
                             name=base + "/sum"),
        ]
        keep_float.append(base + "/outlier_matmul")
    del graph_model.graph.node[:]
    graph_model.graph.node.extend(rewritten)
    return keep_float
