"""Codex CLI (npm `@openai/codex`, pinned) as a real client of the Responses face.

Codex, our server and the fake Anthropic upstream run together in a private network namespace,
started by tests/e2e/node/codex_driver.py: the fake model asks for Codex's own shell tool,
Codex runs it and posts the result, our engine finishes the turn, and Codex prints the answer.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from testkit import reply_text, reply_tool_calls
from tests.e2e.node import npm
from tests.e2e.test_http_opencode import run_driver

MODEL = "claude-sonnet-4-5-20250929"
SECRET = "the secret word is pelican"
CALL_ID = "toolu_exec_01"
READ_USAGE = {"input": 1500, "output": 40, "cache_read": 300}
FINAL_USAGE = {"input": 1700, "output": 12}
FINAL_TEXT = "The secret word is pelican."
ACCESS_LINE = re.compile(r"(GET|POST) (/v1/\S+) (\d{3}) ")


@pytest.fixture(scope="module")
def codex_binary() -> str:
    binary = npm.ensure_installed() / ".bin" / "codex"
    assert binary.exists(), f"npm ci did not install {binary}"
    return str(binary)


@pytest.fixture(scope="module")
def codex_turn(codex_binary: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("codex")
    workdir = root / "project"
    workdir.mkdir()
    (workdir / "note.txt").write_text(SECRET + "\n", "utf-8")
    replies = [
        reply_tool_calls((CALL_ID, "exec_command", {"cmd": "cat note.txt"}), usage=READ_USAGE),
        reply_text(FINAL_TEXT, usage=FINAL_USAGE),
    ]
    spec = {
        "codex": codex_binary,
        "workdir": str(workdir),
        "home": str(root / "home"),
        "model": MODEL,
        "prompt": "What does note.txt say?",
        "replies": [reply.to_json() for reply in replies],
        "timeout_s": 120,
    }
    return run_driver(Path(root), spec, module="tests.e2e.node.codex_driver")


def _items(summary: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        e["item"]
        for e in summary["codex"]["events"]
        if e.get("type") == "item.completed" and e["item"].get("type") == kind
    ]


def test_codex_runs_its_shell_tool_for_our_model_and_prints_our_answer(
    codex_turn: dict[str, Any],
) -> None:
    codex = codex_turn["codex"]
    assert codex_turn["codex_version"] == f"codex-cli {npm.pinned_version('@openai/codex')}"
    assert codex["returncode"] == 0 and not codex["timed_out"], json.dumps(codex)[-3000:]
    commands = _items(codex_turn, "command_execution")
    assert len(commands) == 1, commands
    assert "cat note.txt" in commands[0]["command"]
    assert commands[0]["exit_code"] == 0 and SECRET in commands[0]["aggregated_output"]
    assert [m["text"] for m in _items(codex_turn, "agent_message")] == [FINAL_TEXT]
    usage = next(e["usage"] for e in codex["events"] if e.get("type") == "turn.completed")
    assert usage["input_tokens"] == 1800 + 1700 and usage["output_tokens"] == 52
    assert usage["cached_input_tokens"] == 300


def test_codex_talks_only_to_our_responses_face(codex_turn: dict[str, Any]) -> None:
    assert codex_turn["interfaces"] == ["lo"]
    hits = ACCESS_LINE.findall(codex_turn["server_stderr"])
    posts = [(path, status) for method, path, status in hits if method == "POST"]
    assert posts == [("/v1/responses", "200")] * 2, codex_turn["server_stderr"]


def test_codex_tools_reach_the_model_and_the_result_comes_back(
    codex_turn: dict[str, Any],
) -> None:
    calls = [r for r in codex_turn["upstream_requests"] if r["path"] == "/v1/messages"]
    assert len(calls) == 2
    offered = {tool["name"] for tool in calls[0]["body"]["tools"]}
    assert "exec_command" in offered  # a Codex function tool, served as a host tool
    results = [
        block
        for message in calls[1]["body"]["messages"]
        for block in (message["content"] if isinstance(message["content"], list) else [])
        if block.get("type") == "tool_result"
    ]
    assert [r["tool_use_id"] for r in results] == [CALL_ID]
    assert SECRET in json.dumps(results[0]["content"])


def test_the_turns_usage_and_cost_reach_our_ledger(codex_turn: dict[str, Any]) -> None:
    thread_id = next(
        e["thread_id"] for e in codex_turn["codex"]["events"] if e["type"] == "thread.started"
    )
    ledger = codex_turn["ledger"]
    assert [line["status"] for line in ledger] == ["completed", "completed"]
    # Codex's `client_metadata.session_id` (its thread id) correlates both requests.
    assert {line["sessionId"] for line in ledger} == {f"http-{thread_id}"}
    assert [line["completion_tokens"] for line in ledger] == [40, 12]
    assert all(Decimal(line["cost_usd"]) > 0 for line in ledger)
