"""A theme alert in the inbox: shown like the others, with its kind and its explanation."""

from __future__ import annotations

from datetime import timedelta

from monitor.alerts.render import view
from monitor.models import Alert, AlertKind, Severity
from tests.test_web import NOW, TOKEN, Clock, app, client, clock, config, login, store  # noqa: F401 - fixtures

REASON = ("New: 'login fails · update', 23 negative posts in 2 h (en/es/id); nothing like it among "
          "Brisa Mobile's usual complaints of the last 7 days. E.g. “Login fails after the update”")


def theme_alert(brand: str) -> Alert:
    return Alert(id=f"theme:{brand}:20261120T1300-0:2026-11-20T14:00:warning", kind=AlertKind.theme,
                 mention_id=None, brand=brand, severity=Severity.warning, created_at=NOW - timedelta(hours=1),
                 reason=REASON, velocity_per_min=0.19, baseline_per_min=0.0, topic="app", team="mobile")


def test_the_inbox_shows_a_theme_alert_with_its_kind_topic_and_reason(client, store, config):
    alert = theme_alert(config.brands[0].name)
    assert store.add_alert(alert)
    page = client.get("/").text
    card = page[page.index(f'data-alert-id="{alert.id}"'):]
    card = card[: card.index("</article>")]
    assert ">Theme</span>" in card and "chip-topic" in card
    assert "login fails · update" in card and "23 negative posts in 2 h (en/es/id)" in card
    detail = client.get(f"/alerts/{alert.id.replace(':', '%3A')}").text
    assert ">Theme</span>" in detail and "login fails · update" in detail
    # Filtering the inbox by the theme's topic finds it, as it does any alert.
    assert f'data-alert-id="{alert.id}"' in client.get("/?topic=app").text


def test_channels_name_the_kind():
    v = view(theme_alert("Brisa Mobile"), None)
    assert v.headline == "WARNING · Brisa Mobile · theme"
    assert v.summary == "emerging complaint theme about app"
    assert ("Kind", "complaint theme (many posts about one thing)") in [(f.label, f.value) for f in v.facts]
