"""Each image holds only its slice of the product, listed from inside its running pod:
the API image no lake, insights, jobs or toolbox code and no pyspark; the Spark image no
API code and no Flask."""

from __future__ import annotations

import json

import pytest

from tests.support.cluster import RELEASE, Cluster

pytestmark = pytest.mark.cluster

LISTING = (
    "import importlib.util, json, pathlib, stockpulse; "
    "root = pathlib.Path(stockpulse.__file__).parent; "
    "print(json.dumps({'packages': sorted(p.name for p in root.iterdir() if (p / '__init__.py').exists()), "
    "'libraries': {m: importlib.util.find_spec(m) is not None "
    "for m in ('pyspark', 'flask', 'gunicorn', 'confluent_kafka', 'stockpulse_toolbox')}}))"
)


def listing(cluster: Cluster, deployment: str) -> dict:
    out = cluster.k("exec", f"deploy/{RELEASE}-{deployment}", "--", "python3", "-c", LISTING)
    return json.loads(out.strip().splitlines()[-1])


def test_the_api_image_holds_the_api_slice_and_no_pyspark(cluster: Cluster) -> None:
    api = listing(cluster, "api")
    assert api["packages"] == ["api", "events", "prices"], api
    assert api["libraries"] == {
        "pyspark": False,
        "flask": True,
        "gunicorn": True,
        "confluent_kafka": True,
        "stockpulse_toolbox": False,
    }, api


def test_the_spark_image_holds_the_jobs_slice_and_no_flask(cluster: Cluster) -> None:
    spark = listing(cluster, "lake-shell")
    assert spark["packages"] == ["events", "insights", "jobs", "lake"], spark
    assert spark["libraries"] == {
        "pyspark": True,
        "flask": False,
        "gunicorn": False,
        "confluent_kafka": False,
        "stockpulse_toolbox": False,
    }, spark


def test_the_spark_image_finds_java_17_through_an_architecture_neutral_java_home(cluster: Cluster) -> None:
    script = 'echo "$JAVA_HOME"; "$JAVA_HOME/bin/java" -version 2>&1'
    out = cluster.k("exec", f"deploy/{RELEASE}-lake-shell", "--", "sh", "-c", script)
    java_home, version = out.split("\n", 1)
    assert java_home == "/usr/lib/jvm/java-17", out
    assert 'version "17.' in version, out
