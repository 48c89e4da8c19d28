"""The probes. Neither depends on Kafka: a Kafka outage must not pull every API pod out of
its Service (quotes keep working) nor restart them (it would not help).

* ``/healthz`` (liveness): the worker answers HTTP, so it is not wedged.
* ``/readyz`` (readiness): the app is built, i.e. its configuration was valid and its
  routes are registered; the body also reports whether this worker reaches Kafka. While
  it does not, orders answer 503 and ``stockpulse_kafka_reachable`` is 0 (alert on that).
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..deps import publisher

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    return jsonify(status="ready", kafka="reachable" if publisher().kafka_reachable() else "unreachable")
