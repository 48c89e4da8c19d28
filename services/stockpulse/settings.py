"""Configuration from ``STOCKPULSE_*`` environment variables, read and validated once.

Every setting has a default that runs the embedded local stack, so ``make demo``
needs no configuration; production overrides them through the Helm chart.
A wrong value stops the process with one clear line (``SettingsError``) instead of
failing later inside a request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

#: The seed's twelve tickers; ``FB`` is quoted as ``META`` (see ``prices.tickers``).
DEFAULT_TICKERS = ("MSFT", "AAPL", "AMZN", "GOOG", "BABA", "FB", "INTC", "NVDA", "CRM", "PYPL", "TSLA", "AMD")


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


def _project_root() -> Path:
    """The repository root when running from a checkout, else the working directory."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "services").is_dir():
            return parent
    return Path.cwd()


PROJECT_ROOT = _project_root()
#: Where ``make setup`` puts the jars it fetches from Maven Central, one folder per pom (kafka, spark, derby).
JARS_DIR = PROJECT_ROOT / ".jars"


@dataclass(frozen=True)
class Settings:
    """All knobs of stockpulse. Field docs are the README's configuration table."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    price_source: str = "simulated"
    tickers: tuple[str, ...] = DEFAULT_TICKERS
    max_quantity: int = 10_000
    max_body_bytes: int = 4096
    order_ack_timeout_ms: int = 5000
    check_delivery_timeout_ms: int = 300_000
    idempotency_db: str = ""
    idempotency_ttl_s: float = 86_400.0
    price_cache_ttl_s: float = 30.0
    run_dir: Path = field(default_factory=lambda: PROJECT_ROOT / ".run")
    warehouse: str = ""
    checkpoint_dir: str = ""
    metastore_uri: str = ""
    trigger_seconds: float = 2.0
    max_offsets_per_trigger: int = 200_000
    ingest_metrics_bind: str = "127.0.0.1:8091"
    prometheus_port: int = 9090
    kafka_metrics_port: int = 9404
    spark_master: str = "local[2]"
    spark_driver_memory: str = "2g"
    api_bind: str = "127.0.0.1:8000"
    workers: int = 2
    threads: int = 8
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    metastore_port: int = 9083
    spark_ui_port: int = 4040
    checkpoint_lease_seconds: float = 30.0
    snapshot_retention_hours: float = 1.0
    snapshots_kept: int = 100
    orphan_margin_hours: float = 72.0
    target_file_mb: int = 128
    maintain_interval_minutes: float = 10.0
    insights_trigger_seconds: float = 1.0
    insights_watermark_seconds: float = 60.0
    insights_baseline_days: float = 7.0
    insights_stale_after_s: float = 30.0
    backfill_days: float = 8.0
    log_level: str = "INFO"

    @property
    def warehouse_uri(self) -> str:
        """Where table data lives; a local folder under ``run_dir`` unless set."""
        return self.warehouse or (self.run_dir / "warehouse").as_uri()

    @property
    def idempotency_path(self) -> Path:
        """The SQLite file the API workers share for ``Idempotency-Key`` records."""
        return Path(self.idempotency_db) if self.idempotency_db else self.run_dir / "api" / "idempotency.sqlite3"

    @property
    def checkpoint_uri(self) -> str:
        return self.checkpoint_dir or (self.run_dir / "checkpoints").as_uri()

    @property
    def metastore_thrift_uri(self) -> str:
        """The Hive metastore to use: the configured service, else the local one ``up`` starts."""
        return self.metastore_uri or f"thrift://127.0.0.1:{self.metastore_port}"

    @property
    def api_url(self) -> str:
        host, port = self.api_bind.rsplit(":", 1)
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    def with_overrides(self, **changes: object) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)  # type: ignore[arg-type]


_ENV = {
    "kafka_bootstrap": "STOCKPULSE_KAFKA_BOOTSTRAP",
    "price_source": "STOCKPULSE_PRICE_SOURCE",
    "tickers": "STOCKPULSE_TICKERS",
    "max_quantity": "STOCKPULSE_MAX_QUANTITY",
    "max_body_bytes": "STOCKPULSE_MAX_BODY_BYTES",
    "order_ack_timeout_ms": "STOCKPULSE_ORDER_ACK_TIMEOUT_MS",
    "check_delivery_timeout_ms": "STOCKPULSE_CHECK_DELIVERY_TIMEOUT_MS",
    "idempotency_db": "STOCKPULSE_IDEMPOTENCY_DB",
    "idempotency_ttl_s": "STOCKPULSE_IDEMPOTENCY_TTL_S",
    "price_cache_ttl_s": "STOCKPULSE_PRICE_CACHE_TTL_S",
    "run_dir": "STOCKPULSE_RUN_DIR",
    "warehouse": "STOCKPULSE_WAREHOUSE",
    "checkpoint_dir": "STOCKPULSE_CHECKPOINT_DIR",
    "metastore_uri": "STOCKPULSE_METASTORE_URI",
    "trigger_seconds": "STOCKPULSE_TRIGGER_SECONDS",
    "max_offsets_per_trigger": "STOCKPULSE_MAX_OFFSETS_PER_TRIGGER",
    "ingest_metrics_bind": "STOCKPULSE_INGEST_METRICS_BIND",
    "prometheus_port": "STOCKPULSE_PROMETHEUS_PORT",
    "kafka_metrics_port": "STOCKPULSE_KAFKA_METRICS_PORT",
    "spark_master": "STOCKPULSE_SPARK_MASTER",
    "spark_driver_memory": "STOCKPULSE_SPARK_DRIVER_MEMORY",
    "api_bind": "STOCKPULSE_API_BIND",
    "workers": "STOCKPULSE_WORKERS",
    "threads": "STOCKPULSE_THREADS",
    "kafka_port": "STOCKPULSE_KAFKA_PORT",
    "kafka_controller_port": "STOCKPULSE_KAFKA_CONTROLLER_PORT",
    "metastore_port": "STOCKPULSE_METASTORE_PORT",
    "spark_ui_port": "STOCKPULSE_SPARK_UI_PORT",
    "checkpoint_lease_seconds": "STOCKPULSE_CHECKPOINT_LEASE_SECONDS",
    "snapshot_retention_hours": "STOCKPULSE_SNAPSHOT_RETENTION_HOURS",
    "snapshots_kept": "STOCKPULSE_SNAPSHOTS_KEPT",
    "orphan_margin_hours": "STOCKPULSE_ORPHAN_MARGIN_HOURS",
    "target_file_mb": "STOCKPULSE_TARGET_FILE_MB",
    "maintain_interval_minutes": "STOCKPULSE_MAINTAIN_INTERVAL_MINUTES",
    "insights_trigger_seconds": "STOCKPULSE_INSIGHTS_TRIGGER_SECONDS",
    "insights_watermark_seconds": "STOCKPULSE_INSIGHTS_WATERMARK_SECONDS",
    "insights_baseline_days": "STOCKPULSE_INSIGHTS_BASELINE_DAYS",
    "insights_stale_after_s": "STOCKPULSE_INSIGHTS_STALE_AFTER_S",
    "backfill_days": "STOCKPULSE_BACKFILL_DAYS",
    "log_level": "LOG_LEVEL",
}

#: Environment variable name per setting, for docs and child processes.
ENV_NAMES: Mapping[str, str] = _ENV


FLOAT_SETTINGS = (
    "price_cache_ttl_s",
    "idempotency_ttl_s",
    "trigger_seconds",
    "checkpoint_lease_seconds",
    "snapshot_retention_hours",
    "orphan_margin_hours",
    "maintain_interval_minutes",
    "insights_trigger_seconds",
    "insights_watermark_seconds",
    "insights_baseline_days",
    "insights_stale_after_s",
    "backfill_days",
)


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def parse_tickers(raw: str) -> tuple[str, ...]:
    tickers = tuple(dict.fromkeys(t.strip().upper() for t in raw.split(",") if t.strip()))
    if not tickers:
        raise SettingsError("STOCKPULSE_TICKERS must name at least one ticker")
    for ticker in tickers:
        if not (1 <= len(ticker) <= 10 and all(c.isalnum() or c in ".-^" for c in ticker)):
            raise SettingsError(f"STOCKPULSE_TICKERS has an invalid ticker {ticker!r}")
    return tickers


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build ``Settings`` from the environment; raise ``SettingsError`` on bad values."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for attr, var in _ENV.items():
        raw = env.get(var)
        if raw is None or raw.strip() == "":
            continue
        raw = raw.strip()
        if attr == "tickers":
            values[attr] = parse_tickers(raw)
        elif attr == "run_dir":
            values[attr] = Path(raw).resolve()
        elif attr in FLOAT_SETTINGS:
            values[attr] = _positive_float(var, raw)
        elif attr in (
            "max_quantity",
            "max_body_bytes",
            "order_ack_timeout_ms",
            "check_delivery_timeout_ms",
            "workers",
            "threads",
            "max_offsets_per_trigger",
            "prometheus_port",
            "kafka_metrics_port",
            "kafka_port",
            "kafka_controller_port",
            "metastore_port",
            "spark_ui_port",
            "snapshots_kept",
            "target_file_mb",
        ):
            values[attr] = _positive_int(var, raw)
        else:
            values[attr] = raw
    settings = Settings(**values)  # type: ignore[arg-type]
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    source = settings.price_source
    if not (source in ("simulated", "yfinance") or (source.startswith("replay:") and len(source) > 7)):
        raise SettingsError(f"STOCKPULSE_PRICE_SOURCE must be simulated, yfinance or replay:<path>, got {source!r}")
    if not re.fullmatch(r"[0-9]+[kmgt]", settings.spark_driver_memory.lower()):
        memory = settings.spark_driver_memory
        raise SettingsError(f"STOCKPULSE_SPARK_DRIVER_MEMORY must be like 768m or 2g, got {memory!r}")
    if settings.orphan_margin_hours < 24:
        # Iceberg's remove_orphan_files refuses less: a younger file may belong to a write in flight
        raise SettingsError(f"STOCKPULSE_ORPHAN_MARGIN_HOURS must be at least 24, got {settings.orphan_margin_hours:g}")
    if ":" not in settings.api_bind:
        raise SettingsError(f"STOCKPULSE_API_BIND must be host:port, got {settings.api_bind!r}")
    if settings.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {settings.log_level!r}")
    if not re.fullmatch(r"[^:\s]*:[0-9]{1,5}", settings.ingest_metrics_bind):
        bind = settings.ingest_metrics_bind
        raise SettingsError(f"STOCKPULSE_INGEST_METRICS_BIND must be host:port, got {bind!r}")
