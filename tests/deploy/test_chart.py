"""The umbrella chart: lint, render, structure, values documentation and schema."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import yaml
from stockpulse.settings import DEFAULT_TICKERS

from tests.support.chart import CHART, ROOT, STRIMZI_VALUE_SETS, VALUE_SETS, name_of, render, render_text, run, tool

COMPONENTS = {"api", "ingest", "maintenance", "locust", "hive-metastore", "kafka", "lake-shell"}
FULL_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
}


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict], kind: str, component: str | None = None) -> dict:
    found = [
        d
        for d in by_kind(docs, kind)
        if component is None or d["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    assert len(found) == 1, f"expected one {kind} ({component}), got {[name_of(d) for d in found]}"
    return found[0]


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_strict_is_clean(name: str) -> None:
    proc = run([tool("helm"), "lint", "--strict", CHART, *VALUE_SETS[name]], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


def test_values_schema_rejects_a_misspelled_value() -> None:
    proc = run([tool("helm"), "lint", "--strict", CHART, "--set", "api.replicaCont=3"], check=False)
    assert proc.returncode != 0
    assert "replicaCont" in proc.stdout + proc.stderr


def test_latest_tag_is_refused() -> None:
    proc = run([tool("helm"), "template", "x", CHART, "--set", "api.image.tag=latest"], check=False)
    assert proc.returncode != 0


def test_every_resource_has_full_labels_and_a_known_component(value_set: str) -> None:
    for doc in render(value_set):
        labels = doc["metadata"].get("labels", {})
        missing = FULL_LABELS - labels.keys()
        assert not missing, f"{name_of(doc)} lacks {missing}"
        component = labels["app.kubernetes.io/component"]
        assert component in COMPONENTS | {"hive-metastore-db", "lake", "monitoring"}, f"{name_of(doc)}: {component}"


def test_workload_selectors_match_their_pod_labels(value_set: str) -> None:
    for doc in render(value_set):
        if doc["kind"] in {"Deployment", "StatefulSet"}:
            selector = doc["spec"]["selector"]["matchLabels"]
            pod_labels = doc["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= pod_labels.items(), name_of(doc)
            assert "app.kubernetes.io/version" not in selector, f"{name_of(doc)}: version in selector"


def test_default_render_has_each_core_part() -> None:
    docs = render("default")
    kinds = {(d["kind"], d["metadata"]["labels"]["app.kubernetes.io/component"]) for d in docs}
    for expected in [
        ("Deployment", "api"),
        ("Service", "api"),
        ("HorizontalPodAutoscaler", "api"),
        ("PodDisruptionBudget", "api"),
        ("ServiceAccount", "api"),
        ("Kafka", "kafka"),
        ("KafkaNodePool", "kafka"),
        ("KafkaTopic", "kafka"),
        ("SparkApplication", "ingest"),
        ("Deployment", "hive-metastore"),
        ("Service", "hive-metastore"),
        ("StatefulSet", "hive-metastore-db"),
    ]:
        assert expected in kinds, f"missing {expected}"
    # opt-in parts stay off by default
    assert not {"ServiceMonitor", "PodMonitor", "NetworkPolicy"} & {d["kind"] for d in docs}
    assert not [d for d in docs if d["metadata"]["labels"]["app.kubernetes.io/component"] == "locust"]


def test_all_on_render_has_every_optional_part() -> None:
    docs = render("all-on")
    kinds = {d["kind"] for d in docs}
    assert {"PodMonitor", "NetworkPolicy", "ConfigMap"} <= kinds
    monitors = by_kind(docs, "ServiceMonitor") + by_kind(docs, "PodMonitor")
    assert monitors and all(m["metadata"]["labels"]["release"] == "prometheus" for m in monitors)
    dashboards = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert len(dashboards) >= 2
    for cm in dashboards:
        for body in cm["data"].values():
            assert json.loads(body)["uid"].startswith("stockpulse")
    assert one(docs, "Deployment", "hive-metastore")
    locust = [d for d in docs if d["metadata"]["labels"]["app.kubernetes.io/component"] == "locust"]
    assert {d["kind"] for d in locust} >= {"Deployment", "Service"}
    headless = render("all-on-headless")
    job = one(headless, "Job", "locust")
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["LOCUST_HEADLESS"] == "true" and env["LOCUST_RUN_TIME"]


def test_api_deployment_contract() -> None:
    docs = render("default")
    dep = one(docs, "Deployment", "api")
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probes"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8000, "probes": 8001}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["STOCKPULSE_API_BIND"] == "0.0.0.0:8000" and env["STOCKPULSE_API_PROBE_BIND"] == "0.0.0.0:8001"
    assert env["STOCKPULSE_KAFKA_BOOTSTRAP"].endswith("-kafka-bootstrap:9092")
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert env["PROMETHEUS_MULTIPROC_DIR"] in mounts
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]]]
    assert "emptyDir" in volumes[mounts["/tmp"]]
    for key in ("STOCKPULSE_PRICE_SOURCE", "STOCKPULSE_TICKERS", "STOCKPULSE_MAX_QUANTITY", "LOG_LEVEL"):
        assert env[key]
    assert pod["serviceAccountName"] == one(docs, "ServiceAccount", "api")["metadata"]["name"]
    hpa = one(docs, "HorizontalPodAutoscaler", "api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
    assert "replicas" not in dep["spec"], "replicas must be left to the HPA"
    pdb = one(docs, "PodDisruptionBudget", "api")
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    svc = one(docs, "Service", "api")
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_pod_gets_the_products_tickers(value_set: str) -> None:
    """The API, the jobs and Locust see the same tickers as the local stack: the course project's
    routes (``POST /TSLA/sell/15``) answer on a cluster as they do under ``make up``."""
    seen: dict[str, set[str]] = {}

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if node.get("name") == "STOCKPULSE_TICKERS" and "value" in node:
                seen.setdefault(node["value"], set()).add(where)
            for value in node.values():
                walk(value, where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for doc in render(value_set):
        walk(doc, name_of(doc))
    assert set(seen) == {",".join(DEFAULT_TICKERS)}, seen


@pytest.mark.parametrize("value_set", STRIMZI_VALUE_SETS)
def test_kafka_is_kraft_with_node_pool_and_one_topic_per_contract_topic(value_set: str) -> None:
    docs = render(value_set)
    kafka = one(docs, "Kafka")
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1"
    assert "zookeeper" not in kafka["spec"]
    pool = one(docs, "KafkaNodePool")
    cluster = kafka["metadata"]["name"]
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == cluster
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    volumes = pool["spec"]["storage"]["volumes"]
    assert [v.get("kraftMetadata") for v in volumes].count("shared") == 1
    for doc in docs:
        if doc["apiVersion"].startswith("kafka.strimzi.io"):
            annotations = doc["metadata"].get("annotations") or {}
            assert not [a for a in annotations if a.startswith("strimzi.io/")], f"{name_of(doc)}: {annotations}"
    topics = {t["spec"]["topicName"]: t for t in by_kind(docs, "KafkaTopic")}
    assert set(topics) == {"stock_call", "stock_operation", "default_call", "stock_insights"}
    policies = {name: t["spec"]["config"]["cleanup.policy"] for name, t in topics.items()}
    assert policies == {
        "stock_call": "delete",
        "stock_operation": "delete",
        "default_call": "delete",
        "stock_insights": "compact",
    }
    for topic in topics.values():
        spec = topic["spec"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        assert spec["partitions"] >= 1 and spec["replicas"] >= 1
        assert 1 <= spec["config"]["min.insync.replicas"] <= spec["replicas"]
        assert spec["replicas"] <= pool["spec"]["replicas"]
    if value_set == "gke":
        assert pool["spec"]["replicas"] >= 3
        for topic in topics.values():
            assert topic["spec"]["replicas"] == 3
            assert topic["spec"]["config"]["min.insync.replicas"] == 2


def test_ingest_is_a_streaming_spark_application_with_durable_checkpoints(value_set: str) -> None:
    docs = render(value_set)
    app = one(docs, "SparkApplication", "ingest")
    spec = app["spec"]
    assert app["apiVersion"] == "sparkoperator.k8s.io/v1beta2"
    assert spec["type"] == "Python" and spec["mode"] == "cluster"
    assert spec["restartPolicy"]["type"] == "Always"
    assert spec["mainApplicationFile"] == "local:///opt/stockpulse/spark/ingest.py"
    assert spec["sparkVersion"] == "4.1.1"
    # the driver serves the ingest's own metrics on the port the PodMonitor scrapes
    env = {e["name"]: e.get("value") for e in spec["driver"]["env"]}
    assert env["STOCKPULSE_INGEST_METRICS_BIND"] == "0.0.0.0:8091"
    assert spec["driver"]["ports"] == [{"name": "metrics", "containerPort": 8091, "protocol": "TCP"}]
    assert "ports" not in spec["executor"]
    assert "monitoring" not in spec  # Spark's JVM metrics are opt-in (ingest.metrics.jvm.enabled)
    assert env["STOCKPULSE_METASTORE_URI"] == "thrift://stockpulse-hive-metastore:9083"
    if value_set == "local-cluster":
        assert env["STOCKPULSE_KAFKA_BOOTSTRAP"] == "stockpulse-kafka-bootstrap:9092"
    else:
        assert env["STOCKPULSE_KAFKA_BOOTSTRAP"].endswith("-kafka-bootstrap:9092")
    checkpoint, warehouse = env["STOCKPULSE_CHECKPOINT_DIR"], env["STOCKPULSE_WAREHOUSE"]
    if value_set == "gke":
        assert checkpoint.startswith("gs://") and warehouse.startswith("gs://")
    else:
        # file:// paths must live on the shared PersistentVolumeClaim, never on the pod's own disk
        mounts = {m["mountPath"]: m["name"] for m in spec["driver"]["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        for uri in (checkpoint, warehouse):
            assert uri.startswith("file:///")
            path = uri.removeprefix("file://")
            mount = next(m for m in mounts if path.startswith(m + "/"))
            assert "persistentVolumeClaim" in volumes[mounts[mount]], uri
        claim = volumes[mounts[mount]]["persistentVolumeClaim"]["claimName"]
        assert claim in {d["metadata"]["name"] for d in by_kind(docs, "PersistentVolumeClaim")}
    sa = spec["driver"]["serviceAccount"]
    binding = one(docs, "RoleBinding", "ingest")
    assert binding["subjects"][0]["name"] == sa


def test_hive_metastore_runs_the_metastore_service_on_postgres(value_set: str) -> None:
    docs = render(value_set)
    dep = one(docs, "Deployment", "hive-metastore")
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["METASTORE_DB_URL"]["value"] == "jdbc:postgresql://stockpulse-hive-metastore-db:5432/metastore"
    assert env["METASTORE_DB_USER"]["value"] == "hive"
    secret, key = password_secret(pod, container, env["METASTORE_DB_PASSWORD_FILE"]["value"])
    assert secret.endswith("-db") and key == "password"
    assert container["ports"][0]["containerPort"] == 9083
    assert "command" not in container and "args" not in container
    svc = one(docs, "Service", "hive-metastore")
    assert svc["spec"]["ports"][0]["port"] == 9083
    external = render(
        "default",
        (
            "--set",
            "postgresql.enabled=false",
            "--set",
            "hiveMetastore.database.host=db.example",
            "--set",
            "hiveMetastore.database.existingSecret=hms-db",
        ),
    )
    assert not by_kind(external, "StatefulSet")
    assert not by_kind(external, "Secret")
    ext_pod = one(external, "Deployment", "hive-metastore")["spec"]["template"]["spec"]
    ext_env = {e["name"]: e for e in ext_pod["containers"][0]["env"]}
    assert ext_env["METASTORE_DB_URL"]["value"] == "jdbc:postgresql://db.example:5432/metastore"
    file = ext_env["METASTORE_DB_PASSWORD_FILE"]["value"]
    assert password_secret(ext_pod, ext_pod["containers"][0], file) == ("hms-db", "password")


def password_secret(pod: dict, container: dict, path: str) -> tuple[str, str]:
    """The Secret and key whose volume holds the file at ``path`` in ``container``."""
    folder, _, name = path.rpartition("/")
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == folder]
    assert mount.get("readOnly") is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    (item,) = [i for i in volume["secret"]["items"] if i["path"] == name]
    return volume["secret"]["secretName"], item["key"]


def test_no_password_is_in_a_containers_environment(value_set: str) -> None:
    """Secrets reach Postgres, the metastore and the API as files: a variable would be readable in
    /proc/<pid>/environ of every process of the container, tini's included."""
    for doc in render(value_set):
        for container in containers_of_doc(doc):
            for env in container.get("env", []):
                assert "secretKeyRef" not in env.get("valueFrom", {}), (name_of(doc), env["name"])
                assert "PASSWORD" not in env["name"] or env["name"].endswith("_FILE"), (name_of(doc), env["name"])


def containers_of_doc(doc: dict) -> list[dict]:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec.get("template", {}).get("spec", {})
    return pod.get("containers", []) + pod.get("initContainers", [])


def test_the_database_password_is_never_in_a_command_line_or_plain_value() -> None:
    password = "Pl41n-s3cret-never-seen"
    text = render_text("default", ("--set", f"postgresql.password={password}"))
    assert password not in text  # only base64 in the Secret, mounted as a file
    docs = render("default", ("--set", f"postgresql.password={password}"))
    (secret,) = by_kind(docs, "Secret")
    assert base64.b64decode(secret["data"]["password"]).decode() == password


def test_a_missing_database_password_is_refused_with_a_clear_message() -> None:
    proc = run([tool("helm"), "template", "x", CHART], check=False)
    assert proc.returncode != 0
    assert "postgresql.password is required" in proc.stderr


def test_the_same_values_render_the_same_manifests(value_set: str) -> None:
    first = run([tool("helm"), "template", "stockpulse", CHART, *VALUE_SETS[value_set]]).stdout
    second = run([tool("helm"), "template", "stockpulse", CHART, *VALUE_SETS[value_set]]).stdout
    assert first == second


def spark_pod_request_mib(heap: str, factor: float = 0.4) -> int:
    """What Spark itself requests for a Python application's driver or executor pod:
    heap + max(384 MiB, factor x heap), factor 0.4 for non-JVM applications (Spark's
    running-on-kubernetes docs, spark.kubernetes.memoryOverheadFactor)."""
    number, unit = int(heap[:-1]), heap[-1].lower()
    mib = number * 1024 if unit == "g" else number
    return mib + max(384, int(factor * mib))


def test_spark_pod_limits_cover_what_spark_requests(value_set: str) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for args in VALUE_SETS[value_set][1::2]:
        if args.endswith(".yaml"):
            overrides = yaml.safe_load(Path(args).read_text()) or {}
            for role in ("driver", "executor"):
                heap = (overrides.get("ingest", {}).get(role) or {}).get("memory")
                if heap:
                    values["ingest"][role]["memory"] = heap
    app = one(render(value_set), "SparkApplication", "ingest")
    for role in ("driver", "executor"):
        spec = app["spec"][role]
        limit = int(spec["memoryLimit"].removesuffix("Mi"))
        assert limit >= spark_pod_request_mib(values["ingest"][role]["memory"]), (value_set, role, spec)
        # the chart passes the overhead it assumed, so Spark requests exactly the limit
        assert limit == int(spec["memory"].removesuffix("m")) + int(spec["memoryOverhead"].removesuffix("m"))


def test_statefulset_kafka_is_kraft_with_its_topics_job() -> None:
    docs = render("local-cluster")
    assert not [d for d in docs if d["apiVersion"].startswith("kafka.strimzi.io")]
    sts = one(docs, "StatefulSet", "kafka")
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    name = sts["metadata"]["name"]
    assert env["KAFKA_CONTROLLER_QUORUM"] == f"0@{name}-0.{name}-headless.stockpulse.svc:9093"
    assert env["KAFKA_ADVERTISED_HOST"] == f"$(POD_NAME).{name}-headless.stockpulse.svc"
    services = {d["metadata"]["name"]: d for d in by_kind(docs, "Service")}
    assert services[f"{name}-headless"]["spec"]["publishNotReadyAddresses"] is True
    assert {p["port"] for p in services[f"{name}-bootstrap"]["spec"]["ports"]} == {9092}
    job = one(docs, "Job", "kafka")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    topics = [a.split(":")[0] for a in args if a != "--topic"]
    assert topics == ["stock_call", "stock_operation", "default_call", "stock_insights"]
    # the topics CLI parses what the chart passes: the insights topic is compacted
    from stockpulse.events.topics import TopicSpec

    specs = [TopicSpec.parse(a) for a in args if a != "--topic"]
    assert [s.cleanup_policy for s in specs] == ["delete", "delete", "delete", "compact"]


def test_external_kafka_mode_deploys_no_broker_and_uses_the_given_bootstrap() -> None:
    docs = render(
        "default", ("--set", "kafka.mode=external", "--set", "kafka.externalBootstrap=bootstrap.example:9092")
    )
    assert not [
        d for d in docs if d["metadata"]["labels"]["app.kubernetes.io/component"] == "kafka" and d["kind"] != "Job"
    ]
    api = one(docs, "Deployment", "api")
    env = {e["name"]: e.get("value") for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["STOCKPULSE_KAFKA_BOOTSTRAP"] == "bootstrap.example:9092"
    assert one(docs, "Job", "kafka")
    proc = run(
        [tool("helm"), "template", "x", CHART, *VALUE_SETS["default"], "--set", "kafka.mode=external"], check=False
    )
    assert proc.returncode != 0 and "kafka.externalBootstrap is required" in proc.stderr


def test_gke_values_use_gcs_and_workload_identity() -> None:
    docs = render("gke")
    accounts = by_kind(docs, "ServiceAccount")
    assert accounts
    for sa in accounts:
        annotation = sa["metadata"].get("annotations", {}).get("iam.gke.io/gcp-service-account", "")
        assert annotation.endswith(".iam.gserviceaccount.com"), name_of(sa)
    assert not by_kind(docs, "PersistentVolumeClaim"), "the lake lives in GCS on GKE"
    sts = one(docs, "StatefulSet", "hive-metastore-db")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "premium-rwo"
    hadoop = one(docs, "SparkApplication")["spec"]["hadoopConf"]
    assert hadoop["fs.gs.impl"].endswith("GoogleHadoopFileSystem")


def test_templates_are_one_file_per_component_and_kind() -> None:
    names = sorted(p.name for p in (CHART / "templates").iterdir())
    assert "NOTES.txt" in names and "_helpers.tpl" in names
    pattern = re.compile(
        r"^(api|kafka|ingest|maintenance|hive-metastore|hive-metastore-db|locust|lake|monitoring)-[a-z-]+\.yaml$"
    )
    for name in names:
        if name.endswith(".yaml"):
            assert pattern.match(name), name
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    for helper in ("name", "fullname", "chart", "labels", "selectorLabels", "image"):
        assert f'define "stockpulse.{helper}"' in helpers


def _documented(values: dict, params: set[str], prefix: str = "") -> list[str]:
    missing = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path in params:
            continue
        if isinstance(value, dict) and value:
            missing += _documented(value, params, path + ".")
        else:
            missing.append(path)
    return missing


def _exists(values: dict, path: str) -> bool:
    node = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_value_is_documented_with_a_param_comment() -> None:
    text = (CHART / "values.yaml").read_text()
    params = set(re.findall(r"^\s*## @param (\S+) \S", text, flags=re.M))
    values = yaml.safe_load(text)
    assert not _documented(values, params), "values without ## @param"
    stale = sorted(p for p in params if not _exists(values, p))
    assert not stale, f"## @param for values that do not exist: {stale}"


def test_values_schema_covers_every_top_level_value() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(values)


def service_link_variables(service: dict) -> set[str]:
    """The variables the kubelet puts in pods for a Service (docker-link style), when links are on."""
    if service["spec"].get("clusterIP") == "None":
        return set()
    prefix = service["metadata"]["name"].upper().replace("-", "_")
    names = {f"{prefix}_SERVICE_HOST", f"{prefix}_SERVICE_PORT", f"{prefix}_PORT"}
    for port in service["spec"]["ports"]:
        base = f"{prefix}_PORT_{port['port']}_{port.get('protocol', 'TCP')}"
        names |= {base, f"{base}_PROTO", f"{base}_PORT", f"{base}_ADDR"}
    return names


def test_no_service_name_shadows_a_setting_and_pods_turn_service_links_off(value_set: str) -> None:
    """A Service called stockpulse-kafka once gave every pod STOCKPULSE_KAFKA_PORT=tcp://..."""
    from stockpulse.settings import ENV_NAMES

    docs = render(value_set)
    for service in by_kind(docs, "Service"):
        clash = service_link_variables(service) & set(ENV_NAMES.values())
        assert not clash, f"{name_of(service)} would set {clash} in pods of SparkApplications"
    for doc in docs:
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
            assert doc["spec"]["template"]["spec"].get("enableServiceLinks") is False, name_of(doc)
    # the check itself sees the clash that broke the first install
    old = {"metadata": {"name": "stockpulse-kafka"}, "spec": {"ports": [{"port": 9092}]}}
    assert "STOCKPULSE_KAFKA_PORT" in service_link_variables(old) & set(ENV_NAMES.values())


def _pods_with_ports(docs: list[dict]) -> list[tuple[dict, set[str]]]:
    """(pod labels, named container ports) of every pod the release's workloads create."""
    pods = []
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            template = doc["spec"]["template"]
            ports = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", []) if "name" in p}
            pods.append((template["metadata"]["labels"], ports))
        elif doc["kind"] == "SparkApplication":
            for role in ("driver", "executor"):
                ports = {p["name"] for p in doc["spec"][role].get("ports", [])}
                if "monitoring" in doc["spec"]:
                    ports.add(doc["spec"]["monitoring"]["prometheus"]["portName"])
                pods.append(({**doc["spec"][role]["labels"], "spark-role": role}, ports))
    return pods


def test_every_monitor_endpoint_names_a_port_of_a_pod_it_selects() -> None:
    """On the local cluster's values (statefulset Kafka, monitoring on), each PodMonitor endpoint and
    each ServiceMonitor's Service port exists where the monitor looks: otherwise the target never appears."""
    docs = render("local-cluster")
    pods = _pods_with_ports(docs)
    podmonitors = by_kind(docs, "PodMonitor")
    assert {m["metadata"]["name"] for m in podmonitors} >= {"stockpulse-api", "stockpulse-ingest", "stockpulse-kafka"}
    for monitor in podmonitors:
        wanted = monitor["spec"]["selector"]["matchLabels"]
        selected = [ports for labels, ports in pods if wanted.items() <= labels.items()]
        assert selected, monitor["metadata"]["name"]
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            assert any(endpoint["port"] in ports for ports in selected), (monitor["metadata"]["name"], endpoint)
    services = by_kind(docs, "Service")
    for monitor in by_kind(docs, "ServiceMonitor"):
        wanted = monitor["spec"]["selector"]["matchLabels"]
        ports = {
            p.get("name")
            for s in services
            if wanted.items() <= s["metadata"]["labels"].items()
            for p in s["spec"]["ports"]
        }
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in ports, (monitor["metadata"]["name"], endpoint)


def test_the_api_service_exposes_only_the_api_port_and_metrics_are_scraped_from_the_probe_port() -> None:
    """``/metrics`` (and the probes) answer on each pod's probe port, which no Service exposes: what
    reaches the Service, or an ingress in front of it, cannot read the service's internals."""
    docs = render("local-cluster")
    service = one(docs, "Service", "api")
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    monitor = one(docs, "PodMonitor", "api")
    assert [(e["port"], e["path"]) for e in monitor["spec"]["podMetricsEndpoints"]] == [("probes", "/metrics")]
    container = one(docs, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0]
    assert "probes" in {p["name"] for p in container["ports"]}
    policy = one(render("all-on"), "NetworkPolicy", "api")["spec"]["ingress"]
    assert [[p["port"] for p in rule["ports"]] for rule in policy] == [["http"], ["probes"]]


def test_maintenance_is_a_scheduled_run_of_the_ingest_image_and_pod_shape(value_set: str) -> None:
    docs = render(value_set)
    ingest = one(docs, "SparkApplication", "ingest")["spec"]
    scheduled = one(docs, "ScheduledSparkApplication", "maintenance")["spec"]
    assert scheduled["concurrencyPolicy"] == "Forbid"
    template = scheduled["template"]
    assert template["mainApplicationFile"] == "local:///opt/stockpulse/spark/maintain.py"
    assert template["restartPolicy"] == {"type": "Never"}
    for key in ("image", "sparkVersion", "volumes", "sparkConf"):
        assert template[key] == ingest[key], key
    for role in ("driver", "executor"):
        assert template[role]["memoryLimit"] == ingest[role]["memoryLimit"], role
        assert template[role]["labels"]["app.kubernetes.io/component"] == "maintenance"
    # it starts executors with the ingest's service account (whose Role allows that), and serves no metrics
    assert template["driver"]["serviceAccount"] == ingest["driver"]["serviceAccount"]
    assert "ports" not in template["driver"]
    env = {e["name"] for e in template["driver"]["env"]}
    assert "STOCKPULSE_METASTORE_URI" in env and "STOCKPULSE_INGEST_METRICS_BIND" not in env
    assert not [
        d for d in render(value_set, ("--set", "maintenance.enabled=false")) if d["kind"] == "ScheduledSparkApplication"
    ]


def test_kafka_metrics_use_the_local_brokers_rules_in_every_mode() -> None:
    """Dashboards query one set of names: Strimzi's JMX exporter gets the rules the local broker and
    the kafka image run (toolbox/stockpulse_toolbox/devstack/kafka-metrics.yaml)."""
    rules = (ROOT / "toolbox" / "stockpulse_toolbox" / "devstack" / "kafka-metrics.yaml").read_text()
    docs = render("all-on")
    kafka = one(docs, "Kafka")["spec"]["kafka"]["metricsConfig"]
    assert kafka["type"] == "jmxPrometheusExporter"
    ref = kafka["valueFrom"]["configMapKeyRef"]
    (configmap,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == ref["name"]]
    assert yaml.safe_load(configmap["data"][ref["key"]]) == yaml.safe_load(rules)
    dockerfile = (ROOT / "images" / "kafka" / "Dockerfile").read_text()
    assert "toolbox/stockpulse_toolbox/devstack/kafka-metrics.yaml" in dockerfile
    broker = one(render("local-cluster"), "StatefulSet", "kafka")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "KAFKA_METRICS_PORT", "value": "9404"} in broker["env"]
