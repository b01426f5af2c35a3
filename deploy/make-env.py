#!/usr/bin/env python3
"""Write .env from .env.example with a fresh random value for every `change-me` secret.

    python3 deploy/make-env.py            # refuses to overwrite an existing .env
    python3 deploy/make-env.py --force

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
    return secrets.token_hex(24)  # hex: safe inside URLs, JSON and shell


def render(example: str) -> str:
    lines = []
    for line in example.splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#") and value.strip() == PLACEHOLDER:
            line = f"{name}={secret_for(name.strip())}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    target = ROOT / ".env"
    if target.exists() and "--force" not in argv:
        print(f"{target} exists; keep it, or pass --force to replace it (its passwords are in the volumes)", file=sys.stderr)
        return 1
    target.write_text(render((ROOT / ".env.example").read_text(encoding="utf-8")), encoding="utf-8")
    target.chmod(0o600)
    print(f"wrote {target} with new random secrets")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
