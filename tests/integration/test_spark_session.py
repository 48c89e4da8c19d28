"""The session builder under a real spark-submit: what spark-submit passed wins.

In a cluster the SparkApplication's spark-submit sets the driver's address, memory and
any tuning; a builder that overwrote them would leave executors dialling 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyspark
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.spark]

PROBE = """
import json, sys
from stockpulse.lake.session import build_session
from stockpulse.settings import load_settings
spark = build_session(load_settings(), "conf-probe")
conf = spark.sparkContext.getConf()
print("CONF " + json.dumps({key: conf.get(key, None) for key in sys.argv[1:]}))
spark.stop()
"""

KEYS = [
    "spark.master",
    "spark.driver.host",
    "spark.driver.memory",
    "spark.sql.shuffle.partitions",
    "spark.sql.session.timeZone",
    "spark.sql.catalog.spark_catalog",
]


def probe(tmp_path: Path, argv: list[str]) -> dict[str, str | None]:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    env = {**os.environ, "STOCKPULSE_RUN_DIR": str(tmp_path), "PYSPARK_PYTHON": sys.executable}
    env.pop("SPARK_LOCAL_IP", None)
    proc = subprocess.run([*argv, str(script), *KEYS], capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("CONF "))
    return json.loads(line[5:])


def test_settings_spark_submit_passed_win_over_the_builder_defaults(tmp_path: Path) -> None:
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    conf = probe(
        tmp_path,
        [
            str(spark_submit),
            "--master",
            "local[1]",
            "--driver-memory",
            "900m",
            "--conf",
            "spark.driver.host=127.0.0.2",
            "--conf",
            "spark.sql.shuffle.partitions=7",
        ],
    )
    assert conf["spark.master"] == "local[1]"
    assert conf["spark.driver.host"] == "127.0.0.2"
    assert conf["spark.driver.memory"] == "900m"
    assert conf["spark.sql.shuffle.partitions"] == "7"
    # what spark-submit left unset still gets the lake's defaults
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.iceberg.spark.SparkSessionCatalog"


def test_a_plain_python_process_gets_the_local_defaults(tmp_path: Path) -> None:
    conf = probe(tmp_path, [sys.executable])
    assert conf["spark.master"] == "local[2]"
    assert conf["spark.driver.host"] == "127.0.0.1"
    assert conf["spark.driver.memory"] == "2g"
    assert conf["spark.sql.shuffle.partitions"] == "2"
