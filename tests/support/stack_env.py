"""The environment that runs `stockpulse up` / `demo` on free loopback ports, never the fixed defaults,
and the one the bench commands run in (they pick their own ports)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.stacks import stack_settings


def stack_env(run_dir: Path, **extra: str) -> dict[str, str]:
    """Every listening port of the local stack on a free one, state under ``run_dir``, plus ``extra``."""
    return {**os.environ, **stack_settings(run_dir).to_env(), **extra}


STOCKPULSE = str(Path(sys.executable).parent / "stockpulse")


def bench_cli(*args: str, run_dir: Path, timeout: float) -> None:
    """``stockpulse bench ARGS`` with the default settings (none of the caller's ``STOCKPULSE_*``) and
    its state under ``run_dir``; fails the test with the command's last output when it exits non-zero."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKPULSE_")}
    env["STOCKPULSE_RUN_DIR"] = str(run_dir)
    result = subprocess.run([STOCKPULSE, "bench", *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
