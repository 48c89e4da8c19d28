"""``make demo``: the whole pipeline end to end on the embedded defaults, then the report."""
