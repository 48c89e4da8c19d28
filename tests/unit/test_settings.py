from __future__ import annotations

import re

import pytest
from stockpulse.settings import DEFAULT_TICKERS, ENV_NAMES, PROJECT_ROOT, SettingsError, load_settings


def test_defaults_are_the_embedded_local_stack():
    settings = load_settings({})
    assert settings.kafka.bootstrap == "127.0.0.1:9092"
    assert settings.api.price_source == "simulated"
    assert settings.tickers == DEFAULT_TICKERS
    assert len(settings.tickers) == 12 and "FB" in settings.tickers
    assert settings.api.max_quantity == 10_000
    assert settings.lake.trigger_seconds <= 5
    assert settings.api.bind == "127.0.0.1:8000"
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
    assert settings.api.max_quantity == 50
    assert settings.api.price_source == "replay:/tmp/prices.csv"
    assert settings.lake.trigger_seconds == 0.5


def test_maintenance_settings_have_documented_defaults_and_parse():
    d = load_settings({})
    assert (
        d.maintenance.snapshot_retention_hours,
        d.maintenance.snapshots_kept,
        d.maintenance.orphan_margin_hours,
    ) == (1.0, 100, 72.0)
    assert (d.maintenance.target_file_mb, d.maintenance.interval_minutes, d.lake.checkpoint_lease_seconds) == (
        128,
        10.0,
        30.0,
    )
    custom = load_settings({"STOCKPULSE_SNAPSHOT_RETENTION_HOURS": "0.5", "STOCKPULSE_TARGET_FILE_MB": "64"})
    assert (custom.maintenance.snapshot_retention_hours, custom.maintenance.target_file_mb) == (0.5, 64)


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


def test_a_child_process_environment_loads_the_same_settings(tmp_path):
    custom = load_settings({}).with_overrides(
        run_dir=tmp_path, tickers=("AMD", "CRM"), api={"workers": 5}, insights={"stale_after_s": 4.5}
    )
    assert load_settings(custom.to_env()) == custom
    assert load_settings(custom.to_env()) != load_settings({})


def test_overrides_change_one_group_field_by_field():
    base = load_settings({})
    changed = base.with_overrides(lake={"trigger_seconds": 0.5})
    assert changed.lake.trigger_seconds == 0.5
    assert changed.lake.metrics_bind == base.lake.metrics_bind and changed.insights == base.insights
    with pytest.raises(TypeError):
        base.with_overrides(lake={"workers": 3})  # a field of another group


def test_each_variable_is_named_once_and_documented_in_the_readme():
    assert len(set(ENV_NAMES.values())) == len(ENV_NAMES)
    readme = (PROJECT_ROOT / "README.md").read_text()
    documented = set(
        re.findall(r"^\| `((?:STOCKPULSE_[A-Z0-9_]+)|LOG_LEVEL)`(?: / `(STOCKPULSE_[A-Z0-9_]+)`)?", readme, re.M)
    )
    names = {name for pair in documented for name in pair if name}
    assert names == set(ENV_NAMES.values())
