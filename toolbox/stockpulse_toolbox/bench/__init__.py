"""``stockpulse bench``: how fast the API, the ingest and the whole pipeline are, measured side by side.

``run`` starts what it needs on free loopback ports under ``<run_dir>/bench/<stamp>``, measures,
writes the figures to one JSON file and, for a full run, adds a row to ``docs/performance.md``.
See ``docs/performance.md`` for what is measured, how, and the results.
"""

from .runner import run

__all__ = ["run"]
