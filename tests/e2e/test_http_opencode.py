"""opencode (npm `opencode-ai`, pinned) as a real client of the HTTP face.

opencode, our server and the fake Anthropic upstream run together in a private network namespace
(`unshare --net`, only `lo` up), started by tests/e2e/node/opencode_driver.py, which prints a JSON
summary: opencode's `--format json` events, what the fake received, and our session store.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testkit import Reply, reply_text, reply_tool_calls
from tests.e2e.node import npm

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = "claude-sonnet-4-5-20250929"
OPENCODE_TIMEOUT_S = 120.0
#: The driver adds our server's and the fake's start and stop to opencode's own bound.
DRIVER_TIMEOUT_S = OPENCODE_TIMEOUT_S + 60.0
#: opencode retries a mid-stream failure for about a minute; a 4xx must end it well before.
FAIL_FAST_S = 45.0
SECRET = "the secret word is pelican"
READ_CALL_ID = "toolu_read_01"
TITLE_USAGE = {"input": 90, "output": 6}
READ_USAGE = {"input": 1500, "output": 40, "cache_read": 300}
FINAL_USAGE = {"input": 1700, "output": 12}
FINAL_TEXT = "The secret word is pelican."
ACCESS_LINE = re.compile(r"POST /v1/chat/completions (\d{3}) ")
SCRUBBED_ENV = ("AMPLIFIER_", "ANTHROPIC_", "OPENAI_", "AZURE_", "OLLAMA_", "CHAT_COMPLETIONS_")


@pytest.fixture(scope="module")
def opencode_binary() -> str:
    """The pinned opencode, installed by `npm ci` once per test session."""
    binary = npm.ensure_installed() / ".bin" / "opencode"
    assert binary.exists(), f"npm ci did not install {binary}"
    return str(binary)


def run_driver(
    root: Path, spec: dict[str, Any], module: str = "tests.e2e.node.opencode_driver"
) -> dict[str, Any]:
    """Run a driver module in fresh network and pid namespaces; a hang kills the whole
    namespace."""
    spec_path = root / "driver-spec.json"
    spec_path.write_text(json.dumps(spec), "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_ENV)}
    env["HOME"] = spec["home"]
    argv = ["unshare", "--net", "--pid", "--fork", "--kill-child"]
    argv += [sys.executable, "-m", module, str(spec_path)]
    process = subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=DRIVER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{module} still running after {DRIVER_TIMEOUT_S:g} s:\n{stderr}")
    assert process.returncode == 0, f"driver failed ({process.returncode}):\n{stderr}"
    summary = json.loads(stdout.splitlines()[-1])
    assert isinstance(summary, dict)
    return summary


def driver_spec(
    binary: str, root: Path, model: str, prompt: str, replies: list[Reply]
) -> dict[str, Any]:
    workdir = root / "project"
    workdir.mkdir(exist_ok=True)
    return {
        "opencode": binary,
        "workdir": str(workdir),
        "home": str(root / "home"),
        "model": model,
        "prompt": prompt,
        "replies": [reply.to_json() for reply in replies],
        "timeout_s": OPENCODE_TIMEOUT_S,
        "loopback_up": True,
    }


@dataclass(frozen=True)
class Turn:
    """One finished opencode run and where its file lived."""

    summary: dict[str, Any]
    notes: Path

    @property
    def opencode(self) -> dict[str, Any]:
        result = self.summary["opencode"]
        assert isinstance(result, dict)
        return result

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.opencode["events"] if e.get("type") == kind]

    def model_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.summary["upstream_requests"] if r["path"] == "/v1/messages"]

    def describe(self) -> str:
        return json.dumps({k: v for k, v in self.summary.items() if k != "upstream_requests"})


@pytest.fixture(scope="module")
def read_turn(opencode_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Turn]:
    """opencode asks for a title, then our fake model calls opencode's `read` on a project file,
    opencode runs it and re-posts the result, and the model answers."""
    root = tmp_path_factory.mktemp("opencode-read")
    spec = driver_spec(opencode_binary, root, MODEL, "What is the secret word in notes.txt?", [])
    notes = Path(spec["workdir"]) / "notes.txt"
    notes.write_text(SECRET + "\n", "utf-8")
    replies = [
        reply_text("Secret word lookup", usage=TITLE_USAGE),
        reply_tool_calls((READ_CALL_ID, "read", {"filePath": str(notes)}), usage=READ_USAGE),
        reply_text(FINAL_TEXT, usage=FINAL_USAGE),
    ]
    spec["replies"] = [reply.to_json() for reply in replies]
    yield Turn(run_driver(root, spec), notes)


def test_opencode_is_the_pinned_version_and_runs_offline(read_turn: Turn) -> None:
    assert read_turn.summary["opencode_version"] == npm.pinned_version("opencode-ai")
    assert read_turn.summary["interfaces"] == ["lo"]
    result = read_turn.opencode
    assert (result["returncode"], result["timed_out"]) == (0, False), read_turn.describe()


def test_opencode_really_runs_read_and_finishes_the_turn(read_turn: Turn) -> None:
    tools = [e["part"] for e in read_turn.events("tool_use")]
    assert [(t["tool"], t["callID"], t["state"]["status"]) for t in tools] == [
        ("read", READ_CALL_ID, "completed")
    ], read_turn.describe()
    assert tools[0]["state"]["input"] == {"filePath": str(read_turn.notes)}
    assert SECRET in tools[0]["state"]["output"]
    texts = [e["part"]["text"] for e in read_turn.events("text")]
    assert "".join(texts) == FINAL_TEXT
    finishes = [e["part"]["reason"] for e in read_turn.events("step_finish")]
    assert finishes == ["tool-calls", "stop"]


def test_step_finish_tokens_equal_our_usage(read_turn: Turn) -> None:
    tokens = [e["part"]["tokens"] for e in read_turn.events("step_finish")]
    # opencode counts input without the cached part and reports the cached reads separately.
    seen = [(t["input"], t["output"], t["cache"]["read"], t["total"]) for t in tokens]
    assert seen == [(1500, 40, 300, 1840), (1700, 12, 0, 1712)]


def _tool(body: dict[str, Any], name: str) -> dict[str, Any]:
    found = [t for t in body.get("tools", []) if t["name"] == name]
    assert len(found) == 1, [t["name"] for t in body.get("tools", [])]
    return found[0]


def test_opencode_tools_reach_the_model_and_the_result_comes_back(read_turn: Turn) -> None:
    title, turn, continuation = (r["body"] for r in read_turn.model_requests())
    assert not {"read", "todowrite"} & {t["name"] for t in title.get("tools", [])}
    read_schema = _tool(turn, "read")["input_schema"]
    # The scripted call uses the argument names of the schema opencode declared.
    assert read_schema["required"] == ["filePath"]
    assert {"filePath", "offset", "limit"} <= set(read_schema["properties"])
    names = [t["name"] for t in turn["tools"]]
    assert len(names) == len(set(names))
    results = [
        block
        for message in continuation["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    assert [r["tool_use_id"] for r in results] == [READ_CALL_ID]
    assert SECRET in json.dumps(results[0]["content"])


def test_opencode_session_id_reaches_our_session_store(read_turn: Turn) -> None:
    session_ids = {e["sessionID"] for e in read_turn.opencode["events"]}
    assert len(session_ids) == 1
    sessions = read_turn.summary["sessions"]
    assert [s["name"] for s in sessions] == [f"http-{session_ids.pop()}"]
    transcript = sessions[0]["transcript"]
    host_calls = [
        (c["id"], c["name"])
        for m in transcript
        if m["role"] == "assistant"
        for c in m["tool_calls"]
        if c["host"]
    ]
    assert host_calls == [(READ_CALL_ID, "read")]
    results = [m for m in transcript if m["role"] == "tool"]
    assert [r["tool_call_id"] for r in results] == [READ_CALL_ID]
    assert SECRET in results[0]["content"] and not results[0]["internal"]
    assert transcript[-1]["role"] == "assistant" and transcript[-1]["content"] == FINAL_TEXT
    # The title request, the tool-call leg and the continuation share opencode's session id.
    assert sessions[0]["metadata"]["turns"] == 3
    assert sessions[0]["metadata"]["last_turn"] == "complete"


def test_continuation_sends_the_read_call_once(read_turn: Turn) -> None:
    continuation = read_turn.model_requests()[-1]["body"]
    tool_uses = [
        block["id"]
        for message in continuation["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_use"
    ]
    assert tool_uses == [READ_CALL_ID]


def test_unknown_model_makes_opencode_fail_fast(opencode_binary: str, tmp_path: Path) -> None:
    spec = driver_spec(opencode_binary, tmp_path, "no-such-model", "hello", [])
    summary = run_driver(tmp_path, spec)
    result = summary["opencode"]
    assert result["returncode"] != 0 and not result["timed_out"], result
    assert result["duration_s"] < FAIL_FAST_S
    errors = [e["error"]["data"] for e in result["events"] if e.get("type") == "error"]
    assert errors and errors[-1]["statusCode"] == 400
    assert json.loads(errors[-1]["responseBody"])["error"]["code"] == "unknown_model"
    statuses = ACCESS_LINE.findall(summary["server_stderr"])
    # No retries: at most the title request and the turn, each refused once.
    assert statuses and set(statuses) == {"400"} and len(statuses) <= 2, statuses
    assert not [r for r in summary["upstream_requests"] if r["method"] == "POST"]


def test_turn_survives_a_slow_concurrent_title_request(
    opencode_binary: str, tmp_path: Path
) -> None:
    # opencode sends the title request and the agent turn at once, with the same session id:
    # the turn must still complete while the title is being generated.
    slow_title = reply_text("Slow title", usage=TITLE_USAGE, delay_s=0.3)
    spec = driver_spec(
        opencode_binary,
        tmp_path,
        MODEL,
        "Say hi.",
        [slow_title, reply_text("Quick answer.", usage={"input": 20, "output": 3})],
    )
    summary = run_driver(tmp_path, spec)
    result = summary["opencode"]
    assert (result["returncode"], result["timed_out"]) == (0, False), summary["server_stderr"]
    texts = [e["part"]["text"] for e in result["events"] if e.get("type") == "text"]
    assert texts == ["Quick answer."]
    tokens = [e["part"]["tokens"] for e in result["events"] if e.get("type") == "step_finish"]
    assert [(t["input"], t["output"]) for t in tokens] == [(20, 3)]
