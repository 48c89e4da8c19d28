"""The SQLite record of keyed orders, as two workers of one host share it."""

from __future__ import annotations

import multiprocessing
import tempfile
import threading
from pathlib import Path

from stockpulse.api.idempotency_store import IdempotencyStore

EVENT = {"event_id": "e-1", "order_id": "o-1", "price": 10.0}


def test_two_workers_racing_for_one_key_claim_it_once(tmp_path):
    path = tmp_path / "keys.sqlite3"
    workers = [IdempotencyStore(path, ttl_s=60) for _ in range(2)]
    threads_per_key = 8
    outcomes: dict[str, list[str]] = {}
    lock = threading.Lock()
    start = threading.Barrier(threads_per_key)

    def attempt(store: IdempotencyStore, key: str, n: int) -> None:
        start.wait()
        try:
            outcome = store.begin("u", key, "fp", lease_s=30).outcome
        except Exception as exc:  # a lost race must not surface as an error either
            outcome = type(exc).__name__
        with lock:
            outcomes.setdefault(key, []).append(outcome)

    for key in (f"k{i}" for i in range(20)):
        threads = [threading.Thread(target=attempt, args=(workers[n % 2], key, n)) for n in range(threads_per_key)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert all(sorted(found) == ["busy"] * (threads_per_key - 1) + ["new"] for found in outcomes.values()), outcomes


def claim(store, scope="u", key="k", fingerprint="fp", event=EVENT):
    """A new claim with its event attached, as an attempt makes it."""
    found = store.begin(scope, key, fingerprint, lease_s=30)
    assert (found.outcome, found.event) == ("new", None)
    return store.attach(scope, key, event)


def test_records_move_from_pending_to_done_and_replay(tmp_path):
    store = IdempotencyStore(tmp_path / "keys.sqlite3", ttl_s=60)
    claim(store)
    store.finish("u", "k", {"order_id": "o-1"})
    replay = store.begin("u", "k", "fp", lease_s=30)
    assert (replay.outcome, replay.answer, replay.event) == ("replay", {"order_id": "o-1"}, EVENT)
    assert store.begin("u", "k", "other", lease_s=30).outcome == "conflict"
    assert store.begin("v", "k", "other", lease_s=30).outcome == "new"  # keys are per customer


def test_in_doubt_is_retried_with_the_first_event(tmp_path):
    store = IdempotencyStore(tmp_path / "keys.sqlite3", ttl_s=60)
    claim(store)
    store.doubt("u", "k")
    retry = store.begin("u", "k", "fp", lease_s=30)
    assert (retry.outcome, retry.event) == ("retry", EVENT)


def test_the_first_attached_event_wins(tmp_path):
    now = [1000.0]
    store = IdempotencyStore(tmp_path / "keys.sqlite3", ttl_s=60, clock=lambda: now[0])
    assert store.begin("u", "k", "fp", lease_s=5).outcome == "new"
    now[0] += 6  # the first attempt is slow: its lease runs out and another takes over
    assert store.begin("u", "k", "fp", lease_s=5).outcome == "retry"
    assert store.attach("u", "k", EVENT) == EVENT
    assert store.attach("u", "k", {**EVENT, "price": 99.0}) == EVENT  # the slow one sends the same bytes


def test_forget_drops_a_pending_record_only(tmp_path):
    store = IdempotencyStore(tmp_path / "keys.sqlite3", ttl_s=60)
    claim(store)
    store.forget("u", "k")
    claim(store, fingerprint="fp2")
    store.finish("u", "k", {"ok": 1})
    store.forget("u", "k")
    assert store.begin("u", "k", "fp2", lease_s=30).outcome == "replay"


def test_records_expire_after_the_ttl(tmp_path):
    now = [1000.0]
    store = IdempotencyStore(tmp_path / "keys.sqlite3", ttl_s=60, clock=lambda: now[0])
    claim(store)
    store.finish("u", "k", {"ok": 1})
    now[0] += 59
    assert store.begin("u", "k", "other", lease_s=5).outcome == "conflict"
    now[0] += 2
    assert store.begin("u", "k", "other", lease_s=5).outcome == "new"


def test_unwritable_folder_falls_back_to_the_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = IdempotencyStore(blocker / "sub" / "keys.sqlite3", ttl_s=60)
    assert store.path == tmp_path / "tmp" / "stockpulse-idempotency.sqlite3"
    assert store.begin("u", "k", "fp", lease_s=1).outcome == "new"


def _open_store(path: str, start, errors) -> None:
    start.wait()
    try:
        IdempotencyStore(Path(path), ttl_s=60).close()
    except Exception as exc:
        errors.put(repr(exc))


def test_workers_booting_together_all_open_a_new_file(tmp_path):
    """gunicorn forks its workers together and each opens the shared file as it boots; one that
    raised failed to boot, and gunicorn then stopped the server (seen in CI: "database is
    locked" while switching a new file to WAL). Processes, not threads: a process's own
    connections are not what races."""
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    for trial in range(100):
        start = ctx.Barrier(6)  # all six open the file at once, as forked workers do
        path = tmp_path / f"boot-{trial}.sqlite3"
        workers = [ctx.Process(target=_open_store, args=(str(path), start, errors)) for _ in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == []
