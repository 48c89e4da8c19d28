"""``stockpulse up`` / ``down`` / ``status``: the local stack, each part a background process.

Parts start in dependency order and stop in reverse. Each start prints one progress
line and waits until the part is really usable (Kafka answers metadata, the API is
ready), so a command that follows ``up`` never races the stack.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..events.admin import ensure_topics
from ..settings import Settings
from .api_server import ApiServer
from .kafka import KafkaBroker


def say(message: str) -> None:
    print(f"[stockpulse] {message}", file=sys.stderr, flush=True)


def broker(settings: Settings) -> KafkaBroker:
    return KafkaBroker(settings.run_dir, settings.kafka_port, settings.kafka_controller_port)


@dataclass
class Part:
    name: str
    start: Callable[[], None]
    stop: Callable[[], bool]
    running: Callable[[], bool]
    health: Callable[[], dict[str, Any]]


def _http_json(url: str, timeout: float = 2.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return 0, {"error": str(exc)}


def parts(settings: Settings) -> list[Part]:
    kafka = broker(settings)
    api = ApiServer(settings)

    def start_kafka() -> None:
        started = time.monotonic()
        kafka.start()
        kafka.wait_ready()
        created = ensure_topics(kafka.bootstrap)
        say(
            f"kafka ready on {kafka.bootstrap} in {time.monotonic() - started:.1f}s"
            + (f" (created topics {', '.join(created)})" if created else "")
        )

    def kafka_health() -> dict[str, Any]:
        if not kafka.running():
            return {"healthy": False, "detail": "not running"}
        try:
            from confluent_kafka.admin import AdminClient

            topics = AdminClient({"bootstrap.servers": kafka.bootstrap}).list_topics(timeout=3).topics
            return {"healthy": True, "detail": f"{kafka.bootstrap}, topics: {', '.join(sorted(topics))}"}
        except Exception as exc:
            return {"healthy": False, "detail": str(exc)}

    def start_api() -> None:
        started = time.monotonic()
        api.start()
        deadline = time.monotonic() + 30
        while _http_json(settings.api_url + "/readyz")[0] != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("api did not become ready; see " + str(api.process.log_file))
            time.sleep(0.2)
        say(f"api ready on {settings.api_url} in {time.monotonic() - started:.1f}s")

    def api_health() -> dict[str, Any]:
        if not api.running():
            return {"healthy": False, "detail": "not running"}
        code, body = _http_json(settings.api_url + "/readyz")
        return {"healthy": code == 200, "detail": f"{settings.api_url} readyz={code} {json.dumps(body)}"}

    return [
        Part("kafka", start_kafka, kafka.stop, kafka.running, kafka_health),
        Part("api", start_api, api.stop, api.running, api_health),
    ]


def up(settings: Settings) -> None:
    for part in parts(settings):
        if part.running():
            say(f"{part.name} already running")
            continue
        say(f"starting {part.name} ...")
        part.start()
    say("stack is up; `stockpulse status` to check, `stockpulse down` to stop")


def down(settings: Settings) -> None:
    for part in reversed(parts(settings)):
        if part.stop():
            say(f"stopped {part.name}")


def status(settings: Settings) -> dict[str, dict[str, Any]]:
    report: dict[str, dict[str, Any]] = {}
    for part in parts(settings):
        report[part.name] = {"running": part.running(), **part.health()}
    return report
