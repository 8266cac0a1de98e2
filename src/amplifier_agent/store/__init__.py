"""Sessions on disk: transcripts, metadata, audit records, the turn ledger."""
