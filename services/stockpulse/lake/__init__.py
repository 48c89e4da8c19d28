"""The lake: Spark schemas derived from the event contract, the session, tables, transforms, ingest, SQL."""
