"""Context compaction (§6.6): when it triggers, what it keeps, the summary and its fallback."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent.agent.compaction import (
    SUMMARY_MAX_TOKENS,
    SUMMARY_SYSTEM,
    _schema_chars,
    compact_if_needed,
    estimate_tokens,
    request_estimate,
)
from amplifier_agent.agent.loop import run_loop
from amplifier_agent.agent.run import AgentRun, TurnState
from amplifier_agent.core.errors import AmplifierError, ProviderError
from amplifier_agent.core.events import Progress, UsageReported
from amplifier_agent.core.messages import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from amplifier_agent.core.usage import Usage
from tests.agent.test_loop import Recorder, ScriptedProvider, make_run, text

WINDOW = 2000
SYSTEM = "S" * 40  # 10 tokens


def exchange(i: int) -> list[Message]:
    """About 300 estimated tokens: a question, a tool call with its result, an answer."""
    call = ToolCall(f"t{i}", "shout", {"text": str(i)})
    return [
        UserMessage(f"question {i} " + "q" * 400),
        AssistantMessage(tool_calls=(call,)),
        ToolMessage(f"t{i}", "shout", f"result {i} " + "r" * 400),
        AssistantMessage(f"answer {i} " + "a" * 300),
    ]


def long_history(exchanges: int = 8) -> list[Message]:
    return [m for i in range(exchanges) for m in exchange(i)]


def small_run(provider: ScriptedProvider, recorder: Recorder, cwd: Path) -> AgentRun:
    return make_run(provider, recorder, cwd, tools=(), context_window=WINDOW, system_prompt=SYSTEM)


def assert_pairs_intact(messages: list[Message]) -> None:
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    called = {c.id for m in messages if isinstance(m, AssistantMessage) for c in m.tool_calls}
    assert answered == called


def test_estimate_is_a_quarter_of_the_bytes() -> None:
    assert estimate_tokens((), "x" * 9) == 3
    assert estimate_tokens([UserMessage("é" * 10)]) == math.ceil((20 + 16) / 4)
    with_call = AssistantMessage("hi", tool_calls=(ToolCall("id1", "shout", {"a": 1}),))
    assert estimate_tokens([with_call]) > estimate_tokens([AssistantMessage("hi")])


def test_the_estimate_builds_on_the_last_reported_input(tmp_path: Path) -> None:
    run = small_run(ScriptedProvider(), Recorder(), tmp_path)
    history = long_history(2)
    state = TurnState(messages=history, persisted=0)
    assert request_estimate(run, state) == estimate_tokens(history, SYSTEM)

    state.last_input_tokens, state.messages_at_last_report = 500, 6
    assert request_estimate(run, state) == 500 + estimate_tokens(history[6:])


async def test_nothing_happens_below_eighty_percent(tmp_path: Path) -> None:
    provider, recorder = ScriptedProvider(), Recorder()
    history = long_history(4)
    state = TurnState(messages=list(history), persisted=0)
    assert request_estimate(small_run(provider, recorder, tmp_path), state) < 0.8 * WINDOW

    await compact_if_needed(small_run(provider, recorder, tmp_path), state)

    assert state.messages == history
    assert provider.requests == [] and recorder.events == []


async def test_old_messages_are_summarised_and_pairs_stay_together(tmp_path: Path) -> None:
    provider = ScriptedProvider(text("THE GIST", Usage(300, 40, cost_usd=None)))
    recorder = Recorder()
    history = [*long_history(), UserMessage("newest question")]
    state = TurnState(messages=list(history), persisted=len(history))
    run = small_run(provider, recorder, tmp_path)
    before = request_estimate(run, state)
    assert before > 0.8 * WINDOW

    await compact_if_needed(run, state)

    kept = state.messages
    first = kept[0]
    assert isinstance(first, UserMessage)
    removed = len(history) - len(kept)
    assert removed > 0 and removed % 4 == 0
    original_first = history[removed]
    assert isinstance(original_first, UserMessage)
    prefix = "<conversation_summary>THE GIST</conversation_summary>\n\n"
    assert first.content == prefix + original_first.content
    assert kept[1:] == history[removed + 1 :]
    assert_pairs_intact(kept)
    assert estimate_tokens(kept[1:], SYSTEM) <= 0.4 * WINDOW

    (request,) = provider.requests
    assert request.system == SUMMARY_SYSTEM
    assert request.max_tokens == SUMMARY_MAX_TOKENS == 2048
    assert request.tools == ()
    assert request.model == "m-1"
    (prompt,) = request.messages
    assert isinstance(prompt, UserMessage)
    assert "question 0" in prompt.content and "result 0" in prompt.content
    assert f"question {removed // 4}" not in prompt.content

    assert state.usage.input_tokens == 300 and state.compactions == 1
    assert state.needs_rewrite and state.last_input_tokens is None
    (usage,) = recorder.of(UsageReported)
    assert usage.usage.output_tokens == 40
    (progress,) = recorder.of(Progress)
    after = request_estimate(run, state)
    assert progress.message == f"compacted context: {removed} messages ({before} -> {after} tokens)"
    assert after < before


async def test_a_failed_summary_drops_the_oldest_with_a_note(tmp_path: Path) -> None:
    provider = ScriptedProvider(ProviderError("upstream_error", "no summary today", status=500))
    recorder = Recorder()
    history = [*long_history(), UserMessage("newest question")]
    state = TurnState(messages=list(history), persisted=len(history))
    run = small_run(provider, recorder, tmp_path)

    await compact_if_needed(run, state)

    kept = state.messages
    removed = len(history) - len(kept)
    assert removed > 0 and removed % 4 == 0
    first = kept[0]
    assert isinstance(first, UserMessage)
    note = f"[{removed} earlier messages were removed to fit the context window]\n\n"
    assert first.content.startswith(note)
    assert first.content == note + history[removed].content  # type: ignore[union-attr]
    assert kept[1:] == history[removed + 1 :]
    assert_pairs_intact(kept)
    assert request_estimate(run, state) <= 0.6 * WINDOW
    (progress,) = recorder.of(Progress)
    assert progress.message.startswith(f"compacted context: {removed} messages (")
    assert state.usage == Usage()


async def test_an_overflowing_newest_message_is_a_runtime_error(tmp_path: Path) -> None:
    state = TurnState(messages=[UserMessage("x" * (4 * WINDOW))], persisted=0)

    with pytest.raises(AmplifierError) as raised:
        await compact_if_needed(small_run(ScriptedProvider(), Recorder(), tmp_path), state)

    assert raised.value.code == "runtime"
    assert "context window" in raised.value.message


async def test_the_loop_compacts_before_calling_and_rewrites_the_transcript(
    tmp_path: Path,
) -> None:
    provider = ScriptedProvider(text("SUMMARY"), text("final answer"))
    recorder = Recorder()
    history = long_history()
    state = TurnState(messages=[*history, UserMessage("go on")], persisted=len(history))

    outcome = await run_loop(small_run(provider, recorder, tmp_path), state)

    assert outcome.reply == "final answer"
    summary_call, main_call = provider.requests
    assert summary_call.system == SUMMARY_SYSTEM
    assert len(main_call.messages) < len(history)
    first = main_call.messages[0]
    assert isinstance(first, UserMessage) and first.content.startswith("<conversation_summary>")
    ((batch, rewrite),) = recorder.checkpoints
    assert rewrite is True and batch == state.messages


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"path": {"type": "string", "description": "ünïcode ✓"}}},
        {"type": "object", "properties": {}, "required": []},
        {1: "a key only the stdlib encoder accepts"},
    ],
)
def test_a_schema_counts_as_its_stdlib_json_length_first_time_and_remembered(
    schema: dict[Any, Any],
) -> None:
    expected = len(json.dumps(schema))
    assert _schema_chars(schema) == expected
    assert _schema_chars(schema) == expected
