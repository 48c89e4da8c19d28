"""The processes a local stack under a run folder left on this machine."""

from __future__ import annotations

from pathlib import Path


def our_pids(run_dir: Path) -> list[int]:
    """Processes whose command line or environment points into this run folder."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if str(run_dir).encode() in cmdline or str(run_dir).encode() in environ:
            pids.append(int(entry.name))
    return pids
