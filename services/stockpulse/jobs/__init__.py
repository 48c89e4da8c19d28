"""The Spark applications: each job wires ``lake`` and ``insights`` into one running query or run.

``jobs`` sits above both libraries; nothing below imports it. Each job has a ``main(argv)``
that its entry script under ``spark/`` calls, and a ``run(settings, ...)`` the CLI calls.
"""
