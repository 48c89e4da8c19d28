"""One ``Idempotency-Key`` across the API pods of the local cluster, each reached at its pod
address: the first pod waits on a held broker while a retry reaches the second. The records
live in the chart's Postgres, on its volume; no emptyDir holds them. (A rollout under keyed,
retrying load is test_pipeline's helm upgrade.)"""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from tests.support.cluster import RELEASE, Cluster, keyed_order, keyed_order_through, paused

pytestmark = pytest.mark.cluster

#: The broker is held for less than the API's order ack timeout (5 s): the first order is slow, not in doubt.
HELD_S = 2.5


def api_pods(cluster: Cluster) -> dict[str, str]:
    """Name -> pod address of the API pods that serve."""
    pods = cluster.json("get", "pods", "-l", "app.kubernetes.io/component=api")["items"]
    # a pod being deleted (a rollout's old one, in its preStop sleep) still reads Running
    return {
        p["metadata"]["name"]: p["status"]["podIP"]
        for p in pods
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    }


def test_a_retry_on_another_pod_while_the_broker_holds_the_first_gets_the_same_answer(cluster: Cluster) -> None:
    pods = sorted(api_pods(cluster).values())
    assert len(pods) >= 2, f"the chart runs at least two API pods here: {pods}"
    first_pod, second_pod = (f"http://{ip}:8000" for ip in pods[:2])
    kafka = cluster.k("get", "pods", "-l", "app.kubernetes.io/component=kafka", "-o", "name").split()[0]
    key = str(uuid.uuid4())
    answers: dict[str, tuple[int, bytes, dict[str, str]]] = {}

    with paused(cluster, kafka.removeprefix("pod/")):
        sending = threading.Thread(target=lambda: answers.update(first=keyed_order(first_pod, key)))
        sending.start()
        time.sleep(1.0)  # the first pod has claimed the key and waits for the broker's ack
        answers["meanwhile"] = keyed_order(second_pod, key)
        time.sleep(max(0.0, HELD_S - 1.0))
    sending.join(timeout=30)
    first, meanwhile = answers["first"], answers["meanwhile"]
    assert first[0] == 201, first
    # the second pod saw the first one's claim: in progress, retry after a moment
    assert meanwhile[0] == 409 and json.loads(meanwhile[1])["error"]["code"] == "request_in_progress", meanwhile
    assert int(meanwhile[2]["Retry-After"]) >= 1
    again = keyed_order(second_pod, key)
    assert again[0] == 201 and again[1] == first[1], (first, again)
    assert again[2].get("Idempotent-Replayed") == "true"

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
    assert keyed_order_through(cluster, f"svc/{RELEASE}-api", key)[0] == 201
    deployment = cluster.json("get", "deploy", f"{RELEASE}-api")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["STOCKPULSE_IDEMPOTENCY_DSN"].endswith("/stockpulse")
    statefulset = cluster.json("get", "statefulset", f"{RELEASE}-hive-metastore-db")
    assert [t["metadata"]["name"] for t in statefulset["spec"]["volumeClaimTemplates"]] == ["data"]
    # `kubectl exec` gets the container's environment: psql reads the password from its file, not a command line
    query = f"SELECT state FROM keyed_order WHERE key = '{key}'"
    found = cluster.k(
        "exec",
        f"{RELEASE}-hive-metastore-db-0",
        "--",
        "sh",
        "-c",
        'PGPASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")" '
        f'psql -h 127.0.0.1 -U "$POSTGRES_USER" -d stockpulse -tAX -c "{query}"',
    )
    assert found.strip() == "done"
