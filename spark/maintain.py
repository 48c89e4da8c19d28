#!/usr/bin/env python
"""Entry script of the table maintenance job (compaction, snapshot expiry, manifests, orphan files).

Locally ``stockpulse up`` runs ``stockpulse maintain --every STOCKPULSE_MAINTAIN_INTERVAL_MINUTES``
for you; one run by hand::

    .venv/bin/python spark/maintain.py [--table stock_call]

On Kubernetes a ScheduledSparkApplication runs it with ``spark-submit`` from the image
(``local:///opt/stockpulse/spark/maintain.py``), one run per schedule; configuration comes
from the ``STOCKPULSE_*`` environment. It exits 1 when a step failed, so the run shows as failed.
"""

import sys

from stockpulse.jobs.maintain import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
