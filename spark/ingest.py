#!/usr/bin/env python
"""Entry script of the streaming ingest job (Kafka -> Iceberg tables in the Hive metastore).

Locally ``stockpulse up`` runs it for you; by hand::

    .venv/bin/python spark/ingest.py [--available-now]

On Kubernetes the SparkApplication runs it with ``spark-submit`` from the image
(``local:///opt/stockpulse/spark/ingest.py``); configuration comes from the
``STOCKPULSE_*`` environment (Kafka bootstrap, metastore URI, warehouse, checkpoints).
"""

import sys

from stockpulse.jobs.ingest import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
