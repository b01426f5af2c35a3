"""Earshot's web UI: the alert inbox and trend pages plus a small JSON API (FastAPI)."""

from __future__ import annotations

from monitor.web import paths  # noqa: F401 - first: registers the {alert_id} path convertor the routes use
from monitor.web.app import create_app, login_link
from monitor.web.server import serve

__all__ = ["create_app", "login_link", "serve"]
