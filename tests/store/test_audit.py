"""audits/<turnId>.json: digests and the exact record fields."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

from amplifier_agent.store.audit import AuditRecord, argv_digest, env_digest, write_audit


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_argv_digest_hashes_the_space_joined_argv() -> None:
    assert argv_digest(["amplifier-agent", "run", "hi there"]) == sha(
        "amplifier-agent run hi there"
    )


def test_env_digest_hashes_sorted_amplifier_names_only() -> None:
    env = {
        "AMPLIFIER_AGENT_HOME": "/secret/value",
        "PATH": "/bin",
        "AMPLIFIER_MCP_CONFIG": "x",
        "ANTHROPIC_API_KEY": "sk-1",
    }
    assert env_digest(env) == sha("AMPLIFIER_AGENT_HOME\nAMPLIFIER_MCP_CONFIG")
    # Values never matter, only names.
    assert env_digest({**env, "AMPLIFIER_AGENT_HOME": "/other"}) == env_digest(env)
    assert env_digest({}) == sha("")


def test_write_audit_writes_the_exact_fields(workdir: Path) -> None:
    record = AuditRecord.build(
        argv=["amplifier-agent", "run", "x"],
        env={"AMPLIFIER_AGENT_HOME": "h"},
        protocol_version="0.3.0",
        exit_code=0,
        correlation_id="7f1c0e9a-0000-4000-8000-000000000000",
        started_at="2025-01-31T12:00:00.000Z",
        ended_at="2025-01-31T12:00:02.100Z",
    )
    path = write_audit(workdir / "s1", "turn-3", record)
    assert path == workdir / "s1" / "audits" / "turn-3.json"
    assert json.loads(path.read_text()) == {
        "argvDigest": sha("amplifier-agent run x"),
        "envDigest": sha("AMPLIFIER_AGENT_HOME"),
        "protocolVersion": "0.3.0",
        "exitCode": 0,
        "correlationId": "7f1c0e9a-0000-4000-8000-000000000000",
        "startedAt": "2025-01-31T12:00:00.000Z",
        "endedAt": "2025-01-31T12:00:02.100Z",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_write_audit_refuses_a_path_like_turn_id(workdir: Path) -> None:
    record = AuditRecord("a", "e", "0.3.0", 0, "c", "s", "e")
    with pytest.raises(ValueError):
        write_audit(workdir, "../../escape", record)
    assert list(workdir.iterdir()) == []
