"""Dockerfiles, read offline: Debian bookworm bases, non-root, no compilers at run time, every
network fetch through the build-ca secret, consistent with the chart and the pins.

The first line of proof is stronger: tests/cluster builds every image with podman and runs
them on the local cluster. These checks catch the same mistakes in seconds.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.support.chart import CHART, ROOT

IMAGES = ROOT / "images"
NAMES = sorted(p.name for p in IMAGES.iterdir() if (p / "Dockerfile").is_file())
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|cc1|make|cmake|rustc|cargo|golang)\b")
BASE = "debian:bookworm-slim"
# uid of the final stage: the chart's podSecurityContext (10001), Debian's postgres as the
# chart runs it (999), the pause process (65535, no passwd file in a scratch image).
RUNTIME_UID = {"postgres": "999", "pause": "65535", "prometheus-operator": "65534", "prometheus": "65534"}
# Images that only build other images (never run in a pod).
BUILD_ONLY = {"go-builder"}
RUNTIME_NAMES = [n for n in NAMES if n not in BUILD_ONLY]
# Commands that reach a package registry over TLS, which need the build-ca secret.
FETCHES = re.compile(r"\b(pip install|mvn |curl -|go mod download)")


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


def test_every_image_folder_is_known() -> None:
    product = {"api", "spark", "locust", "hive-metastore", "kafka", "postgres"}
    cluster = {"pause", "spark-operator", "prometheus-operator", "prometheus"}
    assert product | cluster | BUILD_ONLY == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_stage_starts_from_debian_bookworm_or_an_image_of_ours(name: str) -> None:
    args, stages = parse(name)
    assert args.get("BASE_IMAGE") == BASE, f"{name}: ARG BASE_IMAGE={BASE} first"
    ours = {s.name for s in stages} | {"scratch", args.get("SPARK_IMAGE"), args.get("GO_BUILDER_IMAGE")}
    for stage in stages:
        assert stage.base == BASE or stage.base in ours, f"{name}: stage from {stage.base}"
    for arg, image in (("SPARK_IMAGE", "stockpulse-spark:"), ("GO_BUILDER_IMAGE", "stockpulse-go-builder:")):
        if arg in args:
            assert args[arg].startswith(image), args[arg]


@pytest.mark.parametrize("name", RUNTIME_NAMES)
def test_runtime_stage_is_non_root_without_compilers(name: str) -> None:
    _, stages = parse(name)
    final = stages[-1]
    users = [rest for instr, rest in final.lines if instr == "USER"]
    assert users, f"{name}: final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid == RUNTIME_UID.get(name, "10001"), f"{name}: final USER {uid}"
    for instr, rest in final.lines:
        if instr == "RUN":
            assert not COMPILERS.search(rest), f"{name}: runtime stage installs a compiler: {rest}"


@pytest.mark.parametrize("name", NAMES)
def test_every_registry_fetch_trusts_the_build_ca_secret(name: str) -> None:
    """The first fetch of a stage installs the secret's CAs into that stage (only build
    stages fetch; runtime stages copy their output, never the certificates)."""
    _, stages = parse(name)
    for stage in stages:
        trusted = False
        for instr, rest in stage.lines:
            if instr != "RUN":
                continue
            trusted = trusted or bool(re.match(r"--mount=type=secret,id=build-ca trust-build-ca\s+&&", rest))
            if FETCHES.search(rest):
                assert trusted, f"{name}: fetch before trust-build-ca: {rest[:120]}"
        if name not in BUILD_ONLY:
            assert not (trusted and stage is stages[-1]), f"{name}: the runtime stage trusts the build CA"


@pytest.mark.parametrize("name", NAMES)
def test_java_images_run_java_17_from_debian(name: str) -> None:
    text = (IMAGES / name / "Dockerfile").read_text()
    if "openjdk" not in text:
        return
    assert "openjdk-17-" in text and not re.search(r"openjdk-(8|11|21)-", text), name
    # slim images leave out man pages; Java's postinst links one (Debian bug 863199)
    assert "mkdir -p /usr/share/man/man1" in text, name


def dockerignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").rstrip("/")
        if pat == "**" or fnmatch.fnmatch(path, pat) or path.startswith(pat + "/"):
            ignored = not negate
    return ignored


def ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


@pytest.mark.parametrize("name", NAMES)
def test_every_copied_source_is_in_the_build_context(name: str) -> None:
    _, stages = parse(name)
    patterns = ignore_patterns()
    for stage in stages:
        for instr, rest in stage.lines:
            if instr != "COPY" or "--from=" in rest:
                continue
            for src in rest.split()[:-1]:
                path = Path(src.rstrip("/"))
                assert (ROOT / path).exists(), f"{name}: COPY {src}: not in the context"
                assert not dockerignored(str(path), patterns), f"{name}: COPY {src} is excluded by .dockerignore"


def test_dockerignore_keeps_the_context_small_and_the_toolbox_out() -> None:
    patterns = ignore_patterns()
    for heavy in (
        ".venv",
        ".jars",
        ".tools",
        ".git",
        ".run",
        "charts",
        "tests",
        "toolbox",
        "toolbox/stockpulse_toolbox/bench",
    ):
        assert dockerignored(heavy, patterns), heavy
    assert not dockerignored("services/stockpulse/api", patterns)


def pyproject_pin(package: str) -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    groups = [data["project"]["dependencies"], *data["project"].get("optional-dependencies", {}).values()]
    for dep in (d for group in groups for d in group):
        if re.match(rf"{package}\s*==", dep):
            return dep.split("==")[1].strip()
    raise AssertionError(f"{package} is not pinned in pyproject.toml")


def constraint(package: str) -> str:
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.lower().startswith(f"{package.lower()}=="):
            return line.split("==")[1]
    raise AssertionError(f"{package} is not in constraints.txt")


def test_python_packages_come_pinned_by_constraints() -> None:
    for name in ("api", "spark", "locust"):
        text = (IMAGES / name / "Dockerfile").read_text()
        for line in re.findall(r"pip install[^\n]*", text):
            assert "-c " in line or "--no-deps" in line, f"{name}: unpinned {line}"
    assert constraint("pyspark") == pyproject_pin("pyspark")
    assert constraint("locust") == pyproject_pin("locust")


def test_spark_image_matches_pyspark_chart_and_entry_point() -> None:
    _, stages = parse("spark")
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["ingest"]["sparkVersion"] == pyproject_pin("pyspark")
    final = stages[-1]
    copies = " ".join(rest for instr, rest in final.lines if instr == "COPY")
    assert "site-packages/pyspark/jars/" in copies
    assert values["ingest"]["metrics"]["jvm"]["jmxExporterJar"] in copies
    entry = values["ingest"]["mainApplicationFile"].removeprefix("local://")
    assert re.search(r"\bspark/\s+" + re.escape(str(Path(entry).parent)) + "/", copies)
    runs = " ".join(rest for s in stages for instr, rest in s.lines if instr == "RUN")
    assert "/build/pom.xml dependency:copy-dependencies" in runs
    assert "COPY jvm/settings.xml jvm/spark/pom.xml /build/" in (IMAGES / "spark" / "Dockerfile").read_text()
    entrypoint = (IMAGES / "spark" / "entrypoint.sh").read_text()
    for word in (
        "driver)",
        "executor)",
        "KubernetesExecutorBackend",
        "--deploy-mode client",
        "SPARK_DRIVER_BIND_ADDRESS",
    ):
        assert word in entrypoint


def test_hive_metastore_image_runs_the_spark_resolved_metastore_with_postgres() -> None:
    pom = (ROOT / "jvm" / "hive-metastore" / "pom.xml").read_text()
    assert "<artifactId>spark-hive_2.13</artifactId>" in pom and "<artifactId>postgresql</artifactId>" in pom
    spark_pom = (ROOT / "jvm" / "spark" / "pom.xml").read_text()
    version = re.compile(r"<spark.version>([^<]+)</spark.version>")
    assert version.search(pom).group(1) == version.search(spark_pom).group(1) == pyproject_pin("pyspark")
    entrypoint = (IMAGES / "hive-metastore" / "entrypoint.sh").read_text()
    assert "org.apache.hadoop.hive.metastore.HiveMetaStore" in entrypoint
    # the password goes into a file, not onto the java command line
    java_line = entrypoint[entrypoint.index("exec java") :]
    assert "PASSWORD" not in java_line


def test_prometheus_is_a_version_the_operator_supports() -> None:
    build = (IMAGES / "prometheus" / "Dockerfile").read_text()
    version = re.search(r"ARG PROMETHEUS_VERSION=(\S+)", build).group(1)
    module = re.search(r"ARG PROMETHEUS_MODULE_VERSION=v0\.(\d+)\.(\d+)", build)
    major, minor = divmod(int(module.group(1)), 100)
    assert version == f"{major}.{minor}.{module.group(2)}"  # v0.305.0 is Prometheus 3.5.0
    monitoring = (ROOT / "cluster" / "localk8s" / "monitoring.py").read_text()
    assert f'PROMETHEUS_VERSION = "v{version}"' in monitoring


@pytest.mark.parametrize("name", ["spark-operator", "prometheus-operator"])
def test_operators_are_built_at_the_version_the_crds_come_from(name: str) -> None:
    build = (IMAGES / name / "Dockerfile").read_text()
    variable = name.upper().replace("-", "_") + "_VERSION"
    version = re.search(rf"ARG {variable}=(\S+)", build).group(1)
    tools = (ROOT / "scripts" / "setup-k8s-tools.sh").read_text()
    assert f'{variable}="{version}"' in tools
    assert "build-go-module" in build
    assert re.search(r"ARG GO_TOOLCHAIN_SHA256=[0-9a-f]{64}", (IMAGES / "go-builder" / "Dockerfile").read_text())


def test_api_image_runs_gunicorn_with_the_app_factory() -> None:
    _, stages = parse("api")
    entry = " ".join(rest for instr, rest in stages[-1].lines if instr in {"ENTRYPOINT", "CMD"})
    assert "gunicorn" in entry and "stockpulse.api:create_app(public_metrics=False)" in entry
    assert "python:stockpulse.api.gunicorn_config" in entry


@pytest.mark.parametrize("name", RUNTIME_NAMES)
def test_no_image_names_a_cpu_architecture(name: str) -> None:
    """Built for amd64 here and arm64 nodes elsewhere: paths are found at build time, never spelled.
    (The go-builder pins its toolchain's zip by checksum, one per architecture; it never runs in a pod.)"""
    text = (IMAGES / name / "Dockerfile").read_text()
    assert not re.search(r"amd64|arm64|aarch64|x86_64", text), name


def test_postgres_stops_with_its_fast_shutdown_signal() -> None:
    _, stages = parse("postgres")
    assert ("STOPSIGNAL", "SIGINT") in stages[-1].lines
    entrypoint = (IMAGES / "postgres" / "entrypoint.sh").read_text()
    assert re.search(r"^exec postgres ", entrypoint, flags=re.M), "postgres must be tini's child to get the signal"


def test_the_metastore_logs_to_stdout_only() -> None:
    entrypoint = (IMAGES / "hive-metastore" / "entrypoint.sh").read_text()
    assert "hive.log.dir" not in entrypoint and "/opt/hive-metastore/conf:" in entrypoint
    _, stages = parse("hive-metastore")
    conf = "toolbox/stockpulse_toolbox/devstack/hive-log4j2.properties"
    assert ("COPY", f"{conf} /opt/hive-metastore/conf/hive-log4j2.properties") in stages[-1].lines
    appenders = re.findall(r"^appender\.\w+\.type\s*=\s*(\w+)", (ROOT / conf).read_text(), flags=re.M)
    assert appenders == ["Console"], appenders
