"""The seed's six questions (its section 7), verbatim: they must keep running unchanged on every engine."""

from __future__ import annotations

SEED_QUERIES = (
    "SELECT * FROM stock_call",
    "SELECT COUNT(stock_name) FROM stock_call GROUP BY stock_name",
    "SELECT stock_name, COUNT(stock_name) as query_count FROM stock_call "
    "GROUP BY stock_name ORDER BY query_count desc LIMIT 1",
    "SELECT stock_name, COUNT(stock_name) as query_count FROM stock_call "
    "GROUP BY stock_name ORDER BY query_count asc LIMIT 1",
    "SELECT * FROM stock_operation",
    "SELECT MAX(transaction_amount) AS max_transaction FROM stock_operation",
)
#: The ones whose row order SQL defines; the others are compared as multisets.
ORDERED = frozenset(SEED_QUERIES[2:4] + SEED_QUERIES[5:])
