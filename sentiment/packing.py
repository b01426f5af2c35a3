"""Compact storage for the bundled model's weights: int8 per row, 4-bit where that is lossless.

Why: the repo must stay lean (the model is committed) yet load as an ordinary float
``BertForSequenceClassification``. A fine-tuned 12-layer e5-small with a trimmed vocabulary
is ~40M float parameters (160 MB); here it is ~30 MB:

- 2-D weights (linear layers, position embeddings) -> int8 with one float32 scale per row
  (symmetric, scale = max|row| / 127). Worst-case error is half a step per weight;
  ``sentiment.train`` checks macro-F1 before and after and the card reports both.
- The word embeddings stay frozen during fine-tuning, so they are still exactly the 4-bit
  values of the base model: they are re-packed as ``block_q4_0`` (fp16 scale + 32 nibbles),
  which round-trips bit-exactly (``pack_q4_0`` refuses, and int8 is used, if not).
- 1-D tensors (biases, LayerNorm) stay float32; they are a rounding error in size.

``unpack`` gives back float32 numpy arrays; only numpy and safetensors are needed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["pack", "unpack", "pack_q4_0", "unpack_q4_0", "quantize_rows", "FORMAT"]

FORMAT = "earshot-packed-v1"
QK = 32


def quantize_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per row: returns (int8 matrix, float32 scale per row)."""
    w = np.asarray(w, dtype=np.float32)
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def pack_q4_0(w: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Re-pack values that are already exact block_q4_0 dequantisations; ``None`` if any block is not.

    Each block of 32 is (q - 8) * d with q in 0..15 and d an fp16 of either sign (ggml picks
    the sign that maps the block's extreme value to -8). d is found among +-max|x|/8 and
    +-max|x|/7; the packing is accepted only if it reproduces every value exactly.
    """
    w = np.asarray(w, dtype=np.float32)
    rows, cols = w.shape
    if cols % QK:
        return None
    blocks = w.reshape(-1, QK)
    amax = np.abs(blocks).max(axis=1)
    out_q = np.zeros(blocks.shape, dtype=np.uint8)
    out_d = np.zeros(len(blocks), dtype=np.float16)
    todo = np.ones(len(blocks), dtype=bool)
    for divisor in (8.0, -8.0, 7.0, -7.0):
        d = (amax / divisor).astype(np.float16)
        d32 = d.astype(np.float32)
        safe = np.where(d32 != 0, d32, 1.0)
        q = np.rint(blocks / safe[:, None])
        ok = todo & (np.abs(q * d32[:, None] - blocks).max(axis=1) == 0) & (q.min(axis=1) >= -8) & (q.max(axis=1) <= 7)
        out_q[ok] = (q[ok] + 8).astype(np.uint8)
        out_d[ok] = d[ok]
        todo &= ~ok
    if todo.any():
        return None
    nibbles = out_q.reshape(-1, QK)
    packed = (nibbles[:, :16] | (nibbles[:, 16:] << 4)).astype(np.uint8)  # e5.c's layout
    return packed.reshape(rows, cols // 2), out_d.reshape(rows, cols // QK)


def unpack_q4_0(packed: np.ndarray, d: np.ndarray) -> np.ndarray:
    rows = packed.shape[0]
    blocks = packed.reshape(-1, 16)
    nibbles = np.concatenate([blocks & 0x0F, blocks >> 4], axis=1).astype(np.float32) - 8.0
    return (nibbles * d.reshape(-1, 1).astype(np.float32)).reshape(rows, -1)


def pack(state: Mapping[str, np.ndarray], q4_names: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Packed tensors for ``safetensors.numpy.save_file``; names get a ``.q8``/``.q4`` suffix + scales."""
    out: dict[str, np.ndarray] = {}
    for name, value in state.items():
        value = np.asarray(value, dtype=np.float32)
        if name in q4_names and value.ndim == 2:
            packed = pack_q4_0(value)
            if packed is not None:
                out[name + ".q4"], out[name + ".q4d"] = packed
                continue
        if value.ndim == 2:
            out[name + ".q8"], out[name + ".q8s"] = quantize_rows(value)
        else:
            out[name] = np.ascontiguousarray(value)
    return out


def unpack(packed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of ``pack``: float32 tensors under their original names."""
    out: dict[str, np.ndarray] = {}
    for name, value in packed.items():
        if name.endswith(".q8"):
            out[name[:-3]] = value.astype(np.float32) * packed[name + "s"].astype(np.float32)[:, None]
        elif name.endswith(".q4"):
            out[name[:-3]] = unpack_q4_0(value, packed[name + "d"])
        elif not name.endswith((".q8s", ".q4d")):
            out[name] = np.asarray(value, dtype=np.float32)
    return out
