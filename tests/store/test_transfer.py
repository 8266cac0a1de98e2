"""`store export` / `store import`: files → PostgreSQL → files keeps every session (timestamps,
metadata, audits) and every ledger line; a bad line is refused before anything is written."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from amplifier_agent.cli.app import cli
from amplifier_agent.config.paths import layout
from amplifier_agent.core.messages import AssistantMessage, UserMessage
from amplifier_agent.core.usage import Usage
from amplifier_agent.store.audit import AuditRecord
from amplifier_agent.store.file_backend import FileBackend
from amplifier_agent.store.postgres import PostgresBackend
from amplifier_agent.store.protocol import StoreBackend
from amplifier_agent.store.transfer import ResponseDump, SessionDump, parse_line
from testkit.postgres import PASSWORD
from tests.store.test_backends import HISTORY, ledger_line

AUDIT = AuditRecord.build(
    argv=["run"], env={}, protocol_version="0.3.0", exit_code=0,
    correlation_id="c", started_at="a", ended_at="b",
)  # fmt: skip


def fill(store: StoreBackend) -> None:
    for workspace, session_id in (("ws-a", "s1"), ("ws-a", "s2"), ("ws-b", "s1")):
        session = store.sessions(workspace).create(session_id, f"/{workspace}")
        session.append(HISTORY)
        session.update_metadata(Usage(3, 4, cost_usd=Decimal("0.5")), "complete")
        store.end_turn(session, ledger_line(session_id, 1))
        again = store.sessions(workspace).open_or_create(session_id, "/x")
        again.append([UserMessage("more"), AssistantMessage("reply", interrupted=True)])
        again.update_metadata(Usage(1, 1, cost_usd=None), "cancelled")
        store.end_turn(again, ledger_line(session_id, 2, "cancelled"))
        again.write_audit("turn-2", AUDIT)


def files() -> FileBackend:
    paths = layout()
    return FileBackend(paths.workspaces_dir, paths.usage_ledger)


def contents(store: StoreBackend) -> tuple[list[SessionDump], list[ResponseDump], list[Any]]:
    return list(store.dump_sessions()), list(store.dump_responses()), store.read_ledger()


def test_files_to_postgresql_and_back_loses_nothing(tmp_path: Path, pg_url: str) -> None:
    fill(files())
    for workspace, digit in (("ws-a", "1"), ("ws-b", "2")):
        record = {"response": {"id": f"resp_{digit * 32}", "text": "héllo"}, "items": [digit]}
        files().sessions(workspace).save_response(f"resp_{digit * 32}", record)
    before = contents(files())
    assert [len(part) for part in before] == [3, 2, 6]
    runner = CliRunner()
    dump = tmp_path / "dump.jsonl"
    exported = runner.invoke(cli, ["store", "export", "--output", str(dump)])
    assert exported.exit_code == 0, exported.output
    assert "exported 3 sessions, 2 stored responses and 6 ledger lines" in exported.stderr
    imported = runner.invoke(cli, ["store", "import", str(dump), "--store", pg_url])
    assert imported.exit_code == 0, imported.output
    assert "amplifier:***@" in imported.stderr and PASSWORD not in imported.output

    database = PostgresBackend.open(pg_url)
    try:
        assert contents(database) == before
        continued = database.sessions("ws-b").find("s1")
        assert continued is not None and continued.next_turn_id() == "turn-3"
    finally:
        database.close()

    back = tmp_path / "back"
    env = {"AMPLIFIER_AGENT_HOME": str(back), "AMPLIFIER_AGENT_STORE_URL": pg_url}
    again = runner.invoke(cli, ["store", "export"], env=env)
    assert again.exit_code == 0, again.output
    restored = runner.invoke(cli, ["store", "import"], input=again.stdout,
                             env={"AMPLIFIER_AGENT_HOME": str(back)})  # fmt: skip
    assert restored.exit_code == 0, restored.output
    home = FileBackend(back / "state" / "workspaces", back / "state" / "usage.jsonl")
    assert contents(home) == before


def test_a_bad_line_is_refused_before_anything_is_written(tmp_path: Path, pg_url: str) -> None:
    fill(files())
    runner = CliRunner()
    exported = runner.invoke(cli, ["store", "export"]).stdout
    broken = exported + '{"type": "session", "version": 1, "workspace": "w", "sessionId": ".."}\n'
    agent = Path(sys.executable).with_name("amplifier-agent")
    result = subprocess.run(
        [agent, "store", "import", "--store", pg_url], input=broken, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("[error] config_validation: <stdin>, line 10: session id")
    assert PASSWORD not in result.stderr
    database = PostgresBackend.open(pg_url)
    try:
        assert list(database.dump_sessions()) == [] and database.read_ledger() == []
    finally:
        database.close()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"responseId": "resp_../../x"}, "not a response id"),
        ({"responseId": 7}, "responseId must be a string"),
        ({"record": []}, "must hold an object"),
        ({"workspace": "a/b"}, "workspace must be a single path component"),
    ],
)
def test_a_bad_response_line_names_what_is_wrong(fields: dict[str, Any], reason: str) -> None:
    line = {"type": "response", "version": 1, "workspace": "w", "responseId": "resp_" + "a" * 32}
    with pytest.raises(ValueError, match=reason):
        parse_line({**line, "record": {}, **fields})
