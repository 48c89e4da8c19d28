"""Liveness says the process answers; readiness says it can take orders (Kafka reachable)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..deps import publisher

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    if publisher().ping(timeout=1.0):
        return jsonify(status="ready", kafka="reachable")
    return jsonify(error={"code": "not_ready", "message": "Kafka is not reachable"}), 503
