"""Which of the session's defaults survive what spark-submit passed (pure, no JVM)."""

from __future__ import annotations

from stockpulse.lake.session import local_conf, merged_conf, session_conf
from stockpulse.settings import load_settings


def test_spark_submit_keys_are_never_overridden() -> None:
    defaults = session_conf(load_settings({}), "ingest")
    given = [("spark.sql.shuffle.partitions", "8"), ("spark.driver.host", "ingest-driver-svc.stockpulse.svc")]
    conf = merged_conf(defaults, given)
    assert "spark.sql.shuffle.partitions" not in conf
    assert conf["spark.sql.session.timeZone"] == "UTC"


def test_loopback_driver_address_is_only_a_local_default() -> None:
    settings = load_settings({"STOCKPULSE_SPARK_DRIVER_MEMORY": "768m"})
    assert "spark.driver.host" not in session_conf(settings, "ingest")
    assert "spark.driver.bindAddress" not in session_conf(settings, "ingest")
    local = local_conf(settings)
    assert local["spark.driver.host"] == "127.0.0.1"
    assert local["spark.driver.memory"] == "768m"
