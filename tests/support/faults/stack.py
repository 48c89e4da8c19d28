"""The local stack as the fault suite drives it: ``stockpulse up``/``down`` on free loopback ports, a
bounded Locust load with the retrying customers, and readers of what reached Kafka and the lake."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from stockpulse.settings import Settings
from stockpulse_toolbox.devstack.local_stack import LocalStack

from tests.support.stacks import stack_settings

BIN = Path(sys.executable).parent
LOCUSTFILE = Path(__file__).resolve().parents[3] / "loadtest" / "locustfile.py"
#: The order timeout of the stack under test: a stall "longer than the order timeout" stays short.
ORDER_ACK_TIMEOUT_MS = 2000


class FaultStack:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("STOCKPULSE_", "LOCUST_"))}
        self.settings: Settings = stack_settings(
            run_dir,
            api={"order_ack_timeout_ms": ORDER_ACK_TIMEOUT_MS, "workers": 2, "threads": 8},
            lake={"trigger_seconds": 1.0},
        )
        self.env = {**clean, **self.settings.to_env()}
        # handles on the parts `stockpulse up` starts under this run folder (signals, logs, progress)
        parts = LocalStack(self.settings)
        self.broker, self.api, self.ingest = parts.kafka, parts.api, parts.ingest

    @property
    def url(self) -> str:
        return self.settings.api.url

    def cli(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(BIN / "stockpulse"), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, f"stockpulse {' '.join(args)}: {result.stderr[-3000:]}"
        return result

    def up(self) -> None:
        """Start what is not running (``up`` skips the parts that are)."""
        self.cli("up")

    def down(self) -> None:
        self.cli("down")

    def assert_api_answers(self) -> None:
        """Fail with gunicorn's last log lines when the API does not answer: a fault test must start
        from a whole stack, and "connection refused" alone does not say why gunicorn went away."""
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError as exc:
            problem = str(exc)
        else:
            problem = f"readyz answered {resp.status}"
        log = self.api.process.log_file
        tail = log.read_text(errors="replace").splitlines()[-40:] if log.exists() else ["(no log)"]
        raise AssertionError(
            f"the API at {self.url} does not answer ({problem}); gunicorn master running: "
            f"{self.api.running()}; last lines of {log}:\n" + "\n".join(tail)
        )

    def caught_up(self, timeout: float = 600) -> None:
        self.ingest.wait_caught_up(timeout=timeout)

    @contextmanager
    def broker_held(self) -> Iterator[None]:
        """The broker stopped (SIGSTOP) for the block, resumed (SIGCONT) whatever the block raised."""
        self.broker.process.signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.broker.process.signal(signal.SIGCONT)

    def gunicorn_workers(self) -> list[int]:
        import psutil

        master = self.api.process.pid()
        assert master is not None, "api not running"
        return [child.pid for child in psutil.Process(master).children()]

    def busiest_worker(self) -> int:
        """The worker holding the most customer connections. Locust's customers keep their connection
        alive, so each one's requests go to one worker: the kernel may hand every connection to
        one worker, and a kill of the other catches nothing."""
        import psutil

        port = int(self.url.rsplit(":", 1)[1])

        def held(pid: int) -> int:
            connections = psutil.Process(pid).net_connections(kind="tcp")
            return sum(1 for c in connections if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)

        return max(self.gunicorn_workers(), key=held)


class Load:
    """Locust's retrying customers for ``seconds``, every answer in ``ledger``."""

    def __init__(self, stack: FaultStack, ledger: Path, seconds: int, users: int = 6, retry_s: int = 150) -> None:
        self.ledger = ledger
        env = {
            **stack.env,
            "STOCKPULSE_MIX": "check:40,buy:30,sell:30,burst:0",
            "STOCKPULSE_WAIT": "0.1,0.3",
            "STOCKPULSE_ORDER_RETRY_S": str(retry_s),
            "STOCKPULSE_LEDGER": str(ledger),
        }
        self.proc = subprocess.Popen(
            [
                str(BIN / "locust"),
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "--only-summary",
                "--host",
                stack.url,
                "-u",
                str(users),
                "-r",
                str(users),
                "-t",
                f"{seconds}s",
                "--stop-timeout",
                str(retry_s + 10),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started = time.monotonic()

    def at(self, seconds: float) -> None:
        """Sleep until ``seconds`` after the load started."""
        time.sleep(max(0.0, self.started + seconds - time.monotonic()))

    def stop(self) -> None:
        """End the load now: Locust stops its users as at the end of its run time (they finish their order)."""
        self.proc.send_signal(signal.SIGTERM)
        self.wait()

    def wait(self, timeout: float = 400) -> None:
        if self.proc.returncode is not None:
            return
        _, err = self.proc.communicate(timeout=timeout)
        # Locust exits 1 when a request failed, which faults cause: only a crash (other codes) is an error
        assert self.proc.returncode in (0, 1), err[-3000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def users(self) -> set[str]:
        return {answer["user"] for answer in map(json.loads, self.ledger.read_text().splitlines())}


def topic_events(bootstrap: str, topic: str, users: Iterable[str]) -> list[dict[str, Any]]:
    """Every event of ``users`` on ``topic``, read from the beginning up to the current end offsets."""
    wanted = set(users)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"faults-{time.time_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        found, done = [], {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + 120
        while len(done) < len(ends) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            event = json.loads(msg.value())
            if event.get("user_id") in wanted:
                found.append(event)
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
        assert len(done) == len(ends), f"could not read {topic} to its end"
        return found
    finally:
        consumer.close()


def lake_rows(settings: Settings, table: str, users: Iterable[str], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of ``users`` in ``table``, read with pyiceberg from the committed snapshot (a reader that is not Spark)."""
    from pyiceberg.catalog.hive import HiveCatalog
    from pyiceberg.expressions import In

    catalog = HiveCatalog("faults", uri=settings.metastore_thrift_uri)
    scan = catalog.load_table(f"default.{table}").scan(row_filter=In("user_id", set(users)), selected_fields=fields)
    return scan.to_arrow().to_pylist()
