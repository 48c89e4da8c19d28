"""One place builds the SparkSession: Iceberg tables in the Hive metastore, Kafka connector jars.

``spark_catalog`` is Iceberg's ``SparkSessionCatalog`` on the Hive metastore, so unqualified
names (the seed's SQL) resolve to the Iceberg tables; its commit locks are off (why: docs/lake.md,
"Format: why Iceberg"). Everything set here is a default: under ``spark-submit`` its own settings
win key by key, and the master, driver memory and loopback driver address are set only for a
local process, since in cluster mode Spark gives the driver the pod address executors dial.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from ..settings import JARS_DIR, Settings

SPARK_JARS = JARS_DIR / "spark"


def extra_jars() -> list[str]:
    """Jars from ``make setup``; in the Spark image they are already in ``$SPARK_HOME/jars``."""
    return sorted(str(p) for p in Path(SPARK_JARS).glob("*.jar")) if Path(SPARK_JARS).is_dir() else []


def submitted() -> bool:
    """True when spark-submit started this Python process: its JVM is already running and
    handed us the gateway port (and with it every ``--conf`` it was given)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def session_conf(settings: Settings, app_name: str, ui_port: int | None = None) -> dict[str, str]:
    """The defaults for every process; ``local_conf`` adds those of a local (not submitted) one."""
    conf = {
        "spark.app.name": app_name,
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        "spark.sql.catalog.spark_catalog": "org.apache.iceberg.spark.SparkSessionCatalog",
        "spark.sql.catalog.spark_catalog.type": "hive",
        "spark.sql.catalog.spark_catalog.uri": settings.metastore_thrift_uri,
        "spark.sql.catalog.spark_catalog.warehouse": settings.warehouse_uri,
        "spark.hadoop.hive.metastore.uris": settings.metastore_thrift_uri,
        "spark.hadoop.iceberg.engine.hive.lock-enabled": "false",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": settings.warehouse_uri,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.streaming.metricsEnabled": "true",
        # Two streaming queries share the driver: each gets its pool (insights.query), so the
        # ingest's MERGE jobs do not hold the insights' small jobs in one FIFO queue.
        "spark.scheduler.mode": "FAIR",
    }
    if ui_port is None:
        conf["spark.ui.enabled"] = "false"
    else:
        conf["spark.ui.port"] = str(ui_port)
    return conf


def local_conf(settings: Settings) -> dict[str, str]:
    """What a process started by plain ``python`` needs and spark-submit would otherwise pass."""
    conf = {
        "spark.master": settings.spark.master,
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.memory": settings.spark.driver_memory,
    }
    jars = extra_jars()
    if jars:
        conf["spark.jars"] = ",".join(jars)
    return conf


def merged_conf(defaults: Mapping[str, str], given: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The defaults that ``given`` (spark-submit's configuration) does not already set."""
    taken = {key for key, _ in given}
    return {key: value for key, value in defaults.items() if key not in taken}


def build_session(settings: Settings, app_name: str, ui_port: int | None = None) -> SparkSession:
    defaults = session_conf(settings, app_name, ui_port)
    if submitted():
        # Connect to spark-submit's JVM first: without a gateway, SparkConf() is an empty
        # Python-side object that knows nothing of what spark-submit was given.
        SparkContext._ensure_initialized()
        conf = merged_conf(defaults, SparkConf().getAll())
    else:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        conf = {**defaults, **local_conf(settings)}
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
