"""How fast the inbox and mention search answer on a large store: `python -m benchmarks.web_scale`.

Generates a SQLite store (1,000,000 mentions and 20,000 alerts by default), serves it with the
real app (in process, through the whole ASGI stack: authentication, sessions, security
headers, templates) and times the pages a care team uses most:

* the inbox (`/`, as a signed-in agent with a session): the first page, and a filtered page;
* mention search (`/api/mentions`, with the bearer token): several words, a phrase, a prefix,
  filters, the engagement order and a second page through a cursor.

It prints a table and writes JSON (`--json OUT`) with `mentions`, `alerts`, `inbox_p50_ms`,
`inbox_p99_ms`, `search_p50_ms`, `search_p99_ms` and the figures of each scenario.

The data is made in a few minutes by bulk inserts through the store's own schema and column
lists (the store creates the file, then rows go in with `executemany` in one transaction),
and the store then builds its full-text index when it opens the file, as it does for any
file written before the index existed (that time is reported too). Posts mix English, Spanish
and Indonesian complaint and praise phrases around a few brands, with accent variants
("fáctura"), handles and numbers; engagement is heavy-tailed; about 14,000 posts carry the
alerts (some escalated info -> warning -> critical), in every state, with assignees and
handling times, and twelve engagement snapshots each, plus one snapshot for every post.
Everything is seeded, so two runs make the same store.

The same file runs on an older Earshot (it uses only columns every version has): that is how
the "before" figures were taken; search is reported as absent there.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

END = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # the data's "now" (and the app's clock)
DAYS = 30
TOKEN = "web-scale-benchmark-token-4f1c9e"
BRANDS = (("Brisa Mobile", 0.7), ("Nimbus Bank", 0.2), ("Andes Air", 0.1))
SOURCES = (("x", 0.45), ("reddit", 0.15), ("googleplay", 0.15), ("appstore", 0.1), ("bluesky", 0.08),
           ("mastodon", 0.07))
TEAMS = {"billing": "Billing care", "outage": "Network operations", "product quality": "Digital product",
         "support": "Customer care", "delivery": "Logistics"}
PEOPLE = ("Ana García", "Luis Ortega", "Budi Santoso", "Mei Lin", "Sari Wijaya", "Tom Walsh", *TEAMS.values())

# (topic or None, sentiment) -> phrases, per language: what people write about a phone operator, a bank, an airline.
PHRASES: dict[str, list[tuple[str | None, str, str]]] = {
    "en": [
        ("billing", "negative", "charged me twice this month"), ("billing", "negative", "my bill is wrong again"),
        ("billing", "negative", "still waiting for the refund"), ("billing", "negative", "double charged on the invoice"),
        ("outage", "negative", "no signal since this morning"), ("outage", "negative", "network down in the whole city"),
        ("outage", "negative", "dropped calls all day"), ("product quality", "negative", "the app keeps crashing"),
        ("product quality", "negative", "update broke the login"), ("support", "negative", "support hung up on me"),
        ("support", "negative", "on hold for an hour, nobody answers"), ("delivery", "negative", "the parcel never arrived"),
        (None, "neutral", "does anyone know the roaming rates"), (None, "neutral", "switching plans next month"),
        (None, "positive", "love the new plan"), (None, "positive", "great support today, thanks"),
        (None, "positive", "fast internet at the airport"),
    ],
    "es": [
        ("billing", "negative", "me cobraron dos veces la factura"), ("billing", "negative", "la factura llegó doble"),
        ("billing", "negative", "cobro doble en la fáctura"), ("billing", "negative", "no me devuelven el reembolso"),
        ("outage", "negative", "sin señal desde ayer"), ("outage", "negative", "internet lentísimo en casa"),
        ("outage", "negative", "se corta la llamada todo el tiempo"), ("product quality", "negative", "la aplicación no carga"),
        ("product quality", "negative", "la app se cierra sola"), ("support", "negative", "atención al cliente no responde"),
        ("support", "negative", "me colgaron tres veces"), ("delivery", "negative", "el paquete no ha llegado"),
        (None, "neutral", "cuánto cuesta la recarga"), (None, "neutral", "cambio de plan el mes que viene"),
        (None, "positive", "me encanta el nuevo plan"), (None, "positive", "funciona bien la señal en la playa"),
    ],
    "id": [
        ("billing", "negative", "tagihan saya dobel bulan ini"), ("billing", "negative", "pulsa terpotong tanpa alasan"),
        ("billing", "negative", "refund belum masuk"), ("outage", "negative", "sinyal hilang dari pagi"),
        ("outage", "negative", "internet lemot banget"), ("product quality", "negative", "aplikasi error terus"),
        ("product quality", "negative", "aplikasi tidak bisa dibuka"), ("support", "negative", "cs tidak dibalas"),
        ("delivery", "negative", "kurir belum datang"), (None, "neutral", "berapa harga paket data"),
        (None, "positive", "terima kasih pelayanannya bagus"), (None, "positive", "sinyal bagus di bandara"),
    ],
}
FILLERS = {
    "en": "really again today seriously please why still now honestly everyone".split(),
    "es": "otra vez hoy por favor todavía ya nadie siempre nunca gente".split(),
    "id": "lagi hari ini tolong kenapa masih sekarang banget semua selalu".split(),
}
LANGS = (("en", 0.5), ("es", 0.3), ("id", 0.2))

INBOX_FILTERED = "/?severity=critical&topic=billing"
SEARCHES = (
    {"q": "factura"},
    {"q": '"cobro doble"'},
    {"q": "signal morning", "lang": "en"},
    {"q": "tagihan", "sentiment": "negative"},
    {"q": "refund", "sort": "engagement"},
    {"q": "app*", "brand": "Brisa Mobile", "since": "2026-11-13"},
    {"q": "factura", "min_engagement": "50"},
    {"brand": "Nimbus Bank", "source": "reddit", "since": "2026-11-01", "until": "2026-11-10"},
)


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _engagement(likes: int, reposts: int, replies: int, quotes: int) -> str:
    # The shape Engagement.model_dump_json() writes, without building a model per row.
    return f'{{"likes":{likes},"reposts":{reposts},"replies":{replies},"quotes":{quotes},"score":0}}'


@dataclass(slots=True)
class Post:
    mention_id: str
    brand: str
    created_at: datetime
    topic: str | None
    negative: bool


@dataclass
class Generated:
    path: Path
    mentions: int
    alerts: int
    open_alerts: int
    snapshots: int
    insert_seconds: float
    index_seconds: float
    bytes: int = 0


# The columns `_mention_rows` fills, named here: the store's own list grows with the schema (the
# columns since added keep their defaults), and rows built by position must match this one.
_MENTION_COLUMNS = (
    "(id, source, native_id, url, author_handle, author_followers, text, title, lang, created_at, brand, query,"
    " engagement, rating, app_version, sentiment_label, sentiment_score, sentiment_model, first_seen_at, topic, team)"
    " VALUES (" + ",".join("?" * 21) + ")"
)


def _mention_rows(rng: random.Random, count: int, posts: list[Post]) -> Iterator[tuple[object, ...]]:
    start = END - timedelta(days=DAYS)
    span = DAYS * 86400
    for n in range(count):
        lang = _pick(rng, LANGS)
        topic, sentiment, phrase = rng.choice(PHRASES[lang])
        brand = _pick(rng, BRANDS)
        words = [phrase, *rng.sample(FILLERS[lang], rng.randint(1, 4))]
        if rng.random() < 0.3:
            other = rng.choice(PHRASES[lang])
            words.append(other[2])
        if rng.random() < 0.2:
            words.append(f"#{brand.replace(' ', '')}{rng.randint(1, 99)}")
        rng.shuffle(words)
        text = f"@{brand.replace(' ', '')} " + " ".join(words)
        source = _pick(rng, SOURCES)
        created = start + timedelta(seconds=rng.random() * span)
        likes = int(rng.paretovariate(1.3)) - 1
        reposts, replies = likes // rng.randint(2, 9), likes // rng.randint(3, 12)
        label = sentiment if rng.random() > 0.05 else None  # a few not scored yet
        native = f"{n:09d}"
        mention_id = f"{source}:{native}"
        tagged = topic if label == "negative" else None
        posts.append(Post(mention_id, brand, created, tagged, label == "negative"))
        yield (
            mention_id, source, native, f"https://example.com/{source}/{native}", f"user{rng.randint(1, 200_000)}",
            int(rng.paretovariate(1.1) * 50), text, None, lang, _ts(created), brand, brand.lower(),
            _engagement(likes, reposts, replies, 0), rng.randint(1, 5) if source in ("googleplay", "appstore") else None,
            None, label, (-0.8 if label == "negative" else 0.7 if label == "positive" else 0.0) if label else None,
            "bundled" if label else None, _ts(created + timedelta(minutes=2)), tagged,
            TEAMS.get(tagged or ""),
        )


def _alert_rows(rng: random.Random, count: int, posts: list[Post]) -> tuple[list[tuple[object, ...]], set[str]]:
    """`count` alerts on negative posts of the whole period: escalations, and every state."""
    negatives = [p for p in posts if p.negative]
    pool = rng.sample(negatives, min(count, len(negatives)))
    rows: list[tuple[object, ...]] = []
    alerted: set[str] = set()
    severities = ("info", "warning", "critical")
    for post in pool:
        if len(rows) >= count:
            break
        steps = min(rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0], count - len(rows))
        state = rng.choices(("open", "acknowledged", "resolved", "dismissed"), (0.45, 0.2, 0.27, 0.08))[0]
        assignee = rng.choice(PEOPLE) if state != "open" and rng.random() < 0.7 else None
        first = rng.randint(0, len(severities) - steps)
        for i, severity in enumerate(severities[first : first + steps]):
            created = post.created_at + timedelta(minutes=5 + 15 * i + rng.randint(0, 10))
            handled = created + timedelta(minutes=rng.randint(2, 300))
            member_state = state if i == steps - 1 or state != "open" else rng.choice(("open", "acknowledged"))
            velocity = round(rng.uniform(1, 40) * (i + 1), 2)
            rows.append((
                f"{post.mention_id}:{severity}", post.mention_id, post.brand, severity, _ts(created),
                f"{severity.capitalize()}: {velocity:.1f} interactions/min, 12x the brand's usual.", velocity,
                round(velocity / 8, 2), member_state, "spread", post.topic, TEAMS.get(post.topic or ""),
                assignee if member_state != "open" else None,
                _ts(handled) if member_state != "open" else None,
                _ts(handled) if member_state in ("acknowledged", "resolved") else None,
                _ts(handled + timedelta(minutes=30)) if member_state == "resolved" else None,
                _ts(handled) if member_state == "dismissed" else None,
            ))
        alerted.add(post.mention_id)
    return rows, alerted


def _snapshot_rows(rng: random.Random, posts: list[Post], alerted: set[str]) -> Iterator[tuple[str, str, str]]:
    """One snapshot per post (its first fetch), twelve (an hour at 5 minutes) per alerted post."""
    for post in posts:
        polls = 12 if post.mention_id in alerted else 1
        likes = 0
        for i in range(polls):
            likes += int(rng.expovariate(1 / (1 + 30 * i))) if polls > 1 else rng.randint(0, 5)
            yield (post.mention_id, _ts(post.created_at + timedelta(minutes=2 + 5 * i)),
                   _engagement(likes, likes // 3, likes // 5, 0))


def generate(path: Path, mentions: int, alerts: int, seed: int = 20) -> Generated:
    """A store at `path` with `mentions` posts and `alerts` alerts, in the store's own schema."""
    from monitor.store import SQLiteStore
    from monitor.store.sqlite.rows import ALERT_COLUMNS

    SQLiteStore(path).close()  # the schema, created by the store itself
    rng = random.Random(seed)
    started = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    posts: list[Post] = []
    db.executemany(f"INSERT INTO mentions {_MENTION_COLUMNS}", _mention_rows(rng, mentions, posts))
    alert_rows, alerted = _alert_rows(rng, alerts, posts)
    db.executemany(f"INSERT INTO alerts {ALERT_COLUMNS}", alert_rows)
    db.executemany("INSERT OR IGNORE INTO snapshots VALUES (?,?,?)", _snapshot_rows(rng, posts, alerted))
    db.execute("COMMIT")
    snapshots = db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
    db.close()
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    SQLiteStore(path).close()  # opening it builds what the store keeps beside the rows (the search index)
    indexed = time.perf_counter() - started
    open_alerts = sum(1 for row in alert_rows if row[8] == "open")
    return Generated(path, mentions, len(alert_rows), open_alerts, snapshots, inserted, indexed,
                     path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-*")))


@dataclass
class Scenario:
    name: str
    group: str  # inbox or search
    samples_ms: list[float] = field(default_factory=list)
    bytes: int = 0
    status: int = 0

    def summary(self) -> dict[str, Any]:
        s = sorted(self.samples_ms)
        if not s:
            return {"name": self.name, "group": self.group, "status": self.status, "requests": 0}
        return {"name": self.name, "group": self.group, "status": self.status, "requests": len(s),
                "p50_ms": round(_percentile(s, 50), 1), "p90_ms": round(_percentile(s, 90), 1),
                "p99_ms": round(_percentile(s, 99), 1), "max_ms": round(s[-1], 1),
                "mean_ms": round(statistics.fmean(s), 1), "bytes": self.bytes}


def _percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile: a value that was measured, never an interpolation."""
    rank = max(1, -(-len(sorted_values) * pct // 100))
    return sorted_values[int(rank) - 1]


def _time(call: Callable[[], Any], scenario: Scenario, requests: int, warmup: int = 3) -> None:
    for _ in range(warmup):
        call()
    for _ in range(requests):
        started = time.perf_counter()
        response = call()
        elapsed = (time.perf_counter() - started) * 1000
        scenario.status, scenario.bytes = response.status_code, len(response.content)
        if response.status_code != 200:
            return  # an endpoint this version does not have: reported, not timed
        scenario.samples_ms.append(elapsed)


def measure(path: Path, requests: int) -> list[Scenario]:
    """Serve the store at `path` with the real app and time the inbox and search scenarios."""
    from fastapi.testclient import TestClient

    from monitor.config import demo_config_path, load_config
    from monitor.store import SQLiteStore
    from monitor.web import create_app

    config = load_config(demo_config_path())
    config.base_dir = path.parent
    store = SQLiteStore(path)
    app = create_app(config, store, clock=lambda: END, environ={"EARSHOT_WEB_TOKEN": TOKEN})
    scenarios: list[Scenario] = []
    try:
        with TestClient(app) as agent, TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            form = agent.get("/login").text
            nonce = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            signed_in = agent.post("/login", data={"csrf_token": nonce, "mode": "token", "token": TOKEN,
                                                   "name": "Benchmark", "next": "/"}, follow_redirects=False)
            assert signed_in.status_code == 303, signed_in.text
            for name, target in (("inbox: first page", "/"), ("inbox: critical billing", INBOX_FILTERED)):
                scenario = Scenario(name, "inbox")
                _time(lambda target=target: agent.get(target), scenario, requests)
                scenarios.append(scenario)
            probe = api.get("/api/mentions", params={"q": "factura", "limit": 50})
            searches = [dict(s) for s in SEARCHES]
            if probe.status_code == 200 and probe.json().get("next_cursor"):
                searches.append({"q": "factura", "cursor": probe.json()["next_cursor"]})
            per_search = max(1, requests // len(searches))
            for params in searches:
                label = "search: " + " ".join(f"{k}={v}" for k, v in params.items() if k != "cursor")
                label += " (page 2)" if "cursor" in params else ""
                scenario = Scenario(label, "search")
                _time(lambda params=params: api.get("/api/mentions", params=params), scenario, per_search)
                scenarios.append(scenario)
    finally:
        store.close()
    return scenarios


def report(generated: Generated, scenarios: list[Scenario]) -> dict[str, Any]:
    def pooled(group: str) -> list[float]:
        return sorted(ms for s in scenarios if s.group == group and s.status == 200 for ms in s.samples_ms)

    inbox, search = pooled("inbox"), pooled("search")
    return {
        "mentions": generated.mentions,
        "alerts": generated.alerts,
        "inbox_p50_ms": round(_percentile(inbox, 50), 1) if inbox else None,
        "inbox_p99_ms": round(_percentile(inbox, 99), 1) if inbox else None,
        "search_p50_ms": round(_percentile(search, 50), 1) if search else None,
        "search_p99_ms": round(_percentile(search, 99), 1) if search else None,
        "open_alerts": generated.open_alerts,
        "snapshots": generated.snapshots,
        "generate_seconds": round(generated.insert_seconds, 1),
        "index_seconds": round(generated.index_seconds, 1),
        "database_bytes": generated.bytes,
        "sqlite_version": sqlite3.sqlite_version,
        "python_version": sys.version.split()[0],
        "scenarios": [s.summary() for s in scenarios],
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"\nstore: {result['mentions']:,} mentions, {result['alerts']:,} alerts ({result['open_alerts']:,} open), "
          f"{result['snapshots']:,} snapshots, {result['database_bytes'] / 1e6:,.0f} MB; generated in "
          f"{result['generate_seconds']} s, indexed on opening in {result['index_seconds']} s\n")
    print(f"{'scenario':<58} {'n':>4} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'KB':>7}")
    for s in result["scenarios"]:
        if s.get("requests") and s["status"] == 200:
            print(f"{s['name'][:58]:<58} {s['requests']:>4} {s['p50_ms']:>8} {s['p90_ms']:>8} {s['p99_ms']:>8} "
                  f"{s['max_ms']:>8} {s['bytes'] / 1024:>7.0f}")
        else:
            print(f"{s['name'][:58]:<58}  answered {s['status']}: not measured")
    print(f"\ninbox  p50 {result['inbox_p50_ms']} ms, p99 {result['inbox_p99_ms']} ms")
    print(f"search p50 {result['search_p50_ms']} ms, p99 {result['search_p99_ms']} ms (target: p99 < 200 ms for both)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.web_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per inbox scenario, and in all for search")
    parser.add_argument("--db", type=Path, help="keep the generated store here (reused if it exists)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="earshot-web-scale-") as tmp:
        path = args.db or Path(tmp) / "earshot.db"
        if args.db and args.db.exists():
            generated = _existing(args.db, args.mentions)
            print(f"reusing {args.db}", file=sys.stderr)
        else:
            print(f"generating {args.mentions:,} mentions and {args.alerts:,} alerts in {path} ...", file=sys.stderr)
            generated = generate(path, args.mentions, args.alerts)
        print(f"timing {args.requests} requests per scenario ...", file=sys.stderr)
        result = report(generated, measure(path, args.requests))
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def _existing(path: Path, mentions: int) -> Generated:
    from monitor.store import SQLiteStore

    started = time.perf_counter()
    SQLiteStore(path).close()  # an older file is indexed here
    indexed = time.perf_counter() - started
    db = sqlite3.connect(path)
    counts = [db.execute(sql).fetchone()[0] for sql in (
        "SELECT COUNT(*) FROM mentions", "SELECT COUNT(*) FROM alerts", "SELECT COUNT(*) FROM alerts WHERE state = 'open'",
        "SELECT COUNT(*) FROM snapshots")]
    db.close()
    return Generated(path, counts[0], counts[1], counts[2], counts[3], 0.0, indexed,
                     path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-*")))


if __name__ == "__main__":
    raise SystemExit(main())
