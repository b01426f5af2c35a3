"""The Jinja2 environment and the small formatting filters the templates rely on.

Formatting lives in filters rather than in templates so numbers, times and ids are
shown the same way everywhere, and so alert ids (which contain colons, and may
contain slashes for some sources) are always URL-encoded in links and form actions, and
a post's address becomes a link only when it is a web page (`web_link`, `monitor/web/urls.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from monitor.web.charts import source_name
from monitor.web.metrics import duration
from monitor.web.urls import web_link

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def url_id(value: str) -> str:
    """One path segment: every reserved character, '/' included, percent-encoded."""
    return quote(value, safe="")


def thousands(value: int | float) -> str:
    return f"{value:,}"


def signed(value: float, digits: int = 2) -> str:
    """A score with a real minus sign (U+2212), so −0.90 and +0.90 line up and read clearly."""
    text = f"{abs(value):.{digits}f}"
    return f"−{text}" if value < 0 else f"+{text}"


def utc(value: datetime | None, fmt: str = "%b %d, %H:%M UTC") -> str:
    return value.strftime(fmt) if value else "—"


def stars(rating: int) -> str:
    return "★" * rating + "☆" * (5 - rating)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def query(params: Mapping[str, object], **changes: object) -> str:
    """`?a=1&b=2` from `params` updated with `changes` (None or "" drops a key; nothing left: "").

    What lets a link change one setting (the trend window, say) and keep the filters.
    """
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged) if merged else ""


def minutes_between(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else max((end - start).total_seconds() / 60, 0.0)


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.filters.update(url_id=url_id, thousands=thousands, signed=signed, utc=utc, stars=stars,
                                 source_name=source_name, duration=duration, percent=percent,
                                 web_link=web_link)
    templates.env.globals.update(query=query, minutes_between=minutes_between)
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    return templates


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200,
           headers: Mapping[str, str] | None = None) -> Response:
    """A page with what every page's frame needs: who is signed in and their CSRF token for forms."""
    principal = getattr(request.state, "principal", None)
    frame = {"principal": principal, "csrf_token": principal.csrf if principal else None,
             "brands": [b.name for b in request.app.state.config.brands]}
    return request.app.state.templates.TemplateResponse(request, name, {**frame, **context}, status_code=status_code,
                                                        headers=headers)
