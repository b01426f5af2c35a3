"""`python -m monitor.web [CONFIG]`: serve the inbox without the full CLI."""

from __future__ import annotations

import argparse

from monitor.config import default_config_path, load_config
from monitor.web.server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.web", description="Serve Earshot's web UI.")
    parser.add_argument("config", nargs="?", help="config file (default: $EARSHOT_CONFIG, ./earshot.yaml, demo)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    serve(load_config(args.config or default_config_path()), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
