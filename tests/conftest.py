"""Fixtures every suite may use: one local[2] SparkSession for the whole run (UTC, 1 shuffle partition).

The JVMs the tests start on this machine (Kafka, the metastore, every local Spark driver) live for
seconds to minutes over small data: they run with the C1 compiler only, which spends far less CPU
compiling than C2 would earn back in them (docs/performance.md, "Test time"). The cluster's pods and
``make demo``/``make bench`` outside the tests keep the JVM's defaults.
"""

from __future__ import annotations

import os

import pytest

TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1"
os.environ.setdefault("JAVA_TOOL_OPTIONS", TEST_JVM_OPTIONS)


@pytest.fixture(scope="session")
def spark():
    """Plain Spark (no catalog) for the pure transforms; the lake tests start their own job processes."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("stockpulse-tests")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    # End the py4j gateway JVM too, so no child process outlives the test run.
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is not None:
        gateway.shutdown()
        proc = getattr(gateway, "proc", None)
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()  # pyspark's launcher JVM exits when its stdin closes
            proc.wait(timeout=30)
        SparkContext._gateway = None
        SparkContext._jvm = None
