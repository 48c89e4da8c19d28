"""``GET /openapi.json``: the machine-readable description of every route."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..deps import settings
from ..openapi import openapi_spec

bp = Blueprint("docs", __name__)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_spec(settings(), metrics=current_app.extensions["stockpulse.public_metrics"]))
