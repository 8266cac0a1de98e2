"""Context compaction in a real `run` (§6.6): a long resumed session and a small context window."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from testkit import reply_text
from tests.e2e.conftest import AgentCli, anthropic_blocks, make_private_dirs

WINDOW = 9000
EXCHANGES = 12


def write_long_session(agent: AgentCli, session_id: str) -> None:
    """Twelve exchanges of about 600 tokens, each with one bash call and its result."""
    directory = agent.home / "state" / "workspaces" / "ws" / "sessions" / session_id
    make_private_dirs(agent.home, directory)
    lines: list[dict[str, Any]] = []
    for i in range(EXCHANGES):
        ts = f"2025-01-01T00:00:{i:02d}Z"
        call = {"id": f"t{i}", "name": "bash", "arguments": {"command": f"cat f{i}"}, "host": False}
        lines += [
            {"ts": ts, "role": "user", "content": f"question {i}: " + "q" * 1000},
            {"ts": ts, "role": "assistant", "content": "", "thinking": [], "tool_calls": [call]},
            {
                "ts": ts,
                "role": "tool",
                "tool_call_id": f"t{i}",
                "name": "bash",
                "content": f"output {i}: " + "o" * 1000,
                "is_error": False,
                "internal": True,
            },
            {
                "ts": ts,
                "role": "assistant",
                "content": f"answer {i}: " + "a" * 400,
                "thinking": [],
                "tool_calls": [],
            },
        ]
    (directory / "transcript.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def run_compacting(agent: AgentCli) -> Any:
    write_long_session(agent, "long")
    config = agent.config_with_model(provider_config={"context_window": WINDOW})
    return agent.run(
        "run",
        "-y",
        "--config",
        str(config),
        "--workspace",
        "ws",
        "--session-id",
        "long",
        "--output",
        "json",
        "--display",
        "ndjson",
        "what next?",
    )


def assert_pairs_intact(messages: list[dict[str, Any]]) -> None:
    """Every tool_use is answered in the very next message, and every tool_result answers one."""
    for index, message in enumerate(messages):
        content = message["content"] if isinstance(message["content"], list) else []
        uses = [b["id"] for b in content if b.get("type") == "tool_use"]
        if uses:
            following = messages[index + 1]["content"]
            answered = [b["tool_use_id"] for b in following if b.get("type") == "tool_result"]
            assert sorted(answered) == sorted(uses)
        results = [b["tool_use_id"] for b in content if b.get("type") == "tool_result"]
        if results:
            previous = messages[index - 1]["content"]
            assert index > 0 and isinstance(previous, list)
            assert set(results) <= {b["id"] for b in previous if b.get("type") == "tool_use"}


def first_text(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return next(b["text"] for b in content if b.get("type") == "text")


def body_tokens(body: dict[str, Any]) -> int:
    """ceil(bytes / 4) of everything the request carried: system, messages and tools."""
    size = len(json.dumps(body["system"])) + len(json.dumps(body["messages"]))
    return math.ceil((size + len(json.dumps(body.get("tools", [])))) / 4)


def test_long_history_is_summarised_with_pairs_intact(agent: AgentCli) -> None:
    agent.fake.enqueue(reply_text("SUMMARY-OF-EARLIER-WORK"), reply_text("next: ship it"))

    result = run_compacting(agent)

    assert result.returncode == 0, result.stderr
    assert result.envelope()["reply"] == "next: ship it"
    summary_call, main_call = (r.body for r in agent.fake.model_requests())
    assert summary_call["max_tokens"] == 2048
    assert "question 0" in json.dumps(summary_call["messages"])
    assert "tools" not in summary_call or not summary_call["tools"]

    messages = main_call["messages"]
    assert "question 0" not in json.dumps(messages)
    assert messages[0]["role"] == "user"
    assert first_text(messages[0]).startswith(
        "<conversation_summary>SUMMARY-OF-EARLIER-WORK</conversation_summary>\n\nquestion "
    )
    assert "what next?" in json.dumps(messages[-1])
    assert_pairs_intact(messages)
    assert anthropic_blocks(main_call, "tool_use"), "the newest exchanges keep their tool calls"
    assert body_tokens(main_call) < WINDOW

    progress = [n["params"]["message"] for n in result.notifications() if n["method"] == "progress"]
    assert len(progress) == 1
    assert progress[0].startswith("compacted context: ")
    assert " messages (" in progress[0] and " -> " in progress[0]
    usage_models = [n for n in result.notifications() if n["method"] == "usage"]
    assert len(usage_models) == 2  # the summary call counts in the turn

    stored = agent.transcript("long")
    assert stored[0]["content"].startswith("<conversation_summary>SUMMARY-OF-EARLIER-WORK")
    assert stored[-1]["content"] == "next: ship it"


def test_failed_summary_falls_back_to_dropping_the_oldest(agent: AgentCli) -> None:
    bad_request = {"status": 400, "message": "summary refused"}
    agent.fake.enqueue(reply_text("", error=bad_request), reply_text("carried on"))

    result = run_compacting(agent)

    assert result.returncode == 0, result.stderr
    assert result.envelope()["reply"] == "carried on"
    main_call = agent.fake.model_requests()[1].body
    messages = main_call["messages"]
    first = first_text(messages[0])
    assert (
        first.startswith("[")
        and "earlier messages were removed to fit the context window]\n\n" in first
    )
    assert "question 0" not in json.dumps(messages)
    assert_pairs_intact(messages)
    assert body_tokens(main_call) < WINDOW
    (progress,) = [n for n in result.notifications(strict=False) if n["method"] == "progress"]
    dropped = int(first.split("[", 1)[1].split(" ", 1)[0])
    assert dropped > 0 and dropped % 4 == 0  # whole exchanges of this transcript
    assert progress["params"]["message"].startswith(f"compacted context: {dropped} messages (")


def test_an_overflowing_newest_message_fails_the_turn(agent: AgentCli, tmp_path: Path) -> None:
    config = agent.config_with_model(provider_config={"context_window": 2500})

    result = agent.run("run", "-y", "--config", str(config), "--output", "json", "z" * 12_000)

    assert result.returncode == 1
    envelope = result.envelope()
    assert envelope["error"]["code"] == "runtime"
    assert "context window" in envelope["error"]["message"]
    assert agent.fake.model_requests() == []
