"""Emerging complaint themes: what a brand's negative posts of the last hours are about, by
meaning and across languages, against what they are usually about.

The parts, one step each: `encoder` (sentence vectors from the bundled multilingual
encoder), `grouping` (posts -> groups), `naming` (a group's most telling terms, c-TF-IDF
against the brand's background), `state` (the brand's usual themes, persisted in the
store) and `detector` (the `themes` detector plugin that raises the alerts). `settings` is
the light pydantic model the config validates; nothing here is imported at DAG parse time.
"""

from monitor.plugins import Plugin, lazy
from monitor.themes.settings import ThemeSettings

__all__ = ["THEMES", "ThemeSettings"]

# The `themes` detector's descriptor (entry point earshot.detectors: themes). Opt-in: add
# "themes" to `detection.detectors`; it loads the encoder (seconds, once per process).
THEMES = Plugin("themes", ThemeSettings, lazy("monitor.themes.detector:ThemeDetector.from_settings"))
