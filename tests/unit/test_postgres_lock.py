"""The local Postgres's stale lock file: removed when its postmaster is gone or a zombie, kept
while a live postgres holds it (the system test kills the real one and restarts it)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
from stockpulse_toolbox.devstack.postgres import clear_stale_lock


def lock_for(data: Path, pid: int) -> Path:
    lock = data / "postmaster.pid"
    lock.write_text(f"{pid}\n{data}\n1764790000\n5432\n")
    return lock


def test_a_lock_of_a_gone_process_is_removed(tmp_path):
    gone = max(psutil.pids()) + 100_000
    lock = lock_for(tmp_path, gone)
    assert clear_stale_lock(tmp_path) and not lock.exists()


def test_a_lock_of_a_zombie_is_removed(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE  # not reaped yet: still a pid
    lock = lock_for(tmp_path, child.pid)
    try:
        assert clear_stale_lock(tmp_path) and not lock.exists()
    finally:
        child.wait()


def test_a_lock_of_a_live_process_that_is_not_postgres_is_removed(tmp_path):
    lock = lock_for(tmp_path, psutil.Process().pid)  # this python: a pid reused by another program
    assert clear_stale_lock(tmp_path) and not lock.exists()


def test_a_lock_held_by_a_live_postgres_stays(tmp_path):
    fake = tmp_path / "postgres"
    fake.symlink_to("/bin/sleep")
    server = subprocess.Popen([str(fake), "30"])
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(server.pid).name() != "postgres" and time.monotonic() < deadline:
            time.sleep(0.05)
        lock = lock_for(tmp_path, server.pid)
        assert not clear_stale_lock(tmp_path) and lock.exists()
    finally:
        server.kill()
        server.wait()


def test_no_lock_file_is_nothing_to_do(tmp_path):
    assert not clear_stale_lock(tmp_path)
