"""Live signals per ticker: windowed aggregates of the event streams, published back to the API.

``view`` keeps what the streaming query's state emits (10-second buckets) and the history
the unusual-activity score needs; ``snapshot`` turns it into the ``stock_insights``
contract; ``query`` is the Structured Streaming query that feeds both.
"""
