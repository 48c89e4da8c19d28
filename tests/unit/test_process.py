"""``ManagedProcess`` signals only processes it started: a reused pid or a stale pid file is left alone."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
from stockpulse_toolbox.devstack.process import ManagedProcess, free_ports

SLEEP = [sys.executable, "-c", "import time; time.sleep(120)"]


def _outsider(argv):
    proc = subprocess.Popen(argv)
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def stranger():
    """A process this stack did not start (what a reused pid points at)."""
    yield from _outsider([*SLEEP, "stranger"])


@pytest.fixture
def twin():
    """A process this stack did not start, with the very command line ours had."""
    yield from _outsider(SLEEP)


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_start_records_identity_and_stop_ends_the_process(tmp_path):
    managed = ManagedProcess("sleeper", tmp_path)
    pid = managed.start(SLEEP)
    recorded = json.loads(managed.pid_file.read_text())
    assert recorded["pid"] == pid and recorded["cmdline"] == SLEEP
    assert recorded["started"] == psutil.Process(pid).create_time()
    assert managed.running() and managed.pid() == pid
    assert managed.stop(timeout=5)
    assert gone(pid) and not managed.running() and not managed.pid_file.exists()


def reuse_pid(managed: ManagedProcess, pid: int, **changes) -> None:
    """Rewrite the pid file as if ``pid`` had been handed to the process it names."""
    recorded = json.loads(managed.pid_file.read_text())
    managed.pid_file.write_text(json.dumps({**recorded, "pid": pid, **changes}))


def test_a_reused_pid_is_not_ours_even_with_our_command_line(tmp_path, twin):
    managed = ManagedProcess("sleeper", tmp_path)
    time.sleep(0.05)  # start times are in 10 ms ticks: ours must be a later one than the twin's
    own = managed.start(SLEEP)
    reuse_pid(managed, twin.pid)  # our start time, its pid: what a stale pid file looks like after reuse
    assert not managed.running()
    managed.signal(signal.SIGTERM)
    assert not managed.stop(timeout=1)
    managed.pid_file.write_text(json.dumps({"pid": twin.pid, "started": 1.0, "cmdline": SLEEP, "tag": "x"}))
    managed.kill()
    time.sleep(0.3)
    assert twin.poll() is None, "the other process must survive"
    psutil.Process(own).kill()


def test_same_start_time_but_another_command_line_is_not_ours(tmp_path, stranger):
    managed = ManagedProcess("sleeper", tmp_path)
    own = managed.start(SLEEP)
    reuse_pid(managed, stranger.pid, started=psutil.Process(stranger.pid).create_time())
    assert not managed.running()
    assert not managed.stop(timeout=1)
    time.sleep(0.3)
    assert stranger.poll() is None
    psutil.Process(own).kill()


def test_a_pid_file_without_identity_is_left_alone(tmp_path, stranger):
    managed = ManagedProcess("old", tmp_path)
    managed.pid_file.parent.mkdir(parents=True)
    managed.pid_file.write_text(f"{stranger.pid}\n")  # the format before identities
    assert not managed.running()
    assert not managed.stop(timeout=1)
    time.sleep(0.3)
    assert stranger.poll() is None and not managed.pid_file.exists()


def test_stop_ends_what_the_process_left_in_its_group(tmp_path):
    managed = ManagedProcess("parent", tmp_path)
    child_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(child_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    managed.start([sys.executable, "-c", script])
    deadline = time.monotonic() + 10
    while not (child_file.exists() and child_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(child_file.read_text())
    leader = managed.pid()
    psutil.Process(leader).kill()  # the leader crashes; its child is orphaned in our group
    assert gone(leader, timeout=5)
    assert psutil.pid_exists(child) and not gone(child, timeout=0.2)
    managed.stop(timeout=1)
    assert gone(child)


def test_free_ports_are_distinct_and_free():
    ports = free_ports(200)
    assert len(set(ports)) == len(ports)
    for port in ports[:20]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_wrappers_program_is_recorded_with_its_own_command_line(tmp_path):
    """``env`` (like ``unshare``) execs the program it wraps: the pid file records that program's
    command line, not the wrapper's, so the process keeps matching its record after the exec."""
    managed = ManagedProcess("wrapped", tmp_path)
    program = sys.executable
    managed.start(["env", "STOCKPULSE_WRAPPED=1", *SLEEP], program=program)
    try:
        recorded = json.loads(managed.pid_file.read_text())["cmdline"]
        assert recorded == SLEEP
        for _ in range(20):
            assert managed.running()
            time.sleep(0.01)
    finally:
        managed.stop(timeout=5)
