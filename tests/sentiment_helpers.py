"""Helpers shared by the sentiment tests: tiny local models with real config shapes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def tiny_model(path: Path, id2label: dict[int, str]) -> Path:
    """A random 2-layer BERT with the bundled (XLM-R style) tokenizer and the given label names.

    The label names reproduce production checkpoints' config shapes: {negative, neutral,
    positive} like cardiffnlp/twitter-roberta-base-sentiment-latest, LABEL_0..2 like
    cardiffnlp/twitter-xlm-roberta-base-sentiment. Built in a temp dir; no network.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from sentiment.bundled import BUNDLED_DIR, TOKENIZER_FILES

    torch.manual_seed(0)
    vocab = len(json.loads((BUNDLED_DIR / "tokenizer.json").read_text("utf-8"))["model"]["vocab"])
    config = BertConfig(vocab_size=vocab, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=512, pad_token_id=1,
                        num_labels=len(id2label), id2label=id2label, label2id={v: k for k, v in id2label.items()})
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.weight.mul_(50)  # random init is near-uniform; make texts score differently
    model.save_pretrained(path)
    for name in TOKENIZER_FILES:
        shutil.copyfile(BUNDLED_DIR / name, path / name)
    return path
