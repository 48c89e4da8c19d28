"""Real parts on loopback, built by the toolbox's ``LocalStack``: a Kafka 4 KRaft broker from the
Maven jars for the session, the API under gunicorn per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stockpulse_toolbox.devstack.api_server import ApiServer
from stockpulse_toolbox.devstack.kafka import KafkaBroker
from stockpulse_toolbox.devstack.local_stack import LocalStack

from tests.support.stacks import api_settings, start_broker


@pytest.fixture(scope="session")
def kafka(tmp_path_factory) -> Iterator[KafkaBroker]:
    broker = start_broker(tmp_path_factory.mktemp("kafka-run"))
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def api(kafka, tmp_path_factory) -> Iterator[ApiServer]:
    with LocalStack(api_settings(tmp_path_factory.mktemp("api-run"), kafka.bootstrap), "api") as stack:
        yield stack.api
