"""Every fake platform in one process, seeded about "Brisa Mobile", and an Earshot config that listens to them.

`make dev-live` runs `python -m tests.sources.fakes.serve_all --run`: the real pipeline
(`earshot run`) then polls all seven live sources through their real client libraries, on
loopback, so the whole product can be watched working without a single platform account.
Without `--run` it prints the environment and the command instead, to run Earshot by hand
(or under a debugger) against the same fakes; Ctrl-C stops them.

Why the pieces are the way they are:

* Credentials are random per start and live only in this process and in Earshot's
  environment. The config names the variables, as a real deployment's does, so the
  "secrets never in the config" path is the one exercised.
* The fakes forget everything when they stop, so the previous run's database and alert log
  (`dev-live.db`, `dev-live-alerts.jsonl`, next to the config) are deleted at start: a
  cursor saved against the old fakes would hide the new posts.
* With `--live` (the default) one negative X post, a double charge by an account with
  2,400 followers, gains engagement every `--every` seconds in a cascade that peaks after
  about three minutes, and people keep chiming in on X, Bluesky, Mastodon and Reddit. The
  spread detector (default thresholds) raises info, warning and critical alerts for it
  within a couple of minutes of polling; nothing else in the seed is spreading.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import secrets
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from monitor.config import demo_config_path, parse_config
from monitor.sources.bluesky import HANDLE_ENV as BLUESKY_HANDLE_ENV
from monitor.sources.bluesky import PASSWORD_ENV as BLUESKY_PASSWORD_ENV
from monitor.sources.mastodon import TOKEN_ENV as MASTODON_TOKEN_ENV
from tests.sources.fakes.appstore_api import FakeAppStore
from tests.sources.fakes.appstore_api import Review as StoreReview
from tests.sources.fakes.bluesky_api import Author, FakeBluesky, Post
from tests.sources.fakes.googleplay_api import FakeGooglePlay
from tests.sources.fakes.googleplay_api import Review as PlayReview
from tests.sources.fakes.mastodon_api import Account, FakeMastodon, Status
from tests.sources.fakes.reddit_api import FakeReddit
from tests.sources.fakes.rss_feed import FakeEntry, FakeFeedServer, Kind
from tests.sources.fakes.x_api import FakeX, snowflake

BRAND = "Brisa Mobile"
SOURCES = ("x", "reddit", "googleplay", "appstore", "bluesky", "mastodon", "rss")
PLAY_APP = "com.brisamobile.app"
STORE_APP = "1502837461"
SUBREDDITS = ("BrisaMobile", "mobile")
X_TOKEN_ENV = "EARSHOT_X_BEARER_TOKEN"
REDDIT_ID_ENV, REDDIT_SECRET_ENV = "EARSHOT_REDDIT_CLIENT_ID", "EARSHOT_REDDIT_CLIENT_SECRET"
FEED_TOKEN_ENV = "EARSHOT_DEV_FEED_TOKEN"  # the RSS fake's feeds are private: a bearer token per feed
CONFIG_NAME, DB_NAME, ALERTS_NAME = "dev-live.yaml", "dev-live.db", "dev-live-alerts.jsonl"
# Shortest polls each source allows (Bluesky's minimum is 60 s: a login per run); `earshot run`
# passes at the fastest source's interval, so every source is read about every 10 s.
POLL_SECONDS = {"bluesky": 60}
DEFAULT_POLL = 10
EARSHOT = [sys.executable, "-m", "monitor.cli"]

# --- the seed: a morning of posts about the brand, in English, Spanish and Indonesian ----------
# Each post: (minutes ago, author, language, text, counts). Engagement is low and old enough
# that nothing is spreading at the first poll; the viral post only takes off in --live mode.

X_USERS = {  # id: (username, display name, followers)
    "101": ("ana_sousa", "Ana Sousa", 120),
    "301": ("mariela_rz", "Mariela Ruiz", 2400),
    "302": ("lucia_fdez", "Lucía Fernández", 150),
    "303": ("dimas_pratama", "Dimas Pratama", 310),
    "304": ("brisa_jobs", "Brisa Mobile Careers", 900),
}
VIRAL_TEXT = (f"{BRAND} charged me twice for my April bill, then support hung up on me after 40 minutes "
              "on hold. Still no refund. Unbelievable.")
X_POSTS = [  # (minutes ago, author id, lang, text, likes, retweets, replies)
    (6, "301", "en", VIRAL_TEXT, 9, 2, 3),
    (48, "101", "en", f"Shout out to {BRAND} support, sorted my roaming in five minutes!", 6, 0, 1),
    (35, "302", "es", f"Llevo tres días sin señal en Valencia con {BRAND} y nadie contesta en el call center. "
                      "Pésimo servicio.", 4, 1, 2),
    (28, "304", "en", f"{BRAND} is hiring customer care agents in Lisbon. Apply now!", 1, 0, 0),  # excluded
    (22, "303", "id", f"Sinyal {BRAND} di Bandung lemot banget dari pagi, internet putus putus terus.", 3, 0, 1),
    (15, "302", "es", f"Me encanta la nueva app de {BRAND}, por fin veo mi consumo al día.", 2, 0, 0),
]
X_ORPHAN = (11, "en", "#BrisaMobile deleted my account without warning?? Anyone else?")  # author suspended

REDDIT_POSTS = [  # (id, minutes ago, subreddit, author, title, selftext, score, comments)
    ("1k2brs1", 50, "BrisaMobile", "throwaway_bill_2026", f"{BRAND} roaming charges are a scam",
     "Got billed 80 euros for one day in Portugal and the chat bot just loops.", 8, 2),
    ("1k2c0a2", 31, "mobile", "madrid_commuter", f"Is {BRAND} down for anyone else in Madrid?", "", 3, 1),
    ("1k2c7k9", 20, "BrisaMobile", "brisa_hr", f"{BRAND} is hiring in Lisbon", "", 1, 0),  # excluded
    ("1k2d2q3", 9, "BrisaMobile", None, f"Switched to {BRAND} last month, pleasantly surprised by the coverage",
     "", 5, 0),
]
REDDIT_COMMENT = ("m1k9k2a", 40, f"Same, {BRAND} charged me twice for roaming in Italy.", 4, "t3_1k2brs1")

PLAY_REVIEWS = [  # (id, minutes ago, stars, helpful, user, app version, text)
    ("gp:bm-0001", 45, 1, 2, "Ravi K", "5.3.0", "Keeps crashing since the last update, I can't even pay my bill."),
    ("gp:bm-0002", 38, 5, 1, "Carmen R", "5.3.0", "Muy buena app, recargo el saldo en segundos."),
    ("gp:bm-0003", 26, 2, 0, "Budi S", "5.2.1", "Aplikasinya sering error waktu isi ulang pulsa, tolong diperbaiki."),
    ("gp:bm-0004", 12, 4, 0, None, None, "Good app but please add a dark mode."),
]
STORE_REVIEWS = [  # (id, minutes ago, stars, votes, author, version, title, text)
    ("11820000001", 33, 1, 1, "annoyed_in_leeds", "5.3.0", "Charged twice",
     "I was charged twice for one top-up and the app shows no refund anywhere."),
    ("11820000002", 18, 5, 0, "happycustomer", "5.3.0", "Great support",
     f"{BRAND} support fixed my billing issue in minutes. Great app."),
    ("11820000003", 8, 2, 0, "mjgarcia", "5.2.1", "Sin cobertura",
     "La app dice que tengo cobertura pero no hay señal en todo el barrio."),
]

SKY_ANA = Author("did:plc:brisaana00000000000000000", "ana.bsky.social", "Ana")
SKY_BEN = Author("did:plc:brisaben00000000000000000", "ben.bsky.social", "Ben")
SKY_GONE = Author("did:plc:brisagone0000000000000000", "handle.invalid")  # deactivated account
SKY_POSTS = [  # (author, minutes ago, lang, text, likes, reposts, replies)
    (SKY_ANA, 30, "en", f"{BRAND} has had no signal in the whole of Lisbon Baixa since 9am. Anyone else?", 5, 1, 2),
    (SKY_BEN, 20, "en", f"Shout out to {BRAND} support, fixed my eSIM in 5 minutes", 3, 0, 0),
    (SKY_GONE, 14, "en", f"{BRAND} app logs me out every hour", 1, 0, 0),
    (SKY_BEN, 7, "es", f"¿Alguien más sin internet con {BRAND} en Sevilla?", 2, 0, 1),
]

TOOT_ANA, TOOT_BEN = Account("1", "ana", 1200), Account("2", "ben", 40, domain="other.example")
TOOT_DEWI = Account("3", "dewi", 260)
TOOTS = [  # (account or None when suspended, minutes ago, lang, text, favourites, reblogs, replies)
    (TOOT_ANA, 40, "en", '#BrisaMobile charged me twice & support says "wait". Again.', 6, 1, 2),
    (TOOT_BEN, 27, "en", f"Shout out to {BRAND} support!\n\nFixed in 5 minutes.", 4, 0, 0),
    (None, 19, "en", f"{BRAND} app logs me out every hour", 2, 0, 1),
    (TOOT_DEWI, 10, "id", f"{BRAND}, tagihan bulan ini dobel dan CS tidak membalas sama sekali. #BrisaMobile", 3, 1, 0),
]

FEEDS: dict[str, tuple[Kind, str, str, str | None]] = {  # path: (kind, title, language, brand scope)
    "/news/telecom.rss": ("rss", "Telecom Daily", "en-us", None),
    "/noticias/moviles.rss": ("rss", "Noticias Móviles", "es-es", None),
    "/status/brisa.atom": ("atom", f"{BRAND} service status", "en-us", BRAND),
}
FEED_ENTRIES = [  # (feed path, id, minutes ago, title, summary)
    ("/news/telecom.rss", "td-2026-0412", 180, f"{BRAND} fined €2M over roaming overcharges",
     f"The regulator says {BRAND} billed roaming to customers who never left the country."),
    ("/news/telecom.rss", "td-2026-0398", 1440, f"{BRAND} brings eSIM to Indonesia",
     f"{BRAND} customers in Jakarta and Bandung can now switch to eSIM in the app."),
    ("/news/telecom.rss", "td-2026-0405", 600, "Regulator opens consultation on 5G spectrum",
     "No operator is named in the draft."),  # mentions no brand: read, never stored
    ("/noticias/moviles.rss", "nm-88121", 95, f"{BRAND} sufre una caída de red en Valencia",
     f"Clientes de {BRAND} se quedaron sin datos móviles durante dos horas."),
    ("/status/brisa.atom", "tag:status.brisamobile.example,2026:incident-311", 25,
     f"{BRAND}: degraded mobile data in Madrid", "We are investigating slow mobile data in Madrid."),
    ("/status/brisa.atom", "tag:status.brisamobile.example,2026:maintenance-87", 130,
     f"{BRAND}: billing system maintenance tonight", "Top-ups may be delayed between 01:00 and 03:00."),
]

# --live: who chimes in, one every other step, in turn.
ECHOES = [  # (platform, lang, text)
    ("x", "en", f"@mariela_rz same thing happened to me, {BRAND} charged me twice in April too"),
    ("bluesky", "en", f"Seeing lots of double charges from {BRAND} on my feed today. Check your bills, people."),
    ("x", "es", f"A mí también me cobraron doble, {BRAND}. Y nadie contesta en el call center."),
    ("mastodon", "id", f"{BRAND} tagihan saya juga dobel bulan ini, CS tidak membalas. #BrisaMobile"),
    ("reddit", "en", f"{BRAND} double-charged me as well, support says wait 10 days for the refund"),
    ("x", "id", f"Tagihan {BRAND} saya juga ditagih dua kali, parah."),
]


def _random(prefix: str) -> str:
    return f"{prefix}-{secrets.token_urlsafe(18)}"


class _FeedServer(FakeFeedServer):
    """The RSS fake, on a chosen port when asked: its own `start()` always takes a free one."""

    def __init__(self, port: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._port = port

    def start(self) -> None:
        if not self._port:
            super().start()
            return
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


class DevFakes:
    """The seven fakes, their dev credentials, and the `sources:` section that reaches them."""

    def __init__(self, ports: Mapping[str, int] | None = None) -> None:
        ports = dict(ports or {})
        host = "127.0.0.1"
        self.env: dict[str, str] = {
            X_TOKEN_ENV: _random("dev-x"),
            REDDIT_ID_ENV: "earshot-dev-client",
            REDDIT_SECRET_ENV: _random("dev-reddit"),
            BLUESKY_HANDLE_ENV: "earshot-dev.test",
            BLUESKY_PASSWORD_ENV: _random("dev-bsky"),
            MASTODON_TOKEN_ENV: _random("dev-mastodon"),
            FEED_TOKEN_ENV: _random("dev-feed"),
        }
        self._ports = ports
        self.x = FakeX(token=self.env[X_TOKEN_ENV])
        self.reddit = FakeReddit(client_id=self.env[REDDIT_ID_ENV], client_secret=self.env[REDDIT_SECRET_ENV])
        self.googleplay = FakeGooglePlay(host=host, port=ports.get("googleplay", 0))
        self.appstore = FakeAppStore(host=host, port=ports.get("appstore", 0))
        self.bluesky = FakeBluesky(handle=self.env[BLUESKY_HANDLE_ENV], password=self.env[BLUESKY_PASSWORD_ENV],
                                   host=host, port=ports.get("bluesky", 0))
        self.mastodon = FakeMastodon(token=self.env[MASTODON_TOKEN_ENV], host=host, port=ports.get("mastodon", 0))
        self.rss = _FeedServer(ports.get("rss", 0), token=self.env[FEED_TOKEN_ENV])
        # Replies from the inbox (monitor/replies/): the brand accounts' credentials on each fake.
        self.x.consumer_secret, self.x.access_token_secret = _random("dev-x-cs"), _random("dev-x-ats")
        self.reddit.password = _random("dev-reddit-pw")
        self.mastodon.reply_token = _random("dev-mastodon-reply")
        self.env.update({
            "EARSHOT_X_CONSUMER_KEY": self.x.consumer_key, "EARSHOT_X_CONSUMER_SECRET": self.x.consumer_secret,
            "EARSHOT_X_ACCESS_TOKEN": self.x.access_token, "EARSHOT_X_ACCESS_TOKEN_SECRET": self.x.access_token_secret,
            "EARSHOT_REDDIT_USERNAME": self.reddit.username, "EARSHOT_REDDIT_PASSWORD": self.reddit.password,
            "EARSHOT_MASTODON_REPLY_TOKEN": self.mastodon.reply_token,
            "EARSHOT_APPSTORE_ISSUER_ID": self.appstore.issuer_id, "EARSHOT_APPSTORE_KEY_ID": self.appstore.key_id,
            # The .p8 on one line ("\n" escapes), as it fits an `export` line; the replier restores it.
            "EARSHOT_APPSTORE_PRIVATE_KEY": self.appstore.private_key.replace("\n", "\\n"),
        })
        for path, (kind, title, lang, _) in FEEDS.items():
            self.rss.add_feed(path, kind, title=title, lang=lang)
        self.urls: dict[str, str] = {}
        self.viral_id = ""
        self._ids = itertools.count(1)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Serve every fake; a port already taken fails here, before any config is written."""
        started: list[Callable[[], None]] = []
        try:
            self.urls["x"] = self.x.start("127.0.0.1", self._ports.get("x", 0))
            started.append(self.x.stop)
            self.urls["reddit"] = self.reddit.start("127.0.0.1", self._ports.get("reddit", 0))
            started.append(self.reddit.stop)
            for name in ("googleplay", "appstore", "bluesky", "mastodon"):
                fake = getattr(self, name)
                self.urls[name] = fake.start()
                started.append(fake.stop)
            self.rss.start()
            started.append(self.rss.stop)
            self.urls["rss"] = self.rss.base_url
            # The key file names its token endpoint, which exists once the fake serves.
            self.env["EARSHOT_GOOGLEPLAY_SERVICE_ACCOUNT_JSON"] = self.googleplay.service_account_json()
        except OSError:
            for stop in reversed(started):
                stop()
            raise

    def stop(self) -> None:
        for fake in (self.x, self.reddit, self.googleplay, self.appstore, self.bluesky, self.mastodon, self.rss):
            fake.stop()

    # --- content -----------------------------------------------------------------------------

    def seed(self, now: datetime | None = None) -> int:
        """Publish the seed on every platform; returns how many posts there are in all."""
        moment = now or datetime.now(UTC).replace(microsecond=0)

        def ago(minutes: int) -> datetime:
            return moment - timedelta(minutes=minutes)

        self._seed_x(ago)
        self._seed_reddit(ago)
        self._seed_stores(ago)
        self._seed_fediverse(ago)
        for path, entry_id, minutes, title, summary in FEED_ENTRIES:
            self.rss.publish(path, FakeEntry(id=entry_id, title=title, summary_html=f"<p>{summary}</p>",
                                             published=ago(minutes), author=FEEDS[path][1],
                                             link=f"https://feeds.example{path}#{entry_id}"))
        return (len(X_POSTS) + 1 + len(REDDIT_POSTS) + 1 + len(PLAY_REVIEWS) + len(STORE_REVIEWS) + len(SKY_POSTS)
                + len(TOOTS) + len(FEED_ENTRIES))

    def _seed_x(self, ago: Callable[[int], datetime]) -> None:
        for user_id, (username, name, followers) in X_USERS.items():
            self.x.add_user(user_id, username, name, followers=followers)
        for seq, (minutes, author, lang, text, likes, retweets, replies) in enumerate(X_POSTS):
            tweet = self.x.publish(snowflake(ago(minutes), seq), text, ago(minutes), likes, author_id=author,
                                   lang=lang, retweets=retweets, replies=replies)
            if text == VIRAL_TEXT:
                self.viral_id = tweet.id
        minutes, lang, text = X_ORPHAN
        self.x.publish(snowflake(ago(minutes), 99), text, ago(minutes), 1, lang=lang, author_missing=True)

    def _seed_reddit(self, ago: Callable[[int], datetime]) -> None:
        for native_id, minutes, sub, author, title, selftext, score, comments in REDDIT_POSTS:
            self.reddit.submit(native_id, title, ago(minutes), score, selftext=selftext, author=author,
                               subreddit=sub, num_comments=comments)
        native_id, minutes, body, score, link = REDDIT_COMMENT
        self.reddit.comment(native_id, body, ago(minutes), score, author="roamer_it", subreddit=SUBREDDITS[0],
                            link_id=link)

    def _seed_stores(self, ago: Callable[[int], datetime]) -> None:
        for review_id, minutes, stars, helpful, user, version, text in PLAY_REVIEWS:
            self.googleplay.publish(PLAY_APP, PlayReview(review_id, text, ago(minutes), score=stars, helpful=helpful,
                                                         user=user, version=version))
        for review_id, minutes, stars, votes, author, version, title, text in STORE_REVIEWS:
            self.appstore.publish(STORE_APP, StoreReview(review_id, text, ago(minutes), rating=stars, title=title,
                                                         author=author, version=version, votes=votes))

    def _seed_fediverse(self, ago: Callable[[int], datetime]) -> None:
        for i, (author, minutes, lang, text, likes, reposts, replies) in enumerate(SKY_POSTS):
            self.bluesky.publish(Post(f"3lbm{i:09d}", author, text, ago(minutes), ago(minutes), likes=likes,
                                      reposts=reposts, replies=replies, langs=[lang]))
        for i, (account, minutes, lang, text, favourites, reblogs, replies) in enumerate(TOOTS):
            self.mastodon.publish(Status(str(113_400_000_000_000_000 + i), account, text, ago(minutes),
                                         favourites=favourites, reblogs=reblogs, replies=replies, language=lang))

    def step(self, n: int) -> None:
        """One --live step (n = 1, 2, ...): the viral complaint gains more; every other step someone chimes in.

        The post gains about 2n·e^(-n/12) likes per step (30% as many retweets, 15% as many
        replies): it accelerates for about three minutes at 15 s steps, then dies down as a
        cascade does, so a long dev session does not count to millions. Each count is one
        attribute assignment, so a poll between two of them sees the step half applied, as a
        platform's eventually consistent counters can.
        """
        gain = 2 * n * math.exp(-n / 12)
        tweet = self.x.tweets[self.viral_id]
        tweet.likes += round(gain)
        tweet.retweets += round(gain * 0.3)
        tweet.replies += round(gain * 0.15)
        if n % 2 == 0:
            self._echo(*ECHOES[(n // 2 - 1) % len(ECHOES)])

    def _echo(self, platform: str, lang: str, text: str) -> None:
        now = datetime.now(UTC)
        k = next(self._ids)
        if platform == "x":
            author = {"en": "101", "es": "302", "id": "303"}[lang]
            self.x.publish(snowflake(now, k), text, now, author_id=author, lang=lang)
        elif platform == "bluesky":
            self.bluesky.publish(Post(f"3lbe{k:09d}", SKY_ANA, text, now, now, likes=0, langs=[lang]))
        elif platform == "mastodon":
            self.mastodon.publish(Status(str(113_500_000_000_000_000 + k), TOOT_DEWI, text, now, language=lang))
        else:
            self.reddit.comment(f"m2e{k:04d}", text, now, 1, author="also_charged", subreddit=SUBREDDITS[0],
                                link_id="t3_1k2brs1")

    # --- what Earshot needs --------------------------------------------------------------------

    def sources_config(self) -> dict[str, Any]:
        """The `sources:` section: the replay off, every live source on and pointed at its fake."""
        feeds = [{"url": f"{self.urls['rss']}{path}", "token_env": FEED_TOKEN_ENV,
                  **({"brand": brand} if brand else {})} for path, (_, _, _, brand) in FEEDS.items()]
        sources: dict[str, dict[str, Any]] = {
            "x": {"api_base_url": self.urls["x"]},
            "reddit": {"oauth_url": self.urls["reddit"], "reddit_url": self.urls["reddit"],
                       "subreddits": list(SUBREDDITS), "include_comments": True,
                       "user_agent": "python:earshot-dev-live:v0 (local fakes)"},
            "googleplay": {"base_url": self.urls["googleplay"], "apps": [{"app_id": PLAY_APP, "brand": BRAND}]},
            "appstore": {"base_url": self.urls["appstore"], "apps": [{"app_id": STORE_APP, "brand": BRAND}]},
            "bluesky": {"base_url": self.urls["bluesky"]},
            "mastodon": {"api_base_url": self.urls["mastodon"], "hashtags": ["brisamobile"]},
            "rss": {"feeds": feeds},
        }
        for name, settings in sources.items():
            settings["poll_seconds"] = POLL_SECONDS.get(name, DEFAULT_POLL)
        return {"replay": {"enabled": False}, **sources}


    def replies_config(self) -> dict[str, Any]:
        """`replies.platforms`: the app stores' reply APIs are not the hosts their sources read (the
        others follow their source's base URL)."""
        return {"googleplay": {"api_base_url": self.urls["googleplay"]},
                "appstore": {"api_base_url": self.urls["appstore"]}}


def write_config(path: Path, sources: Mapping[str, Any], web_port: int, env_names: Sequence[str],
                 reply_platforms: Mapping[str, Any] | None = None) -> None:
    """The bundled demo config with `sources` replaced, its own data files, validated before it is written.

    Starting from the demo file keeps brands, detection, topics and web auth in step with
    what `make run` uses, so the two only differ in where posts come from.
    """
    data = yaml.safe_load(demo_config_path().read_text(encoding="utf-8"))
    data["sources"] = dict(sources)
    if reply_platforms:
        data["replies"] = {**data.get("replies", {}), "platforms": dict(reply_platforms)}
    data["store"] = {**data.get("store", {}), "backend": "sqlite", "path": DB_NAME}
    for channel in data.get("alerts", {}).get("channels", []):
        if channel.get("type") == "jsonl":
            channel["path"] = ALERTS_NAME
    data.setdefault("web", {})["port"] = web_port
    parse_config(data, source=str(path), base_dir=path.parent)  # raises ConfigError naming the key
    header = (
        "# Written by `python -m tests.sources.fakes.serve_all` (make dev-live) at each start: the demo\n"
        "# config with every live source pointed at the local fake platforms, whose ports change\n"
        "# from run to run. Don't edit it; edit monitor/demo/earshot.yaml or serve_all.py instead.\n"
        "# Credentials are not here: serve_all sets them, random per start, in earshot's environment only:\n"
        f"# {', '.join(env_names)}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")


def reset_data(config_dir: Path) -> None:
    """Delete the previous dev run's database and alert log (see the module docstring for why)."""
    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal", ALERTS_NAME):
        (config_dir / name).unlink(missing_ok=True)


def _ports(values: Sequence[str]) -> dict[str, int]:
    """`--port NAME=PORT` options as {name: port}; a fake not named takes a free port."""
    ports: dict[str, int] = {}
    for value in values:
        name, _, port = value.partition("=")
        if name not in SOURCES or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise argparse.ArgumentTypeError(f"--port {value!r}: expected NAME=PORT, NAME one of {', '.join(SOURCES)}")
        ports[name] = int(port)
    return ports


def _run_earshot(config: Path, env: Mapping[str, str]) -> int:
    """`earshot run -c config` as a child with the credentials in its environment; its exit code.

    The child gets its own process group so a terminal Ctrl-C reaches only this process,
    which then sends the child exactly one SIGINT: a second one could interrupt its clean stop.
    """
    child = subprocess.Popen([*EARSHOT, "run", "-c", str(config)], env={**os.environ, **env}, process_group=0)
    try:
        return _exit_code(child.wait())
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
    try:
        return _exit_code(child.wait(timeout=20))
    except (KeyboardInterrupt, subprocess.TimeoutExpired):  # a second Ctrl-C, or stuck: stop waiting
        child.kill()
        return _exit_code(child.wait())


def _exit_code(returncode: int) -> int:
    """A child's return code as a shell reports it (killed by signal N: 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve every fake platform, seeded about Brisa Mobile, and write "
                                                 "an Earshot config that listens to them.")
    parser.add_argument("--home", type=Path, default=Path("earshot-data"),
                        help="directory for the config, database and alert log (default: ./earshot-data)")
    parser.add_argument("--config-out", type=Path, help=f"where to write the config (default: HOME/{CONFIG_NAME})")
    parser.add_argument("--port", action="append", default=[], metavar="NAME=PORT",
                        help=f"serve a fake on this port instead of a free one; NAME: {', '.join(SOURCES)}")
    parser.add_argument("--web-port", type=int, default=8000, help="port of Earshot's UI in the config (default: 8000)")
    parser.add_argument("--live", action=argparse.BooleanOptionalAction, default=True,
                        help="keep the viral X complaint spreading and new posts arriving (default: on)")
    parser.add_argument("--every", type=float, default=15.0, help="seconds between live steps (default: 15)")
    parser.add_argument("--run", action="store_true",
                        help="run `earshot run -c CONFIG` with the credentials set, and stop the fakes when it ends")
    args = parser.parse_args(argv)
    try:
        ports = _ports(args.port)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    config = (args.config_out or args.home / CONFIG_NAME).resolve()
    # Ctrl-C and `kill` stop the fakes cleanly, even when started from a shell that ignores
    # SIGINT in background jobs (the handler also resets to default in the earshot child).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    fakes = DevFakes(ports)
    try:
        fakes.start()
    except OSError as exc:
        print(f"serve_all: cannot serve the fakes: {exc} (a --port already in use?)", file=sys.stderr)
        return 2
    stopping = threading.Event()
    try:
        posts = fakes.seed()
        reset_data(config.parent)
        write_config(config, fakes.sources_config(), args.web_port, list(fakes.env), fakes.replies_config())
        print(f"Fake platforms serving {posts} posts about {BRAND!r}:", flush=True)
        for name in SOURCES:
            print(f"  {name:<11} {fakes.urls[name]}", flush=True)
        print(f"Earshot config: {config}", flush=True)
        if args.live:
            print(f"Live: the double-charge complaint by @mariela_rz on X gains engagement every {args.every:g}s; "
                  "expect spread alerts within a couple of minutes of polling.", flush=True)
            threading.Thread(target=_live, args=(fakes, args.every, stopping), name="dev-live", daemon=True).start()
        shown = shlex.join(["earshot", "run", "-c", _shown(config)])
        if args.run:
            print(f"Credentials (secrets random per run) only in earshot's environment: {', '.join(fakes.env)}",
                  flush=True)
            print(f"Starting: {shown}", flush=True)
            # The bundled sentiment model is on disk; a dev run against fakes never needs a model hub.
            return _run_earshot(config, {"HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), **fakes.env})
        print("Dev credentials for the fakes (secrets random per run; they stop working when the fakes stop):",
              flush=True)
        for name, value in fakes.env.items():
            print(f"  export {name}={shlex.quote(value)}", flush=True)
        print(f"Then, in that shell: {shown}", flush=True)
        print("Ctrl-C stops the fakes.", flush=True)
        stopping.wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stopping.set()
        fakes.stop()
        print("Fakes stopped.", flush=True)


def _shown(path: Path) -> str:
    """The path as a user would type it: relative when under the current directory."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def _live(fakes: DevFakes, every: float, stopping: threading.Event) -> None:
    for n in itertools.count(1):
        if stopping.wait(every):
            return
        fakes.step(n)


if __name__ == "__main__":
    sys.exit(main())
