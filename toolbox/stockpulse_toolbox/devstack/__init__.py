"""The local stack as background processes: Kafka (KRaft), the metastore, the API, the ingest job.

State lives under the run folder (``STOCKPULSE_RUN_DIR``, default ``.run/``): pid files
in ``pids/``, logs in ``logs/``, data in ``kafka/``, ``metastore/``, ``warehouse/``.
"""
