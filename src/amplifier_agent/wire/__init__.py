"""Wire protocol 0.3.0: NDJSON framing, display events, in-process dispatch."""
