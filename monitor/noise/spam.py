"""Spam scoring: rules a care team can read, each with a weight, per brand.

A score rather than a classifier because every flag must come with its reason ("giveaway
pattern: 'rt & follow'; 3 links") that an agent can check in the inbox and overturn with "not
spam", and because a brand must be able to tune it (`brands[].spam`) without retraining.
The rules follow the patterns platforms' spam policies and consumer-protection warnings name:
link farms and shortened links, giveaway and "double your crypto" scams, follower selling,
hashtag and @mention stuffing, and rings of new accounts posting one text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from urllib.parse import urlsplit

from monitor.noise.settings import SpamSettings
from monitor.noise.text import fold

# Rule name -> default weight. A post is spam when the weights of the rules it breaks add up
# to the brand's threshold (1.0 by default): one strong sign, or two weak ones.
RULES: dict[str, float] = {
    "scam": 1.0,  # a phrase only scams use: "send 0.1 ETH get 0.2 back", "buy followers", "claim your prize"
    "giveaway": 0.6,  # a promotion phrase ("giveaway", "RT & follow", "tag 3 friends"): each distinct one adds
    "link_farm": 1.0,  # more links than a person shares in one post
    "spam_link": 0.5,  # a link through a shortener or on a much-abused domain (each, up to two)
    "hashtags": 1.0,  # hashtag stuffing
    "mass_mentions": 0.6,  # @-mentioning many accounts at once
    "new_accounts": 1.0,  # the same text from several hardly-followed accounts
}

# Hosts that hide where a link goes; t.co is not here (X wraps every link in it).
SHORTENERS = frozenset({
    "bit.ly", "tinyurl.com", "goo.gl", "ow.ly", "is.gd", "buff.ly", "cutt.ly", "rebrand.ly", "shorturl.at",
    "rb.gy", "t.ly", "tiny.cc", "bitly.com", "linktr.ee", "s.id", "v.gd", "qrco.de", "adf.ly", "shorte.st",
})
# Top-level domains that spam and phishing registrations concentrate in (Spamhaus' and Interisle's
# published "most abused TLDs" lists): cheap or free, so throwaway. A link there is a weak sign.
ABUSED_TLDS = frozenset({
    "xyz", "top", "click", "live", "site", "shop", "icu", "buzz", "cyou", "rest", "sbs", "cfd", "bond", "monster",
    "tk", "ml", "ga", "cf", "gq", "work", "loan", "win", "bid", "vip", "online", "store", "lol", "quest", "support",
})
TOKEN = r"(?:btc|eth|usdt|sol|bnb|doge|xrp|bitcoin|ethereum|crypto)"

# Scam phrases, case- and accent-folded, in the wordings of the languages Earshot listens to.
SCAM_PATTERNS: tuple[tuple[str, str], ...] = (
    ("crypto doubling", rf"\bsend \d*[.,]?\d+ ?{TOKEN}\b|\bdouble your {TOKEN}\b|\b{TOKEN} (?:giveaway|airdrop)\b"
                        rf"|\bairdrop\b.{{0,40}}\bclaim\b|\bconnect your wallet\b"),
    ("claim your prize", r"\bclaim (?:your|ur|the) (?:free )?(?:prize|reward|gift|bonus|tokens?|airdrop|\$?\d)"
                         r"|\bdm (?:me |us )?to claim\b|\byou (?:have been|were|are|'ve been) (?:selected|chosen)\b"
                         r"|\bcongratulations!? you (?:have )?won\b"),
    ("followers for sale", r"\b(?:buy|cheap|jual|beli|compra)\b.{0,25}\b(?:followers|seguidores|likes|subscribers|views)\b"
                           r"|\b(?:followers|likes|seguidores) (?:murah|baratos?|cheap)\b"),
    ("easy money", r"\bearn \$?\d[\d,.]*k? ?(?:\$|usd|dollars)? (?:a|per|every) (?:day|hour|week)\b"
                   r"|\bwork(?:ing)? from home\b.{0,40}\bearn\b|\bearn\b.{0,40}\bworking from home\b"
                   r"|\bmake money (?:fast|online|from home)\b|\bno experience needed\b"),
)
# Promotion phrases: each alone is what a real brand giveaway says too, so weak on its own.
GIVEAWAY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("giveaway", r"\bgive ?aways?\b|\bsorteo\b|\bbagi[- ]?bagi\b|\bwe(?:'re| are) giving away\b"),
    ("win a prize", r"\b(?:win|won|winning|gana|menangkan)\b (?:a |an |the |one |un |una |free |\d+ )?"
                    r"(?:free |brand new |new )?(?:iphone|ipad|macbook|ps5|xbox|airpods|nintendo|samsung|gift ?cards?"
                    r"|vouchers?|prize|cash|\$\d)"),
    ("follow and repost", r"\b(?:rt|retweet|repost|like|fav)\b ?(?:&|and|\+|,|y|dan) ?(?:follow|sigue)\b"
                          r"|\b(?:follow|sigue|ikuti)\b.{0,40}\b(?:rt|retweet|repost)\b"),
    ("tag friends", r"\b(?:tag|etiqueta(?: a)?|mention) \d+ (?:friends|people|frens|amigos|teman)\b"),
    ("click the link", r"\b(?:click|tap) (?:the |this |my )?link\b|\blink in (?:my )?bio\b"),
    ("free offer", r"\b100 ?% (?:free|safe|gratis)\b|\bfree (?:iphone|gift ?cards?|vouchers?|money|followers|robux"
                   r"|v-?bucks|tokens|credit)\b"),
    ("urgency", r"\b(?:limited time only|act now|hurry,? (?:only|ends)|offer ends (?:today|tonight|soon)|ends tonight"
                r"|before (?:midnight|it ends))\b"),
    ("promo code", r"\b(?:use|with) (?:my )?(?:promo|referral|invite) code\b"),
)
def _combined(patterns: tuple[tuple[str, str], ...], prefix: str) -> re.Pattern[str]:
    """One alternation with a named group per phrase: a post is read once, not once per phrase.

    Every phrase starts at a word boundary (tests/test_noise_spam.py checks that each does), so
    the alternation is put behind one: inside a word the engine then fails once per character
    instead of trying every phrase there."""
    return re.compile(r"\b(?:" + "|".join(f"(?P<{prefix}{i}>{pattern})" for i, (_, pattern) in enumerate(patterns))
                      + ")")


def _found(combined: re.Pattern[str], patterns: tuple[tuple[str, str], ...], prefix: str, text: str) -> list[str]:
    hits = {int(m.lastgroup[len(prefix):]) for m in combined.finditer(text) if m.lastgroup}
    return [patterns[i][0] for i in sorted(hits)]


_SCAM = _combined(SCAM_PATTERNS, "s")
# Words at least one of which every phrase of the family contains: a post with none of them (most
# posts) skips that family's regular expression, the costliest part of scoring.
SCAM_WORDS = frozenset({
    "send", "double", "btc", "eth", "usdt", "sol", "bnb", "doge", "xrp", "bitcoin", "ethereum", "crypto", "airdrop",
    "wallet", "claim", "selected", "chosen", "congratulations", "buy", "cheap", "jual", "beli", "compra", "murah",
    "baratos", "barato", "earn", "work", "working", "money", "experience",
})
GIVEAWAY_WORDS = frozenset({
    "giveaway", "giveaways", "give", "giving", "sorteo", "bagi", "win", "won", "winning", "gana", "menangkan",
    "follow", "sigue", "ikuti", "tag", "etiqueta", "mention", "click", "tap", "link", "free", "gratis", "safe",
    "limited", "act", "hurry", "offer", "ends", "midnight", "code",
})
_GIVEAWAY = _combined(GIVEAWAY_PATTERNS, "g")
LINK = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
HASHTAG = re.compile(r"(?<!\w)#\w+")
HANDLE = re.compile(r"(?<!\w)@\w+")
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SpamVerdict:
    score: float
    reasons: tuple[str, ...]
    spam: bool


@lru_cache(maxsize=8192)
def _host(url: str) -> str:
    if not url.lower().startswith(("http://", "https://")):
        url = "http://" + url
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:  # "http://[oops": still a link, with no host to judge (and no crash of the step)
        return ""
    return host[4:] if host.startswith("www.") else host


def _matches_host(host: str, hosts: frozenset[str] | set[str]) -> bool:
    """`host` is one of `hosts` or a subdomain of one ("ends with '.' + h" for some h, looked up
    one dot at a time rather than tried against every host)."""
    if host in hosts:
        return True
    dot = host.find(".")
    while dot >= 0:
        if host[dot + 1:] in hosts:
            return True
        dot = host.find(".", dot + 1)
    return False


# ASCII text as bytes: word characters (letters, digits, "_") kept, everything else a space.
_ASCII_WORDS = bytes(c if c < 128 and (chr(c).isalnum() or chr(c) == "_") else 32 for c in range(256))


def _words(folded: str) -> list[str]:
    """The `WORD` matches of a text (split on bytes when the text is ASCII, most are)."""
    if folded.isascii():
        return folded.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()
    return WORD.findall(folded)


@dataclass(frozen=True)
class SpamScorer:
    """One brand's rules, compiled once (a run scores thousands of posts)."""

    settings: SpamSettings

    def weight(self, rule: str) -> float:
        return self.settings.weights.get(rule, RULES[rule])

    @cached_property
    def _weights(self) -> dict[str, float]:
        return {rule: self.weight(rule) for rule in RULES}

    @cached_property
    def _trusted(self) -> frozenset[str]:
        return frozenset(h.lower() for h in self.settings.trusted_hosts)

    @cached_property
    def _spam_hosts(self) -> frozenset[str]:
        return SHORTENERS | {h.lower() for h in self.settings.link_hosts}

    @cached_property
    def _giveaway_terms(self) -> tuple[tuple[str, str], ...]:
        return tuple((term, fold(term)) for term in self.settings.giveaway_terms)

    def score(self, text: str, *, ring_accounts: int = 0) -> SpamVerdict:
        """Score one post. `ring_accounts`: how many hardly-followed accounts have posted this
        same text so far, this one included when it is one (0 when it is not a copy)."""
        s = self.settings
        if not s.enabled:
            return SpamVerdict(0.0, (), False)
        weights = self._weights
        score, reasons = 0.0, []
        lowered = text.lower()
        if "http" in lowered or "www." in lowered:
            trusted = self._trusted
            counted = [host for host in map(_host, LINK.findall(text)) if not _matches_host(host, trusted)]
            if len(counted) > s.max_links:
                score += weights["link_farm"]
                reasons.append(f"link farm: {len(counted)} links")
            spam_hosts = self._spam_hosts
            shady = [host for host in counted
                     if _matches_host(host, spam_hosts) or host.rsplit(".", 1)[-1] in ABUSED_TLDS]
            if shady:
                score += weights["spam_link"] * min(len(shady), 2)
                reasons.append(f"shortened or throwaway links: {', '.join(sorted(set(shady)))}")
        folded = fold(text)
        words = _words(folded)
        scams = _found(_SCAM, SCAM_PATTERNS, "s", folded) if not SCAM_WORDS.isdisjoint(words) else []
        if scams:
            score += weights["scam"] * len(scams)
            reasons.append(f"scam pattern: {', '.join(scams)}")
        phrases = _found(_GIVEAWAY, GIVEAWAY_PATTERNS, "g", folded) if not GIVEAWAY_WORDS.isdisjoint(words) else []
        phrases += [term for term, folded_term in self._giveaway_terms if folded_term in folded]
        if phrases:
            score += weights["giveaway"] * len(phrases)
            reasons.append(f"giveaway pattern: {', '.join(phrases)}")
        tags = HASHTAG.findall(text) if "#" in text else []
        if len(tags) > s.max_hashtags or (len(tags) >= 3
                                          and len(tags) > s.max_hashtag_share * max(len(set(words)), 1)):
            score += weights["hashtags"]
            reasons.append(f"hashtag stuffing: {len(tags)} hashtags")
        handles = len(HANDLE.findall(text)) if "@" in text else 0
        if handles >= 6:
            score += weights["mass_mentions"]
            reasons.append(f"mass mentions: {handles} accounts tagged")
        if ring_accounts >= s.same_text_accounts:
            score += weights["new_accounts"]
            reasons.append(f"same text from {ring_accounts} new accounts")
        score = round(score, 3)
        return SpamVerdict(score, tuple(reasons), score >= s.threshold)
