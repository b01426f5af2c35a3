"""The labelled mixed stream `benchmarks/noise.py` measures noise handling on, and how it is made.

Honest by construction, and documented so anyone can check what the figures mean:

* **Ham is real.** Posts people wrote, from the validation splits in `../shared/data/sentiment`
  (TweetEval English tweets, InterTASS Spanish tweets, SmSA Indonesian comments). The pool is
  cleaned first of texts that already repeat one another (word-set Jaccard >= 0.8, a different
  measure from the detector's character-shingle MinHash), so every labelled copy in the stream is
  one this generator made, and every other near-duplicate the detector reports is its mistake.
  A tenth of the ham gets what ordinary people add (one link to a news site, two or three
  hashtags, an @mention): hard cases for a spam scorer, labelled ham.
* **Copies are edits real reposts make**, applied one or two at a time to a real ham post by other
  accounts over the next two days: "RT @author:" in front; a hashtag, link or emoji appended; case
  changed; punctuation dropped or "!!" added; "+1" / "this." in front; the end cut off with "…" as
  a client truncates; a @handle swapped. Each is labelled a copy of its first post.
* **Spam follows published patterns**, by family: the giveaway/sweepstakes formula ("follow, RT,
  tag 3 friends") and fake prize notices that platforms and consumer-protection agencies (the FTC's
  social-media giveaway scam warnings, X's platform-manipulation-and-spam policy) describe; crypto
  "send 0.1 get 0.2" doubling scams and fake airdrops; follower/like selling; work-from-home money
  schemes; link farms (several links to unrelated pages); hashtag stuffing onto a short text; and
  bot rings (one real complaint posted by a handful of fresh, unfollowed accounts). Templates are
  filled from slot lists (prizes, amounts, hosts, hashtags, handles) and English, Spanish and
  Indonesian wordings. The spam rules (monitor/noise/spam.py) were written from the same public
  descriptions, not from these templates; `benchmarks/noise.py` prints recall per family so a
  family the rules miss shows up instead of being averaged away.

Deterministic for a seed; nothing here is tuned: change `--seed` to draw another stream.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.models import Engagement, Mention

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HAM_FILES = (("tweeteval_en_val.jsonl", 1100), ("xlmt_es_val.jsonl", 300), ("smsa_id_val.jsonl", 500))
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Labelled:
    mention: Mention
    copy_of: str | None  # the first post this one copies (generator's truth); None for a first post
    spam: bool
    family: str  # ham, ham+link, copy, or the spam family


def load_ham(data: Path, rng: random.Random) -> list[str]:
    """Real posts, with those that already repeat each other removed (word-set Jaccard >= 0.8)."""
    texts: list[str] = []
    for name, wanted in HAM_FILES:
        path = data / name
        rows = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        rng.shuffle(rows)
        texts += rows[:wanted]
    kept: list[str] = []
    kept_sets: list[set[str]] = []
    for text in texts:
        words = set(WORD.findall(text.lower())) - {"user", "http", "https"}
        if len(words) < 2:
            kept.append(text)
            kept_sets.append(words)
            continue
        if any(len(words & other) / len(words | other) >= 0.8 for other in kept_sets if other):
            continue
        kept.append(text)
        kept_sets.append(words)
    return kept


# -- copies ---------------------------------------------------------------------------------

EMOJI = ["😡", "🙄", "😂", "👇", "💯", "😭", "🔥", "👏"]
NEWS_HOSTS = ["https://www.bbc.co.uk/news/", "https://elpais.com/", "https://www.kompas.com/", "https://t.co/",
              "https://www.reuters.com/article/", "https://youtu.be/"]


def _copy_edit(text: str, author: str, rng: random.Random) -> str:
    edit = rng.choice(["rt", "hashtag", "link", "emoji", "case", "punct", "plus", "truncate", "handle", "bang"])
    if edit == "rt":
        return f"RT @{author}: {text}"
    if edit == "hashtag":
        return f"{text} #{rng.choice(['fail', 'customerservice', 'help', 'again', 'mood', 'truth'])}"
    if edit == "link":
        return f"{text} {rng.choice(NEWS_HOSTS)}{rng.randrange(10**6, 10**7)}"
    if edit == "emoji":
        return f"{text} {rng.choice(EMOJI)}{rng.choice(EMOJI)}"
    if edit == "case":
        return text.upper() if rng.random() < 0.3 else text.lower()
    if edit == "punct":
        return re.sub(r"[^\w\s@#]", "", text)
    if edit == "plus":
        return f"{rng.choice(['+1', 'this.', 'same', 'so true', 'exactly', 'este', 'betul'])} {text}"
    if edit == "truncate":
        words = text.split()
        return " ".join(words[: max(len(words) - rng.randint(1, 2), 4)]) + "…" if len(words) > 8 else text
    if edit == "handle":
        return re.sub(r"@\w+", f"@{_handle(rng)}", text) if "@" in text else f"@{_handle(rng)} {text}"
    return f"{text}!!"


def _handle(rng: random.Random) -> str:
    first = rng.choice(["ana", "budi", "carlos", "dewi", "eve", "farid", "gina", "hugo", "ines", "joko", "kate",
                        "lucia", "mike", "nina", "omar", "putri", "quinn", "rosa", "sam", "tari"])
    return f"{first}{rng.choice(['_', '.', ''])}{rng.randrange(10, 9999)}"


# -- spam -----------------------------------------------------------------------------------

PRIZES = ["iPhone 16 Pro", "PS5", "MacBook Air", "$500 gift card", "$1,000 in cash", "Samsung S25", "AirPods Pro",
          "Nintendo Switch 2", "iPad", "$250 Amazon voucher"]
SHORT = ["bit.ly", "tinyurl.com", "cutt.ly", "rb.gy", "is.gd", "shorturl.at", "t.ly"]
SHADY_HOSTS = ["free-prize-now.xyz", "claim-reward.top", "giftcards-win.click", "promo-bonus.live",
               "crypto-x2.site", "followers-cheap.shop"]
TOKENS = ["BTC", "ETH", "USDT", "SOL"]
TAGS = ["#giveaway", "#win", "#free", "#crypto", "#bitcoin", "#followback", "#f4f", "#promo", "#sale", "#viral",
        "#trending", "#fyp", "#like4like", "#instagood", "#money", "#deal", "#discount", "#contest", "#lucky"]


def _short(rng: random.Random) -> str:
    return f"https://{rng.choice(SHORT)}/{''.join(rng.choices('abcdefghjkmnpqrstuvwxyz23456789', k=7))}"


def _shady(rng: random.Random) -> str:
    return f"https://{rng.choice(SHADY_HOSTS)}/{rng.choice(['claim', 'win', 'go', 'r'])}/{rng.randrange(1000, 99999)}"


def _link(rng: random.Random) -> str:
    return _short(rng) if rng.random() < 0.6 else _shady(rng)


def _giveaway(rng: random.Random, brand: str) -> str:
    prize = rng.choice(PRIZES)
    return rng.choice([
        f"🎉 GIVEAWAY 🎉 We're giving away a {prize}! To enter: 1) Follow @{_handle(rng)} 2) RT this 3) Tag 3 friends. "
        f"Winner announced {rng.choice(['Friday', 'Sunday', 'tomorrow'])}!",
        f"{brand} x {_handle(rng)} giveaway!! Win a {prize} — just follow + retweet and tag 2 friends 🍀",
        f"RT & follow to win a {prize}! Ends tonight ⏰ {_link(rng)}",
        f"¡SORTEO! 🎁 Gana un {prize}: sigue a @{_handle(rng)}, dale RT y etiqueta a 3 amigos. ¡Mucha suerte!",
        f"GIVEAWAY {prize}!! Caranya: follow @{_handle(rng)}, RT & like, tag 3 teman kamu. Bagi-bagi hadiah!",
        f"Congratulations! You have been selected to receive a {prize} from {brand}. Claim your prize here: "
        f"{_link(rng)}",
        f"🎁 {brand} customers: claim your free {prize} before midnight! Limited time only 👉 {_link(rng)}",
    ])


def _crypto(rng: random.Random, brand: str) -> str:
    token = rng.choice(TOKENS)
    amount = rng.choice(["0.1", "0.5", "1", "0.05"])
    return rng.choice([
        f"{brand} is celebrating 10M users! Send {amount} {token} and get {float(amount) * 2:g} {token} back. "
        f"Limited time only: {_link(rng)}",
        f"🚀 {token} AIRDROP is LIVE 🚀 Claim your free tokens now before it ends {_link(rng)} #crypto #airdrop",
        f"Double your {token} in 24 hours, guaranteed. DM me to claim 💸 {_link(rng)}",
        f"Official {token} giveaway: first 500 wallets get 2x. Connect your wallet → {_link(rng)}",
    ])


def _followers(rng: random.Random, brand: str) -> str:
    n = rng.choice(["1k", "5k", "10,000", "50k", "2000"])
    return rng.choice([
        f"Buy {n} real followers cheap 👉 {_link(rng)} instant delivery, 100% safe",
        f"Get {n} Instagram followers in 24h!! cheap likes and views {_link(rng)}",
        f"Want to go viral? Cheap followers, likes & subscribers 📈 DM us or visit {_link(rng)}",
        f"Jual followers murah {n} real & aktif, proses cepat! cek {_link(rng)}",
    ])


def _money(rng: random.Random, brand: str) -> str:
    amount = rng.choice(["$300", "$500", "$1,200", "$3,000"])
    return rng.choice([
        f"I earn {amount} a day working from home, only 2 hours a day! DM me 'INFO' to learn how {_link(rng)}",
        f"Make money online fast 💰 no experience needed, start today → {_link(rng)}",
        f"Work from home and earn {amount} per week. Click the link in my bio 👆",
        f"Use my referral code {rng.choice(['WIN50', 'CASH10', 'BONUS25'])} and get {amount} free credit on signup! "
        f"{_link(rng)}",
    ])


def _link_farm(rng: random.Random, brand: str) -> str:
    heads = ["Top stories today", "You won't believe these", "Best deals this week", "Must read", "Breaking",
             "Latest news", "Ofertas de hoy", "Berita terkini"]
    links = " ".join(_link(rng) if rng.random() < 0.5 else f"https://news-{rng.randrange(100)}.info/{rng.randrange(10**5)}"
                     for _ in range(rng.randint(3, 6)))
    return f"{rng.choice(heads)} {brand} {links}"


def _hashtags(rng: random.Random, brand: str, ham: list[str]) -> str:
    base = " ".join(rng.choice(ham).split()[:rng.randint(3, 8)])
    return f"{base} " + " ".join(rng.sample(TAGS, rng.randint(7, 12)))


SPAM_FAMILIES = ("giveaway", "crypto", "followers", "money", "link_farm", "hashtags")


def make_stream(data: Path, seed: int = 7, brand: str = "Brisa") -> list[Labelled]:
    """The labelled stream, in time order (≈ 2,600 posts over four days)."""
    rng = random.Random(seed)
    ham = load_ham(data, rng)
    posts: list[tuple[datetime, str, str, int, str | None, bool, str]] = []  # at, text, author, followers, ...
    horizon = 4 * 24 * 60
    originals: list[int] = []
    for i, text in enumerate(ham):
        at = START + timedelta(minutes=rng.uniform(0, horizon))
        family = "ham"
        if rng.random() < 0.1:  # what ordinary people add: hard cases for a spam scorer
            extra = rng.choice([f" {rng.choice(NEWS_HOSTS)}{rng.randrange(10**6)}",
                                " " + " ".join(rng.sample(["#mondaymotivation", "#football", "#news", "#travel",
                                                           "#foodie", "#music"], rng.randint(2, 3))),
                                f" @{_handle(rng)}"])
            text, family = text + extra, "ham+extra"
        posts.append((at, text, _handle(rng), rng.randint(20, 20000), None, False, family))
        if len(text) >= 60:
            originals.append(len(posts) - 1)
    # Copies: 150 first posts, each reposted 1-8 times by others over the next two days.
    for idx in rng.sample(originals, min(150, len(originals))):
        at0, text0, author0 = posts[idx][0], posts[idx][1], posts[idx][2]
        for _ in range(rng.randint(1, 8)):
            text = text0
            for _ in range(rng.randint(1, 2)):
                text = _copy_edit(text, author0, rng)
            posts.append((at0 + timedelta(minutes=rng.uniform(1, 48 * 60)), text, _handle(rng),
                          rng.randint(20, 5000), f"#{idx}", False, "copy"))
    # Spam, by family; some posted by rings of fresh accounts with a fresh link each time.
    makers = {"giveaway": _giveaway, "crypto": _crypto, "followers": _followers, "money": _money,
              "link_farm": _link_farm}
    for family in SPAM_FAMILIES:
        for _ in range(60):
            text = _hashtags(rng, brand, ham) if family == "hashtags" else makers[family](rng, brand)
            posts.append((START + timedelta(minutes=rng.uniform(0, horizon)), text, _handle(rng), rng.randint(0, 300),
                          None, True, family))
    # Bot rings: a real complaint pushed by 6-12 accounts with no followers within hours.
    for idx in rng.sample(originals, 20):
        text0 = posts[idx][1]
        at0 = START + timedelta(minutes=rng.uniform(0, horizon - 600))
        ring_first = len(posts)
        for k in range(rng.randint(6, 12)):
            text = text0 if rng.random() < 0.5 else _copy_edit(text0, posts[idx][2], rng)
            posts.append((at0 + timedelta(minutes=rng.uniform(0, 300)), text, f"user{rng.randrange(10**8, 10**9)}",
                          rng.randint(0, 4), f"#{idx}", True, "bot_ring"))
        del ring_first
    # The generator's truth for copies: the earliest post of each cluster is its first post.
    order = sorted(range(len(posts)), key=lambda i: posts[i][0])
    ids = {i: f"x:{n}" for n, i in enumerate(order)}
    first_of: dict[str, str] = {}
    out: list[Labelled] = []
    for i in order:
        at, text, author, followers, cluster, spam, family = posts[i]
        key = cluster if cluster is not None else (f"#{i}" if i in originals else None)
        mid = ids[i]
        copy_of = None
        if key is not None:
            if key in first_of:
                copy_of = first_of[key]
            else:
                first_of[key] = mid
        native = mid.split(":", 1)[1]
        mention = Mention(id=mid, source="x", native_id=native, url=f"https://x.com/{author}/status/{native}",
                          author_handle=author, author_followers=followers, text=text, created_at=at, brand=brand,
                          query=brand.lower(), engagement=Engagement(likes=rng.randint(0, 30)))
        out.append(Labelled(mention, copy_of, spam, family))
    return out


def families(stream: list[Labelled]) -> Iterator[str]:
    yield from dict.fromkeys(p.family for p in stream)
