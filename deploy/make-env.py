#!/usr/bin/env python3
"""Write .env from .env.example with a fresh random value for every `change-me` secret.

    python3 deploy/make-env.py                # refuses to overwrite an existing .env
    python3 deploy/make-env.py --add-missing  # after an upgrade: append the variables .env lacks
    python3 deploy/make-env.py --force        # new values for everything (the volumes keep the old passwords!)

Standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "change-me"


def secret_for(name: str) -> str:
    if name == "AIRFLOW_FERNET_KEY":  # Fernet wants 32 url-safe base64-encoded bytes
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    if name == "EARSHOT_WEB_TOKEN":  # typed or pasted by people: long, and safe in a ?token= link
        return secrets.token_urlsafe(32)
    return secrets.token_hex(24)  # hex: safe inside URLs, JSON and shell


def render(example: str) -> str:
    lines = []
    for line in example.splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#") and value.strip() == PLACEHOLDER:
            line = f"{name}={secret_for(name.strip())}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _names(text: str) -> set[str]:
    lines = [line for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#")]
    return {line.partition("=")[0].strip() for line in lines}


def missing(existing: str, example: str) -> str:
    """The lines of `example` (rendered, with their comments) defining variables `existing` lacks."""
    have = _names(existing)
    out: list[str] = []
    comments: list[str] = []
    for line in render(example).splitlines():
        if line.lstrip().startswith("#"):
            comments.append(line)
            continue
        name, sep, _ = line.partition("=")
        if sep and name.strip() not in have:
            out += comments + [line]
        comments = []
    return "\n".join(out) + "\n" if out else ""


def main(argv: list[str]) -> int:
    target = ROOT / ".env"
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    if target.exists() and "--add-missing" in argv:
        current = target.read_text(encoding="utf-8")
        added = missing(current, example)
        if added:
            target.write_text(current.rstrip("\n") + "\n\n" + added, encoding="utf-8")
        names = sorted(_names(added))
        print(f"added to {target}: {', '.join(names)}" if names else f"{target} has every variable already")
        return 0
    if target.exists() and "--force" not in argv:
        print(f"{target} exists; keep it, add what a newer version needs with --add-missing, or pass --force to"
              " replace it (its passwords are in the volumes)", file=sys.stderr)
        return 1
    target.write_text(render(example), encoding="utf-8")
    target.chmod(0o600)
    print(f"wrote {target} with new random secrets; sign in to Earshot's inbox with EARSHOT_WEB_TOKEN from it")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
