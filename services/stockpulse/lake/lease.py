"""One driver per checkpoint: a lease file that the running ingest driver keeps renewing.

Spark guards a checkpoint against a second query only inside one JVM; two drivers would both
write batches, and one's start-up repair (``lake.checkpoint``) could delete the other's batch in
flight. A holder in our kernel and PID namespace is alive while its process (pid and start time)
exists; elsewhere while it renewed within its TTL. The lease is created with create-if-absent;
two drivers that both took over a dead holder's lease both believe they won until the loser's next
renewal finds another owner and stops its query. See docs/lake.md, "One driver per checkpoint".
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .hadoopfs import HadoopFolder

log = logging.getLogger(__name__)

LEASE_FILE = "driver-lease.json"


class CheckpointBusy(RuntimeError):
    """Another live driver holds the checkpoint."""


class LeaseLost(RuntimeError):
    """Our lease was taken over: another driver now owns the checkpoint."""


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def start_ticks(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat: when the process started (tells a reused pid apart)."""
    stat = _read(f"/proc/{pid}/stat")
    return stat.rsplit(")", 1)[1].split()[19] if stat else ""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def this_process() -> dict[str, Any]:
    pid = os.getpid()
    return {
        "host": socket.gethostname(),
        "boot_id": _read("/proc/sys/kernel/random/boot_id"),
        "pid_ns": _pid_namespace(),
        "pid": pid,
        "start_ticks": start_ticks(pid),
    }


def holder_alive(holder: dict[str, Any], now: float, me: dict[str, Any] | None = None) -> bool:
    """True while the driver named in ``holder`` may still be running."""
    me = me or this_process()
    same_pids = bool(me["boot_id"]) and (holder.get("boot_id"), holder.get("pid_ns")) == (me["boot_id"], me["pid_ns"])
    if same_pids:
        pid = int(holder.get("pid") or 0)
        return pid > 0 and start_ticks(pid) == holder.get("start_ticks")
    return now - float(holder.get("renewed_at", 0)) <= float(holder.get("ttl_s", 0))


class DriverLease:
    """The lease of one checkpoint folder for this process."""

    def __init__(self, checkpoint: HadoopFolder, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        self.folder = checkpoint
        self.ttl_s = ttl_s
        self.clock = clock
        self.owner = str(uuid.uuid4())
        self.me = this_process()
        self.renewed_at = 0.0

    def _record(self) -> str:
        return json.dumps({"owner": self.owner, **self.me, "renewed_at": self.clock(), "ttl_s": self.ttl_s})

    def holder(self) -> dict[str, Any] | None:
        """The lease file's content; None when there is none, ``{}`` (a dead holder) when it is unreadable."""
        text = self.folder.read(LEASE_FILE)
        if text is None:
            return None
        try:
            holder = json.loads(text)
        except ValueError:  # a writer died mid-write: nobody holds it
            return {}
        return holder if isinstance(holder, dict) else {}

    def _describe(self, holder: dict[str, Any]) -> str:
        age = self.clock() - float(holder.get("renewed_at", 0))
        return f"driver pid {holder.get('pid')} on {holder.get('host')} (renewed {age:.0f}s ago)"

    def acquire(self, wait_s: float) -> None:
        """Take the lease, waiting up to ``wait_s`` for a live holder to stop; CheckpointBusy if it does not."""
        deadline = time.monotonic() + wait_s
        while True:
            holder = self.holder()
            if holder is None:
                if self.folder.write(LEASE_FILE, self._record(), overwrite=False):
                    self.renewed_at = self.clock()
                    log.info("checkpoint lease taken", extra={"checkpoint": self.folder.uri, "owner": self.owner})
                    return
                continue  # someone created it in between: look again
            if holder.get("owner") == self.owner:
                return
            if not holder_alive(holder, self.clock(), self.me):
                log.warning("taking over the lease of a dead driver: " + self._describe(holder))
                self.folder.delete(LEASE_FILE)
                continue
            if time.monotonic() >= deadline:
                raise CheckpointBusy(f"checkpoint {self.folder.uri} is held by {self._describe(holder)}")
            time.sleep(1.0)

    def verify(self) -> None:
        """Raise CheckpointBusy unless the lease file names this process right now."""
        holder = self.holder()
        if holder is None or holder.get("owner") != self.owner:
            other = self._describe(holder) if holder else "nobody"
            raise CheckpointBusy(f"checkpoint {self.folder.uri} is not ours: held by {other}")

    def renew(self) -> None:
        """Refresh ``renewed_at``; LeaseLost when another driver owns the file now."""
        holder = self.holder()
        if holder is not None and holder.get("owner") != self.owner:
            raise LeaseLost(f"checkpoint {self.folder.uri} was taken over by {self._describe(holder)}")
        self.folder.write(LEASE_FILE, self._record(), overwrite=True)
        self.renewed_at = self.clock()

    def due(self) -> bool:
        """Renew three times per TTL, so one missed renewal never lets the lease lapse."""
        return self.clock() - self.renewed_at >= self.ttl_s / 3

    def release(self) -> None:
        holder = self.holder()
        if holder is not None and holder.get("owner") == self.owner:
            self.folder.delete(LEASE_FILE)
