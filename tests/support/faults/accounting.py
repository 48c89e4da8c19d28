"""The fault suite's books: every answer the load got (the Locust ledger), held against Kafka and the lake.

An *intent* is one order the customer meant to place (one ``Idempotency-Key``, however many
attempts). Its rows are found by the order id the API answered (201, 503 and 504 carry it) or,
for an intent never answered, by user, session and order. ``balance`` counts orders lost,
duplicated and landed without a 2xx; such a row is *unexplained* unless an intent left in doubt
(last answer 504 or none) accounts for it. Verdicts: docs/reliability.md, "The fault suite".
Counts only; nothing here asks the API how it derives its ids.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IN_DOUBT = (0, 504)


@dataclass
class Intent:
    user: str
    key: str
    session: str
    what: tuple  # (ticker, side, quantity)
    answers: list[tuple[int, str | None]] = field(default_factory=list)

    @property
    def acknowledged(self) -> set[str]:
        return {order_id for status, order_id in self.answers if status == 201 and order_id}

    @property
    def order_ids(self) -> set[str]:
        return {order_id for _, order_id in self.answers if order_id}

    @property
    def acknowledged_without_id(self) -> bool:
        """A 201 that names no order: the API broke its own contract."""
        return any(status == 201 and not order_id for status, order_id in self.answers)

    @property
    def in_doubt(self) -> bool:
        """The customer never learnt the outcome: no 201, and the last answer left it open."""
        return not self.acknowledged and self.answers[-1][0] in IN_DOUBT


@dataclass
class Books:
    fault: str
    answers: Counter  # "order 201", "check 200", ... -> count
    intents: int
    acknowledged: int
    in_doubt: int
    kafka_events: int
    kafka_orders: int
    lake_rows: int
    lost: list[str]
    duplicated: list[str]
    without_2xx: list[str]
    unexplained: list[dict[str, Any]]
    without_id: list[Intent]
    checks_answered: int
    check_rows: int
    checks_lost: list[str]  # answered 200, no row
    checks_duplicated: list[str]  # one event id, more than one row
    checks_without_200: list[str]  # a row no 200 named (a check whose answer was lost on its way)
    seconds: float = 0.0

    def row(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "answers": sum(self.answers.values()),
            "answers_by_status": dict(sorted(self.answers.items())),
            "intents": self.intents,
            "acknowledged": self.acknowledged,
            "in_doubt": self.in_doubt,
            "kafka_events": self.kafka_events,
            "kafka_orders": self.kafka_orders,
            "lake_rows": self.lake_rows,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "without_2xx": len(self.without_2xx),
            "unexplained": len(self.unexplained),
            "checks_answered": self.checks_answered,
            "check_rows": self.check_rows,
            "checks_lost": len(self.checks_lost),
            "checks_duplicated": len(self.checks_duplicated),
            "seconds": round(self.seconds, 1),
        }


def read_ledger(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def intents(answers: Iterable[dict[str, Any]]) -> list[Intent]:
    found: dict[tuple[str, str], Intent] = {}
    for answer in sorted((a for a in answers if a["kind"] == "order"), key=lambda a: (a["t"], a["attempt"])):
        user, key = answer["user"], answer["key"]
        intent = found.setdefault((user, key), Intent(user, key, answer["session"], tuple(answer["what"])))
        intent.answers.append((answer["status"], answer.get("order_id")))
    return list(found.values())


def _what(row: dict[str, Any]) -> tuple:
    return row["stock_name"], row["side"], row["quantity"]


def balance(
    fault: str,
    answers: list[dict[str, Any]],
    kafka_events: list[dict[str, Any]],
    order_rows: list[dict[str, Any]],
    check_rows: list[str],
) -> Books:
    """The books of one fault: ``kafka_events``/``order_rows``/``check_rows`` (event ids of
    ``stock_call`` rows) are this load's (its users') only."""
    all_intents = intents(answers)
    rows = Counter(row["order_id"] for row in order_rows)
    row_by_order = {row["order_id"]: row for row in order_rows}
    acknowledged = {order_id for intent in all_intents for order_id in intent.acknowledged}

    lost = sorted(order_id for order_id in acknowledged if rows[order_id] == 0)
    duplicated = sorted(order_id for order_id, n in rows.items() if n > 1)
    duplicated += [
        f"{intent.user}/{intent.key}" for intent in all_intents if sum(1 for o in intent.order_ids if rows[o]) > 1
    ]

    without_2xx = sorted(order_id for order_id in rows if order_id not in acknowledged)
    checked = {a["event_id"] for a in answers if a["kind"] == "check" and a["status"] == 200}
    doubtful = [intent for intent in all_intents if intent.in_doubt]
    known = {order_id for intent in doubtful for order_id in intent.order_ids}
    anonymous = Counter((i.user, i.session, i.what) for i in doubtful if not i.order_ids)
    unexplained = []
    for order_id in without_2xx:
        if order_id in known:
            continue
        row = row_by_order[order_id]
        ident = (row["user_id"], row["session_id"], _what(row))
        if anonymous[ident] > 0:
            anonymous[ident] -= 1  # one unanswered intent explains one order, not two
            continue
        unexplained.append(row)

    return Books(
        fault=fault,
        answers=Counter(f"{a['kind']} {a['status']}" for a in answers),
        intents=len(all_intents),
        acknowledged=sum(1 for intent in all_intents if intent.acknowledged),
        in_doubt=len(doubtful),
        kafka_events=len(kafka_events),
        kafka_orders=len({event["order_id"] for event in kafka_events}),
        lake_rows=len(order_rows),
        lost=lost,
        duplicated=duplicated,
        without_2xx=without_2xx,
        unexplained=unexplained,
        without_id=[intent for intent in all_intents if intent.acknowledged_without_id],
        checks_answered=len(checked),
        check_rows=len(check_rows),
        checks_lost=sorted(checked - set(check_rows)),
        checks_duplicated=sorted(event_id for event_id, n in Counter(check_rows).items() if n > 1),
        checks_without_200=sorted(set(check_rows) - checked),
    )
