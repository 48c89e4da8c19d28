"""The HTTP API. ``create_app`` is imported lazily so that importing ``stockpulse.api.gunicorn_config``
in the gunicorn master does not create Prometheus metrics before their multiprocess folder exists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(*args: Any, **kwargs: Any) -> Flask:
    from .app import create_app as factory

    return factory(*args, **kwargs)


def close_app(app: Flask) -> None:
    from .app import close_app as close

    close(app)
