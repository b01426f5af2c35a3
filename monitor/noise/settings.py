"""Settings of noise handling: near-duplicate clustering (global) and spam scoring (per brand).

Kept apart from monitor/config.py so that file only names them: `noise:` at the top level of
the config, and `spam:` inside each brand (a gaming brand sees giveaways every day and may want
a higher bar than a bank).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoiseConfig(_Strict):
    """Near-duplicate detection (monitor/noise/duplicates.py).

    A post is a near-duplicate when the estimated Jaccard similarity of its normalised text's
    character shingles with an earlier post of the same brand, within `window_hours`, is at
    least `similarity`. `bands` x `rows` = the MinHash size; with 16 x 4 a pair at 0.6
    similarity is a candidate 88 % of the time and at 0.3 under 13 %, and every candidate is
    then checked on its whole signature, so LSH only has to be generous, never exact.
    """

    enabled: bool = True
    window_hours: int = Field(72, ge=1, le=24 * 60)  # how far back a copy finds its first post
    similarity: float = Field(0.6, gt=0, le=1)
    shingle_chars: int = Field(5, ge=2, le=8)  # bytes, in fact: a shingle is hashed as one 64-bit word
    bands: int = Field(16, ge=2, le=64)
    rows: int = Field(4, ge=1, le=16)
    # Shorter normalised texts ("thank you", "love it") are said by many people independently:
    # they are never called copies of each other.
    min_chars: int = Field(25, ge=1)
    # A copy counts in its cluster's engagement as this many reposts of the first post, on top of
    # its own likes and reposts: fifty people posting the same complaint is the complaint spreading.
    copy_as_reposts: int = Field(1, ge=0, le=10)

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


class SpamSettings(_Strict):
    """Spam scoring of one brand's posts (monitor/noise/spam.py): each rule that fires adds its
    weight; a post scoring at least `threshold` is flagged, with the rules as its reasons."""

    enabled: bool = True
    threshold: float = Field(1.0, gt=0)
    max_links: int = Field(2, ge=0)  # more links than this: a link farm
    max_hashtags: int = Field(5, ge=0)  # more hashtags than this: hashtag stuffing
    max_hashtag_share: float = Field(0.5, gt=0, le=1)  # ... or more than this share of the words
    # Sources do not report account age, so "new account" reads as "hardly followed": accounts
    # with fewer followers than this count as new when they post copies of the same text.
    new_account_followers: int = Field(10, ge=0)
    same_text_accounts: int = Field(5, ge=2)  # this many such accounts posting one text: a bot ring
    giveaway_terms: list[str] = Field(default_factory=list)  # extra phrases, on top of the built-in patterns
    link_hosts: list[str] = Field(default_factory=list)  # extra hosts counted as spam links (shorteners, ...)
    trusted_hosts: list[str] = Field(default_factory=list)  # the brand's own sites: never count as spam links
    weights: dict[str, float] = Field(default_factory=dict)  # override a rule's weight by its name

    @model_validator(mode="after")
    def _known_rules(self) -> SpamSettings:
        from monitor.noise.spam import RULES

        if unknown := sorted(set(self.weights) - set(RULES)):
            raise ValueError(f"spam.weights: unknown rule(s) {', '.join(unknown)} (rules: {', '.join(RULES)})")
        return self
