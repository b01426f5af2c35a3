"""``earshot sentiment ...``: evaluate and try sentiment models from the command line.

Mounted by ``monitor/cli.py`` as a sub-command group. Kept import-light: torch and
transformers load only inside the commands that need them.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Sentiment models: evaluate on labelled data, score texts, detect languages.",
                  no_args_is_help=True)


@app.command()
def evaluate(
    files: list[Path] = typer.Argument(None, help="JSONL files of {text,label,lang}; default: the shared val splits",
                                       exists=True, dir_okay=False),
    model: str = typer.Option("bundled", help="bundled, a local model directory, or a Hugging Face model id"),
    json_output: bool = typer.Option(False, "--json", help="print machine-readable JSON"),
    baselines: bool = typer.Option(True, help="also score VADER (English) and AFINN word lists"),
    quantize: bool = typer.Option(None, help="force int8 on/off (default: as in production)"),
    backend: str = typer.Option(None, help="onnx or torch (default: as in production)"),
    max_length: int = typer.Option(None, help="truncate texts to this many tokens (default 128)"),
) -> None:
    """Per-language macro-F1, macro-recall, accuracy and confusion matrix, next to lexicon baselines."""
    from sentiment.evaluate import run

    try:
        code = run(files or [], model=model, as_json=json_output, baselines=baselines, quantize=quantize,
                   backend=backend, max_length=max_length)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command()
def score(
    texts: list[str] = typer.Argument(..., help="texts to score"),
    model: str = typer.Option("bundled", help="bundled, a local model directory, or a Hugging Face model id"),
) -> None:
    """Print label, score in [-1, 1] and detected language for each text."""
    from sentiment.langid import detect_languages
    from sentiment.scorer import TransformerScorer

    scorer = TransformerScorer(model)
    for text, result, lang in zip(texts, scorer.score(texts), detect_languages(texts)):
        typer.echo(f"{result.label.value:>8} {result.score:+.3f}  [{lang or '?'}]  {text}")


@app.command("detect-language")
def detect_language(texts: list[str] = typer.Argument(..., help="texts")) -> None:
    """Print the detected ISO 639-1 language of each text (or '?' when there is too little to tell)."""
    from sentiment.langid import detect_languages

    for text, lang in zip(texts, detect_languages(texts)):
        typer.echo(f"{lang or '?'}\t{text}")


if __name__ == "__main__":
    app()
