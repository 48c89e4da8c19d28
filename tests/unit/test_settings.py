from __future__ import annotations

import pytest
from stockpulse.settings import DEFAULT_TICKERS, SettingsError, load_settings


def test_defaults_are_the_embedded_local_stack():
    settings = load_settings({})
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.price_source == "simulated"
    assert settings.tickers == DEFAULT_TICKERS
    assert len(settings.tickers) == 12 and "FB" in settings.tickers
    assert settings.max_quantity == 10_000
    assert settings.trigger_seconds <= 5
    assert settings.api_bind == "127.0.0.1:8000"
    assert settings.warehouse_uri.startswith("file:") and settings.warehouse_uri.endswith("/.run/warehouse")


def test_environment_overrides_are_parsed():
    settings = load_settings(
        {
            "STOCKPULSE_TICKERS": " goog, msft ,GOOG",
            "STOCKPULSE_MAX_QUANTITY": "50",
            "STOCKPULSE_PRICE_SOURCE": "replay:/tmp/prices.csv",
            "STOCKPULSE_TRIGGER_SECONDS": "0.5",
        }
    )
    assert settings.tickers == ("GOOG", "MSFT")
    assert settings.max_quantity == 50
    assert settings.price_source == "replay:/tmp/prices.csv"
    assert settings.trigger_seconds == 0.5


def test_maintenance_settings_have_documented_defaults_and_parse():
    d = load_settings({})
    assert (d.snapshot_retention_hours, d.snapshots_kept, d.orphan_margin_hours) == (1.0, 100, 72.0)
    assert (d.target_file_mb, d.maintain_interval_minutes, d.checkpoint_lease_seconds) == (128, 10.0, 30.0)
    custom = load_settings({"STOCKPULSE_SNAPSHOT_RETENTION_HOURS": "0.5", "STOCKPULSE_TARGET_FILE_MB": "64"})
    assert (custom.snapshot_retention_hours, custom.target_file_mb) == (0.5, 64)


@pytest.mark.parametrize(
    ("var", "value", "fragment"),
    [
        ("STOCKPULSE_MAX_QUANTITY", "ten", "must be an integer"),
        ("STOCKPULSE_MAX_QUANTITY", "0", "must be positive"),
        ("STOCKPULSE_PRICE_SOURCE", "bloomberg", "simulated, yfinance or replay"),
        ("STOCKPULSE_TICKERS", ",,", "at least one ticker"),
        ("STOCKPULSE_TICKERS", "GO OG", "invalid ticker"),
        ("STOCKPULSE_API_BIND", "8000", "host:port"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("STOCKPULSE_ORPHAN_MARGIN_HOURS", "12", "at least 24"),
        ("STOCKPULSE_SNAPSHOTS_KEPT", "0", "must be positive"),
        ("STOCKPULSE_SNAPSHOT_RETENTION_HOURS", "soon", "must be a number"),
    ],
)
def test_bad_configuration_is_one_clear_error(var, value, fragment):
    with pytest.raises(SettingsError, match=fragment):
        load_settings({var: value})
