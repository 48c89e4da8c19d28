"""The Spark image installs the package without its dependencies (pyspark comes with the image):
the ingest entry point must import without the API's libraries."""

from __future__ import annotations

import subprocess
import sys

BLOCK = """
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"jsonschema", "confluent_kafka", "flask", "gunicorn", "prometheus_client",
                                  "pyiceberg", "yfinance", "duckdb"}:
            raise ImportError(f"{name} is not in the Spark image")
sys.meta_path.insert(0, Blocker())
"""


def test_ingest_entry_point_needs_only_pyspark():
    code = BLOCK + (
        "import stockpulse.cli, stockpulse.lake.ingest, stockpulse.lake.report, stockpulse.lake.maintenance, "
        "stockpulse.lake.sql; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_blocker_really_blocks():
    code = BLOCK + "import jsonschema"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "not in the Spark image" in result.stderr


def test_sql_in_the_spark_image_falls_back_to_spark():
    code = BLOCK + "from stockpulse.lake import fastsql; print(fastsql.available())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
