"""A background process known by its pid file, so ``up``, ``down`` and ``status`` can run in separate shells.

A pid alone does not name a process for long: the kernel may give an exited process's number
to any other program. So the pid file records who the process is, and every signal checks it
first: the leader (head of its own session and process group) must still have its recorded
start time and command line, and the rest of its group (gunicorn's workers, the JVM pyspark
starts) must carry the random tag ``start`` put in their environment. A process that fails
these checks is left alone and its pid file dropped.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

#: Environment variable carrying a started process's tag to everything it starts.
TAG_ENV = "STOCKPULSE_PROCESS_TAG"
#: Start times come from /proc in clock ticks (10 ms); two reads of one process give the same value.
_START_TOLERANCE_S = 0.001


class ProcessError(RuntimeError):
    pass


#: Children started by this Python process, kept so they can be reaped (no zombies) and
#: so a Popen object is never collected while its child still runs.
_CHILDREN: dict[int, subprocess.Popen] = {}


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports: each is held until all are drawn, since a port
    released and asked for again may come back, and two parts on one port fail in confusing ways."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2, alive: Callable[[], bool] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise ProcessError(f"{what}: the process exited while starting")
        time.sleep(interval)
    raise ProcessError(f"{what}: not ready after {timeout:.0f}s")


@dataclass(frozen=True)
class Identity:
    """What the pid file says about the process ``start`` launched."""

    pid: int
    started: float  # psutil's create_time, seconds since the epoch
    cmdline: list[str]
    tag: str

    def matches(self, proc: psutil.Process) -> bool:
        """Same start time, and the same command line (or, had it exec'd another program since, our tag)."""
        try:
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:
                    return False
                if abs(proc.create_time() - self.started) >= _START_TOLERANCE_S:
                    return False
                return proc.cmdline() == self.cmdline or self.owns(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False

    def owns(self, proc: psutil.Process) -> bool:
        """Whether ``proc`` was started by our process (it inherited the tag)."""
        try:
            return proc.environ().get(TAG_ENV) == self.tag
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False


class ManagedProcess:
    def __init__(self, name: str, run_dir: Path, stop_signal: int = signal.SIGTERM) -> None:
        self.name = name
        self.stop_signal = stop_signal  # what asks it to stop cleanly (Postgres: SIGINT, its fast shutdown)
        self.pid_file = run_dir / "pids" / f"{name}.pid"
        self.log_file = run_dir / "logs" / f"{name}.log"

    def _recorded(self) -> Identity | None:
        try:
            data = json.loads(self.pid_file.read_text())
            return Identity(int(data["pid"]), float(data["started"]), list(data["cmdline"]), str(data["tag"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            log.warning("pid file without an identity; its process is left alone", extra={"file": str(self.pid_file)})
            return None

    def _leader(self) -> tuple[Identity | None, psutil.Process | None]:
        """The recorded identity, and the live process that still matches it (None when it does not)."""
        _reap()
        identity = self._recorded()
        if identity is None:
            return None, None
        try:
            proc = psutil.Process(identity.pid)
        except psutil.NoSuchProcess:
            return identity, None
        return identity, (proc if identity.matches(proc) else None)

    def pid(self) -> int | None:
        _, proc = self._leader()
        return proc.pid if proc is not None else None

    def running(self) -> bool:
        return self.pid() is not None

    def start(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        program: str | None = None,
    ) -> int:
        """Start ``argv`` in a session of its own and record who it is. ``program``: the program a
        wrapper in ``argv`` (``unshare``) execs at last; its command line is the one recorded."""
        if self.running():
            raise ProcessError(f"{self.name} is already running (pid {self.pid()})")
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex
        with self.log_file.open("ab") as log_fh:
            proc = subprocess.Popen(
                list(argv),
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**(os.environ if env is None else env), TAG_ENV: tag},
                cwd=cwd,
                start_new_session=True,
            )
        _CHILDREN[proc.pid] = proc
        try:
            leader = psutil.Process(proc.pid)
            identity = Identity(proc.pid, leader.create_time(), _settled_cmdline(leader, program), tag)
        except psutil.NoSuchProcess:
            identity = Identity(proc.pid, 0.0, list(argv), tag)  # exited already: matches nothing
        tmp = self.pid_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(identity)) + "\n")
        tmp.replace(self.pid_file)
        return proc.pid

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process, only if it is still the one this pid file started."""
        _, proc = self._leader()
        if proc is not None:
            proc.send_signal(sig)

    def stop(self, timeout: float = 30.0) -> bool:
        """The stop signal to the process, wait, then SIGKILL to what is left of its group (no orphans).

        True if it ran."""
        identity, proc = self._leader()
        if proc is not None:
            proc.send_signal(self.stop_signal)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and identity.matches(proc):  # type: ignore[union-attr]
                _reap()
                time.sleep(0.1)
        if identity is not None:
            _kill_group(identity, proc)
        self.pid_file.unlink(missing_ok=True)
        return proc is not None

    def kill(self) -> None:
        """SIGKILL to the process and its group without a chance to clean up: what a crash looks like."""
        identity, proc = self._leader()
        if identity is not None:
            _kill_group(identity, proc)
        self.pid_file.unlink(missing_ok=True)


def _settled_cmdline(proc: psutil.Process, program: str | None = None, timeout: float = 5.0) -> list[str]:
    """The command line of the program ``proc`` exec'd (``program``, when a wrapper execs it in turn).
    Popen returns while the exec is finishing, when /proc may still show the forked copy of this
    process's command line, or none, or the wrapper's."""
    ours = psutil.Process().cmdline()

    def settled(cmdline: list[str]) -> bool:
        return bool(cmdline) and cmdline != ours and (program is None or cmdline[0].endswith(program))

    deadline = time.monotonic() + timeout
    cmdline = proc.cmdline()
    while not settled(cmdline) and time.monotonic() < deadline:
        time.sleep(0.01)
        cmdline = proc.cmdline()
    return cmdline


def _members(identity: Identity, leader: psutil.Process | None) -> list[psutil.Process]:
    """The verified leader and the live processes of its group that carry its tag."""
    found = [leader] if leader is not None else []
    for fields, pid in _group(identity.pid):
        if fields[0] == "Z" or pid == identity.pid:
            continue
        try:
            proc = psutil.Process(pid)
        except psutil.NoSuchProcess:
            continue
        if identity.owns(proc):
            found.append(proc)
    return found


def _kill_group(identity: Identity, leader: psutil.Process | None) -> None:
    """SIGKILL our processes in the group ``identity`` leads, and wait until they are gone."""
    members = _members(identity, leader)
    for proc in members:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in members):
        _reap()
        time.sleep(0.05)


def _group(pgid: int) -> list[tuple[list[str], int]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            found.append((fields, int(entry)))
    return found


def group_stats(pgid: int) -> list[list[str]]:
    """``/proc/<pid>/stat`` fields after the command name (state first) of every process in group ``pgid``."""
    return [fields for fields, _ in _group(pgid)]


def _reap() -> None:
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            del _CHILDREN[pid]


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
