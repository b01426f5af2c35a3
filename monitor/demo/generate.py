"""Regenerate the bundled demo scenario (monitor/demo/scenario.jsonl).

A morning of public chatter about "Brisa Mobile", a fictional mobile operator, in
English, Spanish and Indonesian: one billing complaint that takes off and is then
copied and reposted by other accounts (a cluster of near-duplicates the inbox shows on
the complaint's card), a "refund" scam riding on it that spreads through bot reposts
(flagged as spam in the inbox), several negative posts that stay small, neutral
questions, a well-liked positive post, a job ad the brand's exclusions filter out, and
app-store reviews with star ratings.

    python -m monitor.demo.generate > monitor/demo/scenario.jsonl

Deterministic (fixed seed), so the committed file can always be reproduced.
"""

from __future__ import annotations

import json
import math
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
END = START + timedelta(hours=9)


@dataclass
class Post:
    minute: int  # minutes after START
    source: str
    native_id: str
    handle: str
    followers: int
    text: str
    lang: str
    final: tuple[int, int, int, int]  # likes, reposts, replies, quotes reached eventually
    rise_minutes: float = 60  # minutes to reach half of the final counts
    rating: int | None = None
    title: str | None = None
    url: str = ""

    def link(self) -> str:
        if self.url:
            return self.url
        if self.source == "x":
            return f"https://x.com/{self.handle}/status/{self.native_id}"
        if self.source == "reddit":
            return f"https://www.reddit.com/r/BrisaMobile/comments/{self.native_id}/"
        if self.source == "bluesky":
            return f"https://bsky.app/profile/{self.handle}/post/{self.native_id}"
        if self.source == "mastodon":
            return f"https://mastodon.social/@{self.handle}/{self.native_id}"
        if self.source == "appstore":
            return f"https://apps.apple.com/app/brisa-mobile/id6400000000?see-all=reviews#{self.native_id}"
        return f"https://play.google.com/store/apps/details?id=com.brisamobile.app&reviewId={self.native_id}"


POSTS = [
    # The complaint that takes off: a billing error plus a support failure, retold widely.
    Post(180, "x", "1991500000000000001", "dana_reyes", 3200,
         "@BrisaMobile charged me twice this month, cut off my line anyway, and support hung up on me "
         "three times. This is a disgusting way to treat customers. Never again.",
         "en", (5200, 2100, 900, 350), rise_minutes=70),
    # Copies of it: people and a few empty bot accounts reposting the same words (near-duplicates,
    # linked to the first post: no alert of their own, their engagement counts towards it).
    *[Post(minute, "x", f"19915000000000001{i:02d}", handle, followers, text, "en", final)
      for i, (minute, handle, followers, text, final) in enumerate([
          (205, "mo_clarke", 410, "RT @dana_reyes: @BrisaMobile charged me twice this month, cut off my line anyway, and "
           "support hung up on me three times. This is a disgusting way to treat customers. Never again.", (9, 2, 0, 0)),
          (232, "jp_alvarez", 95, "@BrisaMobile charged me twice this month, cut off my line anyway, and support hung "
           "up on me three times. This is a disgusting way to treat customers. Never again!! #BrisaMobile", (4, 1, 1, 0)),
          (251, "user83920114", 2, "@BrisaMobile charged me twice this month, cut off my line anyway, and support hung up "
           "on me three times. This is a disgusting way to treat customers. Never again.", (1, 0, 0, 0)),
          (263, "user83920177", 0, "@BrisaMobile charged me twice this month, cut off my line anyway and support hung up on "
           "me three times. this is a disgusting way to treat customers. never again", (0, 1, 0, 0)),
          (290, "amira_h", 1200, "RT @dana_reyes @BrisaMobile charged me twice this month, cut off my line anyway, and "
           "support hung up on me three times. This is a disgusting way to treat customers. Never again.", (22, 5, 3, 0)),
          (318, "user83920301", 1, "@BrisaMobile charged me twice this month, cut off my line anyway, and support hung up "
           "on me three times. This is a disgusting way to treat customers. Never again. https://x.com/dana_reyes",
           (0, 0, 0, 0)),
          (347, "tomasz_k", 230, "@BrisaMobile Charged me twice this month, cut off my line anyway, and support hung up "
           "on me THREE times. This is a disgusting way to treat customers. Never again.", (6, 1, 2, 0)),
      ])],
    # A scam riding on the complaint: a "refund" giveaway pushed by a bot network's reposts.
    Post(240, "x", "1991500000000000200", "brisa_refund_desk", 3,
         "Overcharged by Brisa Mobile?? Terrible billing, awful support... Claim your refund now! Click the link "
         "https://bit.ly/brisa-refund-2026 RT & follow to win a free iPhone 16 #refund #BrisaMobile #scam #help "
         "#telco #billing",
         "en", (2600, 1900, 40, 15), rise_minutes=50),
    # Negative posts that stay small.
    Post(20, "x", "1991500000000000002", "k_tanaka", 180,
         "Brisa Mobile app keeps crashing every time I try to pay my bill. So annoying.",
         "en", (6, 1, 2, 0)),
    Post(75, "x", "1991500000000000003", "lucia_mtz", 640,
         "El internet de Brisa Mobile va lentísimo hoy, qué desastre. Llevo dos horas sin poder trabajar.",
         "es", (14, 3, 4, 0)),
    Post(140, "x", "1991500000000000004", "budi_santoso", 410,
         "Sinyal Brisa Mobile jelek banget hari ini, kecewa berat. Sudah bayar mahal tapi tidak bisa dipakai.",
         "id", (11, 2, 5, 0)),
    Post(230, "reddit", "t3_1h4brs1", "throwaway_bill_2026", 0,
         "Brisa Mobile roaming charges are a scam. Got billed 80 euros for one day in Portugal and "
         "the chat bot just loops.",
         "en", (23, 0, 9, 0), rise_minutes=90),
    Post(300, "x", "1991500000000000005", "sofia_gr", 95,
         "Tercera vez este mes que Brisa Mobile me corta la llamada. Pésimo servicio.",
         "es", (4, 0, 1, 0)),
    Post(350, "mastodon", "113500000000000001", "rina", 260,
         "Customer service Brisa Mobile lambat sekali, sudah tiga hari belum ada jawaban. Mengecewakan.",
         "id", (7, 2, 1, 0)),
    Post(400, "bluesky", "3lbrisa0000001", "mark.bsky.social", 530,
         "Brisa Mobile's outage map says everything is fine while my phone has had no signal since 9am. Terrible.",
         "en", (18, 4, 6, 1)),
    # Neutral chatter.
    Post(35, "x", "1991500000000000006", "travelwithjo", 1500,
         "Does Brisa Mobile have coverage in Bali? Flying there next week.",
         "en", (3, 0, 2, 0)),
    Post(95, "x", "1991500000000000007", "andres_p", 220,
         "¿Alguien sabe a qué hora abre la tienda de Brisa Mobile en el centro?",
         "es", (1, 0, 1, 0)),
    Post(125, "x", "1991500000000000008", "dewi_k", 310,
         "Paket data Brisa Mobile yang 30GB harganya berapa ya sekarang?",
         "id", (2, 0, 3, 0)),
    Post(260, "reddit", "t3_1h4brs2", "phone_nerd", 0,
         "Brisa Mobile eSIM activation steps for the Pixel 9, in case anyone needs them.",
         "en", (12, 0, 4, 0)),
    Post(330, "x", "1991500000000000009", "hugo_l", 120,
         "Brisa Mobile anuncia nuevas tarifas a partir de diciembre.",
         "es", (5, 2, 0, 0)),
    Post(420, "x", "1991500000000000010", "agus_w", 75,
         "Ada yang pakai Brisa Mobile di Surabaya? Gimana sinyalnya?",
         "id", (1, 0, 4, 0)),
    # Positive posts; one of them spreads well, and must not alert (it is not negative).
    Post(60, "x", "1991500000000000011", "maya_codes", 8900,
         "I love Brisa Mobile! The new unlimited plan is fantastic and the 5G is amazing. Best switch I ever made.",
         "en", (1400, 260, 120, 40), rise_minutes=45),
    Post(150, "x", "1991500000000000012", "carmen_v", 340,
         "Me encanta Brisa Mobile, la cobertura es excelente y el precio es muy bueno. ¡Recomendado!",
         "es", (9, 1, 1, 0)),
    Post(270, "x", "1991500000000000013", "putri_a", 510,
         "Terima kasih Brisa Mobile, sinyalnya mantap dan cepat sekali. Sangat puas!",
         "id", (12, 2, 2, 0)),
    Post(380, "bluesky", "3lbrisa0000002", "jen.bsky.social", 210,
         "Shout out to the Brisa Mobile store team downtown, super friendly and helpful.",
         "en", (8, 1, 1, 0)),
    # Excluded by the brand's exclusions: a job ad is not brand sentiment.
    Post(200, "x", "1991500000000000014", "jobs_feed", 12000,
         "Brisa Mobile is hiring retail advisors in Madrid. Apply now!",
         "en", (30, 12, 0, 0)),
    # App-store reviews: ratings and text are both kept.
    Post(50, "appstore", "rv-10001", "jlee88", 0,
         "Since the last update the app logs me out every day and I can't see my usage.",
         "en", (6, 0, 0, 0), rating=1, title="Brisa Mobile app keeps logging me out"),
    Post(110, "googleplay", "gp-20001", "Rahmat Hidayat", 0,
         "Aplikasi Brisa Mobile versi 4.2 mengubah tampilan menu.",
         "id", (2, 0, 0, 0), rating=1, title=None),
    Post(190, "appstore", "rv-10002", "anaplaza", 0,
         "La app de Brisa Mobile funciona bien, fácil recargar saldo.",
         "es", (3, 0, 0, 0), rating=5, title="Práctica"),
    Post(280, "googleplay", "gp-20002", "Sam Okafor", 0,
         "Brisa Mobile app is good for checking data, but bill payment sometimes fails.",
         "en", (4, 0, 0, 0), rating=3, title=None),
    Post(360, "appstore", "rv-10003", "nanda.p", 0,
         "Aplikasi Brisa Mobile bagus, cek kuota jadi gampang.",
         "id", (1, 0, 0, 0), rating=4, title="Mantap"),
    Post(440, "googleplay", "gp-20003", "Carlos Ruiz", 0,
         "Brisa Mobile me cobró dos veces la recarga y la app no muestra el reembolso.",
         "es", (5, 0, 0, 0), rating=2, title=None),
]


def _curve(post: Post, minutes_since: float, rng: random.Random) -> dict[str, int]:
    """Logistic growth towards the post's final counts, with a little jitter, never decreasing."""
    steep = 4.4 / post.rise_minutes
    share = 1 / (1 + math.exp(-steep * (minutes_since - post.rise_minutes)))
    share0 = 1 / (1 + math.exp(steep * post.rise_minutes))
    frac = max(0.0, (share - share0) / (1 - share0))
    likes, reposts, replies, quotes = (int(n * frac * rng.uniform(0.97, 1.0)) for n in post.final)
    return {"likes": likes, "reposts": reposts, "replies": replies, "quotes": quotes}


def events() -> list[dict]:
    rng = random.Random(20261120)
    out: list[dict] = []
    for post in POSTS:
        created = START + timedelta(minutes=post.minute, seconds=rng.randint(0, 59))
        out.append({
            "type": "post", "at": created.isoformat().replace("+00:00", "Z"), "source": post.source,
            "native_id": post.native_id, "url": post.link(),
            "author": {"handle": post.handle, "followers": post.followers},
            "text": post.text, "lang": post.lang, "title": post.title, "rating": post.rating,
            "engagement": {"likes": 0, "reposts": 0, "replies": 0, "quotes": 0},
        })
        best = {"likes": 0, "reposts": 0, "replies": 0, "quotes": 0}
        at = created + timedelta(minutes=10)
        while at <= min(END, created + timedelta(hours=5)):
            counts = _curve(post, (at - created).total_seconds() / 60, rng)
            best = {k: max(best[k], counts[k]) for k in best}
            out.append({
                "type": "snapshot", "at": at.isoformat().replace("+00:00", "Z"), "source": post.source,
                "native_id": post.native_id, "engagement": dict(best),
            })
            at += timedelta(minutes=10)
    out.sort(key=lambda e: (e["at"], e["type"] != "post", e["native_id"]))
    return out


def main() -> None:
    for event in events():
        sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
