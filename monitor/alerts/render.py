"""What every human-facing channel shows, computed once so Slack, Teams and email agree.

An alert must be actionable from the notification alone: severity and brand up front,
the one-sentence reason, the post itself, who posted it and how fast it spreads, and a
link to the post (and to the alert in Earshot, when its address is configured). Storm
alerts concern a brand rather than one post, so they have no quote, author or post link.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from monitor.models import Alert, AlertKind, Mention, Severity

QUOTE_LIMIT = 700  # characters of the post shown; the link has the rest
EMOJI = {Severity.info: "\N{LARGE BLUE CIRCLE}", Severity.warning: "\N{LARGE ORANGE CIRCLE}",
         Severity.critical: "\N{LARGE RED CIRCLE}"}


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class AlertView:
    alert: Alert
    mention: Mention | None
    headline: str  # "CRITICAL · Brisa Mobile"
    summary: str  # "negative x post spreading"
    subject: str  # "[Earshot CRITICAL] Brisa Mobile: negative x post spreading"
    reason: str
    quote_title: str | None
    quote: str | None
    facts: tuple[Fact, ...]
    post_url: str | None
    inbox_url: str | None  # this alert in the Earshot inbox

    @property
    def emoji(self) -> str:
        return EMOJI[self.alert.severity]

    @property
    def fallback(self) -> str:
        """One line for notification previews and clients that cannot render cards."""
        return f"{self.headline}: {self.reason}"


def truncate(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\N{HORIZONTAL ELLIPSIS}"


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed: for subjects and headers."""
    return " ".join(text.split())


def _http_url(url: str | None) -> str | None:
    # Links come from platforms' data; only plain web links become buttons.
    return url if url and url.startswith(("https://", "http://")) else None


def inbox_link(inbox_url: str | None, alert_id: str) -> str | None:
    """The inbox page scrolled to the alert's card (cards have id="alert-<percent-encoded id>")."""
    if not inbox_url:
        return None
    return f"{inbox_url.rstrip('/')}/#alert-{quote(alert_id, safe='')}"


def _summary(alert: Alert, mention: Mention | None) -> str:
    if alert.kind == AlertKind.storm:
        return "storm of negative mentions" + (f" about {alert.topic}" if alert.topic else "")
    if alert.kind == AlertKind.theme:
        return "emerging complaint theme" + (f" about {alert.topic}" if alert.topic else "")
    if mention is None:
        return "negative post spreading"
    if mention.rating is not None and mention.rating <= 2:
        return f"{mention.rating}-star {mention.source} review spreading"
    return f"negative {mention.source} post spreading"


def _facts(alert: Alert, mention: Mention | None) -> tuple[Fact, ...]:
    facts: list[Fact] = []
    if mention is not None:
        facts.append(Fact("Author", f"@{mention.author_handle.lstrip('@')} · {mention.author_followers:,} followers"))
        facts.append(Fact("Source", mention.source + (f" ({mention.lang})" if mention.lang else "")))
        if mention.sentiment is not None:
            facts.append(Fact("Sentiment", f"{mention.sentiment.label.value} ({mention.sentiment.score:+.2f})"))
        if mention.rating is not None:
            facts.append(Fact("Rating", f"{mention.rating}/5"))
    elif alert.kind == AlertKind.storm:
        facts.append(Fact("Kind", "mention storm (brand-wide)"))
    elif alert.kind == AlertKind.theme:
        facts.append(Fact("Kind", "complaint theme (many posts about one thing)"))
    if alert.velocity_per_min or alert.baseline_per_min:
        what = "engagements/min" if alert.kind == AlertKind.spread else "per min"
        facts.append(Fact("Velocity", f"{alert.velocity_per_min:,.1f} {what} (baseline {alert.baseline_per_min:,.1f})"))
    if alert.topic:
        facts.append(Fact("Topic", alert.topic + (f" → {alert.team}" if alert.team else "")))
    elif alert.team:
        facts.append(Fact("Team", alert.team))
    return tuple(facts)


def view(alert: Alert, mention: Mention | None, inbox_url: str | None = None) -> AlertView:
    severity = alert.severity.value.upper()
    headline = f"{severity} · {alert.brand}" + (f" · {alert.kind.value}" if alert.kind != AlertKind.spread else "")
    summary = _summary(alert, mention)
    return AlertView(
        alert=alert,
        mention=mention,
        headline=one_line(headline),
        summary=summary,
        subject=one_line(f"[Earshot {severity}] {alert.brand}: {summary}"),
        reason=alert.reason.strip(),
        quote_title=truncate(mention.title, 200) if mention is not None and mention.title else None,
        quote=truncate(mention.text, QUOTE_LIMIT) if mention is not None and mention.text.strip() else None,
        facts=_facts(alert, mention),
        post_url=_http_url(mention.url) if mention is not None else None,
        inbox_url=inbox_link(inbox_url, alert.id),
    )
