from __future__ import annotations

import pytest
from stockpulse.api import create_app
from stockpulse.prices import SimulatedPrices
from stockpulse.settings import load_settings

from tests.support import MemoryIdempotencyStore, RecordingPublisher


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def settings(tmp_path):
    return load_settings({}).with_overrides(run_dir=tmp_path, api={"max_quantity": 10_000, "max_body_bytes": 4096})


@pytest.fixture
def app(settings, publisher):
    return create_app(
        settings,
        publisher=publisher,
        prices=SimulatedPrices(clock=lambda: 1_790_000_000.0),
        idempotency=MemoryIdempotencyStore(),
    )


@pytest.fixture
def client(app):
    return app.test_client()
