"""Slowing down password guessing: failed sign-ins lock a username and a client address out.

Every failed sign-in (a wrong password, token or sign-in link) counts against the
client's address, and a wrong password also against the username tried, so that
neither one machine trying many names nor many machines trying one name gets far:
`MAX_FAILURES` failures within `WINDOW_SECONDS` lock that key for `LOCK_SECONDS`.
While a key is locked even the right credentials are refused (answered 429 with
`Retry-After`), or the lock would only slow an attacker down, not stop one.

Locking a username lets someone else lock its owner out for a while; that is the
accepted price of bounding guesses per account. The address is the one uvicorn
reports: behind a reverse proxy, run uvicorn with `--proxy-headers` (and
`--forwarded-allow-ips` for the proxy) so each client is counted, not the proxy.
The counts live in the `SessionStore` file, so they hold across workers and restarts.
"""

from __future__ import annotations

import math

from monitor.web.sessions import SessionStore

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60


def address_key(host: str | None) -> str:
    return f"ip:{host or 'unknown'}"


def user_key(username: str) -> str:
    """Usernames as the login form matches them (trimmed, any case), so `Ana ` and `ana` share a count."""
    return f"user:{username.strip().casefold()[:200]}"


class Lockout:
    """The policy over `SessionStore`'s failure counts; times are POSIX seconds from the app's clock."""

    def __init__(self, store: SessionStore, max_failures: int = MAX_FAILURES, window_seconds: float = WINDOW_SECONDS,
                 lock_seconds: float = LOCK_SECONDS) -> None:
        self.store = store
        self.max_failures = max_failures
        self.window = window_seconds
        self.lock_seconds = lock_seconds

    def retry_after(self, keys: list[str], now: float) -> int | None:
        """Seconds until every lock on `keys` has ended (what `Retry-After` says); None if none is locked."""
        until = self.store.locked_until(keys, now)
        return None if until is None else max(1, math.ceil(until - now))

    def failed(self, keys: list[str], now: float) -> int | None:
        """Count a failure against each key; returns `retry_after` if this one locked any of them."""
        for key in keys:
            if self.store.add_failure(key, now, now - self.window) >= self.max_failures:
                self.store.lock(key, now + self.lock_seconds)
        return self.retry_after(keys, now)

    def succeeded(self, key: str) -> None:
        """A right password clears its username's count (the address keeps its own)."""
        self.store.clear_failures(key)
