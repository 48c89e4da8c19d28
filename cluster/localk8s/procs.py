"""Start a cluster process once and wait for its health endpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from stockpulse_toolbox.devstack.process import ManagedProcess, wait_until

from .layout import Layout


def ensure_running(layout: Layout, name: str, argv: list[str], ready: Callable[[], bool], timeout: float, **kw) -> None:
    """Start ``name`` unless it already runs (``up`` is idempotent), then wait until ready."""
    proc = ManagedProcess(name, layout.root)
    if not proc.running():
        proc.start(argv, **kw)
    wait_until(ready, timeout, name, interval=0.3, alive=proc.running)


def write_if_changed(path: Path, text: str) -> Path:
    """Rewrite a config file only when its content changes: kube-proxy exits when the
    file it was started with is touched, and ``up`` runs again over a running cluster."""
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path
