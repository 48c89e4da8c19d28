#!/bin/bash
# The operator under tini: it reaps the spark-submit processes the controller starts.
set -e
exec /usr/bin/tini -s -- /usr/bin/spark-operator "$@"
