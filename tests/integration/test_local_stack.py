"""The ``stockpulse`` command's help and configuration errors (tests/system/test_demo.py runs
``demo``, ``status``, ``up`` and ``down`` on a whole stack)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

STOCKPULSE = str(Path(sys.executable).parent / "stockpulse")


def run(env: dict[str, str], *args: str, timeout: float = 420) -> subprocess.CompletedProcess:
    return subprocess.run([STOCKPULSE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_every_command_has_help():
    for args in (
        ["--help"],
        ["up", "--help"],
        ["down", "--help"],
        ["status", "--help"],
        ["maintain", "--help"],
        ["demo", "--help"],
    ):
        result = subprocess.run([STOCKPULSE, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "usage: stockpulse" in result.stdout


def test_bad_configuration_exits_2_with_one_line():
    env = {**os.environ, "STOCKPULSE_MAX_QUANTITY": "lots"}
    result = run(env, "status")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "STOCKPULSE_MAX_QUANTITY" in result.stderr
