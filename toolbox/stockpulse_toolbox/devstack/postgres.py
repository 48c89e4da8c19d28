"""A local Postgres (Debian's PostgreSQL 15) on loopback, holding the API's ``Idempotency-Key`` records.

The same database engine the chart runs, so the API shares its keys the same way here as
across the replicas of a cluster. Data lives under ``<run>/postgres`` and outlives the
process: ``make down`` then ``make up`` keeps every key. Postgres refuses to run as root;
as root, it runs in a user namespace of its own where it is an ordinary user (the files stay
root's), so no system account or permission change is needed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import psutil
from stockpulse.settings import Settings

from .process import ManagedProcess, port_open, wait_until

#: Where Debian's postgresql-15 package puts its programs.
PG_BIN = Path("/usr/lib/postgresql/15/bin")
USER = "stockpulse"
DATABASE = "stockpulse"
INSTALL_HINT = "PostgreSQL 15 is missing: run `make setup` (it installs Debian's postgresql-15)"


def pg_program(name: str) -> str:
    path = PG_BIN / name
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(INSTALL_HINT)
    return found


def clear_stale_lock(data: Path) -> bool:
    """Remove ``postmaster.pid`` when no postmaster holds it any more. A postmaster killed by
    SIGKILL leaves it behind, and its pid stays a zombie until its parent (after ``up`` exited,
    PID 1) reaps it: Postgres's own check takes a zombie for a live server and refuses to start.
    True if the file was stale and removed."""
    lock = data / "postmaster.pid"
    try:
        pid = int(lock.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() != psutil.STATUS_ZOMBIE and proc.name() == "postgres":
            return False  # a live server: starting another fails with Postgres's own message
    except psutil.NoSuchProcess:
        pass
    except psutil.AccessDenied:
        return False
    lock.unlink(missing_ok=True)
    return True


def as_ordinary_user(argv: list[str]) -> list[str]:
    """``argv`` run as a non-root user: in a user namespace when we are root, else as is."""
    if os.geteuid() != 0:
        return argv
    return ["unshare", "--user", "--map-user=1000", "--map-group=1000", *argv]


class LocalPostgres:
    def __init__(self, settings: Settings, name: str = "postgres") -> None:
        self.settings = settings
        self.home = settings.run_dir / name
        self.data = self.home / "data"
        self.port = settings.local.postgres_port
        self.process = ManagedProcess(name, settings.run_dir, stop_signal=signal.SIGINT)

    @property
    def dsn(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _initdb(self) -> None:
        """A new cluster with trust on loopback only: the server listens nowhere else."""
        self.home.mkdir(parents=True, exist_ok=True)
        argv = [
            pg_program("initdb"),
            f"--pgdata={self.data}",
            f"--username={USER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
        ]
        log = self.settings.run_dir / "logs" / "postgres-initdb.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            subprocess.run(as_ordinary_user(argv), stdout=out, stderr=subprocess.STDOUT, check=True, timeout=120)

    def argv(self) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",  # TCP on loopback only: a socket path under a deep run folder is too long
            "max_connections": "200",
            "shared_buffers": "32MB",
            "fsync": "on",
        }
        args = [pg_program("postgres"), "-D", str(self.data)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        return as_ordinary_user(args)

    def start(self, timeout: float = 60.0) -> None:
        if not (self.data / "PG_VERSION").is_file():
            self._initdb()
        clear_stale_lock(self.data)
        # unshare execs postgres: postgres's command line is the one the pid file records
        self.process.start(self.argv(), cwd=self.home, program=pg_program("postgres"))
        wait_until(lambda: port_open("127.0.0.1", self.port), timeout, "postgres", alive=self.process.running)
        self._ensure_database(timeout)

    def _ensure_database(self, timeout: float) -> None:
        """Create the database on first start (``createdb`` fails on an existing one, which is fine)."""
        exists = self._psql("SELECT 1 FROM pg_database WHERE datname = 'stockpulse'", "postgres", timeout)
        if exists.strip() != "1":
            self._psql(f"CREATE DATABASE {DATABASE}", "postgres", timeout)

    def _psql(self, sql: str, database: str, timeout: float) -> str:
        argv = [
            pg_program("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            USER,
            "-d",
            database,
            "-tAX",
            "-c",
            sql,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql {sql!r} failed: {done.stderr.strip()}")
        return done.stdout

    def stop(self, timeout: float = 30.0) -> bool:
        return self.process.stop(timeout)

    def running(self) -> bool:
        return self.process.running()
