#!/bin/bash
# Spark-on-Kubernetes entrypoint, after Apache Spark's own image (apache/spark-docker):
#   driver ARGS...    spark-submit in client mode inside the driver pod
#   executor          an executor backend that dials the driver
#   anything else     run as given (spark-submit, stockpulse sql, a shell)
# Spark passes everything else through the environment (SPARK_DRIVER_BIND_ADDRESS,
# SPARK_EXECUTOR_*, SPARK_JAVA_OPT_*). The JVM and the Python workers run under tini,
# which reaps them and forwards the pod's SIGTERM.
set -eo pipefail

SPARK_CLASSPATH="$SPARK_CLASSPATH:${SPARK_HOME}/jars/*"
SPARK_EXECUTOR_JAVA_OPTS=()
for v in "${!SPARK_JAVA_OPT_@}"; do
  SPARK_EXECUTOR_JAVA_OPTS+=("${!v}")
done
if [ -n "$SPARK_EXTRA_CLASSPATH" ]; then
  SPARK_CLASSPATH="$SPARK_CLASSPATH:$SPARK_EXTRA_CLASSPATH"
fi
if [ -n "${HADOOP_CONF_DIR+x}" ]; then
  SPARK_CLASSPATH="$HADOOP_CONF_DIR:$SPARK_CLASSPATH"
fi
if [ -n "${SPARK_CONF_DIR+x}" ]; then
  SPARK_CLASSPATH="$SPARK_CONF_DIR:$SPARK_CLASSPATH"
else
  SPARK_CLASSPATH="$SPARK_HOME/conf:$SPARK_CLASSPATH"
fi
SPARK_CLASSPATH="$SPARK_CLASSPATH:$PWD"  # SPARK-43540: the working directory too

case "$1" in
  driver)
    shift 1
    CMD=(
      "$SPARK_HOME/bin/spark-submit"
      --conf "spark.driver.bindAddress=$SPARK_DRIVER_BIND_ADDRESS"
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=$SPARK_DRIVER_BIND_ADDRESS"
      --deploy-mode client
      "$@"
    )
    ;;
  executor)
    shift 1
    CMD=(
      "$JAVA_HOME/bin/java"
      "${SPARK_EXECUTOR_JAVA_OPTS[@]}"
      -Xms"$SPARK_EXECUTOR_MEMORY"
      -Xmx"$SPARK_EXECUTOR_MEMORY"
      -cp "$SPARK_CLASSPATH:$SPARK_DIST_CLASSPATH"
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend
      --driver-url "$SPARK_DRIVER_URL"
      --executor-id "$SPARK_EXECUTOR_ID"
      --cores "$SPARK_EXECUTOR_CORES"
      --app-id "$SPARK_APPLICATION_ID"
      --hostname "$SPARK_EXECUTOR_POD_IP"
      --resourceProfileId "$SPARK_RESOURCE_PROFILE_ID"
      --podName "$SPARK_EXECUTOR_POD_NAME"
    )
    ;;
  *)
    exec "$@"
    ;;
esac
exec /usr/bin/tini -s -- "${CMD[@]}"
