"""`EngineService` in-process against the fake Anthropic upstream: host-tool merging, the
per-session lock, per-provider config, cancellation and repair before the model call (SPEC §8.8,
§8.9, §3)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent.config.paths import layout
from amplifier_agent.core.events import DisplayEvent, ResultDelta
from amplifier_agent.core.messages import AssistantMessage, ToolCall, ToolSpec, UserMessage
from amplifier_agent.engine import (
    EngineService,
    SessionBusy,
    TurnControl,
    TurnRequest,
    load_host_config,
    load_providers,
)
from testkit import Block, FakeUpstream, Reply, reply_text

MODEL = "claude-sonnet-4-5-20250929"
WORKSPACE = "engine-tests"


@pytest.fixture
async def engine(
    tmp_path: Path, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EngineService]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    document = {
        "providers": {
            "main": {
                "module": "anthropic",
                "config": {"base_url": fake_upstream.url, "max_tokens": 777},
            }
        },
        "host_tools": [
            {"type": "function", "function": {"name": "open_browser"}},
            {"type": "function", "function": {"name": "shell", "description": "from config"}},
        ],
    }
    path = tmp_path / "host_config.json"
    path.write_text(json.dumps(document))
    _, config = load_host_config(str(path))
    loaded, problems = await load_providers(config)
    assert loaded is not None, problems
    server = EngineService(config, loaded, WORKSPACE, tmp_path)
    yield server
    await server.aclose()


def turn(prompt: str, session: str | None = None, **fields: Any) -> TurnRequest:
    return TurnRequest(
        model=MODEL,
        request_id=f"req-{prompt}",
        history=fields.pop("history", ()),
        prompt=UserMessage(prompt),
        session_id=session,
        **fields,
    )


def transcript(session: str) -> list[dict[str, Any]]:
    path = layout().sessions_dir(WORKSPACE) / f"http-{session}" / "transcript.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def ledger() -> list[dict[str, Any]]:
    return [json.loads(line) for line in layout().usage_ledger.read_text().splitlines()]


async def test_host_tools_merge_config_and_request_with_the_request_winning(
    engine: EngineService, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.enqueue(reply_text("ok"))
    shell = ToolSpec("shell", "from request", {"type": "object", "properties": {"cmd": {}}})
    report = await engine.chat_turn(turn("hi", host_tools=(shell,)), lambda _: None)
    assert report.error is None and report.reply == "ok"
    sent = fake_upstream.model_requests()[0].body
    tools = {t["name"]: t for t in sent["tools"]}
    assert tools["open_browser"]["input_schema"] == {"type": "object", "properties": {}}
    assert "description" not in tools["open_browser"]
    assert tools["shell"]["description"] == "from request"
    assert tools["shell"]["input_schema"] == shell.parameters
    assert "bash" in tools  # built-ins stay offered next to host tools
    assert sent["max_tokens"] == 777  # the entry's config reaches its turns


async def test_a_busy_session_refuses_a_second_turn_and_is_free_afterwards(
    engine: EngineService, fake_upstream: FakeUpstream
) -> None:
    words = [f"w{i} " for i in range(4)]
    fake_upstream.enqueue(
        Reply(blocks=[Block(type="text", text="".join(words), chunks=words)], delay_s=0.05),
        reply_text("other session"),
        reply_text("second"),
    )
    started = asyncio.Event()

    def emit(event: DisplayEvent) -> None:
        if isinstance(event, ResultDelta):
            started.set()

    first = asyncio.create_task(engine.chat_turn(turn("one", "s1"), emit))
    await asyncio.wait_for(started.wait(), 5)
    with pytest.raises(SessionBusy):
        await engine.chat_turn(turn("loser", "s1"), lambda _: None)
    other = await engine.chat_turn(turn("elsewhere", "s2"), lambda _: None)
    assert other.reply == "other session"
    assert (await first).reply == "".join(words)
    history = (UserMessage("one"), AssistantMessage("".join(words)))
    again = await engine.chat_turn(turn("two", "s1", history=history), lambda _: None)
    assert again.reply == "second"
    prompts = [m["content"] for m in transcript("s1") if m["role"] == "user"]
    assert prompts == ["one", "two"]
    assert "req-loser" not in {line["requestId"] for line in ledger()}


async def test_a_cancelled_turn_is_persisted_with_the_face_status_and_frees_the_session(
    engine: EngineService, fake_upstream: FakeUpstream
) -> None:
    words = [f"w{i} " for i in range(40)]
    fake_upstream.enqueue(
        Reply(blocks=[Block(type="text", text="".join(words), chunks=words)], delay_s=0.05),
        reply_text("after"),
    )
    deltas: list[str] = []
    control = TurnControl()
    task = asyncio.create_task(
        engine.chat_turn(
            turn("go", "c1"),
            lambda e: deltas.append(e.text) if isinstance(e, ResultDelta) else None,
            control,
        )
    )
    while len(deltas) < 2:
        await asyncio.sleep(0.01)
    control.cancel_status = "client_disconnected"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = transcript("c1")
    assert stored[-1]["interrupted"] is True and stored[-1]["content"].startswith("w0 w1 ")
    assert ledger()[-1]["status"] == "client_disconnected"
    follow_up = await engine.chat_turn(turn("next", "c1"), lambda _: None)
    assert follow_up.reply == "after"


async def test_an_unanswered_host_call_in_the_history_is_repaired_before_the_model_call(
    engine: EngineService, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.enqueue(reply_text("fine"))
    call = ToolCall("toolu_x", "open_browser", {"url": "https://x"}, host=True)
    history = (UserMessage("open"), AssistantMessage("", tool_calls=(call,)))
    report = await engine.chat_turn(turn("never mind", "r1", history=history), lambda _: None)
    assert report.error is None
    sent = fake_upstream.model_requests()[0].body["messages"]
    results = [
        block
        for message in sent
        for block in (message["content"] if isinstance(message["content"], list) else [])
        if block.get("type") == "tool_result"
    ]
    assert [r["tool_use_id"] for r in results] == ["toolu_x"] and results[0]["is_error"]
    stored = [m["role"] for m in transcript("r1")]
    assert stored == ["user", "assistant", "tool", "user", "assistant"]
