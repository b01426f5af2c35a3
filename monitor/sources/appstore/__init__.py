"""The App Store source: the newest reviews of the configured apps, from Apple's public customer-reviews feed.

| module | what |
|---|---|
| settings.py | `AppStoreSettings` (`sources.appstore`) and `StoreApp`, pydantic only |
| source.py | `AppStoreSource`: the feed's pages and quirks (imports httpx); the loop is `monitor.sources.reviews` |

`SOURCE` is what the `earshot.sources` entry point names; the factory imports source.py.
"""

from __future__ import annotations

from monitor.plugins import Plugin, lazy
from monitor.sources.appstore.settings import AppStoreSettings, StoreApp

__all__ = ["SOURCE", "AppStoreSettings", "StoreApp"]

SOURCE = Plugin("appstore", AppStoreSettings, lazy("monitor.sources.appstore.source:AppStoreSource.from_settings"))
