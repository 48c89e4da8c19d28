"""One place builds the SparkSession: Iceberg tables in the Hive metastore, Kafka connector jars, loopback.

``spark_catalog`` is Iceberg's ``SparkSessionCatalog`` backed by the Hive metastore, so
unqualified names (``SELECT * FROM stock_call``, the seed's SQL) resolve to the
Iceberg tables. HMS commit locks are off: Hive 2.3.10+ metastores carry HIVE-26882
(``alter_table`` checks the expected ``metadata_location``), which makes the commit
itself atomic, as Iceberg's docs require for lock-free commits.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyspark import SparkConf
from pyspark.sql import SparkSession

from ..devstack.paths import SPARK_JARS
from ..settings import Settings


def extra_jars() -> list[str]:
    """Jars from ``make setup``; in the Spark image they are already in ``$SPARK_HOME/jars``."""
    return sorted(str(p) for p in Path(SPARK_JARS).glob("*.jar")) if Path(SPARK_JARS).is_dir() else []


def session_conf(settings: Settings, app_name: str, ui_port: int | None = None) -> dict[str, str]:
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
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.streaming.metricsEnabled": "true",
        "spark.driver.memory": "2g",
    }
    if ui_port is None:
        conf["spark.ui.enabled"] = "false"
    else:
        conf["spark.ui.port"] = str(ui_port)
    jars = extra_jars()
    if jars:
        conf["spark.jars"] = ",".join(jars)
    return conf


def build_session(settings: Settings, app_name: str, ui_port: int | None = None) -> SparkSession:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder
    for key, value in session_conf(settings, app_name, ui_port).items():
        builder = builder.config(key, value)
    if not SparkConf().contains("spark.master"):  # spark-submit sets the master; locally we do
        builder = builder.master(settings.spark_master)
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
