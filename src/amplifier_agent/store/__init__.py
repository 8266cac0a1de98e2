"""Sessions, transcripts, metadata, audit records and the turn ledger: the store interface
(`protocol`), the files under the state root, and a PostgreSQL backend (`postgres`)."""

from amplifier_agent.store.audit import AuditRecord, argv_digest, env_digest
from amplifier_agent.store.ids import turn_id, validate_session_id
from amplifier_agent.store.ledger import LedgerRecord, append_ledger, read_ledger
from amplifier_agent.store.metadata import LastTurn, SessionMetadata
from amplifier_agent.store.projection import visible_projection
from amplifier_agent.store.repair import RepairReport, repair
from amplifier_agent.store.sessions import Session, SessionStore

__all__ = [
    "AuditRecord",
    "LastTurn",
    "LedgerRecord",
    "RepairReport",
    "Session",
    "SessionMetadata",
    "SessionStore",
    "append_ledger",
    "argv_digest",
    "env_digest",
    "read_ledger",
    "repair",
    "turn_id",
    "validate_session_id",
    "visible_projection",
]
