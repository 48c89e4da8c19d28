"""Versioned routing rules, kept with the checkpoint: what makes a record valid, per batch.

A replayed micro-batch must route every record as the first run did, or one record could land
in both its table and ``quarantine``. So validation reads no wall clock (time bounds are
measured from the record's Kafka timestamp) and no live configuration: the parameters are
written to ``<checkpoint>/routing-rules/<n>.json``, each version applying from a batch id on.
``CHECKS_REVISION`` names the checks' code; a start refuses rules written by newer checks.
Details: docs/lake.md, "Deterministic routing".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from ..events.model import SCHEMA_VERSION
from .hadoopfs import HadoopFolder

log = logging.getLogger(__name__)

RULES_FOLDER = "routing-rules"
#: The meaning of ``lake.transforms``'s checks. 2: future timestamps measured from the Kafka timestamp;
#: 3: events more than ``max_past_ms`` before their Kafka timestamp are refused (the backfill window).
CHECKS_REVISION = 3
#: Events older than this (2020-01-01) or more than a day after their Kafka timestamp are not believed.
MIN_EVENT_MS = 1_577_836_800_000.0
MAX_FUTURE_MS = 24 * 3600 * 1000.0


class RulesError(RuntimeError):
    """The checkpoint's rules cannot be applied by this code."""


@dataclass(frozen=True)
class RoutingRules:
    """One version of the rules; ``from_batch`` is the first micro-batch it routes."""

    tickers: tuple[str, ...]
    schema_version: int = SCHEMA_VERSION
    min_event_ms: float = MIN_EVENT_MS
    max_future_ms: float = MAX_FUTURE_MS
    #: How much older than its Kafka timestamp an event may be (``STOCKPULSE_BACKFILL_DAYS``);
    #: None in versions written before revision 3, which did not check it.
    max_past_ms: float | None = None
    checks_revision: int = CHECKS_REVISION
    version: int = 0
    from_batch: int = 0

    def same_checks(self, other: RoutingRules) -> bool:
        """True when both route every record alike (version and first batch aside)."""
        return replace(self, version=0, from_batch=0) == replace(other, version=0, from_batch=0)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RoutingRules:
        data = json.loads(text)
        data["tickers"] = tuple(data["tickers"])
        return cls(**data)


def rules_for(versions: Sequence[RoutingRules], batch_id: int) -> RoutingRules:
    """The rules batch ``batch_id`` was planned under: the newest version that started at or before it.

    Batches older than every version (a checkpoint from before rules were kept) take the first one.
    """
    started = [r for r in versions if r.from_batch <= batch_id]
    if not started:
        return min(versions, key=lambda r: r.version)
    return max(started, key=lambda r: (r.from_batch, r.version))


class RulesLog:
    """The versions in ``<checkpoint>/routing-rules``; written only by the driver holding the lease."""

    def __init__(self, checkpoint: HadoopFolder) -> None:
        self.folder = checkpoint.child(RULES_FOLDER)

    def versions(self) -> list[RoutingRules]:
        found = []
        for name in self.folder.names():
            if name.endswith(".json") and name[:-5].isdigit():
                found.append(RoutingRules.from_json(self.folder.read(name) or ""))
        return sorted(found, key=lambda r: r.version)

    def adopt(self, configured: RoutingRules, next_batch: int) -> list[RoutingRules]:
        """Every version, after adding ``configured`` from ``next_batch`` on if it differs from the newest."""
        versions = self.versions()
        newest = versions[-1] if versions else None
        if newest is not None and newest.checks_revision > CHECKS_REVISION:
            raise RulesError(
                f"{self.folder.uri} holds rules of checks revision {newest.checks_revision}; "
                f"this code knows revision {CHECKS_REVISION} at most"
            )
        if newest is not None and newest.same_checks(configured):
            return versions
        version = replace(configured, version=(newest.version + 1) if newest else 1, from_batch=next_batch)
        if not self.folder.write(f"{version.version}.json", version.to_json(), overwrite=False):
            raise RulesError(f"{self.folder.uri}/{version.version}.json appeared while writing it")
        if newest is not None:
            log.warning(
                "routing rules changed; the new version applies from the next planned batch",
                extra={"version": version.version, "from_batch": next_batch},
            )
        return [*versions, version]
