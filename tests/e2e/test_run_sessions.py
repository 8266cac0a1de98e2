"""Sessions across `run` processes: continuation, `--resume`, `--fresh`, repair of a broken
transcript, and what each turn leaves on disk (§2.3, §2.4, §7.2 step 7, §8.9)."""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal

from testkit import reply_text, reply_tool_calls
from tests.e2e.conftest import (
    ROOT_MODEL,
    AgentCli,
    anthropic_blocks,
    expected_cost,
    make_private_dirs,
)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")
USAGE_1 = {"input": 100, "output": 20, "cache_read": 0, "cache_write": 0}
USAGE_2 = {"input": 150, "output": 30, "cache_read": 40, "cache_write": 10}


def test_second_turn_sends_the_first_and_totals_accumulate(agent: AgentCli) -> None:
    agent.fake.enqueue(
        reply_text("The capital is Paris.", usage=USAGE_1),
        reply_text("About 2.1 million people.", usage=USAGE_2),
    )
    config = str(agent.config_with_model())

    first = agent.run(
        "run",
        "-y",
        "--config",
        config,
        "--session-id",
        "s1",
        "--output",
        "json",
        "What is the capital of France?",
    )
    second = agent.run(
        "run",
        "-y",
        "--config",
        config,
        "--session-id",
        "s1",
        "--output",
        "json",
        "And its population?",
    )

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert (first.envelope()["turnId"], second.envelope()["turnId"]) == ("turn-1", "turn-2")
    assert second.envelope()["sessionId"] == "s1"
    sent = agent.fake.model_requests()[1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert "What is the capital of France?" in json.dumps(sent[0])
    assert "The capital is Paris." in json.dumps(sent[1])
    assert "And its population?" in json.dumps(sent[2])

    directory = agent.session_dir("s1")
    metadata = json.loads((directory / "metadata.json").read_text())
    assert metadata["schema_version"] == 1
    assert metadata["sessionId"] == "s1"
    assert metadata["turns"] == 2
    assert metadata["last_turn"] == "complete"
    assert metadata["cwd"] == str(agent.cwd.resolve())
    assert metadata["tokensInTotal"] == 100 + 150 + 40 + 10
    assert metadata["tokensOutTotal"] == 50
    cost = expected_cost(ROOT_MODEL, USAGE_1) + expected_cost(ROOT_MODEL, USAGE_2)
    assert Decimal(metadata["costUsdTotal"]) == cost
    roles = [line["role"] for line in agent.transcript("s1")]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert all(ISO_UTC.match(line["ts"]) for line in agent.transcript("s1"))


def test_a_resumed_turn_reports_the_session_total_including_earlier_turns(
    agent: AgentCli,
) -> None:
    agent.fake.enqueue(reply_text("one", usage=USAGE_1), reply_text("two", usage=USAGE_2))
    config = str(agent.config_with_model())
    base = ("run", "-y", "--config", config, "--session-id", "t1", "--output", "json")

    first = agent.run(*base, "first")
    second = agent.run(*base, "--display", "ndjson", "second")

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    usage = next(n["params"] for n in second.notifications() if n["method"] == "usage")
    total = expected_cost(ROOT_MODEL, USAGE_1) + expected_cost(ROOT_MODEL, USAGE_2)
    assert Decimal(usage["sessionCostTotal"]) == total


def test_audit_and_ledger_record_each_turn(agent: AgentCli) -> None:
    agent.fake.enqueue(reply_text("ok", usage=USAGE_2))
    config = str(agent.config_with_model())
    args = ("run", "-y", "--config", config, "--session-id", "audited", "--output", "json", "hi")
    env = agent.env(AMPLIFIER_ZETA="1", AMPLIFIER_ALPHA="2")

    result = agent.run(*args, env=env)

    assert result.returncode == 0, result.stderr
    envelope = result.envelope()
    audit = json.loads((agent.session_dir("audited") / "audits" / "turn-1.json").read_text())
    assert set(audit) == {
        "argvDigest",
        "envDigest",
        "protocolVersion",
        "exitCode",
        "correlationId",
        "startedAt",
        "endedAt",
    }
    argv = " ".join(agent.argv(args))
    assert audit["argvDigest"] == "sha256:" + hashlib.sha256(argv.encode()).hexdigest()
    names = sorted(name for name in env if name.startswith("AMPLIFIER_"))
    assert "AMPLIFIER_ALPHA" in names and "AMPLIFIER_AGENT_HOME" in names
    assert audit["envDigest"] == "sha256:" + hashlib.sha256("\n".join(names).encode()).hexdigest()
    assert audit["protocolVersion"] == "0.3.0"
    assert audit["exitCode"] == 0
    assert audit["correlationId"] == envelope["metadata"]["correlationId"]
    assert ISO_UTC.match(audit["startedAt"]) and ISO_UTC.match(audit["endedAt"])
    assert audit["startedAt"] <= audit["endedAt"]

    (line,) = agent.ledger()
    assert list(line) == [
        "ts",
        "face",
        "workspace",
        "sessionId",
        "turnId",
        "requestId",
        "status",
        "provider",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost_usd",
        "usage_estimated",
        "duration_ms",
    ]
    assert line["face"] == "cli"
    assert line["workspace"] == agent.session_dir("audited").parent.parent.name
    assert (line["sessionId"], line["turnId"], line["status"]) == ("audited", "turn-1", "completed")
    assert line["requestId"] == envelope["metadata"]["correlationId"]
    assert (line["provider"], line["model"]) == ("anthropic", ROOT_MODEL)
    assert line["prompt_tokens"] == envelope["metadata"]["tokensIn"] == 200
    assert (line["completion_tokens"], line["cache_read_tokens"]) == (30, 40)
    assert line["cache_write_tokens"] == 10
    assert Decimal(line["cost_usd"]) == expected_cost(ROOT_MODEL, USAGE_2)
    assert line["usage_estimated"] is False
    assert isinstance(line["duration_ms"], int)


def test_a_turn_without_session_writes_only_the_ledger(agent: AgentCli) -> None:
    agent.fake.enqueue(reply_text("ok"))

    result = agent.run("run", "-y", "--config", str(agent.config_with_model()), "hi")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    (line,) = agent.ledger()
    assert (line["sessionId"], line["turnId"], line["status"]) == ("", "turn-1", "completed")
    assert not list(agent.home.glob("state/workspaces/*/sessions/*"))


def test_resume_of_an_unknown_session_fails_before_any_model_call(agent: AgentCli) -> None:
    config = str(agent.config_with_model())

    result = agent.run(
        "run", "-y", "--config", config, "--resume", "--session-id", "nope", "--output", "json", "x"
    )

    assert result.returncode == 2
    assert result.stderr_lines[-1].startswith("[error] session_not_found: ")
    envelope = result.envelope()
    assert envelope["error"]["code"] == "session_not_found"
    assert envelope["error"]["classification"] == "protocol"
    assert agent.fake.model_requests() == []
    assert agent.session_dirs("nope") == []
    (line,) = agent.ledger()  # a turn that could not start is still recorded
    assert (line["sessionId"], line["status"], line["prompt_tokens"]) == ("nope", "failed", 0)


def test_resume_finds_a_session_in_another_workspace_and_fresh_restarts(agent: AgentCli) -> None:
    agent.fake.enqueue(reply_text("one"), reply_text("two"), reply_text("three"))
    config = str(agent.config_with_model())
    base = ("run", "-y", "--config", config, "--session-id", "roam")

    assert agent.run(*base, "--workspace", "alpha", "first").returncode == 0
    resumed = agent.run(*base, "--workspace", "beta", "--resume", "second")
    fresh = agent.run(*base, "--workspace", "alpha", "--fresh", "third")

    assert resumed.returncode == 0 and fresh.returncode == 0, resumed.stderr + fresh.stderr
    second_request, third_request = (r.body for r in agent.fake.model_requests()[1:])
    assert "first" in json.dumps(second_request["messages"])
    assert len(third_request["messages"]) == 1
    assert [line["content"] for line in agent.transcript("roam")] == ["third", "three"]


def test_an_orphaned_tool_call_is_repaired_before_the_provider_sees_it(agent: AgentCli) -> None:
    directory = agent.home / "state" / "workspaces" / "ws1" / "sessions" / "broken"
    make_private_dirs(agent.home, directory)
    lines = [
        {"ts": "2025-01-01T00:00:00Z", "role": "user", "content": "list the files"},
        {
            "ts": "2025-01-01T00:00:01Z",
            "role": "assistant",
            "content": "",
            "thinking": [],
            "tool_calls": [
                {"id": "orphan_1", "name": "bash", "arguments": {"command": "ls"}, "host": False}
            ],
        },
    ]
    (directory / "transcript.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    agent.fake.enqueue(reply_text("recovered"))

    result = agent.run(
        "run",
        "-y",
        "--config",
        str(agent.config_with_model()),
        "--workspace",
        "ws1",
        "--resume",
        "--session-id",
        "broken",
        "--output",
        "json",
        "carry on",
    )

    assert result.returncode == 0, result.stderr
    assert result.envelope()["reply"] == "recovered"
    body = agent.fake.model_requests()[0].body
    (tool_use,) = anthropic_blocks(body, "tool_use")
    (tool_result,) = anthropic_blocks(body, "tool_result")
    assert tool_use["id"] == tool_result["tool_use_id"] == "orphan_1"
    assert tool_result["is_error"] is True
    assert "tool_result_missing" in json.dumps(tool_result)
    assert "carry on" in json.dumps(body["messages"][-1])
    stored = agent.transcript("broken")
    assert stored[2]["role"] == "tool" and stored[2]["tool_call_id"] == "orphan_1"


def test_a_session_that_cannot_be_written_fails_cleanly_as_storage_error(agent: AgentCli) -> None:
    session_dir = agent.home / "state" / "workspaces" / "ws" / "sessions" / "doomed"
    # A real tool call replaces the session directory with a file, so every later write fails.
    vandalise = f"rm -rf '{session_dir}' && touch '{session_dir}' && echo replaced"
    agent.fake.enqueue(reply_tool_calls(("c1", "bash", {"command": vandalise})), reply_text("x"))
    config = str(agent.config_with_model())

    result = agent.run(
        "run",
        "-y",
        "--config",
        config,
        "--workspace",
        "ws",
        "--session-id",
        "doomed",
        "--output",
        "json",
        "--display",
        "ndjson",
        "go",
    )

    assert result.returncode == 1, result.stderr
    envelope = result.envelope()  # an envelope, not an uncaught exception
    assert envelope["error"]["code"] == "storage_error"
    assert envelope["error"]["message"].startswith("cannot ")
    assert str(session_dir) in envelope["error"]["message"]
    assert envelope["metadata"]["tokensIn"] == 10  # what was spent is still reported
    assert result.stderr_lines[-1] == f"[error] storage_error: {envelope['error']['message']}"
    events = result.notifications(strict=False)
    assert events[-1]["method"] == "error" and events[-1]["params"]["recoverable"] is False
    assert agent.ledger()[-1]["status"] == "failed"


def test_a_failed_turn_is_audited_and_recorded_as_failed(agent: AgentCli) -> None:
    agent.fake.enqueue(reply_text("", error={"status": 401, "message": "bad key"}))
    config = str(agent.config_with_model())

    result = agent.run("run", "-y", "--config", config, "--session-id", "f1", "hi")

    assert result.returncode == 1
    directory = agent.session_dir("f1")
    audit = json.loads((directory / "audits" / "turn-1.json").read_text())
    assert audit["exitCode"] == 1
    assert audit["correlationId"] == result.envelope()["metadata"]["correlationId"]
    metadata = json.loads((directory / "metadata.json").read_text())
    assert (metadata["last_turn"], metadata["turns"]) == ("failed", 1)
    assert [line["role"] for line in agent.transcript("f1")] == ["user"]
    assert agent.ledger()[-1]["status"] == "failed"


def test_an_unknown_price_is_omitted_never_zero(agent: AgentCli) -> None:
    agent.fake.enqueue(reply_text("priceless"))
    config = str(agent.config_with_model("house-model-7"))

    result = agent.run(
        "run",
        "-y",
        "--config",
        config,
        "--session-id",
        "p1",
        "--output",
        "json",
        "--display",
        "ndjson",
        "hi",
    )

    assert result.returncode == 0, result.stderr
    assert "costUsd" not in result.envelope()["metadata"]
    usage = next(n["params"] for n in result.notifications() if n["method"] == "usage")
    assert "cost" not in usage and "sessionCostTotal" not in usage
    assert agent.ledger()[-1]["cost_usd"] is None
    metadata = json.loads((agent.session_dir("p1") / "metadata.json").read_text())
    assert metadata["costUsdTotal"] is None
