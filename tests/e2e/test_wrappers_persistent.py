"""Both host SDKs' persistent lifecycle on the real engine and the loopback fake upstream: the
same scripted turn yields the same events and outcome as a one-shot turn, and later turns run on
the same `serve stdio` process and continue the session."""

from __future__ import annotations

import json
from typing import Any

from amplifier_agent_py import PersistentAgentHandle, spawn_agent
from testkit import Block, Reply
from tests.e2e.conftest import AgentCli
from tests.e2e.test_wrappers_real_engine import (
    USAGE,
    camel,
    needs_node,
    run_node,
    spawn_options,
)

PROMPTS = ["First question.", "Second question."]
REPLIES = ["The first answer.", "The second answer."]
#: Minted or measured anew on every run.
_VOLATILE = {"correlationId", "durationMs", "llmDurationMs"}


def script_replies(agent: AgentCli) -> None:
    for text in REPLIES:
        chunks = [text[:8], text[8:]]
        agent.fake.enqueue(
            Reply(blocks=[Block(type="text", text=text, chunks=chunks)], usage=USAGE)
        )


def canonical(events: list[dict[str, Any]], session_id: str) -> list[Any]:
    """Events under TypeScript names without `activity`, volatile fields or the session id."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in _VOLATILE}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return "<session>" if value == session_id else value

    return [clean(camel(e)) for e in events if e["type"] != "activity"]


async def one_shot_turn(agent: AgentCli, session_id: str, prompt: str) -> list[dict[str, Any]]:
    handle = await spawn_agent(**spawn_options(agent, session_id))
    return [event async for event in handle.submit(prompt)]


async def test_persistent_turns_match_one_shot_turns_on_the_real_engine(engine: AgentCli) -> None:
    script_replies(engine)
    one_shot = await one_shot_turn(engine, "py-once", PROMPTS[0])
    engine.fake.reset()
    script_replies(engine)

    handle = await spawn_agent(**spawn_options(engine, "py-kept"), lifecycle="persistent")
    assert isinstance(handle, PersistentAgentHandle)
    turns, pids = [], []
    async with handle:
        for prompt in PROMPTS:
            turns.append([event async for event in handle.submit(prompt)])
            pids.append(handle.engine_pid)

    assert canonical(turns[0], "py-kept") == canonical(one_shot, "py-once")
    assert turns[1][-1]["type"] == "result" and turns[1][-1]["text"] == REPLIES[1]
    assert pids[0] is not None and pids == [pids[0]] * len(PROMPTS)
    second_request = engine.fake.model_requests()[-1].body["messages"]
    assert REPLIES[0] in str(second_request), "the second turn did not continue the session"
    roles = [m["role"] for m in engine.transcript("py-kept")]
    assert roles == ["user", "assistant", "user", "assistant"]


@needs_node
async def test_typescript_persistent_turns_match_python_on_the_real_engine(
    engine: AgentCli,
) -> None:
    script_replies(engine)
    one_shot = await one_shot_turn(engine, "py-once", PROMPTS[0])
    engine.fake.reset()
    script_replies(engine)
    env = {
        "WRAPPER_SESSION_ID": "ts-kept",
        "WRAPPER_CWD": str(engine.cwd),
        "WRAPPER_CONFIG": str(engine.config_with_model()),
        "WRAPPER_PROMPTS": json.dumps(PROMPTS),
    }

    output = run_node("persistent_turns.mjs", engine, **env)

    turns, pids = output["turns"], output["pids"]
    assert canonical(turns[0], "ts-kept") == canonical(one_shot, "py-once")
    assert turns[1][-1]["text"] == REPLIES[1]
    assert isinstance(pids[0], int) and pids == [pids[0]] * len(PROMPTS)
    roles = [m["role"] for m in engine.transcript("ts-kept")]
    assert roles == ["user", "assistant", "user", "assistant"]
