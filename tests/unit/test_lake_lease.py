"""When a checkpoint lease's holder counts as alive: by its process on this machine, by its age elsewhere."""

from __future__ import annotations

import subprocess
import sys
import time

from stockpulse.lake.lease import holder_alive, start_ticks, this_process


def test_a_holder_on_this_machine_is_alive_exactly_while_its_process_runs():
    me = this_process()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        running = {**me, "pid": child.pid, "start_ticks": start_ticks(child.pid), "renewed_at": 0}
        assert holder_alive(running, time.time(), me)  # however old its renewal
    finally:
        child.kill()
        child.wait()
    assert not holder_alive(running, time.time(), me)
    # a reused pid (another start time) is not the holder
    assert not holder_alive({**me, "start_ticks": "1"}, time.time(), me)


def test_a_holder_elsewhere_is_alive_until_its_lease_is_one_ttl_old():
    me = this_process()
    now = time.time()
    remote = {"boot_id": "another-machine", "pid_ns": "pid:[1]", "pid": 1, "ttl_s": 30.0}
    assert holder_alive({**remote, "renewed_at": now - 29}, now, me)
    assert not holder_alive({**remote, "renewed_at": now - 31}, now, me)


def test_an_unreadable_lease_has_no_live_holder():
    assert not holder_alive({}, time.time(), this_process())
