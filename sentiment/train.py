"""Train the bundled sentiment model: the top of all-MiniLM-L6-v2 plus a 3-way head.

Run ``python -m sentiment.train --data ../shared/data/sentiment --out sentiment/bundled``.
It fits on 2 CPU cores in well under 20 minutes because only the top encoder layers,
the pooler and the head learn; the rest stays the installed base model, which is also
why the output (``delta.safetensors``) is small enough for git. The labelled data stays
in the shared data directory and is never copied into the repo.

Data: XLM-T tweets (balanced, 8 languages) and IndoNLU SmSA (Indonesian, imbalanced,
re-sampled to balanced classes each epoch). Validation: each language's XLM-T val split,
SmSA val, and TweetEval val minus every text that also appears in the training data
(TweetEval and XLM-T English come from the same SemEval tweets).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LABELS = ("negative", "neutral", "positive")
XLMT_LANGS = ("ar", "de", "en", "es", "fr", "hi", "it", "pt")
# Arabic is left out by default: an English uncased WordPiece vocabulary shreds Arabic
# script into single characters (70 pieces for a median tweet), so it costs the most
# training time for the least the model can learn. Hindi in XLM-T is mostly romanised, so it stays.
DEFAULT_LANGS = ("de", "en", "es", "fr", "hi", "it", "pt")
REPO = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """``$EARSHOT_SHARED_DATA`` if set, else ``<repo>/../shared/data/sentiment`` (the dev/CI layout)."""
    env = os.environ.get("EARSHOT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data" / "sentiment"


@dataclass
class Example:
    text: str
    label: int
    lang: str


@dataclass
class Splits:
    train_xlmt: list[Example]
    train_id: list[Example]
    val: dict[str, list[Example]] = field(default_factory=dict)
    removed_overlap: dict[str, int] = field(default_factory=dict)


def read_jsonl(path: Path) -> list[Example]:
    """Read one ``{"text","label","lang"}`` file; unknown labels are an error, not a silent skip."""
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                rows.append(Example(row["text"], LABELS.index(row["label"]), row.get("lang", "")))
    return rows


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def load_splits(data: Path, langs: Sequence[str] = DEFAULT_LANGS) -> Splits:
    """Load training data and validation sets, dropping validation texts seen in training."""
    if not data.is_dir():
        raise FileNotFoundError(f"Sentiment data directory not found: {data} (set $EARSHOT_SHARED_DATA)")
    train_xlmt = [ex for lang in langs for ex in read_jsonl(data / f"xlmt_{lang}_train.jsonl")]
    train_id = read_jsonl(data / "smsa_id_train.jsonl")
    seen = {_key(ex.text) for ex in train_xlmt + train_id}
    splits = Splits(train_xlmt, train_id)
    sources = {f"xlmt_{lang}_val": f"xlmt_{lang}_val.jsonl" for lang in XLMT_LANGS}
    sources |= {"smsa_id_val": "smsa_id_val.jsonl", "tweeteval_en_val": "tweeteval_en_val.jsonl"}
    for name, filename in sources.items():
        rows = read_jsonl(data / filename)
        kept = [ex for ex in rows if _key(ex.text) not in seen]
        splits.val[name] = kept
        splits.removed_overlap[name] = len(rows) - len(kept)
    return splits


def balanced_sample(rows: Sequence[Example], per_class: int, rng: random.Random) -> list[Example]:
    """Up to ``per_class`` rows of each label: SmSA is 58% positive, which would skew the head."""
    by_label: dict[int, list[Example]] = {}
    for ex in rows:
        by_label.setdefault(ex.label, []).append(ex)
    out: list[Example] = []
    for group in by_label.values():
        out.extend(rng.sample(group, min(per_class, len(group))))
    return out


def length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> Iterator[list[int]]:
    """Shuffle, then sort within large chunks: batches of similar length pad less and train faster."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    yield from batches


def metrics(gold: Sequence[int], pred: Sequence[int]) -> dict[str, float]:
    """Macro-F1, macro-recall and accuracy over the three classes (macro, because SmSA is imbalanced)."""
    f1s, recalls = [], []
    for c in range(len(LABELS)):
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        fp = sum(g != c and p == c for g, p in zip(gold, pred))
        fn = sum(g == c and p != c for g, p in zip(gold, pred))
        if tp + fn == 0:
            continue
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn)
        recalls.append(recall)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    accuracy = sum(g == p for g, p in zip(gold, pred)) / max(len(gold), 1)
    return {
        "macro_f1": sum(f1s) / len(f1s),
        "macro_recall": sum(recalls) / len(recalls),
        "accuracy": accuracy,
        "n": len(gold),
    }


def build_model(base: Path, train_layers: int):  # -> BertForSequenceClassification
    """The base encoder with a fresh 3-way head; everything below the top ``train_layers`` frozen."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)},
    )
    n_layers = model.config.num_hidden_layers
    trainable = tuple(f"bert.encoder.layer.{i}." for i in range(n_layers - train_layers, n_layers))
    trainable += ("bert.pooler.", "classifier.")
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith(trainable)
    return model


def predict(model, tokenizer, texts: Sequence[str], max_length: int, batch_size: int = 64) -> list[int]:
    """Argmax labels for ``texts`` (sorted by length internally, returned in input order)."""
    import torch

    model.eval()
    preds = [0] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                            max_length=max_length, return_tensors="pt")
            for i, p in zip(idx, model(**enc).logits.argmax(-1).tolist()):
                preds[i] = p
    return preds


def evaluate(model, tokenizer, splits: Splits, max_length: int) -> dict[str, dict[str, float]]:
    results = {}
    for name, rows in splits.val.items():
        preds = predict(model, tokenizer, [ex.text for ex in rows], max_length)
        results[name] = metrics([ex.label for ex in rows], preds)
    return results


def train(
    model,
    tokenizer,
    splits: Splits,
    *,
    epochs: int,
    batch_size: int,
    max_length: int,
    lr: float,
    head_lr: float,
    id_per_class: int,
    seed: int,
    log=print,
) -> None:
    """AdamW with linear warm-up/decay; SmSA re-sampled (balanced) each epoch to see more of it."""
    import torch

    rng = random.Random(seed)
    encode = lambda rows: tokenizer([ex.text for ex in rows], truncation=True, max_length=max_length)["input_ids"]  # noqa: E731
    xlmt_ids = encode(splits.train_xlmt)
    id_pool = list(range(len(splits.train_id)))
    id_ids = encode(splits.train_id)
    per_epoch = len(splits.train_xlmt) + min(id_per_class, len(splits.train_id)) * len(LABELS)
    total_steps = epochs * (per_epoch // batch_size + 1)
    warmup = max(1, total_steps // 10)
    head = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith(("classifier.", "bert.pooler."))]
    body = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith(("classifier.", "bert.pooler."))]
    optim = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": head, "lr": head_lr}], weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup)))
    )
    pad = tokenizer.pad_token_id
    step = 0
    for epoch in range(epochs):
        model.train()
        by_label: dict[int, list[int]] = {}
        for i in id_pool:
            by_label.setdefault(splits.train_id[i].label, []).append(i)
        chosen = [i for g in by_label.values() for i in rng.sample(g, min(id_per_class, len(g)))]
        ids = xlmt_ids + [id_ids[i] for i in chosen]
        labels = [ex.label for ex in splits.train_xlmt] + [splits.train_id[i].label for i in chosen]
        started, seen, loss_sum = time.time(), 0, 0.0
        for batch in length_batches([len(x) for x in ids], batch_size, rng):
            width = max(len(ids[i]) for i in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                mask[row, : len(ids[i])] = 1
            out = model(input_ids=input_ids, attention_mask=mask, labels=torch.tensor([labels[i] for i in batch]))
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(body + head, 1.0)
            optim.step()
            sched.step()
            optim.zero_grad()
            step += 1
            seen += len(batch)
            loss_sum += out.loss.item() * len(batch)
            if step % 100 == 0:
                log(f"epoch {epoch + 1} step {step}/{total_steps} loss {loss_sum / seen:.4f} "
                    f"({time.time() - started:.0f}s)")
        log(f"epoch {epoch + 1} done: mean loss {loss_sum / seen:.4f}, {len(ids)} examples, "
            f"{time.time() - started:.0f}s")


def save_delta(model, out: Path) -> Path:
    """Write only the trained tensors (fp16) and the classifier config: the rest is the base wheel."""
    import torch
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    delta = {n: p.detach().to(torch.float16).contiguous() for n, p in model.named_parameters() if p.requires_grad}
    save_file(delta, str(out / "delta.safetensors"), metadata={"base": "sentence-transformers/all-MiniLM-L6-v2"})
    (out / "delta.safetensors").chmod(0o644)
    config = model.config.to_dict()
    config["architectures"] = ["BertForSequenceClassification"]
    for noisy in ("_name_or_path", "transformers_version", "gradient_checkpointing"):
        config.pop(noisy, None)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return out / "delta.safetensors"


def measure_speed(out: Path, texts: Sequence[str], batch_size: int = 32) -> tuple[float, float]:
    """Texts/s of the shipped scorer (assembled from ``out``) at ``batch_size``, and its load time in s."""
    from sentiment import bundled, scorer

    with tempfile.TemporaryDirectory() as cache:
        previous = os.environ.get("EARSHOT_CACHE")
        os.environ["EARSHOT_CACHE"] = cache
        try:
            started = time.time()
            model_dir = bundled.bundled_model_dir(out)
            s = scorer.TransformerScorer(str(model_dir), batch_size=batch_size)
            load_s = time.time() - started
            s.score(list(texts[:64]))  # warm-up
            started = time.time()
            s.score(list(texts))
            rate = len(texts) / (time.time() - started)
        finally:
            if previous is None:
                os.environ.pop("EARSHOT_CACHE", None)
            else:
                os.environ["EARSHOT_CACHE"] = previous
    return rate, load_s


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=REPO / "sentiment" / "bundled")
    parser.add_argument("--langs", default=",".join(DEFAULT_LANGS), help="XLM-T languages to train on")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=96)
    parser.add_argument("--train-layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--head-lr", type=float, default=5e-4)
    parser.add_argument("--id-per-class", type=int, default=1000, help="SmSA rows per class per epoch")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import numpy as np
    import torch
    from transformers import AutoTokenizer, set_seed

    from sentiment.bundled import base_model_dir
    from sentiment.model_card import write_model_card

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    set_seed(args.seed)
    torch.set_num_threads(args.threads)
    langs = tuple(lang.strip() for lang in args.langs.split(",") if lang.strip())
    splits = load_splits(args.data, langs)
    print(f"train: {len(splits.train_xlmt)} XLM-T ({','.join(langs)}) + SmSA {args.id_per_class}/class/epoch "
          f"from {len(splits.train_id)}; val: " + ", ".join(f"{k}={len(v)}" for k, v in splits.val.items()))

    base = base_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = build_model(base, args.train_layers)
    started, cpu_started = time.time(), time.process_time()
    train(model, tokenizer, splits, epochs=args.epochs, batch_size=args.batch_size, max_length=args.max_length,
          lr=args.lr, head_lr=args.head_lr, id_per_class=args.id_per_class, seed=args.seed)
    train_s, train_cpu_s = time.time() - started, time.process_time() - cpu_started
    results = evaluate(model, tokenizer, splits, args.max_length)
    for name, m in results.items():
        print(f"{name:18s} n={m['n']:5d} macroF1={m['macro_f1']:.3f} macroRecall={m['macro_recall']:.3f} "
              f"acc={m['accuracy']:.3f}")
    delta = save_delta(model, args.out)
    speed_texts = [ex.text for ex in splits.val["xlmt_en_val"] + splits.val["xlmt_es_val"]]
    rate, load_s = measure_speed(args.out, speed_texts * 2)
    print(f"delta {delta.stat().st_size / 1e6:.1f} MB, {rate:.0f} texts/s at batch 32, load {load_s:.1f}s")
    write_model_card(
        args.out / "MODEL_CARD.md",
        args=vars(args) | {"langs": langs},
        splits=splits,
        results=results,
        delta_bytes=delta.stat().st_size,
        train_seconds=train_s,
        train_cpu_seconds=train_cpu_s,
        texts_per_second=rate,
        label_counts=Counter(LABELS[ex.label] for ex in splits.train_id),
    )


if __name__ == "__main__":
    main()
