"""Spam scoring's details that its speed-ups must keep: which hosts count as a brand's own or as
shady (a subdomain counts as its domain, case does not matter), the order and wording of the
reasons, and a malformed link that is read as a link rather than failing the whole noise step."""

from __future__ import annotations

from monitor.noise.settings import SpamSettings
from monitor.noise.spam import SpamScorer, _matches_host


def test_a_host_matches_itself_and_its_subdomains_only():
    hosts = frozenset({"bit.ly", "brisa.example"})
    assert _matches_host("bit.ly", hosts) and _matches_host("a.b.bit.ly", hosts)
    assert _matches_host("help.brisa.example", hosts)
    assert not _matches_host("notbit.ly", hosts) and not _matches_host("bit.ly.evil.com", hosts)
    assert not _matches_host("", hosts) and not _matches_host("ly", hosts)


def test_trusted_and_extra_spam_hosts_are_read_case_blind_with_their_subdomains():
    scorer = SpamScorer(SpamSettings(trusted_hosts=["Brisa.EXAMPLE"], link_hosts=["Promo.Host"], max_links=1))
    own = scorer.score("Plans https://shop.brisa.example/a https://WWW.BRISA.EXAMPLE/b https://brisa.example")
    assert own.reasons == ()
    shady = scorer.score("Deal https://x.promo.host/a and https://bit.ly/b")
    assert shady.reasons == ("link farm: 2 links", "shortened or throwaway links: bit.ly, x.promo.host")
    assert shady.score == 2.0 and shady.spam


def test_reasons_come_in_rule_order_with_the_score_they_add_up_to():
    text = ("GIVEAWAY! Send 0.1 ETH get 0.2 back, tag 3 friends https://bit.ly/a https://win.xyz/b "
            "https://c.example/c #a #b #c #d #e #f @a @b @c @d @e @f")
    verdict = SpamScorer(SpamSettings()).score(text, ring_accounts=5)
    assert verdict.reasons == (
        "link farm: 3 links", "shortened or throwaway links: bit.ly, win.xyz", "scam pattern: crypto doubling",
        "giveaway pattern: giveaway, tag friends", "hashtag stuffing: 6 hashtags", "mass mentions: 6 accounts tagged",
        "same text from 5 new accounts",
    )
    assert verdict.score == 6.8 and verdict.spam


def test_a_malformed_link_is_a_link_with_no_host_not_a_failure():
    verdict = SpamScorer(SpamSettings(max_links=0)).score("look http://[oops and http://[::1")
    assert verdict.reasons == ("link farm: 2 links",)


def test_switched_off_scoring_says_nothing():
    assert SpamScorer(SpamSettings(enabled=False)).score("GIVEAWAY https://bit.ly/x #a #b #c #d #e #f #g").reasons == ()


def _starts_at_a_word_boundary(pattern: str) -> bool:
    import re._constants as c
    import re._parser as parser

    def first(seq) -> bool:
        if not len(seq):
            return False
        op, av = seq[0]
        if op is c.AT:
            return av is c.AT_BOUNDARY
        if op is c.BRANCH:
            return all(first(branch) for branch in av[1])
        if op is c.SUBPATTERN:
            return first(av[-1])
        return False

    return first(parser.parse(pattern))


def test_every_phrase_starts_at_a_word_boundary_as_the_combined_patterns_assume():
    """The combined phrase patterns sit behind one word boundary; a phrase that could start
    inside a word would silently stop matching there."""
    from monitor.noise.spam import GIVEAWAY_PATTERNS, SCAM_PATTERNS

    assert all(_starts_at_a_word_boundary(pattern) for _, pattern in (*SCAM_PATTERNS, *GIVEAWAY_PATTERNS))
    assert not _starts_at_a_word_boundary(r"\bsend|double") and not _starts_at_a_word_boundary(r"x\b")


def test_phrases_inside_words_or_after_underscores_are_not_phrases():
    scorer = SpamScorer(SpamSettings(threshold=0.1))
    assert scorer.score("supergiveaway xsend 0.1 eth winner_free iphone").reasons == ()
    assert scorer.score("mega-giveaway: send 0.1 eth").reasons == ("scam pattern: crypto doubling",
                                                                   "giveaway pattern: giveaway")


def test_hashtag_share_counts_distinct_words():
    scorer = SpamScorer(SpamSettings(max_hashtags=10, max_hashtag_share=0.5))
    assert scorer.score("#a #b #c a a a a a a").reasons == ("hashtag stuffing: 3 hashtags",)  # 3 tags, 3 distinct words
    assert scorer.score("#a #b #c x y z w v").reasons == ()
