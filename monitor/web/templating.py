"""The Jinja2 environment and the small formatting filters the templates rely on.

Formatting lives in filters rather than in templates so numbers, times and ids are
shown the same way everywhere, and so alert ids (which contain colons, and may
contain slashes for some sources) are always URL-encoded in links and form actions.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from fastapi.templating import Jinja2Templates

from monitor.web.charts import source_name

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


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.filters.update(url_id=url_id, thousands=thousands, signed=signed, utc=utc, stars=stars,
                                 source_name=source_name)
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    return templates
