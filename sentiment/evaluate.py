"""Evaluate a sentiment model, side by side with lexicon baselines, on labelled JSONL files.

Why: "is the model good enough in Spanish?" must be a command, not a notebook. Any model
Earshot can run (``bundled``, a local directory, a Hugging Face id) is scored through the
same ``TransformerScorer`` the pipeline uses, so the figures are those of production
(int8 included). Results are grouped per file and language: per-group macro-F1,
macro-recall, accuracy and confusion matrix, plus VADER (English) and AFINN (every
language with a list) on the same rows.

Run ``python -m sentiment.evaluate`` (or ``earshot sentiment evaluate``) with no files to
score the shared validation splits; ``tweeteval_en_val`` is then scored with every text that
also occurs in XLM-T English train removed (they are the same SemEval tweets).
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentiment.data import LABELS, VAL_FILES, Example, default_data_dir, read_jsonl, remove_overlap, text_key
from sentiment.metrics import Scores, scores

if TYPE_CHECKING:
    from sentiment.backends import SentimentBackend

__all__ = ["Group", "load_groups", "default_groups", "evaluate", "format_report", "main"]


@dataclass
class Group:
    """Rows scored together: one file, or one language within a mixed file."""

    name: str
    lang: str
    rows: list[Example]
    note: str = ""
    results: dict[str, Scores] = field(default_factory=dict)  # system name -> scores


def load_groups(paths: Sequence[Path]) -> list[Group]:
    """One group per (file, language); a single-language file is one group named after the file."""
    groups = []
    for path in paths:
        rows = read_jsonl(path)
        langs = sorted({ex.lang for ex in rows})
        for lang in langs:
            subset = [ex for ex in rows if ex.lang == lang]
            name = path.stem if len(langs) == 1 else f"{path.stem}[{lang or '?'}]"
            groups.append(Group(name, lang, subset))
    return groups


def default_groups(data: Path | None = None) -> list[Group]:
    """The shared validation splits, TweetEval minus the tweets that XLM-T English train also has.

    (TweetEval val and XLM-T en val also share tweets; that does not leak, since neither is
    trained on, so both are reported as they are.)
    """
    data = data or default_data_dir()
    if not data.is_dir():
        raise FileNotFoundError(f"No shared sentiment data at {data}; pass JSONL files or set $EARSHOT_SHARED_DATA")
    groups = []
    for name in VAL_FILES:
        path = data / f"{name}.jsonl"
        if not path.is_file():
            continue
        (group,) = load_groups([path])
        if name == "tweeteval_en_val":
            seen = {text_key(ex.text) for ex in read_jsonl(data / "xlmt_en_train.jsonl")}
            group.rows, removed = remove_overlap(group.rows, seen)
            group.note = f"{removed} of {removed + len(group.rows)} texts are also in XLM-T en train and were removed"
        groups.append(group)
    return groups


@functools.lru_cache(maxsize=None)  # one word list parse (and one note) per language, not per split
def _baselines(lang: str) -> list[Any]:
    from sentiment.lexicon import AfinnBaseline, LexiconUnavailable, VaderBaseline

    found: list[Any] = []
    try:
        found.append(AfinnBaseline(lang))
    except LexiconUnavailable as exc:
        print(f"note: no AFINN baseline for {lang!r}: {exc}", file=sys.stderr)
    if lang == "en":
        try:
            found.append(VaderBaseline())
        except LexiconUnavailable as exc:
            print(f"note: {exc}", file=sys.stderr)
    return found


def evaluate(groups: list[Group], scorer: SentimentBackend, *, baselines: bool = True) -> dict[str, Any]:
    """Score every group with the model (and baselines); returns a JSON-able report."""
    model_name = scorer.model_id
    started = time.perf_counter()
    n_texts = 0
    for group in groups:
        texts = [ex.text for ex in group.rows]
        gold = [ex.label for ex in group.rows]
        pred = [LABELS.index(s.label.value) for s in scorer.score(texts)]
        n_texts += len(texts)
        group.results[model_name] = scores(gold, pred)
        if baselines:
            for baseline in _baselines(group.lang):
                # One "afinn" column whatever the language: the group says which list was used.
                name = "afinn" if baseline.name.startswith("afinn") else baseline.name
                group.results[name] = scores(gold, baseline.predict(texts))
    elapsed = time.perf_counter() - started
    return {
        "model": model_name,
        "labels": list(LABELS),
        "seconds": round(elapsed, 2),
        "groups": [
            {"name": g.name, "lang": g.lang, "n": len(g.rows), "note": g.note, "results": g.results}
            for g in groups
        ],
        "texts": n_texts,
    }


def format_report(report: dict[str, Any], confusion: bool = True) -> str:
    """A Markdown table (model vs baselines per group), then the model's confusion matrices."""
    model = report["model"]
    systems = [model] + sorted({s for g in report["groups"] for s in g["results"] if s != model})
    head = ["data", "lang", "n"] + [f"{s} {m}" for s in systems for m in ("F1", "R", "acc")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in report["groups"]:
        cells = [g["name"], g["lang"], str(g["n"])]
        for s in systems:
            r = g["results"].get(s)
            cells += [f"{r['macro_f1']:.3f}", f"{r['macro_recall']:.3f}", f"{r['accuracy']:.3f}"] if r else ["-"] * 3
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("F1 = macro-F1, R = macro-recall, acc = accuracy; labels negative/neutral/positive.")
    notes = [f"{g['name']}: {g['note']}" for g in report["groups"] if g["note"]]
    lines += [f"Note: {n}" for n in notes]
    if confusion:
        lines.append("")
        lines.append(f"Confusion matrices of {model} (rows gold neg/neu/pos, columns predicted):")
        for g in report["groups"]:
            m = g["results"][model]["confusion"]
            lines.append(f"  {g['name']:<22} " + "  ".join("[" + " ".join(f"{v:4d}" for v in row) + "]" for row in m))
    lines.append(f"{report['texts']} texts in {report['seconds']:.1f}s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sentiment.evaluate [FILES] [--model M] [--json] [--no-baselines] [--no-quantize] [--backend B]``."""
    import argparse

    parser = argparse.ArgumentParser(description="Evaluate a sentiment model on labelled JSONL files.")
    parser.add_argument("files", nargs="*", type=Path, help="JSONL files of {text,label,lang}; default: shared val splits")
    parser.add_argument("--model", default="bundled", help="bundled, a local model directory or a Hugging Face id")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--no-baselines", action="store_true", help="skip the VADER/AFINN baselines")
    parser.add_argument("--no-quantize", action="store_true", help="run the model in float32 (default: as in production)")
    parser.add_argument("--backend", choices=("onnx", "torch"), help="default: as in production")
    parser.add_argument("--max-length", type=int, default=None)
    args = parser.parse_args(argv)
    return run(args.files, model=args.model, as_json=args.json, baselines=not args.no_baselines,
               quantize=False if args.no_quantize else None, backend=args.backend, max_length=args.max_length)


def run(files: Sequence[Path], *, model: str = "bundled", as_json: bool = False, baselines: bool = True,
        quantize: bool | None = None, backend: str | None = None, max_length: int | None = None) -> int:
    """Shared by ``main`` and the ``earshot sentiment evaluate`` command; returns an exit code."""
    groups = load_groups(list(files)) if files else default_groups()
    from sentiment.scorer import TransformerScorer  # after the data check: torch takes seconds to import

    kwargs: dict[str, Any] = {"quantize": quantize, "backend": backend}
    if max_length:
        kwargs["max_length"] = max_length
    scorer = TransformerScorer(model, **kwargs)
    report = evaluate(groups, scorer, baselines=baselines)
    print(json.dumps(report, indent=2) if as_json else format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
