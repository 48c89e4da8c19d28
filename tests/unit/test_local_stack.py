"""The one stack builder: the parts asked for, in dependency order, stopped in reverse (no process is
started here: each part's start and stop are recorded instead)."""

from __future__ import annotations

import pytest
from stockpulse.settings import load_settings
from stockpulse_toolbox.devstack import local_stack
from stockpulse_toolbox.devstack.local_stack import PARTS, LocalStack, on_free_ports


def recording(stack: LocalStack, events: list[str], failing: str | None = None) -> LocalStack:
    for name in PARTS:

        def start(name: str = name) -> str:
            if name == failing:
                raise RuntimeError(f"{name} failed")
            events.append(f"start {name}")
            return "ok"

        setattr(stack, f"_start_{name}", start)
        stack.part(name).stop = lambda name=name: events.append(f"stop {name}") or True
    return stack


def test_parts_start_in_dependency_order_and_stop_in_reverse(tmp_path) -> None:
    events: list[str] = []
    stack = recording(LocalStack(on_free_ports(load_settings({}), tmp_path), "api", "kafka", "ingest"), events)
    assert stack.parts == ("kafka", "postgres", "api", "ingest")  # the API brings the database of its keys
    with stack:
        assert events == ["start kafka", "start postgres", "start api", "start ingest"]
    assert events[4:] == ["stop ingest", "stop api", "stop postgres", "stop kafka"]


def test_a_failed_start_stops_what_had_started(tmp_path) -> None:
    events: list[str] = []
    stack = recording(
        LocalStack(on_free_ports(load_settings({}), tmp_path), "kafka", "metastore", "api"), events, "api"
    )
    with pytest.raises(RuntimeError, match="api failed"), stack:
        pass
    assert events == [
        "start kafka",
        "start metastore",
        "start postgres",
        "stop postgres",
        "stop metastore",
        "stop kafka",
    ]


def test_an_unknown_part_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown parts"):
        LocalStack(load_settings({}), "kafka", "zookeeper")


def test_the_broker_exports_metrics_only_for_a_stack_with_prometheus(tmp_path) -> None:
    settings = on_free_ports(load_settings({}), tmp_path)
    assert LocalStack(settings, "kafka").kafka.metrics_port is None
    assert LocalStack(settings).kafka.metrics_port == settings.local.kafka_metrics_port


def test_free_port_settings_put_every_listener_on_its_own_port(tmp_path) -> None:
    settings = on_free_ports(load_settings({}), tmp_path, api={"workers": 3})
    assert settings.api.workers == 3
    moved = on_free_ports(settings, tmp_path, kafka={"bootstrap": "127.0.0.2:9092"})
    assert moved.kafka.bootstrap == "127.0.0.2:9092"
    ports = [
        settings.local.kafka_port,
        settings.local.kafka_controller_port,
        int(settings.api.bind.rsplit(":", 1)[1]),
        settings.local.metastore_port,
        settings.spark.ui_port,
        int(settings.lake.metrics_bind.rsplit(":", 1)[1]),
        settings.local.kafka_metrics_port,
        settings.local.prometheus_port,
    ]
    assert len(set(ports)) == len(ports) == 8
    assert settings.kafka.bootstrap == f"127.0.0.1:{settings.local.kafka_port}"
    assert settings.run_dir == tmp_path and settings.api.workers == 3
    assert local_stack.PARTS[0] == "kafka" and local_stack.PARTS[-1] == "prometheus"


def test_starting_a_part_later_brings_what_it_needs_first(tmp_path) -> None:
    events: list[str] = []
    stack = recording(LocalStack(on_free_ports(load_settings({}), tmp_path), "kafka"), events)
    stack.part("postgres").running = lambda: False
    with stack:
        stack.start("api")
        assert events == ["start kafka", "start postgres", "start api"]
    assert events[3:] == ["stop api", "stop postgres", "stop kafka"]
