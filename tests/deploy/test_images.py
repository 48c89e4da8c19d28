"""Dockerfiles: multi-stage, pinned bases, non-root, no compilers at run time, consistent with the chart."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from .conftest import CHART, ROOT

IMAGES = ROOT / "images"
NAMES = ["api", "spark", "locust", "hive-metastore"]
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|cc1|make|cmake|rustc|cargo|golang)\b")
# Sources the application side of the project provides; they may land after the deploy files.
APP_SOURCES = {"spark", "loadtest/locustfile.py"}
# Build context per image (must match skaffold.yaml; test_skaffold checks the contexts exist).
CONTEXT = {"api": ROOT, "spark": ROOT, "locust": ROOT, "hive-metastore": IMAGES / "hive-metastore"}


class Stage:
    def __init__(self, base: str, name: str | None) -> None:
        self.base, self.name, self.lines = base, name, []


def parse(name: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages (instructions joined across line continuations)."""
    text = (IMAGES / name / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        if instr == "ARG" and not stages:
            key, _, default = rest.partition("=")
            args[key.strip()] = default.strip()
        elif instr == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            stage_name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base, stage_name))
        elif stages:
            stages[-1].lines.append((instr, rest))
    return args, stages


@pytest.mark.parametrize("name", NAMES)
def test_dockerfile_is_multi_stage_with_pinned_bases(name: str) -> None:
    _, stages = parse(name)
    assert len(stages) >= 2, f"{name}: single stage"
    names = {s.name for s in stages}
    for stage in stages:
        if stage.base in names:
            continue
        assert "$" not in stage.base, f"{name}: unresolved base {stage.base}"
        image, _, tag = stage.base.rpartition(":")
        assert image and tag and "/" not in tag, f"{name}: base {stage.base} has no tag"
        assert tag != "latest", f"{name}: base {stage.base} uses latest"
        assert re.search(r"\d+\.\d+", tag), f"{name}: base {stage.base} is not pinned to a version"


@pytest.mark.parametrize("name", NAMES)
def test_runtime_stage_is_non_root_without_compilers(name: str) -> None:
    _, stages = parse(name)
    final = stages[-1]
    users = [rest for instr, rest in final.lines if instr == "USER"]
    assert users, f"{name}: final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0, f"{name}: final USER must be a numeric non-root uid, not {uid}"
    assert uid == "10001", f"{name}: the chart's podSecurityContext runs as 10001"
    for instr, rest in final.lines:
        if instr == "RUN":
            assert not COMPILERS.search(rest), f"{name}: runtime stage installs a compiler: {rest}"


def dockerignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").rstrip("/")
        if pat == "**" or fnmatch.fnmatch(path, pat) or path.startswith(pat + "/"):
            ignored = not negate
    return ignored


@pytest.mark.parametrize("name", NAMES)
def test_every_copied_source_is_in_the_build_context(name: str) -> None:
    _, stages = parse(name)
    context = CONTEXT[name]
    patterns = []
    ignore_file = context / ".dockerignore"
    if ignore_file.exists():
        patterns = [ln.strip() for ln in ignore_file.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    for stage in stages:
        for instr, rest in stage.lines:
            if instr != "COPY" or "--from=" in rest:
                continue
            sources = rest.split()[:-1]
            for src in sources:
                path = Path(src.rstrip("/"))
                assert (context / path).exists() or str(path) in APP_SOURCES, f"{name}: COPY {src}: not in the context"
                assert not dockerignored(str(path), patterns), f"{name}: COPY {src} is excluded by .dockerignore"


def test_dockerignore_keeps_the_context_small() -> None:
    patterns = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln.strip()]
    for heavy in (".venv", ".jars", ".tools", ".git", ".run", "charts", "tests"):
        assert dockerignored(heavy, patterns), heavy


def pyproject_pin(package: str) -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    groups = [data["project"]["dependencies"], *data["project"].get("optional-dependencies", {}).values()]
    for dep in (d for group in groups for d in group):
        if re.match(rf"{package}\s*==", dep):
            return dep.split("==")[1].strip()
    raise AssertionError(f"{package} is not pinned in pyproject.toml")


def test_spark_image_matches_pyspark_chart_and_entry_point() -> None:
    args, stages = parse("spark")
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    spark_version = pyproject_pin("pyspark")
    assert args["SPARK_IMAGE"].startswith(f"apache/spark:{spark_version}-scala2.13-java17-python3")
    assert values["ingest"]["sparkVersion"] == spark_version
    final = stages[-1]
    copies = " ".join(rest for instr, rest in final.lines if instr == "COPY")
    assert "/opt/spark/jars/" in copies
    assert values["ingest"]["metrics"]["jmxExporterJar"] in copies
    entry = values["ingest"]["mainApplicationFile"].removeprefix("local://")
    assert re.search(r"\bspark/\s+" + re.escape(str(Path(entry).parent)) + "/", copies)
    jars = " ".join(rest for s in stages for instr, rest in s.lines if instr == "RUN")
    assert "jvm/spark/pom.xml dependency:copy-dependencies" in jars


def test_locust_image_matches_the_pinned_locust() -> None:
    args, _ = parse("locust")
    assert args["LOCUST_IMAGE"] == f"locustio/locust:{pyproject_pin('locust')}"


def test_hive_metastore_image_adds_the_postgres_driver() -> None:
    args, stages = parse("hive-metastore")
    assert re.match(r"apache/hive:4\.\d+\.\d+$", args["HIVE_IMAGE"])
    text = (IMAGES / "hive-metastore" / "Dockerfile").read_text()
    assert "org.postgresql:postgresql:" in text and "/opt/hive/lib/" in text
    env = " ".join(rest for instr, rest in stages[-1].lines if instr == "ENV")
    assert "SERVICE_NAME=metastore" in env


def test_api_image_runs_gunicorn_with_the_app_factory() -> None:
    _, stages = parse("api")
    entry = " ".join(rest for instr, rest in stages[-1].lines if instr in {"ENTRYPOINT", "CMD"})
    assert "gunicorn" in entry and "stockpulse.api:create_app()" in entry
    assert "python:stockpulse.api.gunicorn_config" in entry
