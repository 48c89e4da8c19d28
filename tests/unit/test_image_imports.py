"""The Spark image installs the lake extras and prometheus-client, not the API's libraries
(images/spark/Dockerfile): the ingest, maintenance, SQL (with its fast path) and the driver's
metrics must import without them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BLOCK = """
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"jsonschema", "confluent_kafka", "flask", "gunicorn", "yfinance"}:
            raise ImportError(f"{name} is not in the Spark image")
sys.meta_path.insert(0, Blocker())
"""


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=60)


def test_the_spark_images_entry_points_import_without_the_apis_libraries():
    result = run(
        "import stockpulse.cli, stockpulse.jobs.ingest, stockpulse.jobs.maintain, stockpulse.lake.report, "
        "stockpulse.lake.sql, stockpulse.jobs.ingest_metrics; print('ok')"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_blocker_really_blocks():
    result = run("import jsonschema")
    assert result.returncode != 0 and "not in the Spark image" in result.stderr


def test_sql_in_the_spark_image_has_its_fast_path():
    result = run("from stockpulse.lake import fastsql; print(fastsql.available())")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_the_spark_image_installs_the_lake_extras_and_the_metrics_client():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dockerfile = (ROOT / "images" / "spark" / "Dockerfile").read_text()
    assert 'p["optional-dependencies"]["lake"]' in dockerfile
    assert any(d.startswith("prometheus-client==") for d in project["dependencies"])
    assert {"pyiceberg", "duckdb", "pyarrow"} <= {d.split("==")[0] for d in project["optional-dependencies"]["lake"]}
