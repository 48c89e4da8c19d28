"""One ``Idempotency-Key`` across the API pods of the local cluster: each pod reached on its own
(a port-forward per pod), then again after a rollout has replaced every pod. The records live in
the chart's Postgres, on its volume; no emptyDir holds them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from tests.support.cluster import RELEASE, Cluster, port_forward

pytestmark = pytest.mark.cluster


def keyed_order(port: int, key: str) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/stocks/NVDA/orders",
        data=json.dumps({"side": "sell", "quantity": 7}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": key, "X-User-Id": "u-cluster"},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def api_pods(cluster: Cluster) -> list[str]:
    pods = cluster.json("get", "pods", "-l", "app.kubernetes.io/component=api")["items"]
    # a pod being deleted (a rollout's old one, in its preStop sleep) still reads Running
    live = [p for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
    return sorted(p["metadata"]["name"] for p in live)


def through(cluster: Cluster, target: str, key: str) -> tuple[int, bytes, dict[str, str]]:
    forward = port_forward(cluster, target, 8000)
    try:
        return keyed_order(forward.local_port, key)  # type: ignore[attr-defined]
    finally:
        forward.kill()
        forward.wait()


def test_a_keyed_order_gets_one_answer_from_every_pod_and_after_a_rollout(cluster: Cluster) -> None:
    pods = api_pods(cluster)
    assert len(pods) >= 2, f"the chart runs at least two API pods here: {pods}"
    key = str(uuid.uuid4())
    first = through(cluster, f"pod/{pods[0]}", key)
    assert first[0] == 201, first
    again = through(cluster, f"pod/{pods[1]}", key)
    assert again[0] == 201 and again[1] == first[1], (first, again)
    assert again[2].get("Idempotent-Replayed") == "true"

    cluster.k("rollout", "restart", f"deploy/{RELEASE}-api")
    cluster.k("rollout", "status", f"deploy/{RELEASE}-api", "--timeout=300s")
    assert not set(api_pods(cluster)) & set(pods), "the rollout replaced every pod"
    after = through(cluster, f"svc/{RELEASE}-api", key)
    assert after[0] == 201 and after[1] == first[1], (first, after)

    answer = json.loads(first[1])

    cluster.wait_for(
        lambda: cluster.order_in_lake(answer["order_id"]),
        600,  # this module may run first, while the ingest driver still starts
        f"order {answer['order_id']} in stock_operation",
        interval=2,
    )
    rows = cluster.sql(f"SELECT order_id, price, quantity FROM stock_operation WHERE order_id = '{answer['order_id']}'")
    assert rows == [{"order_id": answer["order_id"], "price": answer["price"], "quantity": 7}]


def test_the_key_records_are_in_postgres_on_its_volume(cluster: Cluster) -> None:
    key = str(uuid.uuid4())
    assert through(cluster, f"svc/{RELEASE}-api", key)[0] == 201
    deployment = cluster.json("get", "deploy", f"{RELEASE}-api")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["STOCKPULSE_IDEMPOTENCY_DSN"].endswith("/stockpulse")
    statefulset = cluster.json("get", "statefulset", f"{RELEASE}-hive-metastore-db")
    assert [t["metadata"]["name"] for t in statefulset["spec"]["volumeClaimTemplates"]] == ["data"]
    # `kubectl exec` gets the container's environment, so psql finds the password without a command line
    query = f"SELECT state FROM keyed_order WHERE key = '{key}'"
    found = cluster.k(
        "exec",
        f"{RELEASE}-hive-metastore-db-0",
        "--",
        "sh",
        "-c",
        f'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -d stockpulse -tAX -c "{query}"',
    )
    assert found.strip() == "done"
