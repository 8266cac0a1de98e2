"""`--display ndjson` and `--display text` on a tool turn (§7.2 verbosity, §10.4)."""

from __future__ import annotations

import json
from typing import Any

from testkit import Block, Reply, reply_text
from tests.e2e.conftest import EVENT_TYPES, AgentCli
from tests.wire.schemas import notification_problems


def script_tool_turn(agent: AgentCli) -> None:
    first = Reply(
        blocks=[
            Block(type="thinking", text="I should look first.", signature="sig-1"),
            Block(type="tool_call", id="call_ls", name="bash", arguments={"command": "echo hi"}),
            Block(
                type="tool_call",
                id="call_bad",
                name="edit_file",
                arguments={"path": "missing.txt", "old_string": "a", "new_string": "b"},
            ),
        ],
        usage={"input": 50, "output": 10, "cache_read": 0, "cache_write": 0},
    )
    final = Reply(
        blocks=[Block(type="text", chunks=["Done: ", "said hi."])],
        usage={"input": 70, "output": 6, "cache_read": 20, "cache_write": 0},
    )
    agent.fake.enqueue(first, final)


def run_tool_turn(agent: AgentCli, *extra: str) -> Any:
    script_tool_turn(agent)
    config = agent.config_with_model()
    return agent.run("run", "-y", "--config", str(config), "--session-id", "d1", *extra, "show me")


def test_ndjson_events_of_a_tool_turn_in_protocol_order(agent: AgentCli) -> None:
    result = run_tool_turn(agent, "--output", "json", "--display", "NDJSON")

    assert result.returncode == 0, result.stderr
    notifications = result.notifications()  # strict: every stderr line is one JSON object
    assert all(n["jsonrpc"] == "2.0" and "id" not in n for n in notifications)
    assert {n["method"] for n in notifications} <= EVENT_TYPES
    assert [problem for n in notifications for problem in notification_problems(n)] == []
    assert result.methods() == [
        "thinking/delta",
        "thinking/final",
        "usage",
        "tool/started",
        "tool/completed",
        "tool/started",
        "error",
        "tool/completed",
        "result/delta",
        "result/delta",
        "usage",
        "result/final",
    ]
    for n in notifications:
        assert n["params"]["sessionId"] == "d1"
        assert n["params"]["turnId"] == "turn-1"
    by_method = _by_method(notifications)
    assert by_method["thinking/final"][0]["text"] == "I should look first."
    started = by_method["tool/started"][0]
    assert (started["toolCallId"], started["name"], started["args"]) == (
        "call_ls",
        "bash",
        {"command": "echo hi"},
    )
    assert "agentName" not in started
    completed, failed = by_method["tool/completed"]
    assert completed["result"].startswith("hi\n")
    assert isinstance(completed["durationMs"], int)
    assert failed["result"].startswith("Error: ")
    (error,) = by_method["error"]
    assert (error["code"], error["recoverable"]) == ("tool_execution_failed", True)
    first_usage, second_usage = by_method["usage"]
    assert (first_usage["inputTokens"], first_usage["outputTokens"]) == (50, 10)
    assert second_usage["cacheReadTokens"] == 20
    assert {"model", "provider", "llmDurationMs", "cost", "sessionCostTotal"} <= set(second_usage)
    final = by_method["result/final"][0]
    assert final["text"] == "Done: said hi."
    assert final["usage"]["inputTokens"] == 120 and final["usage"]["outputTokens"] == 16
    assert final["usage"]["cacheReadTokens"] == 20

    replayed = agent.fake.model_requests()[1].body["messages"][1]["content"]
    assert replayed[0] == {
        "type": "thinking",
        "thinking": "I should look first.",
        "signature": "sig-1",
    }

    envelope = result.envelope()  # exactly one stdout line
    assert envelope["reply"] == "Done: said hi."
    assert final["usage"]["cost"] == envelope["metadata"]["costUsd"]
    assert second_usage["sessionCostTotal"] == envelope["metadata"]["costUsd"]


def test_output_text_with_ndjson_display_prints_the_reply(agent: AgentCli) -> None:
    result = run_tool_turn(agent, "--display", "ndjson")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "Done: said hi.\n"
    assert result.methods()[-1] == "result/final"


def test_text_display_at_normal_verbosity_hides_deltas(agent: AgentCli) -> None:
    result = run_tool_turn(agent)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "Done: said hi.\n"
    tags = [line.split("]", 1)[0] + "]" for line in result.stderr_lines if line.startswith("[")]
    assert "[tool/started]" in tags and "[usage]" in tags and "[result/final]" in tags
    assert not {"[result/delta]", "[thinking/delta]", "[thinking/final]"} & set(tags)
    usage_line = next(line for line in result.stderr_lines if line.startswith("[usage]"))
    assert usage_line.startswith("[usage] in=50 out=10 cost=$")
    assert " cache_read=0 cache_write=0 dur=" in usage_line
    assert " model=claude-sonnet-4-5-20250929 provider=anthropic session_total=$" in usage_line


def test_quiet_prints_nothing_and_debug_adds_json(agent: AgentCli) -> None:
    quiet = run_tool_turn(agent, "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    debug = run_tool_turn(agent, "--debug")
    assert debug.returncode == 0, debug.stderr
    delta = next(line for line in debug.stderr_lines if line.startswith("[result/delta] "))
    params = json.loads(delta[delta.index("{") :])
    assert params["text"] == "Done: " and params["sessionId"] == "d1"
    assert list(params) == sorted(params)


def test_a_failed_turn_ends_with_one_unrecoverable_error_event(agent: AgentCli) -> None:
    agent.fake.enqueue(reply_text("", error={"status": 401, "message": "bad key"}))
    config = agent.config_with_model()

    result = agent.run(
        "run", "-y", "--config", str(config), "--output", "json", "--display", "ndjson", "x"
    )

    assert result.returncode == 1
    notifications = result.notifications(strict=False)
    assert [problem for n in notifications for problem in notification_problems(n)] == []
    assert notifications[-1]["method"] == "error"
    assert notifications[-1]["params"]["recoverable"] is False
    assert "result/final" not in [n["method"] for n in notifications]
    assert result.stderr_lines[-1].startswith("[error] runtime: upstream_auth_error")


def _by_method(notifications: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for n in notifications:
        grouped.setdefault(n["method"], []).append(n["params"])
    return grouped
