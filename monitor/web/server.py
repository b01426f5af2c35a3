"""Running the web UI with uvicorn on the host and port the config names."""

from __future__ import annotations

from monitor.config import Config


def serve(config: Config, host: str | None = None, port: int | None = None) -> None:
    """Serve until interrupted; host/port override `config.web` (e.g. from CLI flags).

    Prints where to sign in: with no credential configured, a one-time sign-in link
    (the only way in, since there is no token to type).
    """
    import uvicorn  # imported here so importing monitor.web stays cheap for tests and DAGs

    from monitor.web.accesslog import redact_access_log
    from monitor.web.app import create_app, login_link

    host, port = host or config.web.host, port or config.web.port
    app = create_app(config)
    print(f"Earshot UI: {login_link(app, host, port)}", flush=True)
    redact_access_log()
    uvicorn.run(app, host=host, port=port, log_level="info")
