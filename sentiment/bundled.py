"""The default sentiment model, committed as compact packed weights, unpacked into a cache.

The repo carries ``bundled/model.packed.safetensors`` (int8 per row, 4-bit word embeddings;
see ``sentiment.packing``), the classifier ``config.json`` and the tokenizer files: ~30 MB,
no base model to download. ``bundled_model_dir()`` expands them once into an ordinary
Hugging Face model directory in a cache, so every loader (``AutoModelForSequenceClassification``,
``AutoTokenizer``, ``transformers.pipeline``) treats it like any other local checkpoint.
This module imports neither torch nor transformers: unpacking is plain safetensors + numpy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from sentiment.cache import cache_root, install_dir

__all__ = ["BUNDLED_MODEL_ID", "BUNDLED_DIR", "PACKED_FILE", "CONFIG_FILE", "TOKENIZER_FILES",
           "bundled_model_dir", "cache_root"]

BUNDLED_MODEL_ID = "earshot-e5-sentiment-v3"
BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
PACKED_FILE = "model.packed.safetensors"
CONFIG_FILE = "config.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def _fingerprint(source: Path) -> str:
    """Hash of everything that determines the unpacked directory, so a retrained model never reuses a stale cache."""
    digest = hashlib.sha256()
    for name in (PACKED_FILE, CONFIG_FILE, *TOKENIZER_FILES):
        digest.update(name.encode())
        digest.update((source / name).read_bytes())
    return digest.hexdigest()[:16]


def _assemble(source: Path, target: Path) -> None:
    """Unpack the weights to float32 ``model.safetensors`` and copy config and tokenizer into ``target``."""
    from safetensors.numpy import load_file, save_file

    from sentiment.packing import unpack

    save_file(unpack(load_file(source / PACKED_FILE)), str(target / "model.safetensors"), metadata={"format": "pt"})
    for name in (CONFIG_FILE, *TOKENIZER_FILES):
        shutil.copyfile(source / name, target / name)
    (target / "EARSHOT_MODEL").write_text(json.dumps({"model_id": BUNDLED_MODEL_ID}) + "\n")


def _complete(path: Path) -> bool:
    return all((path / name).is_file() for name in ("model.safetensors", CONFIG_FILE, "tokenizer.json"))


def bundled_model_dir(source: Path | None = None) -> Path:
    """Return a ready Hugging Face model directory for the bundled model, building it if needed.

    The directory is keyed by a hash of the committed files and installed atomically
    (``sentiment.cache.install_dir``), so concurrent processes never see half of it.
    """
    source = Path(source) if source is not None else BUNDLED_DIR
    if not (source / PACKED_FILE).is_file():
        raise FileNotFoundError(
            f"No bundled model at {source / PACKED_FILE}; run `python -m sentiment.train` to create it"
        )
    final = cache_root() / f"{BUNDLED_MODEL_ID}-{_fingerprint(source)}"
    return install_dir(final, lambda tmp: _assemble(source, tmp), _complete)
