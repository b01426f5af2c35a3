"""Topic tagging: keyword matching in English, Spanish and Indonesian, config checks, and the pipeline hook."""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from monitor import pipeline
from monitor.config import ConfigError, TopicConfig, TopicsConfig, parse_config
from monitor.models import Alert, Mention, Sentiment, SentimentLabel, Severity
from monitor.store import SQLiteStore
from monitor.topics import (
    KeywordClassifier, TopicClassifier, TopicMatch, build_classifier, keyword_pattern, normalize, primary_language,
    tag_alerts, tag_negative,
)
from tests.conftest import SCAM, VIRAL

TAXONOMY = [
    TopicConfig(name="billing", team="Billing care", keywords={
        "en": ["bill", "charg*", "charged me twice", "refund*"],
        "es": ["cobr*", "factura", "reembolso"],
        "id": ["tagihan", "ditagih", "pulsa terpotong", "refund"],
    }),
    TopicConfig(name="outage", team="Network operations", keywords={
        "en": ["no signal", "outage"],
        "es": ["sin señal", "red", "caída"],
        "id": ["sinyal", "gangguan"],
    }),
    TopicConfig(name="support", team="Customer care", keywords={
        "en": ["support", "hung up"], "es": ["me colgaron"], "id": ["customer service"], "any": ["chatbot"],
    }),
]


@pytest.fixture
def classifier() -> KeywordClassifier:
    return KeywordClassifier(TAXONOMY)


def topic(classifier: KeywordClassifier, text: str, lang: str | None = None) -> str | None:
    match = classifier.classify_text(text, lang)
    return match.topic if match else None


@pytest.mark.parametrize(("lang", "text", "expected"), [
    ("en", "They charged me twice and support hung up on me", "billing"),
    ("en", "No signal since 9am, is there an outage?", "outage"),
    ("en", "Still waiting for my REFUNDS", "billing"),
    ("en", "Support never answers", "support"),
    ("es", "Me cobraron dos veces la factura", "billing"),
    ("es", "Otra vez SIN SENAL en el centro", "outage"),  # no accent typed: still matches "sin señal"
    ("es", "La caida de la red duró toda la mañana", "outage"),  # "caída" configured with its accent
    ("es", "Me colgaron tres veces", "support"),
    ("id", "Tagihan bulan ini dua kali lipat, tolong refund", "billing"),
    ("id", "Sinyal hilang, gangguan dari pagi", "outage"),
    ("id", "Customer service tidak membalas", "support"),
    ("id", "Pulsa   terpotong terus tanpa alasan", "billing"),  # a phrase across any whitespace
])
def test_tags_complaints_in_english_spanish_and_indonesian(classifier, lang, text, expected):
    assert topic(classifier, text, lang) == expected


def test_matches_respect_word_boundaries(classifier):
    assert topic(classifier, "A billion reasons to love this plan", "en") is None  # not "bill"
    assert topic(classifier, "the bill!", "en") == "billing"
    assert topic(classifier, "discharge", "en") is None  # "charg*" is a prefix of words, not a substring
    assert topic(classifier, "un cobro indebido", "es") == "billing"
    assert topic(classifier, "supportive staff", "en") is None


def test_a_post_is_matched_against_its_own_language(classifier):
    # Spanish "red" (network) must not turn an English post about a red phone into an outage.
    assert topic(classifier, "My new red phone case", "en") is None
    assert topic(classifier, "La red no funciona", "es") == "outage"
    assert topic(classifier, "La red no funciona", "es-MX") == "outage"
    # Unknown language, or one the taxonomy has no words for: every language's keywords apply.
    assert topic(classifier, "La red no funciona", None) == "outage"
    assert topic(classifier, "Ma red ne marche pas", "fr") == "outage"
    # `any` keywords apply to every language.
    assert topic(classifier, "El chatbot no entiende nada", "es") == "support"


def test_phrases_outweigh_single_words_and_ties_go_to_the_first_topic(classifier):
    match = classifier.classify_text("They charged me twice and support hung up on me", "en")
    assert match == TopicMatch("billing", "Billing care", 4, ("charg*", "charged me twice"))
    assert topic(classifier, "support says there is an outage", "en") == "outage"  # 1 vs 1: outage is listed first


def test_normalize_and_patterns():
    assert normalize("Señal CAÍDA Straße") == "senal caida strasse"
    assert primary_language("pt_BR") == "pt" and primary_language(None) is None
    assert keyword_pattern("refund*").search("refunded")
    assert not keyword_pattern("refund*").search("nonrefundable")
    assert keyword_pattern("Sin Señal").search(normalize("sin   senal"))


def _normalize_whole(text: str) -> str:
    """normalize's definition, applied to the whole text at once."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped.casefold())


def test_normalize_reads_each_run_of_non_ascii_characters_as_the_whole_text_would_be_read():
    # Every character that decomposes, combines, changes case or joins Hangul syllables, beside
    # ASCII letters on either side and in random mixes: folding run by run changes nothing.
    special = [chr(c) for c in [*range(0x80, 0x590), *range(0x1100, 0x1200), *range(0x1E00, 0x2200),
                                *range(0x3130, 0x3190), *range(0xAC00, 0xAC40), *range(0xFB00, 0xFB07)]
               if unicodedata.decomposition(chr(c)) or unicodedata.combining(chr(c))
               or chr(c).casefold() != chr(c) or 0x1100 <= c < 0x1200 or 0x3130 <= c < 0x3190 or c >= 0xAC00]
    texts = [f"{a}{c}{b}" for c in special for a, b in (("a", "E"), ("I", " "), ("", "s"))]
    rng = random.Random(7)
    texts += ["".join(rng.choice(special) if rng.random() < 0.5 else chr(rng.randrange(128))
                      for _ in range(rng.randint(1, 12))) for _ in range(5000)]
    assert [normalize(t) for t in texts] == [_normalize_whole(t) for t in texts]
    assert normalize("İSTANBUL ΣΟΦΟΣ ﬁnal ½") == "istanbul σοφοσ final 1⁄2"


def test_the_demo_taxonomy_routes_the_viral_complaint_to_billing(config):
    demo = build_classifier(config.topics)
    assert isinstance(demo, KeywordClassifier)
    text = ("@BrisaMobile charged me twice this month, cut off my line anyway, and support hung up on me three "
            "times. This is a disgusting way to treat customers.")
    assert demo.classify_text(text, "en").topic == "billing"
    assert demo.classify_text("Brisa Mobile me cobró dos veces la recarga y la app no muestra el reembolso.",
                              "es").topic == "billing"
    assert demo.classify_text("Customer service Brisa Mobile lambat sekali, sudah tiga hari belum ada jawaban.",
                              "id").team == "Customer care"


def test_config_validation_names_the_problem():
    base = {"brands": [{"name": "Acme", "queries": ["acme"]}]}
    cases = [
        ({"taxonomy": [{"name": "a", "keywords": {"en": ["*x"]}}]}, "'*' only at the end"),
        ({"taxonomy": [{"name": "a", "keywords": {"en": ["x"]}}]}, "2+ characters"),
        ({"taxonomy": [{"name": "a", "keywords": {"en": []}}]}, "at least one keyword"),
        ({"taxonomy": [{"name": "a", "keywords": {}}]}, "topics.taxonomy.0.keywords"),
        ({"taxonomy": [{"name": "A", "keywords": {"en": ["aa"]}}, {"name": "a", "keywords": {"en": ["bb"]}}]},
         "topic names must be unique"),
        ({"teams": [{"name": "Care"}], "taxonomy": [{"name": "a", "team": "Nope", "keywords": {"en": ["aa"]}}]},
         "names team 'Nope', not in teams"),
        ({"backend": "magic"}, "topics.backend"),
    ]
    for topics, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_config({**base, "topics": topics})
    assert build_classifier(TopicsConfig()) is None  # no taxonomy: nothing to tag
    ok = parse_config({**base, "topics": {"taxonomy": [{"name": "a", "team": "T", "keywords": {"en": ["aa"]}}]}})
    assert ok.topics.team_names() == ["T"]


def mention(native_id: str, text: str, rating: int | None = None, lang: str = "en") -> Mention:
    return Mention(id=f"x:{native_id}", source="x", native_id=native_id, url="https://x.com/a/1", author_handle="a",
                   text=text, lang=lang, created_at=datetime(2026, 1, 1, tzinfo=UTC), brand="Acme", query="acme",
                   rating=rating)


def test_only_negative_mentions_are_tagged(classifier):
    from monitor.models import Sentiment, SentimentLabel

    negative = mention("1", "charged twice!").model_copy(
        update={"sentiment": Sentiment(label=SentimentLabel.negative, score=-0.9, model="m")})
    happy = mention("2", "my refund arrived, thanks").model_copy(
        update={"sentiment": Sentiment(label=SentimentLabel.positive, score=0.9, model="m")})
    one_star = mention("3", "no signal at all", rating=1)  # a 1-star review counts as negative
    off_topic = mention("4", "meh").model_copy(
        update={"sentiment": Sentiment(label=SentimentLabel.negative, score=-0.5, model="m")})
    assert tag_negative(classifier, [negative, happy, one_star, off_topic]) == [
        ("x:1", "billing", "Billing care"), ("x:3", "outage", "Network operations")]


def test_alerts_take_their_posts_topic_and_team():
    post = mention("1", "x").model_copy(update={"topic": "billing", "team": "Billing care"})
    spread = Alert(id="x:1:warning", mention_id="x:1", brand="Acme", severity=Severity.warning,
                   created_at=datetime(2026, 1, 1, tzinfo=UTC), reason="r")
    storm = spread.model_copy(update={"id": "storm", "mention_id": None})
    own = spread.model_copy(update={"id": "x:1:critical", "topic": "outage"})
    tagged = tag_alerts([spread, storm, own], {"x:1": post})
    assert [(a.topic, a.team) for a in tagged] == [("billing", "Billing care"), (None, None), ("outage", None)]


class ZeroShotStandIn:
    """What a zero-shot backend looks like to Earshot: anything with `classify(mentions)`."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def classify(self, mentions: Sequence[Mention]) -> list[TopicMatch | None]:
        self.seen += [m.id for m in mentions]
        return [TopicMatch("everything", "Everyone", 0.42) for _ in mentions]


def test_score_tags_negative_mentions_after_sentiment(config, store, scorer):
    pipeline.ingest(config, store, "replay")
    pipeline.score(config, store, scorer=scorer)
    viral = store.get_mention(VIRAL)
    assert (viral.topic, viral.team) == ("billing", "Billing care")
    es = store.get_mention("googleplay:gp-20003")
    assert es.is_negative and es.topic == "billing"
    dropped_calls = store.get_mention("x:1991500000000000005")  # "me corta la llamada. Pésimo servicio."
    assert dropped_calls.is_negative and (dropped_calls.topic, dropped_calls.team) == ("outage", "Network operations")
    happy = store.get_mention("x:1991500000000000011")  # "I love Brisa Mobile! ... the 5G is amazing"
    assert not happy.is_negative and happy.topic is None


class Neutral:
    """A scorer that reads every text as neutral."""

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        return [Sentiment(label=SentimentLabel.neutral, score=0.0, model="neutral") for _ in texts]


def test_score_tags_a_one_or_two_star_review_whatever_its_words_score(tmp_path, classifier):
    store = SQLiteStore(tmp_path / "earshot.db")
    store.ingest([mention("1", "no signal at all", rating=1), mention("2", "no signal at all", rating=3),
                  mention("3", "no signal at all")], [])
    config = parse_config({"brands": [{"name": "Acme", "queries": ["acme"]}]})
    assert pipeline.score(config, store, scorer=Neutral(), classifier=classifier) == 3
    assert [store.get_mention(f"x:{i}").topic for i in (1, 2, 3)] == ["outage", None, None]
    store.close()


def test_score_accepts_another_classifier(config, store, scorer):
    pipeline.ingest(config, store, "replay")
    plug_in: TopicClassifier = ZeroShotStandIn()
    pipeline.score(config, store, scorer=scorer, classifier=plug_in)
    assert VIRAL in plug_in.seen
    assert store.get_mention(VIRAL).topic == "everything"


def test_alerts_are_raised_with_the_posts_topic_and_team(config, store, scorer):
    alerts = pipeline.run_once(config, store, scorer=scorer, channels=[]).alerts
    assert {(a.mention_id, a.topic, a.team) for a in alerts} == {
        (VIRAL, "billing", "Billing care"), (SCAM, "billing", "Billing care")}  # the scam is about billing too
    assert {a.team for a in store.alerts()} == {"Billing care"}
