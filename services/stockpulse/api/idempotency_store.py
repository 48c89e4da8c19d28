"""Records of keyed orders in Postgres, shared by every API replica and kept across rollouts.

A record keeps the order's event as first built (``attach``), so every attempt of an intent
sends the same bytes, and, once Kafka acknowledged one attempt, the answer the client got,
stored as text so that a repeat reaching any replica gets it byte for byte. States:
``pending`` (an attempt holds the lease; a concurrent one is told 409, a dead one's lease
runs out), ``in_doubt`` (sent, not confirmed: the next attempt sends it again) and ``done``
(repeats get the stored answer). A record for which nothing was sent loses its event. Records
live ``ttl_s`` from their creation; a key used again after that starts a new record, whose
``generation`` gives the new order ids of its own (see ``idempotency.OrderIntent``).

Times come from the database's clock, so replicas whose clocks differ agree on leases and
expiry. Any failure to reach the database is ``StoreUnavailable``; ``order_placement``
decides what that means for the order in hand.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)

Outcome = Literal["new", "retry", "replay", "conflict", "busy"]

#: One lock number for schema changes, so replicas starting together create the table once.
_SCHEMA_LOCK = 0x5370_4B01
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keyed_order (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    event TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'in_doubt', 'done')),
    answer TEXT,
    lease_until_us BIGINT NOT NULL,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS keyed_order_created ON keyed_order (created_us);
"""
_NOW_US = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
PRUNE_EVERY_S = 60.0


class StoreUnavailable(RuntimeError):
    """The database could not be reached, or did not answer in time."""


@dataclass(frozen=True)
class Record:
    fingerprint: str
    event: str | None
    state: str
    answer: str | None
    lease_until_us: int
    created_us: int


@dataclass(frozen=True)
class Claim:
    """What ``begin`` decided: go ahead (``new``/``retry``), answer now (``replay``), or refuse."""

    outcome: Outcome
    generation: int = 0  # the record's creation time (µs): part of the order ids
    event: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None
    retry_after_s: float = 0.0


def decide(record: Record | None, fingerprint: str, now_us: int, ttl_s: float) -> Claim:
    """What an attempt may do, given the key's record (None: no record, or one past its TTL)."""
    held = record is not None and record.state == "pending" and record.lease_until_us > now_us
    if record is None or (record.created_us < now_us - int(ttl_s * 1_000_000) and not held):
        return Claim("new", generation=now_us)
    if record.fingerprint != fingerprint:
        return Claim("conflict", generation=record.created_us)
    if record.state == "done":
        assert record.event is not None and record.answer is not None
        return Claim("replay", record.created_us, json.loads(record.event), json.loads(record.answer))
    if held:
        return Claim("busy", record.created_us, retry_after_s=(record.lease_until_us - now_us) / 1_000_000)
    return Claim("retry", record.created_us, json.loads(record.event) if record.event else None)


class IdempotencyStore(Protocol):
    """The records the order routes need; ``PostgresIdempotencyStore`` in production."""

    def begin(self, scope: str, key: str, fingerprint: str, lease_s: float) -> Claim: ...
    def attach(self, scope: str, key: str, event: dict[str, Any]) -> dict[str, Any]: ...
    def finish(self, scope: str, key: str, answer: dict[str, Any]) -> None: ...
    def doubt(self, scope: str, key: str) -> None: ...
    def forget(self, scope: str, key: str) -> None: ...
    def close(self) -> None: ...


class PostgresIdempotencyStore:
    """The records in one Postgres table, through a small pool of connections per worker.

    Nothing connects before the first keyed order: a worker boots while the database is
    down, and only keyed orders wait for it (``StoreUnavailable`` after ``timeout_s``).
    """

    def __init__(
        self,
        dsn: str,
        ttl_s: float,
        pool_size: int = 4,
        timeout_s: float = 3.0,
        password_file: str = "",
    ) -> None:
        self.dsn = dsn
        self.ttl_s = ttl_s
        self.pool_size = pool_size
        self.timeout_s = timeout_s
        self.password_file = password_file
        self._pool: Any = None
        self._lock = threading.Lock()
        self._pruned_at = 0.0

    def _connect_kwargs(self) -> dict[str, Any]:
        limit_ms = int(self.timeout_s * 1000)
        kwargs: dict[str, Any] = {
            "connect_timeout": max(1, int(self.timeout_s)),
            # a stalled database answers a keyed order with 503 instead of holding its thread
            "options": f"-c statement_timeout={limit_ms} -c lock_timeout={limit_ms}",
            "application_name": "stockpulse-api",
        }
        if self.password_file:
            kwargs["password"] = Path(self.password_file).read_text().strip()
        return kwargs

    def _opened(self) -> Any:
        with self._lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool  # cost: only the API imports the driver

                pool = ConnectionPool(
                    self.dsn,
                    min_size=1,
                    max_size=self.pool_size,
                    kwargs=self._connect_kwargs(),
                    timeout=self.timeout_s,
                    # a connection broken by a database restart is replaced, not handed to an order
                    check=ConnectionPool.check_connection,
                    open=False,
                    name="idempotency",
                )
                pool.open(wait=False)
                try:
                    with self._on(pool) as cur:
                        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                        cur.execute(_SCHEMA)
                except StoreUnavailable:
                    pool.close(timeout=0)
                    raise
                # only now: another thread of this worker must not use the pool before the table exists
                self._pool = pool
            return self._pool

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._on(self._pool if self._pool is not None else self._opened()) as cur:
            yield cur

    @contextmanager
    def _on(self, pool: Any) -> Iterator[Any]:
        import psycopg  # cost: only the API imports the driver
        from psycopg_pool import PoolTimeout

        try:
            with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except (psycopg.OperationalError, psycopg.errors.QueryCanceled, PoolTimeout) as exc:
            raise StoreUnavailable(f"idempotency store unavailable: {exc}".strip()) from exc

    def begin(self, scope: str, key: str, fingerprint: str, lease_s: float) -> Claim:
        """Claim the intent for one attempt. A claim to go ahead without an event (a new intent, or one
        whose first attempt died before it had built its event) must ``attach`` one before sending."""
        self._maybe_prune()
        lease_us = int(lease_s * 1_000_000)
        with self._transaction() as cur:
            cur.execute(
                f"INSERT INTO keyed_order VALUES (%s, %s, %s, NULL, 'pending', NULL, {_NOW_US} + %s, {_NOW_US}) "
                "ON CONFLICT (scope, key) DO NOTHING RETURNING created_us",
                (scope, key, fingerprint, lease_us),
            )
            inserted = cur.fetchone()
            if inserted is not None:
                return Claim("new", generation=inserted[0])
            cur.execute(
                f"SELECT fingerprint, event, state, answer, lease_until_us, created_us, {_NOW_US} "
                "FROM keyed_order WHERE scope = %s AND key = %s FOR UPDATE",
                (scope, key),
            )
            *row, now_us = cur.fetchone()
            claim = decide(Record(*row), fingerprint, now_us, self.ttl_s)
            if claim.outcome == "new":  # the old record is past its TTL: this is another intent
                cur.execute(
                    "UPDATE keyed_order SET fingerprint = %s, event = NULL, state = 'pending', answer = NULL, "
                    "lease_until_us = %s, created_us = %s WHERE scope = %s AND key = %s",
                    (fingerprint, now_us + lease_us, now_us, scope, key),
                )
            elif claim.outcome == "retry":
                cur.execute(
                    "UPDATE keyed_order SET state = 'pending', lease_until_us = %s WHERE scope = %s AND key = %s",
                    (now_us + lease_us, scope, key),
                )
            return claim

    def attach(self, scope: str, key: str, event: dict[str, Any]) -> dict[str, Any]:
        """Record the event every attempt of this intent will send, and return it: the one already
        recorded, should a slow attempt whose lease ran out get here after the one that took over."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE keyed_order SET event = COALESCE(event, %s) WHERE scope = %s AND key = %s RETURNING event",
                (json.dumps(event), scope, key),
            )
            row = cur.fetchone()
        return json.loads(row[0]) if row and row[0] else event

    def finish(self, scope: str, key: str, answer: dict[str, Any]) -> None:
        """Kafka acknowledged the event: store the answer every repeat will get."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE keyed_order SET state = 'done', answer = %s, lease_until_us = 0 WHERE scope = %s AND key = %s",
                (json.dumps(answer), scope, key),
            )

    def doubt(self, scope: str, key: str) -> None:
        """The event was sent but not confirmed: the next attempt sends it again."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE keyed_order SET state = 'in_doubt', lease_until_us = 0 WHERE scope = %s AND key = %s",
                (scope, key),
            )

    def forget(self, scope: str, key: str) -> None:
        """Nothing of this intent was sent: drop its event and release the lease, so a retry builds
        it afresh (new price) under the same ids, and the order id a 503 named stays the order's."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE keyed_order SET event = NULL, lease_until_us = 0 "
                "WHERE scope = %s AND key = %s AND state = 'pending'",
                (scope, key),
            )

    def prune(self) -> int:
        """Drop the records past their TTL (never one an attempt holds); how many went."""
        with self._transaction() as cur:
            cur.execute(
                f"DELETE FROM keyed_order WHERE created_us < {_NOW_US} - %s AND lease_until_us < {_NOW_US}",
                (int(self.ttl_s * 1_000_000),),
            )
            return cur.rowcount

    def _maybe_prune(self, clock: Callable[[], float] = time.monotonic) -> None:
        now = clock()
        if now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        try:
            self.prune()
        except StoreUnavailable as exc:
            log.warning("could not prune expired idempotency records", extra={"error": str(exc)})

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close(timeout=5)
                self._pool = None
