"""One Apache Kafka 4 broker in KRaft mode (combined broker + controller), run with ``java -cp``.

The jars come from Maven Central through ``jvm/kafka/pom.xml`` (``make setup``). Storage
is formatted once; a restart reuses it, so topics and events survive ``down``/``up``.
With a ``metrics_port`` the broker runs the Prometheus JMX exporter agent on
``127.0.0.1:<port>`` with ``kafka-metrics.yaml`` (metric names as in a Strimzi cluster).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from importlib import resources
from pathlib import Path

from .paths import KAFKA_JARS, require_jars
from .process import ManagedProcess, port_open, wait_until


class KafkaBroker:
    def __init__(
        self,
        run_dir: Path,
        port: int = 9092,
        controller_port: int = 9093,
        name: str = "kafka",
        heap: str = "512m",
        metrics_port: int | None = None,
    ) -> None:
        self.home = run_dir / name
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.metrics_port = metrics_port
        self.process = ManagedProcess(name, run_dir)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def _write_config(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.data_dir}",
                    "num.partitions=3",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "log.flush.interval.messages=1000",
                    "",
                ]
            )
        )
        for name in ("log4j2.properties", "kafka-metrics.yaml"):
            (self.home / name).write_text(resources.files(__package__).joinpath(name).read_text())

    def _agent(self) -> list[str]:
        """The JMX exporter agent's option, when the broker exports metrics."""
        if self.metrics_port is None:
            return []
        jars = sorted(KAFKA_JARS.glob("jmx_prometheus_javaagent-*.jar"))
        if not jars:
            raise FileNotFoundError(f"no JMX exporter agent in {KAFKA_JARS}; run `make setup` first")
        return [f"-javaagent:{jars[-1]}=127.0.0.1:{self.metrics_port}:{self.home / 'kafka-metrics.yaml'}"]

    def _java(self, main: str, *args: str, agent: bool = False) -> list[str]:
        require_jars(KAFKA_JARS)
        java = shutil.which("java", path=os.path.join(os.environ.get("JAVA_HOME", ""), "bin")) or "java"
        return [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            *(self._agent() if agent else []),
            "-cp",
            f"{KAFKA_JARS}/*",
            main,
            *args,
        ]

    def formatted(self) -> bool:
        return (self.data_dir / "meta.properties").is_file()

    def format(self) -> None:
        """Format KRaft storage once; a no-op when it already holds a cluster."""
        self._write_config()
        if self.formatted():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # "=": a random id may start with "-", which would otherwise read as an option
        result = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(self.config_file)),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"formatting Kafka storage failed: {(result.stderr or result.stdout).strip()[-2000:]}")

    def start(self, timeout: float = 180.0) -> None:
        self.format()
        self._write_config()
        self.process.start(self._java("kafka.Kafka", str(self.config_file), agent=True))
        wait_until(lambda: port_open("127.0.0.1", self.port), timeout, "kafka", alive=self.process.running)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the broker answers metadata requests (the port opens a little earlier)."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap})

        def answers() -> bool:
            try:
                return bool(admin.list_topics(timeout=2).brokers)
            except Exception:
                return False

        wait_until(answers, timeout, "kafka metadata", interval=0.5, alive=self.process.running)

    def stop(self, timeout: float = 30.0) -> bool:
        return self.process.stop(timeout)

    def kill(self) -> None:
        self.process.kill()

    def running(self) -> bool:
        return self.process.running()
