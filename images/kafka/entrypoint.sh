#!/bin/bash
# One KRaft node (broker + controller) of a StatefulSet, configured from the environment:
#   KAFKA_CLUSTER_ID          the cluster's id (22 characters, base64 of a UUID)
#   KAFKA_NODE_ID             node id; default: the ordinal at the end of the pod's hostname
#   KAFKA_ADVERTISED_HOST     the name clients reach this node by (the pod's headless DNS name)
#   KAFKA_CONTROLLER_QUORUM   controller.quorum.voters, e.g. 0@kafka-0.kafka-headless:9093
#   KAFKA_REPLICATION_FACTOR  replication of internal topics and the default for new ones
#   KAFKA_MIN_INSYNC_REPLICAS min.insync.replicas
#   KAFKA_METRICS_PORT        when set, the Prometheus JMX exporter agent serves /metrics on this port
#                             (rules of /opt/kafka/config/kafka-metrics.yaml: Strimzi's metric names)
#   KAFKA_HEAP, KAFKA_DATA_DIR, KAFKA_CONFIG_DIR, JAVA_OPTS
# Storage is formatted once; a restarted pod keeps its volume and its data.
set -euo pipefail

: "${KAFKA_CLUSTER_ID:?KAFKA_CLUSTER_ID is required}"
: "${KAFKA_ADVERTISED_HOST:?KAFKA_ADVERTISED_HOST is required}"
: "${KAFKA_CONTROLLER_QUORUM:?KAFKA_CONTROLLER_QUORUM is required}"
host=$(hostname)
node_id=${KAFKA_NODE_ID:-${host##*-}}
[[ "$node_id" =~ ^[0-9]+$ ]] || { echo "cannot derive a node id from hostname $host; set KAFKA_NODE_ID" >&2; exit 2; }
rf=${KAFKA_REPLICATION_FACTOR:-1}
isr=${KAFKA_MIN_INSYNC_REPLICAS:-1}

mkdir -p "$KAFKA_CONFIG_DIR" "$KAFKA_DATA_DIR"
config="$KAFKA_CONFIG_DIR/server.properties"
cat > "$config" <<PROPERTIES
process.roles=broker,controller
node.id=$node_id
controller.quorum.voters=$KAFKA_CONTROLLER_QUORUM
listeners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093
advertised.listeners=PLAINTEXT://$KAFKA_ADVERTISED_HOST:9092
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DATA_DIR
num.partitions=3
auto.create.topics.enable=false
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
PROPERTIES

java_cmd=(java -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties)
# shellcheck disable=SC2206  # JAVA_OPTS is a list of options
java_cmd+=(${JAVA_OPTS:-} -cp "/opt/kafka/libs/*")
agent=(/opt/kafka/libs/jmx_prometheus_javaagent-*.jar)

if [[ ! -f "$KAFKA_DATA_DIR/meta.properties" ]]; then
  echo "kafka: formatting $KAFKA_DATA_DIR for cluster $KAFKA_CLUSTER_ID, node $node_id"
  "${java_cmd[@]}" kafka.tools.StorageTool format --cluster-id="$KAFKA_CLUSTER_ID" -c "$config"
fi
echo "kafka: node $node_id advertised as $KAFKA_ADVERTISED_HOST:9092, voters $KAFKA_CONTROLLER_QUORUM"
if [[ -n "${KAFKA_METRICS_PORT:-}" ]]; then
  [[ -f "${agent[0]}" ]] || { echo "kafka: KAFKA_METRICS_PORT is set but the JMX exporter agent is missing" >&2; exit 2; }
  java_cmd+=("-javaagent:${agent[0]}=0.0.0.0:$KAFKA_METRICS_PORT:/opt/kafka/config/kafka-metrics.yaml")
  echo "kafka: metrics on :$KAFKA_METRICS_PORT/metrics"
fi
exec "${java_cmd[@]}" kafka.Kafka "$config"
