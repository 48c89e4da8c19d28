"""gunicorn's logger, minus the per-request access-log work nobody reads.

gunicorn builds every access-log field for every request whenever a log config is set,
even when the ``gunicorn.access`` logger drops the line; on 2 cores that was about 4%
of a request's Python time (docs/performance.md). Access logging here follows that
logger's level: set ``gunicorn.access`` to INFO to get the lines back.
"""

from __future__ import annotations

import logging

from gunicorn import glogging


class Logger(glogging.Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        self._access_log_enabled = self._access_log_enabled and self.access_log.isEnabledFor(logging.INFO)
