"""Running the web UI with uvicorn on the host and port the config names."""

from __future__ import annotations

from monitor.config import Config


def serve(config: Config, host: str | None = None, port: int | None = None) -> None:
    """Serve until interrupted; host/port override `config.web` (e.g. from CLI flags)."""
    import uvicorn  # imported here so importing monitor.web stays cheap for tests and DAGs

    from monitor.web.app import create_app

    uvicorn.run(create_app(config), host=host or config.web.host, port=port or config.web.port,
                log_level="info")
