"""``stockpulse up`` on a stack some of whose parts run: it starts only what is missing, and a
failed start stops only what that ``up`` started (tests/system/test_demo.py does it on real parts)."""

from __future__ import annotations

import pytest
from stockpulse.settings import load_settings
from stockpulse_toolbox.devstack import stack


class FakePart:
    def __init__(self, name: str, running: bool, fails: bool = False) -> None:
        self.name, self.is_running, self.fails = name, running, fails
        self.calls: list[str] = []

    def part(self) -> stack.Part:
        return stack.Part(self.name, self.start, self.stop, lambda: self.is_running, lambda: {"healthy": True})

    def start(self) -> str:
        self.calls.append("start")
        self.is_running = True  # a failed start may leave a process behind: it must be stopped too
        if self.fails:
            raise RuntimeError("the process exited while starting")
        return "ready"

    def stop(self) -> bool:
        self.calls.append("stop")
        ran, self.is_running = self.is_running, False
        return ran


@pytest.fixture
def fake_stack(monkeypatch):
    def make(*fakes: FakePart) -> None:
        monkeypatch.setattr(stack, "parts", lambda settings: [f.part() for f in fakes])

    return make


def test_up_starts_only_the_parts_that_are_not_running(fake_stack):
    kafka, api, ingest = FakePart("kafka", False), FakePart("api", True), FakePart("ingest", True)
    fake_stack(kafka, api, ingest)
    assert stack.up(load_settings({})) == ["kafka"]
    assert (kafka.calls, api.calls, ingest.calls) == (["start"], [], [])


def test_a_failed_start_stops_what_this_up_started_and_nothing_that_ran_before(fake_stack):
    kafka, metastore, api, ingest = (
        FakePart("kafka", True),
        FakePart("metastore", False),
        FakePart("api", True),
        FakePart("ingest", False, fails=True),
    )
    fake_stack(kafka, metastore, api, ingest)
    with pytest.raises(stack.StartFailed) as failed:
        stack.up(load_settings({}))
    assert failed.value.part == "ingest" and failed.value.stopped == ["ingest", "metastore"]
    assert kafka.calls == [] and api.calls == [] and kafka.is_running and api.is_running
    assert metastore.calls == ["start", "stop"] and ingest.calls == ["start", "stop"]
