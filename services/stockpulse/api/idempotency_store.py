"""Records of keyed orders, shared by the API workers of one host (or pod) through one SQLite file.

A record keeps the order's event as first built (``attach``), so every attempt of an intent
sends the same bytes, and, once Kafka acknowledged one attempt, the answer the client got.
States: ``pending`` (an attempt holds the lease; a concurrent one is told 409, a dead one's
lease runs out), ``in_doubt`` (sent, not confirmed: the next attempt sends it again) and
``done`` (repeats get the stored answer). A record for which nothing was sent is deleted.
Workers of different pods do not share this file (see README, "Idempotency-Key").
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

Outcome = Literal["new", "retry", "replay", "conflict", "busy"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keyed_order (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    event TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'in_doubt', 'done')),
    answer TEXT,
    lease_until REAL NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID
"""
PRUNE_EVERY_S = 60.0
#: How long a connection waits for another worker's lock before giving up.
BUSY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Claim:
    """What ``begin`` decided: go ahead (``new``/``retry``), answer now (``replay``), or refuse."""

    outcome: Outcome
    event: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None
    retry_after_s: float = 0.0


class IdempotencyStore:
    def __init__(self, path: Path, ttl_s: float, clock=time.time) -> None:
        self.path = _writable(path)
        self.ttl_s = ttl_s
        self._clock = clock
        self._local = threading.local()
        self._pruned_at = 0.0
        with self._transaction() as db:
            db.execute(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # autocommit mode: transactions are explicit (BEGIN IMMEDIATE below)
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            _use_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        # IMMEDIATE: take the write lock before reading, so two workers never both see "no record"
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def begin(self, scope: str, key: str, fingerprint: str, lease_s: float) -> Claim:
        """Claim the intent for one attempt. A claim to go ahead without an event (a new intent, or one
        whose first attempt died before it had built its event) must ``attach`` one before sending."""
        now = self._clock()
        self._maybe_prune(now)
        with self._transaction() as db:
            row = db.execute(
                "SELECT fingerprint, event, state, answer, lease_until, created_at FROM keyed_order "
                "WHERE scope = ? AND key = ?",
                (scope, key),
            ).fetchone()
            if row is None or row[5] < now - self.ttl_s:
                db.execute(
                    "INSERT OR REPLACE INTO keyed_order VALUES (?, ?, ?, NULL, 'pending', NULL, ?, ?)",
                    (scope, key, fingerprint, now + lease_s, now),
                )
                return Claim("new")
            stored_fingerprint, stored_event, state, answer, lease_until, _ = row
            if stored_fingerprint != fingerprint:
                return Claim("conflict")
            if state == "done":
                return Claim("replay", event=json.loads(stored_event), answer=json.loads(answer))
            if state == "pending" and lease_until > now:
                return Claim("busy", retry_after_s=lease_until - now)
            db.execute(
                "UPDATE keyed_order SET state = 'pending', lease_until = ? WHERE scope = ? AND key = ?",
                (now + lease_s, scope, key),
            )
            return Claim("retry", event=json.loads(stored_event) if stored_event else None)

    def attach(self, scope: str, key: str, event: dict[str, Any]) -> dict[str, Any]:
        """Record the event every attempt of this intent will send, and return it: the one already
        recorded, should a slow attempt whose lease ran out get here after the one that took over."""
        with self._transaction() as db:
            db.execute(
                "UPDATE keyed_order SET event = ? WHERE scope = ? AND key = ? AND event IS NULL",
                (json.dumps(event), scope, key),
            )
            row = db.execute("SELECT event FROM keyed_order WHERE scope = ? AND key = ?", (scope, key)).fetchone()
        return json.loads(row[0]) if row and row[0] else event

    def finish(self, scope: str, key: str, answer: dict[str, Any]) -> None:
        """Kafka acknowledged the event: store the answer every repeat will get."""
        with self._transaction() as db:
            db.execute(
                "UPDATE keyed_order SET state = 'done', answer = ?, lease_until = 0 WHERE scope = ? AND key = ?",
                (json.dumps(answer), scope, key),
            )

    def doubt(self, scope: str, key: str) -> None:
        """The event was sent but not confirmed: the next attempt sends it again."""
        with self._transaction() as db:
            db.execute(
                "UPDATE keyed_order SET state = 'in_doubt', lease_until = 0 WHERE scope = ? AND key = ?", (scope, key)
            )

    def forget(self, scope: str, key: str) -> None:
        """Nothing of this intent was ever sent: drop the record, so a retry is a fresh attempt."""
        with self._transaction() as db:
            db.execute("DELETE FROM keyed_order WHERE scope = ? AND key = ? AND state = 'pending'", (scope, key))

    def _maybe_prune(self, now: float) -> None:
        if now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        with self._transaction() as db:
            db.execute("DELETE FROM keyed_order WHERE created_at < ? AND state != 'pending'", (now - self.ttl_s,))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch the file to WAL (it stays so), waiting for other workers doing the same.

    gunicorn boots its workers together, and each opens the shared file. Switching a new file to
    WAL needs an exclusive lock, and SQLite answers a connection that races for it with "database
    is locked" at once, without its busy timeout; a worker that raises here fails to boot, and
    gunicorn then stops the whole server. So: retry until the busy timeout, as SQLite does for
    other locks. A file already in WAL needs no lock for this.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _writable(path: Path) -> Path:
    """``path``, or a file in the temporary folder when its folder cannot be created (read-only image)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / "stockpulse-idempotency.sqlite3"
        log.warning(
            "idempotency store folder not writable; using the temporary folder (set STOCKPULSE_IDEMPOTENCY_DB)",
            extra={"wanted": str(path), "using": str(fallback), "error": str(exc)},
        )
        return fallback
