"""Sign-in state kept on the server: sessions, one-time sign-in codes and failed sign-ins.

A signed cookie on its own cannot be taken back: signing out only asked the browser to
forget it, so a copied cookie kept working until it expired, and a password change
could only void everyone's sessions at once. Here the cookie just names a session (a
random id, signed by `Authenticator`); the session is a row, so signing out deletes it,
and a changed password or token ends the sessions it opened (`Authenticator` stores a
keyed fingerprint of the credential with each session and compares it on every use).

Where: a small SQLite file next to the store's database (`earshot-sessions.db` beside
`earshot.db`; with the Elasticsearch store, in the data home, `$EARSHOT_HOME`), not a
dict in the process, because

* sessions must outlive nothing less than the process, and with a stable
  `web.auth.secret_key_env` they also survive a restart or reach a second worker;
* a one-time code must be redeemable exactly once, whichever process serves it: a
  single DELETE decides, atomically;
* failed sign-ins must be counted wherever they land, or a lockout could be dodged by
  reaching another worker, or waited out with a restart.

Only SHA-256 digests of session ids and codes are stored (both are 256-bit random
values, so a plain digest cannot be reversed), so a copy of the file signs nobody in.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from monitor.config import Config, data_home

FILE_NAME = "earshot-sessions.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id_digest TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    actor TEXT NOT NULL,
    csrf TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires);
CREATE INDEX IF NOT EXISTS sessions_subject ON sessions(kind, subject);

CREATE TABLE IF NOT EXISTS login_codes (
    code_digest TEXT PRIMARY KEY,
    expires REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS failed_logins (
    key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS failed_logins_key ON failed_logins(key, at);
CREATE INDEX IF NOT EXISTS failed_logins_at ON failed_logins(at);

CREATE TABLE IF NOT EXISTS lockouts (
    key TEXT PRIMARY KEY,
    until REAL NOT NULL
);
"""


def sessions_path(config: Config) -> Path:
    """The sign-in state file: beside the SQLite store's file, else (Elasticsearch) in the data home."""
    if config.store.backend == "sqlite":
        store = config.resolve(config.store.path)
        return store.with_name(f"{store.stem}-sessions.db")
    return data_home() / FILE_NAME


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionRecord:
    """A signed-in browser: who, its CSRF token, and the credential it signed in with."""

    name: str
    actor: str
    csrf: str
    kind: str  # how the person signed in: "token", "password" or "link"
    subject: str  # the username for a password sign-in, else ""
    fingerprint: str  # keyed digest of that credential (Authenticator): if it changes, the session ends
    expires: float  # POSIX seconds


class SessionStore:
    """The SQLite file behind sessions, codes and lockouts; opened on first use, safe across threads.

    `path=None` keeps everything in memory, for an `Authenticator` built on its own (a test, a script).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            if self.path is None:
                conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not self.path.exists():
                    self.path.touch(mode=0o600)  # only digests inside, but nobody else's business
                conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA busy_timeout=10000")
            conn.executescript(SCHEMA)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- sessions ------------------------------------------------------------------

    def create(self, *, name: str, actor: str, kind: str, subject: str, fingerprint: str,
               now: float, expires: float) -> tuple[str, str]:
        """A new session; returns (its id for the cookie, its CSRF token). Expired ones are swept here."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        with self._lock:
            db = self._db()
            db.execute("DELETE FROM sessions WHERE expires <= ?", (now,))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (_digest(session_id), name, actor, csrf, kind, subject, fingerprint, now, expires))
        return session_id, csrf

    def get(self, session_id: str, now: float) -> SessionRecord | None:
        with self._lock:
            row = self._db().execute(
                "SELECT name, actor, csrf, kind, subject, fingerprint, expires FROM sessions"
                " WHERE id_digest = ? AND expires > ?", (_digest(session_id), now)).fetchone()
        return SessionRecord(*row) if row else None

    def end(self, session_id: str) -> None:
        with self._lock:
            self._db().execute("DELETE FROM sessions WHERE id_digest = ?", (_digest(session_id),))

    def end_all(self, kind: str, subject: str) -> int:
        """End every session opened with this kind of credential by this subject (e.g. one user's)."""
        with self._lock:
            return self._db().execute("DELETE FROM sessions WHERE kind = ? AND subject = ?",
                                      (kind, subject)).rowcount

    # -- one-time sign-in codes -------------------------------------------------------

    def issue_code(self, now: float, expires: float) -> str:
        code = secrets.token_urlsafe(32)
        with self._lock:
            db = self._db()
            db.execute("DELETE FROM login_codes WHERE expires <= ?", (now,))
            db.execute("INSERT INTO login_codes VALUES (?, ?)", (_digest(code), expires))
        return code

    def redeem_code(self, code: str, now: float) -> bool:
        """True once for a code issued and not expired; it is gone afterwards, whatever the answer."""
        if not code:
            return False
        with self._lock:
            deleted = self._db().execute("DELETE FROM login_codes WHERE code_digest = ? RETURNING expires",
                                         (_digest(code),)).fetchall()
        return bool(deleted) and deleted[0][0] > now

    # -- failed sign-ins ----------------------------------------------------------------

    def add_failure(self, key: str, at: float, since: float) -> int:
        """Record a failure for `key`; returns how many it has had since `since` (older ones, any key's, go)."""
        with self._lock:
            db = self._db()
            db.execute("DELETE FROM failed_logins WHERE at <= ?", (since,))
            db.execute("INSERT INTO failed_logins VALUES (?, ?)", (key, at))
            return db.execute("SELECT COUNT(*) FROM failed_logins WHERE key = ?", (key,)).fetchone()[0]

    def clear_failures(self, key: str) -> None:
        with self._lock:
            self._db().execute("DELETE FROM failed_logins WHERE key = ?", (key,))

    def lock(self, key: str, until: float) -> None:
        with self._lock:
            db = self._db()
            db.execute("INSERT INTO lockouts VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET until = excluded.until",
                       (key, until))
            db.execute("DELETE FROM failed_logins WHERE key = ?", (key,))  # after the lockout: a fresh count

    def locked_until(self, keys: Iterable[str], now: float) -> float | None:
        """The latest end of a lockout still running for any of `keys`; None if none is locked."""
        keys = list(keys)
        with self._lock:
            db = self._db()
            db.execute("DELETE FROM lockouts WHERE until <= ?", (now,))
            rows = db.execute(f"SELECT MAX(until) FROM lockouts WHERE key IN ({','.join('?' * len(keys))})",
                              keys).fetchone() if keys else None
        return rows[0] if rows and rows[0] is not None else None
