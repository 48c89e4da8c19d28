"""Configuration from ``STOCKPULSE_*`` environment variables, read and validated once.

Settings are grouped per component (Kafka, API, Spark, lake, maintenance, insights, the
local stack), each a frozen dataclass whose fields name their environment variable and its
parser. A component reads only its own group: the API gets ``settings.api``, the ingest
``settings.lake``. Every setting has a default that runs the embedded local stack, so
``make demo`` needs no configuration; production overrides them through the Helm chart. A
wrong value stops the process with one clear line (``SettingsError``) instead of failing
later inside a request.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

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

Parser = Callable[[str, str], Any]


def _text(var: str, raw: str) -> str:
    return raw


def _positive_int(var: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{var} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{var} must be positive, got {value}")
    return value


def _positive_float(var: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{var} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{var} must be positive, got {value}")
    return value


def _path(var: str, raw: str) -> Path:
    return Path(raw).resolve()


def _tickers(var: str, raw: str) -> tuple[str, ...]:
    return parse_tickers(raw)


def _host_port(var: str, raw: str) -> str:
    if not re.fullmatch(r"[^:\s]*:[0-9]{1,5}", raw):
        raise SettingsError(f"{var} must be host:port, got {raw!r}")
    return raw


def _bind(var: str, raw: str) -> str:
    if ":" not in raw:
        raise SettingsError(f"{var} must be host:port, got {raw!r}")
    return raw


def _price_source(var: str, raw: str) -> str:
    if not (raw in ("simulated", "yfinance") or (raw.startswith("replay:") and len(raw) > 7)):
        raise SettingsError(f"{var} must be simulated, yfinance or replay:<path>, got {raw!r}")
    return raw


def _memory(var: str, raw: str) -> str:
    if not re.fullmatch(r"[0-9]+[kmgt]", raw.lower()):
        raise SettingsError(f"{var} must be like 768m or 2g, got {raw!r}")
    return raw


def _orphan_margin(var: str, raw: str) -> float:
    value = _positive_float(var, raw)
    if value < 24:
        # Iceberg's remove_orphan_files refuses less: a younger file may belong to a write in flight
        raise SettingsError(f"{var} must be at least 24, got {value:g}")
    return value


def _log_level(var: str, raw: str) -> str:
    if raw.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"{var} must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}")
    return raw


def env(var: str, default: Any = None, parse: Parser = _text, factory: Callable[[], Any] | None = None) -> Any:
    """A field read from the environment variable ``var``, parsed (and checked) by ``parse``."""
    meta = {"env": var, "parse": parse}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class KafkaSettings:
    """Where every process finds the brokers."""

    bootstrap: str = env("STOCKPULSE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")


@dataclass(frozen=True)
class ApiSettings:
    """The HTTP API: gunicorn, request limits, prices, Kafka acknowledgements, idempotency."""

    bind: str = env("STOCKPULSE_API_BIND", "127.0.0.1:8000", _bind)
    probe_bind: str = env("STOCKPULSE_API_PROBE_BIND", "127.0.0.1:8001", _host_port)
    workers: int = env("STOCKPULSE_WORKERS", 2, _positive_int)
    threads: int = env("STOCKPULSE_THREADS", 8, _positive_int)
    price_source: str = env("STOCKPULSE_PRICE_SOURCE", "simulated", _price_source)
    price_cache_ttl_s: float = env("STOCKPULSE_PRICE_CACHE_TTL_S", 30.0, _positive_float)
    max_quantity: int = env("STOCKPULSE_MAX_QUANTITY", 10_000, _positive_int)
    max_body_bytes: int = env("STOCKPULSE_MAX_BODY_BYTES", 4096, _positive_int)
    order_ack_timeout_ms: int = env("STOCKPULSE_ORDER_ACK_TIMEOUT_MS", 5000, _positive_int)
    check_delivery_timeout_ms: int = env("STOCKPULSE_CHECK_DELIVERY_TIMEOUT_MS", 300_000, _positive_int)
    idempotency_dsn: str = env("STOCKPULSE_IDEMPOTENCY_DSN", "")
    idempotency_password_file: str = env("STOCKPULSE_IDEMPOTENCY_PASSWORD_FILE", "")
    idempotency_ttl_s: float = env("STOCKPULSE_IDEMPOTENCY_TTL_S", 86_400.0, _positive_float)

    @property
    def url(self) -> str:
        """Where a client on this host reaches the API (a wildcard bind is reached on loopback)."""
        host, port = self.bind.rsplit(":", 1)
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        return f"http://{host}:{port}"


@dataclass(frozen=True)
class SparkSettings:
    """The Spark application of the jobs when spark-submit does not set it (what it passes wins)."""

    master: str = env("STOCKPULSE_SPARK_MASTER", "local[2]")
    driver_memory: str = env("STOCKPULSE_SPARK_DRIVER_MEMORY", "2g", _memory)
    ui_port: int = env("STOCKPULSE_SPARK_UI_PORT", 4040, _positive_int)


@dataclass(frozen=True)
class LakeSettings:
    """The lake and its ingest: where tables and checkpoints live, and how the ingest runs."""

    warehouse: str = env("STOCKPULSE_WAREHOUSE", "")
    checkpoint_dir: str = env("STOCKPULSE_CHECKPOINT_DIR", "")
    metastore_uri: str = env("STOCKPULSE_METASTORE_URI", "")
    trigger_seconds: float = env("STOCKPULSE_TRIGGER_SECONDS", 2.0, _positive_float)
    max_offsets_per_trigger: int = env("STOCKPULSE_MAX_OFFSETS_PER_TRIGGER", 200_000, _positive_int)
    metrics_bind: str = env("STOCKPULSE_INGEST_METRICS_BIND", "127.0.0.1:8091", _host_port)
    checkpoint_lease_seconds: float = env("STOCKPULSE_CHECKPOINT_LEASE_SECONDS", 30.0, _positive_float)
    backfill_days: float = env("STOCKPULSE_BACKFILL_DAYS", 8.0, _positive_float)


@dataclass(frozen=True)
class MaintenanceSettings:
    """Table upkeep: snapshot expiry, orphan removal, compaction target, and how often it runs."""

    snapshot_retention_hours: float = env("STOCKPULSE_SNAPSHOT_RETENTION_HOURS", 1.0, _positive_float)
    snapshots_kept: int = env("STOCKPULSE_SNAPSHOTS_KEPT", 100, _positive_int)
    orphan_margin_hours: float = env("STOCKPULSE_ORPHAN_MARGIN_HOURS", 72.0, _orphan_margin)
    target_file_mb: int = env("STOCKPULSE_TARGET_FILE_MB", 128, _positive_int)
    interval_minutes: float = env("STOCKPULSE_MAINTAIN_INTERVAL_MINUTES", 10.0, _positive_float)


@dataclass(frozen=True)
class InsightsSettings:
    """The live insights: the query's pace and watermark, its baseline, and when the API calls them stale."""

    trigger_seconds: float = env("STOCKPULSE_INSIGHTS_TRIGGER_SECONDS", 1.0, _positive_float)
    watermark_seconds: float = env("STOCKPULSE_INSIGHTS_WATERMARK_SECONDS", 60.0, _positive_float)
    baseline_days: float = env("STOCKPULSE_INSIGHTS_BASELINE_DAYS", 7.0, _positive_float)
    stale_after_s: float = env("STOCKPULSE_INSIGHTS_STALE_AFTER_S", 30.0, _positive_float)


@dataclass(frozen=True)
class LocalStackSettings:
    """Ports of the parts only the local stack runs (a cluster has its own services)."""

    kafka_port: int = env("STOCKPULSE_KAFKA_PORT", 9092, _positive_int)
    kafka_controller_port: int = env("STOCKPULSE_KAFKA_CONTROLLER_PORT", 9093, _positive_int)
    kafka_metrics_port: int = env("STOCKPULSE_KAFKA_METRICS_PORT", 9404, _positive_int)
    metastore_port: int = env("STOCKPULSE_METASTORE_PORT", 9083, _positive_int)
    postgres_port: int = env("STOCKPULSE_POSTGRES_PORT", 5432, _positive_int)
    prometheus_port: int = env("STOCKPULSE_PROMETHEUS_PORT", 9090, _positive_int)


#: The groups of ``Settings``, by attribute name.
COMPONENTS: Mapping[str, type] = {
    "kafka": KafkaSettings,
    "api": ApiSettings,
    "spark": SparkSettings,
    "lake": LakeSettings,
    "maintenance": MaintenanceSettings,
    "insights": InsightsSettings,
    "local": LocalStackSettings,
}


@dataclass(frozen=True)
class Settings:
    """What every process shares (tickers, run folder, log level) and one group per component.

    The README's configuration table documents each variable; a unit test keeps the two equal.
    """

    tickers: tuple[str, ...] = env("STOCKPULSE_TICKERS", DEFAULT_TICKERS, _tickers)
    run_dir: Path = env("STOCKPULSE_RUN_DIR", parse=_path, factory=lambda: PROJECT_ROOT / ".run")
    log_level: str = env("LOG_LEVEL", "INFO", _log_level)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    spark: SparkSettings = field(default_factory=SparkSettings)
    lake: LakeSettings = field(default_factory=LakeSettings)
    maintenance: MaintenanceSettings = field(default_factory=MaintenanceSettings)
    insights: InsightsSettings = field(default_factory=InsightsSettings)
    local: LocalStackSettings = field(default_factory=LocalStackSettings)

    # Defaults that join two groups: state under the run folder, the local metastore's and Postgres's ports.
    @property
    def warehouse_uri(self) -> str:
        """Where table data lives; a local folder under ``run_dir`` unless set."""
        return self.lake.warehouse or (self.run_dir / "warehouse").as_uri()

    @property
    def checkpoint_uri(self) -> str:
        return self.lake.checkpoint_dir or (self.run_dir / "checkpoints").as_uri()

    @property
    def metastore_thrift_uri(self) -> str:
        """The Hive metastore to use: the configured service, else the local one ``up`` starts."""
        return self.lake.metastore_uri or f"thrift://127.0.0.1:{self.local.metastore_port}"

    @property
    def idempotency_dsn(self) -> str:
        """The Postgres database of ``Idempotency-Key`` records: the configured one, else the local stack's."""
        return self.api.idempotency_dsn or f"postgresql://stockpulse@127.0.0.1:{self.local.postgres_port}/stockpulse"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with top-level fields replaced and groups changed field by field.

        A group is given as a mapping of its fields (``api={"workers": 3}``) or as a whole object.
        """
        values: dict[str, Any] = {}
        for name, change in changes.items():
            if name in COMPONENTS and isinstance(change, Mapping):
                values[name] = dataclasses.replace(getattr(self, name), **change)
            else:
                values[name] = change
        return dataclasses.replace(self, **values)

    def to_env(self) -> dict[str, str]:
        """The environment that makes a child process load exactly these settings."""
        return {var: _render(value) for var, _, value in _env_fields(self)}


def _render(value: Any) -> str:
    return ",".join(value) if isinstance(value, tuple) else str(value)


def _env_fields(settings: Settings) -> Iterator[tuple[str, str, Any]]:
    """(variable, dotted attribute, value) of every setting read from the environment."""
    for f in fields(settings):
        if "env" in f.metadata:
            yield f.metadata["env"], f.name, getattr(settings, f.name)
    for group in COMPONENTS:
        part = getattr(settings, group)
        for f in fields(part):
            yield f.metadata["env"], f"{group}.{f.name}", getattr(part, f.name)


#: Environment variable per setting (dotted attribute -> variable), for docs and child processes.
ENV_NAMES: Mapping[str, str] = {attr: var for var, attr, _ in _env_fields(Settings())}


def parse_tickers(raw: str) -> tuple[str, ...]:
    tickers = tuple(dict.fromkeys(t.strip().upper() for t in raw.split(",") if t.strip()))
    if not tickers:
        raise SettingsError("STOCKPULSE_TICKERS must name at least one ticker")
    for ticker in tickers:
        if not (1 <= len(ticker) <= 10 and all(c.isalnum() or c in ".-^" for c in ticker)):
            raise SettingsError(f"STOCKPULSE_TICKERS has an invalid ticker {ticker!r}")
    return tickers


def _read(cls: type, environ: Mapping[str, str]) -> dict[str, Any]:
    """The fields of ``cls`` that ``environ`` sets (blank counts as unset), parsed."""
    values = {}
    for f in fields(cls):
        if "env" not in f.metadata:
            continue
        raw = environ.get(f.metadata["env"])
        if raw is not None and raw.strip():
            values[f.name] = f.metadata["parse"](f.metadata["env"], raw.strip())
    return values


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build ``Settings`` from the environment; raise ``SettingsError`` on bad values."""
    environ = os.environ if environ is None else environ
    groups = {name: cls(**_read(cls, environ)) for name, cls in COMPONENTS.items()}
    return Settings(**_read(Settings, environ), **groups)
